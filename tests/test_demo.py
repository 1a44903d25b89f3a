"""The README's main job: the demo deploy and its audit view."""

from __future__ import annotations

import runpy
import sqlite3
from pathlib import Path

import pytest

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
