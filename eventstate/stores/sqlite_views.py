"""SQL views over a SQLite log: runs, host results, op results and failures as plain columns.

The events table holds each event as one JSON payload, which a SQL browser
(Datasette, ``sqlite-utils rows``) shows as one long string. These views
unwrap the payloads with ``json_extract`` into the rows an operator asks for
-- as ARA lists Ansible runs -- so no one writes SQL to read a run:

``runs``
    A row per run, newest first: who, where, command, status, duration, counts.
``host_results``
    A row per inventory host of each run: its status, planned and finished ops.
``op_results``
    A row per operation finished on a host: its name, outcome, whether it changed
    the host, duration, and its last command's exit code and output tails.
``failures``
    What went wrong in each run: failed operations (ignored errors included, as
    ``eventstate show`` lists them), hosts that could not connect, and a run's
    recorded error (why it aborted).

A view is a stored query and nothing more: appending an event costs nothing
more for them (no trigger, no index). The writer makes them when it opens a
log (:func:`views_outdated`, then :func:`install_views`); readers never
write, so a log no writer of this version has opened since has the views of
its writer's version, or none. Their layout is versioned by
:data:`VIEWS_VERSION` in ``eventstate_meta``: a later version replaces them,
an older one leaves a newer version's views alone.

A row whose payload is not JSON (a damaged log) is left out of every view,
never allowed to hide the others; ``eventstate verify`` names it.
"""

from __future__ import annotations

import sqlite3

from eventstate.events import HEARTBEAT_FLUSH_DELAYS

__all__ = ["TAIL", "VIEWS", "VIEWS_VERSION", "install_views", "views_outdated"]

#: The version of the views' layout; a writer of a later version replaces them.
VIEWS_VERSION = 2

#: The key of the views' version in ``eventstate_meta``.
_VERSION_KEY = "views_version"

#: How many characters of a command's output a view keeps: its end, where errors are.
TAIL = 1000

# The order every view lists runs in: newest first, as ``eventstate runs`` does (a run's
# first stored row places it, as the store's own listing does).
_RUN_ORDER = "SELECT run_id, MIN(rowid) AS run_row FROM events GROUP BY run_id"

# A run with no end is running while its last sign of life (its start, its last
# heartbeat) is within this many flush delays of now; see RunProjection.status_at.
_ALIVE_WINDOW = 2 * HEARTBEAT_FLUSH_DELAYS + 1


def _field(name: str, alias: str | None = None, table: str = "") -> str:
    """``json_extract`` of a payload field, named as the field (or ``alias``)."""
    prefix = f"{table}." if table else ""
    return f"json_extract({prefix}payload, '$.{name}') AS {alias or name}"


def _tail(column: str) -> str:
    """The last :data:`TAIL` characters of ``column``, trailing line breaks trimmed."""
    return f"rtrim(substr({column}, -{TAIL}), char(10, 13))"


# The ops added for each host: an OperationAddedForHost each until OperationAdded's version
# 2, the hosts (and their flags, by position) of an OperationAdded since.
_ADDED = """
  added_for_host AS (
    SELECT run_id, seq, host, json_extract(payload, '$.op_hash') AS op_hash,
      json_extract(payload, '$.counted') AS counted,
      json_extract(payload, '$.is_change') AS is_change
    FROM events WHERE type = 'OperationAddedForHost' AND json_valid(payload)
    UNION ALL
    SELECT e.run_id, e.seq, h.value AS host, json_extract(e.payload, '$.op_hash') AS op_hash,
      json_extract(e.payload, '$.counted[' || h.key || ']') AS counted,
      json_extract(e.payload, '$.is_change[' || h.key || ']') AS is_change
    FROM events AS e, json_each(e.payload, '$.hosts') AS h
    WHERE e.type = 'OperationAdded' AND json_valid(e.payload)
  )"""

