"""Reconnecting after a lost connection: the policy, the plan of where to dial next, and the
outage state every adapter shares (docs/reconnect.md).

Owns: ``Reconnect`` (backoff: initial delay, multiplier, cap, jitter, bounded by attempts and a
deadline), ``Plan`` (the next ``(url, delay)`` over the user's URLs, the failover list the peer
advertised in its OPEN and redirect targets, with the clock and the random source passed in),
``Outage`` (a connection's up/down/given-up state and generation, which the adapters' calls
consult to wait and retry), the ``connect()`` options that switch it on, which client calls are
retried, and reading a redirect's target from an ``amqp:*:redirect`` error (spec 2.8.17/2.8.18).

Must never: do I/O, sleep or read a clock itself (the adapters pass ``now`` in), or import an
adapter.
"""

from __future__ import annotations

import dataclasses
import enum
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from .errors import ConnectionClosedError, ConnectionRedirectError, SASLError
from .url import URL, parse_url

if TYPE_CHECKING:
    from ._api import ClientCore

__all__ = [
    "Reconnect",
    "ReconnectSettings",
    "Plan",
    "Outage",
    "OutageState",
    "begin_outage",
    "split_options",
    "retryable",
    "in_doubt",
    "redirect_url",
    "advertised_failover",
    "CONNECTION_REDIRECT",
    "LINK_REDIRECT",
]

CONNECTION_REDIRECT = "amqp:connection:redirect"
LINK_REDIRECT = "amqp:link:redirect"


