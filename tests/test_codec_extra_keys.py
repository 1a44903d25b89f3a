"""A stored payload holding a key its event does not have is refused, naming the key.

An event is exactly its fields: a key the class does not know is either a
newer schema (which carries a newer ``v``) or something slipped into the log.
Accepting it silently would let a payload carry text that no view shows and
that the chain nonetheless vouches for.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import orjson
import pytest

from eventstate.chain import GENESIS_HASH, chain_hash
from eventstate.codec import EventCodec, canonical_bytes
from eventstate.errors import CodecError
from eventstate.events import EVENT_TYPES
from eventstate.replay import verify_events
from eventstate.testing.runs import sample_run

GOLDEN = Path(__file__).parent / "data" / "golden_events_v1.jsonl"


def _golden() -> dict[str, bytes]:
    lines = GOLDEN.read_bytes()[:-1].split(b"\n")
    return {orjson.loads(line)["type"]: line for line in lines}


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_an_extra_key_in_any_event_is_a_codec_error_naming_it(event_type: str) -> None:
    codec = EventCodec()
    data = orjson.loads(_golden()[event_type])
    codec.decode(canonical_bytes(data))  # as stored, it decodes
    data["smuggled_note"] = "not a field"
    with pytest.raises(CodecError) as raised:
        codec.decode(canonical_bytes(data))
    message = str(raised.value)
    assert event_type in message and "smuggled_note" in message
    assert "\n" not in message


def test_an_extra_key_is_refused_from_a_dict_too() -> None:
    data = orjson.loads(_golden()["HostActivated"])
    with pytest.raises(CodecError, match=r"cannot decode HostActivated: .*extra_host"):
        EventCodec().from_dict({**data, "extra_host": "db9"})


def test_verify_names_a_payload_with_an_extra_key_even_rechained() -> None:
    # The key added and every hash recomputed: the chain holds, the decode must not.
    prev = GENESIS_HASH
    forged = []
    for row in sample_run("r").rows():
        payload = row.payload
        if row.seq == 3:
            payload = canonical_bytes({**orjson.loads(payload), "note": "planted"}).decode()
        digest = chain_hash(prev, payload)
        forged.append(attrs.evolve(row, payload=payload, prev_hash=prev, hash=digest))
        prev = digest
    report = verify_events("r", forged)
    assert report.bad_seq == 3
    assert str(report).startswith("run r, event 3: does not decode: cannot decode HostActivated")
    assert "note" in str(report)
