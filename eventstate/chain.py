"""The per-run SHA-256 hash chain that makes a stored run tamper-evident.

Each event's hash covers the previous event's hash and the event's canonical
JSON, so changing, removing or reordering any stored event breaks every hash
after it. The first event of a run chains from :data:`GENESIS_HASH`.
"""

from __future__ import annotations

from hashlib import sha256

__all__ = ["GENESIS_HASH", "chain_hash"]

#: The ``prev_hash`` of the first event of every run.
GENESIS_HASH = "0" * 64


def chain_hash(prev_hash: str, payload: str | bytes) -> str:
    """The hash of the event whose canonical JSON is ``payload``, following ``prev_hash``.

    ``sha256(prev_hash + "\\n" + payload)``, over UTF-8; pass the payload's bytes
    when you have them (the writer does) to skip encoding it again.
    """
    if isinstance(payload, str):
        payload = payload.encode()
    return sha256(prev_hash.encode() + b"\n" + payload).hexdigest()
