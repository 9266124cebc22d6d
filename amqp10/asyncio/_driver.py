"""The asyncio adapter's pump: one transport <-> one engine, as a protocol and a writer task.

Owns: moving bytes between an ``asyncio.Transport`` (TCP, or asyncio's TLS transport) and a
sans-IO engine, ticking it with ``loop.time()`` and sleeping until its next deadline or a
wake-up. Mirrors ``amqp10.trio._driver`` piece by piece (``Pump``, ``describe_failure``), so a change to one ports to the other:

- trio's reader task is ``Pump.data_received`` / ``eof_received`` / ``connection_lost``
  here (asyncio calls them with what the transport read);
- trio's writer task is ``Pump._writer``; like trio's ``send_all``, it waits after each
  write until the transport has handed every byte to the kernel (the transport's high-water
  mark is 0, so ``pause_writing`` means "not all taken"), which keeps ``in_flight`` exact
  and the write buffer limit honest;
- trio's direct write (``kick``, the reader's flush) is the same here: while the transport
  holds nothing, a command's output, or what a read made the engine say, is handed to the
  transport by whoever made it (``transport.write`` never suspends), and the writer task is
  woken only for what it alone does (waiting for the kernel, an earlier deadline, the end);
- neither is ever cancelled by a user's cancelled call: user code only changes engine state
  and wakes the writer, so cancelling a user's ``send``/``receive`` can never cut a frame in
  half.

Why protocols, not streams: ``asyncio.StreamReader`` copies every read into its own buffer
and needs a reader task that wakes for each chunk; a ``Protocol`` hands each chunk straight
to the engine from the event loop's read callback (one copy fewer, one task switch fewer
per read), and ``transport.write`` plus the ``pause_writing``/``resume_writing`` signals give
the same back-pressure as ``StreamWriter.drain`` without its per-call future.

Must never: interpret events (the owner's callback does) or block the event loop.
"""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import logging
import os
import ssl
import threading
from typing import Awaitable, Callable, TypeVar

from ..codec.spec import Error
from ..engine.connection import Connection as EngineConnection
from ..engine.events import Event

__all__ = ["Pump", "Holding", "describe_failure", "shielded", "uninterrupted", "park", "unpark_all"]

log = logging.getLogger("amqp10.asyncio")

#: how long closing a transport may take to flush (trio's ``move_on_after(1)``)
_CLOSE_TIMEOUT = 1.0

_T = TypeVar("_T")


def describe_failure(exc: BaseException) -> str:
    """Words for a transport failure, looking through the chain to the ssl cause."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed: {cause.verify_message or cause}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {cause}"
        if isinstance(cause, OSError):
            return f"socket error: {cause}"
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


async def uninterrupted(awaitable: Awaitable[_T]) -> "tuple[asyncio.Future[_T], bool]":
    """Await ``awaitable`` to the end even if the calling task is cancelled meanwhile.

    Returns:
        The finished future (its result or exception untouched) and whether a cancellation
        of the calling task arrived meanwhile (held back: the caller must raise it).
    """
    inner = asyncio.ensure_future(awaitable)
    interrupted = False
    while not inner.done():
        try:
            await asyncio.wait((inner,))  # unlike ``await inner``, never cancels ``inner``
        except asyncio.CancelledError:
            interrupted = True
    return inner, interrupted


async def shielded(awaitable: Awaitable[_T]) -> _T:
    """Await ``awaitable`` to the end even if the calling task is cancelled meanwhile (what
    ``trio.CancelScope(shield=True)`` does). A cancellation that arrived is not lost: once
    the awaitable is done, ``CancelledError`` is raised in its place."""
    done, interrupted = await uninterrupted(awaitable)
    if interrupted:
        failure = None if done.cancelled() else done.exception()
        raise asyncio.CancelledError() from failure
    return done.result()


async def park(waiters: set["asyncio.Future[None]"], deadline: float | None) -> None:
    """Wait until a future in ``waiters`` is resolved by ``unpark_all(waiters)`` or the loop's
    clock reaches ``deadline`` (``None``: no limit); trio's ``ParkingLot.park`` plus
    ``move_on_at``, without a task or a ``wait_for`` per wait."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    waiters.add(future)
    timer = None if deadline is None else loop.call_at(deadline, _resolve, future)
    try:
        await future
    finally:
        waiters.discard(future)
        if timer is not None:
            timer.cancel()


