"""The sections of the message format (spec 3.2): their tables, the explicit body wrappers, and
the checks on what each section may hold.

Owns: the section codes, names and order (from the generated ``spec`` tables); ``Data``,
``AmqpSequence`` and ``AmqpValue``; the rules of 3.2.5 (application-properties) and 3.2.10
(annotations) on both sides; the errors for sections out of order, repeated or unknown.
Must never: encode or decode whole messages (``message.py`` does, with these), or hold state.
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

from .errors import DecodeError, EncodeError
from .spec import SECTION_DESCRIPTOR_NAMES, SectionCode
from .types import Array, Symbol

__all__ = ["Data", "AmqpSequence", "AmqpValue"]

# The symbolic descriptors a peer may use instead of the codes (1.5: either form is allowed).
CODE_BY_NAME: Final[dict[str, int]] = {
    name: int(code) for code, name in SECTION_DESCRIPTOR_NAMES.items()
}

# For error messages: "header", "amqp-value", ... (the middle part of the symbolic descriptor).
SECTION_NAME: Final[dict[int, str]] = {
    code: name.split(":")[1] for name, code in CODE_BY_NAME.items()
}

# 3.2: header, delivery-annotations, message-annotations, properties, application-properties,
# body, footer -- each at most once and in this order; the three body kinds share one rank.
RANK: Final[dict[int, int]] = {
    int(SectionCode.HEADER): 0,
    int(SectionCode.DELIVERY_ANNOTATIONS): 1,
    int(SectionCode.MESSAGE_ANNOTATIONS): 2,
    int(SectionCode.PROPERTIES): 3,
    int(SectionCode.APPLICATION_PROPERTIES): 4,
    int(SectionCode.DATA): 5,
    int(SectionCode.AMQP_SEQUENCE): 5,
    int(SectionCode.AMQP_VALUE): 5,
    int(SectionCode.FOOTER): 6,
}

# The same, indexed by the descriptor byte of the smallulong fast path (-1: not a section).
RANK_BY_CODE: Final[tuple[int, ...]] = tuple(RANK.get(code, -1) for code in range(256))

class Data(bytearray):
    """The payload of one ``data`` section (spec 3.2.6): opaque binary application data.

    Use it to send a body of several data sections (``body=[Data(b"a"), Data(b"b")]``); a plain
    ``bytes`` body is a single data section already. It compares equal to ``bytes`` with the
    same content and works wherever a bytes-like object does.

    It is a ``bytearray`` rather than a ``bytes`` subclass for one reason: CPython builds a
    ``bytes`` subclass by first building a plain ``bytes`` and then copying it, so each data
    section would be copied twice on decode; a ``bytearray`` subclass is filled in place.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Data({bytes(self)!r})"


class AmqpSequence(list):  # type: ignore[type-arg]
    """The list carried by one ``amqp-sequence`` section (spec 3.2.7).

    A body of amqp-sequence sections is always a list of these, even when there is only one
    (``body=[AmqpSequence([1, 2, 3])]``), so it never looks like an amqp-value list.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"AmqpSequence({list.__repr__(self)})"


class AmqpValue:
    """An explicit ``amqp-value`` body section (spec 3.2.8) holding any single AMQP value.

    Most amqp-value bodies need no wrapper: ``Message(body="text")`` sends an amqp-value. The
    wrapper is needed, and decoding produces it, only where a bare body would mean something
    else: ``AmqpValue(None)`` (``body=None`` means *no body section*) and ``AmqpValue(b"...")``
    (a bare ``bytes`` body means a *data* section). It also lets you send a list of ``Data``
    or ``AmqpSequence`` objects as a value, which a bare list would turn into sections.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AmqpValue):
            return NotImplemented
        return bool(self.value == other.value)

    __hash__ = None  # type: ignore[assignment]  # mutable holder, like list

    def __repr__(self) -> str:
        return f"AmqpValue({self.value!r})"


BYTES_LIKE: Final = (bytes, bytearray, memoryview)
# Bodies that are certainly one amqp-value (no section list, no bytes): the encoder's fast path.
PLAIN_VALUE_BODY: Final = frozenset((str, dict, int, float, bool, Symbol))
# 3.2.5: application-property values are simple types, "excluding map, list, and array".
NOT_SIMPLE: Final = frozenset((list, dict, Array))
# What the encoder would send as a list or map (tuples encode as lists), and the common types
# that certainly are not, to skip the isinstance check for them.
COMPOUND: Final = (list, tuple, dict)
PLAIN_SIMPLE: Final = frozenset((str, int, float, bool, bytes, type(None), Symbol))


def all_of(items: list[Any], kind: type) -> bool:
    """Whether every item is a ``kind`` (a loop: faster than ``all()`` on a generator)."""
    for item in items:
        if not isinstance(item, kind):
            return False
    return True


def any_of(items: list[Any], kinds: tuple[type, ...]) -> bool:
    """Whether some item is one of ``kinds``."""
    for item in items:
        if isinstance(item, kinds):
            return True
    return False


