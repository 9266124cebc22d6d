"""The pure-Python and the Cython hot functions behave identically (DESIGN.md rule 6).

Two kinds of test, both over hypothesis-generated input:

- *agreement* tests run the same call through ``amqp10.codec._pure_*`` / ``amqp10.framing.scan``
  and through ``amqp10._speedups._codec`` / ``_framing`` and require the same outcome: the same
  bytes (and, after a failed encode, the same untouched output buffer), the same value with the
  same types all the way down, or the same exception class with the same message;
- *invariant* tests run once per implementation (the ``impl`` fixture, parametrised
  ``["pure", "cython"]``): round trips, "a value or a DecodeError, nothing else".

Both implementations are imported directly, whatever ``amqp10.codec.IMPL`` chose, so one run of
the suite covers both. When the compiled module is missing the cython cases fail under CI
(``CI=true``) or ``AMQP10_REQUIRE_SPEEDUPS=1``, and skip elsewhere with how to build it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import struct
import sys
import tracemalloc
import uuid
from types import ModuleType, SimpleNamespace
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amqp10.codec import (
    Array,
    Byte,
    Char,
    DecodeError,
    Decimal32,
    Decimal64,
    Decimal128,
    Described,
    EncodeError,
    Float,
    Int,
    Limits,
    Short,
    Symbol,
    Timestamp,
    UByte,
    UInt,
    ULong,
    UShort,
    encode,
)
from amqp10.codec import _pure_decode, _pure_encode
from amqp10.codec import message as _pure_message
from amqp10.codec.message import Message
from amqp10.codec.sections import AmqpValue
from amqp10.codec.composite import BY_CODE, Composite
from amqp10.codec.limits import DEFAULT_LIMITS
from amqp10.errors import FramingError
from amqp10.framing import scan as _pure_scan
from support.message_strategies import messages
from support.spec_strategies import any_composite
from support.speedups import compiled as load_compiled
from support.strategies import any_value

def _compiled() -> SimpleNamespace:
    """The compiled twins, or a failure (CI) / skip (elsewhere) saying how to build them."""
    codec, framing = load_compiled()
    return _namespace("cython", codec, codec, framing, codec)


def _namespace(
    name: str, dec: ModuleType, enc: ModuleType, framing: ModuleType, message: ModuleType
) -> SimpleNamespace:
    return SimpleNamespace(
        name=name,
        decode_message=message.decode_message,
        decode_value=dec.decode_value,
        decode_described_list=dec.decode_described_list,
        split_sections=dec.split_sections,
        encode_value=enc.encode_value,
        encode_described_list=enc.encode_described_list,
        scan_frames=framing.scan_frames,
    )


PURE = _namespace("pure", _pure_decode, _pure_encode, _pure_scan, _pure_message)


@pytest.fixture(scope="module", params=["pure", "cython"])
def impl(request: pytest.FixtureRequest) -> SimpleNamespace:
    """One implementation of the hot functions, imported directly."""
    return PURE if request.param == "pure" else _compiled()


@pytest.fixture(scope="module")
def compiled() -> SimpleNamespace:
    """The Cython implementation, to hold against ``PURE``."""
    return _compiled()


_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# --- outcomes and how to compare them ---------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    """Same value, same Python types all the way down (NaN equal to itself)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b) and struct.pack(">d", a) == struct.pack(">d", b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, Array):
        return (
            a.element_type is b.element_type
            and _same(a.descriptor, b.descriptor)
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b))
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            _same(ka, kb) and _same(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items())
        )
    if isinstance(a, Described):
        return _same(a.descriptor, b.descriptor) and _same(a.value, b.value)
    if isinstance(a, AmqpValue):
        return _same(a.value, b.value)
    if isinstance(a, Message):
        return all(_same(getattr(a, name), getattr(b, name)) for name in Message.__slots__)
    if isinstance(a, Composite) and dataclasses.is_dataclass(a):
        return all(
            _same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    return bool(a == b)


def _outcome(call: Callable[[], Any], *errors: type[BaseException]) -> tuple[Any, ...]:
    """("ok", result) or ("error", class, message, condition) for the expected error types."""
    try:
        return ("ok", call())
    except errors as exc:
        return ("error", type(exc), str(exc), getattr(exc, "condition", None))


def _assert_same_outcome(expected: tuple[Any, ...], actual: tuple[Any, ...]) -> None:
    if expected[0] == "error" or actual[0] == "error":
        assert actual == expected
    else:
        assert _same(actual[1], expected[1]), (expected[1], actual[1])


def _encode_outcome(
    encode_value: Callable[..., None], args: tuple[Any, ...], prefix: bytes
) -> tuple[Any, ...]:
    out = bytearray(prefix)

    def run() -> bytes:
        encode_value(out, *args)
        return bytes(out)

    result = _outcome(run, EncodeError)
    if result[0] == "error":
        # A failed call leaves the output exactly as it was (_pure_encode's contract).
        assert bytes(out) == prefix
    return result


# --- input strategies -------------------------------------------------------------------------

_BYTE_CODES = [
    0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x60,
    0x61, 0x70, 0x71, 0x72, 0x73, 0x74, 0x80, 0x81, 0x82, 0x83, 0x84, 0x94, 0x98, 0xA0, 0xA1,
    0xA3, 0xB0, 0xB1, 0xB3, 0xC0, 0xC1, 0xD0, 0xD1, 0xE0, 0xF0, 0x01, 0xFF, 0x80, 0x7F,
]
_interesting_bytes = st.one_of(st.sampled_from(_BYTE_CODES), st.integers(0, 255))


@st.composite
def _mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """A valid encoding with a few truncations, bit flips, replacements, insertions, deletions."""
    data = bytearray(draw(base))
    ops = st.tuples(
        st.sampled_from(["flip", "set", "cut", "insert", "delete"]),
        st.integers(0, 1 << 20),
        _interesting_bytes,
    )
    for op, where, byte in draw(st.lists(ops, min_size=1, max_size=4)):
        if not data and op != "insert":
            continue
        i = where % (len(data) or 1)
        if op == "flip":
            data[i] ^= 1 << (byte % 8)
        elif op == "set":
            data[i] = byte
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data.insert(i, byte)
        else:
            del data[i]
    return bytes(data)


_encodings = any_value(max_depth=3, max_size=4).map(encode)
_composite_encodings = any_composite().map(encode)
_message_encodings = messages().map(lambda m: m.encode())
_hostile_bytes = st.one_of(
    st.binary(max_size=64),
    st.lists(_interesting_bytes, max_size=48).map(bytes),
    _mutated(_encodings),
    _mutated(_composite_encodings),
)

_small_limits = st.builds(
    Limits,
    max_depth=st.integers(0, 6),
    max_count=st.integers(0, 40),
    max_binary_size=st.integers(0, 300),
    max_string_size=st.integers(0, 300),
    max_message_size=st.integers(0, 2000),
    max_body_sections=st.integers(1, 4),
)
_limits = st.one_of(st.just(DEFAULT_LIMITS), _small_limits)


class _Colour(enum.IntEnum):
    RED = 1
    HUGE = 1 << 70


class _Text(str):
    pass


class _Blob(bytes):
    pass


class _Seq(list):  # type: ignore[type-arg]
    pass


class _Map(dict):  # type: ignore[type-arg]
    pass


def _raw(cls: type, value: Any) -> Any:
    """A wrapper instance built around its constructor's check, as a careless caller might."""
    base = float if issubclass(cls, float) else str if issubclass(cls, str) else int
    return base.__new__(cls, value)


# Values the encoder may see that are not in canonical form, or not encodable at all.
_odd_scalars = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([_Colour.RED, _Colour.HUGE, _Text("t\u00e9xt"), _Blob(b"blob")]),
    st.text(max_size=8).map(lambda s: s + "\ud800"),  # a lone surrogate: not UTF-8
    st.sampled_from(
        [
            _raw(UInt, -1), _raw(UInt, 1 << 32), _raw(ULong, -5), _raw(ULong, 1 << 64),
            _raw(UShort, 1 << 16), _raw(Short, -(1 << 15) - 1), _raw(Int, 1 << 31),
            _raw(UByte, 256), _raw(Byte, -129), _raw(Timestamp, 1 << 63),
            _raw(Decimal32, 1 << 32), _raw(Decimal64, -1), _raw(Decimal128, 1 << 128),
            _raw(Float, 1e300), _raw(Symbol, "caf\u00e9"), _raw(Char, "ab"), _raw(Char, ""),
            object(), dt.date(2020, 1, 1), 1 + 2j, {1, 2}, frozenset(),
        ]
    ),
    st.datetimes(timezones=st.one_of(st.none(), st.just(dt.timezone.utc))),
    st.binary(max_size=8).map(bytearray),
    st.binary(max_size=8).map(memoryview),
    st.binary(max_size=16).map(lambda b: memoryview(b)[::2]),
)

