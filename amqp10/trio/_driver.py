"""The trio adapter's pump: one stream <-> one engine, as a reader task and a writer task.

Owns: moving bytes between a ``trio.abc.Stream`` (TCP or ``trio.SSLStream``) and a sans-IO
engine, ticking it with ``trio.current_time()`` and sleeping until its next deadline or a
wake-up. The writer is the only task that sends, the reader the only one that receives, and
neither is ever cancelled by a user's cancelled call: user code only changes engine state and
wakes the writer, so cancelling a user's ``send``/``receive`` can never cut a frame in half.

Must never: interpret events (the owner's callback does) or block the trio thread.
"""

from __future__ import annotations

import logging
import math
import ssl
from typing import Awaitable, Callable

import trio  # type: ignore[import-untyped,unused-ignore]  # trio < 0.23 ships no py.typed

from ..codec.spec import Error
from ..engine.connection import Connection as EngineConnection
from ..engine.events import Event

__all__ = ["Pump", "describe_failure", "READ_SIZE"]

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

    Attributes:
        in_flight: bytes taken from the engine that the stream has not accepted yet.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        engine: EngineConnection,
        on_events: Callable[[list[Event]], None],
        on_lost: Callable[[str], None],
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self.stream = stream
        self.engine = engine
        self._on_events = on_events
        self._on_lost = on_lost
        self._on_written = on_written
        self.in_flight = 0
        # The writer's wake-up, reused for the connection's life: a flag and the parked
        # writer task, never a new Event or CancelScope per turn (with 10,000 connections
        # those lived until the next heartbeat and made the old GC generation churn).
        self._woken = False
        self._parked: object | None = None
        self._abort_fn = self._abort
        self._broken: str | None = None
        self.done = False
        #: sent as CLOSE if the pump is cancelled while the connection is open (a server
        #: shutting down says so rather than dropping the socket)
        self.goodbye: Error | None = None
        self._token = trio.lowlevel.current_trio_token()

    def wakeup(self) -> None:
        """The engine has new output or needs a tick. Thread-safe."""
        try:
            in_trio = trio.lowlevel.current_trio_token() is self._token
        except RuntimeError:
            in_trio = False
        if in_trio:
            self._set_woken()
        else:
            try:
                self._token.run_sync_soon(self.wakeup)
            except trio.RunFinishedError:
                pass

    def _set_woken(self) -> None:
        # trio thread only
        self._woken = True
        task = self._parked
        if task is not None:
            self._parked = None
            trio.lowlevel.reschedule(task)

    def _abort(self, raise_cancel: object) -> object:
        self._parked = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def _park(self) -> None:
        """Sleep until ``_set_woken`` (or the enclosing scope's deadline, which raises
        ``Cancelled``)."""
        self._parked = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort_fn)

    def _deliver(self, events: list[Event]) -> None:
        if events:
            self._on_events(events)

    def _lost(self, reason: str) -> None:
        if self._broken is None and not self.engine.finished:
            self._broken = reason
            self._on_lost(reason)
        self._set_woken()

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
                            await self.stream.send_all(self.engine.data_to_send())
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
        # One cancel scope serves every park until its deadline fires (a heartbeat is due):
        # only then is a new one made. A wake-up moves no deadline and allocates nothing.
        while await self._writer_turns():
            pass

    async def _writer_turns(self) -> bool:
        """Run writer turns inside one cancel scope; True: the scope's deadline fired (run
        again), False: done (the engine finished or the stream broke)."""
        engine = self.engine
        with trio.CancelScope() as scope:
            while self._broken is None:
                self._woken = False
                deadline = engine.tick(trio.current_time())
                self._deliver(engine.take_events())
                out = engine.data_to_send()
                if out:
                    self.in_flight = len(out)
                    try:
                        await self.stream.send_all(out)
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                        self._lost(describe_failure(exc))
                        return False
                    finally:
                        self.in_flight = 0
                    if self._on_written is not None:
                        self._on_written()
                    continue  # the engine counted it as written at this turn's tick (idle.py)
                if engine.finished:
                    return False
                if self._woken:
                    continue
                scope.deadline = math.inf if deadline is None else deadline
                await self._park()
                if scope.cancel_called:  # the deadline passed as we were woken: a send in
                    return True  # this scope would be cancelled half-way, so take a new one
                scope.deadline = math.inf
            return False
        return True

    async def _reader(self) -> None:
        engine = self.engine
        while True:
            try:
                data = await self.stream.receive_some(READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                self._lost(describe_failure(exc))
                return
            if not data:
                if not engine.finished:
                    self._lost("the peer closed the socket before the AMQP close handshake")
                self._set_woken()
                return
            self._deliver(engine.receive_data(data))
            self._set_woken()
            if engine.finished:
                return
