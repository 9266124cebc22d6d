"""The blocking adapter's reconnecting: a thread that dials again after the connection is
lost, and the retry of calls that failed meanwhile (docs/reconnect.md).

Owns: when an outage begins (the socket's ``on_closed``, in the I/O thread), the dialling
thread (``Plan`` delays on an ``Event`` a close interrupts; each dial: TCP, TLS, a new engine,
``_resume.rebind`` under the lock, a new ``Channel`` on the same reactor, then waiting for the
OPEN and every link's ATTACH), and ``retry``: a call that failed because of an outage waits
for its end and is performed again. Must never: decide what is re-sent (``_resume``) or
where to dial (``_reconnect.Plan``).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Callable, TypeVar

from .._api import ClientCore
from .._options import ClientOptions
from .._reconnect import Outage, OutageState, Plan, ReconnectSettings, begin_outage
from .._resume import attached_again, rebind
from ..engine.connection import Connection as EngineConnection
from ..errors import AMQPError, ConnectionClosedError, DeliveryInDoubtError, ReconnectFailedError, Timeout
from ..url import URL
from ._reactor import Channel, Reactor
from ._transport import Transport

if TYPE_CHECKING:
    from ._client import _Sync

__all__ = ["Redialer"]

log = logging.getLogger("amqp10.blocking")

_T = TypeVar("_T")



class Redialer:
    """One client connection's reconnecting (created by ``connect``)."""

    def __init__(
        self,
        options: ClientOptions,
        settings: ReconnectSettings,
        reactor: Reactor,
        core: ClientCore,
        sync: "_Sync",
        new_channel: Callable[[Transport, EngineConnection], Channel],
    ) -> None:
        self.options = options
        self.settings = settings
        self.reactor = reactor
        self.core = core
        self.sync = sync
        self.new_channel = new_channel
        self.outage = Outage()
        self.url: URL = options.url
        self._stop = threading.Event()
        #: the first OPEN arrived (before it, only a redirect makes a reconnect)
        self.opened = False
        self._thread: threading.Thread | None = None

    # -- the outage ---------------------------------------------------------------------------
    def on_lost(self) -> None:
        """The socket closed (I/O thread, lock held): begin an outage if reconnecting applies."""
        plan = begin_outage(self.core, self.outage, self.settings, self.url, opened=self.opened, stopping=self._stop.is_set(), now=time.monotonic())
        if plan is None:
            return
        cause = self.outage.cause
        assert cause is not None  # begin_outage began it with one
        self.sync.resilience = self
        self.reactor.stop_when_idle = False  # the reactor serves the next socket
        self._thread = threading.Thread(target=self._redial, args=(plan, cause), name=f"amqp10 reconnect {self.url}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The user closes the connection: stop dialling."""
        self._stop.set()

    def _redial(self, plan: Plan, cause: Exception) -> None:
        callback = self.settings.on_disconnect
        if callback is not None:
            try:
                callback(cause)
            except Exception:
                log.exception("on_disconnect failed")
        last: Exception = cause
        while True:
            step = plan.next(time.monotonic())
            if step is None or self._stop.is_set() or self.core.closing:
                what = "the connection was closed" if self._stop.is_set() or self.core.closing else f"{plan.attempt} attempts"
                error = ReconnectFailedError(f"could not reconnect to {self.url} ({what}); last failure: {last}")
                error.__cause__ = last
                self._finish(error)
                return
            url, delay = step
            if delay and self._stop.wait(delay):
                continue
            try:
                self._dial(url)
            except (AMQPError, OSError) as exc:
                log.info("reconnecting to %s failed: %s", url, exc)
                last = exc
                continue
            self._finish(None)
            callback_ok = self.settings.on_reconnect
            if callback_ok is not None:
                try:
                    callback_ok(str(url))
                except Exception:
                    log.exception("on_reconnect failed")
            return

    def _dial(self, url: URL) -> None:
        options = self.options
        timeout = options.timeout
        try:
            sock = socket.create_connection((url.host, url.port), timeout=timeout)
        except OSError as exc:
            raise ConnectionClosedError(f"could not connect to {url}: {exc}") from exc
        try:
            transport = Transport(sock, options.ssl_context, server_hostname=url.host if options.ssl_context else None)
        except Exception:
            sock.close()
            raise
        engine = EngineConnection(options.config)
        engine.open()
        with self.reactor.lock:
            if self._stop.is_set() or self.core.closing:
                transport.close()
                raise ConnectionClosedError("the connection was closed")
            rebind(self.core, engine, str(url))
            self.core.unwritten = lambda: engine.bytes_to_send + transport.buffered
            channel = self.new_channel(transport, engine)
            self.reactor.add_channel(channel)
            self.sync.channel = channel
            self.url = url
        self.reactor.wakeup()
        self.sync.wait(lambda: attached_again(self.core), timeout, f"reconnecting to {url}")

    def _finish(self, error: Exception | None) -> None:
        with self.reactor.lock:
            if error is None:
                self.outage.end()
                self.core.reconnecting = False
                self.reactor.stop_when_idle = True
            else:
                self.outage.fail(error)
                self.core.reconnecting = False
                self.core.error = error if isinstance(error, AMQPError) else self.core.error
                self.core.finished = True
                self.reactor.stop_when_idle = True
                self.reactor.wakeup()
            self.core.wake_all()
            self.reactor.changed.notify_all()

    # -- calls --------------------------------------------------------------------------------
    def retry(self, perform: Callable[[], _T], retry_ok: bool, doubt: bool = False) -> _T:
        """Perform a call; if it failed because the connection was lost (and ``retry_ok``),
        wait for the reconnect and perform it again. Raises ``ReconnectFailedError`` when the
        reconnect gave up. Bounded: each outage ends within the policy's bounds."""
        outage = self.outage
        core = self.core
        while True:
            generation = outage.generation
            reconnects = outage.reconnects
            try:
                return perform()
            except AMQPError as exc:
                if isinstance(exc, Timeout) or not (retry_ok or doubt) or core.closing:
                    raise
                if not outage.retry_after(generation, core.finished or core.error is not None):
                    raise
                if doubt:
                    raise DeliveryInDoubtError(
                        f"the connection to {core.peer} was lost while an at-most-once message was being sent: "
                        "it may or may not have arrived, and is not sent again"
                    ) from exc
                with self.reactor.lock:
                    while not outage.back(reconnects) and not core.closing:
                        self.reactor.changed.wait(0.5)
                    if outage.state is OutageState.FAILED:
                        raise outage.failure or core.error or exc
                    if core.closing:
                        raise ConnectionClosedError(f"the connection to {core.peer} is closed (you closed it)")
