"""Field metadata and the coercion/validation helpers behind the generated spec classes.

Owns: ``FieldSpec`` (the per-field metadata ``spec.py`` carries in each class's ``FIELDS``), the
enum bases the generated restricted types use (``BoolEnum``, ``SymbolEnum``), the helpers the
generated ``_amqp_fields_`` / ``_amqp_from_fields_`` call off their fast path (``to_uint``,
``to_symbol``, ``to_multiple``, ``encode_mismatch``, ``decode_mismatch``, ...), and small
conveniences for users of the generated classes: ``as_list``, ``spec_default``,
``value_or_default``, ``to_described``, ``from_described``.

Must never: know a particular spec type (that is generated into ``spec.py``), import ``spec``
(it imports this module), or encode bytes.

The contract with the generated code: encoding helpers take ``(value, owner, field)`` where
``owner`` and ``field`` are the Python class and attribute names, and raise ``EncodeError``
naming both (the caller built a bad object); decoding helpers take the AMQP names
(``"transfer"``, ``"delivery-tag"``) and raise ``DecodeError`` (the peer sent a bad frame).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal as _decimal
import uuid as _uuid
from enum import Enum
from typing import Any, Callable, Mapping, TypeVar

from .composite import BY_CODE, BY_NAME, Composite
from .errors import DecodeError, EncodeError
from .types import (
    Array,
    Byte,
    Char,
    Decimal32,
    Decimal64,
    Decimal128,
    Described,
    Float,
    Int,
    Long,
    Short,
    Symbol,
    Timestamp,
    UByte,
    UInt,
    ULong,
    UShort,
)

__all__ = [
    "FieldSpec",
    "BoolEnum",
    "SymbolEnum",
    "WIRE_TYPES",
    "COERCERS",
    "as_list",
    "spec_default",
    "value_or_default",
    "composite_repr",
    "mutable_twin",
    "as_subclass",
    "to_described",
    "from_described",
    "encode_mismatch",
    "decode_mismatch",
    "not_provided",
    "to_ubyte",
    "to_ushort",
    "to_uint",
    "to_ulong",
    "to_byte",
    "to_short",
    "to_int",
    "to_long",
    "to_boolean",
    "to_float",
    "to_double",
    "to_decimal32",
    "to_decimal64",
    "to_decimal128",
    "to_char",
    "to_timestamp",
    "to_uuid",
    "to_binary",
    "to_string",
    "to_symbol",
    "to_list",
    "to_map",
    "to_fields",
    "to_array",
    "to_choice",
    "to_provided",
    "to_multiple",
    "decode_choice",
    "check_fields",
    "check_multiple",
]


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """What the spec XML says about one field of a composite type.

    Attributes:
        name: the Python attribute name (the XML name in snake_case).
        amqp_type: the field's type as the XML names it (``"milliseconds"``, ``"error"``,
            ``"*"``).
        primitive: the AMQP primitive the value is encoded as once restricted types are
            followed to their source (``"uint"``, ``"symbol"``, ``"map"``, ...);
            ``"composite"`` for a field typed by a composite (a described list, e.g.
            ``error``); ``"*"`` for a field of any type (``type="*"``).
        requires: the archetype the value must provide (``"delivery-state"``,
            ``"error-condition"``), or ``None``.
        mandatory: the spec marks the field mandatory. Absent mandatory fields are *not* an
            error at decode time; the engine checks ``_amqp_mandatory_`` where it matters.
        multiple: the field may hold one value or an array of them (spec 1.4).
        default: the spec default as a Python value (an enum member for restricted types with
            choices), or ``None``. It is metadata only: an absent field stays ``None``.
        amqp_name: the field name as the XML spells it (``"max-frame-size"``).
    """

    name: str
    amqp_type: str
    primitive: str
    requires: str | None
    mandatory: bool
    multiple: bool
    default: Any
    amqp_name: str


class BoolEnum(int, Enum):
    """Base of restricted types whose source is ``boolean`` (``Role``).

    ``bool`` cannot be subclassed, so members are ints whose ``value`` is the exact ``bool``
    from the XML (``Role.RECEIVER.value is True``). A member compares and hashes equal to its
    bool, and is truthy as that bool, so ``attach.role == True`` and ``if attach.role:`` work.
    """

    _value_: bool

    def __new__(cls, value: bool) -> "BoolEnum":
        member = int.__new__(cls, value)
        member._value_ = value
        return member

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}: {self._value_!r}>"


class SymbolEnum(str, Enum):
    """Base of restricted types whose source is ``symbol`` (conditions, expiry policies, ...).

    Members are strs equal to their symbol, so a decoded ``Symbol("amqp:not-found")`` compares
    equal to ``AmqpErrorCondition.NOT_FOUND``; ``str()`` and formatting give the symbol too,
    not ``Class.MEMBER``, so a member can be logged or joined like the text it stands for.
    """

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(str.__str__(self), spec)


#: AMQP primitive name -> the exact Python type the decoder returns for it (DESIGN.md: plain
#: types for null, boolean, long, double, string, binary, uuid, list, map; wrappers for the
#: rest). The generated code checks decoded values with ``type(v) is <this>``.
WIRE_TYPES: Mapping[str, type] = {
    "null": type(None),
    "boolean": bool,
    "ubyte": UByte,
    "ushort": UShort,
    "uint": UInt,
    "ulong": ULong,
    "byte": Byte,
    "short": Short,
    "int": Int,
    "long": int,
    "float": Float,
    "double": float,
    "decimal32": Decimal32,
    "decimal64": Decimal64,
    "decimal128": Decimal128,
    "char": Char,
    "timestamp": Timestamp,
    "uuid": _uuid.UUID,
    "binary": bytes,
    "string": str,
    "symbol": Symbol,
    "list": list,
    "map": dict,
    "array": Array,
}


#: The inverse of WIRE_TYPES, for messages: UByte -> "ubyte".
_PRIMITIVE_OF: Mapping[type, str] = {t: p for p, t in WIRE_TYPES.items()}


def _brief(value: Any) -> str:
    """``TypeName repr`` of a value, cut short: error messages must stay small whatever came."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def encode_mismatch(owner: str, field: str, expected: str, value: Any) -> EncodeError:
    """The error for a field value the caller set that cannot be encoded as ``expected``."""
    return EncodeError(f"{owner}.{field} must be {expected}, got {_brief(value)}")


