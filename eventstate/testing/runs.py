"""Runs made from events alone, encoded and chained as the recorder stores them.

For tests of stores and readers that need real runs but no State, inventory or
gevent: :class:`RunBuilder` numbers events and dates them on a steady clock;
:func:`stored_rows` turns events into the rows a store keeps (canonical JSON
through :class:`~eventstate.codec.EventCodec`, hashes through
:mod:`eventstate.chain`), byte for byte what
:class:`~eventstate.recorder.EventRecorder` writes.

Example::

    run = RunBuilder("run-1")
    run.add(RunStarted, user="me", machine="m", command_line=(), engine_version="0",
            hosts=("web1",), groups={}, config={})
    run.add(HostActivated, host="web1")
    log.append(run.rows())
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.codec import EventCodec, canonical_bytes
from eventstate.events import (
    Event,
    FailOutcome,
    HostActivated,
    HostsFailed,
    RunFinished,
    RunStarted,
    RunStatus,
    StageChanged,
    StateStage,
    WarningRaised,
)
from eventstate.stores.base import StoredEvent

__all__ = ["RunBuilder", "sample_run", "stored_rows"]

E = TypeVar("E", bound=Event)

#: When a built run's first event happens, unless told otherwise.
DEFAULT_START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def stored_rows(
    events: Iterable[Event],
    *,
    prev_hash: str = GENESIS_HASH,
    codec: EventCodec | None = None,
) -> list[StoredEvent]:
    """The rows a store keeps for ``events``, chained in the order given.

    Args:
        events: Events of one run, in sequence order.
        prev_hash: The hash the first event chains from: the genesis hash for
            a run's first event, the stored last hash to continue a run.
        codec: Encodes the events; a new :class:`EventCodec` by default.
    """
    to_dict = (codec or EventCodec()).to_dict
    rows = []
    for event in events:
        data = to_dict(event)
        encoded = canonical_bytes(data)
        digest = chain_hash(prev_hash, encoded)
        rows.append(
            StoredEvent(
                run_id=event.run_id,
                seq=event.seq,
                type=event.event_type,
                version=event.version,
                timestamp=data["at"],
                host=data.get("host"),
                payload=encoded.decode(),
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    return rows


class RunBuilder:
    """Builds the events of one run: each with the next sequence number and time.

    Args:
        run_id: The run.
        start: When the first event happens.
        step: The time between two events.
    """

    def __init__(
        self,
        run_id: str,
        *,
        start: datetime = DEFAULT_START,
        step: timedelta = timedelta(seconds=1),
    ) -> None:
        self.run_id = run_id
        self.events: list[Event] = []
        self._start = start
        self._step = step

    def add(self, event_class: type[E], **fields: Any) -> E:
        """Append one event of ``event_class`` with ``fields``; returns it."""
        seq = len(self.events) + 1
        at = self._start + (seq - 1) * self._step
        event = event_class(run_id=self.run_id, seq=seq, at=at, **fields)
        self.events.append(event)
        return event

    def rows(self, codec: EventCodec | None = None) -> list[StoredEvent]:
        """Every event so far, as the rows a store keeps (see :func:`stored_rows`)."""
        return stored_rows(self.events, codec=codec)


def sample_run(
    run_id: str,
    hosts: Sequence[str] = ("web1", "web2", "db1"),
    *,
    start: datetime = DEFAULT_START,
) -> RunBuilder:
    """A small finished run on ``hosts``, as a builder to add more events to.

    Started, connecting, every host activated, a warning, the last host
    failed, finished with success. Events about no host (the run's start and
    end, the stage, the warning) and events about one are both there, so the
    stored ``host`` is None for some rows and a name for others.
    """
    run = RunBuilder(run_id, start=start)
    run.add(
        RunStarted,
        user="contract",
        machine="test-machine",
        command_line=("eventstate", "deploy", "inventory.py", "deploy.py"),
        engine_version="0",
        hosts=tuple(hosts),
        groups={"last": (hosts[-1],)},
        config={"FAIL_PERCENT": 50},
    )
    run.add(StageChanged, stage=StateStage.Connect, previous=StateStage.Setup)
    for host in hosts:
        run.add(HostActivated, host=host)
    run.add(WarningRaised, stage=StateStage.Connect)
    run.add(
        HostsFailed,
        hosts=(hosts[-1],),
        activated_count=len(hosts),
        outcome=FailOutcome.CONTINUED,
        percent_failed=100 / len(hosts),
    )
    run.add(RunFinished, status=RunStatus.SUCCESS)
    return run