_RUNS = f"""
CREATE VIEW runs AS
WITH
  run_order AS ({_RUN_ORDER}),
  counted AS (SELECT run_id, COUNT(*) AS events FROM events GROUP BY run_id),
  started AS (
    SELECT run_id, timestamp AS started, {_field("user")}, {_field("machine")},
      (SELECT group_concat(value, ' ') FROM json_each(payload, '$.command_line')) AS command,
      json_array_length(payload, '$.hosts') AS hosts,
      {_field("engine_version")},
      json_extract(payload, '$.config.FLUSH_DELAY') AS flush_delay
    FROM events WHERE type = 'RunStarted' AND json_valid(payload)
  ),
  ended AS (
    SELECT run_id, timestamp AS finished, {_field("status")}, {_field("error")},
      {_field("signal")}
    FROM events WHERE type = 'RunFinished' AND json_valid(payload)
  ),
  loaded AS (
    SELECT run_id, json_extract(payload, '$.options.dry') AS dry
    FROM events WHERE type = 'DeployLoaded' AND json_valid(payload)
  ),
  alive AS (
    SELECT run_id, MAX(timestamp) AS alive_at FROM events
    WHERE type IN ('RunStarted', 'HeartbeatRecorded') GROUP BY run_id
  ),
  {_ADDED},
  planned AS (
    SELECT run_id, SUM(counted AND is_change IS 1) AS changed
    FROM added_for_host GROUP BY run_id
  ),
  finished AS (
    SELECT run_id, COUNT(*) AS ops,
      SUM(outcome = 'success') AS success_ops,
      SUM(outcome = 'error') AS error_ops,
      SUM(outcome = 'ignored_error') AS ignored_error_ops
    FROM (
      SELECT run_id, {_field("outcome")} FROM events
      WHERE type = 'HostOperationFinished' AND json_valid(payload)
    )
    GROUP BY run_id
  ),
  failed AS (
    SELECT e.run_id, COUNT(DISTINCT j.value) AS failed_hosts
    FROM events AS e, json_each(e.payload, '$.hosts') AS j
    WHERE e.type = 'HostsFailed' AND json_valid(e.payload) GROUP BY e.run_id
  )
SELECT
  o.run_id,
  CASE WHEN l.dry IS 1 THEN 'plan' ELSE 'deploy' END AS kind,
  s.started AS started_at,
  d.finished AS finished_at,
  round((julianday(d.finished) - julianday(s.started)) * 86400, 3) AS duration,
  CASE
    WHEN d.status = 'success' AND l.dry IS 1 THEN 'plan'
    WHEN d.status IS NOT NULL THEN d.status
    WHEN (julianday('now') - julianday(a.alive_at)) * 86400
      < {_ALIVE_WINDOW} * coalesce(s.flush_delay, 1.0) THEN 'running'
    ELSE 'interrupted'
  END AS status,
  d.error,
  d.signal,
  s.user,
  s.machine,
  s.command,
  s.hosts AS host_count,
  coalesce(f.failed_hosts, 0) AS failed_host_count,
  coalesce(p.changed, 0) AS ops_change,
  coalesce(r.ops, 0) AS ops,
  coalesce(r.success_ops, 0) AS success_ops,
  coalesce(r.error_ops, 0) AS error_ops,
  coalesce(r.ignored_error_ops, 0) AS ignored_error_ops,
  c.events AS event_count,
  s.engine_version
FROM run_order AS o
  JOIN counted AS c USING (run_id)
  LEFT JOIN started AS s USING (run_id)
  LEFT JOIN ended AS d USING (run_id)
  LEFT JOIN loaded AS l USING (run_id)
  LEFT JOIN alive AS a USING (run_id)
  LEFT JOIN planned AS p USING (run_id)
  LEFT JOIN finished AS r USING (run_id)
  LEFT JOIN failed AS f USING (run_id)
ORDER BY o.run_row DESC
"""

