"""Per-host operation meta: how many ops each host got, and how many will change it."""

from __future__ import annotations

from typing import Any

from eventstate.events import OperationAdded, OperationAddedForHost, RunStarted
from eventstate.projections.base import Projection, applies
from eventstate.projections.views import ReadOnlyDict, ReadOnlyRecord, ReadOnlySet, record_property

__all__ = ["HostMeta", "HostMetaProjection"]

_OPS, _CHANGE, _NO_CHANGE = range(3)


class HostMeta(ReadOnlyRecord):
    """pyinfra's ``StateHostMeta``, read-only.

    ``ops == ops_change + ops_no_change``; ``op_hashes`` holds the hashes of
    the ops counted for the host (pyinfra declares it and never fills it).
    """

    __slots__ = ("_op_hashes", "_values", "op_hashes")

    ops = record_property(_OPS, "Operations added for the host.")
    ops_change = record_property(_CHANGE, "Of those, operations expected to change the host.")
    ops_no_change = record_property(_NO_CHANGE, "Operations expected to change nothing.")

    #: The hashes of the ops counted for the host (pyinfra never fills its own).
    op_hashes: ReadOnlySet[str]
    _values: list[int]
    _op_hashes: dict[str, None]

    def __init__(self) -> None:
        op_hashes: dict[str, None] = {}
        object.__setattr__(self, "_values", [0, 0, 0])
        object.__setattr__(self, "_op_hashes", op_hashes)
        object.__setattr__(self, "op_hashes", ReadOnlySet(op_hashes))

    def as_dict(self) -> dict[str, Any]:
        """The counters and hashes as plain values."""
        return {
            "ops": self.ops,
            "ops_change": self.ops_change,
            "ops_no_change": self.ops_no_change,
            "op_hashes": list(self._op_hashes),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HostMeta):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"HostMeta(ops={self.ops}, ops_change={self.ops_change}, "
            f"ops_no_change={self.ops_no_change})"
        )


def _hold(meta: HostMeta, op_hashes: dict[str, None]) -> None:
    """Give ``meta`` the dict ``op_hashes`` (its read-only view follows)."""
    object.__setattr__(meta, "_op_hashes", op_hashes)
    meta.op_hashes._data = op_hashes


class HostMetaProjection(Projection):
    """A :class:`HostMeta` for every inventory host, counted from ops added."""

    def __init__(self) -> None:
        self._meta: dict[str, HostMeta] = {}
        # After a restore, the hosts whose op hashes are their own (the others share).
        self._owning: set[str] = set()
        self.meta: ReadOnlyDict[str, HostMeta] = ReadOnlyDict(self._meta)

    def _host(self, name: str) -> HostMeta:
        meta = self._meta.get(name)
        if meta is None:
            meta = self._meta[name] = HostMeta()
        return meta

    @applies(RunStarted)
    def _started(self, event: RunStarted) -> None:
        for name in event.hosts:
            self._host(name)

    @applies(OperationAddedForHost)
    def _added(self, event: OperationAddedForHost) -> None:
        if event.counted:
            self._count(event.host, event.op_hash, event.is_change)

    @applies(OperationAdded)
    def _added_for_hosts(self, event: OperationAdded) -> None:
        for host, is_change, counted in zip(
            event.hosts, event.is_change, event.counted, strict=False
        ):
            if counted:
                self._count(host, event.op_hash, is_change)

    def _count_own(self, host: str, op_hash: str, is_change: bool | None) -> None:
        # After a restore: a host's op hashes are its own before they change.
        if host not in self._owning:
            self._owning.add(host)
            meta = self._meta.get(host)
            if meta is not None:
                _hold(meta, dict(meta._op_hashes))
        HostMetaProjection._count(self, host, op_hash, is_change)

    def _count(self, host: str, op_hash: str, is_change: bool | None) -> None:
        meta = self._host(host)
        values = meta._values
        values[_OPS] += 1
        values[_CHANGE if is_change else _NO_CHANGE] += 1
        meta._op_hashes[op_hash] = None

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take every host's meta back from a snapshot."""
        self._meta.clear()
        # Hosts mostly share their op hashes (one list in the snapshot): one dict made
        # of it, shared by those hosts until an op is counted for one of them (which
        # then gets its own copy) -- a restore costs the hosts, not hosts times ops.
        made: dict[int, tuple[Any, dict[str, None]]] = {}
        self._owning = set()
        for name, values in snapshot["meta"].items():
            meta = self._host(name)
            meta._values[:] = [values["ops"], values["ops_change"], values["ops_no_change"]]
            op_hashes = values["op_hashes"]
            known = made.get(id(op_hashes))
            if known is None or known[0] is not op_hashes:
                known = made[id(op_hashes)] = (op_hashes, dict.fromkeys(op_hashes))
            _hold(meta, known[1])
        self._count = self._count_own  # type: ignore[method-assign]

    def snapshot(self) -> dict[str, Any]:
        """Each host's meta as plain values."""
        return {"meta": {name: meta.as_dict() for name, meta in self._meta.items()}}
