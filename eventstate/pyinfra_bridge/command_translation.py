"""pyinfra's commands as eventstate's: what a pyinfra operation yields, made ours.

Strings and ``StringCommand`` parts keep their text exactly; a pyinfra
``HiddenValue`` or ``MaskString`` becomes an eventstate :class:`HiddenValue`
with the same mask (``*MASKED*`` unless the value says otherwise), so the
command runs with the value and is shown and recorded as pyinfra shows it.
Uploads, downloads and Python steps become ours; anything else is an
:class:`UnsupportedPyinfraCommandError` naming the operation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from pyinfra.api import command as pyinfra_command
from pyinfra.api.hiddenvalue import HiddenValue as PyinfraHiddenValue

from eventstate.commands import (
    Command,
    FileDownloadCommand,
    FileUploadCommand,
    FunctionCommand,
    HiddenValue,
    QuoteString,
    StringCommand,
    make_command,
)
from eventstate.context import current
from eventstate.errors import NoDeployContextError, UnsupportedPyinfraCommandError

__all__ = ["translate_command", "translate_part"]

#: How pyinfra 3.10 shows a ``MaskString`` part.
MASKED = "*MASKED*"


def translate_part(part: Any) -> Any:
    """One part of a pyinfra ``StringCommand`` as a part of ours."""
    if isinstance(part, pyinfra_command.QuoteString):
        return QuoteString(translate_part(part.obj))
    if isinstance(part, pyinfra_command.StringCommand):
        return _string_command(part)
    if isinstance(part, pyinfra_command.MaskString):
        return HiddenValue(str.__str__(part), MASKED)
    if isinstance(part, PyinfraHiddenValue):
        return HiddenValue(f"{part.unmask()}", part.masked_value)
    return part


def _string_command(command: Any) -> StringCommand:
    return StringCommand(*map(translate_part, command.bits), _separator=command.separator)


def _current_or_none() -> tuple[Any, Any] | None:
    try:
        return current()
    except NoDeployContextError:  # pyinfra's fixtures translate commands outside a deploy
        return None


def _takes_state_and_host(function: Callable[..., Any]) -> bool:
    # pyinfra 3.10's rule (FunctionCommand.execute): both among its positional parameters.
    try:
        parameters = inspect.getfullargspec(function).args
    except TypeError:
        return False
    return "state" in parameters and "host" in parameters


class _BridgedWhileStepsRun:
    """pyinfra's operations bridged while any Python step runs, on any host.

    A step may call operations (pyinfra's nested operations: ``files.line(...)``
    inside a ``python.call`` function), which must be eventstate's then too. The
    deploy file's bridge ended with its preparation; steps run later, each host's
    in its own greenlet, so the first step to start installs the bridge and the
    last to end removes it.
    """

    def __init__(self) -> None:
        self._running = 0
        self._bridge = ExitStack()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        if not self._running:
            from eventstate.pyinfra_bridge.activation import bridge_pyinfra_imports

            self._bridge.enter_context(bridge_pyinfra_imports())
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            if not self._running:
                self._bridge.close()


_operations_bridged = _BridgedWhileStepsRun()


def _in_pyinfra_context(function: Any) -> Any:
    """``function`` (a pyinfra op's Python step) run as pyinfra runs it: with pyinfra's
    ``host``, ``state`` and ``config`` pointed at the adapters of the host it runs for
    -- and given the adapters, when it takes ``state`` and ``host``.

    The step's own name is kept (the log shows it); what is not callable is kept as it
    is (pyinfra's fixtures name a step by a string). The host and op are those the
    step was yielded in, so what the step runs and declares is the op's.
    """
    if not callable(function):
        return function
    takes = _takes_state_and_host(function)
    yielded_in = _current_or_none()
    op_hash = None if yielded_in is None else yielded_in[1].current_op_hash

    def step(*args: Any, **kwargs: Any) -> Any:
        from eventstate.pyinfra_bridge.adapters import pointed_at

        running_in = _current_or_none() or yielded_in
        if running_in is None:
            return function(*args, **kwargs)
        state, host = running_in
        outer = host.current_op_hash
        host.current_op_hash = outer or op_hash
        try:
            with _operations_bridged(), pointed_at(state, host) as adapter:
                if takes:
                    return function(adapter.state, adapter, *args, **kwargs)
                return function(*args, **kwargs)
        finally:
            host.current_op_hash = outer

    # Named as the step itself (not functools.wraps: the runner must not read the
    # step's own signature and hand it eventstate's State and Host).
    step.__name__ = getattr(function, "__name__", step.__name__)
    step.__qualname__ = getattr(function, "__qualname__", step.__qualname__)
    step.pyinfra_function = function  # type: ignore[attr-defined]
    return step


def translate_command(value: Any, op_name: str) -> Command:
    """What the pyinfra operation ``op_name`` yielded, as an eventstate command.

    Raises:
        UnsupportedPyinfraCommandError: a kind of command eventstate does not run
            (rsync), one that carries its own connector arguments, or not a command.
    """
    if isinstance(value, str):  # MaskString included: a whole command is its text
        return make_command(value)
    if not isinstance(value, pyinfra_command.PyinfraCommand):
        raise UnsupportedPyinfraCommandError(f"{op_name} yielded {value!r}, which is not a command")
    if value.connector_arguments:
        names = ", ".join(sorted(value.connector_arguments))
        raise UnsupportedPyinfraCommandError(
            f"{op_name} yielded a {type(value).__name__} with its own connector arguments "
            f"({names}): eventstate takes them from the operation's global arguments"
        )
    if isinstance(value, pyinfra_command.StringCommand):
        return _string_command(value)
    if isinstance(value, pyinfra_command.FunctionCommand):
        return FunctionCommand(_in_pyinfra_context(value.function), value.args, value.kwargs)
    if isinstance(value, pyinfra_command.FileUploadCommand):
        upload = FileUploadCommand(value.src, value.dest)
        if hasattr(value.src, "seek"):
            # pyinfra reads a file object from its start: the op has read it already
            # (files.put hashes it), and another host may read it next. Read now.
            value.src.seek(0)
            _ = upload.content
        return upload
    if isinstance(value, pyinfra_command.FileDownloadCommand):
        if not isinstance(value.dest, str):
            raise UnsupportedPyinfraCommandError(
                f"{op_name} yielded a download into a file object: eventstate downloads to paths"
            )
        return FileDownloadCommand(value.src, value.dest)
    raise UnsupportedPyinfraCommandError(
        f"{op_name} yielded a {type(value).__name__}, which eventstate's connectors do not run"
    )
