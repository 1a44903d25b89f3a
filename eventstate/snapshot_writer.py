"""What a deploy writes beside its events for readers: snapshots, and its overview at its end.

The live State's views are a fold of exactly the events appended so far, so
the deploy stores them as a snapshot without folding anything again: after the
recorder has appended the batch that ends at the snapshot's event (the recorder
ends a batch there), never per event. The next snapshot is due
:func:`~eventstate.stores.snapshots.snapshot_interval` events later, sized by
this one: a view of many hosts is snapshotted less often, so snapshots stay a
bounded fraction of the log.

Once the run has ended, each flush stores the run's overview
(:class:`~eventstate.projections.overview.RunOverview`, folded on the hot path
beside the views) and a snapshot after the last event, so that ``show``,
``runs`` and ``state`` read a finished run without folding it.

Both are a cache: a store that refuses them (read-only, full) loses nothing of
the run, and ``eventstate verify`` checks them against a fold of the log.
"""

from __future__ import annotations

from collections.abc import Callable

from eventstate.errors import StoreError
from eventstate.projections.overview import OverviewFold
from eventstate.stores.base import EventLog
from eventstate.stores.snapshots import (
    MIN_SNAPSHOT_INTERVAL,
    overview_version,
    projection_version,
    snapshot_interval,
)

__all__ = ["SnapshotWriter"]


class SnapshotWriter:
    """Stores a run's snapshots and overview as its recorder flushes.

    Args:
        log: The run's log.
        run_id: The run.
        fold: The live views, with the overview's projections attached.
        exact: Whether the views are exactly the fold of the events recorded (False
            while the State holds hosts an op was added for that are not yet in the log).
    """

    def __init__(
        self, log: EventLog, run_id: str, fold: OverviewFold, exact: Callable[[], bool]
    ) -> None:
        self.log = log
        self.run_id = run_id
        self.fold = fold
        self._exact = exact
        self._version = projection_version()
        #: The event after which the next snapshot is due.
        self.due = MIN_SNAPSHOT_INTERVAL
        #: The events snapshots were stored after, in order (the overview's aside).
        self.stored: list[int] = []
        #: The event the overview was last stored after (0: never).
        self.overview_seq = 0

    def flushed(self, seq: int) -> int:
        """The recorder appended every event up to ``seq``: store what is due; returns the
        event the next snapshot is due after."""
        view = self.fold.view
        ended = view.run.status is not None
        if (seq >= self.due or ended) and view.events_applied == seq and self._exact():
            if not self.stored or self.stored[-1] != seq:
                self._put_snapshot(seq)
            if ended and self.overview_seq != seq:
                self._put_overview(seq)
        return self.due

    def _put_snapshot(self, seq: int) -> None:
        data = self.fold.view.to_json()
        self.due = seq + snapshot_interval(len(data))
        try:
            self.log.snapshots().put(self.run_id, seq, self._version, data)
        except StoreError:
            return  # a cache: the run is recorded either way
        self.stored.append(seq)

    def _put_overview(self, seq: int) -> None:
        data = self.fold.overview().to_json()
        try:
            self.log.snapshots().put(self.run_id, seq, overview_version(), data)
        except StoreError:
            return
        self.overview_seq = seq
