"""Snapshots of a run's views: a cache for seeking, never a source of truth.

A snapshot is the views' JSON after event ``seq`` of a run, tagged with the
version of the projection code that made it. A reader only uses snapshots of
its own version: when the projections change, old snapshots are ignored and
new ones are made from the log.

This module holds the interface and the in-memory store; each backend keeps
its own snapshot store beside it (SQLite's in :mod:`eventstate.stores.sqlite`).
"""

from __future__ import annotations

import abc

__all__ = ["MemorySnapshotStore", "SnapshotStore"]


class SnapshotStore(abc.ABC):
    """Where snapshots of runs' views are kept."""

    @abc.abstractmethod
    def latest(self, run_id: str, seq: int, version: str) -> tuple[int, str] | None:
        """The latest snapshot of ``run_id`` at or before ``seq`` made by ``version``:
        ``(its seq, its JSON)``, or None."""

    @abc.abstractmethod
    def entries(self, run_id: str) -> list[tuple[int, str]]:
        """Every snapshot kept of ``run_id``, as ``(seq, version)``, in ``seq`` order
        (what ``eventstate verify`` checks against a fold of the run)."""

    @abc.abstractmethod
    def put(self, run_id: str, seq: int, version: str, data: str) -> None:
        """Keep a snapshot (replacing one at the same place)."""


class MemorySnapshotStore(SnapshotStore):
    """Snapshots in a dict, for in-memory logs."""

    def __init__(self) -> None:
        self._snapshots: dict[tuple[str, str], dict[int, str]] = {}

    def latest(self, run_id: str, seq: int, version: str) -> tuple[int, str] | None:
        """See :meth:`SnapshotStore.latest`."""
        taken = self._snapshots.get((run_id, version), {})
        best = max((at for at in taken if at <= seq), default=None)
        return None if best is None else (best, taken[best])

    def entries(self, run_id: str) -> list[tuple[int, str]]:
        """See :meth:`SnapshotStore.entries`."""
        return sorted(
            (seq, version)
            for (run, version), taken in self._snapshots.items()
            if run == run_id
            for seq in taken
        )

    def put(self, run_id: str, seq: int, version: str, data: str) -> None:
        """See :meth:`SnapshotStore.put`."""
        self._snapshots.setdefault((run_id, version), {})[seq] = data
