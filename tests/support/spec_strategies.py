"""Hypothesis strategies for the generated spec composites (``amqp10.codec.spec``).

``composite(cls)`` builds instances of one class with every field either absent or a random
valid value of its spec type, as a caller would set it (plain ints, strs, lists, enum members);
``any_composite()`` picks the class too. The values are chosen so that encode -> decode gives
an equal object: timestamps are ints (a ``datetime`` would come back as a ``Timestamp``), and
``multiple`` fields are lists or single values (a tuple does not compare equal to the ``Array``
that comes back).
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from amqp10.codec import spec
from amqp10.codec.composite import Composite
from amqp10.codec.described import FieldSpec
from amqp10.codec.types import Described, Symbol, ULong

__all__ = ["composite", "any_composite", "field_value", "symbols", "fields_maps"]

_UNSIGNED_BITS = {"ubyte": 8, "ushort": 16, "uint": 32, "ulong": 64}

symbols = st.text(alphabet=string.ascii_letters + string.digits + ":-._", max_size=20)
_small_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=10),
    st.binary(max_size=10),
)
fields_maps = st.dictionaries(symbols, _small_values, max_size=4)


def _primitive(name: str) -> st.SearchStrategy[Any]:
    if name in _UNSIGNED_BITS:
        return st.integers(0, 2 ** _UNSIGNED_BITS[name] - 1)
    if name == "boolean":
        return st.booleans()
    if name == "string":
        return st.text(max_size=20)
    if name == "symbol":
        return symbols
    if name == "binary":
        return st.binary(max_size=20)
    if name == "timestamp":
        return st.integers(-(2**63), 2**63 - 1)
    if name == "map":
        return st.dictionaries(st.text(max_size=5), _small_values, max_size=4)
    raise NotImplementedError(f"no strategy for {name}")


def _unknown_described() -> st.SearchStrategy[Described]:
    # A descriptor in a domain no spec type uses, so it stays a Described after decoding.
    descriptors = st.integers(0xAB << 32, (0xAB << 32) + 255).map(ULong)
    return st.builds(Described, descriptors, st.lists(_small_values, max_size=3))


def _archetype(archetype: str) -> st.SearchStrategy[Any]:
    providers = [c for c in spec.COMPOSITES if archetype in c._amqp_provides_]
    if providers:
        built = [st.deferred(lambda c=c: composite(c)) for c in providers]
        return st.one_of(*built, _unknown_described())
    if archetype == "message-id":
        return st.one_of(
            st.integers(0, 2**64 - 1), st.uuids(), st.binary(max_size=16), st.text(max_size=16)
        )
    if archetype == "address":
        return st.text(max_size=20)
    if archetype == "txn-id":
        return st.binary(max_size=8)
    return _small_values  # no provider defined (global-tx-id): anything


def field_value(field: FieldSpec) -> st.SearchStrategy[Any]:
    """A random valid value for ``field`` as a caller would set it (never ``None``)."""
    if field.amqp_type == "*":
        return _archetype(field.requires or "")
    enum = spec.ENUM_BY_TYPE.get(field.amqp_type)
    if enum is not None:
        return st.one_of(st.sampled_from(list(enum)), st.sampled_from([m.value for m in enum]))
    if field.primitive == "composite":
        cls = next(c for c in spec.COMPOSITES if c._amqp_name_ == f"amqp:{field.amqp_type}:list")
        return st.deferred(lambda: composite(cls))
    if field.amqp_type in ("fields", "node-properties"):
        return fields_maps
    base = _primitive(field.primitive)
    if field.multiple:
        return st.one_of(base, st.lists(base, max_size=4))
    return base


def composite(cls: type[Composite]) -> st.SearchStrategy[Any]:
    """Instances of ``cls`` with each field absent or a random valid value."""
    fields = getattr(cls, "FIELDS")
    return st.builds(cls, **{f.name: st.none() | field_value(f) for f in fields})


def any_composite() -> st.SearchStrategy[Any]:
    """An instance of any generated composite class."""
    return st.sampled_from(spec.COMPOSITES).flatmap(composite)
