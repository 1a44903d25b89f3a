"""Differential tests: our State against pyinfra 3.10's real ``pyinfra.api.State``.

The same random call sequence is applied to both States, and after every call
the two must agree on: the activated/active/failed host names, the exception
raised (category and message), the op order (or the cycle error), the stage
and warning counter, the limit, the op meta, each host's op hash order, and
the meta and results counters.

pyinfra has no single "add an op to a host" method below ``add_op``, so the
op steps drive it the way ``pyinfra.api.operation`` does: the real
``ensure_shared_op_meta``, then ``host.op_hash_order.append`` and the meta
counters of ``add_op`` (pyinfra's ``add_op`` appends the hash before
``ensure_shared_op_meta`` can raise; we append after, as ours has
``add_op_meta`` then ``add_op_to_host``). Results are truly differential: each
result step runs pyinfra's real ``run_host_op`` over a stub command generator
of ``FunctionCommand`` s, and feeds what happened there (which callback fired,
how many commands succeeded in the final attempt) to ``State.record_op_result``.

Differences from pyinfra are kept out of the property test and pinned by the
example tests at the end: ``stage_warnings`` shared by every pyinfra State (we
give each pyinfra State its own dict) and ``fail_hosts`` taking only a set in
pyinfra (both in the semantics doc's "We differ" table), and a limit that is
not a list of hosts (ours applies it, pyinfra ignores it; not in the table).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from pyinfra import api as pyapi
from pyinfra.api.arguments import EXECUTION_KWARG_KEYS
from pyinfra.api.command import FunctionCommand
from pyinfra.api.exceptions import OperationValueError as PyOperationValueError
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.operation import OperationMeta as PyOperationMeta
from pyinfra.api.operation import ensure_shared_op_meta
from pyinfra.api.operations import run_host_op
from pyinfra.api.state import BaseStateCallback as PyBaseStateCallback
from pyinfra.api.state import StateOperationHostData
from pyinfra.api.state import StateStage as PyStateStage

import eventstate as es
from eventstate.errors import (
    DeployError,
    FailPercentExceededError,
    NoHostsRemainingError,
    OperationOrderCycleError,
    OperationValueError,
    StageError,
)

HOST_NAMES = ("h0", "h1", "h2", "h3", "h4", "h5")
OP_HASHES = ("opA", "opB", "opC", "opD")
OP_NAMES = ("n1", "n2", "n3")

# What a stub command does: succeed (True), succeed by returning None (pyinfra
# counts anything but False as executed), fail (False), or raise.
RAISE = "raise"
COMMAND_STATUSES = (True, False, None, RAISE)


# The pair of States


class _Recorder(PyBaseStateCallback):
    """Remembers how each pyinfra host op ended, for ``record_op_result``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def operation_host_success(self, state, host, op_hash, retry_count=0):  # type: ignore[override]
        self.events.append(("success", host.name, op_hash))

    def operation_host_error(self, state, host, op_hash, retry_count=0, max_retries=0):  # type: ignore[override]
        self.events.append(("error", host.name, op_hash))


@dataclass
class Pair:
    py: pyapi.State
    es: es.State
    names: tuple[str, ...]
    recorder: _Recorder = field(default_factory=_Recorder)

    def py_host(self, name: str) -> Any:
        return self.py.inventory.get_host(name)

    def es_host(self, name: str) -> es.Host:
        return self.es.inventory.get_host(name)


def make_pair(
    n_hosts: int,
    fail_percent: float | None = None,
    should_raise: bool | None = None,
    initial_limit: list[int] | None = None,
) -> Pair:
    names = HOST_NAMES[:n_hosts]
    py_inventory = pyapi.Inventory((list(names), {}))
    es_inventory = es.Inventory((list(names), {}))
    py_kwargs: dict[str, Any] = {}
    es_kwargs: dict[str, Any] = {}
    if initial_limit is not None:
        py_hosts = list(py_inventory)
        es_hosts = list(es_inventory)
        py_kwargs["initial_limit"] = [py_hosts[i] for i in initial_limit]
        es_kwargs["initial_limit"] = [es_hosts[i] for i in initial_limit]
    py_state = pyapi.State(py_inventory, pyapi.Config(FAIL_PERCENT=fail_percent), **py_kwargs)
    es_state = es.State(es_inventory, es.Config(FAIL_PERCENT=fail_percent), **es_kwargs)
    # pyinfra's stage_warnings is a class attribute shared by every State (a
    # documented difference): give this one its own.
    py_state.stage_warnings = defaultdict(int)
    if should_raise is not None:
        py_state.should_raise_failed_hosts = lambda state: should_raise
        es_state.should_raise_failed_hosts = lambda state: should_raise
    pair = Pair(py_state, es_state, names)
    py_state.add_callback_handler(pair.recorder)
    return pair


