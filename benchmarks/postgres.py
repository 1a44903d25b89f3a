"""The PostgreSQL rows: our append path and a 100 x 100 deploy on PostgreSQL vs SQLite, and
our append vs a raw ``COPY`` of the same rows.

The server is the tests' throwaway cluster (``tests/postgres_server.py``, loaded by
its path as :mod:`benchmarks.ssh_testbed` loads the sshd: one recipe, and ``tests``
need not be a package): ``initdb`` in a temporary directory, ``pg_ctl`` on a loopback
port, ``fsync`` off -- the same settings for both sides of every ratio, so the rows
measure the client's path, not the disk. It is started once, in the suite's
process; each case run gets a new database (dropped after it).

Cases (each in its own process, as every case):

* ``pg-append-ours``: ``EventRecorder.record(HostOperationFinished, ...)`` into a
  :class:`~eventstate.stores.postgres.PostgresEventLog`, as ``append-ours`` does
  into SQLite (one ``COPY`` per recorder batch, in one transaction each).
* ``pg-append-raw`` and ``pg-append-raw-text``: the ceiling -- psycopg's ``COPY ...
  FROM STDIN`` of the same pre-built rows as ``append-raw`` into a table of the same
  columns, primary key and host index, in one transaction: row by row with
  psycopg's ``write_row`` (its C formatter), and as ``COPY`` text built from the
  rows a chunk at a time, column-wise with C-speed joins and escapes (the store's
  own way), each chunk written as it is made (the server ingests one while the
  next is built). The rows judge ours against the faster of the two, repetition
  by repetition.
* ``pg-append-store``: the store's share of ``pg-append-ours`` -- its ``append_later``
  of those pre-built rows in the recorder's batches, then ``flush``, as the recorder
  hands them over (no event encoded or hashed).
* the deploys are ``deploy-ours`` with ``log=postgresql`` (its ``path`` the URL, the
  log made beforehand: a team's log exists) and ``log=sqlite``.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from benchmarks.cases import CaseError, Metrics, _raw_rows, record_host_ops
from benchmarks.report import Row, Section, Target
from benchmarks.stats import Stat, ratios

if TYPE_CHECKING:  # the runner imports the cases (benchmarks.case), these among them
    from benchmarks.runner import Measurement, Runner
    from benchmarks.suite import Plan, Sections

__all__ = [
    "CASES",
    "DEPLOY_SHAPE",
    "POSTGRES_SERVER_MODULE",
    "measure_postgres",
    "pg_append_ours",
    "pg_append_raw",
    "pg_append_raw_text",
    "pg_append_store",
    "planned_runs",
    "postgres_section",
    "postgres_server_module",
]

#: The tests' throwaway-cluster recipe.
POSTGRES_SERVER_MODULE = Path(__file__).resolve().parent.parent / "tests" / "postgres_server.py"

#: The deploy compared on PostgreSQL and SQLite, as (hosts, ops).
DEPLOY_SHAPE = (100, 100)

_RAW_TABLE = (
    "CREATE TABLE events (run_id text NOT NULL, seq bigint NOT NULL, type text NOT NULL, "
    "version integer NOT NULL, timestamp text NOT NULL, host text, payload text NOT NULL, "
    "prev_hash text NOT NULL, hash text NOT NULL, PRIMARY KEY (run_id, seq))",
    "CREATE INDEX events_host ON events (host)",
)
_RAW_COPY = (
    "COPY events (run_id, seq, type, version, timestamp, host, payload, prev_hash, hash) FROM STDIN"
)


def postgres_server_module() -> ModuleType:
    """``tests/postgres_server.py``, loaded from its path (``tests`` is no package to import)."""
    name = "_benchmarks_postgres_server"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, POSTGRES_SERVER_MODULE)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {POSTGRES_SERVER_MODULE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # attrs resolves the module's classes through it
    spec.loader.exec_module(module)
    return module


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise CaseError(message)


# The cases


def pg_append_ours(events: int, url: str) -> Metrics:
    """``EventRecorder.record(HostOperationFinished, ...)`` ``events`` times into a new
    PostgreSQL log at ``url`` (made before the clock starts); the clock covers the records
    and the last flush, as ``append-ours``'s."""
    from eventstate.stores.postgres import PostgresEventLog

    log = PostgresEventLog(url)
    run_id, elapsed = record_host_ops(log, events)

    _check(log.newest_seq(run_id) == events, f"the log does not end at event {events}")
    last = log.last_event(run_id)
    assert last is not None
    log.close()
    return {
        "append_s": elapsed,
        "events": events,
        "events_per_s": events / elapsed,
        "payload_bytes": len(last.payload.encode()),
        "run_id": run_id,
    }


