"""Facts: what a host is like now, learned by running a command and parsing its output.

``host.get_fact(File, "/etc/motd")`` (or ``state.get_fact(host, File, ...)``)
runs the fact's command once per host and arguments -- the State keeps the
answers for the run -- and records the command like any other, so the log
shows what every decision was based on.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from eventstate.command_runner import CommandContext, run_command
from eventstate.commands import StringCommand
from eventstate.connectors.base import CommandOptions
from eventstate.host import Host

__all__ = ["Fact", "describe_fact", "gather_fact"]

# pyinfra 3.10's patterns for "that user does not exist" from sudo and su.
_UNKNOWN_SUDO_USER = re.compile(r"^sudo: unknown user")
_UNKNOWN_SU_USER = (re.compile(r"^su: user .+ does not exist"), re.compile(r"^su: unknown login"))


class Fact:
    """A question about a host: a shell command, and a parser for its output.

    Subclasses set ``name`` and implement :meth:`command` and :meth:`process`.
    Commands should succeed with empty output when the answer is "nothing"
    (a missing file), so that a failed command means the fact could not be
    gathered.
    """

    name: ClassVar[str] = "fact"

    def command(self, *args: Any) -> str:
        """The shell command that gathers the fact."""
        raise NotImplementedError

    def process(self, lines: list[str]) -> Any:
        """The fact's value, from the command's output lines."""
        return lines

    def default(self) -> Any:
        """The value when the command fails."""
        return None


def describe_fact(fact_class: type[Fact], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """How the log names a fact asked: ``files.File(/etc/motd)``, ``files.File(path=/x)``."""
    shown = [*map(str, args), *(f"{key}={value}" for key, value in kwargs.items())]
    return f"{fact_class.name}({', '.join(shown)})"


def gather_fact(
    state: CommandContext,
    host: Host,
    fact_class: type[Fact],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: CommandOptions,
) -> tuple[bool, Any]:
    """Run the fact's command on ``host`` with ``options``, record it, and parse its output.

    Returns whether the command succeeded, and the value (the fact's default
    when it failed). Not cached: :meth:`eventstate.state.State.get_fact` keeps
    the answers and decides what a failure means.
    """
    fact = fact_class()
    result = run_command(
        state,
        host,
        StringCommand(fact.command(*args, **kwargs)),
        options,
        fact=describe_fact(fact_class, args, kwargs),
    )
    if not result.success:
        # As pyinfra: a user sudo or su does not know yet (an op will create it) is
        # the fact's default, not a failure.
        first = result.stderr.splitlines()[0] if result.stderr else ""
        unknown_user = (options.sudo_user and _UNKNOWN_SUDO_USER.match(first)) or (
            options.su_user and any(pattern.match(first) for pattern in _UNKNOWN_SU_USER)
        )
        return bool(unknown_user), fact.default()
    return True, fact.process(result.stdout.splitlines())
