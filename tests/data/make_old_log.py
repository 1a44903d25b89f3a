"""Writes ``old_log_v1.db``: a small SQLite log as eventstate wrote it before an op's
commands rode on its outcome (``HostOperationFinished`` version 1, one ``CommandExecuted``
per command), and ``old_log_v1.json``: what each replay command printed of it then.

Run with the engine of that time on the path, from the repository's root::

    git worktree add /tmp/old <commit before HostOperationFinished v2>
    PYTHONPATH=/tmp/old python tests/data/make_old_log.py

The files are kept forever: tests/test_old_logs.py reads them with today's engine.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DB = HERE / "old_log_v1.db"
OUTPUTS = HERE / "old_log_v1.json"

#: Three simulated hosts: one fine, one whose commands fail by pattern, one unreachable.
INVENTORY = """\
hosts = [
    ("@sim/web1", {"sim_outputs": {"^echo hello": "hello"}}),
    ("@sim/web2", {"sim_fail_patterns": {"^flaky": 0.7, "^maybe": 1.0, "^install-app": 1.0}}),
    ("@sim/db1", {"sim_connect_fail_rate": 1.0}),
]
"""

#: Facts, retries, an ignored error, a failure that fails a host, an op after it.
DEPLOY = """\
from eventstate.operations import apt, server

apt.packages(["nginx"], name="Install nginx")
server.shell("flaky --step", name="Flaky step", _retries=2, _retry_delay=0)
server.shell(["echo hello", "maybe --not"], name="Maybe", _ignore_errors=True)
server.shell(["echo one", "install-app"], name="Install app")
server.shell("echo after", name="After")
"""


def eventstate(*args: str) -> str:
    """What ``eventstate ARGS`` printed (stdout), run by the engine on the path."""
    done = subprocess.run(
        [sys.executable, "-m", "eventstate", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TZ": "UTC"},
        cwd=tempfile.gettempdir(),  # not the repository: the engine on PYTHONPATH runs
        check=False,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"eventstate {' '.join(args)}: {done.stderr}")
    return done.stdout


def main() -> None:
    """Write the log and the outputs of the replay commands on it."""
    for path in (DB, OUTPUTS):
        path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        inventory, deploy = Path(tmp) / "inventory.py", Path(tmp) / "deploy.py"
        inventory.write_text(INVENTORY)
        deploy.write_text(DEPLOY)
        db = str(DB)
        eventstate("deploy", str(inventory), str(deploy), "--db", db)
        eventstate("deploy", str(inventory), str(deploy), "--db", db, "--limit", "@sim/web1")
    runs = json.loads(eventstate("runs", "--db", db, "--json"))
    failed, limited = runs[1]["run_id"], runs[0]["run_id"]
    outputs = {
        "runs": json.loads(eventstate("runs", "--db", db, "--json")),
        "show": json.loads(eventstate("show", failed, "--db", db, "--json")),
        "state": json.loads(eventstate("state", failed, "--at", "40", "--db", db, "--json")),
        "diff": eventstate("diff", failed, limited, "--db", db),
        "step": eventstate("step", failed, "--db", db),
        "report": eventstate("report", failed, "--db", db, "--html", "-"),
        "failed": failed,
        "limited": limited,
    }
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "timeline.html"
        eventstate("timeline", failed, "--db", db, "--html", str(page))
        outputs["timeline"] = page.read_text()
    OUTPUTS.write_text(json.dumps(outputs, indent=1, sort_keys=True) + "\n")
    # One file to check in: no write-ahead log beside it.
    with sqlite3.connect(DB) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()


if __name__ == "__main__":
    main()
