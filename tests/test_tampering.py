"""Each kind of tampering with a log is caught by ``verify`` -- or, where no local check
can catch it, by ``verify --anchor`` -- and an export cut short is refused by ``import``.

The log is tampered with as an attacker with write access to the file would: with
sqlite3 itself, guards dropped and made again with their very SQL, chains recomputed
where the tampering needs it. (Columns rewritten alone: tests/test_verify_columns.py.)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner, Result

from eventstate import Config, Inventory, SqliteEventLog, State
from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.cli import main
from eventstate.codec import canonical_json
from eventstate.connect import connect_all, disconnect_all
from eventstate.errors import IntegrityError, UsageError
from eventstate.execute import run_ops
from eventstate.operation import add_op
from eventstate.operations import server
from eventstate.replay import (
    Anchor,
    LogReport,
    Run,
    export_lines,
    read_export,
    verify_export,
    verify_log,
)
from eventstate.replay.run import PROJECTION_VERSION
from eventstate.stores import MemoryEventLog


@attrs.frozen
class Recorded:
    """A log of three runs, oldest first; the middle one has snapshots."""

    db: Path
    ids: tuple[str, str, str]


def _deploy(log: SqliteEventLog, fail_rate: float) -> str:
    state = State(
        Inventory((["@sim/a", "@sim/b"], {"sim_fail_rate": fail_rate})), Config(), log=log
    )
    connect_all(state)
    for i in range(3):
        add_op(state, server.shell, f"echo {i}", _ignore_errors=True)
    run_ops(state)
    disconnect_all(state)
    state.finish()
    return state.run_id


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    db = tmp_path_factory.mktemp("tampering") / "events.db"
    with SqliteEventLog(db) as log:
        ids = (_deploy(log, 0.0), _deploy(log, 0.5), _deploy(log, 0.0))
        assert Run(log, ids[1]).store_snapshots(interval=5)
    return Recorded(db, ids)


def _verify(db: Path, *anchors: str, run_id: str | None = None) -> LogReport:
    with SqliteEventLog(db, read_only=True) as log:
        return verify_log(
            log, None if run_id is None else [run_id], anchors=[Anchor.parse(a) for a in anchors]
        )


def _head(db: Path) -> str:
    with SqliteEventLog(db, read_only=True) as log:
        head = log.head()
    assert head is not None
    return f"{head.run_id}:{head.seq}:{head.hash}"


def _cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


@contextmanager
def _tampering(
    recorded: Recorded, name: str, *, restore: bool = True
) -> Iterator[sqlite3.Connection]:
    """A copy of the log, opened with sqlite3, its guards dropped while the block runs and
    made again afterwards with their very SQL (unless not ``restore``): tampering
    ``verify``'s guard check misses."""
    path = recorded.db.with_name(name)
    with closing(sqlite3.connect(recorded.db)) as source, closing(sqlite3.connect(path)) as conn:
        source.backup(conn)
        guards = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        saved = guards.fetchall()
        with conn:
            for trigger, _ in saved:
                conn.execute(f"DROP TRIGGER {trigger}")
        with conn:
            yield conn
        if restore:
            with conn:
                for _, sql in saved:
                    conn.execute(sql)


def _copy(recorded: Recorded, name: str) -> Path:
    with _tampering(recorded, name):
        pass
    return recorded.db.with_name(name)


def _rechain(conn: sqlite3.Connection, run_id: str) -> None:
    """Recompute the run's hash chain over its payloads as they now are (no key needed)."""
    rows = conn.execute(
        "SELECT seq, payload FROM events WHERE run_id = ? ORDER BY seq", [run_id]
    ).fetchall()
    prev = GENESIS_HASH
    for seq, payload in rows:
        digest = chain_hash(prev, payload)
        conn.execute(
            "UPDATE events SET prev_hash = ?, hash = ? WHERE run_id = ? AND seq = ?",
            [prev, digest, run_id, seq],
        )
        prev = digest


def _last_seq(conn: sqlite3.Connection, run_id: str) -> int:
    return int(conn.execute("SELECT MAX(seq) FROM events WHERE run_id = ?", [run_id]).fetchone()[0])


def test_the_untouched_log_verifies(recorded: Recorded) -> None:
    report = _verify(recorded.db, _head(recorded.db))
    assert report.ok, report.lines()
    assert report.notes == ()  # every run linked; the newest one anchored