def not_provided(
    owner: str, field: str, archetype: str, providers: tuple[type, ...], value: Any
) -> EncodeError:
    """The error for a ``type="*" requires=archetype`` field set to a non-provider."""
    names = ", ".join(p.__name__ for p in providers)
    return encode_mismatch(owner, field, f"a {archetype} ({names})", value)


def decode_mismatch(owner: str, field: str, expected: str, value: Any) -> DecodeError:
    """The error for a received field whose value is not of its spec type."""
    return DecodeError(f"{owner} field {field} must be {expected}, got {_brief(value)}")


# -- encoding: coerce a Python value to the wire type of a field ----------------------------
# Each ``to_<primitive>(value, owner, field)`` returns the value as the exact type the encoder
# writes as that primitive, or raises EncodeError naming the class and field. The generated
# code calls them only when the value is not already of that type (its fast path).


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but True in a uint field is a bug, not the number 1.
    return isinstance(value, int) and not isinstance(value, (bool, BoolEnum))


def _bounded(wrapper: type[int], amqp: str) -> Callable[[Any, str, str], Any]:
    def coerce(value: Any, owner: str, field: str) -> Any:
        if not _is_int(value):
            raise encode_mismatch(owner, field, f"an int ({amqp})", value)
        try:
            return wrapper(value)
        except EncodeError as exc:
            raise EncodeError(f"{owner}.{field}: {exc.description}") from None

    coerce.__name__ = f"to_{amqp}"
    coerce.__doc__ = f"An int as ``{wrapper.__name__}``; EncodeError if out of range."
    return coerce


