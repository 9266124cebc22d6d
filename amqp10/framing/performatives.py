"""Frame bodies -> performatives: descriptor code to spec class, for AMQP and SASL frames.

Owns: which composite types may appear as the body of an AMQP frame (the nine performatives,
spec 2.7) and of a SASL frame (the five SASL frames, spec 5.3.3), and ``decode_body``. Must
never: act on a performative, or accept a body that is not one of those types.
"""

from __future__ import annotations

from typing import Any

from ..codec import decode_described_list
from ..codec.composite import BY_NAME, Composite
from ..codec.errors import DecodeError
from ..codec.limits import DEFAULT_LIMITS, Limits
from ..codec.spec import (
    Attach,
    Begin,
    Close,
    Detach,
    Disposition,
    End,
    Flow,
    Open,
    SaslChallenge,
    SaslInit,
    SaslMechanisms,
    SaslOutcome,
    SaslResponse,
    Transfer,
)
from .frame import Frame, FrameType

__all__ = ["PERFORMATIVES", "SASL_BODIES", "decode_body"]

#: descriptor code -> class, for the body of an AMQP frame (spec 2.7)
PERFORMATIVES: dict[int, type[Composite]] = {
    cls._amqp_code_: cls
    for cls in (Open, Begin, Attach, Flow, Transfer, Disposition, Detach, End, Close)
}
#: descriptor code -> class, for the body of a SASL frame (spec 5.3.3)
SASL_BODIES: dict[int, type[Composite]] = {
    cls._amqp_code_: cls
    for cls in (SaslMechanisms, SaslInit, SaslChallenge, SaslResponse, SaslOutcome)
}


def decode_body(frame: Frame, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, memoryview]:
    """Decode a non-empty frame body into its performative and the payload after it.

    The payload (the rest of a TRANSFER frame) is a view, not a copy. Mandatory fields are
    checked here, once, for every performative.

    Raises:
        DecodeError: the body is not a described list, its descriptor is not a performative
            allowed in this frame type, a field has the wrong type, or a mandatory field is
            missing (condition ``amqp:decode-error``).
    """
    descriptor, fields, pos = decode_described_list(frame.body, 0, limits)
    table = PERFORMATIVES if frame.type is FrameType.AMQP else SASL_BODIES
    cls: type[Composite] | None
    if isinstance(descriptor, str):
        cls = BY_NAME.get(descriptor)
        if cls is not None and table.get(cls._amqp_code_) is not cls:
            cls = None
    else:
        cls = table.get(descriptor)
    if cls is None:
        kind = "AMQP" if frame.type is FrameType.AMQP else "SASL"
        raise DecodeError(f"{kind} frame body with descriptor {descriptor!r} is not a {kind} performative")
    body = cls._amqp_from_fields_(fields)
    for name in getattr(cls, "_amqp_mandatory_", ()):
        if getattr(body, name) is None:
            raise DecodeError(f"{cls.__name__}: mandatory field {name!r} is missing")
    return body, frame.body[pos:]
