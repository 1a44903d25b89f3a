"""The durability contract, tested with real processes and real signals.

The contract (README): a crash loses at most the events of the last
``FLUSH_DELAY`` seconds -- none with ``--sync``; Ctrl-C and SIGTERM kill the
running commands, record the run as interrupted with the signal, and exit
130 / 143 with one line; a run being written is listed ``running``, a crashed
one ``interrupted``; a full disk is reported as what the log holds.

Each deploy runs as ``tests/reporting_deployer.py``: the real ``eventstate
deploy``, which also appends every event it records to a side file, so a test
that kills it knows what it had recorded and when.
"""

from __future__ import annotations

import json
import random
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from eventstate import SqliteEventLog
from eventstate.codec import EventCodec
from eventstate.errors import StoreNotFoundError
from eventstate.events import RunFinished, RunStatus

pytestmark = pytest.mark.durability

DEPLOYER = Path(__file__).parent / "reporting_deployer.py"

#: The tests' flush delay: small, so that the contract is tested at a small scale.
FLUSH_DELAY = 0.2
#: What a busy machine may add to the delay: the process may not be scheduled at once.
#: (Smaller than a heartbeat's period, so that heartbeats alone cannot keep the contract.)
LEEWAY = 0.5

INVENTORY = """\
hosts = ["@local", ("@sim/a", {"sim_latency": 0.05}), ("@sim/b", {"sim_latency": 0.02})]
"""

#: Short commands, one long one (3 s, on @local; the @sim hosts take their latency).
DEPLOY = """\
from eventstate.operations import server

for n in range(4):
    server.shell(f"sleep 0.1; echo {n}", name=f"short {n}")
server.shell("sleep 3", name="long")
for n in range(3):
    server.shell(f"sleep 0.2; echo {n}", name=f"after {n}")
"""

SEED = 20260314
KILLS = 50


def _files(tmp_path: Path, deploy: str = DEPLOY) -> tuple[Path, Path]:
    inventory = tmp_path / "inventory.py"
    inventory.write_text(INVENTORY)
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(deploy)
    return inventory, deploy_file


