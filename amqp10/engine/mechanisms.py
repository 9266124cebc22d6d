"""SASL mechanisms: their names, and both halves of ANONYMOUS, PLAIN and EXTERNAL.

Owns: the ``Mechanism`` Enum, the interfaces a mechanism half offers to ``sasl.py``
(``ClientMechanism``, ``ServerMechanism`` and the ``ServerStep`` results), the server-side
``Authenticator`` protocol that decides who gets in, a light SASLprep, and the bytes of the
simple mechanisms (RFC 4505 ANONYMOUS, RFC 4616 PLAIN, RFC 4422 appendix A EXTERNAL). SCRAM
lives in ``scram.py`` on top of this module.

Must never: do I/O, read a clock, or know about frames or the negotiation order (``sasl.py``
owns that). Whether PLAIN may be used on a transport is ``sasl.py``'s policy, not decided here.
"""

from __future__ import annotations

import enum
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Callable, Protocol, Union

from ..codec.spec import AmqpErrorCondition
from ..errors import SASLError

__all__ = [
    "Mechanism",
    "NonceFactory",
    "default_nonce",
    "saslprep",
    "auth_failed",
    "authorize",
    "ClientMechanism",
    "AnonymousClient",
    "PlainClient",
    "ExternalClient",
    "StepChallenge",
    "StepSuccess",
    "StepFailure",
    "ServerStep",
    "ServerMechanism",
    "AnonymousServer",
    "PlainServer",
    "ExternalServer",
    "Authenticator",
    "ScramCredentials",
]


class Mechanism(str, enum.Enum):
    """The SASL mechanisms amqp10 implements; the value is the name as sent on the wire."""

    SCRAM_SHA_512 = "SCRAM-SHA-512"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_1 = "SCRAM-SHA-1"
    PLAIN = "PLAIN"
    EXTERNAL = "EXTERNAL"
    ANONYMOUS = "ANONYMOUS"

    @property
    def is_scram(self) -> bool:
        """True for the SCRAM family."""
        return self in (Mechanism.SCRAM_SHA_1, Mechanism.SCRAM_SHA_256, Mechanism.SCRAM_SHA_512)


NonceFactory = Callable[[], str]


def default_nonce() -> str:
    """A fresh 24-character SCRAM nonce from ``secrets`` (URL-safe base64, so no ',')."""
    return secrets.token_urlsafe(18)


# -- SASLprep, lightly (RFC 4013) -------------------------------------------------------------

# RFC 3454 table B.1: "commonly mapped to nothing".
_MAPPED_TO_NOTHING = frozenset(
    "\u00ad\u034f\u1806\u180b\u180c\u180d\u200b\u200c\u200d\u2060\ufeff"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
)
# Control, format, private-use, surrogate and unassigned code points: a superset of RFC 4013's
# prohibited tables C.2-C.9 that is simple to state. Bidi rules (RFC 3454 section 6) are not checked.
_PROHIBITED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})


def saslprep(text: str, *, what: str = "string") -> str:
    """Prepare a user name or password for comparison (a light RFC 4013 SASLprep).

    Maps non-ASCII spaces to U+0020, drops the "mapped to nothing" characters, applies NFKC,
    then rejects control, format, private-use, surrogate and unassigned code points.

    Args:
        text: the string to prepare.
        what: what it is, for the error message ("user name", "password").

    Returns:
        The prepared string (ASCII input without control characters comes back unchanged).

    Raises:
        ValueError: ``text`` contains a prohibited character.
    """
    mapped = "".join(
        " " if unicodedata.category(ch) == "Zs" else ch for ch in text if ch not in _MAPPED_TO_NOTHING
    )
    prepared = unicodedata.normalize("NFKC", mapped)
    for ch in prepared:
        if unicodedata.category(ch) in _PROHIBITED_CATEGORIES:
            raise ValueError(f"{what} contains a prohibited character U+{ord(ch):04X} (RFC 4013)")
    return prepared


def auth_failed(description: str) -> SASLError:
    """The ``SASLError`` for "these credentials (or this exchange) do not authenticate".

    Its ``code`` is 1, the sasl-outcome ``auth`` code (spec 5.3.3.6), which the server sends.
    """
    return SASLError(description, condition=AmqpErrorCondition.UNAUTHORIZED_ACCESS, code=1)


