"""The SQLite store keeps the store contract, and the database enforces append-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from eventstate import Config, Inventory, State, StateStage
from eventstate.errors import StoreError
from eventstate.replay import verify_run
from eventstate.stores import EventLog, SqliteEventLog
from eventstate.stores.sqlite import SCHEMA_VERSION
from eventstate.testing import EventLogContract, stored_events


class TestSqliteEventLog(EventLogContract):
    def create_log(self, tmp_path: Path) -> EventLog:
        tmp_path.mkdir(parents=True, exist_ok=True)
        return SqliteEventLog(tmp_path / "events.db")


class TestSqliteInMemory(EventLogContract):
    def create_log(self, tmp_path: Path) -> EventLog:
        return SqliteEventLog(":memory:")


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


def test_a_non_sqlite_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not events\n" * 100)
    with pytest.raises(StoreError, match="is not an eventstate SQLite log") as caught:
        SqliteEventLog(path)
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
    with pytest.raises(StoreError, match="no event log at"):
        SqliteEventLog(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


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
