"""Each host's operations, one record per (host, op hash): what was planned, what ran, how it ended.

The audit's view of a run -- ``show``, ``diff`` and ``timeline`` read it. It is
not part of the live :class:`~eventstate.projections.StateView`: it keeps every
command's output, which a deploy has no use for while it runs, so replay folds
it on demand (``Run.host_ops()``) over a stored run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from eventstate.events import (
    CommandExecuted,
    HostOperationFinished,
    HostOperationRetried,
    OperationAdded,
    OperationAddedForHost,
    OpOutcome,
    RecordedCommand,
    RunStarted,
)
from eventstate.projections.base import Projection, applies
from eventstate.projections.views import ReadOnlyDict, ReadOnlyList, ReadOnlyRecord

__all__ = ["ExecutedCommand", "HostOp", "HostOpsProjection"]

_set = object.__setattr__  # the owning projection writes its records' slots; nobody else


class ExecutedCommand(ReadOnlyRecord):
    """A command as the log recorded it, read-only: its
    :class:`~eventstate.events.CommandExecuted`, or its entry in the
    :class:`~eventstate.events.HostOperationFinished` of the op it ran in.

    Attributes:
        seq: The sequence number of the event that recorded it.
        at: When the command ended.
        host: The host it ran on.
        op_hash: The operation it ran for; None for a fact.
        fact: The fact it gathered; None for an operation's command.
        command: The command as the log shows it, secrets masked.
        success: Whether it succeeded.
        exit_code: Its exit status, when it had one.
        duration: Seconds it took.
        stdout: Its standard output, up to the recorded cap.
        stderr: Its standard error, up to the recorded cap.
        truncated: Whether output was cut at the cap.
        attempt: The attempt of the operation it ran in, from 0.
    """

    __slots__ = (
        "at",
        "attempt",
        "command",
        "duration",
        "exit_code",
        "fact",
        "host",
        "op_hash",
        "seq",
        "stderr",
        "stdout",
        "success",
        "truncated",
    )

    seq: int
    at: datetime
    host: str
    op_hash: str | None
    fact: str | None
    command: str
    success: bool
    exit_code: int | None
    duration: float
    stdout: str
    stderr: str
    truncated: bool
    attempt: int

    #: The fields, in the order :meth:`as_dict` gives them.
    FIELDS = (
        "seq",
        "at",
        "host",
        "op_hash",
        "fact",
        "command",
        "success",
        "exit_code",
        "duration",
        "stdout",
        "stderr",
        "truncated",
        "attempt",
    )

    def __init__(self, event: CommandExecuted) -> None:
        for name in self.FIELDS:
            _set(self, name, getattr(event, name))

    @classmethod
    def of_op(
        cls, event: HostOperationFinished, command: RecordedCommand, started: datetime
    ) -> ExecutedCommand:
        """The command as ``event`` (its op's outcome, the op started at ``started``)
        records it: a fact gathered during the op is a fact's command, as ever."""
        self = cls.__new__(cls)
        fact = command.fact
        for name, value in (
            ("seq", event.seq),
            ("at", started + timedelta(seconds=command.end)),
            ("host", event.host),
            ("op_hash", None if fact is not None else event.op_hash),
            ("fact", fact),
            ("command", command.command),
            ("success", command.success),
            ("exit_code", command.exit_code),
            ("duration", command.duration),
            ("stdout", command.stdout),
            ("stderr", command.stderr),
            ("truncated", command.truncated),
            ("attempt", command.attempt),
        ):
            _set(self, name, value)
        return self

    def as_dict(self) -> dict[str, Any]:
        """The command as plain values (``at`` in ISO 8601)."""
        values = {name: getattr(self, name) for name in self.FIELDS}
        values["at"] = self.at.isoformat()
        return values

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExecutedCommand):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ExecutedCommand(seq={self.seq}, host={self.host!r}, command={self.command!r})"


class _Operation:
    """What every host shares of an op: its names and order, as OperationAdded recorded them."""

    __slots__ = ("names", "names_view", "op_order")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.names_view: ReadOnlyList[str] = ReadOnlyList(self.names)
        #: None until an OperationAdded names the op.
        self.op_order: tuple[int, ...] | None = None

    def add(self, event: OperationAdded) -> None:
        if self.op_order is None:
            self.op_order = event.op_order  # the first event fixes it, as the State does
        # Later events merge new names in, as pyinfra merges ops called at one position.
        new = [name for name in dict.fromkeys(event.names) if name not in self.names]
        self.names.extend(new)


