"""Re-running recorded deploys: the same events, or the first divergence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

import eventstate.execute
from eventstate.cli import main
from eventstate.rerun import compare_events, rerun
from eventstate.stores import SqliteEventLog

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A log with deploys of several shapes: success, failed, aborted, limited, modes, dry.

    The example deploy reads EVENTSTATE_DEMO_DIR: a rerun must see the same
    environment as the recorded run, so it stays set for the module.
    """
    tmp = tmp_path_factory.mktemp("rerun")
    db = tmp / "events.db"
    failing = tmp / "failing.py"
    failing.write_text(
        "from eventstate.operations import files, server\n"
        f"files.line({str(tmp / 'conf')!r}, 'key=1', _retries=1, _retry_delay=0)\n"
        "server.shell('false', _ignore_errors=True)\n"
        "server.shell(['echo one', 'false'], _continue_on_error=True)\n"
        "server.shell('echo never')\n"
    )
    example = (str(EXAMPLES / "inventory.py"), str(EXAMPLES / "deploy.py"))
    runner = CliRunner()
    mp = pytest.MonkeyPatch()
    mp.setenv("EVENTSTATE_DEMO_DIR", str(tmp / "demo"))
    try:
        for args in (
            [*example],
            [*example],
            [*example, "--serial"],
            [*example, "--no-wait", "--limit", "web,@local"],
            [*example, "--dry"],
            ["@local,@sim/a,@sim/b", str(failing)],
            ["@local,@sim/a,@sim/b", str(failing), "--fail-percent", "10"],
        ):
            result = runner.invoke(main, ["deploy", *args, "--db", str(db)])
            assert result.exit_code in (0, 1), result.output
        yield db
    finally:
        mp.undo()


def test_every_recorded_run_reruns_without_divergence(recorded: Path) -> None:
    with SqliteEventLog(recorded, create=False) as log:
        runs = log.runs()
        assert len(runs) == 7
        for run in runs:
            report = rerun(log, run.run_id)
            assert report.same, "\n".join(report.divergence.lines())  # type: ignore[union-attr]
            assert report.compared == run.last_seq - 1  # all but RunStarted


def test_a_changed_engine_rule_shows_the_first_divergence(
    recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Test-only rule change: errors are never ignored any more.
    real = eventstate.execute.run_host_op

    def strict(state, host, op_hash):  # type: ignore[no-untyped-def]
        data = state.ops[host].get(op_hash)
        if data is not None and data.global_arguments.ignore_errors:
            data.global_arguments = attrs.evolve(data.global_arguments, ignore_errors=False)
        return real(state, host, op_hash)

    monkeypatch.setattr(eventstate.execute, "run_host_op", strict)
    with SqliteEventLog(recorded, create=False) as log:
        failed_run = log.runs()[5]
        report = rerun(log, failed_run.run_id)
    assert not report.same
    divergence = report.divergence
    assert divergence is not None
    assert divergence.host == "@local"
    assert divergence.recorded is not None and divergence.rerun is not None
    assert divergence.recorded["type"] == "HostOperationFinished"
    assert (divergence.recorded["outcome"], divergence.rerun["outcome"]) == (
        "ignored_error",
        "error",
    )


def test_the_rerun_command(recorded: Path) -> None:
    runner = CliRunner()
    with SqliteEventLog(recorded, create=False) as log:
        run_id = log.runs()[0].run_id
    result = runner.invoke(main, ["rerun", run_id[:8], "--db", str(recorded)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"rerun of {run_id}: ") and "no divergence" in result.output


def test_a_run_without_deploy_code_cannot_be_rerun(tmp_path: Path) -> None:
    from eventstate import Inventory, State

    db = tmp_path / "api.db"
    with SqliteEventLog(db) as log:
        state = State(Inventory((["@sim/a"], {})), log=log)
        state.finish()
    result = CliRunner().invoke(main, ["rerun", state.run_id, "--db", str(db)])
    assert result.exit_code == 2
    assert "did not record its deploy code" in result.output


def test_compare_events_names_extra_events() -> None:
    from datetime import datetime, timezone

    from eventstate.events import HostActivated

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    one = [HostActivated(run_id="a", seq=1, at=at, host="h")]
    two = [
        *[HostActivated(run_id="b", seq=1, at=at, host="h")],
        HostActivated(run_id="b", seq=2, at=at, host="h"),
    ]
    compared, divergence = compare_events(one, two)
    assert compared == 1
    assert divergence is not None and divergence.recorded is None and divergence.position == 1
