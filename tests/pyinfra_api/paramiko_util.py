"""eventstate's stand-in for pyinfra 3.10's ``tests/paramiko_util.py``.

pyinfra's tests swap paramiko's client for one that connects and answers every
command with success and empty output. eventstate reaches a plain host name
through its own SSH connector (the OpenSSH client), so :class:`PatchSSHTestCase`
swaps that connector -- the class ``eventstate.connectors`` picks for ``ssh`` --
for :class:`FakeSSHConnector`, which does the same.

pyinfra's tests patch ``pyinfra.connectors.ssh.SSHConnector.run_shell_command``
and have the mock return pyinfra's ``(success, output)``. The ported tests patch
:data:`RUN_SHELL_COMMAND` instead: the method the fake connector hands each
command to, called as pyinfra's connector is called (the command's text,
``print_input``, ``print_output`` and the connector arguments by pyinfra's names),
whose ``(success, output)`` the fake turns into eventstate's
:class:`~eventstate.connectors.CommandResult`. What the tests assert stays as
pyinfra wrote it.

The fake is eventstate's SSH connector but for what reaches the host, so
``files.rsync`` builds its command line with the real connector's code (no
master connection: no control socket on it). pyinfra's tests patch
``pyinfra.connectors.ssh.run_local_process``; the ported ones patch
:data:`RUN_LOCAL_PROCESS`, which the fake hands the line to as pyinfra's
connector hands it (``print_output``, ``print_prefix``), and whose
``(return_code, output)`` it turns into a result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from inspect import isclass
from typing import Any, ClassVar
from unittest import TestCase

from eventstate import connectors
from eventstate.arguments import resolve_global_arguments
from eventstate.commands import StringCommand
from eventstate.connectors import CommandOptions, CommandResult, Connector
from eventstate.connectors.ssh import SshConnector
from eventstate.errors import ConnectError
from eventstate.host import Host

__all__ = [
    "RUN_LOCAL_PROCESS",
    "RUN_SHELL_COMMAND",
    "CommandOutput",
    "FakeBuffer",
    "FakeChannel",
    "FakeSSHConnector",
    "OutputLine",
    "PatchSSHTestCase",
    "connector_arguments",
    "executor_defaults",
]

#: What the ported tests patch where pyinfra's patch ``SSHConnector.run_shell_command`` (named
#: by this module's own name: pytest may import it as ``pyinfra_api.paramiko_util``).
RUN_SHELL_COMMAND = f"{__name__}.FakeSSHConnector.pyinfra_run_shell_command"
#: What they patch where pyinfra's patch ``pyinfra.connectors.ssh.run_local_process``.
RUN_LOCAL_PROCESS = f"{__name__}.FakeSSHConnector.pyinfra_run_local_process"


class OutputLine:
    """One line of a command's output, as pyinfra's ``pyinfra.connectors.util.OutputLine``."""

    def __init__(self, buffer_name: str, line: str) -> None:
        self.buffer_name = buffer_name
        self.line = line


class CommandOutput:
    """A command's output lines, as pyinfra's ``pyinfra.connectors.util.CommandOutput``."""

    def __init__(self, combined_lines: Iterable[OutputLine]) -> None:
        self.combined_lines = list(combined_lines)

    @property
    def stdout_lines(self) -> list[str]:
        """The lines written to standard output."""
        return [line.line for line in self.combined_lines if line.buffer_name == "stdout"]

    @property
    def stderr_lines(self) -> list[str]:
        """The lines written to standard error."""
        return [line.line for line in self.combined_lines if line.buffer_name == "stderr"]


class FakeChannel:
    """pyinfra's fake paramiko channel: what a command exited with."""

    def __init__(self, exit_status: int) -> None:
        self.exit_status = exit_status

    def exit_status_ready(self) -> bool:
        return True

    def recv_exit_status(self) -> int:
        return self.exit_status

    def write(self, data: Any) -> None:
        pass

    def close(self) -> None:
        pass


class FakeBuffer:
    """pyinfra's fake paramiko output buffer: its data, and the channel it came on."""

    def __init__(self, data: Any, channel: FakeChannel) -> None:
        self.channel = channel
        self.data = data

    def __iter__(self) -> Any:
        return iter(self.data)


