"""The ``eventstate`` command line.

Commands parse their options, call the library, and print. A user's mistake
-- a missing file, a bad option, an unknown run -- is one line on stderr and
exit status 2; a deploy that ran but failed or aborted exits 1. ``--debug``
shows tracebacks.
"""

from __future__ import annotations

import gc
from typing import Any

import click

from eventstate.cli.adhoc import exec_, facts
from eventstate.cli.audit import (
    diff,
    events,
    export,
    head,
    import_,
    rerun,
    runs,
    show,
    snapshot,
    state,
    step,
    timeline,
    verify,
)
from eventstate.cli.base import fail
from eventstate.cli.copy import copy
from eventstate.cli.deploy import deploy
from eventstate.cli.report import report
from eventstate.cli.watch import watch
from eventstate.cli.working_directory import import_from_working_directory
from eventstate.errors import UsageError

__all__ = ["main"]

#: The collector's thresholds in a command's process (Python's are 700, 10, 10). A
#: deploy makes objects by the hundred thousand -- events, rows, views -- and few
#: cycles: with Python's, collecting took 0.16 s of a 100-host x 100-op deploy's 1.9 s
#: of CPU (measured); with these, and start-up's objects frozen, 0.04 s.
COLLECTOR_THRESHOLDS = (10_000, 10, 10)

_collector_tuned = False


def _tune_collector() -> None:
    """Once per process: freeze what start-up made (modules, classes, the codec's
    hooks -- alive until exit, so never traversed by a collection again) and collect
    the young less often (:data:`COLLECTOR_THRESHOLDS`)."""
    global _collector_tuned
    if not _collector_tuned:
        _collector_tuned = True
        gc.freeze()
        gc.set_threshold(*COLLECTOR_THRESHOLDS)


class _Commands(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        # A command's own usage mistakes (options that contradict...) are one line;
        # the library's errors are turned so by each command's ``user_errors``.
        try:
            return super().invoke(ctx)
        except UsageError as error:
            fail(str(error))


@click.group(cls=_Commands)
@click.version_option(package_name="eventstate")
def main() -> None:
    """eventstate: deploys recorded as an event log you can audit and replay."""
    _tune_collector()
    import_from_working_directory()  # before any command loads the user's files


for command in (
    deploy,
    facts,
    exec_,
    runs,
    show,
    events,
    export,
    import_,
    state,
    step,
    diff,
    verify,
    head,
    rerun,
    timeline,
    report,
    snapshot,
    watch,
    copy,
):
    main.add_command(command)
