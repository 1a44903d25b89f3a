"""Why a run stopped when its hosts failed: the batch that crossed FAIL_PERCENT, or left
no host, and what each of those hosts failed at.

The audit's view, like :mod:`eventstate.projections.host_ops`: folded on demand over a
stored run (``Run.abort_cause()``), never part of the live State's views.
"""

from __future__ import annotations

from typing import Any

import attrs

from eventstate.events import (
    FailOutcome,
    HostConnectFailed,
    HostOperationFinished,
    HostsFailed,
    OperationAdded,
    OpOutcome,
    RunStarted,
    StageChanged,
    StateStage,
)
from eventstate.projections.base import Projection, applies

__all__ = ["AbortCause", "AbortCauseProjection", "HostFailure"]

# The outcomes that stop a deploy.
_STOPPING = frozenset({FailOutcome.FAIL_PERCENT_EXCEEDED, FailOutcome.NO_HOSTS_REMAINING})


@attrs.frozen
class HostFailure:
    """What one host of the stopping batch failed at.

    Attributes:
        host: The host.
        op_hash: The operation it failed, or None when it failed otherwise.
        op_name: That operation's names joined (its hash when it has none).
        connect_error: Why it could not connect, when that is how it failed.
    """

    host: str
    op_hash: str | None = None
    op_name: str | None = None
    connect_error: str | None = None

    def __str__(self) -> str:
        if self.connect_error is not None:
            return f"{self.host} (could not connect: {self.connect_error})"
        if self.op_name is not None:
            return f"{self.host} ({self.op_name} failed)"
        return self.host

    def as_dict(self) -> dict[str, Any]:
        """The failure as plain values."""
        return attrs.asdict(self)


@attrs.frozen
class AbortCause:
    """The failing of hosts that stopped a run.

    Attributes:
        seq: The sequence number of its :class:`HostsFailed`.
        outcome: ``fail_percent_exceeded`` or ``no_hosts_remaining``.
        stage: The stage the deploy was in (``Connect``, ``Prepare``, ``Execute``).
        failures: The hosts failed in that batch, with what each failed at.
        activated_count: The hosts the percentage was taken against.
        percent_failed: The percentage of them failed, or None without FAIL_PERCENT.
        fail_percent: The run's FAIL_PERCENT, or None.
    """

    seq: int
    outcome: FailOutcome
    stage: StateStage
    failures: tuple[HostFailure, ...]
    activated_count: int
    percent_failed: float | None
    fail_percent: int | float | None

    @property
    def op_names(self) -> tuple[str, ...]:
        """The operations the batch's hosts failed at, each once, in the order named."""
        return tuple(dict.fromkeys(f.op_name for f in self.failures if f.op_name is not None))

    def __str__(self) -> str:
        where = f" at {', '.join(self.op_names)}" if self.op_names else ""
        if self.stage is not StateStage.Execute and not self.op_names:
            where = f" while {'connecting' if self.stage is StateStage.Connect else 'preparing'}"
        hosts = ", ".join(str(failure) for failure in self.failures)
        if self.outcome is FailOutcome.NO_HOSTS_REMAINING:
            return f"no host remained{where}: the last failed were {hosts}"
        percent = round(self.percent_failed or 0)
        return (
            f"{percent}% of {self.activated_count} hosts failed, over FAIL_PERCENT "
            f"{self.fail_percent}{where}: {hosts}"
        )

    def as_dict(self) -> dict[str, Any]:
        """The cause as plain, JSON-ready values (``summary``: it in words)."""
        return {
            "seq": self.seq,
            "outcome": self.outcome.value,
            "stage": self.stage.name,
            "failures": [failure.as_dict() for failure in self.failures],
            "activated_count": self.activated_count,
            "percent_failed": self.percent_failed,
            "fail_percent": self.fail_percent,
            "summary": str(self),
        }


class AbortCauseProjection(Projection):
    """The last batch of failed hosts that stopped the run (:attr:`cause`), or None.

    A batch that stopped the run is the last one: the run ends after it.
    """

    def __init__(self) -> None:
        self.cause: AbortCause | None = None
        self._fail_percent: int | float | None = None
        self._stage = StateStage.Setup
        self._names: dict[str, tuple[str, ...]] = {}
        self._last_error: dict[str, str] = {}
        self._connect_errors: dict[str, str] = {}

    @applies(RunStarted)
    def _started(self, event: RunStarted) -> None:
        fail_percent = event.config.get("FAIL_PERCENT")
        if isinstance(fail_percent, (int, float)) and not isinstance(fail_percent, bool):
            self._fail_percent = fail_percent

    @applies(StageChanged)
    def _stage_changed(self, event: StageChanged) -> None:
        self._stage = event.stage

    @applies(OperationAdded)
    def _op_added(self, event: OperationAdded) -> None:
        if not event.names and event.op_hash in self._names:
            return  # the State's host after host: nothing to merge
        if event.op_hash not in self._names:
            self._names[event.op_hash] = event.names
        else:
            merged = dict.fromkeys((*self._names[event.op_hash], *event.names))
            self._names[event.op_hash] = tuple(merged)

    @applies(HostConnectFailed)
    def _connect_failed(self, event: HostConnectFailed) -> None:
        self._connect_errors[event.host] = event.error

    @applies(HostOperationFinished)
    def _op_finished(self, event: HostOperationFinished) -> None:
        if event.outcome is OpOutcome.ERROR:
            self._last_error[event.host] = event.op_hash

    @applies(HostsFailed)
    def _hosts_failed(self, event: HostsFailed) -> None:
        if event.outcome not in _STOPPING:
            return
        failures = []
        for host in event.hosts:
            op_hash = self._last_error.get(host)
            if op_hash is not None:
                name = ", ".join(self._names.get(op_hash, ())) or op_hash
                failures.append(HostFailure(host, op_hash, name))
            else:
                failures.append(HostFailure(host, connect_error=self._connect_errors.get(host)))
        self.cause = AbortCause(
            seq=event.seq,
            outcome=event.outcome,
            stage=self._stage,
            failures=tuple(failures),
            activated_count=event.activated_count,
            percent_failed=event.percent_failed,
            fail_percent=self._fail_percent,
        )

    def snapshot(self) -> dict[str, Any]:
        """The cause as plain values (for comparison; never stored)."""
        return {"abort_cause": None if self.cause is None else self.cause.as_dict()}
