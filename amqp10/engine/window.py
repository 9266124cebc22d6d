"""Session flow control (spec 2.5.6): the transfer-id windows, both ways, as pure arithmetic.

Owns: next-outgoing-id, outgoing-window, next-incoming-id, incoming-window and our view of the
peer's windows, and the rule for when to reopen our incoming window. Must never: send frames
or know about links (the session does that; this is h2's ``windows.py`` idea).

Spec 2.5.6: the remote-incoming-window is computed from the peer's FLOW/BEGIN as
``next-incoming-id(flow) + incoming-window(flow) - next-outgoing-id(ours)``; a sender MUST NOT
send a transfer when it is zero. A receiver whose incoming-window is zero and receives a
transfer has seen a window violation.
"""

from __future__ import annotations

from .serial import serial_add, serial_diff

__all__ = ["SessionWindow", "WindowViolation"]

_UINT_MAX = (1 << 32) - 1


class WindowViolation(Exception):
    """The peer sent a transfer while our incoming window was closed."""


class SessionWindow:
    """Both directions of one session's transfer window.

    Args:
        next_outgoing_id: the transfer-id of our first transfer (any 32-bit value).
        incoming_window: how many transfer frames we let the peer send before we reopen the
            window. The engine never holds transfers back from the application, so it reopens
            it (``needs_update``) once half is used.
        outgoing_window: what we advertise as our outgoing window (informational, spec 2.5.6).
    """

    __slots__ = (
        "next_outgoing_id",
        "outgoing_window",
        "next_incoming_id",
        "incoming_window",
        "max_incoming_window",
        "remote_incoming_window",
        "remote_outgoing_window",
    )

    def __init__(self, next_outgoing_id: int, incoming_window: int, outgoing_window: int) -> None:
        self.next_outgoing_id = next_outgoing_id & _UINT_MAX
        self.outgoing_window = outgoing_window
        self.next_incoming_id: int | None = None  # known once the peer's BEGIN arrives
        self.incoming_window = incoming_window
        self.max_incoming_window = incoming_window
        self.remote_incoming_window = 0
        self.remote_outgoing_window = 0

    # -- the peer's side ----------------------------------------------------------------
    def on_remote_begin(self, next_outgoing_id: int, incoming_window: int, outgoing_window: int) -> None:
        """Record the peer's BEGIN: its first transfer-id and its windows."""
        self.next_incoming_id = next_outgoing_id
        self.remote_incoming_window = incoming_window
        self.remote_outgoing_window = outgoing_window

    def on_remote_flow(
        self,
        next_incoming_id: int | None,
        incoming_window: int,
        next_outgoing_id: int,
        outgoing_window: int,
    ) -> None:
        """Apply the session part of a FLOW from the peer (spec 2.5.6)."""
        # next-incoming-id is absent only before the peer has seen our BEGIN; then it is our
        # initial next-outgoing-id, so nothing is in flight.
        base = self.next_outgoing_id if next_incoming_id is None else next_incoming_id
        window = serial_diff(serial_add(base, incoming_window), self.next_outgoing_id)
        self.remote_incoming_window = max(0, window)
        self.remote_outgoing_window = outgoing_window

    # -- sending ---------------------------------------------------------------------------
    @property
    def can_send(self) -> bool:
        """True when the peer's incoming window admits one more transfer frame."""
        return self.remote_incoming_window > 0

    def on_send_transfer(self) -> int:
        """Account for one transfer frame we send; return its transfer-id."""
        tid = self.next_outgoing_id
        self.next_outgoing_id = serial_add(tid, 1)
        self.remote_incoming_window -= 1
        return tid

    # -- receiving -------------------------------------------------------------------------
    def on_receive_transfer(self) -> None:
        """Account for one transfer frame from the peer.

        Raises:
            WindowViolation: our incoming window was already zero.
        """
        if self.incoming_window <= 0:
            raise WindowViolation("transfer received with the incoming window closed")
        self.incoming_window -= 1
        if self.next_incoming_id is not None:
            self.next_incoming_id = serial_add(self.next_incoming_id, 1)
        if self.remote_outgoing_window > 0:
            self.remote_outgoing_window -= 1

    @property
    def needs_update(self) -> bool:
        """True once half our incoming window is used: time to send a FLOW reopening it."""
        return self.incoming_window * 2 <= self.max_incoming_window

    def needs_update_holding(self, held: int) -> bool:
        """``needs_update`` when ``held`` received frames are not given back yet: true once
        reopening would give back at least half the window."""
        return (self.max_incoming_window - held - self.incoming_window) * 2 >= self.max_incoming_window

    def reopen(self, held: int = 0) -> None:
        """Reset our incoming window to its configured size less ``held`` frames still
        unconsumed (then send a FLOW)."""
        self.incoming_window = max(0, self.max_incoming_window - held)
