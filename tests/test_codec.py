"""The codec: canonical round trips, errors that name the culprit, upcasting, the stored format."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import attrs
import orjson
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from eventstate.codec import EventCodec, dict_encoder, make_converter
from eventstate.errors import CodecError, SchemaVersionError, UnknownEventTypeError
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
from eventstate.testing.strategies import event_sequences, events, host_names

# Payloads as each format generation wrote them, kept forever: v1's lines stay as they
# were even after their type's version is bumped (they are then read through upcasters).
GOLDEN = [Path(__file__).parent / "data" / f"golden_events_v{n}.jsonl" for n in (1, 2, 3)]

codec = EventCodec()

_AT = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=timezone.utc)


def _canonical(data: Any) -> str:
    # The canonical form the codec promises: orjson's, keys sorted. It differs from
    # json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) only in how
    # floats are spelled (1e-05 there, 1e-5 here); _assert_keys_sorted checks the rest.
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()


def _assert_keys_sorted(text: str) -> None:
    def check(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert keys == sorted(keys), keys
        return dict(pairs)

    json.loads(text, object_pairs_hook=check)


def _payload(event: Event, **changes: Any) -> dict[str, Any]:
    """The stored dict of ``event``, with ``changes`` made (a None value deletes the key)."""
    data = json.loads(codec.encode(event))
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return data


def _host_activated() -> HostActivated:
    return HostActivated(run_id="run-1", seq=1, at=_AT, host="web1")


# -- Round trips ----------------------------------------------------------------------------------


@given(events())
def test_the_generated_encoder_gives_what_cattrs_gives(event: Event) -> None:
    # The write path builds each stored dict with a function generated from the class's
    # fields; cattrs' unstructuring, which it replaced, is the reference.
    expected = make_converter().unstructure(event)
    expected.update(type=type(event).event_type, v=type(event).version)
    assert codec.to_dict(event) == expected
    assert dict_encoder(type(event))(event) == expected


@given(events())
def test_every_event_round_trips_and_encodes_canonically(event: Event) -> None:
    text = codec.encode(event)
    decoded = codec.decode(text)

    assert type(decoded) is type(event)
    assert decoded == event
    assert codec.encode(decoded) == text
    assert codec.decode(text.encode("utf-8")) == event
    assert text == _canonical(json.loads(text))
    _assert_keys_sorted(text)

    data = json.loads(text)
    assert data["type"] == type(event).event_type
    assert data["v"] == type(event).version
    field_names = {field.name for field in attrs.fields(type(event))}
    assert set(data) == field_names | {"type", "v"}


@given(event_sequences())
def test_a_drawn_run_round_trips_event_by_event(run: list[Event]) -> None:
    payloads = [codec.encode(event) for event in run]
    assert [codec.decode(payload) for payload in payloads] == run
    assert [json.loads(payload)["seq"] for payload in payloads] == list(range(1, len(run) + 1))


# -- The strategies themselves ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
def test_events_draws_every_event_type(cls: type[Event]) -> None:
    # Generation only: the first example found will do, shrinking it would take seconds.
    quick = settings(phases=[Phase.generate], database=None, max_examples=1000)
    event = find(events(), lambda e: type(e) is cls, settings=quick)
    assert isinstance(event, cls)


@given(st.data())
def test_events_draws_only_the_types_asked_for(data: st.DataObject) -> None:
    chosen = data.draw(
        st.lists(st.sampled_from(list(EVENT_TYPES.values())), min_size=1, max_size=3, unique=True)
    )
    event = data.draw(events(run_id="run-x", event_types=chosen))
    assert type(event) in chosen
    assert event.run_id == "run-x"


@given(events())
def test_events_are_valid_instances(event: Event) -> None:
    assert event.seq >= 1
    assert event.at.tzinfo is not None
    assert event.at.utcoffset() == timedelta(0)
    for field in attrs.fields(type(event)):
        value = getattr(event, field.name)
        if field.name in ("hosts", "command_line", "names", "args", "op_order"):
            assert value is None or isinstance(value, tuple), field.name
        if field.name in ("stage", "previous"):
            assert isinstance(value, StateStage)


@given(events(event_types=[RunStarted, OperationAdded]))
def test_event_mappings_hold_only_json_values(event: Event) -> None:
    if isinstance(event, RunStarted):
        _assert_json_safe(dict(event.config))
    else:
        assert isinstance(event, OperationAdded)
        _assert_json_safe(dict(event.global_arguments))


def _assert_json_safe(value: Any) -> None:
    if isinstance(value, float):
        assert math.isfinite(value), value
    elif isinstance(value, list):
        for item in value:
            _assert_json_safe(item)
    elif isinstance(value, dict):
        assert all(isinstance(key, str) for key in value), value
        for item in value.values():
            _assert_json_safe(item)
    else:
        assert value is None or isinstance(value, (bool, int, str)), value


@given(host_names())
def test_host_names_are_non_empty_and_have_no_whitespace(name: str) -> None:
    assert name
    assert not re.search(r"\s", name)


def _hosts_mentioned(event: Event) -> set[str]:
    if isinstance(event, RunStarted):
        return {name for members in event.groups.values() for name in members}
    host = getattr(event, "host", None)
    hosts = getattr(event, "hosts", None) or ()
    return ({host} if host else set()) | set(hosts)


@given(event_sequences(run_id="run-seq", max_size=12))
def test_event_sequences_keep_their_invariants(run: list[Event]) -> None:
    first, *rest = run
    assert isinstance(first, RunStarted)
    assert 1 <= len(run) <= 12
    assert [event.seq for event in run] == list(range(1, len(run) + 1))
    assert {event.run_id for event in run} == {"run-seq"}
    assert all(earlier.at <= later.at for earlier, later in zip(run, rest, strict=False))
    assert not any(isinstance(event, RunStarted) for event in rest)
    assert not any(isinstance(event, RunFinished) for event in run[:-1])
    assert len(set(first.hosts)) == len(first.hosts)
    for event in run:
        assert _hosts_mentioned(event) <= set(first.hosts), event


@pytest.mark.parametrize(
    "make",
    [
        lambda: events(event_types=[]),
        lambda: events(event_types=[_RenamedV2]),
        lambda: events(run_id=""),
        lambda: event_sequences(max_size=0),
        lambda: event_sequences(run_id=""),
    ],
    ids=["no-types", "unknown-type", "empty-run-id", "max-size-0", "sequence-empty-run-id"],
)
def test_the_strategies_refuse_bad_arguments(make: Any) -> None:
    with pytest.raises(InvalidArgument):
        make()


# -- Errors ---------------------------------------------------------------------------------------


def test_an_unknown_type_is_named() -> None:
    payload = json.dumps(_payload(_host_activated(), type="HostTeleported"))
    with pytest.raises(UnknownEventTypeError, match="HostTeleported"):
        codec.decode(payload)


def test_a_missing_type_is_unknown() -> None:
    with pytest.raises(UnknownEventTypeError):
        codec.from_dict(_payload(_host_activated(), type=None))


def test_a_newer_version_names_the_type_and_version() -> None:
    payload = json.dumps(_payload(_host_activated(), v=7))
    with pytest.raises(SchemaVersionError, match=r"HostActivated version 7\b") as info:
        codec.decode(payload)
    assert isinstance(info.value, CodecError)


@pytest.mark.parametrize("payload", ["", "{", "not json", '{"type": "HostActivated",}', b"\xff"])
def test_a_payload_that_is_not_json_is_a_codec_error(payload: str | bytes) -> None:
    with pytest.raises(CodecError, match="not JSON"):
        codec.decode(payload)


@pytest.mark.parametrize("payload", ["[]", "[{}]", "1", "null", '"HostActivated"', "true"])
def test_json_that_is_not_an_object_is_a_codec_error(payload: str) -> None:
    with pytest.raises(CodecError, match="not a JSON object"):
        codec.decode(payload)


_EVENT_SAMPLES: dict[str, Event] = {
    "HostActivated": _host_activated(),
    "HostOperationFinished": HostOperationFinished(
        run_id="run-1", seq=2, at=_AT, host="web1", op_hash="abc", outcome=OpOutcome.SUCCESS
    ),
    "HostsFailed": HostsFailed(
        run_id="run-1",
        seq=3,
        at=_AT,
        hosts=("web1",),
        activated_count=2,
        outcome=FailOutcome.CONTINUED,
    ),
    "StageChanged": StageChanged(
        run_id="run-1", seq=4, at=_AT, stage=StateStage.Execute, previous=StateStage.Prepare
    ),
    "RunStarted": RunStarted(
        run_id="run-1",
        seq=1,
        at=_AT,
        user="u",
        machine="m",
        command_line=("pyinfra",),
        engine_version="0.1.0",
        hosts=("web1",),
        groups={"web": ("web1",)},
        config={"PARALLEL": 0},
    ),
}


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("HostActivated", "seq", "first"),
        ("HostActivated", "seq", [1]),
        ("HostActivated", "at", 1767323045),
        ("HostActivated", "at", "yesterday"),
        ("HostOperationFinished", "outcome", "exploded"),
        ("HostOperationFinished", "retry_count", {"n": 1}),
        ("HostsFailed", "activated_count", "many"),
        ("HostsFailed", "hosts", 5),
        ("StageChanged", "stage", "Teardown"),
        ("StageChanged", "previous", 9),
        ("RunStarted", "config", ["PARALLEL", 0]),
        ("RunStarted", "groups", 5),
        ("RunStarted", "command_line", 3),
    ],
)
def test_a_wrong_field_type_is_a_one_line_error_naming_the_field(
    event_type: str, field: str, value: Any
) -> None:
    payload = json.dumps(_payload(_EVENT_SAMPLES[event_type], **{field: value}))
    with pytest.raises(CodecError) as info:
        codec.decode(payload)
    message = str(info.value)
    assert "\n" not in message
    assert event_type in message
    assert re.search(rf"\b{field}\b", message), message


@pytest.mark.parametrize("field", ["host", "run_id", "seq", "at"])
def test_a_missing_field_is_an_error_naming_it(field: str) -> None:
    with pytest.raises(CodecError, match=rf"\b{field}\b"):
        codec.from_dict(_payload(_host_activated(), **{field: None}))


def test_decoding_leaves_the_stored_dict_alone() -> None:
    data = _payload(_host_activated())
    before = dict(data)
    codec.from_dict(data)
    assert data == before


def test_encoding_an_unregistered_class_is_an_unknown_type() -> None:
    event = _RenamedV2(run_id="run-1", seq=1, at=_AT, target="web1")
    with pytest.raises(UnknownEventTypeError, match="_RenamedV2"):
        codec.encode(event)


# A stored value of the wrong JSON type is refused, never coerced (cattrs would call str(),
# int()... and iterate a string into a tuple of characters).


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("HostActivated", "host", 5),
        ("HostActivated", "host", None),
        ("HostActivated", "seq", "3"),
        ("HostActivated", "seq", 1.9),
        ("HostActivated", "seq", True),
        ("HostsFailed", "hosts", "web1"),
        ("HostsFailed", "percent_failed", "12.5"),
        ("RunStarted", "command_line", ["pyinfra", 1]),
    ],
)
def test_a_mistyped_scalar_is_refused_not_coerced(event_type: str, field: str, value: Any) -> None:
    data = json.loads(codec.encode(_EVENT_SAMPLES[event_type]))
    data[field] = value
    with pytest.raises(CodecError):
        codec.from_dict(data)


def test_an_error_inside_a_mapping_field_names_the_field() -> None:
    data = _payload(_EVENT_SAMPLES["RunStarted"], groups={"web": 5})
    with pytest.raises(CodecError, match=r"\bgroups\b"):
        codec.from_dict(data)


def test_an_unhashable_type_tag_is_a_codec_error() -> None:
    with pytest.raises(CodecError):
        codec.decode('{"type": ["HostActivated"], "v": 1}')


# -- Upcasting ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _RenamedV2(Event):
    """Test-only: version 2 renamed version 1's ``host`` to ``target``."""

    event_type: ClassVar[str] = "TestRenamed"
    version: ClassVar[int] = 2

    target: str


