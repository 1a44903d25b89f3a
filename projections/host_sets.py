"""Which hosts are activated, active, failed and connected."""

from __future__ import annotations

from typing import Any

from eventstate.events import (
    HostActivated,
    HostConnected,
    HostConnectFailed,
    HostDisconnected,
    HostsFailed,
    RunStarted,
)
from eventstate.projections.base import Projection, applies
from eventstate.projections.views import ReadOnlyDict, ReadOnlySet

__all__ = ["HostSetsProjection"]


class HostSetsProjection(Projection):
    """pyinfra's three host sets, plus connection state.

    ``activated`` holds every host ever activated, ``active`` those activated
    and not failed since, ``failed`` every host failed (activated or not).
    Each iterates in inventory order, never in set order.
    """

    def __init__(self) -> None:
        self._order: dict[str, int] = {}
        self._activated: set[str] = set()
        self._active: set[str] = set()
        self._failed: set[str] = set()
        self._connected: set[str] = set()
        self._connect_errors: dict[str, str] = {}
        self.activated_hosts = ReadOnlySet(self._activated, self._order)
        self.active_hosts = ReadOnlySet(self._active, self._order)
        self.failed_hosts = ReadOnlySet(self._failed, self._order)
        self.connected_hosts = ReadOnlySet(self._connected, self._order)
        self.connect_errors = ReadOnlyDict(self._connect_errors)

    @applies(RunStarted)
    def _started(self, event: RunStarted) -> None:
        self._order.clear()
        self._order.update((name, i) for i, name in enumerate(event.hosts))

    @applies(HostActivated)
    def _activated_host(self, event: HostActivated) -> None:
        self._activated.add(event.host)
        self._active.add(event.host)

    @applies(HostsFailed)
    def _failed_hosts(self, event: HostsFailed) -> None:
        self._failed.update(event.hosts)
        self._active.difference_update(event.hosts)

    @applies(HostConnected)
    def _connected_host(self, event: HostConnected) -> None:
        self._connected.add(event.host)
        self._connect_errors.pop(event.host, None)

    @applies(HostConnectFailed)
    def _connect_failed(self, event: HostConnectFailed) -> None:
        self._connect_errors[event.host] = event.error

    @applies(HostDisconnected)
    def _disconnected(self, event: HostDisconnected) -> None:
        self._connected.discard(event.host)

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take the sets back from a snapshot (inventory order from its ``hosts``)."""
        self._order.clear()
        self._order.update((name, i) for i, name in enumerate(snapshot["hosts"]))
        for target, key in (
            (self._activated, "activated_hosts"),
            (self._active, "active_hosts"),
            (self._failed, "failed_hosts"),
            (self._connected, "connected_hosts"),
        ):
            target.clear()
            target.update(snapshot[key])
        self._connect_errors.clear()
        self._connect_errors.update(snapshot["connect_errors"])

    def snapshot(self) -> dict[str, Any]:
        """Each set as a list in inventory order."""
        return {
            "activated_hosts": list(self.activated_hosts),
            "active_hosts": list(self.active_hosts),
            "failed_hosts": list(self.failed_hosts),
            "connected_hosts": list(self.connected_hosts),
            "connect_errors": dict(sorted(self._connect_errors.items())),
        }
