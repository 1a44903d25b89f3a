"""The recorder's timers, in process: pending events are written with nothing else happening."""

from __future__ import annotations

from datetime import datetime, timedelta

import gevent

from eventstate import Config, Inventory, MemoryEventLog, State
from eventstate.events import HeartbeatRecorded, RunFinished, RunStatus


def _state(**settings: object) -> State:
    return State(Inventory((["@sim/a"], {})), Config(**settings), log=MemoryEventLog())


def test_the_run_start_is_written_at_once() -> None:
    state = _state()
    assert state.log.last_event(state.run_id) is not None
    assert state._recorder is not None and state._recorder.pending == 0


def test_pending_events_are_written_by_the_timer_while_the_deploy_waits() -> None:
    state = _state(FLUSH_DELAY=0.05)
    state.record(RunFinished, status=RunStatus.SUCCESS)
    assert state._recorder is not None and state._recorder.pending == 1
    gevent.sleep(0.3)  # waiting on gevent, as a deploy waits on a command: the timer runs
    assert state._recorder.pending == 0
    assert state.log.last_event(state.run_id).type == "RunFinished"  # type: ignore[union-attr]


def test_sync_writes_every_event_as_it_is_recorded() -> None:
    state = _state(SYNC=True)
    for _ in range(3):
        state.record(HeartbeatRecorded)
        assert state._recorder is not None and state._recorder.pending == 0


def test_heartbeats_come_until_the_run_ends() -> None:
    state = _state(FLUSH_DELAY=0.02)  # a heartbeat every 0.1 s
    gevent.sleep(0.35)
    beats = [e for e in state.log.read(state.run_id) if e.type == "HeartbeatRecorded"]
    assert beats
    assert state.view.run.alive_at is not None
    state.finish(RunStatus.SUCCESS)
    ended = state.log.last_event(state.run_id).seq  # type: ignore[union-attr]
    gevent.sleep(0.35)
    assert state.log.last_event(state.run_id).seq == ended  # type: ignore[union-attr]


def test_a_run_with_no_end_is_running_while_its_heartbeats_are_recent() -> None:
    state = _state(FLUSH_DELAY=0.5)  # heartbeats every 2.5 s: running for 5.5 s after one
    run = state.view.run
    started = datetime.fromisoformat(run.started_at or "")
    assert run.status_at(started + timedelta(seconds=5)) == "running"
    assert run.status_at(started + timedelta(seconds=6)) == "interrupted"
    beat = state.record(HeartbeatRecorded)
    assert run.status_at(beat.at + timedelta(seconds=5)) == "running"
    state.finish(RunStatus.INTERRUPTED)
    assert run.status_at(beat.at) == "interrupted"
