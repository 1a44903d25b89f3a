"""One stored run: its events, and its State at any point."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from pathlib import Path

from eventstate import projections
from eventstate.codec import EventCodec
from eventstate.errors import StoreCorruptError, StoreError, UsageError
from eventstate.events import Event
from eventstate.projections import AbortCause, AbortCauseProjection, HostOpsProjection, StateView
from eventstate.replay.info import RunInfo
from eventstate.stores.base import EventLog, StoredEvent

__all__ = ["PROJECTION_VERSION", "SNAPSHOT_INTERVAL", "Run"]

#: :meth:`Run.store_snapshots` stores a snapshot of the views every this many events.
SNAPSHOT_INTERVAL = 2000


def _projection_version() -> str:
    # The projections' own source: a snapshot made by other code is not reused.
    digest = hashlib.sha256()
    for path in sorted(Path(projections.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


#: The version of the projection code; snapshots made by another version are not used.
PROJECTION_VERSION = _projection_version()

#: The stored types :meth:`Run.host_ops` decodes; the rest it skips unread.
_HOST_OPS_TYPES = frozenset(cls.event_type for cls in HostOpsProjection.handlers)

#: The stored types :meth:`Run.abort_cause` decodes.
_ABORT_TYPES = frozenset(cls.event_type for cls in AbortCauseProjection.handlers)


def _restored(run_id: str, seq: int, data: str) -> StateView:
    """The views a stored snapshot holds.

    Raises:
        StoreCorruptError: the snapshot is not one :meth:`StateView.to_json` wrote.
    """
    try:
        return StateView.from_json(data)
    except Exception as error:  # a snapshot is stored data: anything in it may be wrong
        raise StoreCorruptError(
            f"run {run_id}: the snapshot after event {seq} is damaged "
            f"({type(error).__name__}: {error}); `eventstate snapshot {run_id}` stores it anew"
        ) from None


class Run:
    """A run in a stored log.

    Iterating a run steps through it: each item is ``(event, view)``, the
    view as it is right after the event (one view, updated in place).
    """

    def __init__(self, log: EventLog, run_id: str, codec: EventCodec | None = None) -> None:
        self.log = log
        self.run_id = run_id
        self.codec = codec or EventCodec()

    @property
    def last_seq(self) -> int:
        """The sequence number of the run's last event: its length."""
        last = self.log.last_event(self.run_id)
        return last.seq if last else 0

    def stored(
        self,
        first: int = 1,
        last: int | None = None,
        *,
        host: str | None = None,
        types: Collection[str] | None = None,
    ) -> Iterator[StoredEvent]:
        """The stored rows with ``first <= seq <= last``, of ``host`` and ``types`` if given."""
        for stored in self.log.read(self.run_id, first, last):
            if host is not None and stored.host != host:
                continue
            if types is not None and stored.type not in types:
                continue
            yield stored

    def events(
        self,
        first: int = 1,
        last: int | None = None,
        *,
        host: str | None = None,
        types: Collection[str] | None = None,
    ) -> Iterator[Event]:
        """The decoded events, filtered as :meth:`stored`."""
        decode = self.codec.decode
        if host is None and types is None:  # a fold's read: no filtering layer between
            for stored in self.log.read(self.run_id, first, last):
                yield decode(stored.payload)
            return
        for stored in self.stored(first, last, host=host, types=types):
            yield decode(stored.payload)

    def __iter__(self) -> Iterator[tuple[Event, StateView]]:
        view = StateView()
        for event in self.events():
            view.apply(event)
            yield event, view

    def state_at(self, seq: int) -> StateView:
        """The State's views as they were right after event ``seq`` (0: before any).

        Starts from the nearest stored snapshot at or before ``seq`` made by
        this projection code, and folds the events after it. Reading never
        writes: snapshots are stored by :meth:`store_snapshots` (the deploy
        that writes the run, or ``eventstate snapshot``).
        """
        if seq <= 0:
            return StateView()
        found = self.log.snapshots().latest(self.run_id, seq, PROJECTION_VERSION)
        if found is None:
            view, first = StateView(), 1
        else:
            view, first = _restored(self.run_id, *found), found[0] + 1
        view.apply_all(self.events(first, seq))
        return view

    def store_snapshots(self, interval: int | None = None) -> list[int]:
        """Fold the whole run and store a snapshot of its views every ``interval``
        events (:data:`SNAPSHOT_INTERVAL` by default) and after its last event.

        Folded from the first event, whatever snapshots are stored already, so
        a wrong one is never copied forward. The log must be open for writing.

        Returns:
            The sequence numbers the snapshots were stored at, in order.

        Raises:
            StoreError: the log is opened read-only, or refused the write.
        """
        every = SNAPSHOT_INTERVAL if interval is None else interval
        if every < 1:
            raise UsageError(f"a snapshot interval is at least 1 event, not {every}")
        if self.log.read_only:
            raise StoreError(f"run {self.run_id}: the log is opened read-only: no snapshot stored")
        store = self.log.snapshots()
        view, stored = StateView(), []
        end = self.last_seq
        # Read a stretch, then write its snapshot: a write never waits on this
        # connection's own open read (which other writers would make stale).
        for first in range(1, end + 1, every):
            for event in list(self.events(first, min(first + every - 1, end))):
                view.apply(event)
            if view.events_applied % every == 0:
                store.put(self.run_id, view.events_applied, PROJECTION_VERSION, view.to_json())
                stored.append(view.events_applied)
        last = view.events_applied
        if last and (not stored or stored[-1] != last):
            store.put(self.run_id, last, PROJECTION_VERSION, view.to_json())
            stored.append(last)
        return stored

    def state(self) -> StateView:
        """The State's views at the end of the run."""
        return self.state_at(self.last_seq)

    def host_ops(self) -> HostOpsProjection:
        """Each host's operations -- plan, commands, outcome -- folded from the whole run.

        Folded anew on each call and never snapshotted: it is the audit's view,
        not part of the State's (see :mod:`eventstate.projections.host_ops`).
        """
        projection = HostOpsProjection()
        projection.apply_all(self.events(types=_HOST_OPS_TYPES))
        return projection

    def abort_cause(self) -> AbortCause | None:
        """The failing of hosts that stopped the run (over FAIL_PERCENT, or none left),
        with what each of those hosts failed at; None when hosts failing did not stop it."""
        projection = AbortCauseProjection()
        projection.apply_all(self.events(types=_ABORT_TYPES))
        return projection.cause

    def info(self) -> RunInfo:
        """The run's listing line."""
        view = self.state()
        return RunInfo.of(view, view.events_applied)

    def __repr__(self) -> str:
        return f"Run({self.run_id!r})"
