"""What eventstate ships for tests: the store contract suite, run builders, hypothesis strategies.

Importing this package needs pytest and hypothesis (the ``test`` extra); it
loads no State, inventory or gevent.
"""

from eventstate.testing.contract import EventLogContract, stored_events
from eventstate.testing.runs import RunBuilder, sample_run, stored_rows
from eventstate.testing.strategies import event_sequences, events, host_names

__all__ = [
    "EventLogContract",
    "RunBuilder",
    "event_sequences",
    "events",
    "host_names",
    "sample_run",
    "stored_events",
    "stored_rows",
]
