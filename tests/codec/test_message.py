"""amqp10.Message: the seven sections of spec 3.2, their order, the body shapes, hostile input,
and the one-copy promise for large bodies."""

from __future__ import annotations

import itertools
import tracemalloc
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import amqp10
from amqp10.codec import (
    AmqpSequence,
    AmqpValue,
    Array,
    Data,
    DecodeError,
    EncodeError,
    Header,
    Limits,
    Message,
    Properties,
    Symbol,
    Timestamp,
    UInt,
    ULong,
    encode,
)
from support.message_strategies import messages, same_message
from support.strategies import any_value

HYPOTHESIS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# One canonical encoding of each section, by kind, as Message.encode writes them.
HEADER = b"\x00\x53\x70" + encode([True])
DELIVERY_ANNOTATIONS = b"\x00\x53\x71" + encode({Symbol("x-opt-d"): 1})
MESSAGE_ANNOTATIONS = b"\x00\x53\x72" + encode({Symbol("x-opt-m"): "m"})
PROPERTIES = b"\x00\x53\x73" + encode(["id-1"])
APPLICATION_PROPERTIES = b"\x00\x53\x74" + encode({"k": 1})
DATA = b"\x00\x53\x75" + encode(b"payload")
AMQP_SEQUENCE = b"\x00\x53\x76" + encode([1, 2])
AMQP_VALUE = b"\x00\x53\x77" + encode("text")
FOOTER = b"\x00\x53\x78" + encode({Symbol("x-opt-f"): b"sig"})

# 3.2's order; the body kinds share one place.
ORDER = [
    ("header", HEADER),
    ("delivery-annotations", DELIVERY_ANNOTATIONS),
    ("message-annotations", MESSAGE_ANNOTATIONS),
    ("properties", PROPERTIES),
    ("application-properties", APPLICATION_PROPERTIES),
    ("body", AMQP_VALUE),
    ("footer", FOOTER),
]


def _decoded_then_encoded(m: Message) -> tuple[Message, bytes]:
    wire = m.encode()
    return Message.decode(wire), wire


# --- round trips --------------------------------------------------------------------------------


@HYPOTHESIS
@given(messages())
def test_Message_round_trips_to_an_equal_message_when_any_sections_are_present(m: Message) -> None:
    decoded, wire = _decoded_then_encoded(m)
    assert same_message(decoded, m)
    # Canonical re-encoding: the decoded message gives back exactly the same bytes.
    assert decoded.encode() == wire


@HYPOTHESIS
@given(messages())
def test_Message_decodes_from_bytearray_and_memoryview_the_same_as_from_bytes(m: Message) -> None:
    wire = m.encode()
    expected = Message.decode(wire)
    assert same_message(Message.decode(bytearray(wire)), expected)
    assert same_message(Message.decode(memoryview(wire)), expected)


BODY_KINDS: dict[str, Any] = {
    "none": None,
    "data": b"\x00\x01binary",
    "sequence": [AmqpSequence([1, "two"]), AmqpSequence([])],
    "value": {"a": [1, 2.5, None]},
}


@pytest.mark.parametrize("body_kind", list(BODY_KINDS))
@pytest.mark.parametrize("present", list(itertools.product([False, True], repeat=6)))
def test_Message_keeps_every_section_in_spec_order_when_sections_are_combined(
    present: tuple[bool, ...], body_kind: str
) -> None:
    header, da, ma, props, app, footer = present
    m = Message(
        body=BODY_KINDS[body_kind],
        header=Header(durable=True, priority=7) if header else None,
        delivery_annotations={Symbol("x-opt-d"): 1} if da else None,
        message_annotations={Symbol("x-opt-m"): Symbol("m")} if ma else None,
        properties=Properties(message_id=ULong(9), subject="s") if props else None,
        application_properties={"k": "v"} if app else None,
        footer={Symbol("x-opt-f"): b"sig"} if footer else None,
    )
    decoded, wire = _decoded_then_encoded(m)
    assert decoded == m
    assert decoded.encode() == wire
    codes = [wire[i + 2] for i in range(len(wire) - 2) if wire[i : i + 2] == b"\x00\x53"]
    assert codes == sorted(codes)  # 0x70 header ... 0x78 footer is the spec's order


def test_Message_encodes_no_section_when_every_section_is_absent() -> None:
    assert Message().encode() == b""
    assert Message.decode(b"") == Message()


