"""A pyinfra operation, called in an eventstate deploy, becomes an eventstate operation.

:func:`bridged_operation` makes, once per pyinfra operation, an eventstate
operation (:func:`eventstate.operation.operation`) whose body runs the pyinfra
operation's undecorated generator, ``op._inner``, with pyinfra's context
pointed at adapters over our host and State (:mod:`.adapters`), and yields
each command translated (:mod:`.command_translation`). Its name is pyinfra's
(``files.line``), its signature ``_inner``'s, and its global arguments ours --
which are pyinfra's. ``_inner`` stays reachable on the bridged operation, as
pyinfra's own operations call it (``yield from files.line._inner(...)``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from eventstate.commands import Command
from eventstate.context import current
from eventstate.operation import operation
from eventstate.pyinfra_bridge.adapters import pointed_at
from eventstate.pyinfra_bridge.command_translation import translate_command

__all__ = ["bridge_module", "bridged_operation", "is_pyinfra_operation"]

_bridged: dict[Callable[..., Any], Callable[..., Any]] = {}


def is_pyinfra_operation(value: Any) -> bool:
    """Whether ``value`` is an operation pyinfra's ``@operation`` made (not yet bridged)."""
    return callable(value) and hasattr(value, "_inner") and not hasattr(value, "pyinfra_operation")


def bridged_operation(pyinfra_op: Callable[..., Any]) -> Callable[..., Any]:
    """The eventstate operation running the pyinfra operation ``pyinfra_op`` (made once)."""
    found = _bridged.get(pyinfra_op)
    if found is not None:
        return found
    inner = pyinfra_op._inner  # type: ignore[attr-defined]
    module = (inner.__module__ or "").rsplit(".", 1)[-1]
    op_name = f"{module}.{inner.__name__}"

    # Calling a generator function runs none of its code: no context to point yet.
    lazy = inspect.isgeneratorfunction(inner)

    @functools.wraps(inner)
    def body(*args: Any, **kwargs: Any) -> Iterator[Command]:
        state, host = current()
        if lazy:
            commands = inner(*args, **kwargs)
        else:
            with pointed_at(state, host):
                commands = inner(*args, **kwargs)
        if commands is None:  # not a generator: an operation with nothing to yield
            return
        while True:
            # pyinfra's context holds only while pyinfra's code runs: between
            # commands the engine runs them, and other hosts' ops run.
            with pointed_at(state, host):
                try:
                    command = next(commands)
                except StopIteration:
                    return
            yield translate_command(command, op_name)

    bridged = operation(body)
    bridged._inner = inner  # type: ignore[attr-defined]
    bridged.pyinfra_operation = pyinfra_op  # type: ignore[attr-defined]
    _bridged[pyinfra_op] = bridged
    return bridged


def bridge_module(module: ModuleType) -> dict[str, Callable[..., Any]]:
    """Bridge every pyinfra operation the module defines, in place.

    Returns the originals by attribute name, to put back
    (:func:`~eventstate.pyinfra_bridge.activation.bridge_pyinfra_imports` does).
    """
    originals: dict[str, Callable[..., Any]] = {}
    for name, value in list(vars(module).items()):
        if is_pyinfra_operation(value) and getattr(value._inner, "__module__", None) == (
            module.__name__
        ):
            originals[name] = value
            setattr(module, name, bridged_operation(value))
    return originals
