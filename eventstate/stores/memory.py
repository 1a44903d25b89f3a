"""An event store held in memory: the State's default, and the reference for the contract."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

from eventstate.errors import StoreError, StoreNotFoundError
from eventstate.stores.base import EventLog, RunSummary, StoredEvent, check_sequence

__all__ = ["MemoryEventLog", "open_memory_url"]


class MemoryEventLog(EventLog):
    """Keeps every run in a Python list; gone when the process ends."""

    def __init__(self) -> None:
        self._runs: dict[str, list[StoredEvent]] = {}
        self._log_id = uuid.uuid4().hex

    @property
    def log_id(self) -> str:
        """A new id per log: each in-memory log is a store of its own."""
        return self._log_id

    def append(self, events: Sequence[StoredEvent]) -> None:
        """Store ``events`` atomically; see :meth:`EventLog.append`."""
        check_sequence(events, lambda run_id: len(self._runs.get(run_id, ())))
        for event in events:
            self._runs.setdefault(event.run_id, []).append(event)

    def read(self, run_id: str, first: int = 1, last: int | None = None) -> Iterator[StoredEvent]:
        """The events of ``run_id`` with ``first <= seq <= last``."""
        stored = self._runs.get(run_id, [])
        # seq n sits at index n - 1: the sequence is gapless.
        return iter(stored[max(first, 1) - 1 : last])

    def runs(self) -> list[RunSummary]:
        """Every run, in the order they started."""
        return [
            RunSummary(run_id=run_id, started=stored[0].timestamp, last_seq=len(stored))
            for run_id, stored in self._runs.items()
            if stored
        ]

    def last_event(self, run_id: str) -> StoredEvent | None:
        """The last event of ``run_id``, or None."""
        stored = self._runs.get(run_id)
        return stored[-1] if stored else None

    def newest_seq(self, run_id: str) -> int:
        """The length of ``run_id``'s list: its newest sequence number (the run is gapless)."""
        return len(self._runs.get(run_id, ()))

    def head(self) -> StoredEvent | None:
        """The last event of the run started last, or None."""
        newest = next(reversed(self._runs.values()), None)
        return newest[-1] if newest else None

    def check_integrity(self) -> list[str]:
        """Nothing to find: the lists hold only what ``append`` checked."""
        return []

    def close(self) -> None:
        """Nothing to release."""


def open_memory_url(url: str, *, create: bool = True, read_only: bool = False) -> MemoryEventLog:
    """A new :class:`MemoryEventLog` for the URL ``memory://`` (which takes nothing after it).

    Raises:
        StoreNotFoundError: ``create`` is False or ``read_only`` True: a new
            in-memory log holds nothing, so there is no existing log to open.
        StoreError: something follows ``memory://``.
    """
    if url.partition("://")[2]:
        raise StoreError("memory:// takes nothing after it: each one opens a new, empty log")
    if not create or read_only:
        raise StoreNotFoundError("no event log at memory://: an in-memory log starts empty")
    return MemoryEventLog()