_element_types = st.sampled_from(
    [
        type(None), bool, UByte, UShort, UInt, ULong, Byte, Short, Int, int, Float, float,
        Decimal32, Decimal64, Decimal128, Char, Timestamp, dt.datetime, uuid.UUID, bytes,
        bytearray, memoryview, str, Symbol, list, tuple, dict, Array, Described, _Text,
        object, "not a type",
    ]
)


def _described_as_given(descriptor: Any, value: Any) -> Described:
    """A Described holding exactly ``descriptor`` (its constructor would coerce or refuse it)."""
    described = Described(ULong(0), value)
    described.descriptor = descriptor
    return described


def _odd_values() -> st.SearchStrategy[Any]:
    leaves = st.one_of(any_value(max_depth=1, max_size=3), _odd_scalars)

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=4).map(tuple),
            st.lists(children, max_size=3).map(_Seq),
            st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), children, max_size=3),
            st.dictionaries(st.text(max_size=3), children, max_size=3).map(_Map),
            st.builds(
                _described_as_given,
                st.one_of(
                    st.integers(0, 300).map(ULong), st.text("ab:", max_size=4).map(Symbol),
                    st.sampled_from([_raw(ULong, -1), _raw(ULong, 1 << 64), 1.5, "t\u00e9", None]),
                ),
                children,
            ),
            st.builds(
                Array,
                _element_types,
                st.lists(children, max_size=4),
                st.one_of(st.none(), st.integers(0, 300).map(ULong), st.just(Symbol("d"))),
            ),
            any_composite(),
        )

    return st.recursive(leaves, extend, max_leaves=12)


