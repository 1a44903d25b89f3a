"""``eventstate report RUN --html FILE``, opened in headless Chromium: the rows are there,
failures first, search and sort work, and the page is drawn (not blank)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eventstate.cli import main
from eventstate.replay import read_log
from eventstate.replay.report import NOT_RUN, OUTPUT_LIMIT, report_data

#: Recorded text that would be markup if the page let it be: it must stay text.
INJECTED = "</script><b>bold</b><img src=x>"

DEPLOY = f"""\
from eventstate.operations import server
server.shell("echo hello", name="Say hello")
server.shell("echo careful >&2; exit 1", name="Allowed to fail", _ignore_errors=True)
server.shell("echo first >&2; x=oo; echo ${{x}}ps >&2; echo '{INJECTED}' >&2; exit 3",
             name="Fail on purpose")
server.shell("echo after", name="After the failure")
"""

INVENTORY = "@local,@sim/a,@sim/b,web1.invalid"


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a real failed deploy, written by the command."""
    tmp = tmp_path_factory.mktemp("report")
    (tmp / "deploy.py").write_text(DEPLOY)
    db = str(tmp / "eventstate.db")
    deployed = cli("deploy", "--db", db, INVENTORY, str(tmp / "deploy.py"))
    assert deployed.exit_code == 1, deployed.output
    path = tmp / "report.html"
    result = cli("report", "latest", "--db", db, "--html", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {path}"
    return path


# As tests/test_timeline.py starts it: no sandbox as root, no network chatter.
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


def chromium(*args: str, profile: Path) -> str:
    """What headless Chromium prints, with a profile of its own (other runs may be open)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("headless Chromium is needed: install Debian's chromium package (README)")
    result = subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def dom(page: Path) -> str:
    """The page's DOM after its script ran."""
    return chromium("--dump-dom", page.as_uri(), profile=page.parent / "profile-dom")


@pytest.fixture(scope="module")
def selftest(page: Path) -> dict[str, Any]:
    """What the page saw when it drove its own search, sort, details and zoom."""
    out = chromium(
        "--dump-dom", page.as_uri() + "#selftest", profile=page.parent / "profile-selftest"
    )
    found = _Elements(out)
    (text,) = found.text_of("pre", id="selftest")
    return json.loads(text)


class _Elements(HTMLParser):
    """The elements of a page and the text inside each, as a browser's DOM serialised them."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None], list[str]]] = []
        self._open: list[list[str]] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        texts: list[str] = []
        self.elements.append((tag, dict(attrs), texts))
        if tag not in ("img", "input", "meta", "br", "link"):
            self._open.append(texts)

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag not in ("img", "input", "meta", "br", "link"):
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for texts in self._open:
            texts.append(data)

    def find(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs, _ in self.elements
            if name == tag and all(wanted[k] in (attrs.get(k) or "").split() for k in wanted)
        ]

    def text_of(self, tag: str, **wanted: str) -> list[str]:
        return [
            "".join(texts)
            for name, attrs, texts in self.elements
            if name == tag and all(wanted[k] in (attrs.get(k) or "").split() for k in wanted)
        ]


def expected_results(page: Path) -> list[tuple[str, str, str]]:
    """(host, op, outcome) of every host-op, as the projections say, failures first."""
    with read_log(page.parent / "eventstate.db") as log:
        data = report_data(log.run("latest"))
    return [(r["host"], r["op"], r["outcome"]) for r in data["results"]]


def test_the_page_is_private_and_loads_nothing(page: Path) -> None:
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    text = page.read_text()
    assert "http://" not in text and "https://" not in text
    assert not {"src", "href"} & {
        name for _, attrs, _ in _Elements(text).elements for name in attrs
    }
    assert "default-src 'none'" in text  # and the browser is told so
    assert INJECTED not in text  # recorded markup is escaped in the page's data


def test_the_dom_lists_every_result_failures_first(page: Path, dom: str) -> None:
    found = _Elements(dom)
    rows = [
        (r["data-host"], r["data-op"], r["data-outcome"])
        for r in found.find("tr", **{"class": "result"})
    ]
    assert rows == expected_results(page)
    assert len(rows) == 12  # 4 on each host: @local failed at its 3rd, its 4th not run
    assert [outcome for _, _, outcome in rows[:2]] == ["error", "ignored_error"]
    assert rows[0][:2] == ("@local", "Fail on purpose")
    assert ("@local", "After the failure", NOT_RUN) in rows
    failures = found.text_of("li", **{"class": "failure"})
    assert "could not connect" in failures[0] and "web1.invalid" in failures[0]
    assert "Fail on purpose" in failures[1] and "exit 3" in failures[1] and "oops" in failures[1]
    assert "Allowed to fail" in failures[2] and "careful" in failures[2]
    hosts = [attrs["data-host"] for attrs in found.find("tr") if "data-host" in attrs]
    assert hosts[:4] == ["@local", "@sim/a", "@sim/b", "web1.invalid"]
    (status,) = found.text_of("p", id="status")
    assert status == "failed"
    with read_log(page.parent / "eventstate.db") as log:
        info = log.run("latest").info()
    facts = dict(zip(found.text_of("dt"), found.text_of("dd"), strict=True))
    assert facts["run"] == info.run_id and facts["by"] == f"{info.user}@{info.machine}"
    assert facts["command"] == info.command and facts["events"] == str(info.event_count)
    assert info.started_at is not None and info.started_at in facts["started"]
    counts = {
        attrs["data-outcome"]: text
        for attrs, text in zip(
            found.find("span", **{"class": "count"}),
            found.text_of("span", **{"class": "count"}),
            strict=True,
        )
    }
    assert counts == {
        "error": "1 error",
        "ignored_error": "1 ignored error",
        "success": "9 success",
        NOT_RUN: "1 not run",
    }


def test_recorded_markup_stays_text(dom: str, selftest: dict[str, Any]) -> None:
    found = _Elements(dom)
    assert not found.find("b") and not found.find("img")  # no element came from the log
    assert any(INJECTED in text for text in found.text_of("pre", **{"class": "stderr"}))
    assert INJECTED in selftest["details"]
    assert selftest["img"] == 0


def test_search_sort_details_and_zoom_work_in_the_browser(
    page: Path, selftest: dict[str, Any]
) -> None:
    expected = [list(row) for row in expected_results(page)]
    assert selftest["rows"] == expected
    assert selftest["shown"] == "12 of 12 results"
    # Searching finds the op whose stderr says "oops" (no command does), and nothing else.
    assert selftest["search"] == [["@local", "Fail on purpose", "error"]]
    assert selftest["shown_searching"] == "1 of 12 results"
    # Sorted by duration, either way; the op that never ran (no duration: -1) last both times.
    ascending, descending = selftest["durations_ascending"], selftest["durations_descending"]
    assert len(ascending) == 12 and ascending[-1] == descending[-1] == -1
    assert ascending[:-1] == sorted(ascending[:-1]) and ascending[0] < ascending[-2]
    assert descending[:-1] == sorted(ascending[:-1], reverse=True)
    assert selftest["hosts_sorted"] == sorted(selftest["hosts_sorted"])
    assert selftest["hosts_sorted"][0] == "@local"
    details = selftest["details"]
    assert "exit 3" in details and "first\noops" in details
    assert selftest["details_closed"] is True
    assert selftest["bars"] == 11  # a bar per host-op that ran
    (mark,) = selftest["connect_marks"]
    assert mark.startswith("web1.invalid could not connect: ")
    assert selftest["op_lanes"] == [
        "Say hello",
        "Allowed to fail",
        "Fail on purpose",
        "After the failure",
    ]
    assert selftest["ticks_whole"][0] == "0 ms" and len(selftest["ticks_whole"]) >= 4
    start, end = selftest["zoom_execute"]
    with read_log(page.parent / "eventstate.db") as log:
        data = report_data(log.run("latest"))
    assert start == pytest.approx(data["execute_ms"]) and start > 0
    assert end == pytest.approx(data["end_ms"])
    assert selftest["ticks_execute"] != selftest["ticks_whole"]
    assert selftest["zoom_whole"] == [0, pytest.approx(data["end_ms"])]


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of pixels (RGB or RGBA bytes) of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks, header = 8, [], b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    size = 4 if colour == 6 else 3
    raw = zlib.decompress(b"".join(chunks))
    stride = width * size
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):
            left = line[x - size] if x >= size else 0
            up = previous[x]
            corner = previous[x - size] if x >= size else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                nearest = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + nearest) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(row[i : i + 3]) for row in rows for i in range(0, stride, size)]


def test_a_screenshot_of_the_page_is_drawn(page: Path) -> None:
    shot = page.parent / "report.png"
    chromium(
        f"--screenshot={shot}",
        "--window-size=1400,1500",
        "--hide-scrollbars",
        page.as_uri(),
        profile=page.parent / "profile-shot",
    )
    width, height, pixels = png_pixels(shot.read_bytes())
    assert (width, height) == (1400, 1500)
    colours = set(pixels)
    not_white = sum(1 for pixel in pixels if pixel != b"\xff\xff\xff")
    assert len(colours) > 50  # text, tables, badges, bars: not a blank page
    assert not_white > 0.03 * len(pixels)
    # The outcome colours of the badges and bars are drawn.
    assert bytes.fromhex("d23b3b") in colours and bytes.fromhex("2e9d4b") in colours


def test_the_data_keeps_the_end_of_long_output(tmp_path: Path) -> None:
    source = (
        "from eventstate.operations import server\n"
        "server.shell('seq 1 8000 >&2; echo the-end >&2; exit 2', name='Noisy')\n"
    )
    (tmp_path / "deploy.py").write_text(source)
    db = str(tmp_path / "eventstate.db")
    assert cli("deploy", "--db", db, "@local", str(tmp_path / "deploy.py")).exit_code == 1
    with read_log(db) as log:
        data = report_data(log.run("latest"))
    (result,) = data["results"]
    (command,) = result["commands"]
    assert not command["truncated"]  # the log holds all of it (under MAX_OUTPUT); the page its end
    assert len(command["stderr"]) == OUTPUT_LIMIT and command["cut"] > 0
    assert command["stderr"].endswith("7999\n8000\nthe-end\n")
    assert result["stderr_tail"].splitlines()[-1] == "the-end"
    (failure,) = [f for f in data["failures"] if f["kind"] == "operation"]
    assert failure["reason"].endswith("8000\nthe-end")


def test_the_command_names_runs_as_the_others_and_says_mistakes_in_one_line(
    tmp_path: Path, page: Path
) -> None:
    db = str(page.parent / "eventstate.db")
    with read_log(db) as log:
        run_id = log.run("latest").run_id
    out = tmp_path / "short.html"
    assert cli("report", run_id[:8], "--db", db, "--html", str(out)).exit_code == 0
    assert out.read_text() == page.read_text()
    to_stdout = cli("report", run_id, "--db", db, "--html", "-")
    assert to_stdout.exit_code == 0 and to_stdout.output == page.read_text()
    unknown = cli("report", "ffffffff", "--db", db, "--html", str(tmp_path / "x.html"))
    assert unknown.exit_code == 2
    assert unknown.output.strip() == "Error: no run 'ffffffff' in this log"
    assert not (tmp_path / "x.html").exists()
    missing = cli("report", "latest", "--db", db, "--html", str(tmp_path / "no" / "x.html"))
    assert missing.exit_code == 2 and missing.output.startswith("Error: cannot write")
    assert len(missing.output.strip().splitlines()) == 1


def test_reading_for_a_report_never_writes_the_log(page: Path) -> None:
    # The database and its write-ahead log (SQLite's -shm is its readers' locks).
    files = [page.parent / "eventstate.db", page.parent / "eventstate.db-wal"]

    def seen() -> list[tuple[bytes, int] | None]:
        return [(f.read_bytes(), os.stat(f).st_mtime_ns) if f.exists() else None for f in files]

    before = seen()
    assert cli("report", "latest", "--db", str(files[0]), "--html", "-").exit_code == 0
    assert seen() == before


def test_an_aborted_run_says_why_first(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "from eventstate.operations import files\nfiles.file('/x', _sduo=True)\n"
    )
    db = str(tmp_path / "eventstate.db")
    assert cli("deploy", "--db", db, "@local", str(tmp_path / "bad.py")).exit_code == 2
    with read_log(db) as log:
        data = report_data(log.run("latest"))
    assert data["run"]["status"] == "aborted"
    (failure,) = data["failures"]
    assert failure["kind"] == "run" and "unknown operation argument _sduo" in failure["reason"]
    assert data["results"] == [] and data["execute_ms"] is None  # no zoom to offer
    stages = [phase["stage"] for phase in data["phases"]]
    assert "prepare" in stages and "execute" not in stages
    assert "report" in cli("--help").output
