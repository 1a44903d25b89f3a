"""``python -m benchmarks [--quick] [--output PATH]``: run the suite, print and save the table.

Progress goes to stderr, the table to stdout, and the table with every raw
measurement to ``--output`` (``benchmarks/results/latest.json`` by default).
Exits 1 when a case failed (a wrong result, or a crash), 0 otherwise --
whether targets are met or missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from benchmarks.plain_loop import measure_plain_loop
from benchmarks.postgres import measure_postgres
from benchmarks.report import FAILED, render, write_json
from benchmarks.runner import REPO_ROOT, Runner
from benchmarks.suite import (
    FULL,
    QUICK,
    Plan,
    Sections,
    measure_append,
    measure_bridge,
    measure_cli,
    measure_deploys,
    measure_longrun,
    measure_rebuild,
    measure_scaling,
    measure_ssh,
)

__all__ = ["DEFAULT_OUTPUT", "main"]

#: Where the results go unless ``--output`` says otherwise (meant to be committed).
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"

#: The groups of cases, in the order they run (``--only`` picks some).
GROUPS = (
    "deploy",
    "cli",
    "append",
    "rebuild",
    "bridge",
    "ssh",
    "scaling",
    "loop",
    "longrun",
    "postgres",
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="eventstate vs pyinfra 3.10 and vs raw SQLite, side by side.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes, fewer repetitions (under a minute)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"where to write the JSON results (default: {DEFAULT_OUTPUT.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--tmpdir",
        type=Path,
        default=None,
        help="where the cases write their SQLite files (default: the system temp dir)",
    )
    parser.add_argument(
        "--only",
        default=",".join(GROUPS),
        help=f"comma-separated groups to run, of {','.join(GROUPS)} (default: all)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(GROUPS)
    if unknown:
        parser.error(f"unknown groups: {', '.join(sorted(unknown))}")
    return args


def _git(*args: str) -> str:
    try:
        completed = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return completed.stdout.strip()


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    """The short commit of the checkout, ``+dirty`` with uncommitted changes to tracked files."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    return commit


def _meta(plan: Plan, groups: list[str]) -> dict[str, Any]:
    return {
        "mode": plan.mode,
        "groups": groups,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "pyinfra": _version("pyinfra"),
        "eventstate": _version("eventstate"),
        "sqlite": __import__("sqlite3").sqlite_version,
        "commit": _commit(),
        "plan": plan.to_json(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; returns the exit status."""
    args = _parse(argv)
    plan = QUICK if args.quick else FULL
    groups = [group for group in GROUPS if group in args.only.split(",")]
    meta = _meta(plan, groups)
    runner = Runner(sum(plan.runs()[group] for group in groups))
    sections = Sections()
    workdir = Path(tempfile.mkdtemp(prefix="eventstate-bench-", dir=args.tmpdir))
    runner.progress(f"{plan.mode} benchmarks ({', '.join(groups)}); scratch files in {workdir}")
    started = time.perf_counter()
    try:
        if "deploy" in groups:
            measure_deploys(runner, plan, sections)
        if "cli" in groups:
            measure_cli(runner, plan, sections, workdir)
        if "append" in groups:
            measure_append(runner, plan, sections, workdir)
        if "rebuild" in groups:
            measure_rebuild(runner, plan, sections, workdir)
        if "bridge" in groups:
            measure_bridge(runner, plan, sections)
        if "ssh" in groups:
            measure_ssh(runner, plan, sections, workdir)
        if "scaling" in groups:
            measure_scaling(runner, plan, sections, workdir)
        if "loop" in groups:
            measure_plain_loop(runner, plan, sections)
        if "longrun" in groups:
            measure_longrun(runner, plan, sections, workdir)
        if "postgres" in groups:
            measure_postgres(runner, plan, sections, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    meta["duration_s"] = round(time.perf_counter() - started, 1)
    # The engine may change while a long run goes on: say so when it did.
    meta["commit_end"] = _commit()

    chosen = [section for section in sections.all() if section.rows]
    print(render(chosen, meta))
    runs = [{"label": label, **m.to_json()} for label, m in runner.measurements]
    write_json(args.output, chosen, meta, runs)
    runner.progress(f"done in {meta['duration_s']:.0f}s; results written to {args.output}")
    failed = any(row.status == FAILED for section in chosen for row in section.rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
