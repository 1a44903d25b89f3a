"""``@docker/NAME``: a running container, through the docker CLI's ``docker exec``."""

from __future__ import annotations

import shlex

from eventstate.commands import StringCommand
from eventstate.connectors.base import (
    CommandOptions,
    CommandResult,
    Connector,
    command_stdin,
    shell_argv,
)
from eventstate.connectors.process import run_process
from eventstate.errors import ConnectError

__all__ = ["DockerConnector"]


class DockerConnector(Connector):
    """Runs commands in the container named by ``@docker/NAME``."""

    name = "docker"

    @property
    def container(self) -> str:
        """The container's name or id."""
        if not self.arg:
            raise ConnectError("@docker needs a container: @docker/NAME")
        return self.arg

    def exec_argv(self, argv: list[str], *, stdin: bool = False) -> list[str]:
        """``argv`` run inside the container."""
        return ["docker", "exec", *(["-i"] if stdin else []), self.container, *argv]

    def connect(self) -> None:
        """Check the container is running."""
        result = run_process(
            ["docker", "inspect", "--format", "{{.State.Running}}", self.container],
            CommandOptions(timeout=30),
        )
        if not result.success or result.stdout.strip() != "true":
            reason = (result.stderr or result.stdout).strip().splitlines()
            raise ConnectError(
                f"container {self.container} is not running" + (f": {reason[-1]}" if reason else "")
            )

    def run_shell_command(self, command: StringCommand, options: CommandOptions) -> CommandResult:
        """Run ``command`` in the container's shell."""
        stdin = command_stdin(options)
        argv = self.exec_argv(shell_argv(command.raw(), options), stdin=stdin is not None)
        return run_process(argv, options, stdin)

    def put_file(self, content: bytes, dest: str, options: CommandOptions) -> CommandResult:
        """Write ``content`` to ``dest`` in the container."""
        argv = self.exec_argv(shell_argv(f"cat > {shlex.quote(dest)}", options), stdin=True)
        return run_process(argv, options, stdin=command_stdin(options, content))
