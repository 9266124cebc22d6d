"""The composite-type protocol and registry shared by the codec and the generated spec classes.

Owns: the ``Composite`` base class every generated spec class (``amqp10.codec.spec``) derives
from, and the two lookup tables the decoders (pure and compiled) use to turn a described list
with a known descriptor into an instance of its class. Must never: know any particular type
(that is generated), or do any encoding itself.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

__all__ = ["Composite", "BY_CODE", "BY_NAME", "register"]

_C = TypeVar("_C", bound="type[Composite]")


class Composite:
    """Base of every AMQP composite type (spec 1.4: a described list of fields).

    Subclasses are generated frozen dataclasses; they provide:

    - ``_amqp_code_``: the numeric descriptor, ``domain << 32 | id`` (e.g. 0x10 for ``open``).
    - ``_amqp_name_``: the symbolic descriptor (e.g. ``"amqp:open:list"``).
    - ``_amqp_fields_()``: the field values ready for the wire, in spec order, each coerced to
      its AMQP type (``UInt``, ``Symbol``, arrays for ``multiple`` fields, ...), with trailing
      ``None`` fields trimmed (spec 1.4: trailing nulls may be omitted).
    - ``_amqp_from_fields_(fields)``: build from decoded field values, checking each against
      its spec type and raising ``DecodeError`` on a mismatch. Extra trailing fields are
      ignored; absent fields are ``None``.
    """

    __slots__ = ()
    _amqp_code_: ClassVar[int]
    _amqp_name_: ClassVar[str]

    def _amqp_fields_(self) -> list[Any]:
        raise NotImplementedError  # pragma: no cover - every generated class overrides it

    @classmethod
    def _amqp_from_fields_(cls, fields: list[Any]) -> Any:
        raise NotImplementedError  # pragma: no cover - every generated class overrides it


#: descriptor code -> composite class; filled by ``register`` when ``spec`` is imported.
BY_CODE: dict[int, type[Composite]] = {}
#: descriptor symbol -> composite class.
BY_NAME: dict[str, type[Composite]] = {}


def register(cls: _C) -> _C:
    """Class decorator: make the decoders build ``cls`` for its descriptors."""
    BY_CODE[cls._amqp_code_] = cls
    BY_NAME[cls._amqp_name_] = cls
    return cls
