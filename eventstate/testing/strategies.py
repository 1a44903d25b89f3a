"""Hypothesis strategies for eventstate's events, to test code that writes or reads them.

:func:`events` draws single events of any (or chosen) concrete types;
:func:`event_sequences` draws whole runs -- a :class:`~eventstate.events.RunStarted`
then more events with gapless sequence numbers -- and :func:`host_names` the
host names both use. Every event drawn is a valid instance: timestamps are
timezone-aware UTC, mappings such as ``config`` hold only JSON values, tuple
fields hold tuples and enum fields enum members, so it encodes with
:class:`~eventstate.codec.EventCodec` and decodes back equal.

Text never holds lone surrogates: they cannot be encoded as UTF-8, so such an
event could not be hashed or stored.

Example::

    from hypothesis import given
    from eventstate.testing.strategies import event_sequences

    @given(event_sequences(run_id="run-1"))
    def test_my_projection_folds_any_run(run):
        assert fold_all(run).run_id == "run-1"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from eventstate.events import (
    EVENT_TYPES,
    CommandExecuted,
    DeployLoaded,
    Event,
    ExecutionStarted,
    FailOutcome,
    HeartbeatRecorded,
    HostActivated,
    HostConnected,
    HostConnectFailed,
    HostDisconnected,
    HostOperationFinished,
    HostOperationRetried,
    HostsFailed,
    LimitSet,
    OperationAdded,
    OperationAddedForHost,
    OperationEnded,
    OperationStarted,
    OpOutcome,
    RecordedCommand,
    RunFinished,
    RunStarted,
    RunStatus,
    StageChanged,
    StateStage,
    WarningRaised,
)

__all__ = ["event_sequences", "events", "host_names"]

# -- Values ---------------------------------------------------------------------------------------

_HEX = "0123456789abcdef"
_MAX_INT64 = 2**63 - 1

#: Run ids shaped like :func:`eventstate.state.new_run_id`'s.
_RUN_IDS = st.text(_HEX, min_size=32, max_size=32)
#: Sequence numbers of single events: any a store can hold.
_SEQS = st.integers(min_value=1, max_value=_MAX_INT64)
#: Aware UTC datetimes, microseconds included, in years no deploy log will leave.
_DATETIMES = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2200, 12, 31, 23, 59, 59, 999_999),
    timezones=st.just(timezone.utc),
)
#: The first event of a drawn run: leaves room for many gaps before the year 2200 ends.
_RUN_STARTS = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2199, 12, 31, 23, 59, 59, 999_999),
    timezones=st.just(timezone.utc),
)
#: The time between two events of a drawn run (ties happen: clocks are coarse).
_GAPS = st.integers(min_value=0, max_value=10_000_000).map(lambda us: timedelta(microseconds=us))

_TEXT = st.text(max_size=40)
_NAMES = st.text(min_size=1, max_size=30)
_COUNTS = st.integers(min_value=0, max_value=1_000_000)
_STAGES = st.sampled_from(StateStage)
_OP_HASHES = st.text(_HEX, min_size=40, max_size=40)
_VERSIONS = st.lists(st.integers(min_value=0, max_value=99), min_size=3, max_size=3).map(
    lambda parts: ".".join(map(str, parts))
)

#: JSON scalars as the codec writes them: integers within 64 bits, finite floats.
_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=_MAX_INT64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
#: Any JSON value: scalars, and lists and objects of them.
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=12,
)
#: A mapping of names to JSON values, as ``config`` and ``global_arguments`` hold.
_JSON_OBJECTS = st.dictionaries(st.text(max_size=20), _JSON_VALUES, max_size=5)

_LABELS = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?", fullmatch=True)
_DNS_NAMES = st.lists(_LABELS, min_size=1, max_size=3).map(".".join)
_GROUP_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,11}", fullmatch=True)


def host_names() -> st.SearchStrategy[str]:
    """Host names as an inventory holds them.

    Mostly DNS names (``web1``, ``db-2.example.com``), and now and then a
    connector's name as pyinfra writes them (``@local``, ``@docker/ubuntu``).
    Every name is non-empty and printable, with no whitespace.

    Returns:
        A strategy of ``str``.
    """
    return st.one_of(
        _DNS_NAMES,
        st.just("@local"),
        _LABELS.map("@docker/{}".format),
    )


# -- Hosts ----------------------------------------------------------------------------------------


@attrs.frozen
class _Hosts:
    """Where the host names in an event come from.

    Attributes:
        one: A single host, for ``host`` fields.
        some: Distinct hosts, at least one, for ``hosts`` fields.
        inventory: Distinct hosts, possibly none, for ``RunStarted.hosts``.
    """

    one: st.SearchStrategy[str]
    some: st.SearchStrategy[tuple[str, ...]]
    inventory: st.SearchStrategy[tuple[str, ...]]


def _any_hosts() -> _Hosts:
    return _Hosts(
        one=host_names(),
        some=st.lists(host_names(), min_size=1, max_size=5, unique=True).map(tuple),
        inventory=st.lists(host_names(), max_size=6, unique=True).map(tuple),
    )


def _pool_hosts(pool: tuple[str, ...]) -> _Hosts:
    # Hosts named together come in inventory order, as the State writes them.
    return _Hosts(
        one=st.sampled_from(pool),
        some=_subsets(pool, min_size=1),
        inventory=st.just(pool),
    )


def _subsets(pool: tuple[str, ...], *, min_size: int = 0) -> st.SearchStrategy[tuple[str, ...]]:
    if not pool:
        return st.just(())
    return st.lists(st.sampled_from(pool), min_size=min_size, unique=True).map(
        lambda names: tuple(sorted(names, key=pool.index))
    )


# -- Fields of each event type ---------------------------------------------------------------------

#: Draws the fields of one event type (all but the envelope), given where hosts come from.
_FieldsStrategy = Callable[[_Hosts], st.SearchStrategy[dict[str, Any]]]


@st.composite
def _run_started(draw: st.DrawFn, hosts: _Hosts) -> dict[str, Any]:
    names = draw(hosts.inventory)
    return {
        "user": draw(_TEXT),
        "machine": draw(_TEXT),
        "command_line": tuple(draw(st.lists(_TEXT, max_size=5))),
        "engine_version": draw(_VERSIONS),
        "hosts": names,
        "groups": draw(st.dictionaries(_GROUP_NAMES, _subsets(names), max_size=3)),
        "config": draw(_JSON_OBJECTS),
        **draw(_HEADS),
    }


#: The log's head a RunStarted names: none recorded, an empty log's, or an event's.
_HEADS = st.one_of(
    st.just({"log_id": None, "head_run_id": None, "head_seq": None, "head_hash": None}),
    st.fixed_dictionaries(
        {
            "log_id": _RUN_IDS,
            "head_run_id": st.just(None),
            "head_seq": st.just(0),
            "head_hash": st.just("0" * 64),
        }
    ),
    st.fixed_dictionaries(
        {
            "log_id": _RUN_IDS,
            "head_run_id": _RUN_IDS,
            "head_seq": _SEQS,
            "head_hash": st.text(_HEX, min_size=64, max_size=64),
        }
    ),
)


@st.composite
def _stage_changed(draw: st.DrawFn, hosts: _Hosts) -> dict[str, Any]:
    # A deploy only moves forward: the new stage comes after the previous one.
    previous, stage = sorted(draw(st.lists(_STAGES, min_size=2, max_size=2, unique=True)))
    return {"stage": stage, "previous": previous}


@st.composite
def _hosts_failed(draw: st.DrawFn, hosts: _Hosts) -> dict[str, Any]:
    failed = draw(hosts.some)
    return {
        "hosts": failed,
        "activated_count": draw(st.integers(min_value=len(failed), max_value=10_000)),
        "outcome": draw(st.sampled_from(FailOutcome)),
        "percent_failed": draw(st.none() | st.floats(min_value=0, max_value=100, allow_nan=False)),
    }


@st.composite
def _run_finished(draw: st.DrawFn, hosts: _Hosts) -> dict[str, Any]:
    status = draw(st.sampled_from(RunStatus))
    error = None if status is RunStatus.SUCCESS else draw(st.none() | _NAMES)
    interrupted = status is RunStatus.INTERRUPTED
    signal = draw(st.sampled_from(["SIGINT", "SIGTERM"])) if interrupted else None
    return {"status": status, "error": error, "signal": signal}


def _fields(**strategies: Callable[[_Hosts], st.SearchStrategy[Any]]) -> _FieldsStrategy:
    # Independent fields: each drawn by its own strategy, made from the hosts.
    return lambda hosts: st.fixed_dictionaries(
        {name: make(hosts) for name, make in strategies.items()}
    )


def _const(strategy: st.SearchStrategy[Any]) -> Callable[[_Hosts], st.SearchStrategy[Any]]:
    return lambda hosts: strategy


def _one_host(hosts: _Hosts) -> st.SearchStrategy[str]:
    return hosts.one


#: A command as a HostOperationFinished (version 2) carries it.
_RECORDED_COMMANDS = st.builds(
    RecordedCommand,
    command=_TEXT,
    success=st.booleans(),
    exit_code=st.none() | st.integers(min_value=-255, max_value=255),
    duration=st.floats(min_value=0, max_value=86_400, allow_nan=False),
    stdout=_TEXT,
    stderr=_TEXT,
    truncated=st.booleans(),
    attempt=st.integers(min_value=0, max_value=100),
    fact=st.none() | _NAMES,
    end=st.floats(min_value=0, max_value=86_400, allow_nan=False),
)

_FIELDS: Mapping[type[Event], _FieldsStrategy] = {
    RunStarted: _run_started,
    StageChanged: _stage_changed,
    HostActivated: _fields(host=_one_host),
    HostsFailed: _hosts_failed,
    HostConnected: _fields(host=_one_host),
    HostConnectFailed: _fields(host=_one_host, error=_const(_NAMES)),
    HostDisconnected: _fields(host=_one_host),
    OperationAdded: _fields(
        op_hash=_const(_OP_HASHES),
        names=_const(st.lists(_NAMES, min_size=1, max_size=3).map(tuple)),
        args=_const(st.lists(_TEXT, max_size=4).map(tuple)),
        op_order=_const(st.lists(_COUNTS, min_size=1, max_size=5).map(tuple)),
        global_arguments=_const(_JSON_OBJECTS),
        hosts=lambda hosts: hosts.some,
        is_change=_const(st.lists(st.none() | st.booleans(), max_size=4).map(tuple)),
        counted=_const(st.lists(st.booleans(), max_size=4).map(tuple)),
    ),
    OperationAddedForHost: _fields(
        host=_one_host,
        op_hash=_const(_OP_HASHES),
        is_change=_const(st.none() | st.booleans()),
        counted=_const(st.booleans()),
    ),
    HostOperationFinished: _fields(
        host=_one_host,
        op_hash=_const(_OP_HASHES),
        outcome=_const(st.sampled_from(OpOutcome)),
        commands_executed=_const(_COUNTS),
        retry_count=_const(st.integers(min_value=0, max_value=100)),
        duration=_const(st.floats(min_value=0, max_value=86_400, allow_nan=False)),
        commands=_const(st.lists(_RECORDED_COMMANDS, max_size=3).map(tuple)),
    ),
    DeployLoaded: _fields(
        inventory=_const(_NAMES),
        inventory_source=_const(st.none() | _TEXT),
        deploy_file=_const(_NAMES),
        deploy_source=_const(_TEXT),
        options=_const(_JSON_OBJECTS),
    ),
    OperationStarted: _fields(op_hash=_const(_OP_HASHES)),
    OperationEnded: _fields(op_hash=_const(_OP_HASHES)),
    HostOperationRetried: _fields(
        host=_one_host,
        op_hash=_const(_OP_HASHES),
        retry_num=_const(st.integers(min_value=1, max_value=100)),
        max_retries=_const(st.integers(min_value=1, max_value=100)),
    ),
    CommandExecuted: _fields(
        host=_one_host,
        op_hash=_const(st.none() | _OP_HASHES),
        fact=_const(st.none() | _NAMES),
        command=_const(_TEXT),
        success=_const(st.booleans()),
        exit_code=_const(st.none() | st.integers(min_value=-255, max_value=255)),
        duration=_const(st.floats(min_value=0, max_value=86_400, allow_nan=False)),
        stdout=_const(_TEXT),
        stderr=_const(_TEXT),
        truncated=_const(st.booleans()),
        attempt=_const(st.integers(min_value=0, max_value=100)),
    ),
    WarningRaised: _fields(stage=_const(_STAGES)),
    LimitSet: _fields(hosts=lambda hosts: st.none() | hosts.some),
    ExecutionStarted: _fields(),
    HeartbeatRecorded: _fields(),
    RunFinished: _run_finished,
}

# Checked once, at import: a new event class, or a new field, must get a strategy here.
_ENVELOPE = frozenset(field.name for field in attrs.fields(Event))
_FIELD_NAMES: Mapping[type[Event], frozenset[str]] = {
    cls: frozenset(field.name for field in attrs.fields(cls)) - _ENVELOPE
    for cls in EVENT_TYPES.values()
}
_missing = sorted(tag for tag, cls in EVENT_TYPES.items() if cls not in _FIELDS)
if _missing:  # pragma: no cover - fails only while an event class lacks a strategy
    raise RuntimeError(f"eventstate.testing.strategies has no strategy for {', '.join(_missing)}")
del _missing


@st.composite
def _event(
    draw: st.DrawFn,
    cls: type[Event],
    run_id: st.SearchStrategy[str],
    seq: st.SearchStrategy[int],
    at: st.SearchStrategy[datetime],
    hosts: _Hosts,
) -> Event:
    fields = draw(_FIELDS[cls](hosts))
    if fields.keys() != _FIELD_NAMES[cls]:  # pragma: no cover - a field was added or renamed
        raise RuntimeError(
            f"the strategy for {cls.event_type} draws {sorted(fields)}, "
            f"but the class has fields {sorted(_FIELD_NAMES[cls])}"
        )
    return cls(run_id=draw(run_id), seq=draw(seq), at=draw(at), **fields)


def _run_ids(run_id: str | None) -> st.SearchStrategy[str]:
    if run_id is None:
        return _RUN_IDS
    if not isinstance(run_id, str) or not run_id:
        raise InvalidArgument(f"run_id must be a non-empty string or None, not {run_id!r}")
    return st.just(run_id)


# -- Public strategies ----------------------------------------------------------------------------


def events(
    run_id: str | None = None,
    event_types: Iterable[type[Event]] | None = None,
) -> st.SearchStrategy[Event]:
    """Single events, each a valid instance of a concrete event class.

    Each event stands alone: its sequence number is any from 1 up, its host
    names any :func:`host_names`. For events that belong together in a run,
    use :func:`event_sequences`.

    Args:
        run_id: The run every event belongs to; random run ids if None.
        event_types: The classes to draw from (each must be in
            :data:`~eventstate.events.EVENT_TYPES`); every one if None.

    Returns:
        A strategy of :class:`~eventstate.events.Event` instances.

    Raises:
        hypothesis.errors.InvalidArgument: ``run_id`` is empty, or
            ``event_types`` is empty or names a class the codec does not know.
    """
    run_ids = _run_ids(run_id)
    if event_types is None:
        classes = list(EVENT_TYPES.values())
    else:
        classes = list(dict.fromkeys(event_types))
        if not classes:
            raise InvalidArgument("event_types must name at least one event class")
        unknown = [cls for cls in classes if cls not in _FIELDS]
        if unknown:
            raise InvalidArgument(f"no strategy for event classes {unknown!r}")
    hosts = _any_hosts()
    return st.one_of([_event(cls, run_ids, _SEQS, _DATETIMES, hosts) for cls in classes])


#: The classes that may follow a run's RunStarted and come before its RunFinished.
_MIDDLE_TYPES = tuple(cls for cls in EVENT_TYPES.values() if cls not in (RunStarted, RunFinished))


@st.composite
def _sequences(draw: st.DrawFn, run_ids: st.SearchStrategy[str], max_size: int) -> list[Event]:
    run_id = st.just(draw(run_ids))
    pool = tuple(draw(st.lists(host_names(), min_size=1, max_size=6, unique=True)))
    hosts = _pool_hosts(pool)
    middle = draw(st.lists(st.sampled_from(_MIDDLE_TYPES), max_size=max_size - 1))
    finished = len(middle) < max_size - 1 and draw(st.booleans())
    classes: list[type[Event]] = [RunStarted, *middle, *([RunFinished] if finished else [])]
    at = draw(_RUN_STARTS)
    run = []
    for seq, cls in enumerate(classes, start=1):
        if seq > 1:
            at += draw(_GAPS)
        run.append(draw(_event(cls, run_id, st.just(seq), st.just(at), hosts)))
    return run


def event_sequences(
    run_id: str | None = None, *, max_size: int = 20
) -> st.SearchStrategy[list[Event]]:
    """Runs: lists of events with sequence numbers 1 to n, in the order they were recorded.

    Every run starts with a :class:`~eventstate.events.RunStarted` whose
    ``hosts`` (and ``groups``) name every host the later events mention; it
    may end with a :class:`~eventstate.events.RunFinished`, and neither type
    appears anywhere else. All events share one run id, and their timestamps
    never go backwards.

    Only these invariants hold: the run is not one a State would necessarily
    record (an operation may finish on a host it was never added for, a host
    may connect twice, stages may repeat).

    Args:
        run_id: The run's id; a random one for each run if None.
        max_size: The most events a run holds, RunStarted included.

    Returns:
        A strategy of lists of :class:`~eventstate.events.Event`, never empty.

    Raises:
        hypothesis.errors.InvalidArgument: ``run_id`` is empty or ``max_size`` below 1.
    """
    run_ids = _run_ids(run_id)
    if not isinstance(max_size, int) or max_size < 1:
        raise InvalidArgument(f"max_size must be an integer of at least 1, not {max_size!r}")
    return _sequences(run_ids, max_size)
