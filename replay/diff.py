"""Comparing two runs: hosts, and each host's operations, outcomes and commands."""

from __future__ import annotations

from typing import Any

import attrs

from eventstate.events import (
    CommandExecuted,
    HostOperationFinished,
    OperationAdded,
    OperationAddedForHost,
)
from eventstate.replay.run import Run

__all__ = ["RunDiff", "diff_runs"]


@attrs.frozen
class RunDiff:
    """What differs between run A and run B.

    Attributes:
        hosts_added: Hosts in B's inventory only.
        hosts_removed: Hosts in A's inventory only.
        new_failures: Hosts failed in B but not in A.
        fixed: Hosts failed in A but not in B.
        ops: One line per (host, op) whose change status, outcome or commands differ.
    """

    hosts_added: list[str]
    hosts_removed: list[str]
    new_failures: list[str]
    fixed: list[str]
    ops: list[str]

    @property
    def same(self) -> bool:
        """Whether the runs did the same things."""
        return not (
            self.hosts_added or self.hosts_removed or self.new_failures or self.fixed or self.ops
        )

    def lines(self) -> list[str]:
        """The differences, one per line."""
        found = [f"+ host {host}" for host in self.hosts_added]
        found += [f"- host {host}" for host in self.hosts_removed]
        found += [f"! newly failed: {host}" for host in self.new_failures]
        found += [f"! no longer failed: {host}" for host in self.fixed]
        return found + self.ops


_OP_EVENTS = {"OperationAdded", "OperationAddedForHost", "CommandExecuted", "HostOperationFinished"}


def _ops(run: Run) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, str]]:
    per_host: dict[str, dict[str, dict[str, Any]]] = {}
    names: dict[str, str] = {}
    for event in run.events(
        types={
            "OperationAdded",
            "OperationAddedForHost",
            "CommandExecuted",
            "HostOperationFinished",
        }
    ):
        if isinstance(event, OperationAdded):
            names.setdefault(event.op_hash, ", ".join(event.names))
        elif isinstance(event, OperationAddedForHost):
            per_host.setdefault(event.host, {})[event.op_hash] = {
                "change": event.is_change,
                "outcome": None,
                "commands": [],
            }
        elif isinstance(event, CommandExecuted) and event.op_hash is not None:
            op = per_host.setdefault(event.host, {}).setdefault(
                event.op_hash, {"change": None, "outcome": None, "commands": []}
            )
            op["commands"].append(event.command)
        elif isinstance(event, HostOperationFinished):
            op = per_host.setdefault(event.host, {}).setdefault(
                event.op_hash, {"change": None, "outcome": None, "commands": []}
            )
            op["outcome"] = event.outcome.value
    return per_host, names


def diff_runs(a: Run, b: Run) -> RunDiff:
    """What run ``b`` did differently from run ``a`` (ops matched by op hash)."""
    view_a, view_b = a.state(), b.state()
    hosts_a, hosts_b = list(view_a.run.hosts), list(view_b.run.hosts)
    ops_a, names_a = _ops(a)
    ops_b, names_b = _ops(b)
    lines: list[str] = []
    for host in [h for h in hosts_a if h in hosts_b]:
        host_a, host_b = ops_a.get(host, {}), ops_b.get(host, {})
        for op_hash in [*host_a, *(h for h in host_b if h not in host_a)]:
            name = names_b.get(op_hash) or names_a.get(op_hash) or op_hash
            if op_hash not in host_a:
                lines.append(f"+ [{host}] {name}: only in B")
                continue
            if op_hash not in host_b:
                lines.append(f"- [{host}] {name}: only in A")
                continue
            one, two = host_a[op_hash], host_b[op_hash]
            for key, label in (("change", "change"), ("outcome", "outcome")):
                if one[key] != two[key]:
                    lines.append(f"~ [{host}] {name}: {label} {one[key]} -> {two[key]}")
            if one["commands"] != two["commands"]:
                lines.append(f"~ [{host}] {name}: commands {one['commands']} -> {two['commands']}")
    failed_a, failed_b = set(view_a.failed_hosts), set(view_b.failed_hosts)
    return RunDiff(
        hosts_added=[h for h in hosts_b if h not in hosts_a],
        hosts_removed=[h for h in hosts_a if h not in hosts_b],
        new_failures=[h for h in hosts_b if h in failed_b and h not in failed_a],
        fixed=[h for h in hosts_a if h in failed_a and h not in failed_b],
        ops=lines,
    )