def pg_append_store(events: int, url: str) -> Metrics:
    """The store's share of ``pg-append-ours``: ``PostgresEventLog.append_later`` of the
    same pre-built rows as ``pg-append-raw`` (as :class:`StoredEvent`), in batches of the
    recorder's default size, then ``flush`` (the recorder's way) -- no event built,
    encoded or hashed on the clock."""
    from eventstate import EventRecorder
    from eventstate.stores.base import StoredEvent
    from eventstate.stores.postgres import PostgresEventLog

    rows = [StoredEvent(*row) for row in _raw_rows(events)]
    batch = int(inspect.signature(EventRecorder).parameters["batch_size"].default)
    log = PostgresEventLog(url)

    started = time.perf_counter()
    for first in range(0, events, batch):
        log.append_later(rows[first : first + batch])
    log.flush()
    elapsed = time.perf_counter() - started

    _check(log.newest_seq(rows[0].run_id) == events, f"the log does not end at event {events}")
    log.close()
    return {"append_s": elapsed, "events": events, "events_per_s": events / elapsed}


def pg_append_raw(events: int, url: str) -> Metrics:
    """The ceiling: psycopg's ``COPY`` of ``events`` pre-built rows (``append-raw``'s) into
    a table of our columns, primary key and host index, in one transaction."""
    import psycopg

    rows = _raw_rows(events)
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in _RAW_TABLE:
            conn.execute(statement)

        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor, cursor.copy(_RAW_COPY) as copy:
            for row in rows:
                copy.write_row(row)
        elapsed = time.perf_counter() - started

        stored = conn.execute("SELECT count(*) FROM events").fetchone()
    _check(stored == (events,), f"{stored} rows stored, not {events}")
    return {
        "append_s": elapsed,
        "events": events,
        "events_per_s": events / elapsed,
        "payload_bytes": len(rows[-1][6].encode()),
    }


#: Rows per chunk of ``pg-append-raw-text``'s ``COPY`` text.
_TEXT_CHUNK = 5000


def _copy_text_chunk(rows: list[tuple[Any, ...]]) -> bytes:
    """``rows`` (``_RAW_COPY``'s columns, the store's order) in ``COPY``'s text format,
    built column-wise as the store builds its own (:func:`eventstate.stores.postgres.copy_text`)."""
    from eventstate.stores.postgres import copy_text

    return copy_text(list(zip(*rows, strict=True)))


def pg_append_raw_text(events: int, url: str) -> Metrics:
    """The ceiling, as text: ``pg-append-raw``'s rows and table, its ``COPY`` fed text built
    from the rows :data:`_TEXT_CHUNK` at a time (:func:`_copy_text_chunk`) and written
    chunk by chunk, in one transaction; the building is on the clock, as the store's."""
    import psycopg

    rows = _raw_rows(events)
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in _RAW_TABLE:
            conn.execute(statement)

        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor, cursor.copy(_RAW_COPY) as copy:
            for first in range(0, events, _TEXT_CHUNK):
                copy.write(_copy_text_chunk(rows[first : first + _TEXT_CHUNK]))
        elapsed = time.perf_counter() - started

        stored = conn.execute("SELECT count(*) FROM events").fetchone()
        same = conn.execute(
            "SELECT run_id, seq, type, version, timestamp, host, payload, prev_hash, hash "
            "FROM events WHERE seq = %s",
            [events],
        ).fetchone()
    _check(stored == (events,), f"{stored} rows stored, not {events}")
    _check(same == rows[-1], "the last row is not stored as it was given")
    return {
        "append_s": elapsed,
        "events": events,
        "events_per_s": events / elapsed,
        "payload_bytes": len(rows[-1][6].encode()),
    }


