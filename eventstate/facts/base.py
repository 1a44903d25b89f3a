"""Facts: what a host is like now, learned by running a command and parsing its output.

``host.get_fact(File, "/etc/motd")`` (or ``state.get_fact(host, File, ...)``)
runs the fact's command once per host and arguments -- the State keeps the
answers for the run -- and records the command like any other, so the log
shows what every decision was based on.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol

import gevent

from eventstate.command_runner import CommandContext, run_command
from eventstate.commands import StringCommand
from eventstate.connectors.base import CommandOptions
from eventstate.errors import FactNotCollected, FactPreconditionError, MissingCommandError
from eventstate.events import StateStage
from eventstate.host import Host

__all__ = [
    "Fact",
    "FactsContext",
    "describe_fact",
    "fact_not_collected",
    "gather_fact",
    "get_fact",
    "get_facts",
]

logger = logging.getLogger("eventstate")

#: What a fact's command prints instead of running when the binary its
#: ``requires_command`` names is absent (pyinfra's sentinel, kept as it is).
_MISSING_COMMAND_MARKER = "##PYINFRA_NOCMD##"

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

    def requires_command(self, *args: Any, **kwargs: Any) -> str | None:
        """The binary the command needs on the host (pyinfra's ``requires_command``).

        Given the fact's arguments. When the host lacks it the fact is not
        collected (:class:`~eventstate.errors.MissingCommandError`): it reads as
        its default -- see :func:`fact_not_collected`. None: no such check.
        """
        return None

    def check_preconditions(self, state: Any, host: Host) -> str | None:
        """Why the fact cannot be gathered on ``host`` now, or None when it can.

        pyinfra's ``check_preconditions``: run before the command, it may ask
        other facts (``state.get_fact(host, ...)``). A reason makes a
        :class:`~eventstate.errors.FactPreconditionError` (see :func:`fact_not_collected`).
        """
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

    Raises:
        FactPreconditionError: the fact's ``check_preconditions`` gave a reason.
        MissingCommandError: the host lacks the fact's ``requires_command``.
    """
    fact = fact_class()
    reason = fact.check_preconditions(state, host)
    if reason:
        raise FactPreconditionError(fact_class, reason)
    # Kept a command, not made text: a part of it may be a Secret.
    command = StringCommand(fact.command(*args, **kwargs))
    required = fact.requires_command(*args, **kwargs)
    if required:
        # As pyinfra: the shell tells "no such binary" (the marker) from "no output".
        command = StringCommand(
            f"if command -v {shlex.quote(required)} >/dev/null 2>&1; then (",
            command,
            f"); else echo '{_MISSING_COMMAND_MARKER}'; fi",
            _separator="",
        )
    result = run_command(
        state,
        host,
        command,
        options,
        fact=describe_fact(fact_class, args, kwargs),
    )
    if required and result.success and result.stdout.splitlines() == [_MISSING_COMMAND_MARKER]:
        raise MissingCommandError(required)
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


def fact_not_collected(
    stage: StateStage, host: Host, fact_class: type[Fact], error: FactNotCollected
) -> Any:
    """What a fact that was not collected reads as: pyinfra 3.10's rule, by stage.

    Before the Execute stage it is the fact's default (an earlier op may install
    the binary, load the module); at Execute a missing command is the default
    with a warning, a failed precondition is raised (the deploy is misordered).

    Raises:
        FactPreconditionError: ``error``, at the Execute stage.
    """
    if stage != StateStage.Execute:
        logger.debug("Fact %s skipped on %s during prepare: %s", fact_class.__name__, host, error)
        return fact_class().default()
    if isinstance(error, MissingCommandError):
        logger.warning(
            "Fact %s skipped on %s: command not found: %s", fact_class.__name__, host, error
        )
        return fact_class().default()
    raise error


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

    @property
    def current_stage(self) -> StateStage:
        """The stage the deploy is in."""

    def get_fact(self, host: Host, fact_class: type[Fact], *args: Any, **kwargs: Any) -> Any:
        """One host's value of the fact, gathered once per run."""

    def collect_fact(self, host: Host, fact_class: type[Fact], *args: Any, **kwargs: Any) -> Any:
        """As :meth:`get_fact`, raising :class:`FactNotCollected` when it is not collected."""


def get_fact(
    state: FactsContext,
    host: Host,
    cls: type[Fact],
    args: Iterable[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """``cls(*args, **kwargs)`` on ``host``: pyinfra's ``get_fact(state, host, cls, ...)``.

    As :meth:`eventstate.state.State.get_fact` (global arguments among
    ``kwargs`` apply); a fact not collected reads as :func:`fact_not_collected` says.

    Raises:
        FactPreconditionError: a precondition failed at the Execute stage.
        NoHostsRemainingError: the fact failed the last host.
    """
    try:
        return _get_fact(state, host, cls, args, kwargs)
    except FactNotCollected as error:
        return fact_not_collected(state.current_stage, host, cls, error)


def _get_fact(
    state: FactsContext,
    host: Host,
    cls: type[Fact],
    args: Iterable[Any] | None,
    kwargs: Mapping[str, Any] | None,
) -> Any:
    return state.collect_fact(host, cls, *(args or ()), **dict(kwargs or {}))


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
