"""A target host: its name, groups and data, and its place in the State."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventstate.inventory import Inventory
    from eventstate.state import State
    from projections.views import ReadOnlyList

__all__ = ["Host", "HostData"]


class HostData(Mapping[str, Any]):
    """A host's data, merged: override data, then host, groups, and inventory data.

    Read with ``host.data["key"]`` or ``host.data.get("key")``; a missing key is
    a ``KeyError`` at once, not a silent fall-through.
    """

    def __init__(self, host: Host) -> None:
        self._host = host

    def _layers(self) -> tuple[Mapping[str, Any], ...]:
        inventory = self._host.inventory
        return (
            inventory.get_override_data(),
            inventory.get_host_data(self._host.name),
            inventory.get_groups_data(self._host.groups),
            inventory.get_data(),
        )

    def __getitem__(self, key: str) -> Any:
        for layer in self._layers():
            if key in layer:
                return layer[key]
        raise KeyError(f"host {self._host.name} has no data {key!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(self.dict())

    def __len__(self) -> int:
        return len(self.dict())

    def dict(self) -> dict[str, Any]:
        """All of the host's data as one dict."""
        merged: dict[str, Any] = {}
        for layer in reversed(self._layers()):
            merged.update(layer)
        return merged


class Host:
    """A host of the inventory. Hosts compare by identity, as pyinfra's do."""

    state: State | None = None

    def __init__(self, name: str, inventory: Inventory, groups: list[str]) -> None:
        self.name = name
        self.inventory = inventory
        self.groups = list(groups)
        self.data = HostData(self)
        self.loop_position: list[int] = []

    def init(self, state: State) -> None:
        """Attach the host to the State of its deploy."""
        self.state = state

    @property
    def op_hash_order(self) -> ReadOnlyList[str] | tuple[()]:
        """The hashes of the operations added to this host, in order (read-only)."""
        if self.state is None:
            return ()
        return self.state.view.op_hash_order(self.name)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Host({self.name})"
