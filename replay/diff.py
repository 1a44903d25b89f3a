"""Comparing two runs: hosts, and each host's operations, outcomes and commands."""

from __future__ import annotations

import attrs

from eventstate.projections import HostOp
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


def _outcome(op: HostOp) -> str | None:
    return None if op.outcome is None else op.outcome.value


def diff_runs(a: Run, b: Run) -> RunDiff:
    """What run ``b`` did differently from run ``a`` (ops matched by op hash)."""
    view_a, view_b = a.state(), b.state()
    hosts_a, hosts_b = list(view_a.run.hosts), list(view_b.run.hosts)
    ops_a, ops_b = a.host_ops(), b.host_ops()
    lines: list[str] = []
    for host in [h for h in hosts_a if h in hosts_b]:
        host_a, host_b = ops_a.host_ops(host), ops_b.host_ops(host)
        for op_hash in [*host_a, *(h for h in host_b if h not in host_a)]:
            name = ops_b.op_name(op_hash) or ops_a.op_name(op_hash) or op_hash
            if op_hash not in host_a:
                lines.append(f"+ [{host}] {name}: only in B")
                continue
            if op_hash not in host_b:
                lines.append(f"- [{host}] {name}: only in A")
                continue
            one, two = host_a[op_hash], host_b[op_hash]
            if one.is_change != two.is_change:
                lines.append(f"~ [{host}] {name}: change {one.is_change} -> {two.is_change}")
            if _outcome(one) != _outcome(two):
                lines.append(f"~ [{host}] {name}: outcome {_outcome(one)} -> {_outcome(two)}")
            commands_a = [command.command for command in one.commands]
            commands_b = [command.command for command in two.commands]
            if commands_a != commands_b:
                lines.append(f"~ [{host}] {name}: commands {commands_a} -> {commands_b}")
    failed_a, failed_b = set(view_a.failed_hosts), set(view_b.failed_hosts)
    return RunDiff(
        hosts_added=[h for h in hosts_b if h not in hosts_a],
        hosts_removed=[h for h in hosts_a if h not in hosts_b],
        new_failures=[h for h in hosts_b if h in failed_b and h not in failed_a],
        fixed=[h for h in hosts_a if h in failed_a and h not in failed_b],
        ops=lines,
    )