def test_Message_keeps_absent_header_and_properties_fields_as_None() -> None:
    m = Message.decode(b"\x00\x53\x70\x45" + b"\x00\x53\x73\xc0\x06\x03\x40\x40\xa1\x01q")
    assert m.header == Header()
    assert m.properties == Properties(to="q")
    assert m.properties.message_id is None and m.properties.subject is None


def test_Message_keeps_unknown_annotations_as_they_came() -> None:
    ann = {Symbol("x-vendor-thing"): Array(UInt, [1, 2]), ULong(1 << 40): {"nested": [None]}}
    m = Message.decode(Message(message_annotations=ann, delivery_annotations=ann).encode())
    assert m.message_annotations == ann
    assert m.delivery_annotations == ann
    assert type(m.message_annotations[Symbol("x-vendor-thing")]) is Array


def test_Message_sends_plain_str_annotation_keys_as_symbols() -> None:
    wire = Message(message_annotations={"x-opt-partition-key": "p"}).encode()
    assert wire == b"\x00\x53\x72" + encode({Symbol("x-opt-partition-key"): "p"})
    assert type(next(iter(Message.decode(wire).message_annotations))) is Symbol


def test_Message_accepts_symbolic_and_long_form_section_descriptors() -> None:
    symbolic = b"".join(
        b"\x00" + encode(Symbol(name)) + section[3:]
        for name, section in [
            ("amqp:header:list", HEADER),
            ("amqp:properties:list", PROPERTIES),
            ("amqp:data:binary", DATA),
            ("amqp:footer:map", FOOTER),
        ]
    )
    long_form = b"".join(
        b"\x00\x80" + section[2:3].rjust(8, b"\x00") + section[3:]
        for section in (HEADER, PROPERTIES, DATA, FOOTER)
    )
    canonical = Message.decode(HEADER + PROPERTIES + DATA + FOOTER)
    assert Message.decode(symbolic) == canonical
    assert Message.decode(long_form) == canonical
    assert canonical.body == b"payload"


def test_Message_is_importable_from_amqp10_with_its_section_types() -> None:
    assert amqp10.Message is Message
    assert amqp10.Header is Header and amqp10.Properties is Properties
    assert amqp10.Data is Data and amqp10.AmqpSequence is AmqpSequence
    assert amqp10.AmqpValue is AmqpValue


# --- body shapes --------------------------------------------------------------------------------


def test_Message_sends_bytes_body_as_one_data_section() -> None:
    for body in (b"abc", bytearray(b"abc"), memoryview(b"abc"), Data(b"abc"), [Data(b"abc")]):
        assert Message(body=body).encode() == b"\x00\x53\x75\xa0\x03abc"
    decoded = Message.decode(b"\x00\x53\x75\xa0\x03abc")
    assert type(decoded.body) is bytes and decoded.body == b"abc"


def test_Message_sends_each_Data_as_a_data_section_when_body_is_a_list_of_Data() -> None:
    wire = Message(body=[Data(b"a"), Data(b""), Data(b"c")]).encode()
    assert wire == b"\x00\x53\x75\xa0\x01a" b"\x00\x53\x75\xa0\x00" b"\x00\x53\x75\xa0\x01c"
    body = Message.decode(wire).body
    assert body == [Data(b"a"), Data(b""), Data(b"c")]
    assert all(type(item) is Data for item in body)


def test_Message_uses_vbin32_for_data_sections_of_256_bytes_or_more() -> None:
    payload = bytes(range(256)) * 20
    wire = Message(body=payload).encode()
    assert wire[:8] == b"\x00\x53\x75\xb0" + len(payload).to_bytes(4, "big")
    assert Message.decode(wire).body == payload


def test_Message_sends_each_AmqpSequence_as_a_section_and_decodes_them_as_a_list() -> None:
    wire = Message(body=[AmqpSequence([1]), AmqpSequence(["x"])]).encode()
    assert wire == b"\x00\x53\x76" + encode([1]) + b"\x00\x53\x76" + encode(["x"])
    body = Message.decode(wire).body
    assert body == [AmqpSequence([1]), AmqpSequence(["x"])]
    assert all(type(item) is AmqpSequence for item in body)
    single = Message.decode(b"\x00\x53\x76" + encode([1])).body
    assert type(single) is list and type(single[0]) is AmqpSequence


def test_Message_sends_other_bodies_as_one_amqp_value() -> None:
    for body in ("text", 0, {"k": "v"}, [1, 2], [], [b"x"], Symbol("s"), uuid.UUID(int=1)):
        wire = Message(body=body).encode()
        assert wire == b"\x00\x53\x77" + encode(body)
        assert Message.decode(wire).body == body


