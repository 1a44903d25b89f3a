"""The objects pyinfra's code sees as its host, state and config: ours, adapted.

pyinfra's operations read ``pyinfra.context.host`` / ``state`` / ``config``
(``host.get_fact``, ``host.noop``, ``host.data``, ``state.cwd``,
``state.config.DIFF``...). While a bridged operation's body runs, while one of
its Python steps runs (:class:`PythonSteps`), and while a deploy file runs under
:func:`~eventstate.pyinfra_bridge.activation.bridge_pyinfra_imports`, those
context proxies point at these adapters, over eventstate's own
:class:`~eventstate.host.Host` and :class:`~eventstate.state.State`. Adapters
hold no deploy state of their own but the last noop description: everything
else is read from the host and the State (an op's noops go on its host op).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import sys
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from pyinfra.api.config import Config as PyinfraConfig
from pyinfra.context import ctx_config, ctx_host, ctx_inventory, ctx_state

from eventstate.arguments import resolve_global_arguments
from eventstate.command_runner import run_command
from eventstate.commands import Command, FunctionCommand
from eventstate.context import current
from eventstate.errors import ConfigError, NoDeployContextError
from eventstate.host import Host
from eventstate.pyinfra_bridge.command_translation import translate_command
from eventstate.pyinfra_bridge.fact_adapter import get_pyinfra_fact
from eventstate.state import State

__all__ = [
    "BridgeSession",
    "ConfigAdapter",
    "HostAdapter",
    "PythonSteps",
    "StateAdapter",
    "pointed_at",
    "pointed_at_current",
    "session_for",
    "use_session",
]

logger = logging.getLogger("eventstate")

# pyinfra's defaults, for the settings eventstate's Config does not have.
_PYINFRA_DEFAULTS = PyinfraConfig()


class ConfigAdapter:
    """pyinfra's ``config``: eventstate's Config, with pyinfra's defaults for the rest.

    A setting eventstate's Config does not know is kept here, for the run.
    """

    def __init__(self, config: Any) -> None:
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_extra", {})

    def __getattr__(self, name: str) -> Any:
        if name in self._extra:
            return self._extra[name]
        try:
            return getattr(self._config, name)
        except AttributeError:
            return getattr(_PYINFRA_DEFAULTS, name)

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            setattr(self._config, name, value)
        except (ConfigError, AttributeError):
            self._extra[name] = value

    def copy(self) -> ConfigAdapter:
        """The adapter itself: pyinfra copies its config per greenlet; ours is the run's."""
        return self


class StateAdapter:
    """pyinfra's ``state``: eventstate's State, with pyinfra's names for what ops read."""

    def __init__(self, state: State, session: BridgeSession) -> None:
        self._state = state
        self._session = session
        self.config = ConfigAdapter(state.config)

    @property
    def cwd(self) -> str:
        """Where local paths are relative to: the deploy file's directory (pyinfra's ``cwd``)."""
        return self._state.deploy_directory or os.getcwd()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)


