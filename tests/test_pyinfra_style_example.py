"""The pyinfra-style example deploy runs under ``eventstate deploy`` as pyinfra wrote it."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

from eventstate.events import CommandExecuted, OperationAdded, with_command_events, with_host_events
from eventstate.replay import read_log

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pyinfra_style"


def _deploy(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventstate", "deploy", "inventory.py", "deploy.py"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "EVENTSTATE_DEMO_DIR": str(cwd), "EVENTSTATE_DB": str(cwd / "e.db")},
    )


def test_only_the_imports_differ_from_pyinfra() -> None:
    for path in EXAMPLE.rglob("*.py"):
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            # eventstate is named in import lines only, each saying what pyinfra's was.
            assert not (isinstance(node, ast.Name) and node.id == "eventstate"), path
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("eventstate"):
                assert "# was: from pyinfra" in lines[node.lineno - 1], lines[node.lineno - 1]


def test_the_pyinfra_style_deploy_runs_then_changes_nothing(tmp_path: Path) -> None:
    work = tmp_path / "deploy"
    shutil.copytree(EXAMPLE, work)
    first = _deploy(work)
    assert first.returncode == 0, first.stdout + first.stderr
    app = work / "pyinfra-style-app"
    # host.data from the (hosts, data) group and from group_data/all.py.
    assert (app / "app.conf").read_text() == "port = 8080\nworkers = 2\n"
    motd = "Managed by a pyinfra-style deploy, recorded by eventstate\n"
    assert (app / "motd").read_text() == motd

    with read_log(work / "e.db") as log:
        (run,) = log.runs()
        events = list(with_host_events(with_command_events(run.events())))
    names = {name for e in events if isinstance(e, OperationAdded) for name in e.names}
    assert "Configure the app | App directory" in names  # @deploy names its ops
    assert "tasks/motd.py | Write the message of the day" in names  # local.include, too
    commands = [e.command for e in events if isinstance(e, CommandExecuted)]
    # The simulated group's own data won over group_data/all.py's.
    assert any("port = 9090" in command for command in commands)
    assert any("first run of shop" in command for command in commands)

    second = _deploy(work)
    assert second.returncode == 0, second.stdout + second.stderr
    local_row = next(line for line in second.stdout.splitlines() if line.startswith("@local"))
    # The fact asked with keyword arguments found the file: no "First run" op this time.
    assert local_row.split()[1:4] == ["ok", "5", "0"], local_row
