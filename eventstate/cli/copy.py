"""``eventstate copy``: move runs from one log to another, chains intact (a laptop's
local runs into a team's shared log)."""

from __future__ import annotations

import sys

import click

from eventstate.cli.base import DB_ENVVAR, DEFAULT_DB, echo, user_errors
from eventstate.replay.copy import CopyPlan, RunAction, copy_runs, plan_copy
from eventstate.replay.log import ReplayLog
from eventstate.stores import open_log, shown_url
from eventstate.stores.base import EventLog
from eventstate.stores.url import URL_FORMS

__all__ = ["copy"]


def _copy(source: EventLog, target: EventLog, plan: CopyPlan) -> None:
    """Copy as planned, saying how far it is: a progress bar over the events on a
    terminal, else a line per run (and per batch of a long run) as it is written."""
    for run in plan.runs:
        if run.action is RunAction.SKIP:
            echo(f"run {run.run_id}: already in the target, skipped", err=True)
    if sys.stderr.isatty() and plan.events:
        with click.progressbar(length=plan.events, label="copying", file=sys.stderr) as bar:
            copy_runs(source, target, plan=plan, progress=lambda run_id, n: bar.update(n))
        return
    planned = {run.run_id: run for run in plan.runs}
    written: dict[str, int] = {}

    def said(run_id: str, count: int) -> None:
        run = planned[run_id]
        written[run_id] = written.get(run_id, 0) + count
        after = f" after the target's {run.target_seq}" if run.target_seq else ""
        echo(f"run {run_id}: {written[run_id]}/{run.to_copy} events copied{after}", err=True)

    copy_runs(source, target, plan=plan, progress=said)


@click.command("copy")
@click.argument("run_ids", nargs=-1, metavar="[RUN]...")
@click.option(
    "--from", "source_url", required=True, metavar="PATH|URL", help=f"The log read: {URL_FORMS}."
)
@click.option(
    "--to",
    "--db",
    "target_url",
    envvar=DB_ENVVAR,
    default=DEFAULT_DB,
    show_default=True,
    show_envvar=True,
    metavar="PATH|URL",
    help="The log written (made if new): the log every command uses, by default.",
)
def copy(run_ids: tuple[str, ...], source_url: str, target_url: str) -> None:
    """Copy runs (every run by default) from one log to another: the exact stored events,
    hashes and all, so that each verifies wherever it lands.

    RUN is a run id, a unique prefix of one, or 'latest'. Copying again does nothing:
    runs the target holds are compared by hash and skipped (the rest of a run copied
    while it was being written is copied); a different run under the same id is refused
    before anything is written. Each run is verified before it is copied, and in the
    target after.
    """
    with user_errors():
        source = open_log(source_url, read_only=True)
        try:
            reader = ReplayLog(source)
            ids = [reader.resolve(run_id) for run_id in run_ids] if run_ids else None
            target = open_log(target_url)
            try:
                plan = plan_copy(source, target, ids)
                _copy(source, target, plan)
            finally:
                target.close()
        finally:
            source.close()
    copied = [run for run in plan.runs if run.action is not RunAction.SKIP]
    there = len(plan.runs) - len(copied)
    said = f"; {there} run(s) already there" if there else ""
    if not copied:
        echo(f"nothing to copy into {shown_url(target_url)}{said}")
        return
    echo(
        f"copied {plan.events} events of {len(copied)} run(s) into {shown_url(target_url)}, "
        f"verified there{said}"
    )
