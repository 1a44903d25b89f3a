"""Real deploys into a real PostgreSQL server, through the command line.

A ``@sim`` deploy with ``--db postgresql://...``; eight deployer processes into one
database at once (half of them committing every event) while two readers loop over
the read commands -- every run whole, gapless and verified, nothing on anyone's
stderr; and every read command (``runs``, ``show``, ``events``, ``state --at``,
``step``, ``diff``, ``verify``, ``export``, ``rerun``, ``timeline``, ``head``) on a
shared log, as a role that may only read it, so no reader can have written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from postgres_server import PostgresServer, running_postgres

from eventstate.replay import read_log, verify_log, verify_run
from eventstate.replay.run import SNAPSHOT_INTERVAL
from eventstate.stores import PostgresEventLog, SqliteEventLog

CLIENTS = Path(__file__).with_name("log_clients.py")

_DONE = re.compile(r"^run ([0-9a-f]{32}) (\w+) \((\d+) events in ", re.MULTILINE)


@pytest.fixture(scope="module")
def server() -> PostgresServer:
    return running_postgres()


def _deploy_file(directory: Path, ops: int) -> Path:
    path = directory / f"deploy_{ops}.py"
    path.write_text(
        "from eventstate.operations import server\n"
        + "".join(f"server.shell(name='step {i}', commands=['echo {i}'])\n" for i in range(ops))
    )
    return path


def _hosts(count: int) -> str:
    return ",".join(f"@sim/h{i}" for i in range(count))


def _eventstate(
    *args: str, check: bool = True, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "eventstate", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    if check:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


def _counts(url: str) -> tuple[int, int]:
    """How many events and snapshots the database holds."""
    with psycopg.connect(url) as conn:
        events = conn.execute("SELECT count(*) FROM eventstate.events").fetchone()
        snapshots = conn.execute("SELECT count(*) FROM eventstate.snapshots").fetchone()
    assert events is not None and snapshots is not None
    return int(events[0]), int(snapshots[0])


def _gapless(log: PostgresEventLog, run_id: str) -> int:
    seqs = [event.seq for event in log.read(run_id)]
    assert seqs == list(range(1, len(seqs) + 1)), run_id
    return len(seqs)


def test_a_sim_deploy_into_postgresql(server: PostgresServer, tmp_path: Path) -> None:
    url = server.url(server.new_database())
    deploy = _deploy_file(tmp_path, 3)
    result = _eventstate("deploy", "@sim/web-1,@sim/数据库-2", str(deploy), "--db", url)
    assert not result.stderr, result.stderr
    found = _DONE.search(result.stdout)
    assert found is not None and found[2] == "success", result.stdout
    run_id, events = found[1], int(found[3])
    with PostgresEventLog(url, read_only=True) as log:
        assert [(r.run_id, r.last_seq) for r in log.runs()] == [(run_id, events)]
        assert _gapless(log, run_id) == events
        assert verify_run(log, run_id).ok
        assert log.check_guards() == []
    listed = json.loads(_eventstate("runs", "--json", "--db", url).stdout)
    assert [run["run_id"] for run in listed] == [run_id]
    # The URL's user is never printed (the CLI shows the log as shown_url does).
    assert "eventstate@" not in result.stdout + _eventstate("verify", "--db", url).stdout
    # EVENTSTATE_DB names the log when --db is not given; postgres:// is the same store.
    other = {"EVENTSTATE_DB": url.replace("postgresql://", "postgres://")}
    second = _eventstate("deploy", "@sim/web-1", str(deploy), env=other, cwd=tmp_path)
    listed = json.loads(_eventstate("runs", "--json", env=other, cwd=tmp_path).stdout)
    assert [run["run_id"] for run in listed][::-1] == [run_id, _DONE.findall(second.stdout)[0][0]]
    assert _eventstate("verify", env=other, cwd=tmp_path).returncode == 0
    assert not (tmp_path / "eventstate.db").exists()  # not the default SQLite file


@pytest.mark.slow_concurrency
def test_eight_concurrent_deployers_lose_nothing(server: PostgresServer, tmp_path: Path) -> None:
    url = server.url(server.new_database())
    PostgresEventLog(url).close()  # the readers start before the first deploy
    deploy = _deploy_file(tmp_path, 12)
    stop = tmp_path / "stop"
    readers = [
        subprocess.Popen(
            [sys.executable, str(CLIENTS), "read-loop", url, str(stop)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    deployed: list[tuple[str, str, int]] = []
    command = [sys.executable, "-m", "eventstate", "deploy"]
    try:
        writers = [
            subprocess.Popen(
                [*command, _hosts(12 + index), str(deploy), "--db", url]
                + (["--sync"] if index % 2 else []),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for index in range(8)
        ]
        for process in writers:
            out, err = process.communicate(timeout=600)
            assert process.returncode == 0, err
            assert not err, err
            found = _DONE.search(out)
            assert found is not None, out
            deployed.append((found[1], found[2], int(found[3])))
    finally:
        stop.touch()
        summaries = []
        for process in readers:
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, err
            summaries.append(json.loads(out))
    for summary in summaries:
        assert summary["iterations"] >= 2
        assert summary["errors"] == [], summary["errors"][:3]
    # Nothing lost: every deploy's run, whole, gapless, ended and verified.
    assert len(deployed) == 8 and all(status == "success" for _, status, _ in deployed)
    with read_log(url) as replay:
        log = replay.log
        assert isinstance(log, PostgresEventLog)
        stored = {summary.run_id: summary.last_seq for summary in log.runs()}
        assert stored == {run_id: events for run_id, _, events in deployed}
        for run_id, events in stored.items():
            assert _gapless(log, run_id) == events
            assert verify_run(log, run_id).ok
            assert replay.run(run_id).state().run.status.value == "success"  # type: ignore[union-attr]
        report = verify_log(log)
        assert report.ok, str(report)
    # Each run names the log's head when it began: an event of another run, still there
    # with that hash -- or none, for the deployers that read the log before any run's start
    # was committed (at least the first; racing starters may read it empty together).
    with PostgresEventLog(url, read_only=True) as log:
        heads = [json.loads(next(iter(log.read(run_id, 1, 1))).payload) for run_id in stored]
        assert any(head["head_run_id"] is None for head in heads)
        for head in heads:
            if head["head_run_id"] is not None:
                (named,) = log.read(head["head_run_id"], head["head_seq"], head["head_seq"])
                assert named.hash == head["head_hash"]
    assert _counts(url)[0] == sum(stored.values())


@pytest.fixture(scope="module")
def shared_log(server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with three deploys in it, one longer than a snapshot interval."""
    directory = tmp_path_factory.mktemp("pg-shared")
    database = server.new_database("shared")
    url = server.url(database)
    for hosts, ops in ((2, 3), (40, 25), (3, 2)):
        _eventstate("deploy", _hosts(hosts), str(_deploy_file(directory, ops)), "--db", url)
    with PostgresEventLog(url, read_only=True) as log:
        assert max(summary.last_seq for summary in log.runs()) > SNAPSHOT_INTERVAL
    return database


