"""Every column of a row must say what its payload says: in a store, and in an import.

The hash chain covers only the payload. A row's other columns (its type, host,
time, version...) are copies that readers filter and list by, so a column
rewritten alone leaves every hash intact: only comparing it with the payload
can tell. ``verify`` and ``import`` must both do it.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from eventstate import Config, IntegrityError, Inventory, MemoryEventLog, SqliteEventLog, State
from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.cli import main
from eventstate.replay import Run, export_lines, verify_events, verify_export, verify_run
from eventstate.stores.base import StoredEvent

#: A forged value for each column that a reader would believe, and the row to put it in:
#: the index of a row about a host (seq 2, HostActivated web1).
FORGED: dict[str, Any] = {
    "type": "HostDisconnected",
    "host": "web2",
    "timestamp": "2020-01-01T00:00:00+00:00",
    "version": 2,
}


def _record(log: Any) -> str:
    inventory = Inventory((["web1", "web2", "web3"], {}))
    state = State(inventory, Config(), log=log)
    for host in inventory:
        state.activate_host(host)
    state.fail_hosts([inventory.get_host("web2")])
    state.finish()
    return state.run_id


@pytest.fixture
def rows() -> tuple[str, list[StoredEvent]]:
    log = MemoryEventLog()
    run_id = _record(log)
    return run_id, list(log.read(run_id))


def test_the_untouched_rows_verify(rows: tuple[str, list[StoredEvent]]) -> None:
    run_id, stored = rows
    assert verify_events(run_id, stored).ok
    assert verify_export(stored).events == len(stored)


@pytest.mark.parametrize("column", sorted(FORGED))
def test_a_column_rewritten_alone_is_named(
    rows: tuple[str, list[StoredEvent]], column: str
) -> None:
    run_id, stored = rows
    assert stored[1].host == "web1" and stored[1].type == "HostActivated"
    forged = [*stored]
    forged[1] = attrs.evolve(stored[1], **{column: FORGED[column]})
    report = verify_events(run_id, forged)
    assert (report.bad_seq, report.events_checked) == (2, 1)
    assert str(report) == f"run {run_id}, event 2: row column {column} disagrees with its payload"


def test_a_host_given_to_a_row_about_no_host_is_named(
    rows: tuple[str, list[StoredEvent]],
) -> None:
    run_id, stored = rows
    assert stored[0].host is None  # RunStarted
    forged = [attrs.evolve(stored[0], host="web1"), *stored[1:]]
    assert "row column host disagrees" in str(verify_events(run_id, forged))


def test_a_host_taken_from_a_row_about_one_is_named(rows: tuple[str, list[StoredEvent]]) -> None:
    run_id, stored = rows
    forged = [stored[0], attrs.evolve(stored[1], host=None), *stored[2:]]
    assert "row column host disagrees" in str(verify_events(run_id, forged))


def test_a_column_of_the_right_value_but_the_wrong_type_is_named(
    rows: tuple[str, list[StoredEvent]],
) -> None:
    # JSON true equals 1 in Python: an import could bring a version of true.
    run_id, stored = rows
    forged = [stored[0], attrs.evolve(stored[1], version=True), *stored[2:]]
    assert "row column version disagrees" in str(verify_events(run_id, forged))


def test_a_payload_of_another_run_rechained_is_named(rows: tuple[str, list[StoredEvent]]) -> None:
    # A whole run's payloads copied under another run id, the chain recomputed:
    # the run_id column says one run, every payload another.
    _, stored = rows
    prev = GENESIS_HASH
    forged = []
    for row in stored:
        digest = chain_hash(prev, row.payload)
        forged.append(attrs.evolve(row, run_id="other", prev_hash=prev, hash=digest))
        prev = digest
    report = verify_events("other", forged)
    assert str(report) == "run other, event 1: row column run_id disagrees with its payload"


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "events.db"
    with SqliteEventLog(path) as log:
        run_id = _record(log)
    return path, run_id


@pytest.mark.parametrize("column", sorted(FORGED))
def test_verify_names_a_stored_column_rewritten_alone(db: tuple[Path, str], column: str) -> None:
    path, run_id = db
    with closing(sqlite3.connect(path)) as conn, conn:
        # Tampering means getting past the database's own guard first.
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute(
            f"UPDATE events SET {column} = ? WHERE run_id = ? AND seq = 2",
            [FORGED[column], run_id],
        )
    with SqliteEventLog(path, create=False) as log:
        report = verify_run(log, run_id)
    assert str(report) == f"run {run_id}, event 2: row column {column} disagrees with its payload"
    result = CliRunner().invoke(main, ["verify", run_id, "--db", str(path)])
    assert result.exit_code != 0
    assert "row column" in result.output and "Traceback" not in result.output


def _export(tmp_path: Path, column: str) -> tuple[Path, str]:
    log = MemoryEventLog()
    run_id = _record(log)
    lines = list(export_lines(Run(log, run_id)))
    row = json.loads(lines[1])
    assert (row["seq"], row["host"]) == (2, "web1")
    row[column] = FORGED[column]
    lines[1] = json.dumps(row) + "\n"
    path = tmp_path / "run.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return path, run_id


@pytest.mark.parametrize("column", sorted(FORGED))
def test_import_refuses_an_export_with_a_column_rewritten_alone(
    tmp_path: Path, column: str
) -> None:
    path, run_id = _export(tmp_path, column)
    target = tmp_path / "target.db"
    result = CliRunner().invoke(main, ["import", str(path), "--db", str(target)])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"Error: {path}: run {run_id}, event 2: row column {column} disagrees with its payload"
    )
    assert not target.exists()


def test_verify_export_refuses_a_column_rewritten_alone(tmp_path: Path) -> None:
    from eventstate.replay import read_export

    path, run_id = _export(tmp_path, "host")
    with path.open(encoding="utf-8") as lines, pytest.raises(IntegrityError) as raised:
        verify_export(read_export(lines))
    assert str(raised.value) == f"run {run_id}, event 2: row column host disagrees with its payload"
