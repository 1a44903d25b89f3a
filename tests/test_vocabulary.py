"""One vocabulary in every reader: run statuses, host statuses, field names, times, commands.

One log holds a dry run (a plan), a run aborted while connecting (one host of three could
not connect, over FAIL_PERCENT) and a run aborted while executing; each is read through
``runs``, ``show``, ``state`` and the timeline, as text and as JSON.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from eventstate.cli import main
from eventstate.replay import read_log, shown_command
from eventstate.replay.timeline import timeline_data
from eventstate.rerun import Divergence

RUN_LINE = re.compile(r"^run ([0-9a-f]{32}) (\w+) \(", re.MULTILINE)

DEPLOY = """\
from eventstate.context import current_host
from eventstate.operations import files, server

files.directory(current_host().data.get("dir", "/tmp"))
if current_host().name == "@sim/b":
    server.shell("echo broken >&2; exit 4", name="Break b")
server.shell("true", name="After")
"""

INVENTORY = """\
hosts = ["@sim/a", "@sim/b", ("@sim/down", {"sim_connect_fail_rate": 1})]
"""

# Simulated hosts run nothing: b's breaking command fails because the data says so.
FAILING_INVENTORY = """\
hosts = ["@sim/a", "@sim/b", "@sim/c"]
data = {"sim_fail_patterns": {"exit 4": 1}}
"""


@dataclass(frozen=True)
class Log:
    db: Path
    plan: str
    connect_abort: str
    execute_abort: str


def cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def _deploy(patch: pytest.MonkeyPatch, db: Path, *args: str) -> tuple[str, str]:
    argv = ["deploy", *args, "--db", str(db)]
    # What `python -m eventstate` records as its command: the full path of __main__.py.
    main_py = str(Path(sys.modules["eventstate"].__file__ or "").parent / "__main__.py")
    patch.setattr(sys, "argv", [main_py, *argv])
    result = cli(*argv)
    match = RUN_LINE.search(result.output)
    assert match, result.output
    return match[1], match[2]


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    base = tmp_path_factory.mktemp("vocabulary")
    db = base / "events.db"
    (base / "deploy.py").write_text(DEPLOY)
    (base / "inventory.py").write_text(INVENTORY)
    (base / "failing.py").write_text(FAILING_INVENTORY)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(base)
        plan = _deploy(patch, db, "@sim/a,@sim/b", "deploy.py", "--dry")
        connect_abort = _deploy(patch, db, "inventory.py", "deploy.py", "--fail-percent", "10")
        execute_abort = _deploy(patch, db, "failing.py", "deploy.py", "--fail-percent", "10")
    assert [run[1] for run in (plan, connect_abort, execute_abort)] == [
        "plan",  # RunFinished records success; the deploy and readers call it a plan
        "aborted",
        "aborted",
    ]
    yield Log(db, plan[0], connect_abort[0], execute_abort[0])


def _listed(log: Log) -> dict[str, dict[str, Any]]:
    result = cli("runs", "--db", log.db, "--json")
    assert result.exit_code == 0, result.output
    return {run["run_id"]: run for run in json.loads(result.stdout)}


def _shown(log: Log, run_id: str) -> dict[str, Any]:
    result = cli("show", run_id, "--db", log.db, "--json")
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


# A dry run is a plan


def test_a_dry_run_is_listed_as_a_plan(log: Log) -> None:
    listed = _listed(log)
    assert (listed[log.plan]["kind"], listed[log.plan]["status"]) == ("plan", "plan")
    assert listed[log.connect_abort]["kind"] == "deploy"
    text = cli("runs", "--db", log.db, "--status", "plan")
    assert text.exit_code == 0, text.output
    (row,) = text.stdout.splitlines()[1:]
    assert row.split()[0] == log.plan[:8] and " plan " in row
    state = json.loads(cli("state", log.plan, "--db", log.db, "--json").stdout)
    assert (state["kind"], state["status"]) == ("plan", "plan")
    assert timeline_status(log, log.plan) == "plan"


def timeline_status(log: Log, run_id: str) -> str:
    with read_log(log.db) as opened:
        status: str = timeline_data(opened.run(run_id))["status"]
    return status


def test_show_lists_a_plans_operations(log: Log) -> None:
    result = cli("show", log.plan[:8], "--db", log.db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[4] == "status    plan"
    rows = {line.split()[0]: line.split()[1] for line in lines if line.startswith("@sim/")}
    assert rows == {"@sim/a": "planned", "@sim/b": "planned"}
    at = lines.index("planned operations (a dry run: nothing was executed)")
    assert lines[at + 1].split() == ["operation", "hosts", "change", "no-change", "would", "change"]
    planned = [line.split() for line in lines[at + 2 :]]
    assert [row[0] for row in planned] == ["files.directory", "Break", "After"]
    assert planned[0][1:4] == ["2", "2", "0"] and planned[0][4:] == ["@sim/a,", "@sim/b"]
    assert planned[1][2:] == ["1", "1", "0", "@sim/b"]
    shown = _shown(log, log.plan)
    assert [(op["name"], [h["host"] for h in op["hosts"]]) for op in shown["planned"]] == [
        ("files.directory", ["@sim/a", "@sim/b"]),
        ("Break b", ["@sim/b"]),
        ("After", ["@sim/a", "@sim/b"]),
    ]
    assert all(h["is_change"] is True for op in shown["planned"] for h in op["hosts"])
    assert shown["failures"] == [] and shown["abort_cause"] is None


# After an abort


def test_hosts_that_never_ran_after_a_connect_abort_are_not_run(log: Log) -> None:
    result = cli("show", log.connect_abort, "--db", log.db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[4] == "status    aborted: Over 10% of hosts failed (33%)"
    assert lines[5] == (
        "cause     33% of 3 hosts failed, over FAIL_PERCENT 10 while connecting: "
        "@sim/down (could not connect: simulated connection failure to @sim/down)"
    )
    rows = {line.split()[0]: line.split()[1:3] for line in lines if line.startswith("@sim/")}
    assert rows == {
        "@sim/a": ["not", "run"],
        "@sim/b": ["not", "run"],
        "@sim/down": ["connect", "failed"],
    }
    assert "  [@sim/down] simulated connection failure to @sim/down" in lines
    shown = _shown(log, log.connect_abort)
    assert [host["status"] for host in shown["hosts"]] == ["not run", "not run", "connect failed"]
    assert shown["abort_cause"]["stage"] == "Connect"
    assert shown["abort_cause"]["failures"] == [
        {
            "host": "@sim/down",
            "op_hash": None,
            "op_name": None,
            "connect_error": "simulated connection failure to @sim/down",
        }
    ]


def test_hosts_stopped_by_an_abort_while_executing(log: Log) -> None:
    shown = _shown(log, log.execute_abort)
    statuses = {host["host"]: host["status"] for host in shown["hosts"]}
    # b failed its second op; a and c had run the first and never ran the last.
    assert statuses == {"@sim/a": "incomplete", "@sim/b": "failed", "@sim/c": "incomplete"}
    cause = shown["abort_cause"]
    assert cause["failures"] == [
        {
            "host": "@sim/b",
            "op_hash": shown["failures"][0]["op_hash"],
            "op_name": "Break b",
            "connect_error": None,
        }
    ]
    assert cause["summary"] == (
        "33% of 3 hosts failed, over FAIL_PERCENT 10 at Break b: @sim/b (Break b failed)"
    )
    text = cli("show", log.execute_abort, "--db", log.db).stdout.splitlines()
    assert text[5] == f"cause     {cause['summary']}"
    assert "      stderr: simulated failure" in text


def test_the_timeline_says_why_hosts_failed_and_the_run_stopped(log: Log) -> None:
    with read_log(log.db) as opened:
        data = timeline_data(opened.run(log.connect_abort))
    assert data["status"] == "aborted"
    assert data["abort_cause"]["summary"].startswith("33% of 3 hosts failed")
    hosts = {row["host"]: row for row in data["hosts"]}
    assert hosts["@sim/down"]["connect_error"] == "simulated connection failure to @sim/down"
    assert hosts["@sim/down"]["status"] == "connect failed"
    assert hosts["@sim/a"]["status"] == "not run" and hosts["@sim/a"]["connect_error"] is None
    page = Path(log.db.parent / "timeline.html")
    result = cli("timeline", log.connect_abort, "--db", log.db, "--html", page)
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "could not connect: ${row.connect_error}" in html
    assert "stopped: ${DATA.abort_cause.summary}" in html


# The same names in every --json


def test_a_runs_fields_are_named_alike_in_runs_show_state_and_the_timeline(log: Log) -> None:
    listed = _listed(log)[log.execute_abort]
    shown = _shown(log, log.execute_abort)
    state = json.loads(cli("state", log.execute_abort, "--db", log.db, "--json").stdout)
    with read_log(log.db) as opened:
        data = timeline_data(opened.run(log.execute_abort))
    assert shown["run"] == listed
    for key in ("run_id", "kind", "status", "started_at", "finished_at", "command_line", "error"):
        assert listed[key] == state[key], key
    for key in ("run_id", "kind", "status", "started_at", "error"):
        assert listed[key] == data[key], key
    assert "started" not in listed and "started" not in data
    # A count is named as one: "hosts" is a list of hosts wherever it appears.
    assert listed["host_count"] == len(shown["hosts"]) == len(state["hosts"]) == 3
    assert listed["failed_host_count"] == len(state["failed_hosts"]) == 1
    # A failure is named as the host-op it is (HostOp.as_dict).
    (failure,) = shown["failures"]
    assert {"host", "op_hash", "name", "outcome", "retry_count", "finished_seq"} <= set(failure)


def test_events_json_is_said_to_be_json_lines() -> None:
    events = " ".join(cli("events", "--help").stdout.split())
    assert "JSON Lines" in events
    for command in ("runs", "show", "state", "head"):
        assert "one JSON document" in " ".join(cli(command, "--help").stdout.split()), command


# Times and commands as people read them


def test_times_are_shown_in_local_time_with_the_zone(
    log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = _listed(log)[log.plan]
    stored = datetime.fromisoformat(listed["started_at"])
    assert stored.utcoffset() is not None and not stored.utcoffset()  # stored in UTC
    monkeypatch.setenv("TZ", "Asia/Kathmandu")  # +05:45 all year: no daylight saving
    time.tzset()
    try:
        local = stored.astimezone()
        assert local.utcoffset() is not None and local.utcoffset().total_seconds() == 20700  # type: ignore[union-attr]
        shown_at = f"{local:%Y-%m-%d %H:%M:%S} +0545"
        runs = cli("runs", "--db", log.db).stdout
        assert f"  {shown_at}  " in runs
        show = cli("show", log.plan, "--db", log.db).stdout.splitlines()
        assert show[3].startswith(f"started   {shown_at} (")
        # --json stays in UTC, as stored.
        assert _listed(log)[log.plan]["started_at"] == listed["started_at"]
        events = cli("events", log.plan, "--db", log.db, "--to", 1).stdout
        assert events.split()[1] == f"{local:%H:%M:%S.%f}"[:12]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_runs_shows_the_command_as_typed(log: Log) -> None:
    listed = _listed(log)
    command_line = listed[log.connect_abort]["command_line"]
    assert command_line[0].endswith("__main__.py")  # as python -m records it
    shown = "eventstate deploy inventory.py deploy.py --fail-percent 10 --db " + str(log.db)
    assert listed[log.connect_abort]["command"] == shown
    rows = cli("runs", "--db", log.db).stdout.splitlines()[1:]
    row = next(row for row in rows if row.startswith(log.connect_abort[:8]))
    assert "__main__" not in row
    if len(shown) <= 60:
        assert f"  {shown}  " in row
    else:
        # Cut at a word, within 60 characters, and said so.
        cut = shown[: shown.rindex(" ", 0, 57)] + "..."
        assert f"  {cut}  " in row


@pytest.mark.parametrize(
    ("command_line", "shown"),
    [
        (["/usr/lib/python3/site-packages/eventstate/__main__.py", "runs"], "eventstate runs"),
        (["/usr/local/bin/eventstate", "show", "latest"], "eventstate show latest"),
        (["examples/demo.py", "--db", "a b.db"], "demo.py --db 'a b.db'"),
        (["C:\\Tools\\eventstate.exe", "runs"], "eventstate runs"),
        ([], ""),
    ],
)
def test_shown_command(command_line: list[str], shown: str) -> None:
    assert shown_command(command_line) == shown


# rerun places a divergence in the log


def test_a_divergence_is_placed_by_the_logs_sequence_numbers() -> None:
    both = Divergence("@sim/a", 3, {"type": "X"}, {"type": "Y"}, recorded_seq=17, rerun_seq=18)
    assert (
        both.lines()[0] == "first divergence for host @sim/a, at event 17 (the rerun's event 18):"
    )
    same = Divergence(None, 0, {"type": "X"}, {"type": "Y"}, recorded_seq=5, rerun_seq=5)
    assert same.lines()[0] == "first divergence for the run, at event 5:"
    more = Divergence("@sim/a", 2, None, {"type": "Y"}, rerun_seq=9)
    assert more.lines()[0] == (
        "first divergence for host @sim/a, at the rerun's event 9, past the recorded run's last:"
    )


# EVENTSTATE_DB wherever --db is taken


def test_every_command_that_takes_db_takes_eventstate_db() -> None:
    taking = {
        name: next(p for p in command.params if p.name == "db")
        for name, command in main.commands.items()  # type: ignore[attr-defined]
        if any(p.name == "db" for p in command.params)
    }
    assert {"deploy", "runs", "show", "events", "state", "step", "verify", "rerun"} <= set(taking)
    assert {name: param.envvar for name, param in taking.items()} == dict.fromkeys(
        taking, "EVENTSTATE_DB"
    )
    assert all("EVENTSTATE_DB" in cli(name, "--help").stdout for name in taking)


def test_show_reads_eventstate_db_and_db_wins(log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTSTATE_DB", str(log.db))
    shown = cli("show", log.plan)
    assert shown.exit_code == 0 and shown.stdout.startswith(f"run       {log.plan}\n")
    missing = log.db.parent / "missing.db"
    result = cli("show", log.plan, "--db", missing)
    assert (result.exit_code, result.stderr) == (2, f"Error: no event log at {missing}\n")
