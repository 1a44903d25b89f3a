"""The read commands -- runs, show, events, export/import, state, verify -- on one recorded log.

One database per module holds five runs: the example deploy twice (success),
a deploy that fails on ``@local`` (failed), the same with ``--fail-percent 10``
(aborted), and a run that never recorded its end (interrupted). Every test that
changes a database works on a copy.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from eventstate import Config, Inventory, SqliteEventLog, State, replay
from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.cli import main
from eventstate.codec import EventCodec, canonical_json

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

FAILING_DEPLOY = """\
from eventstate.context import current_host
from eventstate.operations import server

if current_host().name == "@local":
    server.shell("false")
else:
    server.shell("true")
"""

HOSTS = "@local,@sim/a,@sim/b"
RUN_LINE = re.compile(r"^run ([0-9a-f]{32}) (\w+) \(", re.MULTILINE)
RUNS_HEADER = ["run", "started", "took", "by", "command", "hosts", "status", "changed", "failed"]
HOST_HEADER = [
    "host",
    "status",
    "ops",
    "change",
    "no-change",
    "success",
    "error",
    "ignored",
    "partial",
]
RESULT_KEYS = ("success_ops", "error_ops", "ignored_error_ops", "partial_ops")
TRIGGERS = {
    "events_no_update": "UPDATE",
    "events_no_delete": "DELETE",
}


@dataclass(frozen=True)
class Recorded:
    """The module's database and its runs, oldest first."""

    db: Path
    first: str
    second: str
    failed: str
    aborted: str
    interrupted: str

    @property
    def ids(self) -> list[str]:
        return [self.first, self.second, self.failed, self.aborted, self.interrupted]


def cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def one_error(result: Result, code: int = 2) -> str:
    """The single ``Error:`` line a user's mistake prints (on stderr), with nothing else."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.stdout == "", result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), result.output
    return lines[0]


def _deploy(patch: pytest.MonkeyPatch, db: Path, *args: str) -> tuple[str, str, int]:
    argv = ["deploy", *args, "--db", str(db)]
    patch.setattr(sys, "argv", ["eventstate", *argv])  # what the run records as its command
    result = CliRunner().invoke(main, argv, catch_exceptions=False)
    match = RUN_LINE.search(result.output)
    assert match, result.output
    return match[1], match[2], result.exit_code


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    base = tmp_path_factory.mktemp("audit")
    db = base / "events.db"
    failing = base / "failing.py"
    failing.write_text(FAILING_DEPLOY)
    example = (str(EXAMPLES / "inventory.py"), str(EXAMPLES / "deploy.py"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVENTSTATE_DEMO_DIR", str(base / "demo"))
        patch.chdir(base)
        first = _deploy(patch, db, *example)
        second = _deploy(patch, db, *example)
        failed = _deploy(patch, db, HOSTS, "failing.py")
        aborted = _deploy(patch, db, HOSTS, "failing.py", "--fail-percent", "10")
    assert [run[1:] for run in (first, second, failed, aborted)] == [
        ("success", 0),
        ("success", 0),
        ("failed", 1),
        ("aborted", 1),
    ]
    # The interrupted run shares its first four digits with the first run (so that
    # prefix is ambiguous) and nothing beyond them with any run.
    ids = [run[0] for run in (first, second, failed, aborted)]
    interrupted = first[0][:4] + uuid.uuid4().hex[4:]
    while any(interrupted[:5] == other[:5] for other in ids):
        interrupted = first[0][:4] + uuid.uuid4().hex[4:]
    inventory = Inventory((["@sim/x", "@sim/lonely"], {}))
    log = SqliteEventLog(db)
    # Its deployer "died" at once: no heartbeat within its (tiny) flush delay's window.
    state = State(inventory, Config(FLUSH_DELAY=0.001), log=log, run_id=interrupted)
    state.activate_host(inventory.get_host("@sim/x"))
    state.flush()
    log.close()
    # Past that window (11 ms) before any test reads it: reads are fast enough now to
    # come within it, and would see the run still running.
    time.sleep(0.05)
    yield Recorded(db, *ids, interrupted)


@pytest.fixture(scope="module")
def infos(recorded: Recorded) -> dict[str, replay.RunInfo]:
    with replay.open(recorded.db) as log:
        return {info.run_id: info for info in log.infos()}


def _rows(db: Path, run_id: str | None = None) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        if run_id is None:
            return conn.execute("SELECT * FROM events ORDER BY rowid").fetchall()
        return conn.execute(
            "SELECT * FROM events WHERE run_id = ? ORDER BY seq", [run_id]
        ).fetchall()


def _copy(src: Path, dest: Path) -> Path:
    with closing(sqlite3.connect(src)) as source, closing(sqlite3.connect(dest)) as target:
        source.backup(target)
    return dest


def _tampered(
    recorded: Recorded,
    dest: Path,
    *statements: tuple[str, list[Any]],
    restore_triggers: bool = False,
) -> Path:
    """A copy of the log with its guards dropped and ``statements`` run on it; with
    ``restore_triggers``, the guards made again as they were (their very SQL)."""
    _copy(recorded.db, dest)
    with closing(sqlite3.connect(dest)) as conn, conn:
        guards = _drop_guards(conn)
        for sql, params in statements:
            conn.execute(sql, params)
        if restore_triggers:
            for sql in guards:
                conn.execute(sql)
    return dest


def _drop_guards(conn: sqlite3.Connection) -> list[str]:
    """Drop the append-only triggers; their SQL, to make them again."""
    guards = [
        row[0]
        for row in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        )
    ]
    for name in TRIGGERS:
        conn.execute(f"DROP TRIGGER {name}")
    return guards


def _view(recorded: Recorded, run_id: str, seq: int | None = None) -> Any:
    with replay.open(recorded.db) as log:
        run = log.run(run_id)
        return run.state() if seq is None else run.state_at(seq)


# runs


def test_runs_lists_every_run_newest_first_with_its_columns(
    recorded: Recorded, infos: dict[str, replay.RunInfo]
) -> None:
    result = cli("runs", "--db", recorded.db)
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == RUNS_HEADER
    assert [row.split()[0] for row in rows] == [run_id[:8] for run_id in reversed(recorded.ids)]
    for row, run_id in zip(rows, reversed(recorded.ids), strict=True):
        info = infos[run_id]
        cells = row.split()
        assert info.started_at is not None
        # Local time, with the zone.
        assert " ".join(cells[1:4]) == (
            datetime.fromisoformat(info.started_at).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        )
        took = "-" if info.duration is None else f"{info.duration:.1f}s"
        assert cells[4] == took
        assert cells[5] == f"{info.user}@{info.machine}"
        assert cells[-4:] == [
            str(info.host_count),
            info.status,
            str(info.ops_change),
            str(info.failed_host_count),
        ]
    statuses = [row.split()[-3] for row in rows]
    assert statuses == ["interrupted", "aborted", "failed", "success", "success"]
    assert (
        infos[recorded.failed].command == f"eventstate deploy {HOSTS} failing.py --db {recorded.db}"
    )
    for row, run_id in zip(rows, reversed(recorded.ids), strict=True):
        command = infos[run_id].command
        if len(command) <= 60:
            assert f"  {command}  " in row
        else:  # cut at the last word that fits, and said so
            shown = row.split("@", 1)[1].split("  ", 1)[1].strip().split("  ")[0]
            assert shown.endswith("...") and len(shown) <= 60, shown
            assert command.startswith(shown[:-3]) and command[len(shown) - 3] == " "


@pytest.mark.parametrize("status", ["success", "failed", "aborted", "interrupted"])
def test_runs_by_status(recorded: Recorded, status: str) -> None:
    expected = {
        "success": [recorded.second, recorded.first],
        "failed": [recorded.failed],
        "aborted": [recorded.aborted],
        "interrupted": [recorded.interrupted],
    }[status]
    result = cli("runs", "--db", recorded.db, "--status", status)
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == RUNS_HEADER
    assert [row.split()[0] for row in rows] == [run_id[:8] for run_id in expected]
    assert {row.split()[-3] for row in rows} == {status}


def test_runs_by_host(recorded: Recorded) -> None:
    local = cli("runs", "--db", recorded.db, "--host", "@local", "--json")
    assert local.exit_code == 0, local.output
    assert [run["run_id"] for run in json.loads(local.stdout)] == [
        recorded.aborted,
        recorded.failed,
        recorded.second,
        recorded.first,
    ]
    lonely = cli("runs", "--db", recorded.db, "--host", "@sim/lonely", "--json")
    assert [run["run_id"] for run in json.loads(lonely.stdout)] == [recorded.interrupted]
    nobody = cli("runs", "--db", recorded.db, "--host", "@sim/nobody")
    assert nobody.exit_code == 0
    assert [line.split() for line in nobody.stdout.splitlines()] == [RUNS_HEADER]


@pytest.mark.parametrize(
    ("since", "listed"),
    [("1h", 5), ("2w", 5), ("2000-01-01", 5), ("2000-01-01T00:00:00+00:00", 5), ("2999-01-01", 0)],
)
def test_runs_since(recorded: Recorded, since: str, listed: int) -> None:
    result = cli("runs", "--db", recorded.db, "--since", since)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1 + listed
    as_json = cli("runs", "--db", recorded.db, "--since", since, "--json")
    assert len(json.loads(as_json.stdout)) == listed


def test_runs_json(recorded: Recorded, infos: dict[str, replay.RunInfo]) -> None:
    result = cli("runs", "--db", recorded.db, "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [run["run_id"] for run in listed] == list(reversed(recorded.ids))
    keys = {"run_id", "kind", "status", "started_at", "finished_at", "duration", "user"}
    keys |= {"machine", "command", "host_count", "ops_change", "failed_host_count"}
    keys |= {"event_count", "error"}
    for run in listed:
        assert set(run) == keys | {"command_line"}
        info = infos[run["run_id"]]
        for key in keys:
            assert run[key] == getattr(info, key), key
        assert run["command_line"] == list(info.command_line)
        assert run["kind"] == "deploy"
    by_id = {run["run_id"]: run for run in listed}
    assert by_id[recorded.interrupted]["finished_at"] is None
    assert by_id[recorded.interrupted]["duration"] is None
    assert by_id[recorded.interrupted]["event_count"] == 2  # RunStarted, HostActivated
    assert by_id[recorded.failed]["failed_host_count"] == 1
    assert by_id[recorded.failed]["host_count"] == 3
    assert by_id[recorded.first]["host_count"] == 5
    assert by_id[recorded.first]["duration"] > 0
    assert by_id[recorded.aborted]["error"] == "Over 10% of hosts failed (33%)"
    assert by_id[recorded.failed]["command_line"] == [
        "eventstate",
        "deploy",
        HOSTS,
        "failing.py",
        "--db",
        str(recorded.db),
    ]
    assert all(run["event_count"] == len(_rows(recorded.db, run["run_id"])) for run in listed)
    # The state of a run names its start as runs and show do.
    state = json.loads(cli("state", recorded.failed, "--db", recorded.db, "--json").stdout)
    assert state["started_at"] == by_id[recorded.failed]["started_at"]
    assert state["status"] == by_id[recorded.failed]["status"] == "failed"


@pytest.mark.parametrize("since", ["yesterday", "3y", "2026-13-45", "-1h"])
def test_runs_bad_since(recorded: Recorded, since: str) -> None:
    line = one_error(cli("runs", "--db", recorded.db, "--since", since))
    assert line.startswith("Error: --since: ")


# show


@pytest.mark.parametrize("length", [8, 32])
def test_show_a_failed_run(recorded: Recorded, length: int) -> None:
    run_id = recorded.failed
    result = cli("show", run_id[:length], "--db", recorded.db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    with replay.open(recorded.db) as log:
        info = log.run(run_id).info()
    assert info.duration is not None
    assert lines[:7] == [
        f"run       {run_id}",
        f"by        {info.user}@{info.machine}",
        f"command   {info.command}",
        f"started   {_local(info.started_at)} ({info.duration:.2f}s)",
        "status    failed",
        f"events    {len(_rows(recorded.db, run_id))}",
        "",
    ]
    assert "deploy @local,@sim/a,@sim/b" in lines[2]
    assert lines[7].split() == HOST_HEADER
    table = {line.split()[0]: line.split()[1:] for line in lines[8:11]}
    assert table == {
        "@local": ["failed", "1", "1", "0", "0", "1", "0", "0"],
        "@sim/a": ["ok", "1", "1", "0", "1", "0", "0", "0"],
        "@sim/b": ["ok", "1", "1", "0", "1", "0", "0", "0"],
    }
    view = _view(recorded, run_id)
    for host, cells in table.items():
        meta, results = view.meta[host], view.results[host]
        assert cells[1:4] == [str(meta.ops), str(meta.ops_change), str(meta.ops_no_change)]
        assert cells[4:] == [str(getattr(results, key)) for key in RESULT_KEYS]
    # Each operation, in order, over its hosts (pyinfra's results table).
    assert [line.split() for line in lines[11:15]] == [
        [],
        ["operation", "hosts", "change", "no-change", "error"],
        ["server.shell", "1", "0", "0", "1"],
        ["server.shell", "2", "2", "0", "0"],
    ]
    assert lines[15:] == [
        "",
        "operations with errors",
        f"  [@local] server.shell: error (event {_finished_seq(recorded, run_id)})",
        "    $ false  -> exit 1",
    ]


def _local(stored: str | None) -> str:
    """A stored time as the readers show it: local, with its zone."""
    assert stored is not None
    return datetime.fromisoformat(stored).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _finished_seq(recorded: Recorded, run_id: str) -> int:
    """The seq of the one failed HostOperationFinished of a failing run."""
    with replay.open(recorded.db) as log:
        (finished,) = [
            event.seq
            for event in log.run(run_id).events(types={"HostOperationFinished"}, host="@local")
        ]
    return finished


def test_show_an_aborted_run_names_its_error(recorded: Recorded) -> None:
    result = cli("show", recorded.aborted[:8], "--db", recorded.db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[4] == "status    aborted: Over 10% of hosts failed (33%)"
    # Which op, on which hosts, crossed FAIL_PERCENT.
    assert lines[5] == (
        "cause     33% of 3 hosts failed, over FAIL_PERCENT 10 at server.shell: "
        "@local (server.shell failed)"
    )
    assert "    $ false  -> exit 1" in lines
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("@")}
    assert rows["@local"][0] == "failed"
    # The other hosts were waiting for @local's op to end: stopped before any op of theirs.
    assert rows["@sim/a"][:2] == rows["@sim/b"][:2] == ["not", "run"]


def test_show_an_interrupted_run(recorded: Recorded) -> None:
    result = cli("show", recorded.interrupted, "--db", recorded.db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[3].startswith("started   ") and "s)" not in lines[3]  # no duration
    assert lines[4] == "status    interrupted"
    assert lines[5] == "events    2"
    # Its deployer died before executing anything: no host ran, connected or not.
    assert lines[8].split()[:3] == ["@sim/x", "not", "run"]
    assert lines[9].split()[:3] == ["@sim/lonely", "not", "run"]
    assert "failed operations" not in result.stdout


def test_show_a_successful_run(recorded: Recorded) -> None:
    result = cli("show", recorded.first[:8], "--db", recorded.db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[4] == "status    success"
    local = next(line for line in lines if line.startswith("@local "))
    assert local.split() == ["@local", "ok", "6", "6", "0", "6", "0", "0", "0"]
    second = cli("show", recorded.second[:8], "--db", recorded.db).stdout.splitlines()
    local = next(line for line in second if line.startswith("@local "))
    assert local.split() == ["@local", "ok", "6", "0", "6", "6", "0", "0", "0"]


def test_latest_names_the_newest_run(recorded: Recorded, tmp_path: Path) -> None:
    newest = json.loads(cli("runs", "--json", "--db", recorded.db).stdout)[0]["run_id"]
    shown = cli("show", "latest", "--db", recorded.db)
    assert shown.exit_code == 0 and shown.stdout.splitlines()[0] == f"run       {newest}"
    assert newest == recorded.interrupted  # made last
    empty = tmp_path / "empty.db"
    SqliteEventLog(empty).close()
    assert one_error(cli("show", "latest", "--db", empty)) == "Error: no run in this log yet"


@pytest.mark.parametrize("which", ["failed", "aborted", "interrupted", "first"])
def test_show_json(recorded: Recorded, infos: dict[str, replay.RunInfo], which: str) -> None:
    run_id = getattr(recorded, which)
    result = cli("show", run_id[:8], "--db", recorded.db, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert set(shown) == {
        "run",
        "hosts",
        "operations",
        "failures",
        "abort_cause",
        "planned",
        "warnings",
    }
    assert shown["planned"] == []  # listed for a dry run only
    listed = {
        run["run_id"]: run for run in json.loads(cli("runs", "--db", recorded.db, "--json").stdout)
    }
    assert shown["run"] == listed[run_id]
    view = _view(recorded, run_id)
    assert [host["host"] for host in shown["hosts"]] == list(view.run.hosts)
    for host in shown["hosts"]:
        meta = view.meta[host["host"]]
        assert (host["ops"], host["ops_change"], host["ops_no_change"]) == (
            meta.ops,
            meta.ops_change,
            meta.ops_no_change,
        )
        assert host["results"] == view.results[host["host"]].as_dict()
        assert (host["status"] == "failed") == (host["host"] in view.failed_hosts)
    # Each operation in the order it runs; its errors are the hosts' errors.
    assert [op["op_hash"] for op in shown["operations"]] == view.get_op_order()
    assert sum(op["error"] for op in shown["operations"]) == sum(
        results.error_ops + results.ignored_error_ops for results in view.results.values()
    )
    assert shown["warnings"] == {stage.name: n for stage, n in view.stage_warnings.items()}
    if which in ("failed", "aborted"):
        (failure,) = shown["failures"]
        assert failure["host"] == "@local"
        assert failure["name"] == "server.shell"
        assert failure["outcome"] == "error"
        assert failure["retry_count"] == 0
        assert failure["finished_seq"] == _finished_seq(recorded, run_id)
        assert failure["op_hash"] in view.op_meta
        (command,) = failure["commands"]
        assert command["command"] == "false"
        assert command["success"] is False
        assert command["exit_code"] == 1
    if which == "aborted":
        cause = shown["abort_cause"]
        assert cause["outcome"] == "fail_percent_exceeded" and cause["stage"] == "Execute"
        assert cause["failures"] == [
            {
                "host": "@local",
                "op_hash": shown["failures"][0]["op_hash"],
                "op_name": "server.shell",
                "connect_error": None,
            }
        ]
        assert cause["percent_failed"] == pytest.approx(100 / 3)
        assert (cause["activated_count"], cause["fail_percent"]) == (3, 10)
        assert cause["seq"] == shown["failures"][0]["finished_seq"] + 1  # its HostsFailed
        assert cause["summary"].startswith("33% of 3 hosts failed, over FAIL_PERCENT 10")
    else:
        assert shown["abort_cause"] is None
    if which == "interrupted":
        assert shown["failures"] == []
        assert shown["run"]["status"] == "interrupted"
    elif which == "first":
        # The example's flaky reload is an ignored error, listed with its output.
        assert all(f["outcome"] == "ignored_error" for f in shown["failures"])
        assert len(shown["failures"]) == sum(r.ignored_error_ops for r in view.results.values())


# events


EVENT_LINE = re.compile(r"^ *(\d+)  \d\d:\d\d:\d\d\.\d{3}  (\w+)(?: \[([^\]]+)\])?")


def _event_lines(result: Result) -> list[tuple[int, str, str | None]]:
    """(seq, type, host) of each printed event (lines that do not start one are skipped)."""
    assert result.exit_code == 0, result.output
    matches = (EVENT_LINE.match(line) for line in result.stdout.splitlines())
    return [(int(match[1]), match[2], match[3]) for match in matches if match]


@pytest.mark.parametrize("which", ["first", "failed", "interrupted"])
def test_events_prints_every_event_once_in_order(recorded: Recorded, which: str) -> None:
    run_id = getattr(recorded, which)
    result = cli("events", run_id[:8], "--db", recorded.db)
    stored = [(row[1], row[2], row[5]) for row in _rows(recorded.db, run_id)]
    assert _event_lines(result) == stored
    assert [seq for seq, _, _ in stored] == list(range(1, len(stored) + 1))


@pytest.mark.parametrize(
    "which",
    [
        "first",
        "failed",
        "interrupted",
    ],
)
def test_events_prints_one_line_per_event(recorded: Recorded, which: str) -> None:
    run_id = getattr(recorded, which)
    result = cli("events", run_id[:8], "--db", recorded.db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(_rows(recorded.db, run_id))
    assert all(EVENT_LINE.match(line) for line in lines), result.stdout


def test_events_of_the_failed_command(recorded: Recorded) -> None:
    # An op's commands ride on its outcome: the failed one is in its HostOperationFinished.
    args = ("events", recorded.failed[:8], "--db", recorded.db, "--type", "HostOperationFinished")
    result = cli(*args)
    assert result.exit_code == 0, result.output
    local = [line for line in result.stdout.splitlines() if "[@local]" in line]
    assert len(local) == 1
    assert '"command": "false"' in local[0] and "outcome=error" in local[0]
    (stored,) = [
        json.loads(line)
        for line in cli(*args, "--json").stdout.splitlines()
        if json.loads(line)["host"] == "@local"
    ]
    assert [(c["command"], c["exit_code"], c["success"]) for c in stored["commands"]] == [
        ("false", 1, False)
    ]


def test_events_filters(recorded: Recorded) -> None:
    run_id = recorded.failed
    stored = [(row[1], row[2], row[5]) for row in _rows(recorded.db, run_id)]
    by_host = cli("events", run_id, "--db", recorded.db, "--host", "@local")
    assert _event_lines(by_host) == [event for event in stored if event[2] == "@local"]
    types = ("HostOperationFinished", "RunFinished")
    by_type = cli("events", run_id, "--db", recorded.db, "--type", types[0], "--type", types[1])
    assert _event_lines(by_type) == [event for event in stored if event[1] in types]
    assert {event[1] for event in _event_lines(by_type)} == set(types)
    ranged = cli("events", run_id, "--db", recorded.db, "--from", 5, "--to", 9)
    assert [event[0] for event in _event_lines(ranged)] == [5, 6, 7, 8, 9]
    assert _event_lines(cli("events", run_id, "--db", recorded.db, "--from", 30)) == stored[29:]
    assert _event_lines(cli("events", run_id, "--db", recorded.db, "--to", 3)) == stored[:3]
    both = cli("events", run_id, "--db", recorded.db, "--host", "@sim/a", "--type", "HostConnected")
    assert _event_lines(both) == [
        event for event in stored if event[1:] == ("HostConnected", "@sim/a")
    ]
    empty = cli("events", run_id, "--db", recorded.db, "--from", 9, "--to", 5)
    assert empty.exit_code == 0 and empty.stdout == ""


def test_events_json(recorded: Recorded) -> None:
    run_id = recorded.first
    result = cli("events", run_id[:8], "--db", recorded.db, "--json")
    assert result.exit_code == 0, result.output
    rows = _rows(recorded.db, run_id)
    lines = result.stdout.splitlines()
    assert lines == [row[6] for row in rows]
    codec = EventCodec()
    decoded = [codec.decode(line) for line in lines]
    assert [(event.run_id, event.seq, event.event_type) for event in decoded] == [
        (row[0], row[1], row[2]) for row in rows
    ]
    filtered = cli("events", run_id, "--db", recorded.db, "--json", "--host", "@sim/db1")
    assert all(codec.decode(line).host == "@sim/db1" for line in filtered.stdout.splitlines())


@pytest.mark.parametrize("types", [["Nope"], ["RunStarted", "commandexecuted"]])
def test_events_unknown_type(recorded: Recorded, types: list[str]) -> None:
    args = [arg for name in types for arg in ("--type", name)]
    line = one_error(cli("events", recorded.failed, "--db", recorded.db, *args))
    assert line.startswith(f"Error: --type: unknown event type {types[-1]!r}")


# export and import


def test_export_then_import_gives_identical_rows(recorded: Recorded, tmp_path: Path) -> None:
    run_id = recorded.failed
    to_stdout = cli("export", run_id[:8], "--db", recorded.db)
    assert to_stdout.exit_code == 0, to_stdout.output
    path = tmp_path / "run.jsonl"
    to_file = cli("export", run_id, "--db", recorded.db, "-o", path)
    assert to_file.exit_code == 0 and to_file.stdout == ""
    assert path.read_text(encoding="utf-8") == to_stdout.stdout
    *lines, trailer = to_stdout.stdout.splitlines()
    assert len(lines) == len(_rows(recorded.db, run_id))
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))
    # The last line says how much the export holds: a cut export is refused (test_tampering).
    assert json.loads(trailer) == {
        "trailer": {"events": len(lines), "hash": json.loads(lines[-1])["hash"], "run_id": run_id}
    }

    new = tmp_path / "new.db"
    imported = cli("import", path, "--db", new)
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.strip() == f"imported {len(lines)} events of 1 run(s) into {new}"
    assert _rows(new, run_id) == _rows(recorded.db, run_id)
    assert cli("verify", "--db", new).exit_code == 0


def test_export_every_run_and_import_them_together(recorded: Recorded, tmp_path: Path) -> None:
    path = tmp_path / "all.jsonl"
    path.write_text(
        "".join(cli("export", run_id, "--db", recorded.db).stdout for run_id in recorded.ids),
        encoding="utf-8",
    )
    new = tmp_path / "new.db"
    imported = cli("import", path, "--db", new)
    assert imported.exit_code == 0, imported.output
    assert "of 5 run(s)" in imported.stdout
    assert _rows(new) == _rows(recorded.db)
    assert (
        cli("runs", "--db", new, "--json").stdout
        == cli("runs", "--db", recorded.db, "--json").stdout
    )
    verified = cli("verify", "--db", new)
    assert verified.exit_code == 0, verified.output


def test_importing_twice_is_refused(recorded: Recorded, tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    cli("export", recorded.aborted, "--db", recorded.db, "-o", path)
    new = tmp_path / "new.db"
    assert cli("import", path, "--db", new).exit_code == 0
    line = one_error(cli("import", path, "--db", new))
    assert line == f"Error: run {recorded.aborted} is already in this log"
    assert _rows(new) == _rows(recorded.db, recorded.aborted)  # nothing added


def test_importing_is_all_or_nothing(recorded: Recorded, tmp_path: Path) -> None:
    good = cli("export", recorded.first, "--db", recorded.db).stdout.splitlines()
    bad = cli("export", recorded.failed, "--db", recorded.db).stdout.splitlines()
    row = json.loads(bad[-2])  # its last row, before the trailer
    row["payload"] = row["payload"].replace("failed", "success")
    bad[-2] = json.dumps(row)
    path = tmp_path / "both.jsonl"
    path.write_text("\n".join(good + bad) + "\n", encoding="utf-8")
    new = tmp_path / "new.db"
    line = one_error(cli("import", path, "--db", new))
    assert line.startswith(f"Error: {path}: run {recorded.failed}, event {row['seq']}: ")
    assert not new.exists()  # the good run before it was not written either
    # A run already there refuses the whole import, the new runs with it.
    once = tmp_path / "first.jsonl"
    once.write_text("\n".join(good) + "\n", encoding="utf-8")
    assert cli("import", once, "--db", new).exit_code == 0
    again = tmp_path / "again.jsonl"
    aborted = cli("export", recorded.aborted, "--db", recorded.db).stdout
    again.write_text(aborted + "\n".join(good) + "\n", encoding="utf-8")
    assert one_error(cli("import", again, "--db", new)) == (
        f"Error: run {recorded.first} is already in this log"
    )
    assert _rows(new) == _rows(recorded.db, recorded.first)


def _export_lines(recorded: Recorded, run_id: str) -> list[str]:
    return cli("export", run_id, "--db", recorded.db).stdout.splitlines()


def test_importing_a_tampered_export_names_the_run_and_event(
    recorded: Recorded, tmp_path: Path
) -> None:
    run_id = recorded.failed
    lines = _export_lines(recorded, run_id)
    index, row = next(
        (i, row)
        for i, row in enumerate(map(json.loads, lines))
        if (row["type"], row["host"]) == ("HostConnected", "@sim/b")
    )
    row["payload"] = row["payload"].replace("@sim/b", "@sim/c")
    lines[index] = json.dumps(row)
    path = tmp_path / "tampered.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    new = tmp_path / "new.db"
    line = one_error(cli("import", path, "--db", new))
    # The words of `verify`: one check for a stored run and an export.
    assert line == (
        f"Error: {path}: run {run_id}, event {row['seq']}: "
        "payload does not match its hash (changed after it was written)"
    )
    assert not new.exists()


def test_importing_an_export_with_a_missing_event(recorded: Recorded, tmp_path: Path) -> None:
    run_id = recorded.failed
    lines = _export_lines(recorded, run_id)
    del lines[6]
    path = tmp_path / "gap.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    new = tmp_path / "new.db"
    line = one_error(cli("import", path, "--db", new))
    assert line == f"Error: {path}: run {run_id}, event 7: missing: the next stored event is 8"
    assert not new.exists()


@pytest.mark.parametrize("bad", ["not json", '{"run_id": "x"}', "[1, 2]"])
def test_importing_a_line_that_is_not_an_event_names_the_line(
    recorded: Recorded, tmp_path: Path, bad: str
) -> None:
    lines = _export_lines(recorded, recorded.failed)
    lines[2] = bad
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    line = one_error(cli("import", path, "--db", tmp_path / "new.db"))
    assert line.startswith(f"Error: {path}:3: not an exported event")


def test_importing_a_missing_file(tmp_path: Path) -> None:
    line = one_error(cli("import", tmp_path / "nope.jsonl", "--db", tmp_path / "new.db"))
    assert line.startswith(f"Error: cannot read {tmp_path / 'nope.jsonl'}")


# state


@pytest.mark.parametrize("at", [0, 1, 9, 19, 20, 21, None, "end"])
def test_state_at(recorded: Recorded, at: int | str | None) -> None:
    run_id = recorded.failed
    last = len(_rows(recorded.db, run_id))
    seq = last if at in (None, "end") else int(at)  # type: ignore[arg-type]
    args = ["state", run_id[:8], "--db", recorded.db]
    if at is not None:
        args += ["--at", seq]
    expected = _view(recorded, run_id, seq).snapshot()
    # The status in the readers' words: running until the run's end, then how it ended.
    assert expected["status"] == (None if seq < last else "failed")
    expected["status"] = "running" if seq < last else "failed"

    as_json = cli(*args, "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == json.loads(json.dumps(expected))

    text = cli(*args)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines.pop(1) == f"status      {expected['status']}"
    assert lines[0] == f"after event {seq} of {last}"
    assert lines[1] == (
        f"stage       {expected['current_stage']} (executing: {expected['is_executing']})"
    )
    for line, name in zip(lines[2:5], ("activated", "active", "failed"), strict=True):
        hosts = expected[f"{name}_hosts"]
        assert line == f"{name:<11} {', '.join(hosts) or '-'}"
    assert lines[5] == "limit       none"
    assert lines[7] == ""
    assert lines[8].split() == [h for h in HOST_HEADER if h != "status"]
    table = {line.split()[0]: line.split()[1:] for line in lines[9:]}
    assert set(table) == set(expected["meta"])
    for host, cells in table.items():
        meta, results = expected["meta"][host], expected["results"][host]
        assert cells == [
            str(meta["ops"]),
            str(meta["ops_change"]),
            str(meta["ops_no_change"]),
            *(str(results[key]) for key in RESULT_KEYS),
        ]


def test_state_follows_the_failure(recorded: Recorded) -> None:
    run_id = recorded.failed
    failed_at = _finished_seq(recorded, run_id) + 1  # HostsFailed follows the op's end
    before = json.loads(
        cli("state", run_id, "--at", failed_at - 1, "--db", recorded.db, "--json").stdout
    )
    after = json.loads(
        cli("state", run_id, "--at", failed_at, "--db", recorded.db, "--json").stdout
    )
    assert before["failed_hosts"] == [] and after["failed_hosts"] == ["@local"]
    assert before["results"]["@local"]["error_ops"] == 1
    start = json.loads(cli("state", run_id, "--at", 0, "--db", recorded.db, "--json").stdout)
    assert start["current_stage"] == "Setup" and start["meta"] == {}


@pytest.mark.parametrize("which", ["first", "interrupted"])
def test_state_at_the_end_of_other_runs(recorded: Recorded, which: str) -> None:
    run_id = getattr(recorded, which)
    result = cli("state", run_id, "--db", recorded.db, "--json")
    assert result.exit_code == 0, result.output
    expected = _view(recorded, run_id).snapshot()
    # An ended run's status is what its end recorded; one with no end, whose deployer
    # died, is interrupted.
    assert expected["status"] == {"first": "success", "interrupted": None}[which]
    expected["status"] = {"first": "success", "interrupted": "interrupted"}[which]
    assert json.loads(result.stdout) == json.loads(json.dumps(expected))


def test_state_beyond_the_end(recorded: Recorded) -> None:
    run_id = recorded.failed
    last = len(_rows(recorded.db, run_id))
    for extra in (1, 1000):
        for json_flag in ((), ("--json",)):
            result = cli("state", run_id, "--at", last + extra, "--db", recorded.db, *json_flag)
            line = one_error(result)
            assert line == f"Error: --at {last + extra}: run {run_id[:8]} has {last} events"


# verify


def test_verify_every_run(recorded: Recorded) -> None:
    result = cli("verify", "--db", recorded.db)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"run {run_id}: {len(_rows(recorded.db, run_id))} events verified"
        for run_id in recorded.ids
    ]
    one = cli("verify", recorded.failed[:8], "--db", recorded.db)
    assert one.exit_code == 0
    events = len(_rows(recorded.db, recorded.failed))
    assert one.stdout.splitlines() == [f"run {recorded.failed}: {events} events verified"]


def _bad_lines(result: Result) -> list[str]:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return [line for line in result.stdout.splitlines() if not line.endswith("events verified")]


def test_verify_a_changed_payload(recorded: Recorded, tmp_path: Path) -> None:
    run_id = recorded.failed
    seq = next(
        row[1] for row in _rows(recorded.db, run_id) if row[2:6:3] == ("HostConnected", "@sim/b")
    )
    db = _tampered(
        recorded,
        tmp_path / "changed.db",
        (
            "UPDATE events SET payload = replace(payload, '@sim/b', '@sim/c') "
            "WHERE run_id = ? AND seq = ?",
            [run_id, seq],
        ),
        restore_triggers=True,
    )
    assert _bad_lines(cli("verify", "--db", db)) == [
        f"run {run_id}, event {seq}: payload does not match its hash (changed after it was written)"
    ]
    # The other runs still verify; verifying only this run names it too.
    assert len(cli("verify", "--db", db).stdout.splitlines()) == 5
    assert _bad_lines(cli("verify", run_id[:8], "--db", db))[0].startswith(
        f"run {run_id}, event {seq}: "
    )


def test_verify_a_changed_payload_without_guards(recorded: Recorded, tmp_path: Path) -> None:
    run_id = recorded.aborted
    db = _tampered(
        recorded,
        tmp_path / "changed.db",
        (
            "UPDATE events SET payload = replace(payload, 'false', 'true') WHERE run_id = ?",
            [run_id],
        ),
    )
    bad = _bad_lines(cli("verify", "--db", db))
    assert bad[:2] == [
        "log: the append-only trigger events_no_update is missing: UPDATE is not refused",
        "log: the append-only trigger events_no_delete is missing: DELETE is not refused",
    ]
    (named,) = bad[2:]
    first_changed = next(row[1] for row in _rows(recorded.db, run_id) if "false" in row[6])
    assert named.startswith(f"run {run_id}, event {first_changed}: ")


def test_verify_a_deleted_event(recorded: Recorded, tmp_path: Path) -> None:
    run_id = recorded.failed
    db = _tampered(
        recorded,
        tmp_path / "deleted.db",
        ("DELETE FROM events WHERE run_id = ? AND seq = 7", [run_id]),
        restore_triggers=True,
    )
    assert _bad_lines(cli("verify", "--db", db)) == [
        f"run {run_id}, event 7: missing: the next stored event is 8"
    ]


def test_verify_a_sequence_gap(recorded: Recorded, tmp_path: Path) -> None:
    run_id = recorded.first
    db = _tampered(
        recorded,
        tmp_path / "gap.db",
        ("UPDATE events SET seq = seq + 1000 WHERE run_id = ? AND seq >= 30", [run_id]),
        restore_triggers=True,
    )
    last = len(_rows(recorded.db, run_id))
    assert _bad_lines(cli("verify", "--db", db)) == [
        f"log: run {recorded.second} began after event {last} of run {run_id}, which has "
        f"no event {last} any more: that run's events were removed or renumbered",
        f"run {run_id}, event 30: missing: the next stored event is 1030",
    ]


def test_verify_names_missing_guards(recorded: Recorded, tmp_path: Path) -> None:
    db = _tampered(recorded, tmp_path / "unguarded.db")
    result = cli("verify", "--db", db)
    assert _bad_lines(result) == [
        "log: the append-only trigger events_no_update is missing: UPDATE is not refused",
        "log: the append-only trigger events_no_delete is missing: DELETE is not refused",
    ]
    assert len(result.stdout.splitlines()) == 2 + 5  # every run still verified


def test_verify_a_deleted_first_event(recorded: Recorded, tmp_path: Path) -> None:
    run_id = recorded.failed
    db = _tampered(
        recorded,
        tmp_path / "headless.db",
        ("DELETE FROM events WHERE run_id = ? AND seq = 1", [run_id]),
        restore_triggers=True,
    )
    result = cli("verify", "--db", db)
    assert result.exit_code == 1, result.output
    assert f"run {run_id}, event 1: missing" in result.stdout


# bad input


def _not_sqlite(recorded: Recorded, path: Path) -> Path:
    path.write_text("hello, I am not a database\n")
    return path


def _foreign_sqlite(recorded: Recorded, path: Path) -> Path:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE things (name TEXT)")
    return path


def _newer_schema(recorded: Recorded, path: Path) -> Path:
    _copy(recorded.db, path)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE eventstate_meta SET value = '2' WHERE key = 'schema_version'")
    return path


READ_COMMANDS = {
    "runs": lambda run: ["runs"],
    "show": lambda run: ["show", run],
    "events": lambda run: ["events", run],
    "export": lambda run: ["export", run],
    "state": lambda run: ["state", run],
    "verify": lambda run: ["verify", run],
    "verify-all": lambda run: ["verify"],
}


@pytest.mark.parametrize("command", list(READ_COMMANDS))
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (None, "Error: no event log at {db}"),
        (_not_sqlite, "Error: {db} is not an eventstate SQLite log (file is not a database)"),
        (_foreign_sqlite, "Error: {db} is a SQLite database, but not an eventstate log"),
        (
            _newer_schema,
            "Error: {db} was written by a newer eventstate (schema 2; "
            "this one reads up to 1): upgrade eventstate",
        ),
    ],
    ids=["missing", "not-sqlite", "foreign-sqlite", "newer-schema"],
)
def test_a_bad_database_is_one_line(
    recorded: Recorded, tmp_path: Path, command: str, make: Any, message: str
) -> None:
    db = tmp_path / "the.db"
    if make is not None:
        make(recorded, db)
    args = READ_COMMANDS[command](recorded.failed[:8])
    line = one_error(cli(*args, "--db", db))
    assert line == message.format(db=db)
    if make is None:
        assert not db.exists()  # reading creates nothing


@pytest.mark.parametrize("command", [c for c in READ_COMMANDS if c not in ("runs", "verify-all")])
def test_an_unknown_or_ambiguous_run_is_one_line(recorded: Recorded, command: str) -> None:
    for unknown in ("zz", "0" * 32 + "0", recorded.failed + "0"):
        line = one_error(cli(*READ_COMMANDS[command](unknown), "--db", recorded.db))
        assert line == f"Error: no run {unknown!r} in this log"
    prefix = recorded.first[:4]  # also the interrupted run's
    line = one_error(cli(*READ_COMMANDS[command](prefix), "--db", recorded.db))
    assert re.fullmatch(rf"Error: '{prefix}' names \d+ runs: give more of the id", line)
    if command != "verify":  # `verify ""` verifies every run
        line = one_error(cli(*READ_COMMANDS[command](""), "--db", recorded.db))
        assert line == "Error: '' names 5 runs: give more of the id"
    # One more digit is enough.
    assert cli(*READ_COMMANDS[command](recorded.first[:5]), "--db", recorded.db).exit_code == 0


def test_short_ids_in_the_listing_name_one_run(recorded: Recorded) -> None:
    rows = cli("runs", "--db", recorded.db).stdout.splitlines()[1:]
    shorts = [row.split()[0] for row in rows]
    assert len(set(shorts)) == 5
    for short in shorts:
        assert cli("show", short, "--db", recorded.db).exit_code == 0


@pytest.fixture
def newer_event(recorded: Recorded, tmp_path: Path) -> tuple[Path, int]:
    """A copy whose failed run has a HostOperationFinished of version 99, its chain rehashed."""
    run_id = recorded.failed
    db = _copy(recorded.db, tmp_path / "newer-event.db")
    with closing(sqlite3.connect(db)) as conn, conn:
        guards = _drop_guards(conn)
        rows = conn.execute(
            "SELECT seq, type, payload FROM events WHERE run_id = ? ORDER BY seq", [run_id]
        ).fetchall()
        target = next(seq for seq, kind, _ in rows if kind == "HostOperationFinished")
        prev = GENESIS_HASH
        for seq, _, payload in rows:
            if seq == target:
                data = json.loads(payload)
                data["v"] = 99
                payload = canonical_json(data)
                conn.execute(
                    "UPDATE events SET version = 99 WHERE run_id = ? AND seq = ?", [run_id, seq]
                )
            digest = chain_hash(prev, payload)
            conn.execute(
                "UPDATE events SET payload = ?, prev_hash = ?, hash = ? "
                "WHERE run_id = ? AND seq = ?",
                [payload, prev, digest, run_id, seq],
            )
            prev = digest
        for sql in guards:
            conn.execute(sql)
        # What our deploy stored for readers goes too: a newer eventstate's would be under
        # its own projection version, which this one never reads.
        conn.execute("DELETE FROM snapshots WHERE run_id = ?", [run_id])
    return db, target


NEWER = (
    "Error: HostOperationFinished version 99 is newer than this eventstate reads "
    "(up to version 2); upgrade eventstate"
)


def test_an_event_of_a_newer_version_is_one_line(
    recorded: Recorded, newer_event: tuple[Path, int]
) -> None:
    db, seq = newer_event
    run_id = recorded.failed
    assert one_error(cli("show", run_id[:8], "--db", db)) == NEWER
    assert one_error(cli("show", run_id, "--db", db, "--json")) == NEWER
    assert one_error(cli("state", run_id, "--db", db)) == NEWER
    # Before it, the run replays; its rows can still be listed and exported.
    assert cli("state", run_id, "--db", db, "--at", seq - 1).exit_code == 0
    assert cli("events", run_id, "--db", db).exit_code == 0
    assert cli("export", run_id, "--db", db).exit_code == 0
    # Only the version is wrong: the run's chain holds, so verify names the decoding --
    # and the run after it, which began after this run's old last hash, says it changed.
    verified = cli("verify", "--db", db)
    last = len(_rows(recorded.db, run_id))
    assert _bad_lines(verified) == [
        f"log: run {recorded.aborted} began after event {last} of run {run_id}, whose hash "
        "has changed since: that run was rewritten",
        f"run {run_id}, event {seq}: does not decode: {NEWER.removeprefix('Error: ')}",
    ]
    # The other runs are still readable one by one.
    assert cli("show", recorded.first, "--db", db).exit_code == 0


def test_reading_an_empty_file_leaves_it_alone(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    line = one_error(cli("runs", "--db", empty))
    assert line == f"Error: no event log at {empty}"
    assert empty.read_bytes() == b""


# help


@pytest.mark.parametrize("command", sorted(main.commands))  # type: ignore[attr-defined]
def test_every_command_has_help(command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ") and f" {command} " in result.stdout.splitlines()[0]
    doc = main.commands[command].help  # type: ignore[attr-defined]
    assert doc and doc.splitlines()[0].strip() in " ".join(result.stdout.split())
    assert "--db" in result.stdout


def test_the_group_lists_every_command() -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("deploy", "runs", "show", "events", "export", "import", "state", "verify"):
        assert re.search(rf"^  {command}\b", result.stdout, re.MULTILINE), command
