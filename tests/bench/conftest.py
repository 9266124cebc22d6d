"""Benchmarks that are plain tests unless timing is asked for.

``pytest tests/bench --benchmark-only`` (or ``--benchmark-enable``) times every workload with
pytest-benchmark, grouped so that each table shows the pure and compiled codec side by side
with their ratio. In any other run (the suite, ``--benchmark-disable``) each workload runs
once and its result is checked, so the suite stays fast and still proves the workloads right.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

import pytest

from amqp10.codec import _pure_decode, _pure_encode
from amqp10.codec import message as _pure_message
from support.speedups import compiled


@pytest.fixture
def measure(benchmark: Any, request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``measure(fn, *args)``: ``fn(*args)``, timed only when timing was asked for."""
    option = request.config.getoption
    if not (option("benchmark_only") or option("benchmark_enable")):
        benchmark.disabled = True  # one plain call, no statistics
    return benchmark  # type: ignore[no-any-return]


@pytest.fixture(params=["pure", "cython"])
def impl(request: pytest.FixtureRequest) -> SimpleNamespace:
    """The pure or the compiled hot functions, imported directly (whatever IMPL chose)."""
    if request.param == "pure":
        return SimpleNamespace(
            name="pure",
            encode_value=_pure_encode.encode_value,
            decode_value=_pure_decode.decode_value,
            decode_message=_pure_message.decode_message,
        )
    codec, _ = compiled()
    return SimpleNamespace(
        name="cython",
        encode_value=codec.encode_value,
        decode_value=codec.decode_value,
        decode_message=codec.decode_message,
    )
