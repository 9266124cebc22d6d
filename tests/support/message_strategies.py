"""Hypothesis strategies for AMQP values and whole messages (``amqp10.Message``).

``values()`` draws any AMQP value in the Python shape the decoder gives back (plain types for
null, boolean, long, double, string, binary, uuid, list and map; the wrappers for the rest), so
that ``decode(encode(v)) == v`` holds with the same types. NaN is left out: it is never equal
to itself, which would make every equality assertion fail for the wrong reason.

``messages()`` draws a ``Message`` with every section independently absent or present and every
body shape of the ``Message`` docstring. ``proton_messages()`` restricts that to what
python-qpid-proton's ``Message`` can hold (see its docstring).
"""

from __future__ import annotations

import dataclasses
import string
import uuid
from typing import Any

from hypothesis import strategies as st

from amqp10.codec import spec
from amqp10.codec.message import AmqpSequence, AmqpValue, Data, Message
from amqp10.codec.types import (
    Array,
    Byte,
    Char,
    Decimal32,
    Decimal64,
    Decimal128,
    Described,
    Float,
    Int,
    Short,
    Symbol,
    Timestamp,
    UByte,
    UInt,
    ULong,
    UShort,
)
from support.spec_strategies import composite

__all__ = [
    "scalars",
    "values",
    "symbols",
    "annotations",
    "application_properties",
    "bodies",
    "messages",
    "proton_values",
    "proton_messages",
]

symbols = st.text(alphabet=string.ascii_letters + string.digits + ":-._", max_size=24).map(Symbol)

_LONG = st.integers(-(2**63), 2**63 - 1)

#: (element type, strategy for one element) for the arrays of scalars.
_ARRAY_ELEMENTS: list[tuple[type, st.SearchStrategy[Any]]] = [
    (bool, st.booleans()),
    (UByte, st.integers(0, 2**8 - 1).map(UByte)),
    (UShort, st.integers(0, 2**16 - 1).map(UShort)),
    (UInt, st.integers(0, 2**32 - 1).map(UInt)),
    (ULong, st.integers(0, 2**64 - 1).map(ULong)),
    (Byte, st.integers(-(2**7), 2**7 - 1).map(Byte)),
    (Short, st.integers(-(2**15), 2**15 - 1).map(Short)),
    (Int, st.integers(-(2**31), 2**31 - 1).map(Int)),
    (int, _LONG),
    (Float, st.floats(width=32, allow_nan=False).map(Float)),
    (float, st.floats(allow_nan=False)),
    (Char, st.characters(exclude_categories=("Cs",)).map(Char)),
    (Timestamp, _LONG.map(Timestamp)),
    (Decimal32, st.integers(0, 2**32 - 1).map(Decimal32)),
    (Decimal64, st.integers(0, 2**64 - 1).map(Decimal64)),
    (Decimal128, st.integers(0, 2**128 - 1).map(Decimal128)),
    (uuid.UUID, st.uuids()),
    (bytes, st.binary(max_size=40)),
    (str, st.text(max_size=40)),
    (Symbol, symbols),
]

_NULL = st.none()


def scalars(exclude: tuple[type, ...] = ()) -> st.SearchStrategy[Any]:
    """Any primitive AMQP value (not a list, map, array or described value), except the
    Python types in ``exclude``."""
    return st.one_of(
        _NULL, *(strategy for t, strategy in _ARRAY_ELEMENTS if t not in exclude)
    )


def _scalar_arrays() -> st.SearchStrategy[Array]:
    return st.one_of(
        *(
            st.lists(strategy, max_size=5).map(lambda items, t=t: Array(t, items))
            for t, strategy in _ARRAY_ELEMENTS
        )
    )


#: Descriptors in a domain no spec type uses (0xAB), so described values stay ``Described``.
_UNKNOWN_DESCRIPTORS = st.one_of(
    st.integers(0xAB << 32, (0xAB << 32) + 0xFFFF).map(ULong),
    st.text(alphabet=string.ascii_lowercase + ":", min_size=1, max_size=16).map(
        lambda s: Symbol("test:" + s)
    ),
)


def _described_arrays() -> st.SearchStrategy[Array]:
    """Arrays of described values: one descriptor, one value type, at least one element."""

    def build(descriptor: Any, t_and_items: tuple[type, list[Any]]) -> Array:
        _, items = t_and_items
        return Array(Described, [Described(descriptor, v) for v in items], descriptor)

    element_lists = st.one_of(
        *(
            st.lists(strategy, min_size=1, max_size=4).map(lambda items, t=t: (t, items))
            for t, strategy in _ARRAY_ELEMENTS
        )
    )
    return st.builds(build, _UNKNOWN_DESCRIPTORS, element_lists)


