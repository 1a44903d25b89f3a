"""The State of a deploy: pyinfra's ``State``, event-sourced.

Every change -- a stage, a host activated or failed, an operation added, an
operation's result -- is recorded as an event in the run's log and then
applied to the projections; the State's views (``meta``, ``results``,
``active_hosts``...) are read-only windows on those projections. Behaviour
that pyinfra defines follows pyinfra 3.10; where we differ on purpose, the
README's "Differences from pyinfra" says so.
"""

from __future__ import annotations

import getpass
import logging
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from multiprocessing import cpu_count
from types import TracebackType
from typing import Any, TypeVar

import attrs
from gevent.pool import Pool

from eventstate.arguments import resolve_global_arguments
from eventstate.config import Config
from eventstate.connections import HostConnections
from eventstate.errors import (
    CallbackHandlerError,
    FactNotCollected,
    FailPercentExceededError,
    InventoryError,
    NoHostsRemainingError,
    OperationValueError,
    StageError,
    StateAlreadyInitialisedError,
    StateNotInitialisedError,
    UnknownOperationError,
)
from eventstate.events import (
    CommandExecuted,
    Event,
    ExecutionStarted,
    FailOutcome,
    HostActivated,
    HostOperationFinished,
    HostsFailed,
    LimitSet,
    OperationAdded,
    OpOutcome,
    RecordedCommand,
    RunFinished,
    RunStarted,
    RunStatus,
    StageChanged,
    StateStage,
    WarningRaised,
)
from eventstate.facts.base import Fact, fact_not_collected, gather_fact
from eventstate.host import Host
from eventstate.host_views import HostList, HostMapping, HostSet
from eventstate.inventory import Inventory
from eventstate.printing import Printer, PrintFlags
from eventstate.projections import HostMeta, HostResults, OperationMeta, StageWarnings, StateView
from eventstate.projections.overview import OverviewFold
from eventstate.projections.views import ReadOnlyDict, refuse
from eventstate.recorder import EventRecorder, head_fields
from eventstate.redaction import redact_command_line
from eventstate.snapshot_writer import SnapshotWriter
from eventstate.stores.base import EventLog
from eventstate.stores.memory import MemoryEventLog
from eventstate.version import __version__

__all__ = ["MAX_PARALLEL", "BaseStateCallback", "State", "StateStage", "new_run_id"]

logger = logging.getLogger("eventstate")

_utc = timezone.utc


def _now() -> datetime:
    return datetime.now(_utc)


E = TypeVar("E", bound=Event)

# As pyinfra: about three open files per host while operations run, ten for Python.
try:
    from resource import RLIMIT_NOFILE, getrlimit

    NOFILE_LIMIT, _ = getrlimit(RLIMIT_NOFILE)
    MAX_PARALLEL = round((NOFILE_LIMIT - 10) / 3)
except ImportError:  # pragma: no cover - Windows has no resource module
    NOFILE_LIMIT = 0
    MAX_PARALLEL = 100000


class BaseStateCallback:
    """Subclass and override to hear of a deploy's progress (pyinfra's callbacks).

    Handlers are called in the order added, as ``handler.method(state, *args)``.
    """

    @staticmethod
    def host_before_connect(state: State, host: Host) -> None:
        """A connection to ``host`` is about to be made."""

    @staticmethod
    def host_connect(state: State, host: Host) -> None:
        """``host`` connected."""

    @staticmethod
    def host_connect_error(state: State, host: Host, error: Any) -> None:
        """``host`` could not connect."""

    @staticmethod
    def host_disconnect(state: State, host: Host) -> None:
        """``host`` was disconnected."""

    @staticmethod
    def operation_start(state: State, op_hash: str) -> None:
        """An operation starts executing across the hosts."""

    @staticmethod
    def operation_host_start(state: State, host: Host, op_hash: str) -> None:
        """An operation starts on one host."""

    @staticmethod
    def operation_host_success(
        state: State, host: Host, op_hash: str, retry_count: int = 0
    ) -> None:
        """An operation succeeded on one host."""

    @staticmethod
    def operation_host_error(
        state: State, host: Host, op_hash: str, retry_count: int = 0, max_retries: int = 0
    ) -> None:
        """An operation failed on one host (ignored errors included)."""

    @staticmethod
    def operation_host_retry(
        state: State, host: Host, op_hash: str, retry_num: int, max_retries: int
    ) -> None:
        """An operation is retried on one host."""

    @staticmethod
    def operation_end(state: State, op_hash: str) -> None:
        """An operation finished across the hosts."""

    @staticmethod
    def stage_changed(state: State, stage: StateStage, previous: StateStage) -> None:
        """The deploy moved from ``previous`` to ``stage`` (eventstate's; not pyinfra's)."""


