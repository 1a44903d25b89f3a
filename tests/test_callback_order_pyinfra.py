"""Differential test of callback ORDER: pyinfra 3.10 in API mode against our engine.

The same deploy shape -- hosts, ops, which commands fail on which host -- is
run twice: by pyinfra's real ``connect_all`` / ``add_op`` / ``run_ops`` /
``disconnect_all`` on ``@fake/NAME`` hosts (pyinfra 3.10 ships a ``fake``
execution connector in its ``pyinfra.connectors`` entry-point group; its
``fake_responses`` host data makes chosen commands fail), and by ours on
``@sim/NAME`` hosts (``sim_fail_patterns`` with rate 1 makes the same commands
fail). A callback handler records every callback with its arguments: hosts by
short name, op hashes by position in ``get_op_order()`` (the hashes differ),
errors by type only.

pyinfra takes hosts from a set, so within one op (and in ``serial`` mode,
between hosts) the host order varies from run to run; the semantics doc says
callbacks within a batch fire in completion order. So the comparison is
exact for the global skeleton (connect callbacks, ``operation_start`` /
``operation_end`` and what lies between them) and per host inside each op.
Disconnects come from pyinfra's ``activated_hosts`` set: compared as a set.
The hosts' results counters, the error raised and the failed hosts must
agree too (but in ``no_wait`` mode, where pyinfra never fails a host: a
documented difference).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pyinfra import api as pyapi
from pyinfra.api.connect import connect_all as py_connect_all
from pyinfra.api.connect import disconnect_all as py_disconnect_all
from pyinfra.api.exceptions import ConnectError as PyConnectError
from pyinfra.api.operation import add_op as py_add_op
from pyinfra.api.operation import operation as py_operation
from pyinfra.api.operations import run_ops as py_run_ops
from pyinfra.connectors.fake import FakeConnector

import eventstate as es
from eventstate.connect import connect_all as es_connect_all
from eventstate.connect import disconnect_all as es_disconnect_all
from eventstate.context import current
from eventstate.execute import run_ops as es_run_ops
from eventstate.operation import add_op as es_add_op
from eventstate.operation import operation as es_operation
from eventstate.replay import rebuild, verify_run

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
CONNECT_CALLBACKS = frozenset({"host_before_connect", "host_connect", "host_connect_error"})


def short(name: str) -> str:
    """``@fake/h1`` and ``@sim/h1`` are both ``h1``."""
    return name.rpartition("/")[2]


# The deploy shape


@dataclass(frozen=True)
class Step:
    """One ``add_op`` call.

    kind: ``cmd`` (yield ``arg``, a command or a tuple of them), ``flaky``
    (per host, fail the first ``flaky[host]`` attempts), ``nothing`` (yield
    no command).
    raises: hosts on which the op body raises ``ValueError("body broke")``
    while executing.
    hosts: short names to add the op for (None: every active host).
    until: per host, how many times ``_retry_until`` says "retry"
    (``"raise"``: it raises; a host not named: never retry).
    """

    kind: str = "cmd"
    arg: str | tuple[str, ...] = "echo ok"
    kwargs: dict[str, Any] = field(default_factory=dict)
    hosts: tuple[str, ...] | None = None
    flaky: dict[str, int] = field(default_factory=dict)
    until: dict[str, Any] | None = None
    raises: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shape:
    hosts: tuple[str, ...]
    steps: tuple[Step, ...]
    #: per host, the command texts that fail on it
    fails: dict[str, tuple[str, ...]] = field(default_factory=dict)
    connect_fails: tuple[str, ...] = ()
    #: per host, command text -> the stdout it prints
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    fail_percent: float | None = None
    #: what run_ops (or add_op) raises, in both
    error: str | None = None


class Script:
    """What the op bodies and ``_retry_until`` consult: per-run counters."""

    def __init__(self) -> None:
        self.attempts: dict[tuple[int, str], int] = defaultdict(int)
        self.until_calls: dict[tuple[int, str], int] = defaultdict(int)
        #: per host, what ``_retry_until`` was given (framework-neutral parts)
        self.until_inputs: dict[str, list[tuple[Any, ...]]] = defaultdict(list)

    def commands(self, step_no: int, step: Step, host: str, executing: bool) -> Iterator[str]:
        if executing and host in step.raises:
            raise ValueError("body broke")
        if step.kind == "nothing":
            return
        if step.kind == "flaky":
            if not executing:  # change detection at prepare: no attempt
                yield "echo ok"
                return
            self.attempts[step_no, host] += 1
            failing = self.attempts[step_no, host] <= step.flaky.get(host, 0)
            yield "FLAKY_FAIL" if failing else "echo ok"
            return
        yield from (step.arg,) if isinstance(step.arg, str) else step.arg

    def retry_until(self, step_no: int, step: Step) -> Callable[[dict[str, Any]], bool]:
        assert step.until is not None
        until = step.until

        def check(output: dict[str, Any]) -> bool:
            host = short(output["host"])
            self.until_inputs[host].append(
                (
                    step_no,
                    tuple(output["stdout_lines"]),
                    tuple(output["stderr_lines"]),
                    tuple(output["commands"]),
                    output["executed_commands"],
                )
            )
            wanted = until.get(host, 0)
            if wanted == "raise":
                raise RuntimeError("retry_until broke")
            self.until_calls[step_no, host] += 1
            return self.until_calls[step_no, host] <= wanted

        return check


def step_kwargs(script: Script, step_no: int, step: Step) -> dict[str, Any]:
    kwargs = dict(step.kwargs)
    if step.until is not None:
        kwargs["_retry_until"] = script.retry_until(step_no, step)
    return kwargs


# One op per framework, driven by the script


@py_operation()
def py_step(script: Script, step_no: int, step: Step):  # type: ignore[no-untyped-def]
    from pyinfra import host, state

    yield from script.commands(step_no, step, short(host.name), state.is_executing)


@es_operation
def es_step(script: Script, step_no: int, step: Step):  # type: ignore[no-untyped-def]
    state, host = current()
    yield from script.commands(step_no, step, short(host.name), state.is_executing)


# Recording callbacks


def make_recorder(base: type, order: Callable[[], list[str]]) -> Any:
    """A ``base`` callback handler recording ``(callback, *normalised args)``."""
    calls: list[tuple[Any, ...]] = []

    def normalise(value: Any) -> Any:
        if hasattr(value, "name") and hasattr(value, "data"):  # a Host
            return short(value.name)
        if isinstance(value, BaseException):
            return "error"
        if isinstance(value, str):  # an op hash
            return order().index(value)
        return value

    def method(name: str) -> Callable[..., None]:
        def record(self: Any, state: Any, *args: Any) -> None:
            calls.append((name, *map(normalise, args)))

        return record

    handler_class = type("Recorder", (base,), {name: method(name) for name in CALLBACKS})
    handler = handler_class()
    handler.calls = calls
    return handler


# Running a shape on each


@dataclass
class Outcome:
    calls: list[tuple[Any, ...]]
    error: str | None
    active: set[str]
    failed: set[str]
    #: per host: ops, success_ops, error_ops, ignored_error_ops, partial_ops
    results: dict[str, tuple[int, ...]]
    until_inputs: dict[str, list[tuple[Any, ...]]]


RESULT_COUNTERS = ("ops", "success_ops", "error_ops", "ignored_error_ops", "partial_ops")


def results_of(state: Any) -> dict[str, tuple[int, ...]]:
    return {
        short(host.name): tuple(getattr(state.results[host], key) for key in RESULT_COUNTERS)
        for host in state.inventory
    }


def _active_in_order(state: Any) -> list[Any]:
    # pyinfra's add_op defaults to its active-host *set*: pass hosts in inventory order.
    return [host for host in state.inventory if host in state.active_hosts]


def _select(state: Any, hosts: tuple[str, ...] | None) -> list[Any]:
    active = _active_in_order(state)
    if hosts is None:
        return active
    return [host for host in active if short(host.name) in hosts]


@pytest.fixture
def fake_connect_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyinfra's fake connector never fails to connect: make it fail when host data says so."""
    real_connect = FakeConnector.connect

    def connect(self: FakeConnector) -> None:
        if self.host.data.get("fake_connect_fail"):
            raise PyConnectError(f"cannot reach {self.host.name}")
        real_connect(self)

    monkeypatch.setattr(FakeConnector, "connect", connect)


