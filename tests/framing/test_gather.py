"""``Gather`` and ``take_slice`` (amqp10/framing/gather.py and its compiled twin): the bytes
come out as they went in, and a buffer anyone else can see is never changed.

``take_slice`` hands over a buffer nobody else refers to, on both paths (the pure one through
``io.BytesIO``), wherever the interpreter counts references (CPython); elsewhere it never
does. Either way the bytes a caller ends up with are the same.
"""

from __future__ import annotations

import gc
import sys

import pytest

from amqp10.framing.gather import Gather, take_slice

#: where ``take_slice`` can tell that nothing else refers to a buffer
_CAN_TAKE = sys.implementation.name == "cpython"


def _gathered(chunks: list[bytes]) -> memoryview:
    gather = Gather()
    for chunk in chunks:
        gather.append(chunk)
    assert len(gather) == sum(map(len, chunks))
    return gather.finish()


@pytest.mark.parametrize("sizes", [[], [0], [1], [5, 0, 7], [70_000] * 5, [1, 1 << 20, 3]])
def test_Gather_gives_back_every_byte_in_order_as_a_read_only_view(sizes: list[int]) -> None:
    chunks = [bytes((i + n) % 256 for i in range(n)) for n in sizes]
    view = _gathered(chunks)
    assert view.readonly
    assert view == b"".join(chunks)
    with pytest.raises(TypeError):
        view[:1] = b"x"  # type: ignore[index]


def test_Gather_takes_any_bytes_like_chunk() -> None:
    view = _gathered([b"ab", bytearray(b"cd"), memoryview(b"xefx")[1:3]])  # type: ignore[list-item]
    assert view == b"abcdef"


def test_take_slice_gives_the_slice_of_a_buffer_nobody_else_holds() -> None:
    data = b"".join(bytes([i % 256]) * 1000 for i in range(300))
    view = _gathered([data[:100_000], data[100_000:]])
    obj = view.obj
    view.release()
    holder = [obj]
    del obj
    taken, got = take_slice(holder, 7, len(data) - 11)
    assert holder == []
    assert taken is _CAN_TAKE
    body = got if taken else bytes(got[7:-11])  # not taken: the buffer, unchanged
    assert body == data[7:-11]
    assert type(body) is bytes
    assert hash(body) == hash(data[7:-11])


def test_take_slice_never_changes_a_buffer_someone_else_holds() -> None:
    data = bytes(range(256)) * 400
    view = _gathered([data[:5000], data[5000:]])
    kept = view.obj
    other = view[10:20]  # a slice of the view keeps the buffer too
    obj = view.obj
    view.release()
    holder = [obj]
    del obj
    taken, same = take_slice(holder, 3, 9)
    assert not taken
    assert same is kept
    assert kept == data
    assert other == data[10:20]


def test_take_slice_keeps_a_hash_computed_before_from_going_stale() -> None:
    view = _gathered([b"xyz" * 500, b"abc" * 500])
    obj = view.obj
    view.release()
    hash(obj)  # caches it in the object
    holder = [obj]
    del obj
    gc.collect()
    taken, got = take_slice(holder, 1500, 1506)
    body = got if taken else bytes(got[1500:1506])
    assert body == b"abcabc"
    assert hash(body) == hash(b"abcabc")


def test_take_slice_refuses_a_range_outside_the_buffer() -> None:
    view = _gathered([b"a" * 100, b"b" * 100])
    obj = view.obj
    view.release()
    holder = [obj]
    del obj
    taken, same = take_slice(holder, 150, 300)
    assert not taken
    assert same == b"a" * 100 + b"b" * 100
