"""The execution engine: run_ops and its modes, retries, commands, connect and disconnect.

Most deploys run on ``@sim/NAME`` hosts (deterministic, nothing runs): a
command whose text matches a host's ``sim_fail_patterns`` (rate 1) fails on
that host. The ``@local`` tests run real shell commands in pytest's
``tmp_path``. Every State made through the ``deploy`` fixture is checked at
teardown: the run verifies, and rebuilding it from the log gives the live view.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import eventstate
from eventstate import BaseStateCallback, Config, Inventory, State
from eventstate.arguments import OperationArgumentError
from eventstate.commands import FunctionCommand, Secret, StringCommand
from eventstate.connect import connect_all, disconnect_all
from eventstate.context import current
from eventstate.errors import EventstateError, NoHostsRemainingError, OperationError
from eventstate.events import (
    CommandExecuted,
    Event,
    HostConnected,
    HostConnectFailed,
    HostDisconnected,
    HostOperationFinished,
    HostOperationRetried,
    HostsFailed,
    OperationAddedForHost,
    OperationEnded,
    OperationStarted,
    OpOutcome,
    RunFinished,
    RunStatus,
    with_command_events,
    with_host_events,
)
from eventstate.execute import run_ops
from eventstate.operation import add_op, operation
from eventstate.replay import ReplayLog, read_events, rebuild, verify_run

# Operations


@operation
def shell(*commands: Any) -> Iterator[Any]:
    yield from commands


@operation
def call(function: Callable[..., Any], *args: Any) -> Iterator[FunctionCommand]:
    yield FunctionCommand(function, args)


@operation
def nothing() -> Iterator[str]:
    yield from ()


@operation
def attempts(script: dict[str, list[list[str]]]) -> Iterator[str]:
    """Per host, attempt n (while executing) yields ``script[host][n]`` (the last one after)."""
    state, host = current()
    if not state.is_executing:
        yield "echo prepare"
        return
    runs = script[host.name]
    yield from runs.pop(0) if len(runs) > 1 else runs[0]


# Helpers


CALLBACKS = (
    "host_before_connect",
    "host_connect",
    "host_connect_error",
    "host_disconnect",
    "operation_start",
    "operation_host_start",
    "operation_host_retry",
    "operation_host_success",
    "operation_host_error",
    "operation_end",
)


class Recorder(BaseStateCallback):
    """Records ``(callback, *args)``: hosts by name, errors by type name."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def named(self, *names: str) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] in names]


def _recording(name: str) -> Callable[..., None]:
    def record(self: Recorder, state: State, *args: Any) -> None:
        self.calls.append((name, *(_plain(arg) for arg in args)))

    return record


for _name in CALLBACKS:
    setattr(Recorder, _name, _recording(_name))


def _plain(value: Any) -> Any:
    if isinstance(value, eventstate.Host):
        return value.name
    if isinstance(value, BaseException):
        return type(value).__name__
    return value


FAIL = {"sim_fail_patterns": {"FAIL": 1.0}}


@pytest.fixture
def deploy() -> Iterator[Callable[..., tuple[State, Recorder]]]:
    """Make a State (with a callback recorder), connected unless told not to.

    Hosts are names or ``(name, data)`` pairs. At teardown, every State made
    must verify and rebuild from its log to its live view.
    """
    states: list[State] = []

    def make(
        hosts: list[Any],
        config: Config | None = None,
        *,
        connect: bool = True,
        data: dict[str, Any] | None = None,
        **state_kwargs: Any,
    ) -> tuple[State, Recorder]:
        state = State(Inventory((hosts, data or {})), config or Config(), **state_kwargs)
        recorder = Recorder()
        state.add_callback_handler(recorder)
        states.append(state)
        if connect:
            connect_all(state)
        return state, recorder

    yield make
    for state in states:
        state.flush()
        report = verify_run(state.log, state.run_id)
        assert report.ok, str(report)
        assert rebuild(state.log, state.run_id) == state.view


def events(state: State, *types: type[Event], host: str | None = None) -> list[Any]:
    """The run's events so far (flushed and decoded), of ``types`` if given; each op's
    commands as the ``CommandExecuted`` events before its outcome, and the hosts it was
    added for as ``OperationAddedForHost`` events."""
    state.flush()
    found = list(with_host_events(with_command_events(read_events(state.log, state.run_id))))
    if types:
        found = [event for event in found if isinstance(event, types)]
    if host is not None:
        found = [event for event in found if getattr(event, "host", None) == host]
    return found


def host(state: State, name: str) -> eventstate.Host:
    return state.inventory.get_host(name)


def results(state: State, name: str) -> dict[str, int]:
    return state.results[host(state, name)].as_dict()


def op_hash(added: dict[eventstate.Host, Any]) -> str:
    hashes = {result.op_hash for result in added.values()}
    assert len(hashes) == 1
    return hashes.pop()


def commands_run(state: State, name: str) -> list[tuple[str, bool]]:
    return [(e.command, e.success) for e in events(state, CommandExecuted, host=name)]


# Results counters