class HostAdapter:
    """pyinfra's ``host``: eventstate's Host and the State it runs in.

    Facts go through the State (:func:`get_pyinfra_fact`); ``noop`` keeps the
    description (``noop_description``) and logs it as pyinfra does.
    """

    #: The last noop an operation declared on this host (pyinfra's test harness reads it).
    noop_description: str | None = None
    in_callback_op = False

    def __init__(self, state: State, host: Host, session: BridgeSession) -> None:
        self._state = state
        self._host = host
        self._session = session

    @property
    def state(self) -> Any:
        """The State, as pyinfra's code sees it."""
        return self._session.state_adapter(self._state)

    @property
    def name(self) -> str:
        """The host's name."""
        return self._host.name

    @property
    def data(self) -> Any:
        """The host's data (eventstate's HostData reads as pyinfra's)."""
        return self._host.data

    @property
    def groups(self) -> list[str]:
        """The host's groups."""
        return self._host.groups

    @property
    def connected(self) -> bool:
        """Whether the host's connector is connected."""
        return self._host.connected

    @property
    def in_op(self) -> bool:
        """True while an operation's body runs."""
        return self._host.in_op

    @property
    def current_op_global_arguments(self) -> dict[str, Any] | None:
        """The running operation's global arguments by pyinfra's keywords, or None."""
        arguments = self._host.current_op_arguments
        return None if arguments is None else dict(arguments.by_keyword())

    @property
    def current_deploy_name(self) -> str | None:
        """The running ``@deploy``'s name."""
        return self._host.current_deploy_name

    @property
    def current_deploy_kwargs(self) -> dict[str, Any] | None:
        """The running ``@deploy``'s global arguments."""
        return self._host.current_deploy_kwargs

    @property
    def current_deploy_data(self) -> dict[str, Any] | None:
        """The running ``@deploy``'s data defaults."""
        return self._host.current_deploy_data

    def get_deploy_data(self) -> dict[str, Any]:
        """The running ``@deploy``'s data defaults, or none."""
        return self._host.current_deploy_data or {}

    @property
    def print_prefix(self) -> str:
        """How pyinfra prefixes the host's lines."""
        return f"[{self._host.name}] "

    def log(self, message: str, log_func: Callable[[str], Any] = logger.info) -> None:
        """Log ``message`` for this host."""
        log_func(f"{self.print_prefix}{message}")

    def log_styled(
        self, message: str, log_func: Callable[[str], Any] = logger.info, **_: Any
    ) -> None:
        """Log ``message`` for this host (unstyled: the log is text)."""
        self.log(message, log_func=log_func)

    def noop(self, description: str) -> None:
        """The operation has nothing to do: ``description`` says why.

        Kept as ``noop_description``; while the op executes, also on its host op
        (:attr:`~eventstate.host_op.HostOpData.noops`, once per description: a
        retry runs the body again).
        """
        self.noop_description = description
        op_hash = self._host.current_op_hash
        if op_hash is not None and self._state.is_executing:
            data = self._state.ops[self._host].get(op_hash)
            if data is not None and description not in data.noops:
                data.noops.append(description)
        handler = logger.info if self._state.print_noop_info else logger.debug
        handler(f"{self.print_prefix}noop: {description}")

    def run_shell_command(
        self, command: Any, print_output: bool = False, print_input: bool = False, **arguments: Any
    ) -> tuple[bool, Any]:
        """Run ``command`` on the host now: pyinfra's low-level call, for Python steps.

        Recorded as any command (for the op it runs in, if any), with the global
        arguments given (``_sudo=True``...) over the op's, or the host data's.
        Returns pyinfra's ``(success, CommandOutput)``.
        """
        from pyinfra.connectors.util import CommandOutput, OutputLine

        translated = translate_command(command, "host.run_shell_command")
        arguments = {key: value for key, value in arguments.items() if value is not None}
        global_arguments = self._host.current_op_arguments
        if arguments or global_arguments is None:
            given = {**(self._host.current_op_global_arguments or {}), **arguments}
            global_arguments = resolve_global_arguments(
                given, self._state.config, self._host.argument_data()
            )
        if print_input:
            self.log(f">>> {translated.masked()}")
        result = run_command(
            self._state,
            self._host,
            translated,
            global_arguments.options,
            op_hash=self._host.current_op_hash,
        )
        lines = [OutputLine("stdout", line) for line in result.stdout.splitlines()]
        lines += [OutputLine("stderr", line) for line in result.stderr.splitlines()]
        if print_output:
            for line in lines:
                self.log(line.line)
        return result.success, CommandOutput(lines)

    def get_fact(self, fact_class: Any, *args: Any, **kwargs: Any) -> Any:
        """The pyinfra fact on this host, gathered by eventstate (recorded, cached per host)."""
        return get_pyinfra_fact(self._state, self._host, fact_class, args, kwargs)

    def _temp_directory(self) -> str:
        config = self.state.config
        if config.TEMP_DIR:
            return str(config.TEMP_DIR)
        from pyinfra.facts.server import TmpDir

        return self.get_fact(TmpDir) or config.DEFAULT_TEMP_DIR

    def get_temp_dir_config(self) -> str:
        """The configured remote temporary directory (pyinfra's)."""
        config = self.state.config
        return str(config.TEMP_DIR or config.DEFAULT_TEMP_DIR)

    def get_temp_filename(
        self,
        hash_key: str | None = None,
        hash_filename: bool = True,
        *,
        temp_directory: str | None = None,
    ) -> str:
        """A temporary file's name on the host, as pyinfra makes it."""
        directory = temp_directory or self._temp_directory()
        key = hash_key or str(uuid.uuid4())
        if hash_filename:
            key = hashlib.sha1(key.encode()).hexdigest()
        return f"{directory}/pyinfra-{key}"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)

    def __str__(self) -> str:
        return self._host.name

    def __repr__(self) -> str:
        return f"HostAdapter({self._host.name})"


