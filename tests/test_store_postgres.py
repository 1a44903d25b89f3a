"""The PostgreSQL store on a real server: the store contract, append-only enforced by the
database (triggers, and a writer role that may only insert and select), gapless runs under
concurrent writers, the same bytes and hashes as SQLite, and every driver error a one-line
StoreError."""

from __future__ import annotations

import json
import secrets
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import psycopg
import pytest
from postgres_server import PostgresServer, running_postgres

import eventstate
from eventstate.errors import (
    PostgresNotInstalledError,
    SequenceError,
    StoreError,
    StoreNotFoundError,
)
from eventstate.replay import (
    Run,
    export_lines,
    import_runs,
    read_export,
    verify_export,
    verify_log,
    verify_run,
)
from eventstate.stores import EventLog, PostgresEventLog, SqliteEventLog, open_log
from eventstate.stores.base import StoredEvent
from eventstate.testing import EventLogContract, sample_run, stored_events
from eventstate.testing.contract import _during_the_wait


@pytest.fixture(scope="module")
def server() -> PostgresServer:
    return running_postgres()


class TestPostgresEventLog(EventLogContract):
    """The contract, each log a schema of its own in one database (``?schema=``: a new
    schema is quicker to make than a new database; the other tests use the default)."""

    database: str | None = None

    def create_log(self, tmp_path: Path) -> EventLog:
        server = running_postgres()
        if TestPostgresEventLog.database is None:
            TestPostgresEventLog.database = server.new_database("contract")
        schema = f"log_{secrets.token_hex(8)}"
        return open_log(server.url(TestPostgresEventLog.database, schema=schema))

    def open_second(self, log: EventLog) -> EventLog:
        assert isinstance(log, PostgresEventLog)
        return PostgresEventLog(log.url, create=False)  # another writer's own pool


@pytest.fixture
def url(server: PostgresServer) -> str:
    return server.url(server.new_database())


@pytest.fixture
def log(url: str) -> Iterator[PostgresEventLog]:
    with PostgresEventLog(url) as opened:
        opened.append(stored_events("run-a", 3))
        yield opened


def test_logs_in_two_schemas_of_one_database_are_apart(server: PostgresServer) -> None:
    database = server.new_database()
    with (
        open_log(server.url(database, schema="team_a")) as a,
        open_log(server.url(database, schema="team_b")) as b,
        open_log(server.url(database)) as default,
    ):
        assert isinstance(a, PostgresEventLog) and isinstance(b, PostgresEventLog)
        a.append(stored_events("run-a", 3))
        b.append(stored_events("run-b", 2))
        assert [r.run_id for r in a.runs()] == ["run-a"]
        assert [r.run_id for r in b.runs()] == ["run-b"] and default.runs() == []
        assert len({a.log_id, b.log_id, default.log_id}) == 3
        assert (a.channel, b.channel) == ("team_a.events", "team_b.events")
        assert a.check_guards() == b.check_guards() == []
        assert a.shown.endswith(f"/{database}?schema=team_a")
    with pytest.raises(StoreNotFoundError, match=r"\?schema=team_c$"):
        open_log(server.url(database, schema="team_c"), read_only=True)


# -- Append-only, enforced by the database --------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE eventstate.events SET payload = '{}' WHERE seq = 2",
        "DELETE FROM eventstate.events WHERE seq = 3",
        "TRUNCATE eventstate.events",
        "UPDATE eventstate.events SET payload = '{}' WHERE false",  # refused even for no row
    ],
)
def test_changing_an_event_is_refused_by_the_database(
    log: PostgresEventLog, url: str, statement: str
) -> None:
    with psycopg.connect(url, autocommit=True) as conn:  # the owner, a superuser even
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            conn.execute(statement)  # type: ignore[arg-type]
        assert conn.execute("SELECT count(*) FROM eventstate.events").fetchone() == (3,)
    assert log.check_guards() == []


