"""What ``python -m benchmarks`` measures, in full or ``--quick``, and the rows it makes.

Each ``measure_*`` function runs its cases through a :class:`Runner`
(repetition ``i`` of every variant back to back, so that the ratios compare
measurements taken under the same conditions) and adds rows to the sections
it is given. A failed case fails its rows, not the whole suite.
"""

from __future__ import annotations

import compileall
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import attrs

from benchmarks import plain_loop
from benchmarks.cases import (
    CLI_INVENTORIES,
    SSH_DEPLOYS,
    SSH_INVENTORY,
    cli_inventory_file,
    ssh_deploy_file,
)
from benchmarks.postgres import planned_runs, postgres_section
from benchmarks.report import Row, Section, Target
from benchmarks.runner import REPO_ROOT, Case, CaseFailed, Measurement, Runner
from benchmarks.ssh_testbed import running_testbed
from benchmarks.stats import Stat, ratios

__all__ = [
    "FULL",
    "QUICK",
    "Plan",
    "Sections",
    "measure_append",
    "measure_bridge",
    "measure_cli",
    "measure_deploys",
    "measure_longrun",
    "measure_rebuild",
    "measure_scaling",
    "measure_ssh",
]

Shape = tuple[int, int]

#: Peak RSS bound for a 1M-event deploy and for its rebuild (MiB).
RSS_LIMIT_MB = 300

#: The pyinfra deploy row's target: ours / pyinfra 3.10 wall time, both engines on one deploy.
BRIDGE_TARGET = 0.5

#: The whole-CLI row's target: ``eventstate deploy`` / ``pyinfra INVENTORY DEPLOY -y`` wall time.
CLI_TARGET = 0.07

#: The rebuild row's target: fold / plain read + ``orjson.loads`` events/s.
REBUILD_TARGET = 0.40

#: The append rows' target: ours / raw ``executemany`` events/s, at every size.
APPEND_TARGET = 0.70

#: The SSH rows' targets, ours / pyinfra wall time, by the relay's added delay (ms each way).
SSH_TARGETS = {0: 0.7, 5: 0.5}


@attrs.frozen
class Plan:
    """The sizes and repetitions of one benchmark mode.

    Attributes:
        mode: ``full`` or ``quick``.
        shapes: The deploy shapes compared with pyinfra, as (hosts, ops).
        cheap_reps: Repetitions of a deploy shape below ``big_from`` host-ops.
        big_reps: Repetitions of a deploy shape of ``big_from`` host-ops or more.
        big_from: Host-ops from which a deploy shape is big.
        append_events: Events the append cases write (the PostgreSQL group's size too).
        append_reps: Repetitions of the append cases, at each size.
        rebuild_shape: The deploy (hosts, ops) whose log the rebuild cases read.
        rebuild_reps: Repetitions of the rebuild cases.
        state_at_reps: Repetitions of the state_at case (and of the show and runs cases).
        state_at_samples: Random seeks per state_at case.
        scaling_hosts: Host counts of the host series (x ``scaling_base`` ops).
        scaling_ops: Op counts of the op series (x ``scaling_base`` hosts).
        ssh_shapes: The SSH deploy shapes compared with pyinfra, as (hosts, ops).
        ssh_latencies_ms: Delays the relay adds each way (0: no relay).
        ssh_reps: Repetitions of every SSH shape and delay.
        scaling_base: The fixed side of each scaling series.
        scaling_reps: Repetitions of every scaling point; None: as deploys (:meth:`reps`).
        longrun_hosts: Host counts of the long run (faults and retries; each run once).
        longrun_ops: Ops per host of the long run.
        bridge_shape: The pyinfra deploy run by both engines, as (hosts, ops).
        bridge_reps: Repetitions of the pyinfra deploy on each engine.
        append_sizes: The sizes of the SQLite append rows; empty: ``(append_events,)``.
        cli_shapes: The whole-CLI deploy shapes on instant hosts, as (hosts, ops).
        cli_reps: Repetitions of every whole-CLI shape.
    """

    mode: str
    shapes: tuple[Shape, ...]
    cheap_reps: int
    big_reps: int
    big_from: int
    append_events: int
    append_reps: int
    rebuild_shape: Shape
    rebuild_reps: int
    state_at_reps: int
    state_at_samples: int
    scaling_hosts: tuple[int, ...]
    scaling_ops: tuple[int, ...]
    ssh_shapes: tuple[Shape, ...]
    ssh_latencies_ms: tuple[int, ...]
    ssh_reps: int
    scaling_base: int = 10
    scaling_reps: int | None = None
    longrun_hosts: tuple[int, ...] = ()
    longrun_ops: int = 8
    bridge_shape: Shape = (100, 50)
    bridge_reps: int = 7
    append_sizes: tuple[int, ...] = ()
    cli_shapes: tuple[Shape, ...] = ((100, 100),)
    cli_reps: int = 3

    def append_series(self) -> tuple[int, ...]:
        """The event counts of the SQLite append rows, smallest first."""
        return self.append_sizes or (self.append_events,)

    def reps(self, hosts: int, ops: int) -> int:
        """Repetitions of a deploy of ``hosts`` x ``ops``."""
        return self.big_reps if hosts * ops >= self.big_from else self.cheap_reps

    def point_reps(self, hosts: int, ops: int) -> int:
        """Repetitions of the scaling point ``hosts`` x ``ops``."""
        return self.scaling_reps if self.scaling_reps is not None else self.reps(hosts, ops)

    def scaling_points(self) -> list[Shape]:
        """Every (hosts, ops) the scaling series run, each once."""
        points = [(hosts, self.scaling_base) for hosts in self.scaling_hosts]
        points += [(self.scaling_base, ops) for ops in self.scaling_ops]
        return list(dict.fromkeys(points))

    def runs(self) -> dict[str, int]:
        """How many case runs each group makes (for the progress counter)."""
        return {
            "deploy": sum(3 * self.reps(*shape) for shape in self.shapes),
            "append": 2 * self.append_reps * len(self.append_series()),
            "rebuild": 1 + 3 * self.rebuild_reps + 3 * self.state_at_reps,
            "cli": 2 * self.cli_reps * len(self.cli_shapes),
            "scaling": sum(2 * self.point_reps(*point) for point in self.scaling_points()),
            "ssh": 2 * self.ssh_reps * len(self.ssh_shapes) * len(self.ssh_latencies_ms),
            "longrun": 3 * len(self.longrun_hosts),
            "bridge": 1 + 2 * self.bridge_reps,
            "postgres": planned_runs(self),
            "loop": plain_loop.planned_runs(self),
        }

    def to_json(self) -> dict[str, object]:
        """The plan as plain values."""
        return attrs.asdict(self)


