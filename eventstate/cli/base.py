"""What every command shares: the one-line error, the log's option, tables."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import IO, Any, NoReturn

import click

from eventstate.errors import EventstateError
from eventstate.printing import escaped
from eventstate.projections import StateView
from eventstate.stores.url import URL_FORMS

__all__ = [
    "DB_ENVVAR",
    "DEFAULT_DB",
    "HOST_HEADERS",
    "db_option",
    "echo",
    "escaped",
    "fail",
    "host_table",
    "local_time",
    "one_line",
    "parse_value",
    "private_file",
    "table",
    "user_errors",
]

#: The log every command uses unless given ``--db`` or :data:`DB_ENVVAR`.
DEFAULT_DB = "./eventstate.db"

#: The environment variable that names the log when ``--db`` is not given.
DB_ENVVAR = "EVENTSTATE_DB"


#: The ``--db`` option of every command: a path or a store URL, from ``$EVENTSTATE_DB``
#: when not given (see :func:`eventstate.stores.open_log` for the forms).
db_option: Callable[[Callable[..., Any]], Callable[..., Any]] = click.option(
    "--db",
    envvar=DB_ENVVAR,
    default=DEFAULT_DB,
    show_default=True,
    show_envvar=True,
    metavar="PATH|URL",
    help=f"The event log: {URL_FORMS}.",
)


def echo(text: str = "", err: bool = False, *, json: bool = False) -> None:
    """Print a line for the user: recorded text can never drive their terminal."""
    click.echo(escaped(text, json=json), err=err)


def private_file(path: str) -> IO[str]:
    """``path`` opened to write text, created 0600 (an export may hold what a run printed).

    Raises:
        OSError: it cannot be written.
    """
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8")


def fail(message: str) -> NoReturn:
    """End the command: ``Error: message`` on stderr, exit status 2.

    One line, whatever the message holds: its line breaks (from a stored or
    imported value it quotes) are written as escapes.
    """
    echo(f"Error: {one_line(message)}", err=True)
    raise click.exceptions.Exit(2)


def one_line(text: str) -> str:
    """``text`` on one line: its line breaks written as escapes (``\\n``, ``\\r``)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


@contextmanager
def user_errors(debug: bool = False) -> Iterator[None]:
    """Turn the library's errors into one line each, exit status 2 (tracebacks with --debug).

    The one place an :class:`~eventstate.errors.EventstateError` becomes what
    the user reads.
    """
    try:
        yield
    except EventstateError as error:
        if debug:
            raise
        fail(str(error))


def local_time(stored: str | None, *, zone: bool = True) -> str:
    """A stored time (ISO 8601, UTC) as this machine's local time, with its zone:
    ``2026-11-25 15:03:12 CET``; ``-`` for none. Without ``zone``, the time alone.

    Times are stored in UTC and shown local: the zone says which local.
    """
    if not stored:
        return "-"
    try:
        moment = datetime.fromisoformat(stored)
    except (TypeError, ValueError):  # a damaged log: shown as it is (verify says why)
        return str(stored)
    if moment.tzinfo is None:  # stored times are UTC, whether or not they say so
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone()
    shown = f"{local:%Y-%m-%d %H:%M:%S}"
    if not zone:
        return shown
    return f"{shown} {local.strftime('%Z') or local.strftime('%z')}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Rows as aligned text: numbers to the right, the rest to the left."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [
        max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)
    ]
    numeric = [
        bool(rows) and all(isinstance(row[i], (int, float)) for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return [line(list(headers)), *(line(row) for row in cells)]


#: The columns of a per-host results table.
HOST_HEADERS = (
    "host",
    "status",
    "ops",
    "change",
    "no-change",
    "success",
    "error",
    "ignored",
    "partial",
)


def host_table(view: StateView) -> list[tuple[Any, ...]]:
    """A row per inventory host: status, meta (planned) and results (executed)."""
    rows = []
    for name in view.run.hosts:
        meta, results = view.meta[name], view.results[name]
        rows.append(
            (
                name,
                view.host_status(name),
                meta.ops,
                meta.ops_change,
                meta.ops_no_change,
                results.success_ops,
                results.error_ops,
                results.ignored_error_ops,
                results.partial_ops,
            )
        )
    return rows


def parse_value(text: str) -> Any:
    """A ``KEY=VALUE`` argument's value as pyinfra's command line reads it: ``true`` and
    ``false`` (any case) are booleans, then an integer, then JSON, else the text itself."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return json.loads(text)
    except ValueError:
        return text