# -- client halves ----------------------------------------------------------------------------


class ClientMechanism(Protocol):
    """The client half of a mechanism, as ``SaslClient`` drives it.

    ``initial_response()`` goes in sasl-init; each sasl-challenge's bytes go to ``challenge()``,
    whose result is sent as sasl-response; on outcome ok, ``verify_success()`` checks the
    additional data (SCRAM's server signature). Each raises ``SASLError`` to abandon.
    """

    mechanism: Mechanism

    def initial_response(self) -> bytes | None:
        """The initial response for sasl-init, or None to send none."""

    def challenge(self, data: bytes) -> bytes:
        """Answer one challenge, or raise ``SASLError``."""

    def verify_success(self, additional_data: bytes | None) -> None:
        """Check the outcome's additional data; raise ``SASLError`` if the server fails to prove itself."""


class _OneShotClient:
    """Shared behaviour of the mechanisms that say everything in the initial response."""

    mechanism: Mechanism

    def challenge(self, data: bytes) -> bytes:
        """These mechanisms take no challenge (the initial response was complete)."""
        raise auth_failed(f"the server sent a challenge during {self.mechanism.value}, which takes none")

    def verify_success(self, additional_data: bytes | None) -> None:
        """Nothing to verify: the server proves nothing in these mechanisms."""


class AnonymousClient(_OneShotClient):
    """ANONYMOUS (RFC 4505): the initial response is a trace token, not a credential."""

    mechanism = Mechanism.ANONYMOUS

    def __init__(self, trace: str = "anonymous") -> None:
        self._trace = trace

    def initial_response(self) -> bytes | None:
        """The trace token."""
        return self._trace.encode()


class PlainClient(_OneShotClient):
    """PLAIN (RFC 4616): ``authzid NUL authcid NUL passwd`` in clear; only over TLS by default."""

    mechanism = Mechanism.PLAIN

    def __init__(self, username: str, password: str, authzid: str | None = None) -> None:
        # RFC 4616 section 2: the client prepares all three with SASLprep.
        parts = [
            saslprep(authzid or "", what="authzid"),
            saslprep(username, what="user name"),
            saslprep(password, what="password"),
        ]
        self._message = b"\0".join(p.encode() for p in parts)

    def initial_response(self) -> bytes | None:
        """The whole PLAIN message."""
        return self._message


class ExternalClient(_OneShotClient):
    """EXTERNAL (RFC 4422 appendix A): identity comes from TLS; we only send an authzid, if any."""

    mechanism = Mechanism.EXTERNAL

    def __init__(self, authzid: str | None = None) -> None:
        self._authzid = authzid or ""

    def initial_response(self) -> bytes | None:
        """The authorization identity (empty: act as the certificate's identity)."""
        return self._authzid.encode()


# -- server halves ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepChallenge:
    """The server mechanism wants to send this sasl-challenge and hear a response."""

    data: bytes


@dataclass(frozen=True, slots=True)
class StepSuccess:
    """The client is authenticated as ``identity``; ``additional_data`` goes in the outcome."""

    identity: str
    additional_data: bytes | None = None


@dataclass(frozen=True, slots=True)
class StepFailure:
    """Authentication failed; ``error.code`` is the sasl-outcome code to send."""

    error: SASLError


ServerStep = Union[StepChallenge, StepSuccess, StepFailure]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScramCredentials:
    """What a SCRAM server stores per user and mechanism instead of the password (RFC 5802 s.3).

    Derive them with ``scram.derive_scram_credentials(password, mechanism, salt=...)``.

    Attributes:
        salt: the salt given to ``Hi()``.
        iterations: the ``Hi()`` iteration count.
        stored_key: ``H(HMAC(SaltedPassword, "Client Key"))``.
        server_key: ``HMAC(SaltedPassword, "Server Key")``.
    """

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


class Authenticator(Protocol):
    """Decides who gets in; ``SaslServer`` asks it, per mechanism.

    Names and passwords arrive SASLprep'd. Return False / None to refuse (the client sees outcome
    ``auth``). To report that the user store itself is unavailable, raise
    ``SASLError(..., code=4)`` (sys-temp) or ``code=2`` (sys): that code is sent instead.
    """

    def authenticate_plain(self, user: str, password: str) -> bool:
        """PLAIN: is ``password`` right for ``user``?"""

    def scram_credentials(self, user: str, mechanism: Mechanism) -> ScramCredentials | None:
        """SCRAM: the stored credentials of ``user`` for ``mechanism``, or None if unknown."""

    def authenticate_external(self, identity: str) -> bool:
        """EXTERNAL: may the TLS-verified ``identity`` (e.g. certificate subject) connect?"""