def test_success_error_ignored_continue_and_partial_counters(deploy) -> None:
    state, _ = deploy([("@sim/a", {}), ("@sim/b", FAIL)])
    add_op(state, shell, "echo one")
    add_op(state, shell, "echo ok", "FAIL x", "echo never", _ignore_errors=True)
    add_op(state, shell, "FAIL y", "echo z", _continue_on_error=True)
    add_op(state, shell, "echo after")
    run_ops(state)

    assert results(state, "@sim/a") == {
        "ops": 4,
        "success_ops": 4,
        "error_ops": 0,
        "ignored_error_ops": 0,
        "partial_ops": 0,
    }
    # ignored error after one command: ignored + partial; the continued error
    # ran "echo z" after the failure: an error, partial.
    assert results(state, "@sim/b") == {
        "ops": 2,
        "success_ops": 1,
        "error_ops": 1,
        "ignored_error_ops": 1,
        "partial_ops": 2,
    }
    assert commands_run(state, "@sim/b") == [
        ("echo one", True),
        ("echo ok", True),
        ("FAIL x", False),
        ("FAIL y", False),
        ("echo z", True),
    ]
    outcomes = [(e.outcome, e.commands_executed) for e in events(state, HostOperationFinished)]
    assert outcomes.count((OpOutcome.IGNORED_ERROR, 1)) == 1
    assert outcomes.count((OpOutcome.ERROR, 1)) == 1
    assert [h.name for h in state.failed_hosts] == ["@sim/b"]
    assert [h.name for h in state.active_hosts] == ["@sim/a"]


def test_a_failed_host_is_failed_after_the_op_and_runs_no_later_op(deploy) -> None:
    state, recorder = deploy([("@sim/a", {}), ("@sim/b", FAIL), ("@sim/c", {})])
    first = op_hash(add_op(state, shell, "FAIL now"))
    second = op_hash(add_op(state, shell, "echo later"))
    run_ops(state)

    kinds = [(type(e).__name__, getattr(e, "host", None)) for e in events(state)]
    first_end = kinds.index(("OperationEnded", None))
    failed_at = kinds.index(("HostsFailed", None))
    finished = [i for i, kind in enumerate(kinds) if kind[0] == "HostOperationFinished"]
    # Failed once, after every host finished the op, before the op ends.
    assert finished[2] < failed_at < first_end
    (failed,) = events(state, HostsFailed)
    assert failed.hosts == ("@sim/b",)
    assert recorder.named("operation_host_start") == [
        ("operation_host_start", "@sim/a", first),
        ("operation_host_start", "@sim/b", first),
        ("operation_host_start", "@sim/c", first),
        ("operation_host_start", "@sim/a", second),
        ("operation_host_start", "@sim/c", second),
    ]
    assert events(state, HostOperationFinished, host="@sim/b")[-1].op_hash == first
    assert results(state, "@sim/b")["error_ops"] == 1


# Retries


def test_retries_record_events_and_fire_callbacks(deploy) -> None:
    script = {"@sim/a": [["FAIL 1"], ["FAIL 2"], ["echo ok"]], "@sim/b": [["FAIL"]]}
    state, recorder = deploy([("@sim/a", FAIL), ("@sim/b", FAIL)])
    add_op(state, shell, "echo first")
    op = op_hash(add_op(state, attempts, script, _retries=3, _retry_delay=0))
    run_ops(state)

    retried = [(e.host, e.retry_num, e.max_retries) for e in events(state, HostOperationRetried)]
    assert retried == [
        ("@sim/a", 1, 3),
        ("@sim/a", 2, 3),
        ("@sim/b", 1, 3),
        ("@sim/b", 2, 3),
        ("@sim/b", 3, 3),
    ]
    assert [call for call in recorder.calls if call[2:3] == (op,)] == [
        ("operation_host_start", "@sim/a", op),
        ("operation_host_retry", "@sim/a", op, 1, 3),
        ("operation_host_retry", "@sim/a", op, 2, 3),
        ("operation_host_success", "@sim/a", op, 2),
        ("operation_host_start", "@sim/b", op),
        ("operation_host_retry", "@sim/b", op, 1, 3),
        ("operation_host_retry", "@sim/b", op, 2, 3),
        ("operation_host_retry", "@sim/b", op, 3, 3),
        ("operation_host_error", "@sim/b", op, 3, 3),
    ]
    attempts_a = [e.attempt for e in events(state, CommandExecuted, host="@sim/a")]
    assert attempts_a == [0, 0, 1, 2]
    finished = {e.host: e for e in events(state, HostOperationFinished) if e.op_hash == op}
    assert (finished["@sim/a"].outcome, finished["@sim/a"].retry_count) == (OpOutcome.SUCCESS, 2)
    assert (finished["@sim/b"].outcome, finished["@sim/b"].retry_count) == (OpOutcome.ERROR, 3)
    assert results(state, "@sim/a")["success_ops"] == 2
    assert results(state, "@sim/b")["error_ops"] == 1


