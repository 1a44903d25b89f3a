"""``local.include``: another deploy file run inside the one being prepared, as pyinfra's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eventstate import Config, Inventory, State
from eventstate.context import using
from eventstate.deploy import run_deploy_file
from eventstate.errors import DeployFileError
from eventstate.local import include


def _deploy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventstate", "deploy", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "EVENTSTATE_DB": str(tmp_path / "e.db")},
    )


def _files(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "one.py").write_text(
        "from eventstate.context import host\n"
        "from eventstate.operations import server\n"
        "server.shell(f'echo one {host.data.greeting}')\n"
        "server.shell('echo two')\n"
    )
    (tmp_path / "deploy.py").write_text(
        "from eventstate import local\n"
        "from eventstate.operations import server\n"
        "server.shell('echo before')\n"
        "local.include('tasks/one.py', data={'greeting': 'hi'})\n"
        "server.shell('echo after')\n"
    )


def _prepare(tmp_path: Path) -> State:
    state = State(Inventory((["@sim/a", "@sim/b"], {})), Config())
    for host in state.inventory:
        state.activate_host(host)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run_deploy_file(state, tmp_path / "deploy.py")
    finally:
        os.chdir(cwd)
    return state


def test_included_ops_run_in_place_named_under_the_file(tmp_path: Path) -> None:
    _files(tmp_path)
    state = _prepare(tmp_path)
    order = state.get_op_order()
    names = [sorted(state.op_meta[op_hash].names)[0] for op_hash in order]
    assert names == [
        "server.shell",
        "tasks/one.py | server.shell",
        "tasks/one.py | server.shell",
        "server.shell",
    ]
    # The data given to include is a default the included file reads.
    host = state.inventory.get_host("@sim/a")
    with using(state, host):
        commands = [str(c) for c in state.ops[host][order[1]].command_generator()]
    assert commands == ["echo one hi"]
    # The same files give the same op hashes: the order comes from both files' lines.
    assert _prepare(tmp_path).get_op_order() == order


def test_an_error_in_an_included_file_names_that_file_and_line(tmp_path: Path) -> None:
    _files(tmp_path)
    (tmp_path / "tasks" / "one.py").write_text("x = 1\nraise ValueError('bad value')\n")
    with pytest.raises(DeployFileError, match=r"tasks/one\.py:2 on @sim/a: ValueError: bad value"):
        _prepare(tmp_path)


def test_a_missing_include_is_one_line_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "deploy.py").write_text("from eventstate import local\nlocal.include('nope.py')\n")
    result = _deploy(tmp_path, "@sim/a", "deploy.py")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "cannot include" in result.stderr and "Traceback" not in result.stderr


def test_include_outside_a_deploy_file_is_an_error() -> None:
    state = State(Inventory((["@sim/a"], {})), Config())
    host = state.inventory.get_host("@sim/a")
    with using(state, host), pytest.raises(DeployFileError, match="works in a deploy file"):
        include("tasks/x.py")