class BridgeSession:
    """The adapters of one State: one per host, made on first use.

    Args:
        host_adapter: The class (or factory) of the host adapters.
        state_adapter: The class of the state adapter.
    """

    def __init__(
        self,
        host_adapter: Callable[[State, Host, BridgeSession], HostAdapter] = HostAdapter,
        state_adapter: Callable[[State, BridgeSession], Any] = StateAdapter,
    ) -> None:
        self._make_host = host_adapter
        self._make_state = state_adapter
        self._hosts: weakref.WeakKeyDictionary[Host, HostAdapter] = weakref.WeakKeyDictionary()
        self._state: Any = None

    def host_adapter(self, state: State, host: Host) -> HostAdapter:
        """The adapter of ``host``."""
        adapter = self._hosts.get(host)
        if adapter is None:
            adapter = self._hosts[host] = self._make_host(state, host, self)
        return adapter

    def state_adapter(self, state: State) -> Any:
        """The adapter of ``state``."""
        if self._state is None:
            self._state = self._make_state(state, self)
        return self._state


_sessions: weakref.WeakKeyDictionary[State, BridgeSession] = weakref.WeakKeyDictionary()


def session_for(state: State) -> BridgeSession:
    """The bridge's adapters for ``state`` (default ones, made on first use)."""
    session = _sessions.get(state)
    if session is None:
        session = _sessions[state] = BridgeSession()
    return session


def use_session(state: State, session: BridgeSession) -> None:
    """Make ``session`` the adapters of ``state`` (tests give their own host adapters)."""
    _sessions[state] = session


@contextmanager
def pointed_at(state: State, host: Host) -> Iterator[HostAdapter]:
    """pyinfra's context (``host``, ``state``, ``config``, ``inventory``) on ``host`` of
    ``state`` inside the block, restored after it -- an exception too."""
    session = session_for(state)
    adapter = session.host_adapter(state, host)
    state_adapter = session.state_adapter(state)
    slots = (
        (ctx_state, state_adapter),
        (ctx_host, adapter),
        (ctx_config, state_adapter.config),
        (ctx_inventory, state.inventory),
    )
    previous = [slot.get() for slot, _ in slots]
    for slot, value in slots:
        slot.set(value)
    try:
        yield adapter
    finally:
        for (slot, _), value in zip(slots, previous, strict=True):
            slot.set(value)


