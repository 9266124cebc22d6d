"""The AMQP 1.0 message format (spec 3.2): a ``Message`` and its seven sections, to and from bytes.

Owns: ``Message`` and the encode/decode loops over its sections. The section tables, the body
wrappers (``Data``, ``AmqpSequence``, ``AmqpValue``, re-exported here) and the per-section
checks live in ``sections.py``. Must never: know about frames, transfers or deliveries (a message is only the payload that
transfers carry), do I/O, or copy a body's bytes more than once in either direction.

Speed matters here (every delivery goes through it), so both directions work straight on the
codec's hot functions: one output ``bytearray`` on encode; on decode a single pass over one
``memoryview`` that reads each section's descriptor inline and decodes the section's value
at its offset, every section under one decoding context (``decode_message``).
"""

from __future__ import annotations

from typing import Any, Final

# The package picks the implementation (pure or Cython) once; these are its hot functions.
# amqp10.codec imports this module only after binding them, so the import is not circular.
from . import IMPL as _IMPL
from . import encode_described_list as _encode_described_list
from . import encode_value as _encode_value
# decode_message below is the pure path whatever IMPL says (see its docstring), so it uses the
# pure decoder itself.
from ._pure_decode import decode_in_context as _decode_in_context
from ._pure_decode_scalars import _Ctx
from .errors import DecodeError, EncodeError
from .limits import DEFAULT_LIMITS, Limits
from .sections import (
    BYTES_LIKE,
    NOT_SIMPLE,
    PLAIN_VALUE_BODY,
    RANK_BY_CODE,
    AmqpSequence,
    AmqpValue,
    Data,
    all_of,
    any_of,
    annotations_to_send,
    application_properties_to_send,
    bad_application_properties,
    body_sections,
    check_map,
    order_error,
    section_code,
    too_many_body_sections,
)
from .spec import Header, Properties

__all__ = ["Message", "Data", "AmqpSequence", "AmqpValue", "Header", "Properties"]

