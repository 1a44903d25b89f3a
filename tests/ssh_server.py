"""A real OpenSSH server for the tests: one private sshd, several loopback hosts.

Every ``127.x.y.z`` address is loopback on Linux, so one daemon listening on
``127.0.0.2``, ``127.0.0.3``... serves several distinct hosts. It listens on
those addresses only (never 0.0.0.0), on a free unprivileged port, with a host
key, a user key and a known_hosts file made for the session in a temporary
directory. ``.ci/run`` installs Debian's ``openssh-server`` when it is missing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

__all__ = [
    "KEY_PASSPHRASE",
    "SSHD",
    "SUDO_PASSWORD",
    "LocalUsers",
    "SshServer",
    "local_users",
    "running_sshd",
]

#: The password of the test user whose sudo asks for one (also its login password):
#: new for every test session, so a user a killed run left behind is no open door.
SUDO_PASSWORD = "es-sudo-" + secrets.token_urlsafe(12)

#: The passphrase of the server's second user key (``protected_key``).
KEY_PASSPHRASE = "es-key-" + secrets.token_urlsafe(12)

#: Debian's OpenSSH server.
SSHD = "/usr/sbin/sshd"


@attrs.frozen
class SshServer:
    """A running test sshd and what a client needs to reach it.

    Attributes:
        addresses: The loopback addresses it listens on: one host each.
        port: Its port on every address.
        directory: Where its keys, config and log are.
        user_key: A private key its ``authorized_keys`` accepts (for root).
        known_hosts: A known_hosts file with its host key for every address.
        process: The daemon (in the foreground, so the fixture owns it).
    """

    addresses: tuple[str, ...]
    port: int
    directory: Path
    user_key: Path
    known_hosts: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        """What the daemon has logged so far."""
        return (self.directory / "sshd.log").read_text(errors="replace")

    def kill(self) -> None:
        """Kill the daemon and every connection it serves, at once (a server gone)."""
        pids = [self.process.pid]
        index = 0
        while index < len(pids):  # the per-connection processes are its descendants
            children = Path(f"/proc/{pids[index]}/task/{pids[index]}/children")
            with contextlib.suppress(OSError):
                pids += [int(pid) for pid in children.read_text().split()]
            index += 1
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()

    def host_data(self, **extra: Any) -> dict[str, Any]:
        """Host data that reaches this server as root with the user key, strictly."""
        return {
            "ssh_port": self.port,
            "ssh_user": "root",
            "ssh_key": str(self.user_key),
            "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "yes",  # stricter than the default, accept-new
            # The test machine's own ~/.ssh/config must not change what is tested.
            "ssh_config_file": str(self.directory / "empty_ssh_config"),
            **extra,
        }


def free_port(address: str) -> int:
    """A TCP port nothing listens on at ``address`` now."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _keygen(path: Path, passphrase: str = "") -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "", "-f", str(path)],
        check=True,
    )


def _wait_listening(address: str, port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"sshd did not listen on {address}:{port} within 15 s")


