"""The client calls, written once for both adapters as generators of ``Wait`` steps.

Owns: what each public call that waits does, in order: ``open_session``, ``open_sender``,
``open_receiver``, ``open_requester``, ``send``, ``receive``, ``drain``, ``request`` and the
closing calls. Each runs its engine commands through the adapter's ``Runner``, *yields* a
``Wait`` for an ``_api`` predicate, and says what to undo when a wait fails (it timed out or
was cancelled). The adapter's driver performs each wait its own way (blocking: on a
``Condition``; trio: on a ``ParkingLot``) and sends the predicate's value back in, or throws
the failure in, so a call's ``try``/``except``/``finally`` runs as if the wait were inline.
How to wait and how to do I/O is then all that differs between the adapters (STYLE.md: "Sync
and async share the sans-IO core, so nothing is written twice").

A driver takes the first ``Wait`` with ``next(steps)``; then, until the generator returns
(``StopIteration`` carries the call's result), it waits for the predicate within
``Wait.limit(now, default_timeout)`` and passes on the outcome: ``steps.send(value)``, or
``steps.throw(exc)`` for a ``Timeout``, a cancellation or any other failure.

Must never: do I/O, block, sleep, read a clock, or import an adapter.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Generator, Iterable, TypeVar

from ._api import PENDING, ClientCore, LinkRecord, Pending, SessionRecord, encode_for
from ._delivery import Delivery, Runner
from ._outcomes import Outcome
from ._options import DEFAULT_CREDIT, ReceiverOptions, SenderOptions, receiver_attach, sender_attach
from ._requests import Requests
from ._settle_modes import keep_downgraded, settle_mode_downgrade
from ._terminus_checks import check_anonymous_relay, source_downgrade
from .codec.message import Message
from .engine.delivery import Delivery as EngineDelivery
from .errors import AMQPError

__all__ = [
    "Budget",
    "Wait",
    "Steps",
    "open_session",
    "open_sender",
    "open_receiver",
    "open_requester",
    "end_session",
    "finish_link",
    "close_connection",
    "close_requester",
    "send",
    "submit",
    "track",
    "send_many",
    "receive",
    "drain",
    "request",
]

_T = TypeVar("_T")


class Budget:
    """One time limit shared by several waits of one call (``send``: room in the write
    buffer, then the outcome; ``request``: the send, then the reply).

    Args:
        timeout: seconds, or ``None`` for the connection's default (or forever).

    The driver's first ``Wait.limit`` starts it with the driver's own clock.
    """

    __slots__ = ("timeout", "_deadline")

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._deadline: float | None = None

    def remaining(self, now: float, default: float | None) -> float | None:
        """Seconds left at ``now`` (``None``: no limit); the first call starts the budget."""
        if self._deadline is None:
            total = self.timeout if self.timeout is not None else default
            if total is None:
                return None
            self._deadline = now + total
        return max(0.0, self._deadline - now)


@dataclass(frozen=True, slots=True)
class Wait:
    """One step of a call: wait until ``predicate()`` returns something other than ``PENDING``.

    Attributes:
        predicate: an ``_api`` predicate: a value, ``PENDING``, or it raises why it never will.
        timeout: seconds, a ``Budget`` shared with other waits, or ``None``.
        what: what is waited for, for the ``Timeout`` message ("sending on ...").
        default: ``timeout=None`` means the connection's default time limit; otherwise it
            means forever (``receive``).
        cleanup: undoing after a failure; it must run even while the call is being
            cancelled (trio shields it; the blocking adapter has nothing to shield).
        watch: what the predicate depends on, when that is one thing the core can name (the
            engine delivery whose outcome it awaits, the receiving ``LinkRecord`` whose next
            delivery it awaits): the driver then registers the wait in
            ``ClientCore.watchers`` under this key and it is woken only when that changes
            (or something fails), not by every batch of events. ``None``: woken by every batch.
    """

    predicate: Callable[[], Any]
    timeout: float | Budget | None
    what: str
    default: bool = True
    cleanup: bool = False
    watch: object = None

    def limit(self, now: float, default_timeout: float | None) -> float | None:
        """The time limit in seconds from ``now``; ``None``: wait forever."""
        default = default_timeout if self.default else None
        if isinstance(self.timeout, Budget):
            return self.timeout.remaining(now, default)
        return default if self.timeout is None else self.timeout


#: A call: yields ``Wait`` steps, is sent each predicate's value, returns the call's result.
Steps = Generator[Wait, Any, _T]


# -- opening ------------------------------------------------------------------------------------
def open_session(run: Runner, core: ClientCore, timeout: float | None) -> Steps[SessionRecord]:
    """Begin a session and wait for the peer's BEGIN."""
    record = run(core.begin_session)
    yield Wait(record.begun_or_failed, timeout, "beginning a session")
    return record


