"""The hash chain is the documented formula, recomputed here with nothing but hashlib.

A weaker hash that the writer and the verifier share (one that skips the
previous hash, or part of the payload) passes every round-trip test: only a
formula computed independently of :mod:`eventstate.chain`, over the bytes as
stored, and hashes written down once and for all can tell it from the real one.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from eventstate import Config, Inventory, SqliteEventLog, State
from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.connect import connect_all, disconnect_all
from eventstate.execute import run_ops
from eventstate.operation import add_op
from eventstate.operations import server
from eventstate.replay import verify_run
from eventstate.testing.runs import sample_run

GOLDEN = Path(__file__).parent / "data" / "golden_events_v1.jsonl"

#: The chain over the golden payloads, in file order, from the genesis hash: written
#: down once (with the formula below) so that no change to the formula goes unseen.
GOLDEN_CHAIN = {
    1: "0d2a60da7614d709d2c89ad66c27e5a10fc3f34d25dc0bed9dd43550c7d2df40",
    6: "d2c2402034637ae6702a10dcc35d3882b0af7560a868c227dfb091cd59d127a1",
    19: "8dc1594c2810a5607788c8466c37e940f799e4685c758fff23371374606bf414",
}


def documented_hash(prev_hash: str, payload: bytes) -> str:
    """The formula of the chain.py docstring: sha256_hex(prev_hash || LF || payload)."""
    assert len(prev_hash) == 64 and prev_hash == prev_hash.lower()
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + payload).hexdigest()


def _golden_payloads() -> list[bytes]:
    # Split on LF only: a payload may hold U+2028, which str.splitlines would split on.
    content = GOLDEN.read_bytes()
    return content[:-1].split(b"\n")


def test_the_genesis_hash_is_64_zeros() -> None:
    assert GENESIS_HASH == "0" * 64


def test_the_golden_chain_is_the_documented_formula() -> None:
    prev = "0" * 64
    chain = {}
    for n, payload in enumerate(_golden_payloads(), start=1):
        prev = chain[n] = documented_hash(prev, payload)
    assert {n: chain[n] for n in GOLDEN_CHAIN} == GOLDEN_CHAIN


def test_chain_hash_gives_the_golden_chain() -> None:
    prev = GENESIS_HASH
    for n, payload in enumerate(_golden_payloads(), start=1):
        # Both forms the writer and the verifier pass: bytes, and text.
        digest = chain_hash(prev, payload)
        assert chain_hash(prev, payload.decode("utf-8")) == digest
        assert digest == documented_hash(prev, payload), n
        if n in GOLDEN_CHAIN:
            assert digest == GOLDEN_CHAIN[n], n
        prev = digest


def test_chain_hash_depends_on_every_byte_and_on_the_previous_hash() -> None:
    payload = _golden_payloads()[0]
    digest = chain_hash(GENESIS_HASH, payload)
    assert chain_hash("f" * 64, payload) != digest
    # The last byte of the payload, and the first, are covered.
    assert chain_hash(GENESIS_HASH, payload[:-1] + b" ") != digest
    assert chain_hash(GENESIS_HASH, b" " + payload[1:]) != digest


def test_the_test_helper_rows_follow_the_documented_formula() -> None:
    prev = "0" * 64
    for row in sample_run("golden").rows():
        assert row.prev_hash == prev
        assert row.hash == documented_hash(prev, row.payload.encode("utf-8"))
        prev = row.hash


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A deploy recorded by State into SQLite: non-ASCII text, output, a failure."""
    path = tmp_path_factory.mktemp("chain") / "events.db"
    with SqliteEventLog(path) as log:
        state = State(Inventory((["@sim/a", "@sim/b"], {"sim_fail_rate": 0.5})), Config(), log=log)
        connect_all(state)
        for i in range(4):
            add_op(state, server.shell, f"echo héllo ✓ {i}", _ignore_errors=True)
        run_ops(state)
        disconnect_all(state)
        state.finish()
    return path, state.run_id


def test_every_row_the_writer_stores_follows_the_documented_formula(
    recorded: tuple[Path, str],
) -> None:
    path, run_id = recorded
    # Read with sqlite3 itself: the rows as stored, not as eventstate reads them back.
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT seq, payload, prev_hash, hash FROM events WHERE run_id = ? ORDER BY seq",
        [run_id],
    ).fetchall()
    conn.close()
    assert len(rows) > 20
    assert any("héllo ✓" in payload for _, payload, _, _ in rows)
    prev = "0" * 64
    for seq, payload, prev_hash, digest in rows:
        assert prev_hash == prev, seq
        assert digest == documented_hash(prev, payload.encode("utf-8")), seq
        prev = digest


def test_verify_refuses_a_chain_of_another_formula(recorded: tuple[Path, str]) -> None:
    # The rows rewritten with a weaker formula (the payload's hash alone, no link):
    # verify must recompute the documented formula, not trust what the rows say.
    path, run_id = recorded
    forged = path.with_name("weak.db")
    source, conn = sqlite3.connect(path), sqlite3.connect(forged)
    source.backup(conn)
    source.close()
    with conn:
        conn.execute("DROP TRIGGER events_no_update")
        rows = conn.execute(
            "SELECT seq, payload FROM events WHERE run_id = ? ORDER BY seq", [run_id]
        ).fetchall()
        prev = "0" * 64
        for seq, payload in rows:
            digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
            conn.execute(
                "UPDATE events SET prev_hash = ?, hash = ? WHERE run_id = ? AND seq = ?",
                [prev, digest, run_id, seq],
            )
            prev = digest
    conn.close()
    with SqliteEventLog(forged, create=False) as log:
        report = verify_run(log, run_id)
    assert (report.ok, report.bad_seq) == (False, 1)
    assert "does not match its hash" in str(report)
