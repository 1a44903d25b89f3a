"""A target host: its name, groups and data, and its place in the State."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from eventstate.arguments import GlobalArguments
    from eventstate.connectors.base import Connector
    from eventstate.facts.base import Fact
    from eventstate.inventory import Inventory
    from eventstate.projections.views import ReadOnlyList
    from eventstate.state import State

__all__ = ["Host", "HostData", "connector_of"]

T = TypeVar("T")


class HostData(Mapping[str, Any]):
    """A host's data, merged: override data, then host, groups, and inventory data.

    Read with ``host.data["key"]`` or ``host.data.get("key")``; a missing key is
    a ``KeyError`` at once, not a silent fall-through.
    """

    def __init__(self, host: Host) -> None:
        self._host = host

    def _layers(self) -> tuple[Mapping[str, Any], ...]:
        inventory = self._host.inventory
        return (
            inventory.get_override_data(),
            inventory.get_host_data(self._host.name),
            inventory.get_groups_data(self._host.groups),
            inventory.get_data(),
        )

    def __getitem__(self, key: str) -> Any:
        for layer in self._layers():
            if key in layer:
                return layer[key]
        raise KeyError(f"host {self._host.name} has no data {key!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(self.dict())

    def __len__(self) -> int:
        return len(self.dict())

    def dict(self) -> dict[str, Any]:
        """All of the host's data as one dict."""
        merged: dict[str, Any] = {}
        for layer in reversed(self._layers()):
            merged.update(layer)
        return merged


def connector_of(name: str) -> tuple[str, str | None]:
    """The connector a host name asks for: ``@sim/web1`` is ``("sim", "web1")``.

    A name without ``@`` is a host to reach over SSH.
    """
    if not name.startswith("@"):
        return "ssh", None
    connector, _, arg = name[1:].partition("/")
    return connector, arg or None


class Host:
    """A host of the inventory. Hosts compare by identity, as pyinfra's do."""

    state: State | None = None
    connector: Connector | None = None
    connected: bool = False
    #: True while an operation's body runs for this host (ops may not nest there).
    in_op: bool = False
    #: The running op's global arguments: its facts are gathered with its ``_sudo``.
    current_op_arguments: GlobalArguments | None = None

    def __init__(self, name: str, inventory: Inventory, groups: list[str]) -> None:
        self.name = name
        self.inventory = inventory
        self.groups = list(groups)
        self.data = HostData(self)
        self.loop_position: list[int] = []
        self.connector_name, self.connector_arg = connector_of(name)
        #: Facts gathered on this host during the run, by fact and arguments.
        self.facts: dict[tuple[Any, ...], Any] = {}
        self._argument_data: dict[str, Any] | None = None

    def init(self, state: State) -> None:
        """Attach the host to the State of its deploy."""
        self.state = state

    def connect(self, on_connected: Callable[[], None] | None = None) -> None:
        """Connect through the host's connector (made on first use).

        Args:
            on_connected: Called once connected, before the host is marked so
                (pyinfra fires ``host_connect`` there).

        Raises:
            ConnectError: the host cannot be reached, or its connector is not installed.
        """
        if self.connected:
            return
        if self.connector is None:
            from eventstate.connectors import get_connector
            from eventstate.errors import ConnectError, ConnectorNotFoundError

            try:
                connector_class = get_connector(self.connector_name)
            except ConnectorNotFoundError as error:
                raise ConnectError(str(error)) from None
            self.connector = connector_class(self, self.connector_arg)
        self.connector.connect()
        if on_connected is not None:
            on_connected()
        self.connected = True

    def disconnect(self, on_disconnected: Callable[[], None] | None = None) -> None:
        """Close the host's connection, if open.

        Args:
            on_disconnected: Called before the host is marked disconnected
                (pyinfra fires ``host_disconnect`` there).
        """
        if self.connected and self.connector is not None:
            self.connector.disconnect()
        if on_disconnected is not None:
            on_disconnected()
        self.connected = False

    def argument_data(self) -> dict[str, Any]:
        """The global operation arguments (``_sudo``...) the host's data sets.

        Read once per run: inventory data does not change while a deploy runs.
        """
        if self._argument_data is None:
            self._argument_data = {
                key: value for key, value in self.data.dict().items() if key.startswith("_")
            }
        return self._argument_data

    def get_fact(self, fact_class: type[Fact], *args: Any, sudo: bool = False) -> Any:
        """The value of ``fact_class(*args)`` on this host (gathered once per run)."""
        from eventstate.facts.base import get_fact

        if self.state is None:
            raise RuntimeError(f"host {self.name} has no State yet")
        if self.current_op_arguments is not None and self.current_op_arguments.sudo:
            sudo = True
        return get_fact(self.state, self, fact_class, *args, sudo=sudo)

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
    def op_hash_order(self) -> ReadOnlyList[str] | tuple[()]:
        """The hashes of the operations added to this host, in order (read-only)."""
        if self.state is None:
            return ()
        return self.state.view.op_hash_order(self.name)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Host({self.name})"
