"""Executing prepared operations: ``run_ops`` and its three modes, on gevent.

The arithmetic, callbacks and failure rules are pyinfra 3.10's
(``pyinfra/api/operations.py``); hosts are always taken in inventory order.
Each step is recorded: the op starting and ending, each host's start,
retries, every command, and the outcome.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import gevent

from eventstate.command_runner import run_command
from eventstate.commands import Command
from eventstate.connectors.base import CommandResult
from eventstate.context import reset_current, set_current, using
from eventstate.errors import DeployError, ExecutionAlreadyRanError
from eventstate.events import (
    HostOperationRetried,
    OperationEnded,
    OperationStarted,
    OpOutcome,
    RunStatus,
    StateStage,
)
from eventstate.host import Host
from eventstate.host_op import HostOpData, OperationOutput
from eventstate.state import State

__all__ = ["run_host_op", "run_ops"]

#: Called as each host finishes an op: ``progress(host, op_hash)``.
Progress = Callable[["Host", str], None]


def run_host_op(state: State, host: Host, op_hash: str) -> bool:
    """Execute one op on one host, with its retries; returns False if the host failed it.

    An op the host does not have (a ``_run_once`` duplicate, or one added for
    other hosts) is skipped: True, no counts.
    """
    # Callbacks cost a call each only when there are handlers to call (pyinfra's order).
    if state.callback_handlers:
        state.trigger_callbacks("operation_host_start", host, op_hash)
    data: HostOpData | None = state.ops[host].get(op_hash)
    if data is None:
        return True
    started = time.perf_counter()

    arguments = data.global_arguments
    options = arguments.options
    retries = arguments.retries
    attempt = 0
    while True:
        did_error = False
        executed = 0
        # The attempt's commands and results, for the op's result (pyinfra's
        # OperationMeta keeps both) and a _retry_until to read.
        commands: list[Command] = []
        results: list[CommandResult] = []
        for command in data.command_generator():
            commands.append(command)
            # A fact a Python step asks is asked with the op's arguments (_sudo,
            # _ignore_errors...), as one its body asks.
            host.current_op_arguments = arguments
            try:
                result = run_command(
                    state, host, command, options, op_hash=op_hash, attempt=attempt
                )
            finally:
                host.current_op_arguments = None
            results.append(result)
            if not result.success:
                did_error = True
                if arguments.continue_on_error:
                    continue
                break
            executed += 1

        retry = False
        if attempt < retries:
            if did_error:
                retry = True
            elif arguments.retry_until is not None:
                output = OperationOutput(results)
                try:
                    retry = bool(
                        arguments.retry_until(
                            {
                                "stdout_lines": output.stdout_lines,
                                "stderr_lines": output.stderr_lines,
                                "commands": [command.masked() for command in commands],
                                "executed_commands": executed,
                                "host": host.name,
                                "operation": ", ".join(state.get_op_meta(op_hash).names),
                            }
                        )
                    )
                except Exception:  # a broken retry_until means no retry, as pyinfra
                    retry = False
        if not retry:
            break
        attempt += 1
        if state.callback_handlers:
            state.trigger_callbacks("operation_host_retry", host, op_hash, attempt, retries)
        state.record(
            HostOperationRetried,
            host=host.name,
            op_hash=op_hash,
            retry_num=attempt,
            max_retries=retries,
        )
        if arguments.retry_delay:
            gevent.sleep(arguments.retry_delay)

    op_result = data.result
    op_result.success = not did_error
    op_result.changed = executed > 0
    # As pyinfra's OperationMeta.set_complete: retry_succeeded only for a retried op.
    op_result.retry_attempts = attempt
    op_result.max_retries = retries
    op_result.retry_succeeded = (not did_error) if attempt else None
    op_result._commands = commands
    op_result._combined_output = OperationOutput.of(results)
    if not did_error:
        state.record_op_result(
            host,
            op_hash,
            OpOutcome.SUCCESS,
            commands_executed=executed,
            retry_count=attempt,
            duration=time.perf_counter() - started,
        )
        if state.callback_handlers:
            state.trigger_callbacks("operation_host_success", host, op_hash, attempt)
        return True
    outcome = OpOutcome.IGNORED_ERROR if arguments.ignore_errors else OpOutcome.ERROR
    state.record_op_result(
        host,
        op_hash,
        outcome,
        commands_executed=executed,
        retry_count=attempt,
        duration=time.perf_counter() - started,
    )
    if state.callback_handlers:
        state.trigger_callbacks("operation_host_error", host, op_hash, attempt, retries)
    return bool(arguments.ignore_errors)


def _run_in_context(state: State, host: Host, op_hash: str) -> bool:
    with using(state, host):
        return run_host_op(state, host, op_hash)


def _run_in_greenlet(state: State, host: Host, op_hash: str) -> bool | Exception:
    """:func:`_run_in_context`, for a greenlet of its own: what the op raised is returned,
    to be raised by the greenlet that waits for it -- a greenlet that raises has its
    traceback printed by gevent, before the deploy's one-line error."""
    try:
        return _run_in_context(state, host, op_hash)
    except Exception as error:
        return error


