"""Commands on the log: runs, show, events, export, state, verify... read it only;
import and snapshot write to it."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import click

from eventstate.cli.base import (
    HOST_HEADERS,
    db_option,
    echo,
    host_table,
    local_time,
    private_file,
    table,
    user_errors,
)
from eventstate.codec import payload_fields
from eventstate.errors import CodecError, IntegrityError, UsageError
from eventstate.events import EVENT_TYPES
from eventstate.projections import StateView
from eventstate.projections.run import PLAN, RUN_STATUSES, RUNNING
from eventstate.replay import ReplayLog, RunInfo, read_log
from eventstate.replay.diff import diff_runs
from eventstate.replay.export import (
    ExportTrailer,
    export_lines,
    import_runs,
    read_export,
    verify_export,
)
from eventstate.replay.step import step as step_through
from eventstate.replay.timeline import timeline_html
from eventstate.replay.verify import Anchor, verify_log
from eventstate.stores import open_log, shown_url
from eventstate.stores.base import StoredEvent

__all__ = [
    "diff",
    "events",
    "export",
    "head",
    "import_",
    "rerun",
    "runs",
    "show",
    "snapshot",
    "state",
    "step",
    "timeline",
    "verify",
]

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document, for machines."
)

#: The widest a command is shown in the ``runs`` table; ``show`` gives it whole.
COMMAND_WIDTH = 60


@contextmanager
def opened(db: str) -> Iterator[ReplayLog]:
    """The log at ``db``, opened read-only; its problems become one-line errors."""
    with user_errors():
        log = read_log(db)
    try:
        with user_errors():
            yield log
    finally:
        log.close()


def _short(run_id: str, length: int = 8) -> str:
    return run_id[:length]


def _short_length(run_ids: list[str]) -> int:
    """The fewest leading characters (8 at least) that tell these runs apart."""
    length = 8
    while len({run_id[:length] for run_id in run_ids}) < len(run_ids) and length < 32:
        length += 2
    return length


def _since(text: str) -> datetime:
    relative = re.fullmatch(r"(\d+)([mhdw])", text)
    if relative:
        amount, unit = int(relative[1]), relative[2]
        minutes = amount * {"m": 1, "h": 60, "d": 1440, "w": 10080}[unit]
        return datetime.now(timezone.utc) - timedelta(minutes=minutes)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since: {text!r} is neither a date (2026-11-25) nor an age (30m, 12h, 2d, 1w)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _cut(text: str, width: int = COMMAND_WIDTH) -> str:
    """``text`` in ``width`` characters: cut at a word when one ends late enough, ``...``."""
    if len(text) <= width:
        return text
    cut = text[: width - 3]
    space = cut.rfind(" ")
    if space > width // 2:
        cut = cut[:space]
    return cut.rstrip() + "..."


@click.command()
@db_option
@click.option("--host", help="Only runs whose inventory has this host.")
@click.option(
    "--status",
    type=click.Choice(RUN_STATUSES),
    help="Only runs that ended so (plan: a dry run), or are running.",
)
@click.option("--since", help="Only runs started since a date (2026-11-25) or an age (2d).")
@json_option
def runs(db: str, host: str | None, status: str | None, since: str | None, as_json: bool) -> None:
    """List past deploys, newest first (times in local time; UTC in --json)."""
    threshold = _since(since) if since is not None else None
    with opened(db) as log:
        listing = log.listing(host=host, status=status, since=threshold)
    for run_id, why in listing.unreadable:
        echo(f"Warning: run {run_id}: {why}", err=True)
    listed = listing.infos
    if as_json:
        echo(json.dumps([info.as_dict() for info in listed], indent=2))
        return
    length = _short_length([info.run_id for info in listed])
    rows = [
        (
            _short(info.run_id, length),
            local_time(info.started_at),
            f"{info.duration:.1f}s" if info.duration is not None else "-",
            f"{info.user}@{info.machine}",
            _cut(info.command),
            info.host_count,
            info.status,
            info.ops_change,
            info.failed_host_count,
        )
        for info in listed
    ]
    headers = ("run", "started", "took", "by", "command", "hosts", "status", "changed", "failed")
    for line in table(headers, rows):
        echo(line)


def _host_rows(view: StateView) -> list[dict[str, Any]]:
    """The host table as dicts, for --json."""
    return [
        {
            "host": row[0],
            "status": row[1],
            "ops": row[2],
            "ops_change": row[3],
            "ops_no_change": row[4],
            "results": view.results[row[0]].as_dict(),
            "connect_error": view.host_sets.connect_errors.get(row[0]),
        }
        for row in host_table(view)
    ]


_RESULT_KEYS = ("success_ops", "error_ops", "ignored_error_ops", "partial_ops")
_META_KEYS = ("ops", "ops_change", "ops_no_change")


OPERATION_HEADERS = ("operation", "hosts", "change", "no-change", "error")
_OPERATION_COUNTS = ("hosts", "change", "no_change", "error")


def _named(hosts: list[str], at_most: int = 3) -> str:
    if not hosts:
        return "-"
    shown = ", ".join(hosts[:at_most])
    return shown if len(hosts) <= at_most else f"{shown} +{len(hosts) - at_most} more"


@click.command()
@click.argument("run_id", metavar="RUN")
@db_option
@json_option
def show(run_id: str, db: str, as_json: bool) -> None:
    """A run: who, when, each host's results, its operations, the failed ones and their
    output, why it stopped; a dry run's planned operations. Times in local time (UTC in --json)."""
    with opened(db) as log:
        # What the deploy stored at the run's end when it is there, else one fold.
        view, overview = log.run(run_id).overview()
    info = RunInfo.of(view, view.events_applied)
    hosts = _host_rows(view)
    operations = overview.operations
    failures = overview.failures
    cause = overview.abort_cause if info.status == "aborted" else None
    planned = overview.planned if info.kind == PLAN else []
    warnings = {stage.name: count for stage, count in view.stage_warnings.items()}
    if as_json:
        echo(
            json.dumps(
                {
                    "run": info.as_dict(),
                    "hosts": hosts,
                    "operations": operations,
                    "failures": failures,
                    "abort_cause": cause,
                    "planned": planned,
                    "warnings": warnings,
                },
                indent=2,
            )
        )
        return
    echo(f"run       {info.run_id}")
    echo(f"by        {info.user}@{info.machine}")
    echo(f"command   {info.command}")
    duration = f" ({info.duration:.2f}s)" if info.duration is not None else ""
    echo(f"started   {local_time(info.started_at)}{duration}")
    echo(f"status    {info.status}" + (f": {info.error}" if info.error else ""))
    if cause is not None:
        echo(f"cause     {cause['summary']}")
    echo(f"events    {info.event_count}")
    echo("")
    for line in table(HOST_HEADERS, host_table(view)):
        echo(line)
    if operations and info.kind != PLAN:  # a plan lists its operations below
        echo("")
        rows = [[row["operation"], *(row[key] for key in _OPERATION_COUNTS)] for row in operations]
        for line in table(OPERATION_HEADERS, rows):
            echo(line)
    connect_errors = view.host_sets.connect_errors
    if connect_errors:
        echo("\nhosts that could not connect")
        for name in view.run.hosts:
            if name in connect_errors:
                echo(f"  [{name}] {connect_errors[name]}")
    if info.kind == PLAN:
        echo("\nplanned operations (a dry run: nothing was executed)")
        plan_rows: list[tuple[Any, ...]] = []
        for op in planned:
            changing = [host["host"] for host in op["hosts"] if host["is_change"]]
            unchanged = [host["host"] for host in op["hosts"] if host["is_change"] is False]
            plan_rows.append(
                (op["name"], len(op["hosts"]), len(changing), len(unchanged), _named(changing))
            )
        headers = ("operation", "hosts", "change", "no-change", "would change")
        for line in table(headers, plan_rows):
            echo(f"  {line}")
    if failures:
        echo("\noperations with errors")
        for failure in failures:
            retries = f" after {failure['retry_count']} retries" if failure["retry_count"] else ""
            echo(
                f"  [{failure['host']}] {failure['name']}: {failure['outcome']}{retries}"
                f" (event {failure['finished_seq']})"
            )
            for command in failure["commands"]:
                ended = "ok" if command["success"] else f"exit {command['exit_code']}"
                echo(f"    $ {command['command']}  -> {ended}")
                for stream in ("stdout", "stderr"):
                    for text in command[stream].splitlines()[-10:]:
                        echo(f"      {stream}: {text}")
    if warnings:
        echo("\nwarnings " + ", ".join(f"{stage}: {n}" for stage, n in warnings.items()))