FULL = Plan(
    mode="full",
    shapes=((10, 100), (100, 100), (1000, 20), (1000, 100)),
    cheap_reps=5,
    big_reps=3,
    big_from=20_000,
    append_events=1_000_000,
    append_reps=3,
    rebuild_shape=(1000, 993),  # ~1,000,000 events (about one per host-op, and the run's own)
    rebuild_reps=3,
    state_at_reps=3,
    state_at_samples=50,
    scaling_hosts=(10, 100, 1000, 10_000),
    scaling_ops=(10, 100, 1000),
    ssh_shapes=((10, 50), (1, 200)),
    ssh_latencies_ms=(0, 5),
    ssh_reps=5,
    longrun_hosts=(1000, 10_000),
    append_sizes=(100_000, 1_000_000),
    cli_shapes=((100, 100),),
    cli_reps=3,
)

QUICK = Plan(
    mode="quick",
    shapes=((10, 100), (100, 100), (1000, 20)),
    cheap_reps=3,
    big_reps=1,
    big_from=10_000,
    append_events=100_000,
    append_reps=3,
    rebuild_shape=(1000, 100),  # ~101,000 events
    rebuild_reps=3,
    state_at_reps=3,
    state_at_samples=50,
    scaling_hosts=(10, 100, 1000),
    scaling_ops=(10, 100, 1000),
    ssh_shapes=((10, 10), (1, 40)),
    ssh_latencies_ms=(0, 5),
    ssh_reps=2,
    scaling_reps=1,
    longrun_hosts=(100, 1000),
    bridge_shape=(20, 50),
    bridge_reps=3,
    append_sizes=(100_000,),
    cli_shapes=((10, 100),),
    cli_reps=2,
)


@attrs.define
class Sections:
    """The sections of the report, filled by the ``measure_*`` functions."""

    deploy: Section = attrs.field(
        factory=lambda: Section(
            "Deploy vs pyinfra 3.10: total wall time",
            "H hosts x M ops, one instant command each; ratio = ours / pyinfra, per repetition"
            " (lower is better),\nmedian [min-max]; total = inventory + state + connect +"
            " prepare + execute + disconnect (+ finish), imports excluded.",
        )
    )
    cli: Section = attrs.field(
        factory=lambda: Section(
            "Deploy vs pyinfra 3.10: whole command line on instant hosts, wall time",
            "H hosts x M ops, each one server.shell 'echo N' that returns at once; ours ="
            " `eventstate deploy INVENTORY\nDEPLOY --db FILE` on @sim hosts (durable SQLite"
            " log), pyinfra = `pyinfra INVENTORY DEPLOY -y` on @bench\nhosts (an instant"
            " connector found through a throwaway pyinfra.connectors entry point); each a\n"
            "process, interpreter start-up and imports included. ratio = ours / pyinfra per"
            " repetition;\nus/host-op = wall / (H x M); MB = the command's peak RSS.",
        )
    )
    phases: Section = attrs.field(
        factory=lambda: Section(
            "Deploy phases (medians)",
            "prepare = the add_op loop, execute = run_ops; us/host-op = total / (H x M).",
        )
    )
    rss: Section = attrs.field(
        factory=lambda: Section(
            "Peak RSS (whole case process, ru_maxrss)",
            "ratio = ours / pyinfra per repetition; each case in a fresh interpreter.",
        )
    )
    append: Section = attrs.field(
        factory=lambda: Section(
            "Append path vs raw sqlite3 executemany",
            "ours = EventRecorder.record(HostOperationFinished, ...) into SqliteEventLog: encode +"
            " hash chain +\nbatched inserts, one transaction per batch ('batch' = the recorder's"
            " default size);\nthe apply callback is a no-op (no projections).\nraw = one"
            " executemany of pre-built rows of the same shape, one transaction. Same disk, same"
            " run.",
        )
    )
    rebuild: Section = attrs.field(
        factory=lambda: Section(
            "Rebuild vs plain read + orjson.loads",
            "fold = replay.open(path).run(id).state() with snapshots disabled (and the snapshot"
            " table emptied);\nplain = sqlite3 SELECT payload ... ORDER BY seq + orjson.loads of"
            " each (the ceiling: read and parse);\ncodec = the same SELECT + our"
            " EventCodec().decode of each, no fold (the old ceiling, shown, not judged).\nThe"
            " run is a real deploy's log (@sim hosts, SQLite log).",
        )
    )
    seek: Section = attrs.field(
        factory=lambda: Section(
            "Reads on the same run: Run.state_at(n), show, runs",
            "the log as its deploy left it (the snapshots it stored as it went, its overview at"
            " its end; nothing\nstored since). state_at = 50 random n (fixed seed) in a fresh"
            " process, the first call's time covering\nthe log's opening; the target is on"
            " p90. show / runs = `eventstate show RUN --db FILE` / `eventstate runs\n--db FILE`,"
            " each a fresh process (start-up and imports included), first call; in-process ="
            " the same\ncommand run again in the case's process (imports done); python -c pass"
            " and eventstate --help: the\nstart-up alone.",
        )
    )
    bridge: Section = attrs.field(
        factory=lambda: Section(
            "A pyinfra deploy through pyinfra 3.10's engine and through eventstate's: wall time",
            "one pyinfra deploy file (files.line/file/directory/put/template/link,"
            " server.shell/group/user, cycling)\nrun unchanged: pyinfra = State.init +"
            " connect_all + pyinfra_cli's load_deploy_file + run_ops on @canned hosts;\nours ="
            " eventstate.deploy.run_deploy through the bridge on @sim hosts, SQLite log on disk."
            " Both connectors\nanswer every command at once from one table of canned outputs."
            " 'same work' = a check run (both engines,\none process, untimed) found the same op"
            " commands in order and the same distinct fact commands on\nevery host, and every"
            " timed run's digest of them equals the check's. fact cmds = fact commands run,\n"
            "pyinfra / ours (pyinfra 3.10 caches no fact; ours caches per host). ratio ="
            " ours / pyinfra per repetition;\ncpu ratio = the same for the process's CPU"
            " time over the timed span (less moved by other jobs on the machine).",
        )
    )
    ssh: Section = attrs.field(
        factory=lambda: Section(
            "SSH deploys vs pyinfra 3.10: whole command line, wall time",
            "H hosts (loopback addresses of one sshd) x M ops, each one server.shell 'echo N';"
            " ours = `eventstate deploy\nINVENTORY DEPLOY --db FILE` (durable SQLite log),"
            " pyinfra = `pyinfra INVENTORY DEPLOY -y`, each a process\n(interpreter start-up"
            " and imports included); +N ms = a relay delaying each direction by N ms.\nratio ="
            " ours / pyinfra per repetition; ms/op = wall / M; MB = the command's peak RSS.",
        )
    )
    scaling: Section = attrs.field(
        factory=lambda: Section(
            "Scaling (ours, SQLite log): microseconds per host-op",
            "work = (prepare + execute) / host-ops; 'x first' = work over the series' first point"
            " (1.00 = linear);\ntotal adds the fixed costs (state, connect, finish); rebuild ="
            " the fold case on the deploy's own log,\nin its own process (its fixed open cost"
            " included). MB = peak RSS of each process.",
        )
    )
    longrun: Section = attrs.field(
        factory=lambda: Section(
            "Long runs: @sim deploy with random faults and retries, and the fold of its log",
            "H hosts x M ops (SQLite log), sim_fail_rate 5% (flaky- ops 20%), _retries=2."
            " s = wall, cpu s = the process's CPU\ntime (user + system) over the same span;"
            " fault % = failed commands of all run (retries included);\nretried ok = ops that"
            " succeeded on a retry; failed = ops that failed for good (each fails its host);\n"
            "fold = the log folded from disk in a fresh process and compared with the live State"
            " (view, results,\nfailed hosts, retry info): 'equal', or the case fails."
            " show s = `eventstate show RUN` on the log as the deploy\nleft it (a process, first"
            " call); snapshots = the rows the deploy stored (views and overview). deploy MB = the"
            " deploy's\npeak RSS (before it writes the live results out);"
            " exec B/ev = RSS growth over run_ops per event; alive = Event objects\nleft in"
            " memory after the run.",
        )
    )
    memory: Section = attrs.field(
        factory=lambda: Section(
            "Long runs: memory (current RSS at checkpoints of the deploy, MiB)",
            "start = State built; then after connect, after prepare, after each op, at the end."
            " per host = (deploy MB of the\nlargest run - of the smallest) / (hosts difference).",
        )
    )
    postgres: Section = attrs.field(factory=postgres_section)
    plain_loop: Section = attrs.field(factory=plain_loop.plain_loop_section)

    def all(self) -> list[Section]:
        """Every section, in report order."""
        return [
            self.deploy,
            self.cli,
            self.phases,
            self.rss,
            self.append,
            self.rebuild,
            self.seek,
            self.bridge,
            self.ssh,
            self.scaling,
            self.plain_loop,
            self.longrun,
            self.memory,
            self.postgres,
        ]