def _start(
    workdir: Path,
    inventory: Path,
    deploy_file: Path,
    *extra: str,
    preexec_fn: Callable[[], None] | None = None,
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    db = workdir / "log.db"
    side = workdir / "recorded.txt"
    process = subprocess.Popen(
        [
            sys.executable,
            str(DEPLOYER),
            str(side),
            "deploy",
            str(inventory),
            str(deploy_file),
            "--db",
            str(db),
            "--flush-delay",
            str(FLUSH_DELAY),
            *extra,
        ],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=preexec_fn,
    )
    return process, db, side


def _recorded(side: Path) -> list[tuple[int, float, str]]:
    """What the deployer reported recording: (seq, time, type), complete lines only."""
    if not side.exists():
        return []
    lines = side.read_text().split("\n")[:-1]  # the last may be cut by the kill
    return [(int(seq), float(at), kind) for seq, at, kind in (line.split() for line in lines)]


def _stored(db: Path) -> dict[str, list[tuple[int, str]]]:
    """Each run's stored (seq, type), read after the writer is gone."""
    try:
        log = SqliteEventLog(str(db), create=False)
    except StoreNotFoundError:
        return {}  # killed before the log was made
    try:
        return {
            summary.run_id: [(e.seq, e.type) for e in log.read(summary.run_id)]
            for summary in log.runs()
        }
    finally:
        log.close()


def _kill_at(
    tmp_path: Path, index: int, from_start: bool, delay: float, sync: bool
) -> dict[str, object]:
    workdir = tmp_path / f"kill{index}"
    workdir.mkdir()
    inventory, deploy_file = _files(workdir)
    process, db, side = _start(workdir, inventory, deploy_file, *(["--sync"] if sync else []))
    if from_start:
        time.sleep(delay)  # while starting: before, during or after the run's first events
    else:
        _wait_for(side)  # a loaded machine starts Python slowly: count from the run's start
        time.sleep(delay)
    killed_at = time.time()
    process.kill()
    process.communicate()
    recorded = _recorded(side)
    runs = _stored(db)
    assert len(runs) <= 1
    stored = next(iter(runs.values()), [])
    # Gapless and in order: what is stored is a prefix of what was recorded.
    assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
    assert [kind for _, kind in stored] == [kind for _, _, kind in recorded[: len(stored)]]
    if sync:
        # Reported only once record() returned, committed: nothing reported is lost.
        must_have = recorded
    else:
        must_have = [e for e in recorded if e[1] < killed_at - FLUSH_DELAY - LEEWAY]
    if recorded:
        # A run that started leaves a trace: its RunStarted is written at once.
        assert stored, f"kill {index} after {delay:.2f}s: the run left no trace"
    lost = [e for e in must_have if e[0] > len(stored)]
    assert not lost, (
        f"kill {index} after {delay:.2f}s (sync={sync}): lost {lost} "
        f"(stored {len(stored)} of {len(recorded)} recorded)"
    )
    # How long the deploy had been waiting (heartbeats aside) when it was killed.
    work = [at for _, at, kind in recorded if kind != "HeartbeatRecorded"]
    idle = killed_at - work[-1] if work else 0.0
    return {"recorded": len(recorded), "stored": len(stored), "idle": idle, "sync": sync}


def test_sigkill_at_seeded_points_loses_no_more_than_the_contract(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    # Over the whole deploy: starting, preparing, the short ops, the long one, the end.
    points = []
    for i in range(KILLS):
        from_start = rng.random() < 0.2
        delay = rng.uniform(0.0, 1.5) if from_start else rng.uniform(0.0, 4.8)
        points.append((i, from_start, delay, rng.random() < 0.3))
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda point: _kill_at(tmp_path, *point), points))
    assert len(outcomes) >= 50
    # The kills the timer matters for: nothing recorded for a while before the kill (a
    # long command), with rows older than the flush delay that only a timer writes.
    during_waits = [o for o in outcomes if not o["sync"] and o["idle"] > FLUSH_DELAY + LEEWAY]
    assert len(during_waits) >= 8, outcomes
    assert sum(1 for o in outcomes if o["sync"]) >= 8


