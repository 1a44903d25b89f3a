"""Real pyinfra deploys on real hosts, through the bridge: run twice, the second changes nothing.

The deploy files are pyinfra's own (only pyinfra imports), run by eventstate's
deploy runner on ``@local`` and on the SSH test server (:mod:`ssh_server`: this
machine, as root, on 127.0.0.x), in temporary directories. What they reach is
on loopback too: an HTTP server in a thread for ``files.download``, a bare git
repository for ``git.repo``, a wheel built here for ``pip.packages``. Users and
groups ``server.user`` / ``server.group`` add have unique names and are always
deleted afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import grp
import hashlib
import json
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ssh_server import SshServer, local_users, running_sshd

from eventstate import Config, Inventory, State
from eventstate.deploy import run_deploy
from eventstate.events import (
    CommandExecuted,
    HostOperationFinished,
    OperationAddedForHost,
    RunStatus,
    with_command_events,
    with_host_events,
)
from eventstate.replay import read_events

#: The tiny package ``pip.packages`` installs, from a wheel built by the tests.
PACKAGE = "esbrtiny"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    with running_sshd(tmp_path_factory.mktemp("sshd"), hosts=2) as running:
        yield running


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Served quietly: the test output is the deploy's."""


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTP server on loopback serving a directory: its base URL, and the directory."""
    directory = tmp_path_factory.mktemp("www")
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", directory
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _listed_commands(output: str) -> list[dict[str, Any]]:
    """Every command ``eventstate events --json`` listed: a CommandExecuted, or one an op's
    outcome carries (with its host)."""
    commands: list[dict[str, Any]] = []
    for line in output.splitlines():
        event = json.loads(line)
        if event["type"] == "CommandExecuted":
            commands.append(event)
        elif event["type"] == "HostOperationFinished":
            commands += [{**command, "host": event["host"]} for command in event["commands"]]
    return commands


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(
        ["git", "-c", "user.name=eventstate", "-c", "user.email=tests@eventstate", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare git repository whose ``main`` has one commit."""
    root = tmp_path_factory.mktemp("git")
    bare, work = root / "app.git", root / "work"
    _git("init", "-q", "--bare", "-b", "main", str(bare))
    _git("init", "-q", "-b", "main", str(work))
    (work / "README").write_text("the app\n")
    _git("add", "README", cwd=work)
    _git("commit", "-q", "-m", "The first commit", cwd=work)
    _git("push", "-q", str(bare), "main", cwd=work)
    return bare


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding one pure-Python wheel, ``esbrtiny 0.1``, made by hand (no build
    backend to fetch): pip installs it from there with no index."""
    directory = tmp_path_factory.mktemp("wheels")
    info = f"{PACKAGE}-0.1.dist-info"
    files = {
        f"{PACKAGE}.py": b"VALUE = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: 0.1\n".encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: eventstate-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = "".join(_record_line(path, data) + "\n" for path, data in files.items())
    with zipfile.ZipFile(directory / f"{PACKAGE}-0.1-py3-none-any.whl", "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
        wheel.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
    return directory


TEMPLATE = """\
# {{ host.data.app_name }}, rendered by pyinfra's files.template through eventstate
app = {{ host.data.app_name }}
port = {{ port }}
"""

DEPLOY = """\
from pyinfra import host
from pyinfra.operations import files, git, pip

