"""Reading the past: open a log, list its runs, see any run's State at any event.

>>> import replay
>>> with replay.open("eventstate.db") as log:           # doctest: +SKIP
...     run = log.run("01a2")                          # a unique prefix will do
...     view = run.state_at(10)                        # the State after event 10
"""

from eventstate.replay.copy import CopyPlan, CopyReport, copy_runs, plan_copy
from eventstate.replay.export import (
    ExportTrailer,
    VerifiedExport,
    export_line,
    export_lines,
    export_trailer,
    import_runs,
    read_export,
    verify_export,
)
from eventstate.replay.follow import HostProgress, RunFollower
from eventstate.replay.info import RunInfo, shown_command
from eventstate.replay.log import ReplayLog, RunListing, UnknownRunError, read_log
from eventstate.replay.rebuild import read_events, rebuild
from eventstate.replay.run import Run
from eventstate.replay.verify import (
    Anchor,
    LogReport,
    VerifyReport,
    verify_events,
    verify_log,
    verify_run,
)

#: ``replay.open(path)``: open a stored log for reading.
open = read_log

__all__ = [
    "Anchor",
    "CopyPlan",
    "CopyReport",
    "ExportTrailer",
    "HostProgress",
    "LogReport",
    "ReplayLog",
    "Run",
    "RunFollower",
    "RunInfo",
    "RunListing",
    "UnknownRunError",
    "VerifiedExport",
    "VerifyReport",
    "copy_runs",
    "export_line",
    "export_lines",
    "export_trailer",
    "import_runs",
    "open",
    "plan_copy",
    "read_events",
    "read_export",
    "read_log",
    "rebuild",
    "shown_command",
    "verify_events",
    "verify_export",
    "verify_log",
    "verify_run",
]
