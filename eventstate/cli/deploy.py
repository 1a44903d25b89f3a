"""``eventstate deploy``: run a deploy file on an inventory, recording every step."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
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
    table,
    user_errors,
)
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
from eventstate.replay.run import SNAPSHOT_INTERVAL, Run
from eventstate.state import BaseStateCallback, State
from eventstate.stores import open_log, shown_url

__all__ = ["deploy", "logged_end", "report_interruption", "store_errors_said_once"]


@click.command()
@click.argument("inventory")
@click.argument("deploy_file", metavar="DEPLOY.py", type=click.Path(dir_okay=False))
@db_option
@click.option("--limit", help="Only these hosts or groups (comma-separated).")
@click.option("--dry", is_flag=True, help="Prepare and record the plan; execute nothing.")
@click.option("--serial", is_flag=True, help="Run host by host.")
@click.option("--no-wait", is_flag=True, help="Run every host through all its ops at once.")
@click.option("--parallel", type=click.IntRange(min=1), help="Hosts at once (default: auto).")
@click.option(
    "--fail-percent", type=click.IntRange(0, 100), help="Abort when more hosts than this fail."
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
    "-v", "--verbose", count=True, help="Print each op, and each host's outcome, as they happen."
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def deploy(
    inventory: str,
    deploy_file: str,
    db: str,
    limit: str | None,
    dry: bool,
    serial: bool,
    no_wait: bool,
    parallel: int | None,
    fail_percent: int | None,
    sync: bool,
    flush_delay: float | None,
    verbose: int,
    debug: bool,
) -> None:
    """Run DEPLOY.py on the hosts of INVENTORY, recording every step in the log.

    INVENTORY is a Python inventory file, or hosts separated by commas
    (``@local``, ``@sim/web1,@sim/web2``, ``@docker/NAME``).

    A crash loses at most the events of the last --flush-delay seconds (1 by
    default); none with --sync. Ctrl-C or SIGTERM kills the running commands, records the
    run as interrupted, and exits with status 130 or 143.
    """
    if serial and no_wait:
        raise UsageError("--serial and --no-wait cannot be used together")
    options = {
        "limit": limit,
        "dry": dry,
        "serial": serial,
        "no_wait": no_wait,
        "parallel": parallel,
        "fail_percent": fail_percent,
    }
    state = State()
    try:
        with interrupt_on_signals(), store_errors_said_once(debug):
            with user_errors(debug):
                # Mistakes in the files are found before anything connects or is recorded.
                code = compile_deploy_file(deploy_file)
                hosts = load_inventory(inventory)
                initial_limit = hosts_in_limit(hosts, limit)
                config = Config(PARALLEL=parallel or 0, FAIL_PERCENT=fail_percent, SYNC=sync)
                if flush_delay is not None:
                    config.FLUSH_DELAY = flush_delay
                # Made before the log opens: an unknown @connector is found here.
                connections = HostConnections(hosts, connect_timeout=config.CONNECT_TIMEOUT)
                log = open_log(db)
            try:
                with user_errors(debug):
                    # The log may refuse the run's first events (locked, disk full).
                    state.init(hosts, config, initial_limit, log=log, connections=connections)
                if verbose:
                    state.add_callback_handler(_verbose_handler())
                status = _run(state, inventory, deploy_file, code, options, db, debug=debug)
            except DeployInterrupted as interruption:
                report_interruption(state, interruption, db)
            finally:
                log.close()
    except DeployInterrupted as interruption:
        # Before the run started, or a second signal while the first was handled.
        echo(f"Interrupted by {interruption.signal_name}", err=True)
        sys.exit(interruption.exit_status)
    sys.exit(status)


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
) -> int:
    """Record the deploy, execute it, print its summary; the exit status."""
    try:
        with user_errors(debug):
            record_deploy(state, inventory, deploy_file, options)
        status = _execute(state, deploy_file, code, options, debug=debug)
    except DeployInterrupted as interruption:
        if state.view.run.status is None:
            # Interrupted outside run_deploy (while recording the deploy): recorded here.
            with contextlib.suppress(StoreError):  # report_interruption says what the log holds
                record_interruption(state, interruption)
        raise
    except StoreError as error:
        if debug:
            raise
        # The log refused events: say so, and what the log holds -- not what was lost.
        echo(f"Error: {one_line(str(error))}", err=True)
        if isinstance(error.__context__, DeployInterrupted):
            raise error.__context__ from None
        echo(f"run {state.run_id} {logged_end(state, db)}", err=True)
        return 2
    _store_snapshots(state)
    for line in table(HOST_HEADERS, host_table(state.view)):
        echo(line)
    echo(f"\nrun {state.run_id} {logged_end(state, db)}")
    if state.view.run.error:
        echo(f"Error: {one_line(state.view.run.error)}", err=True)
    return status


def _store_snapshots(state: State) -> None:
    # The writer stores the run's snapshots (readers never write), once the run is
    # long enough to have one: later reads of it fold from them.
    if state.view.events_applied < SNAPSHOT_INTERVAL:
        return
    with contextlib.suppress(StoreError):  # a cache: the run is recorded either way
        Run(state.log, state.run_id).store_snapshots()


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
    state: State, deploy_file: str, code: Any, options: dict[str, Any], *, debug: bool
) -> int:
    """Run the deploy with a progress bar on a terminal; the exit status."""
    modes = {"dry": options["dry"], "serial": options["serial"], "no_wait": options["no_wait"]}
    try:
        if sys.stderr.isatty() and not options["dry"]:
            with click.progressbar(length=0, label="executing", file=sys.stderr) as bar:

                def progress(host: Host, op_hash: str) -> None:
                    if not bar.length:
                        bar.length = len(state.get_op_order()) * len(state.active_hosts)
                    bar.update(1)

                status = run_deploy(state, deploy_file, code, progress=progress, **modes)
        else:
            status = run_deploy(state, deploy_file, code, **modes)
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
