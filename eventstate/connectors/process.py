"""Running a local process under gevent: what the local and docker connectors share.

Each command runs in its own process group. The groups of the commands still
running are known here: a deploy interrupted by a signal kills them
(:func:`kill_running_processes`), and so does killing the greenlet waiting on
one -- no command outlives the deploy that started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Sequence

from gevent import subprocess

from eventstate.connectors.base import CommandOptions, CommandResult

__all__ = ["kill_running_processes", "run_process"]

# The process groups of the commands running now (a group's id is its leader's pid).
_running: set[int] = set()


def kill_running_processes() -> list[int]:
    """SIGKILL the process group of every command still running; the groups killed."""
    killed = []
    for group in list(_running):
        with contextlib.suppress(ProcessLookupError, PermissionError):  # it may have just exited
            os.killpg(group, signal.SIGKILL)
            killed.append(group)
    return killed


def run_process(
    argv: Sequence[str],
    options: CommandOptions,
    stdin: bytes | None = None,
    *,
    keep_bytes: bool = False,
) -> CommandResult:
    """Run ``argv`` as a child process without blocking other greenlets.

    A timeout kills the process and is a failed command with no exit code; a
    program that cannot be started is a failed command too, never an exception.
    With ``keep_bytes`` the output is the result's ``content``, undecoded (a
    file being downloaded), and ``stdout`` is empty.
    """
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Its own process group: a timeout kills the shell and whatever it started.
            start_new_session=True,
        )
    except OSError as error:
        return CommandResult(False, None, "", f"cannot run {argv[0]}: {error.strerror}")
    _running.add(process.pid)
    try:
        try:
            stdout, stderr = process.communicate(stdin, timeout=options.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # it may have just exited
                os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            return CommandResult(
                False,
                None,
                stdout.decode("utf-8", "replace"),
                stderr.decode("utf-8", "replace") + f"\ntimed out after {options.timeout}s",
            )
        except BaseException:
            # The greenlet was killed (an interrupted deploy): so is the command, and it
            # is reaped -- the deploy may exit before gevent's child watcher would.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                process.wait(timeout=1)
            raise
    finally:
        _running.discard(process.pid)
    code = process.returncode
    return CommandResult(
        code in options.success_exit_codes,
        code,
        "" if keep_bytes else stdout.decode("utf-8", "replace"),
        stderr.decode("utf-8", "replace"),
        content=stdout if keep_bytes else None,
    )
