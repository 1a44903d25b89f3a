"""Facts about ZFS: its pools (pyinfra's ``zfs`` facts)."""

from __future__ import annotations

from typing import Any

from eventstate.facts.base import Fact

__all__ = ["ZfsPools"]


def _zfs_properties(lines: list[str]) -> dict[str, dict[str, str]]:
    # `zpool get -H all`: name, property, value, source -- one property a line, tabs between.
    by_name: dict[str, dict[str, str]] = {}
    for line in lines:
        name, prop, value, _source = line.split("\t")
        by_name.setdefault(name, {})[prop] = value
    return by_name


class ZfsPools(Fact):
    """The host's ZFS pools: name -> property -> value (pyinfra's ``zfs.ZfsPools``).

    Needs ``zpool``: a host without it reads as no pools while preparing.
    """

    name = "zfs.ZfsPools"

    def command(self) -> str:
        """Every property of every pool, tab-separated."""
        return "zpool get -H all"

    def requires_command(self) -> str:
        """``zpool``."""
        return "zpool"

    def default(self) -> dict[str, Any]:
        """No pools."""
        return {}

    def process(self, lines: list[str]) -> dict[str, dict[str, str]]:
        """Each pool's properties."""
        return _zfs_properties(lines)
