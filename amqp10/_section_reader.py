"""An incremental reader of a message's sections (spec 3.2), for streamed deliveries.

Owns: ``SectionReader``, which is fed a delivery's bytes as its transfers arrive and hands
back the payload of its ``data`` sections as it goes, never holding a data section whole. The
sections before the body (header, annotations, properties, application-properties) are
collected and decoded once the body starts; any other body (amqp-value, amqp-sequence) and the
footer are collected whole, within ``limit`` bytes, and decoded at the end. A section's end
is found from its encoding's size prefix (spec 1.2: the constructor's subcategory says how
its size is written), so nothing is decoded twice. Must never: do I/O or wait.
"""

from __future__ import annotations

from .codec import DecodeError, decode_prefix
from .codec.message import Message

__all__ = ["SectionReader"]

_DATA = 0x75
_FIRST_BODY = 0x75  # data, amqp-sequence, amqp-value and footer come after the head
_NAMES = {
    "amqp:header:list": 0x70,
    "amqp:delivery-annotations:map": 0x71,
    "amqp:message-annotations:map": 0x72,
    "amqp:properties:list": 0x73,
    "amqp:application-properties:map": 0x74,
    "amqp:data:binary": 0x75,
    "amqp:amqp-sequence:list": 0x76,
    "amqp:amqp-value:*": 0x77,
    "amqp:footer:map": 0x78,
}
# Spec 1.2 / 1.6: the constructor's high nibble says how wide a fixed value is, or how its
# size is written (one byte or four) for variable, compound and array values.
_FIXED = {0x4: 0, 0x5: 1, 0x6: 2, 0x7: 4, 0x8: 8, 0x9: 16}
_SIZED = {0xA: 1, 0xC: 1, 0xE: 1, 0xB: 4, 0xD: 4, 0xF: 4}


def _value_end(buf: bytes | bytearray, pos: int) -> int | None:
    """Where the value encoded at ``pos`` ends, or ``None`` if ``buf`` is too short to say."""
    if pos >= len(buf):
        return None
    code = buf[pos]
    if code == 0x00:  # described: the descriptor, then the value
        end = _value_end(buf, pos + 1)
        if end is None or end > len(buf):
            return None
        return _value_end(buf, end)
    nibble = code >> 4
    fixed = _FIXED.get(nibble)
    if fixed is not None:
        return pos + 1 + fixed
    width = _SIZED.get(nibble)
    if width is None:
        raise DecodeError(f"invalid constructor 0x{code:02x} in a streamed message")
    if pos + 1 + width > len(buf):
        return None
    return pos + 1 + width + int.from_bytes(buf[pos + 1 : pos + 1 + width], "big")


class SectionReader:
    """Reads one message's sections from its bytes as they arrive.

    Args:
        limit: the most bytes the sections other than ``data`` may take together (they are
            held until decoded).

    ``feed`` returns the data-section payload bytes found in what it was given; ``head``
    is the message without its body (header, annotations, properties, application
    properties) once the body has started; ``finish`` checks the message ended on a section
    boundary and returns it with its non-data body and footer, if any.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._buf = bytearray()  # the start of a section not yet complete
        self._remaining = 0  # bytes left of the data section being read
        self._head = bytearray()  # encoded sections before the body
        self._tail = bytearray()  # encoded non-data body sections and the footer
        self.head: Message | None = None
        self.data_sections = 0

    def feed(self, data: bytes | memoryview) -> list[bytes]:
        """Take the next bytes of the message; return the data-section payload in them."""
        out: list[bytes] = []
        view = memoryview(data)
        pos = 0
        if not self._buf:
            # Fast path: the middle of a data section goes straight through.
            while pos < len(view) and self._remaining:
                take = min(self._remaining, len(view) - pos)
                out.append(bytes(view[pos : pos + take]))
                pos += take
                self._remaining -= take
        if pos < len(view):
            self._buf += view[pos:]
            self._parse(out)
        return out

    def _parse(self, out: list[bytes]) -> None:
        buf = self._buf
        while buf:
            if self._remaining:
                take = min(self._remaining, len(buf))
                out.append(bytes(buf[:take]))
                del buf[:take]
                self._remaining -= take
                continue
            if buf[0] != 0x00:
                raise DecodeError(f"a message section must be described, found 0x{buf[0]:02x}")
            descriptor_end = _value_end(buf, 1)
            if descriptor_end is None or descriptor_end >= len(buf):
                return
            descriptor, _ = decode_prefix(bytes(buf[1:descriptor_end]))
            code = _NAMES.get(descriptor, 0) if isinstance(descriptor, str) else int(descriptor)
            if code >= _FIRST_BODY and self.head is None:
                self.head = Message.decode(bytes(self._head))
            if code == _DATA:
                constructor = buf[descriptor_end]
                width = {0xA0: 1, 0xB0: 4}.get(constructor)
                if width is None:
                    raise DecodeError(f"a data section must hold binary, found 0x{constructor:02x}")
                start = descriptor_end + 1 + width
                if start > len(buf):
                    return
                self._remaining = int.from_bytes(buf[descriptor_end + 1 : start], "big")
                self.data_sections += 1
                del buf[:start]
                continue
            end = _value_end(buf, descriptor_end)
            held = len(self._head) + len(self._tail)
            if end is not None and held + end > self._limit or held + len(buf) > self._limit:
                raise DecodeError(f"the non-data sections of a streamed message exceed {self._limit} bytes")
            if end is None or end > len(buf):
                return
            (self._tail if code >= _FIRST_BODY else self._head).extend(buf[:end])
            del buf[:end]

    def finish(self) -> Message:
        """The message has no more bytes: return it without its data sections (their bytes
        were handed out), with any other body and the footer.

        Raises:
            DecodeError: it ended inside a section, or its sections are not a valid message.
        """
        if self._buf or self._remaining:
            raise DecodeError("the streamed message ended inside a section")
        message = Message.decode(bytes(self._head + self._tail))
        if self.head is None:
            self.head = message
        return message