def test_op_results_and_host_ops_carry_pyinfras_retry_information(deploy) -> None:
    script = {"@sim/a": [["FAIL 1"], ["FAIL 2"], ["echo ok"]], "@sim/b": [["FAIL"]]}
    state, _ = deploy([("@sim/a", FAIL), ("@sim/b", FAIL)])
    retried = add_op(state, attempts, script, _retries=3, _retry_delay=0, _ignore_errors=True)
    first_try = add_op(state, shell, "echo fine", _retries=2)
    plain = add_op(state, shell, "echo plain")
    failed = add_op(state, shell, "FAIL at once", _ignore_errors=True)
    run_ops(state)

    # (retry_attempts, max_retries, was_retried, retry_succeeded), as pyinfra 3.10's
    # OperationMeta after set_complete.
    expected = [
        (retried, "@sim/a", (2, 3, True, True)),
        (retried, "@sim/b", (3, 3, True, False)),
        (first_try, "@sim/a", (0, 2, False, None)),
        (plain, "@sim/a", (0, 0, False, None)),
        (failed, "@sim/b", (0, 0, False, None)),
    ]
    host_ops = ReplayLog(state.log).run(state.run_id).host_ops()
    for added, name, (attempted, allowed, was, succeeded) in expected:
        result = added[host(state, name)]
        info = {
            "retry_attempts": attempted,
            "max_retries": allowed,
            "was_retried": was,
            "retry_succeeded": succeeded,
        }
        assert result.get_retry_info() == info, name
        assert (result.retry_attempts, result.max_retries) == (attempted, allowed)
        assert (result.was_retried, result.retry_succeeded) == (was, succeeded)
        # The log holds the same, but for the _retries of an op that succeeded at its
        # first attempt (no event records it): None there.
        record = host_ops.get(name, result.op_hash)
        assert record is not None
        logged = dict(info, max_retries=None) if added in (first_try, plain) else info
        assert record.get_retry_info() == logged, name
        assert record.as_dict()["max_retries"] == logged["max_retries"]


def test_an_executed_op_result_holds_its_last_attempts_commands_and_output(deploy) -> None:
    outputs = {"sim_outputs": {"^echo one": "one", "^echo two": "two\nlines"}}
    state, _ = deploy([("@sim/a", {**FAIL, **outputs})])
    script = {"@sim/a": [["echo one", "FAIL"], ["echo one", "echo two"]]}
    added = add_op(state, attempts, script, _retries=1, _retry_delay=0)
    result = added[host(state, "@sim/a")]
    # pyinfra's OperationMeta: nothing to read before execution.
    assert result._commands is None and result._combined_output is None
    with pytest.raises(EventstateError, match="before execution"):
        result.stdout  # noqa: B018
    run_ops(state)
    assert result._commands == [StringCommand("echo one"), StringCommand("echo two")]
    assert result.stdout_lines == ["one", "two", "lines"]
    assert result.stdout == "one\ntwo\nlines"
    assert result.stderr_lines == [] and result.stderr == ""
    host_op = state.ops[host(state, "@sim/a")][result.op_hash]
    assert host_op.operation_meta is result
    # Its global arguments by pyinfra's keywords, too.
    assert (host_op.global_arguments["_retries"], host_op.global_arguments["_sudo"]) == (1, False)
    with pytest.raises(KeyError):
        host_op.global_arguments["_no_such_argument"]


def test_partial_counts_only_the_final_attempt(deploy) -> None:
    script = {
        "@sim/a": [["echo ran", "FAIL"], ["FAIL"]],  # final attempt ran nothing
        "@sim/b": [["FAIL"], ["echo ran", "FAIL"]],  # final attempt ran one
    }
    state, _ = deploy([("@sim/a", FAIL), ("@sim/b", FAIL)])
    add_op(state, attempts, script, _retries=1, _retry_delay=0, _ignore_errors=True)
    run_ops(state)
    assert results(state, "@sim/a")["partial_ops"] == 0
    assert results(state, "@sim/b")["partial_ops"] == 1
    assert results(state, "@sim/a")["ignored_error_ops"] == 1


def test_retry_until_runs_only_without_error_while_retries_remain(deploy) -> None:
    seen: list[tuple[str, int, list[str]]] = []

    def until(output: dict[str, Any]) -> bool:
        seen.append((output["host"], output["executed_commands"], output["stdout_lines"]))
        return True  # always "retry"

    script = {"@sim/a": [["FAIL"], ["echo status"]]}
    data = {**FAIL, "sim_outputs": {"status": "not ready"}}
    state, recorder = deploy([("@sim/a", data)])
    op = op_hash(add_op(state, attempts, script, _retries=3, _retry_delay=0, _retry_until=until))
    run_ops(state)

    # Attempt 0 failed: retried without asking; attempts 1 and 2 asked; the
    # last (3) is not asked, and retries running out while it says "retry" is a success.
    assert seen == [("@sim/a", 1, ["not ready"])] * 2
    assert recorder.named("operation_host_retry") == [
        ("operation_host_retry", "@sim/a", op, n, 3) for n in (1, 2, 3)
    ]
    assert recorder.named("operation_host_success") == [("operation_host_success", "@sim/a", op, 3)]
    assert results(state, "@sim/a")["success_ops"] == 1


def test_retry_until_false_or_raising_means_no_retry(deploy) -> None:
    def broken(output: dict[str, Any]) -> bool:
        raise RuntimeError("broken check")

    state, recorder = deploy(["@sim/a"])
    add_op(state, shell, "echo x", _retries=2, _retry_delay=0, _retry_until=lambda output: False)
    add_op(state, shell, "echo y", _retries=2, _retry_delay=0, _retry_until=broken)
    run_ops(state)
    assert recorder.named("operation_host_retry") == []
    assert [call[-1] for call in recorder.named("operation_host_success")] == [0, 0]
    assert events(state, HostOperationRetried) == []
    assert results(state, "@sim/a")["success_ops"] == 2


# _run_once


