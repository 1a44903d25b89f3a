"""The State-shaped view of a run: every projection, folded together."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from eventstate.events import Event, RunStatus, StateStage
from eventstate.projections.base import Projection
from eventstate.projections.host_meta import HostMeta, HostMetaProjection
from eventstate.projections.host_results import HostResults, HostResultsProjection
from eventstate.projections.host_sets import HostSetsProjection
from eventstate.projections.limit import LimitProjection
from eventstate.projections.operations import OperationMeta, OperationsProjection
from eventstate.projections.run import PLAN, RunProjection
from eventstate.projections.stage import StageProjection
from eventstate.projections.views import ReadOnlyDict, ReadOnlyList, ReadOnlySet
from eventstate.projections.warnings import StageWarnings, WarningsProjection

__all__ = ["StateView", "fold"]


class StateView:
    """Every view of a deploy's State, kept by applying its events in order.

    The live :class:`eventstate.State` holds one and applies each event as it
    is appended; a rebuild folds a stored run into a fresh one. Same code,
    same result. Hosts are named here; the State maps them to its Host objects.
    """

    def __init__(self) -> None:
        self.run = RunProjection()
        self.stage = StageProjection()
        self.host_sets = HostSetsProjection()
        self.host_meta = HostMetaProjection()
        self.host_results = HostResultsProjection()
        self.operations = OperationsProjection()
        self.warnings = WarningsProjection()
        self.limit = LimitProjection()
        self.events_applied = 0
        # What to_json saw last: each op order's (object, length, contents), and the op
        # meta as plain values with the revision of the operations it was made at.
        self._json_memo: dict[int, tuple[Any, int, tuple[str, ...]]] = {}
        self._json_interned: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._op_meta_memo: tuple[int, dict[str, Any]] | None = None
        # One table, built once: each event class -> the handlers of every projection.
        dispatch: dict[type[Event], list[Callable[[Any], None]]] = {}
        for projection in self.projections():
            for event_class, handler in projection.bound_handlers().items():
                dispatch.setdefault(event_class, []).append(handler)
        self._dispatch = {cls: tuple(handlers) for cls, handlers in dispatch.items()}

    def attach(self, *projections: Projection) -> None:
        """Apply every event to ``projections`` too, after the views' own, from now on.

        They are not part of the views: not in :meth:`snapshot` nor :meth:`to_json`
        (the run's overview rides along on the live State so).
        """
        for projection in projections:
            for event_class, handler in projection.bound_handlers().items():
                self._dispatch[event_class] = (*self._dispatch.get(event_class, ()), handler)

    def projections(self) -> tuple[Projection, ...]:
        """The projections this view is made of."""
        return (
            self.run,
            self.stage,
            self.host_sets,
            self.host_meta,
            self.host_results,
            self.operations,
            self.warnings,
            self.limit,
        )

    def apply(self, event: Event) -> None:
        """Apply one event to every projection that handles it."""
        for handler in self._dispatch.get(type(event), ()):
            handler(event)
        self.events_applied += 1

    def handlers(self, event_class: type[Event]) -> tuple[Callable[[Any], None], ...]:
        """The handlers every projection has for ``event_class``, in the order applied
        (the State applies part of an event with them, uncounted)."""
        return tuple(self._dispatch.get(event_class, ()))

    def apply_all(self, events: Iterable[Event]) -> StateView:
        """Apply ``events`` in order; returns this view."""
        dispatch = self._dispatch
        count = 0
        for event in events:
            for handler in dispatch.get(type(event), ()):
                handler(event)
            count += 1
        self.events_applied += count
        return self

    # The State's views, by host name.

    @property
    def current_stage(self) -> StateStage:
        """The stage the deploy is in."""
        return self.stage.current_stage

    @property
    def is_executing(self) -> bool:
        """Whether operations have started executing."""
        return self.stage.is_executing

    @property
    def activated_hosts(self) -> ReadOnlySet[str]:
        """Every host ever activated."""
        return self.host_sets.activated_hosts

    @property
    def active_hosts(self) -> ReadOnlySet[str]:
        """Activated hosts that have not failed."""
        return self.host_sets.active_hosts

    @property
    def failed_hosts(self) -> ReadOnlySet[str]:
        """Every host that failed."""
        return self.host_sets.failed_hosts

    @property
    def meta(self) -> ReadOnlyDict[str, HostMeta]:
        """Each host's operation meta."""
        return self.host_meta.meta

    @property
    def results(self) -> ReadOnlyDict[str, HostResults]:
        """Each host's execution results."""
        return self.host_results.results

    @property
    def op_meta(self) -> ReadOnlyDict[str, OperationMeta]:
        """Each operation's shared meta, by op hash."""
        return self.operations.op_meta

    @property
    def stage_warnings(self) -> StageWarnings:
        """Warnings counted per stage (a stage without warnings reads 0)."""
        return self.warnings.stage_warnings

    @property
    def limit_hosts(self) -> tuple[str, ...] | None:
        """The hosts in the limit, or None for no limit."""
        return self.limit.limit_hosts

    def host_status(self, host: str) -> str:
        """How a host stands: ``connect failed``; ``failed``; ``planned`` (active in a
        dry run, which executes nothing); ``ok`` (active, and every op it was given
        finished); ``incomplete`` (active, some ops finished, the rest never ran: the
        run stopped first, or is still running them); else ``not run`` (never
        activated, or active with none of its ops run: the run stopped before them, or
        before executing at all, or has not executed yet).
        """
        if host in self.host_sets.connect_errors:
            return "connect failed"
        if host in self.failed_hosts:
            return "failed"
        if host not in self.active_hosts:
            return "not run"
        if self.run.kind == PLAN:
            return "planned"
        planned = self.meta[host].ops if host in self.meta else 0
        results = self.results.get(host)
        done = results.ops + results.error_ops if results is not None else 0
        # A run that never executed did its hosts' part only if it ended as planned (an
        # ad-hoc run of facts); one stopped, or still, before executing ran nothing.
        ended = self.run.status in (RunStatus.SUCCESS, RunStatus.FAILED)
        if done >= planned and (self.is_executing or ended):
            return "ok"
        return "incomplete" if done else "not run"

    def op_hash_order(self, host: str) -> ReadOnlyList[str]:
        """The op hashes added to ``host``, in order."""
        return self.operations.op_hash_order(host)

    def get_op_order(self) -> list[str]:
        """The order operations execute in; see :meth:`OperationsProjection.op_order`."""
        return self.operations.op_order()

    def snapshot(self) -> dict[str, Any]:
        """Every view as plain, JSON-ready values."""
        snapshot: dict[str, Any] = {}
        for projection in self.projections():
            snapshot.update(projection.snapshot())
        return snapshot

    def to_json(self) -> str:
        """The views, and how many events made them, as JSON: a snapshot to store.

        Every host usually has the same op order: each distinct list of op
        hashes is written once and referred to by index, so a snapshot grows
        with hosts plus ops, not hosts times ops. The live State's view is
        snapshotted again and again as its deploy goes: what did not change since
        the last call (the op orders and op meta, once prepared) is not walked
        again, so a call costs about the hosts, not hosts times ops.
        """
        memo = self._json_memo
        interned = self._json_interned
        lists: list[tuple[str, ...]] = []
        index: dict[int, int] = {}

        def share(values: Any) -> int:
            # Op orders only grow (lists appended to, dicts given new keys): the same
            # object at the same length holds what it held.
            known = memo.get(id(values))
            if known is not None and known[0] is values and known[1] == len(values):
                key = known[2]
            else:
                key = tuple(values)
                key = interned.setdefault(key, key)  # equal contents, one entry in lists
                memo[id(values)] = (values, len(values), key)
            at = index.get(id(key))
            if at is None:
                at = index[id(key)] = len(lists)
                lists.append(key)
            return at

        operations = self.operations
        snapshot: dict[str, Any] = {}
        for projection in self.projections():
            if projection is self.host_meta:
                snapshot["meta"] = {
                    name: {
                        "ops": meta._values[0],
                        "ops_change": meta._values[1],
                        "ops_no_change": meta._values[2],
                        "op_hashes": share(meta._op_hashes),
                    }
                    for name, meta in self.host_meta._meta.items()
                }
            elif projection is operations:
                cached = self._op_meta_memo
                if cached is None or cached[0] != operations.revision:
                    op_meta = {h: meta.as_dict() for h, meta in operations._op_meta.items()}
                    cached = self._op_meta_memo = (operations.revision, op_meta)
                snapshot["op_meta"] = cached[1]
                snapshot["op_hash_order"] = {
                    host: share(order) for host, order in operations._orders.items()
                }
            else:
                snapshot.update(projection.snapshot())
        if len(interned) > 2 * len(lists) + 64:
            # Contents no container holds any more (an op order that grew since): dropped.
            kept = {id(key) for key in lists}
            for known_id in [k for k, known in memo.items() if id(known[2]) not in kept]:
                del memo[known_id]
            self._json_interned = {key: key for key in lists}
        return json.dumps(
            {"events_applied": self.events_applied, "lists": lists, "views": snapshot},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> StateView:
        """A view restored from :meth:`to_json`'s output."""
        data = json.loads(text)
        lists = data["lists"]
        snapshot = data["views"]
        snapshot["op_hash_order"] = {
            host: lists[at] for host, at in snapshot["op_hash_order"].items()
        }
        for meta in snapshot["meta"].values():
            meta["op_hashes"] = lists[meta["op_hashes"]]
        view = cls()
        view.run.restore(snapshot)  # first: the others take the inventory order from it
        for projection in view.projections()[1:]:
            projection.restore(snapshot)
        view.events_applied = data["events_applied"]
        return view

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StateView):
            return NotImplemented
        return self.snapshot() == other.snapshot()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"StateView(run_id={self.run.run_id!r}, stage={self.current_stage.name}, "
            f"events={self.events_applied})"
        )


def fold(events: Iterable[Event]) -> StateView:
    """A fresh :class:`StateView` with ``events`` applied in order."""
    return StateView().apply_all(events)
