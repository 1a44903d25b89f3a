"""Whether pyinfra is installed: the bridge's one dependency, named in one line when missing.

Imports nothing of pyinfra: the core asks here before anything loads it.
"""

from __future__ import annotations

import importlib.util

from eventstate.errors import PyinfraNotInstalledError

__all__ = ["INSTALL_HINT", "PyinfraNotInstalledError", "missing_pyinfra", "require_pyinfra"]

#: What to install for pyinfra deploys (the extra pins the versions the bridge is tested on).
INSTALL_HINT = "pip install 'eventstate[pyinfra]'"


def missing_pyinfra(what: str = "this deploy") -> PyinfraNotInstalledError:
    """The error for ``what`` needing pyinfra when it is not installed."""
    return PyinfraNotInstalledError(f"{what} uses pyinfra, which is not installed: {INSTALL_HINT}")


def require_pyinfra(what: str = "the pyinfra bridge") -> None:
    """Return if pyinfra can be imported.

    Raises:
        PyinfraNotInstalledError: it cannot; the message says what to install.
    """
    if importlib.util.find_spec("pyinfra") is None:
        raise missing_pyinfra(what)