def test_each_run_names_the_head_it_began_after(recorded: Recorded) -> None:
    with SqliteEventLog(recorded.db, read_only=True) as log:
        starts = [json.loads(next(log.read(run_id, 1, 1)).payload) for run_id in recorded.ids]
        lasts = [log.last_event(run_id) for run_id in recorded.ids]
        log_id = log.log_id
    assert log_id
    assert [start["log_id"] for start in starts] == [log_id] * 3
    assert (starts[0]["head_run_id"], starts[0]["head_seq"], starts[0]["head_hash"]) == (
        None,
        0,
        GENESIS_HASH,
    )
    for start, last in zip(starts[1:], lasts[:-1], strict=True):
        assert last is not None
        assert (start["head_run_id"], start["head_seq"], start["head_hash"]) == (
            last.run_id,
            last.seq,
            last.hash,
        )


# -- A whole run deleted ---------------------------------------------------------------------------


def test_a_deleted_run_is_found_from_the_run_after_it(recorded: Recorded) -> None:
    _, middle, last = recorded.ids
    with _tampering(recorded, "deleted-run.db") as conn:
        conn.execute("DELETE FROM events WHERE run_id = ?", [middle])
        conn.execute("DELETE FROM snapshots WHERE run_id = ?", [middle])
    report = _verify(recorded.db.with_name("deleted-run.db"))
    assert not report.ok
    assert all(run.ok for run in report.runs)  # what is left verifies, run by run
    (problem,) = report.problems
    assert problem.startswith(f"run {last} began after event ")
    assert problem.endswith(f"of run {middle}, which is not in the log: that run was deleted")


def test_the_deleted_newest_run_is_found_by_an_anchor_only(recorded: Recorded) -> None:
    saved = _head(recorded.db)
    with _tampering(recorded, "deleted-newest.db") as conn:
        conn.execute("DELETE FROM events WHERE run_id = ?", [recorded.ids[-1]])
    db = recorded.db.with_name("deleted-newest.db")
    plain = _verify(db)
    assert plain.ok  # nothing after it vouches for it: verify says so
    assert any("nothing vouches for the newest run" in note for note in plain.notes)
    (problem,) = _verify(db, saved).problems
    assert problem == f"anchor {saved}: run {recorded.ids[-1]} is not in the log: it was deleted"


# -- The last events of a run cut off ------------------------------------------------------------


def test_a_cut_tail_is_found_from_the_run_after_it(recorded: Recorded) -> None:
    first, middle, _ = recorded.ids
    with _tampering(recorded, "cut-tail.db") as conn:
        end = _last_seq(conn, first)
        conn.execute("DELETE FROM events WHERE run_id = ? AND seq > ?", [first, end - 3])
    report = _verify(recorded.db.with_name("cut-tail.db"))
    assert report.problems == (
        f"run {middle} began after event {end} of run {first}, which now ends at event "
        f"{end - 3}: that run's tail was cut",
    )
    # Verifying only the cut run names it too: the run after it speaks for it.
    alone = _verify(recorded.db.with_name("cut-tail.db"), run_id=first)
    assert alone.problems == report.problems


def test_the_cut_tail_of_the_newest_run_is_found_by_an_anchor(recorded: Recorded) -> None:
    newest = recorded.ids[-1]
    saved = _head(recorded.db)
    with _tampering(recorded, "cut-newest.db") as conn:
        end = _last_seq(conn, newest)
        conn.execute("DELETE FROM events WHERE run_id = ? AND seq > ?", [newest, end - 2])
        # The cache after the cut goes too (it is not append-only): else it tells (below).
        conn.execute("DELETE FROM snapshots WHERE run_id = ? AND seq > ?", [newest, end - 2])
    db = recorded.db.with_name("cut-newest.db")
    assert _verify(db).ok
    (problem,) = _verify(db, saved).problems
    assert problem == f"anchor {saved}: run {newest} has no event {end}: its tail was cut"
    result = _cli("verify", "--db", db, "--anchor", saved)
    assert result.exit_code == 1
    assert f"log: {problem}" in result.stdout.splitlines()


def test_the_cut_tail_of_the_newest_run_is_found_by_what_its_deploy_stored_at_its_end(
    recorded: Recorded,
) -> None:
    newest = recorded.ids[-1]
    with _tampering(recorded, "cut-newest-cached.db") as conn:
        end = _last_seq(conn, newest)
        conn.execute("DELETE FROM events WHERE run_id = ? AND seq > ?", [newest, end - 2])
    (run,) = [
        run for run in _verify(recorded.db.with_name("cut-newest-cached.db")).runs if not run.ok
    ]
    assert run.run_id == newest
    assert run.problem == (
        f"a snapshot is stored after event {end}, past the run's last ({end - 2})"
    )