def _values(runs: list[Measurement], key: str) -> list[float]:
    return [float(run[key]) for run in runs]


def _rss(runs: list[Measurement]) -> list[float]:
    return [run.peak_rss_mb for run in runs]


def _median(runs: list[Measurement], key: str) -> float:
    return Stat.of(_values(runs, key)).median


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _shape(hosts: int, ops: int) -> str:
    return f"{hosts}x{ops}"


# Deploys


def measure_deploys(runner: Runner, plan: Plan, sections: Sections) -> None:
    """Every deploy shape: pyinfra, ours with a memory log, ours with a SQLite log."""
    for hosts, ops in plan.shapes:
        shape = _shape(hosts, ops)
        variants = {
            "pyinfra": Case("deploy-pyinfra", {"hosts": hosts, "ops": ops}),
            "memory": Case("deploy-ours", {"hosts": hosts, "ops": ops, "log": "memory"}),
            "sqlite": Case("deploy-ours", {"hosts": hosts, "ops": ops, "log": "sqlite"}),
        }
        runs: dict[str, list[Measurement]] = {name: [] for name in variants}
        try:
            reps = plan.reps(hosts, ops)
            for rep in range(reps):
                for name, case in variants.items():
                    runs[name].append(runner.run(case, f"deploy {shape} {name} {rep + 1}/{reps}"))
        except CaseFailed as error:
            for section in (sections.deploy, sections.rss):
                section.failed(shape, str(error))
            continue
        _deploy_rows(sections, shape, hosts * ops, runs)


