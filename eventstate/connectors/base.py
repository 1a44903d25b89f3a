"""The connector interface: how the engine reaches a host.

A connector connects, runs shell commands, uploads files and disconnects. It
returns results and raises :class:`~eventstate.errors.ConnectError`; it never
records events or fires callbacks -- the engine does both, the same way for
every connector, so an SSH connector later plugs in without engine changes.
"""

from __future__ import annotations

import abc
import shlex
from collections.abc import Mapping, Sequence
from shutil import which
from typing import Any, ClassVar

import attrs

from eventstate.commands import HiddenValue, StringCommand, revealed
from eventstate.errors import OperationError

__all__ = [
    "CommandOptions",
    "CommandResult",
    "Connector",
    "command_stdin",
    "require_local_rsync",
    "shell_argv",
    "shown_privilege",
    "upload_script",
]


@attrs.frozen
class CommandOptions:
    """How to run one command: privilege, environment, directory, input, time limit.

    The privilege fields are pyinfra 3.10's global arguments of the same
    names (``_sudo``, ``_su_user``, ``_doas``...), applied in pyinfra's order:
    doas, then sudo, then su.
    """

    sudo: bool = False
    sudo_user: str | None = None
    #: Fed to sudo on the command's standard input, never on a command line (a secret).
    sudo_password: str | HiddenValue | None = attrs.field(default=None, repr=False)
    use_sudo_login: bool = False
    preserve_sudo_env: bool = False
    su_user: str | None = None
    use_su_login: bool = False
    preserve_su_env: bool = False
    su_shell: str | None = None
    #: Fed to su on the command's standard input, after any sudo password (a secret).
    su_password: str | HiddenValue | None = attrs.field(default=None, repr=False)
    doas: bool = False
    doas_user: str | None = None
    dzdo: bool = False
    dzdo_user: str | None = None
    env: Mapping[str, str | HiddenValue] = attrs.field(factory=dict)
    chdir: str | None = None
    timeout: float | None = None
    shell_executable: str = "sh"
    success_exit_codes: tuple[int, ...] = (0,)
    #: What the command reads on its standard input (``_stdin``), if anything.
    stdin: bytes | None = attrs.field(default=None, repr=False)
    #: Ask for a terminal (``_get_pty``): SSH only.
    get_pty: bool = False
    #: Where files are staged on the host before they are moved into place (``_temp_dir``).
    temp_dir: str | None = None


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
    #: A downloaded file's bytes (``get_file``); never recorded, only its size and hash.
    content: bytes | None = attrs.field(default=None, repr=False)


# sudo reads the password from standard input once, to validate (-v); the command
# then runs under the credentials that left (-n: it never prompts). The password
# is read by the shell's own `read` and handed on by its own `printf`: builtins,
# so it is in no process's argv. A NOPASSWD rule simply leaves it unread.
_SUDO_PASSWORD_PREAMBLE = (
    "IFS= read -r ES_SUDO_PASSWORD; "
    "printf '%s\\n' \"$ES_SUDO_PASSWORD\" | sudo -S -p '' -v 2>/dev/null; "
    # Not exec'd: without a terminal sudo keys its credentials to the parent process,
    # which must be this shell for both sudos.
    "unset ES_SUDO_PASSWORD; "
)


def shell_argv(
    command: str, options: CommandOptions, *, end_after: float | None = None
) -> list[str]:
    """The argv that runs ``command`` with ``options`` through a POSIX shell.

    ``cd`` and ``export`` happen inside the shell, so they apply under sudo
    and su too. With a sudo password the argv reads it first from standard
    input: send :func:`command_stdin` as the process's input. With
    ``end_after`` the host's own ``timeout`` ends the command (its innermost
    shell, as the user it runs as) after that many seconds: TERM, then KILL.
    """
    script = command
    if options.env:
        # Each `key=value` quoted whole, as pyinfra: no key or value can add a word.
        exports = " ".join(
            shlex.quote(f"{key}={revealed(value)}") for key, value in options.env.items()
        )
        script = f"export {exports}; {script}"
    if options.chdir:
        script = f"cd {shlex.quote(options.chdir)} && {script}"
    shell = [options.shell_executable, "-c", script]
    if end_after is not None:
        shell = ["timeout", "-k", "2", f"{end_after:g}", *shell]
    if options.su_user:
        su = ["su"]
        if options.use_su_login:
            su.append("-l")
        if options.preserve_su_env:
            su.append("-m")
        if options.su_shell:
            su += ["-s", options.su_shell]
        # BSD su has no shell option: the whole `shell -c script` is su's one command.
        shell = [*su, options.su_user, "-c", shlex.join(shell)]
    prefix: list[str] = []
    if options.doas:
        prefix += ["doas", "-n"]
        if options.doas_user:
            prefix += ["-u", options.doas_user]
    if options.dzdo:
        prefix += ["dzdo", "-H", "-n"]
        if options.dzdo_user:
            prefix += ["-u", options.dzdo_user]
    if options.sudo:
        prefix += ["sudo", "-H", "-n"]
        if options.use_sudo_login:
            prefix.append("-i")
        if options.preserve_sudo_env:
            prefix.append("-E")
        if options.sudo_user:
            prefix += ["-u", options.sudo_user]
    argv = prefix + shell
    if options.sudo and options.sudo_password:
        # `; exit $?`: bash (the sh of some systems) would exec a last command, and the
        # second sudo would no longer be the validating shell's child.
        argv = ["sh", "-c", _SUDO_PASSWORD_PREAMBLE + shlex.join(argv) + "; exit $?"]
    return argv