# --- agreement: encoding ----------------------------------------------------------------------


@_SETTINGS
@given(value=any_value(max_depth=3, max_size=5), prefix=st.binary(max_size=4))
def test_encode_value_writes_the_same_bytes_when_the_value_is_canonical(
    compiled: SimpleNamespace, value: Any, prefix: bytes
) -> None:
    expected = _encode_outcome(PURE.encode_value, (value,), prefix)
    assert expected[0] == "ok"
    assert _encode_outcome(compiled.encode_value, (value,), prefix) == expected


@_SETTINGS
@given(value=_odd_values(), prefix=st.binary(max_size=4))
def test_encode_value_writes_the_same_bytes_or_raises_the_same_error_when_the_value_is_odd(
    compiled: SimpleNamespace, value: Any, prefix: bytes
) -> None:
    expected = _encode_outcome(PURE.encode_value, (value,), prefix)
    assert _encode_outcome(compiled.encode_value, (value,), prefix) == expected


@_SETTINGS
@given(value=any_composite())
def test_encode_value_writes_the_same_described_list_when_the_value_is_a_spec_composite(
    compiled: SimpleNamespace, value: Any
) -> None:
    expected = _encode_outcome(PURE.encode_value, (value,), b"")
    assert _encode_outcome(compiled.encode_value, (value,), b"") == expected


