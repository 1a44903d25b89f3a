"""An operation's hash on a host, from its order key: pyinfra 3.10's, found in constant time.

pyinfra hashes an op's order key (its call-site lines, or its position in API
mode, and its loop positions) and, when the host already has that hash -- an
op called in a plain ``for`` loop has the same lines every time -- tries
``HASH-0``, then ``HASH-0-1``, ``HASH-0-1-2``... until one is free, counting
the tries into the order. It walks that chain from its start on every call,
testing each link against the host's list of hashes: the ``n``-th duplicate
costs ``n`` list scans. Here each host keeps a set of its hashes and where
each chain was last left, so the ``n``-th duplicate costs what the first did;
the hashes and orders are pyinfra's, link for link.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from hashlib import sha1

__all__ = ["OpHashes"]


class _HostHashes:
    """One host's hashes: a set kept level with its op order, and each chain's last link."""

    __slots__ = ("order", "resume", "synced", "taken")

    def __init__(self, order: Sequence[str]) -> None:
        self.order = order
        self.taken: set[str] = set()
        self.synced = 0
        #: base hash -> (the last link given out, its number of tries).
        self.resume: dict[str, tuple[str, int]] = {}

    def current(self) -> set[str]:
        # The order only grows (every op added to the host appends its hash; nothing
        # removes one), so the set catches up with what was appended since.
        order = self.order
        if len(order) != self.synced:
            self.taken.update(order[self.synced :])
            self.synced = len(order)
        return self.taken


class OpHashes:
    """The hashes of one deploy's operations on its hosts (one per State)."""

    __slots__ = ("_hashes", "_hosts")

    def __init__(self) -> None:
        # Order key -> its hash: a pure function, the same for every host.
        self._hashes: dict[tuple[int, ...], str] = {}
        self._hosts: dict[object, _HostHashes] = {}

    def hash_on_host(
        self, host: object, host_order: Sequence[str], order: list[int]
    ) -> tuple[tuple[int, ...], str]:
        """The op's order key and hash on ``host``, whose op order so far is ``host_order``.

        A duplicate's hash gets ``-0``, ``-0-1``... and its count joins ``order``.
        """
        key = tuple(order)
        op_hash = self._hashes.get(key)
        if op_hash is None:
            # Interned: every host of a deploy holds the same hashes, many times over.
            op_hash = self._hashes[key] = sys.intern(sha1(repr(key).encode()).hexdigest())
        hashes = self._hosts.get(host)
        if hashes is None or hashes.order is not host_order:
            hashes = self._hosts[host] = _HostHashes(host_order)
        taken = hashes.current()
        if op_hash not in taken:
            return key, op_hash
        base = op_hash
        duplicates = 0
        # Every link before the last one given out was taken then, and still is.
        resumed = hashes.resume.get(base)
        if resumed is not None:
            op_hash, duplicates = resumed
        while op_hash in taken:
            op_hash = sys.intern(f"{op_hash}-{duplicates}")
            duplicates += 1
        hashes.resume[base] = (op_hash, duplicates)
        return (*key, duplicates), op_hash
