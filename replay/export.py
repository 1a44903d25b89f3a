"""Runs as JSON Lines: exporting stored rows, and importing them into another log.

An export is one stored row per line, hashes included, so the run can be
verified wherever it lands, and after each run's rows a trailer line --
``{"trailer": {"events": N, "hash": H, "run_id": R}}``, the run's count and
last hash -- so that an export cut short is refused, not imported as a
shorter run. Importing is the one place in ``replay`` that writes:
:func:`import_runs` appends to a log only rows that :func:`verify_export` has
checked, all of them or none.

An export written before trailers existed has none: it is accepted when each
of its runs ends with its ``RunFinished`` (a cut tail would have lost it),
refused otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping

import attrs
import orjson

from eventstate.codec import EventCodec
from eventstate.errors import CodecError, IntegrityError, SequenceError
from eventstate.events import RunFinished
from eventstate.replay.run import Run
from eventstate.replay.verify import verify_events
from eventstate.stores.base import EventLog, StoredEvent

__all__ = [
    "ExportTrailer",
    "VerifiedExport",
    "export_line",
    "export_lines",
    "export_trailer",
    "import_runs",
    "read_export",
    "verify_export",
]

#: The keys of an exported line, in the order written: every column a store keeps.
_KEYS = ("run_id", "seq", "type", "version", "timestamp", "host", "payload", "prev_hash", "hash")

#: The one key of a trailer line.
_TRAILER = "trailer"


@attrs.frozen
class ExportTrailer:
    """The line after a run's rows in an export: how many there are, and the last's hash.

    Attributes:
        run_id: The run.
        events: How many of its rows the export holds.
        hash: The hash of the last of them.
    """

    run_id: str
    events: int
    hash: str


def export_line(stored: StoredEvent) -> str:
    """One stored row as a line of JSON (with its newline)."""
    row = {key: getattr(stored, key) for key in _KEYS}
    return json.dumps(row, ensure_ascii=False) + "\n"


def export_trailer(trailer: ExportTrailer) -> str:
    """A run's trailer as a line of JSON (with its newline)."""
    fields = {"events": trailer.events, "hash": trailer.hash, "run_id": trailer.run_id}
    return json.dumps({_TRAILER: fields}, ensure_ascii=False) + "\n"


def export_lines(run: Run) -> Iterator[str]:
    """The run's stored rows as JSON Lines, in order, then its trailer."""
    count, last = 0, None
    for stored in run.stored():
        count, last = count + 1, stored.hash
        yield export_line(stored)
    if last is not None:
        yield export_trailer(ExportTrailer(run.run_id, count, last))


def _trailer(fields: dict[str, object]) -> ExportTrailer:
    inner = fields[_TRAILER]
    if not isinstance(inner, dict) or set(inner) != {"events", "hash", "run_id"}:
        raise TypeError("a trailer holds exactly events, hash and run_id")
    run_id, events, digest = inner["run_id"], inner["events"], inner["hash"]
    if not (isinstance(run_id, str) and type(events) is int and isinstance(digest, str)):
        raise TypeError("a trailer's run_id and hash are strings, its events a number")
    return ExportTrailer(run_id, events, digest)


def read_export(
    lines: Iterable[str | bytes], source: str = "<export>"
) -> list[StoredEvent | ExportTrailer]:
    """The rows (and trailers) of JSON Lines written by :func:`export_lines`, in the
    order read (blank lines skipped).

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
    rows: list[StoredEvent | ExportTrailer] = []
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
            if isinstance(fields, dict) and set(fields) == {_TRAILER}:
                rows.append(_trailer(fields))
                continue
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
    rows: Iterable[StoredEvent | ExportTrailer], *, codec: EventCodec | None = None
) -> VerifiedExport:
    """Check every run in ``rows`` with :func:`~eventstate.replay.verify.verify_events`,
    and that the export holds all of it.

    Rows of several runs may be interleaved; each run's must be in order. A
    run's trailer must come after its rows and match their count and last
    hash; a run without one (an export older than trailers) must end with its
    ``RunFinished``.

    Raises:
        IntegrityError: a run does not verify, or is cut short; the message is one line.
    """
    codec = codec or EventCodec()
    runs: dict[str, list[StoredEvent]] = {}
    trailers: dict[str, ExportTrailer] = {}
    for row in rows:
        if isinstance(row, ExportTrailer):
            if row.run_id in trailers:
                raise IntegrityError(f"run {row.run_id}: the export has two trailers")
            trailers[row.run_id] = row
            continue
        if row.run_id in trailers:
            raise IntegrityError(f"run {row.run_id}: the export has rows after its trailer")
        runs.setdefault(row.run_id, []).append(row)
    for run_id in trailers.keys() - runs.keys():
        raise IntegrityError(f"run {run_id}: the export has its trailer but none of its rows")
    for run_id, run_rows in runs.items():
        verify_events(run_id, run_rows, codec=codec).raise_for_problem()
        _check_complete(run_id, run_rows, trailers.get(run_id))
    return VerifiedExport({run_id: tuple(run_rows) for run_id, run_rows in runs.items()})


def _check_complete(run_id: str, rows: list[StoredEvent], trailer: ExportTrailer | None) -> None:
    """Raise :class:`IntegrityError` if the export holds less of the run than it was
    written with (its trailer says how much) -- or, without a trailer, than a whole run."""
    last = rows[-1]
    if trailer is None:
        if last.type != RunFinished.event_type:
            raise IntegrityError(
                f"run {run_id}: the export is incomplete: it has no trailer and ends at "
                f"event {last.seq}, not the run's end (cut short?)"
            )
        return
    if (trailer.events, trailer.hash) != (len(rows), last.hash):
        raise IntegrityError(
            f"run {run_id}: the export is incomplete: its trailer says {trailer.events} "
            f"events, but it holds {len(rows)} ending at another hash (cut short?)"
            if trailer.events != len(rows)
            else f"run {run_id}: the export's trailer names another last hash than its rows'"
        )


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
