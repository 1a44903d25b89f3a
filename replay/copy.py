"""Copying runs from one store to another: the exact stored rows, chains intact.

What lands in the target is what the source holds, row for row -- payloads,
hashes, timestamps -- so a copied run verifies in any store and exports the
same bytes. Copying is idempotent: a run the target already holds is compared
by hash and skipped; one the target holds a beginning of (an earlier copy of a
run still being written, or a copy cut short) is continued; one the target
holds otherwise -- another run under the same id -- refuses the whole copy
before anything is written. Each run is verified before it is written (a
damaged or tampered run is never spread) and again, in the target, after.

Runs are copied in the source's order, so that each run's link to the run
before it (its ``RunStarted`` names the head it began after) holds in the
target too when both are copied.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

import attrs

from eventstate.codec import EventCodec
from eventstate.errors import IntegrityError
from eventstate.replay.verify import verify_events, verify_log
from eventstate.stores.base import EventLog, StoredEvent

__all__ = [
    "COPY_BATCH",
    "CopyPlan",
    "CopyReport",
    "PlannedRun",
    "RunAction",
    "copy_runs",
    "plan_copy",
]

#: Rows per append into the target: a long run is written, and reported, a batch at a time.
COPY_BATCH = 5000


class RunAction(str, enum.Enum):
    """What a copy does with one run."""

    #: The target lacks it: all of it is copied.
    COPY = "copy"
    #: The target holds its beginning: the rest is copied.
    CONTINUE = "continue"
    #: The target holds all of it (or more: a copy of the run taken later): nothing to do.
    SKIP = "skip"


@attrs.frozen
class PlannedRun:
    """One run of a copy, as planned.

    Attributes:
        run_id: The run.
        action: What the copy does with it.
        source_seq: The source's last sequence number of it.
        target_seq: The target's, before the copy (0: the target lacks it).
    """

    run_id: str
    action: RunAction
    source_seq: int
    target_seq: int

    @property
    def to_copy(self) -> int:
        """How many of its rows the copy writes."""
        return 0 if self.action is RunAction.SKIP else self.source_seq - self.target_seq


@attrs.frozen
class CopyPlan:
    """What a copy will do, run by run, in the source's order.

    Attributes:
        runs: Each run's plan.
    """

    runs: tuple[PlannedRun, ...]

    @property
    def events(self) -> int:
        """How many rows the copy writes."""
        return sum(run.to_copy for run in self.runs)


@attrs.frozen
class CopyReport:
    """What a copy did.

    Attributes:
        copied: The runs written (wholly or their rest), in order.
        skipped: The runs the target already held.
        events: Rows written.
    """

    copied: tuple[str, ...]
    skipped: tuple[str, ...]
    events: int


def _hash_at(log: EventLog, run_id: str, seq: int) -> str | None:
    found = next(iter(log.read(run_id, seq, seq)), None)
    return found.hash if found is not None else None


def plan_copy(source: EventLog, target: EventLog, run_ids: Sequence[str] | None = None) -> CopyPlan:
    """What copying ``run_ids`` (every run by default; full ids) from ``source`` to
    ``target`` would do, each run judged by comparing hashes in both stores.

    Raises:
        IntegrityError: the target holds a run under the same id that is not this
            run (their events differ), or a run is not in the source; one line.
    """
    present = {summary.run_id: summary.last_seq for summary in source.runs()}
    ids = list(present) if run_ids is None else list(dict.fromkeys(run_ids))
    planned = []
    for run_id in ids:
        if run_id not in present:
            raise IntegrityError(f"run {run_id} is not in the source log")
        source_seq = present[run_id]
        target_seq = target.newest_seq(run_id)
        if target_seq == 0:
            planned.append(PlannedRun(run_id, RunAction.COPY, source_seq, 0))
            continue
        # Equal hashes at the shorter run's end: the chain makes every row before equal.
        common = min(source_seq, target_seq)
        if _hash_at(source, run_id, common) != _hash_at(target, run_id, common):
            raise IntegrityError(
                f"run {run_id} is in both logs with different events (event {common} "
                "differs): another run under the same id; nothing copied"
            )
        action = RunAction.CONTINUE if target_seq < source_seq else RunAction.SKIP
        planned.append(PlannedRun(run_id, action, source_seq, target_seq))
    return CopyPlan(tuple(planned))


def copy_runs(
    source: EventLog,
    target: EventLog,
    run_ids: Sequence[str] | None = None,
    *,
    plan: CopyPlan | None = None,
    progress: Callable[[str, int], None] | None = None,
    codec: EventCodec | None = None,
) -> CopyReport:
    """Copy ``run_ids`` (every run by default; full ids) from ``source`` to ``target``,
    as :func:`plan_copy` plans it; then verify, in the target, every run written.

    Args:
        source: The store read (read-only will do).
        target: The store written.
        run_ids: The runs, in any order (they are copied in the source's).
        plan: What :func:`plan_copy` planned for these stores (then ``run_ids`` is not
            used): the caller has seen it, to say how much there is to copy.
        progress: Called with a run's id and the rows just written of it, after each
            append (:data:`COPY_BATCH` rows at most).
        codec: Decodes the rows to verify them.

    Raises:
        IntegrityError: the plan is refused (nothing is written), a run does not verify
            in the source (it and the runs after it are not written), or a written run
            does not verify in the target.
        StoreError: a store failed; what was appended stays, and copying again continues.
    """
    codec = codec or EventCodec()
    if plan is None:
        plan = plan_copy(source, target, run_ids)
    order = {run_id: index for index, run_id in enumerate(s.run_id for s in source.runs())}
    copied, skipped, written = [], [], 0
    for run in sorted(plan.runs, key=lambda planned: order[planned.run_id]):
        if run.action is RunAction.SKIP:
            skipped.append(run.run_id)
            continue
        rows = _verified(source, run.run_id, run.source_seq, codec)
        for start in range(run.target_seq, run.source_seq, COPY_BATCH):
            batch = rows[start : start + COPY_BATCH]
            target.append(batch)
            written += len(batch)
            if progress is not None:
                progress(run.run_id, len(batch))
        copied.append(run.run_id)
    target.flush()
    if copied:
        report = verify_log(target, copied, codec=codec)
        if not report.ok:
            found = [*report.problems, *(str(run) for run in report.runs if not run.ok)]
            raise IntegrityError(f"the copy does not verify in the target: {'; '.join(found)}")
    return CopyReport(tuple(copied), tuple(skipped), written)


def _verified(source: EventLog, run_id: str, last: int, codec: EventCodec) -> list[StoredEvent]:
    """The source's rows of ``run_id`` up to ``last``, once they verify (read once)."""
    rows = list(source.read(run_id, 1, last))
    verify_events(run_id, rows, codec=codec).raise_for_problem()
    return rows
