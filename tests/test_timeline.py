"""The HTML timeline, rendered in headless Chromium (Debian's chromium package)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventstate.cli import main
from eventstate.replay import read_log
from eventstate.replay.timeline import timeline_data

ROOT = Path(__file__).resolve().parent.parent

# As the machine's probe starts it: no sandbox as root, no network chatter.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is needed: install Debian's chromium package (README)")
    return found


def _render(page: Path, profile: Path) -> str:
    """The DOM after the page's scripts ran."""
    result = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("timeline")
    path = tmp / "events.db"
    deploy = tmp / "deploy.py"
    deploy.write_text(
        "from eventstate.operations import server\n"
        "server.shell(\"echo '<b>hello</b> </script>'\")\n"
        "server.shell('false', _ignore_errors=True)\n"
        "server.shell('exit 3')\n"
    )
    result = CliRunner().invoke(
        main, ["deploy", "@local,@sim/a,@sim/b", str(deploy), "--db", str(path)]
    )
    assert result.exit_code == 1, result.output  # @local fails its last op
    return path


def test_the_timeline_renders_a_bar_per_host_op(db: Path, tmp_path: Path) -> None:
    page = tmp_path / "timeline.html"
    with read_log(db) as log:
        (run_id,) = log.run_ids()
        finished = Counter(
            event.outcome.value  # type: ignore[attr-defined]
            for event in log.run(run_id).events(types={"HostOperationFinished"})
        )
    result = CliRunner().invoke(
        main, ["timeline", run_id[:8], "--db", str(db), "--html", str(page)]
    )
    assert result.exit_code == 0, result.output
    assert "<script src" not in page.read_text()  # self-contained

    dom = _render(page, tmp_path / "profile")
    bars = Counter(re.findall(r'class="bar (\w+)"', dom))
    assert bars == finished
    assert bars == {"success": 7, "ignored_error": 1, "error": 1}
    for host in ("@local", "@sim/a", "@sim/b"):
        assert f'<div class="host">{host}</div>' in dom
    # Hover text: the command and its output, escaped, not markup.
    assert "$ exit 3  (exit 3)" in dom
    assert "&lt;b&gt;hello&lt;/b&gt;" in dom
    assert "<b>hello</b>" not in dom
    assert re.search(r'id="summary">failed, [\d.]+s, started ', dom)


def test_timeline_data_has_each_ops_span(db: Path) -> None:
    with read_log(db) as log:
        data = timeline_data(log.run(log.run_ids()[0]))
    local = next(row for row in data["hosts"] if row["host"] == "@local")
    assert [bar["outcome"] for bar in local["bars"]] == ["success", "ignored_error", "error"]
    assert all(0 <= bar["start"] <= bar["end"] <= data["duration_ms"] for bar in local["bars"])
    assert local["bars"][2]["commands"] == [
        {"command": "exit 3", "exit_code": 3, "success": False, "stdout": "", "stderr": ""}
    ]


def test_the_timeline_says_why_a_host_did_not_connect_and_why_the_run_stopped(
    tmp_path: Path,
) -> None:
    db = tmp_path / "events.db"
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        'hosts = ["@sim/a", "@sim/b", ("@sim/down", {"sim_connect_fail_rate": 1})]\n'
    )
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from eventstate.operations import server\nserver.shell('true')\n")
    ran = CliRunner().invoke(
        main, ["deploy", str(inventory), str(deploy), "--fail-percent", "10", "--db", str(db)]
    )
    assert ran.exit_code == 1, ran.output  # aborted while connecting
    page = tmp_path / "timeline.html"
    result = CliRunner().invoke(main, ["timeline", "latest", "--db", str(db), "--html", str(page)])
    assert result.exit_code == 0, result.output
    dom = _render(page, tmp_path / "profile")
    assert re.search(r'id="summary">aborted, [\d.]+s, started \S', dom)
    assert (
        '<p id="cause">stopped: 33% of 3 hosts failed, over FAIL_PERCENT 10 while connecting: '
        "@sim/down (could not connect: simulated connection failure to @sim/down)</p>"
    ) in dom
    assert (
        '<span class="why">could not connect: simulated connection failure to @sim/down</span>'
        in dom
    )
    assert dom.count('<span class="why">not run</span>') == 2  # @sim/a and @sim/b