def open_sender(
    run: Runner, session: SessionRecord, address: str | None, timeout: float | None, options: SenderOptions
) -> Steps[LinkRecord]:
    """Attach a sending link and wait for the peer's ATTACH (``LinkDetachedError`` if refused)."""
    attach = sender_attach(address, **options)
    if address is None and not options.get("dynamic"):
        # An anonymous sender needs the peer's ANONYMOUS-RELAY: without it the messages may
        # be accepted and dropped (AnonymousRelayNotOfferedError, before anything is sent).
        yield Wait(session.core.opened_or_failed, timeout, "waiting for the peer's OPEN")
        check_anonymous_relay(session.core)
    record = run(lambda: session.attach_sender(address, attach, name=options.get("name")))
    yield Wait(record.attached_or_failed, timeout, f"attaching a sender to {address!r}")
    return record


def open_receiver(
    run: Runner, session: SessionRecord, address: str | None, timeout: float | None, options: ReceiverOptions
) -> Steps[LinkRecord]:
    """Attach a receiving link (granting its prefetch credit at once) and wait for the peer."""
    attach = receiver_attach(address, **options)
    credit = options.get("credit", DEFAULT_CREDIT)
    auto_accept = options.get("auto_accept", False)
    record = run(lambda: session.attach_receiver(address, attach, credit=credit, auto_accept=auto_accept, name=options.get("name")))
    what = "a dynamic receiver" if options.get("dynamic") else f"a receiver from {address!r}"
    yield Wait(record.attached_or_failed, timeout, f"attaching {what}")
    # 3.5.3: filters left out of the answer, or another distribution-mode, are not in force.
    downgrade = source_downgrade(record.link, record.describe())
    if downgrade is not None and options.get("on_downgrade", "close") == "close":
        try:
            yield from finish_link(run, record, closed=True, timeout=timeout, cleanup=True)
        except AMQPError:
            pass  # the downgrade is the news; the link is closing either way
        raise downgrade
    # 2.6.12: a sender stating rcv-settle-mode first where second was asked may never settle.
    settle_downgrade = settle_mode_downgrade(record.link, record.describe())
    if settle_downgrade is not None:
        # Only a mode the caller asked for is worth failing over; the ``second`` a durable
        # link asks for on its own (for recovery, 2.6.13) is kept quietly as ``first``.
        if options.get("on_downgrade", "close") == "close" and options.get("rcv_settle_mode") is not None:
            try:
                yield from finish_link(run, record, closed=True, timeout=timeout, cleanup=True)
            except AMQPError:
                pass  # the downgrade is the news; the link is closing either way
            raise settle_downgrade
        run(lambda: keep_downgraded(record.link, settle_downgrade))
    return record


def open_requester(run: Runner, session: SessionRecord, address: str, timeout: float | None) -> Steps[Requests]:
    """A sender to ``address`` plus a dynamic receiver for its replies; if the receiver
    cannot be had, the sender is closed again."""
    sender = yield from open_sender(run, session, address, timeout, {})
    try:
        receiver = yield from open_receiver(run, session, None, timeout, {"dynamic": True})
    except BaseException:
        yield from finish_link(run, sender, closed=True, timeout=None, cleanup=True)
        raise
    return Requests(sender, receiver)


# -- closing ------------------------------------------------------------------------------------
def end_session(run: Runner, record: SessionRecord, timeout: float | None) -> Steps[None]:
    """End a session and wait for the END handshake (or the connection's end)."""
    run(record.end)
    yield Wait(record.ended_or_gone, timeout, "ending the session")


