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
from typing import TYPE_CHECKING

from eventstate.errors import EventstateError

if TYPE_CHECKING:
    from eventstate.host import Host
    from eventstate.state import State

__all__ = ["current", "current_host", "current_state", "using"]

_current: ContextVar[tuple[State, Host] | None] = ContextVar("eventstate_current", default=None)


class NoDeployContextError(EventstateError):
    """An operation was called outside a deploy (not through add_op or a deploy file)."""


@contextmanager
def using(state: State, host: Host) -> Iterator[None]:
    """Make ``(state, host)`` current for operation calls inside the block."""
    token = _current.set((state, host))
    try:
        yield
    finally:
        _current.reset(token)


def current() -> tuple[State, Host]:
    """The current ``(state, host)``.

    Raises:
        NoDeployContextError: no deploy is running here.
    """
    value = _current.get()
    if value is None:
        raise NoDeployContextError(
            "operations run inside a deploy: call them from a deploy file, or through add_op"
        )
    return value


def current_host() -> Host:
    """The host the deploy code is being run for (use it in deploy files)."""
    return current()[1]


def current_state() -> State:
    """The State of the deploy being run."""
    return current()[0]
