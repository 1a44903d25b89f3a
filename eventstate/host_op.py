"""One operation on one host: what calling it returned, and what executing it needs.

Shared by preparing (:mod:`eventstate.operation`) and executing
(:mod:`eventstate.execute`), so that neither imports the other's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs

from eventstate.arguments import GlobalArguments
from eventstate.commands import Command
from eventstate.connectors.base import CommandOptions, CommandResult
from eventstate.errors import OperationError

__all__ = ["HostOpData", "OperationMeta", "OperationOutput", "OperationResult"]


class OperationOutput:
    """What an executed op's commands printed, in order (pyinfra's ``CommandOutput``).

    Holds each command's result; the lines are split when read.
    """

    __slots__ = ("_results",)

    def __init__(self, results: Iterable[CommandResult]) -> None:
        self._results: Sequence[CommandResult] = tuple(results)

    @classmethod
    def of(cls, results: list[CommandResult]) -> OperationOutput:
        """The output of ``results``, a list no one changes after: kept, not copied
        (the engine makes one per host-op)."""
        output = cls.__new__(cls)
        output._results = results
        return output

    @property
    def stdout_lines(self) -> list[str]:
        """Every command's standard output, as lines."""
        return [line for result in self._results for line in result.stdout.splitlines()]

    @property
    def stderr_lines(self) -> list[str]:
        """Every command's standard error, as lines."""
        return [line for result in self._results for line in result.stderr.splitlines()]


class OperationMeta:
    """What calling an operation returns: its hash and whether it will change the host.

    pyinfra's ``OperationMeta(hash, is_change)``, by its name and repr (also
    importable as ``OperationResult``). Once executed it also holds how it went:
    the commands run and what they printed (``stdout``, ``stderr_lines``...), and
    its retries. Not the ``OperationMeta`` of ``state.op_meta`` (pyinfra's
    ``StateOperationMeta``): that is what every host shares of an op.
    """

    __slots__ = (
        "_combined_output",
        "_commands",
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
        #: Set once executed (pyinfra's names): the commands of its last attempt, and
        #: what they printed.
        self._commands: list[Command] | None = None
        self._combined_output: OperationOutput | None = None

    @property
    def _hash(self) -> str:
        """Its hash, by pyinfra's name (``OperationMeta._hash``)."""
        return self.op_hash

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

    def _output(self) -> OperationOutput:
        if self._combined_output is None:
            raise OperationError("Cannot evaluate operation result before execution")
        return self._combined_output

    @property
    def stdout_lines(self) -> list[str]:
        """What its commands wrote to standard output, as lines (once executed)."""
        return self._output().stdout_lines

    @property
    def stderr_lines(self) -> list[str]:
        """What its commands wrote to standard error, as lines (once executed)."""
        return self._output().stderr_lines

    @property
    def stdout(self) -> str:
        """What its commands wrote to standard output (once executed)."""
        return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        """What its commands wrote to standard error (once executed)."""
        return "\n".join(self.stderr_lines)

    @property
    def executed(self) -> bool:
        """Whether it ran any command (pyinfra's ``executed``)."""
        return bool(self._commands)

    def is_complete(self) -> bool:
        """Whether it has been executed."""
        return self.success is not None

    def _require_complete(self) -> None:
        if self.success is None:
            raise OperationError("Cannot evaluate operation result before execution")

    def did_change(self) -> bool:
        """Whether it succeeded running commands (once executed)."""
        self._require_complete()
        return bool(self.success and self._commands)

    def did_not_change(self) -> bool:
        """The opposite of :meth:`did_change` (once executed)."""
        return not self.did_change()

    def did_succeed(self) -> bool:
        """Whether it succeeded (once executed)."""
        self._require_complete()
        return self.success is True

    def did_error(self) -> bool:
        """Whether it failed (once executed)."""
        self._require_complete()
        return self.success is False

    def __repr__(self) -> str:
        # pyinfra's, word for word.
        if self._commands is not None:
            retry_info = ""
            if self.retry_attempts > 0:
                retry_result = "succeeded" if self.retry_succeeded else "failed"
                retry_info = f", retries={self.retry_attempts}/{self.max_retries} ({retry_result})"
            return (
                f"OperationMeta(executed=True, success={self.success is True}, "
                f"hash={self.op_hash}, commands={len(self._commands)}{retry_info})"
            )
        return f"OperationMeta(executed=False, maybeChange={self.will_change}, hash={self.op_hash})"


#: The name eventstate's own code reads it by: what an op call returns.
OperationResult = OperationMeta


@attrs.define
class HostOpData:
    """What executing one op on one host needs (runtime data: code, so never in the log)."""

    command_generator: Callable[[], Iterator[Command]]
    global_arguments: GlobalArguments
    result: OperationResult
    #: Why the op had nothing (more) to do, in the order its body said so as it executed
    #: (pyinfra's ``host.noop``): kept in memory only, the log has no field for it yet.
    noops: list[str] = attrs.field(factory=list)

    @property
    def options(self) -> CommandOptions:
        """How its commands run."""
        return self.global_arguments.options

    @property
    def operation_meta(self) -> OperationResult:
        """Its result, by pyinfra's name (``StateOperationHostData.operation_meta``)."""
        return self.result
