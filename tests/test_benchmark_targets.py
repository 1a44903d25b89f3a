"""The README's benchmark table is the one the committed results give, and the table
maker reads every judged row (and only those) of a results file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.targets import (
    BEGIN,
    END,
    main,
    markdown_table,
    marked_files,
    marker,
    replace_table,
)

ROOT = Path(__file__).resolve().parent.parent


def _readme_table(text: str) -> str:
    start = text.index("\n", text.index(BEGIN)) + 1
    return text[start : text.index(END)].rstrip("\n")


def test_the_readme_carries_the_table_of_the_committed_results() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    files = marked_files(readme)
    assert files and all((ROOT / path).is_file() for path in files)
    assert _readme_table(readme) == markdown_table([ROOT / path for path in files])


def _results(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "meta": {"mode": "full", "started": "2026-12-01T10:00:00", "commit": "abc1234"},
                "sections": [{"title": "Append path: x", "note": "", "rows": rows}],
                "runs": [],
            }
        )
    )
    return path


def test_only_judged_rows_reach_the_table_with_their_spread(tmp_path: Path) -> None:
    path = _results(
        tmp_path / "r.json",
        [
            {
                "label": "judged",
                "data": {"ratio": {"median": 0.5, "min": 0.4, "max": 0.6, "n": 3}},
                "target": ">= 0.70x",
                "judged": 0.5,
                "status": "MISSED",
                "error": None,
            },
            {"label": "shown only", "data": {}, "target": None, "judged": None, "status": ""},
            {"label": "broken", "data": {}, "target": "<= 1x", "judged": None, "error": "boom"},
        ],
    )
    table = markdown_table([path])
    assert "| Append path | judged | 0.5 [0.4-0.6] | >= 0.70x | MISSED |" in table
    assert "| Append path | broken | failed | <= 1x |" in table
    assert "shown only" not in table
    assert "`r.json`: full run of 2026-12-01T10:00, commit abc1234" in table


def test_the_readme_is_rewritten_between_its_markers(tmp_path: Path) -> None:
    path = _results(tmp_path / "r.json", [])
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{marker([Path('old.json')])}\nstale\n{END}\nafter\n")
    assert main([str(path), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith(f"{END}\nafter\n")
    assert "stale" not in text and marked_files(text) == [path]
    with pytest.raises(ValueError, match="markers"):
        replace_table("no markers", [path], "table")


def test_a_missing_results_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "none.json")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_row_measured_again_by_a_later_file_takes_its_place(tmp_path: Path) -> None:
    def judged(value: float) -> dict[str, object]:
        return {"label": "judged", "data": {}, "target": ">= 1x", "judged": value, "status": "met"}

    first = _results(tmp_path / "first.json", [judged(1.0), {**judged(2.0), "label": "other"}])
    again = _results(tmp_path / "again.json", [judged(3.0)])
    table = markdown_table([first, again]).splitlines()
    assert table[2:4] == [
        "| Append path | judged (`again.json`) | 3 | >= 1x | met |",
        "| Append path | other | 2 | >= 1x | met |",
    ]
