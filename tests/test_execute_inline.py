"""Hosts behind an instant connector run their ops in the engine's greenlet, host after host.

The run must be the one a greenlet per host gives: the same events in the same
order, the same callbacks, the same failures (batches of ``_parallel``,
``_serial``, FAIL_PERCENT after each op, an op body raising at execute time).
Each deploy runs twice -- the ``@sim`` hosts instant, then told they are not --
and the two logs must tell the same story.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import pytest

from eventstate import BaseStateCallback, Config, Inventory, MemoryEventLog, State
from eventstate.connect import connect_all, disconnect_all
from eventstate.errors import EventstateError
from eventstate.events import HeartbeatRecorded
from eventstate.execute import run_ops
from eventstate.operation import add_op, operation
from eventstate.replay import read_events

_TIMING = {"at", "duration", "run_id", "log_id", "end"}


def _untimed(value: Any) -> Any:
    """``value`` without its clock readings, at any depth (an op's commands carry theirs)."""
    if isinstance(value, Mapping):
        return {key: _untimed(item) for key, item in value.items() if key not in _TIMING}
    if isinstance(value, (list, tuple)):
        return type(value)(_untimed(item) for item in value)
    return value


@operation
def shell(*commands: Any) -> Iterator[Any]:
    yield from commands


@operation
def explode(on: str) -> Iterator[str]:
    from eventstate.context import current

    state, host = current()
    if state.is_executing and host.name == on:
        raise RuntimeError(f"boom on {host.name}")
    yield "echo explode"


class _Calls(BaseStateCallback):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith(("operation_", "host_")):
            calls = object.__getattribute__(self, "calls")
            return lambda state, *args: calls.append(
                (name, *(getattr(arg, "name", arg) for arg in args))
            )
        return object.__getattribute__(self, name)


def _run(
    instant: bool, prepare: Callable[[State], None], config: Config
) -> tuple[list[Any], list[Any], str | None]:
    # h1 and h3 fail every "fail" command; every host fails "flaky" ones half the time.
    hosts = [
        (f"@sim/h{i}", {"sim_fail_patterns": {"fail": 1.0} if i in (1, 3) else {"flaky": 0.5}})
        for i in range(7)
    ]
    log = MemoryEventLog()
    state = State(Inventory((hosts, {"sim_seed": 3})), config, log=log)
    calls = _Calls()
    state.add_callback_handler(calls)
    connect_all(state)
    for host in state.inventory:
        state.connections.connector(host).instant = instant
    prepare(state)
    error = None
    try:
        run_ops(state)
    except (EventstateError, RuntimeError) as raised:
        error = f"{type(raised).__name__}: {raised}"
    disconnect_all(state)
    state.finish()
    events = [
        _untimed(attrs.asdict(event))
        for event in read_events(log, state.run_id)
        if not isinstance(event, HeartbeatRecorded)
    ]
    return events, calls.calls, error


def _failing(state: State) -> None:
    add_op(state, shell, "fail first", "echo after")
    add_op(state, shell, "flaky one", "flaky two", _parallel=2)
    add_op(state, shell, "flaky three", _serial=True)
    add_op(state, shell, "fail ignored", _ignore_errors=True)
    add_op(state, shell, "echo last", _parallel=3)


def _raising(state: State) -> None:
    add_op(state, shell, "echo first", _parallel=2)
    add_op(state, explode, "@sim/h4", _parallel=2)
    add_op(state, shell, "echo never")


@pytest.mark.parametrize("prepare", [_failing, _raising])
@pytest.mark.parametrize("fail_percent", [None, 10, 50])
def test_an_instant_run_is_the_run_greenlets_give(
    prepare: Callable[[State], None], fail_percent: int | None
) -> None:
    config = Config(FAIL_PERCENT=fail_percent, PARALLEL=4)
    inline = _run(True, prepare, config)
    spawned = _run(False, prepare, config)
    assert inline == spawned
    # The runs did something worth comparing: failures, and (for _raising) the error.
    assert any(call[0] == "operation_host_error" for call in inline[1]) or inline[2]
