"""Idle time-out bookkeeping (spec 2.4.5) driven by ``now`` values passed in.

Owns: when we must send an empty frame so the peer does not time us out, and when the peer
has been silent for longer than our own idle-time-out. Must never: read a clock (the adapter
passes ``now``), or send anything itself.

Spec 2.4.5: each peer advertises its idle-time-out in OPEN; the other must send a frame at
least that often. The margin for latency is the advertiser's: it SHOULD advertise half its
real threshold (we do, ``connection.py``). So the advertised value is already the interval
to keep, and halving it again (as we used to) sent heartbeats at a quarter of the peer's
threshold, twice as often as needed. We send once ``HEARTBEAT_FACTOR`` (3/4) of the peer's
advertised value has passed since we last wrote: before it expires, with a quarter of it to
spare for the transport and for an adapter that ticks a little late, and still within the
threshold of a peer that advertises its full value without halving it (3/4 < 1).

We close with ``amqp:resource-limit-exceeded`` once our own value passes with no complete
frame read: a byte-at-a-time trickle of an unfinished frame is not a frame (the connection
counts frames, not bytes, before it calls ``received``).

The clock rule (the engine never reads a clock, so it can only use the times it is given):

- bytes taken by ``data_to_send()`` count as written at the last ``now`` the engine saw. That
  is never later than the real write, so a heartbeat is never late; an adapter that ticks
  only at the deadlines ``tick`` returns, and sends right after ticking, needs nothing else.
- frames completed by ``receive_data()`` count as read at the next ``now``: never earlier than the
  real read, so a peer gets the benefit of the doubt before we time it out.
"""

from __future__ import annotations

__all__ = ["IdleTimer", "IdleAction", "HEARTBEAT_FACTOR"]

import enum

#: The fraction of the peer's advertised idle-time-out after which we send an empty frame.
HEARTBEAT_FACTOR = 0.75


class IdleAction(enum.Enum):
    """What ``tick`` asks the connection to do."""

    NOTHING = "nothing"
    SEND_HEARTBEAT = "send heartbeat"
    EXPIRE = "expire"


class IdleTimer:
    """Deadlines for heartbeats (ours) and for the peer's silence.

    Args:
        local_timeout: our idle-time-out in seconds, or ``None``.

    The connection calls ``received()`` / ``sent()`` as frames move (no clock needed: see the
    module's clock rule), ``observe(now)`` for every ``now`` it is given, and ``tick(now)``
    once the idle-time-outs apply.
    """

    __slots__ = ("local_timeout", "remote_timeout", "_now", "_last_read", "_last_write", "_read")

    def __init__(self, local_timeout: float | None) -> None:
        self.local_timeout = local_timeout
        self.remote_timeout: float | None = None
        self._now: float | None = None  # the last time we were told
        self._last_read: float | None = None
        self._last_write: float | None = None
        self._read = False

    def observe(self, now: float) -> None:
        """The adapter told the engine the time (``tick``), even if no time-out applies yet."""
        self._now = now

    def received(self) -> None:
        """A complete frame or header arrived (a heartbeat counts); stamped at the next ``now``."""
        self._read = True

    def sent(self) -> None:
        """Bytes left, at the last ``now`` we saw (before any ``now``: at the first one)."""
        self._last_write = self._now

    def tick(self, now: float) -> tuple[IdleAction, float | None]:
        """Return what to do now and the next deadline (``None``: no deadline)."""
        self._now = now
        if self._last_read is None or self._read:
            self._last_read = now
            self._read = False
        if self._last_write is None:
            self._last_write = now
        action = IdleAction.NOTHING
        deadlines: list[float] = []
        if self.local_timeout is not None:
            expiry = self._last_read + self.local_timeout
            if now >= expiry:
                return IdleAction.EXPIRE, None
            deadlines.append(expiry)
        if self.remote_timeout:
            interval = self.remote_timeout * HEARTBEAT_FACTOR
            due = self._last_write + interval
            if now >= due:
                action = IdleAction.SEND_HEARTBEAT
                self._last_write = now
                due = now + interval
            deadlines.append(due)
        return action, (min(deadlines) if deadlines else None)
