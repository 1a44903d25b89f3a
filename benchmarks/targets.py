"""The targets table: every judged row of saved results, as the README's markdown table.

``python -m benchmarks.targets [RESULTS.json ...]`` (default: ``benchmarks/results/latest.json``)
prints one markdown table of every row that has a target -- section, row, the judged
number, the target, met or missed -- with the run each file comes from. The README
carries this table between a line starting with :data:`BEGIN` (which names the files,
as :func:`marker` writes it) and :data:`END`; ``--readme README.md`` rewrites it there,
and a test checks the README's table is the one the committed results give (a number
in the README is always a measured one).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "BEGIN",
    "DEFAULT_RESULTS",
    "END",
    "main",
    "markdown_table",
    "marked_files",
    "marker",
    "replace_table",
]

#: The results the table is made from unless files are named.
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"

#: How the README's line before the table starts (the files follow it).
BEGIN = "<!-- benchmark targets: python -m benchmarks.targets --readme README.md"
#: The README's line after the table.
END = "<!-- end of benchmark targets -->"


def marker(paths: Sequence[Path]) -> str:
    """The line before the table: the command that rewrites it, naming ``paths``."""
    return " ".join([BEGIN, *(path.as_posix() for path in paths), "-->"])


def marked_files(text: str) -> list[Path]:
    """The results files the README's marker line names.

    Raises:
        ValueError: no marker line.
    """
    for line in text.splitlines():
        if line.startswith(BEGIN):
            return [Path(word) for word in line[len(BEGIN) :].split() if word != "-->"]
    raise ValueError(f"the README has no line starting {BEGIN!r}")


def _judged(row: dict[str, Any]) -> str:
    value = row.get("judged")
    if row.get("error"):
        return "failed"
    if value is None:
        return ""
    # The spread of the summary the judged number is the median of, when the row has one.
    for stat in (row.get("data") or {}).values():
        if isinstance(stat, dict) and stat.get("median") == value and {"min", "max"} <= set(stat):
            return f"{value:.3g} [{stat['min']:.3g}-{stat['max']:.3g}]"
    return f"{value:.3g}"


def _source(meta: dict[str, Any], path: Path) -> str:
    mode, started = meta.get("mode", "?"), str(meta.get("started", "?"))[:16]
    return f"`{path.name}`: {mode} run of {started}, commit {meta.get('commit', '?')}"


def markdown_table(paths: Sequence[Path]) -> str:
    """The markdown table of every judged row in the results files ``paths``, in order.

    A row a later file measured again (the same section and label: a group re-run on
    its own) takes the earlier one's place, and the row says which file it is from.
    """
    lines = [
        "| section | row | measured (median [min-max]) | target | status |",
        "|---|---|---|---|---|",
    ]
    rows: dict[tuple[str, str], list[str]] = {}
    sources = []
    for number, path in enumerate(paths):
        document = json.loads(path.read_text(encoding="utf-8"))
        sources.append(_source(document.get("meta", {}), path))
        for section in document.get("sections", []):
            for row in section.get("rows", []):
                if not row.get("target") and not row.get("error"):
                    continue
                title = section["title"].split(":")[0]
                key = (title, row["label"])
                again = number > 0 and key in rows
                cells = [
                    title,
                    row["label"] + (f" (`{path.name}`)" if again else ""),
                    _judged(row),
                    row.get("target") or "",
                    row.get("status") or "",
                ]
                rows[key] = cells
    for cells in rows.values():
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join([*lines, "", "From " + "; ".join(sources) + "."])


def replace_table(text: str, paths: Sequence[Path], table: str) -> str:
    """``text`` (the README) with its marker line naming ``paths`` and ``table`` after it.

    Raises:
        ValueError: the markers are not both there, in order.
    """
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {BEGIN!r} ... {END!r} markers")
    return text[:start] + marker(paths) + "\n" + table + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    """Print the table, or write it into ``--readme``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.targets", description=__doc__)
    parser.add_argument("results", nargs="*", type=Path, help="results JSON files, in order")
    parser.add_argument("--readme", type=Path, help="rewrite the table in this file")
    args = parser.parse_args(argv)
    paths = args.results or [DEFAULT_RESULTS]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        print(f"Error: no results file at {', '.join(missing)}", file=sys.stderr)
        return 2
    table = markdown_table(paths)
    if args.readme is None:
        print(table)
        return 0
    try:
        text = args.readme.read_text(encoding="utf-8")
        args.readme.write_text(replace_table(text, paths, table), encoding="utf-8")
    except ValueError as error:
        print(f"Error: {args.readme}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
