"""The contract every :class:`~eventstate.stores.EventLog` must keep, as a test-suite.

Subclass :class:`EventLogContract` in a test module and implement
``create_log``; pytest collects the inherited tests (the class itself is not
named ``Test*``, so it is not collected on its own)::

    class TestMyLog(EventLogContract):
        def create_log(self, tmp_path):
            return MyEventLog(tmp_path / "events")
"""

from __future__ import annotations

import abc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.config import Config
from eventstate.errors import SequenceError
from eventstate.inventory import Inventory
from eventstate.state import State
from eventstate.stores.base import EventLog, StoredEvent

__all__ = ["EventLogContract", "stored_events"]


def stored_events(
    run_id: str, count: int, first: int = 1, host: str | None = "h1"
) -> list[StoredEvent]:
    """``count`` chained rows of ``run_id`` from sequence number ``first``; stand-in payloads."""
    rows = []
    prev_hash = GENESIS_HASH if first == 1 else f"{first - 1:064x}"
    for seq in range(first, first + count):
        payload = f'{{"run_id":"{run_id}","seq":{seq},"type":"HostActivated","v":1}}'
        digest = chain_hash(prev_hash, payload)
        rows.append(
            StoredEvent(
                run_id=run_id,
                seq=seq,
                type="HostActivated",
                version=1,
                timestamp=f"2026-01-01T00:00:{seq % 60:02d}+00:00",
                host=host,
                payload=payload,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    return rows


class EventLogContract(abc.ABC):
    """What every event store does; subclasses say how to make one."""

    @abc.abstractmethod
    def create_log(self, tmp_path: Path) -> EventLog:
        """A new, empty store (files, if any, under ``tmp_path``)."""

    @pytest.fixture
    def log(self, tmp_path: Path):  # type: ignore[no-untyped-def]
        log = self.create_log(tmp_path)
        yield log
        log.close()

    def test_a_new_log_is_empty(self, log: EventLog) -> None:
        assert log.runs() == []
        assert list(log.read("nope")) == []
        assert log.last_event("nope") is None

    def test_appended_events_read_back_identical(self, log: EventLog) -> None:
        rows = stored_events("run-a", 5)
        log.append(rows)
        assert list(log.read("run-a")) == rows

    def test_read_takes_an_inclusive_range(self, log: EventLog) -> None:
        rows = stored_events("run-a", 10)
        log.append(rows)
        assert [e.seq for e in log.read("run-a", 3, 6)] == [3, 4, 5, 6]
        assert [e.seq for e in log.read("run-a", 9)] == [9, 10]
        assert [e.seq for e in log.read("run-a", 1, 1)] == [1]
        assert list(log.read("run-a", 11)) == []

    def test_batches_continue_the_sequence(self, log: EventLog) -> None:
        rows = stored_events("run-a", 7)
        log.append(rows[:3])
        log.append(rows[3:])
        assert list(log.read("run-a")) == rows
        assert log.last_event("run-a") == rows[-1]

    def test_an_empty_batch_changes_nothing(self, log: EventLog) -> None:
        log.append([])
        assert log.runs() == []

    def test_runs_are_listed_in_start_order_with_their_length(self, log: EventLog) -> None:
        log.append(stored_events("run-b", 2))
        log.append(stored_events("run-a", 4))
        summaries = log.runs()
        assert [(r.run_id, r.last_seq) for r in summaries] == [("run-b", 2), ("run-a", 4)]
        assert summaries[0].started == stored_events("run-b", 1)[0].timestamp

    def test_runs_are_kept_apart(self, log: EventLog) -> None:
        a, b = stored_events("run-a", 3), stored_events("run-b", 3)
        log.append([a[0], b[0], a[1], b[1]])
        log.append([b[2], a[2]])
        assert list(log.read("run-a")) == a
        assert list(log.read("run-b")) == b

    def test_a_gap_is_refused(self, log: EventLog) -> None:
        rows = stored_events("run-a", 4)
        log.append(rows[:2])
        with pytest.raises(SequenceError, match=r"run run-a: event 4 leaves a gap"):
            log.append(rows[3:])

    def test_a_run_must_start_at_one(self, log: EventLog) -> None:
        with pytest.raises(SequenceError, match="run run-a: event 2"):
            log.append(stored_events("run-a", 2, first=2))

    def test_a_repeated_sequence_number_is_refused(self, log: EventLog) -> None:
        rows = stored_events("run-a", 3)
        log.append(rows)
        with pytest.raises(SequenceError, match="run run-a: event 3 repeats"):
            log.append(rows[2:])

    def test_a_refused_batch_stores_nothing(self, log: EventLog) -> None:
        rows = stored_events("run-a", 5)
        log.append(rows[:2])
        with pytest.raises(SequenceError):
            log.append([rows[2], rows[4]])
        assert list(log.read("run-a")) == rows[:2]
        log.append(rows[2:])
        assert list(log.read("run-a")) == rows

    def test_a_state_records_its_run_and_the_rebuild_matches(self, log: EventLog) -> None:
        from eventstate.replay import rebuild, verify_run

        inventory = Inventory((["web1", "web2", "db1"], {}), db=(["db1"], {}))
        state = State(inventory, Config(FAIL_PERCENT=50), log=log)
        for host in inventory:
            state.activate_host(host)
        state.increment_warning_counter()
        state.fail_hosts([inventory.get_host("db1")])
        state.finish()
        assert verify_run(log, state.run_id).ok
        assert rebuild(log, state.run_id) == state.view
        assert log.last_event(state.run_id).type == "RunFinished"  # type: ignore[union-attr]

    @settings(
        max_examples=25,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(sizes=st.lists(st.integers(min_value=0, max_value=40), max_size=8))
    def test_any_batching_reads_back_the_same_run(self, tmp_path: Path, sizes: list[int]) -> None:
        total = sum(sizes)
        rows = stored_events("run-p", total)
        log = self.create_log(tmp_path / f"p{total}-{len(sizes)}-{id(sizes)}")
        try:
            start = 0
            for size in sizes:
                log.append(rows[start : start + size])
                start += size
            assert list(log.read("run-p")) == rows
            assert [r.last_seq for r in log.runs()] == ([total] if total else [])
        finally:
            log.close()
