"""Event stores: one :class:`EventLog` interface, in memory, in SQLite and in PostgreSQL,
opened by URL.

:func:`open_log` opens a store from a path or URL. The SQLite and PostgreSQL stores are
loaded on first use (PEP 562): importing this package loads no database driver.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from eventstate.stores.base import EventLog, RunSummary, StoredEvent
from eventstate.stores.memory import MemoryEventLog
from eventstate.stores.snapshots import MemorySnapshotStore, SnapshotStore
from eventstate.stores.url import open_log, shown_url

__all__ = [
    "EventLog",
    "MemoryEventLog",
    "MemorySnapshotStore",
    "PostgresEventLog",
    "RunSummary",
    "SnapshotStore",
    "SqliteEventLog",
    "StoredEvent",
    "open_log",
    "shown_url",
]

#: The names loaded on first use, and the backend module that defines each.
_LAZY: dict[str, str] = {
    "PostgresEventLog": "eventstate.stores.postgres",
    "SqliteEventLog": "eventstate.stores.sqlite",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'eventstate.stores' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:
    from eventstate.stores.postgres import PostgresEventLog
    from eventstate.stores.sqlite import SqliteEventLog
