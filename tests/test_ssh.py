"""SSH hosts against a real OpenSSH server on loopback: deploys, and each way to fail.

The server is Debian's sshd, started for the session by :mod:`ssh_server`
on 127.0.0.2-5 (one daemon, several hosts); nothing is mocked.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ssh_server import (
    KEY_PASSPHRASE,
    SUDO_PASSWORD,
    LocalUsers,
    SshServer,
    free_port,
    local_users,
    running_sshd,
)

from eventstate import Config, Inventory, Secret, State
from eventstate.cli import main
from eventstate.commands import FunctionCommand
from eventstate.connect import connect_all, disconnect_all
from eventstate.errors import NoHostsRemainingError
from eventstate.events import CommandExecuted, HostConnectFailed, with_command_events
from eventstate.execute import run_ops
from eventstate.operation import add_op, operation
from eventstate.operations import server
from eventstate.replay import read_events
from eventstate.stores import open_log


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    with running_sshd(tmp_path_factory.mktemp("sshd")) as running:
        yield running


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


def _inventory_file(path: Path, sshd: SshServer, hosts: dict[str, dict[str, Any]]) -> Path:
    """An inventory file: each host name with the server's data and its own extra."""
    entries = ", ".join(f"({name!r}, {sshd.host_data(**extra)!r})" for name, extra in hosts.items())
    path.write_text(f"hosts = [{entries}]\n")
    return path


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


DEPLOY = """\
from io import StringIO
from eventstate.context import current_host
from eventstate.operations import files, server

root = "{root}/" + current_host().name
files.directory(root, mode=750)
files.file(root + "/app.conf", mode=640)
files.line(root + "/app.conf", "listen = 8080")
files.put(StringIO("hello over ssh\\n"), root + "/site/index.html", mode=644)
server.shell("echo $GREETING from $(pwd)", _env={{"GREETING": "hi"}}, _chdir=root)
"""


def test_a_deploy_over_ssh_then_nothing_changes(sshd: SshServer, tmp_path: Path) -> None:
    root = tmp_path / "remote"
    inventory = _inventory_file(
        tmp_path / "inventory.py",
        sshd,
        {"127.0.0.2": {}, "127.0.0.3": {}, "@ssh/web": {"ssh_hostname": "127.0.0.4"}},
    )
    deploy = tmp_path / "deploy.py"
    deploy.write_text(DEPLOY.format(root=root))
    db = str(tmp_path / "log.db")

    first = _cli("deploy", str(inventory), str(deploy), "--db", db)
    assert first.exit_code == 0, first.output
    for name in ("127.0.0.2", "127.0.0.3", "@ssh/web"):
        site = root / name
        assert (site / "site" / "index.html").read_text() == "hello over ssh\n"
        assert (site / "app.conf").read_text() == "listen = 8080\n"
        assert oct((site / "app.conf").stat().st_mode & 0o777) == "0o640"

    runs = json.loads(_cli("runs", "--db", db, "--json").output)
    (run,) = runs
    assert (run["status"], run["failed_host_count"]) == ("success", 0)
    shown = json.loads(_cli("show", run["run_id"], "--db", db, "--json").output)
    assert {host["host"]: host["status"] for host in shown["hosts"]} == dict.fromkeys(
        ("127.0.0.2", "127.0.0.3", "@ssh/web"), "ok"
    )
    events = _cli("events", run["run_id"], "--db", db, "--json")
    echoed = [
        command
        for command in _listed_commands(events.output)
        if command["command"].startswith("echo")
    ]
    assert {event["stdout"] for event in echoed} == {
        f"hi from {root / name}\n" for name in ("127.0.0.2", "127.0.0.3", "@ssh/web")
    }

    second = _cli("deploy", str(inventory), str(deploy), "--db", db)
    assert second.exit_code == 0, second.output
    second_run = json.loads(_cli("runs", "--db", db, "--json").output)[0]
    # Only the shell command runs again: every file op finds the host as it wants it.
    assert second_run["ops_change"] == 3


