"""``eventstate deploy``: run a deploy file on an inventory, recording every step."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

import click
import gevent
import orjson

from eventstate.cli.base import (
    HOST_HEADERS,
    db_option,
    echo,
    host_table,
    one_line,
    parse_value,
    table,
    user_errors,
)
from eventstate.cli.failure_lines import FailureLines, next_step
from eventstate.cli.plan import PlanPrinter
from eventstate.cli.progress import DeployProgress, Screen
from eventstate.commands import MASK, HiddenValue
from eventstate.config import Config
from eventstate.connections import HostConnections
from eventstate.deploy import (
    compile_deploy_file,
    hosts_in_limit,
    load_inventory,
    record_deploy,
    record_interruption,
    run_deploy,
)
from eventstate.errors import StoreError, UsageError
from eventstate.events import RunFinished, RunStatus
from eventstate.host import Host
from eventstate.interruption import DeployInterrupted, interrupt_on_signals
from eventstate.inventory import Inventory
from eventstate.projections.run import PLAN
from eventstate.redaction import is_secret_name
from eventstate.state import BaseStateCallback, State
from eventstate.stores import open_log, shown_url

__all__ = [
    "deploy",
    "logged_end",
    "override_data",
    "report_interruption",
    "store_errors_said_once",
]


@click.command()
@click.argument("inventory")
@click.argument("deploy_file", metavar="DEPLOY.py", type=click.Path(dir_okay=False), required=False)
@db_option
@click.option(
    "--limit",
    multiple=True,
    help="Only these hosts or groups: names, or globs of host names (web*); "
    "comma-separated or repeated.",
)
@click.option(
    "--data",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a data value of every host (true/false, numbers and JSON are parsed, "
    "as pyinfra's); repeatable.",
)
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    help="As pyinfra's: run without checking for changes first (eventstate never prompts).",
)
@click.option("--dry", is_flag=True, help="Prepare, print and record the plan; execute nothing.")
@click.option("--serial", is_flag=True, help="Run host by host.")
@click.option("--no-wait", is_flag=True, help="Run every host through all its ops at once.")
@click.option("--parallel", type=click.IntRange(min=1), help="Hosts at once (default: auto).")
@click.option(
    "--fail-percent", type=click.IntRange(0, 100), help="Abort when more hosts than this fail."
)
@click.option("--sudo", is_flag=True, help="Run operations with sudo.")
@click.option("--sudo-user", help="The user to sudo to (with --sudo).")
@click.option("--su-user", help="The user to su to.")
@click.option(
    "--retry", type=click.IntRange(min=0), help="Retry each failed operation this many times."
)
@click.option(
    "--retry-delay",
    type=click.FloatRange(min=0),
    help="Seconds between retries (default 5).",
)
@click.option(
    "--sync", is_flag=True, help="Commit every event as it happens: a crash loses nothing."
)
@click.option(
    "--flush-delay",
    type=click.FloatRange(min=0, min_open=True),
    help="Write events at most this many seconds after they happen (default 1): "
    "what a crash may lose.",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="As pyinfra's: noop and fact info and a line per op (-v), the commands (-vv), "
    "their output (-vvv).",
)
@click.option(
    "--debug-inventory",
    is_flag=True,
    help="Print each host's groups and data, and exit (nothing connects or is recorded).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def deploy(
    inventory: str,
    deploy_file: str | None,
    db: str,
    limit: tuple[str, ...],
    data: tuple[str, ...],
    yes: bool,
    dry: bool,
    serial: bool,
    no_wait: bool,
    parallel: int | None,
    fail_percent: int | None,
    sudo: bool,
    sudo_user: str | None,
    su_user: str | None,
    retry: int | None,
    retry_delay: float | None,
    sync: bool,
    flush_delay: float | None,
    verbose: int,
    debug_inventory: bool,
    debug: bool,
) -> None:
    """Run DEPLOY.py on the hosts of INVENTORY, recording every step in the log.

    INVENTORY is a Python inventory file, or hosts separated by commas
    (``@local``, ``@sim/web1,@sim/web2``, ``@docker/NAME``).

    Each stage prints a line with its counts; on a terminal a bar follows the
    host-ops, elsewhere a line per operation. A failure is said as it happens
    (the command, its exit code, the end of its stderr) and listed at the end.

    A crash loses at most the events of the last --flush-delay seconds (1 by
    default); none with --sync. Ctrl-C or SIGTERM kills the running commands, records the
    run as interrupted, and exits with status 130 or 143.
    """
    if serial and no_wait:
        raise UsageError("--serial and --no-wait cannot be used together")
    if sudo_user and not sudo:
        raise UsageError("--sudo-user needs --sudo")
    if deploy_file is None and not debug_inventory:
        raise click.MissingParameter(param_type="argument", param_hint="'DEPLOY.py'")
    limit_spec = ",".join(limit) or None
    options: dict[str, Any] = {
        "limit": limit_spec,
        "dry": dry,
        "serial": serial,
        "no_wait": no_wait,
        "parallel": parallel,
        "fail_percent": fail_percent,
    }
    overrides = override_data(data)
    # Recorded only when given, so that a deploy without them records what it always did;
    # the data's keys, not its values (they may be secrets; the hosts' data is not recorded).
    # --sudo, --retry and the like are settings: the run's recorded config holds them.
    options.update(
        {key: value for key, value in (("yes", yes), ("data", sorted(overrides))) if value}
    )
    settings: dict[str, Any] = {"PARALLEL": parallel or 0, "FAIL_PERCENT": fail_percent}
    settings.update(
        (key, value)
        for key, value in (
            ("SYNC", sync),
            ("SUDO", sudo),
            ("SUDO_USER", sudo_user),
            ("SU_USER", su_user),
            ("RETRY", retry),
            ("RETRY_DELAY", retry_delay),
            ("FLUSH_DELAY", flush_delay),
        )
        if value is not None and value is not False
    )
    # As pyinfra's -y: no change detection (and no prompt, which eventstate never shows).
    state = State(check_for_changes=not yes)
    state.print_flags.set_verbosity(verbose)
    try:
        with interrupt_on_signals(), store_errors_said_once(debug):
            with user_errors(debug):
                # Mistakes in the files are found before anything connects or is recorded.
                code = compile_deploy_file(deploy_file) if deploy_file is not None else None
                hosts = load_inventory(inventory)
                hosts.override_data.update(overrides)
                initial_limit = hosts_in_limit(hosts, limit_spec)
                if debug_inventory:
                    _print_inventory(hosts, initial_limit)
                    return
                config = Config(**settings)
                # Made before the log opens: an unknown @connector is found here.
                connections = HostConnections(hosts, connect_timeout=config.CONNECT_TIMEOUT)
                log = open_log(db)
            assert deploy_file is not None  # only --debug-inventory goes without one
            try:
                with user_errors(debug):
                    # The log may refuse the run's first events (locked, disk full).
                    state.init(hosts, config, initial_limit, log=log, connections=connections)
                status = _run(
                    state, inventory, deploy_file, code, options, db, debug=debug, verbose=verbose
                )
            except DeployInterrupted as interruption:
                report_interruption(state, interruption, db)
            finally:
                log.close()
    except DeployInterrupted as interruption:
        # Before the run started, or a second signal while the first was handled.
        echo(f"Interrupted by {interruption.signal_name}", err=True)
        sys.exit(interruption.exit_status)
    sys.exit(status)


def override_data(pairs: Iterable[str]) -> dict[str, Any]:
    """``--data KEY=VALUE`` pairs as data, each value parsed as pyinfra parses it:
    ``true``/``false``, an integer, JSON, else the text.

    Raises:
        UsageError: a pair has no ``=``, or no key.
    """
    data: dict[str, Any] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise UsageError(f"--data takes KEY=VALUE, not {pair!r}")
        data[key.strip()] = parse_value(value)
    return data


def _print_inventory(inventory: Inventory, limit: list[Host] | None) -> None:
    """pyinfra's ``debug-inventory``: each host (of the limit), its groups and its data."""
    for host in limit if limit is not None else inventory:
        echo(f"[{host.name}]")
        echo(f"--> Groups: {', '.join(host.groups)}")
        echo("--> Data:")
        # Unlike pyinfra's, secret-named values (ssh_password, api_token...) and secrets are
        # masked: nothing secret reaches the terminal.
        data = {
            key: MASK if is_secret_name(key) or isinstance(value, HiddenValue) else value
            for key, value in host.data.dict().items()
        }
        shown = orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        echo(shown.decode())
        echo()