to_ubyte = _bounded(UByte, "ubyte")
to_ushort = _bounded(UShort, "ushort")
to_uint = _bounded(UInt, "uint")
to_ulong = _bounded(ULong, "ulong")
to_byte = _bounded(Byte, "byte")
to_short = _bounded(Short, "short")
to_int = _bounded(Int, "int")
to_long = _bounded(Long, "long")


def to_boolean(value: Any, owner: str, field: str) -> bool:
    """A ``bool`` (or a ``BoolEnum`` member, as its bool)."""
    if isinstance(value, BoolEnum):
        return bool(value.value)
    if type(value) is bool:
        return value
    raise encode_mismatch(owner, field, "a bool", value)


def to_float(value: Any, owner: str, field: str) -> Float:
    """A number as a binary32 ``Float``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return Float(value)
        except EncodeError as exc:
            raise EncodeError(f"{owner}.{field}: {exc.description}") from None
    raise encode_mismatch(owner, field, "a number (float)", value)


def to_double(value: Any, owner: str, field: str) -> float:
    """A number as a plain ``float`` (binary64)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise encode_mismatch(owner, field, "a number (double)", value)


def _decimal_coercer(wrapper: type[Any], amqp: str) -> Callable[[Any, str, str], Any]:
    def coerce(value: Any, owner: str, field: str) -> Any:
        if isinstance(value, wrapper):
            return value
        if isinstance(value, _decimal.Decimal):
            try:
                return wrapper.from_decimal(value)
            except EncodeError as exc:
                raise EncodeError(f"{owner}.{field}: {exc.description}") from None
        raise encode_mismatch(owner, field, f"{wrapper.__name__} or decimal.Decimal", value)

    coerce.__name__ = f"to_{amqp}"
    coerce.__doc__ = f"A ``decimal.Decimal`` as ``{wrapper.__name__}`` (exactly, or EncodeError)."
    return coerce


to_decimal32 = _decimal_coercer(Decimal32, "decimal32")
to_decimal64 = _decimal_coercer(Decimal64, "decimal64")
to_decimal128 = _decimal_coercer(Decimal128, "decimal128")


def _text(value: Any) -> str | None:
    """The exact ``str`` behind a str, Symbol or str-valued enum member, else None."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        # str.__str__ on a subclass instance returns a plain str copy of its characters.
        return str.__str__(value)
    return None


def to_char(value: Any, owner: str, field: str) -> Char:
    """A one-character str as ``Char``."""
    text = _text(value)
    if text is None:
        raise encode_mismatch(owner, field, "a one-character str (char)", value)
    try:
        return Char(text)
    except EncodeError as exc:
        raise EncodeError(f"{owner}.{field}: {exc.description}") from None


def to_timestamp(value: Any, owner: str, field: str) -> Timestamp:
    """Milliseconds since the epoch (an int) or a ``datetime`` as ``Timestamp``."""
    try:
        if isinstance(value, _dt.datetime):
            return Timestamp.from_datetime(value)
        if _is_int(value):
            return Timestamp(value)
    except EncodeError as exc:
        raise EncodeError(f"{owner}.{field}: {exc.description}") from None
    raise encode_mismatch(owner, field, "an int (ms since the epoch) or a datetime", value)


def to_uuid(value: Any, owner: str, field: str) -> _uuid.UUID:
    """A ``uuid.UUID``."""
    if isinstance(value, _uuid.UUID):
        return value
    raise encode_mismatch(owner, field, "a uuid.UUID", value)


def to_binary(value: Any, owner: str, field: str) -> bytes:
    """``bytes`` (a bytearray or memoryview is copied into bytes)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise encode_mismatch(owner, field, "bytes (binary)", value)


def to_string(value: Any, owner: str, field: str) -> str:
    """A plain ``str``: a ``Symbol`` given for a string field goes out as a string."""
    text = _text(value)
    if text is None:
        raise encode_mismatch(owner, field, "a str (string)", value)
    return text


