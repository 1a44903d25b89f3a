"""The SQL views of a SQLite log (runs, host_results, op_results, failures), read as
Datasette and ``sqlite-utils`` read them: plain columns, no SQL written by hand."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eventstate.cli import main
from eventstate.cli.base import host_table
from eventstate.events import RunStarted, StageChanged, StateStage
from eventstate.replay import ReplayLog, read_log
from eventstate.stores import SqliteEventLog
from eventstate.stores.base import StoredEvent
from eventstate.stores.sqlite import _SCHEMA
from eventstate.stores.sqlite_views import TAIL, VIEWS, VIEWS_VERSION, views_outdated
from eventstate.testing.runs import DEFAULT_START, RunBuilder

DEPLOY = """\
from eventstate.operations import server
server.shell("echo hello", name="Say hello")
server.shell("echo careful >&2; exit 1", name="Allowed to fail", _ignore_errors=True)
server.shell("echo first >&2; echo oops >&2; exit 3", name="Fail on purpose")
server.shell("echo after", name="After the failure")
"""

INVENTORY = "@local,@sim/a,web1.invalid"


def deploy(tmp_path: Path, source: str = DEPLOY, inventory: str = INVENTORY) -> Path:
    """A real deploy through the CLI into ``tmp_path/eventstate.db``; the log's path."""
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(source)
    db = tmp_path / "eventstate.db"
    result = CliRunner().invoke(
        main, ["deploy", "--db", str(db), inventory, str(deploy_file)], catch_exceptions=False
    )
    assert result.exit_code in (0, 1, 2), result.output  # 2: an aborted run's one line
    return db


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log holding one failed run: @local fails an op, web1.invalid cannot connect."""
    return deploy(tmp_path_factory.mktemp("views"))


def sqlite_utils(*args: str) -> Any:
    """What the ``sqlite-utils`` command prints (JSON), run as a user runs it."""
    beside = Path(sys.executable).parent / "sqlite-utils"
    command = [str(beside)] if beside.exists() else [shutil.which("sqlite-utils") or ""]
    result = subprocess.run([*command, *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def rows(db: Path, view: str) -> list[dict[str, Any]]:
    """The rows of ``view``, read with Python's sqlite3 alone."""
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(f"SELECT * FROM {view}")]


def test_sqlite_utils_lists_op_names_and_outcomes(failed_run: Path) -> None:
    found = sqlite_utils("rows", str(failed_run), "op_results")
    by_host = {
        host: [(row["operation"], row["outcome"]) for row in found if row["host"] == host]
        for host in ("@local", "@sim/a")
    }
    assert by_host["@local"] == [
        ("Say hello", "success"),
        ("Allowed to fail", "ignored_error"),
        ("Fail on purpose", "error"),
    ]  # the host failed: its last op never ran
    assert by_host["@sim/a"] == [
        ("Say hello", "success"),
        ("Allowed to fail", "success"),
        ("Fail on purpose", "success"),
        ("After the failure", "success"),
    ]
    failed = next(row for row in found if row["outcome"] == "error")
    assert failed["exit_code"] == 3
    assert failed["stderr_tail"] == "first\noops"
    assert failed["command"] == "echo first >&2; echo oops >&2; exit 3"
    assert failed["changed"] == 0  # no command of it succeeded
    hello = next(row for row in found if row["host"] == "@local")
    assert (hello["stdout_tail"], hello["exit_code"], hello["changed"]) == ("hello", 0, 1)
    assert all(isinstance(row["duration"], float) and row["duration"] >= 0 for row in found)


def test_every_view_is_a_table_to_sqlite_utils(failed_run: Path) -> None:
    names = {row["view"] for row in sqlite_utils("views", str(failed_run))}
    assert names == set(VIEWS)
    (run,) = sqlite_utils("rows", str(failed_run), "runs")
    assert (run["status"], run["host_count"], run["failed_host_count"]) == ("failed", 3, 2)
    assert run["user"] and run["machine"] and run["command"]  # (CliRunner: pytest's argv)
    assert (run["ops"], run["success_ops"], run["error_ops"], run["ignored_error_ops"]) == (
        7,
        5,
        1,
        1,
    )
    assert run["duration"] > 0 and run["finished_at"] > run["started_at"]


def test_failures_lists_the_failed_op_and_the_connect_failure(failed_run: Path) -> None:
    found = rows(failed_run, "failures")
    kinds = [(row["kind"], row["host"], row["outcome"]) for row in found]
    assert kinds == [
        ("connect", "web1.invalid", "connect failed"),
        ("operation", "@local", "ignored_error"),
        ("operation", "@local", "error"),
    ]
    connect, ignored, failed = found
    assert "web1.invalid" in connect["reason"]
    assert (ignored["operation"], ignored["reason"]) == ("Allowed to fail", "careful")
    assert (failed["operation"], failed["exit_code"], failed["reason"]) == (
        "Fail on purpose",
        3,
        "first\noops",
    )


