"""Whether a wait for the peer polls before it sleeps (busy polling), for all three adapters.

Owns: the adaptive rule (poll while the recent answers mostly came within the budget) and
its state. Must never: read a clock, poll or sleep (each adapter times its own waits and polls
its own way: ``select`` with no timeout, an asyncio or trio checkpoint).

Sleeping costs a wake-up from idle when the answer comes: on a loopback or LAN round trip that
is a large part of the whole (about 64 of ~150 µs on the machine the request/reply benchmark
runs on, docs/scale.md). A wait whose answer usually arrives within the budget polls instead,
a few µs per look; one whose answer usually takes longer sleeps at once, so a slow service
costs no CPU. "Usually" is a running share of the recent waits that ended within the budget,
polled or not: polling while it is at least one half bounds the CPU spent on polls that end in
a sleep anyway to about one budget per wait that paid off. The idea of Linux's ``busy_poll``,
of adaptive mutexes and of Aeron's back-off idle strategy.
"""

from __future__ import annotations

__all__ = ["BusyPoll", "checked_budget"]


class BusyPoll:
    """One connection's busy-polling policy.

    Args:
        budget: seconds a wait may poll before sleeping (``0``: never poll).

    Attributes:
        hits: running share of the recent waits that ended within ``budget`` (starts at 1:
            a new connection polls until its answers prove slow).
    """

    #: how quickly ``hits`` follows the recent waits (each wait moves it 1/8 of the way)
    WEIGHT = 0.125

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.hits = 1.0 if budget > 0 else 0.0

    def until(self, now: float) -> float:
        """Until when a wait starting at ``now`` polls (``now`` itself: not at all)."""
        if self.hits >= 0.5 and self.budget > 0:
            return now + self.budget
        return now

    def record(self, waited: float | None) -> None:
        """A wait ended: ``waited`` seconds after it began to wait, or ``None`` when nothing
        came (it timed out)."""
        if self.budget > 0:
            hit = 1.0 if waited is not None and waited <= self.budget else 0.0
            self.hits += (hit - self.hits) * self.WEIGHT


def checked_budget(value: float) -> float:
    """A ``busy_poll`` option as given to ``connect`` or ``listen``, in seconds.

    Raises:
        ValueError: it is negative (or NaN).
    """
    if not value >= 0:
        raise ValueError("busy_poll must be >= 0 seconds (0: never poll)")
    return float(value)
