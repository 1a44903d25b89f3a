"""pop_global_arguments, pyinfra 3.10's shape: call over @deploy over host data over config."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventstate import Config, Inventory, OperationArgumentError, State
from eventstate.arguments import pop_global_arguments
from eventstate.deploy import DeployFileError, run_deploy_file
from eventstate.events import StateStage


def _state(host_data: dict[str, object], **config: object) -> State:
    inventory = Inventory(([("somehost", host_data)], {}))
    return State(inventory, Config(**config))


def test_every_argument_by_keyword_from_the_config() -> None:
    state = _state({}, SUDO=True, SUDO_USER="admin", RETRY=3)
    host = state.inventory.get_host("somehost")

    arguments, given = pop_global_arguments(state, host, {})

    assert arguments["_sudo"] is True
    assert arguments["_sudo_user"] == "admin"
    assert arguments["_retries"] == 3
    assert arguments["_serial"] is False
    assert given == []


def test_call_over_deploy_over_host_data_over_config() -> None:
    state = _state({"_sudo_user": "host-user", "_retries": 1}, SUDO_USER="config-user")
    host = state.inventory.get_host("somehost")
    kwargs = {"_retries": 5, "path": "/etc/motd"}

    with host.deploy("outer", {"_sudo_user": "deploy-user", "_retries": 2}, None):
        arguments, given = pop_global_arguments(state, host, kwargs)

    assert arguments["_sudo_user"] == "deploy-user"
    assert arguments["_retries"] == 5
    assert given == ["_retries"]
    assert kwargs == {"path": "/etc/motd"}  # popped: the op's own keywords stay


def test_host_data_over_config() -> None:
    state = _state({"_sudo_user": "host-user"}, SUDO_USER="config-user")

    arguments, _ = pop_global_arguments(state, state.inventory.get_host("somehost"), {})

    assert arguments["_sudo_user"] == "host-user"


def test_unknown_argument_is_an_error() -> None:
    state = _state({})

    with pytest.raises(OperationArgumentError, match="_sudoo"):
        pop_global_arguments(state, state.inventory.get_host("somehost"), {"_sudoo": True})


def test_remembered_arguments_follow_the_config_host_data_and_types(tmp_path: Path) -> None:
    # A deploy file resolves the same call on every host, and again and again in a loop:
    # what is remembered must still be what resolving gives after the config changes
    # (a deploy file's config.SUDO = True), on hosts whose data differ, and for values
    # equal but of another type (1 is not True for _sudo).
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from eventstate.context import current\n"
        "from eventstate.operations import server\n"
        "state, host = current()\n"
        "for i in range(3):\n"
        "    server.shell(commands=['echo'], _retries=2)\n"
        "state.config.SUDO = True\n"
        "state.config.ENV['FROM'] = 'config'\n"
        "for i in range(2):\n"
        "    server.shell(commands=['echo'], _retries=2)\n"
    )
    inventory = Inventory(
        (["@sim/a", ("@sim/b", {"_sudo_user": "bee"}), "@sim/c"], {}),
    )
    state = State(inventory, Config())
    run_deploy_file_for_test(state, deploy)
    seen = {
        host.name: [
            (
                data.global_arguments.sudo,
                data.global_arguments.sudo_user,
                dict(data.global_arguments.env),
            )
            for data in state.ops[host].values()
        ]
        for host in state.inventory
    }
    before, after = (False, None, {}), (True, None, {"FROM": "config"})
    assert seen["@sim/a"] == [before] * 3 + [after] * 2
    # The hosts after the first ran after the change: every op sees it, the first ones too.
    assert seen["@sim/b"] == [(True, "bee", {"FROM": "config"})] * 5
    assert seen["@sim/c"] == [after] * 5

    bad = tmp_path / "bad.py"
    bad.write_text(
        "from eventstate.operations import server\n"
        "server.shell(commands=['echo'], _sudo=True)\n"
        "server.shell(commands=['echo'], _sudo=1)\n"
    )
    with pytest.raises(DeployFileError, match="argument _sudo must be bool, not int"):
        run_deploy_file_for_test(State(Inventory((["@sim/a"], {})), Config()), bad)


def run_deploy_file_for_test(state: State, path: Path) -> None:
    from eventstate.connect import connect_all

    connect_all(state)
    state.set_stage(StateStage.Prepare)
    run_deploy_file(state, path)