# Outcomes: a value, or an exception reduced to (category, message)


def _py_category(error: BaseException) -> str:
    if type(error) is Exception:
        return "stage"
    if isinstance(error, PyOperationValueError):
        return "op_value"
    if isinstance(error, PyinfraError):
        return "deploy"
    return f"other:{type(error).__name__}"


_ES_SPECIFIC = {
    "No hosts remaining!": NoHostsRemainingError,
    "Over ": FailPercentExceededError,
    "Cycle detected": OperationOrderCycleError,
    "Cannot have different values": OperationValueError,
}


def _es_category(error: BaseException) -> str:
    if isinstance(error, StageError):
        return "stage"
    if isinstance(error, OperationValueError):
        return "op_value"
    if isinstance(error, DeployError):
        for prefix, error_class in _ES_SPECIFIC.items():
            if str(error).startswith(prefix):
                assert isinstance(error, error_class), (type(error), str(error))
        return "deploy"
    return f"other:{type(error).__name__}"


def note_event(value: str) -> None:
    """Count ``value`` in ``--hypothesis-show-statistics`` (outside a given: nothing)."""
    if currently_in_test_context():
        event(value)


def outcome(call: Callable[[], Any], category: Callable[[BaseException], str]) -> tuple[Any, ...]:
    try:
        return ("ok", call())
    except Exception as error:
        return ("raised", category(error), str(error))


def both(pair: Pair, py_call: Callable[[], Any], es_call: Callable[[], Any]) -> Any:
    py_outcome = outcome(py_call, _py_category)
    es_outcome = outcome(es_call, _es_category)
    assert py_outcome == es_outcome
    if py_outcome[0] == "raised":
        note_event(f"raised: {re.split(r'[0-9]', py_outcome[2])[0][:16]}")
    return py_outcome


# Everything the two States must agree on


def _names(hosts: Any) -> set[str]:
    return {host.name for host in hosts}


def assert_same(pair: Pair) -> None:
    py, ours = pair.py, pair.es
    assert _names(py.activated_hosts) == _names(ours.activated_hosts)
    assert _names(py.active_hosts) == _names(ours.active_hosts)
    assert _names(py.failed_hosts) == _names(ours.failed_hosts)

    assert int(py.current_stage) == int(ours.current_stage)
    assert py.get_warning_counter() == ours.get_warning_counter()
    assert {int(s): n for s, n in py.stage_warnings.items() if n} == {
        int(s): n for s, n in ours.stage_warnings.items()
    }

    if py.limit_hosts is None:
        assert ours.limit_hosts is None
    else:
        assert ours.limit_hosts is not None
        assert _names(py.limit_hosts) == _names(ours.limit_hosts)
    for name in pair.names:
        assert py.is_host_in_limit(pair.py_host(name)) == ours.is_host_in_limit(
            pair.es_host(name)
        ), name

    both(pair, py.get_op_order, ours.get_op_order)

    assert set(py.op_meta) == set(ours.op_meta)
    for op_hash, py_meta in py.op_meta.items():
        es_meta = ours.get_op_meta(op_hash)
        assert tuple(py_meta.op_order) == tuple(es_meta.op_order), op_hash
        assert set(py_meta.names) == set(es_meta.names), op_hash
        assert dict(py_meta.global_arguments) == dict(es_meta.global_arguments), op_hash

    for name in pair.names:
        py_host, es_host = pair.py_host(name), pair.es_host(name)
        assert list(py_host.op_hash_order) == list(es_host.op_hash_order), name
        py_meta, es_meta = py.get_meta_for_host(py_host), ours.get_meta_for_host(es_host)
        for counter in ("ops", "ops_change", "ops_no_change"):
            assert getattr(py_meta, counter) == getattr(es_meta, counter), (name, counter)
        py_results, es_results = (
            py.get_results_for_host(py_host),
            ours.get_results_for_host(es_host),
        )
        for counter in ("ops", "success_ops", "error_ops", "ignored_error_ops", "partial_ops"):
            assert getattr(py_results, counter) == getattr(es_results, counter), (name, counter)


