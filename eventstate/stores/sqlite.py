"""The default event store: one plain SQLite file, through sqlite-utils.

One row per event, ``(run_id, seq)`` the primary key, the host indexed. The
database itself refuses UPDATE and DELETE on the events table (triggers), so
the log stays append-only whatever program opens the file. WAL mode with
``synchronous=NORMAL``: a committed batch survives a crash of the process.

sqlite-utils builds the schema and serves reads; the append path uses the
connection's ``executemany`` inside one transaction per batch, which runs at
twice the speed of ``insert_all`` here.

No ``sqlite3`` error leaves this module: each becomes a
:class:`~eventstate.errors.StoreError` naming the file --
:class:`~eventstate.errors.StoreLockedError` when another connection holds the
lock, :class:`~eventstate.errors.StoreCorruptError` when the file is not a
database or a damaged one, :class:`~eventstate.errors.SequenceError` when
another writer stored the same sequence numbers first.
"""

from __future__ import annotations

import os
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import sqlite_utils

from eventstate.errors import (
    SequenceError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreNotFoundError,
)
from eventstate.stores.base import EventLog, RunSummary, StoredEvent, check_sequence
from eventstate.stores.snapshots import SnapshotStore

__all__ = ["SCHEMA_VERSION", "SqliteEventLog", "SqliteSnapshotStore", "open_sqlite_url"]

#: The version of the database layout this module writes and reads.
SCHEMA_VERSION = 1

#: How long, in seconds, a write waits for another connection's lock by default.
DEFAULT_TIMEOUT = 5.0

_MEMORY = ":memory:"

_COLUMNS = ("run_id", "seq", "type", "version", "timestamp", "host", "payload", "prev_hash", "hash")
_INSERT = f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM events"

_APPEND_ONLY_TRIGGERS = {
    "events_no_update": "UPDATE",
    "events_no_delete": "DELETE",
}

# SQLite's primary result codes (the low byte of an extended code), as Python 3.11+
# reports them in ``sqlite_errorcode``; older Pythons are judged by the message.
_BUSY, _LOCKED, _CORRUPT, _NOTADB = 5, 6, 11, 26
_PRIMARY_KEY = 1555  # SQLITE_CONSTRAINT_PRIMARYKEY


