"""Side-by-side codec benchmark: amqp10 (pure and Cython), python-qpid-proton, Azure SDK _pyamqp.

Usage::

    python bench/codec_compare.py [--seconds 0.2] [--rounds 7]

One run times every stack on the same workloads (issue 3 point 8), each encode and decode:

- *small message*: properties with ids and addresses, five application properties and a
  ~100-byte string body;
- *1000 mixed values*: one list of longs, strings, doubles, booleans, nulls, binaries, uuids
  and small maps;
- *1 MiB body*: one data section of 1 MiB.

and prints ops/s and each amqp10 path's ratio to each peer, then checks that the 1 MiB body is
copied at most once each way (tracemalloc peak during the call).

How each stack is driven (each decodes the bytes it encoded itself):

- amqp10 pure / cython: both implementations are imported explicitly
  (``amqp10.codec._pure_*`` and ``amqp10._speedups._codec``). Values go through their own
  ``encode_value`` / ``decode_value``; messages through ``Message.encode`` / ``Message.decode``
  with ``amqp10.codec.message``'s hot-function bindings pointed at the one being timed (the
  very bindings ``AMQP10_PURE`` chooses between at import).
- python-qpid-proton: ``proton.Message.encode`` / ``.decode`` (``inferred=True`` for the binary
  body, so it is a data section) and ``proton.Data`` for the list.
- Azure SDK (``azure.servicebus._pyamqp``, pure Python): ``_encode.encode_payload`` /
  ``_decode.decode_payload`` for messages, ``_encode.encode_value`` and the decoder's own
  constructor table for the list. It does not decode strings (they stay UTF-8 bytes) and
  encodes Python ints as AMQP int, so it does less work than the others on the same input.

Timing: for every (workload, direction) all stacks are timed in interleaved rounds and the
best round of each is kept, so a busy machine slows all of them alike.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import timeit
import tracemalloc
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import amqp10.codec as codec
from amqp10.codec import DEFAULT_LIMITS, Message, Properties, Symbol, Timestamp
from amqp10.codec import _pure_decode, _pure_encode
from amqp10.codec import message as message_module

try:
    from amqp10._speedups import _codec as compiled
except ImportError:  # pragma: no cover - reported in the output
    compiled = None  # type: ignore[assignment]

try:
    import proton
except ImportError:  # pragma: no cover
    proton = None  # type: ignore[assignment]

try:
    from azure.servicebus._pyamqp import _decode as az_decode
    from azure.servicebus._pyamqp import _encode as az_encode
    from azure.servicebus._pyamqp import message as az_message
except ImportError:  # pragma: no cover
    az_decode = az_encode = az_message = None  # type: ignore[assignment]

BODY_TEXT = "The quick brown fox jumps over the lazy dog; " * 2 + "0123456789"
APP_PROPERTIES = {
    "customer": "ACME",
    "priority": 5,
    "express": True,
    "amount": 129.95,
    "region": "eu-west",
}
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
CREATION_MS = 1_700_000_000_000


def mixed_values() -> list[Any]:
    """1000 values cycling through eight types every stack can express."""
    kinds: list[Callable[[int], Any]] = [
        lambda i: i,
        lambda i: f"value-{i}",
        lambda i: i * 0.5,
        lambda i: i % 2 == 0,
        lambda i: None,
        lambda i: b"bytes-%d" % i,
        lambda i: uuid.UUID(int=i),
        lambda i: {"k": i},
    ]
    return [kinds[i % 8](i) for i in range(1000)]


VALUES = mixed_values()


# --- amqp10 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amqp10Impl:
    name: str
    encode_value: Callable[[bytearray, Any], None]
    decode_value: Callable[..., tuple[Any, int]]
    encode_described_list: Callable[..., None]
    decode_message: Callable[..., Any]


PURE = Amqp10Impl(
    "amqp10 pure",
    _pure_encode.encode_value,
    _pure_decode.decode_value,
    _pure_encode.encode_described_list,
    message_module.decode_message,
)
CYTHON = (
    Amqp10Impl(
        "amqp10 cython",
        compiled.encode_value,
        compiled.decode_value,
        compiled.encode_described_list,
        compiled.decode_message,
    )
    if compiled is not None
    else None
)


@contextlib.contextmanager
def bound_to(impl: Amqp10Impl) -> Iterator[None]:
    """Point amqp10.codec.message's hot-function bindings at ``impl`` for a while."""
    # (The pure decode_message calls the pure decoder itself: no value binding to switch.)
    names = ("_encode_value", "_encode_described_list", "_decode_message")
    saved = {n: getattr(message_module, n) for n in names}
    message_module._encode_value = impl.encode_value
    message_module._encode_described_list = impl.encode_described_list
    message_module._decode_message = impl.decode_message
    try:
        yield
    finally:
        for n, v in saved.items():
            setattr(message_module, n, v)