class HostOp(ReadOnlyRecord):
    """One operation on one host: planned (added), executed (commands), finished (outcome).

    A record exists for every (host, op hash) an ``OperationAddedForHost``,
    an op's ``CommandExecuted`` or a ``HostOperationFinished`` named (its commands
    are in the latter since its version 2; before, each was a ``CommandExecuted``). Until
    an event says otherwise a field holds its "not recorded" value: ``added``
    False, ``outcome`` None, no commands.

    Attributes:
        host: The host.
        op_hash: The operation.
        added: Whether the op was put in the host's order.
        counted: Whether it counted in the host's meta (False for a ``_run_once``
            duplicate, and for an op never added).
        is_change: Whether change detection expected it to change the host;
            None when unknown (change detection off, or never added).
        added_seq: The sequence number of the event that added it.
        outcome: How it ended after its last retry; None while unfinished.
        commands_executed: Commands that succeeded in the final attempt.
        retry_count: Retries made before the outcome (pyinfra's ``retry_attempts``).
        duration: Seconds from its start on the host to its outcome, or None.
        finished_seq: The sequence number of its ``HostOperationFinished``.
        finished_at: When it finished, or None.
        commands: Every command run for it, every attempt, in the order run.

    The retry information of pyinfra 3.10's ``OperationMeta``
    (``retry_attempts``, ``max_retries``, ``was_retried``,
    ``retry_succeeded``) is read off the same events; see :attr:`max_retries`
    for the one value a log may not hold.
    """

    __slots__ = (
        "_commands",
        "_max_retries",
        "_operation",
        "added",
        "added_seq",
        "commands",
        "commands_executed",
        "counted",
        "duration",
        "finished_at",
        "finished_seq",
        "host",
        "is_change",
        "op_hash",
        "outcome",
        "retry_count",
    )

    host: str
    op_hash: str
    added: bool
    counted: bool
    is_change: bool | None
    added_seq: int | None
    outcome: OpOutcome | None
    commands_executed: int
    retry_count: int
    duration: float | None
    finished_seq: int | None
    finished_at: datetime | None
    commands: ReadOnlyList[ExecutedCommand]
    _commands: list[ExecutedCommand]
    _operation: _Operation
    _max_retries: int | None

    def __init__(self, host: str, op_hash: str, operation: _Operation) -> None:
        commands: list[ExecutedCommand] = []
        for name, value in (
            ("host", host),
            ("op_hash", op_hash),
            ("_operation", operation),
            ("added", False),
            ("counted", False),
            ("is_change", None),
            ("added_seq", None),
            ("outcome", None),
            ("commands_executed", 0),
            ("retry_count", 0),
            ("_max_retries", None),
            ("duration", None),
            ("finished_seq", None),
            ("finished_at", None),
            ("_commands", commands),
            ("commands", ReadOnlyList(commands)),
        ):
            _set(self, name, value)

    @property
    def names(self) -> ReadOnlyList[str]:
        """The op's names, merged over its ``OperationAdded`` events (empty if none)."""
        return self._operation.names_view

    @property
    def op_order(self) -> tuple[int, ...] | None:
        """The op's order key, as its first ``OperationAdded`` fixed it (None if none)."""
        return self._operation.op_order

    @property
    def name(self) -> str:
        """The op as people read it: its names joined, or its hash when it has none."""
        return ", ".join(self._operation.names) or self.op_hash

    @property
    def started_at(self) -> datetime | None:
        """When the op started on the host (its finish less its duration), or None."""
        if self.finished_at is None:
            return None
        return self.finished_at - timedelta(seconds=self.duration or 0.0)

    @property
    def final_commands(self) -> tuple[ExecutedCommand, ...]:
        """The commands of the attempt that decided the outcome (the last one)."""
        return tuple(c for c in self._commands if c.attempt == self.retry_count)

    @property
    def retry_attempts(self) -> int:
        """Retries made before the outcome, as pyinfra's ``OperationMeta.retry_attempts``."""
        return self.retry_count

    @property
    def was_retried(self) -> bool:
        """Whether the op was retried at least once."""
        return self.retry_count > 0

    @property
    def retry_succeeded(self) -> bool | None:
        """Whether the op succeeded after retries; None if it was not retried (or is unfinished)."""
        if self.outcome is None or self.retry_count == 0:
            return None
        return self.outcome is OpOutcome.SUCCESS

    @property
    def max_retries(self) -> int | None:
        """The retries the op allowed (its ``_retries``), as far as the log shows.

        Exact when it was retried (each ``HostOperationRetried`` carries it) and
        when it failed without a retry (an error with retries left is always
        retried, so it allowed none). An op that succeeded at its first attempt
        records no ``_retries``: None then. The live result of ``add_op``
        always knows it.
        """
        if self._max_retries is not None:
            return self._max_retries
        if self.outcome is not None and self.outcome is not OpOutcome.SUCCESS:
            return self.retry_count
        return None

    def get_retry_info(self) -> dict[str, Any]:
        """The retry fields by name, as pyinfra's ``OperationMeta.get_retry_info()``."""
        return {
            "retry_attempts": self.retry_attempts,
            "max_retries": self.max_retries,
            "was_retried": self.was_retried,
            "retry_succeeded": self.retry_succeeded,
        }

    @property
    def partial(self) -> bool:
        """Whether the op failed after some of its commands had run."""
        return self.outcome not in (None, OpOutcome.SUCCESS) and self.commands_executed > 0

    def as_dict(self) -> dict[str, Any]:
        """The record as plain, JSON-ready values."""
        return {
            "host": self.host,
            "op_hash": self.op_hash,
            "names": list(self._operation.names),
            "op_order": None if self.op_order is None else list(self.op_order),
            "added": self.added,
            "counted": self.counted,
            "is_change": self.is_change,
            "added_seq": self.added_seq,
            "outcome": None if self.outcome is None else self.outcome.value,
            "commands_executed": self.commands_executed,
            "retry_count": self.retry_count,
            "max_retries": self.max_retries,
            "duration": self.duration,
            "finished_seq": self.finished_seq,
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "commands": [command.as_dict() for command in self._commands],
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HostOp):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        outcome = self.outcome.value if self.outcome is not None else "unfinished"
        return f"HostOp(host={self.host!r}, op={self.name!r}, outcome={outcome})"


