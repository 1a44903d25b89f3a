"""The long run: a big ``@sim`` deploy with random faults and retries, and the fold of its log.

Two cases, each in its own process (so each peak RSS is its own):

* :func:`longrun_deploy` -- ``hosts`` ``@sim`` hosts x ``ops`` ops through the
  real engine (``State``, ``add_op``, ``run_ops``) into a SQLite log on disk.
  Commands fail at random (the sim's seeded draw: ``sim_fail_rate`` for most,
  ``sim_fail_patterns`` for the ``flaky-`` ops) and every op has
  ``_retries``, so some ops succeed on a retry, some fail for good (failing
  their host) and one kind is ``_ignore_errors``. The live outcome is checked
  against the sim's documented draws, predicted independently here; then what
  the live State says -- its whole view, each host's results, the failed hosts,
  every host-op's retry info -- is written to a JSON file for the fold.
  Memory: the current RSS at checkpoints (after connect, after prepare, after
  each op, at the end) and, after the run, how many event objects are still
  alive (the log is on disk: none should be, beyond a batch).
* :func:`longrun_fold` -- in a fresh interpreter, opens the log from disk,
  folds every event into a :class:`StateView` and a
  :class:`HostOpsProjection` (one pass, no snapshot written), and compares
  them with the deploy's file. Any difference fails the case.
"""

from __future__ import annotations

import gc
import json
import os
import re
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from benchmarks.cases import CaseError, Metrics

__all__ = ["CASES", "OpSpec", "longrun_deploy", "longrun_fold", "op_plan", "predict"]

#: The ``sim_fail_patterns`` regex of the flaky ops.
FLAKY = "^flaky-"

#: How many differences a failed comparison names in its error.
SHOWN_MISMATCHES = 5


@attrs.frozen
class OpSpec:
    """One op of the long run: its shell commands and whether its errors are ignored."""

    commands: tuple[str, ...]
    ignore_errors: bool = False


def op_plan(ops: int) -> list[OpSpec]:
    """The run's ops, by their place in each group of eight.

    Mostly plain commands (failing at ``sim_fail_rate``); the 2nd and 6th have two
    commands (a failure on the second is a partial op); the 4th is a flaky
    command that fails its host once its retries are spent; the 7th a flaky
    command whose errors are ignored (both at the ``flaky-`` pattern's rate).
    """
    plan: list[OpSpec] = []
    for i in range(ops):
        kind = i % 8
        if kind in (1, 5):
            plan.append(OpSpec((f"step-{i} fetch", f"step-{i} apply")))
        elif kind == 3:
            plan.append(OpSpec((f"flaky-{i} reload",)))
        elif kind == 6:
            plan.append(OpSpec((f"flaky-{i} probe",), ignore_errors=True))
        else:
            plan.append(OpSpec((f"step-{i} install",)))
    return plan


@attrs.frozen
class Predicted:
    """What the sim's draws say one op does on one host."""

    success: bool
    ignored: bool
    retry_attempts: int
    commands_executed: int
    commands_run: int
    failed_commands: int


@attrs.frozen
class Prediction:
    """The outcome of the whole run, from pyinfra's rules and the sim's draws alone.

    Attributes:
        ops: Per host, the predicted result of each op it ran (a failed host
            runs no further op).
        failed: The hosts that failed.
        aborted: Whether FAIL_PERCENT (or no host left) would end the run early.
    """

    ops: dict[str, list[Predicted]]
    failed: set[str]
    aborted: bool