root = host.data.root
files.template(
    name="Render the config",
    src=host.data.template,
    dest=root + "/app.conf",
    port=host.data.port,
)
files.download(
    name="Fetch the release",
    src=host.data.release_url,
    dest=root + "/release.txt",
    sha256sum=host.data.release_sha256,
)
files.link(name="Point current at the config", path=root + "/current", target=root + "/app.conf")
git.repo(name="Clone the app", src=host.data.repository, dest=root + "/checkout", branch="main")
pip.packages(
    name="Install the tiny package",
    packages=["esbrtiny"],
    virtualenv=root + "/venv",
    virtualenv_kwargs={"venv": True, "python": host.data.python},
    extra_install_args="--no-index --find-links " + host.data.wheels,
)
"""


def _host_data(
    root: Path, web: tuple[str, Path], repository: Path, wheels: Path, template: Path
) -> dict[str, Any]:
    url, served = web
    release = f"release {secrets.token_hex(4)}\n".encode()
    name = f"release-{secrets.token_hex(4)}.txt"
    (served / name).write_bytes(release)
    root.mkdir(parents=True, exist_ok=True)
    # A stale config: the template must replace it whole (pyinfra reads its rendering
    # to hash it, then uploads it).
    (root / "app.conf").write_text("stale = 1\n")
    return {
        "app_name": "demo",
        "port": 8080,
        "root": str(root),
        "template": str(template),
        "release_url": f"{url}/{name}",
        "release_sha256": hashlib.sha256(release).hexdigest(),
        "repository": str(repository),
        "python": sys.executable,
        "wheels": str(wheels),
    }


def _finished(state: State) -> list[HostOperationFinished]:
    return [
        event
        for event in with_host_events(with_command_events(read_events(state.log, state.run_id)))
        if isinstance(event, HostOperationFinished)
    ]


def _deploy(hosts: list[tuple[str, dict[str, Any]]], deploy_file: Path) -> State:
    state = State(Inventory((hosts, {})), Config())
    status = run_deploy(state, str(deploy_file))
    commands = [
        (event.host, event.command, event.stderr)
        for event in with_host_events(with_command_events(read_events(state.log, state.run_id)))
        if isinstance(event, CommandExecuted) and not event.success
    ]
    assert status is RunStatus.SUCCESS, commands
    return state


def test_a_pyinfra_deploy_on_local_and_ssh_then_nothing_changes(
    sshd: SshServer,
    web: tuple[str, Path],
    repository: Path,
    wheels: Path,
    tmp_path: Path,
) -> None:
    template = tmp_path / "app.conf.j2"
    template.write_text(TEMPLATE)
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(DEPLOY)
    hosts = [
        ("@local", _host_data(tmp_path / "local", web, repository, wheels, template)),
        (
            sshd.addresses[0],
            {
                **sshd.host_data(),
                **_host_data(tmp_path / "ssh", web, repository, wheels, template),
            },
        ),
    ]
    first = _deploy(hosts, deploy_file)
    for _name, data in hosts:
        root = Path(data["root"])
        assert (root / "app.conf").read_text().splitlines()[1:] == ["app = demo", "port = 8080"]
        assert (root / "current").readlink() == root / "app.conf"
        assert (root / "release.txt").read_bytes().startswith(b"release ")
        assert (root / "checkout" / "README").read_text() == "the app\n"
        assert (root / "venv" / "bin" / "pip").exists()
    changed = {(e.host, e.op_hash) for e in _finished(first) if e.commands_executed}
    assert len(changed) == 2 * 5, changed

    second = _deploy(hosts, deploy_file)
    finished = _finished(second)
    assert len(finished) == 2 * 5
    assert [e for e in finished if e.commands_executed] == []
    results = [data.result for host in second.inventory for data in second.ops[host].values()]
    assert [(result.success, result.changed) for result in results] == [(True, False)] * 10
    planned = [
        e
        for e in with_host_events(with_command_events(read_events(second.log, second.run_id)))
        if isinstance(e, OperationAddedForHost)
    ]
    assert [e.is_change for e in planned] == [False] * 10

    # What pyinfra's operations said they had nothing to do is kept on each host op.
    assert all(noops == [] for noops in _noops(first).values())
    expected = {}
    for name, data in hosts:
        root = data["root"]
        expected |= {
            (name, "Render the config"): [f"file {root}/app.conf is already uploaded"],
            (name, "Fetch the release"): [f"file {root}/release.txt has already been downloaded"],
            (name, "Point current at the config"): [f"link {root}/current already exists"],
            (name, "Clone the app"): [
                f"directory {root}/checkout already exists",
                f"git repository {root}/checkout is already up to date",
            ],
            (name, "Install the tiny package"): [
                f"virtualenv {root}/venv exists",
                "package esbrtiny is installed (0.1)",
            ],
        }
    assert _noops(second) == expected

    # A new commit upstream: git.repo pulls it, and nothing else changes.
    work = repository.parent / "work"
    (work / "README").write_text("the app, updated\n")
    _git("commit", "-q", "-am", "The second commit", cwd=work)
    _git("push", "-q", str(repository), "main", cwd=work)
    third = _deploy(hosts, deploy_file)
    changed_names = {
        (e.host, sorted(third.op_meta[e.op_hash].names)[0])
        for e in _finished(third)
        if e.commands_executed
    }
    assert changed_names == {(name, "Clone the app") for name, _data in hosts}
    for _name, data in hosts:
        assert (Path(data["root"]) / "checkout" / "README").read_text() == "the app, updated\n"


def _noops(state: State) -> dict[tuple[str, str], list[str]]:
    names = {op_hash: sorted(state.op_meta[op_hash].names)[0] for op_hash in state.get_op_order()}
    return {
        (host.name, names[op_hash]): data.noops
        for host in state.inventory
        for op_hash, data in state.ops[host].items()
    }


USERS_DEPLOY = """\
from pyinfra import host
from pyinfra.operations import files, server