# Steps


@dataclass(frozen=True)
class Activate:
    host: int


@dataclass(frozen=True)
class Fail:
    hosts: tuple[int, ...]
    activated_count: int | None


@dataclass(frozen=True)
class SetStage:
    stage: int


@dataclass(frozen=True)
class Warn:
    pass


@dataclass(frozen=True)
class Limit:
    hosts: tuple[int, ...] | None


@dataclass(frozen=True)
class AddOp:
    host: int
    op_hash: str
    op_order: tuple[int, ...]
    names: tuple[str, ...]
    is_change: bool | None
    counted: bool
    serial: bool
    run_once: bool


@dataclass(frozen=True)
class RunOp:
    host: int
    # Which of the ops added so far (sorted by hash) to run; pyinfra needs its meta.
    op_index: int
    # The command statuses of each attempt; later attempts repeat the last.
    attempts: tuple[tuple[Any, ...], ...]
    ignore_errors: bool
    continue_on_error: bool
    retries: int
    retry_until: tuple[bool, ...] | None


def apply_step(pair: Pair, step: Any) -> None:
    py, ours = pair.py, pair.es
    if isinstance(step, Activate):
        name = pair.names[step.host]
        both(
            pair,
            lambda: py.activate_host(pair.py_host(name)),
            lambda: ours.activate_host(pair.es_host(name)),
        )
    elif isinstance(step, Fail):
        names = [pair.names[i] for i in step.hosts]
        both(
            pair,
            # pyinfra needs a set; ours takes any iterable (a documented difference).
            lambda: py.fail_hosts({pair.py_host(n) for n in names}, step.activated_count),
            lambda: ours.fail_hosts([pair.es_host(n) for n in names], step.activated_count),
        )
    elif isinstance(step, SetStage):
        both(
            pair,
            lambda: py.set_stage(PyStateStage(step.stage)),
            lambda: ours.set_stage(es.StateStage(step.stage)),
        )
    elif isinstance(step, Warn):
        both(pair, py.increment_warning_counter, ours.increment_warning_counter)
    elif isinstance(step, Limit):
        if step.hosts is None:
            py.limit_hosts = None
            ours.limit_hosts = None
        else:
            names = [pair.names[i] for i in step.hosts]
            py.limit_hosts = [pair.py_host(n) for n in names]
            ours.limit_hosts = [pair.es_host(n) for n in names]
    elif isinstance(step, AddOp):
        add_op(pair, step)
    elif isinstance(step, RunOp):
        run_op(pair, step)
    else:  # pragma: no cover
        raise AssertionError(step)


def add_op(pair: Pair, step: AddOp) -> None:
    """What ``add_op`` does to the State: shared meta, then the host's order and meta."""
    name = pair.names[step.host]
    py_host, es_host = pair.py_host(name), pair.es_host(name)
    global_arguments = {"_parallel": 0, "_run_once": step.run_once, "_serial": step.serial}
    assert list(global_arguments) == EXECUTION_KWARG_KEYS

    def py_call() -> None:
        # The real pyinfra function (it pops the execution keys: give it a copy).
        ensure_shared_op_meta(
            pair.py, step.op_hash, step.op_order, dict(global_arguments), set(step.names)
        )
        py_host.op_hash_order.append(step.op_hash)
        if step.counted:
            meta = pair.py.get_meta_for_host(py_host)
            meta.ops += 1
            if step.is_change:
                meta.ops_change += 1
            else:
                meta.ops_no_change += 1

    def es_call() -> None:
        pair.es.add_op_meta(
            step.op_hash, step.op_order, names=step.names, global_arguments=global_arguments
        )
        pair.es.add_op_to_host(es_host, step.op_hash, step.is_change, counted=step.counted)

    both(pair, py_call, es_call)