def test_Message_has_no_body_section_when_body_is_None() -> None:
    assert Message(body=None, properties=Properties(to="q")).encode() == b"\x00\x53\x73" + encode(
        [None, None, "q"]
    )
    assert Message.decode(PROPERTIES).body is None


def test_Message_decodes_amqp_value_null_and_binary_as_AmqpValue_to_stay_unambiguous() -> None:
    null_wire = Message(body=AmqpValue(None)).encode()
    assert null_wire == b"\x00\x53\x77\x40"
    assert Message.decode(null_wire).body == AmqpValue(None)
    binary_wire = Message(body=AmqpValue(b"raw")).encode()
    assert binary_wire == b"\x00\x53\x77\xa0\x03raw"
    decoded = Message.decode(binary_wire)
    assert type(decoded.body) is AmqpValue and decoded.body.value == b"raw"
    assert decoded.encode() == binary_wire


def test_Message_sends_a_list_of_Data_as_a_value_when_wrapped_in_AmqpValue() -> None:
    wire = Message(body=AmqpValue([Data(b"a")])).encode()
    assert wire == b"\x00\x53\x77" + encode([b"a"])
    assert Message.decode(wire).body == [b"a"]


def test_Message_refuses_to_encode_when_body_list_mixes_sections_and_values() -> None:
    for body in ([Data(b"a"), 1], [AmqpSequence([]), Data(b"x")], [1, AmqpSequence([1])]):
        with pytest.raises(EncodeError, match="AmqpValue"):
            Message(body=body).encode()
    with pytest.raises(EncodeError, match=r"body=\[AmqpSequence"):
        Message(body=AmqpSequence([1])).encode()


def test_Message_equality_compares_bodies_by_the_sections_they_encode_to() -> None:
    assert Message(body=b"x") == Message(body=Data(b"x")) == Message(body=[Data(b"x")])
    assert Message(body=b"x") != Message(body=AmqpValue(b"x"))
    assert Message(body=None) != Message(body=AmqpValue(None))
    assert Message(body="s") == Message(body=AmqpValue("s"))
    assert Message(body=[AmqpSequence([1])]) != Message(body=[1])


# --- section checks on encode -------------------------------------------------------------------


def test_Message_refuses_to_encode_application_properties_with_non_string_keys() -> None:
    for app in ({1: "v"}, {b"k": "v"}, {None: 1}):
        with pytest.raises(EncodeError, match="3.2.5"):
            Message(application_properties=app).encode()


def test_Message_refuses_to_encode_application_properties_with_compound_values() -> None:
    for value in ([1], (1,), {"a": 1}, Array(UInt, [1]), AmqpSequence([1])):
        with pytest.raises(EncodeError, match="simple types"):
            Message(application_properties={"k": value}).encode()


def test_Message_sends_Symbol_application_property_keys_as_strings() -> None:
    wire = Message(application_properties={Symbol("k"): 1}).encode()
    assert wire == b"\x00\x53\x74" + encode({"k": 1})


def test_Message_refuses_to_encode_when_a_section_has_the_wrong_type() -> None:
    with pytest.raises(EncodeError, match="Header"):
        Message(header={"durable": True}).encode()  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match="Properties"):
        Message(properties=Header()).encode()  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match="dict"):
        Message(message_annotations=[1]).encode()  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        Message(body=object()).encode()


def test_Message_encode_reports_a_bad_header_field_as_EncodeError() -> None:
    with pytest.raises(EncodeError):
        Message(header=Header(priority=300)).encode()


# --- section checks on decode -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (a, b)
        for (i, (a, _)), (j, (b, _)) in itertools.product(enumerate(ORDER), repeat=2)
        if i < j
    ],
)
def test_Message_decode_rejects_a_section_when_it_comes_before_an_earlier_one(
    earlier: str, later: str
) -> None:
    sections = dict(ORDER)
    with pytest.raises(DecodeError, match="out of the order|comes after") as info:
        Message.decode(sections[later] + sections[earlier])
    assert info.value.condition == "amqp:decode-error"


