"""The per-frame entry points framing, the engine and the message codec call directly:
decode_value at an offset, decode_described_list, encode_value / encode_described_list into a
shared buffer, split_sections; how the implementation is chosen; and encoding errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

import amqp10.codec as codec
from amqp10.codec import (
    DEFAULT_LIMITS,
    Array,
    DecodeError,
    Described,
    EncodeError,
    Limits,
    Symbol,
    UInt,
    ULong,
    decode,
    decode_described_list,
    decode_value,
    encode,
    encode_described_list,
    encode_value,
    split_sections,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- decode_value ---------------------------------------------------------------------------------


def test_decode_value_reads_at_an_offset_and_returns_the_next_offset() -> None:
    buf = memoryview(b"junk" + encode([UInt(1), "x"]) + h("40"))
    value, pos = decode_value(buf, 4, DEFAULT_LIMITS)
    assert value == [1, "x"] and pos == len(buf) - 1
    assert decode_value(buf, pos, DEFAULT_LIMITS) == (None, len(buf))


def test_decode_value_counts_depth_from_the_depth_it_is_given() -> None:
    buf = memoryview(encode([[None]]))
    limits = Limits(max_depth=3)
    assert decode_value(buf, 0, limits, 1)[0] == [[None]]
    with pytest.raises(DecodeError, match="max_depth=3"):
        decode_value(buf, 0, limits, 2)


# --- decode_described_list ------------------------------------------------------------------------


def test_decode_described_list_returns_descriptor_fields_and_next_offset() -> None:
    frame_body = h("005314 c0 07 03 43 52 05 a0 01 61") + b"payload"
    descriptor, fields, pos = decode_described_list(memoryview(frame_body), 0, DEFAULT_LIMITS)
    assert type(descriptor) is ULong and descriptor == 0x14
    assert fields == [0, 5, b"a"] and [type(f) for f in fields] == [UInt, UInt, bytes]
    assert frame_body[pos:] == b"payload"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (h("005310 45"), (0x10, [])),
        (h("005310 d0 00000005 00000001 40"), (0x10, [None])),
        (h("0044 c0 01 00"), (0, [])),
        (h("0080 0000000100000002 45"), (0x1_00000002, [])),
        (h("00a3 03 613a62 45"), ("a:b", [])),
        (h("00b3 00000003 613a62 45"), ("a:b", [])),
    ],
)
def test_decode_described_list_accepts_every_descriptor_and_list_encoding(data: bytes, expected: tuple[Any, list[Any]]) -> None:
    descriptor, fields, pos = decode_described_list(memoryview(data), 0, DEFAULT_LIMITS)
    assert (descriptor, fields) == expected and pos == len(data)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "no described list at offset 0"),
        (h("40"), r"expected a described value \(0x00\) at offset 0, got 0x40"),
        (h("005310 a1 0178"), "not a list"),
        (h("00 52 10 45"), "must be a ulong or a symbol"),
        (h("0053"), "truncated smallulong"),
        (h("005310"), "truncated described list"),
        (h("005310 c0 05 01 40"), "declares 5 bytes"),
    ],
)
def test_decode_described_list_rejects_what_is_not_a_described_list(data: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode_described_list(memoryview(data), 0, DEFAULT_LIMITS)


# --- encode_value / encode_described_list ---------------------------------------------------------


def test_encode_value_appends_to_the_buffer_it_is_given() -> None:
    out = bytearray(b"\x01\x02")
    encode_value(out, UInt(1))
    encode_value(out, None)
    assert bytes(out) == h("0102 5201 40")


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (object(), "cannot encode a builtins.object"),
        ({1, 2}, "cannot encode a builtins.set"),
        (2**63, r"does not fit an AMQP long.*ULong"),
        (-(2**63) - 1, "does not fit an AMQP long"),
        ("\ud800", "not encodable as UTF-8"),
        ([1, object()], "cannot encode a builtins.object"),
        ({"k": {1.5j: 1}}, "cannot encode a builtins.complex"),
        (Array(UInt, [1, -1]), r"Array\(UInt\) element -1 is out of range"),
        (Array(UInt, ["1"]), r"Array\(UInt\) element '1'"),
        (Array(bool, [1]), r"Array\(bool\) element 1"),
        (Array(str, [b"x"]), r"Array\(str\) element b'x'"),
        (Array(Symbol, ["\u00e9"]), "must be ASCII"),
        (Array(object, []), "element_type <class 'object'> is not an AMQP type"),
        (Array(UInt, [], descriptor=1), "cannot have a descriptor"),
        (Array(Described, []), "needs a shared descriptor"),
        (Array(Described, [Described(1, 1), Described(2, 1)]), "must share the descriptor"),
        (Array(Described, [Described(1, Described(2, 1))]), "cannot themselves be described"),
        (Array(Array, [[1]]), "an array element must be an Array"),
        (Described(1.5, None), "descriptor must be a ULong or a Symbol"),
        (Described(ULong(1), object()), "cannot encode a builtins.object"),
    ],
    ids=repr,
)
def test_unencodable_value_is_an_EncodeError_naming_it_and_leaves_out_unchanged(value: Any, match: str) -> None:
    out = bytearray(b"keep")
    with pytest.raises(EncodeError, match=match):
        encode_value(out, value)
    assert out == b"keep"


def test_self_referential_list_is_an_EncodeError_not_RecursionError() -> None:
    loop: list[Any] = []
    loop.append(loop)
    out = bytearray()
    with pytest.raises(EncodeError, match="nests too deeply"):
        encode_value(out, loop)
    assert out == b""


def test_wrapper_built_around_its_range_check_is_an_EncodeError() -> None:
    sneaky = int.__new__(UInt, -1)  # bypasses UInt's own check
    with pytest.raises(EncodeError, match="out of range"):
        encode(sneaky)


def test_subclasses_of_wrappers_and_builtins_encode_as_their_base() -> None:
    class Code(UInt):
        __slots__ = ()

    class Text(str):
        pass

    assert encode(Code(7)) == encode(UInt(7))
    assert encode(Text("x")) == encode("x")


def test_encode_described_list_rejects_a_bad_code_and_leaves_out_unchanged() -> None:
    out = bytearray(b"keep")
    with pytest.raises(EncodeError, match="does not fit a ulong"):
        encode_described_list(out, 2**64, [])
    with pytest.raises(EncodeError, match="cannot encode"):
        encode_described_list(out, 0x10, [object()])
    assert out == b"keep"


# --- split_sections --------------------------------------------------------------------------------


def test_split_sections_returns_each_sections_descriptor_and_byte_range() -> None:
    header = encode(Described(ULong(0x70), [True]))
    data = encode(Described(ULong(0x75), b"x" * 1000))
    value = encode(Described(Symbol("amqp:amqp-value:*"), {"k": [1, 2]}))
    nested = encode(Described(ULong(0x77), Described(ULong(0x99), "inner")))
    message = header + data + value + nested
    sections = split_sections(memoryview(message), DEFAULT_LIMITS)
    assert [d for d, _, _ in sections] == [0x70, 0x75, "amqp:amqp-value:*", 0x77]
    assert [type(d) for d, _, _ in sections] == [ULong, ULong, Symbol, ULong]
    spans = [(s, e) for _, s, e in sections]
    a, b, c = len(header), len(header) + len(data), len(header) + len(data) + len(value)
    assert spans == [(0, a), (a, b), (b, c), (c, len(message))]
    for (_, start, end), part in zip(sections, (header, data, value, nested)):
        assert message[start:end] == part


def test_split_sections_of_nothing_is_no_sections() -> None:
    assert split_sections(memoryview(b"")) == []


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (h("40"), "message section at offset 0 is not a described value"),
        (h("005370 c0 05 01 40"), "declares 5 bytes"),
        (h("005375 b0 ffffffff 00"), "declares 4294967295 bytes"),
        (h("005375 a0 03 0102"), "declares 3 bytes"),
        (h("005377 57"), "unknown constructor 0x57 at offset 3"),
        (h("005377 52"), "truncated smalluint"),
        (h("005377"), "truncated value"),
        (h("0052 77 40"), "must be a ulong or a symbol"),
        (h("005377 40 41"), "message section at offset 4 is not a described value"),
        (h("005377 d0 00000002 00000000"), "too small for its count"),
        (h("005377") + b"\x00\x53\x01" * 100 + b"\x40", "max_depth"),
    ],
)
def test_split_sections_rejects_malformed_messages(data: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        split_sections(memoryview(data), DEFAULT_LIMITS)


def test_split_sections_enforces_message_binary_and_string_limits_without_decoding() -> None:
    data = encode(Described(ULong(0x75), b"x" * 100))
    with pytest.raises(DecodeError, match="max_message_size=50"):
        split_sections(memoryview(data), Limits(max_message_size=50))
    with pytest.raises(DecodeError, match="max_binary_size=50"):
        split_sections(memoryview(data), Limits(max_binary_size=50))
    text = encode(Described(ULong(0x77), "y" * 100))
    with pytest.raises(DecodeError, match="max_string_size=50"):
        split_sections(memoryview(text), Limits(max_string_size=50))


def test_split_sections_does_not_validate_section_contents() -> None:
    # Contents are checked when the section is decoded, not when it is skipped.
    bad_utf8 = h("005377 a1 02 c328")
    assert split_sections(memoryview(bad_utf8)) == [(0x77, 0, 7)]
    with pytest.raises(DecodeError, match="UTF-8"):
        decode_value(memoryview(bad_utf8), 3, DEFAULT_LIMITS)


# --- the implementation choice ---------------------------------------------------------------------


def _import_in_subprocess(env_pure: str | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "AMQP10_PURE"}
    if env_pure is not None:
        env["AMQP10_PURE"] = env_pure
    script = (
        "import json, warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import amqp10.codec as c\n"
        "    import amqp10.codec\n"
        "print(json.dumps({'impl': c.IMPL, 'warnings': [(w.category.__name__, str(w.message))"
        " for w in caught if 'amqp10' in str(w.message)],"
        " 'decode_module': c.decode_value.__module__}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_AMQP10_PURE_forces_the_pure_codec_without_a_warning() -> None:
    result = _import_in_subprocess("1")
    assert result == {"impl": "pure", "warnings": [], "decode_module": "amqp10.codec._pure_decode"}


def test_without_AMQP10_PURE_the_codec_is_cython_or_pure_with_one_warning_saying_how_to_get_speedups() -> None:
    result = _import_in_subprocess(None)
    if result["impl"] == "cython":
        assert result["warnings"] == []
        assert result["decode_module"].startswith("amqp10._speedups")
    else:
        assert result["impl"] == "pure"
        [(category, message)] = result["warnings"]
        assert category == "RuntimeWarning"
        assert "Cython" in message and "AMQP10_PURE=1" in message


def test_codec_exports_the_hot_functions_of_the_active_implementation() -> None:
    if codec.IMPL == "pure":
        from amqp10.codec import _pure as impl
    else:
        from amqp10._speedups import _codec as impl  # type: ignore[attr-defined,no-redef,unused-ignore]
    for name in ("decode_value", "decode_described_list", "encode_value", "encode_described_list", "split_sections"):
        assert getattr(codec, name) is getattr(impl, name), name


def test_decode_and_encode_are_the_whole_value_wrappers_of_the_hot_functions() -> None:
    assert decode(encode({"a": [UInt(1)]})) == {"a": [1]}