def predict(
    names: list[str],
    plan: list[OpSpec],
    *,
    seed: int,
    retries: int,
    fail_rate: float,
    flaky_rate: float,
    fail_percent: int | None,
) -> Prediction:
    """Each host's outcome, written from the sim's documented draw and pyinfra 3.10's rules.

    The sim fails the ``n``-th command run on a host when ``sim_draw(seed, host,
    n, text)`` is below its rate; an op retries while it fails and retries
    are left; a failed op (not ignored) fails its host after the op; after each
    op the run stops when no host is left or more than ``fail_percent`` of the
    hosts have failed.
    """
    from eventstate.connectors.sim import sim_draw

    flaky = re.compile(FLAKY)
    counters = dict.fromkeys(names, 0)
    results: dict[str, list[Predicted]] = {name: [] for name in names}
    active = list(names)
    failed: set[str] = set()
    for spec in plan:
        rates = [flaky_rate if flaky.search(text) else fail_rate for text in spec.commands]
        now_failed: list[str] = []
        for name in active:
            attempt = 0
            commands_run = failed_commands = 0
            while True:
                executed = 0
                errored = False
                for text, rate in zip(spec.commands, rates, strict=True):
                    counters[name] += 1
                    commands_run += 1
                    if sim_draw(seed, name, counters[name], text) < rate:
                        errored = True
                        failed_commands += 1
                        break
                    executed += 1
                if not errored or attempt >= retries:
                    break
                attempt += 1
            results[name].append(
                Predicted(
                    success=not errored,
                    ignored=errored and spec.ignore_errors,
                    retry_attempts=attempt,
                    commands_executed=executed,
                    commands_run=commands_run,
                    failed_commands=failed_commands,
                )
            )
            if errored and not spec.ignore_errors:
                now_failed.append(name)
        if now_failed:
            failed.update(now_failed)
            gone = set(now_failed)
            active = [name for name in active if name not in gone]
            over = fail_percent is not None and (1 - len(active) / len(names)) * 100 > fail_percent
            if not active or over:
                return Prediction(results, failed, aborted=True)
    return Prediction(results, failed, aborted=False)


# Memory


def current_rss_mb() -> float:
    """This process's resident set size now, in MiB (Linux; the peak elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def cpu_seconds() -> float:
    """CPU time this process has used so far, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (2**20 if sys.platform == "darwin" else 1024)


@attrs.define
class Checkpoints:
    """RSS samples taken as the run goes: ``(label, events recorded, RSS MiB)``."""

    events: Callable[[], int]
    samples: list[tuple[str, int, float]] = attrs.field(factory=list)

    def take(self, label: str) -> None:
        """Sample now."""
        self.samples.append((label, self.events(), current_rss_mb()))

    def rss(self, label: str) -> float:
        """The RSS sampled at ``label``."""
        return next(rss for name, _, rss in self.samples if name == label)

    def to_json(self) -> list[dict[str, Any]]:
        """The samples as plain values."""
        return [
            {"at": label, "events": events, "rss_mb": round(rss, 2)}
            for label, events, rss in self.samples
        ]


def _alive_event_objects(run_id: str) -> tuple[int, int]:
    """How many ``Event`` and ``StoredEvent`` objects of ``run_id`` are alive in this process."""
    from eventstate.events import Event
    from eventstate.stores.base import StoredEvent

    gc.collect()
    events = stored = 0
    for obj in gc.get_objects():
        if isinstance(obj, Event) and obj.run_id == run_id:
            events += 1
        elif isinstance(obj, StoredEvent) and obj.run_id == run_id:
            stored += 1
    return events, stored


def _execute_growth(samples: list[tuple[str, int, float]]) -> dict[str, float | None]:
    """RSS growth per event during execution: over the first and the second half of the ops."""
    ops = [(events, rss) for label, events, rss in samples if label.startswith("op ")]
    if len(ops) < 3:
        return {"first_half_b_per_event": None, "second_half_b_per_event": None}
    mid = len(ops) // 2

    def per_event(a: tuple[int, float], b: tuple[int, float]) -> float:
        return (b[1] - a[1]) * 2**20 / max(1, b[0] - a[0])

    return {
        "first_half_b_per_event": per_event(ops[0], ops[mid]),
        "second_half_b_per_event": per_event(ops[mid], ops[-1]),
    }


# The deploy


def _host_op_expectation(result: Any) -> dict[str, Any]:
    """A live ``OperationResult`` as the fold must show it."""
    return {
        "success": result.success,
        "retry_attempts": result.retry_attempts,
        "max_retries": result.max_retries,
        "was_retried": result.was_retried,
        "retry_succeeded": result.retry_succeeded,
    }


