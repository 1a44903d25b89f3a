"""Opening a stored log, and naming its runs (short ids welcome)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from types import TracebackType

import attrs

from eventstate.codec import EventCodec
from eventstate.errors import EventstateError, UnknownRunError
from eventstate.events import Event
from eventstate.replay.info import RunInfo
from eventstate.replay.run import Run
from eventstate.stores import open_log
from eventstate.stores.base import EventLog

__all__ = ["LATEST", "ReplayLog", "RunInfo", "RunListing", "UnknownRunError", "read_log"]


#: The name of the newest run, wherever a run is named (``eventstate show latest``).
LATEST = "latest"


@attrs.define
class RunListing:
    """What :meth:`ReplayLog.listing` found.

    Attributes:
        infos: The runs listed, newest first.
        unreadable: ``(run id, why)`` of each run that could not be read.
    """

    infos: list[RunInfo] = attrs.Factory(list)
    unreadable: list[tuple[str, str]] = attrs.Factory(list)


class ReplayLog:
    """A stored event log, opened to read its runs.

    Args:
        log: The store to read.
        codec: Decodes stored events; a new :class:`EventCodec` by default.
    """

    def __init__(self, log: EventLog, codec: EventCodec | None = None) -> None:
        self.log = log
        self.codec = codec or EventCodec()

    def run_ids(self) -> list[str]:
        """Every run id, oldest first."""
        return [summary.run_id for summary in self.log.runs()]

    def resolve(self, run_id: str) -> str:
        """The full id of the run ``run_id`` names: the id itself, a unique prefix, or
        ``latest`` (the newest run; run ids are hex, so no id starts so).

        Raises:
            UnknownRunError: no run, or several, match.
        """
        ids = self.run_ids()
        if run_id in ids:
            return run_id
        if run_id == LATEST:
            if not ids:
                raise UnknownRunError("no run in this log yet")
            return ids[-1]
        matches = [candidate for candidate in ids if candidate.startswith(run_id)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownRunError(f"no run {run_id!r} in this log")
        raise UnknownRunError(f"{run_id!r} names {len(matches)} runs: give more of the id")

    def run(self, run_id: str) -> Run:
        """The run ``run_id`` (or a unique prefix of it) names."""
        return Run(self.log, self.resolve(run_id), self.codec)

    def runs(self) -> list[Run]:
        """Every run, newest first."""
        return [Run(self.log, run_id, self.codec) for run_id in reversed(self.run_ids())]

    def infos(self) -> list[RunInfo]:
        """A :class:`RunInfo` of every run, newest first."""
        return [run.info() for run in self.runs()]

    def listing(
        self,
        *,
        host: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
    ) -> RunListing:
        """The runs, newest first, that had ``host`` in their inventory, ended with
        ``status`` and started at or after ``since`` (each None: any).

        A run that cannot be read is reported in the listing, never allowed to
        hide the others.
        """
        listing = RunListing()
        for summary in reversed(self.log.runs()):
            run = Run(self.log, summary.run_id, self.codec)
            # A finished run's stored overview says it all; only a run without one
            # (still going, cut short, older) is read from its views.
            try:
                overview = run.stored_overview(summary.last_seq)
                if overview is not None:
                    info, hosts = RunInfo.from_dict(overview.info), overview.hosts
                else:
                    view = run.state_at(summary.last_seq)
                    info, hosts = RunInfo.of(view, view.events_applied), view.run.hosts
            except EventstateError as error:
                listing.unreadable.append((run.run_id, str(error)))
                continue
            if host is not None and host not in hosts:
                continue
            if status is not None and info.status != status:
                continue
            if since is not None and (
                not info.started_at or datetime.fromisoformat(info.started_at) < since
            ):
                continue
            listing.infos.append(info)
        return listing

    def events(self, run_id: str) -> Iterator[Event]:
        """The decoded events of a run."""
        return self.run(run_id).events()

    def close(self) -> None:
        """Close the store."""
        self.log.close()

    def __enter__(self) -> ReplayLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_log(url: str | os.PathLike[str]) -> ReplayLog:
    """Open the log ``url`` names, a path or a store URL, to read it only.

    ``url`` takes the forms :func:`eventstate.stores.open_log` does. The log
    is opened read-only: reading never writes to it (nor makes snapshots),
    works on a log its user may only read, and never waits for a writer.

    Raises:
        StoreError: there is no log there, it is not an eventstate log, or a
            newer eventstate wrote it.
    """
    return ReplayLog(open_log(url, read_only=True))
