"""``runs`` counts the host-ops planned as changes, not every planned op.

The count is checked against one made here from the events themselves, on runs
where some planned ops change nothing, so "every op" cannot pass for "changed".
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from eventstate import Config, Inventory, SqliteEventLog, State
from eventstate.cli import main
from eventstate.connect import connect_all, disconnect_all
from eventstate.events import (
    OperationAddedForHost,
    RunFinished,
    RunStarted,
    RunStatus,
    with_host_events,
)
from eventstate.execute import run_ops
from eventstate.operation import add_op
from eventstate.operations import files
from eventstate.projections import fold
from eventstate.replay import RunInfo, read_events
from eventstate.testing import RunBuilder


def _planned_changes(events: list[object]) -> tuple[int, int]:
    """(host-ops planned and counted, those of them expected to change the host)."""
    added = [e for e in events if isinstance(e, OperationAddedForHost) and e.counted]
    return len(added), sum(1 for e in added if e.is_change)


def test_the_listing_counts_only_changes() -> None:
    run = RunBuilder("r")
    run.add(
        RunStarted,
        user="u",
        machine="m",
        command_line=("eventstate",),
        engine_version="0",
        hosts=("a", "b"),
        groups={},
        config={},
    )
    # A change, a no-change, change detection off (None), a _run_once duplicate.
    for host, op, is_change, counted in [
        ("a", "op1", True, True),
        ("a", "op2", False, True),
        ("a", "op3", None, True),
        ("b", "op1", True, True),
        ("b", "op2", False, True),
        ("b", "op4", True, False),
    ]:
        run.add(OperationAddedForHost, host=host, op_hash=op, is_change=is_change, counted=counted)
    run.add(RunFinished, status=RunStatus.SUCCESS)
    info = RunInfo.of(fold(run.events), len(run.events))
    assert _planned_changes(run.events) == (5, 2)
    assert info.ops_change == 2


def test_runs_lists_the_changes_of_a_deploy_run_twice(tmp_path: Path) -> None:
    # The second run finds every line already there: it plans the same ops, no change.
    db = tmp_path / "events.db"
    target = tmp_path / "conf"
    target.write_text("")
    run_ids = []
    with SqliteEventLog(db) as log:
        for _ in range(2):
            state = State(Inventory((["@local"], {})), Config(), log=log)
            connect_all(state)
            for line in ("a=1", "b=2", "c=3"):
                add_op(state, files.line, str(target), line)
            run_ops(state)
            disconnect_all(state)
            state.finish()
            run_ids.append(state.run_id)
        # Each host an op was added for, one event each (OperationAdded version 2 names them).
        expected = {
            r: _planned_changes(list(with_host_events(read_events(log, r)))) for r in run_ids
        }
    assert expected[run_ids[0]] == (3, 3)
    assert expected[run_ids[1]] == (3, 0)
    result = CliRunner().invoke(main, ["runs", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    listed = {run["run_id"]: run["ops_change"] for run in json.loads(result.stdout)}
    assert listed == {r: changes for r, (_, changes) in expected.items()}


def test_the_runs_table_shows_the_count(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    target = tmp_path / "conf"
    target.write_text("a=1\n")
    with SqliteEventLog(db) as log:
        state = State(Inventory((["@local"], {})), Config(), log=log)
        connect_all(state)
        add_op(state, files.line, str(target), "a=1")  # already there: no change
        add_op(state, files.line, str(target), "b=2")
        run_ops(state)
        disconnect_all(state)
        state.finish()
    result = CliRunner().invoke(main, ["runs", "--db", str(db)])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[:2]
    assert header.split()[-2:] == ["changed", "failed"]
    assert row.split()[-2:] == ["1", "0"]
