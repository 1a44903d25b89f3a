"""Copying runs between stores: the exact rows, chains intact, idempotent, verified.

The runs are real ``@sim`` deploys. A copy goes through a chain of stores named by
:data:`STORES` -- each hop copies every run into the next store, and the run must read
back byte-identical and verify in each. A store is one entry of :data:`STORES` (a
PostgreSQL entry gets its URL from the server fixture); a chain one of :data:`CHAINS`.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner, Result
from postgres_server import running_postgres

from eventstate.cli import main
from eventstate.errors import IntegrityError
from eventstate.events import HeartbeatRecorded
from eventstate.replay import Run, export_lines, verify_log
from eventstate.replay.copy import COPY_BATCH, RunAction, copy_runs, plan_copy
from eventstate.stores import EventLog, MemoryEventLog, SqliteEventLog, open_log
from eventstate.testing import stored_events
from eventstate.testing.runs import sample_run

INVENTORY = """\
hosts = [("@sim/web1", {}), ("@sim/web2", {"sim_fail_patterns": {"boom": 1.0}})]
"""

DEPLOY = """\
from eventstate.operations import server

server.shell("echo hello", name="hello")
server.shell("echo boom", name="may fail")
server.shell("echo done", name="done")
"""

#: Each kind of store a chain can go through: ``(tmp_path, request, name)`` -> its URL.
STORES: dict[str, Callable[[Path, pytest.FixtureRequest, str], str]] = {
    "sqlite": lambda tmp, request, name: f"sqlite:///{tmp}/{name}.db",
    "memory": lambda tmp, request, name: "memory://",
    # A new database of the session's throwaway server: a log of its own, empty.
    "postgresql": lambda tmp, request, name: running_postgres().url(
        running_postgres().new_database(name)
    ),
}

#: The chains of stores a copy is tested through: the first is the source of the deploys.
CHAINS = [
    ("sqlite", "sqlite", "memory"),
    ("sqlite", "sqlite", "sqlite"),
    # A laptop's runs pushed into the team's log, and pulled back out: the same bytes.
    ("sqlite", "postgresql", "sqlite"),
]


def cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite log of three real runs (one with a failed host), linked one to the next."""
    base = tmp_path_factory.mktemp("copy")
    (base / "inventory.py").write_text(INVENTORY)
    (base / "deploy.py").write_text(DEPLOY)
    db = base / "source.db"
    for _ in range(3):
        result = cli("deploy", base / "inventory.py", base / "deploy.py", "--db", db)
        assert result.exit_code in (0, 1), result.output
    return db


