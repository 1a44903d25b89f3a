"""Logs written before an op's commands rode on its outcome still read the same.

``data/old_log_v1.db`` was written by the engine of that time (``HostOperationFinished``
version 1, a ``CommandExecuted`` per command, ``data/make_old_log.py`` made it), and
``data/old_log_v1.json`` holds what its replay commands printed then: today's engine
reads the same log, verifies it unchanged (the hashes are over the stored bytes), and
prints the same.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventstate.cli import main
from eventstate.events import CommandExecuted, HostOperationFinished
from eventstate.replay import read_events, verify_run
from eventstate.stores import SqliteEventLog

DATA = Path(__file__).parent / "data"
OLD = json.loads((DATA / "old_log_v1.json").read_text())
FAILED, LIMITED = OLD["failed"], OLD["limited"]


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A copy of the old log (a reader may leave a shared-memory file beside it)."""
    copy = tmp_path / "old.db"
    shutil.copyfile(DATA / "old_log_v1.db", copy)
    return str(copy)


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "200", "TZ": "UTC"})
    assert result.exit_code in (0, 1), result.output
    return result.output


def test_the_old_log_is_of_the_old_shape(db: str) -> None:
    with SqliteEventLog(db, read_only=True) as log:
        stored = [row for run in log.runs() for row in log.read(run.run_id)]
    finished = {row.version for row in stored if row.type == "HostOperationFinished"}
    assert finished == {1}
    assert sum(row.type == "CommandExecuted" and '"op_hash":"' in row.payload for row in stored)


def test_runs_show_state_diff_and_step_print_what_they_printed(db: str) -> None:
    assert json.loads(cli("runs", "--db", db, "--json")) == OLD["runs"]
    assert json.loads(cli("show", FAILED, "--db", db, "--json")) == OLD["show"]
    assert json.loads(cli("state", FAILED, "--at", "40", "--db", db, "--json")) == OLD["state"]
    assert cli("diff", FAILED, LIMITED, "--db", db) == OLD["diff"]
    assert cli("step", FAILED, "--db", db) == OLD["step"]


def test_events_lists_the_old_commands(db: str) -> None:
    listed = cli("events", FAILED, "--db", db, "--type", "CommandExecuted", "--json")
    commands = [json.loads(line) for line in listed.splitlines()]
    assert "flaky --step" in [command["command"] for command in commands]


def test_verify_passes_unchanged(db: str) -> None:
    result = CliRunner().invoke(main, ["verify", "--db", db])
    assert result.exit_code == 0, result.output
    with SqliteEventLog(db, read_only=True) as log:
        assert all(verify_run(log, run.run_id).ok for run in log.runs())


def test_export_and_import_keep_the_old_run(db: str, tmp_path: Path) -> None:
    exported = tmp_path / "failed.jsonl"
    cli("export", FAILED, "--db", db, "-o", str(exported))
    copy = str(tmp_path / "copy.db")
    cli("import", str(exported), "--db", copy)
    result = CliRunner().invoke(main, ["verify", "--db", copy])
    assert result.exit_code == 0, result.output
    assert json.loads(cli("show", FAILED, "--db", copy, "--json")) == OLD["show"]


def test_timeline_and_report_show_what_they_showed(db: str, tmp_path: Path) -> None:
    page = tmp_path / "timeline.html"
    cli("timeline", FAILED, "--db", db, "--html", str(page))
    assert page.read_text() == OLD["timeline"]
    assert cli("report", FAILED, "--db", db, "--html", "-") == OLD["report"]
    assert "flaky --step" in OLD["timeline"] and "simulated failure" in OLD["report"]


@pytest.mark.parametrize("run", [FAILED, LIMITED])
def test_rerun_does_what_the_old_run_did(db: str, run: str) -> None:
    result = CliRunner().invoke(main, ["rerun", run, "--db", db])
    assert result.exit_code == 0, result.output


def test_the_views_a_new_writer_installs_read_the_old_commands(db: str) -> None:
    with SqliteEventLog(db):  # a writer of this version replaces the views
        pass
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT * FROM op_results WHERE run_id = ? AND outcome = 'error'", [FAILED]
        ).fetchall()
    assert [(row["operation"], row["command"], row["exit_code"]) for row in rows] == [
        ("Flaky step", "flaky --step", 1)
    ]


def test_old_and_new_runs_fold_to_the_same_host_ops(db: str) -> None:
    # The old run's commands are CommandExecuted events; the projection reads them as ever.
    with SqliteEventLog(db, read_only=True) as log:
        events = list(read_events(log, FAILED))
    assert any(isinstance(e, CommandExecuted) and e.op_hash for e in events)
    assert all(not e.commands for e in events if isinstance(e, HostOperationFinished))
