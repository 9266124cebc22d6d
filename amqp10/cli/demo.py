"""``amqp10 demo``: the embedded peer on a free loopback port, and five things to do with it.

Owns: a short, self-checking tour over real sockets with the blocking API: a request/reply
call (dynamic reply-to, correlation-id), a one-way cast, a fanout to three subscribers of a
topic, competing consumers on one queue, and a bulk send/receive with its rate. Each step
prints what was received; any failure ends the demo with exit status 1. Must never: take more
than a few seconds or touch anything but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any, Callable

__all__ = ["configure", "run"]

HELP = "start the embedded peer and show request/reply, cast, fanout, competing consumers"

#: seconds any one wait in the demo may take before it counts as a failure
_WAIT = 10.0


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` arguments."""
    parser.description = (
        "Start the embedded peer in this process on a free 127.0.0.1 port and, over real "
        "sockets: call a service (request/reply with a dynamic reply-to), send a one-way "
        "message, fan out to three subscribers of a topic, share a queue among competing "
        "consumers, and measure messages per second."
    )
    parser.add_argument("--bulk", type=int, default=5000, metavar="N", help="messages in the bulk step (default 5000)")


class DemoFailed(Exception):
    """A step did not see what it should have."""


def run(args: argparse.Namespace) -> int:
    """Run the tour; 0 when every step saw what it should."""
    import amqp10

    from ..peer.server import start

    started = time.monotonic()
    try:
        with start("127.0.0.1", 0) as peer:
            print(f"amqp10 demo: embedded peer listening on {peer.url} (real loopback sockets)")
            print(f"  codec: {amqp10.codec.IMPL}")
            with amqp10.connect(peer.url, timeout=_WAIT) as conn:
                _request_reply(amqp10, peer.url, conn)
                _cast(amqp10, conn)
                _fanout(amqp10, conn)
                _competing_consumers(amqp10, peer.url, conn)
                _bulk(amqp10, peer.url, conn, max(1, args.bulk))
    except (DemoFailed, amqp10.AMQPError, OSError) as exc:
        print(f"amqp10 demo: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"amqp10 demo: all steps passed in {time.monotonic() - started:.1f} s")
    return 0


def _step(title: str) -> None:
    print()
    print(title, flush=True)


def _service(amqp10: Any, url: str, address: str, answer: Callable[[Any], Any], ready: threading.Event, stop: threading.Event) -> None:
    """A small request/reply service: answers each request on ``address`` to its reply-to,
    with the request's message-id as correlation-id, through an anonymous-relay sender."""
    with amqp10.connect(url, timeout=_WAIT) as conn:
        requests = conn.open_receiver(address, credit=10)
        replies = conn.open_sender(None)  # the anonymous relay: each reply says where it goes
        ready.set()
        while not stop.is_set():
            try:
                delivery = requests.receive(timeout=0.1)
            except amqp10.Timeout:
                continue
            request = delivery.message
            props = request.properties
            replies.send(
                amqp10.Message(
                    answer(request.body),
                    properties=amqp10.Properties(to=props.reply_to, correlation_id=props.message_id),
                )
            )
            delivery.accept()


def _request_reply(amqp10: Any, url: str, conn: Any) -> None:
    _step("1. request/reply: a service on 'rpc.upper'; the caller gets a dynamic reply-to address")
    ready, stop = threading.Event(), threading.Event()
    service = threading.Thread(
        target=_service, args=(amqp10, url, "rpc.upper", lambda body: str(body).upper(), ready, stop), daemon=True
    )
    service.start()
    try:
        if not ready.wait(_WAIT):
            raise DemoFailed("the service did not start")
        with conn.open_requester("rpc.upper") as requester:
            began = time.monotonic()
            reply = requester.request(amqp10.Message("hello, amqp"), timeout=_WAIT)
            took = (time.monotonic() - began) * 1000
            reply_to = requester.receiver.address
        if reply.body != "HELLO, AMQP":
            raise DemoFailed(f"unexpected reply {reply.body!r}")
        print(f"   request 'hello, amqp' -> reply {reply.body!r} in {took:.1f} ms")
        print(f"   reply-to {reply_to!r} (made by the peer), correlation-id {reply.properties.correlation_id}")
    finally:
        stop.set()
        service.join(_WAIT)


def _cast(amqp10: Any, conn: Any) -> None:
    _step("2. one-way cast: fire-and-forget (at-most-once) to queue 'audit'")
    with conn.open_receiver("audit", credit=10) as auditor:
        with conn.open_sender("audit", settle_mode="at-most-once") as sender:
            sender.send(amqp10.Message("user 42 logged in", application_properties={"level": "info"}))
        delivery = auditor.receive(timeout=_WAIT)
        message = delivery.message
        delivery.accept()
    print(f"   the audit consumer received {message.body!r} (level={message.application_properties['level']})")


def _fanout(amqp10: Any, conn: Any) -> None:
    _step("3. fanout: three subscribers of 'topic://news' each get every message")
    headlines = ["markets up", "rain tomorrow", "team wins"]
    subscribers = [conn.open_receiver("topic://news", credit=10) for _ in range(3)]
    with conn.open_sender("topic://news") as publisher:
        for headline in headlines:
            publisher.send(amqp10.Message(headline))
    for number, subscriber in enumerate(subscribers, 1):
        got = []
        for _ in headlines:
            delivery = subscriber.receive(timeout=_WAIT)
            got.append(delivery.message.body)
            delivery.accept()
        subscriber.close()
        if got != headlines:
            raise DemoFailed(f"subscriber {number} got {got!r}")
        print(f"   subscriber {number} received {got}")


def _competing_consumers(amqp10: Any, url: str, conn: Any) -> None:
    jobs = 60
    speeds = {"worker A": 0.001, "worker B": 0.002, "worker C": 0.004}
    _step(f"4. competing consumers: {jobs} jobs on queue 'work', three workers of different speeds")
    counts = {name: 0 for name in speeds}
    done = threading.Event()
    lock = threading.Lock()
    ready = threading.Barrier(len(speeds) + 1, timeout=_WAIT)
    failures: list[BaseException] = []

    def work(name: str, seconds: float) -> None:
        try:
            with amqp10.connect(url, timeout=_WAIT) as own:
                # Prefetch 1: a busy worker holds one job, so the idle ones take the rest.
                receiver = own.open_receiver("work", credit=1)
                ready.wait()
                while not done.is_set():
                    try:
                        delivery = receiver.receive(timeout=0.05)
                    except amqp10.Timeout:
                        continue
                    time.sleep(seconds)  # the "work"
                    delivery.accept()
                    with lock:
                        counts[name] += 1
                        if sum(counts.values()) == jobs:
                            done.set()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            done.set()

    workers = [threading.Thread(target=work, args=item, daemon=True) for item in speeds.items()]
    for worker in workers:
        worker.start()
    ready.wait()
    with conn.open_sender("work") as sender:
        for job in range(jobs):
            sender.send(amqp10.Message({"job": job}))
    finished = done.wait(_WAIT)
    for worker in workers:
        worker.join(_WAIT)
    if failures:
        raise failures[0]
    if not finished or sum(counts.values()) != jobs:
        raise DemoFailed(f"the workers took {sum(counts.values())} of {jobs} jobs")
    for name, seconds in speeds.items():
        print(f"   {name} ({seconds * 1000:.0f} ms per job) took {counts[name]} jobs")
    print(f"   each job went to exactly one worker: {sum(counts.values())} of {jobs}")


def _bulk(amqp10: Any, url: str, conn: Any, count: int) -> None:
    threads = 8
    _step(
        f"5. bulk: {count} messages through queue 'bulk', at-least-once (each one accepted), "
        f"sent by {threads} threads sharing one connection"
    )
    received = 0
    failure: list[BaseException] = []

    def consume() -> None:
        nonlocal received
        try:
            with amqp10.connect(url, timeout=_WAIT) as own:
                receiver = own.open_receiver("bulk", credit=500)
                attached.set()
                while received < count:
                    delivery = receiver.receive(timeout=_WAIT)
                    delivery.accept()
                    received += 1
        except BaseException as exc:
            failure.append(exc)
            attached.set()

    attached = threading.Event()
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    attached.wait(_WAIT)
    payload = amqp10.Message(b"x" * 100)
    shares = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    began = time.monotonic()
    with conn.open_sender("bulk") as sender:

        def produce(share: int) -> None:
            # Each send waits for its outcome; several threads keep many in flight at once.
            try:
                for _ in range(share):
                    outcome = sender.send(payload, timeout=_WAIT)
                    if not isinstance(outcome, amqp10.Accepted):
                        raise DemoFailed(f"a bulk message was not accepted: {outcome!r}")
            except BaseException as exc:
                failure.append(exc)

        producers = [threading.Thread(target=produce, args=(share,), daemon=True) for share in shares]
        for producer in producers:
            producer.start()
        for producer in producers:
            producer.join(_WAIT * 3)
    consumer.join(_WAIT * 3)
    elapsed = time.monotonic() - began
    if failure:
        raise failure[0]
    if received != count:
        raise DemoFailed(f"received {received} of {count}")
    print(f"   sent and received {count} messages of 100 bytes in {elapsed:.2f} s: {count / elapsed:.0f} messages per second")