# -- The append-only triggers replaced by no-op triggers with the same names ---------------------


def test_no_op_triggers_with_the_guards_names_are_reported(recorded: Recorded) -> None:
    with _tampering(recorded, "no-op-triggers.db", restore=False) as conn:
        for name, statement in (("events_no_update", "UPDATE"), ("events_no_delete", "DELETE")):
            conn.execute(f"CREATE TRIGGER {name} BEFORE {statement} ON events BEGIN SELECT 1; END")
    db = recorded.db.with_name("no-op-triggers.db")
    with closing(sqlite3.connect(db)) as conn, conn:
        sql = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
        assert all("SELECT 1" in text for text in sql.values())
        conn.execute("UPDATE events SET host = 'x' WHERE 0")  # not refused any more
    assert _verify(db).problems == (
        "the append-only trigger events_no_update is not the one eventstate makes "
        "(its SQL differs): UPDATE may not be refused",
        "the append-only trigger events_no_delete is not the one eventstate makes "
        "(its SQL differs): DELETE may not be refused",
    )


def test_an_extra_trigger_on_the_events_table_is_reported(recorded: Recorded) -> None:
    with _tampering(recorded, "extra-trigger.db") as conn:
        conn.execute("CREATE TRIGGER events_audit AFTER INSERT ON events BEGIN SELECT 1; END")
    problems = _verify(recorded.db.with_name("extra-trigger.db")).problems
    assert problems == ("an unexpected trigger events_audit is on the events table",)


def test_the_guards_sql_compares_whitespace_insensitively(recorded: Recorded) -> None:
    # The same SQL spelled with other spaces and line breaks is the same guard.
    with _tampering(recorded, "respaced.db") as conn:
        pass
    db = recorded.db.with_name("respaced.db")
    with closing(sqlite3.connect(db)) as conn, conn:
        saved = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        for name, sql in saved.fetchall():
            conn.execute(f"DROP TRIGGER {name}")
            conn.execute(sql.replace(" BEGIN ", "\n  BEGIN\n    ").replace(" ON ", "  ON  "))
    assert _verify(db).ok


# -- Rows with seq <= 0 ---------------------------------------------------------------------------


@pytest.mark.parametrize("seq", [0, -1])
def test_rows_stored_before_seq_one_are_found(recorded: Recorded, seq: int) -> None:
    run_id = recorded.ids[0]
    with _tampering(recorded, f"seq{seq}.db") as conn:
        row = conn.execute("SELECT * FROM events WHERE run_id = ? AND seq = 2", [run_id]).fetchone()
        conn.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [run_id, seq, *row[2:]]
        )
    db = recorded.db.with_name(f"seq{seq}.db")
    with SqliteEventLog(db, read_only=True) as log:
        assert [e.seq for e in log.read(run_id)][:1] == [1]  # a reader from 1 never sees it
    report = _verify(db)
    bad = [str(run) for run in report.runs if not run.ok]
    assert bad == [f"run {run_id}: a row has the sequence number {seq}: sequences start at 1"]


def test_a_run_of_rows_at_seq_zero_only_is_found(recorded: Recorded) -> None:
    with _tampering(recorded, "only-zero.db") as conn:
        row = conn.execute(
            "SELECT * FROM events WHERE run_id = ? AND seq = 2", [recorded.ids[0]]
        ).fetchone()
        conn.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ["ghost", 0, *row[2:]]
        )
    report = _verify(recorded.db.with_name("only-zero.db"))
    assert [str(run) for run in report.runs if not run.ok] == [
        "run ghost: a row has the sequence number 0: sequences start at 1"
    ]


# -- A forged snapshots row ----------------------------------------------------------------------


def _forge_snapshot(db: Path, run_id: str, change: dict[str, int]) -> int:
    """Rewrite the run's latest snapshot with ``change`` in a host's results; its seq."""
    import zlib

    with closing(sqlite3.connect(db)) as conn, conn:
        seq, blob = conn.execute(
            "SELECT seq, data FROM snapshots WHERE run_id = ? AND version = ? "
            "ORDER BY seq DESC LIMIT 1",
            [run_id, PROJECTION_VERSION],
        ).fetchone()
        data = json.loads(zlib.decompress(blob))
        results = data["views"]["results"]
        host = next(iter(results))
        results[host].update(change)
        conn.execute(
            "UPDATE snapshots SET data = ? WHERE run_id = ? AND version = ? AND seq = ?",
            [zlib.compress(json.dumps(data).encode()), run_id, PROJECTION_VERSION, seq],
        )
    return int(seq)


