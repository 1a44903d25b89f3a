"""Events to and from canonical JSON, through cattrs.

The stored form of an event is one JSON object: its fields, plus ``type`` (the
stable tag) and ``v`` (the schema version it was written with), serialised
canonically -- sorted keys, no spaces -- so that the same event always gives
the same bytes and the hash chain can be taken over them.

Reading an older version runs the registered upcasters, one version step at a
time, before the dict is structured into the current class. A type this
version does not know, or a version newer than it reads, is a
:class:`~eventstate.errors.CodecError` naming the culprit.

The converter is built once per codec, never the global one, and each event
class's hooks are looked up once, so the hot path does no introspection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import cattrs

from eventstate.errors import CodecError, SchemaVersionError, UnknownEventTypeError
from eventstate.events import EVENT_TYPES, Event, StateStage

__all__ = ["EventCodec", "Upcaster", "canonical_json", "configure_converter", "make_converter"]

#: Turns the payload dict of version ``n`` of an event into version ``n + 1``.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_TYPE_KEY = "type"
_VERSION_KEY = "v"

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical_json(data: Mapping[str, Any]) -> str:
    """``data`` as canonical JSON: sorted keys, no whitespace, UTF-8 text kept as is."""
    return _dumps(data)


def _structure_stage(value: Any, _: type) -> StateStage:
    if isinstance(value, int):
        return StateStage(value)
    return StateStage[value]


def _structure_datetime(value: Any, _: type) -> datetime:
    return datetime.fromisoformat(value)


def configure_converter(converter: cattrs.Converter) -> None:
    """Teach ``converter`` the types events hold: datetimes as ISO 8601, stages by name."""
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(StateStage, lambda stage: stage.name)
    converter.register_structure_hook(StateStage, _structure_stage)


def make_converter() -> cattrs.Converter:
    """A new converter configured for events (never cattrs' global one)."""
    converter = cattrs.Converter()
    configure_converter(converter)
    return converter


class EventCodec:
    """Encodes events to canonical JSON and decodes them back, upcasting old versions.

    Args:
        converter: The cattrs converter to use; :func:`make_converter` by default.
        event_types: The classes to know, by type tag; every event by default.
    """

    def __init__(
        self,
        converter: cattrs.Converter | None = None,
        event_types: Mapping[str, type[Event]] = EVENT_TYPES,
    ) -> None:
        self._converter = converter or make_converter()
        self._event_types = dict(event_types)
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        # Hooks resolved once per class: encode and decode then cost a dict lookup.
        self._unstructure = {
            cls: self._converter.get_unstructure_hook(cls) for cls in self._event_types.values()
        }
        self._structure = {
            cls: self._converter.get_structure_hook(cls) for cls in self._event_types.values()
        }

    def register_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """Register the step that turns version ``from_version`` of ``event_type`` into the next."""
        if event_type not in self._event_types:
            raise UnknownEventTypeError(f"cannot upcast unknown event type {event_type!r}")
        self._upcasters[(event_type, from_version)] = upcaster

    def to_dict(self, event: Event) -> dict[str, Any]:
        """The JSON-ready dict of ``event``, with its type tag and version."""
        cls = type(event)
        try:
            data = self._unstructure[cls](event)
        except KeyError:
            raise UnknownEventTypeError(f"{cls.__name__} is not a registered event type") from None
        data[_TYPE_KEY] = cls.event_type
        data[_VERSION_KEY] = cls.version
        return data

    def encode(self, event: Event) -> str:
        """The canonical JSON text of ``event``: the bytes its hash is taken over."""
        return canonical_json(self.to_dict(event))

    def from_dict(self, data: Mapping[str, Any]) -> Event:
        """The event a stored dict describes, upcast to the current version.

        Raises:
            UnknownEventTypeError: the type tag is not one this codec knows.
            SchemaVersionError: the dict was written by a newer schema.
            CodecError: the dict does not describe a valid event.
        """
        fields = dict(data)
        event_type = fields.pop(_TYPE_KEY, None)
        version = fields.pop(_VERSION_KEY, 1)
        cls = self._event_types.get(event_type)  # type: ignore[arg-type]
        if cls is None:
            raise UnknownEventTypeError(f"unknown event type {event_type!r}")
        if not isinstance(version, int) or version > cls.version:
            raise SchemaVersionError(
                f"{event_type} version {version} is newer than this eventstate reads "
                f"(up to version {cls.version}); upgrade eventstate"
            )
        while version < cls.version:
            upcaster = self._upcasters.get((event_type, version))
            if upcaster is None:
                raise SchemaVersionError(
                    f"no upcaster for {event_type} from version {version} to {version + 1}"
                )
            fields = upcaster(fields)
            version += 1
        try:
            return self._structure[cls](fields, cls)
        except Exception as error:  # cattrs raises a ClassValidationError group
            raise CodecError(f"cannot decode {event_type}: {_describe(error)}") from error

    def decode(self, payload: str | bytes) -> Event:
        """The event stored as JSON ``payload``; see :meth:`from_dict`."""
        try:
            data = json.loads(payload)
        except ValueError as error:
            raise CodecError(f"payload is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise CodecError("payload is not a JSON object")
        return self.from_dict(data)


def _describe(error: BaseException) -> str:
    # cattrs wraps field errors in exception groups; the first leaf says what was wrong.
    # (BaseExceptionGroup is not a builtin before Python 3.11, hence the duck typing.)
    while getattr(error, "exceptions", None):
        error = error.exceptions[0]  # type: ignore[attr-defined]
        notes = getattr(error, "__notes__", None)
        if notes and not getattr(error, "exceptions", None):
            return f"{notes[0]}: {error}"
    return str(error) or type(error).__name__