def _check_prediction(
    prediction: Prediction,
    live_ops: list[dict[Any, Any]],
    state: Any,
    plan: list[OpSpec],
) -> None:
    """Fail unless the live State is what the sim's draws predict, host by host."""
    wrong: list[str] = []
    if prediction.aborted:
        wrong.append("the prediction stops the run early; the run completed")
    for host in state.inventory:
        predicted = prediction.ops[host.name]
        for i in range(len(plan)):
            result = live_ops[i][host]
            if i >= len(predicted):
                if result.success is not None:
                    wrong.append(f"{host.name} op {i}: ran after its host failed")
                continue
            want = predicted[i]
            got = (result.success, result.retry_attempts)
            if got != (want.success, want.retry_attempts):
                wrong.append(f"{host.name} op {i}: live {got}, predicted {want}")
        done = predicted
        counts = state.results[host].as_dict()
        expected = {
            "ops": sum(p.success or p.ignored for p in done),
            "success_ops": sum(p.success for p in done),
            "error_ops": sum(not p.success and not p.ignored for p in done),
            "ignored_error_ops": sum(p.ignored for p in done),
            "partial_ops": sum(not p.success and p.commands_executed > 0 for p in done),
        }
        if counts != expected:
            wrong.append(f"{host.name} results: live {counts}, predicted {expected}")
    failed = {host.name for host in state.failed_hosts}
    if failed != prediction.failed:
        wrong.append(f"failed hosts: live {len(failed)}, predicted {len(prediction.failed)}")
    if wrong:
        shown = "; ".join(wrong[:SHOWN_MISMATCHES])
        raise CaseError(f"{len(wrong)} differences from the sim's predicted outcome: {shown}")


