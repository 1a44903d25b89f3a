"""Event stores: one :class:`EventLog` interface, in memory and in SQLite."""

from eventstate.stores.base import EventLog, RunSummary, StoredEvent
from eventstate.stores.memory import MemoryEventLog
from eventstate.stores.sqlite import SqliteEventLog

__all__ = ["EventLog", "MemoryEventLog", "RunSummary", "SqliteEventLog", "StoredEvent"]
