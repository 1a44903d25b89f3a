"""Verify a log: its runs' rows, their chains, their snapshots, and the chain across runs.

:func:`verify_events` is one check of a run's rows, wherever they come from: a
store (``eventstate verify``) or an export about to be imported (``eventstate
import``). :func:`verify_run` adds the run's stored snapshots, and
:func:`verify_log` the whole store: the backend's integrity check, its
append-only guards, each run's link to the log's head when it began (a deleted
run, a cut tail), and anchors -- heads saved earlier, elsewhere.

What no local check can catch is said, not hidden: a run rewritten with its
chain recomputed, or the newest run cut or deleted, is found only by a later
run's link or by an anchor (see :class:`LogReport`'s notes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs

from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.codec import EventCodec, payload_fields
from eventstate.errors import CodecError, IntegrityError, StoreCorruptError, StoreError, UsageError
from eventstate.events import Event, RunStarted
from eventstate.projections import StateView
from eventstate.projections.overview import OverviewFold
from eventstate.replay.run import OVERVIEW_VERSION, PROJECTION_VERSION
from eventstate.stores.base import EventLog, StoredEvent

__all__ = ["Anchor", "LogReport", "VerifyReport", "verify_events", "verify_log", "verify_run"]

#: The lowest sequence number a store can hold: verify reads from here, so that rows
#: stored at 0 or below (which a reader starting at 1 never sees) are found.
_LOWEST_SEQ = -(2**63)


@attrs.frozen
class VerifyReport:
    """What verifying a run found.

    Attributes:
        run_id: The run.
        events_checked: Events read before the first problem (all, when none).
        bad_seq: The sequence number of the first bad event, or None.
        problem: What is wrong with it, or None.
    """

    run_id: str
    events_checked: int
    bad_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run verified."""
        return self.problem is None

    def __str__(self) -> str:
        if self.ok:
            return f"run {self.run_id}: {self.events_checked} events verified"
        if self.bad_seq is None:
            return f"run {self.run_id}: {self.problem}"
        return f"run {self.run_id}, event {self.bad_seq}: {self.problem}"

    def raise_for_problem(self) -> None:
        """Raise :class:`IntegrityError` with the one-line report if the run is bad."""
        if not self.ok:
            raise IntegrityError(str(self))


def verify_events(
    run_id: str,
    rows: Iterable[StoredEvent],
    *,
    codec: EventCodec | None = None,
    snapshots: Mapping[int, str] | None = None,
    overviews: Mapping[int, str] | None = None,
) -> VerifyReport:
    """Check the rows of ``run_id``, in order, and report the first problem.

    Each row must belong to the run, have a sequence number from 1, follow the
    last with no gap, link to its hash, hash to what it stores, decode, and
    agree with its payload in every column: the chain covers only the payload,
    so a column rewritten alone (``host``, ``timestamp``...) is caught only by
    this comparison. Each of ``snapshots`` (the views' JSON after event
    ``seq``, by ``seq``) must restore to the fold of the events up to it, and
    each of ``overviews`` (a run's overview after event ``seq``) be what the
    overview's projections make of them.
    """
    codec = codec or EventCodec()
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    # Folded only to check snapshots: a run without any is not folded.
    overview_fold = OverviewFold() if overviews else None
    view = overview_fold.view if overview_fold is not None else StateView() if snapshots else None
    snapshots = snapshots or {}
    overviews = overviews or {}

    def bad(seq: Any, problem: str) -> VerifyReport:
        return VerifyReport(run_id, checked, seq if type(seq) is int else None, problem)

    for stored in rows:
        if stored.run_id != run_id:
            return bad(stored.seq, f"belongs to another run ({stored.run_id})")
        if type(stored.seq) is not int or stored.seq < 1:
            return bad(None, f"a row has the sequence number {stored.seq!r}: sequences start at 1")
        if stored.seq != expected_seq:
            return bad(expected_seq, f"missing: the next stored event is {stored.seq}")
        if stored.prev_hash != prev_hash:
            return bad(stored.seq, "does not link to the event before it (prev_hash differs)")
        if chain_hash(prev_hash, stored.payload) != stored.hash:
            return bad(stored.seq, "payload does not match its hash (changed after it was written)")
        try:
            fields = payload_fields(stored.payload)
            event = codec.from_dict(fields)
        except CodecError as error:
            return bad(stored.seq, f"does not decode: {error}")
        column = _disagreeing_column(stored, event, fields)
        if column is not None:
            return bad(stored.seq, f"row column {column} disagrees with its payload")
        if view is not None:
            view.apply(event)
            if stored.seq in snapshots and not _is_fold(snapshots[stored.seq], view):
                return bad(
                    stored.seq,
                    "the stored snapshot after this event is not the fold of the events "
                    "(forged, or damaged): a reader starting from it sees a false state",
                )
            if (
                overview_fold is not None
                and stored.seq in overviews
                and not _is_overview(overviews[stored.seq], overview_fold)
            ):
                return bad(
                    stored.seq,
                    "the stored overview after this event is not the fold of the events "
                    "(forged, or damaged): show and runs would print a false summary",
                )
        prev_hash = stored.hash
        expected_seq += 1
        checked += 1
    if checked == 0:
        return VerifyReport(run_id, 0, None, "no events stored for this run")
    for kind, stored_at in (("snapshot", snapshots), ("overview", overviews)):
        beyond = [seq for seq in stored_at if seq > checked]
        if beyond:
            return VerifyReport(
                run_id,
                checked,
                None,
                f"a {kind} is stored after event {min(beyond)}, past the run's last ({checked})",
            )
    return VerifyReport(run_id, checked)


