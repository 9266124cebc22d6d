#!/usr/bin/env python3
"""Fuzz the value decoder: any bytes give a value or a DecodeError, nothing else, and a value
re-encodes to bytes that decode back to the same value.

Run: ``python fuzz/fuzz_decode_value.py -atheris_runs=100000 fuzz/corpus/decode_value`` or
``python fuzz/fuzz_decode_value.py -max_total_time=3600 fuzz/corpus/decode_value``. It fuzzes
whichever codec ``amqp10.codec`` picked (``AMQP10_PURE=1`` forces pure Python). Each input goes
through every hot decoding entry point (``decode``, ``decode_prefix``, ``decode_described_list``,
``split_sections``), with the default limits and with tight ones, so limit paths are reached too.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import atheris

with atheris.instrument_imports(include=["amqp10"]):
    from amqp10.codec import (
        Array,
        DecodeError,
        Described,
        Limits,
        decode,
        decode_described_list,
        decode_prefix,
        encode,
        split_sections,
    )

TIGHT = Limits(max_depth=6, max_count=64, max_binary_size=64, max_string_size=64, max_message_size=512)


def same(a: Any, b: Any) -> bool:
    """Same AMQP value: same types throughout, NaN equal to NaN (``==`` says neither)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, Array) and not (a.element_type is b.element_type and same(a.descriptor, b.descriptor)):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same(ka, kb) and same(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items())
        )
    if isinstance(a, Described):
        return same(a.descriptor, b.descriptor) and same(a.value, b.value)
    return bool(a == b)


def check_round_trip(value: Any) -> None:
    encoded = encode(value)  # anything the decoder produced must be encodable
    again = decode(encoded)
    if not same(again, value):
        raise AssertionError(f"re-decoded value differs: {value!r} -> {encoded.hex()} -> {again!r}")
    if encode(again) != encoded:
        raise AssertionError(f"re-encoding is not stable for {value!r}")


def test_one_input(data: bytes) -> None:
    buf = memoryview(data)
    for limits in (None, TIGHT):
        try:
            value, consumed = decode_prefix(data, limits)
        except DecodeError:
            pass
        else:
            if not 0 < consumed <= len(data):
                raise AssertionError(f"decode_prefix consumed {consumed} of {len(data)} bytes")
            check_round_trip(value)
        try:
            decode(data, limits)
        except DecodeError:
            pass
        try:
            decode_described_list(buf, 0, limits or Limits())
        except DecodeError:
            pass
        try:
            sections = split_sections(buf, limits or Limits())
        except DecodeError:
            pass
        else:
            pos = 0
            for _, start, end in sections:
                if start != pos or not start < end <= len(data):
                    raise AssertionError(f"split_sections ranges do not tile the input: {sections}")
                pos = end
            if pos != len(data):
                raise AssertionError("split_sections left bytes unaccounted for")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
