"""``eventstate deploy``: run a deploy file on an inventory, recording every step."""

from __future__ import annotations

import sys
from typing import Any

import click

from eventstate.cli.base import HOST_HEADERS, db_option, host_table, table, user_errors
from eventstate.config import Config
from eventstate.connections import HostConnections
from eventstate.deploy import (
    compile_deploy_file,
    hosts_in_limit,
    load_inventory,
    record_deploy,
    run_deploy,
)
from eventstate.errors import EventstateError, UsageError
from eventstate.events import RunStatus
from eventstate.host import Host
from eventstate.state import BaseStateCallback, State
from eventstate.stores import open_log, shown_url

__all__ = ["deploy"]


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
    verbose: int,
    debug: bool,
) -> None:
    """Run DEPLOY.py on the hosts of INVENTORY, recording every step in the log.

    INVENTORY is a Python inventory file, or hosts separated by commas
    (``@local``, ``@sim/web1,@sim/web2``, ``@docker/NAME``).
    """
    if serial and no_wait:
        raise UsageError("--serial and --no-wait cannot be used together")
    with user_errors(debug):
        # Mistakes in the files are found before anything connects or is recorded.
        code = compile_deploy_file(deploy_file)
        hosts = load_inventory(inventory)
        initial_limit = hosts_in_limit(hosts, limit)
        config = Config(PARALLEL=parallel or 0, FAIL_PERCENT=fail_percent)
        # Made before the log opens: an unknown @connector is found here.
        connections = HostConnections(hosts, connect_timeout=config.CONNECT_TIMEOUT)
        log = open_log(db)
    options = {
        "limit": limit,
        "dry": dry,
        "serial": serial,
        "no_wait": no_wait,
        "parallel": parallel,
        "fail_percent": fail_percent,
    }
    try:
        # The log may refuse the run's first events (locked, disk full): one line too.
        with user_errors(debug):
            state = State(
                hosts, config, initial_limit=initial_limit, log=log, connections=connections
            )
            record_deploy(state, inventory, deploy_file, options)
    except BaseException:
        log.close()
        raise
    if verbose:
        state.add_callback_handler(_verbose_handler())
    status = _execute(state, deploy_file, code, options, debug=debug)
    for line in table(HOST_HEADERS, host_table(state.view)):
        click.echo(line)
    view = state.view
    click.echo(
        f"\nrun {state.run_id} {view.run.status.value if view.run.status else '?'}"
        f" ({state.log.last_event(state.run_id).seq} events in {shown_url(db)})"  # type: ignore[union-attr]
    )
    if view.run.error:
        click.echo(f"Error: {view.run.error}", err=True)
    log.close()
    sys.exit(status)


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
    except EventstateError:
        if debug:
            raise
        return 2  # a mistake in the deploy: recorded as the abort's error, printed below
    except Exception:
        if debug:
            raise
        return 1
    return 0 if status is RunStatus.SUCCESS else 1


def _verbose_handler() -> BaseStateCallback:
    class Verbose(BaseStateCallback):
        @staticmethod
        def operation_start(state: State, op_hash: str) -> None:
            click.echo(f"--> {', '.join(state.get_op_meta(op_hash).names)}", err=True)

        @staticmethod
        def operation_host_success(
            state: State, host: Host, op_hash: str, retry_count: int = 0
        ) -> None:
            click.echo(f"    [{host.name}] ok", err=True)

        @staticmethod
        def operation_host_error(
            state: State, host: Host, op_hash: str, retry_count: int = 0, max_retries: int = 0
        ) -> None:
            click.echo(f"    [{host.name}] error", err=True)

    return Verbose()