def new_run_id() -> str:
    """A new run id: 32 random hex digits.

    Random from the first digit, so that a few leading digits -- the short
    form listings show -- name one run.
    """
    return uuid.uuid4().hex


def _printable(arg: str) -> str:
    # Arguments that were not valid UTF-8 arrive as lone surrogates, which no
    # UTF-8 log can store: keep them visible as replacement characters.
    return arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _fact_key(options: Any) -> tuple[Any, ...]:
    # What makes the same fact command give another answer: who runs it, and where.
    return (
        options.sudo,
        options.sudo_user,
        options.su_user,
        options.doas,
        options.doas_user,
        options.shell_executable,
        options.chdir,
        tuple(sorted(options.env.items())),
    )


def _print_flag(name: str) -> Any:
    """One of pyinfra's print flags: kept in ``state.print_flags``; setting it makes or
    drops the State's printer (nothing prints, and nothing is checked, with all off)."""

    def get(self: State) -> bool:
        return bool(getattr(self.print_flags, name))

    def set(self: State, value: bool) -> None:
        setattr(self.print_flags, name, bool(value))  # the flags tell the State

    return property(get, set, doc=f"pyinfra's ``{name}`` (see :mod:`eventstate.printing`).")


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (some containers)
        return "unknown"


class State:
    """Manages the state of one deploy, recording every change as an event.

    Args:
        inventory: The hosts; when given (and not empty) ``init`` is called.
        config: The settings; a default :class:`Config` if None.
        check_for_changes: Whether preparing operations detects changes.
        **kwargs: Passed to :meth:`init` (``initial_limit``, ``log``, ``run_id``,
            ``connections``).

    Example:
        >>> state = State(Inventory((["web1", "web2"], {})), Config(PARALLEL=10))
        >>> state.activate_host(state.inventory.get_host("web1"))
        >>> [host.name for host in state.active_hosts]
        ['web1']
    """

    initialised: bool = False

    #: The deploy file being prepared, and its number: op orders come from its lines.
    deploy_filename: str | None = None
    #: The directory of the deploy file the run ran, for paths relative to it; kept for
    #: execution, when an op's body runs again (``files.get``'s local ``dest``).
    deploy_directory: str | None = None
    deploy_file_number: int = 0
    #: The files whose lines order ops: the deploy file and those it ``local.include``\ s
    #: (set per run by ``run_deploy_file``); and the includes running now, innermost last.
    deploy_files: frozenset[str] | set[str] = frozenset()
    deploy_including: tuple[str, ...] | list[str] = ()

    @property
    def current_deploy_filename(self) -> str | None:
        """The deploy file being prepared, by pyinfra's name (``deploy_filename``)."""
        return self.deploy_filename

    @current_deploy_filename.setter
    def current_deploy_filename(self, filename: str | None) -> None:
        self.deploy_filename = filename

    # Print settings, as pyinfra's: they change output, never the log (eventstate.printing).
    print_noop_info = _print_flag("print_noop_info")
    print_fact_info = _print_flag("print_fact_info")
    print_input = _print_flag("print_input")
    print_fact_input = _print_flag("print_fact_input")
    print_output = _print_flag("print_output")
    print_fact_output = _print_flag("print_fact_output")

    @property
    def printer(self) -> Printer | None:
        """What prints commands, output and facts as the engine runs; None when nothing does.

        Made when a print flag is set, dropped when none is. One assigned here (a
        :class:`~eventstate.printing.Printer` subclass, another writer) stays,
        whatever the flags; assign None to go back to the flags' own.
        """
        return self._printer

    @printer.setter
    def printer(self, printer: Printer | None) -> None:
        self._printer_assigned = printer is not None
        self._printer = printer if printer is not None else self._flags_printer()

    _printer: Printer | None

    def _flags_printer(self) -> Printer | None:
        return Printer(self.print_flags) if self.print_flags.any() else None

    def _print_flags_changed(self) -> None:
        # A flag was set (a property here, or state.print_flags itself): the flags' own
        # printer follows them; an assigned one stays.
        if not self._printer_assigned:
            self._printer = self._flags_printer()

    def __init__(
        self,
        inventory: Inventory | None = None,
        config: Config | None = None,
        check_for_changes: bool = True,
        **kwargs: Any,
    ) -> None:
        self.check_for_changes = check_for_changes
        self.callback_handlers: list[BaseStateCallback] = []
        #: The print flags' values (``print_output``... read and set them).
        self._printer_assigned = False
        self.print_flags = PrintFlags()
        self._printer = self._flags_printer()
        self.print_flags.on_change = self._print_flags_changed
        #: Called by ``fail_hosts`` before raising over FAIL_PERCENT; False suppresses it.
        self.should_raise_failed_hosts: Any = None
        #: The projections every view reads; fed only by the recorder.
        self.view = StateView()
        self._recorder: EventRecorder | None = None
        #: Each host's ops executing now, innermost last: [op hash, its commands so far
        #: as (end, fields), or None once they went to the log as CommandExecuted events].
        self._executing: dict[str, list[list[Any]]] = {}
        #: The hosts an op is being added for, not yet in the log: (op hash, op order,
        #: hosts, their change flags, whether each counts, the op's meta, and the seq and
        #: time the views' events for each host carry).
        self._pending_hosts: (
            tuple[str, tuple[int, ...], list[str], list[Any], list[bool], Any, int, datetime] | None
        )
        self._pending_hosts = None
        if inventory:
            self.init(inventory, config, **kwargs)

    # Set-up

    def init(
        self,
        inventory: Inventory,
        config: Config | None = None,
        initial_limit: Iterable[Host | str] | None = None,
        *,
        log: EventLog | None = None,
        run_id: str | None = None,
        connections: HostConnections | None = None,
    ) -> None:
        """Attach the inventory and config, and start the run in ``log``.

        Args:
            inventory: The hosts of the deploy.
            config: The settings; a default :class:`Config` if None. The State
                keeps its own copy (``state.config``); with ``PARALLEL`` 0 the copy's
                is ``min(cpus * 20, hosts, MAX_PARALLEL)``.
            initial_limit: Hosts (or names) to limit the deploy to.
            log: Where events go; an in-memory log if None.
            run_id: The run's id; a new one if None.
            connections: How to reach the hosts; made from the inventory if None.

        Raises:
            ConnectorNotFoundError: a host names a connector that is not installed.
        """
        if self.initialised:
            raise StateAlreadyInitialisedError(
                "this State is already initialised: use one State per deploy"
            )
        if not isinstance(inventory, Inventory):
            raise InventoryError(f"State needs an Inventory, not {type(inventory).__name__}")
        # The run's own copy, always: the caller's config is never changed (PARALLEL
        # resolved below), and changing it later does not change a running deploy.
        config = Config() if config is None else config.copy()
        if not config.PARALLEL:
            # About 20 connections per core, as pyinfra (which has not benchmarked it either).
            config.PARALLEL = min(cpu_count() * 20, len(inventory), MAX_PARALLEL)
        elif config.PARALLEL > MAX_PARALLEL:
            logger.warning(
                "Parallel set to %s, but this may hit the open files limit of %s.\n"
                "    Max recommended value: %s",
                config.PARALLEL,
                NOFILE_LIMIT,
                MAX_PARALLEL,
            )

        self.pool = Pool(config.PARALLEL)
        self.fact_pool = Pool(config.PARALLEL)
        self.inventory = inventory
        self.config = config
        #: Each host's connector, made on first use; unknown ``@connector`` names fail here.
        self.connections = connections or HostConnections(
            inventory, connect_timeout=config.CONNECT_TIMEOUT
        )
        #: Facts gathered during the run, by host, fact, arguments and sudo.
        self.facts: dict[tuple[Any, ...], Any] = {}
        #: Each host's runtime op data (command generators): code, so never in the log.
        self.ops: dict[Host, dict[str, Any]] = {host: {} for host in inventory}
        #: Global arguments shared by the ops that resolve to equal ones (most do).
        self.interned_arguments: dict[Any, Any] = {}
        #: Each operation's last call (argument identities, args, kwargs), to share them.
        self.last_calls: dict[Any, Any] = {}

        self.log = log if log is not None else MemoryEventLog()
        self.run_id = run_id or new_run_id()
        #: The run's overview (what ``show`` prints), folded beside the views as events come.
        self.overview = OverviewFold(self.view)
        # Snapshots of the views as the run goes, its overview at its end: for readers.
        self._snapshot_writer = SnapshotWriter(
            self.log, self.run_id, self.overview, lambda: self._pending_hosts is None
        )
        self._recorder = EventRecorder(
            self.log,
            self.run_id,
            self.view.apply,
            max_delay=config.FLUSH_DELAY,
            sync=config.SYNC,
            flushed=self._snapshot_writer.flushed,
        )

        self._op_added_handlers = self.view.handlers(OperationAdded)
        for host in inventory:
            # Data, not a pointer back: the host's op order, read-only and live.
            host.op_hash_order = self.view.op_hash_order(host.name)

        self._host_sets = (
            HostSet(self.view.activated_hosts, inventory),
            HostSet(self.view.active_hosts, inventory),
            HostSet(self.view.failed_hosts, inventory),
        )
        self._meta = HostMapping(self.view.meta, inventory)
        self._results = HostMapping(self.view.results, inventory)

        self._recorder.record(
            RunStarted,
            user=_current_user(),
            machine=socket.gethostname(),
            command_line=redact_command_line([_printable(arg) for arg in sys.argv]),
            engine_version=__version__,
            hosts=inventory.host_names(),
            groups={name: tuple(h.name for h in hosts) for name, hosts in inventory.groups.items()},
            config=config.snapshot(),
            **head_fields(self.log),  # chains the run to the log's runs before it
        )
        if initial_limit is not None:
            self._record_limit(initial_limit)
        self.initialised = True
        self._recorder.flush()
        # The hot path: no wrapper between the engine and the recorder.
        self.record = self._recorder.record  # type: ignore[method-assign]

    def record(self, event_class: type[E], **fields: Any) -> E:
        """Append one event of ``event_class`` to the run and apply it to the views.

        The engine's one write path (connectors, execution and facts use it);
        the envelope -- run id, sequence number, time -- is filled in here.
        """
        self._require_init()  # once initialised, the recorder's own method stands here
        return self._recorder.record(event_class, **fields)  # type: ignore[union-attr]

    def record_command(
        self, host: str, op_hash: str | None, fact: str | None, fields: dict[str, Any]
    ) -> CommandExecuted | None:
        """Record a command that ran on ``host`` (``fields``: a :class:`RecordedCommand`'s).

        While an op executes, its commands -- and the facts gathered on the host
        meanwhile -- are kept for its ``HostOperationFinished`` (None is returned);
        any other command is a ``CommandExecuted`` event, returned. A nested op (one a
        Python step adds) keeps the log in the order things ran: the commands its parent
        ran before it are recorded as events then, and so are the parent's later ones.
        """
        stack = self._executing.get(host)
        if op_hash is not None and self.view.is_executing:
            if stack is None:
                stack = self._executing[host] = []
            if not stack or stack[-1][0] != op_hash:
                if stack:
                    self._record_commands_of(host, stack[-1])
                stack.append([op_hash, []])
            kept = stack[-1][1]
            if kept is not None:
                kept.append((time.perf_counter(), fields))
                return None
        elif op_hash is None and stack:
            kept = stack[-1][1]
            if kept is not None:
                kept.append((time.perf_counter(), {**fields, "fact": fact}))
                return None
            op_hash = None  # a fact, recorded as one
        return self.record(CommandExecuted, host=host, op_hash=op_hash, fact=fact, **fields)

    def _record_commands_of(self, host: str, executing: list[Any]) -> None:
        # The commands kept so far for an executing op, as CommandExecuted events.
        kept, executing[1] = executing[1], None
        for _, fields in kept or ():
            fact = fields.get("fact")
            recorded = {key: value for key, value in fields.items() if key != "fact"}
            self.record(
                CommandExecuted,
                host=host,
                op_hash=None if fact else executing[0],
                fact=fact,
                **recorded,
            )

    def record_unfinished_commands(self) -> None:
        """Record, as ``CommandExecuted`` events, the commands of ops that will never
        finish: the run ends with them midway (a body raised, a signal came)."""
        executing, self._executing = self._executing, {}
        for host, stack in executing.items():
            for entry in stack:
                self._record_commands_of(host, entry)

    def get_fact(
        self, host: Host, fact_class: type[Fact], *args: Any, sudo: bool = False, **kwargs: Any
    ) -> Any:
        """The value of ``fact_class(*args, **kwargs)`` on ``host``, gathered once per run.

        As :meth:`collect_fact`; a fact not collected (its ``requires_command``
        absent, its preconditions unmet) reads as pyinfra 3.10 reads it: its
        default before the Execute stage (see :func:`~eventstate.facts.base.fact_not_collected`).

        Raises:
            FactPreconditionError: a precondition failed at the Execute stage.
            NoHostsRemainingError: the failure left no host (FAIL_PERCENT likewise).
        """
        try:
            return self.collect_fact(host, fact_class, *args, sudo=sudo, **kwargs)
        except FactNotCollected as error:
            return fact_not_collected(self.current_stage, host, fact_class, error)

    def collect_fact(
        self, host: Host, fact_class: type[Fact], *args: Any, sudo: bool = False, **kwargs: Any
    ) -> Any:
        """The value of ``fact_class(*args, **kwargs)`` on ``host``, gathered once per run.

        As pyinfra 3.10: inside an operation the fact's command runs with that
        op's connector arguments (``_sudo``, ``_sudo_user``, ``_su_user``,
        ``_env``, ``_timeout``, ``_shell_executable``...); outside one, with the
        host data's (``_sudo`` in host data applies). A fact whose command fails
        fails the host, unless the op ignores errors -- the deploy never plans
        on a made-up value; the fact's default is returned for the rest of the
        host's deploy code.

        Global arguments among ``kwargs`` (``get_fact(File, path=..., _sudo=True)``)
        are taken out, as pyinfra takes them, and the fact runs with them over the
        host data's. Outside an op, a dict assigned to ``host.current_op_global_arguments``
        applies under them. A failed fact is not kept: the next asker runs it again.

        Raises:
            FactNotCollected: the host lacks the fact's ``requires_command``
                (:class:`MissingCommandError`), or its preconditions do not hold.
            NoHostsRemainingError: the failure left no host (FAIL_PERCENT likewise).
        """
        given = {key: kwargs.pop(key) for key in list(kwargs) if key.startswith("_")}
        arguments = host.current_op_arguments
        if arguments is None and host.assigned_op_global_arguments:
            # pyinfra's host.current_op_global_arguments, assigned outside an op.
            given = {**host.assigned_op_global_arguments, **given}
        if given or arguments is None:
            arguments = resolve_global_arguments(
                given, self.config, host.argument_data(), self.interned_arguments
            )
        options = arguments.options
        if sudo and not options.sudo:
            options = attrs.evolve(options, sudo=True)
        key = (host.name, fact_class, repr(args), repr(sorted(kwargs.items())), _fact_key(options))
        if key in self.facts:
            return self.facts[key]
        ok, value = gather_fact(self, host, fact_class, args, kwargs, options)
        if ok:
            self.facts[key] = value
        elif not arguments.ignore_errors:
            self.fail_hosts([host])
        return value

    def _host_name(self, host: Host | str) -> str:
        # The engine's own calls, once per host-op: one of this inventory's hosts.
        if (
            self._recorder is not None
            and type(host) is Host
            and self.inventory.hosts.get(host.name) is host
        ):
            return host.name
        self._require_init()
        if isinstance(host, Host):
            if self.inventory.hosts.get(host.name) is not host:
                raise InventoryError(f"host {host.name} is not in this State's inventory")
            return host.name
        if isinstance(host, str) and host in self.inventory.hosts:
            return host
        raise InventoryError(f"{host!r} is not a host of this State's inventory")

    def _require_init(self) -> None:
        # The recorder, not `initialised`: init itself records and names the limit's hosts.
        if self._recorder is None:
            raise StateNotInitialisedError("the State has no inventory yet: call State.init first")

    # Stages and counters

    @property
    def current_stage(self) -> StateStage:
        """The stage the deploy is in (Setup until ``set_stage`` moves it)."""
        return self.view.current_stage

    @current_stage.setter
    def current_stage(self, value: StateStage | int) -> None:
        # pyinfra's API scripts assign the stage; here that is set_stage: recorded, and
        # never backwards.
        self.set_stage(value)

    def set_stage(self, stage: StateStage | int) -> None:
        """Move the deploy to ``stage``; the same stage is allowed, an earlier one is not.

        Raises:
            StageError: ``stage`` is before the current one.
        """
        stage = StateStage(stage)
        current = self.view.current_stage
        if stage < current:
            raise StageError("State stage cannot go backwards!")
        if stage != current:
            self.record(StageChanged, stage=stage, previous=current)
            self.flush()
            self.trigger_callbacks("stage_changed", stage, current)

    @property
    def stage_warnings(self) -> StageWarnings:
        """Warnings counted per stage, for this run only; a stage without warnings reads 0."""
        return self.view.stage_warnings

    @stage_warnings.setter
    def stage_warnings(self, value: Any) -> None:
        refuse("State.stage_warnings (use State.increment_warning_counter)")

    def increment_warning_counter(self) -> None:
        """Count a warning in the current stage."""
        self.record(WarningRaised, stage=self.view.current_stage)

    def get_warning_counter(self) -> int:
        """The warnings counted in the current stage."""
        return self.view.warnings.count(self.view.current_stage)

    def should_check_for_changes(self) -> bool:
        """Whether preparing operations should detect changes."""
        return self.check_for_changes

    @property
    def is_executing(self) -> bool:
        """Whether operations have started executing; once on, it stays on."""
        return self.view.is_executing

    @is_executing.setter
    def is_executing(self, value: bool) -> None:
        if value and not self.view.is_executing:
            self.record(ExecutionStarted)
        elif not value and self.view.is_executing:
            refuse("State.is_executing (execution cannot be un-started)")

    # Callbacks

    def add_callback_handler(self, handler: BaseStateCallback) -> None:
        """Add ``handler``, called after those added before it.

        Raises:
            CallbackHandlerError: ``handler`` is not a :class:`BaseStateCallback`.
        """
        if not isinstance(handler, BaseStateCallback):
            raise CallbackHandlerError(
                f"{handler} is not a valid callback handler (use `BaseStateCallback`)"
            )
        self.callback_handlers.append(handler)

    def trigger_callbacks(self, method_name: str, *args: Any, **kwargs: Any) -> None:
        """Call ``method_name(self, *args, **kwargs)`` on every handler, in order."""
        for handler in self.callback_handlers:
            getattr(handler, method_name)(self, *args, **kwargs)

    # Operations

    @property
    def op_meta(self) -> ReadOnlyDict[str, OperationMeta]:
        """Each operation's shared meta, by op hash."""
        return self.view.op_meta

    @op_meta.setter
    def op_meta(self, value: Any) -> None:
        refuse("State.op_meta (use State.add_op_meta)")

    def get_op_order(self) -> list[str]:
        """Every op hash in execution order (pyinfra 3.10's DAG order).

        Raises:
            OperationOrderCycleError: the hosts' op orders contradict each other.
        """
        return self.view.get_op_order()

    def get_op_meta(self, op_hash: str) -> OperationMeta:
        """The shared meta of one operation."""
        return self.view.op_meta[op_hash]

    def get_op_data_for_host(self, host: Host, op_hash: str) -> Any:
        """The runtime data (command generator, arguments) of one op on one host."""
        return self.ops[host][op_hash]

    def set_op_data_for_host(self, host: Host, op_hash: str, op_data: Any) -> None:
        """Keep the runtime data of one op on one host (not an event: it is code)."""
        self.ops[host][op_hash] = op_data

    def add_op_meta(
        self,
        op_hash: str,
        op_order: Iterable[int],
        names: Iterable[str] = (),
        args: Iterable[str] = (),
        global_arguments: Mapping[str, Any] | None = None,
    ) -> OperationMeta:
        """Add an operation, or merge names and arguments into it, as pyinfra's
        ``ensure_shared_op_meta``: the first call fixes ``op_order``.

        Nothing is recorded when nothing would change.

        Raises:
            OperationValueError: a global argument differs from the one recorded.
        """
        self._require_init()
        global_arguments = dict(global_arguments or {})
        names = tuple(names)
        args = tuple(str(arg) for arg in args)
        existing = self.view.op_meta.get(op_hash)
        if existing is not None:
            for key, value in global_arguments.items():
                if key in existing.global_arguments and existing.global_arguments[key] != value:
                    raise OperationValueError(f"Cannot have different values for `{key}`.")
            new_names = tuple(name for name in names if name not in existing.names)
            new_args = tuple(dict.fromkeys(arg for arg in args if arg not in existing.args))
            new_globals = {
                key: value
                for key, value in global_arguments.items()
                if key not in existing.global_arguments
            }
            if not (new_names or new_args or new_globals):
                return existing
            names, args, global_arguments = new_names, new_args, new_globals
            op_order = existing.op_order
        self.record(
            OperationAdded,
            op_hash=op_hash,
            names=names,
            args=args,
            op_order=tuple(op_order),
            global_arguments=global_arguments,
        )
        return self.view.op_meta[op_hash]

    def add_op_to_host(
        self, host: Host, op_hash: str, is_change: bool | None, *, counted: bool = True
    ) -> None:
        """Put ``op_hash`` next in ``host``'s op order and count it in its meta.

        Args:
            host: The host.
            op_hash: An operation added with :meth:`add_op_meta`.
            is_change: Whether the op is expected to change the host (None: unknown).
            counted: False for a ``_run_once`` duplicate: ordered, not counted.
        """
        name = self._host_name(host)
        # One OperationAdded for the hosts an op is added for one after the other (all of
        # an add_op call's, when their bodies gather no fact): the views take each host at
        # once, the log takes them together, before any other event is recorded.
        pending = self._pending_hosts
        if pending is None or pending[0] != op_hash:
            meta = self.view.op_meta.get(op_hash)
            if meta is None:
                raise UnknownOperationError(
                    f"operation {op_hash} has no meta: call State.add_op_meta first"
                )
            if pending is not None:
                self._record_pending_hosts()
            # The meta (an op's is never dropped), and the envelope of the views' events:
            # nothing is recorded while hosts are pending, so the next seq stays the same.
            pending = self._pending_hosts = (
                op_hash,
                meta.op_order,
                [],
                [],
                [],
                meta,
                self._recorder.last_seq + 1,  # type: ignore[union-attr]
                _now(),
            )
            self.record = self._record_after_pending_hosts  # type: ignore[method-assign]
        else:
            meta = pending[5]
        pending[2].append(name)
        pending[3].append(is_change)
        pending[4].append(counted)
        added = OperationAdded(
            run_id=self.run_id,
            seq=pending[6],
            at=pending[7],
            op_hash=op_hash,
            names=(),
            op_order=pending[1],
            hosts=(name,),
            is_change=(is_change,),
            counted=(counted,),
        )
        for handler in self._op_added_handlers:
            handler(added)
        if is_change is False and counted and self._printer is not None:
            self._printer.noop(name, meta.names)

    def _record_pending_hosts(self) -> None:
        # The hosts the views already took, into the log as one event (applied: counted).
        pending, self._pending_hosts = self._pending_hosts, None
        self.record = self._recorder.record  # type: ignore[method-assign, union-attr]
        if pending is None:
            return
        op_hash, op_order, hosts, is_change, counted = pending[:5]
        self._recorder.record_applied(  # type: ignore[union-attr]
            OperationAdded,
            op_hash=op_hash,
            names=(),
            op_order=op_order,
            hosts=tuple(hosts),
            is_change=tuple(is_change),
            counted=tuple(counted),
        )

    def _record_after_pending_hosts(self, event_class: type[E], **fields: Any) -> E:
        # State.record while hosts are pending: they go to the log first.
        self._record_pending_hosts()
        return self._recorder.record(event_class, **fields)  # type: ignore[union-attr]

    def record_op_result(
        self,
        host: Host,
        op_hash: str,
        outcome: OpOutcome | str,
        *,
        commands_executed: int = 0,
        retry_count: int = 0,
        duration: float = 0.0,
    ) -> None:
        """Record how an op ended on a host; its results follow pyinfra's arithmetic.

        ``duration`` is the seconds the op took on the host, retries included.
        """
        name = self._host_name(host)
        commands: tuple[RecordedCommand, ...] = ()
        stack = self._executing.get(name)
        if stack and stack[-1][0] == op_hash:
            kept = stack.pop()[1]
            if not stack:
                del self._executing[name]
            if kept:
                started = time.perf_counter() - duration
                commands = tuple(
                    [
                        RecordedCommand(end=round(max(end - started, 0.0), 6), **fields)
                        for end, fields in kept
                    ]
                )
        self.record(
            HostOperationFinished,
            host=name,
            op_hash=op_hash,
            outcome=outcome if type(outcome) is OpOutcome else OpOutcome(outcome),
            commands_executed=commands_executed,
            retry_count=retry_count,
            duration=round(duration, 6),
            commands=commands,
        )

    # Per-host views

    @property
    def meta(self) -> HostMapping[HostMeta]:
        """Each host's operation meta, keyed by Host."""
        self._require_init()
        return self._meta

    @meta.setter
    def meta(self, value: Any) -> None:
        refuse("State.meta")

    @property
    def results(self) -> HostMapping[HostResults]:
        """Each host's execution results, keyed by Host."""
        self._require_init()
        return self._results

    @results.setter
    def results(self, value: Any) -> None:
        refuse("State.results")

    def get_meta_for_host(self, host: Host) -> HostMeta:
        """The operation meta of ``host``."""
        return self.meta[host]

    def get_results_for_host(self, host: Host) -> HostResults:
        """The execution results of ``host``."""
        return self.results[host]

    # Hosts

    @property
    def activated_hosts(self) -> HostSet:
        """Every host ever activated."""
        self._require_init()
        return self._host_sets[0]

    @activated_hosts.setter
    def activated_hosts(self, value: Any) -> None:
        refuse("State.activated_hosts (use State.activate_host)")

    @property
    def active_hosts(self) -> HostSet:
        """Activated hosts not failed since."""
        self._require_init()
        return self._host_sets[1]

    @active_hosts.setter
    def active_hosts(self, value: Any) -> None:
        refuse("State.active_hosts (use State.activate_host and State.fail_hosts)")

    @property
    def failed_hosts(self) -> HostSet:
        """Every host that failed."""
        self._require_init()
        return self._host_sets[2]

    @failed_hosts.setter
    def failed_hosts(self, value: Any) -> None:
        refuse("State.failed_hosts (use State.fail_hosts)")

    def activate_host(self, host: Host) -> None:
        """Flag ``host`` active (and activated). A failed host may be activated again."""
        logger.debug("Activating host: %s", host)
        self.record(HostActivated, host=self._host_name(host))

    def fail_hosts(self, hosts_to_fail: Iterable[Host], activated_count: int | None = None) -> None:
        """Flag ``hosts_to_fail`` failed, then apply pyinfra 3.10's rules.

        With no active host left the deploy stops; otherwise, with
        ``config.FAIL_PERCENT`` set, it stops when strictly more than that
        percentage of ``activated_count`` (default: the activated hosts) failed.
        The event records the hosts, the count used and the outcome.

        Raises:
            NoHostsRemainingError: "No hosts remaining!"
            FailPercentExceededError: "Over N% of hosts failed (M%)".
        """
        names = {self._host_name(host) for host in hosts_to_fail}
        if not names:
            return
        order = self.view.run.host_order
        failed = tuple(sorted(names, key=order.__getitem__))
        activated_count = activated_count or len(self.view.activated_hosts)
        logger.debug("Failing hosts: %s", ", ".join(failed))

        active = self.view.active_hosts
        remaining = len(active) - sum(1 for name in names if name in active)
        fail_percent = self.config.FAIL_PERCENT
        percent_failed: float | None = None
        outcome = FailOutcome.CONTINUED
        if not remaining:
            outcome = FailOutcome.NO_HOSTS_REMAINING
        elif fail_percent is not None:
            percent_failed = (1 - remaining / activated_count) * 100
            if percent_failed > fail_percent:
                outcome = FailOutcome.FAIL_PERCENT_EXCEEDED
                if self.should_raise_failed_hosts and self.should_raise_failed_hosts(self) is False:
                    outcome = FailOutcome.FAIL_PERCENT_SUPPRESSED

        self.record(
            HostsFailed,
            hosts=failed,
            activated_count=activated_count,
            outcome=outcome,
            percent_failed=percent_failed,
        )
        if outcome is FailOutcome.NO_HOSTS_REMAINING:
            self.flush()
            raise NoHostsRemainingError("No hosts remaining!")
        if outcome is FailOutcome.FAIL_PERCENT_EXCEEDED:
            self.flush()
            raise FailPercentExceededError(
                f"Over {fail_percent}% of hosts failed ({round(percent_failed or 0)}%)"
            )

    # Limits

    @property
    def limit_hosts(self) -> HostList | None:
        """The hosts the deploy is limited to, or None for every host.

        Set it to hosts (or names), or None; each change is recorded.
        """
        self._require_init()
        names = self.view.limit_hosts
        if names is None:
            return None
        return HostList([self.inventory.hosts[name] for name in names])

    @limit_hosts.setter
    def limit_hosts(self, hosts: Iterable[Host | str] | None) -> None:
        self._record_limit(hosts)

    def _record_limit(self, hosts: Iterable[Host | str] | None) -> None:
        if hosts is None:
            self.record(LimitSet, hosts=None)
            return
        if isinstance(hosts, (str, Host)):
            raise InventoryError("a limit is a list of hosts, not a single host")
        names = {self._host_name(host) for host in hosts}
        order = self.view.run.host_order
        self.record(LimitSet, hosts=tuple(sorted(names, key=order.__getitem__)))

    def is_host_in_limit(self, host: Host) -> bool:
        """Whether ``host`` is within the current limit (every host is, with none)."""
        return self.view.limit.is_host_in_limit(host.name)

    # The log

    def flush(self) -> None:
        """Write every recorded event to the log now."""
        if self._recorder is not None:
            if self._pending_hosts is not None:
                self._record_pending_hosts()
            self._recorder.flush()

    def finish(self, status: RunStatus | str = RunStatus.SUCCESS, error: str | None = None) -> None:
        """Record the end of the run and write everything to the log.

        A run ends once: when it has already ended (``run_ops`` records an
        abort itself), this only writes what is pending.
        """
        if self.view.run.status is None:
            self.record_unfinished_commands()
            self.record(RunFinished, status=RunStatus(status), error=error)
        self.flush()

    def __enter__(self) -> State:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Finish the run: success, or aborted with the error that ended it."""
        if self._recorder is None or self.view.run.status is not None:
            return
        if exc is None:
            self.finish(RunStatus.SUCCESS)
        else:
            self.finish(RunStatus.ABORTED, error=f"{type(exc).__name__}: {exc}")
