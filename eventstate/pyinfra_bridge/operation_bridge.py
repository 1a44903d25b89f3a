"""A pyinfra operation, called in an eventstate deploy, becomes an eventstate operation.

:func:`bridged_operation` makes, once per pyinfra operation, an eventstate
operation (:func:`eventstate.operation.operation`) whose body runs the pyinfra
operation's undecorated generator, ``op._inner``, with pyinfra's context
pointed at adapters over our host and State (:mod:`.adapters`), and yields
each command translated (:mod:`.command_translation`). Its name is pyinfra's
(``files.line``), its signature ``_inner``'s, and its global arguments ours --
which are pyinfra's. ``_inner`` stays reachable on the bridged operation, as
pyinfra's own operations call it (``yield from files.line._inner(...)``).

The same holds for a user's own operation (:mod:`.user_operations`): it is
named as pyinfra names it (``module.func``, or ``func`` when defined in a
deploy file, which pyinfra runs as no module), a deprecated one warns at
each call as pyinfra's do -- a warning the run counts -- and one made with
``_set_in_op=False`` runs its body with the host not "in an op"
(``host.in_op`` is False there, as in pyinfra).
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from eventstate.commands import Command
from eventstate.context import current
from eventstate.operation import operation
from eventstate.pyinfra_bridge.adapters import PythonSteps, pointed_at
from eventstate.pyinfra_bridge.command_translation import translate_command

__all__ = [
    "bridge_module",
    "bridged_operation",
    "is_pyinfra_operation",
    "make_bridged_operation",
    "pyinfra_operation_name",
]

logger = logging.getLogger("eventstate")

_bridged: dict[Callable[..., Any], Callable[..., Any]] = {}


def is_pyinfra_operation(value: Any) -> bool:
    """Whether ``value`` is an operation pyinfra's ``@operation`` made (not yet bridged)."""
    return callable(value) and hasattr(value, "_inner") and not hasattr(value, "pyinfra_operation")


def pyinfra_operation_name(func: Callable[..., Any]) -> str:
    """The name pyinfra gives the operation ``func`` (its undecorated generator).

    ``module.func`` by the last part of its module's name (``files.line``,
    ``helpers.hello``); only ``func`` when defined in a deploy file or an
    included one: pyinfra runs those as no module (``__module__`` is None),
    eventstate as one named ``deploy`` -- whose functions' globals are then no
    loaded module's.
    """
    module_name = func.__module__
    module = sys.modules.get(module_name) if module_name else None
    if module is None or vars(module) is not getattr(func, "__globals__", None):
        return func.__name__
    return f"{module_name.rsplit('.', 1)[-1]}.{func.__name__}"


def _sets_in_op(pyinfra_op: Callable[..., Any]) -> bool:
    # pyinfra keeps ``@operation(_set_in_op=...)`` only in its wrapper's closure.
    code = getattr(pyinfra_op, "__code__", None)
    closure = getattr(pyinfra_op, "__closure__", None)
    if code is None or closure is None or "_set_in_op" not in code.co_freevars:
        return True
    return bool(closure[code.co_freevars.index("_set_in_op")].cell_contents)


def bridged_operation(pyinfra_op: Callable[..., Any]) -> Callable[..., Any]:
    """The eventstate operation running the pyinfra operation ``pyinfra_op`` (made once)."""
    found = _bridged.get(pyinfra_op)
    if found is not None:
        return found
    bridged = make_bridged_operation(pyinfra_op, set_in_op=_sets_in_op(pyinfra_op))
    _bridged[pyinfra_op] = bridged
    return bridged


def make_bridged_operation(
    pyinfra_op: Callable[..., Any], *, set_in_op: bool = True
) -> Callable[..., Any]:
    """A new eventstate operation running the pyinfra operation ``pyinfra_op``.

    :func:`bridged_operation` makes one per operation and keeps it; this makes
    one every call, for operations made anew each run (those a deploy file defines).
    ``set_in_op`` is pyinfra's ``@operation(_set_in_op=...)``: when False the
    body runs with ``host.in_op`` False (pyinfra's ``python.call`` is made so).
    """
    inner = pyinfra_op._inner  # type: ignore[attr-defined]
    op_name = pyinfra_operation_name(inner)
    generate = inner if set_in_op else _outside_op(inner)

    # Calling a generator function runs none of its code: no context to point yet.
    lazy = inspect.isgeneratorfunction(generate)

    @functools.wraps(inner)
    def body(*args: Any, **kwargs: Any) -> Iterator[Command]:
        state, host = current()
        if lazy:
            commands = generate(*args, **kwargs)
        else:
            with pointed_at(state, host):
                commands = generate(*args, **kwargs)
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
            yield python_steps.in_pyinfra_context(translate_command(command, op_name))

    if op_name == inner.__name__:
        # Defined in a deploy file: eventstate's @operation would name it by the
        # file's module name (``deploy``); pyinfra names it by itself.
        body.__module__ = ""
    bridged = operation(body)
    if getattr(inner, "is_deprecated", False):
        bridged = _warned_when_called(bridged, op_name, getattr(inner, "deprecated_for", None))
    bridged._inner = inner  # type: ignore[attr-defined]
    bridged.pyinfra_operation = pyinfra_op  # type: ignore[attr-defined]
    # pyinfra's own marks (its docs read them; eventstate has no more use for them).
    bridged.is_idempotent = getattr(inner, "is_idempotent", True)  # type: ignore[attr-defined]
    bridged.idempotent_notice = getattr(inner, "idempotent_notice", None)  # type: ignore[attr-defined]
    return bridged


def _outside_op(inner: Callable[..., Any]) -> Callable[..., Any]:
    # ``_set_in_op=False``: the host is not "in an op" while the body makes its
    # commands, as in pyinfra (where that lets the body call operations).
    def generate(*args: Any, **kwargs: Any) -> Iterator[Any] | None:
        commands = inner(*args, **kwargs)
        return None if commands is None else _made_outside_op(commands)

    return generate


def _made_outside_op(commands: Iterator[Any]) -> Iterator[Any]:
    _, host = current()
    while True:
        was_in_op, host.in_op = host.in_op, False
        try:
            command = next(commands)
        except StopIteration:
            return
        finally:
            host.in_op = was_in_op
        yield command


def _warned_when_called(
    bridged: Callable[..., Any], op_name: str, deprecated_for: str | None
) -> Callable[..., Any]:
    # pyinfra's words, at each call on each host; its CLI counts the warning, so does the run.
    message = f"The {op_name} operation is deprecated"
    if deprecated_for:
        message += f", please use: {deprecated_for}"

    @functools.wraps(bridged)
    def warned(*args: Any, **kwargs: Any) -> Any:
        state, host = current()
        logger.warning(f"[{host.name}] {message}")
        state.increment_warning_counter()
        return bridged(*args, **kwargs)

    return warned


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


#: How bridged operations run their Python steps (see :class:`.adapters.PythonSteps`).
python_steps = PythonSteps(bridge_module)
