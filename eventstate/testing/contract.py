"""The contract every :class:`~eventstate.stores.EventLog` must keep, as a test-suite.

Subclass :class:`EventLogContract` in a test module and implement
``create_log`` and ``open_second``; pytest collects the inherited tests (the
class itself is not named ``Test*``, so it is not collected on its own)::

    class TestMyLog(EventLogContract):
        def create_log(self, tmp_path):
            return MyEventLog(tmp_path / "events")

        def open_second(self, log):
            return MyEventLog(log.path)

The runs it stores are built from events alone (:mod:`eventstate.testing.runs`):
the suite needs no State, inventory or gevent.
"""

from __future__ import annotations

import abc
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.codec import EventCodec
from eventstate.errors import SequenceError
from eventstate.events import CommandExecuted, Event, HostConnectFailed
from eventstate.stores.base import EventLog, StoredEvent
from eventstate.testing.runs import sample_run, stored_rows
from eventstate.testing.strategies import event_sequences

__all__ = ["EventLogContract", "stored_events"]

#: Host names a store must keep as given: accents, other scripts, emoji.
NON_ASCII_HOSTS = ("wéb-1.exämple", "数据库-2", "сервер", "edge-🚀")

_PROPERTY_SETTINGS = settings(
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
)


def stored_events(
    run_id: str, count: int, first: int = 1, host: str | None = "h1", tag: str = ""
) -> list[StoredEvent]:
    """``count`` chained rows of ``run_id`` from sequence number ``first``; stand-in payloads.

    Rows with a different ``tag`` have different payloads (and hashes) at the
    same sequence numbers: what a rival writer would store.
    """
    rows = []
    prev_hash = GENESIS_HASH if first == 1 else f"{first - 1:064x}"
    for seq in range(first, first + count):
        mark = f',"tag":"{tag}"' if tag else ""
        payload = f'{{"run_id":"{run_id}","seq":{seq}{mark},"type":"HostActivated","v":1}}'
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


def _during_the_wait(action: Callable[[], None], *, after: float = 0.1) -> Callable[[], None]:
    """Run ``action`` ``after`` seconds from now, in this thread, whatever it is doing then
    (from a SIGALRM handler); the function returned cancels it if it has not run.

    The thread that waits is the one that appends, so every store can be tested so --
    a store's connection may serve only the thread that made it -- and the append comes
    while the waiter is inside its wait, not before it.
    """

    def handle(number: int, frame: FrameType | None) -> None:
        action()

    previous = signal.signal(signal.SIGALRM, handle)
    signal.setitimer(signal.ITIMER_REAL, after)

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    return cancel