def test_a_forged_snapshot_is_found(recorded: Recorded) -> None:
    run_id = recorded.ids[1]
    db = _copy(recorded, "forged-snapshot.db")
    seq = _forge_snapshot(db, run_id, {"error_ops": 0, "success_ops": 99})
    # Readers trust snapshots (they are the cache that spares a fold)...
    with SqliteEventLog(db, read_only=True) as log:
        assert Run(log, run_id).state().results["@sim/a"].success_ops == 99
    # ...and verify folds the run and compares.
    report = _verify(db)
    assert [str(run) for run in report.runs if not run.ok] == [
        f"run {run_id}, event {seq}: the stored snapshot after this event is not the fold of "
        "the events (forged, or damaged): a reader starting from it sees a false state"
    ]
    assert _cli("verify", "--db", db).exit_code == 1


def test_a_damaged_snapshot_is_found(recorded: Recorded) -> None:
    run_id = recorded.ids[1]
    db = _copy(recorded, "damaged-snapshot.db")
    import zlib

    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "UPDATE snapshots SET data = ? WHERE run_id = ? AND seq = 5",
            [zlib.compress(b'{"views": {}}'), run_id],
        )
    report = _verify(db)
    assert [(run.run_id, run.bad_seq) for run in report.runs if not run.ok] == [(run_id, 5)]


def test_a_snapshot_past_the_runs_end_is_found(recorded: Recorded) -> None:
    run_id = recorded.ids[1]
    db = _copy(recorded, "far-snapshot.db")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "INSERT INTO snapshots SELECT run_id, version, seq + 1000, data FROM snapshots "
            "WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
            [run_id],
        )
    (bad,) = [str(run) for run in _verify(db).runs if not run.ok]
    assert "a snapshot is stored after event" in bad and "past the run's last" in bad


def test_snapshots_of_other_projection_code_are_not_judged(recorded: Recorded) -> None:
    db = _copy(recorded, "other-version.db")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "INSERT INTO snapshots VALUES (?, 'another-version', 3, ?)",
            [recorded.ids[0], b"not even zlib"],
        )
    assert _verify(db).ok


# -- An edited payload with the chain recomputed --------------------------------------------------


def _rewrite(conn: sqlite3.Connection, run_id: str) -> None:
    """Change a command's output in the run and recompute its chain: a consistent forgery."""
    seq, payload = conn.execute(
        "SELECT seq, payload FROM events WHERE run_id = ? AND type = 'HostOperationFinished' "
        "AND json_array_length(payload, '$.commands') > 0 ORDER BY seq LIMIT 1",
        [run_id],
    ).fetchone()
    data = json.loads(payload)
    data["commands"][0]["stdout"] = "all is well\n"
    conn.execute(
        "UPDATE events SET payload = ? WHERE run_id = ? AND seq = ?",
        [canonical_json(data), run_id, seq],
    )
    _rechain(conn, run_id)


def test_a_rewritten_run_is_found_from_the_run_after_it(recorded: Recorded) -> None:
    first, middle, _ = recorded.ids
    with _tampering(recorded, "rewritten.db") as conn:
        _rewrite(conn, first)
        end = _last_seq(conn, first)
    report = _verify(recorded.db.with_name("rewritten.db"))
    assert all(run.ok for run in report.runs)  # the forgery is consistent in itself
    assert report.problems == (
        f"run {middle} began after event {end} of run {first}, whose hash has changed since: "
        "that run was rewritten",
    )


def test_a_rewritten_newest_run_is_found_by_an_anchor_only(recorded: Recorded) -> None:
    newest = recorded.ids[-1]
    saved = _head(recorded.db)
    with _tampering(recorded, "rewritten-newest.db") as conn:
        _rewrite(conn, newest)
    db = recorded.db.with_name("rewritten-newest.db")
    assert _verify(db).ok
    (problem,) = _verify(db, saved).problems
    assert problem.startswith(f"anchor {saved}: event ")
    assert problem.endswith("the run was rewritten since the anchor was saved")
    # A bare hash anchor is looked for anywhere in the log.
    bare = saved.rsplit(":", 1)[1]
    assert _verify(recorded.db, bare).ok
    (problem,) = _verify(db, bare).problems
    assert problem == f"anchor {bare}: no event of the log has this hash: the log was rewritten"