account = host.data.account
server.group(name="Add the group", group=account, _sudo=True)
server.user(
    name="Add the user",
    user=account,
    group=account,
    home="/home/" + account,
    shell="/bin/sh",
    _sudo=True,
)
files.file(
    name="A file the plain user owns",
    path=host.data.plain_directory + "/owned.txt",
    _sudo=True,
    _su_user=host.data.plain,
)
"""


@contextlib.contextmanager
def _account() -> Iterator[str]:
    """A name for a user and group the deploy adds: unique, and deleted afterwards."""
    name = "esbr" + secrets.token_hex(4)
    try:
        yield name
    finally:
        subprocess.run(["userdel", "-r", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


@contextlib.contextmanager
def _owned_directory(user: str) -> Iterator[Path]:
    """A directory ``user`` owns and can reach (pytest's are root's alone), removed after."""
    directory = Path(tempfile.mkdtemp(prefix="esbr-"))
    try:
        directory.chmod(0o755)
        shutil.chown(directory, user, user)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m eventstate ARGS`` in a process of its own, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "eventstate", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_users_and_groups_with_sudo_and_su_over_ssh_through_the_cli(
    sshd: SshServer, tmp_path: Path
) -> None:
    with (
        local_users(sshd, prefix="esbr" + secrets.token_hex(2)) as users,
        _account() as account,
        _owned_directory(users.plain) as plain_directory,
    ):
        data = sshd.host_data(
            ssh_user=users.sudo_nopasswd,
            account=account,
            plain=users.plain,
            plain_directory=str(plain_directory),
        )
        inventory = tmp_path / "inventory.py"
        inventory.write_text(f"hosts = [({sshd.addresses[1]!r}, {data!r})]\n")
        deploy_file = tmp_path / "deploy.py"
        deploy_file.write_text(USERS_DEPLOY)
        db = str(tmp_path / "log.db")

        first = _cli("deploy", str(inventory), str(deploy_file), "--db", db)
        assert first.returncode == 0, first.stdout + first.stderr
        entry = pwd.getpwnam(account)
        assert (entry.pw_dir, entry.pw_shell) == (f"/home/{account}", "/bin/sh")
        assert grp.getgrgid(entry.pw_gid).gr_name == account
        assert Path(f"/home/{account}").owner() == account
        assert (plain_directory / "owned.txt").owner() == users.plain

        second = _cli("deploy", str(inventory), str(deploy_file), "--db", db)
        assert second.returncode == 0, second.stdout + second.stderr
        newest, oldest = json.loads(_cli("runs", "--db", db, "--json").stdout)
        assert (oldest["status"], oldest["ops_change"]) == ("success", 3)
        assert (newest["status"], newest["ops_change"], newest["failed_host_count"]) == (
            "success",
            0,
            0,
        )
        listed = _cli(
            "events", newest["run_id"], "--db", db, "--type", "HostOperationFinished", "--json"
        )
        finished = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [(e["outcome"], e["commands_executed"]) for e in finished] == [("success", 0)] * 3

        # The facts ran as the ops did: with sudo, and su to the plain user for the file.
        listed = _cli("events", newest["run_id"], "--db", db, "--json")
        commands = [command["command"] for command in _listed_commands(listed.stdout)]
        assert "sudo cat /etc/group" in commands
        assert any(c.startswith(f"sudo su {users.plain} ! (test -e ") for c in commands), commands


STEPS_DEPLOY = """\
from io import StringIO

