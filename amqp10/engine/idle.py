"""Idle time-out bookkeeping (spec 2.4.5) driven by ``now`` values passed in.

Owns: when we must send an empty frame so the peer does not time us out, and when the peer
has been silent for longer than our own idle-time-out. Must never: read a clock (the adapter
passes ``now``), or send anything itself.

Spec 2.4.5: each peer advertises its idle-time-out in OPEN; the other must send *something*
at least that often. We send at half the peer's value (the spec's suggestion, which leaves
room for latency) and close with ``amqp:resource-limit-exceeded`` once our own value passes
with nothing read.
"""

from __future__ import annotations

__all__ = ["IdleTimer", "IdleAction"]

import enum


class IdleAction(enum.Enum):
    """What ``tick`` asks the connection to do."""

    NOTHING = "nothing"
    SEND_HEARTBEAT = "send heartbeat"
    EXPIRE = "expire"


class IdleTimer:
    """Deadlines for heartbeats (ours) and for the peer's silence.

    Args:
        local_timeout: our idle-time-out in seconds, or ``None``.

    The connection calls ``received()``/``sent()`` as bytes move (cheap flags, no clock), and
    ``tick(now)`` whenever the adapter ticks. Reads are stamped with the next ``now`` (late, so
    the peer gets the benefit of the doubt); writes with the previous tick's ``now`` (early, so a
    heartbeat is never late).
    """

    __slots__ = (
        "local_timeout", "remote_timeout", "_last_read", "_last_write", "_read", "_wrote", "_last_tick",
    )

    def __init__(self, local_timeout: float | None) -> None:
        self.local_timeout = local_timeout
        self.remote_timeout: float | None = None
        self._last_read: float | None = None
        self._last_write: float | None = None
        self._read = False
        self._wrote = False
        self._last_tick: float | None = None

    def received(self) -> None:
        """Bytes arrived (any bytes: a heartbeat counts)."""
        self._read = True

    def sent(self) -> None:
        """Bytes left."""
        self._wrote = True

    def tick(self, now: float) -> tuple[IdleAction, float | None]:
        """Return what to do now and the next deadline (``None``: no deadline)."""
        if self._last_read is None or self._read:
            self._last_read = now
            self._read = False
        if self._last_write is None or self._wrote:
            # Fix (found writing the Proton heartbeat tests): the bytes left after the previous
            # tick, so stamp them with its time. Stamping them with this ``now`` made an adapter
            # that ticks only at our deadlines send each heartbeat one interval late, i.e. at
            # the peer's whole idle-time-out instead of half of it (spec 2.4.5).
            self._last_write = now if self._last_tick is None else self._last_tick
            self._wrote = False
        self._last_tick = now
        action = IdleAction.NOTHING
        deadlines: list[float] = []
        if self.local_timeout is not None:
            expiry = self._last_read + self.local_timeout
            if now >= expiry:
                return IdleAction.EXPIRE, None
            deadlines.append(expiry)
        if self.remote_timeout:
            interval = self.remote_timeout / 2
            due = self._last_write + interval
            if now >= due:
                action = IdleAction.SEND_HEARTBEAT
                self._last_write = now
                due = now + interval
            deadlines.append(due)
        return action, (min(deadlines) if deadlines else None)
