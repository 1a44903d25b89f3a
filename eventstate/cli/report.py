"""``eventstate report``: a run as one self-contained HTML page, to read as ARA's."""

from __future__ import annotations

import sys

import click

from eventstate.cli.audit import opened
from eventstate.cli.base import db_option, echo, private_file
from eventstate.errors import UsageError
from eventstate.replay.report import report_html

__all__ = ["report"]


@click.command()
@click.argument("run_id", metavar="RUN")
@db_option
@click.option(
    "--html",
    "path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The page to write (created 0600), or - for stdout.",
)
def report(run_id: str, db: str, path: str) -> None:
    """Write a run's report as one self-contained HTML page: summary, failures first,
    hosts, a searchable and sortable results table, and a timeline.

    RUN is a run id, a unique prefix of one, or 'latest'. The page loads nothing
    from the network; open it in any browser.
    """
    with opened(db) as log:
        page = report_html(log.run(run_id))
    if path == "-":
        sys.stdout.write(page)
        return
    try:
        with private_file(path) as handle:
            handle.write(page)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    echo(f"wrote {path}")
