"""Snapshots of a run's views: a cache for seeking, never a source of truth.

A snapshot is the views' JSON after event ``seq`` of a run, tagged with the
version of the projection code that made it. A reader only uses snapshots of
its own version: when the projections change, old snapshots are ignored and
new ones are made from the log.
"""

from __future__ import annotations

import abc
import zlib

import sqlite_utils

__all__ = ["MemorySnapshotStore", "SnapshotStore", "SqliteSnapshotStore"]


class SnapshotStore(abc.ABC):
    """Where snapshots of runs' views are kept."""

    @abc.abstractmethod
    def latest(self, run_id: str, seq: int, version: str) -> tuple[int, str] | None:
        """The latest snapshot of ``run_id`` at or before ``seq`` made by ``version``:
        ``(its seq, its JSON)``, or None."""

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

    def put(self, run_id: str, seq: int, version: str, data: str) -> None:
        """See :meth:`SnapshotStore.put`."""
        self._snapshots.setdefault((run_id, version), {})[seq] = data


class SqliteSnapshotStore(SnapshotStore):
    """Snapshots in a ``snapshots`` table beside the events (not append-only: a cache).

    Stored zlib-compressed: views' JSON repeats itself (host names, counter names).
    """

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        if not db["snapshots"].exists():  # type: ignore[union-attr]
            db["snapshots"].create(  # type: ignore[union-attr]
                {"run_id": str, "version": str, "seq": int, "data": bytes},
                pk=("run_id", "version", "seq"),
            )

    def latest(self, run_id: str, seq: int, version: str) -> tuple[int, str] | None:
        """See :meth:`SnapshotStore.latest`."""
        row = self.db.execute(
            "SELECT seq, data FROM snapshots WHERE run_id = ? AND version = ? AND seq <= ? "
            "ORDER BY seq DESC LIMIT 1",
            [run_id, version, seq],
        ).fetchone()
        return None if row is None else (row[0], zlib.decompress(row[1]).decode())

    def put(self, run_id: str, seq: int, version: str, data: str) -> None:
        """See :meth:`SnapshotStore.put`."""
        with self.db.atomic():
            self.db.execute(
                "INSERT OR REPLACE INTO snapshots (run_id, version, seq, data) VALUES (?, ?, ?, ?)",
                [run_id, version, seq, zlib.compress(data.encode(), 1)],
            )