_HOST_RESULTS = f"""
CREATE VIEW host_results AS
WITH
  run_order AS ({_RUN_ORDER}),
  inventory AS (
    SELECT e.run_id, j.value AS host, j.key AS position
    FROM events AS e, json_each(e.payload, '$.hosts') AS j
    WHERE e.type = 'RunStarted' AND json_valid(e.payload)
  ),
  {_ADDED},
  planned AS (
    SELECT run_id, host, SUM(counted) AS ops, SUM(counted AND is_change IS 1) AS ops_change,
      SUM(counted AND is_change IS NOT 1) AS ops_no_change
    FROM added_for_host
    GROUP BY run_id, host
  ),
  finished AS (
    SELECT run_id, host,
      SUM(outcome = 'success') AS success_ops,
      SUM(outcome = 'error') AS error_ops,
      SUM(outcome = 'ignored_error') AS ignored_error_ops,
      SUM(outcome != 'success' AND commands_executed > 0) AS partial_ops,
      round(SUM(duration), 6) AS duration
    FROM (
      SELECT run_id, host, {_field("outcome")}, {_field("commands_executed")},
        {_field("duration")}
      FROM events WHERE type = 'HostOperationFinished' AND json_valid(payload)
    )
    GROUP BY run_id, host
  ),
  connect_failed AS (
    SELECT run_id, host, MAX(seq) AS seq, {_field("error", "connect_error")}
    FROM events WHERE type = 'HostConnectFailed' AND json_valid(payload) GROUP BY run_id, host
  ),
  failed AS (
    SELECT DISTINCT e.run_id, j.value AS host
    FROM events AS e, json_each(e.payload, '$.hosts') AS j
    WHERE e.type = 'HostsFailed' AND json_valid(e.payload)
  ),
  activated AS (
    SELECT DISTINCT run_id, host FROM events WHERE type = 'HostActivated' AND json_valid(payload)
  )
SELECT
  i.run_id,
  i.host,
  CASE
    WHEN k.host IS NOT NULL THEN 'connect failed'
    WHEN x.host IS NOT NULL THEN 'failed'
    WHEN a.host IS NOT NULL THEN 'ok'
    ELSE 'not run'
  END AS status,
  coalesce(p.ops, 0) AS ops,
  coalesce(p.ops_change, 0) AS ops_change,
  coalesce(p.ops_no_change, 0) AS ops_no_change,
  coalesce(r.success_ops, 0) AS success_ops,
  coalesce(r.error_ops, 0) AS error_ops,
  coalesce(r.ignored_error_ops, 0) AS ignored_error_ops,
  coalesce(r.partial_ops, 0) AS partial_ops,
  r.duration,
  k.connect_error
FROM inventory AS i
  JOIN run_order AS o USING (run_id)
  LEFT JOIN planned AS p USING (run_id, host)
  LEFT JOIN finished AS r USING (run_id, host)
  LEFT JOIN connect_failed AS k USING (run_id, host)
  LEFT JOIN failed AS x USING (run_id, host)
  LEFT JOIN activated AS a USING (run_id, host)
ORDER BY o.run_row DESC, i.position
"""

_OP_RESULTS = f"""
CREATE VIEW op_results AS
WITH
  run_order AS ({_RUN_ORDER}),
  finished AS (
    SELECT run_id, seq, timestamp AS finished_at, host, {_field("op_hash")},
      {_field("outcome")}, {_field("commands_executed")}, {_field("retry_count", "retries")},
      {_field("duration")}
    FROM events WHERE type = 'HostOperationFinished' AND json_valid(payload)
  ),
  name_parts AS (
    SELECT e.run_id, json_extract(e.payload, '$.op_hash') AS op_hash, j.value AS name,
      MIN(e.seq) AS first_seq, j.key AS position
    FROM events AS e, json_each(e.payload, '$.names') AS j
    WHERE e.type = 'OperationAdded' AND json_valid(e.payload)
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, first_seq, position
  ),
  names AS (
    SELECT run_id, op_hash, group_concat(name, ', ') AS operation
    FROM name_parts GROUP BY run_id, op_hash
  ),
  {_ADDED},
  added AS (
    SELECT run_id, host, op_hash, MAX(seq) AS seq, is_change
    FROM added_for_host GROUP BY 1, 2, 3
  ),
  -- An op's commands: CommandExecuted events before HostOperationFinished version 2,
  -- the "commands" of its outcome since (a fact gathered meanwhile is none of them).
  recorded_commands AS (
    SELECT run_id, host, json_extract(payload, '$.op_hash') AS op_hash, MAX(seq) AS seq,
      COUNT(*) AS commands, {_field("command")}, {_field("exit_code")}, {_field("stdout")},
      {_field("stderr")}, {_field("truncated")}
    FROM events
    WHERE type = 'CommandExecuted' AND json_valid(payload)
      AND json_extract(payload, '$.op_hash') IS NOT NULL
    GROUP BY 1, 2, 3
  ),
  carried AS (
    SELECT e.run_id, e.host, json_extract(e.payload, '$.op_hash') AS op_hash, e.seq,
      j.key AS position, j.value AS entry
    FROM events AS e, json_each(e.payload, '$.commands') AS j
    WHERE e.type = 'HostOperationFinished' AND json_valid(e.payload)
      AND json_extract(j.value, '$.fact') IS NULL
  ),
  carried_commands AS (
    SELECT run_id, host, op_hash, MAX(position) AS position, seq, COUNT(*) AS commands,
      json_extract(entry, '$.command') AS command, json_extract(entry, '$.exit_code') AS exit_code,
      json_extract(entry, '$.stdout') AS stdout, json_extract(entry, '$.stderr') AS stderr,
      json_extract(entry, '$.truncated') AS truncated
    FROM carried GROUP BY 1, 2, 3
  ),
  commands AS (
    SELECT run_id, host, op_hash, commands, command, exit_code, stdout, stderr, truncated
    FROM recorded_commands
    UNION ALL
    SELECT run_id, host, op_hash, commands, command, exit_code, stdout, stderr, truncated
    FROM carried_commands
  )
SELECT
  f.run_id,
  f.seq,
  f.finished_at,
  f.host,
  coalesce(n.operation, f.op_hash) AS operation,
  f.outcome,
  CASE
    WHEN a.is_change IS NULL THEN NULL
    ELSE a.is_change AND f.commands_executed > 0
  END AS changed,
  f.duration,
  f.retries,
  c.commands,
  c.command,
  c.exit_code,
  {_tail("c.stderr")} AS stderr_tail,
  {_tail("c.stdout")} AS stdout_tail,
  c.truncated,
  f.op_hash
FROM finished AS f
  JOIN run_order AS o USING (run_id)
  LEFT JOIN names AS n USING (run_id, op_hash)
  LEFT JOIN added AS a USING (run_id, host, op_hash)
  LEFT JOIN commands AS c USING (run_id, host, op_hash)
ORDER BY o.run_row DESC, f.seq
"""

