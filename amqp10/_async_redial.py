"""Reconnecting for both async adapters (trio, asyncio), written once (docs/reconnect.md).

Owns: when an outage begins (the pump ended while the connection was not being closed),
the dialling task (``Plan`` delays, each dial through the adapter's ``dial``: a new stream,
engine and pump, ``_resume.rebind``, then waiting for the OPEN and every link's ATTACH), and
``retry``: a call that failed because of an outage waits for its end and is performed again.
What differs between trio and asyncio (how to sleep, open a stream, start a task) is the
``Dialer`` the adapter's connection provides. Must never: import trio or asyncio.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Protocol, TypeVar

from ._api import PENDING, ClientCore
from ._reconnect import Outage, OutageState, Plan, ReconnectSettings, begin_outage
from .errors import AMQPError, ConnectionClosedError, DeliveryInDoubtError, ReconnectFailedError, Timeout
from .url import URL

__all__ = ["AsyncRedialer", "Dialer"]

log = logging.getLogger("amqp10.client")

_T = TypeVar("_T")



class Dialer(Protocol):
    """What an async adapter's connection provides for reconnecting."""

    def _now(self) -> float: ...

    async def _sleep(self, seconds: float) -> None: ...

    def _spawn(self, task: Callable[[], Awaitable[None]]) -> None: ...

    async def _dial(self, url: URL) -> None:
        """Open a stream to ``url``, rebind the core to a new engine, start its pump, and
        wait for the OPEN and the links (raise if that fails)."""
        ...

    async def _wait(self, predicate: Callable[[], Any], timeout: float | None, what: str) -> Any: ...

    def _changed(self) -> None: ...


class AsyncRedialer:
    """One async client connection's reconnecting."""

    def __init__(self, dialer: Dialer, core: ClientCore, settings: ReconnectSettings, url: URL) -> None:
        self.dialer = dialer
        self.core = core
        self.settings = settings
        self.outage = Outage()
        self.url = url
        self.stopped = False
        #: the first OPEN arrived (before it, only a redirect makes a reconnect)
        self.opened = False

    def lost(self) -> None:
        """The pump ended: begin an outage if reconnecting applies (on the loop)."""
        plan = begin_outage(self.core, self.outage, self.settings, self.url, opened=self.opened, stopping=self.stopped, now=self.dialer._now())
        if plan is None:
            return
        cause = self.outage.cause
        assert cause is not None  # begin_outage began it with one
        self.dialer._spawn(lambda: self._redial(plan, cause))

    async def _redial(self, plan: Plan, cause: Exception) -> None:
        callback = self.settings.on_disconnect
        if callback is not None:
            try:
                callback(cause)
            except Exception:
                log.exception("on_disconnect failed")
        last: Exception = cause
        while True:
            step = plan.next(self.dialer._now())
            if step is None or self.stopped or self.core.closing:
                what = "the connection was closed" if self.stopped or self.core.closing else f"{plan.attempt} attempts"
                error = ReconnectFailedError(f"could not reconnect to {self.url} ({what}); last failure: {last}")
                error.__cause__ = last
                self._finish(error)
                return
            url, delay = step
            if delay:
                await self.dialer._sleep(delay)
                if self.stopped or self.core.closing:
                    continue
            try:
                await self.dialer._dial(url)
            except (AMQPError, OSError) as exc:
                log.info("reconnecting to %s failed: %s", url, exc)
                last = exc
                continue
            self.url = url
            self._finish(None)
            done = self.settings.on_reconnect
            if done is not None:
                try:
                    done(str(url))
                except Exception:
                    log.exception("on_reconnect failed")
            return

    def _finish(self, error: Exception | None) -> None:
        if error is None:
            self.outage.end()
            self.core.reconnecting = False
        else:
            self.outage.fail(error)
            self.core.reconnecting = False
            if isinstance(error, AMQPError):
                self.core.error = error
            self.core.finished = True
        self.core.wake_all()
        self.dialer._changed()

    async def retry(self, perform: Callable[[], Awaitable[_T]], retry_ok: bool, doubt: bool = False) -> _T:
        """Perform a call; if it failed because the connection was lost (and ``retry_ok``),
        wait for the reconnect and perform it again (``ReconnectFailedError`` if it gave up).
        Bounded: each outage ends within the policy's bounds."""
        outage = self.outage
        core = self.core
        while True:
            generation = outage.generation
            reconnects = outage.reconnects
            try:
                return await perform()
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
                await self.dialer._wait(lambda: True if outage.back(reconnects) or core.closing else PENDING, None, "reconnecting")
                self._raise_if_over()

    def _raise_if_over(self) -> None:
        if self.outage.state is OutageState.FAILED:
            if self.outage.failure is not None:
                raise self.outage.failure
            raise self.core.error or ConnectionClosedError(f"the connection to {self.core.peer} is closed")
        if self.core.closing:
            raise ConnectionClosedError(f"the connection to {self.core.peer} is closed (you closed it)")