def test_run_once_runs_on_the_first_host_in_inventory_order_only(deploy) -> None:
    state, recorder = deploy(["@sim/z", "@sim/a", "@sim/m"])
    op = op_hash(add_op(state, shell, "echo once", _run_once=True))
    run_ops(state)

    assert [e.host for e in events(state, CommandExecuted)] == ["@sim/z"]
    added = {e.host: e.counted for e in events(state, OperationAddedForHost)}
    assert added == {"@sim/z": True, "@sim/a": False, "@sim/m": False}
    assert [e.host for e in events(state, HostOperationFinished)] == ["@sim/z"]
    # The others are skipped: they get operation_host_start, and nothing is counted.
    assert recorder.named("operation_host_start", "operation_host_success") == [
        ("operation_host_start", "@sim/z", op),
        ("operation_host_success", "@sim/z", op, 0),
        ("operation_host_start", "@sim/a", op),
        ("operation_host_start", "@sim/m", op),
    ]
    for name in ("@sim/a", "@sim/m"):
        assert results(state, name)["ops"] == 0
        assert state.meta[host(state, name)].ops == 0
    assert results(state, "@sim/z")["ops"] == state.meta[host(state, "@sim/z")].ops == 1


# Batches: _serial, _parallel, and the serial / no_wait modes

SLOW = {"sim_latency": 0.01}


def _host_calls(recorder: Recorder) -> list[tuple[str, str]]:
    wanted = ("operation_host_start", "operation_host_success", "operation_host_error")
    return [(call[0].rsplit("_", 1)[1], call[1][-1]) for call in recorder.named(*wanted)]


def test_hosts_run_one_op_in_parallel_by_default(deploy) -> None:
    state, recorder = deploy(["@sim/a", "@sim/b", "@sim/c"], data=SLOW)
    add_op(state, shell, "echo x")
    run_ops(state)
    calls = _host_calls(recorder)
    assert [kind for kind, _ in calls[:3]] == ["start"] * 3


def test_serial_op_runs_one_host_at_a_time(deploy) -> None:
    state, recorder = deploy(["@sim/a", "@sim/b", "@sim/c"], data=SLOW)
    add_op(state, shell, "echo x", _serial=True)
    run_ops(state)
    assert _host_calls(recorder) == [
        ("start", "a"),
        ("success", "a"),
        ("start", "b"),
        ("success", "b"),
        ("start", "c"),
        ("success", "c"),
    ]


def test_parallel_n_runs_batches_of_n(deploy) -> None:
    state, recorder = deploy(["@sim/a", "@sim/b", "@sim/c"], data=SLOW)
    add_op(state, shell, "echo x", _parallel=2)
    run_ops(state)
    calls = _host_calls(recorder)
    assert calls[:2] == [("start", "a"), ("start", "b")]
    assert sorted(calls[2:4]) == [("success", "a"), ("success", "b")]
    assert calls[4:] == [("start", "c"), ("success", "c")]


def test_serial_mode_runs_host_by_host_and_fails_a_host_at_its_first_error(deploy) -> None:
    state, recorder = deploy([("@sim/a", FAIL), ("@sim/b", {})], data=SLOW)
    add_op(state, shell, "echo 1")
    add_op(state, shell, "FAIL 2")
    add_op(state, shell, "echo 3")
    run_ops(state, serial=True)

    assert recorder.named("operation_start", "operation_end") == []
    assert events(state, OperationStarted, OperationEnded) == []
    assert _host_calls(recorder) == [
        ("start", "a"),
        ("success", "a"),
        ("start", "a"),
        ("error", "a"),
        ("start", "b"),
        ("success", "b"),
        ("start", "b"),
        ("success", "b"),
        ("start", "b"),
        ("success", "b"),
    ]
    assert [e.hosts for e in events(state, HostsFailed)] == [("@sim/a",)]
    assert results(state, "@sim/b")["success_ops"] == 3


def test_no_wait_mode_runs_hosts_independently_and_fails_a_failing_host(deploy) -> None:
    # a: instant (it never yields), fails its second op; b: slow, succeeds.
    state, recorder = deploy([("@sim/a", FAIL), ("@sim/b", {"sim_latency": 0.02})])
    add_op(state, shell, "echo 1")
    add_op(state, shell, "FAIL 2")
    add_op(state, shell, "echo 3")
    run_ops(state, no_wait=True)

    assert events(state, OperationStarted, OperationEnded) == []
    calls = _host_calls(recorder)
    # a ran (and failed) its ops without waiting for b to finish its first one.
    assert calls.index(("error", "a")) < calls.index(("success", "b"))
    # Ours fails the host (pyinfra's no_wait swallows the error: a deliberate difference).
    assert [e.hosts for e in events(state, HostsFailed)] == [("@sim/a",)]
    assert [h.name for h in state.failed_hosts] == ["@sim/a"]
    assert results(state, "@sim/b")["success_ops"] == 3
    assert [c for c, _ in commands_run(state, "@sim/a")] == ["echo 1", "FAIL 2"]


def test_no_wait_mode_applies_fail_percent(deploy) -> None:
    state, _ = deploy([("@sim/a", FAIL), ("@sim/b", {})], Config(FAIL_PERCENT=0))
    add_op(state, shell, "FAIL")
    with pytest.raises(eventstate.DeployError, match=r"Over 0% of hosts failed \(50%\)"):
        run_ops(state, no_wait=True)


