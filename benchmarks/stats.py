"""Summaries of repeated measurements: the median and the min-max range."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

import attrs

__all__ = ["Stat", "ratios"]


@attrs.frozen
class Stat:
    """The median, minimum and maximum of ``n`` repeated measurements."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        """The summary of ``values`` (at least one)."""
        data = [float(value) for value in values]
        if not data:
            raise ValueError("no values to summarise")
        return cls(statistics.median(data), min(data), max(data), len(data))

    def format(self, digits: int = 2, scale: float = 1.0) -> str:
        """``median [low-high]``, each times ``scale``; just the value for one measurement."""
        median = f"{self.median * scale:,.{digits}f}"
        if self.n == 1 or self.low == self.high:
            return median
        return f"{median} [{self.low * scale:,.{digits}f}-{self.high * scale:,.{digits}f}]"

    def to_json(self) -> dict[str, float | int]:
        """The summary as plain numbers."""
        return {"median": self.median, "min": self.low, "max": self.high, "n": self.n}


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> Stat:
    """The summary of the per-repetition ratios ``numerators[i] / denominators[i]``.

    Repetition ``i`` of both sides ran back to back, so each ratio compares two
    measurements taken under the same conditions.
    """
    if len(numerators) != len(denominators):
        raise ValueError("ratios need as many numerators as denominators")
    return Stat.of(a / b for a, b in zip(numerators, denominators, strict=True))
