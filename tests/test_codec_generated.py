"""The generated decoders: what cattrs' structuring gives, for every event, and declining
(so that cattrs names the error) whatever cattrs would refuse.

The reference is a codec given its converter explicitly: it decodes through cattrs
alone, as every codec did before the decoders were generated.
"""

from __future__ import annotations

import types
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventstate.codec import EventCodec, dict_decoder, make_converter
from eventstate.errors import CodecError
from eventstate.events import (
    EVENT_TYPES,
    Event,
    HostActivated,
    HostOperationFinished,
    OpOutcome,
    RecordedCommand,
)
from eventstate.testing.strategies import event_sequences, events

GOLDEN = [Path(__file__).parent / "data" / f"golden_events_v{n}.jsonl" for n in (1, 2, 3)]

_AT = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=timezone.utc)
_AT_S = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

codec = EventCodec()
#: Decodes through cattrs alone: a converter of the caller's turns the generated decoders off.
cattrs_codec = EventCodec(converter=make_converter())
converter = make_converter()


def _golden_lines() -> list[bytes]:
    return [line for path in GOLDEN for line in path.read_bytes()[:-1].split(b"\n")]


#: A golden payload of each type at its current version.
_GOLDEN_BY_TYPE = {
    orjson.loads(line)["type"]: line
    for line in _golden_lines()
    if orjson.loads(line)["v"] == EVENT_TYPES[orjson.loads(line)["type"]].version
}

_DECODERS = {cls: dict_decoder(cls) for cls in EVENT_TYPES.values()}
_FIELD_DECODERS = {cls: dict_decoder(cls, stored=False) for cls in EVENT_TYPES.values()}

