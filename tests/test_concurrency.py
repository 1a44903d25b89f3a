"""Readers never write; writers never trip each other: real processes on real files.

The read commands open the log read-only: they leave it byte-identical, read
a log their user may only read (0444, another user's, at rest or being
written), and never fail while deploys write. Writers wait for each other:
many first writers may create the same new log at once.

The tests with many processes are marked ``slow_concurrency`` (``.ci/run``
runs them with the rest). The suite runs as root: a reader "as another user"
runs with that user's ids and no privilege but CAP_DAC_READ_SEARCH, which
lets it reach the interpreter under /root (and read any file) but write only
what that user may write -- nothing of the log's.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eventstate import Config, Inventory, SqliteEventLog, State
from eventstate.cli import main
from eventstate.replay import read_log, verify_run
from eventstate.replay.run import OVERVIEW_VERSION, PROJECTION_VERSION, SNAPSHOT_INTERVAL
from eventstate.testing.contract import stored_events

CLIENTS = Path(__file__).with_name("log_clients.py")


def _deploy_file(directory: Path, ops: int) -> Path:
    """A deploy file of ``ops`` shell operations."""
    path = directory / f"deploy_{ops}.py"
    path.write_text(
        "from eventstate.operations import server\n"
        + "".join(f"server.shell(name='step {i}', commands=['echo {i}'])\n" for i in range(ops))
    )
    return path


def _sim_hosts(count: int) -> str:
    return ",".join(f"@sim/h{i}" for i in range(count))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed log of two runs, one longer than a snapshot interval (none stored)."""
    directory = tmp_path_factory.mktemp("template")
    path = directory / "events.db"
    for hosts, ops in ((2, 3), (30, 70)):  # the second: ~30 x 70 events, one per host-op
        deploy = ["deploy", _sim_hosts(hosts), str(_deploy_file(directory, ops)), "--db", str(path)]
        result = CliRunner().invoke(main, deploy)
        assert result.exit_code == 0, result.output
    assert not Path(f"{path}-wal").exists()  # closed: everything is in the file
    with read_log(path) as log:
        assert max(summary.last_seq for summary in log.log.runs()) > SNAPSHOT_INTERVAL
    return path


@pytest.fixture
def log_copy(template: Path) -> Iterator[Path]:
    """A copy of the template log, in a directory of its own that every user may reach
    (as a shared log's is) but only root may write."""
    directory = Path(tempfile.mkdtemp(prefix="eventstate-shared-"))
    try:
        directory.chmod(0o755)
        path = directory / "events.db"
        shutil.copy(template, path)
        yield path
    finally:
        shutil.rmtree(directory)


def _digest(path: Path) -> dict[str, str]:
    """The hashes of the log and of what its -wal file holds.

    A reader may leave an empty -wal file (and the -shm index) where it may
    make them: SQLite's means of reading a WAL log with locks, not its content.
    """
    found = {}
    for file in (path, Path(f"{path}-wal")):
        if file.exists() and file.stat().st_size:
            found[file.name] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found


def _snapshot_rows(path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0])
    finally:
        conn.close()


def test_reading_leaves_the_log_byte_identical_and_stores_no_snapshot(log_copy: Path) -> None:
    # In-process, as root: only the read-only open keeps these commands from writing.
    before = _digest(log_copy)
    snapshots = _snapshot_rows(log_copy)  # the deploys' own (the writer stores them)
    runner = CliRunner()
    ids = [
        run["run_id"]
        for run in json.loads(runner.invoke(main, ["runs", "--json", "--db", str(log_copy)]).stdout)
    ]
    for args in (["runs"], ["verify"], *(["show", i] for i in ids), *(["state", i] for i in ids)):
        result = runner.invoke(main, [*args, "--db", str(log_copy)])
        assert result.exit_code == 0, (args, result.output)
    assert _digest(log_copy) == before
    assert _snapshot_rows(log_copy) == snapshots


