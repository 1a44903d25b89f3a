"""A demo deploy recorded into the default SQLite log, then read back as an audit view.

Until the executing engine lands (deploys that really run), this drives the
State through a deploy's stages by hand: five hosts connect (one fails), three
operations are prepared and "executed" with outcomes drawn from a fixed seed,
and every step is recorded. The audit view is then rebuilt from the file
alone, and the run's hash chain verified.

    python examples/demo.py [--db PATH] [--seed N]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from datetime import datetime, timezone

from eventstate import (
    Config,
    DeployError,
    EventLog,
    Inventory,
    OpOutcome,
    RunStatus,
    State,
    StateStage,
    StoreError,
    open_log,
)
from eventstate.replay import rebuild, verify_run

OPERATIONS = [
    ("apt.update", ()),
    ("apt.packages", ("packages=['nginx']",)),
    ("server.service", ("service=nginx", "running=True")),
]


def op_hash(op_order: tuple[int, ...]) -> str:
    """The op's hash in API mode: made from its order alone, as pyinfra makes it."""
    return hashlib.sha1(repr(op_order).encode()).hexdigest()


def deploy(log: EventLog, seed: int) -> str:
    """Run the demo deploy into ``log``; returns its run id."""
    rng = random.Random(seed)
    inventory = Inventory(
        (["web1", "web2", "web3", "web4", "db1"], {"env": "demo"}),
        web=(["web1", "web2", "web3", "web4"], {"port": 80}),
        db=(["db1"], {}),
    )
    state = State(inventory, Config(FAIL_PERCENT=50, PARALLEL=5), log=log)
    with state:
        state.set_stage(StateStage.Connect)
        unreachable = [inventory.get_host("web4")]
        for host in inventory:
            if host not in unreachable:
                state.activate_host(host)
        state.fail_hosts(unreachable, activated_count=len(inventory))

        state.set_stage(StateStage.Prepare)
        for host in state.active_hosts:  # as add_op: ops go to the hosts active now
            for name, args in OPERATIONS:
                op_order = (len(host.op_hash_order),)
                state.add_op_meta(op_hash(op_order), op_order, names=[name], args=args)
                state.add_op_to_host(host, op_hash(op_order), is_change=rng.random() < 0.7)

        state.set_stage(StateStage.Execute)
        state.is_executing = True
        for hash_ in state.get_op_order():
            failed = []
            for host in list(state.active_hosts):
                roll = rng.random()
                if roll < 0.08:
                    state.record_op_result(host, hash_, OpOutcome.ERROR, commands_executed=1)
                    failed.append(host)
                elif roll < 0.15:
                    state.record_op_result(host, hash_, OpOutcome.IGNORED_ERROR)
                    state.increment_warning_counter()
                else:
                    state.record_op_result(host, hash_, OpOutcome.SUCCESS, commands_executed=1)
            try:
                state.fail_hosts(failed)
            except DeployError:
                state.finish(RunStatus.ABORTED, error="too many hosts failed")
                break

        state.set_stage(StateStage.Disconnect)
        if state.view.run.status is None:
            state.finish(RunStatus.FAILED if len(state.failed_hosts) else RunStatus.SUCCESS)
    return state.run_id


def audit(path: str, run_id: str) -> None:
    """Print what the log alone says of ``run_id``."""
    with open_log(path, create=False) as log:
        view = rebuild(log, run_id)
        report = verify_run(log, run_id)
        runs = log.runs()
    run = view.run
    # Stored in UTC; shown in local time, with the zone.
    started = datetime.fromisoformat(run.started_at or "").astimezone()
    print(f"run       {run.run_id}")
    print(f"by        {run.user}@{run.machine} at {started:%Y-%m-%d %H:%M:%S %Z}")
    print(f"status    {run.status_at(datetime.now(timezone.utc))}")
    print(f"stage     {view.current_stage.name}; warnings {sum(view.stage_warnings.values())}")
    print(f"integrity {report}")
    print()
    header = ("host", "state", "ops", "change", "success", "error", "ignored", "partial")
    print("{:<6} {:<10} {:>4} {:>7} {:>8} {:>6} {:>8} {:>8}".format(*header))
    for host in run.hosts:
        meta, results = view.meta[host], view.results[host]
        status = view.host_status(host)
        print(
            f"{host:<6} {status:<10} {meta.ops:>4} {meta.ops_change:>7} {results.success_ops:>8} "
            f"{results.error_ops:>6} {results.ignored_error_ops:>8} {results.partial_ops:>8}"
        )
    print()
    print(f"{len(runs)} run(s) in {path}")


def main(argv: list[str] | None = None) -> int:
    """Run the demo deploy, then print its audit view."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", default="eventstate.db", help="the SQLite log (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=7, help="outcomes seed (default: %(default)s)")
    options = parser.parse_args(argv)
    try:
        with open_log(options.db) as log:
            run_id = deploy(log, options.seed)
        audit(options.db, run_id)
    except StoreError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