def test_no_wait_over_fail_percent_lets_running_ops_finish_then_aborts(deploy) -> None:
    # b and c are mid-command (slow) when a fails at once and trips FAIL_PERCENT.
    slow = {"sim_latency": 0.05, "sim_fail_rate": 0}
    state, recorder = deploy(
        [("@sim/b", slow), ("@sim/c", slow), ("@sim/a", {"sim_fail_rate": 1})],
        Config(FAIL_PERCENT=0),
    )
    first = op_hash(add_op(state, shell, "echo 1"))
    add_op(state, shell, "echo 2")
    with pytest.raises(eventstate.DeployError, match=r"Over 0% of hosts failed \(33%\)"):
        run_ops(state, no_wait=True)

    started = [(c[1], c[2]) for c in recorder.named("operation_host_start")]
    finished = [(e.host, e.op_hash) for e in events(state, HostOperationFinished)]
    assert sorted(started) == sorted(finished)  # every op that started has its outcome
    assert sorted(started) == [("@sim/a", first), ("@sim/b", first), ("@sim/c", first)]
    for name in ("@sim/b", "@sim/c"):  # finished what they had begun, began nothing after
        assert commands_run(state, name) == [("echo 1", True)]
        assert results(state, name)["success_ops"] == 1
    (end,) = events(state, RunFinished)
    assert events(state)[-1] == end
    assert (end.status, end.error) == (RunStatus.ABORTED, "Over 0% of hosts failed (33%)")


@pytest.mark.parametrize("seed", range(4))
def test_no_wait_over_fail_percent_leaves_no_op_without_an_outcome(deploy, seed: int) -> None:
    hosts = [(f"@sim/h{i}", {"sim_latency": 0.002 * (i % 4)}) for i in range(8)]
    data = {"sim_fail_rate": 0.15, "sim_seed": seed}
    state, recorder = deploy(hosts, Config(FAIL_PERCENT=10), data=data)
    for n in range(6):
        add_op(state, shell, f"echo {n}")
    with pytest.raises(eventstate.DeployError):
        run_ops(state, no_wait=True)
    started = sorted((c[1], c[2]) for c in recorder.named("operation_host_start"))
    finished = sorted((e.host, e.op_hash) for e in events(state, HostOperationFinished))
    assert started == finished
    assert state.view.run.status is RunStatus.ABORTED
    assert isinstance(events(state)[-1], RunFinished)


# Stopping a deploy


def test_fail_percent_trips_deploy_error_and_the_op_never_ends(deploy) -> None:
    state, recorder = deploy(
        [("@sim/a", {}), ("@sim/b", FAIL), ("@sim/c", {})], Config(FAIL_PERCENT=10)
    )
    first = op_hash(add_op(state, shell, "echo ok"))
    second = op_hash(add_op(state, shell, "FAIL"))
    add_op(state, shell, "echo never")
    with pytest.raises(eventstate.DeployError, match=r"^Over 10% of hosts failed \(33%\)$"):
        run_ops(state)
    assert recorder.named("operation_start", "operation_end") == [
        ("operation_start", first),
        ("operation_end", first),
        ("operation_start", second),
    ]
    assert [e.op_hash for e in events(state, OperationEnded)] == [first]
    assert "echo never" not in [e.command for e in events(state, CommandExecuted)]
    (failed,) = events(state, HostsFailed)
    assert failed.outcome is eventstate.FailOutcome.FAIL_PERCENT_EXCEEDED


def test_no_hosts_remaining(deploy) -> None:
    state, _ = deploy([("@sim/a", FAIL), ("@sim/b", FAIL)])
    add_op(state, shell, "FAIL")
    with pytest.raises(eventstate.DeployError, match=r"^No hosts remaining!$") as raised:
        run_ops(state)
    assert isinstance(raised.value, NoHostsRemainingError)
    assert list(state.active_hosts) == []


def test_a_second_run_ops_is_an_error(deploy) -> None:
    state, _ = deploy(["@sim/a"])
    add_op(state, shell, "echo once")
    run_ops(state)
    before = len(events(state))
    with pytest.raises(EventstateError, match="already ran"):
        run_ops(state)
    assert len(events(state)) == before
    assert results(state, "@sim/a")["success_ops"] == 1


def test_an_op_body_raising_at_execute_time_propagates_uncounted(deploy) -> None:
    @operation
    def breaks() -> Iterator[str]:
        state, _ = current()
        if state.is_executing:
            raise ValueError("body broke")
        yield "echo prepared"

    state, recorder = deploy(["@sim/a", "@sim/b"])
    add_op(state, breaks)
    with pytest.raises(ValueError, match="body broke"), state:  # the State records the abort
        run_ops(state)
    assert recorder.named("operation_end") == []
    assert events(state, OperationEnded, HostOperationFinished, HostsFailed) == []
    assert results(state, "@sim/a")["ops"] == results(state, "@sim/b")["ops"] == 0
    assert len(state.active_hosts) == 2
    (finished,) = events(state, RunFinished)
    assert finished.status is RunStatus.ABORTED
    assert finished.error == "ValueError: body broke"


# _if and change detection