def _deploy_rows(
    sections: Sections, shape: str, host_ops: int, runs: dict[str, list[Measurement]]
) -> None:
    base = runs["pyinfra"]
    targets = {
        "memory": Target.at_most(0.05, "<= 0.05x"),
        "sqlite": Target.at_most(0.10, "<= 0.10x"),
    }
    for log in ("memory", "sqlite"):
        ours = runs[log]
        total = ratios(_values(ours, "total_s"), _values(base, "total_s"))
        sections.deploy.add(
            Row(
                f"{shape} {log}",
                {
                    "reps": str(len(ours)),
                    "pyinfra s": Stat.of(_values(base, "total_s")).format(3),
                    "ours s": Stat.of(_values(ours, "total_s")).format(3),
                    "ours/pyinfra": total.format(3),
                    "prepare ratio": ratios(
                        _values(ours, "prepare_s"), _values(base, "prepare_s")
                    ).format(3),
                    "execute ratio": ratios(
                        _values(ours, "execute_s"), _values(base, "execute_s")
                    ).format(3),
                },
                {
                    "pyinfra_total_s": Stat.of(_values(base, "total_s")),
                    "ours_total_s": Stat.of(_values(ours, "total_s")),
                    "ratio_total": total,
                    "ratio_prepare": ratios(_values(ours, "prepare_s"), _values(base, "prepare_s")),
                    "ratio_execute": ratios(_values(ours, "execute_s"), _values(base, "execute_s")),
                },
                targets[log],
                total.median,
            )
        )
        rss = ratios(_rss(ours), _rss(base))
        sections.rss.add(
            Row(
                f"{shape} {log}",
                {
                    "pyinfra MB": Stat.of(_rss(base)).format(0),
                    "ours MB": Stat.of(_rss(ours)).format(0),
                    "ours/pyinfra": rss.format(2),
                },
                {"pyinfra_mb": Stat.of(_rss(base)), "ours_mb": Stat.of(_rss(ours)), "ratio": rss},
                Target.at_most(1.0, "<= 1.00x"),
                rss.median,
            )
        )
    for name in ("pyinfra", "memory", "sqlite"):
        measured = runs[name]
        sections.phases.add(
            Row(
                f"{shape} {'ours ' + name if name != 'pyinfra' else name}",
                {
                    "setup s": f"{_median(measured, 'setup_s'):.3f}",
                    "prepare s": f"{_median(measured, 'prepare_s'):.3f}",
                    "execute s": f"{_median(measured, 'execute_s'):.3f}",
                    "total s": f"{_median(measured, 'total_s'):.3f}",
                    "us/host-op": f"{_median(measured, 'total_s') / host_ops * 1e6:.1f}",
                    "events": f"{measured[0].metrics['events']:,}"
                    if "events" in measured[0].metrics
                    else "",
                    "peak MB": f"{Stat.of(_rss(measured)).median:.0f}",
                },
                {
                    key: Stat.of(_values(measured, key))
                    for key in ("setup_s", "prepare_s", "execute_s", "finish_s", "total_s")
                },
            )
        )


# The append path


def measure_append(runner: Runner, plan: Plan, sections: Sections, workdir: Path) -> None:
    """Our append path vs plain executemany, at each of ``plan.append_series()`` sizes."""
    for events in plan.append_series():
        _append_row(runner, plan, sections, workdir, events)


def _append_row(runner: Runner, plan: Plan, sections: Sections, workdir: Path, events: int) -> None:
    runs: dict[str, list[Measurement]] = {"ours": [], "raw": []}
    try:
        for rep in range(plan.append_reps):
            for name in runs:
                path = workdir / f"append-{name}.db"
                _remove_db(path)
                case = Case(f"append-{name}", {"events": events, "path": str(path)})
                label = f"append {events:,} {name} {rep + 1}/{plan.append_reps}"
                try:
                    runs[name].append(runner.run(case, label))
                finally:
                    _remove_db(path)
    except CaseFailed as error:
        sections.append.failed(f"{events:,} events", str(error))
        return
    ours, raw = runs["ours"], runs["raw"]
    ratio = ratios(_values(ours, "events_per_s"), _values(raw, "events_per_s"))
    sections.append.add(
        Row(
            f"{events:,} HostOperationFinished",
            {
                "reps": str(len(ours)),
                "ours ev/s": Stat.of(_values(ours, "events_per_s")).format(0),
                "raw ev/s": Stat.of(_values(raw, "events_per_s")).format(0),
                "ours/raw": ratio.format(3),
                "batch": f"{ours[-1].metrics.get('batch_size') or '?'}",
                "payload B": str(ours[0].metrics["payload_bytes"]),
                "ours MB": Stat.of(_rss(ours)).format(0),
            },
            {
                "events": events,
                "ours_events_per_s": Stat.of(_values(ours, "events_per_s")),
                "raw_events_per_s": Stat.of(_values(raw, "events_per_s")),
                "ratio": ratio,
                "ours_rss_mb": Stat.of(_rss(ours)),
                "raw_rss_mb": Stat.of(_rss(raw)),
            },
            Target.at_least(APPEND_TARGET, f">= {APPEND_TARGET:.2f}x"),
            ratio.median,
        )
    )


# Rebuild and seek


def measure_rebuild(runner: Runner, plan: Plan, sections: Sections, workdir: Path) -> None:
    """Write one deploy's log of about ``plan.rebuild_shape`` events, then read it back."""
    hosts, ops = plan.rebuild_shape
    path = workdir / "rebuild.db"
    _remove_db(path)
    try:
        source = runner.run(
            Case("deploy-ours", {"hosts": hosts, "ops": ops, "log": "sqlite", "path": str(path)}),
            "rebuild source deploy",
        )
    except CaseFailed as error:
        sections.rebuild.failed("source deploy", str(error))
        _remove_db(path)
        return
    events = int(source["events"])
    sections.rss.add(
        Row(
            f"deploy writing {events:,} events ({_shape(hosts, ops)}, SQLite)",
            {"ours MB": f"{source.peak_rss_mb:.0f}"},
            {"events": events, "ours_mb": source.peak_rss_mb, "total_s": source["total_s"]},
            Target.at_most(RSS_LIMIT_MB, f"< {RSS_LIMIT_MB} MB"),
            source.peak_rss_mb,
        )
    )
    args = {"path": str(path), "run": source["run_id"], "events": events}
    try:
        # The reads first, on the log as the deploy left it: the fold cases empty its
        # snapshot table.
        _state_at_rows(runner, plan, sections, args)
        _read_rows(runner, plan, sections, args)
        _fold_rows(runner, plan, sections, args)
    finally:
        _remove_db(path)


