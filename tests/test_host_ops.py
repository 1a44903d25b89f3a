"""The per-host-op projection: one record per (host, op hash), checked against the raw events.

A simulated deploy (the sim connector: facts, retries, ignored and fatal
errors, a ``_run_once`` op) is recorded, folded by ``Run.host_ops()``, and each
record compared with the events it came from and with the State's own views.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventstate import (
    Config,
    DeployError,
    Inventory,
    MemoryEventLog,
    ReadOnlyViewError,
    SqliteEventLog,
    State,
)
from eventstate.connect import connect_all, disconnect_all
from eventstate.events import (
    CommandExecuted,
    Event,
    HostOperationFinished,
    HostOperationRetried,
    OperationAdded,
    OperationAddedForHost,
    OpOutcome,
    RunStarted,
    with_command_events,
    with_host_events,
)
from eventstate.execute import run_ops
from eventstate.operation import add_op
from eventstate.operations import apt, server
from eventstate.projections import HostOp, HostOpsProjection, StateView
from eventstate.replay import Run
from eventstate.stores.base import EventLog
from eventstate.testing.strategies import event_sequences, events

HOSTS = [f"@sim/h{i}" for i in range(4)]
#: A seed whose run holds every case: successes, retries, an error after retries,
#: an ignored error and a fatal one (checked in test_the_recorded_run_has_every_case).
SEED = 5


def _deploy(log: EventLog, seed: int, hosts: list[str] = HOSTS) -> State:
    data = {
        "sim_seed": seed,
        "sim_fail_patterns": {"flaky": 0.6, "maybe": 0.5, "exit": 0.3},
        "sim_outputs": {"dpkg-query": "ii curl 8.0\n"},
    }
    state = State(Inventory((hosts, data)), Config(), log=log)
    try:
        connect_all(state)
        add_op(state, apt.packages, ["nginx"])  # gathers a fact on each host
        add_op(state, server.shell, "flaky", _retries=3, _retry_delay=0)
        add_op(state, server.shell, "maybe", name="Maybe", _ignore_errors=True)
        add_op(state, server.shell, "once", _run_once=True)
        add_op(state, server.shell, "exit 3")
        run_ops(state)
    except DeployError:
        pass  # failed hosts are what this run is for
    finally:
        disconnect_all(state)
        state.finish()
    return state


@pytest.fixture(scope="module")
def recorded() -> tuple[list[Event], HostOpsProjection, StateView]:
    log = MemoryEventLog()
    state = _deploy(log, SEED)
    run = Run(log, state.run_id)
    # Each op's commands as the CommandExecuted events before its outcome, to compare.
    return list(with_host_events(with_command_events(run.events()))), run.host_ops(), run.state()


def _of(events: list[Event], cls: type[Any], **fields: Any) -> list[Any]:
    """The events of ``cls`` whose fields equal ``fields``, in order."""
    return [
        event
        for event in events
        if type(event) is cls and all(getattr(event, k) == v for k, v in fields.items())
    ]


def test_the_recorded_run_has_every_case(
    recorded: tuple[list[Event], HostOpsProjection, StateView],
) -> None:
    _, ops, _ = recorded
    outcomes = Counter(op.outcome for op in ops if op.outcome is not None)
    assert outcomes[OpOutcome.SUCCESS] and outcomes[OpOutcome.ERROR]
    assert outcomes[OpOutcome.IGNORED_ERROR]
    assert any(op.retry_count for op in ops)
    assert any(op.retry_count and op.outcome is OpOutcome.ERROR for op in ops)
    assert any(op.added and not op.counted for op in ops)  # the _run_once duplicates
    assert any(not op.finished_seq for op in ops)  # ops a failed host never ran
    assert all(ops.fact_commands(host) for host in HOSTS)


def test_every_record_is_what_its_events_say(
    recorded: tuple[list[Event], HostOpsProjection, StateView],
) -> None:
    events, ops, _ = recorded
    (started,) = _of(events, RunStarted)
    assert ops.inventory == started.hosts == tuple(HOSTS)
    assert list(ops.ops) == HOSTS
    keys = {(event.host, event.op_hash) for event in _of(events, OperationAddedForHost)}
    keys |= {(e.host, e.op_hash) for e in _of(events, CommandExecuted) if e.op_hash is not None}
    assert {(op.host, op.op_hash) for op in ops} == keys
    assert len(ops) == len(keys)
    for op in ops:
        assert ops.get(op.host, op.op_hash) is op
        added = _of(events, OperationAddedForHost, host=op.host, op_hash=op.op_hash)
        (meta, *merged) = _of(events, OperationAdded, op_hash=op.op_hash)
        assert not merged  # each op named once in this deploy
        assert list(op.names) == list(meta.names) and op.op_order == meta.op_order
        assert op.name == ", ".join(meta.names) == ops.op_name(op.op_hash)
        (add,) = added
        assert (op.added, op.counted, op.is_change, op.added_seq) == (
            True,
            add.counted,
            add.is_change,
            add.seq,
        )
        commands = _of(events, CommandExecuted, host=op.host, op_hash=op.op_hash)
        assert [command.seq for command in op.commands] == [c.seq for c in commands]
        for mine, event in zip(op.commands, commands, strict=True):
            for field in ("at", "host", "op_hash", "fact", "command", "success", "exit_code"):
                assert getattr(mine, field) == getattr(event, field), field
            for field in ("duration", "stdout", "stderr", "truncated", "attempt"):
                assert getattr(mine, field) == getattr(event, field), field
        finished = _of(events, HostOperationFinished, host=op.host, op_hash=op.op_hash)
        if not finished:
            assert (op.outcome, op.finished_seq, op.finished_at, op.duration) == (None,) * 4
            assert op.started_at is None and not op.commands
            continue
        (end,) = finished
        assert (op.outcome, op.retry_count, op.duration) == (
            end.outcome,
            end.retry_count,
            end.duration,
        )
        assert (op.commands_executed, op.partial) == (end.commands_executed, end.partial)
        assert (op.finished_seq, op.finished_at) == (end.seq, end.at)
        assert op.started_at is not None and op.finished_at is not None
        assert op.started_at <= op.finished_at
        # The final attempt's commands: what ran last, and what the outcome counted.
        final = [c for c in commands if c.attempt == end.retry_count]
        assert [c.seq for c in op.final_commands] == [c.seq for c in final]
        assert op.commands_executed == sum(c.success for c in final)
        assert {c.attempt for c in op.commands} <= set(range(end.retry_count + 1))


def test_finished_and_failed_follow_the_events(
    recorded: tuple[list[Event], HostOpsProjection, StateView],
) -> None:
    events, ops, _ = recorded
    finished = _of(events, HostOperationFinished)
    assert [(op.host, op.op_hash) for op in ops.finished()] == [
        (event.host, event.op_hash) for event in finished
    ]
    assert [(op.host, op.op_hash) for op in ops.failed()] == [
        (event.host, event.op_hash) for event in finished if event.outcome is not OpOutcome.SUCCESS
    ]


def test_fact_commands_are_kept_per_host(
    recorded: tuple[list[Event], HostOpsProjection, StateView],
) -> None:
    events, ops, _ = recorded
    for host in HOSTS:
        facts = [e for e in _of(events, CommandExecuted, host=host) if e.op_hash is None]
        assert [c.seq for c in ops.fact_commands(host)] == [e.seq for e in facts]
        assert all(c.fact is not None and c.op_hash is None for c in ops.fact_commands(host))
        # A fact's command belongs to no op.
        assert not {c.seq for op in ops.host_ops(host).values() for c in op.commands} & {
            e.seq for e in facts
        }
    assert list(ops.fact_commands("@sim/nobody")) == []


def test_the_records_agree_with_the_states_views(
    recorded: tuple[list[Event], HostOpsProjection, StateView],
) -> None:
    _, ops, view = recorded
    _agree_with_the_views(ops, view)


def _agree_with_the_views(ops: HostOpsProjection, view: StateView) -> None:
    """Two folds of one run, written apart, that must tell the same story."""
    for host in view.run.hosts:
        records = ops.host_ops(host)
        assert [h for h, op in records.items() if op.added] == list(view.op_hash_order(host))
        counted = [op for op in records.values() if op.counted]
        meta = view.meta[host]
        assert (meta.ops, meta.ops_change) == (
            len(counted),
            sum(bool(op.is_change) for op in counted),
        )
        outcomes = Counter(op.outcome for op in records.values())
        results = view.results[host]
        assert results.success_ops == outcomes[OpOutcome.SUCCESS]
        assert results.error_ops == outcomes[OpOutcome.ERROR]
        assert results.ignored_error_ops == outcomes[OpOutcome.IGNORED_ERROR]
        assert results.partial_ops == sum(op.partial for op in records.values())
        for op_hash, op in records.items():
            assert list(op.names) == view.op_meta[op_hash].as_dict()["names"]


def test_a_stored_run_folds_the_same_as_its_events(tmp_path: Any) -> None:
    with SqliteEventLog(tmp_path / "events.db") as log:
        state = _deploy(log, SEED)
        run = Run(log, state.run_id)
        # host_ops() decodes only the types it folds; every event, folded, says the same.
        folded = HostOpsProjection()
        folded.apply_all(run.events())
        assert run.host_ops().snapshot() == folded.snapshot()
        assert len(folded) > 0
        assert run.host_ops() is not run.host_ops()  # folded anew: nothing cached or stored


def test_it_is_not_part_of_the_live_state() -> None:
    # The deploy's hot path folds StateView's projections only: this one is replay's.
    state = _deploy(MemoryEventLog(), SEED, hosts=HOSTS[:1])
    assert not any(isinstance(p, HostOpsProjection) for p in state.view.projections())
    assert "host_ops" not in state.view.snapshot()


MUTATIONS: dict[str, Callable[[HostOpsProjection, HostOp], None]] = {
    "set a record field": lambda ops, op: setattr(op, "outcome", OpOutcome.SUCCESS),
    "delete a record field": lambda ops, op: delattr(op, "host"),
    "set a command field": lambda ops, op: setattr(op.commands[0], "success", True),
    "append a command": lambda ops, op: op.commands.append(op.commands[0]),  # type: ignore[attr-defined]
    "clear the commands": lambda ops, op: op.commands.clear(),  # type: ignore[attr-defined]
    "rename the op": lambda ops, op: op.names.append("renamed"),  # type: ignore[attr-defined]
    "drop a host": lambda ops, op: ops.ops.pop(op.host),  # type: ignore[attr-defined]
    "replace a record": lambda ops, op: ops.host_ops(op.host).__setitem__(op.op_hash, op),  # type: ignore[attr-defined]
    "drop a fact": lambda ops, op: ops.fact_commands(op.host).pop(),  # type: ignore[attr-defined]
    "reorder the finished": lambda ops, op: ops.finished().reverse(),  # type: ignore[attr-defined]
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_it_refuses_mutation(
    recorded: tuple[list[Event], HostOpsProjection, StateView], mutation: str
) -> None:
    _, ops, _ = recorded
    op = next(op for op in ops if op.commands)
    before = ops.snapshot()
    with pytest.raises(ReadOnlyViewError, match="is read-only"):
        MUTATIONS[mutation](ops, op)
    assert ops.snapshot() == before


@settings(deadline=None)
@given(
    hosts=st.integers(1, 5),
    seed=st.integers(0, 10_000),
)
def test_any_simulated_deploy_folds_to_records_that_agree_with_the_views(
    hosts: int, seed: int
) -> None:
    log = MemoryEventLog()
    state = _deploy(log, seed, hosts=[f"@sim/h{i}" for i in range(hosts)])
    run = Run(log, state.run_id)
    ops = run.host_ops()
    _agree_with_the_views(ops, run.state())
    finished = _of(list(run.events()), HostOperationFinished)
    assert [op.finished_seq for op in ops.finished()] == [event.seq for event in finished]


#: The events a host-op record is made of (and one it ignores), drawn alone.
_OP_EVENTS = events(
    run_id="drawn",
    event_types=[
        OperationAdded,
        OperationAddedForHost,
        CommandExecuted,
        HostOperationRetried,
        HostOperationFinished,
    ],
)


def _on_few_host_ops(drawn: list[Event]) -> list[Event]:
    # Drawn hosts, op hashes and names almost never repeat: fold them onto two hosts,
    # three ops and two names, so a host-op is added, named, run and finished more
    # than once, as no engine would; and number the events as a run.
    run: list[Event] = []
    for seq, event in enumerate(drawn, start=1):
        changes: dict[str, Any] = {"seq": seq}
        if getattr(event, "host", None) is not None:
            changes["host"] = ("a", "b")[len(event.host) % 2]  # type: ignore[attr-defined]
        if isinstance(event, OperationAdded):
            changes["names"] = tuple(("server.shell", "Reload")[len(n) % 2] for n in event.names)
        if getattr(event, "op_hash", None) is not None:
            changes["op_hash"] = f"op{int(event.op_hash[0], 16) % 3}"  # type: ignore[attr-defined]
        run.append(attrs.evolve(event, **changes))
    return run


@given(
    st.one_of(
        st.lists(_OP_EVENTS, max_size=40).map(_on_few_host_ops),
        event_sequences(max_size=40),  # whole runs, every event type
    )
)
def test_any_run_folds_and_each_record_keeps_its_last_word(events: list[Event]) -> None:
    # Arbitrary (even impossible) runs: the fold never fails, and each field says
    # what the last event about it said.
    ops = HostOpsProjection()
    ops.apply_all(events)
    # An op's commands before its outcome, the hosts it was added for one by one.
    events = list(with_host_events(with_command_events(events)))
    for op in ops:
        about = [
            e
            for e in events
            if getattr(e, "host", None) == op.host and getattr(e, "op_hash", None) == op.op_hash
        ]
        added = [e for e in about if isinstance(e, OperationAddedForHost)]
        finished = [e for e in about if isinstance(e, HostOperationFinished)]
        commands = [e for e in about if isinstance(e, CommandExecuted)]
        assert about and (added or finished or commands)
        assert op.added == bool(added)
        assert op.is_change == (added[-1].is_change if added else None)
        assert op.outcome == (finished[-1].outcome if finished else None)
        assert [c.seq for c in op.commands] == [c.seq for c in commands]
        named = [e for e in events if isinstance(e, OperationAdded) and e.op_hash == op.op_hash]
        assert op.op_order == (named[0].op_order if named else None)
        assert list(op.names) == list(dict.fromkeys(n for e in named for n in e.names))
    keyed = (OperationAddedForHost, HostOperationFinished, CommandExecuted)
    keys = {
        (e.host, e.op_hash)  # type: ignore[attr-defined]
        for e in events
        if isinstance(e, keyed) and e.op_hash is not None
    }
    assert {(op.host, op.op_hash) for op in ops} == keys
    first_finishes = list(
        dict.fromkeys((e.host, e.op_hash) for e in events if isinstance(e, HostOperationFinished))
    )
    assert [(op.host, op.op_hash) for op in ops.finished()] == first_finishes
    facts = [e for e in events if isinstance(e, CommandExecuted) and e.op_hash is None]
    assert sum(len(ops.fact_commands(host)) for host in {e.host for e in facts}) == len(facts)
