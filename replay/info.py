"""A run in one line: what ``eventstate runs`` lists."""

from __future__ import annotations

import shlex
from datetime import datetime, timezone
from typing import Any

import attrs

from eventstate.projections import StateView

__all__ = ["RunInfo", "shown_command"]


def shown_command(command_line: tuple[str, ...] | list[str]) -> str:
    """A recorded command line as a person would type it: ``eventstate deploy …``.

    The program is named by its file alone, and ``python -m eventstate``'s
    ``…/eventstate/__main__.py`` as ``eventstate``; arguments are quoted as a
    shell needs them.
    """
    if not command_line:
        return ""
    program, *arguments = command_line
    path = program.replace("\\", "/").rstrip("/")
    name = path.rsplit("/", 1)[-1]
    if name == "__main__.py" and "/" in path:
        name = path.rsplit("/", 2)[-2]  # the package python -m ran
    elif name.endswith(".exe"):
        name = name[: -len(".exe")]
    return shlex.join([name or program, *arguments])


@attrs.frozen
class RunInfo:
    """What a listing says of a run; the fields are the ``run`` of every ``--json``.

    Attributes:
        run_id: The run.
        kind: ``plan`` for a dry run (it executed nothing), else ``deploy``.
        status: ``success``, ``failed``, ``aborted``, ``interrupted`` (by a signal),
            ``plan`` (a dry run that ended well) -- or, for a run with no end,
            ``running`` while its heartbeats are recent, else ``interrupted``.
        started_at: When it started (ISO 8601, UTC, as stored).
        finished_at: When it ended, or None for a run that never recorded its end.
        user: Who ran it.
        machine: Where.
        command_line: Its command line, as recorded.
        host_count: How many hosts its inventory had.
        ops_change: Host-ops planned as changes (the hosts' ``ops_change``, summed).
        failed_host_count: Hosts that failed.
        event_count: Events in the run.
        error: Why it did not succeed, as its end recorded; or None.
    """

    run_id: str
    kind: str
    status: str
    started_at: str | None
    finished_at: str | None
    user: str | None
    machine: str | None
    command_line: tuple[str, ...]
    host_count: int
    ops_change: int
    failed_host_count: int
    event_count: int
    error: str | None = None

    @property
    def command(self) -> str:
        """The command line as a person would type it (:func:`shown_command`)."""
        return shown_command(self.command_line)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while it has no end."""
        if not self.started_at or not self.finished_at:
            return None
        started = datetime.fromisoformat(self.started_at)
        return (datetime.fromisoformat(self.finished_at) - started).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        """Every field as plain values, with ``command`` and ``duration``: the JSON of a run."""
        values = attrs.asdict(self)
        values["command_line"] = list(self.command_line)
        values["command"] = self.command
        values["duration"] = self.duration
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunInfo:
        """The listing line from its fields as plain values (a stored overview's ``info``).

        Raises:
            TypeError: a field is missing, unknown, or of the wrong kind.
        """
        fields = dict(values)
        fields["command_line"] = tuple(fields.get("command_line") or ())
        info = cls(**fields)
        if not isinstance(info.status, str) or not isinstance(info.event_count, int):
            raise TypeError("a run's status is text and its event count a number")
        return info

    @classmethod
    def of(cls, view: StateView, events: int) -> RunInfo:
        """The listing line of a run whose views are ``view``."""
        run = view.run
        return cls(
            run_id=run.run_id or "",
            kind=run.kind,
            status=run.status_at(datetime.now(timezone.utc)),
            started_at=run.started_at,
            finished_at=run.finished_at,
            user=run.user,
            machine=run.machine,
            command_line=tuple(run.command_line),
            host_count=len(run.hosts),
            ops_change=sum(meta.ops_change for meta in view.meta.values()),
            failed_host_count=len(view.failed_hosts),
            event_count=events,
            error=run.error,
        )
