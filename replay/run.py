"""One stored run: its events, and its State at any point."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from eventstate.codec import EventCodec
from eventstate.events import Event
from eventstate.stores.base import EventLog, StoredEvent
from projections import StateView
from replay.info import RunInfo

__all__ = ["Run"]


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
        for stored in self.stored(first, last, host=host, types=types):
            yield decode(stored.payload)

    def __iter__(self) -> Iterator[tuple[Event, StateView]]:
        view = StateView()
        for event in self.events():
            view.apply(event)
            yield event, view

    def state_at(self, seq: int) -> StateView:
        """The State's views as they were right after event ``seq`` (0: before any)."""
        return StateView().apply_all(self.events(1, seq)) if seq > 0 else StateView()

    def state(self) -> StateView:
        """The State's views at the end of the run."""
        return StateView().apply_all(self.events())

    def info(self) -> RunInfo:
        """The run's listing line."""
        view = self.state()
        return RunInfo.of(view, view.events_applied)

    def __repr__(self) -> str:
        return f"Run({self.run_id!r})"