def annotations_to_send(value: Any, name: str) -> dict[Any, Any]:
    """Check an annotations map and send its plain ASCII ``str`` keys as symbols (3.2.10).

    A non-ASCII ``str`` key cannot be a symbol; it can only have come from a peer that sent it
    as a string, so it goes back out as it came (found by fuzz_decode_message: a decoded message
    must always re-encode).
    """
    if type(value) is not dict:
        if not isinstance(value, dict):
            raise EncodeError(f"Message.{name} must be a dict, not {type(value).__name__}")
    for key in value:
        if type(key) is str:
            return {Symbol(k) if type(k) is str and k.isascii() else k: v for k, v in value.items()}
    return value


def application_properties_to_send(value: Any) -> dict[str, Any]:
    """Check the application-properties map (3.2.5): string keys, simple values.

    Returns the map to encode: ``value`` itself, or a copy when a key is a ``str`` subclass
    (a ``Symbol``) that must go out as a plain string.
    """
    if type(value) is not dict and not isinstance(value, dict):
        raise EncodeError(
            f"Message.application_properties must be a dict, not {type(value).__name__}"
        )
    # Fast path (every send): exact str keys, values of common plain types.
    for key in value:
        if type(key) is not str:
            return _application_properties_slow(value)
    for item in value.values():
        if type(item) not in PLAIN_SIMPLE and isinstance(item, COMPOUND):
            return _application_properties_slow(value)
    return value


def _application_properties_slow(value: dict[Any, Any]) -> dict[str, Any]:
    # The checks again, this time saying which entry is wrong, and converting Symbol keys.
    convert = False
    for key, item in value.items():
        if type(key) is not str:
            if not isinstance(key, str):
                raise EncodeError(f"application property keys must be str (3.2.5), got {key!r}")
            convert = True  # a Symbol (or other str subclass) key: send it as a string
        if isinstance(item, COMPOUND):
            raise EncodeError(
                f"application property {key!r} has a {type(item).__name__} value; "
                "3.2.5 allows only simple types (no list, map or array)"
            )
    if convert:
        return {str.__str__(k): v for k, v in value.items()}
    return value


def check_map(value: Any, code: int, start: int) -> dict[Any, Any]:
    """``value`` if it is a map (annotations, footer); else the section's DecodeError."""
    if type(value) is not dict:
        raise DecodeError(f"{SECTION_NAME[code]} section at offset {start} must hold a map")
    return value


def bad_application_properties(value: dict[Any, Any], start: int) -> NoReturn:
    """Raise the DecodeError naming the entry of ``value`` that breaks 3.2.5."""
    for key, item in value.items():
        if type(key) is not str:
            raise DecodeError(
                f"application-properties key {key!r} at offset {start} is not a string (3.2.5)"
            )
        if type(item) in NOT_SIMPLE:
            raise DecodeError(
                f"application-properties value for {key!r} at offset {start} is a "
                f"{type(item).__name__}; 3.2.5 allows only simple types"
            )
    raise AssertionError("unreachable: called for a valid map")  # pragma: no cover


def section_code(descriptor: Any, start: int) -> int:
    """The section code for a descriptor in any encoding (ulong or symbol, 1.5)."""
    if isinstance(descriptor, str):
        code = CODE_BY_NAME.get(descriptor)
        if code is None:
            raise DecodeError(f"unknown message section descriptor {descriptor!r} at offset {start}")
        return code
    if isinstance(descriptor, int) and not isinstance(descriptor, bool):
        if descriptor in RANK:
            return int(descriptor)
        raise DecodeError(f"unknown message section descriptor 0x{descriptor:x} at offset {start}")
    raise DecodeError(f"message section descriptor at offset {start} is not a ulong or symbol")


def order_error(code: int, body_code: int, section_rank: int, rank: int, start: int) -> NoReturn:
    """Raise the DecodeError that says how a section broke the order of 3.2 (or is unknown)."""
    if section_rank < 0:
        raise DecodeError(f"unknown message section descriptor 0x{code:x} at offset {start}")
    name = SECTION_NAME[code]
    if section_rank == 5 and body_code:
        raise DecodeError(
            f"{name} section at offset {start} comes after a {SECTION_NAME[body_code]} section; "
            "3.2 allows one amqp-value, or data sections only, or amqp-sequence sections only"
        )
    if section_rank == rank:
        raise DecodeError(f"{name} section repeated at offset {start}")
    raise DecodeError(f"{name} section at offset {start} is out of the order of spec 3.2")


def too_many_body_sections(limits: Any, start: int) -> NoReturn:
    """Raise the DecodeError for a body section beyond ``Limits.max_body_sections``."""
    raise DecodeError(
        f"message has more than {limits.max_body_sections} body sections: the one at offset "
        f"{start} is over Limits.max_body_sections"
    )


def body_sections(body: Any) -> tuple[Any, ...]:
    """The body as the sections it encodes to, for equality: ``(kind, payloads)``."""
    if body is None:
        return ("none",)
    if isinstance(body, BYTES_LIKE):
        return ("data", (bytes(body),))
    if type(body) is AmqpValue:
        return ("value", body.value)
    if isinstance(body, list) and body:
        if all_of(body, Data):
            return ("data", tuple(bytes(item) for item in body))
        if all_of(body, AmqpSequence):
            return ("sequence", tuple(list(item) for item in body))
    return ("value", body)
