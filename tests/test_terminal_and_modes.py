"""What a run recorded can never drive the reader's terminal; what the CLI writes is 0600."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from eventstate.cli.base import escaped
from eventstate.stores import SqliteEventLog

# OSC retitle + BEL, clear screen (CSI), an 8-bit CSI, a carriage return, a bidi override.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\rover\u202eevil"
FORBIDDEN = ("\x1b", "\x07", "\x9b", "\r", "\u202e")


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventstate", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "EVENTSTATE_DB": str(tmp_path / "e.db")},
    )


def test_escaped_keeps_text_and_lines() -> None:
    assert escaped("a\tb\nc") == "a\tb\nc"
    assert escaped("\x1b[2J") == "\\x1b[2J" and escaped("\u202e") == "\\u202e"
    assert json.loads(escaped(json.dumps("\x9b", ensure_ascii=False), json=True)) == "\x9b"


def test_recorded_control_characters_are_escaped_when_printed(tmp_path: Path) -> None:
    (tmp_path / "hostile.txt").write_text(HOSTILE)
    (tmp_path / "deploy.py").write_text(
        "from eventstate.operations import server\n"
        f"server.shell('cat {tmp_path}/hostile.txt; cat {tmp_path}/hostile.txt >&2; exit 3')\n"
    )
    ran = _cli(tmp_path, "deploy", "@local", "deploy.py")
    assert ran.returncode == 1, ran.stderr
    (run_id,) = [line.split()[0] for line in _cli(tmp_path, "runs").stdout.splitlines()[1:]]
    for args in (("show", run_id), ("events", run_id), ("events", run_id, "--json")):
        shown = _cli(tmp_path, *args)
        assert shown.returncode == 0, shown.stderr
        for char in FORBIDDEN:
            assert char not in shown.stdout + shown.stderr, (args, repr(char))
    shown = _cli(tmp_path, "show", run_id).stdout
    assert "\\x1b]0;pwned\\x07" in shown  # still there to read, as text
    # The JSON lines stay JSON, and say exactly what the host printed.
    lines = _cli(tmp_path, "events", run_id, "--json").stdout.splitlines()
    # (An op's command's output is in its outcome's commands.)
    events = [json.loads(line) for line in lines]
    outputs = [event.get("stdout") for event in events]
    outputs += [command["stdout"] for event in events for command in event.get("commands", ())]
    assert HOSTILE in outputs


def test_exports_pages_and_the_log_are_created_0600(tmp_path: Path) -> None:
    (tmp_path / "deploy.py").write_text(
        "from eventstate.operations import server\nserver.shell('true')\n"
    )
    os.umask(0o022)
    assert _cli(tmp_path, "deploy", "@sim/a", "deploy.py").returncode == 0
    (run_id,) = [line.split()[0] for line in _cli(tmp_path, "runs").stdout.splitlines()[1:]]
    assert _cli(tmp_path, "export", run_id, "-o", "run.jsonl").returncode == 0
    assert _cli(tmp_path, "timeline", run_id, "--html", "run.html").returncode == 0
    for name in ("e.db", "run.jsonl", "run.html"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name

    # The WAL and shared-memory files SQLite makes beside a log while it is open.
    log = SqliteEventLog(tmp_path / "w.db")
    log.snapshots()  # opened for writing: the -wal and -shm files exist now
    written = [tmp_path / "w.db", tmp_path / "w.db-wal", tmp_path / "w.db-shm"]
    present = [path for path in written if path.exists()]
    assert tmp_path / "w.db-wal" in present
    for path in present:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    log.close()