def _fold_rows(runner: Runner, plan: Plan, sections: Sections, args: dict[str, object]) -> None:
    events = int(args["events"])  # type: ignore[call-overload]
    runs: dict[str, list[Measurement]] = {"fold": [], "plain": [], "raw": []}
    try:
        for rep in range(plan.rebuild_reps):
            for name in runs:
                label = f"rebuild {name} {rep + 1}/{plan.rebuild_reps}"
                runs[name].append(runner.run(Case(f"rebuild-{name}", args), label))
    except CaseFailed as error:
        sections.rebuild.failed(f"fold {events:,} events", str(error))
        return
    fold, plain, codec = runs["fold"], runs["plain"], runs["raw"]
    ratio = ratios(_values(fold, "events_per_s"), _values(plain, "events_per_s"))
    codec_ratio = ratios(_values(fold, "events_per_s"), _values(codec, "events_per_s"))
    codec_share = ratios(_values(codec, "events_per_s"), _values(plain, "events_per_s"))
    sections.rebuild.add(
        Row(
            f"fold {events:,} events (snapshots {fold[0].metrics['snapshots']})",
            {
                "reps": str(len(fold)),
                "ours ev/s": Stat.of(_values(fold, "events_per_s")).format(0),
                "plain ev/s": Stat.of(_values(plain, "events_per_s")).format(0),
                "ours/plain": ratio.format(3),
                "codec ev/s": Stat.of(_values(codec, "events_per_s")).format(0),
                "ours/codec": codec_ratio.format(3),
                "codec/plain": codec_share.format(3),
            },
            {
                "fold_events_per_s": Stat.of(_values(fold, "events_per_s")),
                "plain_events_per_s": Stat.of(_values(plain, "events_per_s")),
                "codec_events_per_s": Stat.of(_values(codec, "events_per_s")),
                "fold_s": Stat.of(_values(fold, "rebuild_s")),
                "open_s": Stat.of(_values(fold, "open_s")),
                "ratio": ratio,
                "ratio_codec": codec_ratio,
                "codec_over_plain": codec_share,
            },
            Target.at_least(REBUILD_TARGET, f">= {REBUILD_TARGET:.2f}x"),
            ratio.median,
        )
    )
    sections.rss.add(
        Row(
            f"rebuild (fold) of {events:,} events",
            {"ours MB": Stat.of(_rss(fold)).format(0)},
            {"events": events, "ours_mb": Stat.of(_rss(fold)), "raw_mb": Stat.of(_rss(codec))},
            Target.at_most(RSS_LIMIT_MB, f"< {RSS_LIMIT_MB} MB"),
            Stat.of(_rss(fold)).median,
        )
    )


def _state_at_rows(runner: Runner, plan: Plan, sections: Sections, args: dict[str, object]) -> None:
    events = int(args["events"])  # type: ignore[call-overload]
    seek_args = {**args, "samples": plan.state_at_samples}
    seek_args.pop("events")
    try:
        runs = [
            runner.run(Case("state-at", seek_args), f"state_at {rep + 1}/{plan.state_at_reps}")
            for rep in range(plan.state_at_reps)
        ]
    except CaseFailed as error:
        sections.seek.failed("state_at", str(error))
        return
    latencies = [value for run in runs for value in run["latencies_ms"]]
    p90 = Stat.of(_values(runs, "p90_ms"))
    sections.seek.add(
        Row(
            f"state_at(n), {plan.state_at_samples} random n of {events:,}",
            {
                "reps": str(len(runs)),
                "median ms": Stat.of(_values(runs, "median_ms")).format(1),
                "p90 ms": p90.format(1),
                "max ms": Stat.of(_values(runs, "max_ms")).format(1),
            },
            {
                "median_ms": Stat.of(_values(runs, "median_ms")),
                "p90_ms": p90,
                "max_ms": Stat.of(_values(runs, "max_ms")),
                "latencies_ms": latencies,
            },
            Target.at_most(50, "p90 <= 50 ms"),
            p90.median,
        )
    )
    sections.seek.add(
        Row(
            "  first call (log opened, then state_at)",
            {
                "reps": str(len(runs)),
                "median ms": Stat.of(_values(runs, "first_ms")).format(1),
                "snapshots": f"{runs[0]['snapshot_rows']} rows, {runs[0]['snapshot_mb']:,.1f} MB"
                f" (log {runs[0]['log_mb']:,.0f} MB)",
            },
            {
                "first_ms": Stat.of(_values(runs, "first_ms")),
                "open_ms": Stat.of(_values(runs, "open_ms")),
                "snapshot_rows": runs[0]["snapshot_rows"],
                "snapshot_mb": runs[0]["snapshot_mb"],
                "log_mb": runs[0]["log_mb"],
            },
            Target.at_most(50, "<= 50 ms"),
            Stat.of(_values(runs, "first_ms")).median,
        )
    )
    sections.rss.add(
        Row(
            f"state_at case (seeks, no warm pass) on {events:,} events",
            {"ours MB": Stat.of(_rss(runs)).format(0)},
            {"events": events, "ours_mb": Stat.of(_rss(runs))},
        )
    )


#: The show and runs rows' target: the whole process, first call, seconds.
READ_TARGET_S = 1.0


def _read_rows(runner: Runner, plan: Plan, sections: Sections, args: dict[str, object]) -> None:
    events = int(args["events"])  # type: ignore[call-overload]
    for command in ("show", "runs"):
        case_args = {"path": args["path"], "run": args["run"], "command": command}
        try:
            runs = [
                runner.run(Case("read-cli", case_args), f"{command} {rep + 1}/{plan.state_at_reps}")
                for rep in range(plan.state_at_reps)
            ]
        except CaseFailed as error:
            sections.seek.failed(command, str(error))
            continue
        process = Stat.of(_values(runs, "process_s"))
        sections.seek.add(
            Row(
                f"eventstate {command}{' RUN' if command == 'show' else ''} on {events:,} events",
                {
                    "reps": str(len(runs)),
                    "process s": process.format(3),
                    "in-process s": Stat.of(_values(runs, "in_process_s")).format(3),
                    "python -c pass s": Stat.of(_values(runs, "python_s")).format(3),
                    "--help s": Stat.of(_values(runs, "help_s")).format(3),
                    "MB": Stat.of(_values(runs, "peak_rss_child_mb")).format(0),
                },
                {
                    "process_s": process,
                    "in_process_s": Stat.of(_values(runs, "in_process_s")),
                    "python_s": Stat.of(_values(runs, "python_s")),
                    "help_s": Stat.of(_values(runs, "help_s")),
                },
                Target.at_most(READ_TARGET_S, f"< {READ_TARGET_S:.0f} s"),
                process.median,
            )
        )


# Scaling