def test_a_writer_role_may_insert_and_select_but_never_change(
    log: PostgresEventLog, server: PostgresServer, url: str
) -> None:
    role = f"deployer_{log.log_id}"  # roles are the cluster's: one per test
    server.sql(f"CREATE ROLE {role} LOGIN")
    log.grant_writer(role)
    database = url.rsplit("/", 1)[1]
    as_writer = server.url(database, user=role)
    with PostgresEventLog(as_writer) as writer:  # a deployer's handle: it writes and reads
        writer.append(stored_events("run-a", 2, first=4))
        writer.snapshots().put("run-a", 5, "v1", "{}")
        writer.snapshots().put("run-a", 5, "v1", '{"again":1}')  # a cache: replaced
        assert [e.seq for e in writer.read("run-a")] == [1, 2, 3, 4, 5]
        assert writer.check_guards() == []
    with psycopg.connect(as_writer, autocommit=True) as conn:
        # Even with the triggers gone, its rights alone refuse every change.
        server.sql("ALTER TABLE eventstate.events DISABLE TRIGGER USER", database)
        for statement in (
            "UPDATE eventstate.events SET payload = '{}'",
            "DELETE FROM eventstate.events",
            "TRUNCATE eventstate.events",
            "ALTER TABLE eventstate.events DISABLE TRIGGER events_no_delete",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)  # type: ignore[arg-type]
        assert conn.execute("SELECT count(*) FROM eventstate.events").fetchone() == (5,)
    assert any("is disabled: DELETE is not refused" in p for p in log.check_guards())


def test_a_reader_role_reads_every_command_and_writes_nothing(
    log: PostgresEventLog, server: PostgresServer, url: str
) -> None:
    role = f"auditor_{log.log_id}"
    server.sql(f"CREATE ROLE {role} LOGIN")
    log.grant_reader(role)
    as_reader = server.url(url.rsplit("/", 1)[1], user=role)
    with open_log(as_reader, read_only=True) as reader:
        assert [e.seq for e in reader.read("run-a")] == [1, 2, 3]
        assert reader.head() == log.head() and reader.log_id == log.log_id
        assert reader.check_guards() == [] and reader.check_integrity() == []
        with pytest.raises(StoreError, match="opened read-only: cannot append"):
            reader.append(stored_events("run-a", 1, first=4))
    with PostgresEventLog(as_reader) as not_read_only:  # its rights refuse even so
        with pytest.raises(StoreError, match="permission denied") as caught:
            not_read_only.append(stored_events("run-a", 1, first=4))
        assert "\n" not in str(caught.value)


def test_tampered_guards_are_reported(
    log: PostgresEventLog, server: PostgresServer, url: str
) -> None:
    database = url.rsplit("/", 1)[1]
    server.sql("DROP TRIGGER events_no_truncate ON eventstate.events", database)
    server.sql(
        "CREATE OR REPLACE FUNCTION eventstate.refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
        database,
    )
    server.sql("CREATE RULE quiet AS ON INSERT TO eventstate.events DO INSTEAD NOTHING", database)
    problems = log.check_guards()
    assert "the trigger events_no_truncate is missing: TRUNCATE is not refused" in problems
    assert any(p.startswith("the trigger events_no_update is not the one") for p in problems)
    assert "an unexpected rule quiet is on the events table" in problems
    assert not verify_log(log).ok


def test_a_superusers_rewrite_is_found_by_verify(server: PostgresServer, url: str) -> None:
    # The one way past the triggers: the owner disables them. verify (unchanged, through
    # the EventLog interface) finds what was done, and the guards say how.
    log = PostgresEventLog(url)
    log.append(sample_run("run-a").rows())
    log.append(sample_run("run-v").rows())
    log.append(sample_run("run-w").rows())
    assert verify_log(log).ok
    database = url.rsplit("/", 1)[1]
    server.sql(
        "ALTER TABLE eventstate.events DISABLE TRIGGER events_no_delete; "
        "ALTER TABLE eventstate.events DISABLE TRIGGER events_no_update; "
        "DELETE FROM eventstate.events WHERE run_id = 'run-v' AND seq IN (1, 3); "
        "UPDATE eventstate.events SET payload = payload || ' ' "
        "WHERE run_id = 'run-w' AND seq = 2",
        database,
    )
    assert [r.run_id for r in log.runs()] == ["run-a", "run-v", "run-w"]  # still listed
    report = verify_log(log)
    assert not report.ok
    said = str(report)
    assert "events_no_delete is disabled" in said and "events_no_update is disabled" in said
    assert not verify_run(log, "run-v").ok and not verify_run(log, "run-w").ok
    log.close()