def longrun_deploy(
    hosts: int,
    path: str,
    expected: str,
    ops: int = 8,
    seed: int = 12,
    retries: int = 2,
    fail_per_mille: int = 50,
    flaky_per_mille: int = 200,
    fail_percent: int = 10,
) -> Metrics:
    """``hosts`` ``@sim`` hosts x ``ops`` ops with random faults and retries, into ``path``.

    Args:
        hosts: Number of hosts.
        path: The SQLite log (created; kept for the fold).
        expected: Where the live State's results go, as JSON, for :func:`longrun_fold`.
        ops: Ops per host (see :func:`op_plan`).
        seed: The sim's seed.
        retries: Each op's ``_retries`` (``_retry_delay=0``).
        fail_per_mille: ``sim_fail_rate`` of the plain commands, per mille.
        flaky_per_mille: The rate of the ``flaky-`` commands (``sim_fail_patterns``), per mille.
        fail_percent: ``FAIL_PERCENT``: the run must complete under it.
    """
    from eventstate import Config, DeployError, Inventory, SqliteEventLog, State
    from eventstate.connect import connect_all, disconnect_all
    from eventstate.execute import run_ops
    from eventstate.operation import add_op
    from eventstate.operations import server

    names = [f"@sim/h{i:05d}" for i in range(hosts)]
    plan = op_plan(ops)
    fail_rate, flaky_rate = fail_per_mille / 1000, flaky_per_mille / 1000
    data = {
        "sim_seed": seed,
        "sim_fail_rate": fail_rate,
        "sim_fail_patterns": {FLAKY: flaky_rate},
    }
    log = SqliteEventLog(path)
    cpu_started = cpu_seconds()
    started = time.perf_counter()
    state = State(Inventory((names, data)), Config(FAIL_PERCENT=fail_percent), log=log)
    checkpoints = Checkpoints(lambda: state.view.events_applied)
    checkpoints.take("start")
    connect_all(state)
    checkpoints.take("connected")
    connected = time.perf_counter()
    live_ops = [
        add_op(
            state,
            server.shell,
            commands=list(spec.commands),
            _retries=retries,
            _retry_delay=0,
            _ignore_errors=spec.ignore_errors,
        )
        for spec in plan
    ]
    prepared = time.perf_counter()
    checkpoints.take("prepared")
    op_numbers = {op_hash: i for i, op_hash in enumerate(state.get_op_order(), 1)}
    seen: set[str] = set()

    def progress(host: Any, op_hash: str) -> None:
        # Called for each host once the op's batch ended: the first call closes the op.
        if op_hash not in seen:
            seen.add(op_hash)
            checkpoints.take(f"op {op_numbers[op_hash]}")

    try:
        run_ops(state, progress=progress)
    except DeployError as error:
        raise CaseError(f"the run stopped ({error}): raise FAIL_PERCENT") from error
    executed = time.perf_counter()
    checkpoints.take("executed")
    disconnect_all(state)
    state.finish()
    finished = time.perf_counter()
    cpu = cpu_seconds() - cpu_started
    checkpoints.take("finished")
    deploy_peak = peak_rss_mb()
    events_alive, stored_alive = _alive_event_objects(state.run_id)

    # Predicted after the run, so that its objects are not in the deploy's peak RSS.
    prediction = predict(
        names,
        plan,
        seed=seed,
        retries=retries,
        fail_rate=fail_rate,
        flaky_rate=flaky_rate,
        fail_percent=fail_percent,
    )
    _check_prediction(prediction, live_ops, state, plan)
    if state.view.run.status is None or state.view.run.status.value != "success":
        raise CaseError(f"the run ended {state.view.run.status}, not success")
    events = state.view.events_applied
    stored = log.last_event(state.run_id)
    if stored is None or stored.seq != events:
        raise CaseError(f"the log ends at {stored and stored.seq}, the State applied {events}")

    host_ops = {
        host.name: {
            op_results[host].op_hash: _host_op_expectation(op_results[host])
            for op_results in live_ops
            if op_results[host].success is not None
        }
        for host in state.inventory
    }
    document = {
        "run_id": state.run_id,
        "events": events,
        "view": state.view.snapshot(),
        "results": {host.name: state.results[host].as_dict() for host in state.inventory},
        "failed_hosts": sorted(host.name for host in state.failed_hosts),
        "host_ops": host_ops,
    }
    Path(expected).write_text(json.dumps(document, default=str), encoding="utf-8")
    # What the deploy stored for readers as it went: snapshots of its views, its overview.
    snapshot_rows = len(log.snapshots().entries(state.run_id))
    log.close()

    tally = Counter[str]()
    for predicted in prediction.ops.values():
        for p in predicted:
            tally["host_ops_run"] += 1
            tally["commands"] += p.commands_run
            tally["failed_commands"] += p.failed_commands
            tally["retried"] += p.retry_attempts > 0
            tally["retry_succeeded"] += p.retry_attempts > 0 and p.success
            tally["failed_for_good"] += not p.success and not p.ignored
            tally["ignored"] += p.ignored
    wanted = ["retry_succeeded", "failed_for_good"]
    wanted += ["ignored"] if any(spec.ignore_errors for spec in plan) else []
    if not all(tally[kind] for kind in wanted):
        raise CaseError(f"the faults did not make every kind of outcome: {dict(tally)}")

    samples = checkpoints.samples
    planned = hosts * ops
    execute_events = events - samples[2][1]
    total = finished - started
    return {
        "hosts": hosts,
        "ops": ops,
        "host_ops": planned,
        "run_id": state.run_id,
        "events": events,
        "setup_s": connected - started,
        "prepare_s": prepared - connected,
        "execute_s": executed - prepared,
        "finish_s": finished - executed,
        "total_s": total,
        "cpu_s": cpu,
        "events_per_s": events / total,
        **dict(tally),
        "failed_hosts": len(prediction.failed),
        "fault_rate": tally["failed_commands"] / tally["commands"],
        "db_mb": Path(path).stat().st_size / 2**20,
        "snapshot_rows": snapshot_rows,
        "deploy_peak_rss_mb": deploy_peak,
        "checkpoints": checkpoints.to_json(),
        "prepare_kb_per_host_op": (checkpoints.rss("prepared") - checkpoints.rss("connected"))
        * 1024
        / planned,
        "execute_b_per_event": (checkpoints.rss("executed") - checkpoints.rss("prepared"))
        * 2**20
        / max(1, execute_events),
        "run_kb_per_host_op": (checkpoints.rss("finished") - checkpoints.rss("start"))
        * 1024
        / planned,
        **_execute_growth(samples),
        "events_alive": events_alive,
        "stored_events_alive": stored_alive,
    }


# The fold


def _normal(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, default=str))


def _fold_host_op(record: Any) -> dict[str, Any]:
    """A folded host-op record, in the form of :func:`_host_op_expectation`.

    The log holds ``_retries`` only for an op that was retried or failed (see
    ``HostOp.max_retries``): elsewhere it is None, and the live value is
    compared only where the log can know it.
    """
    from eventstate.events import OpOutcome

    return {
        "success": None if record.outcome is None else record.outcome is OpOutcome.SUCCESS,
        "retry_attempts": record.retry_attempts,
        "max_retries": record.max_retries,
        "was_retried": record.was_retried,
        "retry_succeeded": record.retry_succeeded,
    }


