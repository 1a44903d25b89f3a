"""``eventstate deploy``: the example deploy, its second run, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventstate.cli import main
from eventstate.replay import read_log, rebuild, verify_run
from eventstate.replay.run import PROJECTION_VERSION
from eventstate.stores import SqliteEventLog

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("EVENTSTATE_DEMO_DIR", str(tmp_path / "demo"))
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def _deploy(runner: CliRunner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(main, ["deploy", *args], catch_exceptions=False)


def _row(output: str, host: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(host + " "))
    return line.split()


def test_the_example_deploy_then_no_changes_on_the_local_host(
    runner: CliRunner, tmp_path: Path
) -> None:
    args = (str(EXAMPLES / "inventory.py"), str(EXAMPLES / "deploy.py"))
    first = _deploy(runner, *args)
    assert first.exit_code == 0, first.output
    ops, change, no_change = _row(first.output, "@local")[2:5]
    assert (ops, change, no_change) == ("6", "6", "0")
    assert (tmp_path / "demo" / "conf.d" / "app.conf").read_text() == (
        "listen = 8080\nworkers = 4\n"
    )
    assert (tmp_path / "eventstate.db").exists()  # the default log

    second = _deploy(runner, *args)
    assert second.exit_code == 0, second.output
    assert _row(second.output, "@local")[2:5] == ["6", "0", "6"]

    with SqliteEventLog(tmp_path / "eventstate.db", create=False) as log:
        runs = log.runs()
        assert len(runs) == 2
        for run in runs:
            assert verify_run(log, run.run_id).ok
            view = rebuild(log, run.run_id)
            assert view.run.status is not None and view.run.status.value == "success"


def test_a_syntax_error_is_one_line_and_records_nothing(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from eventstate.operations import files\nfiles.file(\n")
    result = _deploy(runner, "@local", str(bad))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: {bad}:2: syntax error: '(' was never closed"
    ]
    assert not (tmp_path / "eventstate.db").exists()


def test_an_unknown_connector_is_one_line_and_records_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = _deploy(runner, "@local,@nope/x", str(EXAMPLES / "deploy.py"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: no connector called 'nope' (installed: docker, local, sim, ssh)"
    ]
    assert not (tmp_path / "eventstate.db").exists()


def test_an_unknown_operation_argument_aborts_the_run_with_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from eventstate.operations import files\nfiles.file('/tmp/x', _sduo=True)\n")
    result = _deploy(runner, "@local", str(bad))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "unknown operation argument _sduo" in errors[0]
    assert f"{bad}:2 on @local" in errors[0]
    assert "aborted" in result.output  # the run is recorded as aborted


def test_an_unreachable_host_is_a_recorded_failure(runner: CliRunner, tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from eventstate.operations import server\nserver.shell('true')\n")
    result = _deploy(runner, "@local,web1.invalid", str(deploy))
    assert result.exit_code == 1, result.output
    assert _row(result.output, "web1.invalid")[1:3] == ["connect", "failed"]
    assert _row(result.output, "@local")[1] == "ok"
    with SqliteEventLog(tmp_path / "eventstate.db", create=False) as log:
        (run,) = log.runs()
        types = [event.type for event in log.read(run.run_id)]
    assert "HostConnectFailed" in types and types[-1] == "RunFinished"


def test_fail_percent_aborts_the_run(runner: CliRunner, tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from eventstate.operations import server\nserver.shell('false')\n")
    result = _deploy(runner, "@sim/a,@sim/b,@local", str(deploy), "--fail-percent", "10")
    assert result.exit_code == 1
    assert "Error: Over 10% of hosts failed" in result.output or "aborted" in result.output


def test_dry_prepares_and_executes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    args = (str(EXAMPLES / "inventory.py"), str(EXAMPLES / "deploy.py"), "--dry")
    result = _deploy(runner, *args)
    assert result.exit_code == 0, result.output
    assert _row(result.output, "@local")[2:6] == ["6", "6", "0", "0"]  # planned, none run
    assert not (tmp_path / "demo").exists()
    (closing,) = [line for line in result.stdout.splitlines() if line.startswith("run ")]
    assert closing.split()[2] == "plan", closing  # as runs and show list it


def test_limit_and_its_mistakes(runner: CliRunner, tmp_path: Path) -> None:
    args = (str(EXAMPLES / "inventory.py"), str(EXAMPLES / "deploy.py"))
    result = _deploy(runner, *args, "--limit", "db,@local")
    assert result.exit_code == 0, result.output
    assert _row(result.output, "@sim/web1")[1] == "not"  # "not run"
    bad = _deploy(runner, *args, "--limit", "nope")
    assert bad.exit_code == 2
    assert bad.output.strip() == "Error: --limit: no host or group called 'nope' in the inventory"


@pytest.mark.parametrize("mode", ["--serial", "--no-wait"])
def test_execution_modes(runner: CliRunner, mode: str) -> None:
    args = (str(EXAMPLES / "inventory.py"), str(EXAMPLES / "deploy.py"), mode)
    result = _deploy(runner, *args)
    assert result.exit_code == 0, result.output
    assert _row(result.output, "@sim/db1")[5] == "2"


def test_python_dash_m_eventstate_runs_the_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "eventstate", "runs", "--db", str(tmp_path / "missing.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == f"Error: no event log at {tmp_path / 'missing.db'}\n"


def test_the_deploy_stores_its_runs_snapshots(runner: CliRunner, tmp_path: Path) -> None:
    deploy = tmp_path / "many.py"
    deploy.write_text(
        "from eventstate.operations import server\n"
        "for i in range(200):\n"
        "    server.shell(f'echo {i}')\n"
    )
    # About 12 x 200 events (one per host-op) and 4 per op: > 2000.
    hosts = ",".join(f"@sim/h{i}" for i in range(12))
    result = _deploy(runner, hosts, str(deploy), "--db", str(tmp_path / "e.db"))
    assert result.exit_code == 0, result.output
    with read_log(tmp_path / "e.db") as log:
        (run,) = log.runs()
        last = run.last_seq
        assert last > 2000
        # The writer stored them: the newest one is at the run's last event.
        assert log.log.snapshots().latest(run.run_id, last, PROJECTION_VERSION)[0] == last


def test_a_command_freezes_start_up_and_collects_the_young_less_often() -> None:
    # In a process of its own: the collector's settings are the whole process's.
    script = (
        "import gc\n"
        "from eventstate.cli import COLLECTOR_THRESHOLDS, main\n"
        "assert gc.get_threshold() != COLLECTOR_THRESHOLDS and gc.get_freeze_count() == 0\n"
        "main(['runs', '--help'], standalone_mode=False)\n"
        "print(gc.get_threshold() == COLLECTOR_THRESHOLDS, gc.get_freeze_count() > 1000)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "True True"
