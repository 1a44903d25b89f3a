"""Operations: their shared meta, each host's order, and the order they run in."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from typing import Any

from eventstate.errors import OperationOrderCycleError
from eventstate.events import OperationAdded, OperationAddedForHost, RunStarted
from eventstate.projections.base import Projection, applies
from eventstate.projections.views import ReadOnlyDict, ReadOnlyList, ReadOnlyRecord, ReadOnlySet

__all__ = ["OperationMeta", "OperationsProjection"]

_CYCLE_HINT = (
    "    This can happen when using loops in operation code, "
    "please see: https://docs.pyinfra.com/en/latest/deploy-process.html#loops-cycle-errors"
)


class OperationMeta(ReadOnlyRecord):
    """pyinfra's ``StateOperationMeta``, read-only: what every host shares of an op."""

    __slots__ = (
        "_args",
        "_global_arguments",
        "_names",
        "args",
        "global_arguments",
        "names",
        "op_order",
    )

    #: The op's position key: the first call's, kept by every later one.
    op_order: tuple[int, ...]
    #: Its names (usually one), in the order recorded.
    names: ReadOnlySet[str]
    #: Its arguments as shown, in the order recorded.
    args: ReadOnlyList[str]
    #: The execution arguments every host agrees on (``_serial``...).
    global_arguments: ReadOnlyDict[str, Any]
    _names: dict[str, None]
    _args: list[str]
    _global_arguments: dict[str, Any]

    def __init__(
        self,
        op_order: tuple[int, ...],
        names: dict[str, None] | None = None,
        args: list[str] | None = None,
        global_arguments: dict[str, Any] | None = None,
    ) -> None:
        # The containers given are the meta's own from here (a restore builds them once).
        names = {} if names is None else names
        args = [] if args is None else args
        global_arguments = {} if global_arguments is None else global_arguments
        setattr_ = object.__setattr__
        setattr_(self, "op_order", op_order)
        setattr_(self, "_names", names)
        setattr_(self, "_args", args)
        setattr_(self, "_global_arguments", global_arguments)
        setattr_(self, "names", ReadOnlySet(names))
        setattr_(self, "args", ReadOnlyList(args))
        setattr_(self, "global_arguments", ReadOnlyDict(global_arguments))

    def as_dict(self) -> dict[str, Any]:
        """The meta as plain values."""
        return {
            "names": list(self._names),
            "args": list(self._args),
            "op_order": list(self.op_order),
            "global_arguments": dict(self._global_arguments),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OperationMeta):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"OperationMeta(names={list(self._names)!r}, op_order={self.op_order!r})"


class OperationsProjection(Projection):
    """``op_meta`` by hash, and ``op_hash_order``: the hashes added to each host, in order."""

    def __init__(self) -> None:
        self._hosts: tuple[str, ...] = ()
        self._op_meta: dict[str, OperationMeta] = {}
        self._orders: dict[str, list[str]] = {}
        self._order_views: dict[str, ReadOnlyList[str]] = {}
        # After a restore, the hosts whose op order is their own (the others share).
        self._owning: set[str] = set()
        self.op_meta: ReadOnlyDict[str, OperationMeta] = ReadOnlyDict(self._op_meta)
        #: Counts the events that changed the op meta or the orders (snapshots reuse what
        #: they made of them at the same revision).
        self.revision = 0

    def _order_own(self, host: str) -> list[str]:
        # After a restore: a host's order is its own before it grows.
        if host not in self._owning:
            self._owning.add(host)
            shared = self._orders.get(host)
            if shared is not None:
                order = self._orders[host] = list(shared)
                self._order_views[host]._data = order
                return order
        return OperationsProjection._order(self, host)

    def _order(self, host: str) -> list[str]:
        order = self._orders.get(host)
        if order is None:
            order = self._orders[host] = []
            self._order_views[host] = ReadOnlyList(order)
        return order

    @applies(RunStarted)
    def _started(self, event: RunStarted) -> None:
        self._hosts = event.hosts
        for name in event.hosts:
            self._order(name)

    @applies(OperationAdded)
    def _added(self, event: OperationAdded) -> None:
        self.revision += 1
        meta = self._op_meta.get(event.op_hash)
        if meta is None:
            meta = self._op_meta[event.op_hash] = OperationMeta(event.op_order)
        names = meta._names
        for name in event.names:
            names[name] = None
        args = meta._args
        for arg in event.args:
            if arg not in args:
                args.append(arg)
        meta._global_arguments.update(event.global_arguments)
        for host in event.hosts:  # version 2: the hosts it was added for
            self._order(host).append(event.op_hash)

    @applies(OperationAddedForHost)
    def _added_for_host(self, event: OperationAddedForHost) -> None:
        self.revision += 1
        self._order(event.host).append(event.op_hash)

    def op_hash_order(self, host: str) -> ReadOnlyList[str]:
        """The op hashes added to ``host``, in the order they were added."""
        view = self._order_views.get(host)
        if view is None:
            self._order(host)
            view = self._order_views[host]
        return view

    def op_order(self) -> list[str]:
        """Every op hash in the order to execute, as pyinfra 3.10's ``get_op_order``.

        A topological sort over every inventory host's op order; each
        generation of ops free to run is sorted by ``op_order``.

        Raises:
            OperationOrderCycleError: the hosts' orders contradict each other.
        """
        sorter: TopologicalSorter[str] = TopologicalSorter()
        inventory = set(self._hosts)
        hosts = list(self._hosts) + [h for h in self._orders if h not in inventory]
        for host in hosts:
            previous = None
            for op_hash in self._orders.get(host, ()):
                if previous is None:
                    sorter.add(op_hash)
                else:
                    sorter.add(op_hash, previous)
                previous = op_hash
        try:
            sorter.prepare()
        except CycleError as error:
            raise OperationOrderCycleError(
                f"Cycle detected in operation ordering DAG.\n    Error: {error}\n\n" + _CYCLE_HINT
            ) from None
        op_meta = self._op_meta

        def order_key(op_hash: str) -> tuple[Any, ...]:
            # An op added for a host with no OperationAdded (only a damaged or hand-made log
            # has one) sorts after the others, by hash, rather than breaking every reader.
            meta = op_meta.get(op_hash)
            return (0, meta.op_order) if meta is not None else (1, op_hash)

        final: list[str] = []
        while sorter.is_active():
            group = sorted(sorter.get_ready(), key=order_key)
            sorter.done(*group)
            final.extend(group)
        return final

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take op meta and each host's op order back from a snapshot."""
        self._hosts = tuple(snapshot["hosts"])
        self._op_meta.clear()
        op_meta = self._op_meta
        for op_hash, values in snapshot["op_meta"].items():
            op_meta[op_hash] = OperationMeta(
                tuple(values["op_order"]),
                dict.fromkeys(values["names"]),
                list(values["args"]),
                dict(values["global_arguments"]),
            )
        self.revision += 1
        self._orders.clear()
        self._order_views.clear()
        # Hosts mostly share one op order (one list in the snapshot): shared by them
        # until an op is added to one of them (which then gets its own copy).
        self._owning = set()
        for host, order in snapshot["op_hash_order"].items():
            self._orders[host] = order
            self._order_views[host] = ReadOnlyList(order)
        self._order = self._order_own  # type: ignore[method-assign]

    def snapshot(self) -> dict[str, Any]:
        """Op meta by hash and each host's op order, as plain values."""
        return {
            "op_meta": {op_hash: meta.as_dict() for op_hash, meta in self._op_meta.items()},
            "op_hash_order": {host: list(order) for host, order in self._orders.items()},
        }
