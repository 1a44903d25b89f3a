"""Operations: the ``@operation`` decorator, and ``add_op`` to prepare one on every host.

An operation is a generator function yielding commands. Calling it inside a
deploy (a deploy file, or :func:`add_op`) prepares it for the current host:
global arguments are parsed once, the op gets its order and hash, its meta
and its place in the host's order are recorded as events, and -- with change
detection on -- the generator runs up to its first command to learn whether
the op will change anything.
"""

from __future__ import annotations

import functools
import inspect
import sys
import weakref
from collections.abc import Callable, Container, Generator, Iterable, Iterator, Mapping
from hashlib import sha1
from typing import Any

from eventstate.arguments import (
    ARGUMENTS,
    ArgumentsCache,
    CallArguments,
    GlobalArguments,
    OperationArgumentError,
)
from eventstate.commands import Command, HiddenValue, make_command
from eventstate.context import current, reset_current, set_current, using
from eventstate.errors import NestedOperationError
from eventstate.execute import run_host_op
from eventstate.host import Host
from eventstate.host_op import HostOpData, OperationMeta, OperationResult
from eventstate.op_hashes import OpHashes
from eventstate.state import State

__all__ = [
    "HostOpData",
    "NestedOperationError",
    "OperationMeta",
    "OperationResult",
    "add_op",
    "operation",
    "target_hosts",
]


def _display(value: Any) -> str:
    # How an argument is shown in the op's meta: it must be the same in every run of
    # the same deploy (no memory addresses), and never reveal a secret.
    if isinstance(value, HiddenValue):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool, list, tuple, dict)):
        return str(value)
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    if hasattr(value, "getvalue"):  # StringIO / BytesIO: name the content by its hash
        content = value.getvalue()
        digest = sha1(content.encode() if isinstance(content, str) else content).hexdigest()
        return f"{type(value).__name__}(sha1={digest[:12]})"
    return f"<{type(value).__name__}>"


def _deploy_lines(filenames: Container[str]) -> list[int]:
    # The call site's line numbers inside the deploy files (the deploy file and the
    # files it includes), outermost first: the op's position in the deploy code,
    # stable across runs. sys._getframe walks live frames; inspect.stack() would
    # read every source file on every call.
    lines: list[int] = []
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename in filenames:
            lines.append(frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    lines.reverse()
    return lines


def _order(state: State, host: Host) -> list[int]:
    """The op's order key before duplicates, as pyinfra's ``get_operation_order_from_stack``.

    In a deploy file: (file number, call-site lines..., loop positions); in
    API mode: (ops already added to the host, loop positions).
    """
    if state.deploy_filename is not None:
        files = state.deploy_files or (state.deploy_filename,)
        order = [state.deploy_file_number, *_deploy_lines(files)]
    else:
        order = [len(host.op_hash_order)]
    order.extend(host.loop_position)
    return order


class _RunPreparing:
    """What preparing remembers across a run's calls: op hashes, resolved arguments."""

    __slots__ = ("arguments", "hashes")

    def __init__(self, state: State) -> None:
        self.hashes = OpHashes()
        self.arguments = ArgumentsCache(state.config, state.interned_arguments)


def _preparing(state: State) -> _RunPreparing:
    preparing = _PREPARING.get(state)
    if preparing is None:
        preparing = _PREPARING[state] = _RunPreparing(state)
    return preparing


#: Each State's, kept beside it (not in it: they are how calls are prepared, not state).
_PREPARING: weakref.WeakKeyDictionary[State, _RunPreparing] = weakref.WeakKeyDictionary()

#: Commands an op body yielded as plain strings, built: a command is a pure function of its
#: text, and the same text comes from every host of an ``add_op`` and again when the op
#: executes. Bounded: emptied when full.
_BUILT: dict[str, Command] = {}
_BUILT_MAX = 4096


def _command(value: Any) -> Command:
    if type(value) is not str:
        return make_command(value)
    command = _BUILT.get(value)
    if command is None:
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.clear()
        command = _BUILT[value] = make_command(value)
    return command


class _SharedCall:
    """One ``add_op`` call, prepared on many hosts: what does not depend on the host is
    worked out on the first and reused (the arguments bound, shown and resolved, the meta
    merged), as the issue of a call per host would otherwise repeat it."""

    __slots__ = (
        "args",
        "arguments",
        "kwargs",
        "last_named",
        "merged",
        "prepared",
        "preparing",
        "shown",
    )

    def __init__(self, preparing: _RunPreparing) -> None:
        self.prepared = False
        self.preparing = preparing
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] = {}
        self.shown: list[str] = []
        self.arguments: CallArguments | None = None
        #: (op hash, names, execution arguments) already merged into the op's meta.
        self.merged: set[tuple[Any, ...]] = set()
        #: The last host's (arguments, @deploy name) and what they name the op and
        #: execute it with: (names, execution arguments, both as the merged key's).
        self.last_named: tuple[Any, ...] = (None, None)


