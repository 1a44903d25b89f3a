"""``eventstate facts`` and ``eventstate exec``: pyinfra's ad-hoc verbs, recorded like any run.

``eventstate facts TARGET server.LinuxName files.File path=/etc/hosts`` asks
each fact of every host (``pyinfra TARGET fact ...``); ``eventstate exec
TARGET -- CMD ...`` runs a shell command on every host (``pyinfra TARGET exec
-- CMD``). TARGET is what ``eventstate deploy`` takes as its inventory. Each
is a run in the log: its hosts connected, every fact command and the shell op
recorded, so ``eventstate runs`` lists it (the command line says which verb)
and ``eventstate show`` tells it.

A fact is one of eventstate's (:mod:`eventstate.facts`) by its name, or --
with ``pip install 'eventstate[pyinfra]'`` -- any of pyinfra's by its
``module.ClassName``, or a fact class by its whole import path. Its
arguments follow it as ``KEY=VALUE``, read as pyinfra reads them (``true``,
``false``, numbers, JSON, else the text).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import inspect
import json
import pkgutil
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, NoReturn

import attrs
import click

import eventstate.facts
from eventstate.arguments import ARGUMENTS
from eventstate.cli.base import db_option, echo, one_line, parse_value, user_errors
from eventstate.cli.deploy import logged_end, report_interruption, store_errors_said_once
from eventstate.config import Config
from eventstate.connections import HostConnections
from eventstate.deploy import hosts_in_limit, load_inventory, run_recorded
from eventstate.errors import (
    EventstateError,
    FactError,
    PyinfraNotInstalledError,
    StoreError,
    UsageError,
)
from eventstate.events import RunStatus
from eventstate.facts.base import Fact
from eventstate.host import Host
from eventstate.interruption import DeployInterrupted, interrupt_on_signals
from eventstate.operation import add_op
from eventstate.operations import server
from eventstate.pyinfra_bridge.requirement import INSTALL_HINT, require_pyinfra
from eventstate.replay.run import Run
from eventstate.state import State
from eventstate.stores import open_log

__all__ = ["FactRequest", "exec_", "fact_requests", "facts"]


@attrs.frozen
class FactRequest:
    """One fact asked on the command line: its class, its arguments, who gathers it.

    Attributes:
        name: The fact's name (``server.LinuxName``).
        fact_class: Our :class:`~eventstate.facts.base.Fact` subclass, or pyinfra's fact.
        kwargs: Its arguments.
        pyinfra: Whether it is pyinfra's (gathered through the bridge).
    """

    name: str
    fact_class: type[Any]
    kwargs: dict[str, Any]
    pyinfra: bool

    @property
    def key(self) -> str:
        """How the output names it, as pyinfra's: ``files.File (path=/etc/hosts)``."""
        if not self.kwargs:
            return self.name
        shown = ", ".join(f"{key}={value}" for key, value in sorted(self.kwargs.items()))
        return f"{self.name} ({shown})"

    def ask(self, state: State, host: Host) -> Any:
        """The fact's value on ``host``, gathered (and recorded) by the State."""
        if self.pyinfra:
            from eventstate.pyinfra_bridge import get_pyinfra_fact, pointed_at

            # pyinfra's context on the host: a fact's command may ask another fact
            # (``host.get_fact(Kernel)``), as in a deploy.
            with pointed_at(state, host):
                return get_pyinfra_fact(state, host, self.fact_class, (), dict(self.kwargs))
        return state.get_fact(host, self.fact_class, **self.kwargs)


def _our_facts() -> dict[str, type[Fact]]:
    """Every fact eventstate ships, by name: each module of :mod:`eventstate.facts`."""
    found: dict[str, type[Fact]] = {}
    for module_info in pkgutil.iter_modules(eventstate.facts.__path__):
        module = importlib.import_module(f"eventstate.facts.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Fact)
                and value is not Fact
                and value.__module__ == module.__name__
            ):
                found[value.name] = value
    return found


def _pyinfra_installed() -> bool:
    try:
        require_pyinfra()
    except PyinfraNotInstalledError:
        return False
    return True


