"""Re-running recorded deploys: the same events, or the first divergence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

import eventstate.execute
import eventstate.rerun
from eventstate import Config, ConfigError, Inventory, State
from eventstate.cli import main
from eventstate.codec import EventCodec
from eventstate.deploy import compile_deploy_file, load_inventory, record_deploy, run_deploy
from eventstate.errors import NotRerunnableError
from eventstate.events import CommandExecuted, RunStarted, with_command_events
from eventstate.replay import read_events
from eventstate.rerun import compare_events, rerun
from eventstate.stores import MemoryEventLog, SqliteEventLog
from eventstate.stores.base import EventLog

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
            # Hosts failing (FAIL_PERCENT, in the last run) is an outcome, not an error.
            assert report.error is None and report.exception is None
            # All but RunStarted, each command one (an op's are in its outcome event).
            recorded_events = with_command_events(read_events(log, run.run_id))
            assert report.compared == sum(1 for _ in recorded_events) - 1


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


# The recorded config, whole


def _record(tmp_path: Path, config: Config) -> tuple[EventLog, str]:
    """An API deploy on three simulated hosts: @sim/a fails every ``flaky`` command."""
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        'hosts = [("@sim/a", {"sim_fail_patterns": {"flaky": 1.0}}), "@sim/b", "@sim/c"]\n'
    )
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from eventstate.operations import server\nserver.shell('flaky')\nserver.shell('echo ok')\n"
    )
    log = MemoryEventLog()
    state = State(load_inventory(str(inventory)), config, log=log)
    record_deploy(state, str(inventory), str(deploy), {"dry": False, "serial": False})
    run_deploy(state, str(deploy), compile_deploy_file(deploy))
    return log, state.run_id


def _started(log: EventLog, run_id: str) -> RunStarted:
    event = EventCodec().decode(next(iter(log.read(run_id))).payload)
    assert isinstance(event, RunStarted)
    return event


def test_a_rerun_restores_the_whole_recorded_config(tmp_path: Path) -> None:
    config = Config(
        TIMEOUT=30,
        FAIL_PERCENT=50,
        RETRY=1,  # @sim/a's flaky command runs twice: a rerun without RETRY diverges
        RETRY_DELAY=0,
        INHERIT_ENV=["HOME"],
        SHELL="bash",
        SUDO_PASSWORD="hunter2",
        ENV={"API_TOKEN": "t0ken"},
    )
    log, run_id = _record(tmp_path, config)
    report = rerun(log, run_id)
    assert report.same, "\n".join(report.divergence.lines())  # type: ignore[union-attr]
    assert report.error is None
    recorded = dict(_started(log, run_id).config)
    rerun_config = dict(_started(report.rerun_log, report.rerun_id).config)
    # Secrets aside: never recorded, so the rerun has none.
    assert (recorded.pop("SUDO_PASSWORD"), rerun_config.pop("SUDO_PASSWORD")) == ("***", None)
    assert (recorded.pop("ENV"), rerun_config.pop("ENV")) == ({"API_TOKEN": "***"}, {})
    assert rerun_config == recorded
    assert (recorded["TIMEOUT"], recorded["RETRY"], recorded["FAIL_PERCENT"]) == (30, 1, 50)


def test_output_cut_at_max_output_reruns_the_same(tmp_path: Path) -> None:
    # The log keeps the cut output; playing it back must not read as uncut.
    config = Config(MAX_OUTPUT=4)
    inventory = Inventory((["@local"], {}))
    log = MemoryEventLog()
    state = State(inventory, config, log=log)
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from eventstate.operations import server\nserver.shell('echo 0123456789')\n")
    record_deploy(state, "@local", str(deploy), {"dry": False, "serial": False})
    run_deploy(state, str(deploy), compile_deploy_file(deploy))
    (command,) = [
        e
        for e in with_command_events(read_events(log, state.run_id))
        if isinstance(e, CommandExecuted)
    ]
    assert (command.stdout, command.truncated) == ("0123", True)
    report = rerun(log, state.run_id)
    assert report.same, "\n".join(report.divergence.lines())  # type: ignore[union-attr]


def test_a_run_recorded_by_an_older_version_reruns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An older version recorded fewer settings: the others take their defaults.
    full = Config.snapshot
    monkeypatch.setattr(
        Config, "snapshot", lambda self: {k: v for k, v in full(self).items() if k != "MAX_OUTPUT"}
    )
    log, run_id = _record(tmp_path, Config(RETRY=1, RETRY_DELAY=0))
    monkeypatch.undo()
    assert "MAX_OUTPUT" not in _started(log, run_id).config
    report = rerun(log, run_id)
    assert report.same, "\n".join(report.divergence.lines())  # type: ignore[union-attr]


def test_a_run_recorded_with_settings_this_version_lacks_is_not_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = Config.snapshot
    monkeypatch.setattr(Config, "snapshot", lambda self: {**full(self), "NEWER_SETTING": 1})
    log, run_id = _record(tmp_path, Config())
    monkeypatch.undo()
    with pytest.raises(
        ConfigError,
        match=r"^the recorded config has settings this version does "
        r"not know: NEWER_SETTING; the settings are ",
    ):
        rerun(log, run_id)


# What the rerun's deploy raises


def test_an_engine_error_in_the_rerun_is_reported_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, run_id = _record(tmp_path, Config(FAIL_PERCENT=50))

    def broken(state, host, op_hash):  # type: ignore[no-untyped-def]
        raise RuntimeError("engine bug")

    monkeypatch.setattr(eventstate.execute, "run_host_op", broken)
    report = rerun(log, run_id)
    assert not report.same
    assert report.error == "RuntimeError: engine bug"
    assert isinstance(report.exception, RuntimeError) and report.exception.__traceback__
    divergence = report.divergence
    assert divergence is not None and divergence.error == report.error
    assert divergence.lines()[-1] == "  the rerun raised RuntimeError: engine bug"


def test_the_rerun_command_shows_what_the_rerun_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "events.db"
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from eventstate.operations import server\nserver.shell('echo ok')\n")
    result = CliRunner().invoke(main, ["deploy", "@sim/a", str(deploy), "--db", str(db)])
    assert result.exit_code == 0, result.output

    def broken(state, host, op_hash):  # type: ignore[no-untyped-def]
        raise RuntimeError("engine bug")

    monkeypatch.setattr(eventstate.execute, "run_host_op", broken)
    with SqliteEventLog(db, create=False) as log:
        run_id = log.runs()[0].run_id
    result = CliRunner().invoke(main, ["rerun", run_id, "--db", str(db)])
    assert result.exit_code == 1, (result.output, result.exception)
    lines = result.output.splitlines()  # (gevent prints the greenlet's traceback after them)
    assert lines[0].startswith("first divergence for host @sim/a")
    assert lines[3] == "  the rerun raised RuntimeError: engine bug"


def test_a_deploy_that_raised_when_recorded_reruns_the_same(tmp_path: Path) -> None:
    # A mistake in the deploy code is what the recorded run did: the comparison says so.
    db = tmp_path / "events.db"
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from eventstate.operations import server\nserver.shell(undefined)\n")
    result = CliRunner().invoke(main, ["deploy", "@sim/a,@sim/b", str(deploy), "--db", str(db)])
    assert result.exit_code == 2, result.output
    with SqliteEventLog(db, create=False) as log:
        report = rerun(log, log.runs()[0].run_id)
    assert report.same, "\n".join(report.divergence.lines())  # type: ignore[union-attr]
    assert report.error == (
        f"DeployFileError: {deploy.resolve()}:2 on @sim/a: NameError: name 'undefined' is not "
        "defined"
    )


def test_not_rerunnable_error_lives_in_errors() -> None:
    assert eventstate.rerun.NotRerunnableError is NotRerunnableError
    assert NotRerunnableError.__module__ == "eventstate.errors"


def test_a_run_reruns_without_the_connectors_it_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Recorded through a plugin connector, re-run where it is not installed: playback
    # answers for every host, so nothing of the recorded run's connectors is needed.
    import sys

    import eventstate.connectors as connectors

    (tmp_path / "gone_connector.py").write_text(
        "from eventstate.connectors.sim import SimConnector\n"
        "class GoneConnector(SimConnector):\n"
        "    name = 'gone'\n"
    )
    dist = tmp_path / "gone_connector-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gone-connector\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[eventstate.connectors]\ngone = gone_connector:GoneConnector\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(connectors, "_plugins", None)
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from eventstate.operations import server\nserver.shell('echo hi')\n")
    log = MemoryEventLog()
    state = State(load_inventory("@gone/a,@sim/b"), Config(), log=log)
    record_deploy(state, "@gone/a,@sim/b", str(deploy), {"dry": False, "serial": False})
    run_deploy(state, str(deploy), compile_deploy_file(deploy))

    monkeypatch.syspath_prepend(str(tmp_path / "nowhere"))
    sys.path.remove(str(tmp_path))
    sys.modules.pop("gone_connector", None)
    monkeypatch.setattr(connectors, "_plugins", None)
    report = rerun(log, state.run_id)
    assert report.same, "\n".join(report.divergence.lines())  # type: ignore[union-attr]
    assert report.compared > 0
    monkeypatch.setattr(connectors, "_plugins", None)