def test_a_rewrite_carried_through_every_later_run_is_found_by_an_anchor(
    recorded: Recorded,
) -> None:
    # The forger rewrites the first run, then each later run's link and chain in turn:
    # consistent everywhere -- but the newest run's last hash is not the one saved.
    saved = _head(recorded.db)
    with _tampering(recorded, "rewritten-all.db") as conn:
        _rewrite(conn, recorded.ids[0])
        for before, run_id in zip(recorded.ids, recorded.ids[1:], strict=False):
            seq, digest = conn.execute(
                "SELECT seq, hash FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
                [before],
            ).fetchone()
            payload = conn.execute(
                "SELECT payload FROM events WHERE run_id = ? AND seq = 1", [run_id]
            ).fetchone()[0]
            data = json.loads(payload)
            data["head_seq"], data["head_hash"] = seq, digest
            conn.execute(
                "UPDATE events SET payload = ? WHERE run_id = ? AND seq = 1",
                [canonical_json(data), run_id],
            )
            _rechain(conn, run_id)
    db = recorded.db.with_name("rewritten-all.db")
    assert _verify(db).ok
    assert not _verify(db, saved).ok


# -- integrity_check on a damaged page ------------------------------------------------------------


def _damage_index(db: Path) -> None:
    """Change a host name inside the events_host index's pages (the table keeps it)."""
    with closing(sqlite3.connect(db)) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'events_host'"
        ).fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    page = data[(root - 1) * page_size : root * page_size]
    at = page.find(b"@sim/a")
    assert at >= 0
    page[at : at + 6] = b"@sim/z"
    data[(root - 1) * page_size : root * page_size] = page
    db.write_bytes(bytes(data))


def test_a_damaged_index_page_is_reported_by_the_integrity_check(recorded: Recorded) -> None:
    db = _copy(recorded, "damaged-index.db")
    _damage_index(db)
    report = _verify(db)
    assert not report.ok
    assert report.problems
    assert all(p.startswith("SQLite's integrity check: ") for p in report.problems)
    assert all(run.ok for run in report.runs)  # the rows themselves read and verify
    result = _cli("verify", "--db", db)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stdout.startswith("log: SQLite's integrity check: ")


def test_a_garbled_data_page_is_reported_in_lines(recorded: Recorded) -> None:
    db = _copy(recorded, "garbled.db")
    with closing(sqlite3.connect(db)) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()[
            0
        ]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    pages = len(data) // page_size
    # A page of the events table's rows, past its root: garbled in the middle.
    target = next(
        p
        for p in range(root + 1, pages)
        if b'"run_id":' in data[p * page_size : (p + 1) * page_size]  # a payload, not the DDL
    )
    start = target * page_size + 8
    data[start : start + 64] = b"\xff" * 64
    db.write_bytes(bytes(data))
    result = _cli("verify", "--db", db)
    assert "Traceback" not in result.output
    assert result.exit_code == 1
    # Found by the check, or so damaged that the check itself stops: said either way.
    assert result.stdout.startswith("log: SQLite's integrity check")


# -- Import of an export whose tail was cut --------------------------------------------------------


def _export(recorded: Recorded, run_id: str) -> list[str]:
    with SqliteEventLog(recorded.db, read_only=True) as log:
        return list(export_lines(Run(log, run_id)))


# (Cutting the trailer alone leaves a whole run, ending with its RunFinished: an export
# as written before trailers, accepted -- see test_an_old_export_without_trailer...)
@pytest.mark.parametrize("cut", [2, 3, 5])
def test_an_export_cut_short_is_refused(recorded: Recorded, tmp_path: Path, cut: int) -> None:
    run_id = recorded.ids[0]
    lines = _export(recorded, run_id)[:-cut]
    with pytest.raises(IntegrityError, match=rf"^run {run_id}: the export is incomplete: "):
        verify_export(read_export(lines))
    path = tmp_path / "cut.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    result = _cli("import", path, "--db", tmp_path / "new.db")
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith(f"Error: {path}: run {run_id}: the export is incomplete: ")
    assert not (tmp_path / "new.db").exists()


def test_an_export_cut_inside_a_line_is_refused(recorded: Recorded, tmp_path: Path) -> None:
    text = "".join(_export(recorded, recorded.ids[0]))
    path = tmp_path / "cut.jsonl"
    path.write_text(text[: len(text) - 40], encoding="utf-8")
    result = _cli("import", path, "--db", tmp_path / "new.db")
    assert result.exit_code == 2 and len(result.output.splitlines()) == 1


