"""Connecting to the inventory, and disconnecting from it, in parallel on the pool.

The State's :class:`~eventstate.connections.HostConnections` makes and opens
each host's connector; this module records each connection and its failure
and fires the callbacks, in pyinfra 3.10's order.
"""

from __future__ import annotations

import gc

import gevent

from eventstate.errors import ConnectError, DeployError
from eventstate.events import (
    HostConnected,
    HostConnectFailed,
    HostDisconnected,
    RunStatus,
    StateStage,
)
from eventstate.host import Host
from eventstate.state import State

__all__ = ["connect_all", "disconnect_all"]


def _connect(state: State, host: Host) -> str | None:
    state.trigger_callbacks("host_before_connect", host)

    def connected() -> None:
        state.record(HostConnected, host=host.name)
        state.trigger_callbacks("host_connect", host)

    try:
        state.connections.connect(host, on_connected=connected)
    except ConnectError as error:
        state.record(HostConnectFailed, host=host.name, error=str(error))
        state.trigger_callbacks("host_connect_error", host, error)
        return str(error)
    return None


def connect_all(state: State) -> None:
    """Connect to every host in the limit; activate those that connect, fail the rest.

    As pyinfra: the failed hosts count against ``activated_count`` = the hosts
    in the limit, so FAIL_PERCENT applies at connect time too.

    Raises:
        DeployError: too many hosts could not connect, or none did. The run's
            end is recorded first (aborted, with the error), as ``run_ops`` does.
    """
    if state.current_stage < StateStage.Connect:
        state.set_stage(StateStage.Connect)
    hosts = [host for host in state.inventory if state.is_host_in_limit(host)]
    greenlets = [state.pool.spawn(_connect, state, host) for host in hosts]
    gevent.joinall(greenlets)
    failed = []
    for host, greenlet in zip(hosts, greenlets, strict=True):
        if greenlet.get() is None:
            state.activate_host(host)
        else:
            failed.append(host)
    try:
        state.fail_hosts(failed, activated_count=len(hosts))
    except DeployError as error:
        # FAIL_PERCENT tripped or no host left: the run ends here, and the log says so.
        state.finish(RunStatus.ABORTED, error=str(error))
        raise
    state.flush()
    # Set-up is done: what it made (modules, inventory, connections) lives as long as
    # the run, so the collector's full passes need not walk it again and again. Until
    # the run's end (run_ops, disconnect_all): a frozen cycle would never be collected.
    gc.freeze()


def _disconnect(state: State, host: Host) -> None:
    def disconnected() -> None:
        state.record(HostDisconnected, host=host.name)
        state.trigger_callbacks("host_disconnect", host)

    state.connections.disconnect(host, on_disconnected=disconnected)


def disconnect_all(state: State) -> None:
    """Disconnect every activated host (failed ones included, as pyinfra)."""
    if state.current_stage < StateStage.Disconnect:
        state.set_stage(StateStage.Disconnect)
    greenlets = [state.pool.spawn(_disconnect, state, host) for host in state.activated_hosts]
    try:
        gevent.joinall(greenlets, raise_error=True)
        state.flush()
    finally:
        gc.unfreeze()  # the run's objects may be collected again once it ends