class EventLogContract(abc.ABC):
    """What every event store does; subclasses say how to make one."""

    @abc.abstractmethod
    def create_log(self, tmp_path: Path) -> EventLog:
        """A new, empty store (files, if any, under ``tmp_path``)."""

    @abc.abstractmethod
    def open_second(self, log: EventLog) -> EventLog:
        """Another handle on the store ``log`` uses, as a second writer would open it.

        A store no second handle can reach (one in memory) returns ``log``
        itself; the suite closes a handle that is not ``log``.
        """

    @pytest.fixture
    def log(self, tmp_path: Path) -> Iterator[EventLog]:
        log = self.create_log(tmp_path)
        yield log
        log.close()

    @pytest.fixture
    def second(self, log: EventLog) -> Iterator[EventLog]:
        other = self.open_second(log)
        yield other
        if other is not log:
            other.close()

    # -- Appending and reading ------------------------------------------------------------------

    def test_a_new_log_is_empty(self, log: EventLog) -> None:
        assert log.runs() == []
        assert list(log.read("nope")) == []
        assert log.last_event("nope") is None

    def test_appended_events_read_back_identical(self, log: EventLog) -> None:
        rows = stored_events("run-a", 5)
        log.append(rows)
        assert list(log.read("run-a")) == rows

    def test_every_append_path_stores_the_same_rows(self, log: EventLog) -> None:
        # The recorder's paths (row tuples, handed over for later) and append alike.
        rows = stored_events("run-a", 8)
        as_tuples = [attrs.astuple(row, recurse=False) for row in rows]
        log.append(rows[:2])
        log.append_rows(as_tuples[2:4])
        log.append_later(rows[4:6])
        log.append_rows_later(as_tuples[6:])
        log.flush()
        assert list(log.read("run-a")) == rows
        with pytest.raises(SequenceError):
            log.append_rows_later(as_tuples[:1])  # a repeat: refused now, or by the flush
            log.flush()
        assert list(log.read("run-a")) == rows
        # A batch of two runs is judged row by row.
        others = stored_events("run-b", 2)
        mixed = [*others, *stored_events("run-a", 2, first=9)]
        log.append_rows_later([attrs.astuple(row, recurse=False) for row in mixed])
        log.flush()
        assert list(log.read("run-b")) == others
        assert [event.seq for event in log.read("run-a")] == list(range(1, 11))

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

    # -- Refusing what would break a run --------------------------------------------------------

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

    # -- Two writers on one store ---------------------------------------------------------------

    def test_two_writers_take_turns_on_one_run(self, log: EventLog, second: EventLog) -> None:
        rows = stored_events("run-a", 6)
        log.append(rows[:2])
        second.append(rows[2:4])
        log.append(rows[4:])
        for handle in (log, second):
            assert list(handle.read("run-a")) == rows
            assert handle.last_event("run-a") == rows[-1]
            assert [(r.run_id, r.last_seq) for r in handle.runs()] == [("run-a", 6)]

    def test_a_rival_append_from_the_second_writer_is_refused_whole(
        self, log: EventLog, second: EventLog
    ) -> None:
        ours = stored_events("run-a", 4)
        theirs = stored_events("run-a", 4, tag="rival")
        other_run = stored_events("run-b", 1)
        second.append(ours[:2])  # the second writer starts the run and knows it ends at 2...
        log.append(ours[2:])  # ...while the first writer continues it
        with pytest.raises(SequenceError):
            second.append([other_run[0], theirs[2]])
        for handle in (log, second):
            assert list(handle.read("run-a")) == ours  # the rival event 3 is not stored...
            assert list(handle.read("run-b")) == []  # ...nor the rest of its batch
            assert [r.run_id for r in handle.runs()] == ["run-a"]
        # The refused writer goes on from what the store holds.
        with pytest.raises(SequenceError, match="run run-a: event 3 repeats"):
            second.append(theirs[2:3])
        second.append(other_run)
        assert list(log.read("run-b")) == other_run

    def test_flushed_events_are_seen_by_the_second_writer(
        self, log: EventLog, second: EventLog
    ) -> None:
        log.flush()  # nothing appended yet: nothing to do
        rows = stored_events("run-a", 3)
        log.append(rows)
        log.flush()
        log.flush()
        assert list(second.read("run-a")) == rows
        assert second.last_event("run-a") == rows[-1]

    # -- Waiting for other writers -------------------------------------------------------------

    def test_newest_seq_is_the_runs_last_stored_event(
        self, log: EventLog, second: EventLog
    ) -> None:
        assert log.newest_seq("run-a") == 0
        log.append(stored_events("run-a", 3))
        log.flush()
        assert log.newest_seq("run-a") == 3
        second.append(stored_events("run-a", 2, first=4))
        second.flush()
        assert log.newest_seq("run-a") == 5
        assert log.newest_seq("run-b") == 0

    def test_a_second_writers_append_wakes_a_waiter(self, log: EventLog, second: EventLog) -> None:
        rows = stored_events("run-a", 4)
        log.append(rows[:2])
        log.flush()
        appended: list[int] = []

        def append() -> None:
            second.append(rows[2:])
            second.flush()
            appended.append(second.newest_seq("run-a"))

        cancel = _during_the_wait(append)
        try:
            woken = log.wait_for_events("run-a", 2, timeout=60)
        finally:
            cancel()
        assert woken
        assert appended == [4]  # woken by the append, which came during the wait
        assert log.newest_seq("run-a") == 4
        assert list(log.read("run-a", 3)) == rows[2:]

    def test_a_wait_for_what_is_stored_returns_at_once_and_one_for_more_times_out(
        self, log: EventLog
    ) -> None:
        log.append(stored_events("run-a", 3))
        log.flush()
        assert log.wait_for_events("run-a", 2, timeout=0)
        assert log.wait_for_events("run-a", 0, timeout=0)
        assert not log.wait_for_events("run-a", 3, timeout=0.1)
        assert not log.wait_for_events("run-b", 0, timeout=0)

    def test_a_new_run_from_a_second_writer_wakes_a_waiter_for_runs(
        self, log: EventLog, second: EventLog
    ) -> None:
        assert log.newest_run() is None
        assert log.wait_for_run(None, timeout=0) is None
        log.append(stored_events("run-a", 2))
        log.flush()
        assert log.newest_run() == "run-a"
        assert log.wait_for_run(None, timeout=0) == "run-a"
        assert log.wait_for_run("run-a", timeout=0.1) is None

        def start() -> None:
            second.append(stored_events("run-b", 1))
            second.flush()

        cancel = _during_the_wait(start)
        try:
            found = log.wait_for_run("run-a", timeout=60)
        finally:
            cancel()
        assert found == "run-b"
        # An older run written to again is not a new run.
        second.append(stored_events("run-a", 1, first=3))
        second.flush()
        assert log.wait_for_run("run-b", timeout=0) is None

    # -- Round trips of what events hold --------------------------------------------------------

    def test_events_about_no_host_keep_host_none(self, log: EventLog) -> None:
        rows = stored_events("run-a", 3, host=None)
        log.append(rows)
        assert [e.host for e in log.read("run-a")] == [None, None, None]
        assert log.last_event("run-a") == rows[-1]

    def test_non_ascii_hosts_and_text_round_trip(self, log: EventLog) -> None:
        run = sample_run("run-ü", NON_ASCII_HOSTS)
        run.add(HostConnectFailed, host=NON_ASCII_HOSTS[1], error="connexion refusée — 拒绝")
        run.add(
            CommandExecuted,
            host=NON_ASCII_HOSTS[3],
            command="echo 'déjà vu ✓' > /tmp/ñ",
            success=True,
            exit_code=0,
            stdout="✓ fini 🎉\nΩ≈ç√∫\n",
            stderr="предупреждение: 注意 👀",
        )
        rows = run.rows()
        log.append(rows)
        stored = list(log.read("run-ü"))
        assert stored == rows
        assert {e.host for e in stored} == {None, *NON_ASCII_HOSTS}
        codec = EventCodec()
        assert [codec.decode(e.payload) for e in stored] == run.events
        assert log.runs()[0].run_id == "run-ü"

    @_PROPERTY_SETTINGS
    @given(run=event_sequences(max_size=12))
    def test_any_run_reads_back_and_decodes_equal(self, tmp_path: Path, run: list[Event]) -> None:
        codec = EventCodec()
        rows = stored_rows(run, codec=codec)
        log = self.create_log(tmp_path / f"run-{run[0].run_id}-{id(run)}")
        try:
            log.append(rows)
            assert list(log.read(run[0].run_id)) == rows
            assert [codec.decode(e.payload) for e in log.read(run[0].run_id)] == run
        finally:
            log.close()

    def test_a_recorded_run_verifies_and_rebuilds_to_its_fold(self, log: EventLog) -> None:
        from eventstate.projections import StateView
        from eventstate.replay import rebuild, verify_run

        run = sample_run("run-a")
        log.append(run.rows())
        assert verify_run(log, "run-a").ok
        assert rebuild(log, "run-a") == StateView().apply_all(run.events)
        assert log.last_event("run-a").type == "RunFinished"  # type: ignore[union-attr]

    # -- Snapshots, guards ----------------------------------------------------------------------

    def test_snapshots_give_the_latest_at_or_before_a_seq(self, log: EventLog) -> None:
        snapshots = log.snapshots()
        assert snapshots is log.snapshots()
        assert snapshots.latest("run-a", 100, "v1") is None
        snapshots.put("run-a", 10, "v1", '{"at":10}')
        snapshots.put("run-a", 20, "v1", '{"at":20}')
        assert snapshots.latest("run-a", 9, "v1") is None
        assert snapshots.latest("run-a", 10, "v1") == (10, '{"at":10}')
        assert snapshots.latest("run-a", 19, "v1") == (10, '{"at":10}')
        assert snapshots.latest("run-a", 20, "v1") == (20, '{"at":20}')
        assert snapshots.latest("run-a", 10**9, "v1") == (20, '{"at":20}')

    def test_snapshots_are_kept_per_run_and_version(self, log: EventLog) -> None:
        snapshots = log.snapshots()
        snapshots.put("run-a", 10, "v1", "a1")
        snapshots.put("run-a", 15, "v2", "a2")
        snapshots.put("run-b", 5, "v1", "b1")
        assert snapshots.latest("run-a", 100, "v1") == (10, "a1")
        assert snapshots.latest("run-a", 100, "v2") == (15, "a2")
        assert snapshots.latest("run-a", 14, "v2") is None
        assert snapshots.latest("run-b", 100, "v1") == (5, "b1")
        assert snapshots.latest("run-b", 100, "v2") is None
        assert snapshots.latest("run-c", 100, "v1") is None

    def test_a_snapshot_at_the_same_place_is_replaced(self, log: EventLog) -> None:
        snapshots = log.snapshots()
        snapshots.put("run-a", 10, "v1", '{"old":true}')
        snapshots.put("run-a", 10, "v1", '{"hôte":"数据库-🚀"}')
        assert snapshots.latest("run-a", 10, "v1") == (10, '{"hôte":"数据库-🚀"}')

    def test_snapshots_are_seen_by_the_second_writer(self, log: EventLog, second: EventLog) -> None:
        log.snapshots().put("run-a", 10, "v1", "seen")
        assert second.snapshots().latest("run-a", 10, "v1") == (10, "seen")

    def test_a_new_store_has_all_its_guards(self, log: EventLog) -> None:
        assert log.check_guards() == []
        log.append(stored_events("run-a", 3))
        assert log.check_guards() == []

    def test_a_sound_store_passes_its_integrity_check(self, log: EventLog) -> None:
        assert log.check_integrity() == []
        log.append(stored_events("run-a", 3))
        log.snapshots().put("run-a", 3, "v1", "{}")
        assert log.check_integrity() == []

    # -- The head, the log's id -----------------------------------------------------------------

    def test_an_empty_store_has_no_head(self, log: EventLog) -> None:
        assert log.head() is None

    def test_the_head_is_the_last_event_of_the_newest_run(self, log: EventLog) -> None:
        log.append(stored_events("run-a", 3))
        assert log.head() == stored_events("run-a", 3)[-1]
        log.append(stored_events("run-b", 2))
        assert log.head() == stored_events("run-b", 2)[-1]
        # An older run written to later is not the newest: the run started last is.
        log.append(stored_events("run-a", 4, first=4))
        assert log.head() == stored_events("run-b", 2)[-1]
        log.append(stored_events("run-b", 1, first=3))
        assert log.head() == stored_events("run-b", 1, first=3)[0]

    def test_the_head_is_seen_by_the_second_writer(self, log: EventLog, second: EventLog) -> None:
        log.append(stored_events("run-a", 2))
        log.flush()
        assert second.head() == stored_events("run-a", 2)[-1]

    def test_the_log_id_is_stable_and_shared_by_every_handle(
        self, log: EventLog, second: EventLog
    ) -> None:
        log_id = log.log_id
        assert log_id is None or (isinstance(log_id, str) and log_id)
        log.append(stored_events("run-a", 2))
        assert log.log_id == log_id
        assert second.log_id == log_id

    def test_two_stores_have_two_ids(self, tmp_path: Path) -> None:
        one = self.create_log(tmp_path / "one")
        two = self.create_log(tmp_path / "two")
        try:
            assert one.log_id is None or one.log_id != two.log_id
        finally:
            one.close()
            two.close()

    def test_snapshot_entries_list_every_snapshot_of_a_run(self, log: EventLog) -> None:
        snapshots = log.snapshots()
        assert snapshots.entries("run-a") == []
        snapshots.put("run-a", 20, "v1", "a20")
        snapshots.put("run-a", 10, "v2", "a10")
        snapshots.put("run-a", 10, "v1", "a10")
        snapshots.put("run-b", 5, "v1", "b5")
        assert snapshots.entries("run-a") == [(10, "v1"), (10, "v2"), (20, "v1")]
        assert snapshots.entries("run-b") == [(5, "v1")]

    @_PROPERTY_SETTINGS
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