def _is_fold(snapshot: str, view: StateView) -> bool:
    """Whether restoring ``snapshot`` gives ``view``: what a reader would start from."""
    try:
        restored = StateView.from_json(snapshot)
    except Exception:  # any damage in a stored snapshot (bad JSON, missing keys): not the fold
        return False
    # As values: the live State's mappings (groups, config) keep the order they were
    # made in, a fold the canonical order of the stored JSON -- the same views.
    return json.loads(restored.to_json()) == json.loads(view.to_json())


def _is_overview(stored: str, fold: OverviewFold) -> bool:
    """Whether ``stored`` is the overview ``fold`` makes (compared as values)."""
    try:
        return bool(json.loads(stored) == json.loads(fold.overview().to_json()))
    except ValueError:  # not JSON: damaged
        return False


def _disagreeing_column(stored: StoredEvent, event: Event, fields: Mapping[str, Any]) -> str | None:
    """The first column of ``stored`` that is not what its payload says, or None."""
    # The version and time as written (before any upcast or parsing), the host if it has one.
    payload_columns = (
        ("run_id", event.run_id),
        ("seq", event.seq),
        ("type", event.event_type),
        ("version", fields.get("v", 1)),
        ("timestamp", fields.get("at")),
        ("host", fields.get("host")),
    )
    for column, value in payload_columns:
        stored_value = getattr(stored, column)
        # type() too: a JSON true is not the version 1, nor a text "3" the seq 3.
        if stored_value != value or type(stored_value) is not type(value):
            return column
    return None


def verify_run(log: EventLog, run_id: str, *, codec: EventCodec | None = None) -> VerifyReport:
    """Check the stored run ``run_id`` -- every row, from the lowest sequence number a
    store holds, and every snapshot readers would use -- with :func:`verify_events`,
    and report the first problem."""
    store = log.snapshots()
    kept: dict[str, dict[int, str]] = {PROJECTION_VERSION: {}, OVERVIEW_VERSION: {}}
    for seq, version in store.entries(run_id):
        if version not in kept:
            continue  # made by other projection code: no reader of this version uses it
        try:
            found = store.latest(run_id, seq, version)
        except StoreCorruptError:
            found = (seq, "")  # damaged past reading: not the fold, said as such
        if found is not None and found[0] == seq:
            kept[version][seq] = found[1]
    return verify_events(
        run_id,
        log.read(run_id, _LOWEST_SEQ),
        codec=codec,
        snapshots=kept[PROJECTION_VERSION],
        overviews=kept[OVERVIEW_VERSION],
    )