def _instant_hosts(state: State) -> frozenset[Host]:
    """The hosts connected through an instant connector (``@sim`` without latency).

    Their ops never wait on gevent, so a greenlet each would run them to the end
    one after another, in the order spawned: running them in this greenlet, in
    host order, is the same run without the spawn and join of every host-op.
    """
    return frozenset(
        host
        for host in state.inventory
        if host.connected and state.connections.connector(host).instant
    )


def _run_single_op(
    state: State, op_hash: str, progress: Progress | None, instant: frozenset[Host] = frozenset()
) -> None:
    state.trigger_callbacks("operation_start", op_hash)
    state.record(OperationStarted, op_hash=op_hash)
    execution = state.get_op_meta(op_hash).global_arguments
    hosts = list(state.active_hosts)
    failed: list[Host] = []

    if execution.get("_serial"):
        for host in hosts:
            if not _run_in_context(state, host, op_hash):
                failed.append(host)
            if progress:
                progress(host, op_hash)
    else:
        parallel = execution.get("_parallel") or len(hosts) or 1
        for start in range(0, len(hosts), parallel):
            batch = hosts[start : start + parallel]
            outcomes: list[bool | Exception]
            if instant.issuperset(batch):
                # As the greenlets would: every host of the batch runs, what one raises is
                # raised once the batch is done.
                outcomes = []
                for host in batch:
                    token = set_current((state, host))  # as _run_in_greenlet, inline
                    try:
                        outcomes.append(run_host_op(state, host, op_hash))
                    except Exception as error:
                        outcomes.append(error)
                    finally:
                        reset_current(token)
                # The hub's turn, as joining would give it: the log's timers (the delayed
                # write, the heartbeat) run between batches.
                gevent.sleep(0)
            else:
                outcomes = _run_batch(state, batch, op_hash)
            for host, ok in zip(batch, outcomes, strict=True):
                if isinstance(ok, Exception):
                    raise ok  # what an op body raised at execute time, as pyinfra
                if not ok:
                    failed.append(host)
                if progress:
                    progress(host, op_hash)

    state.fail_hosts(failed)
    state.record(OperationEnded, op_hash=op_hash)
    state.trigger_callbacks("operation_end", op_hash)


def _run_batch(state: State, batch: list[Host], op_hash: str) -> list[bool | Exception]:
    """Run the op on every host of ``batch``, a greenlet each; what each returned or raised."""
    # The pool caps concurrency at PARALLEL; a batch within that cap needs no
    # pool bookkeeping (a plain spawn costs a fifth less per host).
    spawn = gevent.spawn if len(batch) <= state.pool.size else state.pool.spawn
    greenlets = [spawn(_run_in_greenlet, state, host, op_hash) for host in batch]
    try:
        gevent.joinall(greenlets)
    except BaseException:
        # Only an interruption of this greenlet (a signal) gets here: stop the batch.
        gevent.killall(greenlets)
        raise
    return [greenlet.get() for greenlet in greenlets]