def to_symbol(value: Any, owner: str, field: str) -> Symbol:
    """A str (or str-valued enum member, e.g. an error condition) as an ASCII ``Symbol``."""
    text = _text(value)
    if text is None:
        raise encode_mismatch(owner, field, "a str (symbol)", value)
    try:
        return Symbol(text)
    except EncodeError as exc:
        raise EncodeError(f"{owner}.{field}: {exc.description}") from None


def to_list(value: Any, owner: str, field: str) -> list[Any]:
    """A list (a tuple is copied into one)."""
    if isinstance(value, (list, tuple)) and not isinstance(value, Array):
        return list(value)
    raise encode_mismatch(owner, field, "a list", value)


def to_map(value: Any, owner: str, field: str) -> dict[Any, Any]:
    """A ``dict`` (any other mapping is copied into one)."""
    if isinstance(value, Mapping):
        return dict(value)
    raise encode_mismatch(owner, field, "a mapping (map)", value)


def to_fields(value: Any, owner: str, field: str) -> dict[Any, Any]:
    """A ``fields`` map (spec 2.8.12: symbol keys); str keys become ``Symbol``.

    Returns the same dict when every key is already a ``Symbol``, else a new one.
    """
    if not isinstance(value, Mapping):
        raise encode_mismatch(owner, field, "a mapping with symbol keys (fields)", value)
    if type(value) is dict and all(type(k) is Symbol for k in value):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        out[to_symbol(key, owner, f"{field}[{key!r}]") if type(key) is not Symbol else key] = item
    return out


def to_array(value: Any, owner: str, field: str) -> Array:
    """An ``Array`` (it cannot be guessed from a list: the element type is needed)."""
    if isinstance(value, Array):
        return value
    raise encode_mismatch(owner, field, "an Array", value)


#: AMQP primitive -> its ``to_<primitive>`` coercer (for ``to_provided`` and the generator).
COERCERS: Mapping[str, Callable[[Any, str, str], Any]] = {
    "boolean": to_boolean,
    "ubyte": to_ubyte,
    "ushort": to_ushort,
    "uint": to_uint,
    "ulong": to_ulong,
    "byte": to_byte,
    "short": to_short,
    "int": to_int,
    "long": to_long,
    "float": to_float,
    "double": to_double,
    "decimal32": to_decimal32,
    "decimal64": to_decimal64,
    "decimal128": to_decimal128,
    "char": to_char,
    "timestamp": to_timestamp,
    "uuid": to_uuid,
    "binary": to_binary,
    "string": to_string,
    "symbol": to_symbol,
    "list": to_list,
    "map": to_map,
    "fields": to_fields,
    "array": to_array,
}

# Which Python values each primitive accepts when a field may be one of several restricted
# types (``message-id``: ulong, uuid, binary or string). Checked in the order the spec lists
# the providers; a Symbol is a str, so it goes out as the string provider.
_ACCEPTS: Mapping[str, Callable[[Any], bool]] = {
    "ulong": _is_int,
    "uint": _is_int,
    "uuid": lambda v: isinstance(v, _uuid.UUID),
    "binary": lambda v: isinstance(v, (bytes, bytearray, memoryview)),
    "string": lambda v: isinstance(v, str),
    "symbol": lambda v: isinstance(v, str),
}


def to_provided(
    value: Any, primitives: tuple[str, ...], owner: str, field: str, requires: str
) -> Any:
    """A value for a ``type="*" requires=X`` field whose providers are restricted types.

    Args:
        primitives: the source primitive of each provider of ``requires``, in spec order.
        requires: the archetype, for the error message.
    """
    for primitive in primitives:
        accepts = _ACCEPTS.get(primitive)
        if accepts is not None and accepts(value):
            return COERCERS[primitive](value, owner, field)
    raise encode_mismatch(owner, field, f"a {requires} ({' | '.join(primitives)})", value)


