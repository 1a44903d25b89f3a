"""The run header: who ran the deploy, where, on what, and how it ended."""

from __future__ import annotations

from typing import Any

from eventstate.events import RunFinished, RunStarted, RunStatus
from eventstate.projections.base import Projection, applies
from eventstate.projections.views import ReadOnlyDict

__all__ = ["RunProjection"]


class RunProjection(Projection):
    """The facts of :class:`RunStarted` and :class:`RunFinished`.

    ``host_order`` maps each inventory host to its position: the other
    projections order their host sets by it.
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
        self.finished_at: str | None = None

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

    @applies(RunFinished)
    def _finished(self, event: RunFinished) -> None:
        self.status = event.status
        self.error = event.error
        self.finished_at = event.at.isoformat()

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
        self.finished_at = snapshot["finished_at"]

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
            "finished_at": self.finished_at,
        }
