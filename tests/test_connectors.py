"""Connectors: how commands are wrapped, the sim's determinism, docker, plugins."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import eventstate.connectors as connectors
from eventstate import Config, Inventory, State
from eventstate.commands import Secret, StringCommand
from eventstate.connect import connect_all
from eventstate.connectors import CommandOptions, get_connector, shell_argv
from eventstate.connectors.docker import DockerConnector
from eventstate.connectors.sim import sim_draw
from eventstate.errors import ConnectError, ConnectorNotFoundError, InventoryError


def test_shell_argv_wraps_env_chdir_and_sudo() -> None:
    options = CommandOptions(
        sudo=True, sudo_user="app", env={"A": "1 2"}, chdir="/srv/my app", shell_executable="bash"
    )
    assert shell_argv("echo $A", options) == [
        "sudo",
        "-H",
        "-n",
        "-u",
        "app",
        "bash",
        "-c",
        "cd '/srv/my app' && export 'A=1 2'; echo $A",
    ]
    assert shell_argv("true", CommandOptions()) == ["sh", "-c", "true"]


def test_secrets_are_masked_but_sent() -> None:
    command = StringCommand("mysql", "-p", Secret("hunter2"), "-e", "'select 1'")
    assert command.raw() == "mysql -p hunter2 -e 'select 1'"
    assert command.masked() == "mysql -p *** -e 'select 1'"
    assert "hunter2" not in repr(command) and "hunter2" not in repr(Secret("hunter2"))


def test_sim_draws_are_fixed_by_their_parts() -> None:
    assert sim_draw(1, "h", 3, "cmd") == sim_draw(1, "h", 3, "cmd")
    assert sim_draw(1, "h", 3, "cmd") != sim_draw(2, "h", 3, "cmd")
    draws = [sim_draw(0, "h", i) for i in range(2000)]
    assert all(0 <= d < 1 for d in draws)
    assert 0.4 < sum(d < 0.5 for d in draws) / len(draws) < 0.6


def test_docker_runs_commands_through_docker_exec() -> None:
    inventory = Inventory((["@docker/web"], {}))
    host = inventory.get_host("@docker/web")
    connector = DockerConnector(host.name, host.data, "web")
    argv = connector.exec_argv(shell_argv("uptime", CommandOptions()), stdin=True)
    assert argv == ["docker", "exec", "-i", "web", "sh", "-c", "uptime"]


def test_docker_without_a_running_container_is_a_recorded_connect_failure() -> None:
    # No Docker engine runs here (and CI may lack the client): either way, a failure.
    inventory = Inventory((["@docker/eventstate-test-no-such-container", "@sim/ok"], {}))
    state = State(inventory, Config())
    connect_all(state)
    assert [h.name for h in state.failed_hosts] == ["@docker/eventstate-test-no-such-container"]
    error = state.view.host_sets.connect_errors["@docker/eventstate-test-no-such-container"]
    assert error.startswith("container eventstate-test-no-such-container is not running")


def test_a_missing_container_name_is_a_connect_error() -> None:
    inventory = Inventory((["@docker"], {}))
    state = State(inventory)
    with pytest.raises(ConnectError, match="@docker needs a container"):
        state.connections.connect(inventory.get_host("@docker"))


def test_an_unknown_connector_is_an_inventory_error() -> None:
    # The inventory is plain data; the State made for it looks its connectors up.
    inventory = Inventory((["@nope/x"], {}))
    with pytest.raises(InventoryError, match="no connector called 'nope'"):
        State(inventory)
    with pytest.raises(ConnectorNotFoundError):
        get_connector("nope")


def test_a_plugin_connector_is_found_by_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fake_connector.py").write_text(
        "from eventstate.connectors.sim import SimConnector\n"
        "class FakeConnector(SimConnector):\n"
        "    name = 'fake'\n"
    )
    dist = tmp_path / "fake_connector-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-connector\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[eventstate.connectors]\nfake = fake_connector:FakeConnector\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(connectors, "_plugins", None)
    assert get_connector("fake").__name__ == "FakeConnector"
    state = State(Inventory((["@fake/a"], {})), Config())
    connect_all(state)
    assert [h.name for h in state.active_hosts] == ["@fake/a"]
    monkeypatch.setattr(connectors, "_plugins", None)
    sys.modules.pop("fake_connector", None)


def test_local_get_file_reads_bytes_intact(tmp_path: Path) -> None:
    from eventstate.connectors.local import LocalConnector

    path = tmp_path / "blob"
    path.write_bytes(b"\x00\xff binary\n")
    connector = LocalConnector("@local", {}, None)
    result = connector.get_file(str(path), CommandOptions())
    assert (result.success, result.content, result.stdout) == (True, b"\x00\xff binary\n", "")
    missing = connector.get_file(str(tmp_path / "nope"), CommandOptions())
    assert not missing.success and "No such file" in missing.stderr


def test_env_keys_and_values_cannot_add_shell_words(tmp_path: Path) -> None:
    from eventstate.connectors.local import LocalConnector

    marker = tmp_path / "injected"
    connector = LocalConnector("@local", {}, None)
    options = CommandOptions(env={f"A; touch {marker}; B": "1", "V": f"$(touch {marker})"})
    result = connector.run_shell_command(StringCommand("echo $V"), options)
    assert not marker.exists()
    assert not result.success  # `export 'A; touch ...=1'` is not a valid name: the shell refuses


def test_the_sudo_password_preamble_survives_a_shell_that_execs_its_last_command() -> None:
    options = CommandOptions(sudo=True, sudo_password="pw")
    script = shell_argv("id -un", options)[2]
    assert script.endswith("; exit $?")