@pytest.mark.parametrize("name", [name for name, _ in ORDER])
def test_Message_decode_rejects_a_section_when_it_is_repeated(name: str) -> None:
    section = dict(ORDER)[name]
    with pytest.raises(DecodeError, match="repeated|comes after"):
        Message.decode(section + section)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (AMQP_VALUE, DATA),
        (DATA, AMQP_VALUE),
        (DATA, AMQP_SEQUENCE),
        (AMQP_SEQUENCE, DATA),
        (AMQP_SEQUENCE, AMQP_VALUE),
        (AMQP_VALUE, AMQP_SEQUENCE),
    ],
)
def test_Message_decode_rejects_body_sections_when_their_kinds_are_mixed(
    first: bytes, second: bytes
) -> None:
    with pytest.raises(DecodeError, match="3.2 allows one amqp-value"):
        Message.decode(first + second)


def test_Message_decode_accepts_several_data_or_sequence_sections_then_a_footer() -> None:
    m = Message.decode(DATA + DATA + FOOTER)
    assert m.body == [Data(b"payload"), Data(b"payload")]
    m = Message.decode(AMQP_SEQUENCE * 3 + FOOTER)
    assert m.body == [AmqpSequence([1, 2])] * 3


@pytest.mark.parametrize(
    "wire",
    [
        b"\x00\x53\x79\x40",  # the next code after footer
        b"\x00\x53\x6f\x40",  # the code before header
        b"\x00\x53\x10\x45",  # a performative (open), not a section
        b"\x00\x80" + (0xAB << 32 | 0x70).to_bytes(8, "big") + b"\x45",  # another domain
        b"\x00\xa3\x10amqp:header:map\x45",  # a near miss of a symbolic descriptor
    ],
)
def test_Message_decode_rejects_a_section_when_its_descriptor_is_unknown(wire: bytes) -> None:
    with pytest.raises(DecodeError, match="unknown message section"):
        Message.decode(wire)


def test_Message_decode_rejects_a_top_level_value_when_it_is_not_described() -> None:
    with pytest.raises(DecodeError, match="described value"):
        Message.decode(b"\xa1\x05hello")
    with pytest.raises(DecodeError, match="ulong or symbol|descriptor"):
        Message.decode(b"\x00\xa1\x01x\x40")  # a string descriptor


@pytest.mark.parametrize(
    ("wire", "match"),
    [
        (b"\x00\x53\x70" + encode({"a": 1}), "header section at offset 0 must hold a list"),
        (b"\x00\x53\x73" + encode("id"), "properties section at offset 0 must hold a list"),
        (b"\x00\x53\x71" + encode([1]), "delivery-annotations section at offset 0 must hold a map"),
        (b"\x00\x53\x72" + encode(None), "message-annotations section .* must hold a map"),
        (b"\x00\x53\x74" + encode([1]), "application-properties section .* must hold a map"),
        (b"\x00\x53\x75" + encode("text"), "data section at offset 0 must hold binary"),
        (b"\x00\x53\x76" + encode({"a": 1}), "amqp-sequence section .* must hold a list"),
        (b"\x00\x53\x76" + encode(Array(UInt, [1])), "amqp-sequence section .* must hold a list"),
        (b"\x00\x53\x78" + encode("f"), "footer section at offset 0 must hold a map"),
        (b"\x00\x53\x70" + encode(["yes"]), "durable"),
        (b"\x00\x53\x73" + encode([None, "not binary"]), "user-id"),
    ],
)
def test_Message_decode_rejects_a_section_when_it_holds_the_wrong_type(
    wire: bytes, match: str
) -> None:
    with pytest.raises(DecodeError, match=match):
        Message.decode(wire)


@pytest.mark.parametrize(
    "app",
    [{Symbol("k"): 1}, {1: 1}, {"k": [1]}, {"k": {"a": 1}}, {"k": Array(UInt, [1])}],
)
def test_Message_decode_rejects_application_properties_when_they_break_3_2_5(
    app: dict[Any, Any],
) -> None:
    with pytest.raises(DecodeError, match="3.2.5"):
        Message.decode(b"\x00\x53\x74" + encode(app))


def test_Message_decode_checks_max_message_size_before_anything_else() -> None:
    wire = Message(body=b"x" * 100).encode()
    small = Limits(max_message_size=len(wire) - 1)
    with pytest.raises(DecodeError, match="max_message_size"):
        Message.decode(wire, small)
    # Garbage of the same size fails on size too: it is checked before the first byte is read.
    with pytest.raises(DecodeError, match="max_message_size"):
        Message.decode(b"\xff" * len(wire), small)
    assert Message.decode(wire, Limits(max_message_size=len(wire))).body == b"x" * 100


