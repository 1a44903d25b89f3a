"""SSH hosts: a plain host name (or ``@ssh/NAME``), through the OpenSSH client.

One connection per host for the whole run: ``connect`` starts an OpenSSH
master (``ControlMaster``) on a private control socket. Commands go to one
long-lived shell session over it (:mod:`~eventstate.connectors.shell_session`:
no local process per command, one round trip each); a command with its own
input, a terminal or a time limit, and every file transfer, gets a session of
its own over the same connection -- no new handshake either way. The
user's ``~/.ssh/config`` (HostName, User, Port, IdentityFile, ProxyJump...),
ssh-agent and known_hosts work as they do for ``ssh`` itself.

Host data, with pyinfra 3.10's names (each overrides the ssh_config's):

``ssh_hostname``   the address to connect to (default: the host's name)
``ssh_port``       the port
``ssh_user``       the user
``ssh_key``        a private key file
``ssh_key_password``  its passphrase (a secret: given to ssh by an askpass program)
``ssh_password``   the user's password (a secret, likewise)
``ssh_allow_agent``  use ssh-agent (default True)
``ssh_known_hosts_file``  the known_hosts file (default: ssh_config's)
``ssh_strict_host_key_checking``  ``accept-new`` (default, as pyinfra), ``yes`` or ``no``
``ssh_config_file``  the ssh_config file (default: ``~/.ssh/config``)
``ssh_connect_retries``  more tries after a failed connect (default 0)
``ssh_connect_retry_min_delay`` / ``ssh_connect_retry_max_delay``  seconds between
                   tries (default 0.1 / 0.5), drawn from the host's name: deterministic

``files.rsync`` runs the local ``rsync`` with pyinfra 3.10's command line; its
``--rsh`` ssh goes through the host's master connection (its control socket).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from hashlib import blake2b
from pathlib import Path
from typing import Any

import gevent
from gevent import subprocess

from eventstate.commands import StringCommand, revealed
from eventstate.connectors.base import (
    CommandOptions,
    CommandResult,
    Connector,
    command_stdin,
    require_local_rsync,
    shell_argv,
    upload_script,
)
from eventstate.connectors.process import run_process
from eventstate.connectors.shell_session import ShellSession
from eventstate.errors import ConnectError, SessionLostError

__all__ = ["SshConnector", "connect_failure_reason"]

#: The OpenSSH client.
SSH = "ssh"

# ssh exits 255 when the connection (not the remote command) failed.
_CONNECTION_FAILED = 255
# How much longer than a command's _timeout the local client may take before it is
# killed: the remote `timeout` ends the command first, and its exit status says so.
_TIMEOUT_GRACE = 5.0
# The remote end of a command sent on standard input: its first line, base64 (one
# line whatever the command holds), decoded and run; the rest of the input is the
# command's. `read` takes the line byte by byte from the pipe, nothing more.
_FROM_STDIN = 'IFS= read -r es_command; eval "$(printf \'%s\' "$es_command" | base64 -d)"'

# What the remote `timeout` exits with when it ended the command: TERM, or KILL after.
_TIMED_OUT = (124, 137)
_STRICT = {"yes": "yes", "accept-new": "accept-new", "no": "no", True: "yes", False: "no"}
# What a double-quoted shell word must escape.
_IN_DOUBLE_QUOTES = re.compile(r'([\\"$`])')


def _single_quoted(text: str) -> str:
    # Always in single quotes, as pyinfra writes --rsync-path ('rsync' too).
    return "'" + text.replace("'", "'\"'\"'") + "'"


def connect_failure_reason(host: str, stderr: str) -> str:
    """A short, specific reason from what ``ssh`` said when it could not connect."""
    text = stderr.strip()
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        line = re.search(r"Offending \S+ key in (\S+):(\d+)", text)
        where = f" ({Path(line[1]).name} line {line[2]})" if line else ""
        return f"host key mismatch for {host}{where}"
    if re.search(r"No \S+ host key is known for|Host key verification failed", text):
        return f"host key unknown for {host} (not in known_hosts)"
    if "Permission denied" in text:
        methods = re.search(r"Permission denied \(([^)]*)\)", text)
        return f"authentication failed for {host}" + (f" ({methods[1]})" if methods else "")
    if "Could not resolve hostname" in text:
        return f"cannot resolve {host}"
    if "Connection refused" in text:
        return f"connection refused by {host}"
    if "timed out" in text:
        return f"timed out connecting to {host}"
    if "Connection closed" in text or "Connection reset" in text:
        return f"connection to {host} closed by the server"
    last = text.splitlines()[-1] if text else "ssh failed"
    return f"cannot connect to {host}: {last}"


class SshConnector(Connector):
    """Reaches a host over SSH with one multiplexed OpenSSH connection per run."""

    name = "ssh"

    def __init__(
        self,
        host_name: str,
        data: Mapping[str, Any],
        arg: str | None,
        *,
        connect_timeout: float = 10,
    ) -> None:
        super().__init__(host_name, data, arg, connect_timeout=connect_timeout)
        self.hostname = str(data.get("ssh_hostname") or arg or host_name)
        self._directory: str | None = None
        self._session: ShellSession | None = None
        self._options = self._client_options()

    def _client_options(self) -> list[str]:
        data = self.data
        options = ["-F", str(data.get("ssh_config_file") or os.path.expanduser("~/.ssh/config"))]
        if not Path(options[1]).exists():
            options = ["-F", os.devnull]  # no ssh_config: ssh's defaults
        if self._secrets():
            # Prompts are answered by our askpass program (SSH_ASKPASS_REQUIRE=force);
            # BatchMode would refuse to ask at all.
            options += ["-o", "BatchMode=no", "-o", "NumberOfPasswordPrompts=1"]
        else:
            options += ["-o", "BatchMode=yes"]
        options += ["-o", f"ConnectTimeout={int(self.connect_timeout)}"]
        strict = data.get("ssh_strict_host_key_checking", "accept-new")
        if strict not in _STRICT:
            raise ConnectError(
                f"ssh_strict_host_key_checking must be yes, accept-new or no, not {strict!r}"
            )
        options += ["-o", f"StrictHostKeyChecking={_STRICT[strict]}"]
        if data.get("ssh_known_hosts_file"):
            options += ["-o", f"UserKnownHostsFile={data['ssh_known_hosts_file']}"]
        if data.get("ssh_port"):
            options += ["-p", str(int(data["ssh_port"]))]
        if data.get("ssh_user"):
            options += ["-l", str(data["ssh_user"])]
        if data.get("ssh_key"):
            options += ["-i", str(data["ssh_key"]), "-o", "IdentitiesOnly=yes"]
        if data.get("ssh_allow_agent", True) is False:
            options += ["-o", "IdentityAgent=none"]
        return options

    def _secrets(self) -> dict[str, str]:
        # The password and the key's passphrase: given to ssh through its askpass
        # program's environment, never on a command line nor in a file.
        secrets = {}
        if self.data.get("ssh_password"):
            secrets["ES_SSH_PASSWORD"] = revealed(self.data["ssh_password"])
        if self.data.get("ssh_key_password"):
            secrets["ES_SSH_KEY_PASSWORD"] = revealed(self.data["ssh_key_password"])
        return secrets

    def _askpass_environment(self) -> dict[str, str] | None:
        secrets = self._secrets()
        if not secrets:
            return None
        assert self._directory is not None
        askpass = os.path.join(self._directory, "askpass")
        # ssh runs it with the prompt as its argument: a key's passphrase, or a password.
        with open(askpass, "w") as script:
            script.write(
                "#!/bin/sh\n"
                'case "$1" in\n'
                "  *assphrase*) printf '%s\\n' \"$ES_SSH_KEY_PASSWORD\" ;;\n"
                "  *) printf '%s\\n' \"$ES_SSH_PASSWORD\" ;;\n"
                "esac\n"
            )
        os.chmod(askpass, 0o700)
        return {
            **os.environ,
            **secrets,
            "SSH_ASKPASS": askpass,
            "SSH_ASKPASS_REQUIRE": "force",
            "DISPLAY": os.environ.get("DISPLAY", ":0"),
        }

    @property
    def _control_path(self) -> str:
        assert self._directory is not None
        return os.path.join(self._directory, "control")

    def _ssh(self, *args: str) -> list[str]:
        return [SSH, *self._options, "-S", self._control_path, *args]

    def connect(self) -> None:
        """Open the host's master connection, retrying as ``ssh_connect_retries`` says.

        Raises:
            ConnectError: with a short reason (refused, timed out, unknown or
                changed host key, authentication failed, cannot resolve).
        """
        # A short private path: a unix socket path may not exceed 108 bytes.
        self._directory = tempfile.mkdtemp(prefix="es-ssh-")
        retries = int(self.data.get("ssh_connect_retries", 0) or 0)
        for attempt in range(retries + 1):
            reason = self._start_master()
            if reason is None:
                return
            if attempt < retries:
                gevent.sleep(self._retry_delay(attempt))
        self._remove_directory()
        raise ConnectError(reason)

    def _retry_delay(self, attempt: int) -> float:
        low = float(self.data.get("ssh_connect_retry_min_delay", 0.1) or 0)
        high = float(self.data.get("ssh_connect_retry_max_delay", 0.5) or low)
        # Drawn from the host and attempt, not a shared random generator: reruns agree.
        digest = blake2b(f"{self.host_name}\x1f{attempt}".encode(), digest_size=8).digest()
        return low + (high - low) * int.from_bytes(digest, "big") / 2**64

    def _start_master(self) -> str | None:
        # ControlPersist puts the master in the background once `true` has run. It
        # keeps its stdout and stderr open, so they go to /dev/null and a file, not pipes.
        log = os.path.join(self._directory or "", "master.log")
        argv = [
            *self._ssh("-o", "ControlMaster=yes", "-o", "ControlPersist=yes"),
            "--",
            self.hostname,
            "true",
        ]
        with open(log, "wb") as stderr:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=self._askpass_environment(),
                # No terminal to prompt on: ssh must ask the askpass program.
                start_new_session=True,
            )
            try:
                code = process.wait(timeout=self.connect_timeout + 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                return f"timed out connecting to {self.hostname}"
        if code == 0:
            return None
        return connect_failure_reason(self.hostname, Path(log).read_text(errors="replace"))

    def _remote(self, command: str, options: CommandOptions) -> str:
        # The host's `timeout` ends a timed command there, as the user it runs as:
        # closing the session alone would leave it running without a terminal.
        return shlex.join(shell_argv(command, options, end_after=options.timeout))

    def _run(
        self,
        remote: str,
        options: CommandOptions,
        stdin: bytes | None,
        *,
        keep_bytes: bool = False,
    ) -> CommandResult:
        local = CommandOptions(
            timeout=None if options.timeout is None else options.timeout + _TIMEOUT_GRACE,
            success_exit_codes=options.success_exit_codes,
        )
        session = ["-o", "ControlMaster=no", *(["-tt"] if options.get_pty else [])]
        stdin = command_stdin(options, stdin)
        if not options.get_pty:
            # The command goes on standard input, not in ssh's argv: a local `ps` shows
            # every argument, and the command may hold a Secret or an _env value.
            stdin = base64.b64encode(remote.encode()) + b"\n" + (stdin or b"")
            remote = _FROM_STDIN
        result = run_process(
            [*self._ssh(*session), "--", self.hostname, remote],
            local,
            stdin,
            keep_bytes=keep_bytes,
        )
        if result.exit_code == _CONNECTION_FAILED:
            reason = connect_failure_reason(self.hostname, result.stderr)
            return CommandResult(False, None, result.stdout, f"connection lost: {reason}")
        if options.timeout is not None and result.exit_code in _TIMED_OUT:
            return CommandResult(
                False, None, result.stdout, result.stderr + f"\ntimed out after {options.timeout}s"
            )
        return result

    def run_shell_command(self, command: StringCommand, options: CommandOptions) -> CommandResult:
        """Run ``command`` on the host over the host's connection.

        A plain command goes to the host's long-lived shell session (no local
        process, one round trip); one with its own input, a terminal or a time
        limit gets a session of its own.
        """
        remote = self._remote(command.raw(), options)
        # Its own input: `_stdin`, or a sudo password (which command_stdin sends).
        own_input = command_stdin(options) is not None
        if own_input or options.get_pty or options.timeout is not None:
            return self._run(remote, options, None)
        return self._in_session(remote, options)

    def _in_session(self, remote: str, options: CommandOptions) -> CommandResult:
        session = self._session
        if session is None or not session.alive:
            if session is not None:
                return CommandResult(False, None, "", f"connection lost: {self._lost_reason()}")
            session = self._session = ShellSession(
                [*self._ssh("-o", "ControlMaster=no", "-T"), "--", self.hostname, "exec sh"]
            )
        try:
            status, stdout, stderr = session.run(remote)
        except SessionLostError:
            return CommandResult(False, None, "", f"connection lost: {self._lost_reason()}")
        return CommandResult(
            status in options.success_exit_codes,
            status,
            stdout.decode("utf-8", "replace"),
            stderr.decode("utf-8", "replace"),
        )

    def _lost_reason(self) -> str:
        # The master says why, if it can still be asked; else the session ended.
        check = run_process(
            [*self._ssh("-O", "check"), "--", self.hostname], CommandOptions(timeout=5)
        )
        if check.success:
            return f"the shell session on {self.hostname} ended"
        return connect_failure_reason(self.hostname, check.stderr)

    def put_file(self, content: bytes, dest: str, options: CommandOptions) -> CommandResult:
        """Write ``content`` to ``dest`` on the host, streamed over the connection."""
        return self._run(self._remote(upload_script(dest, options), options), options, content)

    def get_file(self, src: str, options: CommandOptions) -> CommandResult:
        """Read the host's file ``src``, streamed over the connection byte for byte."""
        return self._run(
            self._remote(f"cat {shlex.quote(src)}", options), options, None, keep_bytes=True
        )

    def check_can_rsync(self) -> None:
        """rsync is installed here (pyinfra's check; passwords need no refusal here:
        the master connection has used them already).

        Raises:
            OperationError: it is not.
        """
        require_local_rsync()

    def rsync_command_line(
        self, src: str, dest: str, flags: Sequence[str], options: CommandOptions
    ) -> str:
        """The local shell command that syncs ``src`` to ``dest``: pyinfra 3.10's.

        ``rsync FLAGS --rsh "ssh OPTIONS" --rsync-path 'rsync' SRC USER@HOST:DEST``,
        with pyinfra's ssh options from the host data (BatchMode, the known_hosts
        file, StrictHostKeyChecking, the ssh_config file, port, key) and, once
        connected, the master's control socket: no new handshake. ``_sudo`` (and
        ``_sudo_user``) run the remote rsync under sudo, the only connector
        arguments it takes, as in pyinfra. ``flags`` are shell words as written.
        """
        data = self.data
        rsh = ["ssh", "-o BatchMode=yes"]
        if data.get("ssh_known_hosts_file"):
            rsh.append(f'-o "UserKnownHostsFile={shlex.quote(str(data["ssh_known_hosts_file"]))}"')
        strict = _STRICT[data.get("ssh_strict_host_key_checking", "accept-new")]
        rsh.append(f'-o "StrictHostKeyChecking={strict}"')
        if data.get("ssh_config_file"):
            rsh.append(f"-F {shlex.quote(str(data['ssh_config_file']))}")
        if data.get("ssh_port"):
            rsh.append(f"-p {int(data['ssh_port'])}")
        if data.get("ssh_key"):
            rsh.append(f"-i {shlex.quote(str(data['ssh_key']))}")
        if self._directory is not None:
            rsh.append(f"-o ControlMaster=no -S {shlex.quote(self._control_path)}")
        remote_rsync = "rsync"
        if options.sudo:
            user = f"-u {shlex.quote(options.sudo_user)} " if options.sudo_user else ""
            remote_rsync = f"sudo {user}rsync"
        user = f"{data['ssh_user']}@" if data.get("ssh_user") else ""
        shell_rsh = _IN_DOUBLE_QUOTES.sub(r"\\\1", " ".join(rsh))
        return (
            f"rsync {' '.join(flags)} "
            f'--rsh "{shell_rsh}" '
            f"--rsync-path {_single_quoted(remote_rsync)} "
            f"{shlex.quote(src)} {shlex.quote(f'{user}{self.hostname}:{dest}')}"
        )

    def rsync(
        self, src: str, dest: str, flags: Sequence[str], options: CommandOptions
    ) -> CommandResult:
        """Run :meth:`rsync_command_line` in a local shell (bounded by ``_timeout``)."""
        return self._run_local(self.rsync_command_line(src, dest, flags, options), options)

    def _run_local(self, command_line: str, options: CommandOptions) -> CommandResult:
        local = CommandOptions(timeout=options.timeout)
        return run_process(["sh", "-c", command_line], local)

    def disconnect(self) -> None:
        """Close the shell session and the master connection."""
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._directory is None:
            return
        with contextlib.suppress(OSError):
            subprocess.run(
                [*self._ssh("-O", "exit"), "--", self.hostname],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=10,
            )
        self._remove_directory()

    def _remove_directory(self) -> None:
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