def measure_scaling(runner: Runner, plan: Plan, sections: Sections, workdir: Path) -> None:
    """Ours (SQLite log) across host counts and op counts: cost per host-op, and memory."""
    results: dict[Shape, tuple[list[Measurement], list[Measurement]] | str] = {}
    for hosts, ops in plan.scaling_points():
        path = workdir / f"scaling-{hosts}x{ops}.db"
        deploys: list[Measurement] = []
        folds: list[Measurement] = []
        reps = plan.point_reps(hosts, ops)
        try:
            for rep in range(reps):
                _remove_db(path)
                label = f"scaling {_shape(hosts, ops)} {rep + 1}/{reps}"
                deploy = runner.run(
                    Case(
                        "deploy-ours",
                        {"hosts": hosts, "ops": ops, "log": "sqlite", "path": str(path)},
                    ),
                    label + " deploy",
                )
                deploys.append(deploy)
                fold_args = {"path": str(path), "run": deploy["run_id"], "events": deploy["events"]}
                folds.append(runner.run(Case("rebuild-fold", fold_args), label + " rebuild"))
            results[(hosts, ops)] = (deploys, folds)
        except CaseFailed as error:
            results[(hosts, ops)] = str(error)
        finally:
            _remove_db(path)

    for series, points in _series(plan):
        first: float | None = None
        for hosts, ops in points:
            label = f"{series}: {hosts} hosts x {ops} ops"
            result = results[(hosts, ops)]
            if isinstance(result, str):
                sections.scaling.failed(label, result)
                continue
            deploys, folds = result
            host_ops = hosts * ops

            def per_op(runs: list[Measurement], key: str, host_ops: int = host_ops) -> float:
                return _median(runs, key) / host_ops * 1e6

            work = per_op(deploys, "prepare_s") + per_op(deploys, "execute_s")
            first = first if first is not None else work
            sections.scaling.add(
                Row(
                    label,
                    {
                        "reps": str(len(deploys)),
                        "events": f"{deploys[0]['events']:,}",
                        "prepare": f"{per_op(deploys, 'prepare_s'):.1f}",
                        "execute": f"{per_op(deploys, 'execute_s'):.1f}",
                        "work": f"{work:.1f}",
                        "x first": f"{work / first:.2f}",
                        "total": f"{per_op(deploys, 'total_s'):.1f}",
                        "rebuild": f"{per_op(folds, 'rebuild_s'):.1f}",
                        "deploy MB": f"{Stat.of(_rss(deploys)).median:.0f}",
                        "rebuild MB": f"{Stat.of(_rss(folds)).median:.0f}",
                    },
                    {
                        "hosts": hosts,
                        "ops": ops,
                        "events": deploys[0]["events"],
                        "prepare_s": Stat.of(_values(deploys, "prepare_s")),
                        "execute_s": Stat.of(_values(deploys, "execute_s")),
                        "total_s": Stat.of(_values(deploys, "total_s")),
                        "rebuild_s": Stat.of(_values(folds, "rebuild_s")),
                        "deploy_rss_mb": Stat.of(_rss(deploys)),
                        "rebuild_rss_mb": Stat.of(_rss(folds)),
                        "work_us_per_host_op": work,
                        "vs_first": work / first,
                    },
                )
            )


def _series(plan: Plan) -> Iterator[tuple[str, list[Shape]]]:
    yield "hosts", [(hosts, plan.scaling_base) for hosts in plan.scaling_hosts]
    yield "ops", [(plan.scaling_base, ops) for ops in plan.scaling_ops]


# A pyinfra deploy through both engines


def measure_bridge(runner: Runner, plan: Plan, sections: Sections) -> None:
    """The pyinfra deploy through pyinfra's engine and ours: checked alike, then timed."""
    hosts, ops = plan.bridge_shape
    label = f"{_shape(hosts, ops)} pyinfra deploy"
    args = {"hosts": hosts, "ops": ops}
    runs: dict[str, list[Measurement]] = {"pyinfra": [], "ours": []}
    try:
        check = runner.run(Case("pyinfra-deploy-check", args), "bridge same-work check")
        for rep in range(plan.bridge_reps):
            for side in runs:
                case = Case(f"pyinfra-deploy-{side}", args)
                runs[side].append(runner.run(case, f"bridge {side} {rep + 1}/{plan.bridge_reps}"))
    except CaseFailed as error:
        sections.bridge.failed(label, str(error))
        return
    digest = check["digest"]
    differing = [m for side in runs.values() for m in side if m["digest"] != digest]
    if differing:
        sections.bridge.failed(
            label, f"{len(differing)} timed runs did other work than the check run found"
        )
        return
    base, ours = runs["pyinfra"], runs["ours"]
    total = ratios(_values(ours, "total_s"), _values(base, "total_s"))
    prepare = ratios(_values(ours, "prepare_s"), _values(base, "prepare_s"))
    execute = ratios(_values(ours, "execute_s"), _values(base, "execute_s"))
    cpu = ratios(_values(ours, "cpu_s"), _values(base, "cpu_s"))
    host_ops = hosts * ops
    sections.bridge.add(
        Row(
            label,
            {
                "reps": str(len(ours)),
                "pyinfra s": Stat.of(_values(base, "total_s")).format(3),
                "ours s": Stat.of(_values(ours, "total_s")).format(3),
                "ours/pyinfra": total.format(3),
                "prepare ratio": prepare.format(3),
                "execute ratio": execute.format(3),
                "cpu ratio": cpu.format(3),
                "us/host-op": f"{_median(base, 'total_s') / host_ops * 1e6:.0f} /"
                f" {_median(ours, 'total_s') / host_ops * 1e6:.0f}",
                "op cmds": f"{check['ours']['op_commands']:,}",
                "fact cmds": f"{check['pyinfra']['fact_commands_run']:,} /"
                f" {check['ours']['fact_commands_run']:,}",
                "events": f"{ours[0]['events']:,}",
                "MB": f"{Stat.of(_rss(base)).median:.0f} / {Stat.of(_rss(ours)).median:.0f}",
                "same work": "yes",
            },
            {
                "hosts": hosts,
                "ops": ops,
                "pyinfra_total_s": Stat.of(_values(base, "total_s")),
                "ours_total_s": Stat.of(_values(ours, "total_s")),
                "ratio_total": total,
                "ratio_prepare": prepare,
                "ratio_execute": execute,
                "ratio_cpu": cpu,
                "pyinfra_phases_s": {
                    key: Stat.of(_values(base, key)) for key in ("prepare_s", "execute_s", "cpu_s")
                },
                "ours_phases_s": {
                    key: Stat.of(_values(ours, key)) for key in ("prepare_s", "execute_s", "cpu_s")
                },
                "check": check.metrics,
                "events": ours[0]["events"],
                "pyinfra_rss_mb": Stat.of(_rss(base)),
                "ours_rss_mb": Stat.of(_rss(ours)),
            },
            Target.at_most(BRIDGE_TARGET, f"<= {BRIDGE_TARGET:.2f}x"),
            total.median,
        )
    )


