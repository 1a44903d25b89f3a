"""The connector interface: how the engine reaches a host.

A connector connects, runs shell commands, uploads files and disconnects. It
returns results and raises :class:`~eventstate.errors.ConnectError`; it never
records events or fires callbacks -- the engine does both, the same way for
every connector, so an SSH connector later plugs in without engine changes.
"""

from __future__ import annotations

import abc
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

if TYPE_CHECKING:
    from eventstate.commands import StringCommand

__all__ = ["CommandOptions", "CommandResult", "Connector", "shell_argv"]


@attrs.frozen
class CommandOptions:
    """How to run one command: privilege, environment, directory, time limit."""

    sudo: bool = False
    sudo_user: str | None = None
    env: Mapping[str, str] = attrs.field(factory=dict)
    chdir: str | None = None
    timeout: float | None = None
    shell_executable: str = "sh"
    success_exit_codes: tuple[int, ...] = (0,)


@attrs.frozen
class CommandResult:
    """What running a command gave.

    Attributes:
        success: Whether it succeeded (its exit code is a success code).
        exit_code: Its exit status; None if it never finished (timeout).
        stdout: Standard output, decoded.
        stderr: Standard error, decoded.
        truncated: Whether the connector already cut the output (a playback of a
            recorded run returns it as the log kept it).
    """

    success: bool
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False


def shell_argv(command: str, options: CommandOptions) -> list[str]:
    """The argv that runs ``command`` with ``options`` through a POSIX shell.

    ``cd`` and ``export`` happen inside the shell, so they apply under sudo too.
    """
    script = command
    if options.env:
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in options.env.items())
        script = f"export {exports}; {script}"
    if options.chdir:
        script = f"cd {shlex.quote(options.chdir)} && {script}"
    argv = [options.shell_executable, "-c", script]
    if options.sudo:
        prefix = ["sudo", "-H", "-n"]
        if options.sudo_user:
            prefix += ["-u", options.sudo_user]
        argv = prefix + argv
    return argv


class Connector(abc.ABC):
    """How the engine reaches one host.

    Subclasses set ``name`` (the ``@name`` in an inventory) and implement
    the abstract methods. A connector is made from plain values, never a live
    Host: it cannot reach the State, the inventory or other hosts.

    Args:
        host_name: The host's name in the inventory (``@sim/web1``, ``web1.example.com``).
        data: The host's data, merged (``ssh_user``, ``sim_seed``...).
        arg: What follows the slash in ``@name/arg``, or None.
        connect_timeout: Seconds a connection may take (``Config.CONNECT_TIMEOUT``).
    """

    name: ClassVar[str]

    def __init__(
        self,
        host_name: str,
        data: Mapping[str, Any],
        arg: str | None,
        *,
        connect_timeout: float = 10,
    ) -> None:
        self.host_name = host_name
        self.data = data
        self.arg = arg
        self.connect_timeout = connect_timeout

    @classmethod
    def make_names_data(cls, arg: str | None) -> list[tuple[str, dict[str, Any], list[str]]]:
        """The hosts ``@name/arg`` stands for: ``(host name, data, groups)`` each."""
        return [(f"@{cls.name}/{arg}" if arg else f"@{cls.name}", {}, [])]

    @abc.abstractmethod
    def connect(self) -> None:
        """Connect to the host. Raises :class:`ConnectError` if it cannot."""

    @abc.abstractmethod
    def run_shell_command(self, command: StringCommand, options: CommandOptions) -> CommandResult:
        """Run ``command`` on the host and return what it gave."""

    @abc.abstractmethod
    def put_file(self, content: bytes, dest: str, options: CommandOptions) -> CommandResult:
        """Write ``content`` to the file ``dest`` on the host."""

    def disconnect(self) -> None:  # noqa: B027 - optional: most connectors hold nothing open
        """Close the connection."""
