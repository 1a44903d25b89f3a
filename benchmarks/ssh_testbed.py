"""The SSH benchmark's hosts: the tests' sshd on loopback, and a relay that adds latency.

The daemon is the one the tests start (``tests/ssh_server.py``, loaded by its
path: one recipe for the sshd, and ``tests`` need not be a package), on
``127.0.0.2``, ``127.0.0.3``... Two changes for the benchmark, both on the
server's side of the wire:

* Its sessions get ``SHLVL=1`` (``SetEnv``, then a ``SIGHUP`` so the daemon
  re-reads its config), so that bash does not source root's ``~/.bashrc``
  for each command: on this machine that file runs ``pyenv init``, about
  90 ms of CPU per session on the same two cores the clients run on, which
  would measure the machine's shell start-up instead of either SSH client.
  A real host spends its own CPU on its shell, not the client's.
* :meth:`SshTestbed.relayed` starts :mod:`benchmarks.relay` in its own
  process, one route per host (same address, another port), and adds the
  routes to the known_hosts file with the daemon's own host key.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from benchmarks.relay import READY
from benchmarks.runner import REPO_ROOT

__all__ = ["SSH_SERVER_MODULE", "SshTestbed", "running_testbed", "ssh_server_module"]

#: The tests' sshd recipe.
SSH_SERVER_MODULE = REPO_ROOT / "tests" / "ssh_server.py"


def ssh_server_module() -> ModuleType:
    """``tests/ssh_server.py``, loaded from its path (``tests`` is no package to import)."""
    name = "_benchmarks_ssh_server"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SSH_SERVER_MODULE)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {SSH_SERVER_MODULE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # attrs resolves the module's classes through it
    spec.loader.exec_module(module)
    return module


@attrs.define
class SshTestbed:
    """A running sshd for the benchmark, and what the inventories need to reach it.

    Attributes:
        server: The tests' ``SshServer``.
        ports: The port each address is reached on (the sshd's, or a relay's).
    """

    server: Any
    ports: dict[str, int]

    def host_data(self, address: str) -> dict[str, Any]:
        """The host data of ``address``: through whichever port it is reached on now."""
        return self.server.host_data(ssh_port=self.ports[address])

    def inventory(self, path: Path, hosts: int) -> Path:
        """Write an inventory of the first ``hosts`` addresses (pyinfra's format, and ours)."""
        addresses = self.server.addresses[:hosts]
        entries = "".join(f"    ({a!r}, {self.host_data(a)!r}),\n" for a in addresses)
        path.write_text(f"hosts = [\n{entries}]\n")
        return path

    @contextlib.contextmanager
    def relayed(self, delay_ms: float) -> Iterator[None]:
        """Reach every address through a relay that delays each direction by ``delay_ms``."""
        direct = dict(self.ports)
        module = ssh_server_module()
        port = _free_port_on_all(module, self.server.addresses)
        routes = [f"{a}:{port}={a}:{direct[a]}" for a in self.server.addresses]
        relay = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.relay", f"{delay_ms:g}", *routes],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert relay.stdout is not None
            line = relay.stdout.readline().strip()
            if line != READY:
                raise RuntimeError(f"the relay did not start (it said {line!r})")
            host_key = " ".join((self.server.directory / "host_key.pub").read_text().split()[:2])
            with self.server.known_hosts.open("a") as known_hosts:
                known_hosts.writelines(f"[{a}]:{port} {host_key}\n" for a in self.server.addresses)
            self.ports = dict.fromkeys(self.server.addresses, port)
            yield
        finally:
            self.ports = direct
            assert relay.stdin is not None
            relay.stdin.close()  # the relay's signal to stop
            try:
                relay.wait(timeout=10)
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait()


def _free_port_on_all(module: ModuleType, addresses: tuple[str, ...]) -> int:
    """A port free on every address (the relay listens on one port on each)."""
    for _ in range(50):
        port = int(module.free_port(addresses[0]))
        with contextlib.ExitStack() as probes:
            try:
                for address in addresses:
                    probe = probes.enter_context(socket.socket())
                    probe.bind((address, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free on every loopback address")


def _session_shlvl(server: Any, address: str) -> str:
    """What ``$SHLVL`` a command run over SSH on ``address`` sees (empty if none ran)."""
    completed = subprocess.run(
        [
            *("ssh", "-F", os.devnull, "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"),
            *("-o", f"UserKnownHostsFile={server.known_hosts}", "-o", "IdentitiesOnly=yes"),
            *("-p", str(server.port), "-l", "root", "-i", str(server.user_key)),
            *(address, "echo $SHLVL"),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return completed.stdout.strip()


def _skip_bashrc(server: Any) -> None:
    """``SetEnv SHLVL=1`` for the daemon's sessions: bash then skips ``~/.bashrc``.

    Raises:
        RuntimeError: the daemon did not take the setting within 15 s.
    """
    with (server.directory / "sshd_config").open("a") as config:
        config.write("SetEnv SHLVL=1\n")
    # sshd re-executes itself on SIGHUP (same pid) and listens again once it has.
    os.kill(server.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 15
    # The session's bash counts itself: 2 means it started at 1, and skipped ~/.bashrc.
    while _session_shlvl(server, server.addresses[0]) != "2":
        if time.monotonic() > deadline or server.process.poll() is not None:
            raise RuntimeError("the benchmark's sshd did not take SetEnv SHLVL=1")
        time.sleep(0.1)


@contextlib.contextmanager
def running_testbed(directory: Path, hosts: int) -> Iterator[SshTestbed]:
    """Start the sshd on ``hosts`` loopback addresses, ready for the benchmark; stop it after."""
    module = ssh_server_module()
    with module.running_sshd(directory, hosts=hosts) as server:
        _skip_bashrc(server)
        yield SshTestbed(server, dict.fromkeys(server.addresses, server.port))