def _client(*args: str) -> Any:
    result = subprocess.run(
        [sys.executable, str(CLIENTS), *args], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_read_command_as_a_role_that_may_only_read(
    server: PostgresServer, shared_log: str, tmp_path: Path
) -> None:
    owner = server.url(shared_log)
    role = f"auditor_{shared_log}"
    server.sql(f"CREATE ROLE {role} LOGIN")
    with PostgresEventLog(owner) as log:
        log.grant_reader(role)
    reader = server.url(shared_log, user=role)
    before = _counts(owner)
    results = _client("read-all", reader)
    assert _counts(owner) == before  # no row, no snapshot
    assert len(results) > 20
    for result in results:
        allowed = (0, 1) if result["args"][0] in ("diff", "rerun") else (0,)
        assert result["exit"] in allowed and not result["exception"], result
        said = result["stderr"].splitlines()
        assert not [line for line in said if not line.startswith("note: ")], result
    verified = [r["stdout"] for r in results if r["args"][:2] == ["verify", "--db"]]
    assert verified and all(line.endswith("verified") for line in verified[0].splitlines())
    runs = json.loads(_eventstate("runs", "--json", "--db", reader).stdout)
    newest = runs[0]["run_id"]
    page = tmp_path / "timeline.html"
    _eventstate("timeline", newest, "--html", str(page), "--db", reader)
    assert newest in page.read_text()
    head = json.loads(_eventstate("head", "--json", "--db", reader).stdout)
    assert head["run_id"] == newest
    anchored = _eventstate("verify", "--db", reader, "--anchor", head["anchor"], check=False)
    assert anchored.returncode == 0, anchored.stdout + anchored.stderr


def test_snapshot_export_and_import_between_postgresql_and_sqlite(
    server: PostgresServer, shared_log: str, tmp_path: Path
) -> None:
    owner = server.url(shared_log)
    runs = json.loads(_eventstate("runs", "--json", "--db", owner).stdout)
    long_run = max(runs, key=lambda run: run["event_count"])["run_id"]
    # snapshot writes: as the owner, into the table beside the events.
    _eventstate("snapshot", long_run, "--db", owner)
    with PostgresEventLog(owner, read_only=True) as log:
        assert log.snapshots().entries(long_run)
    # PostgreSQL -> SQLite -> another PostgreSQL database: the same bytes everywhere.
    exported = tmp_path / "run.jsonl"
    _eventstate("export", long_run, "--db", owner, "-o", str(exported))
    sqlite = tmp_path / "copy.db"
    _eventstate("import", str(exported), "--db", str(sqlite))
    again = tmp_path / "again.jsonl"
    _eventstate("export", long_run, "--db", str(sqlite), "-o", str(again))
    assert again.read_bytes() == exported.read_bytes()
    other = server.url(server.new_database())
    _eventstate("import", str(again), "--db", other)
    assert _eventstate("verify", long_run, "--db", other).returncode == 0
    with PostgresEventLog(other, read_only=True) as imported, SqliteEventLog(sqlite) as copy:
        with PostgresEventLog(owner, read_only=True) as source:
            assert list(imported.read(long_run)) == list(source.read(long_run))
        assert list(copy.read(long_run)) == list(imported.read(long_run))
    assert os.stat(exported).st_mode & 0o777 == 0o600
