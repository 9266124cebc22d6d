"""Type stub for the compiled ``amqp10._speedups._codec`` (built from ``_codec.pyx``).

The signatures are those of the pure-Python twins in ``amqp10.codec._pure_decode``,
``amqp10.codec._pure_encode`` and ``amqp10.codec.message``, which this module mirrors one for one.
"""

from typing import Any

from amqp10.codec.limits import Limits
from amqp10.codec.message import Message

def decode_value(
    buf: memoryview, pos: int, limits: Limits, depth: int = 0
) -> tuple[Any, int]: ...
def decode_described_list(
    buf: memoryview, pos: int, limits: Limits
) -> tuple[Any, list[Any], int]: ...
def split_sections(buf: memoryview, limits: Limits = ...) -> list[tuple[Any, int, int]]: ...
def encode_value(out: bytearray, value: Any) -> None: ...
def encode_described_list(out: bytearray, code: int, fields: list[Any]) -> None: ...
def decode_message(
    cls: type[Message], data: bytes | bytearray | memoryview, limits: Limits | None
) -> Message: ...