def run_op(pair: Pair, step: RunOp) -> None:
    """Run the op on pyinfra for real, then record on ours what happened there."""
    added = sorted(pair.py.op_meta)
    if not added:
        return
    op_hash = added[step.op_index % len(added)]
    name = pair.names[step.host]
    py_host, es_host = pair.py_host(name), pair.es_host(name)
    attempt_statuses: list[list[Any]] = []

    def command_generator() -> Iterator[FunctionCommand]:
        attempt = step.attempts[min(len(attempt_statuses), len(step.attempts) - 1)]
        statuses: list[Any] = []
        attempt_statuses.append(statuses)
        for status in attempt:

            def command(state: Any, host: Any, status: Any = status) -> Any:
                statuses.append(status)
                if status == RAISE:
                    raise RuntimeError("command raised")
                return status

            yield FunctionCommand(command, (), {})

    retry_until_answers = iter(step.retry_until or ())

    def retry_until(output: Any) -> bool:
        return next(retry_until_answers, False)

    global_arguments: dict[str, Any] = {
        "_ignore_errors": step.ignore_errors,
        "_continue_on_error": step.continue_on_error,
        "_timeout": None,
        "_retries": step.retries,
        "_retry_delay": 0,
        "_retry_until": retry_until if step.retry_until is not None else None,
    }
    pair.py.set_op_data_for_host(
        py_host,
        op_hash,
        StateOperationHostData(command_generator, global_arguments, PyOperationMeta(op_hash, None)),
    )
    pair.recorder.events.clear()
    returned = run_host_op(pair.py, py_host, op_hash)
    (kind, host_name, ran_hash), *rest = pair.recorder.events
    assert not rest and (host_name, ran_hash) == (name, op_hash)
    if kind == "success":
        result = es.OpOutcome.SUCCESS
    else:
        result = es.OpOutcome.IGNORED_ERROR if returned else es.OpOutcome.ERROR
    final = attempt_statuses[-1] if attempt_statuses else []
    executed = sum(1 for status in final if status is not False and status != RAISE)
    partial = ", partial" if result is not es.OpOutcome.SUCCESS and executed else ""
    note_event(f"op result: {result.value}{partial}")
    pair.es.record_op_result(es_host, op_hash, result, commands_executed=executed)


# Strategies


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, Any, Any, Any, list[Any]]:
    n = draw(st.integers(1, 6), label="n_hosts")
    host = st.integers(0, n - 1)
    host_tuple = st.lists(host, max_size=n + 1).map(tuple)
    # Values a failed fraction of at most 6 hosts can hit exactly (strictly greater
    # matters there), and a few just off them.
    fail_percent = draw(
        st.one_of(
            st.none(),
            st.sampled_from([0, 20, 25, 40, 50, 60, 75, 80]),
            st.integers(0, 100),
            st.sampled_from([33.3, 49.99, 66.7]),
        ),
        label="FAIL_PERCENT",
    )
    should_raise = draw(st.sampled_from([None, False, True]), label="should_raise_failed_hosts")
    initial_limit = draw(st.none() | st.lists(host, max_size=n), label="initial_limit")
    op_order = st.lists(st.integers(0, 3), min_size=1, max_size=2).map(tuple)
    attempt = st.lists(st.sampled_from(COMMAND_STATUSES), max_size=3).map(tuple)
    add_op = st.builds(
        AddOp,
        host,
        st.sampled_from(OP_HASHES),
        op_order,
        st.lists(st.sampled_from(OP_NAMES), max_size=2, unique=True).map(tuple),
        st.sampled_from([True, False, None]),
        st.sampled_from([True, True, True, False]),
        st.sampled_from([False, False, False, True]),
        st.sampled_from([False, False, False, True]),
    )
    run_op = st.builds(
        RunOp,
        host,
        st.integers(0, len(OP_HASHES) - 1),
        st.lists(attempt, min_size=1, max_size=3).map(tuple),
        st.booleans(),
        st.booleans(),
        st.integers(0, 2),
        st.none() | st.lists(st.booleans(), max_size=3).map(tuple),
    )
    activate = st.builds(Activate, host)
    fail = st.builds(Fail, st.lists(host, max_size=3).map(tuple), st.none() | st.integers(0, 8))
    # Repeats weight the choice: mostly hosts and ops, where the rules are.
    step = st.one_of(
        activate,
        activate,
        activate,
        fail,
        fail,
        st.builds(SetStage, st.integers(1, 5)),
        st.builds(Warn),
        st.builds(Limit, st.none() | host_tuple),
        add_op,
        add_op,
        add_op,
        run_op,
        run_op,
    )
    # A drawn length: st.lists alone averages a handful of steps, too few to reach
    # "Over N%" or op results often; this averages 20 and still shrinks.
    length = draw(st.integers(1, 40), label="length")
    steps = draw(st.lists(step, min_size=length, max_size=length), label="steps")
    # Most deploys start by activating hosts: without them every fail_hosts is
    # "No hosts remaining!" and FAIL_PERCENT is never reached.
    first = draw(st.lists(host, max_size=n, unique=True), label="activated first")
    steps = [Activate(i) for i in first] + steps
    return n, fail_percent, should_raise, initial_limit, steps