def test_Message_decode_applies_the_limits_inside_sections() -> None:
    deep: Any = "leaf"
    for _ in range(10):
        deep = [deep]
    wire = Message(body=deep).encode()
    with pytest.raises(DecodeError, match="max_depth|deeper"):
        Message.decode(wire, Limits(max_depth=5))
    assert Message.decode(wire).body == deep
    with pytest.raises(DecodeError, match="max_binary_size"):
        Message.decode(Message(body=b"x" * 50).encode(), Limits(max_binary_size=49))
    with pytest.raises(DecodeError, match="max_binary_size"):
        Message.decode(Message(body=[Data(b"x"), Data(b"x" * 50)]).encode(), Limits(max_binary_size=49))


def test_Message_decode_rejects_a_data_section_when_its_size_runs_past_the_end() -> None:
    with pytest.raises(DecodeError, match="claims 200 bytes, only 2 remain"):
        Message.decode(b"\x00\x53\x75\xa0\xc8ab")
    with pytest.raises(DecodeError, match="claims"):
        Message.decode(b"\x00\x53\x75\xb0\xff\xff\xff\xffab")


# --- hostile input ------------------------------------------------------------------------------


FULL = Message(
    header=Header(durable=True, priority=5, ttl=1000, first_acquirer=False, delivery_count=2),
    delivery_annotations={Symbol("x-opt-lock"): uuid.UUID(int=7)},
    message_annotations={Symbol("x-opt-seq"): ULong(42), Symbol("x-opt-t"): Timestamp(1)},
    properties=Properties(
        message_id="id-1",
        user_id=b"me",
        to="queue://a",
        subject="s",
        reply_to="queue://b",
        correlation_id=uuid.UUID(int=3),
        content_type="text/plain",
        content_encoding="utf-8",
        absolute_expiry_time=Timestamp(2000),
        creation_time=Timestamp(1000),
        group_id="g",
        group_sequence=UInt(3),
        reply_to_group_id="rg",
    ),
    application_properties={"a": 1, "b": "two", "c": None, "d": 1.5, "e": Symbol("e")},
    body=[Data(b"first"), Data(b"second" * 50)],
    footer={Symbol("x-opt-sig"): b"\x00" * 8},
)


def _section_boundaries(wire: bytes) -> set[int]:
    ends = {0}
    m = Message.decode(wire)
    for keep in range(1, 9):
        # Encode the message with the first `keep` section kinds only, to learn each end offset.
        ends.add(len(_prefix_of(m, keep)))
    return ends


def _prefix_of(m: Message, keep: int) -> bytes:
    names = [
        "header",
        "delivery_annotations",
        "message_annotations",
        "properties",
        "application_properties",
        "body_first",
        "body",
        "footer",
    ]
    kept = names[:keep]
    body = m.body
    if "body_first" in kept and "body" not in kept:
        body = body[:1]
    elif "body_first" not in kept:
        body = None
    return Message(
        body=body,
        **{name: getattr(m, name) for name in names if name in kept and not name.startswith("body")},
    ).encode()


def test_Message_decode_raises_DecodeError_when_truncated_at_any_offset() -> None:
    wire = FULL.encode()
    boundaries = _section_boundaries(wire)
    assert len(boundaries) == 9
    for cut in range(len(wire)):
        if cut in boundaries:
            # A cut between sections leaves a shorter valid message: its prefix.
            assert Message.decode(wire[:cut]).encode() == wire[:cut]
            continue
        with pytest.raises(DecodeError):
            Message.decode(wire[:cut])


def test_Message_decode_raises_only_DecodeError_when_any_byte_is_corrupted() -> None:
    wire = FULL.encode()
    for offset in range(len(wire)):
        for byte in (0x00, 0x40, 0x53, 0xA0, 0xB0, 0xC0, 0xD1, 0xE0, 0xFF, wire[offset] ^ 0x80):
            corrupted = wire[:offset] + bytes([byte]) + wire[offset + 1 :]
            try:
                decoded = Message.decode(corrupted)
            except DecodeError:
                continue
            # Whatever decodes re-encodes and decodes to the same message. (Compared as bytes:
            # a corrupted double can be a NaN, which is not equal to itself.)
            assert Message.decode(decoded.encode()).encode() == decoded.encode()


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_Message_decode_returns_a_message_or_raises_DecodeError_for_any_bytes(data: bytes) -> None:
    try:
        decoded = Message.decode(data)
    except DecodeError:
        return
    assert Message.decode(decoded.encode()).encode() == decoded.encode()


