"""The trio adapter's pump: one stream <-> one engine, as a reader task and a writer task.

Owns: moving bytes between a ``trio.abc.Stream`` (TCP or ``trio.SSLStream``) and a sans-IO
engine, ticking it with ``trio.current_time()`` and sleeping until its next deadline or a
wake-up. The reader is the only task that receives; the writer task sends what the others
cannot write at once. On a plain TCP stream whose writer is idle, output is written straight
to the socket by whoever made it (``Pump.kick`` from a user's command, the reader after the
frames it processed), with one non-blocking ``write`` that cannot be cancelled half-way:
a request then leaves without a writer task switch, and what the socket does not take is
left to the writer, which alone waits for room. Nothing is ever cancelled mid-frame: user
code only changes engine state and kicks or wakes the pump, so cancelling a user's
``send``/``receive`` can never cut a frame in half.

Must never: interpret events (the owner's callback does) or block the trio thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import ssl
from typing import Any, Awaitable, Callable

import trio  # type: ignore[import-untyped,unused-ignore]  # trio < 0.23 ships no py.typed

from ..codec.spec import Error
from ..engine.connection import Connection as EngineConnection
from ..engine.events import Event

__all__ = ["Pump", "Timer", "describe_failure", "READ_SIZE"]

log = logging.getLogger("amqp10.trio")

READ_SIZE = 1 << 16


def describe_failure(exc: BaseException) -> str:
    """Words for a transport failure, looking through trio's wrapping to the ssl cause."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed: {cause.verify_message or cause}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {cause}"
        if isinstance(cause, OSError) and not isinstance(cause, trio.BrokenResourceError):
            return f"socket error: {cause}"
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


class _Waker:
    """A reusable wake-up for one task on the trio thread: a flag and the parked task. Unlike
    a ``trio.Event`` per wait it allocates nothing per wake-up."""

    __slots__ = ("woken", "_parked", "_abort_fn")

    def __init__(self) -> None:
        self.woken = False
        self._parked: Any = None  # a trio.lowlevel.Task (trio < 0.23 is untyped)
        self._abort_fn = self._abort

    def set(self) -> None:
        """Wake the parked task (or make its next ``park`` return at once). trio thread only."""
        self.woken = True
        task = self._parked
        if task is not None:
            self._parked = None
            trio.lowlevel.reschedule(task)

    def _abort(self, raise_cancel: Any) -> Any:
        self._parked = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def park(self) -> None:
        """Sleep until ``set`` (cancellable). The caller clears ``woken`` before its turn and
        parks only if it is still clear."""
        self._parked = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort_fn)


class Timer:
    """Wakes many pumps at their deadlines from one task, so a connection's heartbeat costs a
    heap entry instead of a cancel scope whose deadline fires (a server's connections share
    one: ``serve`` runs it). Only ``run`` waits, with one cancel scope per wake-up.

    A due pump whose stream is idle is ticked and written to right here (``Pump._due``: a
    heartbeat is one non-blocking write), so a heartbeat costs no task switch of its own;
    only a pump that is busy writing, or a TLS one, has its writer woken. A deadline may be
    served a little late, by ``LATENESS`` of how far ahead it was filed and at most
    ``SLACK``: the timer sleeps until the earliest such latest time and then serves every
    deadline already due, so the wake-ups (each a cancel scope firing) are shared by the
    heartbeats of several connections rather than paid once per heartbeat. Never early. A
    heartbeat filed 3/4 of the peer's advertised idle-time-out ahead (``engine/idle.py``)
    thus leaves at most at 0.7575 of it (50 ms of the quarter kept for lateness at 15 s).
    """

    #: the most (seconds) a deadline may be served late so that nearby ones share a wake-up
    SLACK = 0.05
    #: ... as a fraction of how far ahead it was filed (a short interval gets a short slack)
    LATENESS = 0.01

    def __init__(self) -> None:
        # (latest time to serve it, sequence, pump, its deadline)
        self._heap: list[tuple[float, int, Pump, float]] = []
        self._seq = itertools.count()
        self._waker = _Waker()

    def schedule(self, pump: "Pump", deadline: float) -> None:
        """Wake ``pump`` at ``deadline`` (trio thread only)."""
        pump._timer_at = deadline
        ahead = deadline - trio.current_time()
        latest = deadline + min(self.SLACK, ahead * self.LATENESS) if ahead > 0 else deadline
        entry = (latest, next(self._seq), pump, deadline)
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry:  # earlier than what the timer sleeps for
            self._waker.set()

    async def run(self) -> None:
        """Serve pumps' deadlines as they pass, until cancelled."""
        heap = self._heap
        waker = self._waker
        while True:
            now = trio.current_time()
            while heap and heap[0][3] <= now:
                _, _, pump, at = heapq.heappop(heap)
                if pump._timer_at != at or pump.done:
                    continue  # stale: an earlier entry replaced it, or the pump is gone
                pump._timer_at = None
                if pump._deadline is not None and pump._deadline > now:
                    self.schedule(pump, pump._deadline)  # it moved later: nothing due yet
                else:
                    pump._due(now)
            waker.woken = False
            with trio.move_on_at(heap[0][0] if heap else math.inf):
                await waker.park()


