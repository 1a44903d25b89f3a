"""Read-only containers: what a projection hands out.

A projection's data changes only when it applies an event. These wrappers let
callers read it live -- no copy per access -- while any attempt to change it
raises :class:`~eventstate.errors.ReadOnlyViewError` with a one-line reason.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence, Set
from typing import Any, NoReturn, TypeVar

from eventstate.errors import ReadOnlyViewError

__all__ = [
    "MutationRefused",
    "ReadOnlyDict",
    "ReadOnlyList",
    "ReadOnlyRecord",
    "ReadOnlySet",
    "refuse",
]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

_WHY = "views of a deploy change only by appending events (use the State's methods)"


def refuse(what: str) -> NoReturn:
    """Raise the error for an attempt to change ``what``."""
    raise ReadOnlyViewError(f"{what} is read-only: {_WHY}")


class MutationRefused:
    """Mutating methods of the builtin containers, each refusing."""

    __slots__ = ()
    _what = "this view"

    def _refuse(self, *_: Any, **__: Any) -> NoReturn:
        refuse(self._what)

    __setitem__ = __delitem__ = __iadd__ = __isub__ = __ior__ = __iand__ = __ixor__ = _refuse
    add = discard = remove = update = clear = pop = popitem = setdefault = _refuse
    append = extend = insert = sort = reverse = _refuse
    difference_update = intersection_update = symmetric_difference_update = _refuse


class ReadOnlyDict(MutationRefused, Mapping[K, V]):
    """A live, read-only view of a dict."""

    __slots__ = ("_data",)
    _what = "this mapping"

    def __init__(self, data: Mapping[K, V]) -> None:
        self._data = data

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return f"ReadOnlyDict({dict(self._data)!r})"


class ReadOnlySet(MutationRefused, Set[T]):
    """A live, read-only view of a set.

    Args:
        data: The set (or dict used as an ordered set) to show.
        order: When given, iteration follows ``order[item]`` (inventory order
            for hosts) instead of the container's own order.
    """

    __slots__ = ("_data", "_order")
    _what = "this set"

    def __init__(self, data: Collection[T], order: Mapping[T, int] | None = None) -> None:
        self._data = data
        self._order = order

    def __contains__(self, item: object) -> bool:
        return item in self._data

    def __iter__(self) -> Iterator[T]:
        if self._order is None:
            return iter(self._data)
        order = self._order
        return iter(sorted(self._data, key=lambda item: order.get(item, len(order))))

    def __len__(self) -> int:
        return len(self._data)

    @classmethod
    def _from_iterable(cls, iterable: Iterable[Any]) -> set[Any]:
        # Set algebra (``view - other``) gives a plain set, not another view.
        return set(iterable)

    def __repr__(self) -> str:
        return f"ReadOnlySet({list(self)!r})"


class ReadOnlyList(MutationRefused, Sequence[T]):
    """A live, read-only view of a list."""

    __slots__ = ("_data",)
    _what = "this list"

    def __init__(self, data: Sequence[T]) -> None:
        self._data = data

    def __getitem__(self, index: Any) -> Any:
        return self._data[index]

    def __len__(self) -> int:
        return len(self._data)

    # Sequence's own __contains__ and __iter__ index item by item in Python.
    def __contains__(self, item: object) -> bool:
        return item in self._data

    def __iter__(self) -> Iterator[T]:
        return iter(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ReadOnlyList):
            return list(self._data) == list(other._data)
        if isinstance(other, (list, tuple)):
            return list(self._data) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ReadOnlyList({list(self._data)!r})"


class ReadOnlyRecord:
    """A record whose public attributes can be read, never set.

    Subclasses keep their values in private slots, which only the projection
    that owns the record writes (through ``object.__setattr__`` or by
    mutating a private container).
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        refuse(f"{type(self).__name__}.{name}")

    def __delattr__(self, name: str) -> None:
        refuse(f"{type(self).__name__}.{name}")


def record_property(index: int, doc: str) -> property:
    """A read-only property reading ``self._values[index]``."""
    getter: Callable[[Any], Any] = lambda self: self._values[index]  # noqa: E731
    return property(getter, doc=doc)
