"""The default event store: one plain SQLite file, through sqlite-utils.

One row per event, ``(run_id, seq)`` the primary key, the host indexed. The
database itself refuses UPDATE and DELETE on the events table (triggers), so
the log stays append-only whatever program opens the file. WAL mode with
``synchronous=NORMAL``: a committed batch survives a crash of the process.

sqlite-utils builds the schema and serves reads; the append path uses the
connection's ``executemany`` inside one transaction per batch, which runs at
twice the speed of ``insert_all`` here.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import sqlite_utils

from eventstate.errors import SequenceError, StoreError
from eventstate.stores.base import EventLog, RunSummary, StoredEvent, check_sequence
from eventstate.stores.snapshots import SnapshotStore, SqliteSnapshotStore

__all__ = ["SCHEMA_VERSION", "SqliteEventLog"]

#: The version of the database layout this module writes and reads.
SCHEMA_VERSION = 1

_COLUMNS = ("run_id", "seq", "type", "version", "timestamp", "host", "payload", "prev_hash", "hash")
_INSERT = f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM events"

_APPEND_ONLY_TRIGGERS = {
    "events_no_update": "UPDATE",
    "events_no_delete": "DELETE",
}


class SqliteEventLog(EventLog):
    """An event store in the SQLite file at ``path``.

    Args:
        path: The database file; ``":memory:"`` for a private in-memory database.
        create: Create the file and schema when missing. With False, a missing
            file is a :class:`StoreError` (what a reader of past runs wants).

    Raises:
        StoreError: the file is not a SQLite database, or was written by a
            newer eventstate, or (with ``create=False``) does not exist.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = str(path)
        if not create and self.path != ":memory:":
            file = Path(self.path)
            # An empty file is an empty SQLite database: opening it would write to it.
            if not file.exists() or (file.is_file() and file.stat().st_size == 0):
                raise StoreError(f"no event log at {self.path}")
        try:
            if self.path == ":memory:":
                self.db = sqlite_utils.Database(memory=True)
            else:
                self.db = sqlite_utils.Database(self.path)
            self._prepare(create)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} is not an eventstate SQLite log ({error})") from None
        self._last_seqs: dict[str, int] = {}

    def _prepare(self, create: bool) -> None:
        db = self.db
        if self.path != ":memory:":
            db.enable_wal()
        db.execute("PRAGMA synchronous=NORMAL")
        meta = db["eventstate_meta"]
        if meta.exists():  # type: ignore[union-attr]
            row = db.execute(
                "SELECT value FROM eventstate_meta WHERE key = 'schema_version'"
            ).fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer eventstate (schema {version}; "
                    f"this one reads up to {SCHEMA_VERSION}): upgrade eventstate"
                )
            return
        if db.table_names():
            raise StoreError(f"{self.path} is a SQLite database, but not an eventstate log")
        if not create:
            raise StoreError(f"no event log at {self.path}")
        with db.atomic():
            db["eventstate_meta"].create({"key": str, "value": str}, pk="key")  # type: ignore[union-attr]
            db["eventstate_meta"].insert(  # type: ignore[union-attr]
                {"key": "schema_version", "value": str(SCHEMA_VERSION)}
            )
            db["events"].create(  # type: ignore[union-attr]
                {
                    "run_id": str,
                    "seq": int,
                    "type": str,
                    "version": int,
                    "timestamp": str,
                    "host": str,
                    "payload": str,
                    "prev_hash": str,
                    "hash": str,
                },
                pk=("run_id", "seq"),
                not_null={
                    "run_id",
                    "seq",
                    "type",
                    "version",
                    "timestamp",
                    "payload",
                    "prev_hash",
                    "hash",
                },
            )
            db["events"].create_index(["host"], index_name="events_host")  # type: ignore[union-attr]
            for name, statement in _APPEND_ONLY_TRIGGERS.items():
                db.execute(
                    f"CREATE TRIGGER {name} BEFORE {statement} ON events BEGIN "
                    f"SELECT RAISE(ABORT, 'eventstate: the events table is append-only "
                    f"({statement} refused)'); END"
                )

    def append(self, events: Sequence[StoredEvent]) -> None:
        """Store ``events`` in one transaction; see :meth:`EventLog.append`."""
        if not events:
            return
        updated = check_sequence(events, self._last_seq)
        rows = [
            (
                e.run_id,
                e.seq,
                e.type,
                e.version,
                e.timestamp,
                e.host,
                e.payload,
                e.prev_hash,
                e.hash,
            )
            for e in events
        ]
        try:
            with self.db.atomic():
                self.db.conn.executemany(_INSERT, rows)
        except sqlite3.IntegrityError as error:
            # Another writer appended to the same run since we last looked.
            self._last_seqs.clear()
            raise SequenceError(f"append refused by the database: {error}") from None
        self._last_seqs.update(updated)

    def _last_seq(self, run_id: str) -> int:
        last = self._last_seqs.get(run_id)
        if last is None:
            row = self.db.execute(
                "SELECT MAX(seq) FROM events WHERE run_id = ?", [run_id]
            ).fetchone()
            last = self._last_seqs[run_id] = row[0] or 0
        return last

    def read(self, run_id: str, first: int = 1, last: int | None = None) -> Iterator[StoredEvent]:
        """The events of ``run_id`` with ``first <= seq <= last``, in order."""
        sql = f"{_SELECT} WHERE run_id = ? AND seq >= ?"
        params: list[object] = [run_id, first]
        if last is not None:
            sql += " AND seq <= ?"
            params.append(last)
        cursor = self.db.execute(sql + " ORDER BY seq", params)
        return (StoredEvent(*row) for row in cursor)

    def runs(self) -> list[RunSummary]:
        """Every run, in the order their first events were stored.

        A run is listed from any of its events -- not only its first -- so a
        run missing its start is still there for ``verify`` to report.
        """
        rows = self.db.execute(
            "SELECT run_id, MIN(timestamp), MAX(seq) FROM events "
            "GROUP BY run_id ORDER BY MIN(rowid)"
        ).fetchall()
        return [RunSummary(run_id=r[0], started=r[1], last_seq=r[2]) for r in rows]

    def last_event(self, run_id: str) -> StoredEvent | None:
        """The last event of ``run_id``, or None."""
        row = self.db.execute(
            f"{_SELECT} WHERE run_id = ? ORDER BY seq DESC LIMIT 1", [run_id]
        ).fetchone()
        return StoredEvent(*row) if row else None

    def _make_snapshot_store(self) -> SnapshotStore:
        return SqliteSnapshotStore(self.db)

    def check_guards(self) -> list[str]:
        """The append-only triggers that are missing from the database."""
        present = {
            row[0]
            for row in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
            )
        }
        return [
            f"the append-only trigger {name} is missing: {statement} is not refused"
            for name, statement in _APPEND_ONLY_TRIGGERS.items()
            if name not in present
        ]

    def flush(self) -> None:
        """Every append is already committed; nothing is pending here."""

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()