_NO_OPS: ReadOnlyDict[str, HostOp] = ReadOnlyDict({})
_NO_COMMANDS: ReadOnlyList[ExecutedCommand] = ReadOnlyList(())


class HostOpsProjection(Projection):
    """A :class:`HostOp` for every (host, op hash) of a run, and each host's fact commands.

    Hosts come in inventory order (then any host the inventory did not name,
    as first seen); each host's ops in the order first seen -- for an op that
    was planned, the order it was added in. A host-op finishes once (op hashes
    are unique per host); should a log say otherwise, the record holds the
    last outcome, keeping its place in :meth:`finished`.
    """

    def __init__(self) -> None:
        self.inventory: tuple[str, ...] = ()
        self._ops: dict[str, dict[str, HostOp]] = {}
        self._ops_views: dict[str, ReadOnlyDict[str, HostOp]] = {}
        self._operations: dict[str, _Operation] = {}
        self._finished: list[HostOp] = []
        self._facts: dict[str, list[ExecutedCommand]] = {}
        self._facts_views: dict[str, ReadOnlyList[ExecutedCommand]] = {}
        self._pending_max_retries: dict[tuple[str, str], int] = {}
        #: Host -> op hash -> :class:`HostOp`, read-only.
        self.ops: ReadOnlyDict[str, ReadOnlyDict[str, HostOp]] = ReadOnlyDict(self._ops_views)

    # Folding

    def _host(self, host: str) -> dict[str, HostOp]:
        ops = self._ops.get(host)
        if ops is None:
            ops = self._ops[host] = {}
            self._ops_views[host] = ReadOnlyDict(ops)
        return ops

    def _operation(self, op_hash: str) -> _Operation:
        operation = self._operations.get(op_hash)
        if operation is None:
            operation = self._operations[op_hash] = _Operation()
        return operation

    def _record(self, host: str, op_hash: str) -> HostOp:
        ops = self._host(host)
        record = ops.get(op_hash)
        if record is None:
            record = ops[op_hash] = HostOp(host, op_hash, self._operation(op_hash))
            pending = self._pending_max_retries.pop((host, op_hash), None)
            if pending is not None:
                _set(record, "_max_retries", pending)
        return record

    @applies(RunStarted)
    def _started(self, event: RunStarted) -> None:
        self.inventory = event.hosts
        for host in event.hosts:
            self._host(host)

    @applies(OperationAdded)
    def _op_added(self, event: OperationAdded) -> None:
        self._operation(event.op_hash).add(event)
        for host, is_change, counted in zip(
            event.hosts, event.is_change, event.counted, strict=False
        ):  # version 2: the hosts it was added for
            self._added(host, event.op_hash, is_change, counted, event.seq)

    @applies(OperationAddedForHost)
    def _added_for_host(self, event: OperationAddedForHost) -> None:
        self._added(event.host, event.op_hash, event.is_change, event.counted, event.seq)

    def _added(
        self, host: str, op_hash: str, is_change: bool | None, counted: bool, seq: int
    ) -> None:
        record = self._record(host, op_hash)
        _set(record, "added", True)
        _set(record, "counted", counted)
        _set(record, "is_change", is_change)
        _set(record, "added_seq", seq)

    def _fact_commands(self, host: str) -> list[ExecutedCommand]:
        facts = self._facts.get(host)
        if facts is None:
            facts = self._facts[host] = []
            self._facts_views[host] = ReadOnlyList(facts)
        return facts

    @applies(CommandExecuted)
    def _command(self, event: CommandExecuted) -> None:
        command = ExecutedCommand(event)
        if event.op_hash is None:
            self._fact_commands(event.host).append(command)
            return
        self._record(event.host, event.op_hash)._commands.append(command)

    @applies(HostOperationRetried)
    def _retried(self, event: HostOperationRetried) -> None:
        # A retry alone makes no record (its commands come first in any real run); one
        # made later takes the retries allowed from here.
        record = self.get(event.host, event.op_hash)
        if record is None:
            self._pending_max_retries[event.host, event.op_hash] = event.max_retries
        else:
            _set(record, "_max_retries", event.max_retries)

    @applies(HostOperationFinished)
    def _finished_on_host(self, event: HostOperationFinished) -> None:
        record = self._record(event.host, event.op_hash)
        if record.outcome is None:
            self._finished.append(record)
        _set(record, "outcome", event.outcome)
        _set(record, "commands_executed", event.commands_executed)
        _set(record, "retry_count", event.retry_count)
        _set(record, "duration", event.duration)
        _set(record, "finished_seq", event.seq)
        _set(record, "finished_at", event.at)
        if event.commands:  # version 2: the op's commands ride on its outcome
            started = event.at - timedelta(seconds=event.duration)
            for recorded in event.commands:
                command = ExecutedCommand.of_op(event, recorded, started)
                if recorded.fact is None:
                    record._commands.append(command)
                else:
                    self._fact_commands(event.host).append(command)

    # Reading

    def host_ops(self, host: str) -> ReadOnlyDict[str, HostOp]:
        """``host``'s ops by op hash (empty for a host the run never named)."""
        return self._ops_views.get(host, _NO_OPS)

    def get(self, host: str, op_hash: str) -> HostOp | None:
        """The record of ``op_hash`` on ``host``, or None."""
        ops = self._ops.get(host)
        return None if ops is None else ops.get(op_hash)

    def __iter__(self) -> Iterator[HostOp]:
        """Every record, host by host."""
        for ops in self._ops.values():
            yield from ops.values()

    def __len__(self) -> int:
        return sum(len(ops) for ops in self._ops.values())

    def finished(self) -> ReadOnlyList[HostOp]:
        """The records that finished, in the order they finished."""
        return ReadOnlyList(self._finished)

    def failed(self) -> list[HostOp]:
        """The records that ended in an error, ignored or not, in the order they finished."""
        return [record for record in self._finished if record.outcome is not OpOutcome.SUCCESS]

    def op_name(self, op_hash: str) -> str | None:
        """The op's names joined, as :attr:`HostOp.name`; None if no event named it."""
        operation = self._operations.get(op_hash)
        if operation is None or operation.op_order is None:
            return None
        return ", ".join(operation.names)

    def fact_commands(self, host: str) -> ReadOnlyList[ExecutedCommand]:
        """The commands run on ``host`` to gather facts, in the order run."""
        return self._facts_views.get(host, _NO_COMMANDS)

    def snapshot(self) -> dict[str, Any]:
        """Every record and fact command as plain values (for comparison; never stored)."""
        return {
            "inventory": list(self.inventory),
            "ops": {
                host: [record.as_dict() for record in ops.values()]
                for host, ops in self._ops.items()
            },
            "finished": [[record.host, record.op_hash] for record in self._finished],
            "facts": {
                host: [command.as_dict() for command in commands]
                for host, commands in self._facts.items()
            },
        }