@dataclass(frozen=True)
class Reconnect:
    """How to reconnect after the connection is lost: exponential backoff with jitter,
    bounded by a number of attempts and a total time.

    Attributes:
        initial_delay: seconds before the second attempt (the first is at once).
        multiplier: each further delay is the previous one times this.
        max_delay: no delay is longer than this.
        jitter: a fraction (0 to 1): each delay is drawn from ``[d * (1 - jitter), d]``, so
            many clients cut off together do not dial back together.
        max_attempts: give up after this many dials in one outage (``None``: no count limit).
        deadline: give up once this many seconds have passed since the connection was lost
            (``None``: no time limit). At least one of the two limits must be set.
    """

    initial_delay: float = 0.1
    multiplier: float = 2.0
    max_delay: float = 5.0
    jitter: float = 0.2
    max_attempts: int | None = 20
    deadline: float | None = 60.0

    def __post_init__(self) -> None:
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must be >= 0")
        if self.multiplier < 1:
            raise ValueError("multiplier must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        if self.max_attempts is None and self.deadline is None:
            raise ValueError("reconnecting must be bounded: give max_attempts or deadline (or both)")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        """Seconds to wait before dial number ``attempt`` (0: the first, at once)."""
        if attempt == 0:
            return 0.0
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return base * (1.0 - self.jitter * rand())


@dataclass(frozen=True)
class ReconnectSettings:
    """The reconnect options of one ``connect()`` (``None`` of them when reconnecting is off,
    except redirects, which ``follow_redirects`` governs on its own)."""

    policy: Reconnect | None
    failover: tuple[URL, ...] = ()
    follow_redirects: bool = True
    on_disconnect: Callable[[Exception], None] | None = None
    on_reconnect: Callable[[str], None] | None = None


def split_options(options: Mapping[str, Any]) -> tuple[ReconnectSettings, dict[str, Any]]:
    """Take ``reconnect``, ``failover``, ``follow_redirects``, ``on_disconnect`` and
    ``on_reconnect`` out of ``connect()``'s keyword options; the rest is for
    ``client_options``.

    Raises:
        TypeError: ``reconnect`` is not a bool or a ``Reconnect``.
        ValueError: a malformed failover URL.
    """
    rest = dict(options)
    wanted = rest.pop("reconnect", False)
    if wanted is True:
        policy: Reconnect | None = Reconnect()
    elif wanted is False or wanted is None:
        policy = None
    elif isinstance(wanted, Reconnect):
        policy = wanted
    else:
        raise TypeError("reconnect must be True, False or an amqp10.Reconnect")
    failover = tuple(parse_url(u) if isinstance(u, str) else u for u in rest.pop("failover", None) or ())
    return (
        ReconnectSettings(
            policy=policy,
            failover=failover,
            follow_redirects=bool(rest.pop("follow_redirects", True)),
            on_disconnect=rest.pop("on_disconnect", None),
            on_reconnect=rest.pop("on_reconnect", None),
        ),
        rest,
    )


class Plan:
    """Where and when to dial next during one outage.

    The candidates, in order: a redirect target (if the peer sent one), the URL we were
    connected to, the user's failover URLs, then those the peer advertised
    (``failover-server-list``); the plan cycles through them. Each dial waits the policy's
    delay for its attempt number. The plan ends (``next`` returns ``None``) when the
    attempts or the deadline run out.

    Args:
        policy: the backoff and its bounds.
        current: the URL the lost connection used.
        failover: more URLs to try, in order.
        started: when the connection was lost (the caller's clock, seconds).
        rand: a source of floats in [0, 1) for the jitter.
    """

    def __init__(
        self, policy: Reconnect, current: URL, failover: Iterable[URL], *, started: float, rand: Callable[[], float] = random.random
    ) -> None:
        self.policy = policy
        self.started = started
        self._rand = rand
        self.urls: list[URL] = _unique([current, *failover])
        self.attempt = 0

    def redirect(self, url: URL) -> None:
        """Try ``url`` next (a redirect), before the others."""
        self.urls = _unique([url, *self.urls])
        self._index = 0

    _index = 0

    def next(self, now: float) -> "tuple[URL, float] | None":
        """The next URL to dial and how long to wait before dialling it (from ``now``); ``None``
        once the attempts or the time are used up."""
        policy = self.policy
        if policy.max_attempts is not None and self.attempt >= policy.max_attempts:
            return None
        delay = policy.delay(self.attempt, self._rand)
        if policy.deadline is not None and now + delay > self.started + policy.deadline:
            return None
        url = self.urls[self._index % len(self.urls)]
        self._index += 1
        self.attempt += 1
        return url, delay


def _unique(urls: Iterable[URL]) -> list[URL]:
    seen: set[tuple[object, str, int]] = set()
    out = []
    for url in urls:
        key = (url.scheme, url.host, url.port)
        if key not in seen:
            seen.add(key)
            out.append(url)
    return out


class OutageState(enum.Enum):
    """Where a reconnecting connection is."""

    UP = "up"
    DOWN = "down"  # lost; dialling
    FAILED = "failed"  # the policy is exhausted (``Outage.failure`` says why)


@dataclass
class Outage:
    """A connection's reconnect state, read by every call that may retry (adapter-neutral).

    ``generation`` counts the outages so far: a call that started in one generation and failed
    in another failed because of the connection, and is retried once the connection is back.
    """

    state: OutageState = OutageState.UP
    generation: int = 0
    reconnects: int = 0
    failure: Exception | None = None
    #: why the last outage began (the error of the lost connection)
    cause: Exception | None = field(default=None)

    def begin(self, cause: Exception) -> bool:
        """The connection was lost; returns True if this starts an outage (it was up)."""
        if self.state is not OutageState.UP:
            return False
        self.state = OutageState.DOWN
        self.generation += 1
        self.cause = cause
        return True

    def end(self) -> None:
        """Connected again."""
        self.state = OutageState.UP
        self.reconnects += 1

    def fail(self, error: Exception | None) -> None:
        """The policy is exhausted (``error`` says so), or the connection ended with no
        reconnect to come (``None``: the call's own error stands)."""
        self.state = OutageState.FAILED
        self.failure = error

    def retry_after(self, generation: int, connection_dead: bool) -> bool:
        """A call begun in ``generation`` failed: is that the connection's loss (so it should
        wait for ``back(generation)`` and be performed again) rather than its own error?"""
        return self.state is not OutageState.UP or self.generation != generation or connection_dead

    def back(self, reconnects: int) -> bool:
        """A call begun when ``reconnects`` reconnects had happened may be performed again: one
        more has happened since, or the connection is over for good (then ``failure``, or
        the call's own error, is raised). False: wait on."""
        if self.state is OutageState.FAILED:
            return True
        return self.state is OutageState.UP and self.reconnects != reconnects


def retryable(steps: Callable[..., Any], args: Sequence[Any]) -> bool:
    """``steps(run, *args)`` (one of ``_calls``) may be performed again after a reconnect.

    Retried: opening, receiving, draining (safe to repeat) and sending at-least-once (on
    purpose: the message may then arrive twice; docs/reconnect.md). Not retried: closing,
    ``send_many`` (its iterable is partly consumed), and sending pre-settled (at-most-once)
    messages: one may have arrived, and sending it again could deliver it twice.
    """
    from . import _calls  # here: _calls imports _options, which imports this module

    if steps in (_calls.open_session, _calls.open_sender, _calls.open_receiver, _calls.open_requester, _calls.receive, _calls.drain, _calls.request):
        return True
    if steps in (_calls.send, _calls.submit):
        return not (args and getattr(args[0], "at_most_once", False))
    return False


def in_doubt(steps: Callable[..., Any], args: Sequence[Any]) -> bool:
    """``steps(run, *args)`` sends a pre-settled (at-most-once) message: if the connection is
    lost before it is written whole, it may or may not have arrived (``DeliveryInDoubtError``)."""
    from . import _calls

    return steps in (_calls.send, _calls.submit) and bool(args) and bool(getattr(args[0], "at_most_once", False))


def redirect_url(info: Mapping[Any, Any] | None, current: URL) -> URL | None:
    """The URL an ``amqp:connection:redirect`` (2.8.17) error's ``info`` points to (its
    ``network-host`` or ``hostname`` and ``port``; scheme and credentials stay ``current``'s),
    or ``None`` if it names no host."""
    if not info:
        return None
    fields = {str(k): v for k, v in info.items()}
    host = fields.get("network-host") or fields.get("hostname")
    if not host:
        return None
    port = fields.get("port")
    return dataclasses.replace(current, host=str(host), port=int(port) if port is not None else current.port)


def advertised_failover(properties: Mapping[Any, Any] | None, current: URL) -> list[URL]:
    """The URLs of a peer's ``failover-server-list`` connection property (a list of maps
    with ``network-host``/``hostname`` and ``port``, as Qpid and ActiveMQ send it)."""
    if not properties:
        return []
    fields = {str(k): v for k, v in properties.items()}
    listed = fields.get("failover-server-list")
    urls = []
    if isinstance(listed, list):
        for entry in listed:
            if isinstance(entry, Mapping):
                url = redirect_url(entry, current)
                if url is not None:
                    urls.append(url)
    return urls


#: following a redirect on a connection without a reconnect policy: one dial
_REDIRECT_ONCE = Reconnect(max_attempts=1, deadline=None)


def begin_outage(
    core: "ClientCore", outage: Outage, settings: ReconnectSettings, url: URL, *, opened: bool, stopping: bool, now: float
) -> Plan | None:
    """The connection was lost: decide, once for every adapter, whether a reconnect follows.

    Returns the ``Plan`` to dial by (the outage has begun and ``core.reconnecting`` is set),
    or ``None`` when no reconnect comes (the outage has failed, so waiting calls raise their
    error; a refused redirect leaves ``ConnectionRedirectError`` as ``core.error``). Before the
    first OPEN only a redirect is followed: ``connect()`` raises what went wrong while opening.
    """
    if outage.state is not OutageState.UP:
        return None  # a dial's connection failed: the dialling goes on
    if core.closing or stopping:
        outage.fail(None)
        return None
    cause = core.error or ConnectionClosedError(f"the connection to {core.peer} is closed")
    if isinstance(cause, SASLError) or (not opened and cause.condition != CONNECTION_REDIRECT):
        outage.fail(None)
        return None
    policy = settings.policy
    redirect: URL | None = None
    if cause.condition == CONNECTION_REDIRECT:
        redirect = redirect_url(cause.info, url)
        if not settings.follow_redirects or redirect is None:
            core.error = ConnectionRedirectError(
                f"the peer redirected the connection to {redirect or 'an unnamed host'} (following redirects is off)",
                condition=cause.condition,
                info=cause.info,
                url=None if redirect is None else str(redirect),
            )
            outage.fail(None)
            return None
        policy = policy or _REDIRECT_ONCE
    if policy is None:
        outage.fail(None)
        return None
    outage.begin(cause)
    core.reconnecting = True
    remote = core.engine.remote_open
    advertised = advertised_failover(remote.properties if remote is not None else None, url)
    plan = Plan(policy, url, [*settings.failover, *advertised], started=now)
    if redirect is not None:
        plan.redirect(redirect)
    return plan
