"""Projections fold events into views, the same way live and on rebuild."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from eventstate.events import (
    Event,
    FailOutcome,
    HostActivated,
    HostOperationFinished,
    HostsFailed,
    LimitSet,
    OperationAdded,
    OperationAddedForHost,
    OpOutcome,
    RunFinished,
    RunStarted,
    RunStatus,
    StageChanged,
    StateStage,
    WarningRaised,
)
from eventstate.projections import StateView, fold
from eventstate.projections.host_results import HostResultsProjection

AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Events:
    """Builds a run's events with consecutive sequence numbers."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, cls: type[Event], **fields: object) -> Events:
        self.events.append(cls(run_id="r", seq=len(self.events) + 1, at=AT, **fields))  # type: ignore[arg-type]
        return self


def started(hosts: tuple[str, ...] = ("a", "b", "c")) -> Events:
    return Events().add(
        RunStarted,
        user="u",
        machine="m",
        command_line=("deploy",),
        engine_version="0",
        hosts=hosts,
        groups={},
        config={},
    )


@pytest.mark.parametrize(
    ("outcome", "commands", "expected"),
    [
        # (ops, success_ops, error_ops, ignored_error_ops, partial_ops)
        (OpOutcome.SUCCESS, 0, (1, 1, 0, 0, 0)),
        (OpOutcome.SUCCESS, 3, (1, 1, 0, 0, 0)),
        (OpOutcome.ERROR, 0, (0, 0, 1, 0, 0)),
        (OpOutcome.ERROR, 2, (0, 0, 1, 0, 1)),
        (OpOutcome.IGNORED_ERROR, 0, (1, 0, 0, 1, 0)),
        (OpOutcome.IGNORED_ERROR, 1, (1, 0, 0, 1, 1)),
    ],
)
def test_results_follow_pyinfras_arithmetic(
    outcome: OpOutcome, commands: int, expected: tuple[int, ...]
) -> None:
    events = started().add(
        HostOperationFinished, host="a", op_hash="x", outcome=outcome, commands_executed=commands
    )
    projection = HostResultsProjection()
    projection.apply_all(events.events)
    assert tuple(projection.results["a"].as_dict().values()) == expected
    assert projection.results["b"].as_dict() == dict.fromkeys(projection.results["b"].as_dict(), 0)


def _a_run() -> list[Event]:
    return (
        started()
        .add(StageChanged, stage=StateStage.Connect, previous=StateStage.Setup)
        .add(HostActivated, host="a")
        .add(HostActivated, host="b")
        .add(HostActivated, host="c")
        .add(WarningRaised, stage=StateStage.Connect)
        .add(LimitSet, hosts=("a", "c"))
        .add(OperationAdded, op_hash="h1", names=("files.file",), args=("path=/x",), op_order=(0,))
        .add(
            OperationAdded,
            op_hash="h1",
            names=("renamed",),
            args=("path=/x", "mode=644"),
            op_order=(9,),
        )
        .add(OperationAddedForHost, host="a", op_hash="h1", is_change=True)
        .add(OperationAddedForHost, host="b", op_hash="h1", is_change=None)
        .add(OperationAddedForHost, host="c", op_hash="h1", is_change=False, counted=False)
        .add(HostOperationFinished, host="a", op_hash="h1", outcome=OpOutcome.SUCCESS)
        .add(
            HostsFailed,
            hosts=("b",),
            activated_count=3,
            outcome=FailOutcome.CONTINUED,
        )
        .add(RunFinished, status=RunStatus.SUCCESS)
        .events
    )


def test_fold_builds_every_view() -> None:
    view = fold(_a_run())
    assert view.current_stage is StateStage.Connect
    assert list(view.activated_hosts) == ["a", "b", "c"]
    assert list(view.active_hosts) == ["a", "c"]
    assert list(view.failed_hosts) == ["b"]
    assert dict(view.stage_warnings) == {StateStage.Connect: 1}
    assert view.limit_hosts == ("a", "c")
    meta = view.op_meta["h1"]
    # The first event fixes op_order; later ones merge names and new args.
    assert (list(meta.names), list(meta.args), meta.op_order) == (
        ["files.file", "renamed"],
        ["path=/x", "mode=644"],
        (0,),
    )
    assert view.meta["a"].as_dict() == {
        "ops": 1,
        "ops_change": 1,
        "ops_no_change": 0,
        "op_hashes": ["h1"],
    }
    assert view.meta["b"].as_dict()["ops_no_change"] == 1  # unknown change counts as no change
    assert view.meta["c"].ops == 0  # a run-once duplicate: ordered, not counted
    assert list(view.op_hash_order("c")) == ["h1"]
    assert view.results["a"].success_ops == 1
    assert view.run.status is RunStatus.SUCCESS
    assert view.events_applied == len(_a_run())


def test_incremental_apply_equals_fold_at_every_prefix() -> None:
    events = _a_run()
    live = StateView()
    for n, event in enumerate(events, start=1):
        live.apply(event)
        assert live == fold(events[:n])
        assert live.snapshot() == fold(events[:n]).snapshot()


def test_a_view_differs_when_an_event_differs() -> None:
    events = _a_run()
    changed = list(events)
    changed[3] = HostActivated(run_id="r", seq=4, at=AT, host="c")
    assert fold(changed) != fold(events)


def _ops(view_events: Events, host: str, *op_hashes: str) -> None:
    for op_hash in op_hashes:
        view_events.add(OperationAddedForHost, host=host, op_hash=op_hash, is_change=True)


def test_op_order_sorts_each_generation_not_globally() -> None:
    # The semantics page's example: A1(1) -> A2(2) on one host, B1(3) on another.
    events = started(("x", "y"))
    for op_hash, order in (("A1", 1), ("A2", 2), ("B1", 3)):
        events.add(OperationAdded, op_hash=op_hash, names=(op_hash,), op_order=(order,))
    _ops(events, "x", "A1", "A2")
    _ops(events, "y", "B1")
    assert fold(events.events).get_op_order() == ["A1", "B1", "A2"]


def test_op_order_of_nothing_is_empty() -> None:
    assert fold(started().events).get_op_order() == []


def test_host_sets_iterate_in_inventory_order() -> None:
    events = started(("c1", "a1", "b1"))
    for host in ("b1", "a1", "c1"):
        events.add(HostActivated, host=host)
    assert list(fold(events.events).active_hosts) == ["c1", "a1", "b1"]