def _imported_fact(path: str) -> type[Any] | None:
    """A fact class by its whole import path (``mypackage.facts.Uptime``), ours or pyinfra's."""
    module_name, _, class_name = path.rpartition(".")
    try:
        if not module_name or importlib.util.find_spec(module_name) is None:
            return None
    except (ModuleNotFoundError, ValueError):
        return None
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise UsageError(f"cannot import {module_name}: {type(error).__name__}: {error}") from None
    value = getattr(module, class_name, None)
    if isinstance(value, type) and issubclass(value, Fact):
        return value
    if value is not None and _pyinfra_installed():
        from eventstate.pyinfra_bridge.fact_names import is_pyinfra_fact

        if is_pyinfra_fact(value):
            return value
    return None


def _unknown_fact(name: str, ours: dict[str, type[Fact]]) -> UsageError:
    known = list(ours)
    if _pyinfra_installed():
        from eventstate.pyinfra_bridge.fact_names import pyinfra_fact_names

        known += pyinfra_fact_names()
        hint = ""
    else:
        hint = f" (pyinfra's facts need {INSTALL_HINT})"
    close = difflib.get_close_matches(name, dict.fromkeys(known), n=5, cutoff=0.6)
    said = f"; did you mean {', '.join(close)}?" if close else ""
    return UsageError(f"unknown fact {name!r}{said}{hint}")


def _fact(name: str, ours: dict[str, type[Fact]]) -> tuple[str, type[Any], bool]:
    """The fact ``name`` names: (its name, its class, whether it is pyinfra's)."""
    if name in ours:
        return name, ours[name], False
    if "." not in name:
        raise UsageError(f"invalid fact {name!r}: a fact is named module.ClassName")
    if _pyinfra_installed():
        from eventstate.pyinfra_bridge.fact_names import pyinfra_fact

        found = pyinfra_fact(name)
        if found is not None:
            return found.name, found, True
    imported = _imported_fact(name)
    if imported is not None:
        pyinfra = not issubclass(imported, Fact)
        return (imported.name if pyinfra else name), imported, pyinfra
    raise _unknown_fact(name, ours)


def _command_of(fact_class: type[Any], pyinfra: bool) -> Callable[..., Any]:
    if pyinfra:
        from eventstate.pyinfra_bridge.fact_names import pyinfra_fact_command

        return pyinfra_fact_command(fact_class)
    command: Callable[..., Any] = fact_class().command
    return command


def fact_requests(words: Sequence[str]) -> list[FactRequest]:
    """The facts a command line asks: each ``FACT`` followed by its ``KEY=VALUE`` arguments.

    Raises:
        UsageError: an argument before any fact, an unknown fact (the message
            lists the close names), or arguments the fact does not take.
    """
    ours = _our_facts()
    asked: list[tuple[str, dict[str, Any]]] = []
    for word in words:
        if "=" in word:
            if not asked:
                raise UsageError(f"argument {word!r} comes before any fact")
            key, value = word.split("=", 1)
            asked[-1][1][key] = parse_value(value)
        else:
            asked.append((word, {}))
    if not asked:
        raise UsageError("name at least one fact (server.LinuxName, files.File path=/etc/hosts)")
    requests = []
    for given, kwargs in asked:
        name, fact_class, pyinfra = _fact(given, ours)
        # Global arguments (``_sudo=true``) are the State's, as pyinfra's command line has them.
        fact_kwargs = {
            key: value
            for key, value in kwargs.items()
            if not (key.startswith("_") and key in ARGUMENTS)
        }
        try:
            inspect.signature(_command_of(fact_class, pyinfra)).bind(**fact_kwargs)
        except TypeError as error:
            parameters = inspect.signature(_command_of(fact_class, pyinfra)).parameters
            takes = ", ".join(parameters) or "none"
            raise UsageError(f"{name}: {error} (its arguments: {takes})") from None
        requests.append(FactRequest(name, fact_class, kwargs, pyinfra))
    return requests


def _ask_each_host(state: State, request: FactRequest, answers: dict[str, Any]) -> None:
    """``request`` on every active host at once: each host's value into ``answers``, by name.

    A host whose fact failed is failed by the State (recorded) and answers its
    default; when that leaves no host, the State's error is raised here, after
    every other host has answered.
    """
    hosts = list(state.active_hosts)

    def ask(host: Host) -> tuple[bool, Any]:
        # Caught in the greenlet: gevent would print a host's DeployError as a traceback.
        try:
            return True, request.ask(state, host)
        except EventstateError as error:
            return False, error
        except Exception as error:  # the fact's own code raised: say which fact, where
            failed = FactError(f"{request.key} on {host.name}: {type(error).__name__}: {error}")
            failed.__cause__ = error
            return False, failed

    greenlets = [state.fact_pool.spawn(ask, host) for host in hosts]
    raised: Exception | None = None
    for host, greenlet in zip(hosts, greenlets, strict=True):
        ok, value = greenlet.get()
        if ok:
            answers[host.name] = value
        elif raised is None:
            raised = value
    if raised is not None:
        raise raised


