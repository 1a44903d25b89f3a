"""The event vocabulary: every fact a deploy can record.

Events are frozen, slotted attrs classes named in the past tense. Each carries
its envelope -- the run it belongs to, a gapless per-run sequence number and a
UTC timestamp -- and, as class variables, a stable type tag and a schema
version. Nothing in an event points at a live object: hosts are named, never
held.

The type tag is what the log stores, so it never changes once released, even
if a class is renamed; a changed shape bumps ``version`` and gets an upcaster
in :mod:`eventstate.codec`.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs

__all__ = [
    "EVENT_TYPES",
    "HEARTBEAT_FLUSH_DELAYS",
    "CommandExecuted",
    "DeployLoaded",
    "Event",
    "ExecutionStarted",
    "FailOutcome",
    "HeartbeatRecorded",
    "HostActivated",
    "HostConnectFailed",
    "HostConnected",
    "HostDisconnected",
    "HostOperationFinished",
    "HostOperationRetried",
    "HostsFailed",
    "LimitSet",
    "OpOutcome",
    "OperationAdded",
    "OperationAddedForHost",
    "OperationEnded",
    "OperationStarted",
    "RecordedCommand",
    "RunFinished",
    "RunStarted",
    "RunStatus",
    "StageChanged",
    "StateStage",
    "WarningRaised",
    "command_events",
    "with_command_events",
    "with_host_events",
]


class StateStage(enum.IntEnum):
    """The five stages of a deploy, in the order they happen (pyinfra's values)."""

    Setup = 1
    Connect = 2
    Prepare = 3
    Execute = 4
    Disconnect = 5


class OpOutcome(str, enum.Enum):
    """How one operation ended on one host, after its last retry."""

    SUCCESS = "success"
    ERROR = "error"
    IGNORED_ERROR = "ignored_error"


class FailOutcome(str, enum.Enum):
    """What failing a batch of hosts did to the deploy."""

    #: Enough hosts remain: the deploy goes on.
    CONTINUED = "continued"
    #: No active host is left; the deploy stops.
    NO_HOSTS_REMAINING = "no_hosts_remaining"
    #: More than ``FAIL_PERCENT`` of the activated hosts failed; the deploy stops.
    FAIL_PERCENT_EXCEEDED = "fail_percent_exceeded"
    #: Over ``FAIL_PERCENT``, but ``State.should_raise_failed_hosts`` said go on.
    FAIL_PERCENT_SUPPRESSED = "fail_percent_suppressed"


class RunStatus(str, enum.Enum):
    """How a run ended."""

    SUCCESS = "success"
    FAILED = "failed"
    ABORTED = "aborted"
    #: Stopped by a signal (Ctrl-C, SIGTERM): ``RunFinished.signal`` names it. A run that
    #: crashed records no end; readers list it as interrupted too.
    INTERRUPTED = "interrupted"


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    # Events are facts: a mapping inside one must not change after the fact.
    return types.MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class Event:
    """The envelope every event carries.

    Attributes:
        run_id: The run this event belongs to.
        seq: Position in the run, counting from 1 with no gaps.
        at: When it happened, timezone-aware UTC.
    """

    event_type: ClassVar[str] = "Event"
    version: ClassVar[int] = 1

    run_id: str
    seq: int
    at: datetime


@attrs.frozen(kw_only=True)
class RunStarted(Event):
    """A deploy began: who ran it, where, on what inventory and config.

    It also names the log's head when it began -- the last event of the newest
    run then in the log -- chaining the log's runs together: a run deleted, or
    a run's tail cut, is found from any run that started after it.

    Attributes:
        log_id: The id of the log the run was written into (a run imported from
            another log names that one). New in version 2.
        head_run_id: The run of the log's head, or None when the log was empty.
        head_seq: The head's sequence number (0 when the log was empty).
        head_hash: The head's hash (64 ``0`` when the log was empty).

    The four are None in a run recorded before version 2, or built without a log.
    """

    event_type: ClassVar[str] = "RunStarted"
    version: ClassVar[int] = 2

    user: str
    machine: str
    command_line: tuple[str, ...]
    engine_version: str
    hosts: tuple[str, ...]
    groups: Mapping[str, tuple[str, ...]] = attrs.field(converter=_frozen_mapping)
    config: Mapping[str, Any] = attrs.field(converter=_frozen_mapping)
    log_id: str | None = None
    head_run_id: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None


@attrs.frozen(kw_only=True)
class DeployLoaded(Event):
    """The deploy's code and inventory, as they were when it ran.

    Recorded by ``eventstate deploy``: the audit shows exactly what code ran,
    and ``eventstate rerun`` re-runs it even after the files have changed.

    Attributes:
        inventory: The inventory as given: a file path or a host list.
        inventory_source: The inventory file's text, or None for a host list.
        deploy_file: The deploy file's absolute path.
        deploy_source: Its text.
        options: The command's options (limit, dry, serial, no_wait...).
    """

    event_type: ClassVar[str] = "DeployLoaded"

    inventory: str
    inventory_source: str | None
    deploy_file: str
    deploy_source: str
    options: Mapping[str, Any] = attrs.field(converter=_frozen_mapping)


@attrs.frozen(kw_only=True)
class StageChanged(Event):
    """The deploy moved forward to ``stage``."""

    event_type: ClassVar[str] = "StageChanged"

    stage: StateStage
    previous: StateStage


@attrs.frozen(kw_only=True)
class HostActivated(Event):
    """A host became active (and was counted as activated)."""

    event_type: ClassVar[str] = "HostActivated"

    host: str


@attrs.frozen(kw_only=True)
class HostsFailed(Event):
    """Hosts were marked failed, and the FAIL_PERCENT rule was applied.

    Attributes:
        hosts: The hosts failed, in inventory order.
        activated_count: The count the failure percentage was taken against.
        outcome: Whether the deploy goes on, and if not, why.
        percent_failed: The percentage computed, or None without FAIL_PERCENT.
    """

    event_type: ClassVar[str] = "HostsFailed"

    hosts: tuple[str, ...]
    activated_count: int
    outcome: FailOutcome
    percent_failed: float | None = None


@attrs.frozen(kw_only=True)
class HostConnected(Event):
    """A connector connected to a host."""

    event_type: ClassVar[str] = "HostConnected"

    host: str


@attrs.frozen(kw_only=True)
class HostConnectFailed(Event):
    """A connector could not connect to a host."""

    event_type: ClassVar[str] = "HostConnectFailed"

    host: str
    error: str


@attrs.frozen(kw_only=True)
class HostDisconnected(Event):
    """A host's connection was closed."""

    event_type: ClassVar[str] = "HostDisconnected"

    host: str


@attrs.frozen(kw_only=True)
class OperationAdded(Event):
    """An operation was added, or new names or arguments were merged into it, or it was
    put in hosts' operation orders.

    The first event for an ``op_hash`` fixes its ``op_order``; later ones add
    names and arguments, as pyinfra merges ops called at the same position.

    Attributes:
        op_hash: The operation's identity, stable across runs of the same code.
        names: Names of the operation (``files.file``, or the user's ``name=``).
        args: Arguments for display, in call order.
        op_order: The tie-break key among operations free to run at once.
        global_arguments: Execution arguments shared by every host (``_serial``...).
        hosts: The hosts whose operation order the op was put next in, in the order
            added (one event for every host an ``add_op`` call prepares). New in
            version 2; a version 1 run recorded an :class:`OperationAddedForHost`
            per host instead (upcast: none).
        is_change: Each host's change flag, as ``OperationAddedForHost.is_change``.
        counted: Each host's ``OperationAddedForHost.counted``.
    """

    event_type: ClassVar[str] = "OperationAdded"
    version: ClassVar[int] = 2

    op_hash: str
    names: tuple[str, ...]
    args: tuple[str, ...] = ()
    op_order: tuple[int, ...]
    global_arguments: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    hosts: tuple[str, ...] = ()
    is_change: tuple[bool | None, ...] = ()
    counted: tuple[bool, ...] = ()


@attrs.frozen(kw_only=True)
class OperationAddedForHost(Event):
    """An operation was put in a host's operation order (recorded until version 2 of
    :class:`OperationAdded`, which names the hosts itself; read in old logs).

    Attributes:
        host: The host.
        op_hash: The operation.
        is_change: Whether change detection expects the op to change the host;
            None when change detection was off.
        counted: False for a ``_run_once`` duplicate: it takes a place in the
            host's order but no count in its meta, and is skipped at run time.
    """

    event_type: ClassVar[str] = "OperationAddedForHost"

    host: str
    op_hash: str
    is_change: bool | None
    counted: bool = True


@attrs.frozen(kw_only=True)
class RecordedCommand:
    """One command run while an operation executed on a host, as its
    :class:`HostOperationFinished` records it (not an event: it has no envelope).

    Masked and capped as a :class:`CommandExecuted` is: ``command`` shows secrets
    as ``***``, output is scrubbed of them and kept up to the configured size.

    Attributes:
        command: The command as the log shows it, secrets masked.
        success: Whether it succeeded.
        exit_code: Its exit status, when it had one (None for a timeout or a
            Python callable).
        duration: Seconds it took.
        stdout: Its standard output, up to the cap.
        stderr: Its standard error, up to the cap.
        truncated: Whether output was cut at the cap.
        attempt: The attempt of the operation it ran in, from 0.
        fact: The fact it gathered (a fact a Python step or the op's body asked
            for while the op ran); None for one of the op's own commands.
        end: Seconds from the op's start on the host to the command's end (so
            it ended at the op's ``at - duration + end``).
    """

    command: str
    success: bool
    exit_code: int | None = None
    duration: float = 0.0
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    attempt: int = 0
    fact: str | None = None
    end: float = 0.0


def with_host_events(events: Iterable[Event]) -> Iterator[Event]:
    """``events``, each op's hosts (:attr:`OperationAdded.hosts`, version 2) as the
    :class:`OperationAddedForHost` events version 1 recorded: an ``OperationAdded`` that
    only added hosts gives those alone, one that also named the op gives it without them."""
    for event in events:
        if type(event) is not OperationAdded or not event.hosts:
            yield event
            continue
        if event.names or event.args or event.global_arguments:
            yield attrs.evolve(event, hosts=(), is_change=(), counted=())
        for host, is_change, counted in zip(
            event.hosts, event.is_change, event.counted, strict=False
        ):
            yield OperationAddedForHost(
                run_id=event.run_id,
                seq=event.seq,
                at=event.at,
                host=host,
                op_hash=event.op_hash,
                is_change=is_change,
                counted=counted,
            )


@attrs.frozen(kw_only=True)
class HostOperationFinished(Event):
    """An operation finished on a host, after its last retry: the one event of a
    host-op's execution, its commands included.

    Attributes:
        host: The host.
        op_hash: The operation.
        outcome: Success, error, or an error the op was told to ignore.
        commands_executed: Commands that succeeded in the final attempt.
        retry_count: Retries made before this outcome.
        duration: Seconds from the op's start on the host to this outcome,
            retries included (so the op started at ``at - duration``).
        commands: Every command run on the host while the op executed, every
            attempt, in the order run (facts gathered meanwhile included).
            New in version 2; a version 1 run recorded them as
            :class:`CommandExecuted` events before this one (upcast: empty).
    """

    event_type: ClassVar[str] = "HostOperationFinished"
    version: ClassVar[int] = 2

    host: str
    op_hash: str
    outcome: OpOutcome
    commands_executed: int = 0
    retry_count: int = 0
    duration: float = 0.0
    commands: tuple[RecordedCommand, ...] = ()

    @property
    def partial(self) -> bool:
        """Whether the op failed after some of its commands had run."""
        return self.outcome is not OpOutcome.SUCCESS and self.commands_executed > 0


def command_events(event: HostOperationFinished) -> tuple[CommandExecuted, ...]:
    """``event``'s commands as the :class:`CommandExecuted` events version 1 recorded
    before it: its sequence number, each at its own end (a fact gathered during the op
    names no op, as ever)."""
    if not event.commands:
        return ()
    started = event.at - timedelta(seconds=event.duration)
    return tuple(
        CommandExecuted(
            run_id=event.run_id,
            seq=event.seq,
            at=started + timedelta(seconds=command.end),
            host=event.host,
            op_hash=None if command.fact is not None else event.op_hash,
            fact=command.fact,
            command=command.command,
            success=command.success,
            exit_code=command.exit_code,
            duration=command.duration,
            stdout=command.stdout,
            stderr=command.stderr,
            truncated=command.truncated,
            attempt=command.attempt,
        )
        for command in event.commands
    )


def with_command_events(events: Iterable[Event]) -> Iterator[Event]:
    """``events``, each op's commands before its outcome as :class:`CommandExecuted`
    events: a run of either version in version 1's shape, for readers that want every
    command as one event (the rerun's comparison and playback)."""
    for event in events:
        if type(event) is HostOperationFinished and event.commands:
            yield from command_events(event)
        yield event


@attrs.frozen(kw_only=True)
class OperationStarted(Event):
    """An operation began executing across the active hosts."""

    event_type: ClassVar[str] = "OperationStarted"

    op_hash: str


@attrs.frozen(kw_only=True)
class OperationEnded(Event):
    """An operation finished across the hosts (and the failed ones were failed)."""

    event_type: ClassVar[str] = "OperationEnded"

    op_hash: str


@attrs.frozen(kw_only=True)
class HostOperationRetried(Event):
    """An operation is being tried again on one host.

    Attributes:
        retry_num: Which retry this is, from 1.
        max_retries: The retries allowed.
    """

    event_type: ClassVar[str] = "HostOperationRetried"

    host: str
    op_hash: str
    retry_num: int
    max_retries: int


@attrs.frozen(kw_only=True)
class CommandExecuted(Event):
    """A command ran on a host: to gather a fact, or for an operation outside its
    execution (a body asking the host at prepare). An operation's commands, and the
    facts gathered while it executes, are in its :class:`HostOperationFinished`
    (until version 2 of that event, they were recorded as these).

    Secrets passed as masked values never reach the log: ``command`` shows
    them as ``***``. Output is kept up to the configured size.

    Attributes:
        host: The host.
        op_hash: The operation the command belongs to; None for a fact.
        fact: The fact gathered (``files.File(path=/etc/x)``); None for an op.
        command: The command as the log shows it, secrets masked.
        success: Whether it succeeded.
        exit_code: Its exit status, when it had one (None for a timeout or a
            Python callable).
        duration: Seconds it took.
        stdout: Its standard output, up to the cap.
        stderr: Its standard error, up to the cap.
        truncated: Whether output was cut at the cap.
        attempt: The attempt of the operation it ran in, from 0.
    """

    event_type: ClassVar[str] = "CommandExecuted"

    host: str
    op_hash: str | None = None
    fact: str | None = None
    command: str
    success: bool
    exit_code: int | None = None
    duration: float = 0.0
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    attempt: int = 0


@attrs.frozen(kw_only=True)
class WarningRaised(Event):
    """A warning was counted in ``stage``."""

    event_type: ClassVar[str] = "WarningRaised"

    stage: StateStage


@attrs.frozen(kw_only=True)
class LimitSet(Event):
    """The host limit changed; ``hosts`` None means no limit."""

    event_type: ClassVar[str] = "LimitSet"

    hosts: tuple[str, ...] | None


@attrs.frozen(kw_only=True)
class ExecutionStarted(Event):
    """Operations began executing: every host is ready."""

    event_type: ClassVar[str] = "ExecutionStarted"


#: A run being written records a :class:`HeartbeatRecorded` every this many flush delays
#: (the run's ``FLUSH_DELAY`` setting, recorded in ``RunStarted.config``).
HEARTBEAT_FLUSH_DELAYS = 5


@attrs.frozen(kw_only=True)
class HeartbeatRecorded(Event):
    """The deployer was alive: recorded every few seconds while a run is being written.

    A run with no end whose last heartbeat is recent is still running; one
    whose heartbeats stopped was interrupted (the process died).
    """

    event_type: ClassVar[str] = "HeartbeatRecorded"


@attrs.frozen(kw_only=True)
class RunFinished(Event):
    """The deploy ended; ``error`` says why when it did not succeed.

    Attributes:
        signal: The signal that interrupted the run (``"SIGINT"``, ``"SIGTERM"``),
            for an ``interrupted`` run; None otherwise. New in version 2.
    """

    event_type: ClassVar[str] = "RunFinished"
    version: ClassVar[int] = 2

    status: RunStatus
    error: str | None = None
    signal: str | None = None


#: Every concrete event class by its stored type tag.
EVENT_TYPES: Mapping[str, type[Event]] = types.MappingProxyType(
    {
        cls.event_type: cls
        for cls in (
            RunStarted,
            DeployLoaded,
            StageChanged,
            HostActivated,
            HostsFailed,
            HostConnected,
            HostConnectFailed,
            HostDisconnected,
            OperationAdded,
            OperationAddedForHost,
            HostOperationFinished,
            OperationStarted,
            OperationEnded,
            HostOperationRetried,
            CommandExecuted,
            WarningRaised,
            LimitSet,
            ExecutionStarted,
            HeartbeatRecorded,
            RunFinished,
        )
    }
)
