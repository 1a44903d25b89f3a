"""state_at(n) equals the fold of the first n events, with or without snapshots.

Snapshots are stored by ``Run.store_snapshots`` on a log open for writing;
the seeks read the log read-only, as every reader does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventstate.replay.run as replay_run_module
from eventstate import Config, Inventory, SqliteEventLog, State
from eventstate.connect import connect_all, disconnect_all
from eventstate.errors import StoreError
from eventstate.execute import run_ops
from eventstate.operation import add_op
from eventstate.operations import server
from eventstate.projections import StateView, fold
from eventstate.replay import ReplayLog, read_log


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Recorded runs: a sim deploy with failures, one with every kind, a hand-driven State."""
    path = tmp_path_factory.mktemp("seek") / "events.db"
    with SqliteEventLog(path) as log:
        names = [f"@sim/h{i}" for i in range(5)]
        data = {"sim_seed": 4, "sim_fail_rate": 0.15}
        state = State(Inventory((names, data)), Config(FAIL_PERCENT=90), log=log)
        connect_all(state)
        for i in range(8):
            add_op(state, server.shell, f"step {i}", _retries=1, _retry_delay=0)
        run_ops(state)
        disconnect_all(state)
        state.finish()

        _record_failures(log)

        other = State(Inventory((["a", "b"], {})), Config(), log=log)
        for host in other.inventory:
            other.activate_host(host)
        other.increment_warning_counter()
        other.limit_hosts = [other.inventory.get_host("a")]
        other.fail_hosts([other.inventory.get_host("b")])
        other.finish()
    return path


def _store_snapshots(db: Path, run_id: str, interval: int) -> list[int]:
    with ReplayLog(SqliteEventLog(db, create=False)) as log:
        return log.run(run_id).store_snapshots(interval)


def _record_failures(log: SqliteEventLog) -> None:
    """A run with a connect failure, ignored errors and partial ops (more ignored than partial).

    What a snapshot restores must be met by the seeks: a host that never
    connected, and the two counters a restore could swap.
    """
    fails = {"sim_fail_patterns": {"^fail": 1.0}}
    hosts = [
        ("@sim/down", {"sim_connect_fail_rate": 1.0}),
        ("@sim/p0", fails),
        ("@sim/p1", fails),
        ("@sim/ok", {}),
    ]
    state = State(Inventory((hosts, {})), Config(FAIL_PERCENT=100), log=log)
    connect_all(state)
    add_op(state, server.shell, "fail one", _ignore_errors=True)  # ignored, not partial
    add_op(state, server.shell, ["echo a", "fail two"], _ignore_errors=True)  # ignored, partial
    add_op(state, server.shell, "fail three", _ignore_errors=True)
    add_op(state, server.shell, "echo fine")
    add_op(
        state, server.shell, ["echo b", "fail four"], _retries=1, _retry_delay=0
    )  # error, partial
    add_op(state, server.shell, "echo never")
    run_ops(state)
    disconnect_all(state)
    state.finish()


def _failures_run(log: Any) -> str:
    return next(r for r in log.run_ids() if "@sim/down" in log.run(r).state().run.hosts)


def test_the_failures_run_has_every_kind_of_failure(db: Path) -> None:
    with read_log(db) as log:
        view = log.run(_failures_run(log)).state()
    assert set(view.host_sets.connect_errors) == {"@sim/down"}
    results = {host: view.results[host].as_dict() for host in ("@sim/p0", "@sim/ok")}
    assert results["@sim/p0"] == {
        "ops": 4,
        "success_ops": 1,
        "error_ops": 1,
        "ignored_error_ops": 3,
        "partial_ops": 2,
    }
    assert results["@sim/ok"]["success_ops"] == 6


