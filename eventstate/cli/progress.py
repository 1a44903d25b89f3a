"""How a deploy shows its progress: a line per stage, and a bar over the host-ops.

Two parts: :class:`Screen`, where lines go (on a terminal, above a live status
line that is redrawn in place, so that no printed line ever shares a screen line
with it), and :class:`DeployProgress`, the callbacks that say what to print.

On a terminal the status line shows the running stage: hosts connected, then a
bar over the execute stage's host-ops done of those still to run (a host that
fails drops its remaining ops from the total, so the bar reaches its end) with
an ETA from the execute stage's own pace. Elsewhere (a pipe, a file) there is no
bar: a plain line per operation. ``NO_COLOR`` turns colour off; ``TERM=dumb``
the live line too.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

import click
import gevent

from eventstate.cli.base import escaped
from eventstate.events import StateStage
from eventstate.state import BaseStateCallback

if TYPE_CHECKING:
    from eventstate.host import Host
    from eventstate.state import State

__all__ = ["DeployProgress", "Screen", "eta_text"]

#: Seconds between redraws of the live line: often enough to look live, rarely
#: enough to cost nothing next to the host-ops it counts.
REDRAW_INTERVAL = 0.1
#: Seconds between the ticker's redraws (the clock and ETA move while commands run).
TICK_INTERVAL = 0.5

_STYLES: dict[str, dict[str, Any]] = {
    "phase": {"bold": True},
    "fail": {"fg": "red"},
    "dim": {"dim": True},
}


def colour_wanted(stream: TextIO) -> bool:
    """Whether to colour what goes to ``stream``: a terminal, and no ``NO_COLOR``."""
    return _is_live(stream) and not os.environ.get("NO_COLOR")


def _is_live(stream: TextIO) -> bool:
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a real stream
        return False
    return tty and os.environ.get("TERM") != "dumb"


class Screen:
    """Lines for the user and, on a terminal, one live status line below them.

    Args:
        out: Where lines and the status line go (stdout).
        err: Where failure lines go (stderr).
        live: Whether to draw the status line; by default when ``out`` is a terminal.
        colour: Whether to colour lines; by default on a terminal without ``NO_COLOR``.
    """

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        live: bool | None = None,
        colour: bool | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.live = _is_live(self.out) if live is None else live
        self.colour = colour_wanted(self.out) if colour is None else colour
        self._status = ""
        self._drawn = False

    def line(self, text: str, *, err: bool = False, style: str | None = None) -> None:
        """Print ``text`` (recorded text escaped) on a line of its own, above the status."""
        shown = escaped(text)
        if self.colour and style:
            shown = click.style(shown, **_STYLES[style])
        if err:
            self._clear()
            self.err.write(shown + "\n")
            self.err.flush()
            self._draw()
        else:
            # One write: the line over the status line, then the status line again.
            cleared = "\r\x1b[K" if self._drawn else ""
            drawing = self._drawing()
            self.out.write(cleared + shown + "\n" + drawing)
            self.out.flush()
            self._drawn = bool(drawing)

    def status(self, text: str) -> None:
        """Show ``text`` as the live status line (nothing when not live)."""
        self._status = text
        if self.live:
            self._draw()

    def close(self) -> None:
        """Take the status line away: what follows prints on a clean line."""
        self._clear()
        self._status = ""

    def _clear(self) -> None:
        if self._drawn:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._drawn = False

    def _draw(self) -> None:
        drawing = self._drawing()
        if drawing:
            self.out.write(drawing)
            self.out.flush()
            self._drawn = True
        elif self._drawn:
            self._clear()

    def _drawing(self) -> str:
        """The status line as written over the current screen line ("" for none)."""
        if not (self.live and self._status):
            return ""
        # One character short of the width: a full line would wrap, and the next
        # carriage return would then clear only its second half.
        width = max(self._columns() - 1, 10)
        return "\r" + escaped(self._status)[:width] + "\x1b[K"

    def _columns(self) -> int:
        # The terminal's own width first: a stale $COLUMNS would make the line wrap.
        try:
            return os.get_terminal_size(self.out.fileno()).columns
        except (AttributeError, OSError, ValueError):
            return shutil.get_terminal_size().columns


def eta_text(done: int, total: int, elapsed: float) -> str:
    """The time left at the pace so far: ``ETA 1:05``; ``ETA --`` until there is a pace."""
    if done <= 0 or elapsed < 1.0 or done * 100 < total:
        return "ETA --"
    return f"ETA {_clock((total - done) * elapsed / done)}"


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _many(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = width if total <= 0 else min(width, width * done // total)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class DeployProgress(BaseStateCallback):
    """The callbacks that print a deploy's stages, operations and bar on a :class:`Screen`.

    Args:
        screen: Where to print.
        op_lines: Whether to print a line per operation on a terminal too
            (always, without one).

    Add it with ``state.add_callback_handler`` and pass :meth:`host_op_done` as
    ``run_deploy``'s ``progress``; :meth:`start` and :meth:`stop` run the ticker
    that keeps the clock and ETA moving while commands run.
    """

    def __init__(self, screen: Screen, *, op_lines: bool = False) -> None:
        self.screen = screen
        self.op_lines = op_lines or not screen.live
        self._state: State | None = None
        self._stage_started = time.monotonic()
        self._connect_total = 0
        self._connected = 0
        self._connect_failed = 0
        self._order: list[str] = []
        self._op_number: dict[str, int] = {}
        self._current_op = ""
        self._done = 0
        self._done_by_host: dict[str, int] = {}
        self._ok = 0
        self._changed = 0
        self._failed = 0
        self._ignored = 0
        self._op_counts: dict[str, list[int]] = {}  # op hash -> [ok, changed, failed]
        self._op_started: dict[str, float] = {}
        self._execute_started = 0.0
        self._drawn_at = 0.0
        self._ticker: Any = None

    # The ticker

    def start(self, state: State) -> None:
        """Follow ``state``; on a terminal, redraw the status line every half second."""
        self._state = state
        if self.screen.live:
            self._ticker = gevent.spawn(self._tick)

    def stop(self) -> None:
        """Stop the ticker and take the status line away."""
        if self._ticker is not None:
            self._ticker.kill(block=False)
            self._ticker = None
        self.screen.close()

    def _tick(self) -> None:
        while True:
            gevent.sleep(TICK_INTERVAL)
            self._redraw(force=True)

    # Stages

    def stage_changed(self, state: State, stage: StateStage, previous: StateStage) -> None:  # type: ignore[override]
        """Print the stage that ended, with its counts; show the next one."""
        self._state = state
        now = time.monotonic()
        took = now - self._stage_started
        self._stage_started = now
        ended = self._phase_line(state, previous, took)
        if ended:
            self.screen.line(ended, style="phase")
        if stage is StateStage.Connect:
            self._connect_total = sum(1 for host in state.inventory if state.is_host_in_limit(host))
        elif stage is StateStage.Execute:
            self._order = state.get_op_order()
            self._op_number = {op_hash: number for number, op_hash in enumerate(self._order, 1)}
            self._execute_started = now
        self._redraw(force=True)

    def _phase_line(self, state: State, stage: StateStage, took: float) -> str | None:
        view = state.view
        if stage is StateStage.Connect:
            failed = f", {self._connect_failed:,} failed" if self._connect_failed else ""
            return (
                f"connect: {_many(self._connect_total, 'host')}, {self._connected:,} connected"
                f"{failed} ({took:.1f}s)"
            )
        if stage is StateStage.Prepare:
            active = list(view.active_hosts)
            host_ops = sum(view.meta[name].ops for name in active)
            changes = sum(view.meta[name].ops_change for name in active)
            expected = (
                f"{changes:,} expected to change"
                if state.should_check_for_changes()
                else "changes not checked"  # -y, as pyinfra's
            )
            return (
                f"prepare: {_many(len(active), 'host')}, {_many(len(view.op_meta), 'op')}, "
                f"{_many(host_ops, 'host-op')}, {expected} ({took:.1f}s)"
            )
        if stage is StateStage.Execute:
            total = self._total()
            done = _many(total, "host-op")
            if self._done != total:
                done = f"{self._done:,} of {done}"
            parts = [f"{self._ok:,} ok", f"{self._changed:,} changed"]
            if self._failed:
                parts.append(f"{self._failed:,} failed")
            if self._ignored:
                parts.append(f"{self._ignored:,} errors ignored")
            status = view.run.status
            ended = f", {status.value}" if status is not None and status.value != "success" else ""
            return f"execute: {done}, {', '.join(parts)}{ended} ({took:.1f}s)"
        return None

    # Connecting

    def host_connect(self, state: State, host: Host) -> None:  # type: ignore[override]
        """Count a connection."""
        self._connected += 1
        self._redraw()

    def host_connect_error(self, state: State, host: Host, error: Any) -> None:  # type: ignore[override]
        """Count a connection that failed."""
        self._connect_failed += 1
        self._redraw()

    # Executing

    def operation_start(self, state: State, op_hash: str) -> None:  # type: ignore[override]
        """Name the op running in the status line."""
        self._current_op = op_hash
        self._op_started[op_hash] = time.monotonic()
        self._redraw()

    def operation_host_success(  # type: ignore[override]
        self, state: State, host: Host, op_hash: str, retry_count: int = 0
    ) -> None:
        """Count a success (and whether it changed the host)."""
        changed = bool(state.ops[host][op_hash].result.changed)
        self._count_done(host, op_hash)
        self._ok += 1
        self._changed += changed
        counts = self._op_counts.setdefault(op_hash, [0, 0, 0])
        counts[0] += 1
        counts[1] += changed
        if self.op_lines and op_hash not in self._op_started:
            # Serial and no-wait runs have no op start or end: a line per host-op.
            self._host_op_line(state, host, op_hash, "changed" if changed else "no change")

    def operation_host_error(  # type: ignore[override]
        self, state: State, host: Host, op_hash: str, retry_count: int = 0, max_retries: int = 0
    ) -> None:
        """Count a failure (an ignored one apart)."""
        self._count_done(host, op_hash)
        if state.ops[host][op_hash].global_arguments.ignore_errors:
            self._ignored += 1
        else:
            self._failed += 1
        self._op_counts.setdefault(op_hash, [0, 0, 0])[2] += 1
        if self.op_lines and op_hash not in self._op_started:
            self._host_op_line(state, host, op_hash, "failed")

    def operation_end(self, state: State, op_hash: str) -> None:  # type: ignore[override]
        """On a pipe (or with ``-v``), one line for the op: its outcomes across the hosts."""
        if not self.op_lines:
            return
        ok, changed, failed = self._op_counts.get(op_hash, (0, 0, 0))
        took = time.monotonic() - self._op_started.get(op_hash, time.monotonic())
        outcome = f"{ok:,} ok ({changed:,} changed)"
        if failed:
            outcome += f", {failed:,} failed"
        self.screen.line(f"{self._op_title(state, op_hash)}: {outcome} ({took:.2f}s)")

    def _host_op_line(self, state: State, host: Host, op_hash: str, outcome: str) -> None:
        self.screen.line(f"[{host.name}] {self._op_title(state, op_hash)}: {outcome}")

    def _op_title(self, state: State, op_hash: str) -> str:
        number = self._op_number.get(op_hash)
        names = ", ".join(state.get_op_meta(op_hash).names)
        return f"op {number}/{len(self._order)} {names}" if number else names

    def host_op_done(self, host: Host, op_hash: str) -> None:
        """``run_deploy``'s ``progress``: a host is past an op.

        One it ran was counted as its outcome came (success or error, each as it
        happened); this counts the ops a host passes without running (another
        host's op, a ``_run_once`` duplicate).
        """
        if self._state is not None and op_hash not in self._state.ops[host]:
            self._count_done(host, op_hash)

    def _count_done(self, host: Host, op_hash: str) -> None:
        if op_hash in self._op_number:  # not an op nested in another, unplanned
            self._done += 1
            self._done_by_host[host.name] = self._done_by_host.get(host.name, 0) + 1
            self._redraw()

    def _total(self) -> int:
        """The host-ops done, and those the active hosts still have to run."""
        if self._state is None:
            return self._done
        ops = len(self._order)
        left = sum(ops - self._done_by_host.get(name, 0) for name in self._state.view.active_hosts)
        return self._done + max(left, 0)

    # The status line

    def _redraw(self, force: bool = False) -> None:
        if not self.screen.live or self._state is None:
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < REDRAW_INTERVAL:
            return
        self._drawn_at = now
        self.screen.status(self._status_text(self._state, now))

    def _status_text(self, state: State, now: float) -> str:
        stage = state.view.current_stage
        took = now - self._stage_started
        if stage is StateStage.Connect:
            reached = self._connected + self._connect_failed
            return f"connect: {reached:,}/{self._connect_total:,} hosts ({took:.0f}s)"
        if stage is StateStage.Prepare:
            return f"prepare: {_many(len(state.view.active_hosts), 'host')} ({took:.0f}s)"
        if stage is StateStage.Execute:
            total = self._total()
            percent = 100 * self._done // total if total else 100
            op = ""
            if self._current_op in state.view.op_meta:
                number = self._op_number.get(self._current_op, 0)
                names = ", ".join(state.get_op_meta(self._current_op).names)
                op = f"  op {number}/{len(self._order)} {names}"
            elapsed = now - self._execute_started
            return (
                f"execute {_bar(self._done, total)} {self._done:,}/{total:,} host-ops "
                f"{percent}%  {_clock(elapsed)} {eta_text(self._done, total, elapsed)}{op}"
            )
        return ""