def _fields(event_dict: dict[str, Any]) -> str:
    skip = {"run_id", "seq", "at", "type", "v", "host"}
    parts = []
    for key, value in event_dict.items():
        if key in skip or value in (None, "", [], {}):
            continue
        # One line per event: a string with line breaks (a deploy's source) is shown as JSON.
        plain = isinstance(value, str) and "\n" not in value and "\r" not in value
        text = value if plain else json.dumps(value, ensure_ascii=False)
        if len(text) > 80:
            text = text[:77] + "..."
        parts.append(f"{key}={text}")
    return " ".join(parts)


def _time_of_day(stored: str) -> str:
    """A stored time (ISO 8601, UTC) as the local time of day, to the millisecond; a
    column that is no time (a damaged log) as it is -- ``verify`` says what is wrong."""
    try:
        moment = datetime.fromisoformat(stored)
    except (TypeError, ValueError):
        return str(stored)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return f"{moment.astimezone():%H:%M:%S.%f}"[:12]


@click.command()
@click.argument("run_id", metavar="RUN")
@db_option
@click.option("--host", help="Only events about this host.")
@click.option("--type", "types", multiple=True, help="Only events of this type (repeatable).")
@click.option("--from", "first", type=click.IntRange(min=1), default=1, help="First event.")
@click.option("--to", "last", type=click.IntRange(min=1), help="Last event.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print each event as stored, one JSON document per line (JSON Lines), "
    "where the other commands' --json print one document.",
)
def events(
    run_id: str,
    db: str,
    host: str | None,
    types: tuple[str, ...],
    first: int,
    last: int | None,
    as_json: bool,
) -> None:
    """Print a run's events, one per line (times of day in local time)."""
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise UsageError(
            f"--type: unknown event type {unknown[0]!r} (known: {', '.join(EVENT_TYPES)})"
        )
    with opened(db) as log:
        run = log.run(run_id)
        for stored in run.stored(first, last, host=host, types=set(types) or None):
            try:
                data = payload_fields(stored.payload)
            except CodecError as error:
                raise CodecError(f"run {run.run_id}, event {stored.seq}: {error}") from None
            if as_json:
                echo(stored.payload, json=True)
                continue
            where = f" [{stored.host}]" if stored.host else ""
            at = _time_of_day(stored.timestamp)
            echo(f"{stored.seq:>6}  {at}  {stored.type}{where}  {_fields(data)}")