from pyinfra import host
from pyinfra.api import HiddenValue, StringCommand
from pyinfra.facts.files import Sha256File
from pyinfra.facts.server import Command
from pyinfra.operations import files, python, server

root = host.data.root
if host.data.broken:
    # A fact whose command fails fails the host, as in pyinfra: none of its ops run.
    host.get_fact(Command, command="echo no such thing >&2; exit 3")

files.put(name="Put the greeting", src=StringIO("hello\\n"), dest=root + "/greeting.txt")


def check_with_state_and_host(state, host):
    # pyinfra hands a step that takes them its own state and host.
    status, output = host.run_shell_command("cat " + root + "/greeting.txt", _sudo=True)
    return status and output.stdout == "hello" and state.config.DIFF is not None


def check_through_the_context():
    # pyinfra's host, as the deploy file imported it, is the host the step runs for. (A
    # fact no op asked before: eventstate keeps a fact for the run, pyinfra asks again.)
    if host.get_fact(Sha256File, path=root + "/greeting.txt") != host.data.greeting_sha256:
        raise ValueError("the greeting is not there")
    host.noop("checked " + host.name)


def add_a_line():
    # pyinfra's nested operation: called by a step, it runs there and then.
    files.line(path=root + "/nested.txt", line="added by a step")


python.call(name="Check with state and host", function=check_with_state_and_host)
python.call(name="Check through the context", function=check_through_the_context)
python.call(name="Add a line from a step", function=add_a_line)
files.get(name="Fetch the greeting back", src=root + "/greeting.txt", dest=host.data.copy)
server.shell(
    name="Keep the token",
    commands=[StringCommand("echo", HiddenValue(host.data.token), ">", root + "/token")],
)
"""


#: A secret a pyinfra deploy hands a host (``HiddenValue``): the log never holds it.
TOKEN = "esbr-token-" + secrets.token_hex(8)


def test_python_steps_downloads_and_a_failing_fact_on_local_and_ssh(
    sshd: SshServer, tmp_path: Path
) -> None:
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(STEPS_DEPLOY)
    # Two healthy hosts (their steps run at once, each in its greenlet) and a broken one.
    ssh, broken = sshd.addresses
    healthy = ("@local", ssh)

    def data(name: str) -> dict[str, Any]:
        root = tmp_path / name
        root.mkdir()
        extra = {} if name == "@local" else sshd.host_data()
        return {
            **extra,
            "root": str(root),
            "copy": str(tmp_path / f"{name}-copy.txt"),
            "broken": name == broken,
            "greeting_sha256": hashlib.sha256(b"hello\n").hexdigest(),
            "token": TOKEN,
        }

    hosts = [(name, data(name)) for name in (*healthy, broken)]
    for run in range(2):
        state = State(Inventory((hosts, {})), Config())
        assert run_deploy(state, str(deploy_file)) is RunStatus.FAILED
        assert [host.name for host in state.failed_hosts] == [broken]
        events = list(with_host_events(with_command_events(read_events(state.log, state.run_id))))
        (failed_fact,) = [e for e in events if isinstance(e, CommandExecuted) and not e.success]
        assert (failed_fact.host, failed_fact.exit_code) == (broken, 3)
        assert failed_fact.fact is not None and failed_fact.fact.startswith("server.Command(")
        assert failed_fact.stderr == "no such thing\n"
        assert not (tmp_path / broken / "greeting.txt").exists()
        finished = {
            (e.host, sorted(state.op_meta[e.op_hash].names)[0]): (
                e.outcome.value,
                e.commands_executed,
            )
            for e in events
            if isinstance(e, HostOperationFinished)
        }
        changed = 0 if run else 1  # python.call and server.shell always run; the rest once
        expected: dict[tuple[str, str], tuple[str, int]] = {}
        for name in healthy:
            expected |= {
                (name, "Put the greeting"): ("success", changed),
                (name, "Check with state and host"): ("success", 1),
                (name, "Check through the context"): ("success", 1),
                (name, "Add a line from a step"): ("success", 1),
                (name, "files.line"): ("success", changed),
                (name, "Fetch the greeting back"): ("success", changed),
                (name, "Keep the token"): ("success", 1),
            }
        assert finished == expected

        # The token reached the hosts, and no event: pyinfra's mask is kept.
        stored = [str(event.payload) for event in state.log.read(state.run_id)]
        assert not [payload for payload in stored if TOKEN in payload]
        shown = [e.command for e in events if isinstance(e, CommandExecuted)]
        noops = _noops(state)
        for name in healthy:
            root = tmp_path / name
            assert (root / "token").read_text() == TOKEN + "\n"
            assert f"echo *MASKED* > {root}/token" in shown
            assert (tmp_path / f"{name}-copy.txt").read_text() == "hello\n"
            assert (root / "nested.txt").read_text() == "added by a step\n"
            assert noops[(name, "Check through the context")] == [f"checked {name}"]
            if run:
                assert noops[(name, "Put the greeting")] == [
                    f"file {root}/greeting.txt is already uploaded"
                ]
                assert noops[(name, "Fetch the greeting back")] == [
                    f"file {tmp_path / name}-copy.txt has already been downloaded"
                ]
                assert noops[(name, "files.line")] == [
                    f'line "added by a step" exists in {root}/nested.txt'
                ]
            # The step's own command is recorded as the op's, with the sudo it asked for.
            (cat,) = [
                e
                for e in events
                if isinstance(e, CommandExecuted)
                and e.host == name
                and e.command.startswith("sudo cat")
            ]
            assert cat.op_hash is not None and cat.stdout == "hello\n"

    # The bridge the steps installed is gone with them: pyinfra's operations are its own.
    from pyinfra.operations import files

    assert not hasattr(files.line, "pyinfra_operation")


UNREADABLE_FACT_DEPLOY = """\
from pyinfra import host
from pyinfra.api import FactBase
from pyinfra.api.exceptions import FactProcessError
from pyinfra.operations import files