_ANCHOR = re.compile(r"(?:(?P<run>[^:\s]+):(?P<seq>\d+):)?(?P<hash>[0-9a-f]{64})")


@attrs.frozen
class Anchor:
    """A head saved earlier (``eventstate head``): the event ``seq`` of ``run_id`` had
    ``hash``. Without a run and seq, any event of the log may carry the hash.

    Attributes:
        run_id: The run, or None.
        seq: Its event, or None.
        hash: The event's hash.
    """

    run_id: str | None
    seq: int | None
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """The anchor ``RUN:SEQ:HASH`` (what ``eventstate head`` prints) or ``HASH``.

        Raises:
            UsageError: ``text`` is neither.
        """
        match = _ANCHOR.fullmatch(text.strip())
        if match is None:
            raise UsageError(
                f"--anchor {text!r}: give RUN:SEQ:HASH as 'eventstate head' prints it, "
                "or a 64-digit lowercase hex hash"
            )
        seq = match["seq"]
        return cls(match["run"], int(seq) if seq is not None else None, match["hash"])

    def __str__(self) -> str:
        if self.run_id is None:
            return self.hash
        return f"{self.run_id}:{self.seq}:{self.hash}"


@attrs.frozen
class LogReport:
    """What verifying a log found.

    Attributes:
        problems: What is wrong with the log as a whole (integrity, guards,
            links between runs, anchors), one line each.
        runs: Each run's report, oldest first.
        notes: What could not be checked, and why, one line each: not problems.
    """

    problems: tuple[str, ...]
    runs: tuple[VerifyReport, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems and all(report.ok for report in self.runs)

    def lines(self) -> list[str]:
        """The findings as ``eventstate verify`` prints them: the log's problems, then
        each run's line (the notes are apart: :attr:`notes`)."""
        return [
            *(f"log: {problem}" for problem in self.problems),
            *(str(report) for report in self.runs),
        ]


def verify_log(
    log: EventLog,
    run_ids: Collection[str] | None = None,
    *,
    anchors: Sequence[Anchor] = (),
    codec: EventCodec | None = None,
) -> LogReport:
    """Check the log: the backend's integrity check, its append-only guards, every run
    (or the runs ``run_ids``) with :func:`verify_run`, each run's link to the log's head
    when it began, and each anchor.

    A run's ``RunStarted`` names the event that was the log's head when it began: that
    event must still be there with that hash. So a run deleted, a run's tail cut, or a
    run rewritten with its chain recomputed is found from any later run of this log;
    the newest run has no later run, and only an anchor covers it.
    """
    codec = codec or EventCodec()
    problems = [*log.check_integrity(), *log.check_guards()]
    try:
        all_ids = [summary.run_id for summary in log.runs()]
    except StoreError as error:  # a damaged database: what the integrity check said stands
        return LogReport((*problems, f"the runs cannot be listed: {error}"), ())
    selected = list(all_ids) if run_ids is None else list(run_ids)
    reports = tuple(_verify_readable(log, run_id, codec) for run_id in selected)
    judged = set(selected)
    notes: list[str] = []
    for run_id in all_ids:
        try:
            problem, note = _check_link(log, run_id, codec, judged)
        except StoreError as error:
            problem, note = f"run {run_id}: its link cannot be checked: {error}", None
        if problem is not None:
            problems.append(problem)
        if note is not None:
            notes.append(note)
    for anchor in anchors:
        try:
            problem = _check_anchor(log, anchor, all_ids)
        except StoreError as error:
            problem = f"anchor {anchor} cannot be checked: {error}"
        if problem is not None:
            problems.append(problem)
    if all_ids and not anchors:
        notes.append(
            f"nothing vouches for the newest run ({all_ids[-1]}): a cut tail, a deletion or a "
            "rewrite of it is found only against a head saved earlier ('eventstate head', "
            "then 'verify --anchor')"
        )
    return LogReport(tuple(problems), reports, tuple(notes))


def _verify_readable(log: EventLog, run_id: str, codec: EventCodec) -> VerifyReport:
    """:func:`verify_run`, with a store that fails to read the run reported, not raised."""
    try:
        return verify_run(log, run_id, codec=codec)
    except StoreError as error:
        return VerifyReport(run_id, 0, None, f"cannot be read: {error}")


def _started(log: EventLog, run_id: str, codec: EventCodec) -> RunStarted | None:
    """The run's ``RunStarted``, or None when its first row is not one (verify_run says why)."""
    first = next(iter(log.read(run_id, 1, 1)), None)
    if first is None:
        return None
    try:
        event = codec.decode(first.payload)
    except CodecError:
        return None
    return event if isinstance(event, RunStarted) else None


def _check_link(
    log: EventLog, run_id: str, codec: EventCodec, selected: Collection[str]
) -> tuple[str | None, str | None]:
    """``(problem, note)`` about the link of ``run_id`` to the head it names (each None
    when there is nothing to say); only links touching a ``selected`` run are judged."""
    started = _started(log, run_id, codec)
    if started is None:
        return None, None
    head_run, seq, digest = started.head_run_id, started.head_seq, started.head_hash
    if run_id not in selected and head_run not in selected:
        return None, None
    if digest is None or seq is None:
        return None, (
            f"run {run_id} names no head of the log before it (recorded before runs were "
            "linked): a run deleted or cut before it cannot be found from it"
        )
    if head_run is None:
        if digest != GENESIS_HASH or seq != 0:
            return f"run {run_id} names a head of no run ({seq}, {digest})", None
        return None, None  # it began in an empty log
    found = next(iter(log.read(head_run, seq, seq)), None)
    if found is not None:
        if found.hash != digest:
            return (
                f"run {run_id} began after event {seq} of run {head_run}, whose hash has "
                "changed since: that run was rewritten",
                None,
            )
        return None, None
    if started.log_id is not None and started.log_id != log.log_id:
        return None, (
            f"run {run_id} was written into another log ({started.log_id}): the run it "
            f"follows there ({head_run}) is not here to check"
        )
    last = log.last_event(head_run)
    if last is None:
        return (
            f"run {run_id} began after event {seq} of run {head_run}, which is not in the "
            "log: that run was deleted",
            None,
        )
    if last.seq < seq:
        return (
            f"run {run_id} began after event {seq} of run {head_run}, which now ends at "
            f"event {last.seq}: that run's tail was cut",
            None,
        )
    return (
        f"run {run_id} began after event {seq} of run {head_run}, which has no event "
        f"{seq} any more: that run's events were removed or renumbered",
        None,
    )


def _check_anchor(log: EventLog, anchor: Anchor, run_ids: Sequence[str]) -> str | None:
    """What is wrong with ``anchor`` in ``log`` (None: the anchored event is there, unchanged)."""
    if anchor.run_id is None or anchor.seq is None:
        for run_id in run_ids:
            if any(stored.hash == anchor.hash for stored in log.read(run_id, _LOWEST_SEQ)):
                return None
        return f"anchor {anchor}: no event of the log has this hash: the log was rewritten"
    found = next(iter(log.read(anchor.run_id, anchor.seq, anchor.seq)), None)
    if found is None:
        if anchor.run_id not in run_ids:
            return f"anchor {anchor}: run {anchor.run_id} is not in the log: it was deleted"
        return f"anchor {anchor}: run {anchor.run_id} has no event {anchor.seq}: its tail was cut"
    if found.hash != anchor.hash:
        return (
            f"anchor {anchor}: event {anchor.seq} of run {anchor.run_id} has another hash "
            f"({found.hash}): the run was rewritten since the anchor was saved"
        )
    return None