def test_one_connection_per_host_for_the_whole_run(sshd: SshServer, tmp_path: Path) -> None:
    marker = f"one-connection-{time.time_ns()}"
    inventory = Inventory(([("127.0.0.5", sshd.host_data())], {}))
    state = State(inventory, Config())
    connect_all(state)
    for index in range(5):
        add_op(state, server.shell, f"echo {marker}-{index}")
    run_ops(state)
    disconnect_all(state)
    state.finish()
    commands = [
        e
        for e in with_command_events(read_events(state.log, state.run_id))
        if isinstance(e, CommandExecuted)
    ]
    assert [e.stdout for e in commands] == [f"{marker}-{index}\n" for index in range(5)]
    # The daemon logs each connection and the address it came in on: the five
    # commands (and the connect) shared one.
    on_this_host = f"on 127.0.0.5 port {sshd.port} "
    connections = [
        line
        for line in sshd.log.splitlines()
        if line.startswith("Connection from") and on_this_host in line
    ]
    assert len(connections) == 1, sshd.log


def _connect_failure(sshd: SshServer, tmp_path: Path, **data: Any) -> str:
    """Deploy one op to 127.0.0.2 with ``data``; the recorded connect failure's reason."""
    inventory = _inventory_file(tmp_path / "inventory.py", sshd, {"127.0.0.2": data})
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from eventstate.operations import server\nserver.shell('true')\n")
    db = str(tmp_path / "log.db")
    result = _cli("deploy", str(inventory), str(deploy), "--db", db)
    assert result.exit_code == 1, result.output
    run_id = json.loads(_cli("runs", "--db", db, "--json").output)[0]["run_id"]
    listed = _cli("events", run_id, "--db", db, "--type", "HostConnectFailed", "--json")
    (event,) = [json.loads(line) for line in listed.output.splitlines()]
    shown = _cli("show", run_id, "--db", db)
    assert event["error"] in shown.output, shown.output
    return str(event["error"])


def test_a_name_that_does_not_resolve(sshd: SshServer, tmp_path: Path) -> None:
    reason = _connect_failure(sshd, tmp_path, ssh_hostname="es-no-such-host.invalid")
    assert reason == "cannot resolve es-no-such-host.invalid"


def test_a_closed_port_is_connection_refused(sshd: SshServer, tmp_path: Path) -> None:
    closed = free_port("127.0.0.2")
    reason = _connect_failure(sshd, tmp_path, ssh_port=closed)
    assert reason == "connection refused by 127.0.0.2"


