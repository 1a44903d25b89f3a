"""eventstate: an event-sourced deploy-state engine.

pyinfra's ``State`` -- stages, hosts, operations, results -- where every
change is an immutable event in a hash-chained log and every view is a fold
of projections over it.
"""

# The vocabulary first: projections import it while this package initialises.
from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.codec import EventCodec, make_converter
from eventstate.config import Config
from eventstate.errors import (
    CallbackHandlerError,
    CodecError,
    DeployError,
    EventstateError,
    FailPercentExceededError,
    IntegrityError,
    InventoryError,
    NoGroupError,
    NoHostError,
    NoHostsRemainingError,
    OperationOrderCycleError,
    OperationValueError,
    ReadOnlyViewError,
    SchemaVersionError,
    SequenceError,
    StageError,
    StateNotInitialisedError,
    StoreError,
    UnknownEventTypeError,
)
from eventstate.events import (
    EVENT_TYPES,
    Event,
    ExecutionStarted,
    FailOutcome,
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
    RunFinished,
    RunStarted,
    RunStatus,
    StageChanged,
    StateStage,
    WarningRaised,
)
from eventstate.host import Host
from eventstate.inventory import Inventory
from eventstate.recorder import EventRecorder
from eventstate.state import MAX_PARALLEL, BaseStateCallback, State, new_run_id
from eventstate.stores import EventLog, MemoryEventLog, RunSummary, SqliteEventLog, StoredEvent
from eventstate.version import __version__

__all__ = [
    "EVENT_TYPES",
    "GENESIS_HASH",
    "MAX_PARALLEL",
    "BaseStateCallback",
    "CallbackHandlerError",
    "CodecError",
    "Config",
    "DeployError",
    "Event",
    "EventCodec",
    "EventLog",
    "EventRecorder",
    "EventstateError",
    "ExecutionStarted",
    "FailOutcome",
    "FailPercentExceededError",
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
    "NoGroupError",
    "NoHostError",
    "NoHostsRemainingError",
    "OpOutcome",
    "OperationAdded",
    "OperationAddedForHost",
    "OperationOrderCycleError",
    "OperationValueError",
    "ReadOnlyViewError",
    "RunFinished",
    "RunStarted",
    "RunStatus",
    "RunSummary",
    "SchemaVersionError",
    "SequenceError",
    "SqliteEventLog",
    "StageChanged",
    "StageError",
    "State",
    "StateNotInitialisedError",
    "StateStage",
    "StoreError",
    "StoredEvent",
    "UnknownEventTypeError",
    "WarningRaised",
    "__version__",
    "chain_hash",
    "make_converter",
    "new_run_id",
]
