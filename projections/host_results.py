"""Per-host execution results, with pyinfra 3.10's counter arithmetic."""

from __future__ import annotations

from typing import Any

from eventstate.events import HostOperationFinished, OpOutcome, RunStarted
from eventstate.projections.base import Projection, applies
from eventstate.projections.views import ReadOnlyDict, ReadOnlyRecord, record_property

__all__ = ["HostResults", "HostResultsProjection"]

_OPS, _SUCCESS, _ERROR, _IGNORED, _PARTIAL = range(5)
_NAMES = ("ops", "success_ops", "error_ops", "ignored_error_ops", "partial_ops")


class HostResults(ReadOnlyRecord):
    """pyinfra's ``StateHostResults``, read-only.

    ``ops == success_ops + ignored_error_ops`` and
    ``partial_ops <= error_ops + ignored_error_ops`` always hold.
    """

    __slots__ = ("_values",)

    ops = record_property(_OPS, "Operations that completed: successes and ignored errors.")
    success_ops = record_property(_SUCCESS, "Operations that succeeded.")
    error_ops = record_property(_ERROR, "Operations that failed the host.")
    ignored_error_ops = record_property(_IGNORED, "Operations that failed, ignored.")
    partial_ops = record_property(_PARTIAL, "Failed operations that had run some commands.")

    _values: list[int]

    def __init__(self) -> None:
        object.__setattr__(self, "_values", [0, 0, 0, 0, 0])

    def as_dict(self) -> dict[str, int]:
        """The counters as plain values."""
        return dict(zip(_NAMES, self._values, strict=True))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HostResults):
            return NotImplemented
        return self._values == other._values

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value}" for name, value in self.as_dict().items())
        return f"HostResults({fields})"


class HostResultsProjection(Projection):
    """A :class:`HostResults` for every inventory host, counted from op outcomes.

    The arithmetic of pyinfra 3.10's ``_run_host_op``: success counts in
    ``ops`` and ``success_ops``; an error in ``error_ops``; an ignored error in
    ``ignored_error_ops`` and ``ops``; any failure after at least one command
    succeeded in the final attempt also in ``partial_ops``.
    """

    def __init__(self) -> None:
        self._results: dict[str, HostResults] = {}
        self.results: ReadOnlyDict[str, HostResults] = ReadOnlyDict(self._results)

    def _host(self, name: str) -> HostResults:
        results = self._results.get(name)
        if results is None:
            results = self._results[name] = HostResults()
        return results

    @applies(RunStarted)
    def _started(self, event: RunStarted) -> None:
        for name in event.hosts:
            self._host(name)

    @applies(HostOperationFinished)
    def _finished(self, event: HostOperationFinished) -> None:
        values = self._host(event.host)._values
        outcome = event.outcome
        if outcome is OpOutcome.SUCCESS:
            values[_OPS] += 1
            values[_SUCCESS] += 1
            return
        if outcome is OpOutcome.IGNORED_ERROR:
            values[_IGNORED] += 1
            values[_OPS] += 1
        else:
            values[_ERROR] += 1
        if event.commands_executed > 0:
            values[_PARTIAL] += 1

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take every host's results back from a snapshot."""
        self._results.clear()
        for name, values in snapshot["results"].items():
            self._host(name)._values[:] = [values[key] for key in _NAMES]

    def snapshot(self) -> dict[str, Any]:
        """Each host's results as plain values."""
        return {"results": {name: r.as_dict() for name, r in self._results.items()}}