@attrs.frozen(kw_only=True)
class _SplitV3(Event):
    """Test-only: v2 renamed ``host`` to ``target``; v3 split it into ``name`` and ``port``."""

    event_type: ClassVar[str] = "TestSplit"
    version: ClassVar[int] = 3

    name: str
    port: int


def _rename_host_to_target(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data["target"] = data.pop("host")
    return data


def _split_target(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    name, _, port = data.pop("target").partition(":")
    return {**data, "name": name, "port": int(port or 22)}


def _test_codec() -> EventCodec:
    return EventCodec(event_types={"TestRenamed": _RenamedV2, "TestSplit": _SplitV3})


_V1 = {
    "type": "TestRenamed",
    "v": 1,
    "run_id": "run-1",
    "seq": 5,
    "at": "2026-01-02T03:04:05+00:00",
}


def test_an_upcaster_turns_a_stored_v1_into_the_current_class() -> None:
    test_codec = _test_codec()
    test_codec.register_upcaster("TestRenamed", 1, _rename_host_to_target)
    stored = {**_V1, "host": "web1"}

    event = test_codec.decode(json.dumps(stored))

    assert event == _RenamedV2(
        run_id="run-1", seq=5, at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), target="web1"
    )
    assert json.loads(test_codec.encode(event))["v"] == 2
    assert "host" not in json.loads(test_codec.encode(event))


def test_upcasters_run_one_step_at_a_time_in_order() -> None:
    test_codec = _test_codec()
    test_codec.register_upcaster("TestSplit", 2, _split_target)
    test_codec.register_upcaster("TestSplit", 1, _rename_host_to_target)
    base = {**_V1, "type": "TestSplit"}

    from_v1 = test_codec.from_dict({**base, "v": 1, "host": "db1:2222"})
    from_v2 = test_codec.from_dict({**base, "v": 2, "target": "db1"})
    from_v3 = test_codec.from_dict({**base, "v": 3, "name": "db1", "port": 2222})

    assert (from_v1.name, from_v1.port) == ("db1", 2222)  # type: ignore[attr-defined]
    assert (from_v2.name, from_v2.port) == ("db1", 22)  # type: ignore[attr-defined]
    assert from_v3 == from_v1


def test_a_current_version_runs_no_upcaster() -> None:
    def refuse(data: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("upcaster ran on a current payload")

    test_codec = _test_codec()
    test_codec.register_upcaster("TestRenamed", 1, refuse)
    assert test_codec.from_dict({**_V1, "v": 2, "target": "web1"}).target == "web1"  # type: ignore[attr-defined]


def test_a_missing_upcaster_is_a_schema_version_error() -> None:
    with pytest.raises(SchemaVersionError, match="TestRenamed from version 1 to 2"):
        _test_codec().decode(json.dumps({**_V1, "host": "web1"}))


def test_a_missing_middle_step_is_a_schema_version_error() -> None:
    test_codec = _test_codec()
    test_codec.register_upcaster("TestSplit", 1, _rename_host_to_target)
    with pytest.raises(SchemaVersionError, match="TestSplit from version 2 to 3"):
        test_codec.from_dict({**_V1, "type": "TestSplit", "host": "db1"})


def test_upcasters_belong_to_their_codec() -> None:
    one, other = _test_codec(), _test_codec()
    one.register_upcaster("TestRenamed", 1, _rename_host_to_target)
    assert one.from_dict({**_V1, "host": "web1"}).target == "web1"  # type: ignore[attr-defined]
    with pytest.raises(SchemaVersionError):
        other.from_dict({**_V1, "host": "web1"})


def test_an_upcaster_for_an_unknown_type_is_refused() -> None:
    with pytest.raises(UnknownEventTypeError, match="NoSuchEvent"):
        EventCodec().register_upcaster("NoSuchEvent", 1, _rename_host_to_target)


def test_the_test_codec_does_not_know_the_default_types() -> None:
    with pytest.raises(UnknownEventTypeError, match="HostActivated"):
        _test_codec().decode(codec.encode(_host_activated()))


# -- The stored format ----------------------------------------------------------------------------


def _golden_lines() -> list[bytes]:
    lines = []
    for path in GOLDEN:
        # Split on newlines only: str.splitlines would also split on U+2028 inside a payload.
        content = path.read_bytes()
        assert content.endswith(b"\n")
        lines += content[:-1].split(b"\n")
    return lines


def _golden_events() -> list[Event]:
    """What the golden payloads mean, written out by hand (built lazily: a renamed field
    fails these tests, not the collection of the module)."""
    run = "0192a3b4c5d6e7f8091a2b3c4d5e6f70"
    op = "5f1c2b9e0d8a7c6b5a4938271605f4e3d2c1b0a9"

    def at(second: int, microsecond: int = 0) -> datetime:
        return datetime(2026, 3, 14, 15, 9, second, microsecond, tzinfo=timezone.utc)

    return [
        RunStarted(
            run_id=run,
            seq=1,
            at=at(26, 535_897),
            user="deploy",
            machine="ci-runner-01",
            command_line=("pyinfra", "inventory.py", "deploy.py", "--limit", "web"),
            engine_version="0.1.0",
            hosts=("web1", "web2", "db1"),
            groups={"web": ("web1", "web2"), "db": ("db1",)},
            config={
                "CONNECT_TIMEOUT": 10,
                "ENV": {"LANG": "C.UTF-8"},
                "FAIL_PERCENT": 50,
                "INHERIT_ENV": [],
                "RETRY_DELAY": 2.5,
                "SUDO": True,
                "SUDO_PASSWORD": "***",
                "TEMP_DIR": None,
            },
            # Version 1 named no log nor head: the upcaster says None for each.
            log_id=None,
            head_run_id=None,
            head_seq=None,
            head_hash=None,
        ),
        StageChanged(
            run_id=run, seq=2, at=at(27), stage=StateStage.Connect, previous=StateStage.Setup
        ),
        HostConnected(run_id=run, seq=3, at=at(28, 1), host="web1"),
        HostConnectFailed(
            run_id=run,
            seq=4,
            at=at(28, 2),
            host="db1",
            error="Could not connect (timeout after 10s)",
        ),
        HostActivated(run_id=run, seq=5, at=at(28, 3), host="web1"),
        OperationAdded(
            run_id=run,
            seq=6,
            at=at(29),
            op_hash=op,
            names=("files.file", "Créer le fichier"),
            args=("path=/etc/motd",),
            op_order=(0, 12, 3),
            global_arguments={
                "_env": {"A": "1"},
                "_retries": 0,
                "_serial": False,
                "_sudo": True,
                "_timeout": 1.5,
            },
        ),
        OperationAddedForHost(
            run_id=run,
            seq=7,
            at=at(29, 500),
            host="web1",
            op_hash=op,
            is_change=None,
            counted=False,
        ),
        HostsFailed(
            run_id=run,
            seq=8,
            at=at(30),
            hosts=("db1",),
            activated_count=3,
            outcome=FailOutcome.CONTINUED,
            percent_failed=33.33333333333333,
        ),
        WarningRaised(run_id=run, seq=9, at=at(30, 999_999), stage=StateStage.Prepare),
        LimitSet(run_id=run, seq=10, at=at(31), hosts=("web1", "web2")),
        ExecutionStarted(run_id=run, seq=11, at=at(32, 100_000)),
        HostOperationFinished(
            run_id=run,
            seq=12,
            at=at(33),
            host="web1",
            op_hash=op,
            outcome=OpOutcome.IGNORED_ERROR,
            commands_executed=2,
            retry_count=1,
            duration=1.25,
            commands=(),  # version 1 carried no commands: the upcaster says none
        ),
        HostDisconnected(run_id=run, seq=13, at=at(34), host="web1"),
        RunFinished(
            run_id=run,
            seq=14,
            at=at(35),
            status=RunStatus.FAILED,
            error="Over 50% of hosts failed (67%)",
            signal=None,  # version 1 had no signal: the upcaster says None
        ),
        OperationStarted(run_id=run, seq=15, at=at(36), op_hash=op),
        CommandExecuted(
            run_id=run,
            seq=17,
            at=at(36, 20),
            host="web1",
            op_hash=op,
            fact=None,
            command="echo *** > /etc/motd",
            success=False,
            exit_code=1,
            duration=0.25,
            stdout="",
            stderr="sh: permission denied\n",
            truncated=False,
            attempt=0,
        ),
        HostOperationRetried(
            run_id=run, seq=18, at=at(37), host="web1", op_hash=op, retry_num=1, max_retries=2
        ),
        OperationEnded(run_id=run, seq=19, at=at(38), op_hash=op),
        DeployLoaded(
            run_id=run,
            seq=20,
            at=at(39),
            inventory="inventory.py",
            inventory_source='web = ["@sim/web1"]\n',
            deploy_file="/srv/deploy.py",
            deploy_source="from eventstate.operations import server\nserver.shell('uptime')\n",
            options={"dry": False, "limit": None, "serial": False},
        ),
        HeartbeatRecorded(run_id=run, seq=21, at=at(40)),
        # golden_events_v2.jsonl
        RunFinished(
            run_id=run,
            seq=22,
            at=at(41),
            status=RunStatus.INTERRUPTED,
            error="interrupted by SIGTERM",
            signal="SIGTERM",
        ),
        RunStarted(
            run_id="0192a3b4c5d6e7f8091a2b3c4d5e6f71",
            seq=1,
            at=datetime(2026, 3, 14, 15, 10, 2, 250_000, tzinfo=timezone.utc),
            user="deploy",
            machine="ci-runner-01",
            command_line=("eventstate", "deploy", "inventory.py", "deploy.py"),
            engine_version="0.2.0",
            hosts=("web1",),
            groups={"web": ("web1",)},
            config={"FAIL_PERCENT": None, "SYNC": False},
            log_id="6c1f0e7d2b3a4958a7b6c5d4e3f2a1b0",
            head_run_id=run,
            head_seq=22,
            head_hash="9e107d9d372bb6826bd81d3542a419d6e277d4d731479571562f82d1b8c6f1a4",
        ),
        # golden_events_v3.jsonl: an op's outcome carrying its commands (version 2)
        HostOperationFinished(
            run_id="0192a3b4c5d6e7f8091a2b3c4d5e6f71",
            seq=2,
            at=datetime(2026, 3, 14, 15, 10, 4, 500_000, tzinfo=timezone.utc),
            host="web1",
            op_hash=op,
            outcome=OpOutcome.ERROR,
            commands_executed=0,
            retry_count=1,
            duration=2.75,
            commands=(
                RecordedCommand(
                    command="sudo -H -n sh -c 'echo *** > /etc/motd'",
                    success=False,
                    exit_code=1,
                    duration=0.25,
                    stdout="",
                    stderr="sh: permission denied\n",
                    truncated=False,
                    attempt=0,
                    fact=None,
                    end=0.5,
                ),
                RecordedCommand(
                    command="cat /etc/os-release",
                    success=True,
                    exit_code=0,
                    duration=0.125,
                    stdout="ID=debian\u2028x\n",
                    stderr="",
                    truncated=True,
                    attempt=1,
                    fact="server.LinuxDistribution",
                    end=2.5,
                ),
                RecordedCommand(
                    command="python: check",
                    success=False,
                    exit_code=None,
                    duration=0.0625,
                    stdout="",
                    stderr="timed out after 1.5s",
                    truncated=False,
                    attempt=1,
                    fact=None,
                    end=2.75,
                ),
            ),
        ),
        # An op added for three hosts at once (version 2), with each host's flags.
        OperationAdded(
            run_id="0192a3b4c5d6e7f8091a2b3c4d5e6f71",
            seq=3,
            at=datetime(2026, 3, 14, 15, 10, 5, tzinfo=timezone.utc),
            op_hash=op,
            names=("server.shell",),
            args=("echo hi",),
            op_order=(0, 4),
            global_arguments={"_serial": False},
            hosts=("web1", "web2", "db1"),
            is_change=(True, None, False),
            counted=(True, True, False),
        ),
    ]


def test_the_golden_files_hold_every_type_at_its_current_version() -> None:
    stored = {(json.loads(line)["type"], json.loads(line)["v"]) for line in _golden_lines()}
    assert {(tag, cls.version) for tag, cls in EVENT_TYPES.items()} <= stored
    assert {tag for tag, _ in stored} == set(EVENT_TYPES)


@pytest.mark.parametrize("index", range(len(_golden_lines())))
def test_a_golden_payload_decodes_and_re_encodes_to_the_same_bytes(index: int) -> None:
    # A line of an older version (RunStarted v1, RunFinished v1) decodes to the upcast
    # event, and re-encodes at the current version with what its upcaster adds.
    line = _golden_lines()[index]
    event = codec.decode(line)
    assert event == _golden_events()[index]
    encoded = codec.encode(event).encode("utf-8")
    if json.loads(line)["v"] == type(event).version:
        assert encoded == line
    else:
        assert json.loads(encoded) == {
            **json.loads(line),
            **_UPCAST_ADDS[event.event_type],
            "v": type(event).version,
        }


#: What each upcaster from version 1 adds to a stored payload.
_UPCAST_ADDS = {
    "RunFinished": {"signal": None},
    "HostOperationFinished": {"commands": []},
    "OperationAdded": {"hosts": [], "is_change": [], "counted": []},
    "RunStarted": {"log_id": None, "head_run_id": None, "head_seq": None, "head_hash": None},
}