@contextlib.contextmanager
def running_sshd(directory: Path, hosts: int = 4) -> Iterator[SshServer]:
    """Start an sshd on ``127.0.0.2`` ... ``127.0.0.(hosts + 1)``; stop it afterwards."""
    if not os.path.exists(SSHD):
        raise RuntimeError(f"{SSHD} is missing: apt-get install openssh-server (.ci/run does)")
    directory.mkdir(parents=True, exist_ok=True)
    addresses = tuple(f"127.0.0.{index}" for index in range(2, hosts + 2))
    port = free_port(addresses[0])
    _keygen(directory / "host_key")
    _keygen(directory / "user_key")
    _keygen(directory / "protected_key", KEY_PASSPHRASE)
    (directory / "authorized_keys").write_text(
        (directory / "user_key.pub").read_text() + (directory / "protected_key.pub").read_text()
    )
    (directory / "empty_ssh_config").write_text("")
    host_key = " ".join((directory / "host_key.pub").read_text().split()[:2])
    known_hosts = directory / "known_hosts"
    known_hosts.write_text("".join(f"[{address}]:{port} {host_key}\n" for address in addresses))
    config = directory / "sshd_config"
    config.write_text(
        "".join(f"ListenAddress {address}\n" for address in addresses) + f"Port {port}\n"
        f"HostKey {directory / 'host_key'}\n"
        f"PidFile {directory / 'sshd.pid'}\n"
        # Root's keys here; the test users' in their homes (sshd reads them as the user).
        f"AuthorizedKeysFile {directory / 'authorized_keys'} .ssh/authorized_keys\n"
        "PermitRootLogin prohibit-password\n"
        # For ssh_password (the test users' passwords; root's is locked anyway).
        "PasswordAuthentication yes\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        # The temporary directory is not root-owned all the way up.
        "StrictModes no\n"
        "MaxSessions 100\n"
        # VERBOSE logs each connection with the address it came in on.
        "LogLevel VERBOSE\n"
        "MaxStartups 100:30:200\n"
        "Subsystem sftp internal-sftp\n"
    )
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation needs it
    process = subprocess.Popen(
        [SSHD, "-D", "-f", str(config), "-E", str(directory / "sshd.log")],
        stdin=subprocess.DEVNULL,
    )
    try:
        _wait_listening(addresses[0], port, process)
        yield SshServer(addresses, port, directory, directory / "user_key", known_hosts, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@attrs.frozen
class LocalUsers:
    """Unprivileged users on this machine for sudo and su tests.

    Attributes:
        sudo_nopasswd: May run anything with sudo, no password asked.
        sudo_password: May run anything with sudo, given :data:`SUDO_PASSWORD`.
        plain: No sudo at all (the target of ``_su_user`` and ``_sudo_user``).
    """

    sudo_nopasswd: str
    sudo_password: str
    plain: str


@contextlib.contextmanager
def local_users(server: SshServer, prefix: str = "es") -> Iterator[LocalUsers]:
    """Create the test users and their sudoers rules; remove them afterwards.

    Each logs in to ``server`` with its user key, as root does.
    """
    if shutil.which("sudo") is None:
        raise RuntimeError("sudo is missing: apt-get install sudo (.ci/run does)")
    users = LocalUsers(f"{prefix}-nopw", f"{prefix}-pw", f"{prefix}-plain")
    rules = Path(f"/etc/sudoers.d/{prefix}-eventstate-tests")
    names = (users.sudo_nopasswd, users.sudo_password, users.plain)
    try:
        for name in names:
            subprocess.run(["userdel", "-r", name], capture_output=True)  # a leftover
            # Password "*": no password works, yet the account is not locked (sshd
            # refuses even a key login to a locked account).
            subprocess.run(["useradd", "-m", "-s", "/bin/sh", "-p", "*", name], check=True)
            keys = Path(f"~{name}").expanduser() / ".ssh"
            keys.mkdir(mode=0o700)
            shutil.copy(server.directory / "authorized_keys", keys / "authorized_keys")
            shutil.chown(keys, name, name)
            shutil.chown(keys / "authorized_keys", name, name)
        subprocess.run(
            ["chpasswd"], input=f"{users.sudo_password}:{SUDO_PASSWORD}\n", text=True, check=True
        )
        # Written aside at 0440 and checked by visudo before sudo can read it.
        draft = rules.with_name(f".{rules.name}.new")
        draft.write_text(
            f"{users.sudo_nopasswd} ALL=(ALL) NOPASSWD: ALL\n{users.sudo_password} ALL=(ALL) ALL\n"
        )
        draft.chmod(0o440)
        subprocess.run(["visudo", "-cqf", str(draft)], check=True)
        draft.rename(rules)
        yield users
    finally:
        rules.unlink(missing_ok=True)
        for name in names:
            subprocess.run(["userdel", "-r", name], capture_output=True)
