"""Python run on the controller as a deploy step: pyinfra 3.10's ``python.call``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from eventstate.commands import FunctionCommand
from eventstate.operation import operation

__all__ = ["call"]


@operation
def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[FunctionCommand]:
    """Call ``function(*args, **kwargs)`` when the op executes on each host.

    As pyinfra 3.10: a function whose parameters include ``state`` and ``host``
    gets them first; any other is called with the arguments alone, with the
    host current (``eventstate.context.current_host()``). Returning False or
    raising fails the op. Always a change (nothing to compare with).
    """
    yield FunctionCommand(function, args, kwargs)