def values(
    max_leaves: int = 20,
    key_exclude: tuple[type, ...] = (),
    described_in_described: bool = True,
) -> st.SearchStrategy[Any]:
    """Any AMQP value: scalars, lists, maps, arrays (of scalars, of described values, of
    arrays, of lists, of maps) and described values with unknown descriptors, nested.

    Map keys are scalars, except the types in ``key_exclude``. With
    ``described_in_described=False`` no described value holds another described value directly.
    """
    base = st.one_of(scalars(), _scalar_arrays(), _described_arrays())
    keys = scalars(key_exclude)

    def described_value(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        if described_in_described:
            return children
        return children.filter(lambda v: type(v) is not Described)

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(keys, children, max_size=5),
            st.builds(Described, _UNKNOWN_DESCRIPTORS, described_value(children)),
            st.lists(_scalar_arrays(), min_size=1, max_size=3).map(lambda a: Array(Array, a)),
            st.lists(st.lists(children, max_size=3), max_size=3).map(lambda a: Array(list, a)),
            st.lists(st.dictionaries(keys, children, max_size=3), max_size=3).map(
                lambda a: Array(dict, a)
            ),
        )

    return st.recursive(base, extend, max_leaves=max_leaves)


def annotations(value_strategy: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """An annotations map (3.2.10): symbol or ulong keys, any values."""
    keys = st.one_of(symbols, st.integers(0, 2**64 - 1).map(ULong))
    return st.dictionaries(keys, values(8) if value_strategy is None else value_strategy, max_size=5)


def application_properties(
    value_strategy: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """An application-properties map (3.2.5): string keys, simple values."""
    simple = st.one_of(scalars(), st.builds(Described, _UNKNOWN_DESCRIPTORS, scalars()))
    return st.dictionaries(
        st.text(max_size=12), simple if value_strategy is None else value_strategy, max_size=6
    )


def bodies() -> st.SearchStrategy[Any]:
    """Every body shape of the Message docstring, as a caller would write it."""
    bare_values = values().filter(
        lambda v: v is not None and not isinstance(v, bytes) and not _is_section_list(v)
    )
    return st.one_of(
        st.none(),
        st.binary(max_size=300),
        st.lists(st.binary(max_size=40).map(Data), min_size=2, max_size=4),
        st.lists(st.lists(values(6), max_size=4).map(AmqpSequence), min_size=1, max_size=3),
        values().map(AmqpValue),
        bare_values,
    )


def _is_section_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(item, (Data, AmqpSequence)) for item in value
    )


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def messages() -> st.SearchStrategy[Message]:
    """A message with each of the seven sections independently absent or present."""
    return st.builds(
        Message,
        body=bodies(),
        header=_optional(composite(spec.Header)),
        delivery_annotations=_optional(annotations()),
        message_annotations=_optional(annotations()),
        properties=_optional(composite(spec.Properties)),
        application_properties=_optional(application_properties()),
        footer=_optional(annotations()),
    )


#: Map keys Proton's Python layer cannot decode: it returns binary as a writable memoryview,
#: which is unhashable, so a map with a binary key fails in ``proton.Data.get_object``.
PROTON_KEY_EXCLUDE: tuple[type, ...] = (bytes,)


def proton_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """``values()`` without what python-qpid-proton cannot represent: binary map keys, and a
    described value whose value is itself described (Proton refuses to encode one, and
    decodes one inside a list as if the list ended there; see test_against_proton_codec)."""
    return values(max_leaves, key_exclude=PROTON_KEY_EXCLUDE, described_in_described=False)


def proton_messages() -> st.SearchStrategy[Message]:
    """Messages python-qpid-proton's ``Message`` can represent without loss.

    Proton keeps one body section and drops the footer (LANDSCAPE.md section 6), so these have
    no footer and at most one body section (a single data section, a single amqp-sequence, or
    an amqp-value). Its properties and header setters take times in float seconds, so the
    timestamps and the ttl are whole seconds here (exact as floats), and its string properties
    are C strings, so they hold no NUL. Values are ``proton_values()``.
    """
    header = composite(spec.Header).map(_whole_second_ttl)
    return st.builds(
        Message,
        body=st.one_of(
            st.none(),
            st.binary(max_size=300),
            st.lists(proton_values(6), max_size=4).map(lambda v: [AmqpSequence(v)]),
            proton_values().map(AmqpValue),
            proton_values().filter(
                lambda v: v is not None and not isinstance(v, bytes) and not _is_section_list(v)
            ),
        ),
        header=_optional(header),
        delivery_annotations=_optional(annotations(proton_values(8))),
        message_annotations=_optional(annotations(proton_values(8))),
        properties=_optional(
            composite(spec.Properties).map(_whole_second_timestamps).map(_no_nul_strings)
        ),
        application_properties=_optional(application_properties()),
    )


def _whole_second_ttl(header: spec.Header) -> spec.Header:
    if header.ttl is None:
        return header
    return dataclasses.replace(header, ttl=UInt(int(header.ttl) // 1000 * 1000))


def _no_nul_strings(properties: spec.Properties) -> spec.Properties:
    changes = {}
    for field in dataclasses.fields(properties):
        value = getattr(properties, field.name)
        if isinstance(value, str) and "\x00" in value:
            changes[field.name] = type(value)(value.replace("\x00", ""))
    return dataclasses.replace(properties, **changes)


def _whole_second_timestamps(properties: spec.Properties) -> spec.Properties:
    changes = {}
    for name in ("absolute_expiry_time", "creation_time"):
        value = getattr(properties, name)
        if value is not None:
            # Proton holds these as float seconds; whole seconds within 2**52 ms are exact.
            changes[name] = Timestamp((int(value) // 1000 % 2**40) * 1000)
    return dataclasses.replace(properties, **changes)