def _json_value(value: Any) -> Any:
    # What the json module cannot write, written as pyinfra's command line writes it.
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "to_json"):
        return value.to_json()
    return str(value)


def _options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options both verbs share: the log, the hosts, how commands run."""
    for option in reversed(
        [
            db_option,
            click.option("--limit", help="Only these hosts or groups (comma-separated)."),
            click.option("--sudo", is_flag=True, help="Run the commands with sudo."),
            click.option("--sudo-user", help="Run the commands as this user, with sudo."),
            click.option("--su-user", help="Run the commands as this user, with su."),
            click.option(
                "--parallel", type=click.IntRange(min=1), help="Hosts at once (default: auto)."
            ),
            click.option("--debug", is_flag=True, help="Show tracebacks."),
        ]
    ):
        function = option(function)
    return function


def _config(sudo: bool, sudo_user: str | None, su_user: str | None, parallel: int | None) -> Config:
    # As pyinfra's command line: --sudo and the rest are the run's settings (recorded).
    config = Config(PARALLEL=parallel or 0, SUDO=sudo)
    if sudo_user:
        config.SUDO_USER = sudo_user
    if su_user:
        config.SU_USER = su_user
    return config


def _run(
    target: str,
    db: str,
    limit: str | None,
    config: Config,
    prepare: Callable[[State], object],
    report: Callable[[State], object],
    *,
    execute: bool,
    debug: bool,
) -> NoReturn:
    """Record an ad-hoc run on ``target``: connect, ``prepare(state)``, execute, disconnect;
    then ``report(state)`` what it found, say how it ended, and exit.

    The deploy's machinery (its inventory, limit, connectors and log), without
    a deploy file. The exit status: 0 when every host succeeded, 1 when one
    failed or the run aborted, 2 for a mistake or a log that refused the run,
    130 or 143 for a signal.
    """
    state = State()
    try:
        with interrupt_on_signals(), store_errors_said_once(debug):
            with user_errors(debug):
                hosts = load_inventory(target)
                initial_limit = hosts_in_limit(hosts, limit)
                connections = HostConnections(hosts, connect_timeout=config.CONNECT_TIMEOUT)
                log = open_log(db)
            try:
                with user_errors(debug):
                    state.init(hosts, config, initial_limit, log=log, connections=connections)
                status = _recorded(state, prepare, db, execute=execute, debug=debug)
                with contextlib.suppress(StoreError):  # _end says what the log holds
                    report(state)
                _end(state, db, status)
            except DeployInterrupted as interruption:
                report_interruption(state, interruption, db)
            finally:
                log.close()
    except DeployInterrupted as interruption:
        echo(f"Interrupted by {interruption.signal_name}", err=True)
        sys.exit(interruption.exit_status)


def _recorded(
    state: State, prepare: Callable[[State], object], db: str, *, execute: bool, debug: bool
) -> int:
    """Run ``prepare`` and execute as :func:`~eventstate.deploy.run_recorded` does; the
    exit status (a log refusing the run is said here, in what it holds)."""
    try:
        status = run_recorded(state, lambda: prepare(state), execute=execute)
    except StoreError as error:
        if debug:
            raise
        echo(f"Error: {one_line(str(error))}", err=True)
        if isinstance(error.__context__, DeployInterrupted):
            raise error.__context__ from None
        echo(f"run {state.run_id} {logged_end(state, db)}", err=True)
        return 2
    except Exception:
        if debug:
            raise
        # A fact's own code raised, an op's arguments were wrong: recorded as the run's
        # abort (run_recorded), said in one line when the run ends.
        return 2
    return 0 if status is RunStatus.SUCCESS else 1


def _host_failures(state: State) -> Iterator[str]:
    """A line for each host that failed: why it could not connect, or its failed command."""
    view = state.view
    if not view.failed_hosts:
        return
    host_ops = Run(state.log, state.run_id).host_ops()
    for name in view.run.hosts:
        if name not in view.failed_hosts:
            continue
        connect_error = view.host_sets.connect_errors.get(name)
        if connect_error:
            yield f"[{name}] could not connect: {connect_error}"
            continue
        commands = [
            *host_ops.fact_commands(name),
            *(command for op in host_ops.host_ops(name).values() for command in op.commands),
        ]
        failed = [command for command in commands if not command.success]
        if not failed:
            yield f"[{name}] failed"
            continue
        command = failed[-1]
        ended = f"exit {command.exit_code}" if command.exit_code is not None else "failed"
        last = command.stderr.strip().splitlines()[-1:] or command.stdout.strip().splitlines()[-1:]
        yield f"[{name}] {command.fact or command.command}: {ended}" + (
            f": {last[0]}" if last else ""
        )


def _end(state: State, db: str, status: int) -> NoReturn:
    """Say which hosts failed and how the run ended (on stderr), and exit with ``status``."""
    with contextlib.suppress(StoreError):  # the line below says what the log holds
        for line in _host_failures(state):
            echo(line, err=True)
    if state.view.run.error:
        echo(f"Error: {one_line(state.view.run.error)}", err=True)
    echo(f"run {state.run_id} {logged_end(state, db)}", err=True)
    sys.exit(status)


@click.command()
@click.argument("target", metavar="TARGET")
@click.argument("fact_words", nargs=-1, required=True, metavar="FACT [KEY=VALUE ...] ...")
@_options
@click.option("--json", "as_json", is_flag=True, help="One JSON document, for machines.")
def facts(
    target: str,
    fact_words: tuple[str, ...],
    db: str,
    limit: str | None,
    sudo: bool,
    sudo_user: str | None,
    su_user: str | None,
    parallel: int | None,
    debug: bool,
    as_json: bool,
) -> None:
    """Ask facts of every host of TARGET, recording the run (pyinfra's ``fact``).

    TARGET is an inventory, as ``eventstate deploy`` takes it (a file, or hosts
    separated by commas). A FACT is one of eventstate's (``server.Arch``) or, with
    the pyinfra extra, pyinfra's (``server.LinuxName``); its arguments follow it
    (``files.File path=/etc/hosts``). Prints each fact's value on each host as
    JSON (``--json``: one document, by fact then host); exits 1 when a host failed.
    """
    with user_errors(debug):
        requests = fact_requests(fact_words)
    gathered: dict[str, dict[str, Any]] = {}

    def ask_all(state: State) -> None:
        for request in requests:
            _ask_each_host(state, request, gathered.setdefault(request.key, {}))

    def print_facts(state: State) -> None:
        if as_json:
            echo(json.dumps(gathered, default=_json_value), json=True)
            return
        for key, values in gathered.items():
            echo(f"--> Fact data for: {key}")
            echo(json.dumps(values, indent=4, default=_json_value), json=True)

    config = _config(sudo, sudo_user, su_user, parallel)
    _run(target, db, limit, config, ask_all, print_facts, execute=False, debug=debug)


@click.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("target", metavar="TARGET")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD ...")
@_options
def exec_(
    target: str,
    command: tuple[str, ...],
    db: str,
    limit: str | None,
    sudo: bool,
    sudo_user: str | None,
    su_user: str | None,
    parallel: int | None,
    debug: bool,
) -> None:
    """Run a shell command on every host of TARGET, recording the run (pyinfra's ``exec``).

    TARGET is an inventory, as ``eventstate deploy`` takes it. The words after
    ``--`` are the command, joined by spaces (as pyinfra's: quote what the host's
    shell should see as one word). Prints each host's output line by line,
    prefixed with ``[host]``; exits 1 when the command failed on a host.
    """
    shell_command = " ".join(command)
    if not shell_command.strip():
        raise UsageError("give the command to run after --")

    def add_shell(state: State) -> None:
        add_op(state, server.shell, commands=[shell_command])

    config = _config(sudo, sudo_user, su_user, parallel)
    _run(target, db, limit, config, add_shell, _print_outputs, execute=True, debug=debug)


def _print_outputs(state: State) -> None:
    """Each host's output, as the log recorded it, prefixed with the host's name."""
    host_ops = Run(state.log, state.run_id).host_ops()
    for name in state.view.run.hosts:
        for op in host_ops.host_ops(name).values():
            for executed in op.final_commands:
                for stream, err in ((executed.stdout, False), (executed.stderr, True)):
                    for line in stream.splitlines():
                        echo(f"[{name}] {line}", err=err)
                if executed.truncated:
                    echo(
                        f"[{name}] (output cut at {state.config.MAX_OUTPUT} characters in the log)",
                        err=True,
                    )
