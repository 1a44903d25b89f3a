"""pop_global_arguments, pyinfra 3.10's shape: call over @deploy over host data over config."""

from __future__ import annotations

import pytest

from eventstate import Config, Inventory, OperationArgumentError, State
from eventstate.arguments import pop_global_arguments


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
