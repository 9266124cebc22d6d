"""Codec errors, shared by the pure and the compiled path (both raise these exact classes).

Owns: the exception types for bad bytes (``DecodeError``) and unencodable values
(``EncodeError``). Must never: be duplicated in ``_speedups`` (msgpack shares its exceptions the
same way), or carry anything but the condition and a description.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["AMQPError", "CodecError", "DecodeError", "EncodeError"]


class AMQPError(Exception):
    """Root of every amqp10 error (re-exported as ``amqp10.AMQPError``).

    It lives in the codec, the lowest layer, so that ``DecodeError`` is an ``AMQPError`` too.

    Attributes:
        condition: the AMQP error condition symbol (e.g. ``"amqp:not-found"``), or ``None``.
        description: human-readable text from the peer or from amqp10, or ``None``.
        info: the error's ``info`` map as received, or ``None``.
    """

    def __init__(
        self,
        description: str | None = None,
        *,
        condition: str | None = None,
        info: Mapping[Any, Any] | None = None,
    ) -> None:
        self.condition = condition
        self.description = description
        self.info = info
        text = description or ""
        if condition:
            text = f"{condition}: {text}" if text else condition
        super().__init__(text)


class CodecError(AMQPError):
    """Base class of codec errors; ``condition`` is fixed per subclass."""

    default_condition = "amqp:internal-error"

    def __init__(self, description: str) -> None:
        super().__init__(description, condition=self.default_condition)


class DecodeError(CodecError, ValueError):
    """The bytes are not a valid AMQP 1.0 encoding, or break a configured ``Limits`` bound.

    A connection that reads such bytes closes with condition ``amqp:decode-error``
    (spec 2.8.15). It is also a ``ValueError`` so that generic callers can catch it.
    """

    default_condition = "amqp:decode-error"


class EncodeError(CodecError, ValueError):
    """The value cannot be expressed in AMQP 1.0 (wrong type, out of range, bad text).

    This is always the caller's mistake, never the peer's.
    """
