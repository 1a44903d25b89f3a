"""A rerun compares what commands printed: stdout and stderr, both ways they could be lost.

Two places carry a command's output through a rerun: the playback connector
answers each command with the recorded output, and the comparison holds the
rerun's recorded output against the run's. An engine that now records output
differently must diverge there, and a faithful rerun must print what the run did.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

import eventstate.command_runner
from eventstate import Config, Inventory, State
from eventstate.deploy import compile_deploy_file, record_deploy, run_deploy
from eventstate.events import CommandExecuted, with_command_events
from eventstate.replay import read_events
from eventstate.rerun import compare_events, rerun
from eventstate.stores import MemoryEventLog

DEPLOY = (
    "from eventstate.operations import server\n"
    "server.shell('echo to-stdout; echo to-stderr >&2')\n"
    "server.shell('echo second')\n"
)


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[MemoryEventLog, str]:
    """A deploy on @local whose first command prints to both streams."""
    log = MemoryEventLog()
    state = State(Inventory((["@local"], {})), Config(), log=log)
    deploy = tmp_path / "deploy.py"
    deploy.write_text(DEPLOY)
    record_deploy(state, "@local", str(deploy), {"dry": False, "serial": False})
    run_deploy(state, str(deploy), compile_deploy_file(deploy))
    return log, state.run_id


def _commands(log: MemoryEventLog, run_id: str) -> list[CommandExecuted]:
    return [
        e for e in with_command_events(read_events(log, run_id)) if isinstance(e, CommandExecuted)
    ]


def test_the_rerun_prints_what_the_run_printed(recorded: tuple[MemoryEventLog, str]) -> None:
    log, run_id = recorded
    first = _commands(log, run_id)[0]
    assert (first.stdout, first.stderr) == ("to-stdout\n", "to-stderr\n")
    report = rerun(log, run_id)
    assert report.same, "\n".join(report.divergence.lines())  # type: ignore[union-attr]
    replayed = _commands(report.rerun_log, report.rerun_id)
    assert [(c.stdout, c.stderr) for c in replayed] == [
        (c.stdout, c.stderr) for c in _commands(log, run_id)
    ]


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_the_engine_now_records_differently_is_a_divergence(
    recorded: tuple[MemoryEventLog, str], stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Test-only engine change: the output of one stream is recorded altered.
    real = eventstate.command_runner._cap

    def altered(text: str, limit: int) -> tuple[str, bool]:
        if text == f"to-{stream}\n":
            text = text.upper()
        return real(text, limit)

    log, run_id = recorded
    monkeypatch.setattr(eventstate.command_runner, "_cap", altered)
    report = rerun(log, run_id)
    assert not report.same
    divergence = report.divergence
    assert divergence is not None and divergence.host == "@local"
    assert divergence.recorded is not None and divergence.rerun is not None
    assert divergence.recorded["type"] == "CommandExecuted"
    assert (divergence.recorded[stream], divergence.rerun[stream]) == (
        f"to-{stream}\n",
        f"TO-{stream.upper()}\n",
    )


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_compare_events_holds_each_stream(stream: str) -> None:
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def command(run_id: str, **output: str) -> CommandExecuted:
        return CommandExecuted(
            run_id=run_id, seq=1, at=at, host="h", command="echo", success=True, **output
        )

    compared, divergence = compare_events([command("a")], [command("b")])
    assert (compared, divergence) == (1, None)
    compared, divergence = compare_events([command("a")], [command("b", **{stream: "x"})])
    assert compared == 0
    assert divergence is not None
    assert divergence.recorded is not None and divergence.rerun is not None
    assert (divergence.recorded[stream], divergence.rerun[stream]) == ("", "x")
