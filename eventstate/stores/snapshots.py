"""Snapshots of a run's views: a cache for seeking, never a source of truth.

A snapshot is the views' JSON after event ``seq`` of a run, tagged with the
version of the projection code that made it. A reader only uses snapshots of
its own version: when the projections change, old snapshots are ignored and
new ones are made from the log.

The same cache keeps a finished run's overview (what ``show`` and ``runs``
print, :class:`eventstate.projections.overview.RunOverview`), after its last
event, under the version :func:`overview_version`: another fold of the same
events, told apart by its version alone -- so every backend keeps it as it
keeps snapshots.

This module holds the interface and the in-memory store; each backend keeps
its own snapshot store beside it (SQLite's in :mod:`eventstate.stores.sqlite`).
"""

from __future__ import annotations

import abc
import functools
import hashlib
from pathlib import Path

__all__ = [
    "MIN_SNAPSHOT_INTERVAL",
    "OVERVIEW_PREFIX",
    "SNAPSHOT_BYTES_PER_EVENT",
    "MemorySnapshotStore",
    "SnapshotStore",
    "overview_version",
    "projection_version",
    "snapshot_interval",
]

#: What an overview's version starts with (the rest is :func:`projection_version`).
OVERVIEW_PREFIX = "overview:"


@functools.cache
def projection_version() -> str:
    """The version of the projection code: a digest of its source (read once).

    A snapshot or overview made by other code is not used: when the projections
    change, readers fold the log again.
    """
    import eventstate.projections as projections  # the folds the version is of

    digest = hashlib.sha256()
    for path in sorted(Path(projections.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def overview_version() -> str:
    """The version a run's overview is kept under: :data:`OVERVIEW_PREFIX` and
    :func:`projection_version`."""
    return OVERVIEW_PREFIX + projection_version()


class SnapshotStore(abc.ABC):
    """Where snapshots of runs' views (and runs' overviews) are kept, by run, version and seq."""

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


#: The fewest events between two snapshots of a run.
MIN_SNAPSHOT_INTERVAL = 1000

#: Bytes of a snapshot's JSON per event it waits for: a snapshot of S bytes is followed
#: by the next at least S / this many events later, so that the snapshots of a run stay a
#: bounded fraction of its log (under a tenth, compressed) however many hosts its views
#: hold, while a view of a thousand hosts x a thousand ops (460 KB) is still snapshotted
#: every 1,000 events: a seek folds at most that many (measured: restoring it costs about
#: as much as folding 1,000 of its events).
SNAPSHOT_BYTES_PER_EVENT = 500


def snapshot_interval(snapshot_bytes: int) -> int:
    """How many events after a snapshot of ``snapshot_bytes`` bytes the next is due."""
    return max(MIN_SNAPSHOT_INTERVAL, snapshot_bytes // SNAPSHOT_BYTES_PER_EVENT)
