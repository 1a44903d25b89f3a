"""The README's main job: the demo deploy and its audit view."""

from __future__ import annotations

import json
import re
import runpy
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventstate.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _run_demo(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    demo = runpy.run_path(str(ROOT / "examples" / "demo.py"))
    code = demo["main"](args)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_demo_records_a_run_and_prints_its_audit_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "eventstate.db"
    code, out, _ = _run_demo(["--db", str(db)], capsys)
    assert code == 0
    assert "events verified" in out
    assert "1 run(s) in" in out
    # When, in local time with the zone; how it ended, in the readers' words.
    assert re.search(r"^by .+ at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+$", out, re.MULTILINE), out
    assert re.search(r"^status    (success|failed|aborted)$", out, re.MULTILINE), out
    for host in ("web1", "web2", "web3", "web4", "db1"):
        assert f"\n{host} " in out
    conn = sqlite3.connect(db)
    types = {row[0] for row in conn.execute("SELECT DISTINCT type FROM events")}
    assert {"RunStarted", "HostActivated", "HostsFailed", "RunFinished"} <= types

    code, out, _ = _run_demo(["--db", str(db), "--seed", "3"], capsys)
    assert code == 0 and "2 run(s) in" in out


def test_the_demo_refuses_a_file_that_is_not_a_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("not a database\n" * 50)
    code, _, err = _run_demo(["--db", str(bad)], capsys)
    assert code == 2
    assert err.startswith("Error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def _local_changes(db: Path, deploy_file: Path) -> int:
    """Run the example deploy on @local into ``db``; the changes it planned there."""
    runner = CliRunner()
    result = runner.invoke(main, ["deploy", "@local", str(deploy_file), "--db", str(db)])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(main, ["show", "latest", "--db", str(db), "--json"])
    (local,) = json.loads(shown.stdout)["hosts"]
    changes: int = local["ops_change"]
    return changes


def test_each_checkout_has_its_own_demo_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two checkouts of the example on one machine: the second's first run is a first run
    # too ("run it again: no changes" holds only for a run again in the same checkout).
    monkeypatch.delenv("EVENTSTATE_DEMO_DIR", raising=False)
    checkouts = [tmp_path / "one", tmp_path / "two"]
    for checkout in checkouts:
        (checkout / "examples").mkdir(parents=True)
        shutil.copy(ROOT / "examples" / "deploy.py", checkout / "examples" / "deploy.py")
    one, two = (checkout / "examples" / "deploy.py" for checkout in checkouts)
    db = tmp_path / "events.db"
    assert _local_changes(db, one) == 6
    assert (checkouts[0] / ".eventstate-demo" / "conf.d" / "app.conf").read_text() == (
        "listen = 8080\nworkers = 4\n"
    )
    assert _local_changes(db, one) == 0
    assert _local_changes(db, two) == 6
    assert (checkouts[1] / ".eventstate-demo" / "index.html").exists()
    # The repository ignores its own.
    assert ".eventstate-demo/" in (ROOT / ".gitignore").read_text().splitlines()