def amqp10_small() -> Message:
    return Message(
        body=BODY_TEXT,
        properties=Properties(
            message_id="msg-000123",
            to="queue://orders",
            reply_to="queue://replies",
            correlation_id="corr-000042",
            subject="order.created",
            content_type=Symbol("text/plain"),
            creation_time=Timestamp(CREATION_MS),
        ),
        application_properties=dict(APP_PROPERTIES),
    )


def amqp10_ops(impl: Amqp10Impl) -> dict[tuple[str, str], Callable[[], Any]]:
    small = amqp10_small()
    big = Message(body=PAYLOAD)
    with bound_to(impl):
        small_bytes = small.encode()
        big_bytes = big.encode()
    list_out = bytearray()
    impl.encode_value(list_out, VALUES)
    list_view = memoryview(bytes(list_out))

    def encode_list() -> bytearray:
        out = bytearray()
        impl.encode_value(out, VALUES)
        return out

    return {
        ("small message", "encode"): small.encode,
        ("small message", "decode"): lambda: Message.decode(small_bytes),
        ("1000 mixed values", "encode"): encode_list,
        ("1000 mixed values", "decode"): lambda: impl.decode_value(list_view, 0, DEFAULT_LIMITS),
        ("1 MiB body", "encode"): big.encode,
        ("1 MiB body", "decode"): lambda: Message.decode(big_bytes),
    }


# --- python-qpid-proton ------------------------------------------------------------------------


def proton_ops() -> dict[tuple[str, str], Callable[[], Any]]:
    small = proton.Message(
        body=BODY_TEXT,
        id="msg-000123",
        address="queue://orders",
        reply_to="queue://replies",
        correlation_id="corr-000042",
        subject="order.created",
        content_type="text/plain",
        creation_time=CREATION_MS / 1000.0,
        properties=dict(APP_PROPERTIES),
    )
    small_bytes = small.encode()
    big = proton.Message(body=PAYLOAD, inferred=True)
    big_bytes = big.encode()
    data = proton.Data()
    data.put_object(VALUES)
    list_bytes = data.encode()

    def decode_message(raw: bytes) -> Callable[[], Any]:
        def run() -> Any:
            m = proton.Message()
            m.decode(raw)
            return m

        return run

    def encode_list() -> bytes:
        d = proton.Data()
        d.put_object(VALUES)
        return d.encode()  # type: ignore[no-any-return]

    def decode_list() -> Any:
        d = proton.Data()
        d.decode(list_bytes)
        d.rewind()
        d.next()
        return d.get_object()

    return {
        ("small message", "encode"): small.encode,
        ("small message", "decode"): decode_message(small_bytes),
        ("1000 mixed values", "encode"): encode_list,
        ("1000 mixed values", "decode"): decode_list,
        ("1 MiB body", "encode"): big.encode,
        ("1 MiB body", "decode"): decode_message(big_bytes),
    }


# --- Azure SDK's pure-Python codec -------------------------------------------------------------


def azure_ops() -> dict[tuple[str, str], Callable[[], Any]]:
    small = az_message.Message(
        properties=az_message.Properties(
            message_id="msg-000123",
            to="queue://orders",
            reply_to="queue://replies",
            correlation_id="corr-000042",
            subject="order.created",
            content_type="text/plain",
            creation_time=CREATION_MS,
        ),
        application_properties=dict(APP_PROPERTIES),
        value=BODY_TEXT,
    )
    big = az_message.Message(data=[PAYLOAD])

    def encode_message(m: Any) -> Callable[[], Any]:
        def run() -> Any:
            out = bytearray()
            az_encode.encode_payload(out, m)
            return out

        return run

    small_bytes = bytes(encode_message(small)())
    big_bytes = bytes(encode_message(big)())
    list_out = bytearray()
    az_encode.encode_value(list_out, VALUES)
    list_view = memoryview(bytes(list_out))
    table = az_decode._DECODE_BY_CONSTRUCTOR

    def encode_list() -> bytearray:
        out = bytearray()
        az_encode.encode_value(out, VALUES)
        return out

    return {
        ("small message", "encode"): encode_message(small),
        ("small message", "decode"): lambda: az_decode.decode_payload(memoryview(small_bytes)),
        ("1000 mixed values", "encode"): encode_list,
        ("1000 mixed values", "decode"): lambda: table[list_view[0]](list_view[1:]),
        ("1 MiB body", "encode"): encode_message(big),
        ("1 MiB body", "decode"): lambda: az_decode.decode_payload(memoryview(big_bytes)),
    }


