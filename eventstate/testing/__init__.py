"""What eventstate ships for tests: the store contract suite and hypothesis strategies.

Importing this package needs pytest and hypothesis (the ``test`` extra).
"""

from eventstate.testing.contract import EventLogContract, stored_events

__all__ = ["EventLogContract", "stored_events"]
