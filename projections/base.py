"""The base of every projection: event classes mapped to the methods that apply them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from eventstate.events import Event

__all__ = ["Projection", "applies"]

F = TypeVar("F", bound=Callable[..., None])


def applies(*event_classes: type[Event]) -> Callable[[F], F]:
    """Mark a projection method as the one that applies ``event_classes``."""

    def mark(method: F) -> F:
        method.__applies__ = event_classes  # type: ignore[attr-defined]
        return method

    return mark


class Projection:
    """A deterministic fold of events into a view: no I/O, no clock, no State.

    Subclasses mark methods with :func:`applies`; :meth:`apply` dispatches on
    the event's exact class through a table built once per instance, so
    applying an event costs one dict lookup and one call.
    """

    #: Event class -> name of the method applying it; built per subclass.
    handlers: ClassVar[dict[type[Event], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[type[Event], str] = {}
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                for event_class in getattr(member, "__applies__", ()):
                    handlers[event_class] = name
        cls.handlers = handlers

    def bound_handlers(self) -> dict[type[Event], Callable[[Any], None]]:
        """This projection's handlers, bound to it."""
        return {event_class: getattr(self, name) for event_class, name in self.handlers.items()}

    def apply(self, event: Event) -> None:
        """Apply one event; events this projection does not handle are ignored."""
        name = self.handlers.get(type(event))
        if name is not None:
            getattr(self, name)(event)

    def apply_all(self, events: Iterable[Event]) -> None:
        """Apply ``events`` in order."""
        for event in events:
            self.apply(event)

    def snapshot(self) -> dict[str, Any]:
        """The projection's data as plain, JSON-ready values (for comparison and storage)."""
        raise NotImplementedError

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take the data back from a :meth:`snapshot` (of the whole view: keys are unique)."""
        raise NotImplementedError