# An example costs milliseconds: many more than the profile's default are affordable.
@settings(max_examples=max(settings().max_examples * 5, 50))
@given(scenarios())
def test_same_as_pyinfra(scenario: tuple[int, Any, Any, Any, list[Any]]) -> None:
    n, fail_percent, should_raise, initial_limit, steps = scenario
    pair = make_pair(n, fail_percent, should_raise, initial_limit)
    assert pair.py.config.PARALLEL == pair.es.config.PARALLEL
    assert_same(pair)
    for step in steps:
        apply_step(pair, step)
        assert_same(pair)


# Examples from the semantics document, each checked on both States


def _activated(n: int, fail_percent: float | None = None) -> Pair:
    pair = make_pair(n, fail_percent)
    for name in pair.names:
        pair.py.activate_host(pair.py_host(name))
        pair.es.activate_host(pair.es_host(name))
    return pair


def _fail(pair: Pair, names: list[str], activated_count: int | None = None) -> Any:
    return both(
        pair,
        lambda: pair.py.fail_hosts({pair.py_host(n) for n in names}, activated_count),
        lambda: pair.es.fail_hosts([pair.es_host(n) for n in names], activated_count),
    )


def test_initial_limit() -> None:
    pair = make_pair(3, initial_limit=[0, 2])
    assert_same(pair)
    assert [pair.es.is_host_in_limit(host) for host in pair.es.inventory] == [True, False, True]


def test_fail_percent_is_strictly_greater() -> None:
    pair = _activated(3, fail_percent=33)
    assert _fail(pair, ["h0"]) == ("raised", "deploy", "Over 33% of hosts failed (33%)")
    pair = _activated(3, fail_percent=34)
    assert _fail(pair, ["h0"]) == ("ok", None)
    assert_same(pair)


def test_fail_percent_equal_does_not_raise() -> None:
    pair = _activated(2, fail_percent=50)
    assert _fail(pair, ["h0"]) == ("ok", None)  # exactly 50%
    pair = _activated(4, fail_percent=25)
    assert _fail(pair, ["h0"]) == ("ok", None)  # exactly 25%
    assert _fail(pair, ["h1"]) == ("raised", "deploy", "Over 25% of hosts failed (50%)")
    assert_same(pair)


def test_no_hosts_remaining_is_checked_first() -> None:
    pair = _activated(2, fail_percent=0)
    pair.py.should_raise_failed_hosts = lambda state: False
    pair.es.should_raise_failed_hosts = lambda state: False
    assert _fail(pair, ["h0", "h1"]) == ("raised", "deploy", "No hosts remaining!")
    assert_same(pair)


def test_activated_count_zero_counts_as_none() -> None:
    raised = ("raised", "deploy", "Over 50% of hosts failed (67%)")
    for activated_count in (None, 0):
        pair = _activated(3, fail_percent=50)
        assert _fail(pair, ["h0", "h1"], activated_count) == raised
        assert_same(pair)
    pair = _activated(3, fail_percent=50)
    assert _fail(pair, ["h0", "h1"], 1) == ("ok", None)  # (1 - 1/1) * 100 = 0%
    assert_same(pair)


def test_refailing_a_failed_host_reruns_the_checks() -> None:
    pair = _activated(3, fail_percent=40)
    assert _fail(pair, ["h0"]) == ("ok", None)
    raised = ("raised", "deploy", "Over 40% of hosts failed (67%)")
    assert _fail(pair, ["h1"]) == raised
    assert _fail(pair, ["h1"]) == raised
    assert _fail(pair, ["h0"]) == raised
    assert_same(pair)


def _add(pair: Pair, name: str, op_hash: str, op_order: tuple[int, ...]) -> None:
    add_op(pair, AddOp(pair.names.index(name), op_hash, op_order, (), True, True, False, False))


