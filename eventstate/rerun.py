"""Re-running a recorded deploy through the current engine, answered from the log.

``rerun`` rebuilds the deploy from what the run recorded -- its inventory and
deploy code (``DeployLoaded``), its config -- and runs it with every host's
connector replaced by a :class:`PlaybackConnector` that answers each command
with the recorded outcome. No host is touched. The new events are compared
with the recorded ones, host by host and for the run as a whole: the same
events in the same per-host order, or the first divergence with both sides.
This is how an engine change is checked against yesterday's real deploys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs

from eventstate.codec import EventCodec
from eventstate.config import Config
from eventstate.connections import HostConnections
from eventstate.connectors.base import Connector
from eventstate.connectors.playback import PlaybackConnector
from eventstate.deploy import inventory_from_source, load_inventory, run_deploy
from eventstate.errors import NotRerunnableError
from eventstate.events import (
    CommandExecuted,
    DeployLoaded,
    Event,
    HostConnectFailed,
    HostOperationFinished,
    HostOperationRetried,
    LimitSet,
    OperationAdded,
    RunStarted,
    with_command_events,
)
from eventstate.state import State
from eventstate.stores.base import EventLog
from eventstate.stores.memory import MemoryEventLog

# NotRerunnableError is defined in eventstate.errors; named here as it always was.
__all__ = ["Divergence", "NotRerunnableError", "RerunReport", "compare_events", "rerun"]

# What differs between any two runs and says nothing of what they did.
_ENVELOPE = frozenset({"run_id", "seq", "at", "duration"})
# Run-level events that describe the run, not the deploy.
_RUN_HEADER = frozenset({"RunStarted"})


@attrs.frozen
class Divergence:
    """Where a rerun first differs from the recorded run.

    Attributes:
        host: The host whose events differ, or None for run-level events.
        position: The index in that host's (or the run's) event sequence.
        recorded: The recorded event there, as compared (None: the rerun has more).
        rerun: The rerun's event there (None: the recorded run has more).
        error: What the rerun's deploy raised, if it raised (see
            :attr:`RerunReport.error`): most likely why it diverged.
        recorded_seq: The recorded event's sequence number in the log (None: the
            rerun has more).
        rerun_seq: The rerun's event's sequence number in the rerun (None: the
            recorded run has more).
    """

    host: str | None
    position: int
    recorded: dict[str, Any] | None
    rerun: dict[str, Any] | None
    error: str | None = None
    recorded_seq: int | None = None
    rerun_seq: int | None = None

    def lines(self) -> list[str]:
        """The divergence, both sides, and what the rerun raised.

        It is placed by the log's sequence numbers (``eventstate events RUN --from N``).
        """
        where = f"host {self.host}" if self.host else "the run"
        if self.recorded_seq is not None:
            at = f"at event {self.recorded_seq}"
            if self.rerun_seq is not None and self.rerun_seq != self.recorded_seq:
                at += f" (the rerun's event {self.rerun_seq})"
        elif self.rerun_seq is not None:
            at = f"at the rerun's event {self.rerun_seq}, past the recorded run's last"
        else:
            at = f"at its event {self.position + 1}"
        lines = [
            f"first divergence for {where}, {at}:",
            f"  recorded: {self.recorded}",
            f"  rerun:    {self.rerun}",
        ]
        if self.error is not None:
            lines.append(f"  the rerun raised {self.error}")
        return lines


@attrs.frozen
class RerunReport:
    """What a rerun found: the number of events compared, and any divergence.

    Attributes:
        run_id: The recorded run.
        compared: How many events were compared and found the same.
        divergence: The first difference, or None: the rerun did what the run did.
        rerun_log: The log the rerun wrote (in memory).
        rerun_id: The rerun's run id in ``rerun_log``.
        error: What the rerun's deploy raised, as ``Type: message``, or None.
            It was recorded as the rerun's abort, so it is compared like any
            event: with ``divergence`` None, the recorded run raised the same
            (a mistake in its deploy code); otherwise it is new -- an engine bug,
            or deploy code that now fails -- and the divergence shows it.
        exception: That exception itself, for its traceback (not compared).
    """

    run_id: str
    compared: int
    divergence: Divergence | None
    rerun_log: EventLog
    rerun_id: str
    error: str | None = None
    exception: Exception | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def same(self) -> bool:
        """Whether the rerun did exactly what the recorded run did."""
        return self.divergence is None


def _comparable(event: Event, codec: EventCodec) -> dict[str, Any]:
    # As stored (plain JSON values), minus what differs between any two runs. An op's
    # commands are compared one by one, as the CommandExecuted events before it.
    data = json.loads(codec.encode(event))
    dropped = _NOT_COMPARED_ADDED if type(event) is OperationAdded else _NOT_COMPARED
    return {key: value for key, value in data.items() if key not in dropped}


#: What no two runs share (the envelope, durations), the version, and an op's commands
#: (compared one by one).
_NOT_COMPARED = _ENVELOPE | {"v", "commands"}
#: An op added: the hosts it was added for are compared host by host.
_NOT_COMPARED_ADDED = _NOT_COMPARED | {"hosts", "is_change", "counted"}


Sequences = dict[str | None, list[tuple[int, dict[str, Any]]]]


def _sequences(events: Iterable[Event], codec: EventCodec) -> Sequences:
    """Each host's events as one shape whichever version wrote them: every command an
    event (:func:`with_command_events`), and an op's retries just before its outcome --
    version 1 recorded each retry between the attempts' commands, version 2 before the
    outcome that carries them all."""
    sequences: Sequences = {}
    retries: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    for event in with_command_events(events):
        if event.event_type in _RUN_HEADER:
            continue
        if isinstance(event, OperationAdded) and event.hosts:
            # Version 2: the hosts it was added for, each as version 1's OperationAddedForHost.
            for name, is_change, counted in zip(
                event.hosts, event.is_change, event.counted, strict=False
            ):
                sequences.setdefault(name, []).append(
                    (
                        event.seq,
                        {
                            "type": "OperationAddedForHost",
                            "host": name,
                            "op_hash": event.op_hash,
                            "is_change": is_change,
                            "counted": counted,
                        },
                    )
                )
            if not (event.names or event.args or event.global_arguments):
                continue  # it only added hosts
        host = getattr(event, "host", None)
        if isinstance(event, HostOperationRetried):
            retries.setdefault((event.host, event.op_hash), []).append(
                (event.seq, _comparable(event, codec))
            )
            continue
        sequence = sequences.setdefault(host, [])
        if isinstance(event, HostOperationFinished):
            sequence += retries.pop((event.host, event.op_hash), ())
        sequence.append((event.seq, _comparable(event, codec)))
    for (host, _), held in retries.items():  # retries of an op that never finished
        sequences.setdefault(host, []).extend(held)
    return sequences


def compare_events(
    recorded: Iterable[Event], rerun: Iterable[Event], codec: EventCodec | None = None
) -> tuple[int, Divergence | None]:
    """Compare two runs per host (and run-level events in order).

    Returns the number of events compared and the divergence that comes
    first in the recorded run, if any.
    """
    codec = codec or EventCodec()
    ours, theirs = _sequences(recorded, codec), _sequences(rerun, codec)
    compared = 0
    found: list[tuple[int, Divergence]] = []
    for key in [*ours, *(key for key in theirs if key not in ours)]:
        left, right = ours.get(key, []), theirs.get(key, [])
        for position in range(max(len(left), len(right))):
            one = left[position] if position < len(left) else None
            two = right[position] if position < len(right) else None
            if one is None or two is None or one[1] != two[1]:
                at = (one or two)[0]  # type: ignore[index]
                divergence = Divergence(
                    key,
                    position,
                    one and one[1],
                    two and two[1],
                    recorded_seq=one and one[0],
                    rerun_seq=two and two[0],
                )
                found.append((at, divergence))
                break
            compared += 1
    if not found:
        return compared, None
    return compared, min(found, key=lambda item: item[0])[1]


def rerun(log: EventLog, run_id: str, codec: EventCodec | None = None) -> RerunReport:
    """Re-run ``run_id`` from ``log`` through the current engine; compare the events.

    The rerun gets the run's whole recorded config (:meth:`Config.from_snapshot`).
    What the deploy raises is not raised: it is in the report (``error``).

    Raises:
        NotRerunnableError: the run was not recorded by ``eventstate deploy``.
        ConfigError: the recorded config names settings this version does not know.
    """
    codec = codec or EventCodec()
    recorded = [codec.decode(stored.payload) for stored in log.read(run_id)]
    started = next((e for e in recorded if isinstance(e, RunStarted)), None)
    loaded = next((e for e in recorded if isinstance(e, DeployLoaded)), None)
    if started is None or loaded is None:
        raise NotRerunnableError(
            f"run {run_id} did not record its deploy code (only `eventstate deploy` runs can "
            "be re-run)"
        )
    if loaded.inventory_source is not None:
        inventory = inventory_from_source(loaded.inventory_source, loaded.inventory)
    else:
        inventory = load_inventory(loaded.inventory)

    options = dict(loaded.options)
    # The whole recorded config (secrets and ENV values were never recorded: they stay unset).
    config = Config.from_snapshot(started.config)
    first_limit = next((e for e in recorded if isinstance(e, LimitSet)), None)
    limit = None if first_limit is None or first_limit.hosts is None else list(first_limit.hosts)
    commands: dict[str, list[CommandExecuted]] = {}
    connect_errors: dict[str, str] = {}
    for event in with_command_events(recorded):
        if isinstance(event, CommandExecuted):
            commands.setdefault(event.host, []).append(event)
        elif isinstance(event, HostConnectFailed):
            connect_errors[event.host] = event.error
    # Every host played back from the log: no recorded connector need be installed.
    playback: dict[str, Connector] = {
        host.name: PlaybackConnector(
            host.name, commands.get(host.name, []), connect_errors.get(host.name)
        )
        for host in inventory
    }
    connections = HostConnections(inventory, connectors=playback)
    rerun_log = MemoryEventLog()
    state = State(inventory, config, initial_limit=limit, log=rerun_log, connections=connections)
    state.record(
        DeployLoaded,
        inventory=loaded.inventory,
        inventory_source=loaded.inventory_source,
        deploy_file=loaded.deploy_file,
        deploy_source=loaded.deploy_source,
        options=options,
    )

    code = compile(loaded.deploy_source, loaded.deploy_file, "exec")
    # Hosts failing (a DeployError) is a run's outcome: run_deploy records it and returns.
    # Anything it raises, it first records as the run's abort; the comparison tells
    # whether the recorded run raised the same, and the report carries it either way.
    exception: Exception | None = None
    try:
        run_deploy(
            state,
            loaded.deploy_file,
            code,
            dry=bool(options.get("dry")),
            serial=bool(options.get("serial")),
            no_wait=bool(options.get("no_wait")),
        )
    except Exception as raised:
        exception = raised
    error = None if exception is None else f"{type(exception).__name__}: {exception}"
    replayed = [codec.decode(stored.payload) for stored in rerun_log.read(state.run_id)]
    compared, divergence = compare_events(recorded, replayed, codec)
    if divergence is not None and error is not None:
        divergence = attrs.evolve(divergence, error=error)
    return RerunReport(
        run_id, compared, divergence, rerun_log, state.run_id, error=error, exception=exception
    )
