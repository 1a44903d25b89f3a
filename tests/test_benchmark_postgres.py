"""The PostgreSQL benchmark's workload at a small size, so that it cannot rot: each case
does what it measures (every event stored, the deploy's hosts all succeed), and the
suite's rows come out of real case processes. No timing is asserted."""

from __future__ import annotations

import io
from pathlib import Path

import attrs
import psycopg
import pytest
from postgres_server import PostgresServer, running_postgres

from benchmarks.cases import deploy_ours
from benchmarks.postgres import (
    measure_postgres,
    pg_append_ours,
    pg_append_raw,
    pg_append_raw_text,
    pg_append_store,
    planned_runs,
)
from benchmarks.report import render_section
from benchmarks.runner import Runner
from benchmarks.suite import QUICK, Sections
from eventstate.replay import verify_log
from eventstate.stores import open_log


@pytest.fixture(scope="module")
def server() -> PostgresServer:
    return running_postgres()


def _url(server: PostgresServer) -> str:
    return server.url(server.new_database("bench"))


def test_the_append_cases_store_every_event(server: PostgresServer) -> None:
    ours_url, store_url, raw_url, text_url = (_url(server) for _ in range(4))
    ours = pg_append_ours(events=1_234, url=ours_url)
    store = pg_append_store(events=1_234, url=store_url)
    raw = pg_append_raw(events=1_234, url=raw_url)
    text = pg_append_raw_text(events=12_345, url=text_url)  # more than one chunk
    assert ours["events"] == store["events"] == raw["events"] == 1_234
    assert ours["payload_bytes"] == raw["payload_bytes"]  # the same rows' shape
    assert text["events"] == 12_345
    with open_log(ours_url, read_only=True) as log:
        assert [r.last_seq for r in log.runs()] == [1_234]
        assert verify_log(log).ok
    with open_log(store_url, read_only=True) as log:
        assert [r.last_seq for r in log.runs()] == [1_234]
    with psycopg.connect(raw_url) as conn:
        assert conn.execute("SELECT count(*), max(seq) FROM events").fetchone() == (1_234, 1_234)
    with psycopg.connect(text_url) as conn:
        assert conn.execute("SELECT count(*), max(seq) FROM events").fetchone() == (12_345, 12_345)


def test_the_deploy_case_writes_a_run_into_postgresql(server: PostgresServer) -> None:
    url = _url(server)
    metrics = deploy_ours(hosts=3, ops=4, log="postgresql", path=url)
    with open_log(url, read_only=True) as log:
        assert [r.run_id for r in log.runs()] == [metrics["run_id"]]
        assert log.newest_seq(metrics["run_id"]) == metrics["events"]
        assert verify_log(log).ok


def test_the_suite_makes_both_rows_from_case_processes(tmp_path: Path) -> None:
    plan = attrs.evolve(QUICK, append_events=500, append_reps=1, big_reps=1, cheap_reps=1)
    progress = io.StringIO()
    runner = Runner(planned_runs(plan), stream=progress)
    sections = Sections()
    measure_postgres(runner, plan, sections, tmp_path, deploy_shape=(2, 3))
    rows = sections.postgres.rows
    assert [row.label for row in rows] == ["append 500 events, ev/s", "deploy 2x3, total s"]
    assert [row.error for row in rows] == [None, None], progress.getvalue()
    assert runner.done == planned_runs(plan)
    assert rows[0].status in ("met", "MISSED") and rows[0].judged is not None
    assert set(rows[0].cells) >= {"sqlite", "postgresql", "raw COPY", "pg/raw COPY"}
    assert "pg/sqlite" in rows[1].cells
    assert "PostgreSQL vs SQLite" in render_section(sections.postgres)
    assert list(tmp_path.iterdir()) == []  # the SQLite scratch files removed
