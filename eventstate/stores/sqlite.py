"""The default event store: one plain SQLite file, through sqlite-utils.

One row per event, ``(run_id, seq)`` the primary key, the host indexed. The
database itself refuses UPDATE and DELETE on the events table (triggers), so
the log stays append-only whatever program opens the file. WAL mode with
``synchronous=NORMAL``: a committed batch survives a crash of the process.

Readers never write. A log opened ``read_only`` is opened with SQLite's
``mode=ro``: nothing it does can change the file, and it reads a log its user
may read but not write (a 0444 file, another user's file). SQLite reads a WAL
database without write access only when its ``-wal`` and ``-shm`` files exist
or can be made; when neither holds (another user's log, at rest, in a
directory the reader cannot write) the file is read ``immutable``, without
locks -- safe only while nothing writes, so every query is checked against
the file's identity afterwards and asked again, with locks, once a writer
has come (its ``-wal`` file appears, or the file changes).

Writers never trip each other: every connection waits ``timeout`` seconds
for a lock (SQLite's busy timeout), and what SQLite refuses at once rather
than waiting for (a lock it could deadlock on, a database another process is
creating) is tried again until that time is up. A write transaction takes
the write lock when it begins (``BEGIN IMMEDIATE``), so it never fails
half-way on a snapshot another writer made stale; the schema is made in one
such transaction, after looking again, so any number of first writers may
race to create the same new log.

The file is sqlite-utils' to browse (the views below); this module itself
speaks plain ``sqlite3`` (autocommit connections, each transaction its own):
importing sqlite-utils imports numpy and pandas when they are installed --
most of a read command's start-up -- for nothing a store does. The schema is
plain DDL (one transaction), and the append path the connection's
``executemany``, which runs at twice the speed of ``insert_all``: the recorder
hands over its rows as plain tuples in the table's column order
(:meth:`SqliteEventLog.append_rows`), and a batch of one run's consecutive
events is checked against the run's end at C speed. A writer's page cache is
16 MiB: a run of many hosts touches every host's last index page between two
commits.

A writer also makes the SQL views a browser reads -- ``runs``,
``host_results``, ``op_results``, ``failures`` -- when it opens a log whose
views are missing or older (:mod:`eventstate.stores.sqlite_views`): stored
queries, nothing on the append path; readers leave the file as it is.

No ``sqlite3`` error leaves this module: each becomes a
:class:`~eventstate.errors.StoreError` naming the file --
:class:`~eventstate.errors.StoreLockedError` when another connection held the
lock past the timeout, :class:`~eventstate.errors.StoreCorruptError` when the
file is not a database or a damaged one, :class:`~eventstate.errors.SequenceError`
when another writer stored the same sequence numbers first.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
import urllib.parse
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from typing import TypeVar

from eventstate.errors import (
    SequenceError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreNotFoundError,
)
from eventstate.stores.base import (
    EventLog,
    RunSummary,
    StoredEvent,
    StoredRow,
    check_sequence,
)
from eventstate.stores.snapshots import SnapshotStore
from eventstate.stores.sqlite_views import install_views, views_outdated

__all__ = [
    "DEFAULT_TIMEOUT",
    "SCHEMA_VERSION",
    "SqliteEventLog",
    "SqliteSnapshotStore",
    "open_sqlite_url",
]

#: The version of the database layout this module writes and reads.
SCHEMA_VERSION = 1

#: How long, in seconds, a connection waits for another connection's lock by default.
DEFAULT_TIMEOUT = 30.0

_MEMORY = ":memory:"

#: The page cache of a writer's connection, in KiB (SQLite's default is 2,000). Appends
#: touch the last page of the host index for every host of the run: past a few hundred
#: hosts those pages outgrow the default cache, and each insert reads one back.
WRITER_CACHE_KIB = 16384
_WRITER_PRAGMAS: tuple[str, ...] = (f"PRAGMA cache_size=-{WRITER_CACHE_KIB}",)

_COLUMNS = ("run_id", "seq", "type", "version", "timestamp", "host", "payload", "prev_hash", "hash")
_INSERT = f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_RUN_ID, _SEQ = itemgetter(0), itemgetter(1)  # a row's run and sequence number
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM events"
#: Every run id, hopping along the primary key; each run's lowest event and last seq.
_RUNS = (
    "WITH RECURSIVE ids (run_id) AS (SELECT (SELECT run_id FROM events ORDER BY run_id LIMIT 1)"
    " UNION ALL SELECT (SELECT e.run_id FROM events e WHERE e.run_id > ids.run_id"
    " ORDER BY e.run_id LIMIT 1) FROM ids WHERE ids.run_id IS NOT NULL)"
    " SELECT ids.run_id, first.timestamp,"
    " (SELECT e.seq FROM events e WHERE e.run_id = ids.run_id ORDER BY e.seq DESC LIMIT 1)"
    " FROM ids JOIN events first ON first.rowid = (SELECT e.rowid FROM events e"
    " WHERE e.run_id = ids.run_id ORDER BY e.seq LIMIT 1)"
    " WHERE ids.run_id IS NOT NULL ORDER BY first.rowid"
)
#: The run whose first event was stored last: read backwards from the newest row.
_NEWEST_RUN = "SELECT run_id FROM events WHERE seq = 1 ORDER BY rowid DESC LIMIT 1"

_APPEND_ONLY_TRIGGERS = {
    "events_no_update": "UPDATE",
    "events_no_delete": "DELETE",
}

#: Each append-only trigger's SQL, by name (``verify`` compares the stored SQL with it).
_TRIGGERS = {
    name: f"CREATE TRIGGER {name} BEFORE {statement} ON events BEGIN "
    f"SELECT RAISE(ABORT, 'eventstate: the events table is append-only "
    f"({statement} refused)'); END"
    for name, statement in _APPEND_ONLY_TRIGGERS.items()
}

_SNAPSHOTS_TABLE = (
    'CREATE TABLE IF NOT EXISTS "snapshots" (\n   "run_id" TEXT,\n   "version" TEXT,\n'
    '   "seq" INTEGER,\n   "data" BLOB,\n   PRIMARY KEY ("run_id", "version", "seq")\n)'
)

#: The schema of a new log, statement by statement (the layout sqlite-utils made before).
_SCHEMA = (
    'CREATE TABLE "eventstate_meta" (\n   "key" TEXT PRIMARY KEY,\n   "value" TEXT\n)',
    f"INSERT INTO eventstate_meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}')",
    'CREATE TABLE "events" (\n'
    '   "run_id" TEXT NOT NULL,\n   "seq" INTEGER NOT NULL,\n   "type" TEXT NOT NULL,\n'
    '   "version" INTEGER NOT NULL,\n   "timestamp" TEXT NOT NULL,\n   "host" TEXT,\n'
    '   "payload" TEXT NOT NULL,\n   "prev_hash" TEXT NOT NULL,\n   "hash" TEXT NOT NULL,\n'
    '   PRIMARY KEY ("run_id", "seq")\n)',
    'CREATE INDEX "events_host"\n    ON "events" ("host")',
    *_TRIGGERS.values(),
    _SNAPSHOTS_TABLE,
)

#: The key of the log's id in ``eventstate_meta`` (made with the log; added to an older
#: log by its first writer).
_LOG_ID_KEY = "log_id"


def _normalized_sql(sql: str | None) -> str:
    """``sql`` with every run of whitespace one space: how it is compared with ours."""
    return " ".join((sql or "").split())


#: The guards as this module makes them: each trigger on ``events`` by name, and the table.
_EXPECTED_GUARDS = {name: _normalized_sql(sql) for name, sql in _TRIGGERS.items()}
_EXPECTED_EVENTS_TABLE = _normalized_sql(next(s for s in _SCHEMA if 'TABLE "events"' in s))

#: Rows per query when reading without locks (each batch is checked before it is used).
_UNLOCKED_BATCH = 1000

#: How many times a query read without locks is asked again before giving up.
_UNLOCKED_ATTEMPTS = 50

# SQLite's primary result codes (the low byte of an extended code), as Python 3.11+
# reports them in ``sqlite_errorcode``; older Pythons are judged by the message.
_BUSY, _LOCKED, _READONLY, _CORRUPT, _CANTOPEN, _NOTADB = 5, 6, 8, 11, 14, 26
_PRIMARY_KEY = 1555  # SQLITE_CONSTRAINT_PRIMARYKEY
_READONLY_DIRECTORY = 1544  # no -wal/-shm, and no right to make them

T = TypeVar("T")


def _primary_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def _is_busy(error: sqlite3.Error) -> bool:
    """Whether ``error`` is another connection's lock (worth waiting for and trying again)."""
    primary = _primary_code(error)
    if primary is None:
        return isinstance(error, sqlite3.OperationalError) and "is locked" in str(error)
    return primary in (_BUSY, _LOCKED)


