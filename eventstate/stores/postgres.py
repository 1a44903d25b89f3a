"""The shared event store: one PostgreSQL database, through psycopg 3 and its pool.

A team's deploys from many machines land in one log. The layout is the SQLite
store's, in a schema of its own (``eventstate``, or the URL's ``?schema=NAME``):
``events`` -- one row per event, ``(run_id, seq)`` the primary key, the host
indexed, and ``position``, an identity column, the order rows were stored in
(which run started last: the head) -- ``snapshots`` beside it, and ``meta``
(the layout's version, the log's id).

The database itself keeps the log append-only: statement triggers refuse every
UPDATE, DELETE and TRUNCATE of ``events``, whoever sends it. A deployer needs no
more than INSERT and SELECT on it: :meth:`PostgresEventLog.grant_writer` gives a
role exactly that (and :meth:`~PostgresEventLog.grant_reader` SELECT alone), so
even a disabled trigger gives a deployer's credentials no way to rewrite the
past. In SQL, for a DBA who makes the roles::

    GRANT USAGE ON SCHEMA eventstate TO deployer;
    GRANT SELECT, INSERT ON eventstate.events TO deployer;
    GRANT SELECT ON eventstate.meta TO deployer;
    GRANT SELECT, INSERT, UPDATE ON eventstate.snapshots TO deployer;  -- a cache

Writers never leave a gap: an append checks that each run's batch continues
what the database holds, and the primary key refuses a sequence number another
writer stored first (a :class:`~eventstate.errors.SequenceError`, as in SQLite).
The batch goes in with one ``COPY``, in one transaction. Reads of a run stream
through a server-side cursor, a few thousand rows at a time; readers opened
``read_only`` use read-only transactions and never make, change or add
anything. Every append fires ``NOTIFY`` on :attr:`PostgresEventLog.channel`
(from a trigger, once per statement) with ``RUN_ID SEQ``, the run's newest
sequence number: a follower ``LISTEN``\\s instead of polling
(:meth:`PostgresEventLog.wait_for_events`, on a connection of its own outside
the pool; ``LISTEN`` writes nothing, so a reader's read-only role may).

Each handle keeps a small psycopg pool: a streamed read holds its connection
while an append or a snapshot takes another, a lost connection is replaced
rather than failing every later call, and a process opens no more than
``pool_size`` connections.

No psycopg error leaves this module: each becomes a one-line
:class:`~eventstate.errors.StoreError` naming the log by its URL with any
credentials hidden.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import urllib.parse
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter
from typing import Any, TypeAlias, TypeVar

from eventstate.errors import (
    PostgresNotInstalledError,
    SequenceError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreNotFoundError,
)
from eventstate.stores.base import EventLog, RunSummary, StoredEvent, StoredRow, check_sequence
from eventstate.stores.snapshots import SnapshotStore
from eventstate.stores.url import shown_url

#: A batch to store: events, or the recorder's row tuples (see ``append_rows_later``).
_Batch: TypeAlias = Sequence[StoredEvent] | Sequence[StoredRow]

try:
    import psycopg
    import psycopg.conninfo
    import psycopg.errors
    import psycopg_pool
    from psycopg import sql
except ImportError as missing:
    raise PostgresNotInstalledError(
        f"the PostgreSQL store needs psycopg 3 and psycopg-pool ({missing.name} is not "
        "installed): pip install 'eventstate[postgres]'"
    ) from None

# The pool logs each lost connection it replaces (a warning): a program that set up no
# logging would print it to stderr. What reaches the user is ours, one line.
logging.getLogger("psycopg").addHandler(logging.NullHandler())

__all__ = [
    "DEFAULT_SCHEMA",
    "DEFAULT_TIMEOUT",
    "SCHEMA_VERSION",
    "PostgresEventLog",
    "PostgresSnapshotStore",
    "copy_text",
    "open_postgres_url",
]

#: The version of the layout this module writes and reads.
SCHEMA_VERSION = 1

#: The schema a log lives in when the URL names none.
DEFAULT_SCHEMA = "eventstate"

#: About how many seconds an operation waits (to connect, for a pooled connection).
DEFAULT_TIMEOUT = 30.0

#: Rows a streamed read fetches per round trip.
_ITERSIZE = 2000

# A schema name this module puts in SQL as it is: lower case, no quoting needed.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

_COLUMNS = ("run_id", "seq", "type", "version", "timestamp", "host", "payload", "prev_hash", "hash")

#: An advisory lock key (``eventstate`` in ASCII): first writers make the schema in turn.
_SCHEMA_LOCK = 0x6576656E74737461

_REFUSE_BODY = (
    " BEGIN RAISE EXCEPTION 'eventstate: the events table is append-only (% refused)', "
    "TG_OP USING ERRCODE = 'restrict_violation'; END "
)
_NOTIFY_BODY = (
    " BEGIN PERFORM pg_notify(TG_TABLE_SCHEMA || '.events', run_id || ' ' || max(seq)) "
    "FROM added GROUP BY run_id; RETURN NULL; END "
)

#: The append-only triggers and the statement each refuses.
_APPEND_ONLY_TRIGGERS = {
    "events_no_update": "UPDATE",
    "events_no_delete": "DELETE",
    "events_no_truncate": "TRUNCATE",
}


#: Each trigger on ``events``: its ``pg_trigger.tgtype`` (when it fires, on what) and its
#: function (BEFORE = 2, INSERT = 4, DELETE = 8, UPDATE = 16, TRUNCATE = 32; no ROW bit: once
#: per statement).
_TRIGGERS = {
    "events_no_update": (2 | 16, "refuse_change"),
    "events_no_delete": (2 | 8, "refuse_change"),
    "events_no_truncate": (2 | 32, "refuse_change"),
    "events_appended": (4, "notify_appended"),
}


def _trigger_sql(schema: str) -> dict[str, str]:
    """Each trigger on ``events``, as made, by name."""
    made = {
        name: f"CREATE TRIGGER {name} BEFORE {statement} ON {schema}.events "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change()"
        for name, statement in _APPEND_ONLY_TRIGGERS.items()
    }
    made["events_appended"] = (
        f"CREATE TRIGGER events_appended AFTER INSERT ON {schema}.events "
        "REFERENCING NEW TABLE AS added "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.notify_appended()"
    )
    return made


def _schema_sql(schema: str) -> list[str]:
    """The statements that make a new log in ``schema`` (one transaction)."""
    return [
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        f"CREATE TABLE {schema}.meta (key text PRIMARY KEY, value text NOT NULL)",
        f"CREATE TABLE {schema}.events ("
        "position bigint GENERATED ALWAYS AS IDENTITY, "
        "run_id text NOT NULL, seq bigint NOT NULL, type text NOT NULL, "
        "version integer NOT NULL, timestamp text NOT NULL, host text, "
        "payload text NOT NULL, prev_hash text NOT NULL, hash text NOT NULL, "
        "PRIMARY KEY (run_id, seq))",
        f"CREATE INDEX events_host ON {schema}.events (host)",
        # The runs' first rows in the order they were stored: the head, in one lookup.
        f"CREATE UNIQUE INDEX events_starts ON {schema}.events (position) WHERE seq = 1",
        f"CREATE FUNCTION {schema}.refuse_change() RETURNS trigger LANGUAGE plpgsql "
        f"AS $${_REFUSE_BODY}$$",
        f"CREATE FUNCTION {schema}.notify_appended() RETURNS trigger LANGUAGE plpgsql "
        f"AS $${_NOTIFY_BODY}$$",
        *_trigger_sql(schema).values(),
        f"CREATE TABLE {schema}.snapshots (run_id text, version text, seq bigint, "
        "data bytea NOT NULL, PRIMARY KEY (run_id, version, seq))",
    ]


#: Each guard function's body, by name (``check_guards`` compares the stored source).
_FUNCTION_BODIES = {"refuse_change": _REFUSE_BODY, "notify_appended": _NOTIFY_BODY}

T = TypeVar("T")


def _one_line(error: BaseException, hidden: frozenset[str] = frozenset()) -> str:
    """``error`` as one line, each of ``hidden`` (the URL's password) masked: the driver's
    text may quote the part of the URL it could not parse."""
    text = " ".join(str(error).split()) or type(error).__name__
    for secret in sorted(hidden, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _passwords(url: str) -> frozenset[str]:
    """The password of ``url`` as written and as decoded (either may reach a message)."""
    netloc = urllib.parse.urlsplit(url).netloc
    userinfo, at, _ = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return frozenset()
    written = userinfo.split(":", 1)[1]
    return frozenset(value for value in (written, urllib.parse.unquote(written)) if value)


def _split_url(url: str) -> tuple[str, str, str]:
    """``(conninfo, schema, shown)`` of a ``postgresql://`` URL: what psycopg connects to
    (the URL less eventstate's own ``schema`` option), the log's schema, and the URL as
    messages show it (no credentials, no options but the schema)."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    if not _SCHEMA_NAME.fullmatch(schema):
        raise StoreError(
            f"?schema={schema}: a schema name is lower-case letters, digits and _ "
            "(not first), at most 63"
        )
    rest = urllib.parse.urlencode([(key, value) for key, value in query if key != "schema"])
    conninfo = urllib.parse.urlunsplit(parts._replace(query=rest))
    shown = shown_url(urllib.parse.urlunsplit(parts._replace(query="", fragment="")))
    if schema != DEFAULT_SCHEMA:
        shown += f"?schema={schema}"
    return conninfo, schema, shown


def open_postgres_url(
    url: str, *, create: bool = True, read_only: bool = False
) -> PostgresEventLog:
    """The log a ``postgresql://`` (or ``postgres://``) URL names: libpq's URL, and
    ``?schema=NAME`` for a log in a schema other than ``eventstate``."""
    return PostgresEventLog(url, create=create, read_only=read_only)


class PostgresEventLog(EventLog):
    """An event store in a PostgreSQL database.

    Args:
        url: ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE`` (any libpq URL;
            ``?schema=NAME`` picks the schema, ``eventstate`` by default).
        create: Make the log's schema when the database has none. With False a
            missing log is a :class:`StoreNotFoundError`.
        read_only: Read only (``create`` is then ignored): every transaction is
            read-only; appends and snapshots are refused.
        timeout: About how many seconds to wait to connect, and for a pooled
            connection.
        pool_size: The most connections this handle opens at once.

    Raises:
        StoreNotFoundError: no log (``create=False`` or ``read_only``), or no such database.
        StoreError: the server cannot be reached or refuses the login, the schema
            holds another program's tables, or a newer eventstate wrote the log.
    """

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        read_only: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        pool_size: int = 4,
    ) -> None:
        self.url = url
        self._hidden = _passwords(url)
        self._conninfo, self.schema, self.shown = _split_url(url)
        self.timeout = timeout
        self._read_only = read_only
        self._last_seqs: dict[str, int] = {}
        # The batch append_later handed over, and what refused the one before (raised
        # by the next write, flush or close).
        self._in_flight: _InFlight | None = None
        self._refused: StoreError | None = None
        self._log_id: str | None = None
        # The connection a waiter listens on (made on the first wait; never pooled: a
        # pooled connection is handed to others, and would take our notifications along).
        self._listener: psycopg.Connection[Any] | None = None
        q = self.schema
        self._newest_seq = f"SELECT max(seq) FROM {q}.events WHERE run_id = %s"
        self._newest_run = (
            f"SELECT run_id FROM {q}.events WHERE seq = 1 ORDER BY position DESC LIMIT 1"
        )
        self._insert = f"COPY {q}.events ({', '.join(_COLUMNS)}) FROM STDIN"
        self._select = f"SELECT {', '.join(_COLUMNS)} FROM {q}.events"
        # A skip scan of the primary key: each run id, then its first and last rows.
        self._runs = (
            f"WITH RECURSIVE ids (run_id) AS ((SELECT run_id FROM {q}.events ORDER BY run_id "
            f"LIMIT 1) UNION ALL SELECT (SELECT e.run_id FROM {q}.events e "
            "WHERE e.run_id > ids.run_id ORDER BY e.run_id LIMIT 1) FROM ids "
            "WHERE ids.run_id IS NOT NULL) "
            "SELECT ids.run_id, first.timestamp, last.seq FROM ids "
            f"CROSS JOIN LATERAL (SELECT timestamp, position FROM {q}.events e "
            "WHERE e.run_id = ids.run_id ORDER BY seq LIMIT 1) first "
            f"CROSS JOIN LATERAL (SELECT seq FROM {q}.events e "
            "WHERE e.run_id = ids.run_id ORDER BY seq DESC LIMIT 1) last "
            "ORDER BY first.position"
        )
        # One direct connection first: its failure says why (a pool would only time out).
        try:
            given = psycopg.conninfo.conninfo_to_dict(self._conninfo)
            # What the URL does not say itself: how long to wait, and who is connecting.
            defaults: dict[str, Any] = {
                key: value
                for key, value in (
                    ("connect_timeout", max(1, int(timeout))),
                    ("application_name", "eventstate"),
                )
                if key not in given
            }
            self._connect_options = defaults
            first = psycopg.connect(self._conninfo, autocommit=True, **defaults)
        except psycopg.OperationalError as error:
            raise self._connect_error(error) from None
        except psycopg.Error as error:  # a malformed URL
            raise StoreError(
                f"{self.shown}: cannot connect: {_one_line(error, self._hidden)}"
            ) from None
        try:
            with first:
                self._configure(first)
                self._prepare(first, create and not read_only)
        except psycopg.Error as error:
            raise self._error(error, "open the log") from None
        self._pool_size = max(1, pool_size)
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] = (
            psycopg_pool.ConnectionPool(
                self._conninfo,
                kwargs={"autocommit": True, **defaults},
                min_size=1,
                max_size=self._pool_size,
                configure=self._configure,
                timeout=timeout,
                reconnect_timeout=timeout,
                name=f"eventstate {self.shown}",
                num_workers=1,  # a few connections: one thread makes them
                open=False,
            )
        )
        self._pool.open(wait=False)

    def _connect_error(self, error: psycopg.Error) -> StoreError:
        text = _one_line(error, self._hidden)
        if "does not exist" in text and "database" in text:
            return StoreNotFoundError(f"no event log at {self.shown}: {text}")
        return StoreError(f"{self.shown}: cannot connect: {text}")

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        """Make a new connection this handle's: UTF-8, read-only for a reader."""
        conn.execute("SET client_encoding = 'UTF8'")
        if self._read_only:
            conn.execute("SET default_transaction_read_only = on")

    @property
    def read_only(self) -> bool:
        """Whether the log was opened to read only."""
        return self._read_only

    @property
    def log_id(self) -> str | None:
        """The id in the log's ``meta`` table, made with the log."""
        return self._log_id

    @property
    def channel(self) -> str:
        """The ``NOTIFY`` channel every append to this log fires, with ``RUN_ID SEQ``
        (the run's newest sequence number) as its payload: ``LISTEN "<schema>.events"``."""
        return f"{self.schema}.events"

    # Opening

    def _prepare(self, conn: psycopg.Connection[Any], create: bool) -> None:
        """Check the schema holds a log this version reads; make it (with ``create``)."""
        encoding = conn.execute("SHOW server_encoding").fetchone()
        if encoding is None or encoding[0] != "UTF8":
            raise StoreError(
                f"{self.shown}: the database's encoding is {encoding and encoding[0]}, "
                "not UTF8: event logs hold any text"
            )
        if self._found(conn):
            return
        if not create:
            raise StoreNotFoundError(f"no event log at {self.shown}")
        with conn.transaction():
            # First writers queue here: the second finds what the first made.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
            if self._found(conn):
                return
            for statement in _schema_sql(self.schema):
                conn.execute(statement)
            self._log_id = uuid.uuid4().hex
            conn.execute(
                f"INSERT INTO {self.schema}.meta (key, value) VALUES "
                "('schema_version', %s), ('log_id', %s)",
                [str(SCHEMA_VERSION), self._log_id],
            )

    def _found(self, conn: psycopg.Connection[Any]) -> bool:
        """Whether the schema holds a log (reading its id); False when it has no tables.

        Raises:
            StoreError: the schema holds other tables, or a newer eventstate's log.
        """
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v')",
                [self.schema],
            )
        }
        if "meta" not in tables or "events" not in tables:
            if tables:
                raise StoreError(
                    f"{self.shown}: the schema {self.schema} holds tables, but not an "
                    "eventstate log"
                )
            return False
        meta = dict(conn.execute(f"SELECT key, value FROM {self.schema}.meta").fetchall())
        try:
            version = int(meta.get("schema_version", "0"))
        except ValueError:
            raise StoreCorruptError(
                f"{self.shown} is a damaged log: its schema version is {meta['schema_version']!r}"
            ) from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.shown} was written by a newer eventstate (schema {version}; "
                f"this one reads up to {SCHEMA_VERSION}): upgrade eventstate"
            )
        self._log_id = meta.get("log_id")
        return True

    # Errors

    def _error(self, error: BaseException, action: str) -> StoreError:
        """The :class:`StoreError` for ``error``, met trying to ``action``: one line."""
        text = _one_line(error, self._hidden)
        if isinstance(error, psycopg_pool.PoolTimeout):
            return StoreLockedError(
                f"{self.shown}: cannot {action}: no connection to the server within "
                f"{self.timeout:g}s ({text}); try again"
            )
        if isinstance(error, psycopg.errors.InsufficientPrivilege):
            return StoreError(f"{self.shown}: cannot {action}: {text}")
        if isinstance(error, psycopg.errors.ReadOnlySqlTransaction):
            return StoreError(f"{self.shown} cannot be written here: cannot {action} ({text})")
        if isinstance(error, (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected)):
            return StoreLockedError(f"{self.shown}: cannot {action} ({text}); try again")
        if isinstance(error, psycopg.errors.DataCorrupted):
            return StoreCorruptError(f"{self.shown} is damaged: cannot {action} ({text})")
        if isinstance(error, psycopg.OperationalError):
            return StoreError(f"{self.shown}: cannot {action}: the server is lost ({text})")
        if isinstance(error, psycopg.errors.UndefinedTable):
            return StoreCorruptError(
                f"{self.shown} is a damaged log: cannot {action}: a table is missing ({text})"
            )
        return StoreError(f"{self.shown}: cannot {action}: {text}")

    def _use(self, action: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``work(connection)`` with a pooled connection; psycopg's errors become StoreErrors.

        ``work`` must be safe to do twice: a connection found lost (the server restarted,
        the backend was ended) is dropped, and ``work`` done once more on a new one.
        """
        self._settle()
        losses = 0
        while True:
            conn = None
            try:
                with self._pool.connection() as conn:
                    return work(conn)
            except psycopg_pool.PoolClosed:
                raise StoreError(f"{self.shown}: cannot {action}: the log is closed") from None
            except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
                losses += 1
                if not self._lost(conn, error, losses):
                    raise self._error(error, action) from None

    def _lost(
        self, conn: psycopg.Connection[Any] | None, error: BaseException, losses: int
    ) -> bool:
        """Whether ``error`` is the loss of ``conn``, worth trying again on another: the
        ``losses``-th in a row, while no more than the pool holds (a restart ends them all).
        The pool's idle connections are checked, and the dead ones replaced."""
        if conn is None or not conn.broken or not isinstance(error, psycopg.OperationalError):
            return False
        if losses > self._pool_size:
            return False
        self._pool.check()
        return True

    # Writing

    def _refuse_writes(self, action: str) -> None:
        if self._read_only:
            raise StoreError(f"{self.shown} is opened read-only: cannot {action}")

    def append(self, events: Sequence[StoredEvent]) -> None:
        """Store ``events`` in one ``COPY`` (one transaction); see :meth:`EventLog.append`.

        A batch :meth:`append_later` handed over is waited for first, and what refused
        it is raised here (``events`` are then not stored).

        Raises:
            SequenceError: the batch breaks a run's sequence, or another writer
                stored events at the same sequence numbers first.
            StoreError: the log is opened read-only, or the server refused.
        """
        if not events:
            return
        self._refuse_writes("append")
        self._settle_writes()
        data, updated = self._prepared(events)
        self._write(events, data)
        self._last_seqs.update(updated)

    def append_later(self, events: _Batch) -> None:
        """Store ``events`` as :meth:`append` does, returning once they are sent: the
        server stores them (one ``COPY``, one transaction: whole or not at all) while
        the caller makes its next batch. See :meth:`EventLog.append_later`.

        The batch is checked against the run's sequence and turned into ``COPY`` text
        here (a break is raised at once); a thread of this handle sends it and waits
        for the server's answer, on a pooled connection of its own. One batch is in
        flight at a time: the next ``append_later`` or :meth:`append` waits for it
        first, and raises what refused it (a rival writer's events at its sequence
        numbers: :class:`SequenceError`; anything else: :class:`StoreError`), as do
        :meth:`flush` and :meth:`close` -- the caller hears of a refused batch one
        call later, never after ``flush`` returns. Every read waits for it too (and
        sees it). A connection lost in flight is handled as :meth:`append` handles
        it: the batch's last row says whether it is stored, else it is sent again.

        Under gevent's monkey-patching (where a thread would be a greenlet) the batch
        is stored at once, as by :meth:`append`.

        Raises:
            SequenceError: the batch breaks a run's sequence (at once), or the batch
                handed over before it was refused.
            StoreError: the log is opened read-only, or the batch before was refused.
        """
        if not events:
            return
        self._refuse_writes("append")
        self._settle_writes()
        data, updated = self._prepared(events)
        if _threads_are_greenlets():
            self._write(events, data)
            self._last_seqs.update(updated)
            return
        try:
            conn = self._pool.getconn()
        except psycopg_pool.PoolClosed:
            raise StoreError(f"{self.shown}: cannot append: the log is closed") from None
        except psycopg_pool.PoolTimeout as error:
            raise self._error(error, "append") from None
        # What the next batch is checked against, known before the server answers (a
        # refusal clears it, and the next check asks the database).
        try:
            self._in_flight = _InFlight.start(conn, self._insert, events, data)
        except RuntimeError:  # no thread to be had: stored now, as by append
            self._pool.putconn(conn)
            self._write(events, data)
        self._last_seqs.update(updated)

    def append_rows_later(self, rows: Sequence[StoredRow]) -> None:
        """:meth:`append_later` of the recorder's row tuples, as they are: the ``COPY``
        text is built from their columns (a :class:`StoredEvent` is made only of a row a
        rare path reads: a batch judged row by row, the last row of a batch resent)."""
        self.append_later(rows)

    def _settle_writes(self) -> None:
        """Wait for the batch in flight, then raise what refused it, if anything did."""
        self._settle()
        refused, self._refused = self._refused, None
        if refused is not None:
            raise refused

    def _settle(self) -> None:
        """Wait for the batch :meth:`append_later` handed over, if any, and judge the
        server's answer: stored; refused (kept for the next write to raise); or its
        connection lost (the batch's last row says whether it is stored, else it is
        stored again, now)."""
        flight, self._in_flight = self._in_flight, None
        if flight is None:
            return
        try:
            error = flight.wait()
        except BaseException:  # Ctrl-C while waiting: the batch is still in flight
            self._in_flight = flight
            raise
        conn = flight.conn
        try:
            self._pool.putconn(conn)
        except psycopg_pool.PoolClosed:
            conn.close()
        if error is None:
            return
        self._last_seqs.clear()
        try:
            if isinstance(error, psycopg.errors.UniqueViolation):
                raise self._rival(error)
            if not isinstance(error, psycopg.Error) or not self._lost(conn, error, 1):
                raise self._error(error, "append")
            if not self._stored(_as_event(flight.events[-1])):
                self._write(flight.events, flight.data)
        except StoreError as refused:
            self._refused = refused

    def _rival(self, error: psycopg.Error) -> SequenceError:
        self._last_seqs.clear()
        return SequenceError(
            f"{self.shown}: append refused: another writer stored events at "
            f"these sequence numbers first ({_one_line(error, self._hidden)})"
        )

    def _prepared(self, events: _Batch) -> tuple[bytes, dict[str, int]]:
        """``events`` as ``COPY`` text, and each run's new last sequence number: the batch
        checked against what this handle knows of its runs' ends (asking the database
        for the others), and again against the database when that knowledge was
        stale (another writer appended to a run)."""
        columns = _columns(events)
        try:
            updated = self._checked(events, columns)
        except SequenceError:
            if not self._last_seqs:
                raise
            # What we know of a run's end may be stale: another writer may have
            # appended to it. Judge the batch again against the database.
            self._last_seqs.clear()
            updated = self._checked(events, columns)
        try:
            return copy_text(columns), updated
        except ValueError as error:
            raise StoreError(f"{self.shown}: cannot append: {error}") from None

    def _write(self, events: _Batch, data: bytes) -> None:
        """``COPY`` ``data`` (the text of ``events``) on a pooled connection: one statement
        in autocommit, so one transaction, stored whole or not at all. A connection lost
        is replaced, and the batch sent again unless its last row is stored."""
        losses = 0
        while True:
            conn = None
            try:
                with self._pool.connection() as conn:
                    _copy(conn, self._insert, data)
                return
            except psycopg.errors.UniqueViolation as error:
                raise self._rival(error) from None
            except psycopg_pool.PoolClosed:
                raise StoreError(f"{self.shown}: cannot append: the log is closed") from None
            except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
                self._last_seqs.clear()
                losses += 1
                if self._lost(conn, error, losses):
                    # The batch is stored whole or not at all: its last row says which.
                    if self._stored(_as_event(events[-1])):
                        return
                    continue
                raise self._error(error, "append") from None

    def _stored(self, event: StoredEvent) -> bool:
        """Whether ``event`` is stored, as it is (a batch whose commit went unanswered).

        Raises:
            SequenceError: another event is stored at its place.
        """
        row = self._use(
            "append",
            lambda conn: conn.execute(
                f"SELECT hash FROM {self.schema}.events WHERE run_id = %s AND seq = %s",
                [event.run_id, event.seq],
            ).fetchone(),
        )
        if row is not None and row[0] != event.hash:
            raise SequenceError(
                f"{self.shown}: append refused: another writer stored events at these "
                f"sequence numbers first (run {event.run_id}, event {event.seq})"
            )
        return row is not None

    def _checked(self, events: _Batch, columns: list[list[Any]]) -> dict[str, int]:
        """:func:`check_sequence` of ``events`` (``columns``: theirs), asking the database
        once for the runs whose end this handle does not know.

        The usual batch -- one run, its sequence numbers consecutive -- is judged by its
        first and last rows, in C-speed list operations rather than a loop per event.
        """
        known = self._last_seqs
        run_ids, seqs = columns[0], columns[1]
        first_run = run_ids[0]
        one_run = run_ids.count(first_run) == len(run_ids)
        unknown = [first_run] if one_run else list(dict.fromkeys(run_ids))
        unknown = [run_id for run_id in unknown if run_id not in known]
        if unknown:
            found = dict(
                self._use(
                    "append",
                    lambda conn: conn.execute(
                        f"SELECT run_id, max(seq) FROM {self.schema}.events "
                        "WHERE run_id = ANY(%s) GROUP BY run_id",
                        [unknown],
                    ).fetchall(),
                )
            )
            for run_id in unknown:
                known[run_id] = found.get(run_id, 0)
        if one_run:
            start = known[first_run] + 1
            if seqs[0] == start and seqs == list(range(start, start + len(seqs))):
                return {first_run: seqs[-1]}
        return check_sequence([_as_event(event) for event in events], known.__getitem__)

    # Reading

    def read(self, run_id: str, first: int = 1, last: int | None = None) -> Iterator[StoredEvent]:
        """The events of ``run_id`` with ``first <= seq <= last``, in order: streamed through
        a server-side cursor (a short range, in one query)."""
        where = f"{self._select} WHERE run_id = %s AND seq >= %s"
        params: list[object] = [run_id, first]
        if last is not None:
            where += " AND seq <= %s"
            params.append(last)
        query = where + " ORDER BY seq"
        if last is not None and last - max(first, 1) < _ITERSIZE:
            rows = self._use(
                f"read run {run_id}",
                lambda conn: conn.execute(query, params).fetchall(),
            )
            return iter([StoredEvent(*row) for row in rows])
        return self._stream(query, params, run_id)

    def _stream(self, query: str, params: list[object], run_id: str) -> Iterator[StoredEvent]:
        """The rows of ``query`` (``params``: run id and first seq first), a batch per round
        trip; a connection lost part-way is replaced once and the read goes on after the
        last row given."""
        self._settle()
        action = f"read run {run_id}"
        losses = 0
        while True:
            conn = None
            try:
                with (
                    self._pool.connection() as conn,
                    conn.transaction(),
                    conn.cursor(name="eventstate_read") as cursor,
                ):
                    cursor.itersize = _ITERSIZE
                    cursor.execute(query, params)
                    losses = 0  # connected: a later loss is a new one
                    for row in cursor:
                        event = StoredEvent(*row)
                        params[1] = event.seq + 1  # where to go on from, if lost
                        yield event
                return
            except psycopg_pool.PoolClosed:
                raise StoreError(f"{self.shown}: cannot {action}: the log is closed") from None
            except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
                losses += 1
                if not self._lost(conn, error, losses):
                    raise self._error(error, action) from None

    def runs(self) -> list[RunSummary]:
        """Every run, in the order their first events were stored (a run missing its
        start is listed too, from its lowest event, for ``verify`` to report).

        Three primary-key lookups per run -- the next run id, its first event, its last
        -- not a scan of every event: a team's log grows long.
        """
        rows = self._use("list the runs", lambda conn: conn.execute(self._runs).fetchall())
        return [RunSummary(run_id=r, started=s, last_seq=n) for r, s, n in rows]

    def last_event(self, run_id: str) -> StoredEvent | None:
        """The last event of ``run_id``, or None: one lookup in the primary key (what a
        follower asks to learn a run's newest sequence number)."""
        row = self._use(
            f"read run {run_id}",
            lambda conn: conn.execute(
                f"{self._select} WHERE run_id = %s ORDER BY seq DESC LIMIT 1", [run_id]
            ).fetchone(),
        )
        return StoredEvent(*row) if row else None

    def head(self) -> StoredEvent | None:
        """The last event of the run whose first event was stored last, or None."""
        row = self._use(
            "read the head",
            lambda conn: conn.execute(
                f"{self._select} WHERE run_id = ({self._newest_run}) ORDER BY seq DESC LIMIT 1"
            ).fetchone(),
        )
        return StoredEvent(*row) if row else None

    def newest_seq(self, run_id: str) -> int:
        """The newest sequence number of ``run_id`` (0: none), asked anew each time (other
        writers append): one ``max(seq)``, read from the end of the primary key."""
        row = self._use(
            f"read run {run_id}",
            lambda conn: conn.execute(self._newest_seq, [run_id]).fetchone(),
        )
        return int(row[0]) if row and row[0] is not None else 0

    def newest_run(self) -> str | None:
        """The id of the run whose first event was stored last, or None: one lookup, at
        the end of the index of the runs' first rows."""
        row = self._use("read the head", lambda conn: conn.execute(self._newest_run).fetchone())
        return str(row[0]) if row else None

    # Waiting, on what other writers append

    def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> bool:
        """See :meth:`EventLog.wait_for_events`: told by the appends' ``NOTIFY``, not polled.

        ``LISTEN`` first, then the run's newest sequence number asked once (in the
        same round trip), then again after each notification of an event of the run
        past ``after_seq``, until the deadline: an event is seen a round trip after
        its commit.
        """
        check = sql.SQL("SELECT max(seq) FROM {}.events WHERE run_id = {}").format(
            sql.Identifier(self.schema), sql.Literal(run_id)
        )
        return bool(
            self._wait(
                check,
                lambda row: True if row[0] is not None and row[0] > after_seq else None,
                lambda run, seq: run == run_id and seq > after_seq,
                timeout,
            )
        )

    def wait_for_run(self, newest: str | None, timeout: float) -> str | None:
        """See :meth:`EventLog.wait_for_run`: told by the appends' ``NOTIFY``, not polled
        (the newest run asked again after a notification of another run than
        ``newest``: a new run, or an older one written to)."""
        return self._wait(
            sql.SQL(self._newest_run),
            lambda row: str(row[0]) if row[0] != newest else None,
            lambda run, seq: run != newest,
            timeout,
        )

    def _wait(
        self,
        check: sql.SQL | sql.Composed,
        found: Callable[[tuple[Any, ...]], T | None],
        worth_asking: Callable[[str, int], bool],
        timeout: float,
    ) -> T | None:
        """``found(row)`` of the first row of the query ``check`` (none: None) that is not
        None: asked once in the round trip that sends ``LISTEN``, then again after each
        notification ``worth_asking(run_id, seq)``, until ``timeout`` seconds have
        passed (then None).

        The listening connection is this handle's own; a lost one is replaced, once,
        and the wait goes on. It stops listening after each wait: notifications
        nobody reads would pile up in the server's queue while the handle lives.
        """

        def answer(cursor: psycopg.Cursor[Any]) -> T | None:
            row = cursor.fetchone()
            return found(row) if row is not None else None

        self._settle()
        deadline = time.monotonic() + timeout
        listen = sql.SQL("LISTEN {}; ").format(sql.Identifier(self.channel)) + check
        losses = 0
        while True:
            conn = None
            try:
                conn = self._listening()
                cursor = conn.execute(listen)
                cursor.nextset()  # past LISTEN's result, to the check's
                answered = answer(cursor)
                losses = 0  # connected: a later loss is a new one
                while answered is None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    for note in list(conn.notifies(timeout=left, stop_after=1)):
                        # Anyone may NOTIFY on the channel: what is not an append's is ignored.
                        run, _, seq = note.payload.rpartition(" ")
                        if seq.isdigit() and worth_asking(run, int(seq)):
                            answered = answer(conn.execute(check))
                            break
                conn.execute("UNLISTEN *")
                return answered
            except psycopg.Error as error:
                losses += 1
                lost = (
                    conn is not None and conn.broken and isinstance(error, psycopg.OperationalError)
                )
                self._stop_listening()
                if not lost or losses > 1:
                    raise self._error(error, "wait for new events") from None
            except BaseException:  # Ctrl-C mid-wait: the connection's state is unknown
                self._stop_listening()
                raise

    def _listening(self) -> psycopg.Connection[Any]:
        """The connection this handle listens on, connected anew when there is none."""
        conn = self._listener
        if conn is None or conn.closed:
            if self._pool.closed:
                raise StoreError(f"{self.shown}: cannot wait for new events: the log is closed")
            try:
                conn = psycopg.connect(self._conninfo, autocommit=True, **self._connect_options)
            except psycopg.OperationalError as error:
                raise self._connect_error(error) from None
            self._listener = conn
            self._configure(conn)
        return conn

    def _stop_listening(self) -> None:
        """Close the listening connection, if any (a new wait makes another)."""
        conn, self._listener = self._listener, None
        if conn is not None:
            conn.close()

    def _make_snapshot_store(self) -> SnapshotStore:
        return PostgresSnapshotStore(self)

    # Roles

    def grant_writer(self, role: str) -> None:
        """Give ``role`` what a deployer needs and no more: SELECT and INSERT on the
        events (never UPDATE, DELETE or TRUNCATE), the log's meta to read, and the
        snapshots (a cache) to keep. Run it as the log's owner."""
        self._grant(role, "SELECT, INSERT", "SELECT, INSERT, UPDATE")

    def grant_reader(self, role: str) -> None:
        """Give ``role`` what a reader of past runs needs: SELECT on the log's tables."""
        self._grant(role, "SELECT", "SELECT")

    def _grant(self, role: str, events: str, snapshots: str) -> None:
        self._refuse_writes("grant a role")
        name = sql.Identifier(role)
        q = sql.Identifier(self.schema)

        def grant(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                for statement in (
                    "GRANT USAGE ON SCHEMA {q} TO {role}",
                    f"GRANT {events} ON {{q}}.events TO {{role}}",
                    "GRANT SELECT ON {q}.meta TO {role}",
                    f"GRANT {snapshots} ON {{q}}.snapshots TO {{role}}",
                ):
                    conn.execute(sql.SQL(statement).format(q=q, role=name))

        self._use(f"grant {role} its rights", grant)

    # Checks

    def check_guards(self) -> list[str]:
        """What differs in the database from the guards this module makes: each trigger on
        ``events`` there, enabled, firing when it was made to (on every row, with no
        condition) with its function as made, no other trigger, and no rule (a rule could
        turn an INSERT into something else)."""

        def ask(conn: psycopg.Connection[Any]) -> tuple[list[Any], list[Any]]:
            triggers = conn.execute(
                "SELECT t.tgname, t.tgenabled, t.tgtype, t.tgqual IS NULL AND t.tgattr::text = '', "
                "n.nspname, p.proname, p.prosrc "
                "FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
                "JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE t.tgrelid = %s::regclass AND NOT t.tgisinternal",
                [f"{self.schema}.events"],
            ).fetchall()
            rules = conn.execute(
                "SELECT rulename FROM pg_rules WHERE schemaname = %s AND tablename = 'events'",
                [self.schema],
            ).fetchall()
            return triggers, rules

        triggers, rules = self._use("check the guards", ask)
        found = {row[0]: row for row in triggers}
        problems = []
        for name, (tgtype, function) in _TRIGGERS.items():
            refused = _APPEND_ONLY_TRIGGERS.get(name)
            what = f"{refused} is not refused" if refused else "appends are not announced"
            if name not in found:
                problems.append(f"the trigger {name} is missing: {what}")
                continue
            _, enabled, fires, unconditional, namespace, called, source = found[name]
            if enabled == "D":
                problems.append(f"the trigger {name} is disabled: {what}")
            if (
                fires != tgtype
                or not unconditional
                or (namespace, called) != (self.schema, function)
                or source != _FUNCTION_BODIES[function]
            ):
                problems.append(
                    f"the trigger {name} is not the one eventstate makes (when it fires or "
                    f"its function differs): {what} as it should be"
                )
        problems += [
            f"an unexpected trigger {name} is on the events table"
            for name in sorted(found)
            if name not in _TRIGGERS
        ]
        problems += [f"an unexpected rule {row[0]} is on the events table" for row in rules]
        return problems

    def check_integrity(self) -> list[str]:
        """What PostgreSQL can say of the stored data: an index of the log's tables left
        invalid (a failed build), and, where the ``amcheck`` extension is installed, what
        its B-tree check finds."""

        def ask(conn: psycopg.Connection[Any]) -> list[str]:
            problems = [
                f"the index {row[0]} is invalid: PostgreSQL does not use it"
                for row in conn.execute(
                    "SELECT i.indexrelid::regclass::text FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = %s AND NOT i.indisvalid",
                    [self.schema],
                )
            ]
            amcheck = conn.execute(
                "SELECT 1 FROM pg_extension WHERE extname = 'amcheck'"
            ).fetchone()
            if amcheck:
                for (index,) in conn.execute(
                    "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass",
                    [f"{self.schema}.events"],
                ).fetchall():
                    try:
                        with conn.transaction():
                            conn.execute("SELECT bt_index_check(%s::regclass, true)", [index])
                    except psycopg.Error as error:
                        problems.append(
                            f"amcheck: the index {index}: {_one_line(error, self._hidden)}"
                        )
            return problems

        try:
            return self._use("check its integrity", ask)
        except StoreError as error:
            return [f"PostgreSQL's integrity check could not run: {error}"]

    def flush(self) -> None:
        """Wait for the batch :meth:`append_later` handed over, if any (every other
        append is committed when it returns).

        Raises:
            StoreError: that batch was refused (:class:`SequenceError`: another
                writer's events at its sequence numbers).
        """
        self._settle_writes()

    def close(self) -> None:
        """Wait for the batch :meth:`append_later` handed over, then close every pooled
        connection, and the one it listens on (closing twice does nothing).

        Raises:
            StoreError: that batch was refused (raised once the log is closed).
        """
        try:
            self._settle_writes()
        finally:
            self._stop_listening()
            self._pool.close()


def _threads_are_greenlets() -> bool:
    """Whether gevent's monkey-patching made ``threading`` cooperative (then a thread
    would run only when the caller yields, and waiting for it in a gevent callback
    would be refused)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


_FIELD_GETTERS = [attrgetter(name) for name in _COLUMNS]
_HOST = _COLUMNS.index("host")
_NUMBERS = (_COLUMNS.index("seq"), _COLUMNS.index("version"))


def _columns(events: _Batch) -> list[list[Any]]:
    """The values of ``events`` (or rows), column by column (in :data:`_COLUMNS`' order)."""
    if events and type(events[0]) is tuple:
        return [list(column) for column in zip(*events, strict=True)]
    return [list(map(getter, events)) for getter in _FIELD_GETTERS]


def _as_event(event: StoredEvent | StoredRow) -> StoredEvent:
    """``event``, or the :class:`StoredEvent` of a row tuple."""
    return event if isinstance(event, StoredEvent) else StoredEvent(*event)


def _escaped(values: Sequence[str]) -> Sequence[str]:
    """``values`` as ``COPY`` text writes them: each backslash, tab, newline and carriage
    return behind a backslash (what PostgreSQL's text format requires; any other
    character stands for itself). One pass over the column joined, not one per value.

    Raises:
        ValueError: a value holds a NUL character (PostgreSQL's text cannot).
    """
    joined = "\0".join(values)
    if joined.count("\0") != len(values) - 1:
        raise ValueError("PostgreSQL text cannot hold a NUL character (\\x00)")
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        joined = (
            joined.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
        return joined.split("\0")
    return values


def copy_text(columns: Sequence[Sequence[Any]]) -> bytes:
    """The rows of ``columns`` (the events table's, in its column order) in ``COPY``'s
    text format, UTF-8: tab between the values, a newline after each row, ``\\N`` for a
    host that is None. (The benchmarks' raw text ceiling builds its text with it too.)

    Built a column at a time with C-speed joins and replaces (as fast as psycopg's own
    ``write_row`` of each row, or faster, and with no call per event).

    Raises:
        ValueError: a value holds a NUL character, or a lone surrogate (no UTF-8).
    """
    fields: list[Sequence[str]] = []
    for index, values in enumerate(columns):
        if index in _NUMBERS:
            fields.append(list(map(str, values)))
        elif index == _HOST and None in values:
            written = _escaped([host if host is not None else "" for host in values])
            fields.append(
                [
                    text if host is not None else "\\N"
                    for host, text in zip(values, written, strict=True)
                ]
            )
        else:
            fields.append(_escaped(values))
    return ("\n".join(map("\t".join, zip(*fields, strict=True))) + "\n").encode()


def _copy(conn: psycopg.Connection[Any], statement: str, data: bytes) -> None:
    """``COPY`` ``data`` (text format) on ``conn``, in autocommit: the one statement is
    its own transaction, stored whole or not at all."""
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(data)


class _InFlight:
    """A batch :meth:`PostgresEventLog.append_later` handed to a thread of its own,
    which sends its ``COPY`` on ``conn`` (a pooled connection it holds until the
    batch is judged) and waits for the server's answer -- the wait lets go of the
    GIL: the caller goes on making its next batch meanwhile.

    Not a daemon thread: a process that ends without flushing still sends it whole.
    """

    def __init__(
        self, conn: psycopg.Connection[Any], statement: str, events: list[Any], data: bytes
    ) -> None:
        self.conn = conn
        self.events = events
        self.data = data
        self._statement = statement
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._send, name="eventstate append")

    @classmethod
    def start(
        cls,
        conn: psycopg.Connection[Any],
        statement: str,
        events: _Batch,
        data: bytes,
    ) -> _InFlight:
        """The batch ``events`` (``data``: its ``COPY`` text) on its way on ``conn``."""
        flight = cls(conn, statement, list(events), data)  # the caller may reuse its list
        flight._thread.start()
        return flight

    def _send(self) -> None:
        try:
            _copy(self.conn, self._statement, self.data)
        except BaseException as error:  # judged by the caller's thread, which waits for it
            self._error = error

    def wait(self) -> BaseException | None:
        """Wait for the server's answer: None once the batch is stored, else the error."""
        self._thread.join()
        return self._error


class PostgresSnapshotStore(SnapshotStore):
    """Snapshots in the ``snapshots`` table beside the events (a cache, not append-only),
    zlib-compressed as in SQLite.

    Args:
        log: The log whose database holds them.
    """

    def __init__(self, log: PostgresEventLog) -> None:
        self.log = log
        self._table = f"{log.schema}.snapshots"

    def latest(self, run_id: str, seq: int, version: str) -> tuple[int, str] | None:
        """See :meth:`SnapshotStore.latest`."""
        row = self.log._use(
            "read a snapshot",
            lambda conn: conn.execute(
                f"SELECT seq, data FROM {self._table} WHERE run_id = %s AND version = %s "
                "AND seq <= %s ORDER BY seq DESC LIMIT 1",
                [run_id, version, seq],
            ).fetchone(),
        )
        if row is None:
            return None
        try:
            return row[0], zlib.decompress(row[1]).decode()
        except (zlib.error, UnicodeDecodeError) as error:
            raise StoreCorruptError(
                f"{self.log.shown}: the snapshot of run {run_id} at event {row[0]} is "
                f"damaged ({error})"
            ) from None

    def entries(self, run_id: str) -> list[tuple[int, str]]:
        """See :meth:`SnapshotStore.entries`."""
        rows = self.log._use(
            "list the snapshots",
            lambda conn: conn.execute(
                f"SELECT seq, version FROM {self._table} WHERE run_id = %s ORDER BY seq, version",
                [run_id],
            ).fetchall(),
        )
        return [(row[0], row[1]) for row in rows]

    def put(self, run_id: str, seq: int, version: str, data: str) -> None:
        """See :meth:`SnapshotStore.put`.

        Raises:
            StoreError: the log is opened read-only, or the write failed.
        """
        self.log._refuse_writes("write a snapshot")
        blob = zlib.compress(data.encode(), 1)
        self.log._use(
            "write a snapshot",
            lambda conn: conn.execute(
                f"INSERT INTO {self._table} (run_id, version, seq, data) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (run_id, version, seq) "
                "DO UPDATE SET data = EXCLUDED.data",
                [run_id, version, seq, blob],
            ),
        )