def test_the_views_say_what_the_projections_say(failed_run: Path) -> None:
    with read_log(failed_run) as log:
        run = log.run("latest")
        view = run.state()
        finished = run.host_ops().finished()
        info = run.info()
    ops = rows(failed_run, "op_results")
    assert [(r["host"], r["operation"], r["outcome"], r["seq"]) for r in ops] == [
        (op.host, op.name, op.outcome.value, op.finished_seq)  # type: ignore[union-attr]
        for op in finished
    ]
    assert [r["retries"] for r in ops] == [op.retry_count for op in finished]
    hosts = rows(failed_run, "host_results")
    columns = (
        "host",
        "status",
        "ops",
        "ops_change",
        "ops_no_change",
        "success_ops",
        "error_ops",
        "ignored_error_ops",
        "partial_ops",
    )
    assert [tuple(r[c] for c in columns) for r in hosts] == host_table(view)
    assert hosts[2]["connect_error"] == view.host_sets.connect_errors["web1.invalid"]
    (listed,) = rows(failed_run, "runs")
    assert (listed["run_id"], listed["started_at"], listed["finished_at"]) == (
        info.run_id,
        info.started_at,
        info.finished_at,
    )
    assert (
        listed["kind"],
        listed["status"],
        listed["ops_change"],
        listed["failed_host_count"],
        listed["event_count"],
    ) == (info.kind, info.status, info.ops_change, info.failed_host_count, info.event_count)
    assert listed["command"] == " ".join(info.command_line)  # as recorded
    assert listed["duration"] == pytest.approx(info.duration, abs=0.002)


def test_runs_come_newest_first_and_an_abort_is_a_failure(tmp_path: Path) -> None:
    db = deploy(
        tmp_path, "from eventstate.operations import server\nserver.shell('true')\n", "@local"
    )
    bad = "from eventstate.operations import files\nfiles.file('/x', _sduo=True)\n"
    deploy(tmp_path, bad, "@local")
    with SqliteEventLog(db, read_only=True) as log:
        first, second = (summary.run_id for summary in log.runs())
    listed = rows(db, "runs")
    assert [(r["run_id"], r["status"]) for r in listed] == [(second, "aborted"), (first, "success")]
    (failure,) = rows(db, "failures")
    assert (failure["run_id"], failure["kind"], failure["outcome"]) == (second, "run", "aborted")
    assert "_sduo" in failure["reason"]
    assert [r["run_id"] for r in rows(db, "host_results")] == [second, first]


def test_a_long_stderr_keeps_its_end(tmp_path: Path) -> None:
    source = (
        "from eventstate.operations import server\n"
        "server.shell(\"seq 1 5000 >&2; echo the-end >&2; exit 2\", name='Noisy')\n"
    )
    (row,) = rows(deploy(tmp_path, source, "@local"), "op_results")
    assert len(row["stderr_tail"]) == TAIL - 1  # its last line break trimmed
    assert row["stderr_tail"].endswith("4999\n5000\nthe-end")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _as_an_older_writer_left_it(db: Path) -> None:
    """No views and no views version: a log an eventstate before the views wrote."""
    with closing(sqlite3.connect(db)) as conn, conn:
        for name in reversed(VIEWS):
            conn.execute(f"DROP VIEW {name}")
        conn.execute("DELETE FROM eventstate_meta WHERE key = 'views_version'")
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all of it in the file itself


def _views(db: Path) -> dict[str, str]:
    with closing(sqlite3.connect(db)) as conn:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'"))


def test_readers_leave_an_older_log_without_views_and_a_writer_makes_them(
    tmp_path: Path,
) -> None:
    db = deploy(tmp_path)
    _as_an_older_writer_left_it(db)
    before = _digest(db)
    with read_log(db) as log:
        assert log.runs()  # read, as every read command reads
    SqliteEventLog(db, read_only=True).close()
    assert _digest(db) == before and _views(db) == {}
    SqliteEventLog(db).close()  # a writer opens it
    assert set(_views(db)) == set(VIEWS)
    assert [r["outcome"] for r in rows(db, "op_results")].count("error") == 1


