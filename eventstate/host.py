"""A target host: its name, groups and data. Plain data: no State, no I/O.

A Host reaches nothing: connecting is :mod:`eventstate.connections`' business,
facts are the State's (``host.get_fact`` asks the deploy the host is running
in, through :mod:`eventstate.context`), and its op order is a read-only view the
State hands it.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from eventstate.context import current_deploy

__all__ = ["Host", "HostData", "connector_of"]

T = TypeVar("T")


class HostData(Mapping[str, Any]):
    """A host's data, merged: this host's own settings, then override, host,
    groups and inventory data -- pyinfra 3.10's ``HostData``.

    Read as pyinfra deploys do, ``host.data.app_dir`` (a missing name is an
    ``AttributeError``), or ``host.data["app_dir"]`` / ``host.data.get(...)``
    (a ``KeyError`` / the default). Each read is a shallow copy, as pyinfra's:
    changing a list read from group data changes it for this read only, never
    for the other hosts. ``host.data.x = value`` sets ``x`` for this host alone.

    Args:
        host_name: The host the data is for (named in a missing-data error).
        *layers: Its data, highest priority first (pyinfra's ``HostData(host, *datas)``).
    """

    def __init__(self, host_name: str, *layers: Mapping[str, Any]) -> None:
        # Attributes are data: the object's own state is set past __setattr__.
        object.__setattr__(self, "_host_name", host_name)
        own: dict[str, Any] = {}
        object.__setattr__(self, "_own", own)
        # The running @deploy's data_defaults: below every other layer.
        defaults: dict[str, Any] = {}
        object.__setattr__(self, "_defaults", defaults)
        # Highest priority first; the inventory's own dicts, read live, never copied.
        object.__setattr__(self, "_layers", (own, *layers, defaults))

    def __getitem__(self, key: str) -> Any:
        for layer in self._layers:
            if key in layer:
                return copy.copy(layer[key])
        raise KeyError(f"host {self._host_name} has no data {key!r}")

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):  # copy, pickle and friends ask for these
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"Host `{self._host_name}` has no data `{key}`") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self._own[key] = value

    def current_defaults(self) -> dict[str, Any]:
        """The data defaults in force now (a running ``@deploy``'s), as a copy."""
        return dict(self._defaults)

    @contextlib.contextmanager
    def with_defaults(self, defaults: Mapping[str, Any] | None) -> Iterator[None]:
        """Read ``defaults`` below every other layer inside the block (a ``@deploy``'s)."""
        previous = dict(self._defaults)
        self._defaults.update(defaults or {})
        try:
            yield
        finally:
            self._defaults.clear()
            self._defaults.update(previous)

    def __iter__(self) -> Iterator[str]:
        return iter(self.dict())

    def __len__(self) -> int:
        return len(self.dict())

    def dict(self) -> dict[str, Any]:
        """All of the host's data as one dict."""
        merged: dict[str, Any] = {}
        for layer in reversed(self._layers):
            merged.update(layer)
        return merged


def _conditions(condition: Any) -> list[Any]:
    # An ``_if`` is one callable or a list of them.
    return list(condition) if isinstance(condition, (list, tuple)) else [condition]


def connector_of(name: str) -> tuple[str, str | None]:
    """The connector a host name asks for: ``@sim/web1`` is ``("sim", "web1")``.

    A name without ``@`` is a host to reach over SSH.
    """
    if not name.startswith("@"):
        return "ssh", None
    connector, _, arg = name[1:].partition("/")
    return connector, arg or None


class Host:
    """A host of the inventory. Hosts compare by identity, as pyinfra's do.

    Args:
        name: The host's name: a hostname (SSH) or ``@connector/arg``.
        groups: The groups it belongs to, in inventory order.
        data_layers: Its data, highest priority first (override, host, groups,
            inventory): see :class:`HostData`.
    """

    #: Whether its connector is connected now (set by :mod:`eventstate.connections`).
    connected: bool = False
    #: True while an operation's body runs for this host (ops may not nest there).
    in_op: bool = False
    #: The running op's global arguments: its facts are gathered with its ``_sudo``.
    current_op_arguments: Any = None
    #: The hash of the op whose body runs now (set with ``current_op_arguments``).
    current_op_hash: str | None = None
    #: Global arguments by keyword assigned to ``current_op_global_arguments``.
    assigned_op_global_arguments: dict[str, Any] | None = None
    #: The ``@deploy`` running for this host (nested names joined with `` | ``), the
    #: global arguments it gives its operations and its data defaults: set by :meth:`deploy`.
    current_deploy_name: str | None = None
    current_deploy_kwargs: dict[str, Any] | None = None
    current_deploy_data: dict[str, Any] | None = None
    #: True inside a deploy function (a :meth:`deploy` block given ``in_deploy=False``
    #: groups operations without being one).
    in_deploy: bool = False

    def __init__(
        self, name: str, groups: Iterable[str] = (), data_layers: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        self.name = name
        self.groups = list(groups)
        self.data = HostData(name, *data_layers)
        self.loop_position: list[int] = []
        self.connector_name, self.connector_arg = connector_of(name)
        #: The hashes of the ops added to this host, in order: a read-only view
        #: of the run's projections, handed over by ``State.init``.
        self.op_hash_order: Sequence[str] = ()
        self._argument_data: dict[str, Any] | None = None

    @property
    def current_op_global_arguments(self) -> dict[str, Any] | None:
        """pyinfra's ``host.current_op_global_arguments``: global arguments by keyword.

        Inside an operation, the op's (``{"_sudo": True, ...}``); outside one, what
        was assigned: as in pyinfra, facts asked outside an op then run with them
        (a fact call's own ``_sudo=...`` winning). None when neither.
        """
        if self.current_op_arguments is not None:
            return dict(self.current_op_arguments.by_keyword())
        return self.assigned_op_global_arguments

    @current_op_global_arguments.setter
    def current_op_global_arguments(self, value: Mapping[str, Any] | None) -> None:
        self.assigned_op_global_arguments = dict(value) if value is not None else None

    def argument_data(self) -> dict[str, Any]:
        """The global operation arguments (``_sudo``...) the host's data sets.

        Read once per run: inventory data does not change while a deploy runs.
        """
        if self._argument_data is None:
            self._argument_data = {
                key: value for key, value in self.data.dict().items() if key.startswith("_")
            }
        return self._argument_data

    def get_fact(self, fact_class: Any, *args: Any, **kwargs: Any) -> Any:
        """The value of ``fact_class(*args)`` on this host, gathered once per run.

        Asks the deploy this host's code is running in (a deploy file, an
        operation, ``add_op``); outside one, use ``state.get_fact(host, ...)``.

        Raises:
            NoDeployContextError: no deploy is running here.
        """
        return current_deploy().get_fact(self, fact_class, *args, **kwargs)

    @contextlib.contextmanager
    def deploy(
        self,
        name: str,
        kwargs: Mapping[str, Any] | None,
        data: dict[str, Any] | None,
        in_deploy: bool = True,
    ) -> Iterator[None]:
        """Run the block as the deploy ``name``: pyinfra 3.10's ``host.deploy``.

        Operations called in the block are named ``"<name> | <op>"`` (inside
        another deploy, ``"<outer> | <name> | <op>"``), take ``kwargs`` as their
        global arguments (under their own), and read ``data`` through
        ``host.data`` below every other layer. An ``_if`` given inside a deploy
        that has one too must hold as well as the outer one. Everything is
        restored when the block ends, by an exception too. ``@deploy`` uses it;
        deploy code should not need to.
        """
        previous = (
            self.in_deploy,
            self.current_deploy_name,
            self.current_deploy_kwargs,
            self.current_deploy_data,
        )
        outer_name, outer_kwargs = previous[1], previous[2]
        if outer_kwargs and kwargs:
            outer_if, inner_if = outer_kwargs.get("_if"), kwargs.get("_if")
            if outer_if and inner_if and inner_if is not outer_if:
                kwargs = {**kwargs, "_if": [*_conditions(outer_if), *_conditions(inner_if)]}
        self.in_deploy = in_deploy
        self.current_deploy_name = f"{outer_name} | {name}" if outer_name else name
        self.current_deploy_kwargs = dict(kwargs) if kwargs is not None else None
        self.current_deploy_data = data
        try:
            with self.data.with_defaults(data):
                yield
        finally:
            (
                self.in_deploy,
                self.current_deploy_name,
                self.current_deploy_kwargs,
                self.current_deploy_data,
            ) = previous

    def loop(self, iterable: Iterable[T]) -> Iterator[T]:
        """Iterate ``iterable`` so that ops called in the loop get distinct, stable orders."""
        self.loop_position.append(0)
        try:
            for index, item in enumerate(iterable):
                self.loop_position[-1] = index
                yield item
        finally:
            self.loop_position.pop()

    @property
    def print_prefix(self) -> str:
        """How output about the host starts: ``[web1] `` (pyinfra's, without colour)."""
        return f"[{self.name}] "

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Host({self.name})"
