"""A run as one self-contained HTML report, as ARA shows a playbook's run.

The page has a summary (who, when, command, duration, how many host-ops ended
each way), the failures first (failed ops with their command, exit code and
the end of their stderr; hosts that could not connect and why; the run's own
error), the hosts, a searchable and sortable table of every host-op (a click
shows its commands and output), and a timeline with a time axis, a row per
operation and per host, and a zoom on the execute stage.

Everything on the page comes from the log through the projections, read
only: :func:`report_data` gathers it, :func:`report_html` writes the page. The
page loads nothing (inline CSS and JS, no network); recorded text reaches it
only as JSON data, which the script puts in the page as text, never as HTML.
Opened with ``#selftest``, the page exercises its own search, sort, details
and zoom and writes what it saw into ``<pre id="selftest">`` (the browser test
reads it).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventstate.events import HostConnectFailed, OpOutcome, StageChanged
from eventstate.projections import HostOp
from eventstate.replay.info import RunInfo
from eventstate.replay.run import Run

__all__ = ["NOT_RUN", "OUTPUT_LIMIT", "report_data", "report_html"]

#: The outcome a planned host-op that never finished is listed with.
NOT_RUN = "not run"

#: Characters of each command's stdout and of its stderr the page keeps: their ends.
OUTPUT_LIMIT = 20_000

#: How the results table orders outcomes before a column is chosen: failures first.
_OUTCOME_RANK = {
    OpOutcome.ERROR.value: 0,
    OpOutcome.IGNORED_ERROR.value: 1,
    OpOutcome.SUCCESS.value: 2,
    NOT_RUN: 3,
}

_TAIL_LINES = 10  # lines of stderr a failure shows before its details are opened


def _kept(text: str) -> tuple[str, int]:
    """The end of ``text`` the page keeps, and how many characters were left out."""
    if len(text) <= OUTPUT_LIMIT:
        return text, 0
    return text[-OUTPUT_LIMIT:], len(text) - OUTPUT_LIMIT


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    return "\n".join(text.rstrip("\r\n").splitlines()[-lines:])


def _result(index: int, op: HostOp, ms: Callable[[datetime], float]) -> dict[str, Any]:
    """One row of the results table: a host-op, its timing and its commands."""
    finished = op.outcome is not None
    end = ms(op.finished_at) if op.finished_at is not None else None
    start = ms(op.started_at) if op.started_at is not None else None
    commands = []
    for command in op.commands:
        stdout, stdout_cut = _kept(command.stdout)
        stderr, stderr_cut = _kept(command.stderr)
        commands.append(
            {
                "command": command.command,
                "success": command.success,
                "exit_code": command.exit_code,
                "duration": command.duration,
                "attempt": command.attempt,
                "stdout": stdout,
                "stderr": stderr,
                "cut": stdout_cut + stderr_cut,
                "truncated": command.truncated,
            }
        )
    last = op.commands[-1] if op.commands else None
    return {
        "index": index,
        "seq": op.finished_seq if finished else None,
        "host": op.host,
        "op": op.name,
        "op_hash": op.op_hash,
        "outcome": op.outcome.value if op.outcome is not None else NOT_RUN,
        # Changed: planned as a change, and some command of it succeeded.
        "changed": None if op.is_change is None else bool(op.is_change and op.commands_executed),
        "duration": op.duration,
        "retries": op.retry_count,
        "start_ms": None if start is None else max(start, 0.0),
        "end_ms": end,
        "command": last.command if last is not None else None,
        "exit_code": last.exit_code if last is not None else None,
        "stderr_tail": _tail(last.stderr) if last is not None else "",
        "commands": commands,
    }


def _order_key(result: dict[str, Any]) -> tuple[int, float]:
    seq = result["seq"]
    return _OUTCOME_RANK.get(result["outcome"], 2), seq if seq is not None else float("inf")


def report_data(run: Run) -> dict[str, Any]:
    """What the report shows, as JSON-ready values.

    Times on the timeline are milliseconds since the run started; the results
    come failures first, then in the order the host-ops finished, then the
    host-ops planned that never ran.
    """
    view = run.state()
    info = RunInfo.of(view, view.events_applied)
    started_at = datetime.fromisoformat(info.started_at) if info.started_at else None

    def ms(at: datetime) -> float:
        return (at - started_at).total_seconds() * 1000 if started_at else 0.0

    host_ops = run.host_ops()
    finished = list(host_ops.finished())
    planned = [op for op in host_ops if op.added and op.counted and op.outcome is None]
    results = [_result(i, op, ms) for i, op in enumerate([*finished, *planned])]
    results.sort(key=_order_key)

    counts = dict.fromkeys(_OUTCOME_RANK, 0)
    for result in results:
        counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1

    phases: list[dict[str, Any]] = []
    connect_failed_ms: dict[str, float] = {}
    for event in run.events(types={StageChanged.event_type, HostConnectFailed.event_type}):
        if isinstance(event, StageChanged):
            phases.append({"stage": event.stage.name.lower(), "start_ms": ms(event.at)})
        elif isinstance(event, HostConnectFailed):
            connect_failed_ms[event.host] = ms(event.at)
    ends = [r["end_ms"] for r in results if r["end_ms"] is not None]
    finished_ms = ms(datetime.fromisoformat(info.finished_at)) if info.finished_at else None
    end_ms = max([*ends, *([finished_ms] if finished_ms is not None else []), 1.0])
    execute_ms = next((p["start_ms"] for p in phases if p["stage"] == "execute"), None)

    connect_errors = view.host_sets.connect_errors
    hosts = [
        {
            "host": name,
            "status": view.host_status(name),
            "ops": view.meta[name].ops,
            "changed": sum(1 for r in results if r["host"] == name and r["changed"]),
            "success": view.results[name].success_ops,
            "error": view.results[name].error_ops,
            "ignored_error": view.results[name].ignored_error_ops,
            "not_run": sum(1 for r in results if r["host"] == name and r["outcome"] == NOT_RUN),
            "connect_error": connect_errors.get(name),
            "connect_failed_ms": connect_failed_ms.get(name),
        }
        for name in view.run.hosts
    ]

    failures: list[dict[str, Any]] = []
    if info.error:
        failures.append({"kind": "run", "host": None, "op": None, "reason": info.error})
    failures += [
        {"kind": "connect", "host": name, "op": None, "reason": connect_errors[name]}
        for name in view.run.hosts
        if name in connect_errors
    ]
    failures += [
        {
            "kind": "operation",
            "host": r["host"],
            "op": r["op"],
            "outcome": r["outcome"],
            "command": r["command"],
            "exit_code": r["exit_code"],
            "reason": r["stderr_tail"],
            "result": r["index"],
        }
        for r in results
        if r["outcome"] in (OpOutcome.ERROR.value, OpOutcome.IGNORED_ERROR.value)
    ]

    return {
        "run": {
            "run_id": info.run_id,
            "status": info.status,
            "error": info.error,
            "signal": view.run.signal,
            "user": info.user,
            "machine": info.machine,
            "command": info.command,
            "started_at": info.started_at,
            "finished_at": info.finished_at,
            "duration": info.duration,
            "event_count": info.event_count,
            "engine_version": view.run.engine_version,
            "host_count": info.host_count,
        },
        "counts": counts,
        "hosts": hosts,
        "results": results,
        "failures": failures,
        "phases": phases,
        "execute_ms": execute_ms,
        "end_ms": end_ms,
    }


def _script_json(data: dict[str, Any]) -> str:
    """``data`` as JSON that is inert inside ``<script>``: no ``<``, ``>`` or ``&`` in it."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def report_html(run: Run) -> str:
    """The run's report as one self-contained HTML page (no external files, no network)."""
    data = report_data(run)
    title = html.escape(f"eventstate run {run.run_id}")
    return (
        _PAGE.replace("@TITLE@", title)
        .replace("@STYLE@", _STYLE)
        .replace("@SCRIPT@", _SCRIPT)
        .replace("@DATA@", _script_json(data))
    )


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
  content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>@TITLE@</title>
