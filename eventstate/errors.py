"""The exceptions eventstate raises.

Every error is an :class:`EventstateError`, so a CLI or a caller can catch the
one root and print a single line. The subclasses mirror pyinfra's categories
where pyinfra defines the behaviour (``PyinfraError`` for failed hosts and
cycles, ``TypeError`` for a bad callback handler), so code written against
pyinfra's ``State`` keeps catching what it caught before.

This module imports nothing from eventstate: the projections may raise these
errors without depending on the engine.
"""

from __future__ import annotations


class EventstateError(Exception):
    """The root of every error eventstate raises."""


class DeployError(EventstateError):
    """A deploy cannot go on; pyinfra raises ``PyinfraError`` in the same places."""


class NoHostsRemainingError(DeployError):
    """Every active host has failed."""


class FailPercentExceededError(DeployError):
    """More hosts failed than ``Config.FAIL_PERCENT`` allows."""


class OperationOrderCycleError(DeployError):
    """The hosts' operation orders contradict one another: the DAG has a cycle."""


class OperationValueError(DeployError, ValueError):
    """An operation was added twice with conflicting execution arguments."""


class NestedOperationError(EventstateError):
    """An operation was called inside another's body, or a nested operation failed."""


class OperationError(EventstateError):
    """An operation cannot be prepared: what it was asked for cannot be done (pyinfra's
    ``OperationError``), such as downloading a file the host does not have."""


class OperationArgumentError(EventstateError, TypeError):
    """An operation was called with an argument it does not take, or of the wrong type."""


class DeployFileError(EventstateError):
    """A deploy or inventory file could not be read, or failed while it ran."""


class ConfigError(EventstateError, TypeError):
    """A config setting that does not exist, or a value of the wrong type for one."""


class PyinfraVersionError(EventstateError):
    """The deploy's ``REQUIRE_PYINFRA_VERSION`` excludes the pyinfra version eventstate follows."""


class StageError(EventstateError):
    """A stage change that would move the deploy backwards."""


class CallbackHandlerError(EventstateError, TypeError):
    """An object that is not a ``BaseStateCallback`` was given as a callback handler."""


class InventoryError(EventstateError):
    """The inventory was given something it cannot use."""


class NoHostError(InventoryError, KeyError):
    """No host of that name is in the inventory."""

    def __str__(self) -> str:
        # KeyError quotes its argument; a user reading one line wants plain text.
        return str(self.args[0]) if self.args else ""


class NoGroupError(InventoryError, KeyError):
    """No group of that name is in the inventory."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NoDeployContextError(EventstateError):
    """An operation (or ``host.get_fact``) was called outside a deploy: not from a
    deploy file, an operation or ``add_op``."""


class FactError(EventstateError):
    """A fact could not be gathered or processed (pyinfra's ``FactError``)."""


class FactNotCollected(FactError):
    """A fact was not collected: its command is absent, or its preconditions do not hold.

    While preparing, the fact reads as its default (what it waits for may be
    installed by an earlier op); see :func:`eventstate.facts.get_fact`.
    """


class MissingCommandError(FactNotCollected):
    """The binary a fact's ``requires_command`` names is not on the host."""

    def __init__(self, command: str) -> None:
        self.command = command
        super().__init__(f"Command not found on remote host: {command}")


class FactPreconditionError(FactNotCollected):
    """A fact's ``check_preconditions`` gave a reason it cannot be gathered now."""

    def __init__(self, fact_cls: type, reason: str) -> None:
        self.fact_cls = fact_cls
        self.reason = reason
        super().__init__(f"Fact precondition not satisfied ({fact_cls.__name__}): {reason}")


class UsageError(EventstateError):
    """A command was called wrongly: options that contradict, a value it cannot read."""


class UnknownRunError(EventstateError):
    """No run (or more than one) matches the run id given."""


class StateNotInitialisedError(EventstateError):
    """The State was used before ``init`` gave it an inventory."""


class StateAlreadyInitialisedError(EventstateError):
    """``init`` was called on a State that already runs a deploy: one State per run."""


class UnknownOperationError(EventstateError):
    """An operation hash was used that no ``add_op_meta`` recorded."""


class ExecutionAlreadyRanError(EventstateError):
    """``run_ops`` was called a second time for the same State: one execution per run."""


class ReadOnlyViewError(EventstateError, TypeError):
    """A view of the State was mutated; views change only by appending events."""


class CodecError(EventstateError):
    """An event could not be encoded or decoded."""


class UnknownEventTypeError(CodecError):
    """A stored event names a type this version of eventstate does not know."""


class SchemaVersionError(CodecError):
    """A stored event was written by a newer schema than this version reads."""


class StoreError(EventstateError):
    """The event store refused or failed an operation."""


class SequenceError(StoreError):
    """An append would leave a gap or repeat a sequence number in a run."""


class StoreNotFoundError(StoreError):
    """There is no event log where one was to be opened (and it was not to be created)."""


class PostgresNotInstalledError(StoreError, ImportError):
    """A ``postgresql://`` log was named, but the PostgreSQL store's driver (psycopg 3 and
    its pool: ``pip install 'eventstate[postgres]'``) is not installed."""


class StoreLockedError(StoreError):
    """Another connection holds the store's lock past the wait: try again later."""


class StoreCorruptError(StoreError):
    """The store's file is not a database, or a damaged one: restore it or use another."""


class IntegrityError(EventstateError):
    """A stored run fails verification: its hash chain or sequence is broken."""


class NotRerunnableError(EventstateError):
    """The run did not record what re-running it needs."""


class ConnectError(EventstateError):
    """A connector could not connect to a host (recorded as a connect failure)."""


class SessionLostError(ConnectError):
    """A host's shell session ended before a command's end was read (the connection went)."""


class ConnectorNotFoundError(InventoryError):
    """An inventory names a connector (``@name``) that is not installed."""


class PyinfraNotInstalledError(EventstateError, ImportError):
    """A deploy uses pyinfra, and the ``pyinfra`` extra is not installed."""


class UnsupportedPyinfraCommandError(EventstateError, TypeError):
    """A pyinfra operation yielded a command eventstate cannot run (rsync, a command
    carrying its own connector arguments): the message names the operation."""
