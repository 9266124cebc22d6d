"""Composites built from decoded fields are the same frozen objects their constructors make.

The generated ``_amqp_from_fields_`` builds an instance as its mutable twin and then makes it
the frozen class (``described.mutable_twin``). These tests hold what it builds to what
``cls(...)`` builds: equal, same type, same hash, as frozen, for every composite; and a
subclass of a generated class gets an instance of the subclass.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from amqp10.codec import DecodeError, Symbol, UInt
from amqp10.codec.described import mutable_twin
from amqp10.codec.spec import COMPOSITES, Properties, Transfer


def _fields_of(obj: Any) -> list[Any]:
    return [getattr(obj, f.name) for f in dataclasses.fields(obj)]


@pytest.mark.parametrize("cls", [c for c in COMPOSITES if c.FIELDS], ids=lambda c: c.__name__)
def test_amqp_from_fields_builds_a_frozen_instance_equal_to_the_constructed_one_when_fields_are_absent(
    cls: Any,
) -> None:
    constructed = cls()
    built = cls._amqp_from_fields_([])
    assert type(built) is cls
    assert built == constructed and hash(built) == hash(constructed)
    assert _fields_of(built) == [None] * len(cls.FIELDS)
    name = cls.FIELDS[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, name, None)


def test_amqp_from_fields_builds_what_the_constructor_builds_when_fields_are_present() -> None:
    fields = [UInt(1), UInt(7), b"tag", UInt(0), True, False]
    built = Transfer._amqp_from_fields_(fields)
    assert built == Transfer(*fields) and type(built) is Transfer
    assert repr(built) == repr(Transfer(*fields))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.more = True  # type: ignore[misc]


def test_amqp_from_fields_still_checks_each_field_when_building_through_the_twin() -> None:
    with pytest.raises(DecodeError, match="properties field to must be an address"):
        Properties._amqp_from_fields_([None, None, 42])


@dataclasses.dataclass(frozen=True, slots=True)
class _TaggedProperties(Properties):
    note: str | None = None


def test_amqp_from_fields_builds_the_subclass_when_called_on_a_subclass() -> None:
    built = _TaggedProperties._amqp_from_fields_(["id", None, "to", None, None, None, Symbol("t")])
    assert type(built) is _TaggedProperties
    assert (built.message_id, built.to, built.content_type, built.note) == ("id", "to", "t", None)


def test_mutable_twin_refuses_a_class_whose_slots_are_not_its_fields() -> None:
    @dataclasses.dataclass(frozen=True)
    class NotSlotted(Properties):  # has a __dict__, not the twin's layout
        pass

    with pytest.raises(TypeError):
        mutable_twin(NotSlotted)
