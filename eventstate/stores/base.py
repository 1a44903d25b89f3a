"""The one interface every event store implements.

A store keeps :class:`StoredEvent` rows, already encoded and hashed by the
writer, so that every store -- in memory, SQLite, a shared PostgreSQL later --
holds byte-identical runs and verifies the same way. Stores know nothing of
event classes or projections; nothing backend-specific leaks past them.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import TypeAlias, TypeVar

import attrs

from eventstate.errors import SequenceError
from eventstate.stores.snapshots import MemorySnapshotStore, SnapshotStore

__all__ = ["WAIT_POLL_INTERVAL", "EventLog", "RunSummary", "StoredEvent", "StoredRow"]

#: How often, in seconds, the default :meth:`EventLog.wait_for_events` asks the store
#: for its newest sequence number: a reader sees an event within this time of its commit.
WAIT_POLL_INTERVAL = 0.05

T = TypeVar("T")


@attrs.frozen
class StoredEvent:
    """One event as a store keeps it.

    Attributes:
        run_id: The run.
        seq: Position in the run, from 1, gapless.
        type: The event's type tag.
        version: The schema version the payload was written with.
        timestamp: When it happened, ISO 8601 UTC.
        host: The host the event is about, if it is about one host.
        payload: The event's canonical JSON, the bytes the hash covers.
        prev_hash: The previous event's hash (the genesis hash for seq 1).
        hash: ``chain_hash(prev_hash, payload)``.
    """

    run_id: str
    seq: int
    type: str
    version: int
    timestamp: str
    host: str | None
    payload: str
    prev_hash: str
    hash: str


#: A :class:`StoredEvent`'s fields as a plain tuple, in the same order: what the writer
#: builds per event (a tuple costs a tenth of a frozen attrs instance) and what
#: :meth:`EventLog.append_rows` takes.
StoredRow: TypeAlias = tuple[str, int, str, int, str, str | None, str, str, str]


@attrs.frozen
class RunSummary:
    """What a store can say of a run without decoding it.

    Attributes:
        run_id: The run.
        started: The timestamp of its first event.
        last_seq: The sequence number of its last event (its event count).
    """

    run_id: str
    started: str
    last_seq: int


class EventLog(abc.ABC):
    """An append-only store of runs, each a gapless sequence of events.

    Subclasses implement the six abstract methods; the contract test-suite
    :class:`eventstate.testing.EventLogContract` says what they must do.
    """

    @abc.abstractmethod
    def append(self, events: Sequence[StoredEvent]) -> None:
        """Store ``events`` atomically: all of them or none.

        Each run's events must continue its sequence with no gap or repeat.

        Raises:
            SequenceError: an event would leave a gap or repeat a sequence number.
        """

    def append_rows(self, rows: Sequence[StoredRow]) -> None:
        """:meth:`append`, of events given as :data:`StoredRow` tuples (the writer's hot
        path: a store that inserts tuples skips building a :class:`StoredEvent` each).
        Same guarantees, same errors."""
        self.append([StoredEvent(*row) for row in rows])

    def append_later(self, events: Sequence[StoredEvent]) -> None:
        """Store ``events`` as :meth:`append` does, for a writer with more to come: the
        store may return before they are stored, and store them while the writer
        makes its next batch (by default: :meth:`append`).

        Such a store stores the batch whole or not at all, as :meth:`append`; a read
        waits for it (and sees it); and what refused it is raised by the store's next
        ``append``, ``append_later``, :meth:`flush` or :meth:`close` -- never later than
        ``flush`` returns. A break in the run's sequence is raised at once.

        Raises:
            SequenceError: an event would leave a gap or repeat a sequence number.
        """
        self.append(events)

    def append_rows_later(self, rows: Sequence[StoredRow]) -> None:
        """:meth:`append_later`, of events given as :data:`StoredRow` tuples (what the
        recorder hands over). By default :meth:`append_rows`: stored at once."""
        self.append_rows(rows)

    @abc.abstractmethod
    def read(self, run_id: str, first: int = 1, last: int | None = None) -> Iterator[StoredEvent]:
        """The events of ``run_id`` with ``first <= seq <= last``, in sequence order."""

    @abc.abstractmethod
    def runs(self) -> list[RunSummary]:
        """Every run in the store, in the order their first events were stored."""

    @abc.abstractmethod
    def last_event(self, run_id: str) -> StoredEvent | None:
        """The last stored event of ``run_id``, or None for a run with none."""

    def head(self) -> StoredEvent | None:
        """The store's head: the last event of its newest run (the run started last), or
        None for an empty store.

        A new run records it in its ``RunStarted`` (read once per run, never per
        event), chaining the runs of a store together: a run deleted, or a run's
        tail cut, is found from any run that started after it.
        """
        runs = self.runs()
        return self.last_event(runs[-1].run_id) if runs else None

    # Waiting for what other writers append (what ``eventstate watch`` follows a run by)

    def newest_seq(self, run_id: str) -> int:
        """The sequence number of the newest stored event of ``run_id`` (0: none yet).

        The cheap question a waiter asks again and again: a store answers it from
        an index, without reading the event.
        """
        last = self.last_event(run_id)
        return last.seq if last else 0

    def newest_run(self) -> str | None:
        """The id of the store's newest run (the run started last, as :meth:`head`
        names it), or None for an empty store."""
        head = self.head()
        return head.run_id if head else None

    def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> bool:
        """Wait until the store holds an event of ``run_id`` past ``after_seq`` --
        appended by any writer, in this process or another -- or ``timeout`` seconds
        have passed; whether it does.

        Returns at once when the event is stored already. The default asks
        :meth:`newest_seq` every :data:`WAIT_POLL_INTERVAL` seconds; a store that
        can be told of commits (PostgreSQL's ``LISTEN``/``NOTIFY``) overrides this:
        listen first, then ask :meth:`newest_seq` once, then again after each
        notification, until the deadline.
        """
        return bool(_poll(lambda: self.newest_seq(run_id) > after_seq or None, timeout))

    def wait_for_run(self, newest: str | None, timeout: float) -> str | None:
        """Wait until the store's newest run is another than ``newest`` (None: until it
        holds any run), or ``timeout`` seconds have passed; the id of the newest run
        then, or None at the timeout.

        Polled through :meth:`newest_run` like :meth:`wait_for_events` (which says
        how a store that is told of commits overrides it).
        """
        return _poll(lambda: found if (found := self.newest_run()) != newest else None, timeout)

    @property
    def log_id(self) -> str | None:
        """The store's own id, made with it and never changed; None for a store without one.

        A run records the id of the store it was written into: a run imported from
        another store is told from one of this store's own (whose predecessor must
        be here).
        """
        return None

    @property
    def read_only(self) -> bool:
        """Whether the log was opened to read only: it refuses appends and snapshots."""
        return False

    def snapshots(self) -> SnapshotStore:
        """Where this store keeps snapshots of its runs' views (made on first use)."""
        store = getattr(self, "_snapshot_store", None)
        if store is None:
            store = self._snapshot_store = self._make_snapshot_store()
        return store

    def _make_snapshot_store(self) -> SnapshotStore:
        return MemorySnapshotStore()

    def check_guards(self) -> list[str]:
        """What is missing or changed of the store's own append-only guards (nothing, by
        default): one line per problem."""
        return []

    @abc.abstractmethod
    def check_integrity(self) -> list[str]:
        """What the backend's own consistency check finds wrong with the stored data
        (a damaged page, a broken index): one line per problem, none when sound.

        Never raises for damage: damage is what it reports.
        """

    def flush(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Make everything appended so far durable. Stores that commit on append do nothing."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store's resources; it is not used afterwards."""

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _poll(ask: Callable[[], T | None], timeout: float) -> T | None:
    """``ask()``'s first answer that is not None, asked every :data:`WAIT_POLL_INTERVAL`
    seconds until ``timeout`` seconds have passed (then None); asked at least once."""
    deadline = time.monotonic() + timeout
    while True:
        found = ask()
        if found is not None:
            return found
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(WAIT_POLL_INTERVAL, left))


def check_sequence(events: Sequence[StoredEvent], last_seq: Callable[[str], int]) -> dict[str, int]:
    """Check that ``events`` continue each run's sequence; ``last_seq(run_id)`` gives its end.

    Returns the new last sequence number of every run the batch touches; raises
    :class:`SequenceError` naming the run and sequence number that breaks it.
    Shared by the stores so that they refuse the same batches with the same words.
    """
    updated: dict[str, int] = {}
    for event in events:
        run_id = event.run_id
        expected = (updated[run_id] if run_id in updated else last_seq(run_id)) + 1
        if event.seq < expected:
            raise SequenceError(
                f"run {event.run_id}: event {event.seq} repeats a stored sequence number "
                f"(the next is {expected})"
            )
        if event.seq > expected:
            raise SequenceError(
                f"run {event.run_id}: event {event.seq} leaves a gap (the next is {expected})"
            )
        updated[event.run_id] = event.seq
    return updated
