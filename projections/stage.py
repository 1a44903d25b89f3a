"""The deploy's stage, and whether operations are executing."""

from __future__ import annotations

from typing import Any

from eventstate.events import ExecutionStarted, StageChanged, StateStage
from eventstate.projections.base import Projection, applies

__all__ = ["StageProjection"]


class StageProjection(Projection):
    """``current_stage`` starts at Setup; ``is_executing`` turns on once and stays on."""

    def __init__(self) -> None:
        self.current_stage = StateStage.Setup
        self.is_executing = False

    @applies(StageChanged)
    def _changed(self, event: StageChanged) -> None:
        self.current_stage = event.stage

    @applies(ExecutionStarted)
    def _executing(self, event: ExecutionStarted) -> None:
        self.is_executing = True

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take stage and flag back from a snapshot."""
        self.current_stage = StateStage[snapshot["current_stage"]]
        self.is_executing = snapshot["is_executing"]

    def snapshot(self) -> dict[str, Any]:
        """Stage (by name) and the executing flag."""
        return {"current_stage": self.current_stage.name, "is_executing": self.is_executing}