def finish_link(run: Runner, record: LinkRecord, *, closed: bool, timeout: float | None, cleanup: bool = False) -> Steps[None]:
    """Detach (``closed``: close) a link and wait for the DETACH handshake."""
    run(lambda: record.detach(closed=closed))
    yield Wait(record.detached_or_gone, timeout, f"detaching the {record.describe()}", cleanup=cleanup)


def close_connection(run: Runner, core: ClientCore, timeout: float | None) -> Steps[None]:
    """Start the CLOSE handshake and wait for it to finish (or the connection to die)."""
    run(core.close)
    yield Wait(core.closed, timeout, "closing the connection")


def close_requester(run: Runner, requests: Requests, timeout: float | None) -> Steps[None]:
    """Close both links of a requester; the first failure is raised after trying both."""
    errors: list[AMQPError] = []
    for record in (requests.sender, requests.receiver):
        try:
            yield from finish_link(run, record, closed=True, timeout=timeout)
        except AMQPError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


# -- messages -----------------------------------------------------------------------------------
def submit(run: Runner, record: LinkRecord, message: Message | Any, timeout: float | Budget | None) -> Steps[EngineDelivery]:
    """Queue one message without waiting for its fate: wait only while the connection's
    write buffer is over its limit, then hand the message to the engine, which sends it as
    credit allows. Returns the engine delivery to ``track``."""
    payload = encode_for(record, message)
    if record.core.write_buffer_full():  # read without the lock: a hint; the wait re-checks
        yield Wait(record.room_to_send, timeout, f"sending on the {record.describe()}")
    delivery: EngineDelivery = run(lambda: record.send(payload))
    return delivery


def track(record: LinkRecord, delivery: EngineDelivery, timeout: float | Budget | None) -> Steps[Outcome | None]:
    """Wait for what ``send`` returns for ``delivery`` (its outcome; at-most-once: ``None``
    once written), woken only when that delivery changes. A failed wait changes nothing: the
    delivery stays tracked."""
    if record.known(delivery):
        known: Outcome | None = record.result(delivery)
        return known
    result: Outcome | None = yield Wait(lambda: record.result(delivery), timeout, f"sending on the {record.describe()}", watch=_watch(record, delivery))
    return result


def _watch(record: LinkRecord, delivery: EngineDelivery) -> EngineDelivery | None:
    """The ``Wait.watch`` key for a delivery's fate: the delivery itself when an event about
    it will come (its outcome); ``None`` at-most-once, where the fate is "written", which
    happens when credit arrives, an event about the link rather than the delivery."""
    return None if record.at_most_once else delivery


def send(run: Runner, record: LinkRecord, message: Message | Any, timeout: float | Budget | None) -> Steps[Outcome | None]:
    """Send one message: ``submit`` it, then ``track`` it until it is written (at-most-once:
    returns ``None``) or its outcome arrives; ``timeout`` covers it all.

    A failed wait (timed out, cancelled) withdraws the message if none of it has gone out;
    otherwise its outcome is still tracked and settled when it comes.
    """
    budget = timeout if isinstance(timeout, Budget) else Budget(timeout)
    delivery = yield from submit(run, record, message, budget)
    try:
        return (yield from track(record, delivery, budget))
    except BaseException:
        run(lambda: record.withdraw(delivery))
        raise


def send_many(
    run: Runner, record: LinkRecord, messages: Iterable[Message | Any], timeout: float | None, window: int | None
) -> Steps[list[Outcome | None]]:
    """Send messages keeping up to the link credit (and at most ``window``) of them in
    flight; return what ``send`` returns for each, in order.

    Messages are queued in batches, as many as the credit covers beyond what is queued
    already, so the lock and the I/O wake-up are paid per batch, not per message; outcomes
    are collected from the oldest as they arrive. ``timeout`` bounds each wait (for room,
    credit, or the oldest outcome), not the whole call. On failure, messages not yet on the
    wire are withdrawn; those already sent keep being tracked and settled.
    """
    if window is not None and window < 1:
        raise ValueError("window must be >= 1 (None: as much as the link credit allows)")
    what = f"sending on the {record.describe()}"
    source = iter(messages)
    waiting: deque[EngineDelivery] = deque()  # queued, fate not yet collected, oldest first
    results: list[Outcome | None] = []
    exhausted = False
    try:
        while True:
            while waiting and record.known(waiting[0]):
                results.append(record.result(waiting.popleft()))
            if exhausted:
                if not waiting:
                    return results
                head = waiting[0]
                results.append((yield Wait(lambda: record.result(head), timeout, what, watch=_watch(record, head))))
                waiting.popleft()
                continue
            first = next(source, _END)  # look before waiting: no credit is needed for nothing
            if first is _END:
                exhausted = True
                continue
            if record.core.write_buffer_full():
                yield Wait(record.room_to_send, timeout, what)
            room: int = yield Wait(lambda: record.room_for(window, _unknown(record, waiting)), timeout, what)
            room = min(room, _BATCH)
            payloads = [encode_for(record, first)]
            payloads += [encode_for(record, message) for message in islice(source, room - 1)]
            if len(payloads) < room:
                exhausted = True
            waiting.extend(run(lambda: record.send_batch(payloads)))
    except BaseException:
        run(lambda: [record.withdraw(delivery) for delivery in waiting])
        raise