# Whole command lines on instant hosts


def measure_cli(runner: Runner, plan: Plan, sections: Sections, workdir: Path) -> None:
    """Each whole-CLI shape: ``pyinfra INVENTORY DEPLOY -y``, then ``eventstate deploy``.

    Our package's bytecode is compiled first: pyinfra's was, when pip installed it, and
    an editable install under ``PYTHONDONTWRITEBYTECODE`` would otherwise compile ours
    from source in every process (reading ``.pyc`` files is not writing them).
    """
    compileall.compile_dir(str(REPO_ROOT / "eventstate"), quiet=1)
    for root in ("projections", "replay"):
        compileall.compile_dir(str(REPO_ROOT / root), quiet=1)
    for hosts, ops in plan.cli_shapes:
        directory = workdir / f"cli-{_shape(hosts, ops)}"
        directory.mkdir()
        for side, name in SSH_DEPLOYS.items():
            (directory / name).write_text(ssh_deploy_file(side, ops))
            (directory / CLI_INVENTORIES[side]).write_text(cli_inventory_file(side, hosts))
        _cli_row(runner, plan, sections, directory, hosts, ops)


def _cli_row(
    runner: Runner, plan: Plan, sections: Sections, directory: Path, hosts: int, ops: int
) -> None:
    label = f"{_shape(hosts, ops)} whole CLI"
    args = {"hosts": hosts, "ops": ops, "path": str(directory)}
    runs: dict[str, list[Measurement]] = {"pyinfra": [], "ours": []}
    try:
        for rep in range(plan.cli_reps):
            for side in runs:
                case = Case(f"cli-{side}", args)
                runs[side].append(runner.run(case, f"cli {label} {side} {rep + 1}/{plan.cli_reps}"))
    except CaseFailed as error:
        sections.cli.failed(label, str(error))
        return
    base, ours = runs["pyinfra"], runs["ours"]
    total = ratios(_values(ours, "total_s"), _values(base, "total_s"))
    host_ops = hosts * ops
    sections.cli.add(
        Row(
            label,
            {
                "reps": str(len(ours)),
                "pyinfra s": Stat.of(_values(base, "total_s")).format(3),
                "ours s": Stat.of(_values(ours, "total_s")).format(3),
                "ours/pyinfra": total.format(3),
                "us/host-op": f"{_median(base, 'total_s') / host_ops * 1e6:.0f} /"
                f" {_median(ours, 'total_s') / host_ops * 1e6:.0f}",
                "events": f"{ours[0]['events']:,}",
                "MB": f"{_median(base, 'cli_peak_rss_mb'):.0f} /"
                f" {_median(ours, 'cli_peak_rss_mb'):.0f}",
            },
            {
                "hosts": hosts,
                "ops": ops,
                "pyinfra_total_s": Stat.of(_values(base, "total_s")),
                "ours_total_s": Stat.of(_values(ours, "total_s")),
                "ratio_total": total,
                "pyinfra_cli_rss_mb": Stat.of(_values(base, "cli_peak_rss_mb")),
                "ours_cli_rss_mb": Stat.of(_values(ours, "cli_peak_rss_mb")),
                "events": ours[0]["events"],
            },
            Target.at_most(CLI_TARGET, f"<= {CLI_TARGET:.2f}x"),
            total.median,
        )
    )


# SSH


def _ssh_label(hosts: int, ops: int, latency_ms: int) -> str:
    return f"{_shape(hosts, ops)} +{latency_ms} ms"


def measure_ssh(runner: Runner, plan: Plan, sections: Sections, workdir: Path) -> None:
    """Each SSH shape and delay: pyinfra's CLI, then ours, against one sshd on loopback.

    The sshd runs in this process for the whole group; the relay (its own
    process) only for the rows with a delay.
    """
    pending = [
        (hosts, ops, latency) for latency in plan.ssh_latencies_ms for hosts, ops in plan.ssh_shapes
    ]
    try:
        most = max(hosts for hosts, _ in plan.ssh_shapes)
        with running_testbed(workdir / "sshd", most) as testbed:
            for latency in plan.ssh_latencies_ms:
                relayed = testbed.relayed(latency) if latency else contextlib.nullcontext()
                with relayed:
                    for hosts, ops in plan.ssh_shapes:
                        directory = workdir / f"ssh-{_shape(hosts, ops)}-{latency}ms"
                        directory.mkdir()
                        testbed.inventory(directory / SSH_INVENTORY, hosts)
                        for side, name in SSH_DEPLOYS.items():
                            (directory / name).write_text(ssh_deploy_file(side, ops))
                        _ssh_row(runner, plan, sections, directory, hosts, ops, latency)
                        pending.remove((hosts, ops, latency))
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        for hosts, ops, latency in pending:
            sections.ssh.failed(_ssh_label(hosts, ops, latency), f"no sshd: {error}")