def run_pyinfra(shape: Shape, mode: str) -> Outcome:
    names = []
    for name in shape.hosts:
        data: dict[str, Any] = {"fake_delay": 0, "fake_delay_jitter": 0}
        data["fake_responses"] = {
            text: {"success": False, "stderr": "boom"} for text in shape.fails.get(name, ())
        }
        data["fake_responses"].update(shape.outputs.get(name, {}))
        data["fake_connect_fail"] = name in shape.connect_fails
        names.append((f"@fake/{name}", data))
    inventory = pyapi.Inventory((names, {}))
    state = pyapi.State(inventory, pyapi.Config(FAIL_PERCENT=shape.fail_percent))
    handler = make_recorder(pyapi.BaseStateCallback, state.get_op_order)
    state.add_callback_handler(handler)
    script = Script()
    error = None
    try:
        py_connect_all(state)
        for step_no, step in enumerate(shape.steps):
            py_add_op(
                state,
                py_step,
                script,
                step_no,
                step,
                host=_select(state, step.hosts),
                **step_kwargs(script, step_no, step),
            )
        py_run_ops(state, serial=mode == "serial", no_wait=mode == "no_wait")
    except Exception as raised:
        error = str(raised)
    py_disconnect_all(state)
    return Outcome(
        handler.calls,
        error,
        {short(h.name) for h in state.active_hosts},
        {short(h.name) for h in state.failed_hosts},
        results_of(state),
        dict(script.until_inputs),
    )


