"""The blocking adapter's I/O thread: one selector loop pumping sockets <-> engines.

Owns: the thread, the selector, the wake-up socketpair and the lock that guards every engine
it serves (its condition is notified by the owners' event callbacks and when a socket closes,
never merely because the loop turned, so waiters are not woken for nothing). A client connection runs one reactor for its one socket; a listener runs one for its
listening socket and every socket it accepts, so all of a listener's handler calls happen on
one thread (ADAPTERS.md). Each loop turn, with the lock held, it services (ticks with
``time.monotonic()``, delivers events, hands output to the socket) only the channels that
need it: those that were readable or writable, those woken (``Channel.wakeup``, or every
channel after ``Reactor.wakeup``), and those whose own deadline is due (a heap of deadlines).
Then it waits in ``select`` (lock released) until a socket is ready, a wake-up arrives, or the
earliest deadline passes. A turn costs O(channels with work), not O(channels): a listener
holding 10,000 idle connections does nothing for the idle ones until a heartbeat is due.

Must never: call user code without the lock, or block while holding it (sockets are
non-blocking; only ``select`` waits, unlocked).
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from typing import Callable, TypeVar

from .._busy_poll import BusyPoll
from ..engine.connection import Connection as EngineConnection
from ..engine.events import Event
from ._transport import Transport, TransportError

__all__ = ["Reactor", "Channel"]

log = logging.getLogger("amqp10.blocking")

#: How long a finished connection may take to flush its last bytes before we drop them.
_LINGER = 2.0

#: How long an accepted client may take over its TLS handshake (the engine, and with it
#: Config.handshake_timeout, exists only once it is done; trio/_server.py bounds it alike).
TLS_HANDSHAKE_TIMEOUT = 10.0


class Channel:
    """One socket served by a reactor.

    Args:
        reactor: the reactor serving it.
        transport: the non-blocking socket (plain or TLS).
        engine: the engine, or ``None`` to build it with ``make_engine`` once the TLS
            handshake is done (a server needs the client's certificate for SASL EXTERNAL).
        make_engine: builds the engine from the finished transport.
        on_events: called with the engine's events (lock held).
        on_closed: called once when the socket is closed, with why (``None``: a clean end).
        on_written: called after each attempt to flush the socket (lock held), so the owner
            can wake a sender waiting for room in the write buffer.
    """

    def __init__(
        self,
        reactor: "Reactor",
        transport: Transport,
        *,
        engine: EngineConnection | None = None,
        make_engine: Callable[["Channel"], EngineConnection] | None = None,
        on_events: Callable[["Channel", list[Event]], None],
        on_closed: Callable[["Channel", str | None], None],
        on_written: Callable[["Channel"], None] | None = None,
    ) -> None:
        self.reactor = reactor
        self.transport = transport
        self.engine = engine
        self._make_engine = make_engine
        self._on_events = on_events
        self._on_closed = on_closed
        self._on_written = on_written
        self.closed = False
        self._linger_until: float | None = None
        self._tls_until: float | None = None
        self._mask = 0  # what the selector watches on this socket (0: not registered)
        #: threads reading this socket themselves (``_client._Sync._lead``): while there is
        #: one, the reactor does not watch it for reading, so a reply wakes only the thread
        #: waiting for it, not the I/O thread too (a second wake-up, lock and GIL hand-off,
        #: and, when the I/O thread read first, a hand-off back)
        self.leaders = 0
        #: the engine's next deadline as of the last service, and the time of this channel's
        #: live entry in the reactor's deadline heap (older entries are stale and skipped)
        self._deadline: float | None = None
        self._heap_at: float | None = None

    def wakeup(self) -> None:
        """Service this channel (tick, flush) on the reactor's next turn. Thread-safe and
        cheap; what a ``ServedConnection`` and its engine's ``on_output`` call."""
        self.reactor._wake_channel(self)

    def _deliver(self, events: list[Event]) -> None:
        if events:
            self._on_events(self, events)

    def _ensure_engine(self) -> None:
        if self.engine is None and self.transport.handshake_done and self._make_engine is not None:
            self.engine = self._make_engine(self)

    def service(self, now: float) -> float | None:
        """Tick the engine, move its output to the socket; return its next deadline."""
        try:
            return self._service(now)
        except Exception as exc:
            self._crash(exc)
            return None

    def _service(self, now: float) -> float | None:
        if self.closed:
            return None
        engine = self.engine
        deadline: float | None = None
        try:
            if engine is not None:
                deadline = engine.tick(now)
                self._deliver(engine.take_events())
                # A large message's payload comes by reference, unjoined (issue 9).
                out = engine.data_to_send_parts()
                if out:  # counted as written at `now` (engine/idle.py): no second tick
                    self.transport.write_parts(out)
            elif self._make_engine is not None:  # the TLS handshake is still going on
                if self._tls_until is None:
                    self._tls_until = now + TLS_HANDSHAKE_TIMEOUT
                elif now >= self._tls_until:
                    self.close("the TLS handshake did not finish in time")
                    return None
                deadline = self._tls_until
            self._flush()
        except TransportError as exc:
            self.lose(str(exc))
            return None
        if engine is not None and engine.finished:
            if not self.transport.wants_write:
                self.close(None)
                return None
            if self._linger_until is None:
                self._linger_until = now + _LINGER
            elif now >= self._linger_until:
                self.close("the peer stopped reading before the connection's last bytes went out")
                return None
            return self._linger_until
        return deadline

    def _crash(self, exc: Exception) -> None:
        # A bug (ours or a handler's) must cost this one connection, never the reactor and
        # with it every other connection of a listener.
        log.error("internal error on a connection; closing it", exc_info=exc)
        self.close(f"internal error: {type(exc).__name__}: {exc}")

    def on_readable(self) -> bool:
        """The socket has bytes (or EOF, or an error). Returns whether anything came: a
        wake-up that finds the socket empty (another thread read it first) changes nothing."""
        try:
            return self._on_readable()
        except Exception as exc:
            self._crash(exc)
            return True

    def _on_readable(self) -> bool:
        try:
            data = self.transport.read()
        except TransportError as exc:
            self.lose(str(exc))
            return True
        if data is None:
            return False
        self._ensure_engine()
        engine = self.engine
        if engine is not None and data:
            self._deliver(engine.receive_data(data))
        if self.transport.eof:
            if engine is not None and not engine.finished:
                self.close("the peer closed the socket before the AMQP close handshake")
            else:
                self.close(None)
        return True

    def on_writable(self) -> None:
        """The socket takes bytes again."""
        try:
            self._flush()
        except TransportError as exc:
            self.lose(str(exc))

    def _flush(self) -> None:
        self.transport.flush()
        if self._on_written is not None:
            self._on_written(self)

    def lose(self, reason: str) -> None:
        """The transport failed: close, telling the owner why."""
        self.close(reason)

    def close(self, reason: str | None) -> None:
        """Close the socket and tell the owner once. With a ``reason`` the engine may not be
        finished: the owner feeds it the end of input (``receive_data(b"")``), after recording
        the reason, so the reason and not the engine's generic text reaches the user."""
        if self.closed:
            return
        self.closed = True
        self.reactor._forget(self)
        self.transport.close()
        if reason is not None:
            log.debug("connection closed: %s", reason)
        try:
            self._on_closed(self, reason)
        except Exception:
            log.exception("cleaning up a closed connection failed")
        self.reactor.changed.notify_all()


class Reactor:
    """A selector loop on its own daemon thread.

    Args:
        name: the thread's name (shows in debuggers and logs).
        stop_when_idle: end the thread once its last channel closed (a client connection).

    Attributes:
        lock: guards every engine this reactor serves; hold it to call engine commands.
        changed: notified (under ``lock``) after every batch of events; waiters wait on it.
    """

    def __init__(self, name: str, *, stop_when_idle: bool, busy_poll: float = 0.0) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._woken = False
        self._channels: dict[Channel, None] = {}  # ordered, O(1) removal
        # Channels to service next turn: appended from any thread (deque appends are atomic),
        # drained by the loop. ``_wake_all``: service every channel (``Reactor.wakeup``).
        self._woken_channels: collections.deque[Channel] = collections.deque()
        self._wake_all = False
        self._deadlines: list[tuple[float, int, Channel]] = []  # heap of (deadline, seq, channel)
        self._seq = itertools.count()
        self._thread_id: int | None = None
        self._listeners: dict[socket.socket, Callable[[socket.socket, tuple[str, int]], None]] = {}
        self._stopping = False
        self.stop_when_idle = stop_when_idle
        self.stopped = False
        #: when the loop's current ``select`` will time out at the latest (``None``: no
        #: deadline); a client writing its own output compares the engine's next deadline
        #: with it to know whether the loop must be woken to honour it
        self.planned_wake: float | None = None
        #: whether the loop polls its sockets before sleeping (a listener's ``busy_poll``;
        #: a client's I/O thread never does: its waiting threads poll, ``_client._BusyPoller``)
        self._busy_poll = BusyPoll(busy_poll)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def in_reactor_thread(self) -> bool:
        """True when called from the reactor's own thread (e.g. in a handler)."""
        return threading.get_ident() == self._thread_id

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def add_channel(self, channel: Channel) -> None:
        """Serve ``channel`` (lock held or before ``start``)."""
        self._channels[channel] = None
        self.watch(channel)
        self._wake_channel(channel)

    def add_listener(self, sock: socket.socket, on_accept: Callable[[socket.socket, tuple[str, int]], None]) -> None:
        """Accept connections on ``sock``; ``on_accept(sock, address)`` runs with the lock held."""
        sock.setblocking(False)
        self._listeners[sock] = on_accept
        self._selector.register(sock, selectors.EVENT_READ, sock)

    def remove_listener(self, sock: socket.socket) -> None:
        """Stop accepting on ``sock`` and close it (lock held)."""
        if self._listeners.pop(sock, None) is not None:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()

    def _forget(self, channel: Channel) -> None:
        if self._channels.pop(channel, False) is None and channel._mask:
            channel._mask = 0
            try:
                self._selector.unregister(channel.transport.sock)
            except (KeyError, ValueError):
                pass

    def watch(self, channel: Channel) -> None:
        """Make the selector watch what ``channel`` needs now (lock held): reading unless a
        thread reads it itself (``Channel.leaders``), writing while its transport holds bytes."""
        if channel.closed or channel not in self._channels:
            return
        mask = (0 if channel.leaders else selectors.EVENT_READ) | (
            selectors.EVENT_WRITE if channel.transport.wants_write else 0
        )
        if mask == channel._mask:
            return
        sock = channel.transport.sock
        if not mask:
            self._selector.unregister(sock)
        elif not channel._mask:
            self._selector.register(sock, mask, channel)
        else:
            self._selector.modify(sock, mask, channel)
        channel._mask = mask

    def service_by(self, channel: Channel, at: float) -> None:
        """Service ``channel`` (tick, write its output) at ``at`` at the latest, unless
        something services it sooner (lock held; any thread). The loop is interrupted only
        when it would sleep past ``at``, and then only to plan its wait again: nothing is
        written before ``at`` that no one else writes. How a delayed acknowledgement is
        bounded without a wake-up per call."""
        if channel.closed or channel not in self._channels:
            return
        current = channel._deadline
        self._schedule(channel, at if current is None or at < current else current)
        planned = self.planned_wake
        if planned is None or at < planned:
            self._interrupt()

    def channels(self) -> list[Channel]:
        """The channels being served (lock held)."""
        return list(self._channels)

    def wakeup(self) -> None:
        """Service every channel on a turn soon (thread-safe). A listener's connections wake
        one channel each (``Channel.wakeup``); this is for a client's one channel and for
        code that cannot say which engine it changed."""
        self._wake_all = True
        self._interrupt()

    def _wake_channel(self, channel: Channel) -> None:
        self._woken_channels.append(channel)
        if self._thread_id != threading.get_ident():  # on the loop: the turn is still to come
            self._interrupt()

    def _interrupt(self) -> None:
        """End the current ``select`` wait (thread-safe; cheap when one is pending)."""
        if self._woken:
            return
        self._woken = True
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # full: a wake-up is pending anyway; closed: the reactor is gone

    def stop(self) -> None:
        """Ask the loop to end; sockets still open are closed without goodbye."""
        self._stopping = True
        self.wakeup()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (no-op from the reactor thread itself)."""
        if not self.in_reactor_thread and self._thread.is_alive():
            self._thread.join(timeout)

    # -- the loop ------------------------------------------------------------------------------------
    def _turn_prepare(self) -> float | None:
        now = time.monotonic()
        due: set[Channel] = set()
        if self._wake_all:
            self._wake_all = False
            due.update(self._channels)
        woken = self._woken_channels
        while woken:
            due.add(woken.popleft())
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            at, _, channel = heapq.heappop(heap)
            if channel._heap_at != at or channel.closed:
                continue  # stale: superseded by an earlier entry, or the channel is gone
            channel._heap_at = None
            if channel._deadline is not None and channel._deadline > now:
                self._schedule(channel, channel._deadline)  # it moved later: no work yet
            else:
                due.add(channel)
        for channel in due:
            if channel.closed:
                continue
            deadline = channel.service(now)
            if channel.closed:
                continue
            self._schedule(channel, deadline)
            self.watch(channel)
        # When this thread will next look at the channels: a client thread that serviced its
        # channel itself (``_client._Sync.kick``) wakes us only for an earlier deadline.
        if self._wake_all or woken:  # a service woke a channel (a handler wrote to another)
            self.planned_wake = now
            return 0.0
        if not heap:
            self.planned_wake = None
            return None
        self.planned_wake = heap[0][0]
        return max(0.0, heap[0][0] - time.monotonic())

    def _schedule(self, channel: Channel, deadline: float | None) -> None:
        channel._deadline = deadline
        # Only an earlier deadline needs a new heap entry; a later one is found when the
        # current entry comes due (heartbeat deadlines mostly move later), so the heap holds
        # about one entry per channel however often channels are serviced.
        if deadline is not None and (channel._heap_at is None or deadline < channel._heap_at):
            channel._heap_at = deadline
            heapq.heappush(self._deadlines, (deadline, next(self._seq), channel))

    def _run(self) -> None:
        self._thread_id = threading.get_ident()
        try:
            ready: list[tuple[selectors.SelectorKey, int]] = []
            while True:
                # What a read brought in and the turn that writes what it caused happen under
                # one hold of the lock: a client thread woken by that read cannot queue output
                # in between (a reply's accept, meant to ride with the next request) for this
                # turn to write on its own.
                with self.lock:
                    for key, mask in ready:
                        self._dispatch(key.data, mask)
                    if self._stopping or (self.stop_when_idle and not self._channels):
                        break
                    timeout = self._turn_prepare()
                    if self.stop_when_idle and not self._channels:
                        break
                ready = self._select(timeout)
        except Exception:  # a bug here must not leave waiters hanging forever
            log.exception("the amqp10 I/O thread failed")
        finally:
            with self.lock:
                for channel in list(self._channels):
                    channel.lose("the I/O thread stopped")
                for sock in self._listeners:
                    sock.close()
                self._listeners.clear()
                self.stopped = True
                self.changed.notify_all()
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()
            self._thread_id = None  # a later thread may be given the same identifier

    def _select(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        """The selector's ready keys within ``timeout`` (``None``: no limit), polled for first
        while the busy-polling rule says so: a listener whose clients' next frames mostly
        come within the budget takes them without a wake-up from sleep."""
        return poll_then_wait(self._busy_poll, self._selector.select, timeout)

    def _dispatch(self, data: object, mask: int) -> None:
        if data is None:
            self._woken = False
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, OSError):
                pass
        elif isinstance(data, socket.socket):
            self._accept(data)
        elif isinstance(data, Channel):
            active = False
            if mask & selectors.EVENT_WRITE and not data.closed:
                data.on_writable()
                active = True
            if mask & selectors.EVENT_READ and not data.closed:
                # A read that found nothing (a leading wait in a client thread took the bytes
                # between our select and our read) asks for no turn: servicing the channel
                # then would write whatever a client thread queued meanwhile, such as a
                # reply's accept meant to ride with the next request (``ACK_DELAY``).
                active = data.on_readable() or active
            if active and not data.closed:  # flush what the input caused, update the mask and deadline
                self._woken_channels.append(data)

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(64):  # bounded: a flood of connects must not starve the others
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            try:
                self._listeners[listener](sock, address)
            except Exception:
                log.exception("setting up an accepted connection failed")
                sock.close()


_R = TypeVar("_R")


def poll_then_wait(policy: BusyPoll, wait: Callable[[float | None], list[_R]], timeout: float | None) -> list[_R]:
    """What ``wait(timeout)`` (a ``select``: the ready list, ``[]`` when the time ran out)
    returns, looked for first with ``wait(0)`` for as long as ``policy`` says to poll
    (``amqp10._busy_poll``); then it waits for the rest of ``timeout`` (``None``: no limit).
    The one poll-then-sleep loop of this adapter: a listener's thread and a client's leading
    wait (``_client._BusyPoller``) both use it. Tells ``policy`` how long the wait took; a
    ``timeout`` that ran out within the budget tells it nothing."""
    if policy.budget <= 0:
        return wait(timeout)
    started = time.perf_counter()
    until = policy.until(started)
    if timeout is not None:
        until = min(until, started + timeout)
    ready: list[_R] = []
    while not ready and time.perf_counter() < until:
        ready = wait(0)
    if not ready:
        ready = wait(None if timeout is None else max(0.0, started + timeout - time.perf_counter()))
    waited = time.perf_counter() - started
    if ready:
        policy.record(waited)
    elif waited > policy.budget:
        policy.record(None)  # nothing came within the budget
    return ready