_END = object()

#: The most messages ``send_many`` encodes and queues in one go: enough to spread the lock and
#: the wake-up over many, few enough that the I/O thread starts writing the first ones while
#: the next are encoded.
_BATCH = 64


def _unknown(record: LinkRecord, waiting: deque[EngineDelivery]) -> int:
    """How many of ``waiting`` count against the window: all from the oldest whose fate is
    not known yet."""
    known = 0
    for delivery in waiting:
        if not record.known(delivery):
            break
        known += 1
    return len(waiting) - known


def take_buffered(run: Runner, record: LinkRecord) -> "Delivery | Pending":
    """``receive`` when a delivery is already buffered, without setting up a wait: the
    adapters try it first (under their lock, through their ``ready``), as the wait's first
    look would, and call ``receive`` only on ``PENDING``. Taking a buffered delivery costs
    less than the wait around it (issue 9: a receiver keeping up with a stream of messages
    finds one buffered on most calls)."""
    if record.deliveries and not record.streaming:
        return record.take_delivery(run)
    return PENDING


def receive(run: Runner, record: LinkRecord, timeout: float | None) -> Steps[Delivery]:
    """Wait for the next delivery (``timeout=None``: forever). A delivery is taken from the
    buffer only when it is returned, so a cancelled receive has taken nothing."""
    delivery: Delivery = yield Wait(
        lambda: record.take_delivery(run), timeout, f"receiving on the {record.describe()}", default=False, watch=record
    )
    return delivery


def drain(run: Runner, record: LinkRecord, timeout: float | None) -> Steps[list[Delivery]]:
    """Ask the sender to use or give back all credit, wait for its answer, and return what
    has arrived (spec 2.6.7). If the answer does not come in time, the prefetch policy may
    grant credit again; a late answer is harmless."""
    run(record.start_drain)
    try:
        delivered: list[Delivery] = yield Wait(lambda: record.drained(run), timeout, f"draining the {record.describe()}")
    except BaseException:
        run(record.give_up_drain)
        raise
    return delivered


def request(run: Runner, requests: Requests, message: Message | Any, timeout: float | None) -> Steps[Message]:
    """Send a request and wait for the reply correlated with it; ``timeout`` covers both.

    The reply is awaited, not the request's outcome: through a router, which stores nothing,
    the outcome is the service's, and a service may settle the request only once its reply is
    accepted, so the reply can come first; the outcome is tracked and settled by the core
    whenever it arrives (waiting for it first would also cost a wake-up per call). A request
    that never went out (timed out or cancelled first) is withdrawn.
    """
    # Correlation bookkeeping, not an engine command: no ``run``, whose write would send the
    # previous reply's delayed accept on its own, just before the request it can ride with.
    outgoing, key = requests.prepare(message)
    budget = Budget(timeout)
    try:
        delivery = yield from submit(run, requests.sender, outgoing, budget)
        try:
            reply: Message = yield Wait(lambda: requests.reply(key, delivery), budget, "waiting for a reply", watch=requests.receiver)
        except BaseException:
            run(lambda: requests.sender.withdraw(delivery))
            raise
    except BaseException:
        run(lambda: requests.forget(key))
        raise
    return reply  # ``Requests.reply`` forgot the key it answered