def unpark_all(waiters: set["asyncio.Future[None]"]) -> None:
    """Wake every ``park`` on ``waiters``."""
    for future in list(waiters):
        _resolve(future)
    waiters.clear()


def _resolve(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)


class Holding(asyncio.Protocol):
    """A transport's protocol until its ``Pump`` takes it over: reading is paused at once, and
    anything that still arrives (or the end of the stream) is kept for the pump.

    Args:
        on_connected: called with the transport once it is connected (a server starts the
            connection's task there).
    """

    def __init__(self, on_connected: Callable[[asyncio.Transport], None] | None = None) -> None:
        self._on_connected = on_connected
        self.received: list[bytes] = []
        self.eof = False
        self.lost: Exception | None = None
        self.gone = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()
        if self._on_connected is not None:
            self._on_connected(transport)

    def data_received(self, data: bytes) -> None:
        self.received.append(data)

    def eof_received(self) -> bool | None:
        self.eof = True
        return None  # the transport closes; the pump learns why from ``eof``/``gone``

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        self.lost = exc


class Pump(asyncio.Protocol):
    """Runs one connection's I/O until the engine is finished or the transport breaks.

    Args:
        transport: the connected transport (TLS handshake done), its protocol a ``Holding``;
            ``run`` takes it over.
        engine: the engine, already opened.
        on_events: called with every batch of engine events, on the event loop's thread.
        on_lost: called once if the transport broke or ended before the engine finished,
            with why, *before* the engine is told (so the reason reaches the user); the callee
            feeds the engine its end of input.
        on_written: called each time the transport has handed a batch of bytes to the kernel.

    Attributes:
        in_flight: bytes taken from the engine that the kernel has not accepted yet.
    """

    def __init__(
        self,
        transport: asyncio.Transport,
        engine: EngineConnection,
        on_events: Callable[[list[Event]], None],
        on_lost: Callable[[str], None],
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self.transport = transport
        self.engine = engine
        self._on_events = on_events
        self._on_lost = on_lost
        self._on_written = on_written
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._wake: set[asyncio.Future[None]] = set()
        self._woken = False
        self._paused = False  # the transport holds bytes the kernel has not taken yet
        self._deadline: float | None = None  # the engine's deadline the writer sleeps until
        self._flush_timer: asyncio.TimerHandle | None = None  # a pending ``flush_within``
        self._gone: asyncio.Future[None] = self._loop.create_future()
        self._broken: str | None = None
        self._read_fd: int | None = None  # set by ``_take_over`` when ``read_now`` may read
        self.done = False
        #: sent as CLOSE if the pump is cancelled while the connection is open (a server
        #: shutting down says so rather than dropping the socket)
        self.goodbye: Error | None = None

    @property
    def in_flight(self) -> int:
        """Bytes written to the transport that the kernel has not taken yet."""
        return self.transport.get_write_buffer_size() if not self._gone.done() else 0

    def wakeup(self) -> None:
        """The engine has new output or needs a tick. Thread-safe."""
        if threading.get_ident() == self._thread:
            self._woken = True
            unpark_all(self._wake)
        else:
            try:
                self._loop.call_soon_threadsafe(self.wakeup)
            except RuntimeError:  # the loop is closed: nothing left to wake
                pass

    def kick(self) -> None:
        """A command queued output: hand it to the transport now from the calling task if the
        transport holds nothing, else wake the writer. Event loop thread only (``wakeup`` is
        the thread-safe one). A command that queued nothing and moved no deadline wakes
        nobody; one that only settled or accepted deliveries wakes the writer, so those
        dispositions are batched and ride with whatever frame the task writes next (a
        reply's accept goes out with the next request)."""
        if self._paused or self._broken is not None or self.done or self._gone.done():
            self.wakeup()
            return
        if not self.engine.bytes_to_send:
            if self.engine.has_data_to_send:
                self.wakeup()
            return
        self._flush()

    def flush_within(self, delay: float) -> None:
        """Write the engine's output within ``delay`` seconds at the latest, unless a command
        writes it sooner: how a delayed acknowledgement rides with the caller's next frame
        without a writer turn per call. One timer serves every call until it fires; it
        wakes the writer only if output is still waiting then. Event loop thread only."""
        at = self._loop.time() + delay
        timer = self._flush_timer
        if timer is None or at < timer.when():
            if timer is not None:
                timer.cancel()
            self._flush_timer = self._loop.call_at(at, self._flush_due)

    def _flush_due(self) -> None:
        self._flush_timer = None
        if self.engine.has_data_to_send:
            self.wakeup()

    def _flush(self) -> None:
        """Tick, take the engine's output and write it to the transport at once; wake the
        writer only for what it must do (wait until the kernel took it all, an earlier
        deadline, a finished engine). Caller checked: not paused, broken or gone."""
        engine = self.engine
        deadline = engine.tick(self._loop.time())
        self._deliver(engine.take_events())
        out = engine.data_to_send()  # counted as written at this tick (idle.py)
        if out:
            self.transport.write(out)
            if self._paused:  # not all taken: the writer reports it written once it is
                self._woken = True
                unpark_all(self._wake)
                return
            if self._on_written is not None:
                self._on_written()
        planned = self._deadline
        if engine.finished or (deadline is not None and (planned is None or deadline < planned)):
            self._woken = True
            unpark_all(self._wake)

    def _deliver(self, events: list[Event]) -> None:
        if events:
            self._on_events(events)

    def _lost(self, reason: str) -> None:
        if self._broken is None and not self.engine.finished:
            self._broken = reason
            self._on_lost(reason)
        self._woken = True
        unpark_all(self._wake)

    def _fail(self, exc: Exception) -> None:
        """trio's ``_guard``: a bug in event handling costs this connection only."""
        log.error("internal error on a connection; closing it", exc_info=exc)
        try:
            self._lost(f"internal error: {type(exc).__name__}: {exc}")
        except Exception:
            log.exception("cleaning up a failed connection failed")
        self._broken = self._broken or "internal error"
        self._woken = True
        unpark_all(self._wake)
        self.transport.abort()

    # -- the reading side (trio's ``_reader``), called by the transport -----------------------
    def data_received(self, data: bytes) -> None:
        if self._broken is not None:
            return
        engine = self.engine
        try:
            self._deliver(engine.receive_data(data))
            if engine.bytes_to_send and not engine.finished and not self._paused and not self._gone.done() and self._broken is None:
                # Frames the input made the engine say (a flow, an answer) go out from here,
                # without a writer turn. Dispositions alone are left to the writer: they are
                # batched, and a task woken by this input may add its own (an accept) or a
                # next request for them to ride with.
                self._flush()
                return
            if not engine.has_data_to_send and not engine.finished:
                # Nothing to say: stamp the read and wake the writer only for an earlier
                # deadline (an idle connection's heartbeat costs no writer turn).
                deadline = engine.tick(self._loop.time())
                planned = self._deadline
                if not engine.has_data_to_send and not engine.finished and (deadline is None or (planned is not None and deadline >= planned)):
                    return
        except Exception as exc:
            self._fail(exc)
            return
        self.wakeup()

    def eof_received(self) -> bool | None:
        try:
            if not self.engine.finished:
                self._lost("the peer closed the socket before the AMQP close handshake")
        except Exception as exc:
            self._fail(exc)
        self.wakeup()
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        _resolve(self._gone)
        self._paused = False
        try:
            if exc is not None:
                self._lost(describe_failure(exc))
            elif not self.engine.finished:
                self._lost("the peer closed the socket before the AMQP close handshake")
        except Exception as failure:
            log.exception("cleaning up a lost connection failed", exc_info=failure)
        self.wakeup()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self.wakeup()

    # -- running ------------------------------------------------------------------------------
    def _take_over(self) -> None:
        holding = self.transport.get_protocol()
        self.transport.set_protocol(self)
        self.transport.set_write_buffer_limits(high=1, low=0)
        if isinstance(holding, Holding):
            for data in holding.received:
                self.data_received(data)
            if holding.gone:
                self.connection_lost(holding.lost)
                return
            if holding.eof:
                self.eof_received()  # the transport is closing: connection_lost follows
                return
        self._read_fd = _plain_socket_fd(self.transport)
        self.transport.resume_reading()

    def read_now(self) -> bool:
        """Read what the socket holds now, without waiting, and take it in as the transport
        would hand it over (``data_received``): a waiting task's busy polling (``_busy_poll``)
        gets its answer without a loop round through the transport. Only for a plain TCP
        transport of a selector event loop, which reads that socket only when the selector
        says it is readable and takes an empty read in its stride (``False`` otherwise, and
        when nothing was there). The end of the stream is left for the transport to find."""
        fd = self._read_fd
        if fd is None or self._broken is not None or self._gone.done() or self.engine.finished or not self.transport.is_reading():
            return False
        try:
            data = os.read(fd, _READ_SIZE)
        except OSError:  # nothing there, or a failure the transport will meet and report
            return False
        if not data:
            return False  # the end of the stream: the transport's own read sees it too
        self.data_received(data)
        return True

    async def run(self) -> None:
        """Pump until done; then close the transport. Never raises for I/O failures, and a
        bug in event handling costs this connection only (it is logged and the transport
        closed)."""
        try:
            self._take_over()
            await self._writer()
        except Exception as exc:
            self._fail(exc)
        finally:
            self.done = True
            try:
                await shielded(self._close())
            finally:
                if not self.engine.finished and self._broken is None:
                    self._lost("the connection's I/O was stopped")

    async def _close(self) -> None:
        try:
            if self.goodbye is not None and self._broken is None and not self.engine.finished and not self._gone.done():
                # Cancelled while open: the writer only returns otherwise once the engine is
                # finished or the transport broke.
                self.engine.close(self.goodbye)
                self.transport.write(self.engine.data_to_send())
            self.transport.close()  # flushes what is buffered, then closes
            await asyncio.wait((self._gone,), timeout=_CLOSE_TIMEOUT)
        except (OSError, RuntimeError):
            pass
        if not self._gone.done():
            self.transport.abort()

    async def _writer(self) -> None:
        engine, loop = self.engine, self._loop
        while self._broken is None:
            if self._paused:  # a direct write (``kick``) left bytes in the transport
                while self._paused and self._broken is None:
                    await park(self._wake, None)
                if self._broken is not None:
                    return
                if self._on_written is not None:
                    self._on_written()
            self._woken = False
            deadline = engine.tick(loop.time())
            self._deliver(engine.take_events())
            out = engine.data_to_send()
            if out:
                if self._gone.done():
                    return  # connection_lost already said why
                self.transport.write(out)
                while self._paused and self._broken is None:
                    await park(self._wake, None)
                if self._broken is not None:
                    return
                if self._on_written is not None:
                    self._on_written()
                continue  # the engine counted it as written at this turn's tick (idle.py)
            if engine.finished:
                return
            self._deadline = deadline
            if not self._woken:
                await park(self._wake, deadline)


#: bytes ``Pump.read_now`` reads at most at once (the selector transport's own reads take up
#: to 256 KiB; an answer being waited for is far smaller)
_READ_SIZE = 65536
#: the standard library's plain TCP transport of selector event loops (private, so looked up
#: rather than imported: another Python without it just never reads behind a transport)
_SELECTOR_TRANSPORT: type | None = getattr(asyncio.selector_events, "_SelectorSocketTransport", None)


def _plain_socket_fd(transport: asyncio.BaseTransport) -> int | None:
    """The socket's descriptor when ``transport`` is a plain TCP transport of a selector
    event loop (what ``Pump.read_now`` may read behind it), else ``None`` (TLS, another loop
    such as uvloop or the proactor)."""
    if transport.get_extra_info("sslcontext") is not None:
        return None
    if _SELECTOR_TRANSPORT is None or not isinstance(transport, _SELECTOR_TRANSPORT):
        return None
    sock = transport.get_extra_info("socket")
    return None if sock is None else int(sock.fileno())