class ServerMechanism(Protocol):
    """The server half of a mechanism: ``start`` with sasl-init's initial response, then
    ``respond`` to each sasl-response; each returns the next ``ServerStep``."""

    mechanism: Mechanism

    def start(self, initial_response: bytes | None) -> ServerStep:
        """Handle sasl-init's initial response (None when the client sent none)."""

    def respond(self, response: bytes) -> ServerStep:
        """Handle a sasl-response."""


def authorize(authcid: str, authzid: str) -> str | None:
    """Acting as another identity is not supported: authzid must be empty or the same user."""
    return None if authzid and authzid != authcid else authcid


class AnonymousServer:
    """ANONYMOUS: everyone is ``"anonymous"``; the trace token is ignored."""

    mechanism = Mechanism.ANONYMOUS

    def start(self, initial_response: bytes | None) -> ServerStep:
        """Admit at once."""
        return StepSuccess("anonymous")

    def respond(self, response: bytes) -> ServerStep:
        """Never reached: ``start`` always finishes."""
        return StepFailure(auth_failed("ANONYMOUS takes no response"))


class PlainServer:
    """PLAIN: checks ``authzid NUL authcid NUL passwd`` with ``authenticate_plain``."""

    mechanism = Mechanism.PLAIN

    def __init__(self, authenticator: Authenticator) -> None:
        self._auth = authenticator
        self._asked = False

    def start(self, initial_response: bytes | None) -> ServerStep:
        """Check the message, or ask for it with an empty challenge (RFC 4422 section 5)."""
        if initial_response is None:
            self._asked = True
            return StepChallenge(b"")
        return self._check(initial_response)

    def respond(self, response: bytes) -> ServerStep:
        """Check the message sent after our empty challenge."""
        if not self._asked:
            return StepFailure(auth_failed("PLAIN got a response it did not ask for"))
        self._asked = False
        return self._check(response)

    def _check(self, message: bytes) -> ServerStep:
        parts = message.split(b"\0")
        try:
            if len(parts) != 3:
                raise ValueError("expected authzid NUL authcid NUL passwd")
            authzid, user, password = (
                saslprep(p.decode("utf-8"), what=w)
                for p, w in zip(parts, ("authzid", "user name", "password"))
            )
            if not user or not password:
                raise ValueError("empty user name or password")
        except ValueError as exc:  # UnicodeDecodeError is a ValueError
            return StepFailure(auth_failed(f"malformed PLAIN message: {exc}"))
        if authorize(user, authzid) is None:
            return StepFailure(auth_failed(f"{user!r} may not act as {authzid!r}"))
        if not self._auth.authenticate_plain(user, password):
            return StepFailure(auth_failed(f"PLAIN: wrong password or unknown user {user!r}"))
        return StepSuccess(user)


class ExternalServer:
    """EXTERNAL: admits the identity the transport (TLS client certificate) established."""

    mechanism = Mechanism.EXTERNAL

    def __init__(self, authenticator: Authenticator, identity: str) -> None:
        self._auth = authenticator
        self._identity = identity

    def start(self, initial_response: bytes | None) -> ServerStep:
        """Check the optional authzid, then ask the authenticator about the identity."""
        try:
            authzid = (initial_response or b"").decode("utf-8")
        except UnicodeDecodeError:
            return StepFailure(auth_failed("EXTERNAL authzid is not UTF-8"))
        if authorize(self._identity, authzid) is None:
            return StepFailure(auth_failed(f"{self._identity!r} may not act as {authzid!r}"))
        if not self._auth.authenticate_external(self._identity):
            return StepFailure(auth_failed(f"EXTERNAL identity {self._identity!r} is not admitted"))
        return StepSuccess(self._identity)

    def respond(self, response: bytes) -> ServerStep:
        """Never reached: ``start`` always finishes."""
        return StepFailure(auth_failed("EXTERNAL takes no response"))