def test_a_wrong_key_is_an_authentication_failure(sshd: SshServer, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    reason = _connect_failure(sshd, tmp_path, ssh_key=str(other), ssh_allow_agent=False)
    assert reason == "authentication failed for 127.0.0.2 (publickey,password)"


def test_an_unknown_host_key_is_refused(sshd: SshServer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    reason = _connect_failure(sshd, tmp_path, ssh_known_hosts_file=str(empty))
    assert reason == "host key unknown for 127.0.0.2 (not in known_hosts)"


def test_a_changed_host_key_names_the_known_hosts_line(sshd: SshServer, tmp_path: Path) -> None:
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = " ".join(Path(f"{other}.pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text(
        f"# a comment\n[127.0.0.9]:{sshd.port} {wrong}\n[127.0.0.2]:{sshd.port} {wrong}\n"
    )
    reason = _connect_failure(sshd, tmp_path, ssh_known_hosts_file=str(known))
    assert reason == "host key mismatch for 127.0.0.2 (known_hosts line 3)"


@pytest.mark.parametrize("given", ["accept-new", None])
def test_accept_new_learns_an_unknown_host_key(
    sshd: SshServer, tmp_path: Path, given: str | None
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    data = sshd.host_data(ssh_known_hosts_file=str(known), ssh_strict_host_key_checking=given)
    if given is None:  # the default, as pyinfra's
        del data["ssh_strict_host_key_checking"]
    state = State(Inventory(([("127.0.0.3", data)], {})), Config())
    connect_all(state)
    disconnect_all(state)
    assert [h.name for h in state.active_hosts] == ["127.0.0.3"]
    assert "127.0.0.3" in known.read_text()


def test_a_timeout_kills_the_remote_command(sshd: SshServer, tmp_path: Path) -> None:
    marker = f"{time.time_ns() % 10**6}.25"  # a sleep no other process runs
    state = State(Inventory(([("127.0.0.2", sshd.host_data())], {})), Config())
    connect_all(state)
    add_op(state, server.shell, f"sleep {marker}", _timeout=1)
    started = time.monotonic()
    with pytest.raises(NoHostsRemainingError):
        run_ops(state)
    assert time.monotonic() - started < 10
    (command,) = [
        e
        for e in with_command_events(read_events(state.log, state.run_id))
        if isinstance(e, CommandExecuted)
    ]
    assert not command.success and "timed out after 1s" in command.stderr
    time.sleep(0.2)
    left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
    assert left.stdout == "", "the remote command outlived its timeout"
    disconnect_all(state)


@operation
def _kill_the_server(doomed: SshServer) -> Iterator[FunctionCommand]:
    yield FunctionCommand(lambda state, host: doomed.kill())


def test_a_server_gone_mid_run_fails_the_op_with_the_reason(tmp_path: Path) -> None:
    # A server of its own, to kill between two ops.
    with running_sshd(tmp_path / "doomed", hosts=1) as doomed:
        name = doomed.addresses[0]
        state = State(Inventory(([(name, doomed.host_data())], {})), Config())
        connect_all(state)
        add_op(state, server.shell, "true")
        add_op(state, _kill_the_server, doomed)
        add_op(state, server.shell, "echo after")
        with pytest.raises(NoHostsRemainingError):
            run_ops(state)
    events = list(with_command_events(read_events(state.log, state.run_id)))
    commands = [e for e in events if isinstance(e, CommandExecuted)]
    assert [c.success for c in commands] == [True, True, False]
    assert commands[-1].stderr.startswith("connection lost: ")
    assert [h.name for h in state.failed_hosts] == [name]
    assert not [e for e in events if isinstance(e, HostConnectFailed)]


# Privilege: sudo with and without a password, su, as pyinfra's arguments say


@pytest.fixture(scope="module")
def users(sshd: SshServer) -> Iterator[LocalUsers]:
    with local_users(sshd) as made:
        yield made


def _run_as(sshd: SshServer, user: str, *calls: tuple[Any, dict[str, Any]]) -> State:
    """Run ``server.shell`` calls on 127.0.0.3 logged in as ``user``; the finished State."""
    state = State(Inventory(([("127.0.0.3", sshd.host_data(ssh_user=user))], {})), Config())
    connect_all(state)
    for command, arguments in calls:
        add_op(state, server.shell, command, **arguments)
    try:
        run_ops(state)
    finally:
        disconnect_all(state)
        state.finish()
    return state


def _commands(state: State) -> list[CommandExecuted]:
    return [
        e
        for e in with_command_events(read_events(state.log, state.run_id))
        if isinstance(e, CommandExecuted)
    ]


def test_sudo_without_a_password(sshd: SshServer, users: LocalUsers) -> None:
    state = _run_as(
        sshd,
        users.sudo_nopasswd,
        ("id -un", {}),
        ("id -un", {"_sudo": True}),
        ("id -un", {"_sudo": True, "_sudo_user": users.plain}),
        ("echo $HOME", {"_sudo": True, "_use_sudo_login": True}),
    )
    outputs = [c.stdout.strip() for c in _commands(state)]
    assert outputs == [users.sudo_nopasswd, "root", users.plain, "/root"]
    assert [c.command for c in _commands(state)][1:3] == [
        "sudo id -un",
        f"sudo -u {users.plain} id -un",
    ]


def test_sudo_with_a_password_fed_on_stdin(sshd: SshServer, users: LocalUsers) -> None:
    state = _run_as(
        sshd,
        users.sudo_password,
        ("id -un", {"_sudo": True, "_sudo_password": SUDO_PASSWORD}),
        # The command's own input still arrives, after the password line.
        ("cat", {"_sudo": True, "_sudo_password": SUDO_PASSWORD, "_stdin": ["one", "two"]}),
    )
    first, second = _commands(state)
    assert (first.success, first.stdout) == (True, "root\n")
    assert (second.success, second.stdout) == (True, "one\ntwo\n")
    # Never in the log: not in a command shown, not in any output.
    for stored in state.log.read(state.run_id):
        assert SUDO_PASSWORD not in stored.payload


def test_sudo_with_a_wrong_password_fails_the_command(sshd: SshServer, users: LocalUsers) -> None:
    with pytest.raises(NoHostsRemainingError):
        _run_as(sshd, users.sudo_password, ("id -un", {"_sudo": True, "_sudo_password": "nope"}))


def test_su_to_another_user(sshd: SshServer, users: LocalUsers) -> None:
    state = _run_as(
        sshd,
        "root",
        ("id -un", {"_su_user": users.plain}),
        ("pwd", {"_su_user": users.plain, "_use_su_login": True}),
        ("echo $0", {"_su_user": users.plain, "_su_shell": "/bin/sh"}),
    )
    outputs = [c.stdout.strip() for c in _commands(state)]
    assert outputs == [users.plain, f"/home/{users.plain}", "sh"]
    assert _commands(state)[0].command == f"su {users.plain} id -un"


def test_su_with_a_password_fed_on_stdin(sshd: SshServer, users: LocalUsers) -> None:
    target = users.sudo_password  # the user with a password
    state = _run_as(
        sshd,
        users.plain,
        ("id -un", {"_su_user": target, "_su_password": Secret(SUDO_PASSWORD)}),
        ("id -un", {"_su_user": target, "_su_password": "wrong", "_ignore_errors": True}),
    )
    right, wrong = _commands(state)
    assert (right.success, right.stdout) == (True, f"{target}\n")
    assert not wrong.success and "Authentication failure" in wrong.stderr
    for stored in state.log.read(state.run_id):
        assert SUDO_PASSWORD not in stored.payload


def test_a_terminal_when_asked(sshd: SshServer) -> None:
    state = _run_as(sshd, "root", ("tty", {"_ignore_errors": True}), ("tty", {"_get_pty": True}))
    without, with_pty = _commands(state)
    assert not without.success  # `tty` exits 1 when there is none
    assert with_pty.success and with_pty.stdout.startswith("/dev/pts/")


# Passwords: logging in with one, a key's passphrase -- and none of them ever recorded


def test_a_password_login(sshd: SshServer, users: LocalUsers) -> None:
    data = sshd.host_data(ssh_user=users.sudo_password, ssh_password=SUDO_PASSWORD)
    del data["ssh_key"]
    state = State(Inventory(([("127.0.0.4", data)], {})), Config())
    connect_all(state)
    add_op(state, server.shell, "id -un")
    run_ops(state)
    disconnect_all(state)
    assert [c.stdout for c in _commands(state)] == [f"{users.sudo_password}\n"]

    data["ssh_password"] = "wrong"
    refused = State(Inventory(([("127.0.0.4", data)], {})), Config())
    with pytest.raises(NoHostsRemainingError):  # its one host failed to connect
        connect_all(refused)
    events = read_events(refused.log, refused.run_id)
    (failed,) = [e for e in events if isinstance(e, HostConnectFailed)]
    assert failed.error.startswith("authentication failed for 127.0.0.4")


def test_a_key_with_a_passphrase(sshd: SshServer) -> None:
    data = sshd.host_data(
        ssh_key=str(sshd.directory / "protected_key"), ssh_key_password=KEY_PASSPHRASE
    )
    state = State(Inventory(([("127.0.0.4", data)], {})), Config())
    connect_all(state)
    assert [h.name for h in state.active_hosts] == ["127.0.0.4"]
    disconnect_all(state)


def test_no_secret_reaches_the_log_an_export_or_the_terminal(
    sshd: SshServer, users: LocalUsers, tmp_path: Path
) -> None:
    password_host = sshd.host_data(ssh_user=users.sudo_password, ssh_password=SUDO_PASSWORD)
    del password_host["ssh_key"]
    key_host = sshd.host_data(
        ssh_key=str(sshd.directory / "protected_key"), ssh_key_password=KEY_PASSPHRASE
    )
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        f"hosts = [('127.0.0.2', {password_host!r}), ('127.0.0.3', {key_host!r})]\n"
    )
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from eventstate.context import current_host\n"
        "from eventstate.operations import server\n"
        f"server.shell('id -un', _sudo=True, _sudo_password={SUDO_PASSWORD!r})\n"
        # A command that prints what it reads: the password must be scrubbed from it.
        f"server.shell('cat', _sudo=True, _sudo_password={SUDO_PASSWORD!r},"
        f" _stdin={SUDO_PASSWORD!r})\n"
    )
    db = tmp_path / "log.db"
    outputs = [_cli("deploy", str(inventory), str(deploy), "--db", str(db), "-v")]
    assert outputs[0].exit_code == 0, outputs[0].output
    run_id = json.loads(_cli("runs", "--db", str(db), "--json").output)[0]["run_id"]
    for command in (["show", run_id], ["events", run_id, "--json"], ["state", run_id, "--json"]):
        outputs.append(_cli(*command, "--db", str(db)))
    exported = tmp_path / "run.jsonl"
    outputs.append(_cli("export", run_id, "--db", str(db), "-o", str(exported)))

    assert '"stdout":"root\\n"' in outputs[2].output  # the sudo ran; its output is recorded
    planted = (SUDO_PASSWORD, KEY_PASSPHRASE)
    files = [path for path in tmp_path.iterdir() if path.name.startswith(("log.db", "run"))]
    assert exported in files and db in files
    for secret in planted:
        for path in files:
            assert secret.encode() not in path.read_bytes(), path
        for output in outputs:
            assert secret not in output.output


def test_files_get_and_put_are_recorded_by_size_and_hash(sshd: SshServer, tmp_path: Path) -> None:
    import hashlib

    remote = tmp_path / "remote.bin"
    content = bytes(range(256)) * 64 + b"not text: \xff\xfe\n"  # binary, kept byte for byte
    remote.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from eventstate.operations import files\n"
        f"files.get({str(remote)!r}, 'fetched/remote.bin', create_local_dir=True)\n"
        f"files.put({str(remote)!r}, {str(tmp_path / 'sent' / 'copy.bin')!r})\n"
    )
    inventory = _inventory_file(tmp_path / "inventory.py", sshd, {"127.0.0.4": {}})
    db = str(tmp_path / "log.db")
    for run in range(2):
        result = _cli("deploy", str(inventory), str(deploy), "--db", db)
        assert result.exit_code == 0, result.output
        assert (tmp_path / "fetched" / "remote.bin").read_bytes() == content
        assert (tmp_path / "sent" / "copy.bin").read_bytes() == content
        run_id = json.loads(_cli("runs", "--db", db, "--json").output)[0]["run_id"]
        listed = _cli("events", run_id, "--db", db, "--json")
        shown = [command["command"] for command in _listed_commands(listed.output)]
        transfers = [c for c in shown if c.startswith(("download", "upload"))]
        if run == 0:
            assert transfers == [
                f"download {remote} ({len(content)} bytes, sha256 {digest})",
                f"upload {tmp_path / 'sent' / 'copy.bin'} ({len(content)} bytes, sha256 {digest})",
            ]
        else:
            assert transfers == []  # both sides already hold the same content
    # The files' bytes are nowhere in the log (the deploy names them by path).
    assert b"not text" not in Path(db).read_bytes()


def _connections_to(sshd: SshServer, address: str) -> int:
    on_it = f"on {address} port {sshd.port} "
    return sum(
        1 for line in sshd.log.splitlines() if line.startswith("Connection from") and on_it in line
    )


def test_files_rsync_through_the_hosts_connection(
    sshd: SshServer, users: LocalUsers, tmp_path: Path
) -> None:
    import shutil
    import tempfile

    from eventstate.operations import files

    source = tmp_path / "site"
    (source / "css").mkdir(parents=True)
    (source / "index.html").write_text("<h1>hi</h1>\n")
    (source / "css" / "main.css").write_text("h1 {}\n")
    # A directory the unprivileged sudo target may write to (pytest's are private).
    shared = Path(tempfile.mkdtemp(prefix="es-rsync-"))
    shared.chmod(0o777)
    try:
        root_dest, sudo_dest = tmp_path / "dest", shared / "as-plain"
        root_dest.mkdir()
        (root_dest / "stale.txt").write_text("gone after --delete\n")
        before = _connections_to(sshd, "127.0.0.4")
        as_root = State(Inventory(([("127.0.0.4", sshd.host_data())], {})), Config())
        connect_all(as_root)
        add_op(as_root, files.rsync, f"{source}/", str(root_dest))
        run_ops(as_root)
        disconnect_all(as_root)
        as_root.finish()
        # One connection: rsync's ssh went through the master's control socket.
        assert _connections_to(sshd, "127.0.0.4") - before == 1, sshd.log
        assert sorted(p.name for p in root_dest.rglob("*")) == ["css", "index.html", "main.css"]
        assert (root_dest / "css" / "main.css").read_text() == "h1 {}\n"
        (command,) = _commands(as_root)
        assert command.success and command.command == f"rsync -ax --delete {source}/ {root_dest}"

        # _sudo: the remote rsync runs as _sudo_user (pyinfra's --rsync-path).
        state = State(
            Inventory(([("127.0.0.3", sshd.host_data(ssh_user=users.sudo_nopasswd))], {})),
            Config(),
        )
        connect_all(state)
        add_op(state, files.rsync, f"{source}/", str(sudo_dest), _sudo=True, _sudo_user=users.plain)
        run_ops(state)
        disconnect_all(state)
        state.finish()
        (command,) = _commands(state)
        assert command.success, command.stderr
        assert command.command.startswith(f"sudo -u {users.plain} rsync -ax --delete ")
        assert sudo_dest.owner() == users.plain
        assert (sudo_dest / "css" / "main.css").owner() == users.plain
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# Connecting: timeouts, retries, the user's ssh_config, limits


@contextlib.contextmanager
def _listener(address: str, *, silent: bool) -> Iterator[tuple[int, list[int]]]:
    """A TCP server that never speaks SSH: it stays silent, or hangs up at once.

    Yields its port and a list that grows by one per connection accepted.
    """
    server = socket.socket()
    server.bind((address, 0))
    server.listen(16)
    server.settimeout(0.2)
    accepted: list[int] = []
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            accepted.append(1)
            if silent:
                held.append(connection)
            else:
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


def _connect_error(sshd: SshServer, name: str, config: Config, **data: Any) -> str:
    """Connect to one host through the API into a log file; the reason ``show`` gives."""
    db = Path(sshd.directory) / f"connect-{time.time_ns()}.db"
    with open_log(db) as log:
        state = State(Inventory(([(name, sshd.host_data(**data))], {})), config, log=log)
        with pytest.raises(NoHostsRemainingError):
            connect_all(state)
        state.finish()
    listed = _cli("events", state.run_id, "--db", str(db), "--type", "HostConnectFailed", "--json")
    (event,) = [json.loads(line) for line in listed.output.splitlines()]
    assert event["error"] in _cli("show", state.run_id, "--db", str(db)).output
    return str(event["error"])


def test_a_server_that_never_answers_times_out(sshd: SshServer) -> None:
    with _listener("127.0.0.6", silent=True) as (port, _):
        started = time.monotonic()
        error = _connect_error(sshd, "127.0.0.6", Config(CONNECT_TIMEOUT=1), ssh_port=port)
    assert error == "timed out connecting to 127.0.0.6"
    assert time.monotonic() - started < 8  # CONNECT_TIMEOUT, not ssh's default


def test_connect_retries_try_again(sshd: SshServer) -> None:
    with _listener("127.0.0.6", silent=False) as (port, accepted):
        error = _connect_error(
            sshd,
            "127.0.0.6",
            Config(),
            ssh_port=port,
            ssh_connect_retries=2,
            ssh_connect_retry_min_delay=0,
            ssh_connect_retry_max_delay=0.01,
        )
    assert error == "connection to 127.0.0.6 closed by the server"
    assert len(accepted) == 3  # the first try and two more


def test_the_users_ssh_config_is_honoured(sshd: SshServer, tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host es-test-alias\n"
        "    HostName 127.0.0.5\n"
        f"    Port {sshd.port}\n"
        "    User root\n"
        f"    IdentityFile {sshd.user_key}\n"
        f"    UserKnownHostsFile {sshd.known_hosts}\n"
    )
    data = {"ssh_config_file": str(config)}  # nothing else: ssh_config says it all
    state = State(Inventory(([("es-test-alias", data)], {})), Config())
    connect_all(state)
    add_op(state, server.shell, "hostname -I >/dev/null; echo reached")
    run_ops(state)
    disconnect_all(state)
    assert [c.stdout for c in _commands(state)] == ["reached\n"]


def test_limit_over_ssh(sshd: SshServer, tmp_path: Path) -> None:
    inventory = _inventory_file(tmp_path / "inventory.py", sshd, {"127.0.0.2": {}, "127.0.0.3": {}})
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from eventstate.operations import server\nserver.shell('echo limited')\n")
    db = str(tmp_path / "log.db")
    result = _cli("deploy", str(inventory), str(deploy), "--db", db, "--limit", "127.0.0.3")
    assert result.exit_code == 0, result.output
    run_id = json.loads(_cli("runs", "--db", db, "--json").output)[0]["run_id"]
    listed = _cli("events", run_id, "--db", db, "--json")
    assert {command["host"] for command in _listed_commands(listed.output)} == {"127.0.0.3"}
