"""Export and import of runs as JSON Lines, through the library: one check, all or nothing."""

from __future__ import annotations

import json

import attrs
import pytest

from eventstate import (
    CodecError,
    Config,
    IntegrityError,
    Inventory,
    MemoryEventLog,
    SequenceError,
    State,
)
from eventstate.chain import chain_hash
from eventstate.replay import (
    ExportTrailer,
    Run,
    export_line,
    export_lines,
    export_trailer,
    import_runs,
    read_export,
    verify_events,
    verify_export,
    verify_run,
)
from eventstate.stores.base import StoredEvent


def _run(log: MemoryEventLog, hosts: tuple[str, ...] = ("web1", "web2")) -> str:
    inventory = Inventory((list(hosts), {}))
    state = State(inventory, Config(), log=log)
    for host in inventory:
        state.activate_host(host)
    state.fail_hosts([inventory.get_host(hosts[-1])])
    state.finish()
    return state.run_id


@pytest.fixture
def source() -> tuple[MemoryEventLog, list[str]]:
    log = MemoryEventLog()
    return log, [_run(log), _run(log, ("db1", "db2", "db3"))]


def _rows(log: MemoryEventLog, run_id: str) -> list[StoredEvent]:
    return list(log.read(run_id))


def test_an_exported_run_reads_back_row_for_row(source: tuple[MemoryEventLog, list[str]]) -> None:
    log, (run_id, _) = source
    lines = list(export_lines(Run(log, run_id)))
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    assert json.loads(lines[0])["seq"] == 1
    rows = _rows(log, run_id)
    trailer = ExportTrailer(run_id, len(rows), rows[-1].hash)
    assert read_export(["\n", *lines, "  \n"]) == [*rows, trailer]
    assert lines == [*(export_line(row) for row in rows), export_trailer(trailer)]


@pytest.mark.parametrize(
    "bad", ["not json", "[1, 2]", '{"run_id": "x"}', '"a string"', '{"run_id": "x", "nope": 1}']
)
def test_a_line_that_is_not_a_row_is_named(
    source: tuple[MemoryEventLog, list[str]], bad: str
) -> None:
    log, (run_id, _) = source
    lines = list(export_lines(Run(log, run_id)))
    lines[1] = bad + "\n"
    with pytest.raises(CodecError, match=r"^run\.jsonl:2: not an exported event \("):
        read_export(lines, source="run.jsonl")


def test_verify_events_is_verify_run_for_rows_from_anywhere(
    source: tuple[MemoryEventLog, list[str]],
) -> None:
    log, (run_id, other) = source
    rows = _rows(log, run_id)
    assert verify_events(run_id, rows) == verify_run(log, run_id)
    assert str(verify_events(run_id, rows)) == f"run {run_id}: {len(rows)} events verified"
    # A row of another run in the middle: named, as any other bad row.
    mixed = [*rows[:2], _rows(log, other)[2], *rows[3:]]
    report = verify_events(run_id, mixed)
    assert (report.bad_seq, report.events_checked) == (3, 2)
    assert str(report) == f"run {run_id}, event 3: belongs to another run ({other})"
    assert str(verify_events(run_id, [])) == f"run {run_id}: no events stored for this run"


def test_an_export_of_several_runs_verifies_interleaved(
    source: tuple[MemoryEventLog, list[str]],
) -> None:
    log, (one, two) = source
    a, b = _rows(log, one), _rows(log, two)
    interleaved = [row for pair in zip(a, b, strict=False) for row in pair]
    interleaved += a[len(b) :] + b[len(a) :]
    export = verify_export(interleaved)
    assert list(export.runs) == [one, two]
    assert export.runs[one] == tuple(a) and export.runs[two] == tuple(b)
    assert export.events == len(a) + len(b)


def _tampered(rows: list[StoredEvent], index: int) -> list[StoredEvent]:
    changed = list(rows)
    changed[index] = attrs.evolve(rows[index], payload=rows[index].payload.replace("web", "wob"))
    return changed


def test_a_tampered_export_fails_with_the_words_of_verify(
    source: tuple[MemoryEventLog, list[str]],
) -> None:
    log, (run_id, other) = source
    # The failed host's name in HostsFailed: in the payload only, no column repeats it.
    rows = _tampered(_rows(log, run_id), 3)
    with pytest.raises(IntegrityError) as raised:
        verify_export([*_rows(log, other), *rows])
    assert str(raised.value) == str(verify_events(run_id, rows))
    assert str(raised.value) == (
        f"run {run_id}, event 4: payload does not match its hash (changed after it was written)"
    )
    # Re-hashed, the forgery breaks the next link instead.
    forged = rows[3]
    rows[3] = attrs.evolve(forged, hash=chain_hash(forged.prev_hash, forged.payload))
    with pytest.raises(IntegrityError, match=r"event 5: does not link to the event before it"):
        verify_export(rows)
    with pytest.raises(IntegrityError, match=r"event 2: missing: the next stored event is 3"):
        verify_export([row for row in _rows(log, run_id) if row.seq != 2])


def test_import_writes_every_run_or_nothing(source: tuple[MemoryEventLog, list[str]]) -> None:
    log, (one, two) = source
    target = MemoryEventLog()
    import_runs(target, verify_export(_rows(log, one)))
    assert _rows(target, one) == _rows(log, one)
    # One run new, one already there: refused, and the new one is not written either.
    both = verify_export([*_rows(log, two), *_rows(log, one)])
    with pytest.raises(SequenceError, match=f"^run {one} is already in this log$"):
        import_runs(target, both)
    assert [summary.run_id for summary in target.runs()] == [one]
    fresh = MemoryEventLog()
    import_runs(fresh, both)
    assert [_rows(fresh, run_id) for run_id in (one, two)] == [
        _rows(log, run_id) for run_id in (one, two)
    ]
    assert all(verify_run(fresh, run_id).ok for run_id in (one, two))