def to_choice(
    value: Any, enum: type[Enum], wire: Mapping[Any, Any], owner: str, field: str
) -> Any:
    """The wire value of a restricted type with choices (``SenderSettleMode``, ``Role``, ...).

    Accepts a member of ``enum`` or a raw value equal to one of its choices; ``wire`` maps each
    choice value to what goes on the wire (``UByte(2)``, ``Symbol("never")``, ``True``).
    """
    if isinstance(value, Enum):
        if not isinstance(value, enum):
            raise encode_mismatch(owner, field, f"a {enum.__name__}", value)
        return wire[value.value]
    try:
        out = wire.get(value)
    except TypeError:  # unhashable: certainly not a choice
        out = None
    # 0/1 and False/True hash alike; a bool is only a choice of a boolean restricted type.
    if out is None or (type(value) is bool) != (type(out) is bool):
        choices = ", ".join(repr(m.value) for m in enum)
        raise encode_mismatch(owner, field, f"a {enum.__name__} (one of {choices})", value)
    return out


def to_multiple(
    value: Any,
    element: type,
    coerce: Callable[[Any, str, str], Any],
    owner: str,
    field: str,
) -> Any:
    """The wire form of a ``multiple="true"`` field (spec 1.4: one value or an array).

    A list or tuple becomes an ``Array`` of ``element`` (each item coerced); an ``Array`` whose
    items are already ``element`` goes out as it is; anything else is coerced as one value.
    """
    if isinstance(value, (list, tuple)):
        if (
            type(value) is Array
            and value.element_type is element
            and all(type(item) is element for item in value)
        ):
            return value
        return Array(
            element, [coerce(item, owner, f"{field}[{i}]") for i, item in enumerate(value)]
        )
    return coerce(value, owner, field)


# -- decoding: validate a received field against its spec type -----------------------------


def decode_choice(
    value: Any, wire_type: type, table: Mapping[Any, Any], owner: str, field: str, amqp: str
) -> Any:
    """The enum member for a received restricted-type value; DecodeError if it is no choice."""
    if type(value) is not wire_type:
        primitive = _PRIMITIVE_OF.get(wire_type, wire_type.__name__)
        raise decode_mismatch(owner, field, f"{amqp} ({primitive})", value)
    member = table.get(value)
    if member is None:
        raise DecodeError(f"{owner} field {field}: {value!r} is not a valid {amqp}")
    return member


def check_fields(value: Any, owner: str, field: str) -> None:
    """Raise DecodeError unless ``value`` is a map with symbol keys (spec 2.8.12 ``fields``)."""
    if type(value) is not dict:
        raise decode_mismatch(owner, field, "a map with symbol keys (fields)", value)
    for key in value:
        if type(key) is not Symbol:
            raise DecodeError(f"{owner} field {field} has a non-symbol key {_brief(key)}")


def check_multiple(value: Any, element: type, owner: str, field: str, amqp: str) -> None:
    """Raise DecodeError unless ``value`` is one ``element`` or an array/list of them.

    An empty array passes whatever its element constructor: it carries no values, and peers
    differ in the constructor they give an empty array.
    """
    if type(value) is Array:
        if value and value.element_type is not element:
            raise decode_mismatch(owner, field, f"{amqp} or an array of {amqp}", value)
        return
    if type(value) is list:
        for item in value:
            if type(item) is not element:
                raise decode_mismatch(owner, field, f"{amqp} or an array of {amqp}", value)
        return
    if type(value) is not element:
        raise decode_mismatch(owner, field, f"{amqp} or an array of {amqp}", value)


# -- conveniences for users of the generated classes ----------------------------------------


def as_list(value: Any) -> list[Any]:
    """A ``multiple`` field's value as a list: ``None`` -> ``[]``, one value -> ``[value]``,
    an array or list -> its items.

    Decoding keeps a ``multiple`` field as it came (one value or an ``Array``), so that
    re-encoding gives the same bytes; use this when you only care about the items.
    """
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _dataclass_of(obj_or_cls: Any) -> type[Any]:
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    if not (isinstance(cls, type) and issubclass(cls, Composite)):
        raise TypeError(f"{cls!r} is not a spec composite class")
    return cls


