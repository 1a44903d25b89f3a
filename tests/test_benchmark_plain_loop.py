"""The plain-loop benchmark rows at a small size, so that they cannot rot: the case runs a
deploy file that calls an op in a plain ``for`` loop (pyinfra's duplicate hashes) and
checks what ran; the suite makes both rows from real case processes. No timing asserted."""

from __future__ import annotations

import io

import attrs
import pytest

from benchmarks.__main__ import GROUPS
from benchmarks.cases import CaseError
from benchmarks.plain_loop import LONG_OPS, LOOP_TARGET, deploy_plain_loop, measure_plain_loop
from benchmarks.report import MET, MISSED
from benchmarks.runner import Runner
from benchmarks.suite import FULL, QUICK, Sections


@pytest.mark.parametrize("log", ["memory", "sqlite"])
def test_the_case_runs_every_call_of_the_loop_on_every_host(log: str) -> None:
    metrics = deploy_plain_loop(hosts=3, ops=7, log=log)
    # The case itself fails unless every host ran 7 ops: each call of the loop is its own
    # op (the one call site gives pyinfra's duplicate hashes, not one merged op).
    assert metrics["host_ops"] == 21
    assert metrics["events"] > 21  # at least an outcome per host-op
    assert metrics["us_per_host_op"] > 0


def test_an_unknown_log_is_refused() -> None:
    with pytest.raises(CaseError, match="unknown log"):
        deploy_plain_loop(hosts=1, ops=1, log="paper")


def test_the_suite_makes_both_rows_from_case_processes() -> None:
    plan = attrs.evolve(QUICK, cheap_reps=1, big_reps=1)
    progress = io.StringIO()
    runner = Runner(4, stream=progress)
    sections = Sections()
    measure_plain_loop(runner, plan, sections, hosts=2, ops=(3, 9))
    assert runner.done == runner.total, progress.getvalue()
    rows = sections.plain_loop.rows
    assert [row.label for row in rows] == ["2 hosts, memory log", "2 hosts, sqlite log"]
    for row in rows:
        assert row.error is None, progress.getvalue()
        assert row.status in (MET, MISSED) and row.judged == row.data["ratio"].median
        assert row.target is not None and row.target.text == f"<= {LOOP_TARGET:.2f}x"
        assert (row.data["short_ops"], row.data["long_ops"]) == (3, 9)


def test_the_full_plan_runs_the_issue_s_shape() -> None:
    assert "loop" in GROUPS
    assert LONG_OPS == 2000 and FULL.mode == "full"
