"""pytest-benchmark: the codec's workloads on the pure and the compiled path (issue 3 point 8).

Run ``pytest tests/bench --benchmark-only`` for the tables (one group per workload, pure and
cython side by side); in the plain suite each workload runs once and its result is checked.
``bench/codec_compare.py`` times the same workloads against python-qpid-proton and the Azure
SDK's codec. Message encoding goes through ``Message.encode``, which uses the implementation
``amqp10.codec.IMPL`` chose; everything else names its implementation explicitly.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

import pytest

import amqp10.codec
from amqp10.codec import DEFAULT_LIMITS, encode
from amqp10.codec.message import Message
from support.strategies import same_value
from support.workloads import BODY_SIZE, binary_body, mixed_values, small_message

Measure = Callable[..., Any]


@pytest.mark.benchmark(group="small message encode")
def test_small_message_encodes_to_the_bytes_it_decodes_from(measure: Measure) -> None:
    message = small_message()
    measure.extra_info["impl"] = amqp10.codec.IMPL  # type: ignore[attr-defined]
    data = measure(message.encode)
    assert Message.decode(data) == message


@pytest.mark.benchmark(group="small message decode")
def test_small_message_decodes_to_the_message_encoded(
    measure: Measure, impl: SimpleNamespace
) -> None:
    message = small_message()
    data = message.encode()
    decoded = measure(impl.decode_message, Message, data, None)
    assert decoded == message


@pytest.mark.benchmark(group="1000 mixed values encode")
def test_mixed_values_encode_to_the_same_bytes_on_each_path(
    measure: Measure, impl: SimpleNamespace
) -> None:
    values = mixed_values()

    def run() -> bytearray:
        out = bytearray()
        impl.encode_value(out, values)
        return out

    assert bytes(measure(run)) == encode(values)


@pytest.mark.benchmark(group="1000 mixed values decode")
def test_mixed_values_decode_to_the_values_encoded(
    measure: Measure, impl: SimpleNamespace
) -> None:
    values = mixed_values()
    buf = memoryview(encode(values))
    decoded, pos = measure(impl.decode_value, buf, 0, DEFAULT_LIMITS)
    assert pos == len(buf) and same_value(decoded, values)


@pytest.mark.benchmark(group="1 MiB data body encode")
def test_binary_body_encodes_to_one_data_section(measure: Measure) -> None:
    message = binary_body()
    measure.extra_info["impl"] = amqp10.codec.IMPL  # type: ignore[attr-defined]
    data = measure(message.encode)
    assert len(data) == BODY_SIZE + 8 and data[8:] == message.body


@pytest.mark.benchmark(group="1 MiB data body decode")
def test_binary_body_decodes_to_the_same_bytes(measure: Measure, impl: SimpleNamespace) -> None:
    message = binary_body()
    data = message.encode()
    decoded = measure(impl.decode_message, Message, data, None)
    assert type(decoded.body) is bytes and decoded.body == message.body