#: JSON values a damaged payload could hold in place of a field's.
_JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
        st.sampled_from(["success", "Execute", "2026-01-02T03:04:05+00:00", "2026-01-02T03:04"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)


def _stored(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(codec.encode(event))
    return data


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in ("type", "v")}


def _cattrs(data: dict[str, Any]) -> Event:
    cls = EVENT_TYPES[data["type"]]
    event: Event = converter.structure(_fields(data), cls)
    return event


def _outcome(decode: Any, data: Any) -> tuple[str, Any]:
    """What ``decode(data)`` gives: ("event", it) or ("error", its class and message)."""
    try:
        return "event", decode(data)
    except CodecError as error:
        return "error", (type(error), str(error))


def _same_event(got: Event, expected: Event) -> None:
    assert type(got) is type(expected)
    assert got == expected
    assert repr(got) == repr(expected)
    values = attrs.astuple(expected, recurse=False)
    if not any(isinstance(value, types.MappingProxyType) for value in values):
        assert hash(got) == hash(expected)  # (an event holding a mapping has no hash)
    for field in attrs.fields(type(expected)):
        value, wanted = getattr(got, field.name), getattr(expected, field.name)
        assert type(value) is type(wanted), field.name
        if isinstance(wanted, tuple) and wanted and attrs.has(type(wanted[0])):
            assert [type(item) for item in value] == [type(item) for item in wanted]


def test_every_event_type_has_a_generated_decoder() -> None:
    # A field type the generator does not know would silently fall back to cattrs.
    for cls in EVENT_TYPES.values():
        assert codec._classes[cls].decoder(stored=True) is not None, cls
        assert codec._classes[cls].decoder(stored=False) is not None, cls
    for event_type, cls in EVENT_TYPES.items():  # and a decode takes it up
        codec.decode(_GOLDEN_BY_TYPE[event_type])
        assert codec._decode_stored[event_type] is codec._classes[cls].decoder(stored=True)


@given(events())
def test_the_generated_decoder_gives_what_cattrs_gives(event: Event) -> None:
    data = _stored(event)
    expected = _cattrs(data)
    assert expected == event
    _same_event(_DECODERS[type(event)](data), expected)
    _same_event(_FIELD_DECODERS[type(event)](_fields(data)), expected)
    _same_event(codec.decode(codec.encode(event)), expected)
    _same_event(codec.from_dict(data), expected)


@given(event_sequences())
def test_a_drawn_run_decodes_as_cattrs_decodes_it(run: list[Event]) -> None:
    payloads = [codec.encode(event) for event in run]
    assert [codec.decode(payload) for payload in payloads] == [
        cattrs_codec.decode(payload) for payload in payloads
    ]


@given(events(), st.data())
def test_absent_optional_fields_take_their_defaults(event: Event, data: st.DataObject) -> None:
    stored = _stored(event)
    optional = [f.name for f in attrs.fields(type(event)) if f.default is not attrs.NOTHING]
    dropped = data.draw(st.lists(st.sampled_from(optional), unique=True)) if optional else []
    for name in dropped:
        del stored[name]
    expected = _cattrs(stored)
    _same_event(_DECODERS[type(event)](stored), expected)
    _same_event(codec.from_dict(stored), expected)


@given(events(event_types=[HostOperationFinished]), st.data())
def test_absent_optional_fields_of_a_recorded_command_take_their_defaults(
    event: Event, data: st.DataObject
) -> None:
    stored = _stored(event)
    optional = [f.name for f in attrs.fields(RecordedCommand) if f.default is not attrs.NOTHING]
    for command in stored["commands"]:
        for name in data.draw(st.lists(st.sampled_from(optional), unique=True)):
            del command[name]
    _same_event(codec.from_dict(stored), _cattrs(stored))


def _damage(stored: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """``stored`` with one thing wrong, maybe: a value replaced (in the event or in one of
    its commands), a key removed, or a key added."""
    target = stored
    if stored.get("commands") and data.draw(st.booleans()):
        target = data.draw(st.sampled_from(stored["commands"]))
    keys = sorted(target)
    how = data.draw(st.sampled_from(["replace", "remove", "add"]))
    if how == "replace":
        target[data.draw(st.sampled_from(keys))] = data.draw(_JSON_VALUES)
    elif how == "remove":
        del target[data.draw(st.sampled_from(keys))]
    else:
        target[data.draw(st.sampled_from(["note", "hosts", "commands", "type"]))] = data.draw(
            _JSON_VALUES
        )
    return stored


@given(events(), st.data())
def test_a_damaged_dict_decodes_or_fails_exactly_as_through_cattrs(
    event: Event, data: st.DataObject
) -> None:
    # The generated decoder only takes what cattrs takes, to the same event; anything
    # else it declines, and the codec's error is cattrs' error, word for word.
    stored = _damage(_stored(event), data)
    payload = orjson.dumps(stored)
    got, expected = _outcome(codec.decode, payload), _outcome(cattrs_codec.decode, payload)
    assert got[0] == expected[0], (got, expected)
    if got[0] == "event":
        _same_event(got[1], expected[1])
    else:
        assert got == expected
        assert "\n" not in got[1][1]
    assert _outcome(codec.from_dict, stored)[0] == got[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seq", True),  # a bool is not an int
        ("seq", 1.0),
        ("duration", True),
        ("duration", "0.5"),
        ("outcome", "SUCCESS"),  # by value, not by name
        ("outcome", ["success"]),
        ("at", "2026-01-02T03:04:05"),  # no timezone
        ("at", "yesterday"),
        ("commands", "echo"),
        ("commands", [{"command": "echo", "success": 1}]),
        ("commands", [{"command": "echo"}]),
        ("commands", [["echo", True]]),
        ("v", True),
        ("v", 2.0),
    ],
)
def test_a_wrong_value_is_refused_with_cattrs_message(field: str, value: Any) -> None:
    event = HostOperationFinished(
        run_id="r", seq=1, at=_AT, host="web1", op_hash="abc", outcome=OpOutcome.SUCCESS
    )
    stored = {**_stored(event), field: value}
    with pytest.raises(Exception):  # noqa: B017 - any exception: the decoder declines
        _DECODERS[HostOperationFinished](stored)
    with pytest.raises(CodecError) as raised:
        codec.from_dict(stored)
    with pytest.raises(CodecError) as reference:
        cattrs_codec.from_dict(stored)
    assert (type(raised.value), str(raised.value)) == (type(reference.value), str(reference.value))
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("index", range(len(_golden_lines())))
def test_a_golden_payload_decodes_as_through_cattrs(index: int) -> None:
    # Old versions too: upcast, then the generated decoder of the fields takes them.
    line = _golden_lines()[index]
    _same_event(codec.decode(line), cattrs_codec.decode(line))


def test_a_mapping_that_is_not_a_dict_decodes_through_the_general_path() -> None:
    data = _stored(HostActivated(run_id="r", seq=1, at=_AT, host="web1"))
    assert codec.from_dict(types.MappingProxyType(data)) == codec.from_dict(data)


def test_a_str_subclass_is_left_to_cattrs_which_takes_it() -> None:
    class Name(str):
        pass

    data = _stored(HostActivated(run_id="r", seq=1, at=_AT, host="web1"))
    data["host"] = Name("web1")
    with pytest.raises(Exception):  # noqa: B017 - the generated decoder declines it
        _DECODERS[HostActivated](data)
    assert codec.from_dict(data) == cattrs_codec.from_dict(data)


@attrs.frozen(kw_only=True)
class _Validated(Event):
    """Test-only: a field with a validator, and a cached hash (__init__ must run)."""

    event_type: ClassVar[str] = "TestValidated"

    port: int = attrs.field(validator=attrs.validators.ge(1))


@attrs.frozen(kw_only=True, cache_hash=True)
class _CachedHash(Event):
    """Test-only: a cached hash, a slot that is no field (__init__ must run)."""

    event_type: ClassVar[str] = "TestCachedHash"

    port: int = 22


def test_a_class_whose_init_does_more_than_set_fields_is_built_by_its_init() -> None:
    test_codec = EventCodec(
        event_types={"TestValidated": _Validated, "TestCachedHash": _CachedHash}
    )
    envelope = {"run_id": "r", "seq": 1, "at": "2026-01-02T03:04:05+00:00", "v": 1}
    good = {**envelope, "type": "TestValidated", "port": 22}
    assert dict_decoder(_Validated)(good) == _Validated(run_id="r", seq=1, at=_AT_S, port=22)
    assert test_codec.from_dict(good) == _Validated(run_id="r", seq=1, at=_AT_S, port=22)
    bad = {**good, "port": 0}
    with pytest.raises(ValueError):  # the validator ran
        dict_decoder(_Validated)(bad)
    with pytest.raises(CodecError, match=r"cannot decode TestValidated: .*port"):
        test_codec.from_dict(bad)
    cached = test_codec.from_dict({**envelope, "type": "TestCachedHash"})
    assert hash(cached) == hash(_CachedHash(run_id="r", seq=1, at=_AT_S))