def run_ours(shape: Shape, mode: str) -> Outcome:
    names = []
    for name in shape.hosts:
        data: dict[str, Any] = {
            "sim_fail_patterns": {text: 1.0 for text in shape.fails.get(name, ())},
            "sim_outputs": shape.outputs.get(name, {}),
        }
        if name in shape.connect_fails:
            data["sim_connect_fail_rate"] = 1
        names.append((f"@sim/{name}", data))
    inventory = es.Inventory((names, {}))
    state = es.State(inventory, es.Config(FAIL_PERCENT=shape.fail_percent))
    handler = make_recorder(es.BaseStateCallback, state.get_op_order)
    state.add_callback_handler(handler)
    script = Script()
    error = None
    try:
        es_connect_all(state)
        for step_no, step in enumerate(shape.steps):
            es_add_op(
                state,
                es_step,
                script,
                step_no,
                step,
                host=_select(state, step.hosts),
                **step_kwargs(script, step_no, step),
            )
        es_run_ops(state, serial=mode == "serial", no_wait=mode == "no_wait")
    except Exception as raised:
        error = str(raised)
    es_disconnect_all(state)
    state.finish()
    assert verify_run(state.log, state.run_id).ok
    assert rebuild(state.log, state.run_id) == state.view
    return Outcome(
        handler.calls,
        error,
        {short(h.name) for h in state.active_hosts},
        {short(h.name) for h in state.failed_hosts},
        results_of(state),
        dict(script.until_inputs),
    )


# Canonical forms


