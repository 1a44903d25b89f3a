"""One stored run: its events, and its State at any point."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from eventstate.codec import EventCodec
from eventstate.errors import StoreCorruptError, StoreError, UsageError
from eventstate.events import Event
from eventstate.projections import AbortCause, AbortCauseProjection, HostOpsProjection, StateView
from eventstate.projections.overview import OverviewFold, RunOverview
from eventstate.replay.info import RunInfo
from eventstate.stores.base import EventLog, StoredEvent
from eventstate.stores.snapshots import (
    MIN_SNAPSHOT_INTERVAL,
    overview_version,
    projection_version,
    snapshot_interval,
)

__all__ = ["OVERVIEW_VERSION", "PROJECTION_VERSION", "SNAPSHOT_INTERVAL", "Run"]

#: The fewest events between two snapshots :meth:`Run.store_snapshots` (and the deploy)
#: store; a view of many hosts waits longer (``snapshot_interval`` in the stores).
SNAPSHOT_INTERVAL = MIN_SNAPSHOT_INTERVAL


#: The version of the projection code; snapshots made by another version are not used.
PROJECTION_VERSION = projection_version()

#: The version a run's overview is stored under (see :mod:`eventstate.stores.snapshots`).
OVERVIEW_VERSION = overview_version()

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
        events and after its last event; and, for a run that has ended, its overview.

        Without ``interval``, as the deploy does: the next snapshot after one of S bytes
        is :func:`~eventstate.stores.snapshots.snapshot_interval` (S) events later.
        Folded from the first event, whatever snapshots are stored already, so
        a wrong one is never copied forward. The log must be open for writing.

        Returns:
            The sequence numbers the snapshots were stored at, in order.

        Raises:
            StoreError: the log is opened read-only, or refused the write.
        """
        if interval is not None and interval < 1:
            raise UsageError(f"a snapshot interval is at least 1 event, not {interval}")
        if self.log.read_only:
            raise StoreError(f"run {self.run_id}: the log is opened read-only: no snapshot stored")
        store = self.log.snapshots()
        fold = OverviewFold()
        view, stored = fold.view, []
        end = self.last_seq
        due = interval or SNAPSHOT_INTERVAL
        # Read a stretch, then write its snapshot: a write never waits on this
        # connection's own open read (which other writers would make stale).
        while view.events_applied < end:
            fold.apply_all(list(self.events(view.events_applied + 1, min(due, end))))
            if view.events_applied == due or view.events_applied == end:
                data = view.to_json()
                store.put(self.run_id, view.events_applied, PROJECTION_VERSION, data)
                stored.append(view.events_applied)
                due += interval or snapshot_interval(len(data))
        if end and view.run.status is not None:
            store.put(self.run_id, end, OVERVIEW_VERSION, fold.overview().to_json())
        return stored

    def state(self) -> StateView:
        """The State's views at the end of the run."""
        return self.state_at(self.last_seq)

    def stored_overview(self, last: int | None = None) -> RunOverview | None:
        """The overview stored after the run's last event (``last``, when the caller
        knows it) by this projection code; None when there is none to trust: a run
        not ended, one written before overviews were stored, or an overview damaged
        or not this run's (``verify`` says which) -- the run is then folded instead."""
        end = self.last_seq if last is None else last
        try:
            found = self.log.snapshots().latest(self.run_id, end, OVERVIEW_VERSION)
        except StoreCorruptError:
            return None
        if found is None or found[0] != end:
            return None
        try:
            overview = RunOverview.from_json(found[1])
            RunInfo.from_dict(overview.info)
        except (TypeError, ValueError):
            return None
        if overview.run_id != self.run_id or overview.seq != end:
            return None
        return overview

    def overview(self) -> tuple[StateView, RunOverview]:
        """The views at the run's end and its overview: what ``show`` prints.

        Read from what the deploy stored after its last event (the overview, and the
        snapshot there) when it is there; else folded from the log, in one pass.
        """
        end = self.last_seq
        stored = self.stored_overview(end)
        if stored is not None:
            return self.state_at(end), stored
        fold = OverviewFold().apply_all(self.events(1, end))
        return fold.view, fold.overview()

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

    def info(self, last: int | None = None) -> RunInfo:
        """The run's listing line: from its stored overview, else from its views at its
        end (``last``: its last event, when the caller knows it)."""
        overview = self.stored_overview(last)
        if overview is not None:
            return RunInfo.from_dict(overview.info)
        view = self.state() if last is None else self.state_at(last)
        return RunInfo.of(view, view.events_applied)

    def __repr__(self) -> str:
        return f"Run({self.run_id!r})"
