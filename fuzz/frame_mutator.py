"""A structure-aware mutator for ``fuzz_frame_reader.py``: it edits frames, not just bytes.

Byte flips mostly turn a performative into a ``DecodeError``, which stops the engine at the
door. Half of the time this mutator instead cuts the stream into protocol headers and frames,
decodes a performative, sets one of its fields to an interesting value of a plausible AMQP
type (0, 1, 2**32-1, a wrapped serial number near the wrap, null, a wrong type, ...) and
re-frames it; or it duplicates, drops, swaps or re-channels whole frames, or flips the variant
byte. Everything stays well-formed, so the engine's state machines, windows, credit and
delivery bookkeeping see hostile *values*. The other half is libFuzzer's own byte mutation.
"""

from __future__ import annotations

import random
from typing import Any

import atheris

from amqp10.codec import DecodeError, EncodeError, decode_described_list, encode_described_list
from amqp10.codec.limits import DEFAULT_LIMITS
from amqp10.codec.types import Symbol, UByte, UInt, ULong, UShort

__all__ = ["mutate"]

_U32 = (1 << 32) - 1
_INTERESTING: list[Any] = [
    None, True, False,
    UInt(0), UInt(1), UInt(2), UInt(7), UInt(255), UInt(256), UInt(65535), UInt(65536),
    UInt((1 << 31) - 1), UInt(1 << 31), UInt(_U32 - 1), UInt(_U32),
    UShort(0), UShort(1), UShort(65535), UByte(0), UByte(1), UByte(2), UByte(255),
    ULong(0), ULong(_U32 + 1), ULong((1 << 64) - 1),
    0, -1, "x", b"", b"\x00" * 33, Symbol("amqp:internal-error"), Symbol("x"),
    [], [UInt(1)], {}, {Symbol("k"): "v"},
]


def _tokens(stream: bytes) -> list[bytes] | None:
    """Headers and frames, in order; ``None`` if the stream is not made of them."""
    out: list[bytes] = []
    pos = 0
    while pos < len(stream):
        if stream[pos : pos + 4] == b"AMQP" and len(stream) - pos >= 8:
            out.append(stream[pos : pos + 8])
            pos += 8
            continue
        if len(stream) - pos < 8:
            return None
        size = int.from_bytes(stream[pos : pos + 4], "big")
        if size < 8 or size > len(stream) - pos:
            return None
        out.append(stream[pos : pos + size])
        pos += size
    return out


def _is_frame(token: bytes) -> bool:
    return not token.startswith(b"AMQP") and len(token) > token[4] * 4 >= 8


def _set_field(token: bytes, rng: random.Random) -> bytes:
    doff = token[4]
    body = memoryview(token)[doff * 4 :]
    try:
        code, fields, end = decode_described_list(body, 0, DEFAULT_LIMITS)
    except DecodeError:
        return token
    fields = list(fields)
    index = rng.randrange(len(fields) + 2)
    value = rng.choice(_INTERESTING)
    if index < len(fields):
        fields[index] = value
    else:
        fields.append(value)
    out = bytearray(token[: doff * 4])
    try:
        encode_described_list(out, code, fields)
    except EncodeError:  # e.g. a descriptor we cannot re-encode: keep the frame
        return token
    out += body[end:]  # the payload of a TRANSFER
    out[0:4] = len(out).to_bytes(4, "big")
    return bytes(out)


def _rechannel(token: bytes, rng: random.Random) -> bytes:
    channel = rng.choice((0, 1, 2, 7, 8, 255, 65535))
    return token[:6] + channel.to_bytes(2, "big") + token[8:]


def _structural(prefix: bytes, tokens: list[bytes], rng: random.Random) -> tuple[bytes, list[bytes]]:
    frames = [i for i, t in enumerate(tokens) if _is_frame(t)]
    choice = rng.randrange(6)
    if choice == 0 and frames:
        i = rng.choice(frames)
        tokens[i] = _set_field(tokens[i], rng)
    elif choice == 1 and tokens:
        i = rng.randrange(len(tokens))
        tokens.insert(rng.randrange(len(tokens) + 1), tokens[i])
    elif choice == 2 and len(tokens) > 1:
        del tokens[rng.randrange(len(tokens))]
    elif choice == 3 and len(tokens) > 1:
        i, j = rng.randrange(len(tokens)), rng.randrange(len(tokens))
        tokens[i], tokens[j] = tokens[j], tokens[i]
    elif choice == 4 and frames:
        i = rng.choice(frames)
        tokens[i] = _rechannel(tokens[i], rng)
    else:
        prefix = bytes([rng.randrange(256)]) + prefix[1:]
    return prefix, tokens


def mutate(data: bytes, max_size: int, seed: int) -> bytes:
    """libFuzzer's custom mutator: a structural edit half of the time, bytes otherwise."""
    rng = random.Random(seed)
    if len(data) >= 2 and rng.random() < 0.5:
        head = 2 + data[1] % 16
        prefix, stream = data[:head], data[head:]
        tokens = _tokens(stream)
        if tokens:
            for _ in range(rng.randrange(1, 4)):
                prefix, tokens = _structural(prefix, tokens, rng)
            out = prefix + b"".join(tokens)
            if len(out) <= max_size:
                return out
    mutated: bytes = atheris.Mutate(data, max_size)
    return mutated

