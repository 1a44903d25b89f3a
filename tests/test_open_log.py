"""``open_log``: every form of path and URL, its one-line errors, and the CLI's ``--db``.

The CLI tests run the real command line (as tests/test_cli_*.py do): a deploy
on simulated hosts, then ``runs`` reading it back.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import eventstate
from eventstate import replay
from eventstate.cli import main
from eventstate.errors import StoreCorruptError, StoreError, StoreNotFoundError
from eventstate.stores import EventLog, MemoryEventLog, SqliteEventLog, open_log
from eventstate.testing import stored_events

RUN_LINE = re.compile(r"^run ([0-9a-f]{32}) success \(", re.MULTILINE)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative paths and URLs resolve here; no EVENTSTATE_DB from the caller's shell.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVENTSTATE_DB", raising=False)


def _write_run(log: EventLog) -> None:
    with log:
        log.append(stored_events("run-a", 3))


def _runs_in(path: Path) -> list[str]:
    with SqliteEventLog(path, create=False) as log:
        return [summary.run_id for summary in log.runs()]


# -- The forms ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("./events.db", "events.db"),
        ("events.db", "events.db"),
        ("runs/x.db", "runs/x.db"),
        ("sqlite:///events.db", "events.db"),  # three slashes: relative
        ("sqlite:///runs/x.db", "runs/x.db"),
        ("SQLite:///events.db", "events.db"),  # schemes are case-insensitive
    ],
)
def test_paths_and_relative_sqlite_urls_open_a_file_here(
    tmp_path: Path, url: str, file: str
) -> None:
    (tmp_path / "runs").mkdir()
    log = open_log(url)
    assert isinstance(log, SqliteEventLog)
    _write_run(log)
    assert _runs_in(tmp_path / file) == ["run-a"]


def test_four_slashes_are_an_absolute_path(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _write_run(open_log(f"sqlite:///{elsewhere / 'abs.db'}"))  # "/" + an absolute path
    assert str(elsewhere).startswith("/")
    assert _runs_in(elsewhere / "abs.db") == ["run-a"]


def test_a_path_object_is_a_path(tmp_path: Path) -> None:
    _write_run(open_log(tmp_path / "p.db"))
    assert _runs_in(tmp_path / "p.db") == ["run-a"]


def test_a_tilde_is_the_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    _write_run(open_log("~/deploys.db"))
    assert _runs_in(home / "deploys.db") == ["run-a"]


def test_every_form_reaches_the_same_file(tmp_path: Path) -> None:
    _write_run(open_log("shared.db"))
    for url in ("./shared.db", "sqlite:///shared.db", f"sqlite:///{tmp_path / 'shared.db'}"):
        with open_log(url, create=False) as log:
            assert [summary.run_id for summary in log.runs()] == ["run-a"], url


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_sqlite_in_memory(tmp_path: Path, url: str) -> None:
    log = open_log(url)
    assert isinstance(log, SqliteEventLog) and log.path == ":memory:"
    _write_run(log)
    assert list(tmp_path.iterdir()) == []  # no file was made
    fresh = open_log(url)  # private: another open sees nothing of the first
    assert fresh.runs() == []
    fresh.close()


def test_memory_url_is_a_memory_log() -> None:
    log = open_log("memory://")
    assert isinstance(log, MemoryEventLog)
    log.append(stored_events("run-a", 2))
    assert [e.seq for e in log.read("run-a")] == [1, 2]
    assert isinstance(open_log("MEMORY://"), MemoryEventLog)


def test_the_package_root_and_replay_open_by_url(tmp_path: Path) -> None:
    assert eventstate.open_log is open_log
    _write_run(open_log("r.db"))
    with replay.read_log("sqlite:///r.db") as log:
        assert log.run_ids() == ["run-a"]
    with pytest.raises(StoreNotFoundError, match=r"no event log at nothing\.db"):
        replay.read_log("sqlite:///nothing.db")
    assert not (tmp_path / "nothing.db").exists()


def test_a_memory_url_loads_no_sqlite() -> None:
    # Backends are imported when a URL names them: in a fresh interpreter, to see it.
    script = (
        "import sys; from eventstate.stores import open_log; open_log('memory://'); "
        "print(sorted({'sqlite3', 'sqlite_utils'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- One-line errors ------------------------------------------------------------------------------


def _one_line(error: pytest.ExceptionInfo[StoreError]) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


@pytest.mark.parametrize(
    "url", ["postgresql://deployer:s3cret@db.example/runs", "postgres://db.invalid/x"]
)
def test_an_unreachable_postgresql_is_one_line(url: str) -> None:
    # tests/test_store_postgres.py opens real ones; here the host cannot be resolved.
    with pytest.raises(StoreError) as caught:
        open_log(url)
    message = _one_line(caught)
    assert ": cannot connect: " in message
    assert "s3cret" not in message and "deployer" not in message  # never echo credentials


def test_an_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(StoreError) as caught:
        open_log("mysql://user:pw@host/db")
    message = _one_line(caught)
    assert message == (
        "unknown store URL scheme mysql://: give a path, sqlite:///PATH, memory:// or "
        "postgresql://HOST/DB"
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "no event log given"),
        ("  ", "no event log given"),
        ("sqlite://host/x.db", "a sqlite URL names no host"),
        ("sqlite:///", "names no file"),
        ("sqlite:///x.db?mode=ro", "take no options"),
        ("memory://name", "memory:// takes nothing after it"),
    ],
)
def test_a_malformed_url_is_refused(tmp_path: Path, url: str, says: str) -> None:
    with pytest.raises(StoreError, match=re.escape(says)) as caught:
        open_log(url)
    _one_line(caught)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["missing.db", "sqlite:///missing.db"])
def test_a_missing_log_without_create(tmp_path: Path, url: str) -> None:
    with pytest.raises(StoreNotFoundError) as caught:
        open_log(url, create=False)
    assert _one_line(caught) == "no event log at missing.db"
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("url", ["missing.db", "sqlite:///missing.db"])
def test_a_missing_log_read_only(tmp_path: Path, url: str) -> None:
    with pytest.raises(StoreNotFoundError) as caught:
        open_log(url, read_only=True)  # create=True is ignored: a reader makes nothing
    assert _one_line(caught) == "no event log at missing.db"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["events.db", "sqlite:///events.db"])
def test_every_form_opens_read_only(tmp_path: Path, url: str) -> None:
    open_log("events.db").close()
    with open_log(url, read_only=True) as log:
        assert log.read_only
    with open_log(url) as log:
        assert not log.read_only


@pytest.mark.parametrize("url", ["sqlite://", "memory://"])
def test_an_in_memory_log_read_only_is_not_found(url: str) -> None:
    with pytest.raises(StoreNotFoundError, match="no event log at"):
        open_log(url, read_only=True)


def test_a_memory_log_without_create_is_not_found() -> None:
    with pytest.raises(StoreNotFoundError, match="no event log at memory://"):
        open_log("memory://", create=False)


@pytest.mark.parametrize("url", ["notes.txt", "sqlite:///notes.txt"])
@pytest.mark.parametrize("create", [True, False])
def test_a_file_that_is_not_a_database(tmp_path: Path, url: str, create: bool) -> None:
    (tmp_path / "notes.txt").write_text("these are not events\n" * 100)
    with pytest.raises(StoreCorruptError) as caught:
        open_log(url, create=create)
    assert _one_line(caught).startswith("notes.txt is not an eventstate SQLite log")
    assert (tmp_path / "notes.txt").read_text() == "these are not events\n" * 100


# -- The CLI's --db and EVENTSTATE_DB ---------------------------------------------------------


def cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def _deploy(tmp_path: Path, *db: str) -> str:
    """Run a one-operation deploy on two simulated hosts; its run id."""
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text("from eventstate.operations import server\nserver.shell('true')\n")
    result = cli("deploy", "@sim/a,@sim/b", deploy_file, *db)
    assert result.exit_code == 0, result.output
    match = RUN_LINE.search(result.output)
    assert match, result.output
    return match[1]


def _listed(*db: str) -> list[str]:
    result = cli("runs", "--json", *db)
    assert result.exit_code == 0, result.output
    return [run["run_id"] for run in json.loads(result.stdout)]


def test_eventstate_db_names_the_log_when_db_is_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTSTATE_DB", str(tmp_path / "from-env.db"))
    run_id = _deploy(tmp_path)
    assert _runs_in(tmp_path / "from-env.db") == [run_id]
    assert not (tmp_path / "eventstate.db").exists()
    assert _listed() == [run_id]


def test_db_wins_over_eventstate_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTSTATE_DB", str(tmp_path / "from-env.db"))
    run_id = _deploy(tmp_path, "--db", "flag.db")
    assert _runs_in(tmp_path / "flag.db") == [run_id]
    assert not (tmp_path / "from-env.db").exists()
    assert _listed("--db", "flag.db") == [run_id]


def test_without_either_the_log_is_eventstate_db_here(tmp_path: Path) -> None:
    run_id = _deploy(tmp_path)
    assert _runs_in(tmp_path / "eventstate.db") == [run_id]


def test_a_sqlite_url_for_deploy_then_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _deploy(tmp_path, "--db", "sqlite:///deploys.db")
    monkeypatch.setenv("EVENTSTATE_DB", "sqlite:///deploys.db")
    second = _deploy(tmp_path)
    assert _runs_in(tmp_path / "deploys.db") == [first, second]
    assert _listed() == [second, first]  # newest first
    assert _listed("--db", f"sqlite:///{tmp_path / 'deploys.db'}") == [second, first]


@pytest.mark.parametrize(
    ("db", "says"),
    [
        ("postgresql://deployer:s3cret@db.invalid/runs", "***@db.invalid/runs: cannot connect"),
        ("missing.db", "no event log at missing.db"),
        ("notes.txt", "notes.txt is not an eventstate SQLite log"),
    ],
)
def test_a_bad_log_is_one_line_from_the_cli(tmp_path: Path, db: str, says: str) -> None:
    (tmp_path / "notes.txt").write_text("these are not events\n" * 100)
    result = cli("runs", "--db", db)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("Error: ") and says in result.stderr
    assert "s3cret" not in result.output
    assert not (tmp_path / "missing.db").exists()
