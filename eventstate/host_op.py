"""One operation on one host: what calling it returned, and what executing it needs.

Shared by preparing (:mod:`eventstate.operation`) and executing
(:mod:`eventstate.execute`), so that neither imports the other's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs

from eventstate.arguments import GlobalArguments
from eventstate.commands import Command
from eventstate.connectors.base import CommandOptions

__all__ = ["HostOpData", "OperationResult"]


class OperationResult:
    """What calling an operation returns: its hash and whether it will change the host."""

    __slots__ = ("changed", "op_hash", "success", "will_change")

    def __init__(self, op_hash: str, will_change: bool | None) -> None:
        self.op_hash = op_hash
        self.will_change = will_change
        #: Set once executed: whether it succeeded, and whether it ran any command.
        self.success: bool | None = None
        self.changed: bool | None = None

    def __repr__(self) -> str:
        return f"OperationResult(op_hash={self.op_hash!r}, will_change={self.will_change})"


@attrs.define
class HostOpData:
    """What executing one op on one host needs (runtime data: code, so never in the log)."""

    command_generator: Callable[[], Iterator[Command]]
    global_arguments: GlobalArguments
    result: OperationResult

    @property
    def options(self) -> CommandOptions:
        """How its commands run."""
        return self.global_arguments.options
