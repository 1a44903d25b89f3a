"""Running cases in fresh subprocesses, with progress on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import attrs

from benchmarks.case import RESULT_PREFIX

__all__ = ["REPO_ROOT", "Case", "CaseFailed", "Measurement", "Runner"]

#: The directory holding the ``benchmarks`` package (and the engine's packages).
REPO_ROOT = Path(__file__).resolve().parent.parent


class CaseFailed(RuntimeError):
    """A case's subprocess exited with an error, or printed no result."""


@attrs.frozen
class Case:
    """One case to run: its name in :data:`benchmarks.cases.CASES` and its arguments."""

    name: str
    args: dict[str, Any] = attrs.field(factory=dict)

    def command(self) -> list[str]:
        """The command line that runs this case in a new interpreter."""
        return [
            sys.executable,
            "-m",
            "benchmarks.case",
            self.name,
            *(f"{key}={value}" for key, value in self.args.items()),
        ]

    def describe(self) -> str:
        """The case as a short line for progress output."""
        shown = " ".join(
            f"{key}={value}"
            for key, value in self.args.items()
            if key not in ("path", "run", "expected")
        )
        return f"{self.name} {shown}".strip()


@attrs.frozen
class Measurement:
    """What one run of a case reported.

    Attributes:
        case: The case.
        metrics: The case's own numbers (see :mod:`benchmarks.cases`).
        peak_rss_mb: The subprocess's peak resident set size, in MiB.
        wall_s: The subprocess's whole life, interpreter start-up included.
    """

    case: Case
    metrics: dict[str, Any]
    peak_rss_mb: float
    wall_s: float

    def __getitem__(self, key: str) -> Any:
        return self.metrics[key]

    def to_json(self) -> dict[str, Any]:
        """The measurement as plain values."""
        return {
            "case": self.case.name,
            "args": self.case.args,
            "metrics": self.metrics,
            "peak_rss_mb": self.peak_rss_mb,
            "wall_s": self.wall_s,
        }


class Runner:
    """Runs cases one at a time, each in a fresh interpreter, and reports progress.

    Args:
        total: How many runs are planned (for the ``[i/total]`` counter).
        stream: Where progress goes (stderr by default).
        timeout: Seconds a single case may take before it is killed.
    """

    def __init__(self, total: int, stream: TextIO | None = None, timeout: float = 3600) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.timeout = timeout
        self.measurements: list[tuple[str, Measurement]] = []
        self.started = time.perf_counter()
        self._env = dict(os.environ)
        self._env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
        )
        self._env["PYINFRA_PROGRESS"] = "off"  # no spinner, even on a terminal

    def progress(self, message: str) -> None:
        """Write one progress line to the stream."""
        elapsed = time.perf_counter() - self.started
        print(f"[{elapsed:6.1f}s] {message}", file=self.stream, flush=True)

    def run(self, case: Case, label: str) -> Measurement:
        """Run ``case`` in a new interpreter; ``label`` names it in progress and the raw log.

        Raises:
            CaseFailed: the case exited with an error or printed no result.
        """
        self.done += 1
        prefix = f"[{self.done:>3}/{self.total}] {label}: {case.describe()}"
        started = time.perf_counter()
        try:
            completed = subprocess.run(
                case.command(),
                cwd=REPO_ROOT,
                env=self._env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.progress(f"{prefix} ... TIMED OUT after {self.timeout:.0f}s")
            raise CaseFailed(f"{case.describe()} timed out after {self.timeout:.0f}s") from None
        wall = time.perf_counter() - started
        result = next(
            (
                json.loads(line[len(RESULT_PREFIX) :])
                for line in reversed(completed.stdout.splitlines())
                if line.startswith(RESULT_PREFIX)
            ),
            None,
        )
        if completed.returncode != 0 or result is None:
            tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
            self.progress(f"{prefix} ... FAILED (exit {completed.returncode})\n{tail}")
            last = tail.splitlines()[-1] if tail else f"exit {completed.returncode}"
            raise CaseFailed(f"{case.describe()}: {last}")
        measurement = Measurement(case, result["metrics"], result["peak_rss_mb"], wall)
        self.measurements.append((label, measurement))
        self.progress(f"{prefix} ... {wall:.2f}s, {measurement.peak_rss_mb:.0f} MB")
        return measurement