def test_a_later_version_replaces_older_views_and_an_older_leaves_newer_ones(
    tmp_path: Path,
) -> None:
    db = deploy(tmp_path)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DROP VIEW runs")
        conn.execute("CREATE VIEW runs AS SELECT 'old' AS layout")
        conn.execute("UPDATE eventstate_meta SET value = '0' WHERE key = 'views_version'")
    SqliteEventLog(db).close()
    assert rows(db, "runs")[0]["status"] == "failed"  # replaced by this version's

    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DROP VIEW runs")
        conn.execute("CREATE VIEW runs AS SELECT 'newer' AS layout")
        conn.execute(
            "UPDATE eventstate_meta SET value = ? WHERE key = 'views_version'",
            [str(VIEWS_VERSION + 1)],
        )
    SqliteEventLog(db).close()
    assert rows(db, "runs") == [{"layout": "newer"}]  # a newer writer's: left alone


def test_a_missing_view_is_made_again(tmp_path: Path) -> None:
    db = deploy(tmp_path)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DROP VIEW failures")
    SqliteEventLog(db).close()
    assert set(_views(db)) == set(VIEWS)


def test_a_users_own_table_of_a_views_name_is_left_alone(tmp_path: Path) -> None:
    db = deploy(tmp_path)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DROP VIEW failures")
        conn.execute("CREATE TABLE failures (mine TEXT)")
        conn.execute("INSERT INTO failures VALUES ('kept')")
        conn.execute("UPDATE eventstate_meta SET value = '0' WHERE key = 'views_version'")
    SqliteEventLog(db).close()
    assert rows(db, "failures") == [{"mine": "kept"}]
    assert set(_views(db)) == set(VIEWS) - {"failures"}
    with closing(sqlite3.connect(db)) as conn:
        assert not views_outdated(conn)  # a writer opening it again makes nothing


def test_the_views_add_nothing_to_the_append_path(tmp_path: Path) -> None:
    # No trigger or index beyond the schema's own: appending does what it did before.
    db = tmp_path / "empty.db"
    SqliteEventLog(db).close()
    with closing(sqlite3.connect(db)) as conn:
        made = set(conn.execute("SELECT type, name FROM sqlite_master WHERE type != 'view'"))
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)  # empty, but there
    schema_only = tmp_path / "schema.db"
    with closing(sqlite3.connect(schema_only)) as conn:
        for statement in _SCHEMA:
            conn.execute(statement)
        expected = set(conn.execute("SELECT type, name FROM sqlite_master"))
    assert made == expected


def test_an_in_memory_log_has_the_views_too() -> None:
    log = SqliteEventLog(":memory:")
    try:
        names = {row[0] for row in log.db.execute("SELECT name FROM sqlite_master")}
    finally:
        log.close()
    assert set(VIEWS) <= names


def _unfinished(run_id: str, start: datetime) -> list[StoredEvent]:
    run = RunBuilder(run_id, start=start)
    run.add(
        RunStarted,
        user="ops",
        machine="bastion",
        command_line=("eventstate", "deploy", "@local", "deploy.py"),
        engine_version="0",
        hosts=("@local",),
        groups={},
        config={"FLUSH_DELAY": 1.0},
    )
    run.add(StageChanged, stage=StateStage.Connect, previous=StateStage.Setup)
    return run.rows()


def test_a_run_with_no_end_is_running_while_alive_then_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "unfinished.db"
    with SqliteEventLog(db) as log:
        log.append(_unfinished("long-gone", DEFAULT_START))
        log.append(_unfinished("just-now", datetime.now(timezone.utc)))
        expected = {run.run_id: run.info().status for run in ReplayLog(log).runs()}
    found = {row["run_id"]: row["status"] for row in rows(db, "runs")}
    assert found == expected == {"long-gone": "interrupted", "just-now": "running"}
    assert [row["finished_at"] for row in rows(db, "runs")] == [None, None]
    assert rows(db, "failures") == []  # no end recorded: no error to list


def test_a_row_that_is_not_json_hides_nothing_else(tmp_path: Path) -> None:
    db = deploy(tmp_path)
    with closing(sqlite3.connect(db)) as conn, conn:
        (run_id,) = conn.execute("SELECT DISTINCT run_id FROM events").fetchone()
        conn.execute(
            "INSERT INTO events VALUES "
            "('damaged', 1, 'RunStarted', 2, 'x', NULL, '{oops', 'p', 'h')"
        )
        conn.execute(
            "INSERT INTO events VALUES (?, 999, 'HostOperationFinished', 1, 'x', '@local', "
            "'not json', 'p', 'h')",
            [run_id],
        )
    for view in VIEWS:
        assert rows(db, view), view  # each view still answers
    assert len(rows(db, "op_results")) == 7  # the damaged row left out
    assert {r["run_id"] for r in rows(db, "runs")} == {run_id, "damaged"}
