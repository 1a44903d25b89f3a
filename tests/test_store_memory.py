"""The in-memory store keeps the store contract."""

from __future__ import annotations

from pathlib import Path

from eventstate.stores import EventLog, MemoryEventLog
from eventstate.testing import EventLogContract


class TestMemoryEventLog(EventLogContract):
    def create_log(self, tmp_path: Path) -> EventLog:
        return MemoryEventLog()

    def open_second(self, log: EventLog) -> EventLog:
        return log  # nothing else can reach a log held in this process's memory
