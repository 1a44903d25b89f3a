"""Reading the past: rebuild a stored run's views, verify its integrity."""

from replay.rebuild import read_events, rebuild
from replay.verify import VerifyReport, verify_run

__all__ = ["VerifyReport", "read_events", "rebuild", "verify_run"]