def _group_alive(group: int) -> bool:
    """Whether a process of process group ``group`` is alive (zombies are dead)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def _wait_for(path: Path) -> str:
    for _ in range(600):
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def _end_of(db: Path) -> RunFinished:
    log = SqliteEventLog(str(db), create=False)
    try:
        (summary,) = log.runs()
        ends = [
            EventCodec().decode(e.payload)
            for e in log.read(summary.run_id)
            if e.type == RunFinished.event_type
        ]
    finally:
        log.close()
    assert len(ends) == 1
    end = ends[0]
    assert isinstance(end, RunFinished)
    return end


@pytest.mark.parametrize(("signal_number", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_kills_the_commands_records_the_run_interrupted_and_exits(
    tmp_path: Path, signal_number: int, status: int
) -> None:
    pid_file = tmp_path / "command.pid"
    inventory, deploy_file = _files(
        tmp_path,
        "from eventstate.operations import server\n"
        "server.shell('echo before')\n"
        f"server.shell('echo $$ > {pid_file}; sleep 60 & wait')\n"
        "server.shell('echo never')\n",
    )
    process, db, _ = _start(tmp_path, inventory, deploy_file)
    group = int(_wait_for(pid_file))  # the command's shell leads its own process group
    assert _group_alive(group)
    process.send_signal(signal_number)
    stdout, stderr = process.communicate(timeout=30)
    name = signal.Signals(signal_number).name
    assert process.returncode == status
    # Only the progress lines a piped deploy prints as it goes: no results table.
    progress = re.compile(rb"(connect|prepare|execute): |op \d+/\d+ ")
    assert [line for line in stdout.splitlines() if not progress.match(line)] == []
    lines = stderr.decode().splitlines()
    assert len(lines) == 1, stderr.decode()
    assert lines[0].startswith(f"Interrupted by {name}: run ")
    (stored,) = _stored(db).values()
    assert f"interrupted ({len(stored)} events in " in lines[0]
    assert not _group_alive(group)
    end = _end_of(db)
    assert (end.status, end.signal, end.error) == (
        RunStatus.INTERRUPTED,
        name,
        f"interrupted by {name}",
    )
    stored_types = [kind for _, kind in next(iter(_stored(db).values()))]
    # Its commands' outcomes come before the end; no op starts after it.
    assert "OperationStarted" not in stored_types[stored_types.index("RunFinished") :]


def _listed(db: Path) -> list[dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "eventstate", "runs", "--db", str(db), "--json"],
        capture_output=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_a_run_being_written_is_running_and_a_crashed_one_interrupted(tmp_path: Path) -> None:
    pid_file = tmp_path / "command.pid"
    inventory, deploy_file = _files(
        tmp_path,
        "from eventstate.operations import server\n"
        f"server.shell('echo $$ > {pid_file}; sleep 60 & wait')\n",
    )
    process, db, side = _start(tmp_path, inventory, deploy_file)
    _wait_for(pid_file)
    # Long after the last ordinary event, heartbeats keep the run alive.
    last_event = _recorded(side)[-1][1]
    while time.time() < last_event + 4 * FLUSH_DELAY * 5:
        time.sleep(0.2)
    (listed,) = _listed(db)
    assert listed["status"] == "running"
    assert any(kind == "HeartbeatRecorded" for _, kind in next(iter(_stored(db).values())))
    process.kill()
    process.communicate()
    # Two heartbeats and a flush delay without a sign of life: the deployer is dead.
    time.sleep(11 * FLUSH_DELAY + 0.5)
    (listed,) = _listed(db)
    assert listed["status"] == "interrupted"
    assert listed["finished_at"] is None


def _limit_file_size(size: int) -> Callable[[], None]:
    def limit() -> None:
        # A full disk, for this process only: writes past `size` bytes fail (EFBIG).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


@pytest.mark.parametrize(
    ("phase", "deploy"),
    [
        (
            "executing",
            "from eventstate.operations import server\n"
            "for n in range(40):\n"
            "    server.shell(f\"head -c 60000 /dev/zero | tr '\\\\0' {n % 10}\")\n",
        ),
        (
            "preparing",
            "from eventstate.operations import server\n"
            "for n in range(4000):\n"
            "    server.shell('echo ' + str(n) * 40, name=f'op {n}')\n",
        ),
    ],
)
def test_a_full_disk_is_reported_as_the_log_holds_it(
    tmp_path: Path, phase: str, deploy: str
) -> None:
    inventory = tmp_path / "inventory.py"
    inventory.write_text('hosts = ["@local"]\n')
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(deploy)
    process, db, _ = _start(tmp_path, inventory, deploy_file, preexec_fn=_limit_file_size(400_000))
    _, stderr = process.communicate(timeout=60)
    said = stderr.decode()
    assert process.returncode == 2, said
    # The store's error, and what the log holds: no traceback, no gevent report.
    assert [line.split(" ")[0] for line in said.splitlines()] == ["Error:", "run"], said
    assert "disk" in said.lower() or "full" in said.lower() or "large" in said.lower(), said
    assert "deploy.py:" not in said  # the user's file is not to blame
    assert "aborted" not in said
    time.sleep(11 * FLUSH_DELAY + 0.5)  # no heartbeat since: not running any more
    (listed,) = _listed(db)
    # What the CLI said the log holds is what the log holds.
    assert f"interrupted, its end not recorded ({listed['event_count']} events in " in said
    assert listed["status"] == "interrupted"
