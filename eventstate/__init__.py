"""eventstate: an event-sourced deploy-state engine.

pyinfra's ``State`` -- stages, hosts, operations, results -- where every
change is an immutable event in a hash-chained log and every view is a fold
of projections over it.

The public names below are loaded on first use (PEP 562), not when the package
is imported: ``eventstate.projections`` and ``eventstate.replay`` live inside
this package, and importing them must not load the State, gevent or a store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from eventstate.version import __version__

#: Each public name and the module that defines it.
_PUBLIC: dict[str, str] = {
    # eventstate.chain
    "GENESIS_HASH": "eventstate.chain",
    "chain_hash": "eventstate.chain",
    # eventstate.codec
    "EventCodec": "eventstate.codec",
    "make_converter": "eventstate.codec",
    # eventstate.commands
    "FileDownloadCommand": "eventstate.commands",
    "FileUploadCommand": "eventstate.commands",
    "FunctionCommand": "eventstate.commands",
    "HiddenValue": "eventstate.commands",
    "QuoteString": "eventstate.commands",
    "Secret": "eventstate.commands",
    "StringCommand": "eventstate.commands",
    "make_formatted_string_command": "eventstate.commands",
    # eventstate.config
    "Config": "eventstate.config",
    # eventstate.errors
    "CallbackHandlerError": "eventstate.errors",
    "CodecError": "eventstate.errors",
    "ConfigError": "eventstate.errors",
    "ConnectError": "eventstate.errors",
    "ConnectorNotFoundError": "eventstate.errors",
    "DeployError": "eventstate.errors",
    "DeployFileError": "eventstate.errors",
    "EventstateError": "eventstate.errors",
    "ExecutionAlreadyRanError": "eventstate.errors",
    "FactError": "eventstate.errors",
    "FactNotCollected": "eventstate.errors",
    "FactPreconditionError": "eventstate.errors",
    "FailPercentExceededError": "eventstate.errors",
    "IntegrityError": "eventstate.errors",
    "InventoryError": "eventstate.errors",
    "MissingCommandError": "eventstate.errors",
    "NestedOperationError": "eventstate.errors",
    "NoDeployContextError": "eventstate.errors",
    "NoGroupError": "eventstate.errors",
    "NoHostError": "eventstate.errors",
    "NoHostsRemainingError": "eventstate.errors",
    "NotRerunnableError": "eventstate.errors",
    "PostgresNotInstalledError": "eventstate.errors",
    "PyinfraNotInstalledError": "eventstate.errors",
    "OperationArgumentError": "eventstate.errors",
    "OperationError": "eventstate.errors",
    "OperationOrderCycleError": "eventstate.errors",
    "OperationValueError": "eventstate.errors",
    "PyinfraVersionError": "eventstate.errors",
    "ReadOnlyViewError": "eventstate.errors",
    "SchemaVersionError": "eventstate.errors",
    "SequenceError": "eventstate.errors",
    "SessionLostError": "eventstate.errors",
    "StageError": "eventstate.errors",
    "StateAlreadyInitialisedError": "eventstate.errors",
    "StateNotInitialisedError": "eventstate.errors",
    "StoreCorruptError": "eventstate.errors",
    "StoreError": "eventstate.errors",
    "StoreLockedError": "eventstate.errors",
    "StoreNotFoundError": "eventstate.errors",
    "UnknownEventTypeError": "eventstate.errors",
    "UnknownOperationError": "eventstate.errors",
    "UnknownRunError": "eventstate.errors",
    "UnsupportedPyinfraCommandError": "eventstate.errors",
    "UsageError": "eventstate.errors",
    # eventstate.events
    "EVENT_TYPES": "eventstate.events",
    "Event": "eventstate.events",
    "ExecutionStarted": "eventstate.events",
    "FailOutcome": "eventstate.events",
    "HeartbeatRecorded": "eventstate.events",
    "HostActivated": "eventstate.events",
    "HostConnected": "eventstate.events",
    "HostConnectFailed": "eventstate.events",
    "HostDisconnected": "eventstate.events",
    "HostOperationFinished": "eventstate.events",
    "HostsFailed": "eventstate.events",
    "LimitSet": "eventstate.events",
    "OperationAdded": "eventstate.events",
    "OperationAddedForHost": "eventstate.events",
    "OpOutcome": "eventstate.events",
    "RecordedCommand": "eventstate.events",
    "RunFinished": "eventstate.events",
    "command_events": "eventstate.events",
    "with_command_events": "eventstate.events",
    "with_host_events": "eventstate.events",
    "RunStarted": "eventstate.events",
    "RunStatus": "eventstate.events",
    "StageChanged": "eventstate.events",
    "StateStage": "eventstate.events",
    "WarningRaised": "eventstate.events",
    # eventstate.interruption
    "DeployInterrupted": "eventstate.interruption",
    # eventstate.host
    "Host": "eventstate.host",
    # eventstate.inventory
    "Inventory": "eventstate.inventory",
    # eventstate.printing
    "PrintFlags": "eventstate.printing",
    "Printer": "eventstate.printing",
    # eventstate.recorder
    "EventRecorder": "eventstate.recorder",
    # eventstate.state
    "MAX_PARALLEL": "eventstate.state",
    "BaseStateCallback": "eventstate.state",
    "State": "eventstate.state",
    "new_run_id": "eventstate.state",
    # eventstate.stores
    "EventLog": "eventstate.stores",
    "MemoryEventLog": "eventstate.stores",
    "RunSummary": "eventstate.stores",
    "PostgresEventLog": "eventstate.stores",
    "SqliteEventLog": "eventstate.stores",
    "StoredEvent": "eventstate.stores",
    "open_log": "eventstate.stores",
    # eventstate.version
    "__version__": "eventstate.version",
}

__all__ = [
    "EVENT_TYPES",
    "GENESIS_HASH",
    "MAX_PARALLEL",
    "BaseStateCallback",
    "CallbackHandlerError",
    "CodecError",
    "Config",
    "ConfigError",
    "ConnectError",
    "ConnectorNotFoundError",
    "DeployError",
    "DeployFileError",
    "DeployInterrupted",
    "Event",
    "EventCodec",
    "EventLog",
    "EventRecorder",
    "EventstateError",
    "ExecutionAlreadyRanError",
    "ExecutionStarted",
    "FactError",
    "FactNotCollected",
    "FactPreconditionError",
    "FailOutcome",
    "FailPercentExceededError",
    "FileDownloadCommand",
    "FileUploadCommand",
    "FunctionCommand",
    "HeartbeatRecorded",
    "HiddenValue",
    "Host",
    "HostActivated",
    "HostConnectFailed",
    "HostConnected",
    "HostDisconnected",
    "HostOperationFinished",
    "HostsFailed",
    "IntegrityError",
    "Inventory",
    "InventoryError",
    "LimitSet",
    "MemoryEventLog",
    "MissingCommandError",
    "NestedOperationError",
    "NoDeployContextError",
    "NoGroupError",
    "NoHostError",
    "NoHostsRemainingError",
    "NotRerunnableError",
    "OpOutcome",
    "OperationAdded",
    "OperationAddedForHost",
    "OperationArgumentError",
    "OperationError",
    "OperationOrderCycleError",
    "OperationValueError",
    "PostgresEventLog",
    "PostgresNotInstalledError",
    "PrintFlags",
    "Printer",
    "PyinfraNotInstalledError",
    "PyinfraVersionError",
    "QuoteString",
    "ReadOnlyViewError",
    "RecordedCommand",
    "RunFinished",
    "RunStarted",
    "RunStatus",
    "RunSummary",
    "SchemaVersionError",
    "Secret",
    "SequenceError",
    "SessionLostError",
    "SqliteEventLog",
    "StageChanged",
    "StageError",
    "State",
    "StateAlreadyInitialisedError",
    "StateNotInitialisedError",
    "StateStage",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreNotFoundError",
    "StoredEvent",
    "StringCommand",
    "UnknownEventTypeError",
    "UnknownOperationError",
    "UnknownRunError",
    "UnsupportedPyinfraCommandError",
    "UsageError",
    "WarningRaised",
    "__version__",
    "chain_hash",
    "command_events",
    "make_converter",
    "make_formatted_string_command",
    "new_run_id",
    "open_log",
    "with_command_events",
    "with_host_events",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'eventstate' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


if TYPE_CHECKING:
    from eventstate.chain import (
        GENESIS_HASH,
        chain_hash,
    )
    from eventstate.codec import (
        EventCodec,
        make_converter,
    )
    from eventstate.commands import (
        FileDownloadCommand,
        FileUploadCommand,
        FunctionCommand,
        HiddenValue,
        QuoteString,
        Secret,
        StringCommand,
        make_formatted_string_command,
    )
    from eventstate.config import (
        Config,
    )
    from eventstate.errors import (
        CallbackHandlerError,
        CodecError,
        ConfigError,
        ConnectError,
        ConnectorNotFoundError,
        DeployError,
        DeployFileError,
        EventstateError,
        ExecutionAlreadyRanError,
        FactError,
        FactNotCollected,
        FactPreconditionError,
        FailPercentExceededError,
        IntegrityError,
        InventoryError,
        MissingCommandError,
        NestedOperationError,
        NoDeployContextError,
        NoGroupError,
        NoHostError,
        NoHostsRemainingError,
        NotRerunnableError,
        OperationArgumentError,
        OperationError,
        OperationOrderCycleError,
        OperationValueError,
        PostgresNotInstalledError,
        PyinfraNotInstalledError,
        PyinfraVersionError,
        ReadOnlyViewError,
        SchemaVersionError,
        SequenceError,
        SessionLostError,
        StageError,
        StateAlreadyInitialisedError,
        StateNotInitialisedError,
        StoreCorruptError,
        StoreError,
        StoreLockedError,
        StoreNotFoundError,
        UnknownEventTypeError,
        UnknownOperationError,
        UnknownRunError,
        UnsupportedPyinfraCommandError,
        UsageError,
    )
    from eventstate.events import (
        EVENT_TYPES,
        Event,
        ExecutionStarted,
        FailOutcome,
        HeartbeatRecorded,
        HostActivated,
        HostConnected,
        HostConnectFailed,
        HostDisconnected,
        HostOperationFinished,
        HostsFailed,
        LimitSet,
        OperationAdded,
        OperationAddedForHost,
        OpOutcome,
        RecordedCommand,
        RunFinished,
        RunStarted,
        RunStatus,
        StageChanged,
        StateStage,
        WarningRaised,
        command_events,
        with_command_events,
        with_host_events,
    )
    from eventstate.host import (
        Host,
    )
    from eventstate.interruption import DeployInterrupted
    from eventstate.inventory import (
        Inventory,
    )
    from eventstate.printing import Printer, PrintFlags
    from eventstate.recorder import (
        EventRecorder,
    )
    from eventstate.state import (
        MAX_PARALLEL,
        BaseStateCallback,
        State,
        new_run_id,
    )
    from eventstate.stores import (
        EventLog,
        MemoryEventLog,
        PostgresEventLog,
        RunSummary,
        SqliteEventLog,
        StoredEvent,
        open_log,
    )
    from eventstate.version import (
        __version__,
    )