# Bytes that look like sections often enough to get past the first check: section prefixes,
# whole valid sections and constructors, mixed with random bytes.
_PIECES = st.one_of(
    st.sampled_from([bytes((0x00, 0x53, code)) for code in range(0x6F, 0x7A)]),
    st.sampled_from([section for _, section in ORDER] + [DATA, AMQP_SEQUENCE]),
    st.sampled_from([b"\x40", b"\x45", b"\xa0", b"\xb0", b"\xc0", b"\xc1", b"\xd0", b"\xe0"]),
    st.binary(max_size=6),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=12).map(b"".join))
def test_Message_decode_returns_a_message_or_raises_DecodeError_for_section_like_bytes(
    data: bytes,
) -> None:
    try:
        decoded = Message.decode(data)
    except DecodeError:
        return
    assert Message.decode(decoded.encode()).encode() == decoded.encode()


@HYPOTHESIS
@given(messages(), st.data())
def test_Message_decode_raises_DecodeError_when_a_valid_message_is_cut_inside_a_section(
    m: Message, data: st.DataObject
) -> None:
    wire = m.encode()
    if not wire:
        return
    cut = data.draw(st.integers(0, len(wire) - 1))
    try:
        prefix = Message.decode(wire[:cut])
    except DecodeError:
        return
    # Only a cut at a section boundary decodes, and then to a message that re-encodes exactly.
    assert prefix.encode() == wire[:cut]


# --- copies of a large body ---------------------------------------------------------------------

MIB = 1 << 20


def _peak_allocated_during(fn: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


# Why the peak measures copies: every copy of the body is made while its source is alive, so a
# second copy (input -> bytes -> bytes, or bytearray -> bytes) would hold two bodies at once
# and double the peak. A peak under 1.5x the body size (the input is allocated before tracing
# starts) means exactly one body-sized object was built.


@pytest.mark.parametrize(
    "body", [b"\x5a" * MIB, [Data(b"\x5a" * (MIB // 2)), Data(b"\xa5" * (MIB // 2))]], ids=["one", "two"]
)
def test_Message_copies_a_1MiB_data_body_once_when_encoding(body: Any) -> None:
    m = Message(body=body, properties=Properties(message_id="m"), footer={Symbol("x"): 1})
    wire, peak = _peak_allocated_during(m.encode)
    assert len(wire) > MIB
    assert peak < 1.5 * MIB, f"encode allocated {peak} bytes at peak for a {MIB}-byte body"


@pytest.mark.parametrize(
    "body", [b"\x5a" * MIB, [Data(b"\x5a" * (MIB // 2)), Data(b"\xa5" * (MIB // 2))]], ids=["one", "two"]
)
def test_Message_copies_a_1MiB_data_body_once_when_decoding(body: Any) -> None:
    wire = Message(body=body, properties=Properties(message_id="m"), footer={Symbol("x"): 1}).encode()
    for data in (wire, bytearray(wire), memoryview(wire)):
        decoded, peak = _peak_allocated_during(lambda: Message.decode(data))
        assert decoded.body == body
        assert peak < 1.5 * MIB, f"decode allocated {peak} bytes at peak for a {MIB}-byte body"


# --- values inside sections ---------------------------------------------------------------------


@HYPOTHESIS
@given(any_value())
def test_Message_round_trips_any_value_when_it_is_the_amqp_value_body(value: Any) -> None:
    m = Message(body=AmqpValue(value))
    decoded, wire = _decoded_then_encoded(m)
    assert same_message(decoded, m)
    assert decoded.encode() == wire


@HYPOTHESIS
@given(st.lists(any_value(2), max_size=4))
def test_Message_round_trips_any_values_when_they_are_an_amqp_sequence(items: list[Any]) -> None:
    m = Message(body=[AmqpSequence(items)])
    decoded, wire = _decoded_then_encoded(m)
    assert same_message(decoded, m) and decoded.encode() == wire


def test_Message_with_a_non_ascii_string_annotation_key_from_the_wire_re_encodes_as_it_came() -> None:
    # Found by fuzz/fuzz_decode_message.py: a peer may send an annotation key as a string; a
    # non-ASCII one cannot become a symbol, so encode must send it back as a string.
    key = "x-opt-\u04d3"
    wire = b"\x00\x53\x71" + amqp10.codec.encode({key: 1})
    message = Message.decode(wire)
    assert message.delivery_annotations == {key: 1}
    again = Message.decode(message.encode())
    assert again.delivery_annotations == {key: 1}
    assert type(next(iter(again.delivery_annotations))) is str