# --- timing ------------------------------------------------------------------------------------


def context_of(stack: str) -> contextlib.AbstractContextManager[None]:
    """What must hold while ``stack``'s operations run: the amqp10 bindings, set once per
    timed batch (never per call, which would time the switch too)."""
    if stack == "amqp10 pure":
        return bound_to(PURE)
    if stack == "amqp10 cython" and CYTHON is not None:
        return bound_to(CYTHON)
    return contextlib.nullcontext()


def best_ops_per_second(
    candidates: dict[str, Callable[[], Any]], seconds: float, rounds: int
) -> dict[str, float]:
    """Ops/s of each candidate: the best of ``rounds`` interleaved rounds of ~``seconds``."""
    numbers = {}
    for name, fn in candidates.items():
        with context_of(name):
            fn()  # warm up (and fail early)
            number, took = timeit.Timer(fn).autorange()
        numbers[name] = max(1, int(number * seconds / max(took, 1e-9) / 5))
    best = {name: 0.0 for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            with context_of(name):
                took = timeit.Timer(fn).timeit(numbers[name])
            best[name] = max(best[name], numbers[name] / took)
    return best


def peak_bytes(stack: str, fn: Callable[[], Any]) -> int:
    """Peak traced allocation during one call of ``fn``."""
    with context_of(stack):
        fn()
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            result = fn()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    del result
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="time per round and stack")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (best kept)")
    args = parser.parse_args()

    stacks: dict[str, dict[tuple[str, str], Callable[[], Any]]] = {"amqp10 pure": amqp10_ops(PURE)}
    missing = []
    if CYTHON is not None:
        stacks["amqp10 cython"] = amqp10_ops(CYTHON)
    else:
        missing.append("amqp10 cython (not built: pip install -e . with Cython and a compiler)")
    if proton is not None:
        stacks["proton"] = proton_ops()
    else:
        missing.append("python-qpid-proton (pip install python-qpid-proton)")
    if az_encode is not None:
        stacks["azure _pyamqp"] = azure_ops()
    else:
        missing.append("Azure SDK (pip install azure-servicebus)")

    print(f"python {sys.version.split()[0]}; amqp10.codec.IMPL = {codec.IMPL!r}; "
          f"{args.rounds} interleaved rounds of ~{args.seconds}s, best kept")
    for line in missing:
        print(f"  not measured: {line}")
    peers = [p for p in ("proton", "azure _pyamqp") if p in stacks]
    ours = [s for s in ("amqp10 pure", "amqp10 cython") if s in stacks]
    results: dict[tuple[str, str], dict[str, float]] = {}
    header = f"{'workload':<30} {'stack':<15} {'ops/s':>12}" + "".join(
        f" {'x ' + p:>16}" for p in peers
    )
    print()
    print(header)
    print("-" * len(header))
    for key in next(iter(stacks.values())):
        ops = best_ops_per_second({s: stacks[s][key] for s in stacks}, args.seconds, args.rounds)
        results[key] = ops
        label = f"{key[0]} {key[1]}"
        for stack in stacks:
            ratios = "".join(
                f" {ops[stack] / ops[p]:>15.2f}x" if stack in ours else f" {'':>16}" for p in peers
            )
            print(f"{label:<30} {stack:<15} {ops[stack]:>12,.0f}{ratios}")
            label = ""
        print()

    print("Targets (issue 3 point 8):")

    def target(text: str, ok: bool) -> None:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")

    if "amqp10 cython" in stacks and "proton" in stacks:
        for direction in ("decode", "encode"):
            r = results[("small message", direction)]
            ratio = r["amqp10 cython"] / r["proton"]
            target(f"cython small-message {direction} >= 5x proton: {ratio:.2f}x", ratio >= 5)
    if "azure _pyamqp" in stacks:
        r = results[("small message", "decode")]
        ratio = r["amqp10 pure"] / r["azure _pyamqp"]
        target(f"pure small-message decode >= 1x azure: {ratio:.2f}x", ratio >= 1)
        r = results[("small message", "encode")]
        ratio = r["amqp10 pure"] / r["azure _pyamqp"]
        target(f"pure small-message encode >= 2x azure: {ratio:.2f}x", ratio >= 2)

    print()
    print(f"1 MiB body copies (tracemalloc peak during one call / {len(PAYLOAD):,} bytes):")
    for stack in ours:
        for direction in ("encode", "decode"):
            peak = peak_bytes(stack, stacks[stack][("1 MiB body", direction)])
            copies = peak / len(PAYLOAD)
            target(f"{stack:<14} {direction}: peak {peak:>9,} bytes = {copies:.2f} body sizes "
                   "(at most one copy)", copies < 1.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
