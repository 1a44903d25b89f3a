"""Processes that use one log at once, for tests/test_concurrency.py: ``python log_clients.py``.

Each is a real process on a real file. The read commands run through the
command line's own code (click's runner, in this process), so a reader
process can loop over many commands without an interpreter start for each.

- ``read-all DB``: every read command on every run, once; prints a JSON list
  of ``{"args", "exit", "stdout", "stderr"}``.
- ``read-loop DB STOP``: ``runs``, ``verify``, and ``show``/``events``/``state``
  of the newest run and of another, again and again until the file STOP
  exists, then once more; prints ``{"iterations", "errors"}``.
- ``watch DB``: opens DB read-only and keeps it open; says what it sees --
  ``{"unlocked", "runs", "events"}`` -- at once and after each line on stdin.
- ``create DB HOSTS``: says ``ready``, waits for a line on stdin, then records
  one run of HOSTS hosts in DB (making the log if it is not there); prints
  ``{"run_id", "events"}``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _invoke(args: list[str]) -> dict[str, Any]:
    # Imported here: a creator has no use for the command line (and starts faster).
    from click.testing import CliRunner

    from eventstate.cli import main

    result = CliRunner().invoke(main, args)
    problem = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        problem = f"{type(result.exception).__name__}: {result.exception}"
    return {
        "args": args,
        "exit": result.exit_code,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "exception": problem,
    }


def _run_ids(db: str) -> list[str]:
    listed = _invoke(["runs", "--db", db, "--json"])
    if listed["exit"] != 0:
        raise SystemExit(f"runs failed: {listed}")
    return [info["run_id"] for info in json.loads(listed["stdout"])]


def read_all(db: str) -> list[dict[str, Any]]:
    """Every read command, on every run of ``db``."""
    results = [_invoke(["runs", "--db", db]), _invoke(["verify", "--db", db])]
    ids = _run_ids(db)
    for run_id in ids:
        for command in (
            ["show", run_id],
            ["show", run_id, "--json"],
            ["events", run_id],
            ["events", run_id, "--json"],
            ["state", run_id],
            ["state", run_id, "--at", "1"],
            ["verify", run_id],
            ["export", run_id],
            ["step", run_id, "--to", "5"],
            ["diff", ids[-1], run_id],
        ):
            results.append(_invoke([*command, "--db", db]))
    results.append(_invoke(["rerun", ids[-1], "--db", db]))  # the oldest, a whole deploy
    return results


def complaints(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not verify's notes (what it cannot check: no error)."""
    return [line for line in stderr.splitlines() if not line.startswith("note: ")]


def _is_error(result: dict[str, Any]) -> bool:
    # diff and rerun say "differs" with status 1; the loop runs neither.
    return bool(result["exit"] != 0 or result["exception"] or complaints(result["stderr"]))


def read_loop(db: str, stop: str) -> dict[str, Any]:
    """Read ``db`` until ``stop`` exists, then once more; every failed command, reported."""
    iterations, errors = 0, []
    while True:
        last = os.path.exists(stop)
        commands = [["runs"], ["runs", "--json"], ["verify"]]
        listed = _invoke(["runs", "--db", db, "--json"])
        ids = (
            [info["run_id"] for info in json.loads(listed["stdout"])] if not listed["exit"] else []
        )
        # The newest run (most likely being written), and another, a different one each time.
        chosen = dict.fromkeys(ids[:1] + ids[iterations % len(ids) :][:1]) if ids else {}
        for run_id in chosen:
            commands += [["show", run_id], ["events", run_id], ["state", run_id]]
        for command in commands:
            result = _invoke([*command, "--db", db])
            if _is_error(result):
                errors.append(result)
        if _is_error(listed):
            errors.append(listed)
        iterations += 1
        if last:
            return {"iterations": iterations, "errors": errors}


def create(db: str, hosts: int) -> dict[str, Any]:
    """One run of ``hosts`` hosts, recorded once the parent says go."""
    from eventstate import Config, Inventory, SqliteEventLog, State

    inventory = Inventory(([f"h{i}" for i in range(hosts)], {}))
    print("ready", flush=True)
    sys.stdin.readline()
    with SqliteEventLog(db) as log:
        state = State(inventory, Config(), log=log)
        for host in state.inventory:
            state.activate_host(host)
            state.flush()  # one append per host: many small transactions, as deploys make
        state.finish()
        last = log.last_event(state.run_id)
    return {"run_id": state.run_id, "events": last.seq if last else 0}


def watch(db: str) -> None:
    """Say what the log ``db``, opened once, holds now: at once, then at each line of stdin."""
    from eventstate.stores.sqlite import SqliteEventLog

    with SqliteEventLog(db, read_only=True) as log:
        while True:
            runs = log.runs()
            seen = {
                "unlocked": log._unlocked is not None,  # read without SQLite's locks
                "runs": len(runs),
                "events": sum(len(list(log.read(summary.run_id))) for summary in runs),
            }
            print(json.dumps(seen), flush=True)
            if not sys.stdin.readline():
                return


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "read-all":
        print(json.dumps(read_all(rest[0])))
    elif mode == "read-loop":
        print(json.dumps(read_loop(rest[0], rest[1])))
    elif mode == "watch":
        watch(rest[0])
    elif mode == "create":
        print(json.dumps(create(rest[0], int(rest[1]))))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