@pytest.fixture
def source_db(deployed: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "source.db"
    shutil.copy(deployed, copy)
    return copy


def _rows(log: EventLog) -> dict[str, list[object]]:
    return {summary.run_id: list(log.read(summary.run_id)) for summary in log.runs()}


def _exported(log: EventLog, run_id: str) -> str:
    return "".join(export_lines(Run(log, run_id)))


@pytest.fixture(params=CHAINS, ids="-".join)
def chain(
    request: pytest.FixtureRequest, tmp_path: Path, source_db: Path
) -> Iterator[list[EventLog]]:
    """The chain's stores, opened (and kept open: an in-memory one lives as long as its
    handle); the first holds the deployed runs."""
    kinds: tuple[str, ...] = request.param
    logs: list[EventLog] = []
    try:
        for index, kind in enumerate(kinds):
            url = STORES[kind](tmp_path, request, f"store{index}")
            if index == 0:
                shutil.copy(source_db, url.removeprefix("sqlite:///") if kind == "sqlite" else url)
            logs.append(open_log(url))
        yield logs
    finally:
        for log in logs:
            log.close()


def test_runs_copied_through_the_chain_are_byte_identical_and_verify_in_each(
    chain: list[EventLog],
) -> None:
    source = chain[0]
    expected = _rows(source)
    assert len(expected) == 3
    exports = {run_id: _exported(source, run_id) for run_id in expected}
    for before, after in itertools.pairwise(chain):
        report = copy_runs(before, after)
        assert report.copied == tuple(expected) and report.skipped == ()
        assert report.events == sum(len(rows) for rows in expected.values())
        # Row for row: payloads, hashes, timestamps, hosts -- and in the source's order.
        assert _rows(after) == expected
        assert {run_id: _exported(after, run_id) for run_id in expected} == exports
        verified = verify_log(after)
        assert verified.ok, verified.lines()
        # Each run's link to the one before it holds in the copy: no run is "from
        # another log" whose predecessor is missing.
        assert not [note for note in verified.notes if "is not here to check" in note]


def test_copying_again_writes_nothing(chain: list[EventLog]) -> None:
    source, target = chain[0], chain[1]
    copy_runs(source, target)
    expected = _rows(target)
    again = copy_runs(source, target)
    assert again.copied == () and again.events == 0
    assert again.skipped == tuple(expected)
    assert _rows(target) == expected
    assert {run.action for run in plan_copy(source, target).runs} == {RunAction.SKIP}


def test_a_run_the_target_holds_the_start_of_is_continued(chain: list[EventLog]) -> None:
    # An earlier copy taken while the run was being written, or one cut short.
    source, target = chain[0], chain[1]
    run_id = source.runs()[0].run_id
    rows = list(source.read(run_id))
    target.append(rows[:7])
    plan = plan_copy(source, target, [run_id])
    assert [(r.action, r.target_seq, r.to_copy) for r in plan.runs] == [
        (RunAction.CONTINUE, 7, len(rows) - 7)
    ]
    report = copy_runs(source, target, [run_id])
    assert report.copied == (run_id,) and report.events == len(rows) - 7
    assert list(target.read(run_id)) == rows
    assert verify_log(target, [run_id]).ok


def test_a_target_holding_more_of_a_run_skips_it(tmp_path: Path) -> None:
    rows = stored_events("run-a", 5, host=None)
    older, newer = MemoryEventLog(), MemoryEventLog()
    older.append(rows[:3])
    newer.append(rows)
    assert [r.action for r in plan_copy(older, newer).runs] == [RunAction.SKIP]


def test_another_run_under_the_same_id_refuses_the_copy_and_writes_nothing(
    tmp_path: Path,
) -> None:
    source = SqliteEventLog(tmp_path / "a.db")
    target = SqliteEventLog(tmp_path / "b.db")
    source.append(sample_run("run-new").rows())
    source.append(sample_run("run-x", hosts=("web1",)).rows())
    target.append(sample_run("run-x", hosts=("db1", "db2")).rows())
    with pytest.raises(IntegrityError, match=r"^run run-x is in both logs with different events"):
        copy_runs(source, target)
    assert [s.run_id for s in target.runs()] == ["run-x"]  # run-new was not copied either
    source.close()
    target.close()


def test_a_run_that_does_not_verify_in_the_source_is_not_copied() -> None:
    rows = sample_run("run-t").rows()
    # A row whose payload changed after it was hashed (a memory store does not check).
    forged = attrs.evolve(rows[3], payload=rows[3].payload.replace('"host":"', '"host":"x'))
    source, target = MemoryEventLog(), MemoryEventLog()
    source.append([*rows[:3], forged, *rows[4:]])
    source.append(sample_run("run-after").rows())
    with pytest.raises(IntegrityError, match="run run-t, event 4: payload does not match"):
        copy_runs(source, target)
    assert target.runs() == []  # neither it nor the runs after it


def test_a_long_run_is_copied_a_batch_at_a_time() -> None:
    run = sample_run("run-long")
    while len(run.events) < 2 * COPY_BATCH + 3:
        run.add(HeartbeatRecorded)
    rows = run.rows()
    source, target = MemoryEventLog(), MemoryEventLog()
    source.append(rows)
    seen: list[tuple[str, int]] = []
    report = copy_runs(source, target, progress=lambda run_id, n: seen.append((run_id, n)))
    assert seen == [("run-long", COPY_BATCH), ("run-long", COPY_BATCH), ("run-long", 3)]
    assert report.events == len(rows)
    assert list(target.read("run-long")) == rows


# -- The command ------------------------------------------------------------------------------


def test_the_command_copies_every_run_then_nothing(source_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "team.db"
    result = cli("copy", "--from", source_db, "--to", f"sqlite:///{target}")
    assert result.exit_code == 0, result.output
    with SqliteEventLog(source_db, read_only=True) as source:
        ids = [s.run_id for s in source.runs()]
        total = sum(s.last_seq for s in source.runs())
        expected = _rows(source)
    assert result.stdout == (
        f"copied {total} events of 3 run(s) into sqlite:///{target}, verified there\n"
    )
    # Progress, a line per run as it is written (off a terminal), on stderr.
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == [
        f"run {run_id}" for run_id in ids
    ]
    with SqliteEventLog(target, read_only=True) as copied:
        assert _rows(copied) == expected
    assert cli("verify", "--db", target).exit_code == 0

    again = cli("copy", "--from", source_db, "--to", target)
    assert again.exit_code == 0, again.output
    assert again.stdout == f"nothing to copy into {target}; 3 run(s) already there\n"
    assert again.stderr.count("already in the target, skipped") == 3


def test_the_command_copies_into_the_log_every_command_uses_by_default(
    source_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTSTATE_DB", str(tmp_path / "shared.db"))
    result = cli("copy", "--from", source_db)
    assert result.exit_code == 0, result.output
    assert f"into {tmp_path / 'shared.db'}, verified there" in result.stdout
    with SqliteEventLog(tmp_path / "shared.db", read_only=True) as copied:
        assert len(copied.runs()) == 3


def test_the_command_copies_the_runs_named(source_db: Path, tmp_path: Path) -> None:
    with SqliteEventLog(source_db, read_only=True) as source:
        ids = [s.run_id for s in source.runs()]
    target = tmp_path / "one.db"
    result = cli("copy", ids[1][:10], "latest", "--from", source_db, "--to", target)
    assert result.exit_code == 0, result.output
    with SqliteEventLog(target, read_only=True) as copied:
        assert [s.run_id for s in copied.runs()] == [ids[1], ids[2]]


def one_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_the_command_refuses_another_run_under_the_same_id_in_one_line(tmp_path: Path) -> None:
    with SqliteEventLog(tmp_path / "a.db") as source, SqliteEventLog(tmp_path / "b.db") as target:
        source.append(sample_run("run-x", hosts=("web1",)).rows())
        target.append(sample_run("run-x", hosts=("db1",)).rows())
        before = _rows(target)
    line = one_error(cli("copy", "--from", tmp_path / "a.db", "--to", tmp_path / "b.db"))
    assert "run run-x is in both logs with different events" in line
    assert "nothing copied" in line
    with SqliteEventLog(tmp_path / "b.db", read_only=True) as target:
        assert _rows(target) == before


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--from", "{tmp}/missing.db", "--to", "{tmp}/b.db"], "no event log at"),
        (["--from", "memory://", "--to", "{tmp}/b.db"], "no event log at memory://"),
        (["nope", "--from", "{source}", "--to", "{tmp}/b.db"], "no run 'nope'"),
        (["--from", "{source}", "--to", "ftp://x"], "unknown store URL scheme"),
    ],
)
def test_the_commands_mistakes_are_one_line(
    source_db: Path, tmp_path: Path, args: list[str], said: str
) -> None:
    argv = [arg.format(tmp=tmp_path, source=source_db) for arg in args]
    assert said in one_error(cli("copy", *argv))
    assert not (tmp_path / "b.db").exists()
