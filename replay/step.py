"""Stepping through a run: what each event changed in the State's views."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from eventstate.events import Event
from eventstate.replay.run import Run

__all__ = ["Change", "changes", "step"]


@attrs.frozen
class Change:
    """One value that changed: its path in the views (``results.web1.success_ops``)."""

    path: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.path}: {_show(self.old)} -> {_show(self.new)}"


_ABSENT = object()


def _show(value: Any) -> str:
    return "(none)" if value is _ABSENT else repr(value)


def changes(before: Any, after: Any, path: str = "") -> list[Change]:
    """Every leaf that differs between two snapshots, by path (lists compared whole)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[Change] = []
        for key in [*before, *(k for k in after if k not in before)]:
            child = f"{path}.{key}" if path else str(key)
            found.extend(changes(before.get(key, _ABSENT), after.get(key, _ABSENT), child))
        return found
    if before == after:
        return []
    return [Change(path, before, after)]


def step(
    run: Run, first: int = 1, last: int | None = None, *, host: str | None = None
) -> Iterator[tuple[Event, list[Change]]]:
    """Each event from ``first`` to ``last``, with what it changed in the views.

    With ``host``, only events about that host are yielded (all are applied).
    """
    view = run.state_at(first - 1)
    before = view.snapshot()
    for event in run.events(first, last):
        view.apply(event)
        after = view.snapshot()
        if host is None or getattr(event, "host", None) == host:
            yield event, changes(before, after)
        before = after
