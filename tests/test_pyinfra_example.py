"""``examples/pyinfra/``: a pyinfra deploy and inventory, as pyinfra users write them, run
unchanged by ``eventstate deploy`` against the real test sshd -- and by pyinfra's own CLI.

The files import only pyinfra; the inventory reads where the SSH server is from
the environment (``EXAMPLE_SSH_*``), and ``group_data/all.py`` where the app
goes (``EXAMPLE_APP_ROOT``). Both engines run from the repository's root, as
``pyinfra examples/pyinfra/inventory.py examples/pyinfra/deploy.py``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ssh_server import SshServer, running_sshd

from eventstate import replay
from eventstate.deploy import load_inventory
from eventstate.events import CommandExecuted

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "pyinfra"
INVENTORY = "examples/pyinfra/inventory.py"
DEPLOY = "examples/pyinfra/deploy.py"
CONFIGURE = "examples/pyinfra/tasks/configure.py"

#: The operations, in order, by pyinfra's names (its CLI prints these for the example).
OPERATIONS = [
    "Create the app's root",
    "Release | files.directory",
    "Release | files.link",
    f"{CONFIGURE} | files.file",
    f"{CONFIGURE} | files.line",
    f"{CONFIGURE} | files.line",
    f"{CONFIGURE} | files.line",
    f"{CONFIGURE} | Mark the install",
]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    with running_sshd(tmp_path_factory.mktemp("sshd"), hosts=1) as running:
        yield running


def _environment(sshd: SshServer, app_root: Path) -> dict[str, str]:
    data = sshd.host_data()
    return {
        **os.environ,
        "EXAMPLE_SSH_HOST": sshd.addresses[0],
        "EXAMPLE_SSH_PORT": str(sshd.port),
        "EXAMPLE_SSH_USER": data["ssh_user"],
        "EXAMPLE_SSH_KEY": data["ssh_key"],
        "EXAMPLE_SSH_KNOWN_HOSTS": data["ssh_known_hosts_file"],
        "EXAMPLE_SSH_CONFIG": data["ssh_config_file"],
        "EXAMPLE_APP_ROOT": str(app_root),
    }


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _eventstate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = _run(env, "eventstate", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _linux_name() -> str:
    # The sshd's host is this machine: pyinfra's LinuxName is os-release's NAME's first word.
    fields = dict(
        line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if line
    )
    return fields["NAME"].strip('"').split()[0]


def _assert_deployed(app_root: Path) -> None:
    """The host as the example leaves it."""
    assert (app_root / "releases" / "1.2.0").is_dir()  # the group's version over all's
    assert os.readlink(app_root / "current") == str(app_root / "releases" / "1.2.0")
    config = app_root / "app.conf"
    # port: the host's own data (8080) over its group's (80); name: group_data/all.py's.
    assert config.read_text() == f"name = example\nport = 8080\nos = {_linux_name()}\n"
    assert oct(config.stat().st_mode & 0o777) == "0o644"
    assert (app_root / "installed").read_text().strip()


def _shown(env: dict[str, str], db: Path) -> dict[str, Any]:
    """``eventstate show latest --json``."""
    return json.loads(_eventstate(env, "show", "latest", "--db", str(db), "--json").stdout)


def test_the_files_are_pyinfras_only() -> None:
    files = sorted(path.relative_to(EXAMPLE).as_posix() for path in EXAMPLE.rglob("*.py"))
    assert files == ["deploy.py", "group_data/all.py", "inventory.py", "tasks/configure.py"]
    for path in EXAMPLE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] in {"pyinfra", "os"}, path
            elif isinstance(node, ast.Import):
                assert {alias.name for alias in node.names} <= {"os"}, path
            assert not (isinstance(node, ast.Name) and node.id == "eventstate"), path


def test_eventstate_deploys_the_pyinfra_example_over_ssh(sshd: SshServer, tmp_path: Path) -> None:
    app_root = tmp_path / "app"
    db = tmp_path / "e.db"
    env = _environment(sshd, app_root)
    _eventstate(env, "deploy", INVENTORY, DEPLOY, "--db", str(db))
    _assert_deployed(app_root)

    # show lists the operations, in order, by pyinfra's names; each changed the host.
    shown = _shown(env, db)
    lines = _eventstate(env, "show", "latest", "--db", str(db)).stdout.splitlines()
    assert [op["operation"] for op in shown["operations"]] == OPERATIONS
    assert all(op["change"] == 1 and op["hosts"] == 1 for op in shown["operations"])
    header = next(index for index, line in enumerate(lines) if line.startswith("operation "))
    assert lines[header].split() == ["operation", "hosts", "change", "no-change", "error"]
    table = [re.split(r"\s{2,}", line) for line in lines[header + 1 : header + 1 + len(OPERATIONS)]]
    assert table == [[name, "1", "1", "0", "0"] for name in OPERATIONS]
    assert shown["run"]["status"] == "success"
    # pyinfra's facts were gathered by eventstate, recorded as the host's fact commands
    # (LinuxName is a short fact: LinuxDistribution's command, its own reading).
    with replay.open(db) as log:
        events = log.run(shown["run"]["run_id"]).events(types={"CommandExecuted"})
        facts = {
            event.fact.split("(")[0]
            for event in events
            if isinstance(event, CommandExecuted) and event.fact
        }
    assert {"server.LinuxDistribution", "files.File", "files.FindInFile", "files.Link"} <= facts

    # Again: nothing to do -- the install is marked, so its shell command is not even added.
    installed = (app_root / "installed").read_text()
    _eventstate(env, "deploy", INVENTORY, DEPLOY, "--db", str(db))
    again = _shown(env, db)
    assert again["run"]["status"] == "success" and again["run"]["ops_change"] == 0
    assert [op["operation"] for op in again["operations"]] == OPERATIONS[:-1]
    assert all(op["no_change"] == 1 for op in again["operations"])
    assert (host := again["hosts"][0])["host"] == sshd.addresses[0] and host["ops_change"] == 0
    assert (app_root / "installed").read_text() == installed
    _assert_deployed(app_root)


STARTED = re.compile(r"^--> Starting operation: (.+?)(?: \(.*\))?\s*$", re.MULTILINE)


def test_pyinfras_own_cli_runs_the_same_files(sshd: SshServer, tmp_path: Path) -> None:
    # The proof the files are pyinfra's: its CLI runs them, on the same server, with
    # the same names; and eventstate then finds nothing left to do.
    app_root = tmp_path / "app"
    env = _environment(sshd, app_root)
    result = _run(env, "pyinfra", INVENTORY, DEPLOY, "-y")
    assert result.returncode == 0, result.stdout + result.stderr
    assert STARTED.findall(result.stderr) == OPERATIONS  # pyinfra logs to stderr
    _assert_deployed(app_root)

    db = tmp_path / "e.db"
    _eventstate(env, "deploy", INVENTORY, DEPLOY, "--db", str(db))
    shown = _shown(env, db)
    assert shown["run"]["ops_change"] == 0
    assert [op["operation"] for op in shown["operations"]] == OPERATIONS[:-1]
    _assert_deployed(app_root)


#: pyinfra's CLI loading an inventory file (run apart: pyinfra_cli patches the process).
PYINFRA_INVENTORY = """\
import json, os, sys
from pyinfra.api import State
from pyinfra.context import ctx_state
from pyinfra_cli.inventory import make_inventory_from_files