class Pump:
    """Runs one connection's I/O until the engine is finished or the stream breaks.

    Args:
        stream: the connected stream (TLS handshake may still be pending: the first send or
            receive performs it).
        engine: the engine, already opened.
        on_events: called with every batch of engine events, on the trio thread.
        on_lost: called once if the stream broke or ended before the engine finished, with
            why, *before* the engine is told (so the reason reaches the user); the callee
            feeds the engine its end of input.
        on_written: called each time the stream has taken a batch of bytes.
        timer: a ``Timer`` shared by many pumps (a server's), or ``None``: this pump sleeps
            until its own deadline in its own cancel scope.

    Attributes:
        in_flight: bytes taken from the engine that the stream has not accepted yet.
    """

    # a server holds one per connection for the connection's life: no instance dict
    __slots__ = (
        "stream", "engine", "_on_events", "_on_lost", "_on_written", "in_flight", "_waker", "_timer",
        "_deadline", "_timer_at", "_broken", "done", "goodbye", "_token", "_fd", "_writing", "_backlog",
        "_scope",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        engine: EngineConnection,
        on_events: Callable[[list[Event]], None],
        on_lost: Callable[[str], None],
        on_written: Callable[[], None] | None = None,
        *,
        timer: Timer | None = None,
    ) -> None:
        self.stream = stream
        self.engine = engine
        self._on_events = on_events
        self._on_lost = on_lost
        self._on_written = on_written
        self.in_flight = 0
        # The writer's wake-up, reused for the connection's life: never a new Event or
        # CancelScope per turn (with 10,000 connections those lived until the next heartbeat
        # and made the old GC generation churn).
        self._waker = _Waker()
        self._timer = timer
        #: the engine's next deadline after the last turn, and this pump's live entry in the
        #: timer's heap (``Timer`` only)
        self._deadline: float | None = None
        self._timer_at: float | None = None
        self._broken: str | None = None
        self.done = False
        #: sent as CLOSE if the pump is cancelled while the connection is open (a server
        #: shutting down says so rather than dropping the socket)
        self.goodbye: Error | None = None
        self._token = trio.lowlevel.current_trio_token()
        #: the socket a direct write goes to: plain TCP on POSIX only (TLS must go through
        #: ``SSLStream``; elsewhere ``os.write`` does not take sockets)
        self._fd: int | None = stream.socket.fileno() if type(stream) is trio.SocketStream and os.name == "posix" else None
        #: the writer is sending, or holds bytes a direct write left over: only it may write
        self._writing = False
        #: the cancel scope the writer sleeps in until the engine's deadline (no ``Timer``)
        self._scope: trio.CancelScope | None = None
        #: what the socket did not take of a direct write; the writer sends it first
        self._backlog: bytes | None = None

    def wakeup(self) -> None:
        """The engine has new output or needs a tick. Thread-safe."""
        try:
            in_trio = trio.lowlevel.current_trio_token() is self._token
        except RuntimeError:
            in_trio = False
        if in_trio:
            self._waker.set()
        else:
            try:
                self._token.run_sync_soon(self.wakeup)
            except trio.RunFinishedError:
                pass

    def kick(self) -> None:
        """A command queued output: write it now from the calling task if the stream is
        idle (nothing being written, plain TCP), else wake the writer. On the trio thread
        only (``wakeup`` is the thread-safe one).

        The socket is written with one non-blocking call, so the caller is never suspended
        and a cancellation cannot cut a frame; what it does not take goes to the writer.
        A command that queued nothing and moved no deadline wakes nobody; one that only
        settled or accepted deliveries wakes the writer, so those dispositions are batched
        and ride with whatever frame the task writes next (a reply's accept goes out with the
        next request).
        """
        if self._fd is None or self._writing or self._broken is not None or self.done:
            self._waker.set()
            return
        if not self.engine.bytes_to_send:
            if self.engine.has_data_to_send:
                self._waker.set()
            return
        self._flush()

    def flush_within(self, delay: float) -> None:
        """Write the engine's output within ``delay`` seconds at the latest, unless a command
        writes it sooner: how a delayed acknowledgement rides with the caller's next frame
        without a writer turn per call. Moves the sleeping writer's cancel-scope deadline; wakes
        nobody now. trio thread only."""
        # TLS (no direct writes), or a writer not asleep in its scope (busy, already woken,
        # or a server's timer-driven pump, whose connections make no requests): the writer
        # writes it now with the rest.
        if self._fd is None or not self._writer_wakes_by(trio.current_time() + delay):
            self._waker.set()

    def _writer_wakes_by(self, at: float) -> bool:
        """Make the writer, asleep in its cancel scope, wake by ``at`` (its scope's deadline
        brought forward, never put back), with no turn now; False when it is not asleep there
        (writing, woken already, broken, done, or timer-driven: no scope), so the caller
        wakes it. A turn now would also write, as a write of its own, what a command left to
        ride with its next frame (a reply's accept, a requester's credit top-up)."""
        scope = self._scope
        if scope is None or self._writing or self._waker.woken or self._broken is not None or self.done:
            return False
        if at < scope.deadline:
            scope.deadline = at  # the sleeping writer wakes then, takes a new scope and a turn
        return True

    def _flush(self, now: float | None = None) -> None:
        """Tick (at ``now``, default the current time), take the engine's output and write it
        to the socket at once; wake the writer only for what it must do (the rest of a
        partial write, a finished engine, an earlier deadline when there is no timer).
        Caller checked: plain TCP, nothing being written, not broken."""
        engine = self.engine
        deadline = engine.tick(trio.current_time() if now is None else now)
        self._deliver(engine.take_events())
        out = engine.data_to_send()  # counted as written at this tick (idle.py)
        if out:
            try:
                sent = os.write(self._fd, out)  # type: ignore[arg-type]  # checked by the caller
            except BlockingIOError:
                sent = 0
            except OSError:
                sent = 0  # broken: the writer's send fails the same way and says why
            if sent < len(out):
                self._backlog = out[sent:]
                self._writing = True
                self.in_flight = len(self._backlog)
                self._waker.set()
                return
            if self._on_written is not None:
                self._on_written()
        self._plan(deadline)

    def _plan(self, deadline: float | None) -> None:
        """After a tick outside the writer: make sure someone wakes this pump at ``deadline``
        (the engine's next one). With a timer, an earlier deadline is filed with it here; a
        later one is found when the current entry comes due. Without one, the writer is woken
        to sleep until an earlier deadline."""
        if self.engine.finished:
            self._waker.set()
            return
        timer = self._timer
        if timer is not None:
            self._deadline = deadline
            if deadline is not None and (self._timer_at is None or deadline < self._timer_at):
                timer.schedule(self, deadline)
            return
        planned = self._deadline
        if deadline is not None and (planned is None or deadline < planned):
            if self._writer_wakes_by(deadline):
                self._deadline = deadline
            else:
                self._waker.set()
        else:
            self._deadline = deadline  # later: the writer's wait ends early and re-plans

    def _due(self, now: float) -> None:
        """The timer found this pump's deadline due (``now``). On an idle plain TCP stream,
        tick and write what that makes (a heartbeat) from the timer's task, without a writer
        turn; otherwise, or if that fails, wake the writer to do it."""
        if self._fd is None or self._writing or self._broken is not None:
            self._waker.set()
            return
        try:
            self._flush(now)
        except Exception as exc:  # a bug: cost this connection only, as ``_guard`` does
            log.error("internal error on a connection's deadline; closing it", exc_info=exc)
            try:
                self._lost(f"internal error: {type(exc).__name__}: {exc}")
            except Exception:
                log.exception("cleaning up a failed connection failed")

    def _deliver(self, events: list[Event]) -> None:
        if events:
            self._on_events(events)

    def _lost(self, reason: str) -> None:
        if self._broken is None and not self.engine.finished:
            self._broken = reason
            self._on_lost(reason)
        self._waker.set()

    async def run(self) -> None:
        """Pump until done; then close the stream. Never raises for I/O failures, and a bug
        in event handling costs this connection only (it is logged and the stream closed)."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._guard, self._reader, nursery.cancel_scope)
                await self._guard(self._writer, nursery.cancel_scope)
                nursery.cancel_scope.cancel()
        finally:
            self.done = True
            with trio.CancelScope(shield=True):
                with trio.move_on_after(1):
                    try:
                        if self.goodbye is not None and self._broken is None and not self.engine.finished:
                            # Cancelled while open: the writer only returns otherwise once the
                            # engine is finished or the stream broke.
                            self.engine.close(self.goodbye)
                            await self.stream.send_all((self._backlog or b"") + self.engine.data_to_send())
                        await self.stream.aclose()
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                        pass
            if not self.engine.finished and self._broken is None:
                self._lost("the connection's I/O was stopped")

    async def _guard(self, task: Callable[[], Awaitable[None]], scope: trio.CancelScope) -> None:
        try:
            await task()
        except Exception as exc:
            log.error("internal error on a connection; closing it", exc_info=exc)
            try:
                self._lost(f"internal error: {type(exc).__name__}: {exc}")
            except Exception:
                log.exception("cleaning up a failed connection failed")
            scope.cancel()

    async def _writer(self) -> None:
        if self._timer is not None:
            # The timer wakes us at our deadlines: no cancel scope at all (one costs a
            # CancelStatus and its two sets for the connection's life).
            await self._writer_turns(None)
            return
        # One cancel scope serves every park until its deadline fires (a heartbeat is due):
        # only then is a new one made. A wake-up moves no deadline and allocates nothing.
        while True:
            with trio.CancelScope() as scope:
                self._scope = scope
                if await self._writer_turns(scope):
                    return

    async def _writer_turns(self, scope: trio.CancelScope | None) -> bool:
        """Run writer turns (inside ``scope``, which sleeps until the engine's deadline; with
        a timer there is none). True: done (the engine finished or the stream broke); False:
        the scope's deadline fired as we were woken, so run again in a new one."""
        engine = self.engine
        waker = self._waker
        timer = self._timer
        while self._broken is None:
            waker.woken = False
            deadline = engine.tick(trio.current_time())
            self._deliver(engine.take_events())
            out = engine.data_to_send()
            backlog = self._backlog
            if backlog is not None:  # a direct write's rest goes first
                self._backlog = None
                out = backlog + out
            if out:
                self.in_flight = len(out)
                self._writing = True
                try:
                    await self.stream.send_all(out)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    self._lost(describe_failure(exc))
                    return True
                finally:
                    self.in_flight = 0
                    self._writing = False
                if self._on_written is not None:
                    self._on_written()
                continue  # the engine counted it as written at this turn's tick (idle.py)
            if engine.finished:
                return True
            if waker.woken:
                continue
            self._deadline = deadline
            if scope is None:
                # Only an earlier deadline needs a new timer entry; a later one is found
                # when the current entry comes due (heartbeat deadlines mostly move later).
                if timer is not None and deadline is not None and (self._timer_at is None or deadline < self._timer_at):
                    timer.schedule(self, deadline)
                await waker.park()
                continue
            scope.deadline = math.inf if deadline is None else deadline
            await waker.park()
            if scope.cancel_called:  # the deadline passed as we were woken: a send in
                return False  # this scope would be cancelled half-way, so take a new one
            scope.deadline = math.inf
        return True

    async def _reader(self) -> None:
        # Plain TCP (``_fd``): wait until readable, then one ``os.read``. ``receive_some``
        # tries a read first and waits only after it fails, so every frame of an idle
        # connection (a heartbeat) cost a failed read and its exception as well. After a
        # read that filled the buffer, more is likely waiting: read again after a checkpoint.
        fd = self._fd
        more = False
        while True:
            try:
                if fd is None:
                    data = await self.stream.receive_some(READ_SIZE)
                else:
                    if more:
                        await trio.lowlevel.checkpoint()
                    while True:
                        if not more:
                            await trio.lowlevel.wait_readable(fd)
                        try:
                            data = os.read(fd, READ_SIZE)
                            break
                        except BlockingIOError:
                            more = False
                    more = len(data) == READ_SIZE
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                self._lost(describe_failure(exc))
                return
            if not self._took(data):
                return

    def read_now(self) -> bool:
        """Read what the socket holds now, without waiting, and take it in as the reader
        task would: a waiting task's busy polling (``_busy_poll``) gets its answer without a
        scheduler round through the reader. Plain TCP only (``False`` otherwise); ``True``
        when anything (or the end of the stream) was read. trio thread only; never suspends."""
        fd = self._fd
        if fd is None or self._broken is not None or self.engine.finished:
            return False
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return False
        except OSError as exc:
            self._lost(describe_failure(exc))
            return True
        self._took(data)
        return True

    def _took(self, data: bytes | bytearray) -> bool:
        """Take in ``data`` read from the socket (``b""``: the peer closed it); False once
        reading is over."""
        engine = self.engine
        if not data:
            if not engine.finished:
                self._lost("the peer closed the socket before the AMQP close handshake")
            self._waker.set()
            return False
        events = engine.receive_data(data)
        if events:
            self._deliver(events)
        if engine.finished:
            self._waker.set()
            return False
        if engine.bytes_to_send and self._fd is not None and not self._writing and self._broken is None:
            # Frames the input made the engine say (a flow, an answer) go out from here,
            # as a command's do, without a writer turn. Dispositions alone are left to
            # the writer (below): they are batched, and a task woken by this input may
            # add its own (an accept) or a next request for them to ride with.
            self._flush()
            return True
        # Stamp the read by ticking here and wake the writer only if that queued a frame
        # (or, without a timer, moved the deadline earlier): an idle connection's
        # heartbeat costs no writer turn.
        deadline = engine.tick(trio.current_time())
        if engine.has_data_to_send:
            self._waker.set()
        else:
            self._plan(deadline)
        return True