@click.command()
@click.argument("run_id", metavar="RUN")
@db_option
@click.option("-o", "--output", default="-", help="File to write (- for stdout); created 0600.")
def export(run_id: str, db: str, output: str) -> None:
    """Write a run as JSON Lines: one stored event per line, hashes included."""
    with opened(db) as log:
        run = log.run(run_id)
        if output == "-":
            for line in export_lines(run):
                sys.stdout.write(line)
            return
        try:
            handle = private_file(output)
        except OSError as error:
            raise UsageError(f"cannot write {output}: {error.strerror}") from None
        with handle:
            for line in export_lines(run):
                handle.write(line)


def _read_export(path: str) -> list[StoredEvent | ExportTrailer]:
    # Read as bytes: read_export says which line is not UTF-8.
    try:
        handle = (
            getattr(sys.stdin, "buffer", sys.stdin) if path == "-" else open(path, "rb")  # noqa: SIM115
        )
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    with handle, user_errors():
        try:
            return read_export(handle, source=path)
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror or error}") from None


@click.command("import")
@click.argument("path", metavar="FILE")
@db_option
def import_(path: str, db: str) -> None:
    """Read runs exported as JSON Lines into the log, verifying each chain first."""
    try:
        # Verified before the log is opened: a bad export leaves no trace.
        export = verify_export(_read_export(path))
    except IntegrityError as error:
        raise UsageError(f"{path}: {error}") from None
    with user_errors():
        log = open_log(db)
        try:
            import_runs(log, export)
        finally:
            log.close()
    echo(f"imported {export.events} events of {len(export.runs)} run(s) into {shown_url(db)}")