def test_every_prefix_of_the_failures_run_restores_from_its_snapshot(db: Path) -> None:
    from eventstate.projections import StateView

    with read_log(db) as log:
        events = list(log.run(_failures_run(log)).events())
    for n in range(len(events) + 1):
        folded = fold(events[:n])
        restored = StateView.from_json(folded.to_json())
        assert restored == folded, n
        assert dict(restored.host_sets.connect_errors) == dict(folded.host_sets.connect_errors)
        assert {h: r.as_dict() for h, r in restored.results.items()} == {
            h: r.as_dict() for h, r in folded.results.items()
        }, n


@settings(
    max_examples=max(settings().max_examples, 40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), interval=st.sampled_from([1, 3, 7, 50, 2000]))
def test_state_at_equals_the_fold_of_the_first_n_events(
    db: Path, data: st.DataObject, interval: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_run_module, "SNAPSHOT_INTERVAL", interval)
    with read_log(db) as log:
        run = log.run(data.draw(st.sampled_from(log.run_ids())))
        events = list(run.events())
        _store_snapshots(db, run.run_id, interval)
        # Several seeks on one log, each from the nearest snapshot before it.
        for n in data.draw(st.lists(st.integers(0, len(events)), min_size=1, max_size=6)):
            assert run.state_at(n) == fold(events[:n])
            assert run.state_at(n).events_applied == n


def test_every_n_on_every_run(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_run_module, "SNAPSHOT_INTERVAL", 5)
    with read_log(db) as log:
        for run_id in log.run_ids():
            run = log.run(run_id)
            _store_snapshots(db, run_id, 5)
            events = list(run.events())
            for n in range(len(events) + 1):
                assert run.state_at(n) == fold(events[:n]), n


def test_snapshots_of_other_projection_code_are_not_used(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SqliteEventLog(db, create=False) as writable:
        run_id = writable.runs()[0].run_id
        # A snapshot that would be wrong -- made by "other code" -- must be ignored.
        writable.snapshots().put(run_id, 10, "other-version", fold([]).to_json())
    with read_log(db) as log:
        run = log.run(run_id)
        assert run.state_at(12) == fold(list(run.events(1, 12)))
        # The same snapshot under this code's version would be trusted: the version is the guard.
        monkeypatch.setattr(replay_run_module, "PROJECTION_VERSION", "other-version")
        assert run.state_at(12) != fold(list(run.events(1, 12)))


def test_a_restored_view_equals_the_folded_one(db: Path) -> None:
    with read_log(db) as log:
        for run_id in log.run_ids():
            view = log.run(run_id).state()
            restored = StateView.from_json(view.to_json())
            assert restored == view
            assert restored.events_applied == view.events_applied
            assert list(restored.active_hosts) == list(view.active_hosts)
            assert restored.get_op_order() == view.get_op_order()


def test_snapshots_are_stored_every_interval_and_at_the_end(tmp_path: Path) -> None:
    with SqliteEventLog(tmp_path / "events.db") as log:
        state = State(Inventory((["a", "b", "c"], {})), Config(), log=log)
        for host in state.inventory:
            state.activate_host(host)
        state.finish()
        run_id, last = state.run_id, log.last_event(state.run_id).seq  # type: ignore[union-attr]
        stored = ReplayLog(log).run(run_id).store_snapshots(2)
        assert stored == [*range(2, last + 1, 2), *([last] if last % 2 else [])]
        store = log.snapshots()
        events = list(ReplayLog(log).run(run_id).events())
        for seq in stored:
            found = store.latest(run_id, seq, replay_run_module.PROJECTION_VERSION)
            assert found is not None and found[0] == seq
            assert StateView.from_json(found[1]) == fold(events[:seq])


def test_a_reader_stores_no_snapshot(db: Path) -> None:
    with read_log(db) as log:
        run = log.run(log.run_ids()[0])
        with pytest.raises(StoreError, match="read-only"):
            run.store_snapshots()
        with pytest.raises(StoreError, match="read-only"):
            log.log.snapshots().put(run.run_id, 1, "v", "{}")