@contextlib.contextmanager
def store_errors_said_once(debug: bool) -> Iterator[None]:
    """Within the block, gevent does not print a host greenlet's StoreError: the deploy
    reports it, from what the log holds (``--debug`` shows every traceback)."""
    hub = gevent.get_hub()
    quiet = hub.NOT_ERROR
    if not debug:
        hub.NOT_ERROR = (*quiet, StoreError)
    try:
        yield
    finally:
        hub.NOT_ERROR = quiet


def _run(
    state: State,
    inventory: str,
    deploy_file: str,
    code: Any,
    options: dict[str, Any],
    db: str,
    *,
    debug: bool,
    verbose: int = 0,
) -> int:
    """Record the deploy, execute it, print its summary; the exit status.

    Prints as it goes: a line per stage and a bar (or a line per op), each failure,
    what ``state``'s print flags ask for, and with ``--dry`` the plan.
    """
    screen = Screen()
    failures = FailureLines(lambda text: screen.line(text, err=True, style="fail"))
    progress = DeployProgress(screen, op_lines=verbose > 0)
    for handler in (progress, failures, *([PlanPrinter(screen.line)] if options["dry"] else [])):
        state.add_callback_handler(handler)
    state.printer = failures.printer(state.print_flags, screen.line)
    progress.start(state)
    try:
        with user_errors(debug):
            record_deploy(state, inventory, deploy_file, options)
        status = _execute(state, deploy_file, code, options, debug=debug, progress=progress)
    except DeployInterrupted as interruption:
        if state.view.run.status is None:
            # Interrupted outside run_deploy (while recording the deploy): recorded here.
            with contextlib.suppress(StoreError):  # report_interruption says what the log holds
                record_interruption(state, interruption)
        raise
    except StoreError as error:
        if debug:
            raise
        progress.stop()
        # The log refused events: say so, and what the log holds -- not what was lost.
        echo(f"Error: {one_line(str(error))}", err=True)
        if isinstance(error.__context__, DeployInterrupted):
            raise error.__context__ from None
        echo(f"run {state.run_id} {logged_end(state, db)}", err=True)
        return 2
    finally:
        progress.stop()
    for line in table(HOST_HEADERS, host_table(state.view)):
        echo(line)
    echo(f"\nrun {state.run_id} {logged_end(state, db)}")
    summary = failures.summary(state)
    for line in summary:
        echo(line)
    if state.view.run.error:
        echo(f"Error: {one_line(state.view.run.error)}", err=True)
    if summary or state.view.run.error:
        echo(next_step(state.run_id, db, dict(os.environ)))
    return status


