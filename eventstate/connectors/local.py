"""``@local``: the machine eventstate runs on, through gevent subprocesses."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from eventstate.commands import StringCommand
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

__all__ = ["LocalConnector"]


class LocalConnector(Connector):
    """Runs commands on the local machine; ``@local`` in an inventory."""

    name = "local"

    def connect(self) -> None:
        """Nothing to connect to."""

    def run_shell_command(self, command: StringCommand, options: CommandOptions) -> CommandResult:
        """Run ``command`` in a local shell."""
        return run_process(shell_argv(command.raw(), options), options, command_stdin(options))

    def get_file(self, src: str, options: CommandOptions) -> CommandResult:
        """Read ``src`` (through ``cat``, so sudo applies), byte for byte."""
        argv = shell_argv(f"cat {shlex.quote(src)}", options)
        return run_process(argv, options, command_stdin(options), keep_bytes=True)

    def put_file(self, content: bytes, dest: str, options: CommandOptions) -> CommandResult:
        """Write ``content`` to ``dest`` (through ``cat``, so sudo applies)."""
        argv = shell_argv(upload_script(dest, options), options)
        return run_process(argv, options, stdin=command_stdin(options, content))

    def check_can_rsync(self) -> None:
        """rsync is installed here.

        Raises:
            OperationError: it is not.
        """
        require_local_rsync()

    def rsync(
        self, src: str, dest: str, flags: Sequence[str], options: CommandOptions
    ) -> CommandResult:
        """``rsync FLAGS SRC DEST`` in a local shell, as the op's user (pyinfra's)."""
        command = StringCommand("rsync", " ".join(flags), shlex.quote(src), shlex.quote(dest))
        return self.run_shell_command(command, options)
