"""The measured cases. Each runs once, in its own process, and returns its metrics.

Every case is a function taking keyword arguments (ints and strings, from the
command line of :mod:`benchmarks.case`) and returning a dict of JSON values.
Times are wall-clock seconds from :func:`time.perf_counter` and cover only
the work named; imports and untimed set-up (building input rows, clearing a
snapshot table) come before the clock starts. A case that finds a wrong
result raises :class:`CaseError`: a fast wrong answer is no benchmark.
"""

from __future__ import annotations

import inspect
import math
import os
import random
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from hashlib import sha1, sha256
from pathlib import Path
from typing import Any

__all__ = ["CASES", "CLI_INVENTORIES", "CaseError", "cli_inventory_file"]

Metrics = dict[str, Any]

#: Hosts the append cases spread their events over (as a 1000-host deploy would).
APPEND_HOSTS = 1000


class CaseError(RuntimeError):
    """A case did not do what it measures (a failed op, a missing event...)."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise CaseError(message)


# Deploys


def deploy_ours(hosts: int, ops: int, log: str = "sqlite", path: str = "") -> Metrics:
    """Our engine: ``hosts`` ``@sim`` hosts x ``ops`` one-command ``server.shell`` ops.

    Args:
        hosts: Number of hosts (zero latency, zero failure).
        ops: Number of operations, each one ``echo`` command.
        log: ``memory`` (:class:`MemoryEventLog`) or ``sqlite`` (:class:`SqliteEventLog`).
        path: Where the SQLite log goes (kept); a temporary file (removed) if empty.
    """
    from eventstate import Config, Inventory, MemoryEventLog, SqliteEventLog, State
    from eventstate.connect import connect_all, disconnect_all
    from eventstate.execute import run_ops
    from eventstate.operation import add_op
    from eventstate.operations import server
    from eventstate.stores import open_log

    scratch: Path | None = None
    if log == "sqlite" and not path:
        scratch = Path(tempfile.mkdtemp(prefix="eventstate-bench-"))
        path = str(scratch / "events.db")
    names = [f"@sim/h{i}" for i in range(hosts)]
    commands = [[f"echo {i}"] for i in range(ops)]
    try:
        started = time.perf_counter()
        if log == "memory":
            event_log: Any = MemoryEventLog()
        elif log == "sqlite":
            event_log = SqliteEventLog(path)
        elif log == "postgresql":  # path: its URL (benchmarks.postgres)
            event_log = open_log(path)
        else:
            raise CaseError(f"unknown log {log!r}: memory, sqlite or postgresql")
        state = State(Inventory((names, {})), Config(), log=event_log)
        connect_all(state)
        connected = time.perf_counter()
        for command in commands:
            add_op(state, server.shell, commands=command)
        prepared = time.perf_counter()
        run_ops(state)
        executed = time.perf_counter()
        disconnect_all(state)
        state.finish()
        finished = time.perf_counter()

        results = [state.results[host].success_ops for host in state.inventory]
        _check(len(results) == hosts, f"{len(results)} hosts in the results, not {hosts}")
        wrong = sum(1 for success_ops in results if success_ops != ops)
        _check(not wrong, f"{wrong} hosts have success_ops != {ops}")
        last = event_log.last_event(state.run_id)
        events = last.seq if last else 0
        event_log.close()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    total = finished - started
    return {
        "setup_s": connected - started,
        "prepare_s": prepared - connected,
        "execute_s": executed - prepared,
        "finish_s": finished - executed,
        "total_s": total,
        "events": events,
        "events_per_s": events / total,
        "run_id": state.run_id,
        "host_ops": hosts * ops,
    }


def deploy_pyinfra(hosts: int, ops: int) -> Metrics:
    """pyinfra 3.10, API mode: the same deploy on ``@bench`` hosts (commands return at once).

    The inventory is one ``@bench/h0,h1,...`` name (see
    :mod:`benchmarks.pyinfra_connector`); each op is
    ``pyinfra.operations.server.shell(commands=[...])`` added with ``add_op``.
    """
    from benchmarks import pyinfra_connector

    connector_dir = pyinfra_connector.register()
    try:
        from pyinfra.api import Config, Inventory, State
        from pyinfra.api.connect import connect_all, disconnect_all
        from pyinfra.api.operation import add_op
        from pyinfra.api.operations import run_ops
        from pyinfra.operations import server

        name = pyinfra_connector.inventory_name(hosts)
        commands = [[f"echo {i}"] for i in range(ops)]

        started = time.perf_counter()
        inventory = Inventory(([name], {}))
        state = State(inventory, Config())
        connect_all(state)
        connected = time.perf_counter()
        for command in commands:
            add_op(state, server.shell, commands=command)
        prepared = time.perf_counter()
        run_ops(state)
        executed = time.perf_counter()
        disconnect_all(state)
        finished = time.perf_counter()
    finally:
        shutil.rmtree(connector_dir, ignore_errors=True)

    _check(len(inventory) == hosts, f"{len(inventory)} hosts in the inventory, not {hosts}")
    results = [state.results[host].success_ops for host in inventory]
    wrong = sum(1 for success_ops in results if success_ops != ops)
    _check(not wrong, f"{wrong} hosts have success_ops != {ops}")
    return {
        "setup_s": connected - started,
        "prepare_s": prepared - connected,
        "execute_s": executed - prepared,
        "finish_s": finished - executed,
        "total_s": finished - started,
        "host_ops": hosts * ops,
    }


# Deploys over SSH: each side's whole command line, as a process

#: The files :func:`benchmarks.suite.measure_ssh` writes in a case's directory.
SSH_INVENTORY = "inventory.py"
SSH_DEPLOYS = {"ours": "deploy_eventstate.py", "pyinfra": "deploy_pyinfra.py"}


def ssh_deploy_file(side: str, ops: int) -> str:
    """The deploy file of ``side``: ``ops`` ``server.shell(commands=["echo N"])`` calls."""
    package = {"ours": "eventstate", "pyinfra": "pyinfra"}[side]
    calls = "".join(f'server.shell(commands=["echo {i}"])\n' for i in range(ops))
    return f"from {package}.operations import server\n\n{calls}"


def _script(name: str) -> str:
    """The console script ``name`` beside this interpreter (not a pyenv shim on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise CaseError(f"no {name} command")
    return found


def _run_cli(
    argv: list[str], cwd: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a command line to its end; returns it and its wall time (start-up included)."""
    started = time.perf_counter()
    completed = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-10:])
        raise CaseError(f"{Path(argv[0]).name} exited {completed.returncode}:\n{tail}")
    return completed, elapsed


def _cli_peak_rss_mb() -> float:
    """The largest peak RSS of this process's finished children: the command line run (MiB)."""
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return kib / (2**20 if sys.platform == "darwin" else 1024)


def _ours_cli(
    path: str, inventory: str, deploy: str, hosts: int, ops: int, echo_stdout: bool
) -> Metrics:
    """``eventstate deploy INVENTORY DEPLOY --db FILE`` in ``path``, as a process, checked.

    The log is a new SQLite file (durable), read back after the run: one run,
    ``success``, ``hosts`` hosts and ``hosts x ops`` successful
    ``CommandExecuted`` events (with ``echo_stdout``, each printing what its
    ``echo`` prints).
    """
    from eventstate import replay
    from eventstate.events import CommandExecuted
    from eventstate.events import with_command_events as expand

    # An op's commands ride on its outcome (HostOperationFinished v2): expanded back here.
    directory = Path(path)
    db = Path(tempfile.mkdtemp(prefix="log-", dir=directory)) / "events.db"
    try:
        argv = [_script("eventstate"), "deploy", inventory, deploy, "--db", str(db)]
        _, elapsed = _run_cli(argv, path)
        with replay.open(db) as log:
            (run_id,) = log.run_ids()
            run = log.run(run_id)
            info = run.info()
            commands = [e for e in expand(run.events()) if isinstance(e, CommandExecuted)]
    finally:
        shutil.rmtree(db.parent, ignore_errors=True)
    _check(info.status == "success", f"the run's status is {info.status}, not success")
    _check(info.host_count == hosts, f"{info.host_count} hosts in the run, not {hosts}")
    _check(
        len(commands) == hosts * ops,
        f"{len(commands)} commands recorded, not {hosts} x {ops}",
    )
    wrong = [
        e
        for e in commands
        if not e.success or (echo_stdout and e.stdout != e.command[len("echo ") :] + "\n")
    ]
    _check(not wrong, f"{len(wrong)} commands failed or printed the wrong thing")
    return {
        "total_s": elapsed,
        "events": info.event_count,
        "commands": len(commands),
        "cli_peak_rss_mb": _cli_peak_rss_mb(),
        "host_ops": hosts * ops,
        "run_id": run_id,
    }


def _pyinfra_cli(
    path: str, inventory: str, deploy: str, hosts: int, ops: int, env: dict[str, str] | None = None
) -> Metrics:
    """``pyinfra INVENTORY DEPLOY -y`` in ``path`` (pyinfra 3.10's own CLI), as a process, checked.

    Checked: exit 0 (pyinfra exits 1 when a host failed) and its results
    table's grand total: ``hosts x ops`` host-ops, all successes, no error.
    """
    argv = [_script("pyinfra"), inventory, deploy, "-y"]
    completed, elapsed = _run_cli(argv, path, env)
    output = completed.stdout + completed.stderr
    total = re.search(r"Grand total\s+(\S+)\s+(\S+)\s+(\S+)", output)
    _check(total is not None, "pyinfra printed no results table")
    assert total is not None
    expected = str(hosts * ops)
    _check(
        (total[1], total[2], total[3]) == (expected, expected, "-"),
        f"pyinfra's grand total is {total[0]!r}, not {expected} successes and no error",
    )
    return {"total_s": elapsed, "cli_peak_rss_mb": _cli_peak_rss_mb(), "host_ops": hosts * ops}


def ssh_ours(path: str, hosts: int, ops: int, latency_ms: int = 0) -> Metrics:
    """``eventstate deploy INVENTORY DEPLOY --db FILE`` over SSH, as a process.

    The log is a new SQLite file (durable), read back after the run: one run,
    ``success``, and ``hosts x ops`` commands (in the ops' outcomes), each a
    success whose stdout is what its ``echo`` printed.

    Args:
        path: The directory holding the inventory and the deploy file.
        hosts: Hosts in the inventory (checked).
        ops: Ops in the deploy (checked).
        latency_ms: The relay's delay each way (recorded, not used).
    """
    metrics = _ours_cli(path, SSH_INVENTORY, SSH_DEPLOYS["ours"], hosts, ops, echo_stdout=True)
    return {**metrics, "latency_ms": latency_ms}


def ssh_pyinfra(path: str, hosts: int, ops: int, latency_ms: int = 0) -> Metrics:
    """``pyinfra INVENTORY DEPLOY -y`` over SSH (pyinfra 3.10's own CLI), as a process.

    Checked: exit 0 (pyinfra exits 1 when a host failed) and its results
    table's grand total: ``hosts x ops`` host-ops, all successes, no error.
    """
    metrics = _pyinfra_cli(path, SSH_INVENTORY, SSH_DEPLOYS["pyinfra"], hosts, ops)
    return {**metrics, "latency_ms": latency_ms}


# Deploys on instant hosts: each side's whole command line, as a process

#: The inventory files :func:`benchmarks.suite.measure_cli` writes, by side.
CLI_INVENTORIES = {"ours": "inventory_eventstate.py", "pyinfra": "inventory_pyinfra.py"}


def cli_inventory_file(side: str, hosts: int) -> str:
    """The inventory file of ``side``: ``hosts`` ``@sim`` hosts (ours), one ``@bench`` name.

    pyinfra's is one ``@bench/h0,h1,...`` name that
    :class:`benchmarks.pyinfra_connector.BenchConnector` expands to every host
    (as the API-mode deploy rows do: pyinfra rescans its entry points for each
    ``@connector`` name, which one name per host would time instead).
    """
    from benchmarks.pyinfra_connector import inventory_name

    ours = side == "ours"
    names = [f"@sim/h{i}" for i in range(hosts)] if ours else [inventory_name(hosts)]
    return f"hosts = {names!r}\n"


def cli_ours(path: str, hosts: int, ops: int) -> Metrics:
    """``eventstate deploy inventory_eventstate.py deploy_eventstate.py --db FILE``, a process.

    ``hosts`` ``@sim`` hosts (zero latency, zero failure), a new SQLite log
    (durable), checked as :func:`ssh_ours` checks (every command a success).
    """
    return _ours_cli(
        path, CLI_INVENTORIES["ours"], SSH_DEPLOYS["ours"], hosts, ops, echo_stdout=False
    )


def cli_pyinfra(path: str, hosts: int, ops: int) -> Metrics:
    """``pyinfra inventory_pyinfra.py deploy_pyinfra.py -y`` on ``@bench`` hosts, a process.

    pyinfra's CLI finds the ``@bench`` connector through its
    ``pyinfra.connectors`` entry points: a throwaway ``*.dist-info`` folder
    (:func:`benchmarks.pyinfra_connector.register`) put first on the
    process's ``PYTHONPATH``. Checked as :func:`ssh_pyinfra` checks.
    """
    from benchmarks import pyinfra_connector

    connector_dir = pyinfra_connector.register()
    try:
        env = dict(os.environ)
        # The connector's entry point first; then the checkout, whose benchmarks package
        # holds the connector the entry point names.
        checkout = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(connector_dir), checkout, env.get("PYTHONPATH", "")])
        )
        env["PYINFRA_PROGRESS"] = "off"
        return _pyinfra_cli(
            path, CLI_INVENTORIES["pyinfra"], SSH_DEPLOYS["pyinfra"], hosts, ops, env
        )
    finally:
        shutil.rmtree(connector_dir, ignore_errors=True)