def test_if_false_at_execute_time_runs_nothing_and_succeeds(deploy) -> None:
    go = {"first": True, "second": False}
    state, _ = deploy(["@sim/a"])
    first = add_op(state, shell, "echo first", _if=lambda: go["first"])
    add_op(state, shell, "echo second", _if=lambda: go["second"])
    add_op(state, shell, "echo third", _if=[lambda: True, lambda: False])
    # _if is not looked at while preparing: all three count as changes.
    meta = state.meta[host(state, "@sim/a")]
    assert (meta.ops, meta.ops_change, meta.ops_no_change) == (3, 3, 0)

    go["first"], go["second"] = False, True  # only execute time counts
    run_ops(state)
    assert [e.command for e in events(state, CommandExecuted)] == ["echo second"]
    assert results(state, "@sim/a")["success_ops"] == 3
    finished = [e.commands_executed for e in events(state, HostOperationFinished)]
    assert finished == [0, 1, 0]
    (result,) = first.values()
    assert (result.success, result.changed) == (True, False)
    # pyinfra's OperationMeta reading: ran no command, so executed but not changed.
    assert (result.did_succeed(), result.did_change(), result.executed) == (True, False, False)
    assert (
        repr(result)
        == f"OperationMeta(executed=True, success=True, hash={result._hash}, commands=0)"
    )


def test_an_op_result_reads_as_pyinfras_operation_meta(deploy) -> None:
    state, _ = deploy(["@sim/a"])
    (result,) = add_op(state, shell, "echo one").values()
    assert repr(result) == f"OperationMeta(executed=False, maybeChange=True, hash={result._hash})"
    with pytest.raises(OperationError, match="before execution"):
        result.did_change()
    run_ops(state)
    assert (result.is_complete(), result.did_change(), result.did_error()) == (True, True, False)
    assert result.executed and result.did_not_change() is False


def test_without_change_detection_every_op_counts_as_no_change(deploy) -> None:
    prepared: list[str] = []

    @operation
    def noted(command: str) -> Iterator[str]:
        prepared.append(command)
        yield command

    state, _ = deploy(["@sim/a"])
    state.check_for_changes = False
    add_op(state, noted, "echo x")
    add_op(state, nothing)
    assert prepared == []  # the body does not run while preparing
    meta = state.meta[host(state, "@sim/a")]
    assert (meta.ops, meta.ops_change, meta.ops_no_change) == (2, 0, 2)
    assert [e.is_change for e in events(state, OperationAddedForHost)] == [None, None]
    run_ops(state)
    assert prepared == ["echo x"]
    assert results(state, "@sim/a")["success_ops"] == 2


def test_with_change_detection_an_op_yielding_nothing_is_no_change(deploy) -> None:
    state, _ = deploy(["@sim/a"])
    add_op(state, nothing)
    add_op(state, shell, "echo x")
    meta = state.meta[host(state, "@sim/a")]
    assert (meta.ops, meta.ops_change, meta.ops_no_change) == (2, 1, 1)
    assert [e.is_change for e in events(state, OperationAddedForHost)] == [False, True]


# Argument errors


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"_foo": 1}, "_foo"),
        ({"foo": 1}, "foo"),
        ({"_retries": "x"}, "_retries"),
        ({"_ignore_errors": "yes"}, "_ignore_errors"),
    ],
)
def test_bad_arguments_raise_a_one_line_operation_argument_error(deploy, kwargs, named) -> None:
    state, _ = deploy(["@sim/a"])
    with pytest.raises(OperationArgumentError) as raised:
        add_op(state, nothing, **kwargs)
    message = str(raised.value)
    assert "\n" not in message
    assert named in message
    assert isinstance(raised.value, TypeError)
    assert state.get_op_order() == []
    assert state.meta[host(state, "@sim/a")].ops == 0


# @local: real commands


def _local_commands(state: State) -> list[CommandExecuted]:
    return events(state, CommandExecuted, host="@local")


def test_local_output_and_exit_codes_are_recorded(deploy) -> None:
    state, _ = deploy(["@local"])
    add_op(state, shell, "echo hello; echo oops >&2")
    add_op(state, shell, "exit 3", _ignore_errors=True)
    add_op(state, shell, "exit 3", _success_exit_codes=[0, 3])
    run_ops(state)
    hello, failed, accepted = _local_commands(state)
    assert (hello.stdout, hello.stderr, hello.exit_code, hello.success) == (
        "hello\n",
        "oops\n",
        0,
        True,
    )
    assert (failed.exit_code, failed.success) == (3, False)
    assert (accepted.exit_code, accepted.success) == (3, True)
    assert results(state, "@local")["ignored_error_ops"] == 1


def test_local_timeout_fails_the_command(deploy) -> None:
    # `exec`: the shell is replaced by sleep, so killing it closes the pipes (see below).
    state, _ = deploy(["@local"])
    add_op(state, shell, "exec sleep 5", _timeout=0.3, _ignore_errors=True)
    started = time.monotonic()
    run_ops(state)
    assert time.monotonic() - started < 3
    (command,) = _local_commands(state)
    assert (command.success, command.exit_code) == (False, None)
    assert "timed out" in command.stderr
    assert results(state, "@local")["ignored_error_ops"] == 1


def test_local_timeout_returns_at_the_timeout(deploy) -> None:
    state, _ = deploy(["@local"])
    add_op(state, shell, "sleep 5", _timeout=0.3, _ignore_errors=True)
    started = time.monotonic()
    run_ops(state)
    elapsed = time.monotonic() - started
    (command,) = _local_commands(state)
    assert (command.success, command.exit_code) == (False, None)
    assert "timed out" in command.stderr
    assert elapsed < 3, f"a 0.3 s timeout took {elapsed:.1f} s"


