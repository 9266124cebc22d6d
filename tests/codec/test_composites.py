"""The generated spec composites: they match the XML, round-trip, coerce, and validate.

The XML is read here by ``support.spec_xml``, independently of the generator, so these tests
check what the generator made rather than repeat how it works.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.spec_strategies import any_composite, composite
from support.spec_xml import XmlType, xml_types

from amqp10.codec import DecodeError, EncodeError, decode, encode, spec
from amqp10.codec.composite import BY_CODE, BY_NAME
from amqp10.codec.described import (
    as_list,
    from_described,
    spec_default,
    to_described,
    value_or_default,
)
from amqp10.codec.types import Array, Described, Symbol, Timestamp, UByte, UInt, ULong, UShort

XML = xml_types()
XML_COMPOSITES = [t for t in XML.values() if t.klass == "composite"]
XML_ENUMS = [t for t in XML.values() if t.klass == "restricted" and t.choices]


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("-"))


def _class_of(t: XmlType) -> Any:
    return getattr(spec, _camel(t.name))


def _primitive(name: str) -> str:
    while XML[name].klass == "restricted":
        name = XML[name].source or ""
    return name


def _xml_value(primitive: str, text: str) -> Any:
    if primitive == "boolean":
        return {"true": True, "false": False}[text]
    if primitive in ("ubyte", "ushort", "uint", "ulong"):
        return int(text)
    return text


# -- the classes match the XML --------------------------------------------------------------


def test_spec_has_one_registered_class_per_xml_composite() -> None:
    assert len(spec.COMPOSITES) == len(XML_COMPOSITES) == 33
    for t in XML_COMPOSITES:
        cls = _class_of(t)
        assert cls._amqp_code_ == t.code, t.name
        assert cls._amqp_name_ == t.descriptor, t.name
        assert BY_CODE[t.code] is cls
        assert BY_NAME[t.descriptor] is cls
        assert cls._amqp_provides_ == t.provides


def test_spec_composite_codes_are_the_well_known_ones() -> None:
    # A few codes from the spec text (2.7, 3.4, 5.3), as an anchor independent of any parsing.
    assert (spec.Open._amqp_code_, spec.Transfer._amqp_code_, spec.Close._amqp_code_) == (
        0x10,
        0x14,
        0x18,
    )
    assert spec.Error._amqp_code_ == 0x1D
    assert spec.Accepted._amqp_code_ == 0x24
    assert spec.SaslOutcome._amqp_code_ == 0x44
    assert spec.TransactionalState._amqp_code_ == 0x34


@pytest.mark.parametrize("t", XML_COMPOSITES, ids=lambda t: t.name)
def test_composite_fields_follow_the_xml_in_order_name_and_flags(t: XmlType) -> None:
    cls = _class_of(t)
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen
    assert hasattr(cls, "__slots__")
    names = [f.name.replace("-", "_") for f in t.fields]
    assert [f.name for f in dataclasses.fields(cls)] == names
    assert [f.name for f in cls.FIELDS] == names
    for xf, fs in zip(t.fields, cls.FIELDS):
        assert fs.amqp_name == xf.name
        assert fs.amqp_type == xf.type
        assert fs.mandatory == xf.mandatory
        assert fs.multiple == xf.multiple
        assert fs.requires == xf.requires
        if xf.type != "*" and XML[xf.type].klass != "composite":
            assert fs.primitive == _primitive(xf.type)
    assert cls._amqp_mandatory_ == tuple(n for n, f in zip(names, t.fields) if f.mandatory)
    # Every field defaults to None: absent, not the spec default.
    assert all(getattr(cls(), n) is None for n in names)


@pytest.mark.parametrize("t", XML_COMPOSITES, ids=lambda t: t.name)
def test_composite_DEFAULTS_hold_the_xml_defaults_as_python_values(t: XmlType) -> None:
    cls = _class_of(t)
    expected = {}
    for f in t.fields:
        if f.default is None:
            continue
        choices = dict(XML[f.type].choices)
        text = choices.get(f.default, f.default)  # a default may name a choice
        expected[f.name.replace("-", "_")] = _xml_value(_primitive(f.type), text)
    assert dict(cls.DEFAULTS) == expected
    for name, value in expected.items():
        assert next(fs.default for fs in cls.FIELDS if fs.name == name) == value


def test_spec_defaults_the_engine_needs_are_there() -> None:
    assert spec.Open.DEFAULTS["max_frame_size"] == 4294967295
    assert spec.Open.DEFAULTS["channel_max"] == 65535
    assert spec.Begin.DEFAULTS["handle_max"] == 4294967295
    assert spec.Attach.DEFAULTS["snd_settle_mode"] is spec.SenderSettleMode.MIXED
    assert spec.Attach.DEFAULTS["rcv_settle_mode"] is spec.ReceiverSettleMode.FIRST
    assert spec.Source.DEFAULTS["expiry_policy"] is spec.TerminusExpiryPolicy.SESSION_END
    assert spec.Source.DEFAULTS["durable"] is spec.TerminusDurability.NONE
    assert spec.Flow.DEFAULTS["drain"] is False


@pytest.mark.parametrize("t", XML_ENUMS, ids=lambda t: t.name)
def test_enum_values_equal_the_xml_choices(t: XmlType) -> None:
    enum = spec.ENUM_BY_TYPE[t.name]
    primitive = _primitive(t.name)
    assert [(m.name, m.value) for m in enum] == [
        (n.replace("-", "_").upper(), _xml_value(primitive, v)) for n, v in t.choices
    ]
    for member in enum:
        assert type(member.value) is type(_xml_value(primitive, t.choices[0][1]))


def test_enum_names_never_shadow_builtins_and_conditions_end_in_Condition() -> None:
    import builtins

    for enum in spec.ENUMS:
        assert not hasattr(builtins, enum.__name__)
    assert spec.ConnectionErrorCondition.FRAMING_ERROR == "amqp:connection:framing-error"
    assert spec.ERROR_CONDITIONS["amqp:link:stolen"] is spec.LinkErrorCondition.STOLEN
    assert spec.ERROR_CONDITIONS["amqp:transaction:rollback"] is (
        spec.TransactionErrorCondition.TRANSACTION_ROLLBACK
    )


def test_Role_members_are_bools_in_value_and_comparison() -> None:
    assert spec.Role.SENDER.value is False and spec.Role.RECEIVER.value is True
    assert spec.Role.RECEIVER == True  # noqa: E712 - the point is equality with the bool
    assert not spec.Role.SENDER
    assert {True: "r"}[spec.Role.RECEIVER] == "r"


def test_SymbolEnum_members_format_as_their_symbol() -> None:
    cond = spec.AmqpErrorCondition.NOT_FOUND
    assert str(cond) == f"{cond}" == "amqp:not-found"
    assert cond == Symbol("amqp:not-found")


def test_section_codes_match_the_xml_section_descriptors() -> None:
    sections = {t.name: t for t in XML.values() if "section" in t.provides}
    assert {m.name.lower().replace("_", "-"): int(m) for m in spec.SectionCode} == {
        name: t.code for name, t in sections.items()
    }
    assert spec.SectionCode.DATA == 0x75
    assert spec.SECTION_DESCRIPTOR_NAMES[spec.SectionCode.AMQP_VALUE] == "amqp:amqp-value:*"


def test_restricted_tables_follow_the_xml() -> None:
    restricted = {t.name: t for t in XML.values() if t.klass == "restricted"}
    assert dict(spec.RESTRICTED_SOURCES) == {n: t.source for n, t in restricted.items()}
    assert spec.RESTRICTED_PRIMITIVES["delivery-number"] == "uint"
    assert spec.RESTRICTED_PRIMITIVES["node-properties"] == "map"
    assert spec.RESTRICTED_PRIMITIVES["delivery-tag"] == "binary"
    assert spec.RESTRICTED_PRIMITIVES["role"] == "boolean"
    assert spec.RESTRICTED_PRIMITIVES["amqp-value"] == "*"
    assert spec.PROVIDERS["message-id"] == (
        "message-id-ulong",
        "message-id-uuid",
        "message-id-binary",
        "message-id-string",
    )


# -- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", spec.COMPOSITES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_composite_round_trips_through_encode_and_decode(cls: Any, data: st.DataObject) -> None:
    obj = data.draw(composite(cls))
    wire = encode(obj)
    back = decode(wire)
    assert type(back) is cls
    assert back == obj
    assert encode(back) == wire  # decode -> encode gives the same bytes
    assert cls._amqp_from_fields_(obj._amqp_fields_()) == obj


@settings(max_examples=200, deadline=None)
@given(obj=any_composite())
def test_composite_fields_are_wire_typed_and_trimmed(obj: Any) -> None:
    fields = obj._amqp_fields_()
    assert not fields or fields[-1] is not None
    assert len(fields) <= len(obj.FIELDS)
    for value, fs in zip(fields, obj.FIELDS):
        if value is None:
            continue
        expected = {"uint": UInt, "ushort": UShort, "ubyte": UByte, "ulong": ULong}.get(
            fs.primitive
        )
        if expected and not fs.multiple:
            assert type(value) is expected, fs.name
        if fs.primitive == "symbol" and fs.multiple and isinstance(value, list):
            assert type(value) is Array and value.element_type is Symbol
            assert all(type(v) is Symbol for v in value)
        if fs.primitive == "boolean":
            assert type(value) is bool


def test_Transfer_encodes_the_expected_bytes() -> None:
    t = spec.Transfer(handle=0, delivery_id=7, delivery_tag=b"\x01", message_format=0, settled=True)
    # 0x00 0x53 0x14: descriptor smallulong 0x14; list8 (size 9, count 5) of the fields, each
    # in its smallest encoding: uint0, smalluint 7, vbin8 01, uint0, true.
    assert encode(t) == bytes.fromhex("005314c00905 43 5207 a00101 43 41".replace(" ", ""))


def test_Open_keeps_absent_fields_absent_after_a_round_trip() -> None:
    back = decode(encode(spec.Open(container_id="c", idle_time_out=1000)))
    assert back.max_frame_size is None  # absent, not the default
    assert value_or_default(back, "max_frame_size") == 4294967295
    assert value_or_default(back, "idle_time_out") == 1000


# -- encoding: coercion and its errors ------------------------------------------------------


def test_fields_are_trimmed_of_trailing_nulls_only() -> None:
    assert spec.Transfer(handle=0)._amqp_fields_() == [UInt(0)]
    assert spec.Transfer(handle=0, more=True)._amqp_fields_() == [0, None, None, None, None, True]
    assert spec.Accepted()._amqp_fields_() == []
    assert spec.Close()._amqp_fields_() == []


def test_plain_values_are_coerced_to_the_spec_types() -> None:
    fields = spec.Open(
        container_id=Symbol("c"),
        channel_max=10,
        idle_time_out=5,
        offered_capabilities=["a", "b"],
        desired_capabilities="one",
        properties={"k": 1},
    )._amqp_fields_()
    assert type(fields[0]) is str  # a string field sends a string even when given a Symbol
    assert type(fields[3]) is UShort and type(fields[4]) is UInt
    assert fields[7] == Array(Symbol, [Symbol("a"), Symbol("b")])
    assert type(fields[8]) is Symbol  # a single value for a multiple field stays single
    assert list(fields[9]) == [Symbol("k")] and type(next(iter(fields[9]))) is Symbol


def test_a_tuple_for_a_multiple_field_becomes_an_Array() -> None:
    (caps,) = spec.SaslMechanisms(sasl_server_mechanisms=("PLAIN", "ANONYMOUS"))._amqp_fields_()
    assert caps == Array(Symbol, [Symbol("PLAIN"), Symbol("ANONYMOUS")])


def test_enum_members_and_raw_choice_values_encode_as_the_wire_type() -> None:
    a = spec.Attach(name="l", handle=1, role=spec.Role.RECEIVER, snd_settle_mode=2)
    fields = a._amqp_fields_()
    assert fields[2] is True
    assert type(fields[3]) is UByte and fields[3] == 2
    err = spec.Error(condition=spec.AmqpErrorCondition.NOT_FOUND)._amqp_fields_()
    assert type(err[0]) is Symbol and err[0] == "amqp:not-found"
    src = spec.Source(expiry_policy=spec.TerminusExpiryPolicy.NEVER, durable=1)._amqp_fields_()
    assert type(src[2]) is Symbol and src[2] == "never"
    assert type(src[1]) is UInt and src[1] == 1


def test_message_id_takes_each_of_its_provider_types() -> None:
    u = uuid.uuid4()
    assert type(spec.Properties(message_id=5)._amqp_fields_()[0]) is ULong
    assert spec.Properties(message_id=u)._amqp_fields_()[0] == u
    assert spec.Properties(message_id=b"id")._amqp_fields_()[0] == b"id"
    assert type(spec.Properties(correlation_id=Symbol("x"))._amqp_fields_()[5]) is str


def test_timestamp_fields_take_a_datetime() -> None:
    when = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    (*_, created) = spec.Properties(creation_time=when)._amqp_fields_()
    assert type(created) is Timestamp and created == 1577836800000


@pytest.mark.parametrize(
    ("obj", "words"),
    [
        (spec.Open(container_id="c", max_frame_size=-1), ["Open.max_frame_size", "-1"]),
        (spec.Open(container_id="c", max_frame_size=2**32), ["Open.max_frame_size"]),
        (spec.Begin(remote_channel=70000), ["Begin.remote_channel", "70000"]),
        (spec.Header(priority=256), ["Header.priority"]),
        (spec.Transfer(handle="0"), ["Transfer.handle", "str"]),
        (spec.Transfer(handle=True), ["Transfer.handle", "bool"]),
        (spec.Transfer(handle=1.0), ["Transfer.handle", "float"]),
        (spec.Transfer(handle=0, settled="yes"), ["Transfer.settled"]),
        (spec.Transfer(handle=0, delivery_tag="tag"), ["Transfer.delivery_tag"]),
        (spec.Transfer(handle=0, state="accepted"), ["Transfer.state", "delivery-state"]),
        (spec.Attach(name="l", handle=0, role=True, source=spec.Target()), ["Attach.source"]),
        (spec.Attach(name="l", handle=0, role=1), ["Attach.role", "Role"]),
        (spec.Attach(name="l", handle=0, role=True, snd_settle_mode=3), ["SenderSettleMode"]),
        (
            spec.Attach(
                name="l", handle=0, role=True, snd_settle_mode=spec.ReceiverSettleMode.SECOND
            ),
            ["Attach.snd_settle_mode"],
        ),
        (spec.Attach(name="l", handle=0, role=True, snd_settle_mode=True), ["snd_settle_mode"]),
        (spec.Detach(handle=0, error="boom"), ["Detach.error", "Error"]),
        (spec.Open(container_id="c", offered_capabilities=["caf\u00e9"]), ["offered_capabilities"]),
        (spec.Open(container_id="c", offered_capabilities=[1]), ["offered_capabilities[0]"]),
        (spec.Open(container_id="c", properties={1: 2}), ["Open.properties"]),
        (spec.Open(container_id="c", properties=[1]), ["Open.properties"]),
        (spec.Properties(message_id=1.5), ["Properties.message_id", "message-id"]),
        (spec.Properties(message_id=-1), ["Properties.message_id"]),
        (spec.Source(expiry_policy="sometimes"), ["Source.expiry_policy"]),
        (spec.SaslOutcome(code=9), ["SaslOutcome.code"]),
        (spec.Properties(creation_time="now"), ["Properties.creation_time"]),
    ],
)
def test_encoding_a_bad_field_raises_EncodeError_naming_class_and_field(
    obj: Any, words: list[str]
) -> None:
    with pytest.raises(EncodeError) as info:
        obj._amqp_fields_()
    for word in words:
        assert word in str(info.value)
    with pytest.raises(EncodeError):
        encode(obj)


# -- decoding: validation -------------------------------------------------------------------


def test_decoding_checks_each_field_against_its_spec_type() -> None:
    with pytest.raises(DecodeError) as info:
        spec.Transfer._amqp_from_fields_([Symbol("x")])
    assert "transfer field handle must be uint" in str(info.value)
    assert "Symbol" in str(info.value)


def test_a_bad_field_in_bytes_is_a_DecodeError_from_decode() -> None:
    wire = encode(Described(ULong(0x14), [Symbol("x")]))
    with pytest.raises(DecodeError):
        decode(wire)


@pytest.mark.parametrize(
    ("cls", "fields", "words"),
    [
        (spec.Open, [Symbol("c")], ["open", "container-id", "string"]),
        (spec.Open, ["c", None, 512], ["max-frame-size", "uint"]),
        (spec.Begin, [UInt(1)], ["remote-channel", "ushort"]),
        (spec.Open, ["c"] + [None] * 6 + [UInt(1)], ["offered-capabilities"]),
        (spec.Open, ["c"] + [None] * 6 + [Array(UInt, [UInt(1)])], ["offered-capabilities"]),
        (spec.Open, ["c"] + [None] * 6 + [[Symbol("a"), "b"]], ["offered-capabilities"]),
        (spec.Open, ["c"] + [None] * 8 + [{"k": 1}], ["properties", "non-symbol key"]),
        (spec.Open, ["c"] + [None] * 8 + [[1]], ["properties"]),
        (spec.Attach, ["l", UInt(0), 1], ["role", "boolean"]),
        (spec.Attach, ["l", UInt(0), True, UByte(3)], ["not a valid sender-settle-mode"]),
        (spec.Attach, ["l", UInt(0), True, UInt(1)], ["snd-settle-mode"]),
        (spec.Attach, ["l", UInt(0), True, None, None, spec.Target()], ["source"]),
        (spec.Transfer, [UInt(0), None, "tag"], ["delivery-tag", "binary"]),
        (spec.Transfer, [UInt(0)] + [None] * 6 + [UInt(3)], ["state", "delivery-state"]),
        (spec.Detach, [UInt(0), None, Described(ULong(0x1D), [])], ["error"]),
        (spec.Properties, [Symbol("id")], ["message-id"]),
        (spec.Properties, [None, None, Symbol("q")], ["to", "address"]),
        (spec.Properties, [None] * 8 + [UInt(5)], ["absolute-expiry-time", "timestamp"]),
        (spec.Source, [None, None, Symbol("sometimes")], ["not a valid terminus-expiry-policy"]),
        (spec.SaslOutcome, [UByte(9)], ["not a valid sasl-code"]),
        (spec.Discharge, [None, "yes"], ["fail", "boolean"]),
    ],
)
def test_decoding_a_mistyped_field_raises_DecodeError_naming_type_and_field(
    cls: Any, fields: list[Any], words: list[str]
) -> None:
    with pytest.raises(DecodeError) as info:
        cls._amqp_from_fields_(fields)
    for word in words:
        assert word in str(info.value)


def test_decoding_leaves_missing_mandatory_fields_to_the_engine() -> None:
    t = spec.Transfer._amqp_from_fields_([])
    assert t == spec.Transfer()
    assert spec.Transfer._amqp_mandatory_ == ("handle",)
    assert spec.Attach._amqp_mandatory_ == ("name", "handle", "role")


def test_decoding_ignores_fields_beyond_the_spec() -> None:
    assert spec.Close._amqp_from_fields_([None, UInt(1), "extra"]) == spec.Close()
    assert spec.Accepted._amqp_from_fields_([UInt(1)]) == spec.Accepted()


def test_choices_decode_to_enum_members() -> None:
    a = spec.Attach._amqp_from_fields_(["l", UInt(0), False, UByte(2), UByte(1)])
    assert a.role is spec.Role.SENDER
    assert a.snd_settle_mode is spec.SenderSettleMode.MIXED
    assert a.rcv_settle_mode is spec.ReceiverSettleMode.SECOND
    s = spec.Source._amqp_from_fields_([None, UInt(2), Symbol("never")])
    assert s.durable is spec.TerminusDurability.UNSETTLED_STATE
    assert s.expiry_policy is spec.TerminusExpiryPolicy.NEVER


def test_multiple_fields_decode_as_they_came() -> None:
    single = spec.Open._amqp_from_fields_(["c"] + [None] * 6 + [Symbol("a")])
    assert single.offered_capabilities == Symbol("a")
    assert as_list(single.offered_capabilities) == ["a"]
    arr = Array(Symbol, [Symbol("a"), Symbol("b")])
    many = spec.Open._amqp_from_fields_(["c"] + [None] * 6 + [arr])
    assert many.offered_capabilities is arr
    assert as_list(many.offered_capabilities) == ["a", "b"]
    assert as_list(spec.Open(container_id="c").offered_capabilities) == []
    # An empty array may carry any element constructor: it holds no values.
    empty = spec.Open._amqp_from_fields_(["c"] + [None] * 6 + [Array(type(None), [])])
    assert as_list(empty.offered_capabilities) == []


def test_unknown_described_values_are_accepted_where_an_archetype_is_required() -> None:
    state = Described(ULong(0xAB_0000_0001), [])
    t = spec.Transfer._amqp_from_fields_([UInt(0)] + [None] * 6 + [state])
    assert t.state == state
    assert decode(encode(t)) == t


@settings(max_examples=300, deadline=None)
@given(
    cls=st.sampled_from(spec.COMPOSITES),
    fields=st.lists(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(0, 255).map(UByte),
            st.integers(0, 2**32 - 1).map(UInt),
            st.integers(0, 2**64 - 1).map(ULong),
            st.integers(-5, 5),
            st.text(max_size=3),
            st.text("abc:", max_size=3).map(Symbol),
            st.binary(max_size=3),
            st.dictionaries(st.text("ab", max_size=2).map(Symbol), st.none(), max_size=2),
            st.just(spec.Accepted()),
            st.just(spec.Error(condition="amqp:x")),
            st.just(Described(ULong(0xAB_0000_0001), [])),
            st.just(Array(Symbol, [Symbol("a")])),
        ),
        max_size=16,
    ),
)
def test_decoding_any_field_values_gives_an_instance_or_a_DecodeError(
    cls: Any, fields: list[Any]
) -> None:
    try:
        obj = cls._amqp_from_fields_(fields)
    except DecodeError:
        return
    assert type(obj) is cls
    # Whatever was accepted encodes again (it has the spec types) and decodes to the same.
    assert decode(encode(obj)) == obj


# -- helpers in described.py ----------------------------------------------------------------


def test_spec_default_and_value_or_default() -> None:
    assert spec_default(spec.Open, "channel_max") == 65535
    assert spec_default(spec.Open(container_id="c"), "hostname") is None
    with pytest.raises(AttributeError):
        spec_default(spec.Open, "no_such_field")
    assert value_or_default(spec.Open(container_id="c", channel_max=7), "channel_max") == 7


def test_to_described_and_from_described_are_inverse() -> None:
    obj = spec.Flow(incoming_window=1, next_outgoing_id=2, outgoing_window=3, drain=True)
    described = to_described(obj)
    assert described.descriptor == ULong(0x13)
    assert from_described(described.descriptor, described.value) == obj
    assert from_described(Symbol("amqp:flow:list"), described.value) == obj
    assert from_described(ULong(0xAB_0000_0001), [1]) == Described(ULong(0xAB_0000_0001), [1])
    with pytest.raises(DecodeError):
        from_described(ULong(0x13), {"not": "a list"})


def test_repr_shows_only_present_fields() -> None:
    text = repr(spec.Open(container_id="c", channel_max=1))
    assert text == "Open(container_id='c', channel_max=1)"
    assert repr(spec.Accepted()) == "Accepted()"
