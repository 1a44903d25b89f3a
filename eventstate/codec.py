"""Events to and from canonical JSON, through cattrs.

The stored form of an event is one JSON object: its fields, plus ``type`` (the
stable tag) and ``v`` (the schema version it was written with), serialised
canonically -- sorted keys, no spaces -- so that the same event always gives
the same bytes and the hash chain can be taken over them.

Reading an older version runs the registered upcasters, one version step at a
time, before the dict is structured into the current class. A type this
version does not know, or a version newer than it reads, is a
:class:`~eventstate.errors.CodecError` naming the culprit.

The converter is never cattrs' global one; a codec not given one shares a default
converter, and every class's hooks, encoder and decoders, made once per process, so
the hot path does no introspection. Neither direction goes through cattrs on it:
each class gets, once, a generated function that builds its stored dict straight
from its fields (:func:`dict_encoder`), and one that builds the event straight from
that dict (:func:`dict_decoder`), checking each value's exact JSON type. What the
generated decoder declines -- a damaged payload, an older version's fields it does
not hold -- goes through cattrs' hooks, so the error raised is theirs, word for word.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, get_args, get_origin

import attrs
import cattrs
import orjson

from eventstate.errors import CodecError, SchemaVersionError, UnknownEventTypeError
from eventstate.events import EVENT_TYPES, Event, FailOutcome, OpOutcome, RunStatus, StateStage

__all__ = [
    "EventCodec",
    "Upcaster",
    "canonical_bytes",
    "canonical_json",
    "configure_converter",
    "dict_decoder",
    "dict_encoder",
    "make_converter",
    "payload_fields",
]

#: Turns the payload dict of version ``n`` of an event into version ``n + 1``.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_TYPE_KEY = "type"
_VERSION_KEY = "v"

_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS

_loads = orjson.loads


def _run_finished_v1_to_v2(fields: dict[str, Any]) -> dict[str, Any]:
    # Version 2 names the signal that interrupted a run; a version 1 run was never
    # recorded as interrupted by one.
    return {**fields, "signal": None}


def _run_started_v1_to_v2(fields: dict[str, Any]) -> dict[str, Any]:
    # Version 2 names the log it was written into and the log's head then; a version 1
    # run recorded neither: its link to the run before it is unknown, not absent.
    return {**fields, "log_id": None, "head_run_id": None, "head_seq": None, "head_hash": None}


def _host_operation_finished_v1_to_v2(fields: dict[str, Any]) -> dict[str, Any]:
    # Version 2 carries the op's commands; a version 1 run recorded each as a
    # CommandExecuted event before this one, which readers fold as they always did.
    return {**fields, "commands": []}


def _operation_added_v1_to_v2(fields: dict[str, Any]) -> dict[str, Any]:
    # Version 2 names the hosts it adds the op for; a version 1 run recorded an
    # OperationAddedForHost per host, which readers fold as they always did.
    return {**fields, "hosts": [], "is_change": [], "counted": []}


#: The steps every codec knows: how the events older versions stored read today.
_BUILTIN_UPCASTERS: Mapping[tuple[str, int], Upcaster] = {
    ("RunStarted", 1): _run_started_v1_to_v2,
    ("RunFinished", 1): _run_finished_v1_to_v2,
    ("HostOperationFinished", 1): _host_operation_finished_v1_to_v2,
    ("OperationAdded", 1): _operation_added_v1_to_v2,
}


def canonical_bytes(data: Mapping[str, Any]) -> bytes:
    """``data`` as canonical JSON, UTF-8: sorted keys, no whitespace, text unescaped.

    These are the bytes an event's hash is taken over. orjson writes them
    (several times faster than the standard library on the append path).

    Raises:
        CodecError: ``data`` holds a value JSON cannot (a set, an object, a huge int).
    """
    try:
        return orjson.dumps(data, option=_ORJSON_OPTIONS)
    except TypeError as error:
        raise CodecError(f"cannot encode as JSON: {error}") from None


def canonical_json(data: Mapping[str, Any]) -> str:
    """:func:`canonical_bytes`, as text."""
    return canonical_bytes(data).decode()


def _structure_stage(value: Any, _: type) -> StateStage:
    if isinstance(value, str) and value in StateStage.__members__:
        return StateStage[value]
    raise ValueError(f"{value!r} is not a stage name")


def _structure_datetime(value: Any, _: type) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no timezone")
    return moment


def _strict(expected: type, *, also: tuple[type, ...] = ()) -> Callable[[Any, type], Any]:
    # cattrs converts with str(), int()... by default: a stored event must be
    # what it says it is, so a value of the wrong JSON type is refused instead.
    accepted = (expected, *also)

    def structure(value: Any, _: type) -> Any:
        if isinstance(value, bool) and expected is not bool:
            raise TypeError(f"expected {expected.__name__}, got bool")
        if not isinstance(value, accepted):
            raise TypeError(f"expected {expected.__name__}, got {type(value).__name__}")
        return value

    return structure


def _structure_enum(value: Any, enum_class: type[enum.Enum]) -> enum.Enum:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return enum_class(value)


def _is_homogeneous_tuple(type_: Any) -> bool:
    args = get_args(type_)
    return get_origin(type_) is tuple and len(args) == 2 and args[1] is Ellipsis


def _tuple_hook_factory(type_: Any, converter: cattrs.Converter) -> Callable[[Any, type], Any]:
    item_type = get_args(type_)[0]
    structure_item = converter.get_structure_hook(item_type)

    def structure(value: Any, _: type) -> tuple[Any, ...]:
        # A JSON string is iterable too; only an array is a tuple's stored form.
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected an array, got {type(value).__name__}")
        return tuple(structure_item(item, item_type) for item in value)

    return structure


def configure_converter(converter: cattrs.Converter) -> None:
    """Teach ``converter`` the types events hold, and to refuse values of the wrong type.

    Datetimes are ISO 8601 with a timezone, stages go by name, and a stored
    value must already have its field's JSON type: no coercion.
    """
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(StateStage, lambda stage: stage.name)
    converter.register_structure_hook(StateStage, _structure_stage)
    converter.register_structure_hook(str, _strict(str))
    converter.register_structure_hook(int, _strict(int))
    converter.register_structure_hook(bool, _strict(bool))
    converter.register_structure_hook(float, _strict(float, also=(int,)))
    converter.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_hook_factory)
    # The outcome enums are str subclasses: without this the str hook would take them.
    for enum_class in (OpOutcome, FailOutcome, RunStatus):
        converter.register_structure_hook(enum_class, _structure_enum)


def make_converter() -> cattrs.Converter:
    """A new converter configured for events (never cattrs' global one)."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    configure_converter(converter)
    return converter


def _value_code(
    expression: str, type_: Any, names: dict[str, Any], converter: cattrs.Converter
) -> str:
    """Python code giving the stored (JSON-ready) form of ``expression``, of type ``type_``."""
    origin, args = get_origin(type_), get_args(type_)
    if origin in (typing.Union, types.UnionType):
        others = [arg for arg in args if arg is not type(None)]
        if len(others) == 1 and len(others) < len(args):  # Optional[X]
            inner = _value_code(expression, others[0], names, converter)
            return (
                expression
                if inner == expression
                else f"(None if {expression} is None else {inner})"
            )
        if all(arg in (str, int, float, bool, type(None)) for arg in args):
            return expression
        raise TypeError(f"no generated encoding for {type_!r}")
    if type_ in (str, int, float, bool, type(None)):
        return expression
    if type_ is datetime:
        return f"{expression}.isoformat()"
    if type_ is StateStage:
        return f"{expression}.name"
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        # orjson writes an enum as its value: a str enum is kept as it is (it equals
        # its value, and the bytes are the same), the others given their value.
        return expression if issubclass(type_, str) else f"{expression}.value"
    if _is_homogeneous_tuple(type_):
        item = _value_code("item", args[0], names, converter)
        if item == "item":
            return f"list({expression})"
        function = item.removesuffix("(item)")
        if function.isidentifier():  # one generated call an item: no comprehension's frame
            return f"list(map({function}, {expression}))"
        return f"[{item} for item in {expression}]"
    if origin in (Mapping, dict, typing.Mapping) or type_ in (Mapping, dict):
        # Values of any type: cattrs' hook, once per event that holds a mapping (no
        # host-op's does), gives them exactly as ever.
        name = f"_mapping_{len(names)}"
        names[name] = converter.get_unstructure_hook(type_)
        return f"{name}({expression})"
    if attrs.has(type_):
        name = f"_nested_{len(names)}"
        names[name] = _record_encoder(type_, names, converter)
        return f"{name}({expression})"
    raise TypeError(f"no generated encoding for {type_!r}")


def _record_encoder(
    cls: type, names: dict[str, Any], converter: cattrs.Converter, extra: str = ""
) -> Callable[[Any], dict[str, Any]]:
    hints = typing.get_type_hints(cls)
    items = [
        f"{field.name!r}: {_value_code('o.' + field.name, hints[field.name], names, converter)}"
        for field in attrs.fields(cls)
    ]
    source = f"def encode(o):\n    return {{{', '.join(items)}{extra}}}\n"
    namespace = dict(names)
    exec(compile(source, f"<dict encoder of {cls.__name__}>", "exec"), namespace)
    return namespace["encode"]


def dict_encoder(
    cls: type[Event], converter: cattrs.Converter | None = None
) -> Callable[[Event], dict[str, Any]]:
    """A function giving the stored dict of a ``cls`` event -- its fields, ``type`` and
    ``v`` -- as :meth:`EventCodec.to_dict` does, generated once from the class's fields
    (no per-event introspection, no cattrs dispatch on the hot path).

    Raises:
        TypeError: a field's type has no generated encoding (then use cattrs').
    """
    extra = f", {_TYPE_KEY!r}: {cls.event_type!r}, {_VERSION_KEY!r}: {cls.version!r}"
    return _record_encoder(cls, {}, converter or make_converter(), extra)


#: What a generated decoder raises when it does not take a dict (any exception it
#: raises declines: the codec catches them all and asks cattrs, whose error names what
#: is wrong). A builtin, not an error class of ours: it never leaves this module.
_Declined = ValueError


@attrs.frozen
class _Decoding:
    """How generated code checks and decodes one stored value, held in a local variable.

    Attributes:
        bad: Conditions, any of which true means the value is not one to take; tested
            first, in one ``if``.
        steps: Statements then run (each may raise), converting the variable in place.
        value: The expression of the decoded value, after them.
    """

    bad: tuple[str, ...]
    steps: tuple[str, ...]
    value: str


def _decode_code(var: str, type_: Any, names: dict[str, Any]) -> _Decoding:
    """How to decode the stored value in the local ``var`` as cattrs' hooks would: values
    of exactly the JSON types they take (a ``str`` subclass is declined here and left to
    cattrs), decoded to what they give. Anything else raises, some exception or other.
    """
    origin, args = get_origin(type_), get_args(type_)
    if origin in (typing.Union, types.UnionType):
        others = [arg for arg in args if arg is not type(None)]
        if len(others) != 1 or len(others) == len(args):
            raise TypeError(f"no generated decoding for {type_!r}")
        inner = _decode_code(var, others[0], names)  # Optional[X]: None, or an X
        if not inner.steps and inner.value == var:
            bad = tuple(f"({var} is not None and {condition})" for condition in inner.bad)
            return _Decoding(bad, (), var)
        steps = (f"if {var} is not None:\n{_indent([*_checked(inner), f'{var} = {inner.value}'])}",)
        return _Decoding((), steps, var)
    if type_ is str or type_ is int or type_ is bool:
        return _Decoding((f"type({var}) is not {type_.__name__}",), (), var)
    if type_ is float:  # an integral float is stored as an int, and decoded as one
        return _Decoding((f"(type({var}) is not float and type({var}) is not int)",), (), var)
    if type_ is datetime:
        convert = (f"{var} = _fromisoformat({var})", f"if {var}.tzinfo is None: raise _Declined")
        return _Decoding((f"type({var}) is not str",), convert, var)
    if type_ is StateStage:
        names["_stages"] = dict(StateStage.__members__)  # by name, as _structure_stage
        return _Decoding((f"type({var}) is not str",), (), f"_stages[{var}]")
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        if not all(type(member.value) is str for member in type_):
            raise TypeError(f"no generated decoding for {type_!r}")
        name = f"_{type_.__name__}_by_value"  # by value, as _structure_enum
        names[name] = {member.value: member for member in type_}
        return _Decoding((f"type({var}) is not str",), (), f"{name}[{var}]")
    if _is_homogeneous_tuple(type_):
        item = _decode_code("item", args[0], names)
        bad = (f"type({var}) is not list",)
        if not item.steps and item.value == "item":
            if not item.bad:
                return _Decoding(bad, (), f"tuple({var})")
            check = f"for item in {var}:\n    if {' or '.join(item.bad)}: raise _Declined"
            return _Decoding(bad, (check,), f"tuple({var})")
        function = item.value.removesuffix("(item)")
        if item.steps or item.bad or not function.isidentifier():
            function = f"_item_{len(names)}"
            names[function] = _function(
                function, ["item"], _checked(item), item.value, names, repr(type_)
            )
        return _Decoding(bad, (), f"tuple(map({function}, {var}))")
    if origin in (Mapping, dict, typing.Mapping) or type_ in (Mapping, dict):
        # Values of any type: cattrs' own hook, in the few events that hold a mapping.
        name = f"_mapping_{len(names)}"
        names[name] = names["_converter"].get_structure_hook(type_)
        names[f"{name}_type"] = type_
        return _Decoding((), (), f"{name}({var}, {name}_type)")
    if attrs.has(type_):
        name = f"_nested_{len(names)}"
        names[name] = _record_decoder(type_, names)
        return _Decoding((), (), f"{name}({var})")
    raise TypeError(f"no generated decoding for {type_!r}")


def _checked(*decodings: _Decoding) -> list[str]:
    """The statements checking and converting values as ``decodings`` say: every
    condition in one ``if``, then the steps."""
    bad = [condition for decoding in decodings for condition in decoding.bad]
    lines = [f"if {' or '.join(bad)}: raise _Declined"] if bad else []
    return lines + [step for decoding in decodings for step in decoding.steps]


def _indent(lines: list[str]) -> str:
    """``lines`` (each maybe several) as the indented block of a statement."""
    return "\n".join("    " + line for line in "\n".join(lines).split("\n"))


def _function(
    name: str, params: list[str], lines: list[str], result: str, names: dict[str, Any], what: str
) -> Callable[..., Any]:
    """A function ``name(*params)`` running ``lines`` and returning ``result``, compiled once."""
    source = f"def {name}({', '.join(params)}):\n{_indent([*lines, f'return {result}'])}\n"
    namespace = dict(names)
    exec(compile(source, f"<generated decoder of {what}>", "exec"), namespace)
    function: Callable[..., Any] = namespace[name]
    return function


def _bypasses_init(cls: type) -> bool:
    """Whether a ``cls`` can be built by setting its slots, as its ``__init__`` would: a
    slotted class whose ``__init__`` only sets (and converts) its fields, and whose
    slots are its fields (no cached hash, say, for ``__init__`` to reset)."""
    slots = {name for klass in cls.__mro__ for name in klass.__dict__.get("__slots__", ())}
    return (
        "__slots__" in cls.__dict__
        and slots - {"__weakref__"} == {field.name for field in attrs.fields(cls)}
        and not hasattr(cls, "__attrs_pre_init__")
        and not hasattr(cls, "__attrs_post_init__")
        and all(
            field.init
            and field.validator is None
            and not isinstance(field.converter, attrs.Converter)
            and isinstance(getattr(cls, field.name, None), types.MemberDescriptorType)
            for field in attrs.fields(cls)
        )
    )


def _record_decoder(
    cls: type, names: dict[str, Any], *, version: int | None = None
) -> Callable[[dict[str, Any]], Any]:
    """A function turning the stored dict of a ``cls`` into one, generated once from its
    fields; it raises (anything) on a dict cattrs' hook would not take as it does.

    With ``version``, the dict is a stored event's: it also holds ``type`` (already
    matched) and ``v``, which must be ``version``.
    """
    names = {**names, "_cls": cls, "_new": object.__new__}
    hints = typing.get_type_hints(cls)
    fields = attrs.fields(cls)
    extra = 0 if version is None else 2
    # A stored event's dict comes from EventCodec.from_dict, which checked it is a dict.
    head = [] if version is not None else ["if type(d) is not dict: raise _Declined"]
    if version is not None:
        names["_version"] = version
        head.append("v = d['v']")
        head.append("if type(v) is not int or v != _version: raise _Declined")
    decoded = [
        _decode_code(f"f{index}", hints[field.name], names) for index, field in enumerate(fields)
    ]
    # Every key present (how the encoder writes them): len() rules out an extra key.
    full = [
        f"if len(d) != {len(fields) + extra}: return _partial(d)",
        *(f"f{index} = d[{field.name!r}]" for index, field in enumerate(fields)),
        *_checked(*decoded),
    ]
    if _bypasses_init(cls):
        # The values checked, the slots are set as __init__ would (converters applied),
        # without its keyword call: a third of the cost.
        full.append("o = _new(_cls)")
        for index, (field, decoding) in enumerate(zip(fields, decoded, strict=True)):
            names[f"_set_{index}"] = getattr(cls, field.name).__set__
            value = decoding.value
            if field.converter is not None:
                names[f"_convert_{index}"] = field.converter
                value = f"_convert_{index}({value})"
            full.append(f"_set_{index}(o, {value})")
        result = "o"
    else:
        call = ", ".join(f"{f.alias}={d.value}" for f, d in zip(fields, decoded, strict=True))
        result = f"_cls({call})"
    # Some optional fields absent: each present one checked, the absent ones left to
    # attrs' defaults, and the keys counted.
    partial = [f"n = {extra}", "kwargs = {}"]
    for index, (field, decoding) in enumerate(zip(fields, decoded, strict=True)):
        take = [
            "n += 1",
            f"f{index} = d[{field.name!r}]",
            *_checked(decoding),
            f"kwargs[{field.alias!r}] = {decoding.value}",
        ]
        if field.default is attrs.NOTHING:
            partial += take
        else:
            partial.append(f"if {field.name!r} in d:\n{_indent(take)}")
    partial.append("if len(d) != n: raise _Declined")
    names["_partial"] = _function("partial", ["d"], partial, "_cls(**kwargs)", names, cls.__name__)
    return _function("decode", ["d"], head + full, result, names, cls.__name__)


def dict_decoder(
    cls: type[Event], *, stored: bool = True, converter: cattrs.Converter | None = None
) -> Callable[[dict[str, Any]], Event]:
    """A function giving the ``cls`` event a stored dict describes, as
    :meth:`EventCodec.from_dict` does for the current version, generated once from the
    class's fields: no per-event introspection, no cattrs dispatch (but for the
    mapping fields of a few rare events). It checks every value's exact JSON type
    and raises -- some exception, without a useful message -- on any dict the codec's
    cattrs path would refuse or decode otherwise; the codec then asks that path.

    Args:
        cls: The event class.
        stored: The dict holds ``type`` and ``v`` (the current version), as stored;
            False: the event's fields alone (what the upcasters give).
        converter: The converter whose hooks decode the mapping fields.

    Raises:
        TypeError: a field's type has no generated decoding (then use cattrs').
    """
    names: dict[str, Any] = {
        "_Declined": _Declined,
        "_fromisoformat": datetime.fromisoformat,
        "_converter": converter or make_converter(),
    }
    return _record_decoder(cls, names, version=cls.version if stored else None)


@functools.cache
def _default_converter() -> cattrs.Converter:
    """The converter of every codec not given one: its hooks are made once per process."""
    return make_converter()


class _ClassCodec:
    """What a codec does with one event class: its encoder, made at once (the write
    path wants it), and the rest made on first use -- a reader decodes a few types.

    Args:
        cls: The event class.
        converter: The converter whose hooks to use.
        generated: Whether to generate decoders (only with the default converter,
            whose hooks they mirror).
    """

    def __init__(self, cls: type[Event], converter: cattrs.Converter, *, generated: bool) -> None:
        self.cls = cls
        self.converter = converter
        self.encode = _encoder(cls, converter)
        self._generated = generated
        self._structure: Callable[[Any, type], Event] | None = None
        self._decoders: dict[bool, Callable[[dict[str, Any]], Event] | None] = {}

    def structure(self, fields: Mapping[str, Any]) -> Event:
        """The event of a dict of its fields, through cattrs' hook (whose error names
        what is wrong)."""
        if self._structure is None:
            self._structure = self.converter.get_structure_hook(self.cls)
        return self._structure(fields, self.cls)

    def decoder(self, *, stored: bool) -> Callable[[dict[str, Any]], Event] | None:
        """The generated decoder (:func:`dict_decoder`) of a stored dict, or of the
        fields alone; None when there is none (a field type it does not know)."""
        if stored not in self._decoders:
            decoder = None
            # A field type the generator does not know (TypeError): cattrs alone.
            with contextlib.suppress(TypeError):
                if self._generated:
                    decoder = dict_decoder(self.cls, stored=stored, converter=self.converter)
            self._decoders[stored] = decoder
        return self._decoders[stored]


#: The class codecs of the default converter, shared by every codec not given one.
_DEFAULT_CLASS_CODECS: dict[type[Event], _ClassCodec] = {}


def _class_codec(cls: type[Event], converter: cattrs.Converter | None) -> _ClassCodec:
    """The :class:`_ClassCodec` of ``cls`` with ``converter``; with None, the default
    converter's, made once per process (two threads racing make it twice, harmlessly)."""
    if converter is not None:
        return _ClassCodec(cls, converter, generated=False)
    made = _DEFAULT_CLASS_CODECS.get(cls)
    if made is None:
        made = _DEFAULT_CLASS_CODECS[cls] = _ClassCodec(cls, _default_converter(), generated=True)
    return made


def _encoder(cls: type[Event], converter: cattrs.Converter) -> Callable[[Event], dict[str, Any]]:
    """The generated encoder of ``cls``, or cattrs' hook for a field type it does not know."""
    try:
        return dict_encoder(cls, converter)
    except TypeError:
        unstructure = converter.get_unstructure_hook(cls)

        def encode(event: Event) -> dict[str, Any]:
            data: dict[str, Any] = unstructure(event)
            data[_TYPE_KEY] = cls.event_type
            data[_VERSION_KEY] = cls.version
            return data

        return encode


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
        self._event_types = dict(event_types)
        self._upcasters: dict[tuple[str, int], Upcaster] = {
            key: upcaster
            for key, upcaster in _BUILTIN_UPCASTERS.items()
            if key[0] in self._event_types
        }
        # Encoders made and hooks resolved once per class -- once per process for a codec
        # with the default converter -- so encode and decode then cost a dict lookup.
        self._classes = {
            cls: _class_codec(cls, converter) for cls in set(self._event_types.values())
        }
        self._unstructure = {cls: made.encode for cls, made in self._classes.items()}
        # The generated decoder of a stored dict at its type's current version, by type
        # tag: each made on the type's first decode (see _first_decode).
        self._decode_stored: dict[str, Callable[[dict[str, Any]], Event]] = {
            event_type: functools.partial(self._first_decode, event_type)
            for event_type in self._event_types
        }

    def _first_decode(self, event_type: str, data: dict[str, Any]) -> Event:
        """Decode ``data`` with its type's generated decoder, made now and kept for the
        next ones (a type without one is left to the general path from now on)."""
        decoder = self._classes[self._event_types[event_type]].decoder(stored=True)
        if decoder is None:
            self._decode_stored.pop(event_type, None)
            raise _Declined
        self._decode_stored[event_type] = decoder
        return decoder(data)

    def register_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """Register the step that turns version ``from_version`` of ``event_type`` into the next."""
        if event_type not in self._event_types:
            raise UnknownEventTypeError(f"cannot upcast unknown event type {event_type!r}")
        self._upcasters[(event_type, from_version)] = upcaster

    def to_dict(self, event: Event) -> dict[str, Any]:
        """The JSON-ready dict of ``event``, with its type tag and version."""
        cls = type(event)
        try:
            encode = self._unstructure[cls]
        except KeyError:
            raise UnknownEventTypeError(f"{cls.__name__} is not a registered event type") from None
        return encode(event)

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
        if type(data) is dict:
            event_type = data.get(_TYPE_KEY)
            if type(event_type) is str:
                decode = self._decode_stored.get(event_type)
                if decode is not None:
                    try:
                        return decode(data)
                    except Exception:  # declined: the general path decides, and says why
                        pass
        return self._upcast_and_structure(data)

    def _upcast_and_structure(self, data: Mapping[str, Any]) -> Event:
        """:meth:`from_dict` for any dict: checked, upcast a step at a time, structured
        (by the generated decoder if it takes the fields, else by cattrs' hook, whose
        error names what is wrong)."""
        fields = dict(data)
        event_type = fields.pop(_TYPE_KEY, None)
        version = fields.pop(_VERSION_KEY, 1)
        cls = self._event_types.get(event_type) if isinstance(event_type, str) else None
        if cls is None:
            raise UnknownEventTypeError(f"unknown event type {event_type!r}")
        if type(version) is not int or version < 1:
            raise SchemaVersionError(f"{event_type} has a malformed version {version!r}")
        if version > cls.version:
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
            try:
                fields = upcaster(fields)
            except Exception as error:  # a stored dict is data: the step may not expect it
                raise CodecError(
                    f"cannot upcast {event_type} from version {version}: {_describe(error)}"
                ) from error
            if not isinstance(fields, dict):
                raise CodecError(f"the upcaster of {event_type} version {version} gave no dict")
            version += 1
        made = self._classes[cls]
        decode = made.decoder(stored=False)
        if decode is not None:
            try:
                return decode(fields)
            except Exception:  # declined: cattrs' hook decides, and says why
                pass
        try:
            return made.structure(fields)
        except Exception as error:  # cattrs raises a ClassValidationError group
            raise CodecError(f"cannot decode {event_type}: {_describe(error)}") from error

    def decode(self, payload: str | bytes) -> Event:
        """The event stored as JSON ``payload``: :func:`payload_fields`, then :meth:`from_dict`."""
        # from_dict's fast path inlined: the rebuild of a run is a loop over this.
        try:
            data = _loads(payload)
        except (ValueError, TypeError) as error:  # TypeError: not text at all
            raise CodecError(f"payload is not JSON: {error}") from None
        if type(data) is dict:
            event_type = data.get(_TYPE_KEY)
            if type(event_type) is str:
                decode = self._decode_stored.get(event_type)
                if decode is not None:
                    try:
                        return decode(data)
                    except Exception:  # declined: the general path decides, and says why
                        pass
        elif not isinstance(data, dict):
            raise CodecError("payload is not a JSON object")
        return self._upcast_and_structure(data)


def payload_fields(payload: str | bytes) -> dict[str, Any]:
    """The JSON object stored as ``payload``, as it is: keys, ``type`` and ``v`` included.

    Raises:
        CodecError: ``payload`` is not JSON, or not a JSON object.
    """
    try:
        data = orjson.loads(payload)  # a third of json.loads' time, on every rebuild
    except (ValueError, TypeError) as error:  # TypeError: not text at all (an int, None...)
        raise CodecError(f"payload is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise CodecError("payload is not a JSON object")
    return data


def _describe(error: BaseException) -> str:
    """One line for a cattrs error: the outermost field it names and the innermost cause."""
    # cattrs nests field errors in exception groups, each noted "... @ attribute NAME";
    # the user wants the event's field, not the key deep inside its mapping.
    # (BaseExceptionGroup is not a builtin before Python 3.11, hence the duck typing.)
    field = None
    while getattr(error, "exceptions", None):
        error = error.exceptions[0]  # type: ignore[attr-defined]
        for note in getattr(error, "__notes__", ()):
            if field is None and "@ attribute " in note:
                field = note.rsplit("@ attribute ", 1)[1]
    message = str(error) or type(error).__name__
    if isinstance(error, KeyError):
        message = f"missing {message}"
    return f"field {field}: {message}" if field else message