def _store_error(path: str, error: sqlite3.Error, action: str) -> StoreError:
    """The :class:`StoreError` for ``error``, met on the log at ``path`` while trying to
    ``action`` ("append", "read", ...): one line, naming the file."""
    text = " ".join(str(error).split())  # one line, whatever the driver said
    code = getattr(error, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary in (_BUSY, _LOCKED) or (primary is None and "is locked" in text):
        return StoreLockedError(
            f"{path} is locked by another connection: cannot {action} ({text}); try again"
        )
    if primary == _NOTADB or (primary is None and "not a database" in text):
        return StoreCorruptError(f"{path} is not an eventstate SQLite log ({text})")
    if primary == _CORRUPT or (primary is None and "malformed" in text):
        return StoreCorruptError(f"{path} is a damaged SQLite database: cannot {action} ({text})")
    if isinstance(error, sqlite3.ProgrammingError) and "closed" in text:
        return StoreError(f"{path}: cannot {action}: the log is closed")
    return StoreError(f"{path}: cannot {action}: {text}")


def _is_primary_key_clash(error: sqlite3.IntegrityError) -> bool:
    """Whether ``error`` is an insert refused because its ``(run_id, seq)`` is stored."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return "UNIQUE constraint failed" in str(error)
    return bool(code == _PRIMARY_KEY)


def open_sqlite_url(url: str, *, create: bool = True) -> SqliteEventLog:
    """The SQLite log a ``sqlite://`` URL names, read as SQLAlchemy reads such URLs.

    ``sqlite:///runs/x.db`` is the relative path ``runs/x.db``,
    ``sqlite:////var/log/x.db`` the absolute ``/var/log/x.db``; ``sqlite://``
    and ``sqlite:///:memory:`` a private in-memory database. The path is taken
    as written: no ``~`` expansion, no percent-decoding, no ``?`` options.

    Raises:
        StoreError: the URL names a host, no file, or options; or the log
            cannot be opened (see :class:`SqliteEventLog`).
    """
    rest = url.partition("://")[2]
    if rest in ("", f"/{_MEMORY}"):
        return SqliteEventLog(_MEMORY, create=create)
    if not rest.startswith("/"):
        raise StoreError(
            "a sqlite URL names no host: write sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    path = rest[1:]
    if not path:
        # SQLAlchemy reads this as in-memory: here it is more likely an empty variable.
        raise StoreError(
            f"{url} names no file: give a path, or sqlite:// for an in-memory database"
        )
    if "?" in path:
        raise StoreError(f"{url}: sqlite URLs take no options (nothing after '?')")
    return SqliteEventLog(path, create=create)


class SqliteEventLog(EventLog):
    """An event store in the SQLite file at ``path``.

    Args:
        path: The database file; ``":memory:"`` for a private in-memory database.
        create: Create the file and schema when missing. With False, a missing
            file is a :class:`StoreNotFoundError` (what a reader of past runs wants).
        timeout: How many seconds a write waits for another connection's lock
            before it is a :class:`StoreLockedError`.

    Raises:
        StoreCorruptError: the file is not a SQLite database, or a damaged one.
        StoreNotFoundError: (with ``create=False``) there is no log at ``path``.
        StoreError: the file is another program's database, was written by a
            newer eventstate, or cannot be opened.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.path = str(path)
        if not create and self.path != _MEMORY:
            file = Path(self.path)
            # An empty file is an empty SQLite database: opening it would write to it.
            if not file.exists() or (file.is_file() and file.stat().st_size == 0):
                raise StoreNotFoundError(f"no event log at {self.path}")
        self._last_seqs: dict[str, int] = {}
        if create and self.path != _MEMORY:
            _create_private(self.path)
        try:
            conn = sqlite3.connect(self.path, timeout=timeout)
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "open the log") from error
        try:
            self.db = sqlite_utils.Database(conn)
            self._prepare(create)
        except sqlite3.Error as error:
            conn.close()
            raise _store_error(self.path, error, "open the log") from error
        except BaseException:
            conn.close()
            raise

    def _prepare(self, create: bool) -> None:
        db = self.db
        if self.path != _MEMORY:
            db.enable_wal()
        db.execute("PRAGMA synchronous=NORMAL")
        meta = db["eventstate_meta"]
        if meta.exists():
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
            raise StoreNotFoundError(f"no event log at {self.path}")
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
        """Store ``events`` in one transaction; see :meth:`EventLog.append`.

        Raises:
            SequenceError: the batch breaks a run's sequence, or another writer
                stored events at the same sequence numbers first.
            StoreLockedError: another connection kept the lock past the timeout.
        """
        if not events:
            return
        try:
            try:
                updated = check_sequence(events, self._last_seq)
            except SequenceError:
                if not self._last_seqs:
                    raise
                # What we know of a run's end may be stale: another writer may have
                # appended to it. Judge the batch again against the database.
                self._last_seqs.clear()
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
            with self.db.atomic():
                self.db.conn.executemany(_INSERT, rows)
        except sqlite3.IntegrityError as error:
            # Another writer appended to the same run since we last looked: what we
            # know of every run's end may be stale.
            self._last_seqs.clear()
            if _is_primary_key_clash(error):
                raise SequenceError(
                    f"{self.path}: append refused: another writer stored events at "
                    f"these sequence numbers first ({error})"
                ) from error
            raise _store_error(self.path, error, "append") from error
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "append") from error
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
        try:
            cursor = self.db.execute(sql + " ORDER BY seq", params)
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "read") from error
        return self._rows(cursor)

    def _rows(self, cursor: sqlite3.Cursor) -> Iterator[StoredEvent]:
        # The rows are fetched as they are iterated: a driver error can come at any step.
        try:
            for row in cursor:
                yield StoredEvent(*row)
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "read") from error

    def runs(self) -> list[RunSummary]:
        """Every run, in the order their first events were stored.

        A run is listed from any of its events -- not only its first -- so a
        run missing its start is still there for ``verify`` to report.
        """
        try:
            rows = self.db.execute(
                "SELECT run_id, MIN(timestamp), MAX(seq) FROM events "
                "GROUP BY run_id ORDER BY MIN(rowid)"
            ).fetchall()
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "list the runs") from error
        return [RunSummary(run_id=r[0], started=r[1], last_seq=r[2]) for r in rows]

    def last_event(self, run_id: str) -> StoredEvent | None:
        """The last event of ``run_id``, or None."""
        try:
            row = self.db.execute(
                f"{_SELECT} WHERE run_id = ? ORDER BY seq DESC LIMIT 1", [run_id]
            ).fetchone()
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "read") from error
        return StoredEvent(*row) if row else None

    def _make_snapshot_store(self) -> SnapshotStore:
        return SqliteSnapshotStore(self.db, self.path)

    def check_guards(self) -> list[str]:
        """The append-only triggers that are missing from the database."""
        try:
            present = {
                row[0]
                for row in self.db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
                )
            }
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "check the guards") from error
        return [
            f"the append-only trigger {name} is missing: {statement} is not refused"
            for name, statement in _APPEND_ONLY_TRIGGERS.items()
            if name not in present
        ]

    def flush(self) -> None:
        """Every append is already committed; nothing is pending here."""

    def close(self) -> None:
        """Close the database connection (closing twice does nothing)."""
        try:
            self.db.close()
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "close the log") from error