def _live_as_logged(live: dict[str, Any]) -> dict[str, Any]:
    """The live retry info with ``max_retries`` as the log can know it."""
    knowable = live["retry_attempts"] > 0 or live["success"] is False
    return {**live, "max_retries": live["max_retries"] if knowable else None}


def _differences(label: str, live: dict[str, Any], folded: dict[str, Any]) -> list[str]:
    """The keys where ``live`` and ``folded`` differ, as short lines."""
    return [
        f"{label}[{key!r}]: live {live.get(key)!r}, fold {folded.get(key)!r}"
        for key in sorted(set(live) | set(folded), key=str)
        if live.get(key) != folded.get(key)
    ]


def longrun_fold(path: str, run: str, expected: str) -> Metrics:
    """Fold the run's log from disk and compare it with what the live State said.

    Compared: the whole State view (every projection's snapshot), each host's
    results, the failed hosts, and each host-op's retry info (``retry_attempts``,
    ``max_retries`` where the log holds it, ``was_retried``,
    ``retry_succeeded``, success). Any difference fails the case.

    Args:
        path: The deploy's SQLite log.
        run: Its run id.
        expected: The deploy's JSON file of the live State's results.
    """
    from eventstate import replay
    from eventstate.projections import HostOpsProjection, StateView

    cpu_started = cpu_seconds()
    started = time.perf_counter()
    with replay.open(path) as log:
        stored_run = log.run(run)
        view = StateView()
        host_ops = HostOpsProjection()
        apply_view, apply_host_ops = view.apply, host_ops.apply
        handled = set(HostOpsProjection.handlers)
        for event in stored_run.events():
            apply_view(event)
            if type(event) in handled:
                apply_host_ops(event)
    folded = time.perf_counter()
    cpu = cpu_seconds() - cpu_started
    fold_peak = peak_rss_mb()

    live = json.loads(Path(expected).read_text(encoding="utf-8"))
    mismatches: list[str] = []
    if view.events_applied != live["events"]:
        mismatches.append(f"events: live {live['events']}, fold {view.events_applied}")
    mismatches += _differences("view", live["view"], _normal(view.snapshot()))
    results = {name: view.results[name].as_dict() for name in view.results}
    mismatches += _differences("results", live["results"], results)
    failed = sorted(view.failed_hosts)
    if failed != live["failed_hosts"]:
        mismatches.append(f"failed hosts: live {len(live['failed_hosts'])}, fold {len(failed)}")
    compared = 0
    for host, ops in live["host_ops"].items():
        folded_ops = {
            record.op_hash: _fold_host_op(record)
            for record in host_ops.host_ops(host).values()
            if record.outcome is not None
        }
        if set(ops) != set(folded_ops):
            mismatches.append(f"{host}: live ran {len(ops)} ops, the fold {len(folded_ops)}")
        for op_hash, want in ops.items():
            if op_hash in folded_ops:
                compared += 1
                mismatches += _differences(
                    f"{host} {op_hash[:8]}", _live_as_logged(want), folded_ops[op_hash]
                )
    restored = StateView.from_json(view.to_json())
    if restored != view:
        mismatches.append("the fold's snapshot (to_json/from_json) differs from the fold")
    compared_s = time.perf_counter() - folded
    if mismatches:
        shown = "; ".join(mismatches[:SHOWN_MISMATCHES])
        raise CaseError(f"the fold differs from the live State in {len(mismatches)} ways: {shown}")
    return {
        "fold_s": folded - started,
        "fold_cpu_s": cpu,
        "events": view.events_applied,
        "events_per_s": view.events_applied / (folded - started),
        "compare_s": compared_s,
        "fold_peak_rss_mb": fold_peak,
        "hosts_compared": len(results),
        "host_ops_compared": compared,
        "failed_hosts": len(failed),
        "equal": True,
    }


#: The long run's cases, by the name ``python -m benchmarks.case`` takes.
CASES: dict[str, Callable[..., Metrics]] = {
    "longrun-deploy": longrun_deploy,
    "longrun-fold": longrun_fold,
}
