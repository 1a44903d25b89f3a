"""Why a deploy failed, said as it happens: a line per failure, and a closing list.

When an op fails on a host the deploy prints one line: the host, the op, the
command that failed, its exit code and the last lines of what it wrote to
stderr -- as the log recorded them (secrets masked). A host that cannot connect
gets one line with the reason. The closing summary lists them again, and names
``eventstate show RUN`` for the rest.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from eventstate.cli.base import DB_ENVVAR, DEFAULT_DB
from eventstate.events import CommandExecuted, RecordedCommand
from eventstate.printing import Printer, PrintFlags
from eventstate.state import BaseStateCallback
from eventstate.stores import shown_url

if TYPE_CHECKING:
    from eventstate.host import Host
    from eventstate.state import State

__all__ = ["Failure", "FailureLines", "next_step"]

#: The most lines of a command's output a failure line quotes, and of each, characters.
TAIL_LINES = 3
TAIL_WIDTH = 160
#: The longest command a failure line quotes; the log keeps it whole.
COMMAND_WIDTH = 160
#: The most failures the closing summary lists.
LISTED = 20


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


#: What a failure line reads of a failed command: its event, or its entry in its op's outcome.
Recorded = CommandExecuted | RecordedCommand


def _tail(event: Recorded) -> tuple[str, ...]:
    lines = [line for line in event.stderr.splitlines() if line.strip()]
    if not lines:  # nothing on stderr: what it said on stdout is the next best reason
        lines = [line for line in event.stdout.splitlines() if line.strip()]
    return tuple(_cut(line.strip(), TAIL_WIDTH) for line in lines[-TAIL_LINES:])


@attrs.frozen
class Failure:
    """One failure of a run: an op or fact on a host, or a host that could not connect."""

    #: The host.
    host: str
    #: What failed: the op's names, ``fact NAME``, or ``connect``.
    what: str
    #: The command that failed, as recorded; None for a connection (or none known).
    command: str | None = None
    #: Its exit code (None: a timeout, a Python step, a connection).
    exit_code: int | None = None
    #: The last lines of its stderr (or stdout), or the connection's error.
    reason: tuple[str, ...] = ()

    @classmethod
    def of_command(cls, what: str, event: Recorded, host: str | None = None) -> Failure:
        """The failure ``event`` (a failed command, on ``host``: its event's by default)
        records."""
        on = host if host is not None else getattr(event, "host", "")
        return cls(on, what, event.command, event.exit_code, _tail(event))

    def text(self) -> str:
        """The failure on one line, without its host."""
        if self.what == "connect":
            return f"could not connect: {' | '.join(self.reason)}"
        if self.command is None:
            return f"{self.what}: {' | '.join(self.reason) or 'failed'}"
        said = f"{self.what}: `{_cut(self.command, COMMAND_WIDTH)}`"
        said += f" exit {self.exit_code}" if self.exit_code is not None else " failed"
        return f"{said}: {' | '.join(self.reason)}" if self.reason else f"{said} (no output)"


class _CommandWatcher(Printer):
    """The State's printer (the print flags honoured) that also hands failed commands on."""

    def __init__(
        self,
        flags: PrintFlags,
        write: Callable[[str], None] | None,
        failed: Callable[[str, str | None, Recorded], None],
    ) -> None:
        super().__init__(flags, write)
        self._failed = failed

    def command_executed(self, host: str, op_hash: str | None, command: Recorded) -> None:
        super().command_executed(host, op_hash, command)
        if not command.success:
            self._failed(host, op_hash, command)


class FailureLines(BaseStateCallback):
    """The callbacks, and the State's printer, that print each failure as it happens.

    Args:
        say: Prints one failure line (the deploy's screen, on stderr).

    Add it with ``state.add_callback_handler`` and set ``state.printer`` to
    :meth:`printer`; :meth:`summary` gives the closing list.
    """

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        #: Every failure, in the order met (connections, ops, facts of failed hosts).
        self.failures: list[Failure] = []
        # host -> its last failed command, and the op it ran for
        self._failed_command: dict[str, tuple[str | None, Recorded]] = {}
        self._failed_fact: dict[str, Failure] = {}

    def printer(self, flags: PrintFlags, write: Callable[[str], None] | None = None) -> Printer:
        """A printer for the State: ``flags`` honoured, failed commands watched."""
        return _CommandWatcher(flags, write, self._command_failed)

    def _command_failed(self, host: str, op_hash: str | None, event: Recorded) -> None:
        if event.fact is None:
            self._failed_command[host] = (op_hash, event)  # said when the op's outcome is known
            return
        failure = Failure.of_command(f"fact {event.fact}", event, host)
        self._failed_fact[host] = failure
        self.say(f"[{host}] failed: {failure.text()}")

    def host_connect_error(self, state: State, host: Host, error: Any) -> None:  # type: ignore[override]
        """Say why ``host`` could not connect."""
        failure = Failure(host.name, "connect", reason=(str(error),))
        self.failures.append(failure)
        self.say(f"[{host.name}] {failure.text()}")

    def operation_host_error(  # type: ignore[override]
        self, state: State, host: Host, op_hash: str, retry_count: int = 0, max_retries: int = 0
    ) -> None:
        """Say which command of the op failed on ``host``, and what it wrote."""
        names = ", ".join(state.get_op_meta(op_hash).names)
        failed = self._failed_command.pop(host.name, None)
        if failed is None or failed[0] != op_hash:
            failure = Failure(host.name, names, reason=("failed, no command did",))
        else:
            failure = Failure.of_command(names, failed[1], host.name)
        ignored = state.ops[host][op_hash].global_arguments.ignore_errors
        if not ignored:
            self.failures.append(failure)
        said = "error ignored" if ignored else "failed"
        self.say(f"[{host.name}] {said}: {failure.text()}")

    def summary(self, state: State) -> list[str]:
        """The closing list of failures; empty when nothing failed."""
        failures = list(self.failures)
        listed = {failure.host for failure in failures}
        for name in state.view.failed_hosts:
            if name not in listed and name in self._failed_fact:
                failures.append(self._failed_fact[name])  # failed by a fact it could not gather
        if not failures:
            return []
        width = max(len(failure.host) for failure in failures[:LISTED]) + 2
        lines = [f"failures ({len(failures)}):"]
        lines += [
            f"  {('[' + failure.host + ']').ljust(width)} {failure.text()}"
            for failure in failures[:LISTED]
        ]
        if len(failures) > LISTED:
            lines.append(f"  ... and {len(failures) - LISTED} more")
        return lines


def next_step(run_id: str, db: str, environ: dict[str, str]) -> str:
    """``next: eventstate show RUN`` -- with ``--db`` when the log is not the default one."""
    command = f"eventstate show {run_id}"
    if db != DEFAULT_DB and environ.get(DB_ENVVAR) != db:
        # Never a password on the terminal: a URL with one is shown masked (to be filled in).
        command += f" --db {shlex.quote(shown_url(db))}"
    return f"next: {command}"
