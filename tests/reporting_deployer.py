"""``eventstate deploy`` in a real process, reporting every event it records to a side file.

Usage: ``python tests/reporting_deployer.py SIDE_FILE ARGS...`` runs
``eventstate ARGS...``. Each event recorded -- once ``record`` returns, so with
``--sync`` once it is committed -- appends ``SEQ UNIX_TIME TYPE`` to SIDE_FILE,
one ``write`` each: a test that kills the process knows what it had recorded,
and when, and compares that with what the log kept.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from eventstate import recorder
from eventstate.cli import main


def _reporting(side: int) -> Any:
    record = recorder.EventRecorder.record

    def reporting_record(self: recorder.EventRecorder, event_class: Any, **fields: Any) -> Any:
        event = record(self, event_class, **fields)
        os.write(side, f"{event.seq} {event.at.timestamp()!r} {event_class.event_type}\n".encode())
        return event

    return reporting_record


if __name__ == "__main__":
    side = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    recorder.EventRecorder.record = _reporting(side)  # type: ignore[method-assign]
    sys.argv = ["eventstate", *sys.argv[2:]]
    main()
