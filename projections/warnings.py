"""Warnings counted per stage."""

from __future__ import annotations

from typing import Any

from eventstate.events import StateStage, WarningRaised
from eventstate.projections.base import Projection, applies
from eventstate.projections.views import ReadOnlyDict

__all__ = ["WarningsProjection"]


class WarningsProjection(Projection):
    """How many warnings each stage raised (stages without any are absent)."""

    def __init__(self) -> None:
        self._counts: dict[StateStage, int] = {}
        self.stage_warnings: ReadOnlyDict[StateStage, int] = ReadOnlyDict(self._counts)

    @applies(WarningRaised)
    def _raised(self, event: WarningRaised) -> None:
        self._counts[event.stage] = self._counts.get(event.stage, 0) + 1

    def count(self, stage: StateStage) -> int:
        """The warnings raised in ``stage``."""
        return self._counts.get(stage, 0)

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take the counts back from a snapshot."""
        self._counts.clear()
        self._counts.update(
            (StateStage[name], count) for name, count in snapshot["stage_warnings"].items()
        )

    def snapshot(self) -> dict[str, Any]:
        """Counts by stage name, in stage order."""
        return {"stage_warnings": {s.name: n for s, n in sorted(self._counts.items())}}
