"""Debian packages through apt."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from eventstate.context import current
from eventstate.facts.server import DebPackages
from eventstate.operation import operation

__all__ = ["packages", "update"]

_APT = "DEBIAN_FRONTEND=noninteractive apt-get -y"


@operation
def update() -> Iterator[str]:
    """Refresh the package lists (always runs: the lists may have changed upstream)."""
    yield f"{_APT} update"


@operation
def packages(
    packages: str | list[str],
    present: bool = True,
    update: bool = False,
) -> Iterator[str]:
    """Install or remove Debian packages; only those not already as asked.

    Args:
        packages: A package name or a list of them.
        present: Installed (True) or removed (False).
        update: Refresh the package lists first, when anything is to be installed.
    """
    _, host = current()
    installed = host.get_fact(DebPackages)
    names = [packages] if isinstance(packages, str) else list(packages)
    if present:
        missing = [name for name in names if name not in installed]
        if missing:
            if update:
                yield f"{_APT} update"
            yield f"{_APT} install {' '.join(shlex.quote(name) for name in missing)}"
    else:
        there = [name for name in names if name in installed]
        if there:
            yield f"{_APT} remove {' '.join(shlex.quote(name) for name in there)}"