# -- Concurrent writers ---------------------------------------------------------------------


def test_the_primary_key_refuses_a_duplicate(log: PostgresEventLog, url: str) -> None:
    with (
        psycopg.connect(url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.UniqueViolation),
    ):
        row = stored_events("run-a", 1, first=3, tag="rival")[0]
        conn.execute(
            "INSERT INTO eventstate.events (run_id, seq, type, version, timestamp, host, "
            "payload, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                row.run_id,
                row.seq,
                row.type,
                row.version,
                row.timestamp,
                row.host,
                row.payload,
                row.prev_hash,
                row.hash,
            ],
        )


def test_racing_writers_on_one_run_leave_no_gap_and_no_repeat(url: str) -> None:
    # Eight handles append the same run's next events as fast as they can: each
    # batch is either stored whole, continuing the run, or refused whole.
    with PostgresEventLog(url) as first:
        first.append(stored_events("run-x", 1))
    handles = [PostgresEventLog(url, create=False) for _ in range(8)]
    stored: list[tuple[int, int]] = []
    lock = threading.Lock()

    def write(index: int, handle: PostgresEventLog) -> None:
        for _ in range(40):
            last = handle.last_event("run-x")
            assert last is not None
            batch = stored_events("run-x", 3, first=last.seq + 1, tag=f"w{index}")
            try:
                handle.append(batch)
            except SequenceError:
                continue
            with lock:
                stored.append((index, batch[0].seq))

    threads = [threading.Thread(target=write, args=pair) for pair in enumerate(handles)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with PostgresEventLog(url, read_only=True) as reader:
        seqs = [e.seq for e in reader.read("run-x")]
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(seqs) == 1 + 3 * len(stored)
        by_start = {e.seq: e.payload for e in reader.read("run-x")}
        for index, start in stored:  # every stored batch is the one its writer sent, whole
            for seq in range(start, start + 3):
                assert f'"tag":"w{index}"' in by_start[seq]
    for handle in handles:
        handle.close()


def test_racing_first_writers_make_one_log(server: PostgresServer) -> None:
    url = server.url(server.new_database())
    script = (
        "import sys; from eventstate.stores import open_log; "
        "log = open_log(sys.argv[1]); print(log.log_id); log.close()"
    )
    makers = [
        subprocess.Popen([sys.executable, "-c", script, url], stdout=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    ids = {maker.communicate(timeout=120)[0].strip() for maker in makers}
    assert all(maker.returncode == 0 for maker in makers)
    assert len(ids) == 1 and ids != {""}


# -- Same bytes as SQLite -------------------------------------------------------------------


def test_a_run_has_the_same_rows_in_sqlite_and_postgresql(url: str, tmp_path: Path) -> None:
    run = sample_run("run-s", ("wéb-1", "数据库-2"))
    rows = run.rows()
    with SqliteEventLog(tmp_path / "a.db") as sqlite, PostgresEventLog(url) as postgres:
        sqlite.append(rows)
        postgres.append(rows)
        assert list(postgres.read("run-s")) == list(sqlite.read("run-s")) == rows
        assert postgres.last_event("run-s") == sqlite.last_event("run-s")


def test_a_run_exported_from_one_store_imports_into_the_other(url: str, tmp_path: Path) -> None:
    # Through the EventLog interface only: export, import and verify know no backend.
    run = sample_run("run-e")
    with SqliteEventLog(tmp_path / "a.db") as sqlite:
        sqlite.append(run.rows())
        lines = list(export_lines(Run(sqlite, "run-e")))
    with PostgresEventLog(url) as postgres:
        import_runs(postgres, verify_export(read_export(lines)))
        assert [r.run_id for r in postgres.runs()] == ["run-e"]
        assert verify_run(postgres, "run-e").ok
        back = list(export_lines(Run(postgres, "run-e")))
    assert back == lines  # the same bytes, hashes and all
    with SqliteEventLog(tmp_path / "b.db") as again:
        import_runs(again, verify_export(read_export(back)))
        assert list(again.read("run-e")) == run.rows()
        assert verify_run(again, "run-e").ok


# -- Reading --------------------------------------------------------------------------------


def test_a_long_run_streams_in_order_while_the_log_is_written(url: str) -> None:
    rows = stored_events("run-long", 12_345)
    with PostgresEventLog(url, pool_size=2) as log:
        log.append(rows)
        reading = log.read("run-long")
        assert next(reading) == rows[0]  # the cursor holds one connection...
        log.append(stored_events("run-other", 5))  # ...the append takes another
        assert [next(reading) for _ in range(3)] == rows[1:4]
        assert [e.seq for e in reading] == list(range(5, 12_346))
        assert [e.seq for e in log.read("run-long", 12_000, 12_002)] == [12_000, 12_001, 12_002]
        assert [e.seq for e in log.read("run-long", 12_340)] == list(range(12_340, 12_346))


def test_every_append_notifies_the_logs_channel(log: PostgresEventLog, url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(log.channel)))
        log.append(stored_events("run-a", 4, first=4))
        log.append([*stored_events("run-b", 2), *stored_events("run-a", 1, first=8)])
        seen: list[str] = []
        while len(seen) < 3:
            select.select([conn.fileno()], [], [], 10)
            seen += [note.payload for note in conn.notifies(timeout=0, stop_after=0)]
            conn.execute("SELECT 1")  # reads what has arrived
    assert sorted(seen) == ["run-a 7", "run-a 8", "run-b 2"]
    assert log.channel == "eventstate.events"


def test_a_reader_role_waits_by_listening_and_is_woken_by_an_append(
    log: PostgresEventLog, server: PostgresServer, url: str
) -> None:
    # LISTEN writes nothing: the SELECT-only role, read-only, waits on the channel.
    role = f"watcher_{log.log_id}"
    server.sql(f"CREATE ROLE {role} LOGIN")
    log.grant_reader(role)
    as_reader = server.url(url.rsplit("/", 1)[1], user=role)
    seen: list[tuple[str, str]] = []

    def append() -> None:
        with psycopg.connect(url, autocommit=True) as conn:  # what the reader is doing
            seen.extend(
                conn.execute(
                    "SELECT state, query FROM pg_stat_activity WHERE usename = %s", [role]
                ).fetchall()
            )
            conn.execute(f"NOTIFY \"{log.channel}\", 'not an append'")  # anyone may: ignored
        log.append(stored_events("run-b", 1))  # another run's append: not what is waited for
        log.append(stored_events("run-a", 2, first=4))

    with PostgresEventLog(as_reader, read_only=True) as reader:
        assert reader.newest_seq("run-a") == 3 and reader.newest_run() == "run-a"
        cancel = _during_the_wait(append)
        try:
            assert reader.wait_for_events("run-a", 3, timeout=60)
        finally:
            cancel()
        assert reader.newest_seq("run-a") == 5 and reader.newest_run() == "run-b"
        assert any(q.startswith(f'LISTEN "{log.channel}"; ') for _, q in seen)  # no polling
        assert not reader.wait_for_events("run-a", 5, timeout=0.1)
        assert reader.wait_for_run("run-a", timeout=0) == "run-b"
    with psycopg.connect(url, autocommit=True) as conn:  # the reader made nothing
        assert conn.execute("SELECT count(*) FROM eventstate.events").fetchone() == (6,)


def test_a_closed_logs_wait_says_so(url: str) -> None:
    log = PostgresEventLog(url)
    log.close()
    with pytest.raises(StoreError, match="the log is closed"):
        log.wait_for_events("run-a", 0, timeout=1)


# -- A lost connection --------------------------------------------------------------------


def _end_connections(server: PostgresServer, url: str) -> int:
    """End every eventstate connection to the database of ``url`` (as a restart would)."""
    import psycopg

    which = "datname = current_database() AND application_name = 'eventstate'"
    with psycopg.connect(server.url(url.rsplit("/", 1)[1]), autocommit=True) as conn:
        row = conn.execute(
            f"SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity WHERE {which}"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_lost_connections_are_replaced_unseen(
    log: PostgresEventLog, server: PostgresServer, url: str
) -> None:
    rows = stored_events("run-a", 2_500)
    log.append(rows[3:1000])
    assert _end_connections(server, url) >= 1
    log.append(rows[1000:])  # on a new connection, as if nothing had happened
    assert _end_connections(server, url) >= 1
    assert [e.seq for e in log.read("run-a", 1, 3)] == [1, 2, 3]
    assert _end_connections(server, url) >= 1
    log.snapshots().put("run-a", 3, "v1", "{}")
    assert _end_connections(server, url) >= 1
    reading = log.read("run-a")
    assert [next(reading).seq for _ in range(2_100)] == list(range(1, 2_101))
    assert _end_connections(server, url) >= 1  # the streaming cursor's connection too
    assert [e.seq for e in reading] == list(range(2_101, 2_501))
    assert list(log.read("run-a")) == rows


def test_a_waiters_lost_connection_is_replaced_unseen(
    log: PostgresEventLog, server: PostgresServer, url: str
) -> None:
    with PostgresEventLog(url, read_only=True) as reader:
        assert reader.wait_for_events("run-a", 2, timeout=0)  # its listening connection made
        assert _end_connections(server, url) >= 2  # the listener, and the pools' own
        assert not reader.wait_for_events("run-a", 3, timeout=0.1)  # listening anew

        def end_and_append() -> None:
            _end_connections(server, url)  # the listener again, mid-wait this time
            log.append(stored_events("run-a", 1, first=4))

        cancel = _during_the_wait(end_and_append)
        try:
            assert reader.wait_for_events("run-a", 3, timeout=60)
        finally:
            cancel()
        assert reader.newest_seq("run-a") == 4


def test_a_batch_whose_commit_went_unanswered_is_judged_by_its_last_row(
    log: PostgresEventLog,
) -> None:
    # What append asks after a connection lost during its COMMIT: stored, or not, or
    # another writer's row in its place.
    batch = stored_events("run-a", 2, first=4)
    assert not log._stored(batch[-1])
    log.append(batch)
    assert log._stored(batch[-1])
    with pytest.raises(SequenceError, match="another writer stored events"):
        log._stored(stored_events("run-a", 2, first=4, tag="rival")[-1])


def test_a_lost_connection_says_nothing_on_stderr(server: PostgresServer, url: str) -> None:
    # psycopg's pool logs what it discards; without a logging setup Python would print it.
    script = (
        "import sys, psycopg; from eventstate.stores import open_log; "
        "from eventstate.testing import stored_events; log = open_log(sys.argv[1]); "
        "log.append(stored_events('run-a', 2)); "
        "psycopg.connect(sys.argv[2], autocommit=True).execute("
        '"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE '
        "application_name = 'eventstate' AND datname = current_database()\"); "
        "log.append(stored_events('run-a', 2, first=3)); print(log.last_event('run-a').seq)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, url, url], capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "4\n", "")


# -- COPY text, and batches handed over while the next is made ------------------------------

#: Values a COPY text row could be broken by, or mistaken in: each escape's character alone,
#: in pairs and at the ends; the NULL marker and the end-of-data marker as text; other
#: control characters, other scripts, an emoji.
HOSTILE = (
    "\\",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\\N",
    "\\.",
    "a\\tb",
    "\\\\",
    "\t\\n\r\\",
    "end\\",
    "\\start",
    " \x01\x08\x0b\x0c\x1b\x7f ",
    "wéb-1 数据库 сервер 🚀",
    "",
)


def _hostile_run(run_id: str) -> list[StoredEvent]:
    """A run whose every text column holds each of :data:`HOSTILE` in turn (a host None
    now and then): what a COPY must store exactly."""
    rows = []
    prev_hash = eventstate.GENESIS_HASH
    for index in range(3 * len(HOSTILE)):
        value = HOSTILE[index % len(HOSTILE)]
        payload = json.dumps({"value": value, "raw": value})[:-1] + value + "}"
        digest = eventstate.chain_hash(prev_hash, payload)
        rows.append(
            StoredEvent(
                run_id=run_id,
                seq=index + 1,
                type=f"Type{value}",
                version=1,
                timestamp=f"2026-01-01T00:00:00{value}",
                host=None if index % 4 == 3 else value,
                payload=payload,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    return rows


@pytest.mark.parametrize("append", ["append", "append_later"])
def test_hostile_text_in_every_column_round_trips_exactly(url: str, append: str) -> None:
    run_id = "run\t\\n\n\r\\N"
    rows = _hostile_run(run_id)
    with PostgresEventLog(url) as log:
        getattr(log, append)(rows[:10])
        getattr(log, append)(rows[10:])
        log.flush()
        assert list(log.read(run_id)) == rows
        assert [r.run_id for r in log.runs()] == [run_id]
    with psycopg.connect(url) as conn:  # as stored, not only as read back
        stored = conn.execute(
            "SELECT host, payload, type, timestamp FROM eventstate.events ORDER BY seq"
        ).fetchall()
    assert stored == [(r.host, r.payload, r.type, r.timestamp) for r in rows]


@pytest.mark.parametrize("append", ["append", "append_later"])
@pytest.mark.parametrize("field", ["host", "payload", "run_id"])
def test_a_nul_character_is_refused_and_nothing_of_its_batch_is_stored(
    log: PostgresEventLog, append: str, field: str
) -> None:
    rows = stored_events("run-a", 3, first=4)
    rows[1] = attrs.evolve(rows[1], **{field: getattr(rows[1], field) + "\x00"})
    with pytest.raises(StoreError, match=r"cannot append: .*NUL"):
        getattr(log, append)(rows)
    log.flush()
    assert log.newest_seq("run-a") == 3
    log.append(stored_events("run-a", 3, first=4))  # the log goes on
    assert log.newest_seq("run-a") == 6


def test_a_batch_handed_over_is_seen_by_every_read_without_a_flush(
    log: PostgresEventLog, url: str
) -> None:
    rows = stored_events("run-a", 5_000)
    log.append_later(rows[3:2_000])
    assert log.newest_seq("run-a") == 2_000  # the read waits for it
    log.append_later(rows[2_000:])
    assert list(log.read("run-a")) == rows
    with PostgresEventLog(url, read_only=True) as reader:  # committed, for everyone
        assert reader.newest_seq("run-a") == 5_000


def test_a_refused_batch_handed_over_is_raised_by_the_next_write(
    log: PostgresEventLog, url: str
) -> None:
    ours = stored_events("run-a", 6)
    theirs = stored_events("run-a", 6, tag="rival")
    with PostgresEventLog(url, create=False) as rival:
        rival.append(theirs[3:5])  # the rival stores events 4 and 5 first
    log.append_later(ours[3:5])  # judged against what it knows (the run ends at 3): sent
    with pytest.raises(SequenceError, match="another writer stored events"):
        log.append_later(ours[5:])
    assert list(log.read("run-a")) == ours[:3] + theirs[3:5]  # nothing of either batch
    log.flush()  # raised once: nothing is pending now
    log.append(theirs[5:])  # the refused writer goes on from what the store holds
    assert log.newest_seq("run-a") == 6


@pytest.mark.parametrize("settle", ["flush", "close", "append"])
def test_a_refused_batch_handed_over_is_raised_by_flush_close_or_append(
    log: PostgresEventLog, url: str, settle: str
) -> None:
    with PostgresEventLog(url, create=False) as rival:
        rival.append(stored_events("run-a", 1, first=4, tag="rival"))
    log.append_later(stored_events("run-a", 2, first=4))
    with pytest.raises(SequenceError, match="another writer stored events"):
        if settle == "append":
            log.append(stored_events("run-b", 1))
        else:
            getattr(log, settle)()
    with PostgresEventLog(url, create=False) as reader:
        assert [r.run_id for r in reader.runs()] == ["run-a"]
        assert reader.newest_seq("run-a") == 4


def test_a_batch_handed_over_on_a_lost_connection_is_stored_anew(
    log: PostgresEventLog, server: PostgresServer, url: str
) -> None:
    rows = stored_events("run-a", 3_000)
    assert _end_connections(server, url) >= 1  # the pooled connection it will be sent on
    log.append_later(rows[3:])
    log.flush()
    assert list(log.read("run-a")) == rows


def test_the_recorder_hands_its_full_batches_over_and_every_event_is_stored(url: str) -> None:
    with PostgresEventLog(url) as log:
        recorder = eventstate.EventRecorder(
            log, "run-r", lambda event: None, batch_size=10, heartbeat=False
        )
        for index in range(35):
            recorder.record(eventstate.HostActivated, host=f"h{index}")
        recorder.flush()
        assert log.newest_seq("run-r") == 35
        assert verify_run(log, "run-r").ok


def test_under_gevents_monkey_patching_a_batch_is_stored_at_once(url: str) -> None:
    # A patched thread would be a greenlet, run only when the caller yields.
    script = (
        "from gevent import monkey; monkey.patch_all(); import sys; "
        "from eventstate.stores import open_log; "
        "from eventstate.testing import stored_events; log = open_log(sys.argv[1]); "
        "log.append_later(stored_events('run-a', 2)); "
        "print(log._in_flight is None, log.newest_seq('run-a')); log.close()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, url], capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "True 2\n", "")


# -- Opening and errors ---------------------------------------------------------------------


def test_read_only_or_without_create_a_missing_log_is_not_found(url: str) -> None:
    for options in ({"read_only": True}, {"create": False}):
        with pytest.raises(StoreNotFoundError) as caught:
            open_log(url, **options)  # type: ignore[arg-type]
        assert str(caught.value) == f"no event log at {url.replace('eventstate@', '***@')}"
    with psycopg.connect(url) as conn:  # nothing was made
        assert conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'eventstate'"
        ).fetchone() == (0,)


def test_a_missing_database_is_not_found(server: PostgresServer) -> None:
    with pytest.raises(StoreNotFoundError, match=r'database "nothing_here" does not exist'):
        open_log(server.url("nothing_here"))


def test_an_unreachable_server_is_one_line_without_the_password(server: PostgresServer) -> None:
    closed = server.port + 1 if server.port < 65535 else server.port - 1
    with pytest.raises(StoreError) as caught:
        open_log(f"postgresql://deployer:s3cret@127.0.0.1:{closed}/db", read_only=True)
    message = str(caught.value)
    assert "\n" not in message and "s3cret" not in message
    assert message.startswith(f"postgresql://***@127.0.0.1:{closed}/db: cannot connect: ")


@pytest.mark.parametrize(
    "url", ["postgresql://127.0.0.1:notaport/db", "postgresql://127.0.0.1/db?nosuchoption=1"]
)
def test_a_malformed_url_is_one_line(url: str) -> None:
    with pytest.raises(StoreError, match=r": cannot connect: ") as caught:
        open_log(url)
    assert "\n" not in str(caught.value)


def test_a_database_not_in_utf8_is_refused(server: PostgresServer) -> None:
    name = f"ascii_{server.new_database()}"
    server.sql(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0")
    with pytest.raises(StoreError, match="the database's encoding is SQL_ASCII, not UTF8"):
        open_log(server.url(name))


def test_another_programs_schema_is_refused(server: PostgresServer) -> None:
    database = server.new_database()
    server.sql("CREATE SCHEMA eventstate; CREATE TABLE eventstate.events (x int)", database)
    with pytest.raises(StoreError, match="holds tables, but not an eventstate log"):
        open_log(server.url(database))


def test_a_newer_layout_is_refused(log: PostgresEventLog, server: PostgresServer, url: str) -> None:
    server.sql(
        "UPDATE eventstate.meta SET value = '99' WHERE key = 'schema_version'",
        url.rsplit("/", 1)[1],
    )
    with pytest.raises(StoreError, match=r"newer eventstate \(schema 99"):
        open_log(url)


def test_a_bad_schema_name_is_refused(server: PostgresServer) -> None:
    with pytest.raises(StoreError, match="a schema name is"):
        open_log(server.url("postgres", schema="Robert'); DROP TABLE x"))


def test_a_closed_log_says_so(url: str) -> None:
    log = PostgresEventLog(url)
    log.close()
    log.close()
    with pytest.raises(StoreError, match="the log is closed"):
        log.append(stored_events("run-a", 1))
    with pytest.raises(StoreError, match="the log is closed"):
        log.runs()


def test_without_the_extra_the_url_is_one_line_naming_it() -> None:
    # psycopg hidden from a fresh interpreter, as on an install without the extra.
    script = (
        "import sys; sys.modules['psycopg'] = None; "
        "from eventstate.cli import main; sys.argv = ['eventstate', 'runs', '--db', "
        "'postgresql://db.example/audit']; main()"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "Error: the PostgreSQL store needs psycopg 3 and psycopg-pool (psycopg is not "
        "installed): pip install 'eventstate[postgres]'"
    ]
    assert issubclass(PostgresNotInstalledError, StoreError)
    assert eventstate.PostgresNotInstalledError is PostgresNotInstalledError
    assert json.loads(json.dumps(eventstate.PostgresEventLog.__name__)) == "PostgresEventLog"
