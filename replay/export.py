"""Runs as JSON Lines: exporting stored rows, and importing them into another log.

An export is one stored row per line, hashes included, so the run can be
verified wherever it lands. Importing is the one place in ``replay`` that
writes: :func:`import_runs` appends to a log only rows that
:func:`verify_export` has checked, all of them or none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping

import attrs
import orjson

from eventstate.codec import EventCodec
from eventstate.errors import CodecError, SequenceError
from eventstate.replay.run import Run
from eventstate.replay.verify import verify_events
from eventstate.stores.base import EventLog, StoredEvent

__all__ = [
    "VerifiedExport",
    "export_line",
    "export_lines",
    "import_runs",
    "read_export",
    "verify_export",
]

#: The keys of an exported line, in the order written: every column a store keeps.
_KEYS = ("run_id", "seq", "type", "version", "timestamp", "host", "payload", "prev_hash", "hash")


def export_line(stored: StoredEvent) -> str:
    """One stored row as a line of JSON (with its newline)."""
    row = {key: getattr(stored, key) for key in _KEYS}
    return json.dumps(row, ensure_ascii=False) + "\n"


def export_lines(run: Run) -> Iterator[str]:
    """The run's stored rows as JSON Lines, in order."""
    for stored in run.stored():
        yield export_line(stored)


def read_export(lines: Iterable[str | bytes], source: str = "<export>") -> list[StoredEvent]:
    """The rows of JSON Lines written by :func:`export_lines` (blank lines skipped).

    Every line is checked to be an exported row -- UTF-8 text, one JSON object
    with exactly the row's keys, each of its type -- before it is used; what
    the rows say is not verified here: see :func:`verify_export`.

    Args:
        lines: The lines, as a text file gives them (or a binary file: bytes
            are decoded as UTF-8).
        source: What to call them in an error (a file's name).

    Raises:
        CodecError: a line is not an exported row; the error names ``source`` and the line.
    """
    rows: list[StoredEvent] = []
    for number, line in enumerate(lines, start=1):
        try:
            text = line.decode("utf-8") if isinstance(line, bytes) else line
        except UnicodeDecodeError as error:
            raise CodecError(
                f"{source}:{number}: not an exported event (not UTF-8: {error.reason})"
            ) from None
        if not text.strip():
            continue
        try:
            # orjson refuses what the standard library lets through: lone surrogates,
            # invalid UTF-8, nesting past 1024 levels (without a RecursionError).
            fields = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise CodecError(
                f"{source}:{number}: not an exported event (not JSON: {error})"
            ) from None
        try:
            rows.append(_exported_row(fields))
        except (TypeError, ValueError) as error:
            raise CodecError(f"{source}:{number}: not an exported event ({error})") from None
    return rows


#: The highest sequence number or version a store keeps (a signed 64-bit integer).
_MAX_INTEGER = 2**63 - 1

_JSON_TYPES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _exported_row(fields: object) -> StoredEvent:
    """The row a parsed line holds, once each of its keys is there with its type.

    Raises:
        TypeError: not a JSON object, or a value of the wrong type.
        ValueError: keys missing or extra, or a number out of range.
    """
    if not isinstance(fields, dict):
        raise TypeError(f"a JSON object was expected, not {_json_type(fields)}")
    if fields.keys() != set(_KEYS):
        missing = [key for key in _KEYS if key not in fields]
        extra = sorted(repr(key) for key in fields if key not in _KEYS)
        said = [f"missing {', '.join(missing)}"] if missing else []
        said += [f"unexpected {', '.join(extra)}"] if extra else []
        raise ValueError("; ".join(said))
    for key in ("seq", "version"):
        value = fields[key]
        if type(value) is not int:
            raise TypeError(f"{key} must be an integer, not {_json_type(value)}")
        if not 1 <= value <= _MAX_INTEGER:
            raise ValueError(f"{key} {value} is out of range (1 to {_MAX_INTEGER})")
    for key in ("run_id", "type", "timestamp", "payload", "prev_hash", "hash"):
        if type(fields[key]) is not str:
            raise TypeError(f"{key} must be a string, not {_json_type(fields[key])}")
    if fields["host"] is not None and type(fields["host"]) is not str:
        raise TypeError(f"host must be a string or null, not {_json_type(fields['host'])}")
    return StoredEvent(**fields)


@attrs.frozen
class VerifiedExport:
    """Exported rows whose every run verified: what :func:`import_runs` takes.

    Attributes:
        runs: Each run's rows, in order, by run id (in the order first exported).
    """

    runs: Mapping[str, tuple[StoredEvent, ...]]

    @property
    def events(self) -> int:
        """How many rows the export holds."""
        return sum(len(rows) for rows in self.runs.values())


def verify_export(
    rows: Iterable[StoredEvent], *, codec: EventCodec | None = None
) -> VerifiedExport:
    """Check every run in ``rows`` with :func:`~eventstate.replay.verify.verify_events`.

    Rows of several runs may be interleaved; each run's must be in order.

    Raises:
        IntegrityError: a run does not verify; the message is its report's line.
    """
    codec = codec or EventCodec()
    runs: dict[str, list[StoredEvent]] = {}
    for row in rows:
        runs.setdefault(row.run_id, []).append(row)
    for run_id, run_rows in runs.items():
        verify_events(run_id, run_rows, codec=codec).raise_for_problem()
    return VerifiedExport({run_id: tuple(run_rows) for run_id, run_rows in runs.items()})


def import_runs(log: EventLog, export: VerifiedExport) -> None:
    """Append the verified runs to ``log``: all their rows in one append, or nothing.

    Raises:
        SequenceError: a run is already in the log (nothing is written).
        StoreError: the store refused or failed the append.
    """
    present = {summary.run_id for summary in log.runs()}
    clash = next((run_id for run_id in export.runs if run_id in present), None)
    if clash is not None:
        raise SequenceError(f"run {clash} is already in this log")
    log.append([row for rows in export.runs.values() for row in rows])