def _cannot_make_wal_files(error: sqlite3.Error) -> bool:
    """Whether ``error`` says SQLite could not make a WAL log's -wal or -shm file."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        text = str(error)
        return "readonly database" in text or "unable to open" in text
    return code == _READONLY_DIRECTORY or code & 0xFF == _CANTOPEN


def _store_error(path: str, error: sqlite3.Error, action: str) -> StoreError:
    """The :class:`StoreError` for ``error``, met on the log at ``path`` while trying to
    ``action`` ("append", "read", ...): one line, naming the file."""
    text = " ".join(str(error).split())  # one line, whatever the driver said
    primary = _primary_code(error)
    if _is_busy(error):
        return StoreLockedError(
            f"{path} is locked by another connection: cannot {action} ({text}); try again"
        )
    if primary == _READONLY or (primary is None and "readonly database" in text):
        return StoreError(f"{path} cannot be written here: cannot {action} ({text})")
    if primary == _NOTADB or (primary is None and "not a database" in text):
        return StoreCorruptError(f"{path} is not an eventstate SQLite log ({text})")
    column = _undecodable_column(error)
    if column is not None:
        return StoreCorruptError(
            f"{path} is a damaged log: cannot {action}: a row's {column} holds text "
            "that is not UTF-8"
        )
    if primary == _CORRUPT or (primary is None and "malformed" in text):
        return StoreCorruptError(f"{path} is a damaged SQLite database: cannot {action} ({text})")
    if isinstance(error, sqlite3.ProgrammingError) and "closed" in text:
        return StoreError(f"{path}: cannot {action}: the log is closed")
    return StoreError(f"{path}: cannot {action}: {text}")


def _shown(value: object, limit: int = 40) -> str:
    """A stored value as an error shows it: its type and the start of its repr."""
    kind = {str: "text", bytes: "a blob", int: "an integer", float: "a real"}.get(
        type(value), "null" if value is None else type(value).__name__
    )
    text = repr(value[: limit + 1] if isinstance(value, (str, bytes)) else value)
    return f"{kind} {text[:limit]}{'...' if len(text) > limit else ''}"


def _checked_event(path: str, row: tuple[object, ...]) -> StoredEvent:
    """The :class:`StoredEvent` of a fetched row, once every column holds its type.

    Raises:
        StoreCorruptError: a column holds a value of another type (the log is
            damaged); the error names the run, the row and the column.
    """
    run_id, seq, type_, version, timestamp, host, payload, prev_hash, hash_ = row
    # Eight type() checks: a fraction of a microsecond beside decoding the payload.
    if (
        type(seq) is int
        and type(version) is int
        and type(run_id) is str
        and type(type_) is str
        and type(timestamp) is str
        and type(payload) is str
        and type(prev_hash) is str
        and type(hash_) is str
        and (host is None or type(host) is str)
    ):
        return StoredEvent(*row)  # type: ignore[arg-type]
    where = f"run {run_id}" if type(run_id) is str else f"a run whose id is {_shown(run_id)}"
    at = f"event {seq}" if type(seq) is int else f"a row whose seq is {_shown(seq)}"
    for column, value in zip(_COLUMNS, row, strict=True):
        if column in ("seq", "version"):
            ok, wanted = type(value) is int, "an integer"
        elif column == "host":
            ok, wanted = value is None or type(value) is str, "text or null"
        else:
            ok, wanted = type(value) is str, "text"
        if not ok:
            raise StoreCorruptError(
                f"{path} is a damaged log: {where}, {at}: "
                f"its {column} is {_shown(value)}, not {wanted}"
            )
    raise AssertionError("unreachable: a column is of the wrong type")  # pragma: no cover


def _read_error(
    path: str, error: sqlite3.Error, run_id: str, last: StoredEvent | None
) -> StoreError:
    """The :class:`StoreError` for ``error``, met reading ``run_id`` after the row ``last``."""
    column = _undecodable_column(error)
    if column is not None:
        after = f"the row after event {last.seq}" if last is not None else "its first row"
        return StoreCorruptError(
            f"{path} is a damaged log: run {run_id}, {after}: "
            f"its {column} holds text that is not UTF-8"
        )
    return _store_error(path, error, f"read run {run_id}")


def _undecodable_column(error: sqlite3.Error) -> str | None:
    """The column whose TEXT was not UTF-8, if that is what ``error`` says (else None).

    SQLite keeps whatever bytes it is given as TEXT; Python reads only UTF-8.
    """
    text = str(error)
    if "Could not decode to UTF-8" not in text:
        return None
    return text.partition("column '")[2].partition("'")[0] or "a column"


def _is_primary_key_clash(error: sqlite3.IntegrityError) -> bool:
    """Whether ``error`` is an insert refused because its ``(run_id, seq)`` is stored."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return "UNIQUE constraint failed" in str(error)
    return bool(code == _PRIMARY_KEY)


