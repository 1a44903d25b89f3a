"""Fuzzed input never makes a traceback: imports of any bytes or JSON, logs with hostile rows.

``import`` is given arbitrary bytes, arbitrary JSON lines and real exports with
values swapped for arbitrary JSON; every read command is run on logs whose
rows chain correctly but whose columns hold what SQLite lets any program put
there (any type in any column, text that is not UTF-8, control characters,
huge and negative numbers). Each must end by itself: exit 0, 1 (verify, diff:
"the log is bad" / "the runs differ"), or 2 with one ``Error:`` line.

The commands run in-process (click's runner) to keep this fast; the
subprocess cases are in ``tests/test_bad_input.py``.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import attrs
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstate import SqliteEventLog
from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.cli import main
from eventstate.events import Event
from eventstate.replay import export_line
from eventstate.testing.runs import sample_run, stored_rows
from eventstate.testing.strategies import event_sequences, events

RUN = "run-1"

#: Fewer examples than the profile's: each runs many commands, and the file must stay fast.
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_COLUMNS = ("run_id", "seq", "type", "version", "timestamp", "host", "payload", "prev_hash", "hash")


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=True)


def assert_clean(result: Result, command: object) -> None:
    """The command ended by itself: no exception escaped, and an error is one line."""
    exception = result.exception
    assert exception is None or isinstance(exception, SystemExit), (
        f"{command}: {type(exception).__name__}: {exception}"
    )
    assert result.exit_code in (0, 1, 2), (command, result.output)
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (command, result.stderr)


@attrs.frozen
class RawText:
    """Bytes to store as TEXT as they are (``CAST(? AS TEXT)``): maybe not UTF-8 at all."""

    data: bytes


#: What a hostile program may put in any column.
HOSTILE = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, -1, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp"]), max_size=10),
    st.binary(max_size=30),
    st.binary(min_size=1, max_size=30).map(RawText),
    st.just(RawText(b'{"type": "RunStarted", "\xff": 1}')),
    st.just("x" * 100_000),
    st.none(),
)

_JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)

#: Any JSON value, nested a little.
JSON_VALUES = st.recursive(
    _JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

#: What a hostile payload may be (its hash recomputed, so the chain holds).
HOSTILE_PAYLOADS = st.one_of(
    st.text(max_size=50),
    st.builds(json.dumps, JSON_VALUES),
    st.just("[" * 5000),
    st.just('{"type": "HostActivated", "v": 1, "run_id": "run-1", "seq": 2}'),
    st.just('{"type": "HostActivated", "v": 99}'),
    st.just('{"type": "Nope"}'),
    st.binary(min_size=1, max_size=30).map(RawText),
)


@st.composite
def hostile_runs(draw: st.DrawFn) -> tuple[list[list[Any]], bool]:
    """A run's rows, chained, with some columns made hostile; and whether to store them in
    a fresh table without the schema's constraints (NOT NULL, the primary key)."""
    run: list[Event] = draw(event_sequences(run_id=RUN, max_size=10))
    # Events of any type about any host, out of place: well-formed, but a run no State records.
    strays = draw(st.lists(events(run_id=RUN), max_size=3))
    for stray in strays:
        at = draw(st.integers(min_value=1, max_value=len(run)))
        run.insert(at, stray)
    run = [attrs.evolve(event, seq=seq) for seq, event in enumerate(run, start=1)]
    rows = [list(attrs.astuple(row)) for row in stored_rows(run)]
    loose = draw(st.booleans())
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        index = draw(st.integers(min_value=0, max_value=len(rows) - 1))
        column = draw(st.sampled_from(_COLUMNS))
        if column == "payload":
            rows[index][6] = draw(HOSTILE_PAYLOADS)
        else:
            value = draw(HOSTILE)
            if value is None and not loose and column != "host":
                value = 0  # NOT NULL in the schema's table
            rows[index][_COLUMNS.index(column)] = value
    # The chain holds over whatever payloads are there: the readers must check more than it.
    prev = GENESIS_HASH
    for row in rows:
        payload = row[6].data if isinstance(row[6], RawText) else row[6]
        if isinstance(row[7], str) and isinstance(row[8], str):  # unless made hostile
            row[7], row[8] = prev, chain_hash(prev, payload)
        prev = row[8] if isinstance(row[8], str) else prev
    return rows, loose