@_SETTINGS
@given(
    code=st.one_of(
        st.integers(0, 300), st.integers(-5, 2**65), st.sampled_from([True, 2.0, 1.5, "x", None])
    ),
    fields=st.one_of(st.lists(_odd_values(), max_size=4), _odd_values()),
)
def test_encode_described_list_writes_the_same_bytes_or_error_when_code_and_fields_vary(
    compiled: SimpleNamespace, code: Any, fields: Any
) -> None:
    errors = (EncodeError, TypeError)  # a non-int code fails in Python's own comparisons
    out_pure, out_cy = bytearray(b"\x01"), bytearray(b"\x01")
    expected = _outcome(lambda: PURE.encode_described_list(out_pure, code, fields), *errors)
    actual = _outcome(lambda: compiled.encode_described_list(out_cy, code, fields), *errors)
    assert actual == expected
    assert out_cy == out_pure


def test_encode_value_raises_the_same_error_when_a_list_contains_itself(
    compiled: SimpleNamespace,
) -> None:
    value: list[Any] = [1]
    value.append(value)
    for impl in (PURE, compiled):
        out = bytearray(b"keep")
        with pytest.raises(EncodeError, match="nests too deeply to encode"):
            impl.encode_value(out, value)
        assert out == b"keep"


@pytest.mark.parametrize("size", [254, 255, 256, 65536 + 7])
def test_encode_value_widens_to_the_same_32_bit_encodings_at_the_size_boundaries(
    compiled: SimpleNamespace, size: int
) -> None:
    values = [
        "x" * size,
        Symbol("y" * size),
        b"z" * size,
        list(range(size // 9)),
        {i: None for i in range(size // 10)},
        Array(Symbol, [Symbol("s" * (size % 300))] * 3),
        Array(list, [[1] * (size // 9)]),
    ]
    for value in values:
        assert _encode_outcome(compiled.encode_value, (value,), b"") == _encode_outcome(
            PURE.encode_value, (value,), b""
        )


# --- agreement: decoding ----------------------------------------------------------------------


def _decode_outcomes(
    impl: SimpleNamespace, data: bytes, pos: int, limits: Limits, depth: int
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    buf = memoryview(data)
    value = _outcome(lambda: impl.decode_value(buf, pos, limits, depth), DecodeError)
    described = _outcome(lambda: impl.decode_described_list(buf, pos, limits), DecodeError)
    return value, described


@_SETTINGS
@given(data=_hostile_bytes, limits=_limits, pos=st.integers(-2, 6), depth=st.integers(0, 3))
def test_decoders_give_the_same_value_or_the_same_error_when_bytes_are_arbitrary(
    compiled: SimpleNamespace, data: bytes, limits: Limits, pos: int, depth: int
) -> None:
    expected = _decode_outcomes(PURE, data, pos, limits, depth)
    actual = _decode_outcomes(compiled, data, pos, limits, depth)
    _assert_same_outcome(expected[0], actual[0])
    _assert_same_outcome(expected[1], actual[1])


@_SETTINGS
@given(data=st.one_of(_encodings, _composite_encodings), limits=_limits)
def test_decode_value_gives_the_same_value_or_error_when_bytes_are_valid_encodings(
    compiled: SimpleNamespace, data: bytes, limits: Limits
) -> None:
    expected = _decode_outcomes(PURE, data, 0, limits, 0)
    actual = _decode_outcomes(compiled, data, 0, limits, 0)
    _assert_same_outcome(expected[0], actual[0])
    _assert_same_outcome(expected[1], actual[1])


@_SETTINGS
@given(
    code=st.sampled_from(sorted(BY_CODE)),
    fields=st.lists(st.one_of(any_value(max_depth=1, max_size=2), any_composite()), max_size=14),
    as_array=st.booleans(),
)
def test_decoders_build_the_same_composite_or_error_when_its_fields_are_arbitrary(
    compiled: SimpleNamespace, code: int, fields: list[Any], as_array: bool
) -> None:
    # Every registered descriptor over fields of any type: _build's error mapping (TypeError,
    # ValueError, LookupError -> DecodeError) must be the same on both paths.
    body = encode(fields)
    if as_array:  # an array of one described list: the array path builds composites too
        data = b"\xf0" + struct.pack(">II", 4 + 3 + len(body), 1) + bytes((0x00, 0x53, code)) + body
    else:
        data = bytes((0x00, 0x53, code)) + body
    expected = _decode_outcomes(PURE, data, 0, DEFAULT_LIMITS, 0)
    actual = _decode_outcomes(compiled, data, 0, DEFAULT_LIMITS, 0)
    _assert_same_outcome(expected[0], actual[0])
    _assert_same_outcome(expected[1], actual[1])


@_SETTINGS
@given(data=st.one_of(_message_encodings, _mutated(_message_encodings), _hostile_bytes), limits=_limits)
def test_split_sections_gives_the_same_sections_or_error_when_messages_are_mutated(
    compiled: SimpleNamespace, data: bytes, limits: Limits
) -> None:
    buf = memoryview(data)
    expected = _outcome(lambda: PURE.split_sections(buf, limits), DecodeError)
    actual = _outcome(lambda: compiled.split_sections(buf, limits), DecodeError)
    _assert_same_outcome(expected, actual)


def test_decode_value_raises_the_same_error_when_nesting_outruns_the_python_stack(
    compiled: SimpleNamespace,
) -> None:
    # 100 000 nested list32 headers, each claiming the rest: only the stack can stop this.
    levels = 100_000
    data = bytearray()
    for i in range(levels):
        data += b"\xd0" + struct.pack(">II", 9 * (levels - i - 1) + 4 + 1, 1)
    data += b"\x40"
    limits = Limits(max_depth=10**9)
    buf = memoryview(bytes(data))
    expected = _outcome(lambda: PURE.decode_value(buf, 0, limits), DecodeError)
    assert expected[0] == "error"
    assert _outcome(lambda: compiled.decode_value(buf, 0, limits), DecodeError) == expected


@_SETTINGS
@given(
    data=st.one_of(_message_encodings, _mutated(_message_encodings), _hostile_bytes),
    limits=st.one_of(st.none(), _limits),
)
def test_decode_message_gives_the_same_message_or_error_when_bytes_are_messages_or_mutated(
    compiled: SimpleNamespace, data: bytes, limits: Limits | None
) -> None:
    expected = _outcome(lambda: PURE.decode_message(Message, data, limits), DecodeError)
    actual = _outcome(lambda: compiled.decode_message(Message, data, limits), DecodeError)
    _assert_same_outcome(expected, actual)


def _section(code: int, value: Any) -> bytes:
    return bytes((0x00, 0x53, code)) + encode(value)


@_SETTINGS
@given(
    code=st.sampled_from([0x70, 0x73]),
    fields=st.lists(st.one_of(any_value(max_depth=1, max_size=2), any_composite()), max_size=16),
    then=st.sampled_from([b"", _section(0x77, "body"), _section(0x73, [])]),
)
def test_decode_message_builds_the_same_header_or_properties_or_error_when_fields_are_arbitrary(
    compiled: SimpleNamespace, code: int, fields: list[Any], then: bytes
) -> None:
    # Every field of every type in every position, short and long lists: the compiled
    # composer must agree with the generated _amqp_from_fields_ on each.
    data = _section(code, fields) + then
    expected = _outcome(lambda: PURE.decode_message(Message, data, None), DecodeError)
    actual = _outcome(lambda: compiled.decode_message(Message, data, None), DecodeError)
    _assert_same_outcome(expected, actual)


def test_decode_message_copies_a_large_data_body_once_when_it_decodes(
    impl: SimpleNamespace,
) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    data = Message(body=payload).encode()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        decoded = impl.decode_message(Message, data, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert type(decoded.body) is bytes and decoded.body == payload
    # One copy (into the body's bytes) and small change; a second copy would double it.
    assert peak < len(payload) + 64 * 1024, peak


# --- agreement: frame scanning ----------------------------------------------------------------


@st.composite
def _frame_streams(draw: st.DrawFn) -> bytes:
    out = bytearray()
    for _ in range(draw(st.integers(0, 4))):
        extended = draw(st.binary(max_size=8))
        pad = (-len(extended)) % 4
        body = draw(st.binary(max_size=40))
        doff = 2 + (len(extended) + pad) // 4
        size = 8 + len(extended) + pad + len(body)
        out += struct.pack(">IBBH", size, doff, draw(st.integers(0, 1)), draw(st.integers(0, 65535)))
        out += extended + bytes(pad) + body
    return bytes(out)


_frame_bytes = st.one_of(_frame_streams(), _mutated(_frame_streams()), st.binary(max_size=40))


@_SETTINGS
@given(
    data=_frame_bytes,
    pos=st.integers(0, 12),
    max_frame_size=st.one_of(
        st.integers(0, 80), st.sampled_from([512, 2**32 - 1, 2**32, 2**70, -1])
    ),
    limit=st.integers(-2, 4),
    container=st.sampled_from([bytes, bytearray, memoryview]),
)
def test_scan_frames_gives_the_same_frames_or_error_when_streams_are_arbitrary(
    compiled: SimpleNamespace,
    data: bytes,
    pos: int,
    max_frame_size: int,
    limit: int,
    container: Callable[[bytes], Any],
) -> None:
    buf = container(data)
    expected = _outcome(lambda: PURE.scan_frames(buf, pos, max_frame_size, limit), FramingError)
    actual = _outcome(lambda: compiled.scan_frames(buf, pos, max_frame_size, limit), FramingError)
    assert actual == expected


# --- invariants, once per implementation ------------------------------------------------------


@_SETTINGS
@given(value=any_value(max_depth=3, max_size=5))
def test_decode_value_gives_back_the_encoded_value_when_each_implementation_round_trips(
    impl: SimpleNamespace, value: Any
) -> None:
    out = bytearray()
    impl.encode_value(out, value)
    decoded, pos = impl.decode_value(memoryview(bytes(out)), 0, DEFAULT_LIMITS)
    assert pos == len(out)
    assert _same(decoded, value), (decoded, value)


@_SETTINGS
@given(data=_hostile_bytes, limits=_limits)
def test_decode_value_gives_a_value_or_a_decode_error_when_bytes_are_arbitrary(
    impl: SimpleNamespace, data: bytes, limits: Limits
) -> None:
    buf = memoryview(data)
    for call in (
        lambda: impl.decode_value(buf, 0, limits),
        lambda: impl.decode_described_list(buf, 0, limits),
        lambda: impl.split_sections(buf, limits),
    ):
        try:
            call()
        except DecodeError as exc:
            assert exc.condition == "amqp:decode-error"


@_SETTINGS
@given(message=messages())
def test_split_sections_covers_every_byte_when_the_message_is_valid(
    impl: SimpleNamespace, message: Any
) -> None:
    data = message.encode()
    sections = impl.split_sections(memoryview(data), DEFAULT_LIMITS)
    starts = [start for _, start, _ in sections]
    ends = [end for _, _, end in sections]
    assert starts == [0, *ends[:-1]][: len(starts)]
    assert (ends[-1] if ends else 0) == len(data)


@_SETTINGS
@given(data=_frame_streams())
def test_scan_frames_finds_every_frame_when_the_stream_is_whole(
    impl: SimpleNamespace, data: bytes
) -> None:
    frames = impl.scan_frames(bytearray(data), 0, 2**32 - 1)
    assert sum(size for _, size, _, _, _ in frames) == len(data)


def test_nesting_ends_in_an_error_not_a_crash_when_the_recursion_limit_is_raised(
    impl: SimpleNamespace,
) -> None:
    # Compiled recursion uses the thread's C stack, which a raised limit does not grow; it must
    # still end in the codec's own errors.
    levels = 50_000
    data = bytearray()
    for i in range(levels):
        data += b"\xd0" + struct.pack(">II", 9 * (levels - i - 1) + 4 + 1, 1)
    data += b"\x40"
    looped: list[Any] = [1]
    looped.append(looped)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)
    try:
        with pytest.raises(EncodeError, match="nests too deeply to encode"):
            impl.encode_value(bytearray(), looped)
        try:
            impl.decode_value(memoryview(bytes(data)), 0, Limits(max_depth=10**9))
        except DecodeError as exc:
            assert "nests deeper than the Python stack allows" in str(exc)
    finally:
        sys.setrecursionlimit(old)
