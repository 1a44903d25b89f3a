"""The write path: an event is made, encoded, chained, buffered, then applied.

One :class:`EventRecorder` per run. ``record`` is the hot path of the engine:
it builds the event with the next sequence number, encodes it once to
canonical JSON, takes the chain hash over those bytes, queues the stored row
and hands the event to the projections. Rows reach the store in batches --
one transaction each -- when the batch is full or old, and whenever the
State asks (every stage change, failed hosts, run end, ``flush``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.codec import EventCodec, canonical_bytes
from eventstate.events import Event
from eventstate.stores.base import EventLog, StoredEvent

__all__ = ["EventRecorder"]

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
        max_delay: Write queued rows once the oldest is this many seconds old.
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
    ) -> None:
        self.log = log
        self.run_id = run_id
        self._apply = apply
        self._to_dict = (codec or EventCodec()).to_dict
        self._batch_size = batch_size
        self._max_delay = max_delay
        last = log.last_event(run_id)
        self._seq = last.seq if last else 0
        self._prev_hash = last.hash if last else GENESIS_HASH
        self._pending: list[StoredEvent] = []
        self._pending_since = 0.0

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
        seq = self._seq + 1
        event = event_class(run_id=self.run_id, seq=seq, at=datetime.now(_utc), **fields)
        data = self._to_dict(event)
        encoded = canonical_bytes(data)
        prev_hash = self._prev_hash
        digest = chain_hash(prev_hash, encoded)  # over the bytes just encoded, not again
        pending = self._pending
        if not pending:
            self._pending_since = time.monotonic()
        pending.append(
            StoredEvent(
                self.run_id,
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
        if len(pending) >= self._batch_size or (
            time.monotonic() - self._pending_since >= self._max_delay
        ):
            self.flush()
        return event

    def flush(self) -> None:
        """Write every queued row to the store in one transaction, and flush the store."""
        if self._pending:
            # On failure the rows stay queued: a later flush can still write them.
            self.log.append(self._pending)
            self._pending = []
        self.log.flush()
