"""Warnings counted per stage."""

from __future__ import annotations

from typing import Any

from eventstate.events import StateStage, WarningRaised
from eventstate.projections.base import Projection, applies
from eventstate.projections.views import ReadOnlyDict

__all__ = ["StageWarnings", "WarningsProjection"]


class StageWarnings(ReadOnlyDict[StateStage, int]):
    """Warnings by stage, read-only; a stage without warnings reads 0.

    As pyinfra's ``defaultdict(int)``, ``stage_warnings[stage]`` never raises
    for a :class:`~eventstate.events.StateStage`. Unlike it, reading a stage
    adds nothing: ``in``, ``len``, iteration and ``get`` show only the stages
    that raised warnings (``get`` gives None for the others, as a dict's
    would). Any other key is a ``KeyError``.
    """

    __slots__ = ()

    def __getitem__(self, key: StateStage) -> int:
        try:
            return self._data[key]
        except KeyError:
            if isinstance(key, StateStage):
                return 0
            raise

    def get(self, key: StateStage, default: Any = None) -> Any:
        """The stage's count if it raised warnings, else ``default``."""
        return self._data.get(key, default)


class WarningsProjection(Projection):
    """How many warnings each stage raised (stages without any are absent)."""

    def __init__(self) -> None:
        self._counts: dict[StateStage, int] = {}
        self.stage_warnings: StageWarnings = StageWarnings(self._counts)

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
