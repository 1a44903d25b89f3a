"""``eventstate watch``: follow a deploy another process is writing, as its events commit.

It reads only (the log is opened read-only) and waits on the store for what the
writer appends (:meth:`~eventstate.stores.EventLog.wait_for_events`). Off a
terminal it prints one line per event; on one, the events scroll above a live
view of each host's progress. It exits with the run's status, as ``eventstate
deploy`` does for it, once the run is over -- its end is stored, or its writer
died (its heartbeats stopped) -- or with 130 on Ctrl-C.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
from typing import Any

import click

from eventstate.cli.base import (
    HOST_HEADERS,
    db_option,
    echo,
    host_table,
    one_line,
    table,
    user_errors,
)
from eventstate.codec import payload_fields
from eventstate.errors import CodecError, UsageError
from eventstate.events import RunStatus
from eventstate.projections.run import RUNNING
from eventstate.replay.follow import WAIT_STEP, FollowedEvent, RunFollower
from eventstate.replay.log import ReplayLog, read_log
from eventstate.stores import shown_url
from eventstate.stores.base import StoredEvent

__all__ = ["event_line", "run_exit_status", "watch"]

#: The exit status of a run whose writer died: it did not succeed, and recorded no signal.
WRITER_DIED_STATUS = 1


def event_line(stored: StoredEvent) -> str:
    """A stored event as one line: sequence number, time, type, host and its fields
    (those of ``eventstate events``)."""
    try:
        data = payload_fields(stored.payload)
    except CodecError as error:
        raise CodecError(f"run {stored.run_id}, event {stored.seq}: {error}") from None
    parts = []
    for key, value in data.items():
        if key in ("run_id", "seq", "at", "type", "v", "host") or value in (None, "", [], {}):
            continue
        plain = isinstance(value, str) and "\n" not in value and "\r" not in value
        # One line per event: a string with line breaks (a deploy's source) is shown as JSON.
        text = value if plain else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={text[:77] + '...' if len(text) > 80 else text}")
    where = f" [{stored.host}]" if stored.host else ""
    return f"{stored.seq:>6}  {stored.timestamp[11:23]}  {stored.type}{where}  {' '.join(parts)}"


def run_exit_status(follower: RunFollower) -> int:
    """The exit status ``eventstate deploy`` gives a run that ended as the followed one
    did: 0 for success, 1 failed or aborted, 128 + the signal's number for one a signal
    interrupted (130, 143); :data:`WRITER_DIED_STATUS` for a run whose writer died."""
    run = follower.view.run
    if run.status is RunStatus.SUCCESS:
        return 0
    if run.status is RunStatus.INTERRUPTED and run.signal:
        try:
            return 128 + signal.Signals[run.signal].value
        except KeyError:
            return 1
    if run.status is None:
        return WRITER_DIED_STATUS
    return 1


def _which_run(log: ReplayLog, run_id: str | None, latest: bool, next_run: bool) -> str:
    """The full id of the run to follow, waiting for it to start if need be."""
    if sum((run_id is not None, latest, next_run)) > 1:
        raise UsageError("give one of RUN, --latest and --next")
    if run_id is not None:
        return log.resolve(run_id)
    newest = log.log.newest_run()
    if not next_run and newest is not None:
        return newest
    echo("waiting for a run to start...", err=True)
    while True:
        found = log.log.wait_for_run(newest, WAIT_STEP)
        if found is not None:
            return found


def _summary(follower: RunFollower) -> str:
    status = follower.status
    said = f"run {follower.run_id} {status} ({follower.seq} events)"
    if follower.view.run.status is None:
        alive = follower.view.run.alive_at or follower.view.run.started_at or "?"
        said += f": its writer stopped (no sign of life since {alive[11:19]})"
    return said


class _PlainView:
    """Off a terminal: one line per event, then the hosts' table and the run's end."""

    def show(self, batch: list[FollowedEvent], follower: RunFollower) -> None:
        for followed in batch:
            echo(event_line(followed.stored))

    def close(self, follower: RunFollower) -> None:
        echo()
        for line in table(HOST_HEADERS, host_table(follower.view)):
            echo(line)
        echo(f"\n{_summary(follower)}")


class _LiveView(_PlainView):
    """On a terminal: the events scroll above a block redrawn in place -- a line for the
    run, then a row per host: done/total, the operation running, errors."""

    def __init__(self) -> None:
        self._drawn = 0

    def show(self, batch: list[FollowedEvent], follower: RunFollower) -> None:
        self._erase()
        super().show(batch, follower)
        self._draw(follower)

    def close(self, follower: RunFollower) -> None:
        self._erase()
        super().close(follower)

    def _erase(self) -> None:
        if self._drawn:
            # To the start of the block's first line, then clear to the end of the screen.
            click.echo(f"\x1b[{self._drawn}F\x1b[J", nl=False)
            self._drawn = 0

    def _draw(self, follower: RunFollower) -> None:
        width = shutil.get_terminal_size().columns
        view = follower.view
        progress = follower.progress()
        done, total = sum(p.done for p in progress), sum(p.total for p in progress)
        head = (
            f"run {follower.run_id[:12]}  {follower.status}  {view.current_stage.name.lower()}"
            f"  {done}/{total} ops  {len(view.failed_hosts)} failed"
        )
        rows: list[tuple[Any, ...]] = [
            (p.host, p.status, f"{p.done}/{p.total}", p.errors, p.current or "") for p in progress
        ]
        lines = [head, *table(("host", "status", "done", "errors", "running"), rows)]
        for line in lines:
            # Cut to the terminal's width: a wrapped line would throw the redraw off.
            echo(line[: max(width - 1, 1)])
        self._drawn = len(lines)


@click.command()
@click.argument("run_id", metavar="[RUN]", required=False)
@db_option
@click.option("--latest", is_flag=True, help="Follow the newest run (the default).")
@click.option("--next", "next_run", is_flag=True, help="Wait for the next run to start; follow it.")
def watch(run_id: str | None, db: str, latest: bool, next_run: bool) -> None:
    """Follow a run another process is writing: its events as they are stored, and on a
    terminal a live view of each host's progress.

    RUN is a run id, a unique prefix of one, or 'latest'; without it the newest run
    is followed (in an empty log, the first to start). Reads only.

    Exits when the run is over with the status 'eventstate deploy' gives it: 0
    success, 1 failed or aborted, 130/143 interrupted by SIGINT/SIGTERM; 1 when its
    writer died (its heartbeats stopped) -- and with 130 on Ctrl-C.
    """
    with user_errors():
        log = read_log(db)
    follower: RunFollower | None = None
    try:
        with user_errors():
            followed = _which_run(log, run_id, latest, next_run)
            follower = RunFollower(log.log, followed, log.codec)
            view = _LiveView() if sys.stdout.isatty() else _PlainView()
            for batch in follower.follow():
                view.show(batch, follower)
            view.close(follower)
            if follower.view.run.error:
                echo(f"Error: {one_line(follower.view.run.error)}", err=True)
    except KeyboardInterrupt:
        said = "watch stopped (Ctrl-C)"
        if follower is not None:
            state = follower.status
            state = "still running" if state == RUNNING else state
            said += f": run {follower.run_id} {state}, {follower.seq} events in {shown_url(db)}"
        echo(said, err=True)
        sys.exit(130)
    finally:
        log.close()
    assert follower is not None  # the run is followed, or an error ended the command
    sys.exit(run_exit_status(follower))
