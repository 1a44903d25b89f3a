"""The per-run SHA-256 hash chain that makes a stored run tamper-evident.

Each event's hash covers the previous event's hash and the event's canonical
JSON, so changing, removing or reordering any stored event breaks every hash
after it. The first event of a run chains from :data:`GENESIS_HASH`.

The formula, exactly (what an independent checker recomputes from a row)::

    hash(1)   = sha256_hex(GENESIS_HASH || 0x0A || payload(1))
    hash(n)   = sha256_hex(hash(n - 1)  || 0x0A || payload(n))

where ``||`` is byte concatenation; ``GENESIS_HASH`` and every ``hash(n)`` are
64 lowercase hexadecimal ASCII characters (``GENESIS_HASH`` is 64 ``0``);
``0x0A`` is one line-feed byte; ``payload(n)`` is the row's stored ``payload``
column encoded as UTF-8, every byte of it, as stored; and ``sha256_hex`` is the
lowercase hexadecimal SHA-256 digest. A row's ``prev_hash`` column is
``hash(n - 1)`` (``GENESIS_HASH`` for seq 1) and its ``hash`` column is
``hash(n)``. The payload is the event's canonical JSON as
:func:`eventstate.codec.canonical_bytes` writes it (one object, keys sorted,
no whitespace, non-ASCII text unescaped), but checking the chain needs only
the stored bytes. In Python::

    hashlib.sha256(prev_hash.encode("ascii") + b"\\n" + payload.encode("utf-8")).hexdigest()

Only the ``payload`` is hashed: the other columns of a row are copies of its
fields, checked against the payload by :func:`eventstate.replay.verify_events`.

Runs are chained to each other too: each run's ``RunStarted`` names the log's
head when it began (:func:`eventstate.recorder.head_fields`) -- the run id, sequence number and
hash of the last event of the newest run then in the log, or ``GENESIS_HASH``
(run None, seq 0) for an empty log -- and the id of the log. Since that
``RunStarted`` is itself chained, a run deleted or a run's tail cut is found
from any later run of the same log (``eventstate verify``); the newest run is
covered by a head saved elsewhere (``eventstate head``, ``verify --anchor``).
"""

from __future__ import annotations

from hashlib import sha256

__all__ = ["GENESIS_HASH", "chain_hash"]

#: The ``prev_hash`` of the first event of every run.
GENESIS_HASH = "0" * 64


def chain_hash(prev_hash: str, payload: str | bytes) -> str:
    """The hash of the event whose canonical JSON is ``payload``, following ``prev_hash``.

    ``sha256(prev_hash + "\\n" + payload)``, over UTF-8, as lowercase hex (the
    formula in the module's docstring); pass the payload's bytes when you have
    them (the writer does) to skip encoding it again.
    """
    if isinstance(payload, str):
        payload = payload.encode()
    return sha256(prev_hash.encode() + b"\n" + payload).hexdigest()