# Below this size a data payload is appended to the output buffer; above it, it is joined in
# once at the end, so a large body is copied exactly once (into the returned bytes).
_JOIN_THRESHOLD: Final = 4096


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
            and body_sections(self.body) == body_sections(other.body)
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
            encode_value(out, annotations_to_send(self.delivery_annotations, "delivery_annotations"))
        if self.message_annotations is not None:
            out += b"\x00\x53\x72"
            encode_value(out, annotations_to_send(self.message_annotations, "message_annotations"))
        properties = self.properties
        if properties is not None:
            if not isinstance(properties, Properties):
                raise EncodeError(
                    f"Message.properties must be a Properties, not {type(properties).__name__}"
                )
            _encode_described_list(out, 0x73, properties._amqp_fields_())
        if self.application_properties is not None:
            out += b"\x00\x53\x74"
            encode_value(out, application_properties_to_send(self.application_properties))

        parts: list[Any] | None = None
        body = self.body
        if body is None:
            pass
        elif type(body) in PLAIN_VALUE_BODY:  # the common amqp-value bodies, checked first
            out += b"\x00\x53\x77"
            encode_value(out, body)
        elif isinstance(body, BYTES_LIKE):
            parts = _encode_data(out, body, parts)
        elif type(body) is AmqpValue:
            out += b"\x00\x53\x77"
            encode_value(out, body.value)
        elif isinstance(body, list) and body and all_of(body, Data):
            for item in body:
                parts = _encode_data(out, item, parts)
        elif isinstance(body, list) and body and all_of(body, AmqpSequence):
            for item in body:
                out += b"\x00\x53\x76"
                encode_value(out, list(item))
        elif isinstance(body, (Data, AmqpSequence)) or (
            isinstance(body, list) and any_of(body, (Data, AmqpSequence))
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
            encode_value(out, annotations_to_send(self.footer, "footer"))
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
                type; body sections of different kinds; a bad encoding; or a limit exceeded
                (``max_message_size`` before anything is read, ``max_body_sections`` before
                the first body section over it is decoded).

        A ``data`` section's payload is copied once, from ``data`` into the ``bytes`` (or
        ``Data``) of the body, and not before.
        """
        return _decode_message(cls, data, limits)


def decode_message(
    cls: type[Message], data: bytes | bytearray | memoryview, limits: Limits | None
) -> Message:
    """The body of ``Message.decode`` (which see), as a plain function.

    It is a function so that its Cython twin, ``amqp10._speedups._codec.decode_message``, can
    stand in for it (DESIGN rule 6): once values decode in C, this loop and the building of
    ``Header``/``Properties`` are most of a small message's decode time. The twin must say
    and return exactly what this says and returns (``tests/codec/test_differential.py``).

    This is the pure path (the twin runs whenever the codec is compiled), so it calls the
    pure decoder directly, with one context for all the sections: the message has one
    zero-width budget (``Limits.max_count``), and the per-value setup is paid once.
    """
    if limits is None:
        limits = DEFAULT_LIMITS
    # Plain bytes (what a receiver's delivery holds) are decoded as they are: the decoders
    # index them a little faster than a view of them (~0.2 us of a small message).
    buf: bytes | memoryview
    if type(data) is bytes:
        buf = data
    else:
        buf = memoryview(data)
        if buf.ndim != 1 or buf.format != "B":
            buf = buf.cast("B")
    size = len(buf)
    if size > limits.max_message_size:
        raise DecodeError(
            f"message of {size} bytes exceeds max_message_size {limits.max_message_size}"
        )
    decode_in_context = _decode_in_context
    ctx = _Ctx(limits)
    rank_of = RANK_BY_CODE
    msg = cls.__new__(cls)
    header = delivery_annotations = message_annotations = None
    properties = application_properties = footer = None
    body: Any = None
    body_code = 0
    data_spans: list[tuple[int, int]] | None = None
    rank = -1
    repeats = 0  # body sections after the first (the only sections that may repeat)
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
            descriptor, pos = decode_in_context(buf, pos + 1, size, ctx, 1)
            code = section_code(descriptor, start)
        section_rank = rank_of[code] if code < 256 else -1
        if section_rank <= rank:
            # 3.2 allows one or more data sections, or one or more amqp-sequence sections.
            if code != body_code or code == 0x77 or section_rank < 0:
                order_error(code, body_code, section_rank, rank, start)
            # Bound their number before this one is decoded or listed: each is cheap on the
            # wire (3 to 5 bytes) but not in memory (Limits.max_body_sections).
            repeats += 1
            if repeats >= limits.max_body_sections:
                too_many_body_sections(limits, start)
        rank = section_rank

        if code == 0x75:  # data
            # Parsed here rather than decoded as a value: only the span is noted now, so that
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

        value, pos = decode_in_context(buf, pos, size, ctx, 1)
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
                    bad_application_properties(value, start)
            for item in value.values():
                if type(item) in NOT_SIMPLE:
                    bad_application_properties(value, start)
            application_properties = value
        elif code == 0x70:  # header
            if type(value) is not list:
                raise DecodeError(f"header section at offset {start} must hold a list")
            header = Header._amqp_from_fields_(value)
        elif code == 0x72:  # message-annotations
            message_annotations = check_map(value, code, start)
        elif code == 0x71:  # delivery-annotations
            delivery_annotations = check_map(value, code, start)
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
            footer = check_map(value, code, start)

    if data_spans is not None:
        # The one copy of each payload: from the input straight into its body object.
        if len(data_spans) == 1:
            a, b = data_spans[0]
            body = bytes(buf[a:b])
        else:
            view = memoryview(buf)  # Data copies from a view slice; a bytes slice is a copy
            body = [Data(view[a:b]) for a, b in data_spans]
    msg.header = header
    msg.delivery_annotations = delivery_annotations
    msg.message_annotations = message_annotations
    msg.properties = properties
    msg.application_properties = application_properties
    msg.body = body
    msg.footer = footer
    return msg


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


# DESIGN rule 6: when the codec runs compiled, Message.decode runs the compiled twin of
# decode_message too; chosen once, here, by the rule amqp10.codec used for the hot functions.
_decode_message = decode_message
if _IMPL == "cython":
    try:
        from amqp10._speedups._codec import decode_message as _decode_message
    except ImportError:  # pragma: no cover - a speedups build older than this module
        pass
