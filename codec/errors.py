"""Codec errors, shared by the pure and the compiled path (both raise these exact classes).

Owns: the exception types for bad bytes (``DecodeError``) and unencodable values
(``EncodeError``). Must never: be duplicated in ``_speedups`` (msgpack shares its exceptions the
same way), or carry anything but the condition and a description.
"""

from __future__ import annotations

__all__ = ["CodecError", "DecodeError", "EncodeError"]


class CodecError(Exception):
    """Base class of codec errors.

    Attributes:
        condition: the AMQP error condition symbol that a peer should be told, as ``str``.
        description: a human-readable explanation.
    """

    condition: str = "amqp:internal-error"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class DecodeError(CodecError, ValueError):
    """The bytes are not a valid AMQP 1.0 encoding, or break a configured ``Limits`` bound.

    A connection that reads such bytes closes with condition ``amqp:decode-error``
    (spec 2.8.15). It is also a ``ValueError`` so that generic callers can catch it.
    """

    condition = "amqp:decode-error"


class EncodeError(CodecError, ValueError):
    """The value cannot be expressed in AMQP 1.0 (wrong type, out of range, bad text).

    This is always the caller's mistake, never the peer's.
    """

    condition = "amqp:internal-error"
