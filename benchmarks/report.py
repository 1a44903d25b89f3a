"""The results: rows grouped in sections, each row with its target and whether it was met."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from benchmarks.stats import Stat

__all__ = ["MET", "MISSED", "Row", "Section", "Target", "render", "write_json"]

MET = "met"
MISSED = "MISSED"
FAILED = "FAILED"


@attrs.frozen
class Target:
    """A goal for one number of a row: ``value <= limit`` (``at_most``) or ``value >= limit``.

    Attributes:
        text: How the table shows it (``<= 0.10x``).
        check: Whether a value meets it.
    """

    text: str
    check: Callable[[float], bool] = attrs.field(eq=False)

    @classmethod
    def at_most(cls, limit: float, text: str) -> Target:
        """Met by values no greater than ``limit``."""
        return cls(text, lambda value: value <= limit)

    @classmethod
    def at_least(cls, limit: float, text: str) -> Target:
        """Met by values no smaller than ``limit``."""
        return cls(text, lambda value: value >= limit)


@attrs.define
class Row:
    """One line of a section.

    Attributes:
        label: What the row measures.
        cells: The shown values, by column name, in order.
        data: The numbers behind them (``Stat`` values become dicts in the JSON).
        target: The goal, if the row has one.
        judged: The number the target is checked against (the median ratio, usually).
        error: Set when a case of the row failed; the row then shows FAILED.
    """

    label: str
    cells: dict[str, str] = attrs.field(factory=dict)
    data: dict[str, Any] = attrs.field(factory=dict)
    target: Target | None = None
    judged: float | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        """``met``, ``MISSED``, ``FAILED``, or empty for a row without a target."""
        if self.error is not None:
            return FAILED
        if self.target is None or self.judged is None:
            return ""
        return MET if self.target.check(self.judged) else MISSED

    def to_json(self) -> dict[str, Any]:
        """The row as plain values."""
        return {
            "label": self.label,
            "cells": self.cells,
            "data": {key: _plain(value) for key, value in self.data.items()},
            "target": self.target.text if self.target else None,
            "judged": self.judged,
            "status": self.status or None,
            "error": self.error,
        }


@attrs.define
class Section:
    """A titled group of rows that share their columns."""

    title: str
    note: str = ""
    rows: list[Row] = attrs.field(factory=list)

    def add(self, row: Row) -> Row:
        """Append ``row``; returns it."""
        self.rows.append(row)
        return row

    def failed(self, label: str, error: str) -> Row:
        """Append a row for a measurement whose case failed."""
        return self.add(Row(label, error=error))

    def to_json(self) -> dict[str, Any]:
        """The section as plain values."""
        return {"title": self.title, "note": self.note, "rows": [r.to_json() for r in self.rows]}


def _plain(value: Any) -> Any:
    if isinstance(value, Stat):
        return value.to_json()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _columns(section: Section) -> list[str]:
    columns: dict[str, None] = {}
    for row in section.rows:
        columns.update(dict.fromkeys(row.cells))
    return list(columns)


def render_section(section: Section) -> str:
    """One section as a plain-text table."""
    columns = _columns(section)
    has_target = any(row.target is not None or row.error for row in section.rows)
    header = ["", *columns, *(["target", "status"] if has_target else [])]
    lines: list[list[str]] = []
    notes: list[str] = []
    for row in section.rows:
        if row.error is not None:
            notes.append(f"  {row.label}: {row.error}")
        line = [row.label, *(row.cells.get(column, "") for column in columns)]
        if has_target:
            line += [row.target.text if row.target else "", row.status]
        lines.append(line)
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def fmt(line: list[str]) -> str:
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    out = [f"== {section.title} =="]
    if section.note:
        out += [f"   {line}" for line in section.note.splitlines()]
    out += [fmt(header), fmt(["-" * w for w in widths])]
    out += [fmt(line) for line in lines]
    out += notes
    return "\n".join(out)


def render(sections: list[Section], meta: dict[str, Any]) -> str:
    """Every section, and a summary of the targets, as text."""
    commit = meta["commit"]
    if meta.get("commit_end", commit) != commit:
        commit = f"{commit} (at the start; {meta['commit_end']} at the end)"
    head = (
        f"eventstate benchmarks ({meta['mode']}) -- {meta['started']}, "
        f"{meta.get('duration_s', 0):.0f}s, Python {meta['python']}, "
        f"pyinfra {meta['pyinfra']}, {meta['cpus']} CPUs, commit {commit}"
    )
    body = [render_section(section) for section in sections]
    statuses = [row.status for section in sections for row in section.rows if row.status]
    summary = f"targets: {statuses.count(MET)} met, {statuses.count(MISSED)} missed" + (
        f", {statuses.count(FAILED)} failed" if FAILED in statuses else ""
    )
    return "\n\n".join([head, *body, summary])


def write_json(path: Path, sections: list[Section], meta: dict[str, Any], runs: list[Any]) -> None:
    """Save the results (and every raw measurement) as JSON at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "meta": meta,
        "sections": [section.to_json() for section in sections],
        "runs": runs,
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
