"""What eventstate ships for tests: the store contract suite and hypothesis strategies.

Importing this package needs pytest and hypothesis (the ``test`` extra).
"""

from eventstate.testing.contract import EventLogContract, stored_events
from eventstate.testing.strategies import event_sequences, events, host_names

__all__ = ["EventLogContract", "event_sequences", "events", "host_names", "stored_events"]
