"""pyinfra 3.10's tests/test_api/test_api_arguments.py, ported to eventstate."""
# ruff: noqa: RUF059  (unused `keys` as pyinfra wrote it)

from typing import cast
from unittest import TestCase

import pytest

from eventstate import Config, Host, Inventory, State
from eventstate.arguments import AllArguments, pop_global_arguments

# Every test makes `Config(SUDO="config-value")`, which eventstate refuses (SUDO is True or
# False) before the arguments are popped.
CONFIG_TYPE_CHECKED = (
    "README: `Config(FOO=1)` and `config.FOO = 1` accept any name | an unknown name is a "
    "`ConfigError`; values are type-checked on construction and assignment"
)


class TestOperationKwargs(TestCase):
    @pytest.mark.xfail(strict=True, reason=CONFIG_TYPE_CHECKED)
    def test_get_from_config(self):
        config = Config(SUDO="config-value")
        inventory = Inventory((("somehost",), {}))

        state = State(config=config, inventory=inventory)
        host = inventory.get_host("somehost")

        kwargs, _ = pop_global_arguments(state, host, {})
        assert kwargs.get("_sudo") == "config-value"

    @pytest.mark.xfail(strict=True, reason=CONFIG_TYPE_CHECKED)
    def test_get_from_host(self):
        config = Config(SUDO="config-value")
        inventory = Inventory(([("somehost", {"_sudo": True})], {}))

        state = State(config=config, inventory=inventory)
        host = inventory.get_host("somehost")

        kwargs, _ = pop_global_arguments(state, host, {})
        assert kwargs.get("_sudo") is True

    @pytest.mark.xfail(strict=True, reason=CONFIG_TYPE_CHECKED)
    def test_get_from_state_deploy_kwargs(self):
        config = Config(SUDO="config-value")
        inventory = Inventory(([("somehost", {"_sudo": False})], {}))
        somehost = inventory.get_host("somehost")
        assert isinstance(somehost, Host)

        state = State(config=config, inventory=inventory)
        host = inventory.get_host("somehost")
        somehost.current_deploy_kwargs = cast(AllArguments, {"_sudo": True})

        kwargs, keys = pop_global_arguments(state, host, {})
        assert kwargs.get("_sudo") is True

    @pytest.mark.xfail(strict=True, reason=CONFIG_TYPE_CHECKED)
    def test_get_from_kwargs(self):
        config = Config(SUDO="config-value")
        inventory = Inventory(([("somehost", {"_sudo": False})], {}))
        somehost = inventory.get_host("somehost")
        assert isinstance(somehost, Host)

        state = State(config=config, inventory=inventory)
        somehost.current_deploy_kwargs = cast(
            AllArguments,
            {
                "_sudo": False,
                "_sudo_user": "deploy-kwarg-user",
            },
        )

        kwargs, keys = pop_global_arguments(state, somehost, {"_sudo": True})
        assert kwargs.get("_sudo") is True
        assert kwargs.get("_sudo_user") == "deploy-kwarg-user"
        assert "_sudo" in keys
