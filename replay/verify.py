"""Verify a run's rows: their sequence, their hash chain, and that every event decodes.

One check, wherever the rows come from: a store (``eventstate verify``) or an
export about to be imported (``eventstate import``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.codec import EventCodec, payload_fields
from eventstate.errors import CodecError, IntegrityError
from eventstate.events import Event
from eventstate.stores.base import EventLog, StoredEvent

__all__ = ["VerifyReport", "verify_events", "verify_run"]


@attrs.frozen
class VerifyReport:
    """What verifying a run found.

    Attributes:
        run_id: The run.
        events_checked: Events read before the first problem (all, when none).
        bad_seq: The sequence number of the first bad event, or None.
        problem: What is wrong with it, or None.
    """

    run_id: str
    events_checked: int
    bad_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run verified."""
        return self.problem is None

    def __str__(self) -> str:
        if self.ok:
            return f"run {self.run_id}: {self.events_checked} events verified"
        if self.bad_seq is None:
            return f"run {self.run_id}: {self.problem}"
        return f"run {self.run_id}, event {self.bad_seq}: {self.problem}"

    def raise_for_problem(self) -> None:
        """Raise :class:`IntegrityError` with the one-line report if the run is bad."""
        if not self.ok:
            raise IntegrityError(str(self))


def verify_events(
    run_id: str, rows: Iterable[StoredEvent], *, codec: EventCodec | None = None
) -> VerifyReport:
    """Check the rows of ``run_id``, in order, and report the first problem.

    Each row must belong to the run, follow the last with no gap, link to
    its hash, hash to what it stores, decode, and agree with its payload in
    every column: the chain covers only the payload, so a column rewritten
    alone (``host``, ``timestamp``...) is caught only by this comparison.
    """
    codec = codec or EventCodec()
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0

    def bad(seq: int, problem: str) -> VerifyReport:
        return VerifyReport(run_id, checked, seq, problem)

    for stored in rows:
        if stored.run_id != run_id:
            return bad(stored.seq, f"belongs to another run ({stored.run_id})")
        if stored.seq != expected_seq:
            return bad(expected_seq, f"missing: the next stored event is {stored.seq}")
        if stored.prev_hash != prev_hash:
            return bad(stored.seq, "does not link to the event before it (prev_hash differs)")
        if chain_hash(prev_hash, stored.payload) != stored.hash:
            return bad(stored.seq, "payload does not match its hash (changed after it was written)")
        try:
            fields = payload_fields(stored.payload)
            event = codec.from_dict(fields)
        except CodecError as error:
            return bad(stored.seq, f"does not decode: {error}")
        column = _disagreeing_column(stored, event, fields)
        if column is not None:
            return bad(stored.seq, f"row column {column} disagrees with its payload")
        prev_hash = stored.hash
        expected_seq += 1
        checked += 1
    if checked == 0:
        return VerifyReport(run_id, 0, None, "no events stored for this run")
    return VerifyReport(run_id, checked)


def _disagreeing_column(stored: StoredEvent, event: Event, fields: Mapping[str, Any]) -> str | None:
    """The first column of ``stored`` that is not what its payload says, or None."""
    # The version and time as written (before any upcast or parsing), the host if it has one.
    payload_columns = (
        ("run_id", event.run_id),
        ("seq", event.seq),
        ("type", event.event_type),
        ("version", fields.get("v", 1)),
        ("timestamp", fields.get("at")),
        ("host", fields.get("host")),
    )
    for column, value in payload_columns:
        stored_value = getattr(stored, column)
        # type() too: a JSON true is not the version 1, nor a text "3" the seq 3.
        if stored_value != value or type(stored_value) is not type(value):
            return column
    return None


def verify_run(log: EventLog, run_id: str, *, codec: EventCodec | None = None) -> VerifyReport:
    """Check the stored run ``run_id`` with :func:`verify_events` and report the first problem."""
    return verify_events(run_id, log.read(run_id), codec=codec)
