"""A long-lived remote shell: many commands over one session, one round trip each.

Opening a session per command costs a local process (fork + exec of a client)
and, over SSH, an extra round trip to open the channel. A ``ShellSession``
starts one shell (``ssh HOST sh``) and writes each command to its standard
input, framed so that its output, error output and exit status come back
separately: after the command the shell prints a marker, random per command,
with the status, on both streams. Each command runs in a subshell with
``/dev/null`` as its input, so nothing it does -- ``exit``, ``cd``, ``export``,
reading input -- touches the session or the next command.

Commands that need their own input, a terminal or a time limit are not run
here: the connector runs those in a session of their own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Sequence

import gevent
import gevent.lock
from gevent import select, subprocess

from eventstate.errors import SessionLostError

__all__ = ["ShellSession"]

_CHUNK = 65536


class ShellSession:
    """One shell process reading commands on its standard input.

    Args:
        argv: The process that gives a shell reading standard input (``ssh HOST sh``).
    """

    def __init__(self, argv: Sequence[str]) -> None:
        self.process = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        # One command at a time: the session's streams are shared.
        self._lock = gevent.lock.Semaphore()

    def run(self, command: str) -> tuple[int, bytes, bytes]:
        """Run ``command`` (a shell command line) and return ``(status, stdout, stderr)``.

        Raises:
            SessionLostError: the session ended first; the command's outcome is unknown.
        """
        mark = secrets.token_hex(16).encode()
        framed = (
            # A subshell: an `exit`, `cd` or `export` in the command ends there.
            f"( {command}\n) </dev/null; es_status=$?; "
            f"printf '\\n%s %s\\n' {mark.decode()} \"$es_status\"; "
            f"printf '\\n%s\\n' {mark.decode()} >&2\n"
        ).encode()
        with self._lock:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write(framed)
                self.process.stdin.flush()
            except OSError as error:
                raise SessionLostError(str(error)) from None
            return self._read(mark)

    def _read(self, mark: bytes) -> tuple[int, bytes, bytes]:
        # Both streams at once: a command filling one pipe while the other is read
        # would wait forever.
        assert self.process.stdout is not None and self.process.stderr is not None
        out_fd, err_fd = self.process.stdout.fileno(), self.process.stderr.fileno()
        buffers = {out_fd: bytearray(), err_fd: bytearray()}
        ends = {out_fd: b"\n" + mark + b" ", err_fd: b"\n" + mark + b"\n"}
        found: dict[int, int] = {}
        status: int | None = None
        while status is None or err_fd not in found:
            waiting = [fd for fd in (out_fd, err_fd) if not (fd in found and fd == err_fd)]
            if status is not None:
                waiting = [err_fd]
            readable, _, _ = select.select(waiting, [], [])
            for fd in readable:
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    raise SessionLostError("the session ended")
                buffers[fd] += chunk
                if fd not in found:
                    at = buffers[fd].find(ends[fd])
                    if at >= 0:
                        found[fd] = at
                if fd == out_fd and out_fd in found:
                    rest = bytes(buffers[out_fd][found[out_fd] + len(ends[out_fd]) :])
                    if b"\n" in rest:
                        status = int(rest.split(b"\n", 1)[0])
        return (
            status,
            bytes(buffers[out_fd][: found[out_fd]]),
            bytes(buffers[err_fd][: found[err_fd]]),
        )

    @property
    def alive(self) -> bool:
        """Whether the session's process still runs."""
        return self.process.poll() is None

    def close(self) -> None:
        """End the session: its shell reads end-of-input and exits."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
