"""What a ``--dry`` deploy would do: its ops, on each host, with the commands that would run.

The plan is printed as the dry run ends, before the hosts are disconnected: each
op's commands are generated again for each host, as executing would generate
them, and none is run. Commands are shown as the log shows them (secrets
masked, ``sudo -u USER`` in front when the op runs with it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from eventstate.commands import FunctionCommand
from eventstate.connectors.base import shown_privilege
from eventstate.context import using
from eventstate.events import StateStage
from eventstate.state import BaseStateCallback

if TYPE_CHECKING:
    from eventstate.host_op import HostOpData
    from eventstate.state import State

__all__ = ["PlanPrinter", "plan_lines"]


def _commands(data: HostOpData) -> list[str]:
    privilege = shown_privilege(data.options)
    shown = []
    for command in data.command_generator():
        text = command.masked()
        # As the log shows it: a Python step runs here, with no privilege.
        runs_there = privilege and not isinstance(command, FunctionCommand)
        shown.append(f"{privilege} {text}" if runs_there else text)
    return shown


def plan_lines(state: State) -> list[str]:
    """The plan: a line per op, then a line per host and command; ``(no change)`` if none."""
    order = state.get_op_order()
    hosts = list(state.active_hosts)
    host_ops = sum(1 for host in hosts for op_hash in order if op_hash in state.ops[host])
    lines = [f"plan: {len(order)} ops on {len(hosts)} hosts, {host_ops} host-ops (nothing run)"]
    width = max((len(host.name) for host in hosts), default=0) + 2
    for number, op_hash in enumerate(order, 1):
        meta = state.get_op_meta(op_hash)
        lines.append(f"op {number}/{len(order)} {', '.join(meta.names)} {' '.join(meta.args)}")
        for host in hosts:
            data = state.ops[host].get(op_hash)
            if data is None:
                continue
            prefix = f"  {('[' + host.name + ']').ljust(width)} "
            try:
                with using(state, host):
                    commands = _commands(data)
            except Exception as error:  # the op's body only knows when it runs
                lines.append(f"{prefix}(commands unknown until run: {type(error).__name__})")
                continue
            lines.extend(prefix + command for command in commands)
            if not commands:
                lines.append(f"{prefix}(no change)")
    return lines


class PlanPrinter(BaseStateCallback):
    """Prints the plan as a dry run leaves the prepare stage (its hosts still connected).

    Args:
        say: Prints one line.
    """

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say

    def stage_changed(self, state: State, stage: StateStage, previous: StateStage) -> None:  # type: ignore[override]
        """Print the plan when the prepared run goes straight to disconnecting."""
        ended = state.view.run.status is not None  # aborted or interrupted: no plan
        if previous is StateStage.Prepare and stage is StateStage.Disconnect and not ended:
            for line in plan_lines(state):
                self.say(line)
