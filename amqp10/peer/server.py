"""Run the embedded broker on real sockets: the blocking listener, trio or asyncio ``serve``.

Owns: wiring a ``Broker`` to ``amqp10.listen`` (``start``: in the background, returns at once),
to ``amqp10.trio.serve`` (``serve_trio``: runs until cancelled) or to ``amqp10.asyncio.serve``
(``serve_asyncio``: runs until cancelled), with the options the peer
needs (ANONYMOUS-RELAY offered, anonymous SASL allowed), and ``run``, the foreground loop of
``amqp10 serve``, which owns its process and so also decides when to take the long-held heap
out of the garbage collector's view (``GcFreeze``). Uses only the public adapter API. Must
never: implement protocol behaviour (``broker.py`` does).
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from typing import Any, Callable, Collection, Literal, TypeVar

from .._handler import Handler
from .broker import ANONYMOUS_RELAY, Broker
from .nodes import NodeLimits
from .recovery import SuspendedLinks

__all__ = ["PRODUCTION_NOTE", "EmbeddedPeer", "GcFreeze", "start", "serve_trio", "serve_asyncio", "run"]

log = logging.getLogger("amqp10.peer")

_T = TypeVar("_T")

#: Said wherever the peer introduces itself: it is not a production broker.
PRODUCTION_NOTE = (
    "The embedded peer is for development and tests: it keeps messages in memory only and "
    "has no persistence, clustering or access control. In production, use a broker or a "
    "router network: RabbitMQ (AMQP 1.0 plugin), ActiveMQ Artemis, Apache Qpid (qpidd), or "
    "Qpid Dispatch Router / skupper-router."
)

_CONTAINER_ID = "amqp10-embedded-peer"


def _options(overrides: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "container_id": _CONTAINER_ID,
        "offered_capabilities": [ANONYMOUS_RELAY],
        "allow_anonymous": True,
    }
    options.update(overrides)
    # ``limits`` names the queues' bound (NodeLimits) here; the connections' decoding limits
    # (amqp10.codec.Limits, the adapters' ``limits`` option) travel as ``decoding_limits``.
    if "decoding_limits" in options:
        options["limits"] = options.pop("decoding_limits")
    return options


def _broker(broker: Broker | None, limits: NodeLimits | None, credit_window: int) -> Broker:
    if broker is not None:
        return broker
    # Suspended links (link recovery, spec 2.6.13) expire by the terminus timeout: the
    # broker is sans-IO, so the clock is given to it here.
    return Broker(limits=limits, credit_window=credit_window, suspended=SuspendedLinks(clock=time.monotonic))


class EmbeddedPeer:
    """A broker served by the blocking adapter's listener on its own thread. Use ``start``.

    A context manager: leaving it closes every connection and stops the thread.

    Attributes:
        broker: the ``Broker``. Touch it only through ``call`` (it runs on the listener's
            thread).
        host, port: where it listens.
        url: ``amqp://host:port``; add ``/address`` for the command line tools.
    """

    def __init__(self, broker: Broker, listener: Any) -> None:
        self.broker = broker
        self._listener = listener
        self.host: str = listener.host
        self.port: int = listener.port
        self.url: str = listener.url

    def __enter__(self) -> EmbeddedPeer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, fn: Callable[[Broker], _T]) -> _T:
        """Run ``fn(broker)`` on the listener's lock (no handler call runs meanwhile), e.g. to
        look at a queue: ``peer.call(lambda b: b.node("q").depth)``."""
        return self._listener.call(lambda: fn(self.broker))  # type: ignore[no-any-return]

    def close(self, *, timeout: float = 5.0) -> None:
        """Close every connection and stop serving. Idempotent."""
        self._listener.close(timeout=timeout)


def start(
    host: str = "127.0.0.1",
    port: int = 5672,
    *,
    broker: Broker | None = None,
    limits: NodeLimits | None = None,
    credit_window: int = 200,
    **listen_options: Any,
) -> EmbeddedPeer:
    """Start the embedded peer on the blocking adapter, in the background.

    Args:
        host, port: where to listen (``port=0``: a free port; see ``EmbeddedPeer.port``).
        broker: the broker to serve (default: a new one with ``limits`` and
            ``credit_window``).
        limits: the memory bound of each queue and topic subscription.
        credit_window: the most credit one sending link gets at a time.
        listen_options: passed to ``amqp10.listen`` (``ssl_context``, ``authenticator``,
            ``idle_timeout``, ``incoming_window``, ...), except ``decoding_limits``: the
            connections' ``amqp10.codec.Limits``, given to ``listen`` as its ``limits``.

    Returns:
        The running ``EmbeddedPeer``.

    Raises:
        OSError: the address cannot be bound.

    For development and tests; see ``PRODUCTION_NOTE``.
    """
    from ..blocking import listen

    served = _broker(broker, limits, credit_window)
    listener = listen(host, port, _as_handler(served), **_options(listen_options))
    log.info("embedded peer listening on %s", listener.url)
    return EmbeddedPeer(served, listener)


async def serve_trio(
    host: str = "127.0.0.1",
    port: int = 5672,
    *,
    broker: Broker | None = None,
    limits: NodeLimits | None = None,
    credit_window: int = 200,
    task_status: Any = None,
    **serve_options: Any,
) -> None:
    """Serve the embedded peer with trio until cancelled.

    ``server = await nursery.start(serve_trio, "127.0.0.1", 0)`` reports where it listens
    (``amqp10.trio.Server``: ``host``, ``port``, ``url``). Arguments as for ``start``; the
    rest go to ``amqp10.trio.serve``.
    """
    import trio  # type: ignore[import-untyped,unused-ignore]  # trio < 0.23 ships no py.typed

    from ..trio import serve

    served = _broker(broker, limits, credit_window)
    status = trio.TASK_STATUS_IGNORED if task_status is None else task_status
    await serve(host, port, _as_handler(served), task_status=status, **_options(serve_options))


async def serve_asyncio(
    host: str = "127.0.0.1",
    port: int = 5672,
    *,
    broker: Broker | None = None,
    limits: NodeLimits | None = None,
    credit_window: int = 200,
    started: Any = None,
    **serve_options: Any,
) -> None:
    """Serve the embedded peer with asyncio until cancelled.

    ``started`` (an ``asyncio.Future``) gets the ``amqp10.asyncio.Server`` (``host``,
    ``port``, ``url``) once listening. Arguments as for ``start``; the rest go to
    ``amqp10.asyncio.serve``.
    """
    from ..asyncio import serve

    served = _broker(broker, limits, credit_window)
    await serve(host, port, _as_handler(served), started=started, **_options(serve_options))


def _as_handler(broker: Broker) -> Handler:
    return broker


class GcFreeze:
    """When a long-running server takes its long-held objects out of the garbage collector's
    view (``gc.freeze``), and when it gives them back (``gc.unfreeze``).

    Each connection holds a few hundred objects for its whole life (engine, session, links,
    their buffers). With 10,000 connections a full (oldest-generation) collection walks
    millions of objects that are not garbage and will not be while their connections last:
    a pause of a second or two in which nothing is served. Once the connection count has
    grown by at least ``min_growth`` since the last freeze and then stopped growing for
    ``settle`` seconds, ``check`` says ``"freeze"``: everything alive then goes to the
    permanent generation, and full collections walk only what is newer.

    Objects that become long-lived after a freeze (a connection's first heartbeat, the
    timer's entries) are frozen too: while frozen, each full collection that happens is
    followed by another ``"freeze"``, which moves its survivors out of view (``gc.freeze`` is
    cheap: it splices lists), so the next full collection walks only what is newer still.

    The price: garbage cycles among frozen objects are not collected while frozen, and a
    closed connection's engine, sessions and links point at each other. So once a
    ``churn`` fraction of the connections alive at the freeze have ended, ``check`` says
    ``"unfreeze"``: the next full collection frees them (one long pause), and a count that
    settles again is frozen again. Memory kept by ended connections is so bounded by about
    ``churn`` times what the frozen connections hold.

    Sans-IO: the caller passes the time and the connections, and applies the answer
    (``apply`` does, with the ``gc`` module; only the process's owner should: ``run``).

    Args:
        settle: seconds without growth before freezing.
        min_growth: connections gained since the last freeze (or start) worth a freeze.
        churn: the fraction of the frozen connections that may end before unfreezing.
        interval: how often the owner should call ``check``, seconds.
    """

    def __init__(self, *, settle: float = 10.0, min_growth: int = 1000, churn: float = 0.25, interval: float = 1.0) -> None:
        if settle < 0 or min_growth < 1 or not 0 < churn <= 1 or interval <= 0:
            raise ValueError("GcFreeze needs settle >= 0, min_growth >= 1, 0 < churn <= 1 and interval > 0")
        self.settle = settle
        self.min_growth = min_growth
        self.churn = churn
        self.interval = interval
        self._tolerance = max(1, min_growth // 10)  # growth this small still counts as settled
        self._base = 0  # the connection count at the last freeze (0: none yet, or unfrozen)
        self._mark: tuple[int, float] | None = None  # the count when growth last seen, and when
        self._frozen: set[int] = set()  # ids of the connections alive at the freeze
        self._full_collections = 0  # full collections counted at the last freeze
        self.frozen = False

    def check(self, now: float, connections: Collection[object], full_collections: int = 0) -> Literal["freeze", "unfreeze"] | None:
        """What to do now (``None``: nothing), given the connections served at ``now`` and
        how many full collections the process has made so far (``gc.get_stats()[2]``)."""
        count = len(connections)
        if self.frozen:
            alive = sum(1 for conn in connections if id(conn) in self._frozen)
            if len(self._frozen) - alive >= self.churn * len(self._frozen):
                self.frozen = False
                self._frozen = set()
                self._base = 0
                self._mark = (count, now)
                return "unfreeze"
            if full_collections > self._full_collections:
                self._full_collections = full_collections
                return "freeze"  # what that collection kept is long-lived too
        if self._mark is None or count > self._mark[0] + self._tolerance:
            self._mark = (count, now)  # still growing: the settle time starts again
            return None
        if count < self._mark[0]:
            self._mark = (count, self._mark[1])  # shrinking is not growth; regrowth is
        if count >= self._base + self.min_growth and now - self._mark[1] >= self.settle:
            self.frozen = True
            self._frozen = {id(conn) for conn in connections}
            self._base = count
            self._full_collections = full_collections
            return "freeze"
        return None

    def apply(self, now: float, connections: Collection[object]) -> None:
        """``check``, then do what it says with the ``gc`` module (process-wide)."""
        action = self.check(now, connections, gc.get_stats()[2]["collections"])
        if action == "freeze":
            gc.collect(1)  # the young generations' garbage first (cheap): frozen, it would stay
            gc.freeze()
            log.info("%d connections: %d objects frozen out of garbage collection", len(connections), gc.get_freeze_count())
        elif action == "unfreeze":
            gc.unfreeze()
            log.info("a quarter of the frozen connections ended: objects given back to garbage collection")


def run(
    host: str = "127.0.0.1",
    port: int = 5672,
    *,
    adapter: Literal["blocking", "trio", "asyncio"] = "blocking",
    limits: NodeLimits | None = None,
    credit_window: int = 200,
    on_ready: Callable[[str], None] | None = None,
    gc_freeze: GcFreeze | bool = True,
    **options: Any,
) -> None:
    """Serve in the foreground until SIGINT or SIGTERM (``amqp10 serve``).

    Args:
        adapter: serve with the blocking listener, with trio or with asyncio.
        on_ready: called with the URL once listening (the port is known then).
        gc_freeze: when to freeze long-held objects out of garbage collection (``GcFreeze``;
            ``True``: its defaults; ``False``: never). It acts on the whole process, which
            this function owns while it runs; a frozen heap is given back when it returns.
        Others: as for ``start``.
    """
    policy = gc_freeze if isinstance(gc_freeze, GcFreeze) else GcFreeze() if gc_freeze else None
    try:
        if adapter == "trio":
            _run_trio(host, port, limits, credit_window, on_ready, policy, options)
            return
        if adapter == "asyncio":
            _run_asyncio(host, port, limits, credit_window, on_ready, policy, options)
            return
        _run_blocking(host, port, limits, credit_window, on_ready, policy, options)
    finally:
        if policy is not None and policy.frozen:
            gc.unfreeze()


def _run_blocking(
    host: str,
    port: int,
    limits: NodeLimits | None,
    credit_window: int,
    on_ready: Callable[[str], None] | None,
    policy: GcFreeze | None,
    options: dict[str, Any],
) -> None:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        with start(host, port, limits=limits, credit_window=credit_window, **options) as peer:
            if on_ready is not None:
                on_ready(peer.url)
            try:
                while not stop.wait(0.5 if policy is None else min(0.5, policy.interval)):
                    if policy is not None:
                        policy.apply(time.monotonic(), peer._listener.connections)
            except KeyboardInterrupt:
                pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_trio(
    host: str,
    port: int,
    limits: NodeLimits | None,
    credit_window: int,
    on_ready: Callable[[str], None] | None,
    policy: GcFreeze | None,
    options: dict[str, Any],
) -> None:
    import trio  # type: ignore[import-untyped,unused-ignore]  # trio < 0.23 ships no py.typed

    async def watch_gc(server: Any, policy: GcFreeze) -> None:
        while True:
            await trio.sleep(policy.interval)
            policy.apply(trio.current_time(), server.connections)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                lambda task_status: serve_trio(
                    host, port, limits=limits, credit_window=credit_window, task_status=task_status, **options
                )
            )
            if policy is not None:
                nursery.start_soon(watch_gc, server, policy)
            if on_ready is not None:
                on_ready(server.url)
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    return

    trio.run(main)


def _run_asyncio(
    host: str,
    port: int,
    limits: NodeLimits | None,
    credit_window: int,
    on_ready: Callable[[str], None] | None,
    policy: GcFreeze | None,
    options: dict[str, Any],
) -> None:
    import asyncio

    async def watch_gc(server: Any, policy: GcFreeze) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(policy.interval)
            policy.apply(loop.time(), server.connections)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        started: asyncio.Future[Any] = loop.create_future()
        serving = asyncio.ensure_future(
            serve_asyncio(host, port, limits=limits, credit_window=credit_window, started=started, **options)
        )
        await asyncio.wait((started, serving), return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            await serving  # it ended before listening: raise why (OSError)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        watching = None if policy is None else asyncio.ensure_future(watch_gc(started.result(), policy))
        if on_ready is not None:
            on_ready(started.result().url)
        await stop.wait()
        serving.cancel()
        if watching is not None:
            watching.cancel()
        await asyncio.wait((serving,) if watching is None else (serving, watching))

    asyncio.run(main())
