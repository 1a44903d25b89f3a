"""The plain-loop rows: a deploy file that calls an op in a plain ``for`` loop.

Without ``host.loop`` every call in the loop has the same call site, so pyinfra's
op order gives each the same hash and then a chain of duplicate hashes
(``HASH``, ``HASH-0``, ``HASH-0-1``...). Our cost per host-op must not grow
with the loop's length: the target is the work per host-op at ``LONG_OPS`` ops
within ``LOOP_TARGET`` times that at ``SHORT_OPS``.

Case (each run in its own process, as every case):

* ``deploy-plain-loop``: ``run_deploy`` of a deploy file
  ``for i in range(OPS): server.shell(commands=[f"echo {i}"])`` on ``hosts``
  ``@sim`` hosts (instant), into a memory or SQLite log; the clock covers the
  whole run (connect, prepare -- the loop --, execute, disconnect, finish).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.cases import CaseError, Metrics
from benchmarks.report import Row, Section, Target
from benchmarks.stats import Stat, ratios

if TYPE_CHECKING:  # the runner imports the cases (benchmarks.case), these among them
    from benchmarks.runner import Measurement, Runner
    from benchmarks.suite import Plan, Sections

__all__ = [
    "CASES",
    "HOSTS",
    "LONG_OPS",
    "LOOP_TARGET",
    "QUICK_LONG_OPS",
    "SHORT_OPS",
    "deploy_plain_loop",
    "measure_plain_loop",
    "plain_loop_section",
    "planned_runs",
]

#: Hosts of every plain-loop deploy.
HOSTS = 100
#: The short loop, the reference.
SHORT_OPS = 100
#: The long loop, judged against the short one (``--quick``: :data:`QUICK_LONG_OPS`).
LONG_OPS = 2000
#: The long loop of a ``--quick`` run.
QUICK_LONG_OPS = 300
#: The target: work per host-op of the long loop / of the short loop, at most.
LOOP_TARGET = 1.5

_DEPLOY_FILE = """\
from eventstate.operations import server

for i in range({ops}):
    server.shell(commands=[f"echo {{i}}"])
"""


def deploy_plain_loop(hosts: int, ops: int, log: str = "sqlite") -> Metrics:
    """``run_deploy`` of an ``ops``-long plain loop of ``server.shell`` on ``hosts`` ``@sim``
    hosts, into a ``memory`` or ``sqlite`` log."""
    from eventstate import Config, Inventory, MemoryEventLog, SqliteEventLog, State
    from eventstate.deploy import compile_deploy_file, run_deploy
    from eventstate.events import RunStatus

    scratch = Path(tempfile.mkdtemp(prefix="eventstate-bench-loop-"))
    try:
        deploy_file = scratch / "deploy.py"
        deploy_file.write_text(_DEPLOY_FILE.format(ops=ops))
        code = compile_deploy_file(deploy_file)
        names = [f"@sim/h{i}" for i in range(hosts)]
        started = time.perf_counter()
        if log == "memory":
            event_log: Any = MemoryEventLog()
        elif log == "sqlite":
            event_log = SqliteEventLog(str(scratch / "events.db"))
        else:
            raise CaseError(f"unknown log {log!r}: memory or sqlite")
        state = State(Inventory((names, {})), Config(), log=event_log)
        status = run_deploy(state, str(deploy_file), code)
        finished = time.perf_counter()
        if status != RunStatus.SUCCESS:
            raise CaseError(f"the plain-loop deploy ended {status.value}")
        wrong = sum(1 for host in state.inventory if state.results[host].success_ops != ops)
        if wrong:
            raise CaseError(f"{wrong} hosts did not run {ops} ops")
        last = event_log.last_event(state.run_id)
        events = last.seq if last else 0
        event_log.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    total = finished - started
    return {
        "total_s": total,
        "events": events,
        "host_ops": hosts * ops,
        "us_per_host_op": total / (hosts * ops) * 1e6,
    }


#: The cases of this module, by name (:mod:`benchmarks.case` runs them).
CASES: dict[str, Callable[..., Metrics]] = {"deploy-plain-loop": deploy_plain_loop}


# The rows


def plain_loop_section() -> Section:
    """The report's section of the plain-loop rows."""
    return Section(
        "Plain loop: an op called in a plain for loop (pyinfra's duplicate hashes)",
        f"deploy file: for i in range(M): server.shell(commands=[f'echo {{i}}']), run by"
        f" run_deploy on {HOSTS} @sim hosts\n(instant); us/host-op = the whole run's wall time"
        f" / (hosts x M). ratio = us/host-op at M={LONG_OPS:,} ({QUICK_LONG_OPS} with --quick)"
        f" / at M={SHORT_OPS},\nper repetition (the two run back to back), median [min-max].",
    )


def planned_runs(plan: Plan) -> int:
    """How many case runs :func:`measure_plain_loop` makes under ``plan``."""
    return 2 * 2 * _reps(plan)


def _reps(plan: Plan) -> int:
    return plan.reps(HOSTS, _long_ops(plan))


def _long_ops(plan: Plan) -> int:
    return LONG_OPS if plan.mode == "full" else QUICK_LONG_OPS


def measure_plain_loop(
    runner: Runner,
    plan: Plan,
    sections: Sections,
    *,
    hosts: int = HOSTS,
    ops: tuple[int, int] | None = None,
) -> None:
    """One row per log: us/host-op of the short and the long loop, and their ratio.

    ``ops`` is (short, long), by default (:data:`SHORT_OPS`, the plan's long loop).
    """
    from benchmarks.runner import Case, CaseFailed

    section = sections.plain_loop
    short_ops, long_ops = ops if ops is not None else (SHORT_OPS, _long_ops(plan))
    reps = plan.reps(hosts, long_ops)
    for log in ("memory", "sqlite"):
        label = f"{hosts} hosts, {log} log"
        runs: dict[int, list[Measurement]] = {short_ops: [], long_ops: []}
        try:
            for rep in range(reps):
                for count in (short_ops, long_ops):
                    runs[count].append(
                        runner.run(
                            Case("deploy-plain-loop", {"hosts": hosts, "ops": count, "log": log}),
                            f"plain loop {hosts}x{count} {log} {rep + 1}/{reps}",
                        )
                    )
        except CaseFailed as error:
            section.failed(label, str(error))
            continue

        def per_host_op(count: int, runs: dict[int, list[Measurement]] = runs) -> list[float]:
            return [float(run.metrics["us_per_host_op"]) for run in runs[count]]

        short, long = per_host_op(short_ops), per_host_op(long_ops)
        ratio = ratios(long, short)
        section.add(
            Row(
                label,
                {
                    "reps": str(reps),
                    f"us/host-op, {short_ops:,} ops": Stat.of(short).format(1),
                    f"us/host-op, {long_ops:,} ops": Stat.of(long).format(1),
                    "ratio": ratio.format(3),
                },
                {
                    "short_ops": short_ops,
                    "long_ops": long_ops,
                    "short_us_per_host_op": Stat.of(short),
                    "long_us_per_host_op": Stat.of(long),
                    "ratio": ratio,
                },
                Target.at_most(LOOP_TARGET, f"<= {LOOP_TARGET:.2f}x"),
                ratio.median,
            )
        )
