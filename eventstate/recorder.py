"""The write path: an event is made, encoded, chained, buffered, then applied.

One :class:`EventRecorder` per run. ``record`` is the hot path of the engine:
it builds the event with the next sequence number, encodes it once to
canonical JSON, takes the chain hash over those bytes, queues the stored row
-- a plain tuple in the table's column order
(:data:`~eventstate.stores.base.StoredRow`), written with
:meth:`~eventstate.stores.base.EventLog.append_rows` -- and hands the event to
the projections. Rows reach the store in batches --
one transaction each -- when the batch is full, when the State asks (every
stage change, failed hosts, run end, ``flush``), and at the latest
``max_delay`` seconds after the oldest was recorded: a gevent timer, armed by
the first row of a batch, writes them even while nothing else happens (a long
command). A batch ``record`` writes is handed over with
:meth:`EventLog.append_rows_later` (a store may store it while the next is
recorded). The run's first event is written at once, so a run killed early
still leaves a trace; with ``sync`` every event is committed as it is recorded.

While the run is being written, a :class:`~eventstate.events.HeartbeatRecorded`
is recorded every :data:`~eventstate.events.HEARTBEAT_FLUSH_DELAYS` times
``max_delay``: readers tell a running run (recent heartbeat) from a crashed one.

The timers run in the gevent hub of the thread that made the recorder -- the
thread whose store connection it writes with; they fire whenever that thread
waits on gevent (commands, connections, sleeps).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from datetime import datetime, timezone
from hashlib import sha256
from typing import Any, TypeVar

import gevent

from eventstate.chain import GENESIS_HASH
from eventstate.codec import EventCodec, canonical_bytes
from eventstate.events import HEARTBEAT_FLUSH_DELAYS, Event, HeartbeatRecorded, RunFinished
from eventstate.stores.base import EventLog, StoredRow

__all__ = ["EventRecorder", "head_fields"]

E = TypeVar("E", bound=Event)

_utc = timezone.utc


class EventRecorder:
    """Appends the events of one run to ``log`` and applies each to ``apply``.

    Args:
        log: The store.
        run_id: The run; if the store already holds events of it, the
            sequence and the hash chain continue from its last one.
        apply: Called with each event once it is queued for the store.
        codec: The codec; a new :class:`EventCodec` by default.
        batch_size: Queue at most this many rows before writing them.
        max_delay: Write queued rows at the latest this many seconds after the
            oldest was recorded (a timer does, when no event comes to do it).
        sync: Write every event as it is recorded (``batch_size`` 1).
        heartbeat: Record a heartbeat every ``HEARTBEAT_FLUSH_DELAYS * max_delay``
            seconds until the run's end.
        flushed: Called with the last sequence number after each write; returns the
            sequence number a batch should end at next (a snapshot is due there), or None.
    """

    def __init__(
        self,
        log: EventLog,
        run_id: str,
        apply: Callable[[Event], None],
        *,
        codec: EventCodec | None = None,
        batch_size: int = 20000,
        max_delay: float = 1.0,
        sync: bool = False,
        heartbeat: bool = True,
        flushed: Callable[[int], int | None] | None = None,
    ) -> None:
        self.log = log
        self.run_id = run_id
        self._apply = apply
        # The view ``apply`` belongs to (a bound StateView.apply), whose count of events
        # applied an event recorded with record_applied still adds to.
        self._apply_owner: Any = getattr(apply, "__self__", None)
        self._to_dict = (codec or EventCodec()).to_dict
        self._batch_size = 1 if sync else batch_size
        self._max_delay = max_delay
        last = log.last_event(run_id)
        self._seq = last.seq if last else 0
        self._prev_hash = last.hash if last else GENESIS_HASH
        #: The rows recorded but not yet written, each a :data:`~eventstate.stores.base.StoredRow`.
        self._pending: list[StoredRow] = []
        self._pending_since = 0.0
        # Rows queued before record() writes them itself: 1 until the first write (a
        # run's start is written at once), then batch_size; 0 once a timer's write
        # failed, so that the next event raises the store's error to the deploy.
        self._flush_at = 1
        self._flushed = flushed
        # The timers hold the recorder weakly: a run abandoned unfinished is not kept
        # alive (nor kept beating) by them.
        self._self = weakref.ref(self)
        loop = gevent.get_hub().loop
        self._flush_timer = loop.timer(max_delay, ref=False)
        self._heartbeat: Any = None
        if heartbeat:
            interval = HEARTBEAT_FLUSH_DELAYS * max_delay
            self._heartbeat = loop.timer(interval, interval, ref=False)
            self._heartbeat.start(_beat, self._self, self._heartbeat)

    @property
    def last_seq(self) -> int:
        """The sequence number of the last event recorded."""
        return self._seq

    @property
    def pending(self) -> int:
        """Rows recorded but not yet written to the store."""
        return len(self._pending)

    def record(self, event_class: type[E], **fields: Any) -> E:
        """Record one event of ``event_class`` with ``fields``; returns it."""
        # The engine's hot path: every line here is paid per event, so nothing is looked
        # up twice and the row is the tuple the store inserts, built once.
        seq = self._seq + 1
        run_id = self.run_id
        event = event_class(run_id=run_id, seq=seq, at=datetime.now(_utc), **fields)
        data = self._to_dict(event)
        encoded = canonical_bytes(data)
        prev_hash = self._prev_hash
        # chain_hash(prev_hash, encoded), inline: over the bytes just encoded, not again.
        digest = sha256(prev_hash.encode() + b"\n" + encoded).hexdigest()
        pending = self._pending
        if not pending:
            # Once per batch, not per event: the timer that writes it if nothing else does.
            self._pending_since = time.monotonic()
            self._flush_timer.start(_flush_due, self._self)
        pending.append(
            (
                run_id,
                seq,
                event_class.event_type,
                event_class.version,
                data["at"],
                data.get("host"),
                encoded.decode(),
                prev_hash,
                digest,
            )
        )
        self._seq = seq
        self._prev_hash = digest
        self._apply(event)
        # The age check covers a thread too busy to run the timer (a long prepare).
        if len(pending) >= self._flush_at or (
            time.monotonic() - self._pending_since >= self._max_delay
        ):
            # Past the run's first write, more to come: handed over (the first write,
            # sync mode, and the write after a timer's failure are made, and raise, now).
            if self._flush_at == self._batch_size > 1:
                self._hand_over()
            else:
                self.flush()
        return event

    def record_applied(self, event_class: type[E], **fields: Any) -> E:
        """:meth:`record`, for an event whose effect the views already took (piecemeal,
        as the State adds an op for host after host): it is only counted."""
        apply = self._apply
        self._apply = self._count_applied
        try:
            return self.record(event_class, **fields)
        finally:
            self._apply = apply

    def _count_applied(self, event: Event) -> None:
        counted = getattr(self._apply_owner, "events_applied", None)
        if counted is not None:
            self._apply_owner.events_applied = counted + 1

    def flush(self) -> None:
        """Write every queued row to the store in one transaction, and flush the store."""
        if self._pending:
            # On failure the rows stay queued: a later flush can still write them.
            self.log.append_rows(self._pending)
            self._pending = []
            self._flush_timer.stop()
            self._flush_at = self._batch_size
        self.log.flush()
        if self._flushed is not None:
            # Once per write, never per event: the next batch ends where a snapshot is due.
            due = self._flushed(self._seq)
            if due is not None and self._flush_at:
                self._flush_at = max(1, min(self._batch_size, due - self._seq))

    def _hand_over(self) -> None:
        # A batch, full or due, more to come: the store may store it while the next is
        # recorded (EventLog.append_rows_later); what refused it comes with the next write.
        self.log.append_rows_later(self._pending)
        self._pending = []
        self._flush_timer.stop()
        self._flush_at = self._batch_size

    def stop(self) -> None:
        """Stop the timers (the heartbeat, the delayed write); queued rows stay queued."""
        self._flush_timer.stop()
        if self._heartbeat is not None:
            self._heartbeat.stop()

    def _flush_from_timer(self) -> None:
        try:
            self.flush()
        except Exception:
            # Nobody to raise to in the hub: the run's next event writes again, and raises.
            self._flush_at = 0

    def _beat(self) -> None:
        try:
            if self._seq == 0:
                return  # nothing of the run recorded yet: no run to keep alive
            if self._ended():
                self.stop()
                return
            self.record(HeartbeatRecorded)
        except Exception:
            self.stop()
            self._flush_at = 0

    def _ended(self) -> bool:
        # Once per heartbeat, never per event: whether the run's last event is its end.
        if self._pending:
            return self._pending[-1][2] == RunFinished.event_type
        last = self.log.last_event(self.run_id)
        return last is not None and last.type == RunFinished.event_type


def _flush_due(recorder: weakref.ref[EventRecorder]) -> None:
    alive = recorder()
    if alive is not None:
        alive._flush_from_timer()


def _beat(recorder: weakref.ref[EventRecorder], timer: Any) -> None:
    alive = recorder()
    if alive is None:
        timer.stop()
    else:
        alive._beat()


def head_fields(log: EventLog) -> dict[str, Any]:
    """The fields of a new run's ``RunStarted`` that chain it to the runs before it in ``log``:
    ``log_id``, and ``head_run_id``/``head_seq``/``head_hash`` of :meth:`EventLog.head`
    (None/0/:data:`~eventstate.chain.GENESIS_HASH` for an empty log). Read once per run."""
    head = log.head()
    return {
        "log_id": log.log_id,
        "head_run_id": head.run_id if head else None,
        "head_seq": head.seq if head else 0,
        "head_hash": head.hash if head else GENESIS_HASH,
    }