_FAILURES = f"""
CREATE VIEW failures AS
WITH
  run_order AS ({_RUN_ORDER}),
  found AS (
    SELECT run_id, seq, finished_at AS at, 'operation' AS kind, host, operation, outcome,
      command, exit_code,
      coalesce(nullif(stderr_tail, ''), nullif(stdout_tail, ''),
        CASE WHEN exit_code IS NOT NULL THEN 'exit status ' || exit_code END) AS reason
    FROM op_results WHERE outcome != 'success'
    UNION ALL
    SELECT run_id, seq, timestamp, 'connect', host, NULL, 'connect failed', NULL, NULL,
      json_extract(payload, '$.error')
    FROM events WHERE type = 'HostConnectFailed' AND json_valid(payload)
    UNION ALL
    SELECT run_id, seq, timestamp, 'run', NULL, NULL, json_extract(payload, '$.status'),
      NULL, NULL, json_extract(payload, '$.error')
    FROM events
    WHERE type = 'RunFinished' AND json_valid(payload)
      AND json_extract(payload, '$.error') IS NOT NULL
  )
SELECT f.* FROM found AS f JOIN run_order AS o USING (run_id)
ORDER BY o.run_row DESC, f.seq
"""

#: Each view's ``CREATE VIEW`` statement, by name, in the order they are made (failures
#: reads op_results).
VIEWS = {
    "runs": _RUNS.strip(),
    "host_results": _HOST_RESULTS.strip(),
    "op_results": _OP_RESULTS.strip(),
    "failures": _FAILURES.strip(),
}


def _stored_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM eventstate_meta WHERE key = ?", [_VERSION_KEY]).fetchone()
    try:
        return int(row[0]) if row else 0
    except (TypeError, ValueError):
        return 0  # a damaged version: the views are made anew


def views_outdated(conn: sqlite3.Connection) -> bool:
    """Whether the log ``conn`` opens lacks this version's views (or any of them).

    Two small reads, made when a writer opens a log: never on the append path.
    A newer version's views are not outdated.
    """
    version = _stored_version(conn)
    if version > VIEWS_VERSION:
        return False
    # Any object of the name will do: a user's own table of one is left alone (install_views).
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    return version < VIEWS_VERSION or not set(VIEWS) <= names


def install_views(conn: sqlite3.Connection) -> None:
    """Make this version's views in the log ``conn`` opens, replacing an older version's.

    Call it inside a write transaction: it looks again (another writer may have
    made them since :func:`views_outdated` said so), then drops and makes each
    view and records :data:`VIEWS_VERSION`. A name another object of the database
    holds (a user's table) is skipped.
    """
    if not views_outdated(conn):
        return
    # A name a user's own table or index took is left to it: the log opens all the same.
    taken = {
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type != 'view'")
        if row[0] in VIEWS
    }
    for name in reversed(VIEWS):  # failures reads op_results: dropped first
        if name not in taken:
            conn.execute(f"DROP VIEW IF EXISTS {name}")
    for name, statement in VIEWS.items():
        if name not in taken:
            conn.execute(statement)
    conn.execute(
        "INSERT OR REPLACE INTO eventstate_meta (key, value) VALUES (?, ?)",
        [_VERSION_KEY, str(VIEWS_VERSION)],
    )
