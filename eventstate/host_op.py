"""One operation on one host: what calling it returned, and what executing it needs.

Shared by preparing (:mod:`eventstate.operation`) and executing
(:mod:`eventstate.execute`), so that neither imports the other's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs

from eventstate.arguments import GlobalArguments
from eventstate.commands import Command
from eventstate.connectors.base import CommandOptions

__all__ = ["HostOpData", "OperationResult"]


class OperationResult:
    """What calling an operation returns: its hash and whether it will change the host.

    Once executed it also holds how it went, retries included (pyinfra 3.10's
    ``OperationMeta`` retry fields).
    """

    __slots__ = (
        "changed",
        "max_retries",
        "op_hash",
        "retry_attempts",
        "retry_succeeded",
        "success",
        "will_change",
    )

    def __init__(self, op_hash: str, will_change: bool | None) -> None:
        self.op_hash = op_hash
        self.will_change = will_change
        #: Set once executed: whether it succeeded, and whether it ran any command.
        self.success: bool | None = None
        self.changed: bool | None = None
        #: Retries made before the outcome, and the retries allowed (``_retries``).
        self.retry_attempts = 0
        self.max_retries = 0
        #: Whether it succeeded after retries; None if it was not retried.
        self.retry_succeeded: bool | None = None

    @property
    def was_retried(self) -> bool:
        """Whether it was retried at least once."""
        return self.retry_attempts > 0

    def get_retry_info(self) -> dict[str, Any]:
        """The retry fields by name, as pyinfra's ``OperationMeta.get_retry_info()``."""
        return {
            "retry_attempts": self.retry_attempts,
            "max_retries": self.max_retries,
            "was_retried": self.was_retried,
            "retry_succeeded": self.retry_succeeded,
        }

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