def _ssh_row(
    runner: Runner,
    plan: Plan,
    sections: Sections,
    directory: Path,
    hosts: int,
    ops: int,
    latency: int,
) -> None:
    label = _ssh_label(hosts, ops, latency)
    args = {"hosts": hosts, "ops": ops, "latency_ms": latency, "path": str(directory)}
    runs: dict[str, list[Measurement]] = {"pyinfra": [], "ours": []}
    try:
        for rep in range(plan.ssh_reps):
            for side in runs:
                case = Case(f"ssh-{side}", args)
                runs[side].append(runner.run(case, f"ssh {label} {side} {rep + 1}/{plan.ssh_reps}"))
    except CaseFailed as error:
        sections.ssh.failed(label, str(error))
        return
    base, ours = runs["pyinfra"], runs["ours"]
    total = ratios(_values(ours, "total_s"), _values(base, "total_s"))
    limit = SSH_TARGETS.get(latency)
    sections.ssh.add(
        Row(
            label,
            {
                "reps": str(len(ours)),
                "pyinfra s": Stat.of(_values(base, "total_s")).format(3),
                "ours s": Stat.of(_values(ours, "total_s")).format(3),
                "ours/pyinfra": total.format(3),
                "pyinfra ms/op": f"{_median(base, 'total_s') / ops * 1000:.1f}",
                "ours ms/op": f"{_median(ours, 'total_s') / ops * 1000:.1f}",
                "pyinfra MB": f"{_median(base, 'cli_peak_rss_mb'):.0f}",
                "ours MB": f"{_median(ours, 'cli_peak_rss_mb'):.0f}",
            },
            {
                "hosts": hosts,
                "ops": ops,
                "latency_ms": latency,
                "pyinfra_total_s": Stat.of(_values(base, "total_s")),
                "ours_total_s": Stat.of(_values(ours, "total_s")),
                "ratio_total": total,
                "pyinfra_cli_rss_mb": Stat.of(_values(base, "cli_peak_rss_mb")),
                "ours_cli_rss_mb": Stat.of(_values(ours, "cli_peak_rss_mb")),
                "events": ours[0]["events"],
            },
            Target.at_most(limit, f"<= {limit:.2f}x") if limit is not None else None,
            total.median,
        )
    )


# Long runs


def measure_longrun(runner: Runner, plan: Plan, sections: Sections, workdir: Path) -> None:
    """The long run at each size: the deploy (faults, retries), then its fold in a new process."""
    done: list[tuple[int, Measurement]] = []
    for hosts in plan.longrun_hosts:
        label = f"{hosts:,} hosts x {plan.longrun_ops} ops"
        path = workdir / f"longrun-{hosts}.db"
        expected = workdir / f"longrun-{hosts}.json"
        _remove_db(path)
        try:
            args = {"hosts": hosts, "ops": plan.longrun_ops, "path": str(path)}
            deploy = runner.run(
                Case("longrun-deploy", {**args, "expected": str(expected)}), f"longrun {label}"
            )
            # show first, on the log as the deploy left it (its snapshots, its overview).
            shown = runner.run(
                Case("read-cli", {"path": str(path), "run": deploy["run_id"], "command": "show"}),
                f"longrun {label} show",
            )
            fold_args = {"path": str(path), "run": deploy["run_id"], "expected": str(expected)}
            fold = runner.run(Case("longrun-fold", fold_args), f"longrun {label} fold")
        except CaseFailed as error:
            sections.longrun.failed(label, str(error))
            continue
        finally:
            _remove_db(path)
            expected.unlink(missing_ok=True)
        done.append((hosts, deploy))
        _longrun_row(sections, label, deploy, fold, shown)
    _longrun_memory_rows(sections, done)


def _longrun_row(
    sections: Sections, label: str, deploy: Measurement, fold: Measurement, shown: Measurement
) -> None:
    m = deploy.metrics
    peak = float(m["deploy_peak_rss_mb"])
    sections.longrun.add(
        Row(
            label,
            {
                "events": f"{m['events']:,}",
                "deploy s": f"{m['total_s']:.1f}",
                "cpu s": f"{m['cpu_s']:.1f}",
                "ev/s": f"{m['events_per_s']:,.0f}",
                "fault %": f"{m['fault_rate'] * 100:.1f}",
                "retried ok": f"{m['retry_succeeded']:,}",
                "failed": f"{m['failed_for_good']:,}",
                "ignored": f"{m['ignored']:,}",
                "fold s": f"{fold['fold_s']:.1f}",
                "fold cpu s": f"{fold['fold_cpu_s']:.1f}",
                "fold": "equal" if fold["equal"] else "MISMATCH",
                "show s": f"{shown['process_s']:.2f}",
                "snapshots": f"{m.get('snapshot_rows', '?')}",
                "deploy MB": f"{peak:.0f}",
                "fold MB": f"{fold['fold_peak_rss_mb']:.0f}",
                "exec B/ev": f"{m['execute_b_per_event']:.0f}",
                "alive": str(m["events_alive"] + m["stored_events_alive"]),
            },
            {
                "deploy": {key: value for key, value in m.items() if key != "checkpoints"},
                "fold": fold.metrics,
                "show": shown.metrics,
                "deploy_process_rss_mb": deploy.peak_rss_mb,
                "fold_process_rss_mb": fold.peak_rss_mb,
            },
            Target.at_most(RSS_LIMIT_MB, f"< {RSS_LIMIT_MB} MB"),
            max(peak, float(fold["fold_peak_rss_mb"])),
        )
    )


def _longrun_memory_rows(sections: Sections, done: list[tuple[int, Measurement]]) -> None:
    for hosts, deploy in done:
        samples = deploy["checkpoints"]
        cells = {sample["at"]: f"{sample['rss_mb']:.0f}" for sample in samples}
        sections.memory.add(
            Row(
                f"{hosts:,} hosts: {deploy['events']:,} events",
                cells,
                {
                    "checkpoints": samples,
                    "prepare_kb_per_host_op": deploy["prepare_kb_per_host_op"],
                },
            )
        )
    if len(done) >= 2:
        (small, first), (big, last) = done[0], done[-1]
        grown = last["deploy_peak_rss_mb"] - first["deploy_peak_rss_mb"]
        per_host = grown * 1024 / (big - small)
        sections.memory.add(
            Row(
                f"per host, {small:,} -> {big:,} hosts",
                {"finished": f"{per_host:.1f} KB"},
                {
                    "kb_per_host": per_host,
                    "kb_per_host_op": per_host / int(last["ops"]),
                    "events": [first["events"], last["events"]],
                },
            )
        )
