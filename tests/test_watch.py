"""``eventstate watch``: following a deploy another process writes, and exiting as it ended.

The deploys are real ``eventstate deploy`` processes on ``@sim`` hosts whose commands
take their time (``sim_latency``), written with ``--sync`` so that each event is
committed as it happens; the watcher is a second real process reading the same log
(a SQLite file it polls, or a PostgreSQL database it listens on, for the main tests).
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from postgres_server import running_postgres

from eventstate.cli import main
from eventstate.cli.watch import event_line, run_exit_status
from eventstate.events import (
    CommandExecuted,
    HostActivated,
    HostOperationFinished,
    OperationAdded,
    OperationAddedForHost,
    OperationStarted,
    OpOutcome,
    RunFinished,
    RunStarted,
    RunStatus,
    StageChanged,
    StateStage,
)
from eventstate.replay import follow
from eventstate.replay.follow import RunFollower
from eventstate.stores import EventLog, MemoryEventLog, SqliteEventLog, open_log
from eventstate.testing.runs import RunBuilder, sample_run

#: Seconds each command of the slow host takes: the time between two of its events.
LATENCY = 0.6

SLOW_INVENTORY = f"""\
hosts = [("@sim/slow", {{"sim_latency": {LATENCY}}})]
"""

#: Five slow ops of a command each: each op's outcome is followed by the next a command later.
SLOW_DEPLOY = """\
from eventstate.operations import server

for n in range(5):
    server.shell(f"echo step {n}", name=f"step {n}")
server.shell("echo done", name="done")
"""

QUICK_INVENTORY = """\
hosts = [("@sim/a", {"sim_latency": 0.02}), ("@sim/b", {"sim_fail_rate": 1.0})]
"""

QUICK_DEPLOY = """\
from eventstate.operations import server

server.shell("echo one", name="one")
server.shell("echo two", name="two")
"""

#: Long enough to be interrupted or killed in the middle.
LONG_INVENTORY = """\
hosts = [("@sim/a", {"sim_latency": 0.3})]
"""

LONG_DEPLOY = """\
from eventstate.operations import server

for n in range(40):
    server.shell(f"echo {n}", name=f"op {n}")
