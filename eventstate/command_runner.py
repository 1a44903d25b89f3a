"""Running one command on one host, and recording that it ran.

Every command the engine runs -- for an operation or to gather a fact --
goes through :func:`run_command`, which records it: the command with secrets
masked, exit code, duration, and output scrubbed of secrets and cut at
``config.MAX_OUTPUT`` characters. The context decides where: an executing
op's commands (and the facts gathered meanwhile) go into the op's
``HostOperationFinished``, any other command is a ``CommandExecuted`` event.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import gevent

from eventstate.commands import (
    Command,
    FileDownloadCommand,
    FileUploadCommand,
    FunctionCommand,
    HiddenValue,
    RsyncCommand,
    StringCommand,
    revealed,
    scrub,
    transfer_shown,
)
from eventstate.config import Config
from eventstate.connections import HostConnections
from eventstate.connectors.base import CommandOptions, CommandResult, shown_privilege
from eventstate.errors import ConnectError, DeployError
from eventstate.events import CommandExecuted, Event, RecordedCommand
from eventstate.host import Host
from eventstate.printing import Printer

__all__ = ["CommandContext", "run_command"]

E = TypeVar("E", bound=Event)


class CommandContext(Protocol):
    """What running a command needs of the deploy: the State provides it.

    Typed here, below the State, so that commands and facts never import it.
    """

    @property
    def config(self) -> Config:
        """The run's settings (``MAX_OUTPUT``, ``TIMEOUT``)."""

    @property
    def connections(self) -> HostConnections:
        """The run's connections."""

    def record(self, event_class: type[E], **fields: Any) -> E:
        """Append an event to the run."""

    def record_command(
        self, host: str, op_hash: str | None, fact: str | None, fields: dict[str, Any]
    ) -> CommandExecuted | None:
        """Record a command that ran (``fields``: a :class:`RecordedCommand`'s, bar ``fact``
        and ``end``): as an event, returned, or kept for its op's outcome (None)."""

    @property
    def printer(self) -> Printer | None:
        """What prints commands and their output as they run; None when nothing does."""


def _cap(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit], True


def _shown(command: Command, options: CommandOptions, shown: str | None = None) -> str:
    # The log says how a command ran, not only what it was: privilege included.
    shown = shown or command.masked()
    if isinstance(command, FunctionCommand):
        return shown
    # Most commands run with no privilege at all: no need to build its words.
    if not (options.doas or options.dzdo or options.sudo or options.su_user):
        return shown
    privilege = shown_privilege(options)
    return f"{privilege} {shown}" if privilege else shown


@functools.lru_cache(maxsize=1024)
def _takes_state_and_host(function: Callable[..., Any]) -> bool:
    # pyinfra 3.10's rule, read once per function (not per call).
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return "state" in parameters and "host" in parameters


def _call(
    state: CommandContext, host: Host, command: FunctionCommand, timeout: float | None
) -> CommandResult:
    """A Python step, bounded by the op's ``_timeout`` as a shell command is."""
    function = command.function
    try:
        takes = _takes_state_and_host(function)
    except TypeError:  # an unhashable callable: asked each time
        takes = _takes_state_and_host.__wrapped__(function)
    arguments = (state, host, *command.args) if takes else command.args
    # gevent's own Timeout (a BaseException): no `except Exception` inside the step -- a
    # fact's command, say -- can swallow it. It bounds steps that yield to gevent.
    timer = gevent.Timeout(timeout)
    started = time.monotonic()
    try:
        with timer:
            returned = function(*arguments, **command.kwargs)
    except gevent.Timeout as error:
        if error is not timer:
            raise
        return CommandResult(False, None, "", f"timed out after {timeout}s")
    if timeout is not None and time.monotonic() - started > timeout:
        # A step that blocked without yielding to gevent (time.sleep, a blocking socket)
        # overran its limit all the same: it fails, as pyinfra's.
        return CommandResult(False, None, "", f"timed out after {timeout}s")
    return CommandResult(returned is not False, None)


def run_command(
    state: CommandContext,
    host: Host,
    command: Command,
    options: CommandOptions,
    *,
    op_hash: str | None = None,
    fact: str | None = None,
    attempt: int = 0,
) -> CommandResult:
    """Run ``command`` on ``host`` and record it; a failure is a result, never an exception.

    Exceptions that escape a Python callable or a connector (a lost
    connection, a timeout) become a failed command with the error as stderr.
    """
    secrets: list[str] = []
    shown: str | None = None
    printer = state.printer  # None unless something prints (the State's print flags)
    if printer is not None:
        printer.command_starting(host.name, _shown(command, options), fact)
    started = time.perf_counter()
    try:
        connector = state.connections.connect(host)
        # They never reach the log, even should a command echo what it reads.
        if options.sudo_password:
            secrets.append(revealed(options.sudo_password))
        if options.su_password:
            secrets.append(revealed(options.su_password))
        if options.env:
            secrets += [v.unmask() for v in options.env.values() if isinstance(v, HiddenValue)]
        if isinstance(command, StringCommand):
            if command._secrets:
                secrets += command._secrets
            result = connector.run_shell_command(command, options)
        elif isinstance(command, FileUploadCommand):
            result = connector.put_file(command.content, command.dest, options)
        elif isinstance(command, FileDownloadCommand):
            result = connector.get_file(command.src, options)
            if result.success and result.content is not None:
                Path(command.dest).write_bytes(result.content)
                # Recorded with its size and hash: the log never holds file content.
                shown = transfer_shown("download", command.src, result.content)
        elif isinstance(command, FunctionCommand):
            result = _call(state, host, command, options.timeout)
        elif isinstance(command, RsyncCommand):
            result = connector.rsync(command.src, command.dest, command.flags, options)
        else:  # pragma: no cover - make_command admits nothing else
            raise TypeError(f"{command!r} is not a command")
    except DeployError:
        raise  # hosts failing (a fact inside a Python step) stops the deploy, as anywhere
    except (ConnectError, OSError, TimeoutError) as error:
        result = CommandResult(False, None, "", f"{type(error).__name__}: {error}")
    except Exception as error:  # a Python step may raise anything: it fails the command
        result = CommandResult(False, None, "", f"{type(error).__name__}: {error}")
    duration = time.perf_counter() - started

    stdout = result.stdout
    stderr = result.stderr
    truncated = result.truncated
    if stdout or stderr:  # nothing to scrub or cut in no output (most commands)
        limit = state.config.MAX_OUTPUT
        stdout, cut_out = _cap(scrub(stdout, secrets) if secrets else stdout, limit)
        stderr, cut_err = _cap(scrub(stderr, secrets) if secrets else stderr, limit)
        truncated = cut_out or cut_err or truncated
    if options.doas or options.dzdo or options.sudo or options.su_user:
        shown = _shown(command, options, shown)
    else:  # _shown, for a command run with no privilege (most)
        shown = shown or command.masked()
    fields: dict[str, Any] = {
        "command": shown,
        "success": result.success,
        "exit_code": result.exit_code,
        "duration": round(duration, 6),
        "stdout": stdout,
        "stderr": stderr,
        "truncated": truncated,
        "attempt": attempt,
    }
    event = state.record_command(host.name, op_hash, fact, fields)
    if printer is not None:
        printer.command_executed(host.name, op_hash, event or RecordedCommand(fact=fact, **fields))
    return result
