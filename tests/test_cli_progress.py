"""A deploy's progress: a line per stage, a bar on a terminal, a line per op elsewhere;
and the print flags (``-v``, ``-vv``, ``-vvv``), honoured by the engine itself."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventstate import Config, Inventory, State
from eventstate.cli.progress import Screen, eta_text
from eventstate.connect import connect_all
from eventstate.execute import run_ops
from eventstate.operation import add_op
from eventstate.operations import files, server

ROOT = Path(__file__).resolve().parent.parent

#: The live status line during execute, whole: nothing else may share its screen line.
BAR = re.compile(
    r"execute \[[#-]{24}\] [\d,]+/[\d,]+ host-ops \d+%  \d+:\d\d ETA (--|\d+:\d\d)"
    r"(  op \d+/\d+ \S.*)?"
)
#: A -v line for an op, whole.
OP_LINE = re.compile(r"op \d+/50 server\.shell: 200 ok \(200 changed\) \(\d+\.\d\ds\)")


def _deploy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventstate", "deploy", *args, "--db", "e.db"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _write(tmp_path: Path, ops: int = 3, hosts: str = "") -> None:
    (tmp_path / "deploy.py").write_text(
        "from eventstate.operations import server\n"
        f"for i in range({ops}):\n"
        "    server.shell(f'echo step {i}')\n"
    )
    if hosts:
        (tmp_path / "inventory.py").write_text(hosts)


# -- Off a terminal: plain lines ------------------------------------------------------------


def test_off_a_terminal_a_line_per_stage_and_per_op(tmp_path: Path) -> None:
    _write(tmp_path)
    done = _deploy(tmp_path, "@sim/a,@sim/b", "deploy.py")
    assert done.returncode == 0, done.stderr
    lines = [re.sub(r"\(\d+\.\d+s\)", "(Ts)", line) for line in done.stdout.splitlines()]
    assert lines[:6] == [
        "connect: 2 hosts, 2 connected (Ts)",
        "prepare: 2 hosts, 3 ops, 6 host-ops, 6 expected to change (Ts)",
        "op 1/3 server.shell: 2 ok (2 changed) (Ts)",
        "op 2/3 server.shell: 2 ok (2 changed) (Ts)",
        "op 3/3 server.shell: 2 ok (2 changed) (Ts)",
        "execute: 6 host-ops, 6 ok, 6 changed (Ts)",
    ]
    assert "\r" not in done.stdout and "\x1b" not in done.stdout  # no bar, no colour


def test_off_a_terminal_a_serial_run_has_a_line_per_host_op(tmp_path: Path) -> None:
    _write(tmp_path, ops=2)
    done = _deploy(tmp_path, "@sim/a,@sim/b", "deploy.py", "--serial")
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("[")] == [
        "[@sim/a] op 1/2 server.shell: changed",
        "[@sim/a] op 2/2 server.shell: changed",
        "[@sim/b] op 1/2 server.shell: changed",
        "[@sim/b] op 2/2 server.shell: changed",
    ]


def test_a_failed_host_drops_its_remaining_ops_from_the_total(tmp_path: Path) -> None:
    # b fails its second op: its third never runs, and the stage ends at its total (5).
    _write(
        tmp_path,
        hosts="hosts = ['@sim/a', ('@sim/b', {'sim_fail_patterns': {'step 1': 1.0}})]\n",
    )
    done = _deploy(tmp_path, "inventory.py", "deploy.py")
    assert done.returncode == 1, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("execute: ")]
    assert re.fullmatch(r"execute: 5 host-ops, 4 ok, 4 changed, 1 failed \(\d+\.\ds\)", line)


def test_the_eta_waits_for_a_pace_then_follows_it() -> None:
    assert eta_text(0, 100, 5.0) == "ETA --"
    assert eta_text(50, 100, 0.5) == "ETA --"  # under a second: no pace yet
    assert eta_text(1, 1000, 10.0) == "ETA --"  # under 1% done
    assert eta_text(50, 100, 30.0) == "ETA 0:30"
    assert eta_text(10, 100, 60.0) == "ETA 9:00"
    assert eta_text(1, 100, 3600.0) == "ETA 99:00:00"


def test_the_status_line_is_cleared_before_a_line_and_fits_the_width(tmp_path: Path) -> None:
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with out_path.open("w") as out, err_path.open("w") as err:
        screen = Screen(out, err, live=True, colour=False)
        screen.status("x" * 500)
        screen.line("a line")
        screen.line("\x1b[2Jhostile", err=True)
        screen.close()
    width = shutil.get_terminal_size().columns  # a file has no width of its own
    with out_path.open(newline="") as written:
        drawn = written.read()
    assert drawn.count("\r\x1b[K") >= 2  # cleared before the line, and at the end
    assert all(len(part) <= width - 1 + len("\x1b[K\n") for part in drawn.split("\r"))
    assert "a line\n" in drawn
    assert err_path.read_text() == "\\x1b[2Jhostile\n"  # recorded text never drives it


# -- On a terminal: a bar (tmux) ------------------------------------------------------------


class _Tmux:
    """A detached tmux server of its own, running one command on a 200 x 50 screen."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.socket = f"eventstate-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        # COLUMNS and LINES unset: the screen's own size is what counts.
        script = (
            f"cd {shlex.quote(str(cwd))} && env -u COLUMNS -u LINES {exports} {command};"
            " echo __done__; sleep 600"
        )
        self._tmux("new-session", "-d", "-s", "main", "-x", "200", "-y", "50", script)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        ).stdout

    def screen(self, *, history: bool = False, escapes: bool = False) -> list[str]:
        """The screen's lines (with its scrolled-off history)."""
        args = ["capture-pane", "-p", "-t", "main"]
        args += ["-S", "-"] if history else []
        args += ["-e"] if escapes else []
        return self._tmux(*args).rstrip("\n").split("\n")

    def screens_until_done(self, timeout: float = 240) -> Iterator[list[str]]:
        """Screens captured every fifth of a second until the command has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            yield screen
            if "__done__" in screen:
                return
            time.sleep(0.2)
        raise AssertionError("the deploy did not end:\n" + "\n".join(self.screen()))

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def tmux_env() -> dict[str, str]:
    return {"PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)), "PATH": os.environ["PATH"]}


def test_on_a_terminal_a_line_per_stage_and_a_bar_that_shares_no_line(
    tmp_path: Path, tmux_env: dict[str, str]
) -> None:
    _write(
        tmp_path,
        ops=50,
        hosts="hosts = [f'@sim/h{i:03d}' for i in range(200)]\ndata = {'sim_latency': 0.02}\n",
    )
    command = f"{shlex.quote(sys.executable)} -m eventstate deploy inventory.py deploy.py -v"
    tmux = _Tmux(command + " --db e.db", tmp_path, tmux_env)
    try:
        screens = list(tmux.screens_until_done())
        history = tmux.screen(history=True)
    finally:
        tmux.close()
    bars = 0
    for screen in screens:
        for line in screen:
            if "execute [" in line or ("host-ops " in line and "%" in line):
                assert BAR.fullmatch(line.rstrip()), line  # the bar, and nothing else
                bars += 1
    assert bars, "no screen showed the bar:\n" + "\n".join(screens[-1])
    # Every -v line is whole: none begins or ends on the bar's screen line.
    op_lines = [line for line in history if line.startswith("op ")]
    assert len(op_lines) == 50
    assert all(OP_LINE.fullmatch(line.rstrip()) for line in op_lines), op_lines
    assert [line for line in history if "op " in line and not line.startswith("op ")] == []
    phases = [
        line.split(" (")[0] for line in history if re.match(r"(connect|prepare|execute): ", line)
    ]
    assert phases == [
        "connect: 200 hosts, 200 connected",
        "prepare: 200 hosts, 50 ops, 10,000 host-ops, 10,000 expected to change",
        "execute: 10,000 host-ops, 10,000 ok, 10,000 changed",
    ]


@pytest.mark.parametrize("no_color", [False, True])
def test_no_color_turns_colour_off(
    tmp_path: Path, tmux_env: dict[str, str], no_color: bool
) -> None:
    _write(tmp_path, ops=1)
    env = {**tmux_env, **({"NO_COLOR": "1"} if no_color else {})}
    command = f"{shlex.quote(sys.executable)} -m eventstate deploy @sim/a deploy.py --db e.db"
    tmux = _Tmux(command, tmp_path, env)
    try:
        for _ in tmux.screens_until_done():
            pass
        shown = "\n".join(tmux.screen(history=True, escapes=True))
    finally:
        tmux.close()
    (phase,) = [line for line in shown.split("\n") if "connect: 1 host" in line]
    assert ("\x1b[" in phase) is not no_color, repr(phase)


# -- The print flags: the engine honours them, from the API and from -v --------------------


def _local_state(tmp_path: Path) -> State:
    state = State(Inventory((["@local"], {})), Config())
    connect_all(state)
    return state


def test_with_no_flag_the_engine_prints_nothing_and_has_no_printer(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    state = _local_state(tmp_path)
    assert state.printer is None
    add_op(state, server.shell, "echo hi")
    run_ops(state)
    assert capfd.readouterr().err == ""


def test_in_api_mode_the_flags_print_commands_output_facts_and_noops(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    state = _local_state(tmp_path)
    state.print_input = state.print_output = True
    state.print_fact_info = state.print_noop_info = True
    assert state.printer is not None
    existing = tmp_path / "there"
    existing.mkdir()
    add_op(state, files.directory, str(existing))  # a fact, and nothing to change
    add_op(state, server.shell, "echo hi; echo 'to err' >&2")
    run_ops(state)
    err = capfd.readouterr().err.splitlines()
    assert any(line.startswith("[@local] Loaded fact ") for line in err), err
    assert "[@local] noop: files.directory" in err
    assert "[@local] >>> echo hi; echo 'to err' >&2" in err
    assert err[-2:] == ["[@local] hi", "[@local] to err"]
    # Back off: the printer goes, and nothing prints.
    state.print_input = state.print_output = False
    state.print_fact_info = state.print_noop_info = False
    assert state.printer is None


def test_flags_set_on_print_flags_itself_make_the_printer_too(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    state = _local_state(tmp_path)
    state.print_flags.set_verbosity(3)  # as the CLI's -vvv, in API mode
    assert state.printer is not None and state.print_output
    add_op(state, server.shell, "echo through the flags")
    run_ops(state)
    assert "[@local] through the flags" in capfd.readouterr().err.splitlines()
    for name in ("print_noop_info", "print_fact_info", "print_input"):
        setattr(state.print_flags, name, False)
    state.print_flags.print_fact_input = state.print_flags.print_output = False
    assert state.printer is not None  # print_fact_output is still on
    state.print_flags.print_fact_output = False
    assert state.printer is None


def test_fact_commands_print_with_their_own_flags(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    state = _local_state(tmp_path)
    state.print_fact_input = True
    add_op(state, files.directory, str(tmp_path / "new"))
    add_op(state, server.shell, "echo op")
    run_ops(state)
    err = capfd.readouterr().err.splitlines()
    assert err and all(line.startswith("[@local] >>> ") for line in err), err
    assert "[@local] >>> echo op" not in err  # an op's command: print_input's


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("-v", {"noop": True, ">>>": False, "output": False}),
        ("-vv", {"noop": True, ">>>": True, "output": False}),
        ("-vvv", {"noop": True, ">>>": True, "output": True}),
    ],
)
def test_the_cli_verbosity_sets_the_flags_as_pyinfra(
    tmp_path: Path, flag: str, expected: dict[str, bool]
) -> None:
    (tmp_path / "there").mkdir()
    (tmp_path / "deploy.py").write_text(
        "from eventstate.operations import files, server\n"
        f"files.directory({str(tmp_path / 'there')!r})\n"
        "server.shell('echo the-output')\n"
    )
    done = _deploy(tmp_path, "@local", "deploy.py", flag)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert ("[@local] noop: files.directory" in out) is expected["noop"]
    assert ("[@local] >>> echo the-output" in out) is expected[">>>"]
    assert ("[@local] the-output" in out) is expected["output"]