class Release(FactBase):
    def command(self, path):
        return "cat " + path

    def process(self, output):
        if not output[0].startswith("release "):
            raise FactProcessError("not a release: " + output[0])
        return output[0].split()[1]


release = host.get_fact(Release, path=host.data.root + "/release", _ignore_errors=True)
files.file(name="Mark the tolerant read", path=host.data.root + "/tolerated-" + str(release))
release = host.get_fact(Release, path=host.data.root + "/release")
files.file(name="Mark the release", path=host.data.root + "/release-" + str(release))
"""


@pytest.mark.parametrize("content", ["release 1.2\n", "garbage\n"])
def test_a_fact_that_cannot_read_its_output_fails_the_host(tmp_path: Path, content: str) -> None:
    (tmp_path / "release").write_text(content)
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(UNREADABLE_FACT_DEPLOY)
    state = State(Inventory(([("@local", {"root": str(tmp_path)})], {})), Config())
    status = run_deploy(state, str(deploy_file))
    if content.startswith("release"):
        assert status is RunStatus.SUCCESS
        assert (tmp_path / "tolerated-1.2").exists() and (tmp_path / "release-1.2").exists()
        return
    # As pyinfra: ignored, the fact reads as its default; else the host fails (the
    # last one: the run stops) and runs none of its ops.
    assert status is RunStatus.ABORTED
    assert [host.name for host in state.failed_hosts] == ["@local"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["deploy.py", "release"]
    names = [sorted(state.op_meta[op_hash].names)[0] for op_hash in state.get_op_order()]
    assert names == ["Mark the tolerant read"]