def test_local_chdir_and_env_take_effect(deploy, tmp_path: Path) -> None:
    state, _ = deploy(["@local"])
    add_op(state, shell, "pwd", _chdir=str(tmp_path))
    add_op(state, shell, 'echo "$GREETING"', _env={"GREETING": "hi there"})
    add_op(state, shell, "touch made-here", _chdir=str(tmp_path))
    run_ops(state)
    pwd, env, _ = _local_commands(state)
    assert Path(pwd.stdout.strip()).resolve() == tmp_path.resolve()
    assert env.stdout == "hi there\n"
    assert (tmp_path / "made-here").exists()


def test_a_secret_is_masked_in_the_command_and_scrubbed_from_output(deploy) -> None:
    secret = Secret("hunter2")
    state, _ = deploy(["@local"])
    add_op(state, shell, StringCommand("echo", secret, "; echo", secret, ">&2"))
    add_op(state, shell, StringCommand("echo", secret, "; exit 1"), _ignore_errors=True)
    run_ops(state)
    state.finish()

    first, second = _local_commands(state)
    assert first.command == "echo *** ; echo *** >&2"
    assert (first.stdout, first.stderr) == ("***\n", "***\n")
    assert second.stdout == "***\n"
    assert not second.success
    stored = list(state.log.read(state.run_id))
    assert stored
    assert not [row.type for row in stored if "hunter2" in row.payload]


def test_max_output_caps_output_and_flags_truncation(deploy) -> None:
    state, _ = deploy(["@local"], Config(MAX_OUTPUT=10))
    add_op(state, shell, "printf '%050d' 0")
    add_op(state, shell, "printf short")
    run_ops(state)
    long, short = _local_commands(state)
    assert (long.stdout, long.truncated) == ("0" * 10, True)
    assert (short.stdout, short.truncated) == ("short", False)


# Python steps


def test_function_commands_false_fails_raising_fails_the_command_only(deploy) -> None:
    def returns_false(state: State, host: eventstate.Host) -> bool:
        return False

    def returns_none(state: State, host: eventstate.Host) -> None:
        return None

    def raises(state: State, host: eventstate.Host) -> None:
        raise ValueError("boom")

    state, _ = deploy(["@sim/a", "@sim/b", "@sim/c"])
    a, b, _c = state.inventory
    add_op(state, call, returns_none)
    add_op(state, call, returns_false, host=a)
    add_op(state, call, raises, host=b)
    run_ops(state)  # no exception out of run_ops

    none_a, false_a = events(state, CommandExecuted, host="@sim/a")
    none_b, raised_b = events(state, CommandExecuted, host="@sim/b")
    assert none_a.success and none_b.success
    assert (false_a.success, false_a.exit_code) == (False, None)
    assert (raised_b.success, raised_b.exit_code) == (False, None)
    assert "ValueError: boom" in raised_b.stderr
    assert raised_b.command.startswith("python: ")
    assert [h.name for h in state.failed_hosts] == ["@sim/a", "@sim/b"]
    assert results(state, "@sim/c")["success_ops"] == 1
    assert results(state, "@sim/a")["error_ops"] == results(state, "@sim/b")["error_ops"] == 1


def test_a_nested_op_added_while_executing_runs_at_once(deploy) -> None:
    def add_nested(state: State, host: eventstate.Host) -> None:
        add_op(state, shell, "echo nested", host=host)

    state, recorder = deploy(["@sim/a"])
    parent = op_hash(add_op(state, call, add_nested, _ignore_errors=True))
    run_ops(state)

    failed = [e.stderr for e in events(state, CommandExecuted) if not e.success]
    assert failed == []
    # The nested op's command runs (and is recorded) inside the parent's step.
    (nested, nested_ok), (step, step_ok) = commands_run(state, "@sim/a")
    assert (nested, nested_ok) == ("echo nested", True)
    assert step.endswith("add_nested") and step_ok
    host_calls = recorder.named(
        "operation_host_start", "operation_host_success", "operation_host_error"
    )
    assert host_calls[0] == ("operation_host_start", "@sim/a", parent)
    assert host_calls[-1] == ("operation_host_success", "@sim/a", parent, 0)
    assert host_calls[1][0] == "operation_host_start" and host_calls[1][2] != parent
    assert results(state, "@sim/a")["success_ops"] == 2


# Connecting and disconnecting


def test_a_connect_failure_is_recorded_and_fails_the_host(deploy) -> None:
    state, recorder = deploy([("@sim/a", {}), ("@sim/b", {"sim_connect_fail_rate": 1})])
    (failed,) = events(state, HostConnectFailed)
    assert failed.host == "@sim/b"
    assert "simulated connection failure" in failed.error
    assert [e.host for e in events(state, HostConnected)] == ["@sim/a"]
    assert recorder.calls == [
        ("host_before_connect", "@sim/a"),
        ("host_connect", "@sim/a"),
        ("host_before_connect", "@sim/b"),
        ("host_connect_error", "@sim/b", "ConnectError"),
    ]
    assert [h.name for h in state.failed_hosts] == ["@sim/b"]
    assert [h.name for h in state.activated_hosts] == ["@sim/a"]
    assert [h.name for h in state.active_hosts] == ["@sim/a"]


