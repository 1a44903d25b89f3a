"""What a deploy stores for readers: snapshots of its views as it goes, its overview at its end.

Each stored snapshot must be the fold of the events up to it, the overview the
fold of the overview's projections; ``verify`` checks both; ``show`` and
``runs`` read them instead of folding (counted: no event decoded), and print
what a fold prints; a damaged overview is found by ``verify`` and ignored by
``show``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eventstate import Config, EventCodec, Inventory, MemoryEventLog, SqliteEventLog, State
from eventstate.cli import main
from eventstate.connect import connect_all, disconnect_all
from eventstate.errors import DeployError
from eventstate.events import Event, OpOutcome
from eventstate.execute import run_ops
from eventstate.operation import add_op
from eventstate.operations import server
from eventstate.projections import HostOpsProjection, StateView
from eventstate.projections.overview import OverviewFold
from eventstate.replay import ReplayLog, verify_run
from eventstate.replay.run import OVERVIEW_VERSION, PROJECTION_VERSION, SNAPSHOT_INTERVAL, Run
from eventstate.stores.base import EventLog

_COMMAND_FIELDS = ("command", "success", "exit_code", "stdout", "stderr")


class CountingCodec(EventCodec):
    """The real codec, counting the events it decodes."""

    def __init__(self) -> None:
        super().__init__()
        self.decoded = 0

    def decode(self, payload: str) -> Event:
        self.decoded += 1
        return super().decode(payload)


def _deploy(log: EventLog, hosts: int, ops: int, data: dict[str, Any] | None = None) -> State:
    names = [f"@sim/h{i}" for i in range(hosts)]
    state = State(Inventory((names, data or {})), Config(FAIL_PERCENT=50), log=log)
    connect_all(state)
    for i in range(ops):
        add_op(state, server.shell, name=f"step {i}", commands=[f"step-{i} run"])
    with contextlib.suppress(DeployError):  # aborted over FAIL_PERCENT: its end is recorded
        run_ops(state)
    disconnect_all(state)
    state.finish()
    return state


def _views(log: EventLog, run_id: str) -> list[int]:
    return [
        seq for seq, version in log.snapshots().entries(run_id) if version == PROJECTION_VERSION
    ]


def _assert_stored_is_the_fold(log: EventLog, run_id: str) -> list[int]:
    run = Run(log, run_id)
    stored = _views(log, run_id)
    fold = OverviewFold()
    done = 0
    for seq in stored:
        fold.apply_all(run.events(done + 1, seq))
        done = seq
        data = log.snapshots().latest(run_id, seq, PROJECTION_VERSION)
        assert data is not None and data[0] == seq
        assert StateView.from_json(data[1]) == fold.view, seq
    last = run.last_seq
    assert stored[-1] == last  # the end, for show and state
    overview = log.snapshots().latest(run_id, last, OVERVIEW_VERSION)
    assert overview is not None and overview[0] == last
    assert json.loads(overview[1]) == json.loads(fold.overview().to_json())
    assert verify_run(log, run_id).ok
    return stored


@pytest.fixture(params=["memory", "sqlite"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    made: EventLog = (
        MemoryEventLog() if request.param == "memory" else SqliteEventLog(tmp_path / "events.db")
    )
    yield made
    made.close()


def test_an_api_deploy_leaves_snapshots_that_are_the_fold_at_their_event(log: EventLog) -> None:
    state = _deploy(log, hosts=10, ops=350)
    stored = _assert_stored_is_the_fold(log, state.run_id)
    assert len(stored) >= 3
    # As the deploy went, never closer than the interval (the end's aside).
    assert all(b - a >= SNAPSHOT_INTERVAL for a, b in itertools.pairwise(stored[:-1]))


def test_a_failing_deploys_overview_says_what_a_fold_of_every_host_op_says(log: EventLog) -> None:
    data = {"sim_fail_patterns": {"^step-(3|7) ": 0.3}, "sim_seed": 5}
    state = _deploy(log, hosts=12, ops=10, data=data)
    _assert_stored_is_the_fold(log, state.run_id)
    overview = Run(log, state.run_id).stored_overview()
    assert overview is not None and overview.failures
    # The reference: every host-op folded (what show read before overviews).
    host_ops = HostOpsProjection()
    host_ops.apply_all(Run(log, state.run_id).events())
    failed = [op for op in host_ops.finished() if op.outcome is not OpOutcome.SUCCESS]
    assert [(f["host"], f["op_hash"], f["name"], f["finished_seq"]) for f in overview.failures] == [
        (op.host, op.op_hash, op.name, op.finished_seq) for op in failed
    ]
    assert [f["commands"] for f in overview.failures] == [
        [
            {
                key: getattr(c, key)
                for key in ("command", "success", "exit_code", "stdout", "stderr")
            }
            for c in op.final_commands
        ]
        for op in failed
    ]
    for row in overview.operations:
        records = [op for op in host_ops if op.op_hash == row["op_hash"] and op.added]
        assert row["hosts"] == len(records)
        assert row["error"] == sum(
            1 for op in records if op.outcome not in (None, OpOutcome.SUCCESS)
        )
    if state.view.run.status is not None and state.view.run.status.value == "aborted":
        assert overview.abort_cause is not None


def test_show_and_runs_read_the_overview_without_decoding_an_event(tmp_path: Path) -> None:
    with SqliteEventLog(tmp_path / "events.db") as log:
        runs = [_deploy(log, hosts=5, ops=300).run_id for _ in range(3)]
    with SqliteEventLog(tmp_path / "events.db", create=False) as log:
        codec = CountingCodec()
        replay = ReplayLog(log, codec)
        listing = replay.listing()
        assert [info.run_id for info in listing.infos] == runs[::-1]
        view, overview = replay.run(runs[0]).overview()
        assert overview.info["event_count"] == view.events_applied
        assert codec.decoded == 0  # no run folded: read from what the deploys stored
        # Without them (an older log), the same answers, folded.
        folded = ReplayLog(MemoryCopy(log), CountingCodec())
        assert [info for info in folded.listing().infos] == listing.infos
        assert folded.run(runs[0]).overview()[1] == overview
        assert folded.codec.decoded > 0  # type: ignore[attr-defined]


class MemoryCopy(MemoryEventLog):
    """The runs of ``log``, without its snapshots and overviews (as an older log has none)."""

    def __init__(self, log: EventLog) -> None:
        super().__init__()
        for summary in log.runs():
            self.append(list(log.read(summary.run_id)))


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code in (0, 1), result.output
    return result


def _cli_deploy(tmp_path: Path, db: Path) -> str:
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        "hosts = ([f'@sim/h{i}' for i in range(6)], "
        "{'sim_fail_patterns': {'^step-4 ': 0.5}, 'sim_seed': 3})\n"
    )
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from eventstate.operations import server\n"
        "for i in range(250):\n"
        "    server.shell(name=f'step {i}', commands=[f'step-{i} run'])\n"
    )
    result = _cli("deploy", str(inventory), str(deploy), "--db", str(db))
    return result.output.split("\nrun ", 1)[1].split()[0]


def test_a_cli_deploy_leaves_snapshots_and_show_prints_what_a_fold_prints(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    run_id = _cli_deploy(tmp_path, db)
    with SqliteEventLog(db, create=False) as log:
        stored = _assert_stored_is_the_fold(log, run_id)
    assert len(stored) >= 2
    assert "run" in _cli("verify", "--db", str(db)).output
    shown = [_cli("show", run_id, "--db", str(db)).output for _ in range(2)]
    shown_json = _cli("show", run_id, "--db", str(db), "--json").output
    listed = _cli("runs", "--db", str(db), "--json").output
    assert "operations with errors" in shown[0]
    # The same log without what the deploy stored: folded, the same output.
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM snapshots")
    assert _cli("show", run_id, "--db", str(db)).output == shown[0]
    assert _cli("show", run_id, "--db", str(db), "--json").output == shown_json
    assert json.loads(_cli("runs", "--db", str(db), "--json").output) == json.loads(listed)


def _put_overview(db: Path, run_id: str, blob: bytes) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE snapshots SET data = ? WHERE run_id = ? AND version = ?",
            [blob, run_id, OVERVIEW_VERSION],
        )


@pytest.mark.parametrize("damage", ["not-json", "not-zlib", "forged-counts"])
def test_a_damaged_overview_is_found_by_verify_and_ignored_by_show(
    tmp_path: Path, damage: str
) -> None:
    db = tmp_path / "events.db"
    run_id = _cli_deploy(tmp_path, db)
    truth = _cli("show", run_id, "--db", str(db)).output
    with SqliteEventLog(db, create=False) as log:
        last = Run(log, run_id).last_seq
        stored = log.snapshots().latest(run_id, last, OVERVIEW_VERSION)
    assert stored is not None
    if damage == "not-json":
        blob = zlib.compress(b"{not json")
    elif damage == "not-zlib":
        blob = b"\x00garbage"
    else:
        forged = json.loads(stored[1])
        forged["operations"][0]["error"] += 1
        blob = zlib.compress(json.dumps(forged).encode())
    _put_overview(db, run_id, blob)
    report = _cli("verify", "--db", str(db))
    assert report.exit_code == 1
    assert f"run {run_id}, event {last}: the stored overview after this event is not the fold" in (
        report.output
    )
    if damage != "forged-counts":  # damage that cannot be read: show folds instead
        assert _cli("show", run_id, "--db", str(db)).output == truth