def _run_host_ops(state: State, host: Host, order: list[str], progress: Progress | None) -> bool:
    for op_hash in order:
        ok = _run_in_context(state, host, op_hash)
        if progress:
            progress(host, op_hash)
        if not ok:
            return False
    return True


def _run_serial(state: State, order: list[str], progress: Progress | None) -> None:
    for host in list(state.active_hosts):
        if not _run_host_ops(state, host, order, progress):
            state.fail_hosts([host])


class _NoWaitRun:
    """How a ``no_wait`` run is going: whether it is aborting, and the errors its hosts met."""

    __slots__ = ("aborting", "errors")

    def __init__(self) -> None:
        #: Set when FAIL_PERCENT trips or no host is left: no host starts another op.
        self.aborting = False
        #: What ended hosts' greenlets, in the order met; the first is raised.
        self.errors: list[Exception] = []


def _run_host_ops_until_aborted(
    state: State, host: Host, order: list[str], progress: Progress | None, run: _NoWaitRun
) -> None:
    try:
        for op_hash in order:
            if run.aborting:
                return  # start nothing new; the op that was running has finished
            ok = _run_in_context(state, host, op_hash)
            if progress:
                progress(host, op_hash)
            if not ok:
                # Unlike pyinfra, a host whose op fails is failed (FAIL_PERCENT applies);
                # failing it here, in its own greenlet, stops the others before their next op.
                state.fail_hosts([host])
                return
    except DeployError as error:
        run.aborting = True
        run.errors.append(error)
    except Exception as error:
        # An op body raised: this host stops; the others run on, as in pyinfra's no_wait
        # (which only prints it). Ours raises it once every host has ended.
        run.errors.append(error)


def _run_no_wait(state: State, order: list[str], progress: Progress | None) -> None:
    run = _NoWaitRun()
    greenlets = [
        state.pool.spawn(_run_host_ops_until_aborted, state, host, order, progress, run)
        for host in list(state.active_hosts)
    ]
    try:
        # Every greenlet ends by itself, never killed mid-command: the op it is running
        # finishes and its outcome is recorded before the run's end.
        gevent.joinall(greenlets)
    except BaseException:
        # Only an interruption of this greenlet (Ctrl-C) gets here: nothing left to wait for.
        gevent.killall(greenlets)
        raise
    if run.errors:
        raise run.errors[0]


def run_ops(
    state: State, serial: bool = False, no_wait: bool = False, progress: Progress | None = None
) -> None:
    """Execute every prepared op on the active hosts.

    By default one op at a time across all hosts (in batches of the op's
    ``_parallel``, or one at a time with ``_serial``), failing the hosts that
    failed it -- with FAIL_PERCENT -- before the next. ``serial`` runs host by
    host; ``no_wait`` runs every host through all its ops at once.

    Raises:
        DeployError: FAIL_PERCENT was exceeded or no host is left.
        EventstateError: ops were already executed for this State.
    """
    if state.view.is_executing:
        raise ExecutionAlreadyRanError("run_ops already ran for this State: one execution per run")
    if state.current_stage < StateStage.Execute:
        state.set_stage(StateStage.Execute)
    state.is_executing = True
    order = state.get_op_order()
    # The prepared ops live until the run's end: the collector need not walk them on
    # every full pass while the events pile up (unfrozen below: a frozen cycle stays).
    gc.freeze()
    try:
        if serial:
            _run_serial(state, order, progress)
        elif no_wait:
            _run_no_wait(state, order, progress)
        else:
            instant = _instant_hosts(state)
            for op_hash in order:
                _run_single_op(state, op_hash, progress, instant)
    except DeployError as error:
        # FAIL_PERCENT tripped or no host left: the run ends here, and the log says so.
        state.finish(RunStatus.ABORTED, error=str(error))
        raise
    except Exception as error:
        # An op body raised at execute time: it propagates (as pyinfra), recorded first.
        state.finish(RunStatus.ABORTED, error=f"{type(error).__name__}: {error}")
        raise
    finally:
        gc.unfreeze()
    state.flush()