"""


def _files(tmp_path: Path, inventory: str, deploy: str) -> tuple[Path, Path]:
    (tmp_path / "inventory.py").write_text(inventory)
    (tmp_path / "deploy.py").write_text(deploy)
    return tmp_path / "inventory.py", tmp_path / "deploy.py"


def _eventstate(*args: object, **options: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "eventstate", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,  # type: ignore[call-overload]
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """An empty log, made before anyone watches it."""
    path = tmp_path / "log.db"
    SqliteEventLog(path).close()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty log, made before anyone watches it: a SQLite file (followed by
    polling), or a database of the session's PostgreSQL server (by LISTEN/NOTIFY)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/log.db"
    else:
        server = running_postgres()
        url = server.url(server.new_database("watch"))
    open_log(url).close()
    return url


def _watch_next(db: Path | str) -> subprocess.Popen[str]:
    """A watcher of the next run to start in ``db``, once it is waiting for it."""
    watcher = _eventstate("watch", "--next", "--db", db)
    assert watcher.stderr is not None
    assert watcher.stderr.readline() == "waiting for a run to start...\n"
    return watcher


def _seq(line: str) -> int | None:
    first = line.split(maxsplit=1)[0] if line.strip() else ""
    return int(first) if first.isdigit() else None


def test_watch_shows_each_event_of_a_running_deploy_as_it_commits(
    tmp_path: Path, store_url: str
) -> None:
    db = store_url
    inventory, deploy_file = _files(tmp_path, SLOW_INVENTORY, SLOW_DEPLOY)
    watcher = _watch_next(db)
    deployer = _eventstate("deploy", inventory, deploy_file, "--db", db, "--sync")
    assert watcher.stdout is not None
    reader: EventLog | None = None
    run_id = ""
    seen: list[tuple[int, str, int]] = []  # (seq, type, the log's newest seq on arrival)
    try:
        for line in watcher.stdout:
            seq = _seq(line)
            if seq is None:
                break  # the events are over: the hosts' table follows
            if reader is None:
                reader = open_log(db, read_only=True)
                run_id = reader.newest_run() or ""
            seen.append((seq, line.split()[2], reader.newest_seq(run_id)))
        rest = watcher.stdout.read()
        assert watcher.wait(timeout=60) == 0, watcher.stderr.read()  # type: ignore[union-attr]
        assert deployer.wait(timeout=60) == 0, deployer.stderr.read()  # type: ignore[union-attr]
    finally:
        for process in (watcher, deployer):
            if process.poll() is None:
                process.kill()
        if reader is not None:
            reader.close()
    # Every event, once, in order, to the run's end.
    with open_log(db, read_only=True) as log:
        stored = [(e.seq, e.type) for e in log.read(run_id)]
    assert [(seq, kind) for seq, kind, _ in seen] == stored
    assert stored[-1][1] == "RunFinished"
    # Each op's outcome (its one event: its command rides on it) was shown before the
    # deploy had moved two ops further: the next op's (LATENCY later) may be stored, the
    # one after it (LATENCY after that) not yet.
    slow = [(seq, newest) for seq, kind, newest in seen if kind == "HostOperationFinished"]
    assert len(slow) == 6
    assert all(newest < after for (_, newest), (after, _) in zip(slow, slow[2:], strict=False)), (
        slow
    )
    assert f"run {run_id} success ({len(stored)} events)" in rest


@pytest.mark.parametrize(
    ("inventory", "deploy", "status"),
    [(QUICK_INVENTORY, QUICK_DEPLOY, 1), (SLOW_INVENTORY, QUICK_DEPLOY, 0)],
    ids=["failed", "success"],
)
def test_watch_exits_with_the_runs_status(
    tmp_path: Path, store_url: str, inventory: str, deploy: str, status: int
) -> None:
    db = store_url
    inventory_file, deploy_file = _files(tmp_path, inventory, deploy)
    watcher = _watch_next(db)
    deployer = _eventstate("deploy", inventory_file, deploy_file, "--db", db)
    assert deployer.wait(timeout=60) == status
    out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == status, err
    assert ("failed (" if status else "success (") in out.splitlines()[-1]


def _executing(watcher: subprocess.Popen[str]) -> list[str]:
    """The watcher's lines up to the first op's outcome: the deploy is executing."""
    assert watcher.stdout is not None
    lines = []
    for line in watcher.stdout:
        lines.append(line)
        if "HostOperationFinished" in line:
            return lines
    raise AssertionError(f"the deploy never executed a command: {lines}")


def test_watch_exits_130_when_the_deploy_is_interrupted(tmp_path: Path, db: Path) -> None:
    inventory, deploy_file = _files(tmp_path, LONG_INVENTORY, LONG_DEPLOY)
    watcher = _watch_next(db)
    deployer = _eventstate("deploy", inventory, deploy_file, "--db", db, "--sync")
    try:
        _executing(watcher)
        deployer.send_signal(signal.SIGINT)
        assert deployer.wait(timeout=60) == 130
        out, err = watcher.communicate(timeout=60)
    finally:
        for process in (watcher, deployer):
            if process.poll() is None:
                process.kill()
    assert watcher.returncode == 130, err
    assert "RunFinished" in out and "interrupted (" in out.splitlines()[-1]


def test_watch_exits_when_the_writer_dies(tmp_path: Path, db: Path) -> None:
    # Killed outright: no end recorded; its heartbeats (every 5 flush delays) stop.
    inventory, deploy_file = _files(tmp_path, LONG_INVENTORY, LONG_DEPLOY)
    watcher = _watch_next(db)
    deployer = _eventstate(
        "deploy", inventory, deploy_file, "--db", db, "--sync", "--flush-delay", "0.1"
    )
    try:
        _executing(watcher)
        deployer.kill()
        deployer.wait(timeout=60)
        out, err = watcher.communicate(timeout=60)
    finally:
        for process in (watcher, deployer):
            if process.poll() is None:
                process.kill()
    assert watcher.returncode == 1, err
    last = out.splitlines()[-1]
    assert " interrupted (" in last and "its writer stopped" in last
    assert "RunFinished" not in out


def test_ctrl_c_stops_the_watch_with_130(tmp_path: Path, db: Path) -> None:
    inventory, deploy_file = _files(tmp_path, LONG_INVENTORY, LONG_DEPLOY)
    watcher = _watch_next(db)
    deployer = _eventstate("deploy", inventory, deploy_file, "--db", db)
    try:
        _executing(watcher)
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=60)
        assert watcher.returncode == 130, err
        assert "watch stopped (Ctrl-C): run " in err and " still running, " in err
        assert "Traceback" not in err
        assert deployer.poll() is None  # the deploy goes on
    finally:
        for process in (watcher, deployer):
            if process.poll() is None:
                process.kill()


# -- A run already over, in the same process --------------------------------------------------


def cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


@pytest.fixture
def finished(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    inventory, deploy_file = _files(tmp_path, QUICK_INVENTORY, QUICK_DEPLOY)
    db = tmp_path / "done.db"
    assert cli("deploy", inventory, deploy_file, "--db", db).exit_code == 1
    with SqliteEventLog(db, read_only=True) as log:
        run_id = log.runs()[-1].run_id
    yield db, run_id


def test_watching_a_finished_run_prints_it_and_exits_with_its_status(
    finished: tuple[Path, str],
) -> None:
    db, run_id = finished
    for args in ([run_id[:8]], ["--latest"], [], ["latest"]):
        result = cli("watch", *args, "--db", db)
        assert result.exit_code == 1, result.output
        with SqliteEventLog(db, read_only=True) as log:
            lines = [event_line(stored) for stored in log.read(run_id)]
        assert result.stdout.splitlines()[: len(lines)] == lines
        assert result.stdout.splitlines()[-1] == f"run {run_id} failed ({len(lines)} events)"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["nope"], "no run 'nope' in this log"),
        (["latest", "--next"], "give one of RUN, --latest and --next"),
        (["--latest", "--next"], "give one of RUN, --latest and --next"),
    ],
)
def test_watch_mistakes_are_one_line(
    finished: tuple[Path, str], args: list[str], said: str
) -> None:
    db, _ = finished
    result = cli("watch", *args, "--db", db)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"Error: {said}"] and result.stdout == ""


def test_watch_of_no_log_is_one_line(tmp_path: Path) -> None:
    result = cli("watch", "--db", tmp_path / "none.db")
    assert result.exit_code == 2
    assert result.stderr == f"Error: no event log at {tmp_path / 'none.db'}\n"
    assert not (tmp_path / "none.db").exists()  # a reader never makes a log


def test_on_a_terminal_the_hosts_progress_is_drawn_and_redrawn(
    finished: tuple[Path, str],
) -> None:
    db, run_id = finished
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "eventstate", "watch", run_id, "--db", str(db)],
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the watcher is gone
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 1
    text = output.decode()
    # The block -- a line for the run, a row per host -- drawn, then erased for the end.
    assert f"run {run_id[:12]}  failed  disconnect  3/4 ops  1 failed" in text
    assert "@sim/a  ok      2/2        0" in text and "@sim/b  failed  1/2        1" in text
    assert "\x1b[4F\x1b[J" in text
    with SqliteEventLog(db, read_only=True) as log:
        events = log.newest_seq(run_id)
    assert text.rstrip().endswith(f"run {run_id} failed ({events} events)")


# -- The follower, on a store in memory ---------------------------------------------------------


def _planned_run() -> RunBuilder:
    run = RunBuilder("run-f")
    run.add(
        RunStarted,
        user="u",
        machine="m",
        command_line=("eventstate",),
        engine_version="0",
        hosts=("h1", "h2"),
        groups={},
        config={"FLUSH_DELAY": 1.0},
    )
    for host in ("h1", "h2"):
        run.add(HostActivated, host=host)
    for name in ("first", "second"):
        run.add(OperationAdded, op_hash=name, names=(name,), op_order=(len(run.events),))
        for host in ("h1", "h2"):
            run.add(OperationAddedForHost, host=host, op_hash=name, is_change=True)
    run.add(StageChanged, stage=StateStage.Execute, previous=StateStage.Prepare)
    return run


def test_the_follower_reads_what_is_appended_and_tracks_each_hosts_progress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Now is the runs' time, so that a run with no end is running, not dead.
    monkeypatch.setattr(follow, "_now", lambda: _planned_run().events[0].at)
    log = MemoryEventLog()
    run = _planned_run()
    log.append(run.rows())
    follower = RunFollower(log, "run-f")
    assert [f.stored.seq for f in follower.poll(0)] == list(range(1, len(run.events) + 1))
    assert follower.poll(0) == [] and not follower.over and follower.status == "running"
    written = len(run.events)

    def more(event_class: type, **fields: object) -> None:
        nonlocal written
        run.add(event_class, **fields)
        log.append(run.rows()[written:])
        written = len(run.events)

    more(OperationStarted, op_hash="first")
    more(CommandExecuted, host="h1", op_hash="first", command="x", success=True)
    more(HostOperationFinished, host="h1", op_hash="first", outcome=OpOutcome.SUCCESS)
    assert [f.event.event_type for f in follower.poll(0)] == [
        "OperationStarted",
        "CommandExecuted",
        "HostOperationFinished",
    ]
    assert [(p.host, p.done, p.total, p.current, p.errors) for p in follower.progress()] == [
        ("h1", 1, 2, None, 0),
        ("h2", 0, 2, "first", 0),
    ]
    more(HostOperationFinished, host="h2", op_hash="first", outcome=OpOutcome.ERROR)
    more(StageChanged, stage=StateStage.Disconnect, previous=StateStage.Execute)
    more(RunFinished, status=RunStatus.FAILED)
    batches = list(follower.follow(step=0))
    assert [f.event.event_type for f in batches[0]] == [
        "HostOperationFinished",
        "StageChanged",
        "RunFinished",
    ]
    assert follower.over and follower.status == "failed"
    assert run_exit_status(follower) == 1


def test_a_run_whose_writer_died_is_over_for_the_follower() -> None:
    # Started long ago (the builder's time), no end, no heartbeat since: its writer died.
    log = MemoryEventLog()
    rows = sample_run("run-dead").rows()[:-1]
    log.append(rows)
    follower = RunFollower(log, "run-dead")
    assert [len(batch) for batch in follower.follow(step=0)] == [len(rows)]
    assert follower.over and follower.status == "interrupted"
    assert run_exit_status(follower) == 1


def test_the_clean_up_after_an_aborted_runs_end_is_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(follow, "END_GRACE", 0.0)
    log = MemoryEventLog()
    rows = sample_run("run-a").rows()  # ends before its Disconnect stage
    log.append(rows)
    follower = RunFollower(log, "run-a")
    follower.poll(0)
    assert follower.over  # no grace: over at once
    monkeypatch.setattr(follow, "END_GRACE", 3600.0)
    waiting = RunFollower(log, "run-a")
    waiting.poll(0)
    assert not waiting.over  # its stage change and disconnections may still come