def upload_script(dest: str, options: CommandOptions) -> str:
    """The shell command that writes its standard input to ``dest``.

    With a ``_temp_dir`` (or ``TEMP_DIR``) the file is written there first and
    then moved into place, as pyinfra stages uploads: a reader of ``dest`` never
    sees half a file when both are on one filesystem.
    """
    if not options.temp_dir:
        return f"cat > {shlex.quote(dest)}"
    staged = shlex.quote(f"{options.temp_dir.rstrip('/')}/eventstate-upload-")
    # mktemp names the staged file: two uploads at once never share one.
    return (
        f'staged=$(mktemp {staged}XXXXXXXX) && cat > "$staged" && '
        f'mv -f "$staged" {shlex.quote(dest)} || {{ rm -f "$staged"; exit 1; }}'
    )


def command_stdin(options: CommandOptions, data: bytes | None = None) -> bytes | None:
    """What to send a command run by :func:`shell_argv`'s argv on its standard input.

    The sudo password's line first (when there is one), then ``data`` -- or the
    ``_stdin`` the options carry.
    """
    data = data if data is not None else options.stdin
    if options.su_user and options.su_password:
        # su reads its password from its standard input when it has no terminal.
        data = revealed(options.su_password).encode() + b"\n" + (data or b"")
    if options.sudo and options.sudo_password:
        return revealed(options.sudo_password).encode() + b"\n" + (data or b"")
    return data


def shown_privilege(options: CommandOptions) -> str:
    """How the log shows the privilege a command ran with: ``sudo -u app`` and the like.

    Never the sudo password.
    """
    shown = []
    if options.doas:
        shown.append("doas" + (f" -u {options.doas_user}" if options.doas_user else ""))
    if options.dzdo:
        shown.append("dzdo" + (f" -u {options.dzdo_user}" if options.dzdo_user else ""))
    if options.sudo:
        shown.append("sudo" + (f" -u {options.sudo_user}" if options.sudo_user else ""))
    if options.su_user:
        shown.append(f"su {options.su_user}")
    return " ".join(shown)


def require_local_rsync() -> None:
    """The local ``rsync`` is installed (what connectors that run it check first).

    Raises:
        OperationError: it is not.
    """
    if not which("rsync"):
        raise OperationError("The `rsync` binary is not available on this system.")


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

    #: Whether every command returns at once, never waiting on gevent (``@sim`` without
    #: latency): the engine then runs such hosts' ops one after another in its own
    #: greenlet instead of one greenlet each, which is the same order, for less.
    instant: bool = False

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

    def get_file(self, src: str, options: CommandOptions) -> CommandResult:
        """Read the host's file ``src``: a result whose ``content`` is its bytes.

        The default runs ``cat`` through :meth:`run_shell_command`, decoded;
        connectors with a byte channel (local, SSH) override it to keep any file
        intact.
        """
        result = self.run_shell_command(StringCommand(f"cat {shlex.quote(src)}"), options)
        return attrs.evolve(result, stdout="", content=result.stdout.encode())

    def check_can_rsync(self) -> None:
        """Whether ``files.rsync`` can reach this host (pyinfra's ``check_can_rsync``).

        Raises:
            OperationError: it cannot; the default, for connectors without rsync.
        """
        raise OperationError(f"the {self.name} connector cannot rsync (use files.put)")

    def rsync(
        self, src: str, dest: str, flags: Sequence[str], options: CommandOptions
    ) -> CommandResult:
        """Sync the local ``src`` to ``dest`` on the host with the local ``rsync``.

        The default fails: see :meth:`check_can_rsync`.
        """
        return CommandResult(False, None, "", f"the {self.name} connector cannot rsync")

    def disconnect(self) -> None:  # noqa: B027 - optional: most connectors hold nothing open
        """Close the connection."""