def test_snapshot_command_stores_them_and_readers_use_them(log_copy: Path) -> None:
    runner = CliRunner()
    db = ["--db", str(log_copy)]
    with read_log(log_copy) as log:
        long_id = max(log.log.runs(), key=lambda summary: summary.last_seq).run_id
        last = log.run(long_id).last_seq
        before = log.run(long_id).state()
    result = runner.invoke(main, ["snapshot", long_id[:8], *db])
    assert result.exit_code == 0, result.output
    expected = [*range(SNAPSHOT_INTERVAL, last + 1, SNAPSHOT_INTERVAL), last]
    assert result.output == (
        f"run {long_id}: {len(expected)} snapshot(s) stored, after event(s) "
        f"{', '.join(map(str, expected))}\n"
    )
    with read_log(log_copy) as log:
        store = log.log.snapshots()
        for seq in expected:
            assert store.latest(long_id, seq, PROJECTION_VERSION)[0] == seq  # type: ignore[index]
        assert log.run(long_id).state() == before
    # Readers still write nothing, now that there are snapshots to read.
    digest = _digest(log_copy)
    assert runner.invoke(main, ["state", long_id, "--at", str(last - 1), *db]).exit_code == 0
    assert _digest(log_copy) == digest


def test_snapshot_of_a_missing_log_or_run_is_one_line(tmp_path: Path, log_copy: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["snapshot", "abc", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 2
    assert missing.stderr == f"Error: no event log at {tmp_path / 'none.db'}\n"
    assert not (tmp_path / "none.db").exists()
    unknown = runner.invoke(main, ["snapshot", "zzz", "--db", str(log_copy)])
    assert (unknown.exit_code, unknown.stderr) == (2, "Error: no run 'zzz' in this log\n")


# Another user


@pytest.fixture(scope="module")
def reader() -> Iterator[str]:
    """A user made for these tests (and removed afterwards), who owns nothing of the logs."""
    name = f"es-ro-{secrets.token_hex(4)}"
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)


def _as(user: str | None) -> list[str]:
    """The command prefix that runs a program as ``user`` (None: as this process)."""
    if user is None:
        return []
    return [
        "setpriv",
        f"--reuid={user}",
        f"--regid={user}",
        "--clear-groups",
        "--inh-caps=+dac_read_search",
        "--ambient-caps=+dac_read_search",
    ]


def _client(*args: str, user: str | None = None) -> Any:
    result = subprocess.run(
        [*_as(user), sys.executable, str(CLIENTS), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": "/nonexistent"} if user else None,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _check_every_read(results: list[dict[str, Any]]) -> None:
    assert len(results) > 20
    for result in results:
        allowed = (0, 1) if result["args"][0] == "diff" else (0,)  # diff: 1 when runs differ
        assert result["exit"] in allowed and not result["exception"], result
        # Nothing on stderr but verify's notes (what no local check can tell).
        said = result["stderr"].splitlines()
        assert not [line for line in said if not line.startswith("note: ")], result
    verified = [r["stdout"] for r in results if r["args"][:2] == ["verify", "--db"]]
    assert verified and all(line.endswith("verified") for line in verified[0].splitlines())


@pytest.mark.slow_concurrency
@pytest.mark.parametrize(
    "case",
    [
        "0444, read by root",
        "0444, read by its owner who may not write the directory",
        "another user's log at rest, 0644",
        "another user's log being written, 0644",
    ],
)
def test_a_log_that_may_only_be_read_is_read_by_every_read_command(
    case: str, log_copy: Path, reader: str
) -> None:
    user = None if case.endswith("root") else reader
    if "0444" in case:
        if user is not None:
            shutil.chown(log_copy, user, user)
        os.chmod(log_copy, 0o444)
    else:
        os.chmod(log_copy, 0o644)
    writer = None
    if "being written" in case:
        # A deploy holds the log open, its first events in the -wal file only.
        writer = SqliteEventLog(log_copy)
        state = State(Inventory((["@sim/new"], {})), Config(), log=writer)
        state.activate_host(state.inventory.get_host("@sim/new"))
        state.flush()
        assert Path(f"{log_copy}-wal").stat().st_size > 0
    try:
        before = _digest(log_copy)
        results = _client("read-all", str(log_copy), user=user)
        assert _digest(log_copy) == before
    finally:
        if writer is not None:
            writer.close()
    _check_every_read(results)
    listed = results[0]["stdout"]
    assert len(listed.splitlines()) == (4 if writer is not None else 3), listed
    if writer is not None:
        assert state.run_id[:8] in listed  # read from the -wal, not only from the file


@pytest.mark.slow_concurrency
def test_a_log_read_without_locks_is_read_again_once_a_writer_comes(
    log_copy: Path, reader: str
) -> None:
    # Another user's log at rest: SQLite cannot make its -wal and -shm files, so the
    # reader reads the file without locks, and must notice any writer that comes.
    os.chmod(log_copy, 0o644)
    watcher = subprocess.Popen(
        [*_as(reader), sys.executable, str(CLIENTS), "watch", str(log_copy)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": "/nonexistent"},
    )
    assert watcher.stdin is not None and watcher.stdout is not None

    def seen() -> dict[str, Any]:
        line = watcher.stdout.readline()  # type: ignore[union-attr]
        assert line, watcher.stderr.read() if watcher.stderr else ""
        return json.loads(line)

    def look() -> dict[str, Any]:
        watcher.stdin.write("\n")  # type: ignore[union-attr]
        watcher.stdin.flush()  # type: ignore[union-attr]
        return seen()

    try:
        first = seen()
        assert first["unlocked"] and first["runs"] == 2
        # A writer came and went: its commits are in the file now, which changed.
        with SqliteEventLog(log_copy) as writer:
            writer.append(stored_events("run-gone", 1500))
        assert not Path(f"{log_copy}-wal").exists()
        second = look()
        assert (second["runs"], second["events"]) == (3, first["events"] + 1500)
        # A writer that stays: its commits are in its -wal file, read with locks.
        with SqliteEventLog(log_copy) as writer:
            writer.append(stored_events("run-open", 7))
            third = look()
            assert (third["unlocked"], third["runs"]) == (False, 4)
            assert third["events"] == second["events"] + 7
    finally:
        watcher.stdin.close()
        watcher.wait(timeout=60)
    assert watcher.returncode == 0, watcher.stderr.read() if watcher.stderr else ""


# Many processes


def _ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line == "ready\n", (line, process.stderr.read() if process.stderr else "")


@pytest.mark.slow_concurrency
def test_racing_first_writers_all_create_the_same_log(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    creators = [
        subprocess.Popen(
            [sys.executable, str(CLIENTS), "create", str(path), "3"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(12)
    ]
    for process in creators:
        _ready(process)  # every one has loaded eventstate: they start together
    for process in creators:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    made = []
    for process in creators:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        made.append(json.loads(out.splitlines()[-1]))
    with read_log(path) as log:
        stored = {summary.run_id: summary.last_seq for summary in log.log.runs()}
        assert stored == {run["run_id"]: run["events"] for run in made}
        for run_id in stored:
            report = verify_run(log.log, run_id)
            assert report.ok, str(report)


_DONE = re.compile(r"^run ([0-9a-f]{32}) (\w+) \((\d+) events in ", re.MULTILINE)


@pytest.mark.slow_concurrency
def test_four_deployers_and_two_readers_on_one_log(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    deploy = _deploy_file(tmp_path, 70)
    hosts = _sim_hosts(30)  # runs longer than a snapshot interval
    SqliteEventLog(path).close()  # readers start before the first deploy
    stop = tmp_path / "stop"
    readers = [
        subprocess.Popen(
            [sys.executable, str(CLIENTS), "read-loop", str(path), str(stop)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    command = [sys.executable, "-m", "eventstate", "deploy", hosts, str(deploy), "--db", str(path)]
    deployed: list[tuple[str, str, int]] = []
    try:
        writers = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        for process in writers:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            assert not err, err
            found = _DONE.search(out)
            assert found is not None, out
            deployed.append((found[1], found[2], int(found[3])))
    finally:
        stop.touch()
        summaries = []
        for process in readers:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            summaries.append(json.loads(out))
    for summary in summaries:
        assert summary["iterations"] >= 2
        assert summary["errors"] == [], summary["errors"][:3]
    # Nothing lost: every deploy's run, whole, ended and verified.
    assert len(deployed) == 4 and all(status == "success" for _, status, _ in deployed)
    with read_log(path) as log:
        stored = {summary.run_id: summary.last_seq for summary in log.log.runs()}
        assert stored == {run_id: events for run_id, _, events in deployed}
        for run_id in stored:
            assert verify_run(log.log, run_id).ok
            assert log.run(run_id).state().run.status.value == "success"  # type: ignore[union-attr]
        assert min(stored.values()) > SNAPSHOT_INTERVAL
    # The writers stored their runs' snapshots as they went (at least SNAPSHOT_INTERVAL
    # events apart, the last after the run's last event) and each run's overview at its
    # end; the readers stored none.
    written = 0
    with read_log(path) as log:
        for run_id, last in stored.items():
            entries = log.log.snapshots().entries(run_id)
            views = [seq for seq, version in entries if version == PROJECTION_VERSION]
            assert views[-1] == last
            assert all(b - a >= SNAPSHOT_INTERVAL for a, b in itertools.pairwise(views[:-1]))
            assert (last, OVERVIEW_VERSION) in entries
            written += len(entries)
    assert _snapshot_rows(path) == written
