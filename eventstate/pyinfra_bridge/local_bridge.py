"""pyinfra's ``local.include`` under the bridge: eventstate's own include.

``from pyinfra import local`` then ``local.include("tasks/web.py", data={...})``
runs the file for the host being prepared, as pyinfra's CLI does: the path
relative to the working directory (a ``./`` path to the including file), its
operations named under it (``tasks/web.py | files.line``), ``data`` read
through ``host.data`` while it runs, no outer deploy's arguments inside it.
That is :func:`eventstate.local.include`, which follows pyinfra's rule;
pyinfra's own refuses to run outside its CLI.

Nothing here imports pyinfra: the module is given.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from eventstate import local

__all__ = ["bridge_local_module"]


def bridge_local_module(module: ModuleType) -> dict[str, Any]:
    """Make ``pyinfra.local.include`` eventstate's, in place; returns the original to put back."""
    originals = {"include": module.include}
    module.include = local.include  # type: ignore[attr-defined]
    return originals
