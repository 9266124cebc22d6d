"""The AMQP 1.0 message format (spec 3.2): a ``Message`` and its seven sections, to and from bytes.

Owns: ``Message``, the explicit body-section wrappers (``Data``, ``AmqpSequence``,
``AmqpValue``), the section order rules of 3.2, and the checks on what each section may hold.
Must never: know about frames, transfers or deliveries (a message is only the payload that
transfers carry), do I/O, or copy a body's bytes more than once in either direction.

Speed matters here (every delivery goes through it), so both directions work straight on the
codec's hot functions: one output ``bytearray`` on encode; on decode a single pass over one
``memoryview`` that reads each section's descriptor inline and hands the value's offset to
``decode_value``.
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

# The package picks the implementation (pure or Cython) once; these are its hot functions.
# amqp10.codec imports this module only after binding them, so the import is not circular.
from . import decode_value as _decode_value
from . import encode_described_list as _encode_described_list
from . import encode_value as _encode_value
from .errors import DecodeError, EncodeError
from .limits import DEFAULT_LIMITS, Limits
from .spec import SECTION_DESCRIPTOR_NAMES, Header, Properties, SectionCode
from .types import Array, Symbol

__all__ = ["Message", "Data", "AmqpSequence", "AmqpValue", "Header", "Properties"]

# 3.2: the section descriptors (from the generated tables), as plain ints for the hot loop.
_HEADER: Final = int(SectionCode.HEADER)
_DELIVERY_ANNOTATIONS: Final = int(SectionCode.DELIVERY_ANNOTATIONS)
_MESSAGE_ANNOTATIONS: Final = int(SectionCode.MESSAGE_ANNOTATIONS)
_PROPERTIES: Final = int(SectionCode.PROPERTIES)
_APPLICATION_PROPERTIES: Final = int(SectionCode.APPLICATION_PROPERTIES)
_DATA: Final = int(SectionCode.DATA)
_AMQP_SEQUENCE: Final = int(SectionCode.AMQP_SEQUENCE)
_AMQP_VALUE: Final = int(SectionCode.AMQP_VALUE)
_FOOTER: Final = int(SectionCode.FOOTER)

# The symbolic descriptors a peer may use instead of the codes (1.5: either form is allowed).
_CODE_BY_NAME: Final[dict[str, int]] = {
    name: int(code) for code, name in SECTION_DESCRIPTOR_NAMES.items()
}

# For error messages: "header", "amqp-value", ... (the middle part of the symbolic descriptor).
_SECTION_NAME: Final[dict[int, str]] = {
    code: name.split(":")[1] for name, code in _CODE_BY_NAME.items()
}

# 3.2: header, delivery-annotations, message-annotations, properties, application-properties,
# body, footer -- each at most once and in this order; the three body kinds share one rank.
_RANK: Final[dict[int, int]] = {
    _HEADER: 0,
    _DELIVERY_ANNOTATIONS: 1,
    _MESSAGE_ANNOTATIONS: 2,
    _PROPERTIES: 3,
    _APPLICATION_PROPERTIES: 4,
    _DATA: 5,
    _AMQP_SEQUENCE: 5,
    _AMQP_VALUE: 5,
    _FOOTER: 6,
}

# The same, indexed by the descriptor byte of the smallulong fast path (-1: not a section).
_RANK_BY_CODE: Final[tuple[int, ...]] = tuple(_RANK.get(code, -1) for code in range(256))

# Below this size a data payload is appended to the output buffer; above it, it is joined in
# once at the end, so a large body is copied exactly once (into the returned bytes).
_JOIN_THRESHOLD: Final = 4096


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


_BYTES_LIKE: Final = (bytes, bytearray, memoryview)
# Bodies that are certainly one amqp-value (no section list, no bytes): the encoder's fast path.
_PLAIN_VALUE_BODY: Final = frozenset((str, dict, int, float, bool, Symbol))
# 3.2.5: application-property values are simple types, "excluding map, list, and array".
_NOT_SIMPLE: Final = frozenset((list, dict, Array))
# What the encoder would send as a list or map (tuples encode as lists), and the common types
# that certainly are not, to skip the isinstance check for them.
_COMPOUND: Final = (list, tuple, dict)
_PLAIN_SIMPLE: Final = frozenset((str, int, float, bool, bytes, type(None), Symbol))


class Message:
    """An AMQP 1.0 message (spec 3.2): the bare message plus its annotations.

    Every section is optional; an absent section is ``None`` and is not encoded. The
    attributes are plain and mutable, in wire order:

    - ``header``: a ``Header`` (durable, priority, ttl, first_acquirer, delivery_count), or
      ``None``. Absent fields stay ``None`` (the receiver then applies the spec defaults).
    - ``delivery_annotations``, ``message_annotations``: dicts, kept exactly as they came,
      unknown keys included. On encode, plain ``str`` keys are sent as symbols (3.2.10 restricts
      annotation keys to symbol or ulong); other keys go out as given.
    - ``properties``: a ``Properties`` (message_id, user_id, to, subject, reply_to, ...), or
      ``None``.
    - ``application_properties``: a dict with ``str`` keys (sent as AMQP strings) and simple
      values, i.e. not a list, map or array (3.2.5). Breaking that is an ``EncodeError``
      when you encode and a ``DecodeError`` when a peer sends it.
    - ``body``: see below.
    - ``footer``: a dict (annotations, like the two above), or ``None``.

    The body, and how each shape maps to sections (3.2: one or more data sections, one or more
    amqp-sequence sections, or a single amqp-value section):

    ==================================================  =====================================
    ``body``                                            sections on the wire
    ==================================================  =====================================
    ``None``                                            no body section
    ``bytes`` (also ``bytearray``, ``memoryview``,      one data section
    a single ``Data``)
    ``[Data(...), Data(...), ...]`` (non-empty)         one data section per item
    ``[AmqpSequence([...]), ...]`` (non-empty)          one amqp-sequence section per item
    ``AmqpValue(v)``                                    one amqp-value section holding ``v``
    anything else (``str``, ``int``, ``dict``, a list   one amqp-value section holding it
    of plain values, ``[]``, ...)
    ==================================================  =====================================

    Decoding gives back the same shapes, choosing the shortest one that is unambiguous: a
    single data section gives ``bytes``, several give a list of ``Data``; amqp-sequence
    sections always give a list of ``AmqpSequence``; an amqp-value gives its bare value, except
    that a null or binary value gives ``AmqpValue(None)`` / ``AmqpValue(b"...")``, because a bare
    ``None`` or ``bytes`` body would mean no body / a data section. So ``decode(m.encode())``
    always encodes to the same bytes as ``m``, and compares equal to it.

    A list that mixes ``Data`` or ``AmqpSequence`` items with anything else is refused with
    ``EncodeError``: wrap it in ``AmqpValue`` if you mean to send such a list as a value.
    """

    __slots__ = (
        "header",
        "delivery_annotations",
        "message_annotations",
        "properties",
        "application_properties",
        "body",
        "footer",
    )

    def __init__(
        self,
        body: Any = None,
        header: Header | None = None,
        delivery_annotations: dict[Any, Any] | None = None,
        message_annotations: dict[Any, Any] | None = None,
        properties: Properties | None = None,
        application_properties: dict[str, Any] | None = None,
        footer: dict[Any, Any] | None = None,
    ) -> None:
        self.header = header
        self.delivery_annotations = delivery_annotations
        self.message_annotations = message_annotations
        self.properties = properties
        self.application_properties = application_properties
        self.body = body
        self.footer = footer

    def __repr__(self) -> str:
        parts = [
            f"{name}={getattr(self, name)!r}"
            for name in self.__slots__
            if getattr(self, name) is not None
        ]
        return f"Message({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        """Equal when every section is equal; bodies compare by the sections they encode to
        (``b"x"``, ``Data(b"x")`` and ``[Data(b"x")]`` are the same single data section)."""
        if not isinstance(other, Message):
            return NotImplemented
        return (
            self.header == other.header
            and self.delivery_annotations == other.delivery_annotations
            and self.message_annotations == other.message_annotations
            and self.properties == other.properties
            and self.application_properties == other.application_properties
            and self.footer == other.footer
            and _body_sections(self.body) == _body_sections(other.body)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    # -- encoding -------------------------------------------------------------------------

    def encode(self) -> bytes:
        """The message's sections (3.2), in spec order, as bytes.

        Returns:
            The encoded message: the payload of a transfer with message-format 0.

        Raises:
            EncodeError: a section holds something the spec does not allow there (a header that
                is not a ``Header``, a non-string application-property key, a list as an
                application-property value, ...) or a value the codec cannot encode.

        A large ``bytes`` body is copied once, into the returned bytes, and not before.
        """
        encode_value = _encode_value
        out = bytearray()
        header = self.header
        if header is not None:
            if not isinstance(header, Header):
                raise EncodeError(f"Message.header must be a Header, not {type(header).__name__}")
            _encode_described_list(out, 0x70, header._amqp_fields_())
        if self.delivery_annotations is not None:
            out += b"\x00\x53\x71"
            encode_value(out, _annotations(self.delivery_annotations, "delivery_annotations"))
        if self.message_annotations is not None:
            out += b"\x00\x53\x72"
            encode_value(out, _annotations(self.message_annotations, "message_annotations"))
        properties = self.properties
        if properties is not None:
            if not isinstance(properties, Properties):
                raise EncodeError(
                    f"Message.properties must be a Properties, not {type(properties).__name__}"
                )
            _encode_described_list(out, 0x73, properties._amqp_fields_())
        if self.application_properties is not None:
            out += b"\x00\x53\x74"
            encode_value(out, _application_properties(self.application_properties))

        parts: list[Any] | None = None
        body = self.body
        if body is None:
            pass
        elif type(body) in _PLAIN_VALUE_BODY:  # the common amqp-value bodies, checked first
            out += b"\x00\x53\x77"
            encode_value(out, body)
        elif isinstance(body, _BYTES_LIKE):
            parts = _encode_data(out, body, parts)
        elif type(body) is AmqpValue:
            out += b"\x00\x53\x77"
            encode_value(out, body.value)
        elif isinstance(body, list) and body and _all_of(body, Data):
            for item in body:
                parts = _encode_data(out, item, parts)
        elif isinstance(body, list) and body and _all_of(body, AmqpSequence):
            for item in body:
                out += b"\x00\x53\x76"
                encode_value(out, list(item))
        elif isinstance(body, (Data, AmqpSequence)) or (
            isinstance(body, list) and _any_of(body, (Data, AmqpSequence))
        ):
            if isinstance(body, AmqpSequence):
                raise EncodeError(
                    "an AmqpSequence body must be in a list: body=[AmqpSequence([...])]"
                )
            raise EncodeError(
                "a body list mixes Data or AmqpSequence sections with other items; "
                "use only Data, only AmqpSequence, or wrap the list in AmqpValue(...)"
            )
        else:
            out += b"\x00\x53\x77"
            encode_value(out, body)

        if self.footer is not None:
            out += b"\x00\x53\x78"
            encode_value(out, _annotations(self.footer, "footer"))
        if parts is None:
            return bytes(out)
        parts.append(out)
        return b"".join(parts)

    # -- decoding -------------------------------------------------------------------------

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview, limits: Limits | None = None) -> Message:
        """Build a message from its encoded sections.

        Args:
            data: one whole message (the concatenated payload of its transfers).
            limits: decoding bounds; ``limits.max_message_size`` is checked before anything
                else. Defaults to ``DEFAULT_LIMITS``.

        Returns:
            The message; see the class docstring for the body's shapes.

        Raises:
            DecodeError: (condition ``amqp:decode-error``) the bytes are not a valid message: a
                section out of the order of spec 3.2, repeated, unknown, or holding the wrong
                type; body sections of different kinds; a bad encoding; or a limit exceeded.

        A ``data`` section's payload is copied once, from ``data`` into the ``bytes`` (or
        ``Data``) of the body, and not before.
        """
        if limits is None:
            limits = DEFAULT_LIMITS
        buf = memoryview(data)
        if type(data) is not bytes and (buf.ndim != 1 or buf.format != "B"):
            buf = buf.cast("B")
        size = len(buf)
        if size > limits.max_message_size:
            raise DecodeError(
                f"message of {size} bytes exceeds max_message_size {limits.max_message_size}"
            )
        decode_value = _decode_value
        rank_of = _RANK_BY_CODE
        msg = cls.__new__(cls)
        header = delivery_annotations = message_annotations = None
        properties = application_properties = footer = None
        body: Any = None
        body_code = 0
        data_spans: list[tuple[int, int]] | None = None
        rank = -1
        pos = 0
        # The section codes are written as literals below (0x70 header ... 0x78 footer, 3.2):
        # this loop runs for every delivery, and constants are cheaper than global lookups.
        while pos < size:
            start = pos
            # 3.2: every section is a described value; descriptor fast path: smallulong.
            if buf[pos] != 0x00:
                raise DecodeError(
                    f"expected a message section (a described value, 0x00) at offset {pos}, "
                    f"found constructor 0x{buf[pos]:02x}"
                )
            if pos + 2 < size and buf[pos + 1] == 0x53:
                code = buf[pos + 2]
                pos += 3
            else:
                descriptor, pos = decode_value(buf, pos + 1, limits, 1)
                code = _section_code(descriptor, start)
            section_rank = rank_of[code] if code < 256 else -1
            if section_rank <= rank:
                # 3.2 allows one or more data sections, or one or more amqp-sequence sections.
                if code != body_code or code == 0x77 or section_rank < 0:
                    _order_error(code, body_code, section_rank, rank, start)
            rank = section_rank

            if code == 0x75:  # data
                # Parsed here rather than by decode_value: only the span is noted now, so that
                # the payload is copied once, at the end, into bytes or Data as the count says.
                if pos >= size:
                    raise DecodeError(f"data section at offset {start} has no value")
                constructor = buf[pos]
                if constructor == 0xA0 and pos + 1 < size:
                    n = buf[pos + 1]
                    pos += 2
                elif constructor == 0xB0 and pos + 4 < size:
                    n = int.from_bytes(buf[pos + 1 : pos + 5], "big")
                    pos += 5
                else:
                    raise DecodeError(
                        f"data section at offset {start} must hold binary (vbin8/vbin32), "
                        f"found constructor 0x{constructor:02x} or a truncated length"
                    )
                if n > size - pos:
                    raise DecodeError(
                        f"data section at offset {start} claims {n} bytes, "
                        f"only {size - pos} remain"
                    )
                if n > limits.max_binary_size:
                    raise DecodeError(
                        f"data section of {n} bytes exceeds max_binary_size "
                        f"{limits.max_binary_size}"
                    )
                if data_spans is None:
                    data_spans = [(pos, pos + n)]
                else:
                    data_spans.append((pos, pos + n))
                pos += n
                body_code = 0x75
                continue

            value, pos = decode_value(buf, pos, limits, 1)
            if code == 0x77:  # amqp-value
                body = value
                if value is None or isinstance(value, bytes):
                    body = AmqpValue(value)  # see the class docstring: keep it unambiguous
                body_code = 0x77
            elif code == 0x73:  # properties
                if type(value) is not list:
                    raise DecodeError(f"properties section at offset {start} must hold a list")
                properties = Properties._amqp_from_fields_(value)
            elif code == 0x74:  # application-properties
                # 3.2.5: string keys, simple values (inlined: it is on every delivery's path).
                if type(value) is not dict:
                    raise DecodeError(
                        f"application-properties section at offset {start} must hold a map"
                    )
                for key in value:
                    if type(key) is not str:
                        _bad_application_properties(value, start)
                for item in value.values():
                    if type(item) in _NOT_SIMPLE:
                        _bad_application_properties(value, start)
                application_properties = value
            elif code == 0x70:  # header
                if type(value) is not list:
                    raise DecodeError(f"header section at offset {start} must hold a list")
                header = Header._amqp_from_fields_(value)
            elif code == 0x72:  # message-annotations
                message_annotations = _check_map(value, code, start)
            elif code == 0x71:  # delivery-annotations
                delivery_annotations = _check_map(value, code, start)
            elif code == 0x76:  # amqp-sequence
                if type(value) is not list:
                    raise DecodeError(
                        f"amqp-sequence section at offset {start} must hold a list"
                    )
                if body_code == 0x76:
                    body.append(AmqpSequence(value))
                else:
                    body = [AmqpSequence(value)]
                    body_code = 0x76
            else:  # 0x78 footer
                footer = _check_map(value, code, start)

        if data_spans is not None:
            # The one copy of each payload: from the input straight into its body object.
            if len(data_spans) == 1:
                a, b = data_spans[0]
                body = bytes(buf[a:b])
            else:
                body = [Data(buf[a:b]) for a, b in data_spans]
        msg.header = header
        msg.delivery_annotations = delivery_annotations
        msg.message_annotations = message_annotations
        msg.properties = properties
        msg.application_properties = application_properties
        msg.body = body
        msg.footer = footer
        return msg


def _all_of(items: list[Any], kind: type) -> bool:
    for item in items:
        if not isinstance(item, kind):
            return False
    return True


def _any_of(items: list[Any], kinds: tuple[type, ...]) -> bool:
    for item in items:
        if isinstance(item, kinds):
            return True
    return False


def _encode_data(out: bytearray, payload: Any, parts: list[Any] | None) -> list[Any] | None:
    """Append one data section holding ``payload`` (3.2.6: binary, vbin8 or vbin32).

    Small payloads go into ``out``; a large one is left out of it and listed in ``parts`` for
    the final join, which copies it exactly once. Returns the (possibly new) parts list.
    """
    view = payload if isinstance(payload, memoryview) else memoryview(payload)
    if view.format != "B" or view.ndim != 1:
        if not view.c_contiguous:
            raise EncodeError("a memoryview body must be C-contiguous")
        view = view.cast("B")
    n = view.nbytes
    if n > 0xFFFFFFFF:
        raise EncodeError(f"a data section holds at most 2**32 - 1 bytes, got {n}")
    if n < 256:
        out += b"\x00\x53\x75\xa0"
        out.append(n)
    else:
        out += b"\x00\x53\x75\xb0"
        out += n.to_bytes(4, "big")
    if n < _JOIN_THRESHOLD:
        out += view
        return parts
    if parts is None:
        parts = []
    parts.append(bytes(out))
    parts.append(view)
    out.clear()
    return parts


def _annotations(value: Any, name: str) -> dict[Any, Any]:
    """Check an annotations map and send its plain ``str`` keys as symbols (3.2.10)."""
    if type(value) is not dict:
        if not isinstance(value, dict):
            raise EncodeError(f"Message.{name} must be a dict, not {type(value).__name__}")
    for key in value:
        if type(key) is str:
            return {Symbol(k) if type(k) is str else k: v for k, v in value.items()}
    return value


def _application_properties(value: Any) -> dict[str, Any]:
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
        if type(item) not in _PLAIN_SIMPLE and isinstance(item, _COMPOUND):
            return _application_properties_slow(value)
    return value


def _application_properties_slow(value: dict[Any, Any]) -> dict[str, Any]:
    convert = False
    for key, item in value.items():
        if type(key) is not str:
            if not isinstance(key, str):
                raise EncodeError(f"application property keys must be str (3.2.5), got {key!r}")
            convert = True  # a Symbol (or other str subclass) key: send it as a string
        if isinstance(item, _COMPOUND):
            raise EncodeError(
                f"application property {key!r} has a {type(item).__name__} value; "
                "3.2.5 allows only simple types (no list, map or array)"
            )
    if convert:
        return {str.__str__(k): v for k, v in value.items()}
    return value


def _check_map(value: Any, code: int, start: int) -> dict[Any, Any]:
    if type(value) is not dict:
        raise DecodeError(f"{_SECTION_NAME[code]} section at offset {start} must hold a map")
    return value


def _bad_application_properties(value: dict[Any, Any], start: int) -> NoReturn:
    """Raise the DecodeError naming the entry of ``value`` that breaks 3.2.5."""
    for key, item in value.items():
        if type(key) is not str:
            raise DecodeError(
                f"application-properties key {key!r} at offset {start} is not a string (3.2.5)"
            )
        if type(item) in _NOT_SIMPLE:
            raise DecodeError(
                f"application-properties value for {key!r} at offset {start} is a "
                f"{type(item).__name__}; 3.2.5 allows only simple types"
            )
    raise AssertionError("unreachable: called for a valid map")  # pragma: no cover


def _section_code(descriptor: Any, start: int) -> int:
    """The section code for a descriptor in any encoding (ulong or symbol, 1.5)."""
    if isinstance(descriptor, str):
        code = _CODE_BY_NAME.get(descriptor)
        if code is None:
            raise DecodeError(f"unknown message section descriptor {descriptor!r} at offset {start}")
        return code
    if isinstance(descriptor, int) and not isinstance(descriptor, bool):
        if descriptor in _RANK:
            return int(descriptor)
        raise DecodeError(f"unknown message section descriptor 0x{descriptor:x} at offset {start}")
    raise DecodeError(f"message section descriptor at offset {start} is not a ulong or symbol")


def _order_error(code: int, body_code: int, section_rank: int, rank: int, start: int) -> NoReturn:
    """Raise the DecodeError that says how a section broke the order of 3.2 (or is unknown)."""
    if section_rank < 0:
        raise DecodeError(f"unknown message section descriptor 0x{code:x} at offset {start}")
    name = _SECTION_NAME[code]
    if section_rank == 5 and body_code:
        raise DecodeError(
            f"{name} section at offset {start} comes after a {_SECTION_NAME[body_code]} section; "
            "3.2 allows one amqp-value, or data sections only, or amqp-sequence sections only"
        )
    if section_rank == rank:
        raise DecodeError(f"{name} section repeated at offset {start}")
    raise DecodeError(f"{name} section at offset {start} is out of the order of spec 3.2")


def _body_sections(body: Any) -> tuple[Any, ...]:
    """The body as the sections it encodes to, for equality: ``(kind, payloads)``."""
    if body is None:
        return ("none",)
    if isinstance(body, _BYTES_LIKE):
        return ("data", (bytes(body),))
    if type(body) is AmqpValue:
        return ("value", body.value)
    if isinstance(body, list) and body:
        if _all_of(body, Data):
            return ("data", tuple(bytes(item) for item in body))
        if _all_of(body, AmqpSequence):
            return ("sequence", tuple(list(item) for item in body))
    return ("value", body)