# The append path


def _append_inputs(events: int) -> tuple[list[str], list[str]]:
    """The host names and op hashes the append cases cycle through (deploy-shaped)."""
    hosts = [f"@sim/h{i}" for i in range(APPEND_HOSTS)]
    op_count = max(1, events // APPEND_HOSTS)
    op_hashes = [sha1(repr((i,)).encode()).hexdigest() for i in range(op_count)]
    return hosts, op_hashes


def _discard(event: Any) -> None:
    """The no-op apply callback: the append cases measure the store path only."""


def record_host_ops(log: Any, events: int) -> tuple[str, float]:
    """``EventRecorder.record(HostOperationFinished, ...)`` ``events`` times into ``log``
    (a new run, the apply a no-op), then the last flush: the append cases' timed loop.

    Returns:
        The run's id, and the seconds the records and the flush took.
    """
    from eventstate import EventRecorder, new_run_id
    from eventstate.events import HostOperationFinished, OpOutcome

    hosts, op_hashes = _append_inputs(events)
    host_count = len(hosts)
    run_id = new_run_id()
    recorder = EventRecorder(log, run_id, _discard)
    record = recorder.record
    success = OpOutcome.SUCCESS

    started = time.perf_counter()
    for i in range(events):
        record(
            HostOperationFinished,
            host=hosts[i % host_count],
            op_hash=op_hashes[(i // host_count) % len(op_hashes)],
            outcome=success,
            commands_executed=1,
        )
    recorder.flush()
    return run_id, time.perf_counter() - started


def append_ours(events: int, path: str) -> Metrics:
    """``EventRecorder.record(HostOperationFinished, ...)`` ``events`` times into a new SQLite log.

    What a deploy does per op result -- build the event, encode it, chain its
    hash, queue it, write it in batched transactions (the recorder's default
    batch size, reported) -- with the projections' apply replaced by a no-op.
    The clock covers the records and the last flush.
    """
    from eventstate import EventRecorder, SqliteEventLog

    log = SqliteEventLog(path)
    run_id, elapsed = record_host_ops(log, events)

    last = log.last_event(run_id)
    _check(last is not None and last.seq == events, f"the log does not end at event {events}")
    assert last is not None
    payload_bytes = len(last.payload.encode())
    log.close()
    batch = inspect.signature(EventRecorder).parameters.get("batch_size")
    return {
        "append_s": elapsed,
        "events": events,
        "events_per_s": events / elapsed,
        "payload_bytes": payload_bytes,
        "batch_size": batch.default if batch is not None else None,
        "run_id": run_id,
    }


_RAW_SCHEMA = (
    "CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, "
    "version INTEGER NOT NULL, timestamp TEXT NOT NULL, host TEXT, payload TEXT NOT NULL, "
    "prev_hash TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (run_id, seq))",
    "CREATE INDEX events_host ON events (host)",
)
_RAW_INSERT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


def _raw_rows(events: int) -> list[tuple[Any, ...]]:
    """``events`` stored rows exactly as our store would hold them, built untimed.

    Each payload is the canonical JSON of a real ``HostOperationFinished`` with
    the same fields the append case records; the hashes are 64 hex digits.
    """
    from datetime import datetime, timezone

    from eventstate import EventCodec, new_run_id
    from eventstate.codec import canonical_json
    from eventstate.events import HostOperationFinished, OpOutcome

    hosts, op_hashes = _append_inputs(events)
    to_dict = EventCodec().to_dict
    run_id = new_run_id()
    at = datetime.now(timezone.utc)
    template = to_dict(
        HostOperationFinished(
            run_id=run_id,
            seq=1,
            at=at,
            host=hosts[0],
            op_hash=op_hashes[0],
            outcome=OpOutcome.SUCCESS,
            commands_executed=1,
        )
    )
    rows: list[tuple[Any, ...]] = []
    prev_hash = "0" * 64
    for i in range(events):
        data = dict(template)
        data["seq"] = i + 1
        data["host"] = hosts[i % len(hosts)]
        data["op_hash"] = op_hashes[(i // len(hosts)) % len(op_hashes)]
        payload = canonical_json(data)
        digest = sha256(payload.encode()).hexdigest()
        rows.append(
            (
                run_id,
                i + 1,
                "HostOperationFinished",
                1,
                data["at"],
                data["host"],
                payload,
                prev_hash,
                digest,
            )
        )
        prev_hash = digest
    return rows


def append_raw(events: int, path: str) -> Metrics:
    """The ceiling: plain ``sqlite3`` ``executemany`` of ``events`` pre-built rows, one transaction.

    Same columns, ``(run_id, seq)`` primary key, host index, WAL,
    ``synchronous=NORMAL`` and writer's page cache as our store (a ceiling given
    less cache than ours would be none); the rows are built before the clock starts.
    """
    from eventstate.stores.sqlite import WRITER_CACHE_KIB

    rows = _raw_rows(events)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
    for statement in _RAW_SCHEMA:
        conn.execute(statement)

    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(_RAW_INSERT, rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started

    stored = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    _check(stored == events, f"{stored} rows stored, not {events}")
    payload_bytes = len(rows[-1][6].encode())
    conn.close()
    return {
        "append_s": elapsed,
        "events": events,
        "events_per_s": events / elapsed,
        "payload_bytes": payload_bytes,
    }


# Reading back


def _clear_snapshots(path: str) -> None:
    """Empty the log's snapshot cache (untimed), so no stored snapshot is used."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("DELETE FROM snapshots")
    except sqlite3.OperationalError:  # no snapshot table yet
        pass
    finally:
        conn.close()


def rebuild_fold(path: str, run: str, events: int = 0) -> Metrics:
    """``replay.open(path).run(run).state()``: read every event and fold every projection.

    Snapshots are disabled (``replay.run.SNAPSHOT_INTERVAL`` set past the run's
    end, and the snapshot table emptied first): a pure read + decode + fold.
    ``events``, when given, is checked against the events folded.
    """
    import eventstate.replay.run as replay_run
    from eventstate import replay

    _clear_snapshots(path)
    snapshots = "disabled"
    interval = getattr(replay_run, "SNAPSHOT_INTERVAL", None)
    if interval is not None:
        replay_run.SNAPSHOT_INTERVAL = 2**62
    else:  # the engine changed how it snapshots: say so rather than guess
        snapshots = "fresh table (SNAPSHOT_INTERVAL not found)"

    try:
        started = time.perf_counter()
        with replay.open(path) as log:
            stored_run = log.run(run)
            opened = time.perf_counter()
            view = stored_run.state()
        elapsed = time.perf_counter() - started
    finally:
        # Put back: a test runs this case in its own process, which goes on after it.
        if interval is not None:
            replay_run.SNAPSHOT_INTERVAL = interval

    folded = view.events_applied
    _check(folded > 0, "no event folded")
    _check(not events or folded == events, f"{folded} events folded, not {events}")
    return {
        "rebuild_s": elapsed,
        "open_s": opened - started,
        "events": folded,
        "events_per_s": folded / elapsed,
        "snapshots": snapshots,
    }


def _read_and_parse(path: str, run: str, events: int, parse: Callable[[str], Any]) -> Metrics:
    """Plain ``sqlite3`` read of the run's payloads in order, each passed to ``parse``, timed."""
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    count = 0
    for (payload,) in conn.execute(
        "SELECT payload FROM events WHERE run_id = ? ORDER BY seq", (run,)
    ):
        parse(payload)
        count += 1
    elapsed = time.perf_counter() - started
    conn.close()
    _check(count > 0, "no event read")
    _check(not events or count == events, f"{count} events read, not {events}")
    return {"rebuild_s": elapsed, "events": count, "events_per_s": count / elapsed}


def rebuild_raw(path: str, run: str, events: int = 0) -> Metrics:
    """Plain ``sqlite3`` read of the run's payloads, each decoded by our codec, no fold.

    The old ceiling, kept as a column: ``EventCodec().decode`` is our own code
    (cattrs), far slower than the JSON parse itself (:func:`rebuild_plain`).
    """
    from eventstate import EventCodec

    return _read_and_parse(path, run, events, EventCodec().decode)


def rebuild_plain(path: str, run: str, events: int = 0) -> Metrics:
    """The ceiling: plain ``sqlite3`` read of the run's payloads, each parsed by ``orjson.loads``.

    The same read as :func:`rebuild_raw`, but no event is built: what reading and
    parsing the stored JSON costs at the least.
    """
    import orjson

    return _read_and_parse(path, run, events, orjson.loads)


def _nearest_rank(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with ``fraction`` of them at or below."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * fraction)) - 1]


def state_at(path: str, run: str, samples: int = 50, seed: int = 20240901) -> Metrics:
    """``Run.state_at(n)`` latency at ``samples`` random ``n``, the first call included.

    The log is read as its deploy left it: the snapshots the deploy stored as it
    went, nothing stored since (no warm pass). The first seek's time covers
    opening the log and the run too (what a fresh ``eventstate state --at N``
    does after its imports). Each result is checked to have folded exactly ``n``
    events.
    """
    from eventstate import replay

    rng = random.Random(seed)
    started = time.perf_counter()
    with replay.open(path) as log:
        stored_run = log.run(run)
        last = stored_run.last_seq
        opened = time.perf_counter() - started
        points = [rng.randint(1, last) for _ in range(samples)]
        latencies: list[float] = []
        for seq in points:
            view = stored_run.state_at(seq)
            latencies.append(time.perf_counter() - started)
            _check(view.events_applied == seq, f"state_at({seq}) folded {view.events_applied}")
            started = time.perf_counter()
        snapshot_rows, snapshot_bytes = _snapshot_size(path)
    return {
        "events": last,
        "samples": samples,
        "open_ms": opened * 1000,
        "first_ms": latencies[0] * 1000,
        "median_ms": _nearest_rank(latencies, 0.5) * 1000,
        "p90_ms": _nearest_rank(latencies, 0.9) * 1000,
        "max_ms": max(latencies) * 1000,
        "latencies_ms": [round(x * 1000, 3) for x in latencies],
        "snapshot_rows": snapshot_rows,
        "snapshot_mb": snapshot_bytes / 2**20,
        "log_mb": os.path.getsize(path) / 2**20,
    }


def read_cli(path: str, run: str, command: str) -> Metrics:
    """``eventstate show RUN --db FILE`` (``command`` ``show``) or ``eventstate runs --db FILE``
    (``runs``) as a whole process -- interpreter start-up and imports included -- the first
    call on the log as its deploy left it; and, for the start-up's share, ``python -c pass``
    and ``eventstate --help`` timed the same way. Then the same command in this process
    (the log opened anew), timed alone.

    Checked: the output names the run and says it ended in ``success``.
    """
    from click.testing import CliRunner

    from eventstate.cli import main

    argv = {"show": ["show", run, "--db", path], "runs": ["runs", "--db", path]}[command]
    completed, elapsed = _run_cli([_script("eventstate"), *argv], str(Path(path).parent))
    output = completed.stdout
    _check(run[:8] in output and "success" in output, f"{command} said:\n{output[-500:]}")
    _, python_s = _run_cli([sys.executable, "-c", "pass"], str(Path(path).parent))
    _, help_s = _run_cli([_script("eventstate"), "--help"], str(Path(path).parent))
    started = time.perf_counter()
    result = CliRunner().invoke(main, argv)
    in_process = time.perf_counter() - started
    _check(result.exit_code == 0 and run[:8] in result.output, f"in-process {command} failed")
    return {
        "process_s": elapsed,
        "in_process_s": in_process,
        "python_s": python_s,
        "help_s": help_s,
        "peak_rss_child_mb": _cli_peak_rss_mb(),
    }


def _snapshot_size(path: str) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        rows, size = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM snapshots"
        ).fetchone()
    finally:
        conn.close()
    return rows, size


#: Every case, by the name ``python -m benchmarks.case`` takes.
CASES: dict[str, Callable[..., Metrics]] = {
    "deploy-ours": deploy_ours,
    "deploy-pyinfra": deploy_pyinfra,
    "ssh-ours": ssh_ours,
    "ssh-pyinfra": ssh_pyinfra,
    "cli-ours": cli_ours,
    "cli-pyinfra": cli_pyinfra,
    "append-ours": append_ours,
    "append-raw": append_raw,
    "rebuild-fold": rebuild_fold,
    "rebuild-raw": rebuild_raw,
    "rebuild-plain": rebuild_plain,
    "state-at": state_at,
    "read-cli": read_cli,
}
