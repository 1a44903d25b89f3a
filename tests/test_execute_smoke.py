"""A first deploy end to end: connect, prepare, execute, disconnect, all recorded."""

from __future__ import annotations

from collections import Counter

from eventstate import Config, Inventory, State
from eventstate.connect import connect_all, disconnect_all
from eventstate.execute import run_ops
from eventstate.operation import add_op, operation
from eventstate.replay import rebuild, verify_run


@operation
def shell(command: str):  # type: ignore[no-untyped-def]
    yield command


def test_a_deploy_on_sim_and_local_hosts_is_recorded_and_rebuilds() -> None:
    inventory = Inventory((["@sim/a", "@sim/b", "@local"], {}))
    state = State(inventory, Config())
    connect_all(state)
    add_op(state, shell, "echo hello")
    add_op(state, shell, "echo bye")
    run_ops(state)
    disconnect_all(state)
    state.finish()

    for host in inventory:
        assert state.results[host].success_ops == 2
        assert state.meta[host].ops == 2
    assert verify_run(state.log, state.run_id).ok
    assert rebuild(state.log, state.run_id) == state.view
    types = Counter(event.type for event in state.log.read(state.run_id))
    # One event per host-op: its commands ride on its outcome.
    assert types["CommandExecuted"] == 0
    assert types["HostOperationFinished"] == 6
    assert types["HostConnected"] == types["HostDisconnected"] == 3
    local_echo = [
        event
        for event in state.log.read(state.run_id)
        if event.type == "HostOperationFinished" and event.host == "@local"
    ]
    assert '"stdout":"hello\\n"' in local_echo[0].payload
