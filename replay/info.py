"""A run in one line: what ``eventstate runs`` lists."""

from __future__ import annotations

from datetime import datetime, timezone

import attrs

from eventstate.projections import StateView

__all__ = ["RunInfo"]


@attrs.frozen
class RunInfo:
    """What a listing says of a run.

    Attributes:
        run_id: The run.
        started: When it started (ISO 8601 UTC).
        finished: When it ended, or None for a run that never recorded its end.
        user: Who ran it.
        machine: Where.
        command: Its command line.
        hosts: How many hosts its inventory had.
        status: success, failed, aborted, interrupted (by a signal) -- or, for a run
            with no end, running while its heartbeats are recent, else interrupted.
        changed: Host-ops planned as changes (the hosts' ``ops_change``, summed).
        failed: Hosts that failed.
        events: Events in the run.
    """

    run_id: str
    started: str | None
    finished: str | None
    user: str | None
    machine: str | None
    command: str
    hosts: int
    status: str
    changed: int
    failed: int
    events: int
    error: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while it has no end."""
        if not self.started or not self.finished:
            return None
        started = datetime.fromisoformat(self.started)
        return (datetime.fromisoformat(self.finished) - started).total_seconds()

    @classmethod
    def of(cls, view: StateView, events: int) -> RunInfo:
        """The listing line of a run whose views are ``view``."""
        run = view.run
        status = run.status_at(datetime.now(timezone.utc))
        return cls(
            run_id=run.run_id or "",
            started=run.started_at,
            finished=run.finished_at,
            user=run.user,
            machine=run.machine,
            command=" ".join(run.command_line),
            hosts=len(run.hosts),
            status=status,
            changed=sum(meta.ops_change for meta in view.meta.values()),
            failed=len(view.failed_hosts),
            events=events,
            error=run.error,
        )