#: The cases of this module, by name (:mod:`benchmarks.case` runs them).
CASES: dict[str, Callable[..., Metrics]] = {
    "pg-append-ours": pg_append_ours,
    "pg-append-raw": pg_append_raw,
    "pg-append-raw-text": pg_append_raw_text,
    "pg-append-store": pg_append_store,
}


# The rows


def postgres_section() -> Section:
    """The report's section of the PostgreSQL rows."""
    return Section(
        "PostgreSQL vs SQLite: append path and a deploy, same run",
        "append: sqlite, postgresql = EventRecorder.record(HostOperationFinished, ...) into"
        " SqliteEventLog / PostgresEventLog\n(encode + hash chain + a COPY per recorder batch,"
        " sent by a thread while the next batch is recorded); raw COPY = psycopg\nCOPY of the"
        " same pre-built rows into a table of the same columns, primary key and host index, one"
        " transaction,\nthe faster per repetition of: rows (write_row each) and text (COPY text"
        " built column-wise from the rows, on the\nclock, written chunk by chunk); store ="
        " PostgresEventLog.append_later of those pre-built rows alone, in the\nrecorder's"
        " batches, then flush (no encode or hash). deploy: deploy-ours"
        " on @sim hosts, SQLite log\nvs PostgreSQL log (made beforehand). Server: a throwaway"
        " cluster on loopback, fsync off (tests/postgres_server.py),\na new database per case."
        " Ratios per repetition, median [min-max].",
    )


def planned_runs(plan: Plan) -> int:
    """How many case runs :func:`measure_postgres` makes under ``plan``."""
    return 5 * plan.append_reps + 2 * plan.reps(*DEPLOY_SHAPE)


def measure_postgres(
    runner: Runner,
    plan: Plan,
    sections: Sections,
    workdir: Path,
    deploy_shape: tuple[int, int] = DEPLOY_SHAPE,
) -> None:
    """The append row (SQLite, PostgreSQL, the store alone, raw COPY) and the deploy row
    (``deploy_shape`` on SQLite and PostgreSQL), repetition ``i`` of each variant back
    to back."""
    section = sections.postgres
    try:
        server = postgres_server_module().running_postgres()
    except Exception as error:  # no PostgreSQL here: the rows fail, the suite goes on
        for label in ("append", "deploy"):
            section.failed(label, f"no PostgreSQL server: {error}")
        return
    _append_rows(runner, plan, section, workdir, server)
    _deploy_rows(runner, plan, section, server, deploy_shape)


def _run_in_database(
    runner: Runner,
    server: Any,
    case: str,
    args: dict[str, object],
    label: str,
    *,
    url_as: str = "url",
    made: bool = False,
) -> Measurement:
    """The case ``case`` run with ``args`` and the URL of a new database of ``server`` (as
    the argument ``url_as``; with a log made in it, ``made``), dropped after it."""
    from benchmarks.runner import Case

    database = server.new_database("bench")
    url = server.url(database)
    try:
        if made:
            from eventstate.stores.postgres import PostgresEventLog

            PostgresEventLog(url).close()
        return runner.run(Case(case, {**args, url_as: url}), label)
    finally:
        server.sql(f'DROP DATABASE "{database}" WITH (FORCE)')