def canonical_default(calls: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Connect calls in order; per op, its start/end and each host's calls; disconnects as a set."""
    connect = [call for call in calls if call[0] in CONNECT_CALLBACKS]
    disconnect = sorted(call for call in calls if call[0] == "host_disconnect")
    ops: list[dict[str, Any]] = []
    loose: list[tuple[Any, ...]] = []
    for call in calls:
        name = call[0]
        if name in CONNECT_CALLBACKS or name == "host_disconnect":
            continue
        if name == "operation_start":
            ops.append({"op": call[1], "hosts": defaultdict(list), "ended": False})
        elif name == "operation_end":
            assert ops and ops[-1]["op"] == call[1] and not ops[-1]["ended"], calls
            ops[-1]["ended"] = True
        elif ops and not ops[-1]["ended"]:
            ops[-1]["hosts"][call[1]].append(call)
        else:
            loose.append(call)
    for op in ops:
        op["hosts"] = dict(op["hosts"])
    return {"connect": connect, "ops": ops, "loose": loose, "disconnect": disconnect}


def canonical_per_host(calls: list[tuple[Any, ...]], contiguous: bool) -> dict[str, Any]:
    """serial=True / no_wait=True: each host's calls, with no operation_start/end.

    In serial mode each host's calls form one contiguous block.
    """
    connect = [call for call in calls if call[0] in CONNECT_CALLBACKS]
    disconnect = sorted(call for call in calls if call[0] == "host_disconnect")
    blocks: list[str] = []
    per_host: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for call in calls:
        if call[0] in CONNECT_CALLBACKS or call[0] == "host_disconnect":
            continue
        assert call[0] not in ("operation_start", "operation_end"), calls
        if not blocks or blocks[-1] != call[1]:
            blocks.append(call[1])
        per_host[call[1]].append(call)
    if contiguous:
        assert len(blocks) == len(set(blocks)), f"host blocks interleave: {blocks}"
    return {"connect": connect, "hosts": dict(per_host), "disconnect": disconnect}


def canonical(calls: list[tuple[Any, ...]], mode: str) -> dict[str, Any]:
    if mode == "default":
        return canonical_default(calls)
    return canonical_per_host(calls, contiguous=mode == "serial")


def compare(shape: Shape, mode: str = "default") -> tuple[Outcome, Outcome]:
    theirs = run_pyinfra(shape, mode)
    ours = run_ours(shape, mode)
    assert canonical(ours.calls, mode) == canonical(theirs.calls, mode)
    assert ours.results == theirs.results
    assert ours.until_inputs == theirs.until_inputs
    if mode != "no_wait":  # no_wait: pyinfra swallows op errors (a documented difference)
        assert ours.error == theirs.error == shape.error
        assert (ours.active, ours.failed) == (theirs.active, theirs.failed)
    return theirs, ours


H3 = ("h1", "h2", "h3")


SHAPES = {
    "success_and_ignored_error": Shape(
        hosts=H3,
        steps=(
            Step(arg="echo one"),
            Step(arg="FAIL_A", kwargs={"_ignore_errors": True}),
            Step(kind="nothing"),
            Step(arg="echo three"),
        ),
        fails={"h2": ("FAIL_A",)},
    ),
    "error_fails_the_host": Shape(
        hosts=H3,
        steps=(Step(arg="FAIL_A"), Step(arg="echo after"), Step(arg="FAIL_B")),
        fails={"h2": ("FAIL_A",), "h3": ("FAIL_B",)},
    ),
    "retries": Shape(
        hosts=H3,
        steps=(
            Step(
                kind="flaky",
                kwargs={"_retries": 2, "_retry_delay": 0},
                flaky={"h1": 1, "h2": 5},
            ),
            Step(arg="echo after"),
        ),
        fails={name: ("FLAKY_FAIL",) for name in H3},
    ),
    "retries_ignored": Shape(
        hosts=("h1", "h2"),
        steps=(
            Step(
                kind="flaky",
                kwargs={"_retries": 1, "_retry_delay": 0, "_ignore_errors": True},
                flaky={"h1": 3, "h2": 1},
            ),
        ),
        fails={name: ("FLAKY_FAIL",) for name in ("h1", "h2")},
    ),
    "retry_until": Shape(
        hosts=H3,
        steps=(
            Step(
                arg="echo poll",
                kwargs={"_retries": 3, "_retry_delay": 0},
                until={"h1": 1, "h2": 10, "h3": "raise"},
            ),
        ),
        outputs={"h1": {"echo poll": "not ready"}, "h2": {"echo poll": "line 1\nline 2"}},
    ),
    "run_once_serial_parallel_if_and_one_host_ops": Shape(
        hosts=H3,
        steps=(
            Step(arg="echo once", kwargs={"_run_once": True}),
            Step(arg="FAIL_A", kwargs={"_serial": True, "_ignore_errors": True}),
            Step(arg="echo skipped", kwargs={"_if": lambda: False}),
            Step(arg="echo last", kwargs={"_parallel": 1}),
            Step(arg="echo only h3", hosts=("h3",)),
        ),
        fails={"h1": ("FAIL_A",)},
    ),
    "continue_on_error_and_parallel": Shape(
        hosts=H3,
        steps=(
            Step(
                arg=("echo a", "FAIL_A", "echo b"),
                kwargs={"_continue_on_error": True, "_parallel": 2},
            ),
            Step(arg="echo after"),
        ),
        fails={"h3": ("FAIL_A",)},
    ),
    # API mode: an op added for h3 alone takes position 0 on h3, as the next op
    # does on h1 and h2, so they merge, and their _parallel values clash.
    "merged_ops_conflict": Shape(
        hosts=H3,
        steps=(Step(arg="echo h3", hosts=("h3",)), Step(arg="echo all", kwargs={"_parallel": 1})),
        error="Cannot have different values for `_parallel`.",
    ),
    "connect_failure": Shape(
        hosts=H3,
        steps=(Step(arg="echo one"), Step(arg="FAIL_A")),
        fails={"h3": ("FAIL_A",)},
        connect_fails=("h2",),
    ),
    "every_host_fails": Shape(
        hosts=("h1", "h2"),
        steps=(Step(arg="FAIL_A"), Step(arg="echo never")),
        fails={"h1": ("FAIL_A",), "h2": ("FAIL_A",)},
        error="No hosts remaining!",
    ),
}

# An op body raising while executing propagates out of run_ops in both (no
# operation_end, no failed host). In serial mode pyinfra's set order decides
# which hosts ran first, so default mode only.
BODY_RAISES_SHAPE = Shape(
    hosts=H3,
    steps=(Step(arg="echo one"), Step(arg="echo two", raises=("h2",)), Step(arg="echo never")),
    error="body broke",
)

# FAIL_PERCENT aborting mid-way: in serial mode which hosts ran first depends on
# pyinfra's set order, so this one runs in the default mode only.
FAIL_PERCENT_SHAPE = Shape(
    hosts=H3,
    steps=(Step(arg="echo one"), Step(arg="FAIL_A"), Step(arg="echo never")),
    fails={"h2": ("FAIL_A",)},
    fail_percent=0,
    error="Over 0% of hosts failed (33%)",
)


@pytest.mark.usefixtures("fake_connect_failures")
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_default_mode_fires_the_same_callbacks(name: str) -> None:
    shape = SHAPES[name]
    theirs, _ = compare(shape)
    ops = canonical_default(theirs.calls)["ops"]
    assert ops or shape.error, "the shape ran no op"


@pytest.mark.usefixtures("fake_connect_failures")
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_serial_mode_fires_the_same_callbacks(name: str) -> None:
    shape = SHAPES[name]
    theirs, _ = compare(shape, "serial")
    assert not any(call[0] == "operation_start" for call in theirs.calls)
    assert canonical(theirs.calls, "serial")["hosts"] or shape.error, "the shape ran no op"


# shape -> the hosts our no_wait fails (pyinfra fails none: a documented difference)
NO_WAIT_FAILED = {
    "success_and_ignored_error": set(),
    "retries": {"h2"},
    "retry_until": set(),
    "error_fails_the_host": {"h2", "h3"},
}


@pytest.mark.parametrize("name", sorted(NO_WAIT_FAILED))
def test_no_wait_mode_fires_the_same_callbacks_per_host(name: str) -> None:
    theirs, ours = compare(SHAPES[name], "no_wait")
    assert not any(call[0] == "operation_start" for call in theirs.calls)
    assert canonical(theirs.calls, "no_wait")["hosts"]
    # pyinfra swallows the error and never fails the host; ours fails it when
    # its greenlet ends.
    assert theirs.error is ours.error is None
    assert theirs.failed == set()
    assert ours.failed == NO_WAIT_FAILED[name]


@pytest.mark.usefixtures("fake_connect_failures")
def test_fail_percent_stops_before_operation_end() -> None:
    _, ours = compare(FAIL_PERCENT_SHAPE)
    assert ours.error == "Over 0% of hosts failed (33%)"
    ops = canonical_default(ours.calls)["ops"]
    assert [(op["op"], op["ended"]) for op in ops] == [(0, True), (1, False)]


def test_the_recorded_details_match_expectations() -> None:
    """Spot-check the shapes themselves (so an equal but empty comparison cannot pass)."""
    _, ours = compare(SHAPES["retries"])
    ops = canonical_default(ours.calls)["ops"]
    assert ops[0]["hosts"] == {
        "h1": [
            ("operation_host_start", "h1", 0),
            ("operation_host_retry", "h1", 0, 1, 2),
            ("operation_host_success", "h1", 0, 1),
        ],
        "h2": [
            ("operation_host_start", "h2", 0),
            ("operation_host_retry", "h2", 0, 1, 2),
            ("operation_host_retry", "h2", 0, 2, 2),
            ("operation_host_error", "h2", 0, 2, 2),
        ],
        "h3": [("operation_host_start", "h3", 0), ("operation_host_success", "h3", 0, 0)],
    }
    assert set(ops[1]["hosts"]) == {"h1", "h3"}

    # _continue_on_error ran "echo b" after the failure: an error, partial.
    _, ours = compare(SHAPES["continue_on_error_and_parallel"])
    assert ours.results["h3"] == (0, 0, 1, 0, 1)
    assert ours.failed == {"h3"}

    _, ours = compare(SHAPES["retry_until"])
    hosts = canonical_default(ours.calls)["ops"][0]["hosts"]
    assert [call[0] for call in hosts["h1"]] == [
        "operation_host_start",
        "operation_host_retry",
        "operation_host_success",
    ]
    assert hosts["h2"][-1] == ("operation_host_success", "h2", 0, 3)
    assert hosts["h3"] == [
        ("operation_host_start", "h3", 0),
        ("operation_host_success", "h3", 0, 0),
    ]


def test_an_op_body_raising_propagates_the_same_way() -> None:
    _, ours = compare(BODY_RAISES_SHAPE)
    ops = canonical_default(ours.calls)["ops"]
    assert [(op["op"], op["ended"]) for op in ops] == [(0, True), (1, False)]
    assert ops[1]["hosts"]["h2"] == [("operation_host_start", "h2", 1)]
    assert ours.failed == set()


def test_no_wait_op_body_raising_is_swallowed_by_pyinfra_and_raised_by_ours() -> None:
    """An undocumented difference: pyinfra's no_wait joins its greenlets without
    looking at them, so the exception is only printed; ours re-raises it (as
    default and serial mode do in both)."""
    theirs, ours = compare(BODY_RAISES_SHAPE, "no_wait")
    assert theirs.error is None
    assert ours.error == "body broke"


# host.connected as the connect and disconnect callbacks see it


def _connected_flags(state: Any, base: type, connect: Callable[[Any], None]) -> list[Any]:
    seen: list[Any] = []

    class Flags(base):  # type: ignore[misc, valid-type]
        def host_connect(self, state: Any, host: Any) -> None:
            seen.append(("host_connect", short(host.name), host.connected))

        def host_disconnect(self, state: Any, host: Any) -> None:
            seen.append(("host_disconnect", short(host.name), host.connected))

    state.add_callback_handler(Flags())
    connect(state)
    return seen


def _flags_pyinfra() -> list[Any]:
    data = {"fake_delay": 0, "fake_delay_jitter": 0}
    state = pyapi.State(pyapi.Inventory(([("@fake/h1", data)], {})), pyapi.Config())

    def run(state: Any) -> None:
        py_connect_all(state)
        py_disconnect_all(state)

    return _connected_flags(state, pyapi.BaseStateCallback, run)


def _flags_ours() -> list[Any]:
    state = es.State(es.Inventory((["@sim/h1"], {})), es.Config())

    def run(state: Any) -> None:
        es_connect_all(state)
        es_disconnect_all(state)

    return _connected_flags(state, es.BaseStateCallback, run)


def test_host_connect_fires_before_the_host_is_marked_connected() -> None:
    theirs = [flag for flag in _flags_pyinfra() if flag[0] == "host_connect"]
    assert theirs == [("host_connect", "h1", False)]
    assert [flag for flag in _flags_ours() if flag[0] == "host_connect"] == theirs


def test_host_disconnect_fires_before_the_host_is_marked_disconnected() -> None:
    theirs = [flag for flag in _flags_pyinfra() if flag[0] == "host_disconnect"]
    assert theirs == [("host_disconnect", "h1", True)]
    assert [flag for flag in _flags_ours() if flag[0] == "host_disconnect"] == theirs
