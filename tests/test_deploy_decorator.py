"""``@deploy`` and ``add_deploy``: operations grouped under a name, with arguments and data."""

from __future__ import annotations

from typing import Any

import pytest

from eventstate import Config, Inventory, State
from eventstate.connect import connect_all
from eventstate.context import current_host
from eventstate.deploy_decorator import add_deploy, deploy
from eventstate.errors import OperationArgumentError
from eventstate.events import CommandExecuted, with_command_events
from eventstate.execute import run_ops
from eventstate.operation import operation
from eventstate.operations import server
from eventstate.replay import read_events

seen: list[Any] = []


@deploy("Inner", data_defaults={"greeting": "hello", "port": 1})
def inner() -> None:
    host = current_host()
    seen.append((host.data.greeting, host.data.port))
    server.shell(f"echo {host.data.greeting}")
    server.shell("echo plain", _sudo=False)  # the op's own argument wins


@deploy("Outer")
def outer(extra: str) -> None:
    inner()
    server.shell(f"echo {extra}")


def _state() -> State:
    # Host data wins over a deploy's data_defaults; sudo from the deploy's arguments.
    state = State(Inventory(([("@sim/a", {"port": 8080}), "@sim/b"], {})), Config())
    connect_all(state)
    return state


def test_a_deploys_ops_carry_its_name_arguments_and_data() -> None:
    seen.clear()
    state = _state()
    add_deploy(state, outer, "bye", _sudo=True)
    assert seen == [("hello", 8080), ("hello", 1)]
    names = [", ".join(meta.names) for meta in state.op_meta.values()]
    assert names == [
        "Outer | Inner | server.shell",
        "Outer | Inner | server.shell",
        "Outer | server.shell",
    ]
    run_ops(state)
    state.finish()
    commands = [
        e.command
        for e in with_command_events(read_events(state.log, state.run_id))
        if isinstance(e, CommandExecuted) and e.host == "@sim/a"
    ]
    assert commands == ["sudo echo hello", "echo plain", "sudo echo bye"]
    # Outside the deploy its data defaults are gone, and so is its name.
    host = state.inventory.get_host("@sim/b")
    assert "greeting" not in host.data and host.current_deploy_name is None


def test_deploy_must_be_called_and_takes_only_known_arguments() -> None:
    with pytest.raises(OperationArgumentError, match="must be called"):
        deploy(lambda: None)  # type: ignore[arg-type]
    state = _state()
    with pytest.raises(OperationArgumentError, match="unknown deploy argument _sduo"):
        add_deploy(state, outer, "x", _sduo=True)


@deploy("Configured", data_defaults={"listen": 8080})
def configured() -> None:
    reads_data()


@operation
def reads_data() -> Any:
    # Run at prepare, and again at execution -- outside the deploy by then.
    yield f"echo {current_host().data.listen}"


def test_an_ops_body_reads_its_deploys_data_when_it_executes() -> None:
    state = _state()
    add_deploy(state, configured)
    run_ops(state)
    state.finish()
    commands = [
        e
        for e in with_command_events(read_events(state.log, state.run_id))
        if isinstance(e, CommandExecuted)
    ]
    assert {(e.host, e.command, e.success) for e in commands} == {
        ("@sim/a", "echo 8080", True),
        ("@sim/b", "echo 8080", True),
    }