def open_sqlite_url(url: str, *, create: bool = True, read_only: bool = False) -> SqliteEventLog:
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
        return SqliteEventLog(_MEMORY, create=create, read_only=read_only)
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
    return SqliteEventLog(path, create=create, read_only=read_only)


def _file_uri(path: str, options: str) -> str:
    """SQLite's ``file:`` URI of ``path`` (any characters in it quoted) with ``options``."""
    return f"file:{urllib.parse.quote(os.path.abspath(path))}?{options}"


def _identity(path: str) -> tuple[int, int, int, int]:
    """What changes when a file is written: its inode, size, and change times."""
    info = os.stat(path)
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class SqliteEventLog(EventLog):
    """An event store in the SQLite file at ``path``.

    Args:
        path: The database file; ``":memory:"`` for a private in-memory database.
        create: Create the file and schema when missing. With False, a missing
            file is a :class:`StoreNotFoundError` (what a reader of past runs wants).
        read_only: Open the log to read it only (``create`` is then ignored):
            appends and snapshots are refused, and not a byte of the file
            changes (SQLite may make its empty ``-wal`` and ``-shm`` files
            beside it, where the reader may make files: its means of locking).
        timeout: About how many seconds an operation waits for other
            connections' locks before it is a :class:`StoreLockedError`.

    Raises:
        StoreCorruptError: the file is not a SQLite database, or a damaged one.
        StoreNotFoundError: (with ``create=False`` or ``read_only``) there is no log at ``path``.
        StoreLockedError: other connections kept the database locked past ``timeout``.
        StoreError: the file is another program's database, was written by a
            newer eventstate, or cannot be opened.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        read_only: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._read_only = read_only
        create = create and not read_only
        if self.path != _MEMORY:
            self._check_path(create)
        self._last_seqs: dict[str, int] = {}
        self._log_id: str | None = None
        #: The file's identity when it was opened without locks (None: with locks).
        self._unlocked: tuple[int, int, int, int] | None = None
        if create and self.path != _MEMORY:
            _create_private(self.path)
        self.db = self._connect()
        try:
            self._query("open the log", lambda: self._prepare(create))
        except BaseException:
            self.db.close()
            raise

    def _check_path(self, create: bool) -> None:
        """Refuse, in one line, a path that cannot be a log (before SQLite is asked)."""
        if "\0" in self.path:
            raise StoreError(f"{self.path!r}: a path cannot hold a NUL byte")
        file = Path(self.path)
        try:
            if file.is_dir():
                raise StoreError(f"{self.path} is a directory, not an event log")
            # An empty file is an empty SQLite database: opening it would write to it.
            if not create and (not file.exists() or (file.is_file() and file.stat().st_size == 0)):
                raise StoreNotFoundError(f"no event log at {self.path}")
        except OSError as error:  # a name too long, a directory that may not be searched
            raise StoreError(
                f"{self.path}: cannot open the log: {error.strerror or error}"
            ) from None

    @property
    def read_only(self) -> bool:
        """Whether the log was opened to read only."""
        return self._read_only

    @property
    def log_id(self) -> str | None:
        """The id in the log's ``eventstate_meta`` (None: an older log no writer has opened
        since)."""
        return self._log_id

    # Connecting

    def _connect(self) -> _Database:
        """A connection to the file: read-only if asked, and in autocommit mode
        (this module begins and ends every transaction itself)."""
        try:
            if not self._read_only or self.path == _MEMORY:
                conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            else:
                conn = self._connect_read_only()
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "open the log") from error
        try:
            return _Database(conn)
        except sqlite3.Error as error:
            conn.close()
            raise _store_error(self.path, error, "open the log") from error

    def _connect_read_only(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            _file_uri(self.path, "mode=ro"), uri=True, timeout=self.timeout, isolation_level=None
        )
        try:
            # SQLite opens the -wal and -shm files at the first read: try one now.
            self._retry(lambda: conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone())
            self._unlocked = None
            return conn
        except sqlite3.OperationalError as error:
            conn.close()
            if not _cannot_make_wal_files(error) or os.path.exists(self.path + "-wal"):
                raise
        # No -wal file: no writer has the log open, and the file holds every commit.
        # Read it without locks; each query is checked against this identity (see _query).
        self._unlocked = _identity(self.path)
        return sqlite3.connect(
            _file_uri(self.path, "mode=ro&immutable=1"),
            uri=True,
            timeout=self.timeout,
            isolation_level=None,
        )

    def _changed_since_opened(self) -> bool:
        """Whether a log read without locks may have changed since it was opened."""
        if self._unlocked is None:
            return False
        try:
            return os.path.exists(self.path + "-wal") or _identity(self.path) != self._unlocked
        except OSError:
            return True

    def _reconnect(self) -> None:
        self.db.close()
        self.db = self._connect()

    def _prepare(self, create: bool) -> None:
        """Check the file is an eventstate log this version reads; make the schema of
        a new one (with ``create``). A writer's connection is put in WAL mode."""
        found = self._schema()
        if found == "missing" and not create:
            raise StoreNotFoundError(f"no event log at {self.path}")
        if self._read_only:
            return
        if self.path != _MEMORY:
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        for pragma in _WRITER_PRAGMAS:
            self.db.execute(pragma)
        if found == "missing":
            with self._transaction():
                # Another first writer may have made it since we looked.
                if self._schema() == "missing":
                    for statement in _SCHEMA:
                        self.db.execute(statement)
                    self._add_log_id()
        elif self._log_id is None:
            with self._transaction():
                self._add_log_id()  # a log an older eventstate made has none
        if views_outdated(self.db.conn):
            # The SQL views a browser reads (runs, op_results...): made by the writer once,
            # never on the append path; readers leave a log as they found it.
            with self._transaction():
                install_views(self.db.conn)

    def _add_log_id(self) -> None:
        # OR IGNORE, then read back: a racing writer's id, if it was first, is the log's.
        self.db.execute(
            "INSERT OR IGNORE INTO eventstate_meta (key, value) VALUES (?, ?)",
            [_LOG_ID_KEY, uuid.uuid4().hex],
        )
        self._log_id = self._read_log_id()

    def _read_log_id(self) -> str | None:
        row = self.db.execute(
            "SELECT value FROM eventstate_meta WHERE key = ?", [_LOG_ID_KEY]
        ).fetchone()
        return row[0] if row and isinstance(row[0], str) else None

    def _schema(self) -> str:
        """``"eventstate"`` for a log this version reads, ``"missing"`` for an empty database.

        Raises:
            StoreError: another program's database, or a newer eventstate's log.
        """
        db = self.db
        tables = db.table_names()  # one statement: one moment, whoever is making the schema
        if "eventstate_meta" not in tables:
            if tables:
                raise StoreError(f"{self.path} is a SQLite database, but not an eventstate log")
            return "missing"
        row = db.execute(
            "SELECT value FROM eventstate_meta WHERE key = 'schema_version'"
        ).fetchone()
        try:
            version = int(row[0]) if row else 0
        except (TypeError, ValueError):
            raise StoreCorruptError(
                f"{self.path} is a damaged log: its schema version is {_shown(row[0])}"
            ) from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer eventstate (schema {version}; "
                f"this one reads up to {SCHEMA_VERSION}): upgrade eventstate"
            )
        self._log_id = self._read_log_id()
        return "eventstate"

    # Waiting for locks

    def _retry(self, attempt: Callable[[], T]) -> T:
        """``attempt()``, tried again while another connection's lock refuses it, until
        :attr:`timeout` seconds have passed; then its last ``sqlite3`` error is raised.

        SQLite's own busy timeout waits inside each attempt; this loop is for what
        it refuses at once (a lock it could deadlock on, a schema being made).
        """
        deadline = time.monotonic() + self.timeout
        pause = 0.002
        while True:
            try:
                return attempt()
            except sqlite3.Error as error:
                left = deadline - time.monotonic()
                if not _is_busy(error) or left <= 0:
                    raise
            # Jittered, growing pauses: racing processes do not retry in step.
            time.sleep(min(left, pause * random.uniform(0.5, 1.5)))
            pause = min(pause * 2, 0.1)

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db.conn)

    def _query(self, action: str, ask: Callable[[], T]) -> T:
        """The answer of the read ``ask()``, waiting out locks; its ``sqlite3`` errors
        become :class:`StoreError`. A log read without locks is asked again, with a
        new connection, when the file may have changed while it was asked."""
        for _ in range(_UNLOCKED_ATTEMPTS):
            try:
                answer = self._retry(ask)
            except sqlite3.Error as error:
                if self._changed_since_opened():
                    self._reconnect()  # a writer came: what failed may have been its work
                    continue
                raise _store_error(self.path, error, action) from error
            if not self._changed_since_opened():
                return answer
            self._reconnect()
        raise StoreLockedError(
            f"{self.path} kept changing while it was read: cannot {action}; try again"
        )

    # Writing

    def _refuse_writes(self, action: str) -> None:
        if self._read_only:
            raise StoreError(f"{self.path} is opened read-only: cannot {action}")

    def append(self, events: Sequence[StoredEvent]) -> None:
        """Store ``events`` in one transaction; see :meth:`EventLog.append`.

        Raises:
            SequenceError: the batch breaks a run's sequence, or another writer
                stored events at the same sequence numbers first.
            StoreLockedError: other connections kept the lock past the timeout.
            StoreError: the log is opened read-only.
        """
        if not events:
            return
        self._refuse_writes("append")
        self._insert(
            [
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
        )

    def append_rows(self, rows: Sequence[StoredRow]) -> None:
        """:meth:`append` of rows already in the table's column order (the recorder's):
        inserted as they are, no :class:`StoredEvent` built. Same checks, same errors."""
        if not rows:
            return
        self._refuse_writes("append")
        self._insert(rows)

    def _insert(self, rows: Sequence[StoredRow]) -> None:
        """Insert ``rows`` in one transaction, once they continue their runs' sequences."""

        def attempt() -> dict[str, int]:
            with self._transaction():
                try:
                    updated = self._sequence_after(rows)
                except SequenceError:
                    if not self._last_seqs:
                        raise
                    # What we know of a run's end may be stale: another writer may have
                    # appended to it. Judge the batch again against the database.
                    self._last_seqs.clear()
                    updated = self._sequence_after(rows)
                self.db.conn.executemany(_INSERT, rows)
            return updated

        try:
            updated = self._retry(attempt)
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
            self._last_seqs.clear()
            raise _store_error(self.path, error, "append") from error
        except SequenceError:
            self._last_seqs.clear()
            raise
        self._last_seqs.update(updated)

    def _sequence_after(self, rows: Sequence[StoredRow]) -> dict[str, int]:
        """Each run's last sequence number once ``rows`` are stored; raises
        :class:`SequenceError` (as :func:`check_sequence` words it) if they leave a gap
        or repeat one."""
        run_id, first = rows[0][0], rows[0][1]
        last = first + len(rows) - 1
        # The writer's batch -- one run, consecutive numbers -- is checked at C speed;
        # anything else goes through the general check, which names what is wrong.
        if (
            type(first) is int
            and rows[-1][1] == last
            and first == self._last_seq(run_id) + 1
            and list(map(_SEQ, rows)) == list(range(first, last + 1))
            and set(map(_RUN_ID, rows)) == {run_id}
        ):
            return {run_id: last}
        return check_sequence([StoredEvent(*row) for row in rows], self._last_seq)

    def _last_seq(self, run_id: str) -> int:
        last = self._last_seqs.get(run_id)
        if last is None:
            row = self.db.execute(
                "SELECT MAX(seq) FROM events WHERE run_id = ?", [run_id]
            ).fetchone()
            last = self._last_seqs[run_id] = row[0] or 0
        return last

    # Reading

    def read(self, run_id: str, first: int = 1, last: int | None = None) -> Iterator[StoredEvent]:
        """The events of ``run_id`` with ``first <= seq <= last``, in order."""
        sql = f"{_SELECT} WHERE run_id = ? AND seq >= ?"
        params: list[object] = [run_id, first]
        if last is not None:
            sql += " AND seq <= ?"
            params.append(last)
        if self._unlocked is not None:
            return self._read_in_batches(sql, params, run_id)
        try:
            cursor = self._retry(lambda: self.db.execute(sql + " ORDER BY seq", params))
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "read") from error
        return self._rows(cursor, run_id)

    def _rows(self, cursor: sqlite3.Cursor, run_id: str) -> Iterator[StoredEvent]:
        # The rows are fetched as they are iterated: a driver error can come at any step.
        event = None
        try:
            for row in cursor:
                event = _checked_event(self.path, row)
                yield event
        except sqlite3.Error as error:
            raise _read_error(self.path, error, run_id, event) from error

    def _read_in_batches(
        self, sql: str, params: list[object], run_id: str
    ) -> Iterator[StoredEvent]:
        """The rows of ``sql`` in ``seq`` order, a checked batch at a time (read without locks)."""
        batch_sql = f"{sql} AND seq > ? ORDER BY seq LIMIT {_UNLOCKED_BATCH}"
        after = 0

        def ask() -> list[StoredEvent]:
            rows = self.db.execute(batch_sql, [*params, after])
            return [_checked_event(self.path, row) for row in rows]

        while True:
            batch = self._query(f"read run {run_id}", ask)
            yield from batch
            if len(batch) < _UNLOCKED_BATCH:
                return
            after = batch[-1].seq

    def runs(self) -> list[RunSummary]:
        """Every run, in the order their first events were stored.

        A run is listed from any of its events -- not only its first -- so a
        run missing its start is still there for ``verify`` to report (from its
        lowest event). A few primary-key lookups per run -- the next run id, its
        lowest event, its last -- not a scan of every event: ``runs`` and ``show``
        on a log of a million events answer at once.
        """
        rows = self._query("list the runs", lambda: self.db.execute(_RUNS).fetchall())
        summaries = []
        for run_id, started, last_seq in rows:
            if type(run_id) is not str:
                raise StoreCorruptError(
                    f"{self.path} is a damaged log: a run id is {_shown(run_id)}, not text"
                )
            if type(started) is not str or type(last_seq) is not int:
                # A damaged row of this run: reading the run names it (see _checked_event).
                started = started if type(started) is str else ""
                last_seq = last_seq if type(last_seq) is int else 0
            summaries.append(RunSummary(run_id=run_id, started=started, last_seq=last_seq))
        return summaries

    def last_event(self, run_id: str) -> StoredEvent | None:
        """The last event of ``run_id``, or None."""
        row = self._query(
            f"read run {run_id}",
            lambda: self.db.execute(
                f"{_SELECT} WHERE run_id = ? ORDER BY seq DESC LIMIT 1", [run_id]
            ).fetchone(),
        )
        return _checked_event(self.path, row) if row else None

    def newest_seq(self, run_id: str) -> int:
        """The newest sequence number of ``run_id`` in the database (0: none), asked anew
        each time (other writers append): one ``MAX(seq)`` on the primary key's index."""
        row = self._query(
            f"read run {run_id}",
            lambda: self.db.execute(
                "SELECT MAX(seq) FROM events WHERE run_id = ?", [run_id]
            ).fetchone(),
        )
        return row[0] if row and type(row[0]) is int else 0

    def newest_run(self) -> str | None:
        """The id of the run whose first event was stored last, or None: one query,
        read backwards from the newest row to that run's first."""
        row = self._query("read the head", lambda: self.db.execute(_NEWEST_RUN).fetchone())
        return row[0] if row and type(row[0]) is str else None

    def head(self) -> StoredEvent | None:
        """The last event of the run whose first event was stored last, or None.

        Read backwards from the newest row to the newest run's first: a run's
        length, not the log's, and once per run.
        """
        row = self._query("read the head", lambda: self.db.execute(_NEWEST_RUN).fetchone())
        return self.last_event(row[0]) if row else None

    def _make_snapshot_store(self) -> SnapshotStore:
        return SqliteSnapshotStore(self)

    def check_guards(self) -> list[str]:
        """What differs in the database from the guards this module makes: each
        append-only trigger must be there with its SQL (not merely its name), no other
        trigger may be on the events table, and the table must be as made."""
        rows = self._query(
            "check the guards",
            lambda: self.db.execute(
                "SELECT type, name, sql FROM sqlite_master "
                "WHERE tbl_name = 'events' AND type IN ('trigger', 'table')"
            ).fetchall(),
        )
        triggers = {name: _normalized_sql(sql) for kind, name, sql in rows if kind == "trigger"}
        problems = []
        for name, statement in _APPEND_ONLY_TRIGGERS.items():
            if name not in triggers:
                problems.append(
                    f"the append-only trigger {name} is missing: {statement} is not refused"
                )
            elif triggers[name] != _EXPECTED_GUARDS[name]:
                problems.append(
                    f"the append-only trigger {name} is not the one eventstate makes "
                    f"(its SQL differs): {statement} may not be refused"
                )
        problems += [
            f"an unexpected trigger {name} is on the events table"
            for name in sorted(triggers)
            if name not in _APPEND_ONLY_TRIGGERS
        ]
        table = [_normalized_sql(sql) for kind, _, sql in rows if kind == "table"]
        if table != [_EXPECTED_EVENTS_TABLE]:
            problems.append("the events table is not the one eventstate makes (its SQL differs)")
        return problems

    def check_integrity(self) -> list[str]:
        """What SQLite's ``PRAGMA integrity_check`` finds (damaged pages, broken
        indexes, rows out of order), one line each; a database too damaged to check
        is one line too."""
        try:
            rows = self._query(
                "check its integrity",
                lambda: self.db.execute("PRAGMA integrity_check").fetchall(),
            )
        except StoreError as error:
            return [f"SQLite's integrity check could not run: {error}"]
        found = [" ".join(str(row[0]).split()) for row in rows]
        if found == ["ok"]:
            return []
        return [f"SQLite's integrity check: {line}" for line in found]

    def flush(self) -> None:
        """Every append is already committed; nothing is pending here."""

    def close(self) -> None:
        """Close the database connection (closing twice does nothing)."""
        try:
            self.db.close()
        except sqlite3.Error as error:
            raise _store_error(self.path, error, "close the log") from error


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any error.

    The write lock is taken at the start (waiting out other writers), so the
    transaction never fails later because another writer committed first.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
                return
            except BaseException:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        # The error that ended the transaction is the one to report, not this one's.
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")


