"""``PlaybackConnector``: answers each command from a recorded run, so a rerun touches no host."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from eventstate.commands import RsyncCommand, StringCommand, transfer_shown
from eventstate.connectors.base import CommandOptions, CommandResult, Connector, shown_privilege
from eventstate.errors import ConnectError
from eventstate.events import CommandExecuted

__all__ = ["PlaybackConnector"]

# How command_runner records a Python step: never sent to a connector.
_PYTHON_STEP = "python: "


class PlaybackConnector(Connector):
    """Plays back one host's recorded connection and commands, in order.

    Args:
        host_name: The host.
        commands: The host's recorded commands as ``CommandExecuted`` events, in the
            order run (:func:`~eventstate.events.with_command_events` gives an op's).
        connect_error: The recorded connect failure, or None if it connected.

    A command that is not the next one recorded is answered with a failure
    naming the one expected -- so the rerun diverges there, visibly.
    """

    name = "playback"

    def __init__(
        self, host_name: str, commands: list[CommandExecuted], connect_error: str | None
    ) -> None:
        super().__init__(host_name, {}, None)
        self.recorded = deque(c for c in commands if not c.command.startswith(_PYTHON_STEP))
        self.connect_error = connect_error

    def connect(self) -> None:
        """Connect, or fail as the recorded run did."""
        if self.connect_error is not None:
            raise ConnectError(self.connect_error)

    def _answer(self, shown: str, options: CommandOptions) -> CommandResult:
        privilege = shown_privilege(options)
        if privilege:
            shown = f"{privilege} {shown}"
        if not self.recorded:
            return CommandResult(False, None, "", f"rerun: no recorded command left for {shown!r}")
        expected = self.recorded.popleft()
        if expected.command != shown:
            return CommandResult(
                False, None, "", f"rerun: expected {expected.command!r}, got {shown!r}"
            )
        return CommandResult(
            expected.success,
            expected.exit_code,
            expected.stdout,
            expected.stderr,
            truncated=expected.truncated,
        )

    def run_shell_command(self, command: StringCommand, options: CommandOptions) -> CommandResult:
        """The recorded answer to ``command``."""
        return self._answer(command.masked(), options)

    def put_file(self, content: bytes, dest: str, options: CommandOptions) -> CommandResult:
        """The recorded answer to the upload."""
        return self._answer(transfer_shown("upload", dest, content), options)

    def check_can_rsync(self) -> None:
        """A recorded rsync can be played back."""

    def rsync(
        self, src: str, dest: str, flags: Sequence[str], options: CommandOptions
    ) -> CommandResult:
        """The recorded answer to the rsync."""
        return self._answer(RsyncCommand(src, dest, flags).masked(), options)

    def get_file(self, src: str, options: CommandOptions) -> CommandResult:
        """A download cannot be played back: the log keeps no file content."""
        expected = self.recorded.popleft() if self.recorded else None
        shown = expected.command if expected else f"download {src}"
        return CommandResult(False, None, "", f"rerun: {shown} cannot be played back (no content)")