def spec_default(obj_or_cls: Any, name: str) -> Any:
    """The spec default of field ``name`` of a composite class (or instance), or ``None``.

    Raises:
        AttributeError: the class has no such field.
    """
    cls = _dataclass_of(obj_or_cls)
    if name not in getattr(cls, "__dataclass_fields__", {}):
        raise AttributeError(f"{cls.__name__} has no field {name!r}")
    defaults: Mapping[str, Any] = getattr(cls, "DEFAULTS", {})
    return defaults.get(name)


def value_or_default(obj: Composite, name: str) -> Any:
    """Field ``name`` of ``obj``, or its spec default when the field is absent (``None``).

    This is how the engine reads a peer's frame: ``value_or_default(open, "max_frame_size")``
    gives 4294967295 when the peer left the field out (spec 2.7.1).
    """
    value = getattr(obj, name)
    return spec_default(obj, name) if value is None else value


_C = TypeVar("_C", bound=Composite)


def mutable_twin(cls: type[Composite]) -> type[Composite]:
    """A plain class with exactly the slots of ``cls``, whose instances can become ``cls``.

    The generated ``_amqp_from_fields_`` makes a twin instance, fills it with plain attribute
    stores and then sets ``obj.__class__ = cls``, which CPython allows between classes of the
    same layout (same base, same slots). That builds the frozen instance about 2.5 times faster
    than its dataclass ``__init__``, which stores each field through ``object.__setattr__``;
    every performative and message section the decoder reads is built this way. The object
    is a ``cls`` before anyone else sees it, so it is as frozen as one made by ``cls(...)``.

    Raises:
        TypeError: ``cls`` is not a slotted dataclass whose instances can be made so (tried
            here, once, on a sample).
    """
    names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    if vars(cls).get("__slots__") != names:  # its own slots: inherited ones do not count
        raise TypeError(f"{cls.__name__}'s slots are not its fields {names}")
    (base,) = cls.__bases__
    twin = type(f"_{cls.__name__}Twin", (base,), {"__slots__": names, "__module__": cls.__module__})
    sample: Any = object.__new__(twin)
    for name in names:
        setattr(sample, name, name)
    sample.__class__ = cls  # TypeError if CPython finds the layouts differ
    if any(getattr(sample, name) is not name for name in names):
        raise TypeError(f"{cls.__name__} does not read the fields its twin stored")
    return twin


def as_subclass(cls: type[_C], obj: Composite) -> _C:
    """``obj`` rebuilt as ``cls``, a subclass of its class, by that subclass's own ``__init__``.

    For ``Subclass._amqp_from_fields_``: the mutable twin has the layout of the generated
    class only, so a subclass instance is made from the built one, field by field.
    """
    return cls(*[getattr(obj, f.name) for f in dataclasses.fields(obj)])  # type: ignore[arg-type]


def composite_repr(obj: Composite) -> str:
    """``Open(container_id='c', max_frame_size=512)``: the fields that are present only."""
    parts = [
        f"{f.name}={getattr(obj, f.name)!r}"
        for f in dataclasses.fields(obj)  # type: ignore[arg-type]
        if getattr(obj, f.name) is not None
    ]
    return f"{type(obj).__name__}({', '.join(parts)})"


def to_described(obj: Composite) -> Described:
    """``obj`` as a ``Described(ULong(code), fields)``, its fields coerced and trimmed."""
    return Described(ULong(obj._amqp_code_), obj._amqp_fields_())


def from_described(descriptor: Any, value: Any) -> Any:
    """The spec class instance for a known descriptor, else ``Described(descriptor, value)``.

    Raises:
        DecodeError: the descriptor is a known composite but ``value`` is not a list, or a
            field is not of its spec type.
    """
    cls = BY_CODE.get(descriptor) if _is_int(descriptor) else None
    if cls is None and isinstance(descriptor, str):
        cls = BY_NAME.get(descriptor)
    if cls is None:
        return Described(descriptor, value)
    if type(value) is not list:
        raise DecodeError(f"{cls._amqp_name_} must be a described list, got {_brief(value)}")
    return cls._amqp_from_fields_(value)