def test_op_order_is_sorted_per_generation() -> None:
    pair = make_pair(2)
    _add(pair, "h0", "A1", (1,))
    _add(pair, "h0", "A2", (2,))
    _add(pair, "h1", "B1", (3,))
    assert pair.py.get_op_order() == pair.es.get_op_order() == ["A1", "B1", "A2"]
    assert_same(pair)


def test_op_order_ties_keep_insertion_order() -> None:
    pair = make_pair(3)
    # Equal op_order: the sorter's order, which is inventory order of the hosts.
    _add(pair, "h2", "X", (0,))
    _add(pair, "h1", "Y", (1,))
    _add(pair, "h0", "Z", (1,))
    assert pair.py.get_op_order() == pair.es.get_op_order() == ["X", "Z", "Y"]


def test_op_order_cycle() -> None:
    pair = make_pair(2)
    _add(pair, "h0", "A", (0,))
    _add(pair, "h0", "B", (1,))
    _add(pair, "h1", "B", (1,))
    _add(pair, "h1", "A", (0,))
    kind, category, message = both(pair, pair.py.get_op_order, pair.es.get_op_order)
    assert (kind, category) == ("raised", "deploy")
    assert message.startswith("Cycle detected in operation ordering DAG.")
    with pytest.raises(OperationOrderCycleError):
        pair.es.get_op_order()


def test_empty_op_order() -> None:
    pair = make_pair(3)
    assert pair.py.get_op_order() == pair.es.get_op_order() == []


def test_stage_cannot_go_backwards() -> None:
    pair = make_pair(1)

    def set_stage(stage: int) -> Any:
        return both(
            pair,
            lambda: pair.py.set_stage(PyStateStage(stage)),
            lambda: pair.es.set_stage(es.StateStage(stage)),
        )

    assert set_stage(4) == ("ok", None)
    assert set_stage(2) == ("raised", "stage", "State stage cannot go backwards!")
    assert set_stage(4) == ("ok", None)  # the same stage is allowed
    assert_same(pair)


# The documented differences, pinned


def test_documented_difference_stage_warnings_are_per_state() -> None:
    pyapi.State.stage_warnings.clear()
    try:
        first, second = (
            pyapi.State(pyapi.Inventory((["a"], {}))),
            pyapi.State(pyapi.Inventory((["a"], {}))),
        )
        first.increment_warning_counter()
        assert second.get_warning_counter() == 1  # pyinfra: shared by every State
    finally:
        pyapi.State.stage_warnings.clear()
    first_es, second_es = es.State(es.Inventory((["a"], {}))), es.State(es.Inventory((["a"], {})))
    first_es.increment_warning_counter()
    assert (first_es.get_warning_counter(), second_es.get_warning_counter()) == (1, 0)


def test_documented_difference_fail_hosts_takes_any_iterable() -> None:
    pair = _activated(3)
    with pytest.raises(TypeError):
        pair.py.fail_hosts([pair.py_host("h0")])
    pair.es.fail_hosts([pair.es_host("h0")])
    assert _names(pair.py.failed_hosts) == _names(pair.es.failed_hosts) == {"h0"}


@pytest.mark.parametrize("kind", ["tuple of hosts", "set of hosts", "list of names"])
def test_difference_a_limit_need_not_be_a_list_of_hosts(kind: str) -> None:
    """Ours makes any iterable of hosts or names a limit (tests/test_state.py pins it too);
    pyinfra's ``is_host_in_limit`` is True for all unless ``limit_hosts`` is a list, whose
    items it compares with Host objects, so names match nothing. Not in the semantics
    doc's "We differ" table, hence kept out of the property test."""
    pair = make_pair(3)

    def limit(hosts: list[Any]) -> Any:
        if kind == "tuple of hosts":
            return tuple(hosts)
        if kind == "set of hosts":
            return set(hosts)
        return [host.name for host in hosts]

    pair.py.limit_hosts = limit([pair.py_host("h0")])
    pair.es.limit_hosts = limit([pair.es_host("h0")])
    py_in_limit = [pair.py.is_host_in_limit(pair.py_host(name)) for name in pair.names]
    es_in_limit = [pair.es.is_host_in_limit(pair.es_host(name)) for name in pair.names]
    assert py_in_limit == ([False] * 3 if kind == "list of names" else [True] * 3)
    assert es_in_limit == [True, False, False]
