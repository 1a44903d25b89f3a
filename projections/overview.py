"""A run's overview: what ``eventstate show`` and ``eventstate runs`` print, kept as it goes.

:class:`OutcomesProjection` counts each operation's outcomes over its hosts
(added, changed, unchanged, failed) and keeps the failed host-ops with the
commands of their final attempt; with :class:`~eventstate.projections.abort.AbortCauseProjection`
and the run's :class:`~eventstate.projections.state_view.StateView` it makes a
:class:`RunOverview`. Cheap per event -- counters, and work only on failures --
so the live State applies it on the hot path, and the deploy stores the
overview beside its events at its end: a reader of a finished run reads one
row instead of folding every event (the log stays the truth: ``verify``
folds it and compares).

A dry run also keeps, per op, each host it was planned for and whether
change detection expected a change (``show`` lists them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs

from eventstate.events import (
    CommandExecuted,
    DeployLoaded,
    Event,
    HostOperationFinished,
    OperationAdded,
    OperationAddedForHost,
    OpOutcome,
    RecordedCommand,
)
from eventstate.projections.abort import AbortCauseProjection
from eventstate.projections.base import Projection, applies
from eventstate.projections.run import PLAN
from eventstate.projections.state_view import StateView

__all__ = ["OutcomesProjection", "OverviewFold", "RunOverview"]

_HOSTS, _CHANGE, _NO_CHANGE, _ERROR = range(4)

#: A failure's fields after its host, op hash and name, in order.
_FAILURE_FIELDS = ("outcome", "retry_count", "finished_seq", "commands")

#: The command fields a failure shows, in order.
_COMMAND_FIELDS = ("command", "success", "exit_code", "stdout", "stderr")


def _command(recorded: CommandExecuted | RecordedCommand) -> dict[str, Any]:
    return {
        "command": recorded.command,
        "success": recorded.success,
        "exit_code": recorded.exit_code,
        "stdout": recorded.stdout,
        "stderr": recorded.stderr,
        "attempt": recorded.attempt,
    }


class OutcomesProjection(Projection):
    """Each op's counts over its hosts, and every failed host-op with its final commands.

    Counts as ``show``'s operations table: ``hosts`` the hosts it was added for;
    of those finished, ``change`` (succeeded running commands), ``no_change``
    (succeeded running none), ``error`` (failed, ignored or not). Failures in the
    order they finished.
    """

    def __init__(self) -> None:
        self._counts: dict[str, list[int]] = {}
        self._failures: list[dict[str, Any]] = []
        # An op's commands recorded as events of their own (logs before HostOperationFinished
        # version 2, or commands of an op interrupted): kept until the op's outcome.
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._plan = False
        # A dry run's plan: op hash -> host -> expected to change (counted adds only).
        self._planned: dict[str, dict[str, bool | None]] = {}

    def _op(self, op_hash: str) -> list[int]:
        counts = self._counts.get(op_hash)
        if counts is None:
            counts = self._counts[op_hash] = [0, 0, 0, 0]
        return counts

    @applies(DeployLoaded)
    def _loaded(self, event: DeployLoaded) -> None:
        self._plan = bool(event.options.get("dry"))

    @applies(OperationAdded)
    def _added(self, event: OperationAdded) -> None:
        hosts = event.hosts
        if not hosts:
            return
        self._op(event.op_hash)[_HOSTS] += len(hosts)
        if self._plan:
            planned = self._planned.setdefault(event.op_hash, {})
            for host, is_change, counted in zip(
                hosts, event.is_change, event.counted, strict=False
            ):
                if counted:
                    planned[host] = is_change
                else:
                    planned.pop(host, None)

    @applies(OperationAddedForHost)
    def _added_for_host(self, event: OperationAddedForHost) -> None:
        self._op(event.op_hash)[_HOSTS] += 1
        if self._plan:
            planned = self._planned.setdefault(event.op_hash, {})
            if event.counted:
                planned[event.host] = event.is_change
            else:
                planned.pop(event.host, None)

    @applies(CommandExecuted)
    def _command_event(self, event: CommandExecuted) -> None:
        if event.op_hash is not None:
            self._commands.setdefault((event.host, event.op_hash), []).append(_command(event))

    @applies(HostOperationFinished)
    def _finished(self, event: HostOperationFinished) -> None:
        counts = self._counts.get(event.op_hash)
        if counts is None:
            counts = self._op(event.op_hash)
        outcome = event.outcome
        separate = self._commands.pop((event.host, event.op_hash), None) if self._commands else None
        if outcome is OpOutcome.SUCCESS:
            counts[_CHANGE if event.commands_executed else _NO_CHANGE] += 1
            return
        counts[_ERROR] += 1
        commands = separate or []
        commands += [_command(c) for c in event.commands if c.fact is None]
        final = [
            {key: command[key] for key in _COMMAND_FIELDS}
            for command in commands
            if command["attempt"] == event.retry_count
        ]
        self._failures.append(
            {
                "host": event.host,
                "op_hash": event.op_hash,
                "outcome": outcome.value,
                "retry_count": event.retry_count,
                "finished_seq": event.seq,
                "commands": final,
            }
        )

    def snapshot(self) -> dict[str, Any]:
        """The counts, failures and plan as plain values."""
        return {
            "counts": {op_hash: list(counts) for op_hash, counts in self._counts.items()},
            "failures": [dict(failure) for failure in self._failures],
            "planned": {op_hash: dict(hosts) for op_hash, hosts in self._planned.items()},
        }


@attrs.frozen
class RunOverview:
    """What ``show`` and ``runs`` print of a run, beyond its views' host table.

    Attributes:
        run_id: The run.
        seq: The event it was made after.
        info: The run's listing line: :class:`eventstate.replay.RunInfo`'s fields.
        hosts: The inventory's hosts.
        operations: Each op in execution order: ``op_hash``, ``operation`` (its name),
            ``hosts``, ``change``, ``no_change``, ``error``.
        failures: Each failed host-op, in the order finished: ``host``, ``op_hash``,
            ``name``, ``outcome``, ``retry_count``, ``finished_seq``, ``commands`` (of its
            final attempt: ``command``, ``success``, ``exit_code``, ``stdout``, ``stderr``).
        abort_cause: Why the run stopped when hosts failed (the
            :meth:`~eventstate.projections.abort.AbortCause.as_dict` of it), or None.
        planned: A dry run's ops in order: ``op_hash``, ``name``, ``hosts`` (each
            ``host`` and ``is_change``); empty for a deploy.
    """

    run_id: str
    seq: int
    info: dict[str, Any]
    hosts: tuple[str, ...]
    operations: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    abort_cause: dict[str, Any] | None
    planned: list[dict[str, Any]]

    @classmethod
    def of(
        cls, view: StateView, outcomes: OutcomesProjection, abort: AbortCauseProjection
    ) -> RunOverview:
        """The overview of a run whose views are ``view``, of a run that has ended
        (its status is then fixed: a run still going has none to keep)."""
        run = view.run
        op_meta = view.op_meta

        def name(op_hash: str) -> str:
            meta = op_meta.get(op_hash)
            return (", ".join(meta.names) if meta is not None else "") or op_hash

        status = run.status.value if run.status is not None else None
        if status == "success" and run.kind == PLAN:
            status = PLAN
        info = {
            "run_id": run.run_id or "",
            "kind": run.kind,
            "status": status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "user": run.user,
            "machine": run.machine,
            "command_line": list(run.command_line),
            "host_count": len(run.hosts),
            "ops_change": sum(meta.ops_change for meta in view.meta.values()),
            "failed_host_count": len(view.failed_hosts),
            "event_count": view.events_applied,
            "error": run.error,
        }
        order = view.get_op_order()
        counts = outcomes._counts
        operations = []
        for op_hash in order:
            found = counts.get(op_hash, (0, 0, 0, 0))
            operations.append(
                {
                    "op_hash": op_hash,
                    "operation": name(op_hash),
                    "hosts": found[_HOSTS],
                    "change": found[_CHANGE],
                    "no_change": found[_NO_CHANGE],
                    "error": found[_ERROR],
                }
            )
        failures = [
            {
                "host": failure["host"],
                "op_hash": failure["op_hash"],
                "name": name(failure["op_hash"]),
                **{key: failure[key] for key in _FAILURE_FIELDS},
            }
            for failure in outcomes._failures
        ]
        planned = []
        if run.kind == PLAN:
            for op_hash in order:
                hosts = outcomes._planned.get(op_hash, {})
                planned.append(
                    {
                        "op_hash": op_hash,
                        "name": name(op_hash),
                        "hosts": [
                            {"host": host, "is_change": hosts[host]}
                            for host in run.hosts
                            if host in hosts
                        ],
                    }
                )
        cause = abort.cause
        return cls(
            run_id=run.run_id or "",
            seq=view.events_applied,
            info=info,
            hosts=tuple(run.hosts),
            operations=operations,
            failures=failures,
            abort_cause=None if cause is None else cause.as_dict(),
            planned=planned,
        )

    def to_json(self) -> str:
        """The overview as JSON: what the deploy stores at its end."""
        values = attrs.asdict(self)
        values["hosts"] = list(self.hosts)
        return json.dumps(values, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> RunOverview:
        """An overview back from :meth:`to_json`'s output.

        Raises:
            ValueError: ``text`` is not such an overview (bad JSON, a field missing
                or of the wrong kind).
        """
        try:
            values = json.loads(text)
            overview = cls(
                run_id=values["run_id"],
                seq=values["seq"],
                info=values["info"],
                hosts=tuple(values["hosts"]),
                operations=values["operations"],
                failures=values["failures"],
                abort_cause=values["abort_cause"],
                planned=values["planned"],
            )
        except (TypeError, KeyError, ValueError) as error:
            raise ValueError(f"not a run overview ({type(error).__name__}: {error})") from None
        kinds = (
            (overview.run_id, str),
            (overview.seq, int),
            (overview.info, dict),
            (overview.operations, list),
            (overview.failures, list),
            (overview.planned, list),
        )
        if any(type(value) is not kind for value, kind in kinds):
            raise ValueError("not a run overview (a field of the wrong kind)")
        return overview


class OverviewFold:
    """A run's views with the projections of its overview attached: one pass folds both.

    Args:
        view: The views to attach them to (the live State's); a new one by default.
    """

    def __init__(self, view: StateView | None = None) -> None:
        self.view = view if view is not None else StateView()
        self.outcomes = OutcomesProjection()
        self.abort = AbortCauseProjection()
        self.view.attach(self.outcomes, self.abort)

    def apply_all(self, events: Iterable[Event]) -> OverviewFold:
        """Apply ``events`` in order to the views and the overview's projections."""
        self.view.apply_all(events)
        return self

    def overview(self) -> RunOverview:
        """The overview as folded so far."""
        return RunOverview.of(self.view, self.outcomes, self.abort)
