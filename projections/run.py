"""The run header: who ran the deploy, where, on what, and how it ended."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from eventstate.events import (
    HEARTBEAT_FLUSH_DELAYS,
    DeployLoaded,
    HeartbeatRecorded,
    RunFinished,
    RunStarted,
    RunStatus,
)
from eventstate.projections.base import Projection, applies
from eventstate.projections.views import ReadOnlyDict

__all__ = ["DEPLOY", "PLAN", "RUNNING", "RUN_STATUSES", "RunProjection"]

#: What a run with no end is while its heartbeats are recent: it is being written.
RUNNING = "running"

#: A run's kind, and the status of a dry run that ended well: it planned, executed nothing.
PLAN = "plan"

#: The kind of every run but a dry one: it executed what it planned.
DEPLOY = "deploy"

#: Every status a reader shows a run with, in one vocabulary.
RUN_STATUSES = (*(status.value for status in RunStatus), RUNNING, PLAN)

# The FLUSH_DELAY of a run that recorded none (an older version): the default then.
_DEFAULT_FLUSH_DELAY = 1.0


class RunProjection(Projection):
    """The facts of :class:`RunStarted` and :class:`RunFinished`.

    ``host_order`` maps each inventory host to its position: the other
    projections order their host sets by it. ``alive_at`` is the run's last
    heartbeat (:class:`HeartbeatRecorded`). ``kind`` is :data:`PLAN` for a dry
    run (its :class:`DeployLoaded` options say ``dry``), else :data:`DEPLOY`.
    """

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.started_at: str | None = None
        self.user: str | None = None
        self.machine: str | None = None
        self.command_line: tuple[str, ...] = ()
        self.engine_version: str | None = None
        self.hosts: tuple[str, ...] = ()
        self.groups: ReadOnlyDict[str, tuple[str, ...]] = ReadOnlyDict({})
        self.config: ReadOnlyDict[str, Any] = ReadOnlyDict({})
        self.host_order: dict[str, int] = {}
        self.status: RunStatus | None = None
        self.error: str | None = None
        self.signal: str | None = None
        self.finished_at: str | None = None
        self.alive_at: str | None = None
        self.kind: str = DEPLOY

    @applies(RunStarted)
    def _started(self, event: RunStarted) -> None:
        self.run_id = event.run_id
        self.started_at = event.at.isoformat()
        self.user = event.user
        self.machine = event.machine
        self.command_line = event.command_line
        self.engine_version = event.engine_version
        self.hosts = event.hosts
        self.groups = ReadOnlyDict(dict(event.groups))
        self.config = ReadOnlyDict(dict(event.config))
        self.host_order.clear()
        self.host_order.update((name, i) for i, name in enumerate(event.hosts))

    @applies(DeployLoaded)
    def _loaded(self, event: DeployLoaded) -> None:
        self.kind = PLAN if event.options.get("dry") else DEPLOY

    @applies(HeartbeatRecorded)
    def _alive(self, event: HeartbeatRecorded) -> None:
        self.alive_at = event.at.isoformat()

    @applies(RunFinished)
    def _finished(self, event: RunFinished) -> None:
        self.status = event.status
        self.error = event.error
        self.signal = event.signal
        self.finished_at = event.at.isoformat()

    def status_at(self, now: datetime) -> str:
        """How the run stands at ``now`` (timezone-aware): the status its end recorded
        (``plan`` for a dry run that ended in success: it executed nothing); with no
        end, ``running`` while its heartbeats are recent, else ``interrupted``.

        A run being written records a heartbeat every ``HEARTBEAT_FLUSH_DELAYS``
        flush delays, written at most one flush delay later: a run with no end
        whose last sign of life is older than two heartbeats and a flush delay
        is not being written any more -- its deployer died.
        """
        if self.status is not None:
            if self.status is RunStatus.SUCCESS and self.kind == PLAN:
                return PLAN
            return self.status.value
        last = self.alive_at or self.started_at
        if last is not None:
            delay = self.config.get("FLUSH_DELAY", _DEFAULT_FLUSH_DELAY)
            if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay <= 0:
                delay = _DEFAULT_FLUSH_DELAY
            window = timedelta(seconds=(2 * HEARTBEAT_FLUSH_DELAYS + 1) * delay)
            if now - datetime.fromisoformat(last) < window:
                return RUNNING
        return RunStatus.INTERRUPTED.value

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take the run header back from a snapshot."""
        self.run_id = snapshot["run_id"]
        self.started_at = snapshot["started_at"]
        self.user = snapshot["user"]
        self.machine = snapshot["machine"]
        self.command_line = tuple(snapshot["command_line"])
        self.engine_version = snapshot["engine_version"]
        self.hosts = tuple(snapshot["hosts"])
        self.groups = ReadOnlyDict({k: tuple(v) for k, v in snapshot["groups"].items()})
        self.config = ReadOnlyDict(dict(snapshot["config"]))
        self.host_order.clear()
        self.host_order.update((name, i) for i, name in enumerate(self.hosts))
        self.status = RunStatus(snapshot["status"]) if snapshot["status"] else None
        self.error = snapshot["error"]
        self.signal = snapshot["signal"]
        self.finished_at = snapshot["finished_at"]
        self.alive_at = snapshot["alive_at"]
        self.kind = snapshot.get("kind", DEPLOY)

    def snapshot(self) -> dict[str, Any]:
        """The run header as plain values."""
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "user": self.user,
            "machine": self.machine,
            "command_line": list(self.command_line),
            "engine_version": self.engine_version,
            "hosts": list(self.hosts),
            "groups": {name: list(hosts) for name, hosts in self.groups.items()},
            "config": dict(self.config),
            "status": self.status.value if self.status else None,
            "error": self.error,
            "signal": self.signal,
            "finished_at": self.finished_at,
            "alive_at": self.alive_at,
            "kind": self.kind,
        }
