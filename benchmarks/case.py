"""Run one measured case in this (fresh) process and print its result as one JSON line.

``python -m benchmarks.case NAME key=value ...``; e.g.
``python -m benchmarks.case deploy-ours hosts=100 ops=100 log=sqlite``.

The line is ``{"case": ..., "args": ..., "metrics": ..., "peak_rss_mb": ...}``,
the peak resident set size of this whole process (``ru_maxrss``), so one
case per process gives the case's own peak. Anything the case prints goes to
stderr: stdout holds the result line only. A case that fails exits non-zero
with the error on stderr.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import traceback
from typing import Any

from benchmarks import cases, longrun, plain_loop, postgres, pyinfra_deploy

#: Every case, by name: the suite's, the long run's, the pyinfra deploy's, PostgreSQL's and
#: the plain loop's.
CASES = {
    **cases.CASES,
    **longrun.CASES,
    **pyinfra_deploy.CASES,
    **postgres.CASES,
    **plain_loop.CASES,
}

__all__ = ["main", "parse_args", "peak_rss_mb"]

#: The prefix of the result line, so the runner never mistakes other output for it.
RESULT_PREFIX = "BENCHMARK-RESULT "


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MiB (Linux reports ``ru_maxrss`` in KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes there
        kib //= 1024
    return kib / 1024


def _value(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def parse_args(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """``NAME key=value...`` -> (name, arguments); integers become ints."""
    if not argv or argv[0] not in CASES:
        raise SystemExit(f"usage: python -m benchmarks.case {{{','.join(CASES)}}} key=value...")
    arguments: dict[str, Any] = {}
    for item in argv[1:]:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"argument {item!r} is not key=value")
        arguments[key] = _value(value)
    return argv[0], arguments


def main(argv: list[str] | None = None) -> int:
    """Run the case named in ``argv``; print its result line; 0 on success."""
    name, arguments = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            metrics = CASES[name](**arguments)
    except Exception:
        traceback.print_exc()
        return 1
    result = {"case": name, "args": arguments, "metrics": metrics, "peak_rss_mb": peak_rss_mb()}
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
