"""Hypothesis strategies for whole messages (``amqp10.Message``), built on the value strategies
of ``support.strategies``, and ``same_message`` to compare two messages.

``messages()`` draws a ``Message`` with every section independently absent or present and every
body shape of the ``Message`` docstring. ``proton_messages()`` and ``proton_values()`` restrict
that to what python-qpid-proton can hold (see their docstrings).

Values may hold NaN, which ``==`` calls unequal to itself: compare with ``same_message`` (and
``support.strategies.same_value``), which are also strict about types (``UInt(1)`` is not
``ULong(1)``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st

from amqp10.codec import spec
from amqp10.codec.message import AmqpSequence, AmqpValue, Data, Message
from amqp10.codec.types import Described, Timestamp, UInt, ULong
from support.spec_strategies import composite
from support.strategies import (
    any_value,
    described_values,
    same_value,
    scalar_values,
    string_values,
    symbol_values,
)

__all__ = [
    "annotations",
    "application_properties",
    "bodies",
    "messages",
    "same_message",
    "proton_values",
    "proton_messages",
]


def annotations(values: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """An annotations map (3.2.10): symbol or ulong keys, any values."""
    keys = st.one_of(symbol_values(), st.integers(0, 2**64 - 1).map(ULong))
    return st.dictionaries(keys, any_value(2, 3) if values is None else values, max_size=5)


def application_properties() -> st.SearchStrategy[dict[str, Any]]:
    """An application-properties map (3.2.5): string keys, simple values."""
    simple = st.one_of(scalar_values(), described_values(scalar_values()))
    return st.dictionaries(string_values(), simple, max_size=6)


def _is_section_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(item, (Data, AmqpSequence)) for item in value
    )


def _bare_value_bodies(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A bare body that means one amqp-value: not None (no body), not bytes (a data section).
    return values.filter(
        lambda v: v is not None and not isinstance(v, bytes) and not _is_section_list(v)
    )


def bodies() -> st.SearchStrategy[Any]:
    """Every body shape of the Message docstring, as a caller would write it."""
    return st.one_of(
        st.none(),
        st.binary(max_size=300),
        st.lists(st.binary(max_size=40).map(Data), min_size=2, max_size=4),
        st.lists(st.lists(any_value(2, 3), max_size=4).map(AmqpSequence), min_size=1, max_size=3),
        any_value().map(AmqpValue),
        _bare_value_bodies(any_value()),
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


def _body_key(body: Any) -> tuple[str, Any]:
    # The sections a body encodes to (the Message docstring), as comparable data.
    if body is None:
        return ("none", None)
    if isinstance(body, (bytes, bytearray, memoryview)):
        return ("data", [bytes(body)])
    if isinstance(body, AmqpValue):
        return ("value", body.value)
    if _is_section_list(body) and all(isinstance(item, Data) for item in body):
        return ("data", [bytes(item) for item in body])
    if _is_section_list(body) and all(isinstance(item, AmqpSequence) for item in body):
        return ("sequence", [list(item) for item in body])
    return ("value", body)


def same_message(a: Message, b: Message) -> bool:
    """The same message: every section the same AMQP value (``same_value``), bodies compared
    by the sections they encode to, header and properties field by field after the coercion
    encoding applies (a plain ``int`` priority is the ``UByte`` it is sent as)."""
    for name in ("delivery_annotations", "message_annotations", "application_properties", "footer"):
        x, y = getattr(a, name), getattr(b, name)
        if (x is None) != (y is None) or (x is not None and not same_value(x, y)):
            return False
    for name in ("header", "properties"):
        x, y = getattr(a, name), getattr(b, name)
        if (x is None) != (y is None):
            return False
        if x is not None and not same_value(x._amqp_fields_(), y._amqp_fields_()):
            return False
    (kind_a, body_a), (kind_b, body_b) = _body_key(a.body), _body_key(b.body)
    return kind_a == kind_b and same_value(body_a, body_b)


# --- what python-qpid-proton can hold -----------------------------------------------------------


def _proton_expressible(value: Any) -> bool:
    """Whether python-qpid-proton can hold ``value``: no binary map keys (its Python layer
    returns binary as a writable memoryview, which is unhashable, so ``get_object`` fails on
    such a map) and no described value whose value is itself described (Proton's decoder then
    loses the rest of the enclosing list; see test_against_proton_codec)."""
    if isinstance(value, dict):
        return all(
            type(k) is not bytes and _proton_expressible(k) and _proton_expressible(v)
            for k, v in value.items()
        )
    if isinstance(value, list):  # list, AmqpSequence and Array
        return all(_proton_expressible(item) for item in value)
    if isinstance(value, Described):
        return type(value.value) is not Described and _proton_expressible(value.value)
    return True


def proton_values(max_depth: int = 3) -> st.SearchStrategy[Any]:
    """``any_value()`` restricted to what python-qpid-proton can hold (``_proton_expressible``)."""
    return any_value(max_depth).filter(_proton_expressible)


def proton_messages() -> st.SearchStrategy[Message]:
    """Messages python-qpid-proton's ``Message`` can represent without loss.

    Proton keeps one body section and drops the footer (LANDSCAPE.md section 6), so these have
    no footer and at most one body section (a single data section, a single amqp-sequence, or
    an amqp-value). Its properties and header setters take times in float seconds, so the
    timestamps and the ttl are whole seconds here (exact as floats), and its string properties
    are C strings, so they hold no NUL. Values are ``proton_values()``.
    """
    return st.builds(
        Message,
        body=st.one_of(
            st.none(),
            st.binary(max_size=300),
            st.lists(proton_values(2), max_size=4).map(lambda v: [AmqpSequence(v)]),
            proton_values().map(AmqpValue),
            _bare_value_bodies(proton_values()),
        ),
        header=_optional(composite(spec.Header).map(_whole_second_ttl)),
        delivery_annotations=_optional(annotations(proton_values(2))),
        message_annotations=_optional(annotations(proton_values(2))),
        properties=_optional(
            composite(spec.Properties).map(_whole_second_timestamps).map(_no_nul_strings)
        ),
        application_properties=_optional(application_properties().filter(_proton_expressible)),
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
