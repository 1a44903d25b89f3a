"""The State's read-only views keyed by :class:`Host`, over projections keyed by name.

Projections name hosts; users of the State hold Host objects. These wrappers
translate one to the other without copying, in inventory order, and refuse
every mutation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from typing import TYPE_CHECKING, Any, TypeVar

from eventstate.host import Host
from eventstate.projections.views import MutationRefused

if TYPE_CHECKING:
    from eventstate.inventory import Inventory

__all__ = ["HostList", "HostMapping", "HostSet"]

V = TypeVar("V")


def _name(host: object) -> str | None:
    if isinstance(host, Host):
        return host.name
    if isinstance(host, str):
        return host
    return None


class HostSet(MutationRefused, Set[Host]):
    """A live set of the inventory's hosts whose names are in ``names``."""

    __slots__ = ("_inventory", "_names")
    _what = "this host set"

    def __init__(self, names: Set[str], inventory: Inventory) -> None:
        self._names = names
        self._inventory = inventory

    def __contains__(self, host: object) -> bool:
        name = _name(host)
        if name is None or name not in self._names:
            return False
        return not isinstance(host, Host) or self._inventory.hosts.get(name) is host

    def __iter__(self) -> Iterator[Host]:
        hosts = self._inventory.hosts
        return (hosts[name] for name in self._names)

    def __len__(self) -> int:
        return len(self._names)

    @classmethod
    def _from_iterable(cls, iterable: Iterable[Any]) -> set[Any]:
        # Set algebra (``hosts - other``) gives a plain set of hosts.
        return set(iterable)

    def names(self) -> list[str]:
        """The host names, in inventory order."""
        return list(self._names)

    def __repr__(self) -> str:
        return f"HostSet({list(self._names)!r})"


class HostMapping(MutationRefused, Mapping[Host, V]):
    """A live mapping from the inventory's hosts to ``by_name[host.name]``.

    Looking up a host name (a string) works too.
    """

    __slots__ = ("_by_name", "_inventory")
    _what = "this host mapping"

    def __init__(self, by_name: Mapping[str, V], inventory: Inventory) -> None:
        self._by_name = by_name
        self._inventory = inventory

    def __getitem__(self, host: Host | str) -> V:
        name = _name(host)
        if name is None:
            raise KeyError(host)
        return self._by_name[name]

    def __iter__(self) -> Iterator[Host]:
        by_name = self._by_name
        return (host for host in self._inventory if host.name in by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, host: object) -> bool:
        name = _name(host)
        return name is not None and name in self._by_name

    def __repr__(self) -> str:
        return f"HostMapping({dict(self._by_name)!r})"


class HostList(MutationRefused, Sequence[Host]):
    """A read-only list of hosts (the State's limit)."""

    __slots__ = ("_hosts",)
    _what = "this host list"

    def __init__(self, hosts: Sequence[Host]) -> None:
        self._hosts = tuple(hosts)

    def __getitem__(self, index: Any) -> Any:
        return self._hosts[index]

    def __len__(self) -> int:
        return len(self._hosts)

    def __contains__(self, host: object) -> bool:
        return any(host is mine or host == mine.name for mine in self._hosts)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (HostList, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"HostList({[host.name for host in self._hosts]!r})"