#: pyinfra's name of each connector argument, and the CommandOptions field it is.
_CONNECTOR_ARGUMENTS = {
    "_sudo": "sudo",
    "_sudo_user": "sudo_user",
    "_use_sudo_login": "use_sudo_login",
    "_sudo_password": "sudo_password",
    "_preserve_sudo_env": "preserve_sudo_env",
    "_su_user": "su_user",
    "_use_su_login": "use_su_login",
    "_preserve_su_env": "preserve_su_env",
    "_su_shell": "su_shell",
    "_doas": "doas",
    "_doas_user": "doas_user",
    "_shell_executable": "shell_executable",
    "_chdir": "chdir",
    "_env": "env",
    "_success_exit_codes": "success_exit_codes",
    "_timeout": "timeout",
    "_get_pty": "get_pty",
}


def connector_arguments(options: CommandOptions) -> dict[str, Any]:
    """``options`` as pyinfra's connector arguments (``_sudo=...``), unset ones as None."""
    arguments = {}
    for keyword, field in _CONNECTOR_ARGUMENTS.items():
        value = getattr(options, field)
        arguments[keyword] = dict(value) if isinstance(value, Mapping) else value
    return arguments


def executor_defaults(state: Any, host: Any) -> dict[str, Any]:
    """The connector arguments a command on ``host`` gets outside any op: its data's and
    the config's (what pyinfra's tests compute with ``pop_global_arguments``)."""
    arguments = resolve_global_arguments({}, state.config, host.argument_data())
    return connector_arguments(arguments.options)


def _command_result(returned: Any, options: CommandOptions) -> CommandResult:
    # pyinfra's (success, output); output a CommandOutput, a FakeBuffer or a MagicMock.
    success, output = returned
    success = bool(success)
    stdout: list[str] = []
    stderr: list[str] = []
    exit_code = 0 if success else 1
    if isinstance(output, CommandOutput):
        stdout, stderr = output.stdout_lines, output.stderr_lines
    elif isinstance(output, FakeBuffer):
        exit_code = output.channel.exit_status
        if output.data:
            stdout = [output.data] if isinstance(output.data, str) else list(output.data)
    return CommandResult(success, exit_code, "\n".join(stdout), "\n".join(stderr))


class FakeSSHConnector(SshConnector):
    """An SSH connector that connects and answers every command with success, no output.

    A host whose ``ssh_hostname`` is an exception class fails to connect, as pyinfra's
    fake paramiko client raises it.
    """

    name: ClassVar[str] = "ssh"

    def connect(self) -> None:
        """Connect, or fail as the host's ``ssh_hostname`` exception class says."""
        hostname = self.data.get("ssh_hostname")
        if isclass(hostname) and issubclass(hostname, Exception):
            raise ConnectError(f"{hostname.__name__} connecting to {self.host_name}")

    def pyinfra_run_shell_command(self, command: Any, **arguments: Any) -> tuple[Any, Any]:
        """What pyinfra's patched paramiko gives every command: success, no output."""
        return True, CommandOutput([])

    def pyinfra_run_local_process(self, command: str, **arguments: Any) -> tuple[int, Any]:
        """What running a local command gives here (pyinfra's tests patch it): success."""
        return 0, []

    def _run_local(self, command_line: str, options: CommandOptions) -> CommandResult:
        # As pyinfra's SSH connector calls run_local_process.
        code, _ = self.pyinfra_run_local_process(
            command_line, print_output=False, print_prefix=Host(self.host_name).print_prefix
        )
        return CommandResult(code == 0, code)

    def run_shell_command(self, command: StringCommand, options: CommandOptions) -> CommandResult:
        """Hand the command to :meth:`pyinfra_run_shell_command` as pyinfra's connector
        gets it, and turn what that returns into eventstate's result."""
        returned = self.pyinfra_run_shell_command(
            command.raw(), print_input=False, print_output=False, **connector_arguments(options)
        )
        return _command_result(returned, options)

    def put_file(self, content: bytes, dest: str, options: CommandOptions) -> CommandResult:
        """Pretend to upload a file (pyinfra's fake SFTP client's ``putfo``)."""
        return CommandResult(True, 0)

    def get_file(self, src: str, options: CommandOptions) -> CommandResult:
        """Pretend to download a file: empty (pyinfra's fake SFTP client's ``getfo``)."""
        return CommandResult(True, 0, content=b"")


class PatchSSHTestCase(TestCase):
    """A test class whose SSH hosts connect and run everything successfully.

    The SSH connector tests check the real connector; these tests need hosts only.
    """

    _real_connector: ClassVar[type[Connector]]

    @classmethod
    def setUpClass(cls) -> None:
        cls._real_connector = connectors._BUILT_IN["ssh"]
        connectors._BUILT_IN["ssh"] = FakeSSHConnector

    @classmethod
    def tearDownClass(cls) -> None:
        connectors._BUILT_IN["ssh"] = cls._real_connector
