"""Random sequences of State calls keep every invariant, and the log rebuilds the live State.

Two States take the same calls, one writing to the in-memory log and one to a
SQLite file. After every step: the invariants of pyinfra's State hold, each
log verifies and rebuilds views equal to its State's live ones, and the two
States agree (the same calls give the same views whatever the store).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from eventstate import (
    Config,
    DeployError,
    Inventory,
    MemoryEventLog,
    OperationOrderCycleError,
    OpOutcome,
    SqliteEventLog,
    StageError,
    State,
    StateStage,
)
from eventstate.replay import rebuild, verify_run

HOST_POOL = [f"host{i}" for i in range(6)]
OP_POOL = [f"op{i}" for i in range(5)]

# The parts of a snapshot that differ between two runs of the same calls.
_ENVELOPE = {"run_id", "started_at", "finished_at"}


def _comparable(state: State) -> dict[str, object]:
    snapshot = state.view.snapshot()
    return {key: value for key, value in snapshot.items() if key not in _ENVELOPE}


class StateMachine(RuleBasedStateMachine):
    ops = Bundle("ops")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="eventstate-sm-"))
        self.states: list[State] = []
        self.max_stage = StateStage.Setup
        self.reactivated: set[str] = set()
        self.ever_failed: set[str] = set()

    @initialize(
        host_count=st.integers(min_value=1, max_value=len(HOST_POOL)),
        fail_percent=st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
    )
    def start(self, host_count: int, fail_percent: int | None) -> None:
        self.names = HOST_POOL[:host_count]
        for log in (MemoryEventLog(), SqliteEventLog(self.tmp / "events.db")):
            inventory = Inventory((self.names, {}))
            self.states.append(State(inventory, Config(FAIL_PERCENT=fail_percent), log=log))

    def teardown(self) -> None:
        for state in self.states:
            if state.initialised:
                state.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _each(self, call):  # type: ignore[no-untyped-def]
        """Make the same call on both States; they must end alike (both raise, or neither)."""
        outcomes = []
        for state in self.states:
            try:
                call(state)
                outcomes.append(None)
            except Exception as error:  # compared below, then re-raised
                outcomes.append(error)
        kinds = [(type(e), str(e)) if e else None for e in outcomes]
        assert kinds[0] == kinds[1], kinds
        return outcomes[0]

    @rule(data=st.data())
    def activate(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.names))
        if name in self.ever_failed:
            self.reactivated.add(name)
        self._each(lambda s: s.activate_host(s.inventory.get_host(name)))

    @rule(data=st.data())
    def fail(self, data: st.DataObject) -> None:
        names = data.draw(st.lists(st.sampled_from(self.names), unique=True, max_size=3))
        activated_count = data.draw(st.one_of(st.none(), st.integers(0, len(self.names) + 2)))
        before = set(self.states[0].active_hosts.names())
        activated = len(self.states[0].activated_hosts)

        error = self._each(
            lambda s: s.fail_hosts([s.inventory.get_host(n) for n in names], activated_count)
        )
        self.ever_failed.update(names)
        self.reactivated.difference_update(names)
        if not names:
            assert error is None
            return
        remaining = before - set(names)
        fail_percent = self.states[0].config.FAIL_PERCENT
        count = activated_count or activated
        if not remaining:
            assert isinstance(error, DeployError) and str(error) == "No hosts remaining!"
        elif fail_percent is not None and (1 - len(remaining) / count) * 100 > fail_percent:
            assert isinstance(error, DeployError) and str(error).startswith(f"Over {fail_percent}%")
        else:
            assert error is None

    @rule(stage=st.sampled_from(list(StateStage)))
    def set_stage(self, stage: StateStage) -> None:
        error = self._each(lambda s: s.set_stage(stage))
        if stage < self.max_stage:
            assert isinstance(error, StageError)
        else:
            assert error is None
            self.max_stage = stage

    @rule()
    def warn(self) -> None:
        before = self.states[0].get_warning_counter()
        self._each(lambda s: s.increment_warning_counter())
        assert self.states[0].get_warning_counter() == before + 1

    @rule(data=st.data())
    def limit(self, data: st.DataObject) -> None:
        names = data.draw(st.one_of(st.none(), st.lists(st.sampled_from(self.names), unique=True)))

        def set_limit(state: State) -> None:
            state.limit_hosts = (
                None if names is None else [state.inventory.get_host(n) for n in names]
            )

        self._each(set_limit)
        for state in self.states:
            for host in state.inventory:
                assert state.is_host_in_limit(host) == (names is None or host.name in names)

    @rule(
        target=ops,
        op_hash=st.sampled_from(OP_POOL),
        op_order=st.tuples(st.integers(0, 4)),
        name=st.sampled_from(["files.file", "server.shell", "apt.packages"]),
    )
    def add_op(self, op_hash: str, op_order: tuple[int, ...], name: str) -> str:
        self._each(lambda s: s.add_op_meta(op_hash, op_order, names=[name]))
        return op_hash

    @rule(op_hash=ops, data=st.data())
    def add_op_to_host(self, op_hash: str, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.names))
        is_change = data.draw(st.one_of(st.none(), st.booleans()))
        counted = data.draw(st.booleans())
        before = self.states[0].get_meta_for_host(self.states[0].inventory.get_host(name)).ops
        self._each(
            lambda s: s.add_op_to_host(
                s.inventory.get_host(name), op_hash, is_change, counted=counted
            )
        )
        after = self.states[0].get_meta_for_host(self.states[0].inventory.get_host(name)).ops
        assert after == before + (1 if counted else 0)

    @rule(
        op_hash=ops,
        data=st.data(),
        outcome=st.sampled_from(list(OpOutcome)),
        commands=st.integers(0, 3),
    )
    def record_result(
        self, op_hash: str, data: st.DataObject, outcome: OpOutcome, commands: int
    ) -> None:
        name = data.draw(st.sampled_from(self.names))
        results = self.states[0].get_results_for_host(self.states[0].inventory.get_host(name))
        before = results.as_dict()
        self._each(
            lambda s: s.record_op_result(
                s.inventory.get_host(name), op_hash, outcome, commands_executed=commands
            )
        )
        after = results.as_dict()  # the view is live: the same object shows the new counts
        failed = outcome is not OpOutcome.SUCCESS
        assert after["success_ops"] - before["success_ops"] == (outcome is OpOutcome.SUCCESS)
        assert after["error_ops"] - before["error_ops"] == (outcome is OpOutcome.ERROR)
        assert after["ignored_error_ops"] - before["ignored_error_ops"] == (
            outcome is OpOutcome.IGNORED_ERROR
        )
        assert after["ops"] - before["ops"] == (outcome is not OpOutcome.ERROR)
        assert after["partial_ops"] - before["partial_ops"] == (failed and commands > 0)

    @precondition(lambda self: bool(self.states))
    @rule()
    def op_order(self) -> None:
        orders = []
        for state in self.states:
            try:
                orders.append(state.get_op_order())
            except OperationOrderCycleError as error:
                orders.append(str(error))
        assert orders[0] == orders[1]
        if isinstance(orders[0], list):
            added = {
                h for s in [self.states[0]] for host in s.inventory for h in host.op_hash_order
            }
            assert sorted(orders[0]) == sorted(added)

    # Invariants, checked after every step.

    @precondition(lambda self: bool(self.states))
    @invariant()
    def host_sets_are_consistent(self) -> None:
        for state in self.states:
            active, activated = set(state.active_hosts), set(state.activated_hosts)
            failed = set(state.failed_hosts)
            assert active <= activated
            # pyinfra lets a failed host be activated again; only those may be in both.
            assert {h.name for h in active & failed} <= self.reactivated

    @precondition(lambda self: bool(self.states))
    @invariant()
    def stage_never_decreases(self) -> None:
        for state in self.states:
            assert state.current_stage == self.max_stage

    @precondition(lambda self: bool(self.states))
    @invariant()
    def counters_add_up(self) -> None:
        for state in self.states:
            for host in state.inventory:
                r = state.get_results_for_host(host)
                assert r.ops == r.success_ops + r.ignored_error_ops
                assert r.partial_ops <= r.error_ops + r.ignored_error_ops
                m = state.get_meta_for_host(host)
                assert m.ops == m.ops_change + m.ops_no_change

    @precondition(lambda self: bool(self.states))
    @invariant()
    def the_log_rebuilds_the_live_state(self) -> None:
        for state in self.states:
            state.flush()
            report = verify_run(state.log, state.run_id)
            assert report.ok, str(report)
            assert rebuild(state.log, state.run_id) == state.view
        assert _comparable(self.states[0]) == _comparable(self.states[1])


StateMachine.TestCase.settings = settings(settings.default, stateful_step_count=30, deadline=None)
TestStateMachine = StateMachine.TestCase