class _Database:
    """A connection, and ``execute`` on it: what this module used of sqlite-utils' Database
    (which turned recursive triggers on too)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute("PRAGMA recursive_triggers=on")

    def execute(self, sql: str, parameters: Sequence[object] | None = None) -> sqlite3.Cursor:
        """Run one statement (the connection commits it, unless a transaction is open)."""
        return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)

    def table_names(self) -> list[str]:
        """The tables in the database, in one statement."""
        return [row[0] for row in self.conn.execute(_TABLES).fetchall()]

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


#: Every table of the database (sqlite-utils' ``table_names``).
_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table'"


class SqliteSnapshotStore(SnapshotStore):
    """Snapshots in a ``snapshots`` table beside the events (not append-only: a cache).

    Stored zlib-compressed: views' JSON repeats itself (host names, counter names).
    A log written by an older eventstate may have no table yet: it reads as
    empty, and the first snapshot written makes it.

    Args:
        log: The log whose database holds them.
    """

    def __init__(self, log: SqliteEventLog) -> None:
        self.log = log

    def latest(self, run_id: str, seq: int, version: str) -> tuple[int, str] | None:
        """See :meth:`SnapshotStore.latest`."""
        log = self.log

        def ask() -> tuple[int, bytes] | None:
            try:
                found: tuple[int, bytes] | None = log.db.execute(
                    "SELECT seq, data FROM snapshots WHERE run_id = ? AND version = ? AND seq <= ? "
                    "ORDER BY seq DESC LIMIT 1",
                    [run_id, version, seq],
                ).fetchone()
            except sqlite3.OperationalError as error:
                if "no such table" in str(error):
                    return None
                raise
            return found

        row = log._query("read a snapshot", ask)
        if row is None:
            return None
        try:
            if type(row[0]) is not int:
                raise TypeError(f"its seq is {_shown(row[0])}")
            return row[0], zlib.decompress(row[1]).decode()
        except (zlib.error, TypeError, UnicodeDecodeError) as error:
            raise StoreCorruptError(
                f"{log.path}: the snapshot of run {run_id} at event {row[0]} is damaged ({error})"
            ) from None

    def entries(self, run_id: str) -> list[tuple[int, str]]:
        """See :meth:`SnapshotStore.entries`."""
        log = self.log

        def ask() -> list[tuple[int, str]]:
            try:
                return [
                    (row[0], row[1])
                    for row in log.db.execute(
                        "SELECT seq, version FROM snapshots WHERE run_id = ? ORDER BY seq, version",
                        [run_id],
                    )
                ]
            except sqlite3.OperationalError as error:
                if "no such table" in str(error):
                    return []
                raise

        return log._query("list the snapshots", ask)

    def put(self, run_id: str, seq: int, version: str, data: str) -> None:
        """See :meth:`SnapshotStore.put`.

        Raises:
            StoreError: the log is opened read-only, or the write failed.
        """
        log = self.log
        log._refuse_writes("write a snapshot")
        blob = zlib.compress(data.encode(), 1)

        def attempt() -> None:
            with log._transaction() as conn:
                conn.execute(_SNAPSHOTS_TABLE)  # a log an older eventstate made has none
                conn.execute(
                    "INSERT OR REPLACE INTO snapshots (run_id, version, seq, data) "
                    "VALUES (?, ?, ?, ?)",
                    [run_id, version, seq, blob],
                )

        try:
            log._retry(attempt)
        except sqlite3.Error as error:
            raise _store_error(log.path, error, "write a snapshot") from error


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
