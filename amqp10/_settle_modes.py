"""The receiver's settlement mode (spec 2.6.12, 2.8.3 receiver-settle-mode), written once.

Owns: reading the ``rcv_settle_mode`` option of ``open_receiver`` and comparing the mode asked
for with the one the peer's ATTACH states, so a sender that will not settle first (mode
``second``) is reported the way a dropped filter is (``on_downgrade``). Both adapters'
``open_receiver`` (``_calls.py``) and the ``Receiver`` properties use it. Must never: wait,
do I/O, or import an adapter.
"""

from __future__ import annotations

from typing import Any, Literal
from weakref import WeakKeyDictionary

from .codec.spec import ReceiverSettleMode
from .errors import SettleModeDowngradedError

__all__ = [
    "RcvSettleMode",
    "receiver_settle_mode",
    "mode_name",
    "settle_mode_downgrade",
    "keep_downgraded",
    "kept_downgrade",
]

#: what ``open_receiver(rcv_settle_mode=...)`` takes besides a ``ReceiverSettleMode``
RcvSettleMode = Literal["first", "second"]

_BY_NAME = {"first": ReceiverSettleMode.FIRST, "second": ReceiverSettleMode.SECOND}


def receiver_settle_mode(value: ReceiverSettleMode | str | int | None) -> ReceiverSettleMode:
    """The ``ReceiverSettleMode`` for an option value (``None``: ``first``, the spec default).

    Raises:
        ValueError: not ``"first"``, ``"second"`` (or 0, 1, a ``ReceiverSettleMode``).
    """
    if value is None:
        return ReceiverSettleMode.FIRST
    if isinstance(value, str):
        mode = _BY_NAME.get(value)
        if mode is None:
            raise ValueError(f"rcv_settle_mode must be 'first' or 'second', not {value!r}")
        return mode
    try:
        return ReceiverSettleMode(value)
    except ValueError:
        raise ValueError(f"rcv_settle_mode must be 'first' or 'second', not {value!r}") from None


def mode_name(mode: ReceiverSettleMode | int | None) -> str:
    """``"first"`` or ``"second"`` (an absent field means ``first``, spec 2.7.3)."""
    return "second" if mode is not None and int(mode) == ReceiverSettleMode.SECOND else "first"


def settle_mode_downgrade(link: Any, what: str) -> SettleModeDowngradedError | None:
    """How the peer's ATTACH falls short of the rcv-settle-mode ``link`` asked for, or ``None``.

    A receiver asking for ``second`` wants the sender to settle first, after the receiver's
    outcome, and only then settles itself (spec 2.6.12). A sender that answers with
    ``first`` (or no value: the default) says it expects the receiver to settle first: it may
    never settle, and the delivery would hang unsettled at both ends. ``what`` names the link
    for the message.
    """
    asked = mode_name(link.rcv_settle_mode)
    remote = getattr(link, "remote_attach", None)
    if remote is None or asked == "first":
        return None
    stated = mode_name(remote.rcv_settle_mode)
    if stated == asked:
        return None
    return SettleModeDowngradedError(
        f"the peer attached the {what} but stated rcv-settle-mode {stated!r} where {asked!r} was asked for",
        condition="amqp:not-implemented",
        requested_rcv_settle_mode=asked,
        rcv_settle_mode=stated,
    )


#: receivers kept after a downgrade (``on_downgrade="keep"``) -> what was missing
_KEPT: "WeakKeyDictionary[Any, SettleModeDowngradedError]" = WeakKeyDictionary()


def keep_downgraded(link: Any, downgrade: SettleModeDowngradedError) -> None:
    """Carry on in the mode the peer stated (``first``): an outcome then settles at once,
    so nothing waits for a settlement the sender may never send. Remembered for
    ``Receiver.settle_mode_downgrade``. Run it with exclusive access to the engine."""
    link.rcv_settle_mode = ReceiverSettleMode.FIRST
    _KEPT[link] = downgrade


def kept_downgrade(link: Any) -> SettleModeDowngradedError | None:
    """The downgrade a receiver was kept with, or ``None``."""
    return _KEPT.get(link)
