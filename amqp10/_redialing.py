"""Reconnecting as steps, written once for the blocking, trio and asyncio adapters
(docs/reconnect.md), the way ``_calls`` writes each call once.

Owns: the order of a reconnect's work — tell ``on_disconnect``, ask the ``Plan`` where and
when to dial next, wait, dial, end the outage (reached or given up), tell ``on_reconnect`` —
as a generator of ``Sleep`` / ``Dial`` / ``Finish`` steps; the outage's end on the
``ClientCore``; and what a call that failed during an outage does next (raise its error,
raise ``DeliveryInDoubtError``, or wait for the reconnect and be performed again).
Must never: do I/O, sleep or read a clock. The adapter performs each step (the blocking one
on a thread, the async ones in a task) and passes the time in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generator, Union

from ._reconnect import Outage, OutageState, Plan, ReconnectSettings
from .errors import AMQPError, ConnectionClosedError, DeliveryInDoubtError, ReconnectFailedError, Timeout
from .url import URL

if TYPE_CHECKING:
    from ._api import ClientCore

__all__ = ["Sleep", "Dial", "Finish", "RedialStep", "redial", "end_outage", "failed_call", "over"]

log = logging.getLogger("amqp10.client")


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds`` before the next dial; the adapter cuts it short when the user closes."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Dial:
    """Open a new transport and engine to ``url``, rebind the core to it, and wait for the
    OPEN and every link's ATTACH. Reply with the exception if that failed, else ``None``."""

    url: URL


@dataclass(frozen=True, slots=True)
class Finish:
    """The outage is over: ``error`` is ``None`` once connected to ``url`` again, else the
    ``ReconnectFailedError`` every waiting call raises. The adapter applies ``end_outage``
    under its own lock and wakes its waiters."""

    url: URL
    error: Exception | None


RedialStep = Union[Sleep, Dial, Finish]


def redial(
    core: "ClientCore",
    plan: Plan,
    cause: Exception,
    settings: ReconnectSettings,
    url: URL,
    *,
    stopped: Callable[[], bool],
    now: Callable[[], float],
) -> Generator[RedialStep, "Exception | None", None]:
    """The steps of one outage, from the loss (``cause``) of the connection to ``url``.

    ``stopped()`` says the user closed the connection; ``now()`` is the adapter's clock.
    Bounded: ``plan.next`` ends the dialling within the policy's attempts and deadline.
    """
    _tell(settings.on_disconnect, cause, "on_disconnect")
    last: Exception = cause
    while True:
        step = plan.next(now())
        closed = stopped() or core.closing
        if step is None or closed:
            what = "the connection was closed" if closed else f"{plan.attempt} attempts"
            error = ReconnectFailedError(f"could not reconnect to {url} ({what}); last failure: {last}")
            error.__cause__ = last
            yield Finish(url, error)
            return
        target, delay = step
        if delay:
            yield Sleep(delay)
            if stopped() or core.closing:
                continue  # the next turn gives up, saying why
        failure = yield Dial(target)
        if failure is not None:
            log.info("reconnecting to %s failed: %s", target, failure)
            last = failure
            continue
        yield Finish(target, None)
        _tell(settings.on_reconnect, str(target), "on_reconnect")
        return


def _tell(callback: "Callable[[Any], object] | None", value: object, name: str) -> None:
    if callback is None:
        return
    try:
        callback(value)
    except Exception:  # the user's callback must not stop the reconnecting
        log.exception("%s failed", name)


def end_outage(core: "ClientCore", outage: Outage, error: Exception | None) -> None:
    """Apply a ``Finish``: connected again (``error`` is ``None``), or given up for good."""
    core.reconnecting = False
    if error is None:
        outage.end()
        return
    outage.fail(error)
    if isinstance(error, AMQPError):
        core.error = error
    core.finished = True


def failed_call(
    exc: AMQPError, outage: Outage, core: "ClientCore", generation: int, *, retry_ok: bool, doubt: bool
) -> Exception | None:
    """A call begun in outage ``generation`` raised ``exc``: the exception to raise now
    (``exc`` itself, or ``DeliveryInDoubtError`` for an at-most-once send the loss may have
    cut), or ``None``: the loss of the connection caused it, so wait for ``outage.back`` and
    perform the call again."""
    if isinstance(exc, Timeout) or not (retry_ok or doubt) or core.closing:
        return exc
    if not outage.retry_after(generation, core.finished or core.error is not None):
        return exc  # the call's own error, not the connection's loss
    if doubt:
        error = DeliveryInDoubtError(
            f"the connection to {core.peer} was lost while an at-most-once message was being sent: "
            "it may or may not have arrived, and is not sent again"
        )
        error.__cause__ = exc
        return error
    return None


def over(outage: Outage, core: "ClientCore", exc: Exception) -> Exception | None:
    """After waiting for ``outage.back``: the error that ends a retried call (the reconnect
    gave up, or the user closed the connection), or ``None`` to perform it again."""
    if outage.state is OutageState.FAILED:
        return outage.failure or core.error or exc
    if core.closing:
        return ConnectionClosedError(f"the connection to {core.peer} is closed (you closed it)")
    return None