def logged_end(state: State, db: str) -> str:
    """How the log says the run ended: ``success (42 events in ./eventstate.db)``."""
    try:
        last = state.log.last_event(state.run_id)
        if last is None:
            return f"is not in {shown_url(db)}"
        # The end is followed by at most the stage change and each host's disconnection.
        first = max(1, last.seq - 2 * len(state.view.run.hosts) - 16)
        ends = [
            stored
            for stored in state.log.read(state.run_id, first)
            if stored.type == RunFinished.event_type
        ]
    except StoreError as error:
        return f"cannot be read back from the log: {error}"
    if ends:
        status = orjson.loads(ends[-1].payload).get("status", "?")
        if status == RunStatus.SUCCESS.value and state.view.run.kind == PLAN:
            status = PLAN  # a dry run that ended well: as runs and show list it
    else:
        status = "interrupted, its end not recorded"
    return f"{status} ({last.seq} events in {shown_url(db)})"


def report_interruption(state: State, interruption: DeployInterrupted, db: str) -> NoReturn:
    """The one line an interrupted deploy prints, and its exit status (130, 143)."""
    said = f"Interrupted by {interruption.signal_name}"
    if state.initialised:
        said += f": run {state.run_id} {logged_end(state, db)}"
    echo(said, err=True)
    sys.exit(interruption.exit_status)


def _execute(
    state: State,
    deploy_file: str,
    code: Any,
    options: dict[str, Any],
    *,
    debug: bool,
    progress: DeployProgress | None = None,
) -> int:
    """Run the deploy (``progress`` counting its host-ops); the exit status."""
    modes = {"dry": options["dry"], "serial": options["serial"], "no_wait": options["no_wait"]}
    counted = progress.host_op_done if progress is not None else None
    try:
        status = run_deploy(state, deploy_file, code, progress=counted, **modes)
    except StoreError:
        raise  # the log failed: the caller says what it holds
    except Exception:
        if debug:
            raise
        # A mistake in the deploy (an op that raised while it ran, an unknown argument):
        # recorded as the abort's error, printed below as one line.
        return 2
    return 0 if status is RunStatus.SUCCESS else 1


def _verbose_handler() -> BaseStateCallback:
    """A line per op started and per host's outcome (the deploy's own lines are
    :class:`~eventstate.cli.progress.DeployProgress`'s; kept for callers)."""

    class Verbose(BaseStateCallback):
        @staticmethod
        def operation_start(state: State, op_hash: str) -> None:
            echo(f"--> {', '.join(state.get_op_meta(op_hash).names)}", err=True)

        @staticmethod
        def operation_host_success(
            state: State, host: Host, op_hash: str, retry_count: int = 0
        ) -> None:
            echo(f"    [{host.name}] ok", err=True)

        @staticmethod
        def operation_host_error(
            state: State, host: Host, op_hash: str, retry_count: int = 0, max_retries: int = 0
        ) -> None:
            echo(f"    [{host.name}] error", err=True)

    return Verbose()