class SqliteSnapshotStore(SnapshotStore):
    """Snapshots in a ``snapshots`` table beside the events (not append-only: a cache).

    Stored zlib-compressed: views' JSON repeats itself (host names, counter names).

    Args:
        db: The log's database.
        path: The log's file, for error messages.
    """

    def __init__(self, db: sqlite_utils.Database, path: str) -> None:
        self.db = db
        self.path = path
        try:
            if not db["snapshots"].exists():
                db["snapshots"].create(  # type: ignore[union-attr]
                    {"run_id": str, "version": str, "seq": int, "data": bytes},
                    pk=("run_id", "version", "seq"),
                )
        except sqlite3.Error as error:
            raise _store_error(path, error, "make the snapshot table") from error

    def latest(self, run_id: str, seq: int, version: str) -> tuple[int, str] | None:
        """See :meth:`SnapshotStore.latest`."""
        try:
            row = self.db.execute(
                "SELECT seq, data FROM snapshots WHERE run_id = ? AND version = ? AND seq <= ? "
                "ORDER BY seq DESC LIMIT 1",
                [run_id, version, seq],
            ).fetchone()
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "read a snapshot") from error
        return None if row is None else (row[0], zlib.decompress(row[1]).decode())

    def put(self, run_id: str, seq: int, version: str, data: str) -> None:
        """See :meth:`SnapshotStore.put`."""
        try:
            with self.db.atomic():
                self.db.execute(
                    "INSERT OR REPLACE INTO snapshots (run_id, version, seq, data) "
                    "VALUES (?, ?, ?, ?)",
                    [run_id, version, seq, zlib.compress(data.encode(), 1)],
                )
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "write a snapshot") from error


def _create_private(path: str) -> None:
    # A new log is the owner's alone (0600): it holds who ran what, where. SQLite
    # gives its -wal and -shm files the same permissions as the database file.
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return  # an existing log (or one another process just made) keeps its mode
    except OSError:
        return  # a missing directory and the like: sqlite3 says so, in its words
    os.close(fd)
