"""Ctrl-C and SIGTERM during a deploy: one :class:`DeployInterrupted`, where it is safe.

A signal handler runs in whichever greenlet is on the CPU when the signal
comes -- often gevent's hub, where an exception would only be printed, or a
host's greenlet, where it would fail one op. Inside :func:`interrupt_on_signals`
a SIGINT or SIGTERM is instead delivered to the deploy's own greenlet (the one
that entered the block) as a :class:`DeployInterrupted`: raised at once when
that greenlet is running outside the write path, else thrown into it as soon
as it next waits -- never in the middle of recording an event, so the run's end
can still be recorded after it. :func:`eventstate.deploy.run_deploy` then kills
the running commands and records the run as interrupted.
"""

from __future__ import annotations

import inspect
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import gevent

from eventstate.recorder import EventRecorder
from eventstate.stores import EventLog

__all__ = ["INTERRUPTING_SIGNALS", "DeployInterrupted", "interrupt_on_signals"]

#: The signals that interrupt a deploy.
INTERRUPTING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DeployInterrupted(KeyboardInterrupt):
    """A signal (Ctrl-C, SIGTERM) stopped the deploy: not an error, so no EventstateError.

    A :class:`KeyboardInterrupt`, so that nothing catching ``Exception`` -- a deploy
    file, an operation -- can swallow it on its way to the deploy.

    Attributes:
        signal_number: The signal received.
    """

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal_number)
        self.signal_number = signal_number

    @property
    def signal_name(self) -> str:
        """The signal's name: ``SIGINT``, ``SIGTERM``..."""
        try:
            return signal.Signals(self.signal_number).name
        except ValueError:
            return f"signal {self.signal_number}"

    @property
    def exit_status(self) -> int:
        """The exit status of a program a signal stopped: 128 + its number (130, 143)."""
        return 128 + self.signal_number


# Code a signal must not interrupt mid-way: an event half recorded, a batch half stored.
_WRITE_PATH = (inspect.getfile(EventRecorder), str(Path(inspect.getfile(EventLog)).parent))


def _in_write_path(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith(_WRITE_PATH):
            return True
        frame = frame.f_back
    return False


def _throw(target: Any, interruption: DeployInterrupted, active: list[bool]) -> None:
    if active and not target.dead:
        target.throw(interruption)


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`DeployInterrupted` in this greenlet.

    The previous handlers come back when the block ends. Only for the main
    thread (where Python runs signal handlers).
    """
    target = gevent.getcurrent()
    active = [True]  # emptied when the block ends: a late throw would land outside it

    def handle(number: int, frame: FrameType | None) -> None:
        interruption = DeployInterrupted(number)
        if gevent.getcurrent() is target and not _in_write_path(frame):
            raise interruption
        # In the hub, a host's greenlet, or the write path: thrown when the target waits.
        gevent.get_hub().loop.run_callback(_throw, target, interruption, active)

    previous = {number: signal.signal(number, handle) for number in INTERRUPTING_SIGNALS}
    try:
        yield
    finally:
        active.clear()
        for number, handler in previous.items():
            signal.signal(number, handler)
