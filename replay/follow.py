"""Following a run while another process writes it: its events as they commit, each
host's progress, and the moment the run is over.

A :class:`RunFollower` reads only: it waits on the store
(:meth:`~eventstate.stores.EventLog.wait_for_events`) for events past the last
it has read, folds them into the run's views, and says the run is over when its
end is stored -- or when its writer died: a run with no end whose heartbeats
stopped is ``interrupted``, as every reader lists it
(:meth:`~eventstate.projections.run.RunProjection.status_at`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone

import attrs

from eventstate.codec import EventCodec
from eventstate.events import (
    CommandExecuted,
    Event,
    HostOperationFinished,
    HostOperationRetried,
    OperationStarted,
    RunFinished,
    StateStage,
)
from eventstate.projections import StateView
from eventstate.projections.run import RUNNING
from eventstate.stores.base import EventLog, StoredEvent

__all__ = ["END_GRACE", "WAIT_STEP", "FollowedEvent", "HostProgress", "RunFollower"]

#: The longest one wait for new events lasts, in seconds: how often a follower looks at
#: the clock (a run whose writer died is over once its heartbeats are overdue).
WAIT_STEP = 0.5

#: How long, in seconds, a run's clean-up after its end (the stage change and the
#: hosts' disconnections an abort or an interruption records after ``RunFinished``)
#: is waited for.
END_GRACE = 2.0


@attrs.frozen
class FollowedEvent:
    """An event read while following a run: the stored row and the event it decodes to.

    Attributes:
        stored: The row as the store keeps it.
        event: The decoded event.
    """

    stored: StoredEvent
    event: Event


@attrs.frozen
class HostProgress:
    """How far one host of a followed run has come.

    Attributes:
        host: The host.
        status: ``ok``, ``failed``, ``connect failed`` or ``not run``
            (:meth:`StateView.host_status`).
        done: Operations finished on it (successes, errors and ignored errors).
        total: Operations planned for it.
        current: The names of the operation running on it now, or None.
        errors: Operations that failed on it (ignored ones included).
    """

    host: str
    status: str
    done: int
    total: int
    current: str | None
    errors: int


class RunFollower:
    """Reads the run ``run_id`` of ``log`` as it is written, from its first event.

    Args:
        log: The store (opened read-only: a follower never writes).
        run_id: The run, by its full id.
        codec: Decodes the stored events; a new :class:`EventCodec` by default.
    """

    def __init__(self, log: EventLog, run_id: str, codec: EventCodec | None = None) -> None:
        self.log = log
        self.run_id = run_id
        self.codec = codec or EventCodec()
        #: The run's views after the last event read.
        self.view = StateView()
        #: The sequence number of the last event read (0: none yet).
        self.seq = 0
        self._current: dict[str, str] = {}
        self._ended_at: float | None = None

    def poll(self, timeout: float = WAIT_STEP) -> list[FollowedEvent]:
        """The events stored since the last call, in order, waiting up to ``timeout``
        seconds for the first of them (an empty list: none came)."""
        if not self.log.wait_for_events(self.run_id, self.seq, timeout):
            return []
        # Read to the end before folding: the store's read is not held open meanwhile.
        rows = list(self.log.read(self.run_id, self.seq + 1))
        followed = []
        for stored in rows:
            event = self.codec.decode(stored.payload)
            self.view.apply(event)
            self._track(event)
            self.seq = stored.seq
            followed.append(FollowedEvent(stored, event))
        return followed

    def _track(self, event: Event) -> None:
        """Keep each host's running operation: what the views do not say."""
        current = self._current
        if isinstance(event, OperationStarted):
            for host in self.view.active_hosts:
                if event.op_hash in self.view.meta[host].op_hashes:
                    current[host] = event.op_hash
        elif isinstance(event, (CommandExecuted, HostOperationRetried)):
            if event.op_hash is not None:
                current[event.host] = event.op_hash
        elif isinstance(event, HostOperationFinished):
            if current.get(event.host) == event.op_hash:
                del current[event.host]
        elif isinstance(event, RunFinished):
            current.clear()
            self._ended_at = time.monotonic()

    @property
    def status(self) -> str:
        """How the run stands now: ``running`` while it is written, else how it ended
        (``interrupted`` too for a run whose writer died)."""
        if self.seq == 0:
            return RUNNING  # nothing read yet: the run's first events are on their way
        return self.view.run.status_at(_now())

    @property
    def over(self) -> bool:
        """Whether nothing more will come: the run's end is read (with the clean-up
        after it, or :data:`END_GRACE` seconds after it), or its writer died."""
        if self._ended_at is not None:
            return (
                self.view.current_stage >= StateStage.Disconnect
                or time.monotonic() - self._ended_at >= END_GRACE
            )
        return self.status != RUNNING

    def follow(self, step: float = WAIT_STEP) -> Iterator[list[FollowedEvent]]:
        """Each batch of events as it is stored, until the run is over; an empty batch
        at least every ``step`` seconds (a moment to redraw a view)."""
        while True:
            batch = self.poll(step)
            yield batch
            if self.over:
                return

    def progress(self) -> list[HostProgress]:
        """Each inventory host's progress, in inventory order."""
        view = self.view
        rows = []
        for host in view.run.hosts:
            results, meta = view.results[host], view.meta[host]
            op_hash = self._current.get(host)
            op = view.op_meta.get(op_hash) if op_hash is not None else None
            rows.append(
                HostProgress(
                    host=host,
                    status=view.host_status(host),
                    done=results.success_ops + results.error_ops + results.ignored_error_ops,
                    total=meta.ops,
                    current=", ".join(op.names) if op is not None else None,
                    errors=results.error_ops + results.ignored_error_ops,
                )
            )
        return rows


def _now() -> datetime:
    return datetime.now(timezone.utc)
