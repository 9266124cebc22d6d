"""Reconnecting for both async adapters (trio, asyncio), written once (docs/reconnect.md).

Owns: when an outage begins (the pump ended while the connection was not being closed),
the dialling task that performs the ``_redialing`` steps (a ``Dial`` through the adapter's
``_dial``: a new stream, engine and pump, ``_resume.rebind``, then waiting for the OPEN and
every link's ATTACH), and ``retry``: a call that failed because of an outage waits for its
end and is performed again.
What differs between trio and asyncio (how to sleep, open a stream, start a task) is the
``Dialer`` the adapter's connection provides. Must never: import trio or asyncio.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Protocol, TypeVar

from ._api import PENDING, ClientCore
from ._reconnect import Outage, Plan, ReconnectSettings, begin_outage
from ._redialing import Dial, Sleep, end_outage, failed_call, over, redial
from .errors import AMQPError
from .url import URL

__all__ = ["AsyncRedialer", "Dialer"]

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
        dialer = self.dialer
        steps = redial(self.core, plan, cause, self.settings, self.url, stopped=lambda: self.stopped, now=dialer._now)
        reply: Exception | None = None
        while True:
            try:
                step = steps.send(reply)
            except StopIteration:
                return
            reply = None
            if isinstance(step, Sleep):
                await dialer._sleep(step.seconds)
            elif isinstance(step, Dial):
                try:
                    await dialer._dial(step.url)
                except (AMQPError, OSError) as exc:
                    reply = exc
            else:
                end_outage(self.core, self.outage, step.error)
                if step.error is None:
                    self.url = step.url
                self.core.wake_all()
                dialer._changed()

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
                error = failed_call(exc, outage, core, generation, retry_ok=retry_ok, doubt=doubt)
                if error is not None:
                    raise error
                await self.dialer._wait(lambda: True if outage.back(reconnects) or core.closing else PENDING, None, "reconnecting")
                error = over(outage, core, exc)
                if error is not None:
                    raise error
