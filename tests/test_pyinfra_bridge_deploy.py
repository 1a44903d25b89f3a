"""A pyinfra deploy file, unchanged, run by eventstate's deploy runner through the bridge."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from eventstate import Config, Inventory, State
from eventstate.deploy import run_deploy
from eventstate.errors import PyinfraNotInstalledError
from eventstate.events import CommandExecuted, RunStatus
from eventstate.pyinfra_bridge.activation import _MissingPyinfra, bridge_pyinfra_imports

DEPLOY = """\
from pyinfra import host
from pyinfra.operations import files, server
from pyinfra.facts.server import Which

files.line(path="{path}", line="managed = " + host.data.app_name)
server.shell(name="Say hi", commands=["echo hi from " + host.name])
if host.get_fact(Which, command="sh"):
    server.shell(commands=["echo sh is there"])
"""


def test_a_pyinfra_deploy_runs_unchanged(tmp_path: Path) -> None:
    target = tmp_path / "app.conf"
    target.write_text("other = 1\n")
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(DEPLOY.format(path=target))
    inventory = Inventory(([("@local", {"app_name": "demo"})], {}))
    state = State(inventory, Config())
    status = run_deploy(state, str(deploy_file))
    assert status is RunStatus.SUCCESS, [host.name for host in state.failed_hosts]

    # pyinfra's operation did its work on the host, as eventstate operations with
    # pyinfra's names; the facts it asked were recorded as fact commands.
    assert "managed = demo" in target.read_text()
    names = [sorted(state.op_meta[op_hash].names) for op_hash in state.get_op_order()]
    assert names == [["files.line"], ["Say hi"], ["server.shell"]]
    events = [
        stored
        for stored in state.log.read(state.run_id)
        if stored.type == CommandExecuted.event_type
    ]
    payloads = [str(stored.payload) for stored in events]
    assert any('"fact":"files.FindInFile' in payload for payload in payloads), payloads
    assert any('"fact":"server.Which' in payload for payload in payloads), payloads
    assert any("echo hi from @local" in payload for payload in payloads)

    # Run again: the line is there, so files.line has nothing to do.
    again = State(Inventory(([("@local", {"app_name": "demo"})], {})), Config())
    assert run_deploy(again, str(deploy_file)) is RunStatus.SUCCESS
    assert target.read_text().count("managed = demo") == 1

    # The bridge is gone once the deploy file ran: pyinfra's operations are its own again.
    from pyinfra.operations import files

    assert not hasattr(files.line, "pyinfra_operation")


def test_bridged_operations_keep_inner_for_pyinfras_own_calls() -> None:
    with bridge_pyinfra_imports():
        from pyinfra.operations import files

        assert files.line.pyinfra_operation._inner is files.line._inner  # type: ignore[attr-defined]


def test_pyinfra_missing_is_one_line_naming_the_extra() -> None:
    with pytest.raises(PyinfraNotInstalledError) as raised:
        _MissingPyinfra().find_spec("pyinfra", None)
    assert str(raised.value).endswith("pip install 'eventstate[pyinfra]'")
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, ImportError)
    assert _MissingPyinfra().find_spec("pyinfra_docker", None) is None
    assert "pyinfra" in sys.modules  # the extra is installed here: the finder is last in line
