"""Connectors: SSH (a plain host name), ``@local``, ``@docker/NAME``, ``@sim/NAME``, plugins.

Plugins register under the entry-point group ``eventstate.connectors``
(``name = "package.module:ConnectorClass"``); a plugin may not replace a
built-in.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from eventstate.connectors.base import CommandOptions, CommandResult, Connector, shell_argv
from eventstate.connectors.docker import DockerConnector
from eventstate.connectors.local import LocalConnector
from eventstate.connectors.sim import SimConnector
from eventstate.connectors.ssh import SshConnector
from eventstate.errors import ConnectorNotFoundError

__all__ = [
    "CommandOptions",
    "CommandResult",
    "Connector",
    "DockerConnector",
    "LocalConnector",
    "SimConnector",
    "SshConnector",
    "get_connector",
    "shell_argv",
]

_BUILT_IN: dict[str, type[Connector]] = {
    cls.name: cls for cls in (LocalConnector, DockerConnector, SimConnector, SshConnector)
}
_plugins: dict[str, type[Connector]] | None = None


def _load_plugins() -> dict[str, type[Connector]]:
    global _plugins
    if _plugins is None:
        # Read once per process: scanning entry points per host is what makes
        # pyinfra slow on large inventories.
        _plugins = {
            point.name: point.load()
            for point in entry_points(group="eventstate.connectors")
            if point.name not in _BUILT_IN
        }
    return _plugins


def get_connector(name: str) -> type[Connector]:
    """The connector class called ``name``.

    Raises:
        ConnectorNotFoundError: no built-in or installed connector has that name.
    """
    connector = _BUILT_IN.get(name) or _load_plugins().get(name)
    if connector is None:
        known = sorted({*_BUILT_IN, *_load_plugins()})
        raise ConnectorNotFoundError(
            f"no connector called {name!r} (installed: {', '.join(known)})"
        )
    return connector