def test_an_unreachable_host_is_a_recorded_connect_failure(deploy) -> None:
    # A plain name is an SSH host; this one does not resolve here.
    state, recorder = deploy(["web1", "@sim/a"])  # connect_all does not raise
    (failed,) = events(state, HostConnectFailed)
    assert failed.host == "web1"
    assert failed.error == "cannot resolve web1"
    assert ("host_connect_error", "web1", "ConnectError") in recorder.calls
    assert [h.name for h in state.active_hosts] == ["@sim/a"]

    alone, _ = deploy(["web1"], connect=False)
    with pytest.raises(NoHostsRemainingError):
        connect_all(alone)
    assert [e.host for e in events(alone, HostConnectFailed)] == ["web1"]


def test_connect_failures_over_fail_percent_raise_and_keep_connected_hosts(deploy) -> None:
    state, recorder = deploy(
        [("@sim/a", {}), ("@sim/b", {"sim_connect_fail_rate": 1})],
        Config(FAIL_PERCENT=0),
        connect=False,
    )
    with pytest.raises(eventstate.DeployError, match=r"Over 0% of hosts failed \(50%\)"):
        connect_all(state)
    assert [h.name for h in state.active_hosts] == ["@sim/a"]
    disconnect_all(state)
    assert [e.host for e in events(state, HostDisconnected)] == ["@sim/a"]
    assert recorder.named("host_disconnect") == [("host_disconnect", "@sim/a")]


def test_connect_all_over_fail_percent_or_with_no_host_left_records_the_run_aborted(
    deploy,
) -> None:
    down = {"sim_connect_fail_rate": 1}
    over, _ = deploy([("@sim/a", {}), ("@sim/b", down)], Config(FAIL_PERCENT=0), connect=False)
    with pytest.raises(eventstate.DeployError, match=r"Over 0% of hosts failed \(50%\)"):
        connect_all(over)
    none_left, _ = deploy([("@sim/a", down)], connect=False)
    with pytest.raises(NoHostsRemainingError):
        connect_all(none_left)

    for state, error in (
        (over, "Over 0% of hosts failed (50%)"),
        (none_left, "No hosts remaining!"),
    ):
        (finished,) = events(state, RunFinished)
        assert (finished.status, finished.error) == (RunStatus.ABORTED, error)
        listed = ReplayLog(state.log).run(state.run_id).info()
        assert (listed.status, listed.error) == ("aborted", error)


def test_connect_all_respects_the_limit(deploy) -> None:
    state, recorder = deploy(["@sim/a", "@sim/b", "@sim/c"], connect=False)
    state.limit_hosts = [host(state, "@sim/b")]
    connect_all(state)
    assert [e.host for e in events(state, HostConnected)] == ["@sim/b"]
    assert [h.name for h in state.activated_hosts] == ["@sim/b"]
    assert list(state.failed_hosts) == []
    assert {call[1] for call in recorder.calls} == {"@sim/b"}


def test_disconnect_all_disconnects_activated_hosts_failed_ones_included(deploy) -> None:
    state, recorder = deploy(
        [("@sim/a", {}), ("@sim/b", FAIL), ("@sim/c", {"sim_connect_fail_rate": 1})]
    )
    add_op(state, shell, "FAIL")
    run_ops(state)
    assert {h.name for h in state.failed_hosts} == {"@sim/b", "@sim/c"}
    disconnect_all(state)
    assert sorted(e.host for e in events(state, HostDisconnected)) == ["@sim/a", "@sim/b"]
    assert sorted(recorder.named("host_disconnect")) == [
        ("host_disconnect", "@sim/a"),
        ("host_disconnect", "@sim/b"),
    ]
    assert not host(state, "@sim/a").connected
    assert not host(state, "@sim/b").connected


# Determinism


def _run_random_deploy(deploy, seed: int) -> dict[str, list[tuple[Any, ...]]]:
    hosts = [f"@sim/h{i}" for i in range(4)]
    # Some latency, so that the hosts' greenlets really interleave.
    data = {
        "sim_seed": seed,
        "sim_fail_rate": 0.35,
        "sim_connect_fail_rate": 0.2,
        "sim_latency": 0.001,
    }
    state, _ = deploy(hosts, data=data, connect=False)
    connect_all(state)
    for step in range(6):
        add_op(
            state,
            shell,
            f"step {step} a",
            f"step {step} b",
            _ignore_errors=step % 2 == 0,
            _retries=1,
            _retry_delay=0,
        )
    with contextlib.suppress(eventstate.DeployError):
        run_ops(state)
    disconnect_all(state)
    state.finish()

    per_host: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for event in events(state):
        name = getattr(event, "host", None)
        if name is None:
            continue
        outcome = getattr(event, "outcome", getattr(event, "success", None))
        per_host[name].append(
            (type(event).__name__, getattr(event, "op_hash", None), outcome)
            + ((event.command, event.attempt) if isinstance(event, CommandExecuted) else ())
        )
    return dict(per_host)


def test_the_same_deploy_and_seed_give_the_same_per_host_sequences(deploy) -> None:
    first = _run_random_deploy(deploy, seed=5)
    second = _run_random_deploy(deploy, seed=5)
    assert first == second
    every = [item for sequence in first.values() for item in sequence]
    kinds = {item[0] for item in every}
    assert {"HostConnectFailed", "HostOperationRetried", "CommandExecuted"} <= kinds
    outcomes = {item[2] for item in every if item[0] == "HostOperationFinished"}
    assert OpOutcome.SUCCESS in outcomes
    assert outcomes & {OpOutcome.ERROR, OpOutcome.IGNORED_ERROR}
    assert _run_random_deploy(deploy, seed=6) != first