@click.command()
@click.argument("run_id", metavar="RUN")
@db_option
def snapshot(run_id: str, db: str) -> None:
    """Store snapshots of a run's views, so that reading it later folds fewer events.

    As a deploy stores them as it goes (a view of many hosts less often: at least
    every 1,000 events), one after its last, and a finished run's overview. For a
    log written before deploys stored them. Snapshots are a cache: the log's events
    stay the truth, and no read command writes them.
    """
    with user_errors():
        log = open_log(db, create=False)
        try:
            run = ReplayLog(log).run(run_id)
            stored = run.store_snapshots()
        finally:
            log.close()
    if not stored:
        echo(f"run {run.run_id}: no events, no snapshot stored")
        return
    shown = ", ".join(str(seq) for seq in stored)
    echo(f"run {run.run_id}: {len(stored)} snapshot(s) stored, after event(s) {shown}")


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option(
    "--at", "seq", type=click.IntRange(min=0), help="After this event (default: the end)."
)
@db_option
@json_option
def state(run_id: str, seq: int | None, db: str, as_json: bool) -> None:
    """The State's views as they were after event N: status, stage, hosts, meta, results,
    limit."""
    with opened(db) as log:
        run = log.run(run_id)
        last = run.last_seq
        if seq is not None and seq > last:
            raise UsageError(f"--at {seq}: run {_short(run.run_id)} has {last} events")
        view = run.state_at(last if seq is None else seq)
    snapshot = view.snapshot()
    # The run's status in the readers' one vocabulary: before its last event, a run
    # that had not ended yet was running.
    if view.events_applied < last and view.run.status is None:
        snapshot["status"] = RUNNING
    else:
        snapshot["status"] = view.run.status_at(datetime.now(timezone.utc))
    if as_json:
        echo(json.dumps(snapshot, indent=2))
        return
    echo(f"after event {view.events_applied} of {last}")
    echo(f"status      {snapshot['status']}")
    echo(f"stage       {snapshot['current_stage']} (executing: {snapshot['is_executing']})")
    for name in ("activated_hosts", "active_hosts", "failed_hosts"):
        echo(f"{name.replace('_hosts', ''):<11} {', '.join(snapshot[name]) or '-'}")
    limit = snapshot["limit_hosts"]
    echo(f"limit       {', '.join(limit) if limit is not None else 'none'}")
    echo(f"warnings    {snapshot['stage_warnings'] or 'none'}")
    echo("")
    # A log may speak of a host its inventory does not name (a damaged or forged run):
    # shown with what the log says of it, as zero where it says nothing.
    metas, results = snapshot["meta"], snapshot["results"]
    for line in table(
        ("host", "ops", "change", "no-change", "success", "error", "ignored", "partial"),
        [
            (
                host,
                *(metas.get(host, {}).get(key, 0) for key in _META_KEYS),
                *(results.get(host, {}).get(key, 0) for key in _RESULT_KEYS),
            )
            for host in [*metas, *(host for host in results if host not in metas)]
        ],
    ):
        echo(line)


