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
from collections.abc import Callable, Container, Generator, Iterable, Iterator
from hashlib import sha1
from typing import Any

from eventstate.arguments import ARGUMENTS, OperationArgumentError, resolve_global_arguments
from eventstate.commands import Command, HiddenValue, make_command
from eventstate.context import current, using
from eventstate.errors import NestedOperationError
from eventstate.execute import run_host_op
from eventstate.host import Host
from eventstate.host_op import HostOpData, OperationMeta, OperationResult
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


def _order_and_hash(state: State, host: Host) -> tuple[tuple[int, ...], str]:
    """The op's order key and hash, as pyinfra's ``solve_operation_consistency``.

    In a deploy file: (file number, call-site lines..., loop positions); in
    API mode: (ops already added to the host, loop positions). Duplicate hashes
    on one host get ``-0``, ``-0-1``... and the count joins the order.
    """
    if state.deploy_filename is not None:
        files = state.deploy_files or (state.deploy_filename,)
        order = [state.deploy_file_number, *_deploy_lines(files)]
    else:
        order = [len(host.op_hash_order)]
    order.extend(host.loop_position)
    # Interned: every host of a deploy holds the same hashes, many times over.
    op_hash = sys.intern(sha1(repr(tuple(order)).encode()).hexdigest())
    taken = host.op_hash_order
    duplicates = 0
    while op_hash in taken:
        op_hash = sys.intern(f"{op_hash}-{duplicates}")
        duplicates += 1
    if duplicates:
        order.append(duplicates)
    return tuple(order), op_hash


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

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> OperationResult:
        state: State
        host: Host
        state, host = current()
        if host.in_op:
            raise NestedOperationError(
                f"{op_name} called inside another operation's body: call it from deploy code"
            )
        host_arguments = host.argument_data()
        if host.current_deploy_kwargs:
            # A @deploy's arguments: over the host data's, under the call's own.
            host_arguments = {**host_arguments, **host.current_deploy_kwargs}
        given = kwargs
        if own_keywords and not own_keywords.isdisjoint(kwargs):
            given = {key: value for key, value in kwargs.items() if key not in own_keywords}
        global_arguments = resolve_global_arguments(
            given, state.config, host_arguments, state.interned_arguments
        )
        if given is not kwargs:  # the op's own keywords, in their places
            kwargs = {
                key: value for key, value in kwargs.items() if key in given or key in own_keywords
            }
        try:
            signature.bind(*args, **kwargs)
        except TypeError as error:
            raise OperationArgumentError(f"{op_name}: {error}") from None
        # add_op passes the same argument objects to every host: keep one copy of the
        # call's args and kwargs for all of them, not one per host-op until the run ends.
        key = (tuple(map(id, args)), tuple((name, id(value)) for name, value in kwargs.items()))
        last = state.last_calls.get(func)
        if last is not None and last[0] == key:
            args, kwargs = last[1], last[2]
        else:
            state.last_calls[func] = (key, args, kwargs)

        if global_arguments.name:
            names, shown = [global_arguments.name], []
        else:
            names = [op_name]
            shown = [_display(arg) for arg in args]
            shown += [f"{key}={_display(value)}" for key, value in kwargs.items()]
        if host.current_deploy_name:
            names = [f"{host.current_deploy_name} | {name}" for name in names]
        op_order, op_hash = _order_and_hash(state, host)
        state.add_op_meta(op_hash, op_order, names, shown, global_arguments.execution())

        if global_arguments.run_once and any(op_hash in ops for ops in state.ops.values()):
            state.add_op_to_host(host, op_hash, None, counted=False)
            return OperationResult(op_hash, False)

        # The body runs again when the op executes, outside any @deploy: it reads the
        # data defaults of the deploy it was called in, as at prepare.
        deploy_defaults = host.data.current_defaults()

        def command_generator() -> Generator[Command, None, None]:
            if state.is_executing and not _if_holds(global_arguments.if_):
                return
            body = func(*args, **kwargs)
            while True:
                # "In the op" only while its body runs: between yields the engine runs
                # the command, and a Python step may add (nested) ops.
                host.in_op = True
                host.current_op_arguments = global_arguments
                host.current_op_hash = op_hash
                try:
                    with host.data.with_defaults(deploy_defaults):
                        command = next(body)
                except StopIteration:
                    return
                finally:
                    host.in_op = False
                    host.current_op_arguments = None
                    host.current_op_hash = None
                yield make_command(command)

        is_change: bool | None = None
        if state.should_check_for_changes():
            is_change = False
            commands = command_generator()
            try:
                for _ in commands:
                    is_change = True
                    break
            except BaseException:
                # As pyinfra, the op keeps its place in the host's order even when its
                # body fails: the next op must not take this one's hash and meta.
                state.add_op_to_host(host, op_hash, None, counted=False)
                raise
            finally:
                commands.close()

        result = OperationResult(op_hash, is_change)
        state.add_op_to_host(host, op_hash, is_change)
        state.set_op_data_for_host(
            host, op_hash, HostOpData(command_generator, global_arguments, result)
        )

        # Added while executing (from a Python step): run it now, inside its parent.
        if state.is_executing and not run_host_op(state, host, op_hash):
            raise NestedOperationError(f"nested operation {op_name} failed on {host.name}")
        return result

    call.__wrapped_operation__ = func  # type: ignore[attr-defined]
    call.op_name = op_name  # type: ignore[attr-defined]
    return call


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
    for op_host in target_hosts(state, host):
        with using(state, op_host):
            results[op_host] = op(*args, **dict(kwargs))
    return results