class _Current:
    """A pyinfra context value that is always the current eventstate host's adapter
    (or its State's, or its config's): what a deploy file's top level reads as
    ``from pyinfra import host`` while each host's run of the file goes by."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        object.__setattr__(self, "_what", what)

    def _target(self) -> Any:
        state, host = current()
        session = session_for(state)
        if self._what == "host":
            return session.host_adapter(state, host)
        adapter = session.state_adapter(state)
        return adapter if self._what == "state" else adapter.config

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target(), name, value)

    def __eq__(self, other: object) -> bool:
        return bool(self._target() == other)

    def __hash__(self) -> int:
        return hash(self._target())

    def __repr__(self) -> str:
        return f"<the current eventstate {self._what}, for pyinfra>"


#: pyinfra's ``host``, ``state`` and ``config`` while a deploy file runs.
CURRENT_HOST = _Current("host")
CURRENT_STATE = _Current("state")
CURRENT_CONFIG = _Current("config")


@contextmanager
def pointed_at_current() -> Iterator[None]:
    """pyinfra's context on whichever host eventstate's context names, inside the block."""
    slots = ((ctx_state, CURRENT_STATE), (ctx_host, CURRENT_HOST), (ctx_config, CURRENT_CONFIG))
    previous = [slot.get() for slot, _ in slots]
    for slot, value in slots:
        slot.set(value)
    try:
        yield
    finally:
        for (slot, _), value in zip(slots, previous, strict=True):
            slot.set(value)


_OPERATIONS = "pyinfra.operations."


def _current_or_none() -> tuple[Any, Any] | None:
    try:
        return current()
    except NoDeployContextError:  # pyinfra's fixtures translate commands outside a deploy
        return None


def _takes_state_and_host(function: Callable[..., Any]) -> bool:
    # pyinfra 3.10's rule (FunctionCommand.execute): both among its positional parameters.
    try:
        parameters = inspect.getfullargspec(function).args
    except TypeError:
        return False
    return "state" in parameters and "host" in parameters


class PythonSteps:
    """How bridged operations run their Python steps (pyinfra's ``FunctionCommand``).

    A step -- ``python.call``'s function, say -- runs when its op executes, long
    after the deploy file's bridge was removed. As in pyinfra, it runs with
    pyinfra's ``host``, ``state`` and ``config`` pointed at the host it runs for,
    is handed them when it takes ``state`` and ``host``, and may call operations
    (pyinfra's nested operations): while any step runs, on any host, pyinfra's
    operations are eventstate's again.

    Args:
        bridge_module: Bridges a ``pyinfra.operations`` module's operations in place,
            returning the originals by name (:func:`.operation_bridge.bridge_module`).
    """

    def __init__(self, bridge_module: Callable[[ModuleType], dict[str, Any]]) -> None:
        self._bridge_module = bridge_module
        self._running = 0
        self._originals: list[tuple[ModuleType, dict[str, Any]]] = []

    @contextmanager
    def operations_bridged(self) -> Iterator[None]:
        """pyinfra's operations are eventstate's inside the block: the first step to start
        bridges them, the last to end (each host's runs in its own greenlet) puts them back."""
        if not self._running:
            for name, module in list(sys.modules.items()):
                if name.startswith(_OPERATIONS) and module is not None:
                    self._originals.append((module, self._bridge_module(module)))
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            if not self._running:
                for module, originals in reversed(self._originals):
                    for name, original in originals.items():
                        setattr(module, name, original)
                self._originals.clear()

    def in_pyinfra_context(self, command: Command) -> Command:
        """``command``, a Python step made to run as pyinfra runs one; any other as it is.

        The step keeps its name (the log shows it); one that is not callable is kept as
        it is (pyinfra's fixtures name a step by a string).
        """
        if not isinstance(command, FunctionCommand) or not callable(command.function):
            return command
        function = command.function
        takes = _takes_state_and_host(function)
        # The host and op the step was yielded in: what it runs and declares is the op's.
        yielded_in = _current_or_none()
        op_hash = None if yielded_in is None else yielded_in[1].current_op_hash

        def step(*args: Any, **kwargs: Any) -> Any:
            running_in = _current_or_none() or yielded_in
            if running_in is None:
                return function(*args, **kwargs)
            state, host = running_in
            outer = host.current_op_hash
            host.current_op_hash = outer or op_hash
            try:
                with self.operations_bridged(), pointed_at(state, host) as adapter:
                    if takes:
                        return function(adapter.state, adapter, *args, **kwargs)
                    return function(*args, **kwargs)
            finally:
                host.current_op_hash = outer

        # Named as the step itself (not functools.wraps: the runner must not read the
        # step's own signature and hand it eventstate's State and Host).
        step.__name__ = getattr(function, "__name__", step.__name__)
        step.__qualname__ = getattr(function, "__qualname__", step.__qualname__)
        step.pyinfra_function = function  # type: ignore[attr-defined]
        return FunctionCommand(step, command.args, command.kwargs)
