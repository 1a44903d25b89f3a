"""The inventory: the hosts of a deploy, their groups and their data. Plain data.

The inventory knows no State and no connector: which hosts are active is the
State's (``state.active_hosts``), and an unknown ``@connector`` is found when a
State is made for the inventory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from eventstate.errors import InventoryError, NoGroupError, NoHostError
from eventstate.host import Host

__all__ = ["Inventory"]

_MISSING: Any = object()

HostSpec = str | tuple[str, Mapping[str, Any]]


def _names_and_data(
    specs: Iterable[HostSpec], where: str
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(specs, (str, bytes)) or not isinstance(specs, Iterable):
        # A string is iterable too: "web1" would be the hosts w, e, b and 1.
        raise InventoryError(f"{where}: the hosts must be a list, not {_shown(specs)}")
    for spec in specs:
        if isinstance(spec, tuple):
            if len(spec) != 2:
                raise InventoryError(
                    f"{where}: a host is a name or a (name, data) pair, not {_shown(spec)}"
                )
            name, data = spec
        else:
            name, data = spec, {}
        if not isinstance(name, str) or not name:
            raise InventoryError(
                f"{where}: a host name must be a non-empty string, not {_shown(name)}"
            )
        yield name, _data(data, f"{where}: the data of host {name}")


def _data(data: Any, what: str) -> dict[str, Any]:
    """``data`` as a dict of settings (None: none), or an :class:`InventoryError`."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InventoryError(f"{what} must be a dict, not {_shown(data)}")
    bad = next((key for key in data if not isinstance(key, str)), _MISSING)
    if bad is not _MISSING:
        raise InventoryError(f"{what}: a key must be a string, not {_shown(bad)}")
    return dict(data)


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Inventory:
    """The hosts of a deploy, in the order given, with their groups and data.

    Args:
        names_data: ``(names, data)``: host names (or ``(name, host_data)``
            pairs) and the data every host shares.
        override_data: Data that overrides every other source.
        **groups: ``group_name=(names, group_data)``. As in pyinfra, only
            ``names`` makes hosts: a name only a group lists is no host (and
            so in no group); a group's ``(name, data)`` pairs add to the data
            of the listed host of that name.

    Example:
        >>> inventory = Inventory((["web1", "web2"], {}), web=(["web1"], {"port": 80}))
        >>> [host.name for host in inventory.get_group("web")]
        ['web1']
    """

    def __init__(
        self,
        names_data: tuple[Iterable[HostSpec], Mapping[str, Any]],
        override_data: Mapping[str, Any] | None = None,
        **groups: tuple[Iterable[HostSpec], Mapping[str, Any]],
    ) -> None:
        try:
            names, data = names_data
        except (TypeError, ValueError):
            raise InventoryError("an inventory is made from a (names, data) tuple") from None
        self.data: dict[str, Any] = _data(data, "the inventory's data")
        self.override_data: dict[str, Any] = _data(override_data, "the override data")
        self.host_data: dict[str, dict[str, Any]] = {}
        self.group_data: dict[str, dict[str, Any]] = {}
        group_names: dict[str, list[str]] = {}
        group_host_data: dict[str, dict[str, Any]] = {}

        for group_name, group_spec in groups.items():
            try:
                group_hosts, group_data = group_spec
            except (TypeError, ValueError):
                raise InventoryError(
                    f"group {group_name!r} must be a (names, data) tuple"
                ) from None
            self.group_data[group_name] = _data(group_data, f"the data of group {group_name}")
            for name, host_data in _names_and_data(group_hosts, f"group {group_name}"):
                group_host_data.setdefault(name, {}).update(host_data)
                group_names.setdefault(name, []).append(group_name)

        ordered: dict[str, None] = {}
        for name, host_data in _names_and_data(names, "the inventory"):
            # Group-given host data first, the top-level list's on top (pyinfra's order).
            if name not in self.host_data:
                self.host_data[name] = dict(group_host_data.get(name, {}))
            self.host_data[name].update(host_data)
            ordered[name] = None

        self.hosts: dict[str, Host] = {
            name: Host(name, group_names.get(name, []), self._data_layers(name, group_names))
            for name in ordered
        }
        self.groups: dict[str, list[Host]] = {group_name: [] for group_name in groups}
        for host in self.hosts.values():
            for group_name in host.groups:
                self.groups[group_name].append(host)

    def _data_layers(
        self, name: str, group_names: Mapping[str, list[str]]
    ) -> list[Mapping[str, Any]]:
        # Highest priority first; later groups win over earlier ones.
        groups = [self.group_data[group] for group in reversed(group_names.get(name, []))]
        return [self.override_data, self.host_data[name], *groups, self.data]

    @staticmethod
    def empty() -> Inventory:
        """An inventory with no hosts."""
        return Inventory(([], {}))

    def __len__(self) -> int:
        return len(self.hosts)

    def __iter__(self) -> Iterator[Host]:
        """The hosts, in inventory order."""
        return iter(self.hosts.values())

    def __contains__(self, host: object) -> bool:
        if isinstance(host, Host):
            return self.hosts.get(host.name) is host
        return host in self.hosts

    def __repr__(self) -> str:
        return f"Inventory({list(self.hosts)!r})"

    def host_names(self) -> tuple[str, ...]:
        """Every host name, in inventory order."""
        return tuple(self.hosts)

    def get_host(self, name: str, default: Any = _MISSING) -> Host:
        """The host called ``name``; ``default`` if given and there is none.

        Raises:
            NoHostError: no such host and no default.
        """
        host = self.hosts.get(name)
        if host is not None:
            return host
        if default is _MISSING:
            raise NoHostError(f"No such host: {name}")
        return default

    def get_group(self, name: str, default: Any = _MISSING) -> list[Host]:
        """The hosts of group ``name``; ``default`` if given and there is none.

        Raises:
            NoGroupError: no such group and no default.
        """
        group = self.groups.get(name)
        if group is not None:
            return group
        if default is _MISSING:
            raise NoGroupError(f"No such group: {name}")
        return default

    def get_data(self) -> dict[str, Any]:
        """The data every host shares."""
        return self.data

    def get_override_data(self) -> dict[str, Any]:
        """The data that overrides every other source."""
        return self.override_data

    def get_host_data(self, name: str) -> dict[str, Any]:
        """The data given for one host."""
        return self.host_data.get(name, {})

    def get_group_data(self, group: str) -> dict[str, Any]:
        """The data given for one group."""
        return self.group_data.get(group, {})

    def get_groups_data(self, groups: Iterable[str]) -> dict[str, Any]:
        """The data of ``groups`` merged, later groups winning."""
        data: dict[str, Any] = {}
        for group in groups:
            data.update(self.get_group_data(group))
        return data
