"""A run's connections: which connector each host uses, made and opened on first use.

Hosts are plain data; connecting is the engine's business. One
:class:`HostConnections` per State holds each host's connector, looked up by
the connector name the host's name asks for (``@sim/web1`` is ``sim``), made
from the host's name, data and argument, never from the live Host. It records
nothing and fires no callbacks: :mod:`eventstate.connect` does both around it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from eventstate.connectors import Connector, get_connector
from eventstate.errors import ConnectError, ConnectorNotFoundError
from eventstate.host import Host

__all__ = ["HostConnections"]


class HostConnections:
    """Each host's connector and whether it is connected, for one run.

    Args:
        hosts: The inventory's hosts. Every connector they name is looked up
            now, so that an unknown one is an error before anything runs.
        connect_timeout: Seconds a connection may take (``Config.CONNECT_TIMEOUT``).
        connectors: Connectors already made, by host name: those hosts are reached
            through them, whatever their names ask for (a rerun plays a recorded
            run back this way, with no connector of the recorded run installed).

    Raises:
        ConnectorNotFoundError: a host names a connector that is not installed.
    """

    def __init__(
        self,
        hosts: Iterable[Host],
        *,
        connect_timeout: float = 10,
        connectors: Mapping[str, Connector] | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self._connectors: dict[str, Connector] = dict(connectors or {})
        self._classes: dict[str, type[Connector]] = {
            host.name: get_connector(host.connector_name)
            for host in hosts
            if host.name not in self._connectors
        }

    def connector(self, host: Host) -> Connector:
        """The connector of ``host``, made on first use (not connected by this).

        Raises:
            ConnectError: its connector is not installed.
        """
        connector = self._connectors.get(host.name)
        if connector is None:
            connector_class = self._classes.get(host.name)
            if connector_class is None:
                try:
                    connector_class = get_connector(host.connector_name)
                except ConnectorNotFoundError as error:
                    raise ConnectError(str(error)) from None
            try:
                connector = connector_class(
                    host.name, host.data, host.connector_arg, connect_timeout=self.connect_timeout
                )
            except TypeError as error:
                # A plugin written for another signature: the host's failure, in one line.
                raise ConnectError(
                    f"connector {connector_class.__name__} cannot be made for {host.name}: {error}"
                    " (connectors take (host_name, data, arg, *, connect_timeout))"
                ) from None
            self._connectors[host.name] = connector
        return connector

    def connect(self, host: Host, on_connected: Callable[[], None] | None = None) -> Connector:
        """Connect to ``host`` unless connected; its connector.

        Args:
            host: The host.
            on_connected: Called once connected, before the host counts as
                connected (pyinfra fires ``host_connect`` there).

        Raises:
            ConnectError: the host cannot be reached, or its connector is not installed.
        """
        connector = self.connector(host)
        if not host.connected:
            connector.connect()
            if on_connected is not None:
                on_connected()
            # A flag on the host, as pyinfra's: callbacks read it.
            host.connected = True
        return connector

    def disconnect(self, host: Host, on_disconnected: Callable[[], None] | None = None) -> None:
        """Close the connection to ``host``, if open.

        Args:
            host: The host.
            on_disconnected: Called before the host counts as disconnected
                (pyinfra fires ``host_disconnect`` there), open or not.
        """
        if host.connected:
            self._connectors[host.name].disconnect()
        if on_disconnected is not None:
            on_disconnected()
        host.connected = False
