"""The blocking adapter's reconnecting: a thread that dials again after the connection is
lost, and the retry of calls that failed meanwhile (docs/reconnect.md).

Owns: when an outage begins (the socket's ``on_closed``, in the I/O thread), and the dialling
thread that performs the ``_redialing`` steps: a ``Sleep`` on an ``Event`` a close
interrupts; a ``Dial`` (TCP, TLS, a new engine, ``_resume.rebind`` under the lock, a new
``Channel`` on the same reactor, then waiting for the OPEN and every link's ATTACH); a
``Finish`` under the lock. ``retry``: a call that failed because of an outage waits for its
end and is performed again. Must never: decide what is re-sent (``_resume``), where to dial
(``_reconnect.Plan``), or the order of the dialling (``_redialing``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Callable, TypeVar

from .._api import ClientCore
from .._options import ClientOptions
from .._reconnect import Outage, Plan, ReconnectSettings, begin_outage
from .._redialing import Dial, Finish, Sleep, end_outage, failed_call, over, redial
from .._resume import attached_again, rebind
from ..engine.connection import Connection as EngineConnection
from ..errors import AMQPError, ConnectionClosedError
from ..url import URL
from ._reactor import Channel, Reactor
from ._transport import Transport, dial

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
        steps = redial(self.core, plan, cause, self.settings, self.url, stopped=self._stop.is_set, now=time.monotonic)
        reply: Exception | None = None
        while True:
            try:
                step = steps.send(reply)
            except StopIteration:
                return
            reply = None
            if isinstance(step, Sleep):
                self._stop.wait(step.seconds)  # a close cuts it short
            elif isinstance(step, Dial):
                try:
                    self._dial(step.url)
                except (AMQPError, OSError) as exc:
                    reply = exc
            else:
                self._finish(step)

    def _dial(self, url: URL) -> None:
        options = self.options
        timeout = options.timeout
        transport = dial(url, options.ssl_context, timeout)
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
            self.url = url  # now, not at Finish: connect() may return on this dial's OPEN
        self.reactor.wakeup()
        self.sync.wait(lambda: attached_again(self.core), timeout, f"reconnecting to {url}")

    def _finish(self, step: Finish) -> None:
        with self.reactor.lock:
            end_outage(self.core, self.outage, step.error)
            if step.error is None:
                self.url = step.url
            self.reactor.stop_when_idle = True
            if step.error is not None:
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
                error = failed_call(exc, outage, core, generation, retry_ok=retry_ok, doubt=doubt)
                if error is not None:
                    raise error
                with self.reactor.lock:
                    while not outage.back(reconnects) and not core.closing:
                        self.reactor.changed.wait(0.5)
                    error = over(outage, core, exc)
                    if error is not None:
                        raise error