def test_a_trailer_that_does_not_match_is_refused(recorded: Recorded) -> None:
    run_id = recorded.ids[0]
    *rows, trailer = _export(recorded, run_id)
    wrong_hash = json.loads(trailer)
    wrong_hash["trailer"]["hash"] = "f" * 64
    with pytest.raises(IntegrityError, match="another last hash"):
        verify_export(read_export([*rows, json.dumps(wrong_hash)]))
    with pytest.raises(IntegrityError, match="rows after its trailer"):
        verify_export(read_export([*rows[:-1], trailer, rows[-1]]))
    with pytest.raises(IntegrityError, match="two trailers"):
        verify_export(read_export([*rows, trailer, trailer]))


def test_an_old_export_without_trailer_is_imported_only_whole(recorded: Recorded) -> None:
    # Exports written before trailers: a run that ends with its RunFinished is whole.
    rows = _export(recorded, recorded.ids[0])[:-1]
    assert json.loads(rows[-1])["type"] == "RunFinished"
    assert verify_export(read_export(rows)).events == len(rows)
    with pytest.raises(IntegrityError, match="has no trailer and ends at event"):
        verify_export(read_export(rows[:-1]))


# -- Imported runs, anchors, the head command -----------------------------------------------------


def test_runs_imported_from_another_log_are_noted_not_blamed(
    recorded: Recorded, tmp_path: Path
) -> None:
    middle = recorded.ids[1]
    path = tmp_path / "middle.jsonl"
    path.write_text("".join(_export(recorded, middle)), encoding="utf-8")
    new = tmp_path / "new.db"
    assert _cli("import", path, "--db", new).exit_code == 0
    # A run of the new log's own, after the imported one, links to it.
    with SqliteEventLog(new) as log:
        own = _deploy(log, 0.0)
    report = _verify(new, _head(new))
    assert report.ok, report.lines()
    assert report.notes == (
        f"run {middle} was written into another log ({_log_id(recorded.db)}): the run it "
        f"follows there ({recorded.ids[0]}) is not here to check",
    )
    with SqliteEventLog(new, read_only=True) as log:
        start = json.loads(next(log.read(own, 1, 1)).payload)
        assert (start["head_run_id"], start["log_id"]) == (middle, log.log_id)


def _log_id(db: Path) -> str | None:
    with SqliteEventLog(db, read_only=True) as log:
        return log.log_id


def test_an_older_log_gets_an_id_from_its_first_writer(recorded: Recorded) -> None:
    db = _copy(recorded, "no-id.db")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DELETE FROM eventstate_meta WHERE key = 'log_id'")
    assert _log_id(db) is None  # a reader does not write it
    with SqliteEventLog(db):
        pass
    assert _log_id(db) not in (None, _log_id(recorded.db))


def test_the_head_command_prints_the_anchor(recorded: Recorded) -> None:
    result = _cli("head", "--db", recorded.db)
    assert result.exit_code == 0
    assert result.stdout == _head(recorded.db) + "\n"
    as_json = json.loads(_cli("head", "--db", recorded.db, "--json").stdout)
    assert as_json["anchor"] == _head(recorded.db)
    assert as_json["log_id"] == _log_id(recorded.db)
    verified = _cli("verify", "--db", recorded.db, "--anchor", result.stdout.strip())
    assert verified.exit_code == 0 and verified.stderr == ""


def test_the_head_of_an_empty_log_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    SqliteEventLog(db).close()
    result = _cli("head", "--db", db)
    assert result.exit_code == 2
    assert result.output == f"Error: {db} holds no events: it has no head\n"


@pytest.mark.parametrize("bad", ["nope", "run:x:" + "a" * 64, "A" * 64, "a" * 63])
def test_a_malformed_anchor_is_one_line(recorded: Recorded, bad: str) -> None:
    with pytest.raises(UsageError):
        Anchor.parse(bad)
    result = _cli("verify", "--db", recorded.db, "--anchor", bad)
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1


def test_the_memory_store_chains_its_runs_too() -> None:
    log = MemoryEventLog()
    ids = []
    for _ in range(2):
        state = State(Inventory((["@sim/a"], {})), Config(), log=log)
        state.finish()
        ids.append(state.run_id)
    assert verify_log(log).ok
    first_end = log.last_event(ids[0])
    start = json.loads(next(log.read(ids[1], 1, 1)).payload)
    assert first_end is not None
    assert (start["head_run_id"], start["head_hash"]) == (ids[0], first_end.hash)
