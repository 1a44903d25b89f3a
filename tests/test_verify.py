"""Chain verification names the first bad event of a tampered run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from eventstate import Config, IntegrityError, Inventory, SqliteEventLog, State
from eventstate.replay import rebuild, verify_run


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "events.db"
    inventory = Inventory((["web1", "web2", "web3"], {}))
    with SqliteEventLog(path) as log:
        state = State(inventory, Config(), log=log)
        for host in inventory:
            state.activate_host(host)
        state.fail_hosts([inventory.get_host("web2")])
        state.finish()
    return path, state.run_id


def _tamper(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    with conn:
        # Tampering means getting past the database's own guard first.
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("DROP TRIGGER events_no_delete")
        conn.execute(sql, params)
    conn.close()


def _verify(path: Path, run_id: str):  # type: ignore[no-untyped-def]
    with SqliteEventLog(path, create=False) as log:
        return verify_run(log, run_id)


def test_an_untouched_run_verifies(recorded: tuple[Path, str]) -> None:
    path, run_id = recorded
    report = _verify(path, run_id)
    assert report.ok and report.events_checked == 6
    assert str(report) == f"run {run_id}: 6 events verified"
    report.raise_for_problem()


def test_a_modified_payload_is_named_by_run_and_sequence(recorded: tuple[Path, str]) -> None:
    path, run_id = recorded
    _tamper(
        path,
        "UPDATE events SET payload = replace(payload, '\"web2\"', '\"web3\"') "
        "WHERE run_id = ? AND seq = 3",
        run_id,
    )
    report = _verify(path, run_id)
    assert (report.bad_seq, report.events_checked) == (3, 2)
    assert str(report) == (
        f"run {run_id}, event 3: payload does not match its hash (changed after it was written)"
    )
    with pytest.raises(IntegrityError, match=f"run {run_id}, event 3"):
        report.raise_for_problem()


def test_a_rehashed_forgery_breaks_the_next_link(recorded: tuple[Path, str]) -> None:
    from eventstate.chain import chain_hash

    path, run_id = recorded
    conn = sqlite3.connect(path)
    prev_hash, payload = conn.execute(
        "SELECT prev_hash, payload FROM events WHERE run_id = ? AND seq = 5", [run_id]
    ).fetchone()
    conn.close()
    # The failed host in HostsFailed: in the payload only, no column repeats it.
    forged = payload.replace('"web2"', '"web1"')
    assert forged != payload
    _tamper(
        path,
        "UPDATE events SET payload = ?, hash = ? WHERE run_id = ? AND seq = 5",
        forged,
        chain_hash(prev_hash, forged),
        run_id,
    )
    report = _verify(path, run_id)
    assert report.bad_seq == 6
    assert "does not link" in str(report)


def test_a_deleted_event_is_a_gap(recorded: tuple[Path, str]) -> None:
    path, run_id = recorded
    _tamper(path, "DELETE FROM events WHERE run_id = ? AND seq = 4", run_id)
    report = _verify(path, run_id)
    assert str(report) == f"run {run_id}, event 4: missing: the next stored event is 5"


def test_a_payload_that_no_longer_decodes_is_reported(recorded: tuple[Path, str]) -> None:
    from eventstate.chain import chain_hash

    path, run_id = recorded
    # Re-chain every event from seq 2 so only the decode check can catch it.
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT seq, payload FROM events WHERE run_id = ? ORDER BY seq", [run_id]
    ).fetchall()
    conn.close()
    prev = None
    updates = []
    for seq, payload in rows:
        if seq == 2:
            payload = payload.replace('"HostActivated"', '"HostTeleported"')
        digest = chain_hash(prev or "0" * 64, payload)
        updates.append((payload, prev or "0" * 64, digest, run_id, seq))
        prev = digest
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.executemany(
            "UPDATE events SET payload = ?, prev_hash = ?, hash = ? WHERE run_id = ? AND seq = ?",
            updates,
        )
    conn.close()
    report = _verify(path, run_id)
    assert report.bad_seq == 2
    assert "does not decode: unknown event type 'HostTeleported'" in str(report)


def test_an_unknown_run_is_reported(recorded: tuple[Path, str]) -> None:
    path, _ = recorded
    assert str(_verify(path, "nope")) == "run nope: no events stored for this run"


def test_rebuild_at_a_point_in_the_run(recorded: tuple[Path, str]) -> None:
    path, run_id = recorded
    with SqliteEventLog(path, create=False) as log:
        assert list(rebuild(log, run_id, last=3).active_hosts) == ["web1", "web2"]
        assert list(rebuild(log, run_id).active_hosts) == ["web1", "web3"]