ctx_state.set(State())
inventory = make_inventory_from_files(sys.argv[1], cwd=os.getcwd())
print(json.dumps({
    "hosts": [host.name for host in inventory],
    "groups": {name: [host.name for host in hosts] for name, hosts in inventory.groups.items()},
    "data": {host.name: host.data.dict() for host in inventory},
}))
"""


def _loaded_both_ways(inventory: str, cwd: Path, env: dict[str, str]) -> tuple[Any, Any]:
    pyinfras = subprocess.run(
        [sys.executable, "-c", PYINFRA_INVENTORY, inventory],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pyinfras.returncode == 0, pyinfras.stderr
    loaded = load_inventory(inventory)
    ours: dict[str, Any] = {
        "hosts": [host.name for host in loaded],
        # pyinfra's groups are those with hosts (group data alone makes none).
        "groups": {name: [host.name for host in hosts] for name, hosts in loaded.groups.items()},
        "data": {host.name: host.data.dict() for host in loaded},
    }
    ours["groups"] = {name: hosts for name, hosts in ours["groups"].items() if hosts}
    return json.loads(pyinfras.stdout), ours


def test_the_example_inventory_loads_as_pyinfra_loads_it(
    sshd: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _environment(sshd, tmp_path / "app")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    pyinfras, ours = _loaded_both_ways(INVENTORY, ROOT, env)
    assert ours == pyinfras
    assert ours["data"][sshd.addresses[0]]["ssh_port"] == sshd.port


def test_inventory_files_and_group_data_load_as_pyinfra_loads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lists, (hosts, data) tuples, hosts with data, a host in two groups, what is no
    # group; group_data/ in the working directory and beside the inventory (which wins),
    # for all, a group, the file's own group, and a group with no host.
    inventories = tmp_path / "inventories"
    (inventories / "group_data").mkdir(parents=True)
    (tmp_path / "group_data").mkdir()
    (inventories / "production.py").write_text(
        "import os\n"
        "from os import path\n"
        "_private = ['not', 'a', 'group']\n"
        "web = ['web1', ('web2', {'port': 8080, 'role': 'edge'})]\n"
        "db = (['db1', ('db2', {'replica': True})], {'role': 'db', 'port': 5432})\n"
        "both = (['web1', 'db1'], {'role': 'both', 'shared': 'both'})\n"
        "empty = []\n"
        "settings = {'a dict': 'is no group'}\n"
    )
    group_data = {
        inventories / "group_data" / "all.py": "import os\nregion = 'eu'\nntp = 'beside'\n",
        inventories / "group_data" / "web.py": "from os import path as _p\nrole = 'web'\n_x = 1\n",
        inventories / "group_data" / "production.py": "stage = 'prod'\n",
        inventories / "group_data" / "monitoring.py": "alerts = True\n",
        tmp_path / "group_data" / "all.py": "ntp = 'cwd'\ncwd_only = 1\n",
        tmp_path / "group_data" / "db.py": "__all__ = ['backup']\nbackup = 'nightly'\nhelper = 2\n",
    }
    for path, source in group_data.items():
        path.write_text(source)
    monkeypatch.chdir(tmp_path)
    pyinfras, ours = _loaded_both_ways("inventories/production.py", tmp_path, dict(os.environ))
    assert ours == pyinfras
    assert ours["data"]["db1"] == {
        "backup": "nightly",
        "cwd_only": 1,
        "ntp": "beside",
        "port": 5432,
        "region": "eu",
        "role": "both",
        "shared": "both",
        "stage": "prod",
    }
