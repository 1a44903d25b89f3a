"""What the State's print flags ask the engine to print as a deploy runs (pyinfra's ``-v``).

pyinfra 3.10's six flags, with pyinfra's meaning and lines:

=====================  ==================================================  ==========
``print_noop_info``    an op that will change nothing on a host            ``-v``
                       (``[web1] noop: files.directory /srv``)
``print_fact_info``    each fact gathered (``[web1] Loaded fact server.Os``)  ``-v``
``print_input``        each op command, before it runs (``[web1] >>> ...``)  ``-vv``
``print_fact_input``   each fact command, before it runs                   ``-vv``
``print_output``       what each op command printed (``[web1] hello``)     ``-vvv``
``print_fact_output``  what each fact command printed                      ``-vvv``
=====================  ==================================================  ==========

The engine calls a :class:`Printer` only when the State has one: the State makes
one when a flag is set and drops it when none is, so with the flags off printing
costs a ``state.printer is None`` test per command and nothing per event. What is
printed is what the log records: commands with their secrets masked, output scrubbed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable

import attrs

from eventstate.events import CommandExecuted, RecordedCommand

__all__ = ["PrintFlags", "Printer", "escaped", "write_to_stderr"]

#: pyinfra's print flags, in the order ``-v``, ``-vv``, ``-vvv`` turn them on.
FLAG_NAMES = (
    "print_noop_info",
    "print_fact_info",
    "print_input",
    "print_fact_input",
    "print_output",
    "print_fact_output",
)

# Recorded text (a host's output, a host name) must not drive the terminal it is printed
# on -- move the cursor, retitle or clear it, reorder text (bidi overrides): every control
# character but newline and tab is written as an escape, for the engine and the CLI alike.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escape_json(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escaped(text: str, *, json: bool = False) -> str:
    """``text`` with every terminal control character written as an escape.

    ``\\x1b`` in text; ``\\u001b`` with ``json``, which keeps a JSON line valid
    JSON (control characters can only stand inside its strings).
    """
    return _CONTROL.sub(_escape_json if json else _escape, text)


def write_to_stderr(line: str) -> None:
    """Print one line on stderr, control characters escaped (the default writer)."""
    sys.stderr.write(escaped(line) + "\n")
    sys.stderr.flush()


@attrs.define(on_setattr=attrs.setters.NO_OP)
class PrintFlags:
    """The State's print flags (pyinfra's ``State.print_*``); all off by default.

    ``on_change`` is called after any flag is set (however it is set:
    ``flags.print_output = True``, :meth:`set_verbosity`, the State's properties).
    """

    on_change: Callable[[], None] | None = attrs.field(
        default=None, kw_only=True, eq=False, repr=False
    )
    print_noop_info: bool = False
    print_fact_info: bool = False
    print_input: bool = False
    print_fact_input: bool = False
    print_output: bool = False
    print_fact_output: bool = False

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        # Once the flag is set, whoever owns the flags hears of it (the State remakes its
        # printer), however it was set.
        if name in FLAG_NAMES and self.on_change is not None:
            self.on_change()

    def any(self) -> bool:
        """Whether any flag is on."""
        return any(getattr(self, name) for name in FLAG_NAMES)

    def set_verbosity(self, verbosity: int) -> None:
        """Turn flags on as pyinfra's ``-v`` count does: noop and fact info (1),
        then commands and fact commands (2), then their output (3)."""
        if verbosity > 0:
            self.print_noop_info = self.print_fact_info = True
        if verbosity > 1:
            self.print_input = self.print_fact_input = True
        if verbosity > 2:
            self.print_output = self.print_fact_output = True


class Printer:
    """Prints what the flags ask, as the engine reaches it, one line at a time.

    Args:
        flags: The flags to honour, read at each call (the State's own).
        write: Where each line goes; :func:`write_to_stderr` if None. A command
            line's display passes its own, to keep lines clear of its progress bar.

    Subclass to hear of every command as recorded (the CLI's failure lines do).
    """

    def __init__(self, flags: PrintFlags, write: Callable[[str], None] | None = None) -> None:
        self.flags = flags
        self.write = write or write_to_stderr

    def command_starting(self, host: str, command: str, fact: str | None) -> None:
        """A command is about to run (``command`` as the log will show it)."""
        if self.flags.print_fact_input if fact else self.flags.print_input:
            self.write(f"[{host}] >>> {command}")

    def command_executed(
        self, host: str, op_hash: str | None, command: CommandExecuted | RecordedCommand
    ) -> None:
        """A command ran on ``host`` (for ``op_hash``, None for a fact asked outside an op);
        ``command`` is what was recorded of it: its event, or its entry in its op's outcome."""
        flags = self.flags
        if command.fact is None:
            if flags.print_output:
                self._output(host, command)
            return
        if flags.print_fact_output:
            self._output(host, command)
        if command.success and flags.print_fact_info:
            self.write(f"[{host}] Loaded fact {command.fact}")

    def noop(self, host: str, op_names: Iterable[str]) -> None:
        """An op was prepared for ``host`` and will change nothing there."""
        if self.flags.print_noop_info:
            self.write(f"[{host}] noop: {', '.join(op_names)}")

    def _output(self, host: str, command: CommandExecuted | RecordedCommand) -> None:
        for line in (*command.stdout.splitlines(), *command.stderr.splitlines()):
            self.write(f"[{host}] {line}")
