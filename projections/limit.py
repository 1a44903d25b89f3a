"""The current host limit."""

from __future__ import annotations

from typing import Any

from eventstate.events import LimitSet
from eventstate.projections.base import Projection, applies

__all__ = ["LimitProjection"]


class LimitProjection(Projection):
    """``limit_hosts``: the names of the hosts in the limit, or None for no limit."""

    def __init__(self) -> None:
        self.limit_hosts: tuple[str, ...] | None = None

    @applies(LimitSet)
    def _set(self, event: LimitSet) -> None:
        self.limit_hosts = event.hosts

    def is_host_in_limit(self, host: str) -> bool:
        """Whether ``host`` is within the limit (every host is, without one)."""
        return self.limit_hosts is None or host in self.limit_hosts

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take the limit back from a snapshot."""
        limit = snapshot["limit_hosts"]
        self.limit_hosts = None if limit is None else tuple(limit)

    def snapshot(self) -> dict[str, Any]:
        """The limit as a list, or None."""
        return {"limit_hosts": None if self.limit_hosts is None else list(self.limit_hosts)}
