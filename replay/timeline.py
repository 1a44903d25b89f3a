"""A run as a self-contained HTML timeline: a row per host, a bar per operation."""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from typing import Any

from eventstate.replay.run import Run

__all__ = ["timeline_data", "timeline_html"]

_OUTPUT_LIMIT = 2000  # characters of each command's output shown on hover


def timeline_data(run: Run) -> dict[str, Any]:
    """What the timeline draws: the run's status and why it stopped; per host, its
    status, why it could not connect, and each op's start, end, outcome and commands.

    Times are milliseconds since the run started (``started_at``: ISO 8601, UTC); bars
    come in the order the ops finished.
    """
    view = run.state()
    started_at = datetime.fromisoformat(view.run.started_at) if view.run.started_at else None
    bars: dict[str, list[dict[str, Any]]] = {host: [] for host in view.run.hosts}
    end = 0.0

    def ms(at: datetime) -> float:
        return (at - started_at).total_seconds() * 1000 if started_at else 0.0

    for op in run.host_ops().finished():
        assert op.finished_at is not None and op.outcome is not None  # it finished
        finished = ms(op.finished_at)
        end = max(end, finished)
        bars.setdefault(op.host, []).append(
            {
                "op": op.name,
                # The op started its duration before it finished.
                "start": max(finished - (op.duration or 0.0) * 1000, 0.0),
                "end": finished,
                "outcome": op.outcome.value,
                "retries": op.retry_count,
                "commands": [
                    {
                        "command": command.command,
                        "exit_code": command.exit_code,
                        "success": command.success,
                        "stdout": command.stdout[:_OUTPUT_LIMIT],
                        "stderr": command.stderr[:_OUTPUT_LIMIT],
                    }
                    for command in op.commands
                ],
            }
        )
    connect_errors = view.host_sets.connect_errors
    cause = run.abort_cause()
    return {
        "run_id": view.run.run_id,
        "kind": view.run.kind,
        "started_at": view.run.started_at,
        "status": view.run.status_at(datetime.now(timezone.utc)),
        "error": view.run.error,
        "abort_cause": None if cause is None else cause.as_dict(),
        "duration_ms": max(end, 1.0),
        "hosts": [
            {
                "host": host,
                "status": view.host_status(host),
                "connect_error": connect_errors.get(host),
                "bars": host_bars,
            }
            for host, host_bars in bars.items()
        ],
    }


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>eventstate run {title}</title>
<style>
  body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }}
  h1 {{ font-size: 1.2em; }}
  .legend span {{ display: inline-block; padding: 0 .6em; margin-right: .5em; border-radius: 3px; }}
  .row {{ display: flex; align-items: center; height: 26px; border-bottom: 1px solid #eee; }}
  .host {{ width: 14em; flex: none; font-family: monospace; overflow: hidden; }}
  .track {{ position: relative; flex: 1; height: 18px; background: #fafafa; }}
  .bar {{ position: absolute; top: 0; height: 18px; min-width: 3px; border-radius: 2px;
          opacity: .9; cursor: default; }}
  .success {{ background: #2e9d4b; color: #fff; }}
  .error {{ background: #d23b3b; color: #fff; }}
  .ignored_error {{ background: #e6a23c; color: #222; }}
  .why {{ color: #a02020; font-size: .9em; margin-left: .5em; }}
  #cause {{ color: #a02020; }}
</style>
</head>
<body>
<h1>Run {title}</h1>
<p id="summary"></p>
<p id="cause"></p>
<p class="legend"><span class="success">success</span><span class="error">error</span>
<span class="ignored_error">ignored error</span> &mdash; hover a bar for its commands and output</p>
<div id="timeline"></div>
<script>
const DATA = {data};
const timeline = document.getElementById("timeline");
// Times are stored in UTC and shown in the reader's local time, with its zone.
const started = DATA.started_at
  ? new Date(DATA.started_at).toLocaleString(undefined, {{timeZoneName: "short"}})
  : "-";
document.getElementById("summary").textContent =
  `${{DATA.status}}, ${{(DATA.duration_ms / 1000).toFixed(2)}}s, started ${{started}}`;
document.getElementById("cause").textContent = DATA.abort_cause
  ? `stopped: ${{DATA.abort_cause.summary}}`
  : (DATA.error ? `error: ${{DATA.error}}` : "");
for (const row of DATA.hosts) {{
  const line = document.createElement("div");
  line.className = "row";
  const label = document.createElement("div");
  label.className = "host";
  label.textContent = row.host;
  const track = document.createElement("div");
  track.className = "track";
  if (row.connect_error) {{
    const why = document.createElement("span");
    why.className = "why";
    why.textContent = `could not connect: ${{row.connect_error}}`;
    track.appendChild(why);
  }} else if (row.status === "not run") {{  // no bar: say why the track is empty
    const why = document.createElement("span");
    why.className = "why";
    why.textContent = row.status;
    track.appendChild(why);
  }}
  for (const bar of row.bars) {{
    const el = document.createElement("div");
    el.className = "bar " + bar.outcome;
    el.style.left = (100 * bar.start / DATA.duration_ms) + "%";
    el.style.width = (100 * Math.max(bar.end - bar.start, 0) / DATA.duration_ms) + "%";
    const retried = bar.retries ? ` after ${{bar.retries}} retries` : "";
    const lines = [`${{bar.op}}: ${{bar.outcome}}${{retried}}`];
    for (const c of bar.commands) {{
      lines.push(`$ ${{c.command}}  (${{c.success ? "ok" : "exit " + c.exit_code}})`);
      if (c.stdout) lines.push(c.stdout);
      if (c.stderr) lines.push(c.stderr);
    }}
    el.title = lines.join("\\n");
    el.dataset.op = bar.op;
    track.appendChild(el);
  }}
  line.append(label, track);
  timeline.appendChild(line);
}}
</script>
</body>
</html>
"""


def timeline_html(run: Run) -> str:
    """The run's timeline as one self-contained HTML page (no external files)."""
    data = timeline_data(run)
    # Inside <script>, "</" would end the script: escape it in the JSON.
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return _PAGE.format(title=html.escape(run.run_id), data=payload)
