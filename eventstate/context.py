"""Which State and Host an operation call belongs to.

Deploy code calls operations as plain functions (``files.file(path=...)``);
the engine sets the current state and host around each host's run of the
deploy. One context variable, always reset in ``finally``: no module-level
mutable proxies, and greenlets each see their own value.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from eventstate.errors import NoDeployContextError

__all__ = [
    "ContextSlot",
    "CurrentHost",
    "NoDeployContextError",
    "ctx_host",
    "ctx_state",
    "current",
    "current_deploy",
    "current_host",
    "current_state",
    "host",
    "reset_current",
    "set_current",
    "using",
]

# The bottom of the engine: Host asks it for its deploy, so it may import no
# engine module, not even for types -- the pair is typed Any here and the
# State and Host where they are used.
_current: ContextVar[tuple[Any, Any] | None] = ContextVar("eventstate_current", default=None)


class using:  # lower case: a function to its callers (``with using(state, host):``)
    """Make ``(state, host)`` current for operation calls inside the block.

    A class, not a ``@contextmanager`` generator: the engine enters it once per
    host-op, and a generator-based manager costs several times as much.
    """

    __slots__ = ("_pair", "_token")

    def __init__(self, state: Any, host: Any) -> None:
        self._pair = (state, host)

    def __enter__(self) -> None:
        self._token = _current.set(self._pair)

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self._token)


#: Make a ``(state, host)`` pair current, as :class:`using` does; returns the token
#: :data:`reset_current` takes to restore what was current. The context variable's own
#: methods: the engine's per-host-op loop sets the pair without a call of its own.
set_current = _current.set
#: Restore what was current before the :data:`set_current` that returned ``token``.
reset_current = _current.reset


def current() -> tuple[Any, Any]:
    """The current ``(state, host)``.

    Raises:
        NoDeployContextError: no deploy is running here.
    """
    value = _current.get()
    if value is None or value[0] is None or value[1] is None:
        raise NoDeployContextError(
            "operations run inside a deploy: call them from a deploy file, or through add_op"
        )
    return value


def current_host() -> Any:
    """The :class:`~eventstate.host.Host` the deploy code is being run for (in deploy files)."""
    return current()[1]


def current_deploy() -> Any:
    """The :class:`~eventstate.state.State` of the deploy being run."""
    return current()[0]


#: The State of the deploy being run (the name deploy files have used).
current_state = current_deploy


class CurrentHost:
    """``host`` as pyinfra deploy files import it: the host being prepared, looked up per use.

    It holds nothing: every attribute is read from (or set on) the context
    variable's current host, so ``from eventstate.context import host`` then
    ``host.data.app_dir`` works as ``from pyinfra import host`` does, in every
    greenlet and every run, and outside a deploy it raises
    :class:`~eventstate.errors.NoDeployContextError`.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(current()[1], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(current()[1], name, value)

    def __eq__(self, other: object) -> bool:
        return bool(current()[1] == other)

    def __hash__(self) -> int:
        return hash(current()[1])

    def __repr__(self) -> str:
        value = _current.get()
        return f"CurrentHost({value[1].name!r})" if value else "CurrentHost(<no deploy>)"


#: The host being prepared, for deploy files written as pyinfra's (``host.data.x``).
host = CurrentHost()


class ContextSlot:
    """One half of the current ``(state, host)``, set on its own: pyinfra 3.10's
    ``ctx_state`` and ``ctx_host`` (``use``, ``set``, ``get``, ``reset``), for API
    scripts that set the state once and the host per call.

    Operations run only once both halves are set.
    """

    __slots__ = ("_index",)

    def __init__(self, index: int) -> None:
        self._index = index

    def get(self) -> Any:
        """The current value of this half, or None."""
        value = _current.get()
        return None if value is None else value[self._index]

    def _with(self, obj: Any) -> tuple[Any, Any] | None:
        pair = list(_current.get() or (None, None))
        pair[self._index] = obj
        return None if pair == [None, None] else (pair[0], pair[1])

    def set(self, obj: Any) -> None:
        """Make ``obj`` this half, until set again or reset."""
        _current.set(self._with(obj))

    def reset(self) -> None:
        """Unset this half."""
        self.set(None)

    def isset(self) -> bool:
        """Whether this half is set."""
        return self.get() is not None

    @contextmanager
    def use(self, obj: Any) -> Iterator[None]:
        """Make ``obj`` this half inside the block, then restore what was current."""
        token = _current.set(self._with(obj))
        try:
            yield
        finally:
            _current.reset(token)


#: The current State, on its own (pyinfra's ``pyinfra.context.ctx_state``).
ctx_state = ContextSlot(0)
#: The current Host, on its own (pyinfra's ``pyinfra.context.ctx_host``).
ctx_host = ContextSlot(1)
