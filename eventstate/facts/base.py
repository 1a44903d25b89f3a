"""Facts: what a host is like now, learned by running a command and parsing its output.

``host.get_fact(File, "/etc/motd")`` (or ``state.get_fact(host, File, ...)``)
runs the fact's command once per host and arguments -- the State keeps the
answers for the run -- and records the command like any other, so the log
shows what every decision was based on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol

import gevent

from eventstate.command_runner import CommandContext, run_command
from eventstate.commands import StringCommand
from eventstate.connectors.base import CommandOptions
from eventstate.host import Host

__all__ = ["Fact", "FactsContext", "describe_fact", "gather_fact", "get_facts"]

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

    def command(self, *args: Any) -> str | StringCommand:
        """The shell command that gathers the fact (a StringCommand when it has secret parts)."""
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
    lines = result.stdout.splitlines()
    # As pyinfra: no output is the fact's default, not what its parser makes of nothing.
    return True, fact.process(lines) if lines else fact.default()


class FactsContext(Protocol):
    """What asking a fact of every host needs of the deploy: the State provides it.

    Typed here, below the State, so that facts never import it.
    """

    @property
    def active_hosts(self) -> Iterable[Host]:
        """The hosts still in the deploy."""

    @property
    def fact_pool(self) -> Any:
        """The gevent pool facts are gathered on."""

    def get_fact(self, host: Host, fact_class: type[Fact], *args: Any, **kwargs: Any) -> Any:
        """One host's value of the fact, gathered once per run."""


def get_facts(
    state: FactsContext,
    fact_class: type[Fact],
    args: Iterable[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
) -> dict[Host, Any]:
    """``fact_class(*args, **kwargs)`` on every active host, asked at once (pyinfra's
    ``get_facts``): each host's value, by host, in inventory order.

    Global arguments among ``kwargs`` (``{"_sudo": True}``) apply, as in
    :meth:`~eventstate.state.State.get_fact`.

    Raises:
        NoHostsRemainingError: the hosts the fact failed on were the last (FAIL_PERCENT
            likewise).
    """
    hosts = list(state.active_hosts)
    args = tuple(args)
    greenlets = [
        state.fact_pool.spawn(state.get_fact, host, fact_class, *args, **dict(kwargs or {}))
        for host in hosts
    ]
    gevent.joinall(greenlets, raise_error=True)
    return {host: greenlet.get() for host, greenlet in zip(hosts, greenlets, strict=True)}