def operation(func: Callable[..., Iterator[Any]]) -> Callable[..., OperationResult]:
    """Make ``func`` -- a generator yielding commands -- an operation.

    Called inside a deploy, the operation is prepared for the current host
    and returns an :class:`OperationResult`. Global arguments (``_sudo``,
    ``_retries``... see :mod:`eventstate.arguments`) may be passed to any
    operation; anything else must fit ``func``'s signature.

    Example:
        >>> @operation
        ... def touch(path: str):
        ...     yield f"touch {path}"
    """
    module = (func.__module__ or "").rsplit(".", 1)[-1]
    op_name = f"{module}.{func.__name__}" if module else func.__name__
    signature = inspect.signature(func)  # once, not per call
    # The op's own ``_`` keywords (pyinfra's ``files.directory(_no_fail_on_link=True)``)
    # are its arguments, not unknown global ones: pyinfra passes them to the op.
    own_keywords = frozenset(
        name for name in signature.parameters if name.startswith("_") and name not in ARGUMENTS
    )

    def _arguments(
        state: State,
        host_arguments: Mapping[str, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[GlobalArguments, tuple[Any, ...], dict[str, Any]]:
        # The call's global arguments resolved for the host, and the op's own arguments.
        given = kwargs
        if own_keywords and not own_keywords.isdisjoint(kwargs):
            given = {key: value for key, value in kwargs.items() if key not in own_keywords}
        global_arguments = _preparing(state).arguments.resolve(given, host_arguments)
        if given is not kwargs:  # the op's own keywords, in their places
            kwargs = {
                key: value for key, value in kwargs.items() if key in given or key in own_keywords
            }
        try:
            signature.bind(*args, **kwargs)
        except TypeError as error:
            raise OperationArgumentError(f"{op_name}: {error}") from None
        return global_arguments, args, kwargs

    def prepare_on_host(
        state: State,
        host: Host,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        shared: _SharedCall | None = None,
    ) -> OperationResult:
        """Prepare the call on ``host`` (current); ``shared`` is the ``add_op`` call's."""
        if host.in_op:
            raise NestedOperationError(
                f"{op_name} called inside another operation's body: call it from deploy code"
            )
        host_arguments = host.argument_data()
        if host.current_deploy_kwargs:
            # A @deploy's arguments: over the host data's, under the call's own.
            host_arguments = {**host_arguments, **host.current_deploy_kwargs}
        if shared is not None and shared.prepared:
            assert shared.arguments is not None
            global_arguments = shared.arguments.for_host(host_arguments)
            args, kwargs, shown = shared.args, shared.kwargs, shared.shown
        else:
            call_globals = {key: value for key, value in kwargs.items() if key in ARGUMENTS}
            global_arguments, args, kwargs = _arguments(state, host_arguments, args, kwargs)
            if shared is None:
                # A deploy file calls once per host, with the same argument objects for
                # every host: keep one copy of them for all, not one per host-op.
                key = (
                    tuple(map(id, args)),
                    tuple((name, id(value)) for name, value in kwargs.items()),
                )
                last = state.last_calls.get(func)
                if last is not None and last[0] == key:
                    args, kwargs = last[1], last[2]
                else:
                    state.last_calls[func] = (key, args, kwargs)
            shown = []
            if not global_arguments.name:
                shown = [_display(arg) for arg in args]
                shown += [f"{key}={_display(value)}" for key, value in kwargs.items()]
            if shared is not None:
                shared.args, shared.kwargs, shared.shown = args, kwargs, shown
                shared.arguments = CallArguments(
                    call_globals, state.config, state.interned_arguments
                )
                shared.arguments.add(host_arguments, global_arguments)
                shared.prepared = True

        deploy_name = host.current_deploy_name
        named = shared.last_named if shared is not None else (None, None)
        if named[0] is global_arguments and named[1] == deploy_name:
            # The call's hosts mostly share their arguments: named as the last one.
            names, execution, merge_names, merge_execution = named[2:]
        else:
            names = [global_arguments.name] if global_arguments.name else [op_name]
            if deploy_name:
                names = [f"{deploy_name} | {name}" for name in names]
            execution = global_arguments.execution()
            merge_names, merge_execution = tuple(names), tuple(execution.values())
            if shared is not None:
                shared.last_named = (
                    global_arguments,
                    deploy_name,
                    names,
                    execution,
                    merge_names,
                    merge_execution,
                )
        preparing = shared.preparing if shared is not None else _preparing(state)
        op_order, op_hash = preparing.hashes.hash_on_host(
            host, host.op_hash_order, _order(state, host)
        )
        if shared is None:
            state.add_op_meta(op_hash, op_order, names, shown, execution)
        else:
            # Merging what was merged already changes nothing and cannot fail: once.
            merge = (op_hash, merge_names, merge_execution)
            if merge not in shared.merged:
                state.add_op_meta(op_hash, op_order, names, shown, execution)
                shared.merged.add(merge)

        if global_arguments.run_once and any(op_hash in ops for ops in state.ops.values()):
            state.add_op_to_host(host, op_hash, None, counted=False)
            return OperationResult(op_hash, False)

        # The body runs again when the op executes, outside any @deploy: it reads the
        # data defaults of the deploy it was called in, as at prepare.
        body = _HostCall(
            state, host, func, args, kwargs, global_arguments, op_hash, host.data.current_defaults()
        )
        is_change: bool | None = None
        if state.should_check_for_changes():
            try:
                is_change = body.yields_a_command()
            except BaseException:
                # As pyinfra, the op keeps its place in the host's order even when its
                # body fails: the next op must not take this one's hash and meta.
                state.add_op_to_host(host, op_hash, None, counted=False)
                raise

        result = OperationResult(op_hash, is_change)
        state.add_op_to_host(host, op_hash, is_change)
        state.set_op_data_for_host(host, op_hash, HostOpData(body, global_arguments, result))

        # Added while executing (from a Python step): run it now, inside its parent.
        if state.is_executing and not run_host_op(state, host, op_hash):
            raise NestedOperationError(f"nested operation {op_name} failed on {host.name}")
        return result

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> OperationResult:
        state: State
        host: Host
        state, host = current()
        return prepare_on_host(state, host, args, kwargs)

    call.__wrapped_operation__ = func  # type: ignore[attr-defined]
    call.op_name = op_name  # type: ignore[attr-defined]
    call.prepare_on_host = prepare_on_host  # type: ignore[attr-defined]
    return call


class _HostCall:
    """One op call on one host: called, its body's commands (``HostOpData.command_generator``).

    The body runs "in the op" (``host.in_op``, the op's arguments and hash set on the
    host) only while it runs: between its yields the engine runs the command, and a
    Python step may add (nested) ops. With ``_if``, an executing run checks it first.
    """

    __slots__ = ("args", "arguments", "defaults", "func", "host", "kwargs", "op_hash", "state")

    def __init__(
        self,
        state: State,
        host: Host,
        func: Callable[..., Iterator[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        arguments: GlobalArguments,
        op_hash: str,
        defaults: dict[str, Any],
    ) -> None:
        self.state = state
        self.host = host
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.arguments = arguments
        self.op_hash = op_hash
        #: The data defaults of the @deploy the op was called in (read again at execute).
        self.defaults = defaults

    def _next(self, body: Iterator[Any]) -> Any:
        # The body's next value, run in the op; StopIteration when it is done.
        host = self.host
        host.in_op = True
        host.current_op_arguments = self.arguments
        host.current_op_hash = self.op_hash
        try:
            if self.defaults:
                with host.data.with_defaults(self.defaults):
                    return next(body)
            return next(body)  # nothing to put under the host's data (no @deploy's)
        finally:
            host.in_op = False
            host.current_op_arguments = None
            host.current_op_hash = None

    def __call__(self) -> Generator[Command, None, None]:
        """The body's commands, as it yields them."""
        if_ = self.arguments.if_
        if if_ is not None and self.state.is_executing and not _if_holds(if_):
            return
        body = self.func(*self.args, **self.kwargs)
        # _next, inline: the engine resumes this once per command it runs.
        host, arguments, op_hash, defaults = self.host, self.arguments, self.op_hash, self.defaults
        while True:
            host.in_op = True
            host.current_op_arguments = arguments
            host.current_op_hash = op_hash
            try:
                if defaults:
                    with host.data.with_defaults(defaults):
                        command = next(body)
                else:
                    command = next(body)
            except StopIteration:
                return
            finally:
                host.in_op = False
                host.current_op_arguments = None
                host.current_op_hash = None
            yield _command(command)

    def yields_a_command(self) -> bool:
        """Whether the body yields a command (change detection): run up to its first.

        What iterating :meth:`__call__` up to its first command does, then closing it.
        """
        if_ = self.arguments.if_
        if if_ is not None and self.state.is_executing and not _if_holds(if_):
            return False
        body = self.func(*self.args, **self.kwargs)
        try:
            first = self._next(body)
        except StopIteration:
            return False
        _command(first)  # what the body yields must be a command
        return True


def _if_holds(condition: Any) -> bool:
    if condition is None:
        return True
    if isinstance(condition, list):
        return all(check() for check in condition)
    return bool(condition())


def target_hosts(state: State, host: Host | Iterable[Host] | None) -> list[Host]:
    """The hosts an API-mode call names: ``host`` (one or several), or every active one."""
    if host is None:
        return list(state.active_hosts)
    if isinstance(host, Host):
        return [host]
    return list(host)


def add_op(
    state: State,
    op: Callable[..., OperationResult],
    *args: Any,
    host: Host | Iterable[Host] | None = None,
    **kwargs: Any,
) -> dict[Host, OperationResult]:
    """Prepare ``op(*args, **kwargs)`` on every active host (or on ``host``), in inventory order.

    Returns each host's :class:`OperationResult`.
    """
    results: dict[Host, OperationResult] = {}
    prepare = getattr(op, "prepare_on_host", None)
    if prepare is None:  # not one of ours: called per host, as it is
        for op_host in target_hosts(state, host):
            with using(state, op_host):
                results[op_host] = op(*args, **dict(kwargs))
        return results
    shared = _SharedCall(_preparing(state))
    for op_host in target_hosts(state, host):
        token = set_current((state, op_host))  # with using(state, op_host), inline
        try:
            # Once the call is prepared its arguments are the shared ones: no copy to make.
            given = shared.kwargs if shared.prepared else dict(kwargs)
            results[op_host] = prepare(state, op_host, args, given, shared)
        finally:
            reset_current(token)
    return results