def _append_rows(runner: Runner, plan: Plan, section: Section, workdir: Path, server: Any) -> None:
    from benchmarks.runner import Case, CaseFailed

    events = plan.append_events
    runs: dict[str, list[Measurement]] = {
        "sqlite": [],
        "postgresql": [],
        "store": [],
        "raw rows": [],
        "raw text": [],
    }
    path = workdir / "append-pg-sqlite.db"
    try:
        for rep in range(plan.append_reps):
            label = f"{rep + 1}/{plan.append_reps}"
            try:
                runs["sqlite"].append(
                    runner.run(
                        Case("append-ours", {"events": events, "path": str(path)}),
                        f"pg append sqlite {label}",
                    )
                )
            finally:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            for name, case in (
                ("postgresql", "pg-append-ours"),
                ("store", "pg-append-store"),
                ("raw rows", "pg-append-raw"),
                ("raw text", "pg-append-raw-text"),
            ):
                measured = _run_in_database(
                    runner, server, case, {"events": events}, f"pg append {name} {label}"
                )
                runs[name].append(measured)
    except CaseFailed as error:
        section.failed(f"append {events:,} events, ev/s", str(error))
        return

    def rate(name: str) -> list[float]:
        return [float(run["events_per_s"]) for run in runs[name]]

    # The ceiling of each repetition: the faster of its two raw COPYs.
    raw = [max(pair) for pair in zip(rate("raw rows"), rate("raw text"), strict=True)]
    vs_raw = ratios(rate("postgresql"), raw)
    vs_sqlite = ratios(rate("postgresql"), rate("sqlite"))
    store = ratios(rate("store"), raw)
    section.add(
        Row(
            f"append {events:,} events, ev/s",
            {
                "reps": str(len(raw)),
                "sqlite": Stat.of(rate("sqlite")).format(0),
                "postgresql": Stat.of(rate("postgresql")).format(0),
                "pg/sqlite": vs_sqlite.format(3),
                "raw rows": Stat.of(rate("raw rows")).format(0),
                "raw text": Stat.of(rate("raw text")).format(0),
                "raw COPY": Stat.of(raw).format(0),
                "pg/raw COPY": vs_raw.format(3),
                "store/raw COPY": store.format(3),
            },
            {
                "sqlite_events_per_s": Stat.of(rate("sqlite")),
                "postgresql_events_per_s": Stat.of(rate("postgresql")),
                "raw_copy_events_per_s": Stat.of(raw),
                "raw_copy_rows_events_per_s": Stat.of(rate("raw rows")),
                "raw_copy_text_events_per_s": Stat.of(rate("raw text")),
                "ratio_postgresql_sqlite": vs_sqlite,
                "postgresql_store_events_per_s": Stat.of(rate("store")),
                "ratio_store_raw": store,
                "ratio": vs_raw,
            },
            Target.at_least(0.50, ">= 0.50x raw COPY"),
            vs_raw.median,
        )
    )


def _deploy_rows(
    runner: Runner, plan: Plan, section: Section, server: Any, shape: tuple[int, int]
) -> None:
    from benchmarks.runner import Case, CaseFailed

    hosts, ops = shape
    reps = plan.reps(hosts, ops)
    args = {"hosts": hosts, "ops": ops}
    runs: dict[str, list[Measurement]] = {"sqlite": [], "postgresql": []}
    try:
        for rep in range(reps):
            label = f"{hosts}x{ops} {{}} {rep + 1}/{reps}"
            runs["sqlite"].append(
                runner.run(
                    Case("deploy-ours", {**args, "log": "sqlite"}),
                    "pg deploy " + label.format("sqlite"),
                )
            )
            measured = _run_in_database(
                runner,
                server,
                "deploy-ours",
                {**args, "log": "postgresql"},
                "pg deploy " + label.format("postgresql"),
                url_as="path",
                made=True,
            )
            runs["postgresql"].append(measured)
    except CaseFailed as error:
        section.failed(f"deploy {hosts}x{ops}, total s", str(error))
        return

    def total(name: str) -> list[float]:
        return [float(run["total_s"]) for run in runs[name]]

    ratio = ratios(total("postgresql"), total("sqlite"))
    section.add(
        Row(
            f"deploy {hosts}x{ops}, total s",
            {
                "reps": str(reps),
                "sqlite": Stat.of(total("sqlite")).format(3),
                "postgresql": Stat.of(total("postgresql")).format(3),
                "pg/sqlite": ratio.format(3),
            },
            {
                "sqlite_total_s": Stat.of(total("sqlite")),
                "postgresql_total_s": Stat.of(total("postgresql")),
                "ratio": ratio,
                "events": runs["postgresql"][0].metrics["events"],
            },
        )
    )
