#!/usr/bin/env python3
"""Fuzz the message decoder: any bytes give a ``Message`` or a ``DecodeError``, nothing else, and
a decoded message re-encodes to bytes that decode to the same message.

Run: ``python fuzz/fuzz_decode_message.py -atheris_runs=100000 fuzz/corpus/decode_message`` or
``python fuzz/fuzz_decode_message.py -max_total_time=3600 fuzz/corpus/decode_message``. It fuzzes
whichever codec ``amqp10.codec`` picked (``AMQP10_PURE=1`` forces pure Python). Each input is
decoded with the default limits and with tight ones, so the limit paths are reached too.

The seeds in ``fuzz/corpus/decode_message`` are messages amqp10 encodes (every section, several
data sections, amqp-sequence bodies, null and binary amqp-values, symbolic descriptors) and
messages python-qpid-proton's ``Message.encode`` wrote (``proton-*``), whose 32-bit compound
encodings amqp10 never writes itself.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["amqp10"]):
    from amqp10.codec import DecodeError, Limits, Message

TIGHT = Limits(max_depth=6, max_count=64, max_binary_size=64, max_string_size=64, max_message_size=512)


def check_round_trip(message: Message) -> None:
    # Anything the decoder produced must encode (an EncodeError here is a bug, not bad input).
    wire = message.encode()
    again = Message.decode(wire)
    # Compared by their encodings: that is strict about types (a UInt and a ULong encode
    # differently) and, unlike ==, treats a decoded NaN as equal to itself.
    if again.encode() != wire:
        raise AssertionError(f"re-decoded message differs: {message!r} -> {wire.hex()} -> {again!r}")
    if type(again.body) is not type(message.body):
        raise AssertionError(f"body shape changed: {message.body!r} -> {again.body!r}")


def test_one_input(data: bytes) -> None:
    for limits in (None, TIGHT):
        try:
            message = Message.decode(data, limits)
        except DecodeError:
            continue
        check_round_trip(message)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