@click.command()
@click.argument("run_id", metavar="RUN", required=False)
@db_option
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="HEAD",
    help="A head saved earlier ('eventstate head': RUN:SEQ:HASH): it must still be in the "
    "log, unchanged (repeatable).",
)
def verify(run_id: str | None, db: str, anchors: tuple[str, ...]) -> None:
    """Check the log: the store's own integrity check, the append-only guards, each run's
    sequence, hash chain, payloads and snapshots, the links between runs, and anchors.

    Exit status 1 names each problem. What cannot be checked here is said in notes
    (on stderr).
    """
    parsed = [Anchor.parse(text) for text in anchors]
    with opened(db) as log:
        ids = [log.resolve(run_id)] if run_id is not None else None
        report = verify_log(log.log, ids, anchors=parsed, codec=log.codec)
    for line in report.lines():
        echo(line)
    for note in report.notes:  # on stderr: what was not checkable, not a finding
        echo(f"note: {note}", err=True)
    if not report.ok:
        sys.exit(1)


@click.command()
@db_option
@json_option
def head(db: str, as_json: bool) -> None:
    """Print the log's head (the last event of its newest run) as RUN:SEQ:HASH.

    Save it elsewhere; 'eventstate verify --anchor RUN:SEQ:HASH' later checks
    that the log still holds it unchanged (no cut tail, no rewrite since).
    """
    with opened(db) as log:
        found = log.log.head()
        log_id = log.log.log_id
    if found is None:
        raise UsageError(f"{shown_url(db)} holds no events: it has no head")
    anchor = Anchor(found.run_id, found.seq, found.hash)
    if as_json:
        echo(
            json.dumps(
                {
                    "anchor": str(anchor),
                    "run_id": found.run_id,
                    "seq": found.seq,
                    "hash": found.hash,
                    "log_id": log_id,
                },
                indent=2,
            )
        )
        return
    echo(str(anchor))


@click.command()
@click.argument("run_id", metavar="RUN")
@db_option
@click.option("--from", "first", type=click.IntRange(min=1), default=1, help="First event.")
@click.option("--to", "last", type=click.IntRange(min=1), help="Last event.")
@click.option("--host", help="Only events about this host.")
def step(run_id: str, db: str, first: int, last: int | None, host: str | None) -> None:
    """Walk a run event by event, printing what each changed in the State's views."""
    with opened(db) as log:
        run = log.run(run_id)
        end = run.last_seq
        if first > end:
            raise UsageError(f"--from {first}: run {_short(run.run_id)} has {end} events")
        for event, found in step_through(run, first, last, host=host):
            where = f" [{event.host}]" if getattr(event, "host", None) else ""  # type: ignore[attr-defined]
            echo(f"{event.seq:>6}  {event.event_type}{where}")
            for change in found:
                echo(f"          {change}")


@click.command()
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@db_option
def diff(run_a: str, run_b: str, db: str) -> None:
    """What RUN_B did differently from RUN_A. Exit status 1 when they differ."""
    with opened(db) as log:
        found = diff_runs(log.run(run_a), log.run(run_b))
    if found.same:
        echo("the runs did the same")
        return
    for line in found.lines():
        echo(line)
    sys.exit(1)


@click.command()
@click.argument("run_id", metavar="RUN")
@db_option
def rerun(run_id: str, db: str) -> None:
    """Re-run a recorded deploy through this engine, answered from the log; compare.

    No host is touched: every command gets its recorded outcome. Exit status 1
    prints the first divergence, both sides.
    """
    from eventstate.rerun import rerun as rerun_run  # the engine: loaded for this command

    with opened(db) as log:
        full_id = log.resolve(run_id)
        report = rerun_run(log.log, full_id, log.codec)
    if report.same:
        echo(f"rerun of {full_id}: {report.compared} events compared, no divergence")
        return
    for line in report.divergence.lines():  # type: ignore[union-attr]
        echo(line)
    sys.exit(1)


@click.command()
@click.argument("run_id", metavar="RUN")
@db_option
@click.option(
    "--html", "path", required=True, type=click.Path(dir_okay=False), help="The page to write."
)
def timeline(run_id: str, db: str, path: str) -> None:
    """Write a run's timeline as a self-contained HTML page: a row per host, a bar per op."""
    with opened(db) as log:
        page = timeline_html(log.run(run_id))
    try:
        with private_file(path) as handle:
            handle.write(page)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    echo(f"wrote {path}")
