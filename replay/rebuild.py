"""Rebuild a stored run's views: decode its events and fold the projections over them."""

from __future__ import annotations

from collections.abc import Iterator

from eventstate.codec import EventCodec
from eventstate.events import Event
from eventstate.projections import StateView
from eventstate.stores.base import EventLog

__all__ = ["read_events", "rebuild"]


def read_events(
    log: EventLog,
    run_id: str,
    first: int = 1,
    last: int | None = None,
    *,
    codec: EventCodec | None = None,
) -> Iterator[Event]:
    """The events of ``run_id`` with ``first <= seq <= last``, decoded (and upcast)."""
    decode = (codec or EventCodec()).decode
    for stored in log.read(run_id, first, last):
        yield decode(stored.payload)


def rebuild(
    log: EventLog, run_id: str, last: int | None = None, *, codec: EventCodec | None = None
) -> StateView:
    """The State's views of ``run_id`` as they were after event ``last`` (the end if None)."""
    return StateView().apply_all(read_events(log, run_id, 1, last, codec=codec))