<style>@STYLE@</style>
</head>
<body>
<header><h1>@TITLE@</h1><p id="status"></p></header>
<section id="summary"><h2>Summary</h2><dl id="facts"></dl><div id="counts"></div></section>
<section id="failures"><h2>Failures</h2><ul id="failure-list"></ul></section>
<section id="hosts"><h2>Hosts</h2>
<div class="scroll"><table id="host-table"><thead></thead><tbody></tbody></table></div></section>
<section id="results"><h2>Results</h2>
<p class="tools"><input id="search" type="search" autocomplete="off"
  placeholder="Search op, host, outcome, command, output"> <span id="shown"></span></p>
<div class="scroll tall"><table id="result-table"><thead></thead><tbody></tbody></table></div>
</section>
<section id="timeline"><h2>Timeline</h2>
<p class="tools"><button type="button" id="zoom-all" class="on">whole run</button>
<button type="button" id="zoom-execute">execute only</button> <span id="range"></span></p>
<div id="chart"></div></section>
<pre id="selftest" hidden></pre>
<script id="report-data" type="application/json">@DATA@</script>
<script>@SCRIPT@</script>
</body>
</html>
"""

_STYLE = """
:root { --ok: #2e9d4b; --err: #d23b3b; --ign: #e6a23c; --none: #9aa0a6; --line: #e3e3e3; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.2em 2em; color: #222; background: #fff; }
h1 { font-size: 1.25em; margin: 0 0 .2em; } h2 { font-size: 1.05em; margin: 1.4em 0 .5em; }
#status { margin: 0; font-weight: 600; }
.status-success { color: var(--ok); } .status-failed, .status-aborted { color: var(--err); }
.status-interrupted, .status-running { color: var(--ign); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: 0; }
dt { color: #666; } dd { margin: 0; font-family: ui-monospace, monospace; word-break: break-all; }
#counts { margin-top: .6em; }
.count { display: inline-block; margin-right: .6em; padding: .15em .6em; border-radius: 3px;
  color: #fff; font-weight: 600; }
.o-success { background: var(--ok); } .o-error { background: var(--err); }
.o-ignored_error { background: var(--ign); color: #222; } .o-not-run { background: var(--none); }
#failure-list { padding-left: 1.2em; } #failure-list li { margin-bottom: .5em; }
#failure-list pre { margin: .2em 0 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25em .5em; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: #f4f4f4; position: sticky; top: 0; } th.num { text-align: right; }
.scroll { max-height: 30em; overflow: auto; } .scroll.tall { max-height: 44em; }
#result-table th { cursor: pointer; user-select: none; }
#result-table th.sorted-asc::after { content: " \\25B2"; }
#result-table th.sorted-desc::after { content: " \\25BC"; }
tr.result { cursor: pointer; } tr.result:hover { background: #f7f9fc; }
tr.result.outcome-error td:first-child { border-left: 4px solid var(--err); }
tr.result.outcome-ignored_error td:first-child { border-left: 4px solid var(--ign); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.cmd, pre { font-family: ui-monospace, monospace; font-size: 12.5px; }
td.cmd { max-width: 32em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
pre { white-space: pre-wrap; word-break: break-all; background: #f6f6f6; padding: .4em .6em;
  margin: .3em 0; max-height: 24em; overflow: auto; }
pre.stderr { background: #fdf0f0; }
tr.details td { background: #fbfbfb; }
.tools input { width: 28em; padding: .3em; }
button { padding: .25em .8em; border: 1px solid #bbb; background: #f4f4f4; border-radius: 3px; }
button.on { background: #2b6cb0; color: #fff; border-color: #2b6cb0; }
button:disabled { color: #999; }
#chart { position: relative; }
.lane { display: flex; align-items: center; height: 22px; border-bottom: 1px solid #f0f0f0; }
.lane.axis { height: 26px; border-bottom: 1px solid #ccc; }
.lane.section { height: 20px; font-weight: 600; color: #555; border: 0; }
.label { width: 16em; flex: none; overflow: hidden; white-space: nowrap; text-overflow: ellipsis;
  padding-right: .5em; font-size: 12.5px; }
.track { position: relative; flex: 1; height: 100%; overflow: hidden; }
.phase { position: absolute; top: 0; bottom: 0; background: #eef3fb; border-left: 1px solid #c8d6ec;
  font-size: 11px; color: #4a5d7a; padding-left: 2px; white-space: nowrap; overflow: hidden; }
.phase.execute { background: #e9f6ec; border-left-color: #b7dcc0; color: #2f6b3e; }
.tick { position: absolute; bottom: 0; font-size: 11px; color: #555; border-left: 1px solid #bbb;
  padding-left: 2px; height: 10px; line-height: 10px; white-space: nowrap; }
.bar { position: absolute; top: 3px; height: 16px; min-width: 2px; border-radius: 2px; color: #fff;
  font-size: 11px; line-height: 16px; padding: 0 2px; overflow: hidden; white-space: nowrap;
  box-sizing: border-box; cursor: pointer; }
.bar.o-ignored_error { color: #222; } .bar.connect { width: auto !important; cursor: default; }
"""

_SCRIPT = r"""
"use strict";
const DATA = JSON.parse(document.getElementById("report-data").textContent);
const OUTCOMES = ["error", "ignored_error", "success", "not run"];

function el(tag, props, ...children) {
  // Recorded text goes in as text nodes only: nothing of it is ever parsed as HTML.
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function seconds(value) {
  if (value === null || value === undefined) return "-";
  if (value < 1) return (value * 1000).toFixed(value < 0.01 ? 2 : 0) + " ms";
  if (value < 120) return value.toFixed(2) + " s";
  return Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
}

function localTime(iso) {
  if (!iso) return "-";
  const moment = new Date(iso);
  const shown = moment.toLocaleString(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit", timeZoneName: "short",
  });
  return shown + " (" + iso + ")";
}

function outcomeClass(outcome) { return "o-" + outcome.replace(" ", "-"); }

function renderSummary() {
  const run = DATA.run;
  const status = document.getElementById("status");
  status.className = "status-" + run.status;
  status.textContent = run.status + (run.error ? ": " + run.error : "") +
    (run.signal ? " (" + run.signal + ")" : "");
  const facts = document.getElementById("facts");
  const rows = [
    ["run", run.run_id], ["by", (run.user || "?") + "@" + (run.machine || "?")],
    ["command", run.command], ["started", localTime(run.started_at)],
    ["finished", localTime(run.finished_at)], ["duration", seconds(run.duration)],
    ["hosts", String(run.host_count)], ["events", String(run.event_count)],
    ["engine", run.engine_version || "-"],
  ];
  for (const [name, value] of rows) facts.append(el("dt", {text: name}), el("dd", {text: value}));
  const counts = document.getElementById("counts");
  for (const outcome of OUTCOMES) {
    const count = DATA.counts[outcome] || 0;
    counts.append(el("span", {class: "count " + outcomeClass(outcome),
      dataset: {outcome: outcome}, text: count + " " + outcome.replace("_", " ")}));
  }
}

function renderFailures() {
  const list = document.getElementById("failure-list");
  if (!DATA.failures.length) { list.append(el("li", {text: "none"})); return; }
  for (const failure of DATA.failures) {
    const item = el("li", {class: "failure", dataset: {kind: failure.kind}});
    if (failure.kind === "run") {
      item.append(el("strong", {text: "run " + DATA.run.status + ": "}), failure.reason);
    } else if (failure.kind === "connect") {
      item.append(el("strong", {text: "[" + failure.host + "] could not connect: "}),
        failure.reason);
    } else {
      const rc = failure.exit_code === null ? "" : " (exit " + failure.exit_code + ")";
      item.append(el("strong", {text: "[" + failure.host + "] " + failure.op}),
        " " + failure.outcome.replace("_", " ") + rc + " ",
        el("a", {href: "#result-" + failure.result, text: "details"}));
      if (failure.command) item.append(el("pre", {text: "$ " + failure.command}));
      if (failure.reason) item.append(el("pre", {class: "stderr", text: failure.reason}));
      item.querySelector("a").addEventListener("click", (event) => {
        event.preventDefault();
        openResult(failure.result);
      });
    }
    list.append(item);
  }
}

function renderHosts() {
  const table = document.getElementById("host-table");
  const columns = ["host", "status", "ops", "changed", "success", "error", "ignored_error",
    "not_run", "connect_error"];  // (not connect_failed_ms: the timeline's)
  const numeric = (c) => typeof DATA.hosts[0]?.[c] === "number";
  table.tHead.append(el("tr", null, ...columns.map((c) =>
    el("th", {class: numeric(c) ? "num" : "", text: c.replace("_", " ")}))));
  for (const host of DATA.hosts) {
    table.tBodies[0].append(el("tr", {dataset: {host: host.host}}, ...columns.map((c) =>
      el("td", {class: typeof host[c] === "number" ? "num" : "",
        text: host[c] === null ? "" : String(host[c])}))));
  }
}

// The results table: search, sort by any column, a click for a row's commands.
const COLUMNS = [
  ["op", "op"], ["host", "host"], ["outcome", "outcome"], ["changed", "changed"],
  ["duration", "duration"], ["retries", "retries"], ["command", "command"], ["rc", "exit_code"],
];
const view = {query: "", key: null, descending: false};
const rowsByIndex = new Map();
const searchText = new Map();  // index -> the lowercased text a search looks in

function haystack(result) {
  const parts = [result.op, result.host, result.outcome, result.command || ""];
  for (const command of result.commands) {
    parts.push(command.command, command.stdout, command.stderr);
  }
  return parts.join("\n").toLowerCase();
}

function cell(result, key) {
  const value = result[key];
  if (key === "duration") return el("td", {class: "num", text: seconds(value)});
  if (key === "changed") return el("td", {text: value === null ? "-" : value ? "yes" : "no"});
  if (key === "retries" || key === "exit_code") {
    return el("td", {class: "num", text: value === null ? "" : String(value)});
  }
  if (key === "command") return el("td", {class: "cmd", title: value || "", text: value || ""});
  return el("td", {text: value === null ? "" : String(value)});
}

function details(result) {
  const box = el("td", {colspan: String(COLUMNS.length)});
  const retried = result.retries ? ", after " + result.retries + " retries" : "";
  box.append(el("div", {text: result.op + " on " + result.host + ": " + result.outcome + retried +
    (result.seq ? " (event " + result.seq + ")" : "")}));
  if (!result.commands.length) box.append(el("div", {text: "no command ran"}));
  for (const command of result.commands) {
    const ended = command.success ? "ok" : "exit " + command.exit_code;
    box.append(el("pre", {class: "command", text: "$ " + command.command + "   -> " + ended +
      ", " + seconds(command.duration) + (command.attempt ? ", attempt " + command.attempt : "")}));
    if (command.stdout) box.append(el("pre", {class: "stdout", text: command.stdout}));
    if (command.stderr) box.append(el("pre", {class: "stderr", text: command.stderr}));
    if (command.cut || command.truncated) {
      box.append(el("div", {text: "output cut: only its end is shown"}));
    }
  }
  return el("tr", {class: "details"}, box);
}

function toggle(row, result) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains("details")) { next.remove(); return; }
  row.after(details(result));
}

function renderResults() {
  const table = document.getElementById("result-table");
  const header = el("tr");
  for (const [title, key] of COLUMNS) {
    const right = ["duration", "retries", "exit_code"].includes(key);
    const th = el("th", {class: right ? "num" : "", dataset: {key: key}, text: title});
    th.addEventListener("click", () => sortBy(key));
    header.append(th);
  }
  table.tHead.append(header);
  for (const result of DATA.results) {
    const row = el("tr", {id: "result-" + result.index,
      class: "result outcome-" + result.outcome.replace(" ", "-"),
      dataset: {index: String(result.index), host: result.host, op: result.op,
        outcome: result.outcome,
        duration: String(result.duration === null ? -1 : result.duration)}},
      ...COLUMNS.map(([, key]) => cell(result, key)));
    row.addEventListener("click", () => toggle(row, result));
    rowsByIndex.set(result.index, row);
    searchText.set(result.index, haystack(result));
  }
  document.getElementById("search").addEventListener("input", (event) => {
    view.query = event.target.value.trim().toLowerCase();
    draw();
  });
  draw();
}

function compare(a, b) {
  const x = a[view.key], y = b[view.key];
  if (x === y) return 0;
  if (x === null || x === undefined) return 1;  // blanks last, either way
  if (y === null || y === undefined) return -1;
  const order = typeof x === "number" || typeof x === "boolean" ? (x < y ? -1 : 1)
    : String(x).localeCompare(String(y), undefined, {numeric: true});
  return view.descending ? -order : order;
}

function sortBy(key) {
  if (view.key === key) view.descending = !view.descending;
  else { view.key = key; view.descending = false; }
  draw();
}

function draw() {
  // DATA.results holds the default order: failures first, then as they ran.
  const ordered = view.key === null ? DATA.results.slice() : DATA.results.slice().sort(compare);
  const body = document.getElementById("result-table").tBodies[0];
  body.replaceChildren();
  let shown = 0;
  for (const result of ordered) {
    const row = rowsByIndex.get(result.index);
    row.hidden = Boolean(view.query) && !searchText.get(result.index).includes(view.query);
    if (!row.hidden) shown += 1;
    body.append(row);
  }
  for (const th of document.querySelectorAll("#result-table th")) {
    th.classList.toggle("sorted-asc", th.dataset.key === view.key && !view.descending);
    th.classList.toggle("sorted-desc", th.dataset.key === view.key && view.descending);
  }
  document.getElementById("shown").textContent = shown + " of " + DATA.results.length + " results";
}

function openResult(index) {
  const search = document.getElementById("search");
  if (search.value) { search.value = ""; view.query = ""; draw(); }
  const row = rowsByIndex.get(index);
  const next = row.nextElementSibling;
  if (!(next && next.classList.contains("details"))) toggle(row, DATA.results.find(
    (r) => r.index === index));
  row.scrollIntoView({block: "center"});
}

// The timeline: a time axis, the stages, a row per op (its span over the hosts), a row per host.
const zoom = {start: 0, end: DATA.end_ms};

function niceStep(span) {
  const rough = span / 8;
  const power = Math.pow(10, Math.floor(Math.log10(rough)));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= rough) return factor * power;
  return 10 * power;
}

function timeLabel(ms) {
  if (DATA.end_ms < 2000) return Math.round(ms) + " ms";
  if (DATA.end_ms < 120000) return (ms / 1000).toFixed(ms % 1000 ? 1 : 0) + " s";
  return Math.floor(ms / 60000) + ":" + String(Math.floor(ms / 1000) % 60).padStart(2, "0");
}

function place(node, start, end) {
  const span = zoom.end - zoom.start;
  const left = (start - zoom.start) / span, width = (end - start) / span;
  node.style.left = (100 * left) + "%";
  node.style.width = "calc(" + (100 * width) + "% + 0px)";
  return left + width >= 0 && left <= 1;
}

function lane(label, cls) {
  const row = el("div", {class: "lane " + (cls || "")}, el("div", {class: "label", title: label,
    text: label}));
  const track = el("div", {class: "track"});
  row.append(track);
  return [row, track];
}

function bar(result, text) {
  const node = el("div", {class: "bar " + outcomeClass(result.outcome), text: text,
    title: result.op + " on " + result.host + ": " + result.outcome + ", " +
      seconds(result.duration), dataset: {index: String(result.index)}});
  node.addEventListener("click", () => openResult(result.index));
  return node;
}

function renderTimeline() {
  const chart = document.getElementById("chart");
  chart.replaceChildren();
  const span = zoom.end - zoom.start;
  const [axis, ticks] = lane("time since start", "axis");
  const phases = DATA.phases;
  phases.forEach((phase, i) => {
    const end = i + 1 < phases.length ? phases[i + 1].start_ms : DATA.end_ms;
    const band = el("div", {class: "phase " + phase.stage, text: phase.stage});
    if (place(band, phase.start_ms, Math.max(end, phase.start_ms))) ticks.append(band);
  });
  const step = niceStep(span);
  for (let t = Math.ceil(zoom.start / step) * step; t <= zoom.end; t += step) {
    const tick = el("div", {class: "tick", text: timeLabel(t)});
    place(tick, t, t);
    ticks.append(tick);  // over the stages' bands
  }
  chart.append(axis);
  document.getElementById("range").textContent =
    timeLabel(zoom.start) + " to " + timeLabel(zoom.end);
  const ran = DATA.results.filter((r) => r.end_ms !== null);
  const byOp = new Map();
  for (const result of ran.slice().sort((a, b) => a.start_ms - b.start_ms)) {
    if (!byOp.has(result.op_hash)) byOp.set(result.op_hash, []);
    byOp.get(result.op_hash).push(result);
  }
  chart.append(lane("operations", "section")[0]);
  for (const results of byOp.values()) {
    const worst = results.reduce((a, b) =>
      OUTCOMES.indexOf(b.outcome) < OUTCOMES.indexOf(a.outcome) ? b : a);
    const [row, track] = lane(results[0].op, "op");
    const start = Math.min(...results.map((r) => r.start_ms));
    const end = Math.max(...results.map((r) => r.end_ms));
    const node = bar(worst, results[0].op);
    node.title = results[0].op + ": " + results.length + " hosts, worst " + worst.outcome;
    if (place(node, start, end)) track.append(node);
    chart.append(row);
  }
  chart.append(lane("hosts", "section")[0]);
  const byHost = new Map(DATA.hosts.map((host) => [host.host, []]));
  for (const result of ran) {
    if (!byHost.has(result.host)) byHost.set(result.host, []);  // a host the inventory lacks
    byHost.get(result.host).push(result);
  }
  const hostsShown = new Map(DATA.hosts.map((host) => [host.host, host]));
  for (const [name, results] of byHost) {
    const host = hostsShown.get(name) || {host: name, connect_failed_ms: null};
    const [row, track] = lane(name, "host");
    for (const result of results) {
      const node = bar(result, result.op);
      if (place(node, result.start_ms, result.end_ms)) track.append(node);
    }
    if (host.connect_failed_ms !== null) {
      const mark = el("div", {class: "bar o-error connect", text: "could not connect",
        title: host.host + " could not connect: " + host.connect_error});
      if (place(mark, host.connect_failed_ms, host.connect_failed_ms)) track.append(mark);
    }
    chart.append(row);
  }
}

function setZoom(executeOnly) {
  const from = executeOnly && DATA.execute_ms !== null ? DATA.execute_ms : 0;
  zoom.start = from;
  zoom.end = Math.max(DATA.end_ms, from + 1);
  document.getElementById("zoom-all").className = executeOnly ? "" : "on";
  document.getElementById("zoom-execute").className = executeOnly ? "on" : "";
  renderTimeline();
}

function selftest() {
  // What the page's own controls do, as a user would drive them; the test judges it.
  const seen = {};
  const visible = () => [...document.querySelectorAll("#result-table tbody tr.result")]
    .filter((row) => !row.hidden);
  const describe = (row) => [row.dataset.host, row.dataset.op, row.dataset.outcome];
  const search = document.getElementById("search");
  const type = (text) => { search.value = text; search.dispatchEvent(new Event("input")); };
  seen.rows = visible().map(describe);
  seen.shown = document.getElementById("shown").textContent;
  type("oops");
  seen.search = visible().map(describe);
  seen.shown_searching = document.getElementById("shown").textContent;
  type("");
  const header = (key) => document.querySelector('#result-table th[data-key="' + key + '"]');
  header("duration").click();
  seen.durations_ascending = visible().map((row) => Number(row.dataset.duration));
  header("duration").click();
  seen.durations_descending = visible().map((row) => Number(row.dataset.duration));
  header("host").click();
  seen.hosts_sorted = visible().map((row) => row.dataset.host);
  const failed = visible().find((row) => row.dataset.outcome === "error");
  if (failed) {
    failed.click();
    const opened = failed.nextElementSibling;
    seen.details = opened && opened.classList.contains("details") ? opened.textContent : null;
    failed.click();
    seen.details_closed = !(failed.nextElementSibling &&
      failed.nextElementSibling.classList.contains("details"));
  }
  seen.bars = document.querySelectorAll("#chart .lane.host .bar:not(.connect)").length;
  seen.connect_marks = [...document.querySelectorAll("#chart .bar.connect")].map((n) => n.title);
  const texts = (selector) => [...document.querySelectorAll(selector)].map((n) => n.textContent);
  seen.op_lanes = texts("#chart .lane.op .label");
  seen.ticks_whole = texts("#chart .tick");
  document.getElementById("zoom-execute").click();
  seen.range_execute = document.getElementById("range").textContent;
  seen.zoom_execute = [zoom.start, zoom.end];
  seen.ticks_execute = texts("#chart .tick");
  document.getElementById("zoom-all").click();
  seen.zoom_whole = [zoom.start, zoom.end];
  seen.img = document.querySelectorAll("img, iframe, object, embed").length;
  const out = document.getElementById("selftest");
  out.textContent = JSON.stringify(seen);
  out.hidden = false;
}

renderSummary();
renderFailures();
renderHosts();
renderResults();
document.getElementById("zoom-all").addEventListener("click", () => setZoom(false));
document.getElementById("zoom-execute").addEventListener("click", () => setZoom(true));
if (DATA.execute_ms === null) {
  const button = document.getElementById("zoom-execute");
  button.disabled = true;
  button.title = "the run never reached its execute stage";
}
setZoom(false);
if (location.hash === "#selftest") selftest();
"""
