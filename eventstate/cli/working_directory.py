"""The working directory on ``sys.path``, as pyinfra's CLI puts it: a deploy's own modules import.

pyinfra's CLI appends its working directory to ``sys.path`` before it loads
the inventory, the config or a deploy file (``pyinfra_cli.cli._setup_state``;
its ``main`` also appends ``"."``), so a deploy's ``from tasks import
helpers`` finds ``./tasks``. ``python -m eventstate`` starts with the
working directory on the path anyway; the installed ``eventstate`` script
starts with its own directory there instead -- so every command adds it.
"""

from __future__ import annotations

import os
import sys

__all__ = ["import_from_working_directory"]


def import_from_working_directory() -> None:
    """Append the working directory to ``sys.path`` unless it is there (pyinfra's rule)."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
