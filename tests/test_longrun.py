"""The long-run benchmark's check, at a small size: the fold of the log is what the live State said.

``benchmarks/longrun.py`` runs a ``@sim`` deploy with random faults and
retries and folds its log from disk in another process; a difference fails
the benchmark. Here the same two functions run at 200 hosts, and each kind of
difference they look for is planted in the live side's file to see it caught.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks.cases import CaseError
from benchmarks.longrun import longrun_deploy, longrun_fold

HOSTS = 200


@pytest.fixture(scope="module")
def long_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One deploy of 200 hosts x 8 ops, its log and its live results kept in a directory."""
    directory = tmp_path_factory.mktemp("longrun")
    metrics = longrun_deploy(
        hosts=HOSTS, path=str(directory / "events.db"), expected=str(directory / "live.json")
    )
    return directory, metrics


def test_the_run_completes_with_retries_failures_and_ignored_errors(
    long_run: tuple[Path, dict[str, Any]],
) -> None:
    _, metrics = long_run
    assert metrics["hosts"] == HOSTS
    assert metrics["retry_succeeded"] > 0  # some ops succeed on a retry
    assert metrics["failed_for_good"] > 0  # some fail for good, failing their host
    assert metrics["failed_hosts"] == metrics["failed_for_good"]
    assert metrics["ignored"] > 0
    assert metrics["retried"] >= metrics["retry_succeeded"] + metrics["failed_for_good"]
    # The log is on disk: no event is left in memory once the run has ended.
    assert metrics["events_alive"] == 0 and metrics["stored_events_alive"] == 0


def test_the_fold_of_the_log_equals_the_live_state(long_run: tuple[Path, dict[str, Any]]) -> None:
    directory, metrics = long_run
    fold = longrun_fold(
        path=str(directory / "events.db"),
        run=metrics["run_id"],
        expected=str(directory / "live.json"),
    )
    assert fold["equal"] is True
    assert fold["events"] == metrics["events"]
    assert fold["hosts_compared"] == HOSTS
    assert fold["host_ops_compared"] == metrics["host_ops_run"]
    assert fold["failed_hosts"] == metrics["failed_hosts"]


def _first_retried(live: dict[str, Any]) -> dict[str, Any]:
    return next(op for ops in live["host_ops"].values() for op in ops.values() if op["was_retried"])


def _first_host(live: dict[str, Any]) -> str:
    return next(iter(live["results"]))


# Each plants one difference in what the live State said; the fold must find it.
PLANTED: dict[str, Callable[[dict[str, Any]], None]] = {
    "a host's results": lambda live: live["results"][_first_host(live)].update(success_ops=99),
    "the failed hosts": lambda live: live["failed_hosts"].pop(),
    "a retry count": lambda live: _first_retried(live).update(retry_attempts=0),
    "retry_succeeded": lambda live: _first_retried(live).update(
        retry_succeeded=not _first_retried(live)["retry_succeeded"]
    ),
    "an op's success": lambda live: _first_retried(live).update(
        success=not _first_retried(live)["success"]
    ),
    "an op missing": lambda live: live["host_ops"][_first_host(live)].popitem(),
    "the view": lambda live: live["view"]["failed_hosts"].append("@sim/nobody"),
    "the event count": lambda live: live.update(events=live["events"] + 1),
}


@pytest.mark.parametrize("planted", list(PLANTED))
def test_a_difference_from_the_live_state_fails_the_fold(
    long_run: tuple[Path, dict[str, Any]], tmp_path: Path, planted: str
) -> None:
    directory, metrics = long_run
    live = json.loads((directory / "live.json").read_text(encoding="utf-8"))
    PLANTED[planted](live)
    (tmp_path / "live.json").write_text(json.dumps(live), encoding="utf-8")
    # The fold reads a copy of the log: the shared one stays as the deploy left it.
    for name in ("events.db", "events.db-wal"):
        if (directory / name).exists():
            shutil.copy(directory / name, tmp_path / name)
    with pytest.raises(CaseError, match="differs from the live State"):
        longrun_fold(
            path=str(tmp_path / "events.db"),
            run=metrics["run_id"],
            expected=str(tmp_path / "live.json"),
        )