def write_log(path: Path, rows: list[list[Any]], loose: bool) -> None:
    with SqliteEventLog(path):
        pass  # the schema, as a writer makes it
    with closing(sqlite3.connect(path)) as db:
        if loose:
            db.execute("DROP TABLE events")
            db.execute(f"CREATE TABLE events ({', '.join(_COLUMNS)})")
        for row in rows:
            marks = ", ".join("CAST(? AS TEXT)" if isinstance(v, RawText) else "?" for v in row)
            values = [v.data if isinstance(v, RawText) else v for v in row]
            # A repeated (run_id, seq) in the schema's table: that row is not stored.
            with suppress(sqlite3.IntegrityError):
                db.execute(f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({marks})", values)
        db.commit()


#: Every read command on RUN (the timeline's page written to the test's directory).
def read_commands(db: Path, tmp: Path) -> Iterator[list[object]]:
    yield ["runs", "--db", db]
    yield ["verify", "--db", db]
    for command in (
        ["show", RUN],
        ["events", RUN],
        ["events", RUN, "--json"],
        ["state", RUN],
        ["export", RUN],
        ["step", RUN],
        ["diff", RUN, RUN],
        ["timeline", RUN, "--html", tmp / "timeline.html"],
        ["report", RUN, "--html", tmp / "report.html"],
    ):
        yield [*command, "--db", db]


@FUZZ
@given(hostile_runs())
def test_every_read_command_survives_hostile_rows(run: tuple[list[list[Any]], bool]) -> None:
    rows, loose = run
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        db = tmp / "events.db"
        write_log(db, rows, loose)
        for command in read_commands(db, tmp):
            assert_clean(invoke(*command), command)


def test_the_hostile_rows_strategy_reaches_the_readers() -> None:
    # The untouched run reads back: the commands above are not all failing at the door.
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        db = tmp / "events.db"
        write_log(db, [list(attrs.astuple(row)) for row in sample_run(RUN).rows()], False)
        for command in read_commands(db, tmp):
            result = invoke(*command)
            assert result.exit_code == 0, (command, result.output)


# -- Imports -----------------------------------------------------------------------------------

GOOD_EXPORT = [json.loads(export_line(row)) for row in sample_run(RUN).rows()]


def _import(data: bytes) -> Result:
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "export.jsonl"
        source.write_bytes(data)
        result = invoke("import", source, "--db", Path(directory) / "imported.db")
    assert_clean(result, "import")
    return result


@settings(deadline=None)
@given(st.binary(max_size=3000))
def test_import_of_any_bytes_is_a_result_or_one_line(data: bytes) -> None:
    _import(data)


@settings(deadline=None)
@given(st.lists(JSON_VALUES, max_size=5))
def test_import_of_any_json_lines_is_a_result_or_one_line(values: list[Any]) -> None:
    lines = "".join(json.dumps(value) + "\n" for value in values)
    _import(lines.encode("utf-8", "surrogatepass"))


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(GOOD_EXPORT) - 1),
            st.sampled_from(_COLUMNS),
            JSON_VALUES,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_import_of_an_export_with_values_swapped_is_refused_or_imported(
    swaps: list[tuple[int, str, Any]],
) -> None:
    rows = [dict(row) for row in GOOD_EXPORT]
    for index, key, value in swaps:
        rows[index][key] = value
    lines = "".join(json.dumps(row) + "\n" for row in rows)
    result = _import(lines.encode("utf-8", "surrogatepass"))
    if rows == GOOD_EXPORT:
        assert result.exit_code == 0
    elif any(not isinstance(row["payload"], str) for row in rows):
        assert result.exit_code == 2


def test_import_of_the_good_export_imports() -> None:
    lines = "".join(json.dumps(row) + "\n" for row in GOOD_EXPORT)
    assert _import(lines.encode()).exit_code == 0
