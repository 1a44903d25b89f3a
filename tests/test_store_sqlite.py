"""The SQLite store: the store contract, append-only enforced by the database, and every
driver error a StoreError."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from eventstate import Config, Inventory, State, StateStage
from eventstate.errors import (
    SequenceError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreNotFoundError,
)
from eventstate.replay import verify_run
from eventstate.stores import EventLog, MemoryEventLog, SqliteEventLog
from eventstate.stores.base import StoredEvent, StoredRow
from eventstate.stores.sqlite import SCHEMA_VERSION
from eventstate.testing import EventLogContract, stored_events


class TestSqliteEventLog(EventLogContract):
    def create_log(self, tmp_path: Path) -> EventLog:
        tmp_path.mkdir(parents=True, exist_ok=True)
        return SqliteEventLog(tmp_path / "events.db")

    def open_second(self, log: EventLog) -> EventLog:
        assert isinstance(log, SqliteEventLog)
        return SqliteEventLog(log.path, create=False)  # a second connection to the file


class TestSqliteInMemory(EventLogContract):
    def create_log(self, tmp_path: Path) -> EventLog:
        return SqliteEventLog(":memory:")

    def open_second(self, log: EventLog) -> EventLog:
        return log  # a private in-memory database has no second connection


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "events.db"
    with SqliteEventLog(path) as log:
        log.append(stored_events("run-a", 3))
    return path


def test_update_is_refused_by_the_database(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET payload = '{}' WHERE seq = 2")
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3


def test_delete_is_refused_by_the_database(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events WHERE seq = 3")
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3


def test_schema_has_the_primary_key_host_index_and_wal(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    pk = [row[1] for row in conn.execute("PRAGMA table_info(events)") if row[5]]
    assert pk == ["run_id", "seq"]
    indexes = {row[1] for row in conn.execute("PRAGMA index_list(events)")}
    assert "events_host" in indexes
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    triggers = {
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
    }
    assert triggers == {"events_no_update", "events_no_delete"}


def test_a_non_sqlite_file_is_a_one_line_corrupt_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not events\n" * 100)
    with pytest.raises(StoreCorruptError, match="is not an eventstate SQLite log") as caught:
        SqliteEventLog(path)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_another_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not an eventstate log"):
        SqliteEventLog(path)


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(
            "UPDATE eventstate_meta SET value = ? WHERE key = 'schema_version'",
            [str(SCHEMA_VERSION + 1)],
        )
    conn.close()
    with pytest.raises(StoreError, match="newer eventstate"):
        SqliteEventLog(db_path)


def test_a_missing_file_is_refused_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFoundError, match="no event log at"):
        SqliteEventLog(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_a_file_in_a_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "no-such-dir" / "events.db"
    with pytest.raises(StoreError, match="cannot open the log") as caught:
        SqliteEventLog(path)
    assert str(caught.value).startswith(str(path))


def test_a_non_ascii_file_name_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "journal de déploiement 🚀.db"
    with SqliteEventLog(path) as log:
        log.append(stored_events("run-a", 2))
    with SqliteEventLog(path, create=False) as log:
        assert [e.seq for e in log.read("run-a")] == [1, 2]


def _damage(path: Path) -> None:
    """Overwrite pages in the middle of the file with garbage, as a failing disk might."""
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(size // 2 - (size // 2) % 4096)
        file.write(b"\xa5" * 4096 * 4)


def test_a_damaged_database_is_a_corrupt_error_while_reading(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    rows = stored_events("run-a", 3000)
    with SqliteEventLog(path) as log:
        log.append(rows)
    _damage(path)
    with SqliteEventLog(path, create=False) as log:
        events = log.read("run-a")
        assert next(events) == rows[0]  # the first pages are whole...
        with pytest.raises(StoreCorruptError, match="damaged") as caught:
            list(events)  # ...the damage is met part-way through the iteration
        assert str(caught.value).startswith(str(path))
        assert "\n" not in str(caught.value)
        # Listing the runs hops along the primary key, never reading the damaged page:
        # the store's own check finds it.
        assert [summary.run_id for summary in log.runs()] == ["run-a"]
        assert log.check_integrity()


def test_a_locked_database_is_a_locked_error_and_nothing_is_stored(db_path: Path) -> None:
    rows = stored_events("run-a", 5)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    with SqliteEventLog(db_path, timeout=0) as log:
        with pytest.raises(StoreLockedError, match="locked by another connection") as caught:
            log.append(rows[3:])
        assert str(caught.value).startswith(str(db_path))
        assert "\n" not in str(caught.value)
        with pytest.raises(StoreLockedError):
            log.snapshots().put("run-a", 3, "v1", "{}")
        assert list(log.read("run-a")) == rows[:3]  # readers are not blocked (WAL)
        other.execute("ROLLBACK")
        other.close()
        log.append(rows[3:])  # the same batch, once the lock is gone
        assert list(log.read("run-a")) == rows


def test_a_read_only_log_refuses_every_write_and_changes_no_byte(db_path: Path) -> None:
    before = db_path.read_bytes()
    with SqliteEventLog(db_path, read_only=True) as log:
        assert log.read_only
        assert [event.seq for event in log.read("run-a")] == [1, 2, 3]
        with pytest.raises(StoreError, match="opened read-only: cannot append") as caught:
            log.append(stored_events("run-a", 4)[3:])
        assert str(caught.value).startswith(str(db_path))
        with pytest.raises(StoreError, match="opened read-only: cannot write a snapshot"):
            log.snapshots().put("run-a", 3, "v1", "{}")
        assert log.snapshots().latest("run-a", 3, "v1") is None
    assert db_path.read_bytes() == before
    with SqliteEventLog(db_path, create=False) as log:
        assert log.last_event("run-a").seq == 3  # type: ignore[union-attr]


def test_a_reader_is_not_blocked_by_a_writer_holding_the_lock(db_path: Path) -> None:
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute(
        "INSERT INTO events SELECT 'run-b', seq, type, version, timestamp, host, "
        "payload, prev_hash, hash FROM events"
    )
    try:
        with SqliteEventLog(db_path, read_only=True, timeout=0) as log:
            assert [summary.run_id for summary in log.runs()] == ["run-a"]  # what is committed
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_log_made_before_snapshots_reads_as_having_none(db_path: Path) -> None:
    # An older eventstate made the snapshot table on first use: a log may have none.
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TABLE snapshots")
    conn.close()
    with SqliteEventLog(db_path, read_only=True) as log:
        assert log.snapshots().latest("run-a", 3, "v1") is None
    with SqliteEventLog(db_path, create=False) as log:
        log.snapshots().put("run-a", 3, "v1", "{}")  # a writer makes the table
        assert log.snapshots().latest("run-a", 3, "v1") == (3, "{}")


def test_a_damaged_snapshot_is_a_corrupt_error(db_path: Path) -> None:
    with SqliteEventLog(db_path, create=False) as log:
        log.snapshots().put("run-a", 3, "v1", "{}")
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE snapshots SET data = X'00ff'")
    conn.close()
    damaged = "snapshot of run run-a at event 3 is damaged"
    with (
        SqliteEventLog(db_path, read_only=True) as log,
        pytest.raises(StoreCorruptError, match=damaged),
    ):
        log.snapshots().latest("run-a", 3, "v1")


def test_a_lock_held_a_moment_is_waited_for(db_path: Path) -> None:
    import threading

    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        with SqliteEventLog(db_path, timeout=30) as log:
            log.append(stored_events("run-a", 5)[3:])  # waits for the lock, then writes
            assert log.last_event("run-a").seq == 5  # type: ignore[union-attr]
    finally:
        release.join()
        other.close()


def test_an_insert_refused_for_another_reason_is_not_a_sequence_error(db_path: Path) -> None:
    # Deliberately invalid: the database's NOT NULL refuses it, not the sequence check.
    bad = attrs.evolve(stored_events("run-a", 4)[3], payload=None)  # type: ignore[arg-type]
    with SqliteEventLog(db_path) as log:
        with pytest.raises(StoreError, match="NOT NULL") as caught:
            log.append([bad])
        assert not isinstance(caught.value, SequenceError)
        assert log.last_event("run-a").seq == 3  # type: ignore[union-attr]


def test_a_missing_guard_is_reported(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER events_no_delete")
    conn.close()
    with SqliteEventLog(db_path, create=False) as log:
        assert log.check_guards() == [
            "the append-only trigger events_no_delete is missing: DELETE is not refused"
        ]


_ON_A_CLOSED_LOG: dict[str, Callable[[SqliteEventLog], object]] = {
    "append": lambda log: log.append(stored_events("run-a", 4)[3:]),
    "read": lambda log: log.read("run-a"),
    "runs": lambda log: log.runs(),
    "last_event": lambda log: log.last_event("run-a"),
    "check_guards": lambda log: log.check_guards(),
    "snapshots().latest": lambda log: log.snapshots().latest("run-a", 3, "v1"),
    "snapshots().put": lambda log: log.snapshots().put("run-a", 3, "v1", "{}"),
}


@pytest.mark.parametrize("call", _ON_A_CLOSED_LOG.values(), ids=_ON_A_CLOSED_LOG.keys())
def test_a_closed_log_raises_store_errors_not_driver_errors(
    db_path: Path, call: Callable[[SqliteEventLog], object]
) -> None:
    log = SqliteEventLog(db_path)
    log.snapshots()  # made while open: its methods then meet the closed connection
    log.close()
    with pytest.raises(StoreError, match="the log is closed") as caught:
        call(log)
    assert not isinstance(caught.value, sqlite3.Error)
    log.flush()  # nothing pending: nothing to fail
    log.close()  # closing twice does nothing


def test_a_read_interrupted_by_close_raises_a_store_error(db_path: Path) -> None:
    log = SqliteEventLog(db_path)
    events = log.read("run-a")
    next(events)
    log.close()
    with pytest.raises(StoreError, match="the log is closed"):
        list(events)


def _stored_count(path: Path, run_id: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM events WHERE run_id = ?", [run_id]).fetchone()[0]
    finally:
        conn.close()


def test_events_are_committed_at_stage_changes_and_run_end(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    inventory = Inventory((["web1", "web2"], {}))
    state = State(inventory, Config(), log=SqliteEventLog(path))
    assert _stored_count(path, state.run_id) == 1  # the run's start is written at once

    for host in inventory:
        state.activate_host(host)
    state.increment_warning_counter()
    # Batched: another reader does not see them yet...
    assert _stored_count(path, state.run_id) == 1
    state.set_stage(StateStage.Connect)
    # ...until the stage changes.
    assert _stored_count(path, state.run_id) == 5
    state.increment_warning_counter()
    state.flush()
    assert _stored_count(path, state.run_id) == 6
    state.increment_warning_counter()
    state.finish()
    assert _stored_count(path, state.run_id) == 8


def test_a_reopened_log_continues_a_run_and_its_chain(tmp_path: Path) -> None:
    from eventstate.events import HostActivated
    from eventstate.recorder import EventRecorder

    path = tmp_path / "events.db"
    inventory = Inventory((["web1"], {}))
    state = State(inventory, log=SqliteEventLog(path))
    state.activate_host(inventory.get_host("web1"))
    state.flush()
    state.log.close()

    with SqliteEventLog(path) as log:
        recorder = EventRecorder(log, state.run_id, lambda event: None)
        assert recorder.last_seq == 2
        recorder.record(HostActivated, host="web1")
        recorder.flush()
        report = verify_run(log, state.run_id)
        assert report.ok, str(report)
        assert report.events_checked == 3


def test_a_new_log_is_the_owners_alone(tmp_path: Path) -> None:
    import os
    import stat

    path = tmp_path / "private.db"
    with SqliteEventLog(path) as log:
        log.append([])
    for file in tmp_path.iterdir():
        assert stat.S_IMODE(os.stat(file).st_mode) == 0o600, file
    # An existing log keeps the mode its owner gave it.
    os.chmod(path, 0o640)
    with SqliteEventLog(path):
        pass
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def _rows(events: list[StoredEvent]) -> list[StoredRow]:
    return [attrs.astuple(event) for event in events]  # type: ignore[misc]


@pytest.mark.parametrize(
    "make", [lambda p: SqliteEventLog(p / "events.db"), lambda p: MemoryEventLog()]
)
def test_rows_append_as_their_events_do(tmp_path: Path, make: Callable[[Path], EventLog]) -> None:
    # append_rows is the recorder's path: the same rows stored, the same batches refused.
    with make(tmp_path) as log:
        log.append_rows(_rows(stored_events("run-a", 3)))
        log.append_rows(_rows(stored_events("run-a", 2, first=4)))
        log.append_rows([])
        assert list(log.read("run-a")) == stored_events("run-a", 3) + stored_events(
            "run-a", 2, first=4
        )
        with pytest.raises(SequenceError, match=r"run run-a: event 7 leaves a gap"):
            log.append_rows(_rows(stored_events("run-a", 2, first=7)))
        with pytest.raises(SequenceError, match=r"run run-a: event 5 repeats"):
            log.append_rows(_rows(stored_events("run-a", 2, first=5)))
        # Two runs in one batch, each continuing its own sequence: stored whole.
        log.append_rows(_rows(stored_events("run-b", 2) + stored_events("run-a", 1, first=6)))
        assert [e.seq for e in log.read("run-a")] == [1, 2, 3, 4, 5, 6]
        assert [e.seq for e in log.read("run-b")] == [1, 2]
        # A batch whose numbers skip inside it: refused whole, nothing stored.
        skipping = stored_events("run-a", 1, first=7) + stored_events("run-a", 1, first=9)
        with pytest.raises(SequenceError, match=r"run run-a: event 9 leaves a gap"):
            log.append_rows(_rows(skipping))
        assert log.last_event("run-a") == stored_events("run-a", 1, first=6)[0]


def test_rows_from_a_stale_writer_are_refused_and_the_next_batch_is_judged_afresh(
    db_path: Path,
) -> None:
    with SqliteEventLog(db_path) as first, SqliteEventLog(db_path) as second:
        first.append_rows(_rows(stored_events("run-a", 1, first=4)))
        second.append_rows(_rows(stored_events("run-a", 1, first=5)))  # it has not seen 4
        with pytest.raises(SequenceError, match="another writer stored events"):
            first.append_rows(_rows(stored_events("run-a", 1, first=5, tag="rival")))
        first.append_rows(_rows(stored_events("run-a", 1, first=6)))
        assert [e.seq for e in second.read("run-a")] == [1, 2, 3, 4, 5, 6]
