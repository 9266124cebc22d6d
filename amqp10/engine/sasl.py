"""The SASL phase (spec 5.3), client and server, as two small sans-IO negotiators.

Owns: the order of the SASL frames (sasl-mechanisms, sasl-init, sasl-challenge / sasl-response,
sasl-outcome) as one transition table per role, the client's choice of mechanism and its
transport policy (PLAIN only over TLS unless allowed), the server's offer, and the mapping of
sasl-outcome codes to ``SASLError``. ``Connection`` hands each decoded SASL frame body to
``receive()`` and sends the bodies it returns, like wsproto's handshake object; once ``done``,
the SASL layer is over (spec 5.3.2) and the connection takes over with the AMQP header.

Must never: do I/O, frame or encode bytes, read a clock, or raise for something the peer did:
a peer's misbehaviour ends the negotiation with ``succeeded = False`` and ``error`` set (the
server also answers with a sasl-outcome, as the client has no way to abort in-band). Only the
caller's own misuse (feeding frames after ``done``) raises ``LocalProtocolError``.
"""

from __future__ import annotations

import enum
from typing import Callable, Iterable, Mapping

from ..codec.composite import Composite
from ..codec.spec import (
    AmqpErrorCondition,
    SaslChallenge,
    SaslCode,
    SaslInit,
    SaslMechanisms,
    SaslOutcome,
    SaslResponse,
)
from ..codec.types import Symbol
from ..errors import LocalProtocolError, SASLError
from .mechanisms import (
    AnonymousClient,
    AnonymousServer,
    Authenticator,
    ClientMechanism,
    ExternalClient,
    ExternalServer,
    Mechanism,
    NonceFactory,
    PlainClient,
    PlainServer,
    ServerMechanism,
    ServerStep,
    StepChallenge,
    StepFailure,
    StepSuccess,
    default_nonce,
    saslprep,
)
from .scram import MAX_SCRAM_ITERATIONS, ScramClient, ScramServer

__all__ = [
    "SaslClient",
    "SaslServer",
    "SaslInput",
    "SaslClientState",
    "SaslServerState",
    "SASL_CLIENT_TRANSITIONS",
    "SASL_SERVER_TRANSITIONS",
    "MECHANISM_PREFERENCE",
]

_Cond = AmqpErrorCondition

#: Strongest first: the client picks the first of these that the server offers and it may use.
MECHANISM_PREFERENCE: tuple[Mechanism, ...] = (
    Mechanism.SCRAM_SHA_512,
    Mechanism.SCRAM_SHA_256,
    Mechanism.SCRAM_SHA_1,
    Mechanism.PLAIN,
    Mechanism.EXTERNAL,
    Mechanism.ANONYMOUS,
)


class SaslInput(enum.Enum):
    """What happens to a negotiator: a frame arrives (``RECV_*``) or it acts (the rest)."""

    RECV_MECHANISMS = enum.auto()
    RECV_INIT = enum.auto()
    RECV_CHALLENGE = enum.auto()
    RECV_RESPONSE = enum.auto()
    RECV_OUTCOME = enum.auto()
    RECV_OTHER = enum.auto()  # any non-SASL body (e.g. an open) during the SASL phase
    SEND_MECHANISMS = enum.auto()
    SEND_INIT = enum.auto()
    SEND_CHALLENGE = enum.auto()
    SEND_RESPONSE = enum.auto()
    SEND_OUTCOME_OK = enum.auto()
    SEND_OUTCOME_FAILED = enum.auto()
    ACCEPT_OUTCOME = enum.auto()  # client: outcome ok and the server proved itself if it must
    ABANDON = enum.auto()  # client: give up; nothing can be sent, the transport is closed


class SaslClientState(enum.Enum):
    """Where the client is in spec 5.3.2's exchange."""

    AWAIT_MECHANISMS = enum.auto()
    CHOOSING = enum.auto()
    AWAIT_OUTCOME = enum.auto()  # a sasl-challenge may come first
    RESPONDING = enum.auto()
    CHECKING_OUTCOME = enum.auto()
    SUCCEEDED = enum.auto()
    FAILED = enum.auto()


class SaslServerState(enum.Enum):
    """Where the server is in spec 5.3.2's exchange."""

    START = enum.auto()
    AWAIT_INIT = enum.auto()
    AUTHENTICATING = enum.auto()
    AWAIT_RESPONSE = enum.auto()
    SUCCEEDED = enum.auto()
    FAILED = enum.auto()


_C = SaslClientState
_S = SaslServerState
_I = SaslInput

# Spec 5.3.2, client side:  <- mechanisms, -> init, (<- challenge, -> response)*, <- outcome.
# The client cannot abort in-band; ABANDON means "close the transport, nothing sent".
SASL_CLIENT_TRANSITIONS: Mapping[tuple[SaslClientState, SaslInput], SaslClientState] = {
    (_C.AWAIT_MECHANISMS, _I.RECV_MECHANISMS): _C.CHOOSING,
    (_C.CHOOSING, _I.SEND_INIT): _C.AWAIT_OUTCOME,
    (_C.AWAIT_OUTCOME, _I.RECV_CHALLENGE): _C.RESPONDING,
    (_C.RESPONDING, _I.SEND_RESPONSE): _C.AWAIT_OUTCOME,
    (_C.AWAIT_OUTCOME, _I.RECV_OUTCOME): _C.CHECKING_OUTCOME,
    (_C.CHECKING_OUTCOME, _I.ACCEPT_OUTCOME): _C.SUCCEEDED,
    **{
        (state, _I.ABANDON): _C.FAILED
        for state in _C
        if state not in (_C.SUCCEEDED, _C.FAILED)
    },
}

# Spec 5.3.2, server side:  -> mechanisms, <- init, (-> challenge, <- response)*, -> outcome.
# Any frame out of order is answered with outcome sys-perm (SEND_OUTCOME_FAILED).
SASL_SERVER_TRANSITIONS: Mapping[tuple[SaslServerState, SaslInput], SaslServerState] = {
    (_S.START, _I.SEND_MECHANISMS): _S.AWAIT_INIT,
    (_S.AWAIT_INIT, _I.RECV_INIT): _S.AUTHENTICATING,
    (_S.AUTHENTICATING, _I.SEND_CHALLENGE): _S.AWAIT_RESPONSE,
    (_S.AWAIT_RESPONSE, _I.RECV_RESPONSE): _S.AUTHENTICATING,
    (_S.AUTHENTICATING, _I.SEND_OUTCOME_OK): _S.SUCCEEDED,
    (_S.AUTHENTICATING, _I.SEND_OUTCOME_FAILED): _S.FAILED,
    (_S.AWAIT_INIT, _I.SEND_OUTCOME_FAILED): _S.FAILED,
    (_S.AWAIT_RESPONSE, _I.SEND_OUTCOME_FAILED): _S.FAILED,
}

_INPUT_BY_TYPE: Mapping[type[Composite], SaslInput] = {
    SaslMechanisms: _I.RECV_MECHANISMS,
    SaslInit: _I.RECV_INIT,
    SaslChallenge: _I.RECV_CHALLENGE,
    SaslResponse: _I.RECV_RESPONSE,
    SaslOutcome: _I.RECV_OUTCOME,
}

# Spec 5.3.3.6: what each failing sasl-code means, and what the user should do about it.
_OUTCOME_ERRORS: Mapping[int, tuple[str, str]] = {
    1: (_Cond.UNAUTHORIZED_ACCESS, "authentication failed (sasl-outcome auth): the server refused "
        "these credentials; check the user name, password and mechanism"),
    2: (_Cond.INTERNAL_ERROR, "the server could not authenticate because of a system error "
        "(sasl-outcome sys); retry later, or ask the server's operator"),
    3: (_Cond.INTERNAL_ERROR, "the server could not authenticate because of a permanent system error "
        "(sasl-outcome sys-perm); retrying will not help, ask the server's operator"),
    4: (_Cond.INTERNAL_ERROR, "the server could not authenticate because of a temporary system error "
        "(sasl-outcome sys-temp); retry later"),
}


def _parse_mechanisms(names: Iterable[Mechanism | str] | None, what: str) -> tuple[Mechanism, ...] | None:
    if names is None:
        return None
    parsed = []
    for name in names:
        try:
            parsed.append(Mechanism(name.upper() if isinstance(name, str) else name))
        except ValueError:
            supported = ", ".join(m.value for m in MECHANISM_PREFERENCE)
            raise ValueError(f"{what}: unsupported SASL mechanism {name!r} (supported: {supported})") from None
    return tuple(parsed)


def _check_mandatory(body: Composite) -> None:
    """Raise ``SASLError`` (invalid-field, sys-perm) if a mandatory field of ``body`` is absent."""
    missing = [name for name in getattr(body, "_amqp_mandatory_", ()) if getattr(body, name) is None]
    if missing:
        raise SASLError(
            f"{_frame_name(body)} arrived without its mandatory field {missing[0]} (spec 5.3.3)",
            condition=_Cond.INVALID_FIELD,
            code=int(SaslCode.SYS_PERM),
        )


def _frame_name(body: Composite) -> str:
    return getattr(body, "_amqp_name_", type(body).__name__)


class SaslClient:
    """The client's SASL negotiator: waits for sasl-mechanisms, picks one, authenticates.

    Mechanism choice: the first of ``MECHANISM_PREFERENCE`` that the server offers, that
    ``mechanisms`` (if given) lists, and that we have what it needs for: SCRAM and PLAIN need
    ``username`` and ``password``; EXTERNAL needs ``tls_client_cert`` or an explicit listing;
    ANONYMOUS is used only when no credentials are given or when listed explicitly (so a typo'd
    server config never silently downgrades you to anonymous).

    PLAIN sends the password in clear, so it is refused over a transport without TLS unless
    ``allow_insecure_plain=True``: the negotiation fails with a ``SASLError`` and nothing is sent.

    Args:
        username: the authentication identity, or None.
        password: its password, or None.
        authzid: act as this identity (rarely supported by servers), or None.
        hostname: the hostname to put in sasl-init (virtual hosting), or None.
        mechanisms: only consider these (Proton's ``allowed_mechs``), or None for all.
        tls_active: the transport is TLS-protected.
        allow_insecure_plain: permit PLAIN without TLS (for loopback tests and dev servers).
        tls_client_cert: a TLS client certificate is in use, so EXTERNAL is a candidate.
        nonce: SCRAM nonce source (inject one for deterministic tests).
        scram_max_iterations: the most SCRAM iterations a server may ask us to compute.

    Raises:
        ValueError: an unsupported mechanism name, or a user name / password with a character
            SASLprep prohibits.
    """

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        authzid: str | None = None,
        hostname: str | None = None,
        mechanisms: Iterable[Mechanism | str] | None = None,
        tls_active: bool = False,
        allow_insecure_plain: bool = False,
        tls_client_cert: bool = False,
        nonce: NonceFactory = default_nonce,
        scram_max_iterations: int = MAX_SCRAM_ITERATIONS,
    ) -> None:
        self._username = None if username is None else saslprep(username, what="user name")
        self._password = None if password is None else saslprep(password, what="password")
        self._authzid = None if authzid is None else saslprep(authzid, what="authzid")
        self._hostname = hostname
        self._explicit = _parse_mechanisms(mechanisms, "SaslClient mechanisms")
        self._tls_active = tls_active
        self._allow_insecure_plain = allow_insecure_plain
        self._tls_client_cert = tls_client_cert
        self._nonce = nonce
        self._scram_max_iterations = scram_max_iterations
        self._state = SaslClientState.AWAIT_MECHANISMS
        self._mech: ClientMechanism | None = None
        #: The mechanism chosen, once sasl-mechanisms has arrived.
        self.mechanism: Mechanism | None = None
        #: Why the negotiation failed, or None.
        self.error: SASLError | None = None
        #: The identity we authenticate as: the user name (PLAIN, SCRAM), the authzid
        #: (EXTERNAL), or None (ANONYMOUS, or before the choice).
        self.user: str | None = None

    @property
    def state(self) -> SaslClientState:
        """The current state (see ``SASL_CLIENT_TRANSITIONS``)."""
        return self._state

    @property
    def done(self) -> bool:
        """The negotiation has finished, either way."""
        return self._state in (SaslClientState.SUCCEEDED, SaslClientState.FAILED)

    @property
    def succeeded(self) -> bool:
        """The server accepted us, and proved itself where the mechanism demands (SCRAM)."""
        return self._state is SaslClientState.SUCCEEDED

    def initial_frames(self) -> list[Composite]:
        """Nothing: the client speaks only after the server's sasl-mechanisms (spec 5.3.2)."""
        return []

    def receive(self, body: Composite) -> list[Composite]:
        """Take one SASL frame body from the server; return the bodies to send in reply.

        A peer misbehaving (a frame out of order, a bad challenge, a failed outcome) ends the
        negotiation: ``done`` and ``error`` are set and ``[]`` is returned; the caller then
        closes the transport.

        Raises:
            LocalProtocolError: the negotiation is already ``done``; after the outcome the
                next bytes belong to the AMQP layer (spec 5.3.2), not to SASL.
        """
        if self.done:
            raise LocalProtocolError(
                f"SASL negotiation already finished ({self._state.name}); "
                f"{_frame_name(body)} must not be passed to SaslClient.receive()"
            )
        event = _INPUT_BY_TYPE.get(type(body), SaslInput.RECV_OTHER)
        if (self._state, event) not in SASL_CLIENT_TRANSITIONS:
            self._abandon(SASLError(
                f"the server sent {_frame_name(body)} while the client was in "
                f"{self._state.name}; SASL frames must follow spec 5.3.2's order",
                condition=_Cond.ILLEGAL_STATE,
            ))
            return []
        self._advance(event)
        try:
            _check_mandatory(body)
            if isinstance(body, SaslMechanisms):
                return self._on_mechanisms(body)
            if isinstance(body, SaslChallenge):
                assert self._mech is not None and body.challenge is not None
                response = self._mech.challenge(bytes(body.challenge))
                self._advance(SaslInput.SEND_RESPONSE)
                return [SaslResponse(response=response)]
            assert isinstance(body, SaslOutcome)
            return self._on_outcome(body)
        except SASLError as exc:
            self._abandon(exc)
            return []

    def _advance(self, event: SaslInput) -> None:
        self._state = SASL_CLIENT_TRANSITIONS[(self._state, event)]

    def _abandon(self, error: SASLError) -> None:
        self.error = error
        self._advance(SaslInput.ABANDON)

    def _on_mechanisms(self, body: SaslMechanisms) -> list[Composite]:
        offered_raw = body.sasl_server_mechanisms
        offered_names = [offered_raw] if isinstance(offered_raw, str) else list(offered_raw or ())
        offered = {str(name).upper() for name in offered_names}
        choice = self._choose(offered)
        self.mechanism = choice
        self._mech = self._build(choice)
        self.user = self._authzid if choice is Mechanism.EXTERNAL else (
            None if choice is Mechanism.ANONYMOUS else self._username
        )
        init = SaslInit(
            mechanism=Symbol(choice.value),
            initial_response=self._mech.initial_response(),
            hostname=self._hostname,
        )
        self._advance(SaslInput.SEND_INIT)
        return [init]

    def _candidates(self) -> list[Mechanism]:
        has_credentials = self._username is not None and self._password is not None
        explicit = self._explicit
        usable = []
        for mech in MECHANISM_PREFERENCE:
            if explicit is not None and mech not in explicit:
                continue
            if mech.is_scram or mech is Mechanism.PLAIN:
                ok = has_credentials
            elif mech is Mechanism.EXTERNAL:
                ok = self._tls_client_cert or explicit is not None
            else:  # ANONYMOUS
                ok = explicit is not None or (self._username is None and self._password is None)
            if ok:
                usable.append(mech)
        return usable

    def _choose(self, offered: set[str]) -> Mechanism:
        candidates = [m for m in self._candidates() if m.value in offered]
        plain_refused = False
        if Mechanism.PLAIN in candidates and not (self._tls_active or self._allow_insecure_plain):
            candidates.remove(Mechanism.PLAIN)
            plain_refused = True
        if candidates:
            return candidates[0]
        if plain_refused:
            raise SASLError(
                "refusing SASL PLAIN over a transport without TLS: it would send the password "
                "in clear. Connect with TLS (amqps://), or pass allow_insecure_plain=True if "
                "the network is trusted (e.g. loopback)",
                condition=_Cond.NOT_ALLOWED,
            )
        usable = ", ".join(m.value for m in self._candidates()) or "none (no credentials given)"
        raise SASLError(
            f"no SASL mechanism in common: the server offers {', '.join(sorted(offered)) or 'none'}; "
            f"this client can use {usable}",
            condition=_Cond.NOT_IMPLEMENTED,
        )

    def _build(self, choice: Mechanism) -> ClientMechanism:
        if choice is Mechanism.ANONYMOUS:
            return AnonymousClient()
        if choice is Mechanism.EXTERNAL:
            return ExternalClient(self._authzid)
        assert self._username is not None and self._password is not None
        if choice is Mechanism.PLAIN:
            return PlainClient(self._username, self._password, self._authzid)
        return ScramClient(
            choice,
            self._username,
            self._password,
            self._authzid,
            nonce=self._nonce,
            max_iterations=self._scram_max_iterations,
        )

    def _on_outcome(self, body: SaslOutcome) -> list[Composite]:
        assert self._mech is not None and body.code is not None
        code = int(body.code)
        if code != int(SaslCode.OK):
            condition, text = _OUTCOME_ERRORS.get(code, (
                _Cond.INTERNAL_ERROR, f"the server ended SASL with unknown sasl-outcome code {code}"
            ))
            user = f" as {self.user!r}" if self.user else ""
            raise SASLError(f"{text} [{self._mech.mechanism.value}{user}]", condition=condition, code=code)
        additional = None if body.additional_data is None else bytes(body.additional_data)
        self._mech.verify_success(additional)
        self._advance(SaslInput.ACCEPT_OUTCOME)
        return []


class SaslServer:
    """The server's SASL negotiator: offers mechanisms, runs the chosen one, sends the outcome.

    Offers ``mechanisms`` (default: all, strongest first), minus what cannot or may not be used
    here: PLAIN unless ``tls_active`` or ``allow_insecure_plain``; ANONYMOUS unless
    ``allow_anonymous``; EXTERNAL unless the transport established ``external_identity``;
    PLAIN, SCRAM and EXTERNAL when there is no ``authenticator``.

    Failures end with a sasl-outcome: ``auth`` (1) for refused credentials or a mechanism not
    offered, ``sys-perm`` (3) for frames out of order, or the code of a ``SASLError`` the
    authenticator raised (e.g. 4, sys-temp, when its user store is down).

    Args:
        authenticator: decides PLAIN, SCRAM and EXTERNAL; None for ANONYMOUS-only servers.
        mechanisms: the mechanisms to offer, or None for all.
        tls_active: the transport is TLS-protected.
        allow_insecure_plain: offer PLAIN without TLS (loopback tests, dev servers).
        allow_anonymous: offer ANONYMOUS.
        external_identity: the identity TLS established (client certificate subject), if any.
        nonce: SCRAM nonce source (inject one for deterministic tests).

    Raises:
        ValueError: an unsupported mechanism name, or nothing left to offer.
    """

    def __init__(
        self,
        authenticator: Authenticator | None = None,
        *,
        mechanisms: Iterable[Mechanism | str] | None = None,
        tls_active: bool = False,
        allow_insecure_plain: bool = False,
        allow_anonymous: bool = False,
        external_identity: str | None = None,
        nonce: NonceFactory = default_nonce,
    ) -> None:
        wanted = _parse_mechanisms(mechanisms, "SaslServer mechanisms") or MECHANISM_PREFERENCE
        self._auth = authenticator
        self._external_identity = external_identity
        self._nonce = nonce

        def may_offer(mech: Mechanism) -> bool:
            if mech is Mechanism.ANONYMOUS:
                return allow_anonymous
            if authenticator is None:
                return False
            if mech is Mechanism.PLAIN:
                return tls_active or allow_insecure_plain
            if mech is Mechanism.EXTERNAL:
                return external_identity is not None
            return True

        #: What we offer, strongest first.
        self.offered: tuple[Mechanism, ...] = tuple(m for m in MECHANISM_PREFERENCE if m in wanted and may_offer(m))
        if not self.offered:
            raise ValueError(
                "SaslServer has no mechanism to offer: pass an authenticator, allow_anonymous=True, "
                "or (for PLAIN without TLS) allow_insecure_plain=True"
            )
        self._state = SaslServerState.START
        self._mech: ServerMechanism | None = None
        #: The mechanism the client chose, once sasl-init has arrived.
        self.mechanism: Mechanism | None = None
        #: The hostname the client put in sasl-init, or None.
        self.hostname: str | None = None
        #: Why the negotiation failed, or None.
        self.error: SASLError | None = None
        #: The authenticated identity once ``succeeded`` ("anonymous" for ANONYMOUS).
        self.user: str | None = None

    @property
    def state(self) -> SaslServerState:
        """The current state (see ``SASL_SERVER_TRANSITIONS``)."""
        return self._state

    @property
    def done(self) -> bool:
        """The outcome has been produced, either way."""
        return self._state in (SaslServerState.SUCCEEDED, SaslServerState.FAILED)

    @property
    def succeeded(self) -> bool:
        """The client authenticated; ``user`` says as whom."""
        return self._state is SaslServerState.SUCCEEDED

    def initial_frames(self) -> list[Composite]:
        """The sasl-mechanisms frame the server sends first (spec 5.3.2).

        Raises:
            LocalProtocolError: called twice.
        """
        if (self._state, SaslInput.SEND_MECHANISMS) not in SASL_SERVER_TRANSITIONS:
            raise LocalProtocolError(f"SaslServer.initial_frames() called in {self._state.name}")
        self._advance(SaslInput.SEND_MECHANISMS)
        return [SaslMechanisms(sasl_server_mechanisms=[Symbol(m.value) for m in self.offered])]

    def receive(self, body: Composite) -> list[Composite]:
        """Take one SASL frame body from the client; return the bodies to send in reply.

        A frame out of order, or failed authentication, is answered with a sasl-outcome and
        ends the negotiation (``done``, ``error`` set).

        Raises:
            LocalProtocolError: ``initial_frames()`` was not called yet, or the negotiation is
                already ``done`` (after the outcome, the bytes belong to the AMQP layer).
        """
        if self._state is SaslServerState.START or self.done:
            raise LocalProtocolError(
                f"SaslServer.receive() called in {self._state.name} with {_frame_name(body)}; "
                "call initial_frames() first, and stop once done"
            )
        event = _INPUT_BY_TYPE.get(type(body), SaslInput.RECV_OTHER)
        if (self._state, event) not in SASL_SERVER_TRANSITIONS:
            return self._fail(SASLError(
                f"the client sent {_frame_name(body)} while the server was in {self._state.name}; "
                "SASL frames must follow spec 5.3.2's order (answered with sys-perm)",
                condition=_Cond.ILLEGAL_STATE,
                code=int(SaslCode.SYS_PERM),
            ))
        self._advance(event)
        try:
            _check_mandatory(body)
        except SASLError as exc:
            return self._fail(exc)
        if isinstance(body, SaslInit):
            return self._on_init(body)
        assert isinstance(body, SaslResponse) and self._mech is not None
        response = bytes(body.response or b"")
        return self._step(lambda mech: mech.respond(response))

    def _advance(self, event: SaslInput) -> None:
        self._state = SASL_SERVER_TRANSITIONS[(self._state, event)]

    def _fail(self, error: SASLError) -> list[Composite]:
        self.error = error
        self._advance(SaslInput.SEND_OUTCOME_FAILED)
        return [SaslOutcome(code=SaslCode(error.code or int(SaslCode.AUTH)))]

    def _on_init(self, body: SaslInit) -> list[Composite]:
        self.hostname = body.hostname
        name = str(body.mechanism).upper()  # mandatory: checked by _check_mandatory
        chosen = next((m for m in self.offered if m.value == name), None)
        if chosen is None:
            return self._fail(SASLError(
                f"the client chose SASL mechanism {str(body.mechanism)[:40]!r}, which was not offered "
                f"(offered: {', '.join(m.value for m in self.offered)})",
                condition=_Cond.UNAUTHORIZED_ACCESS,
                code=int(SaslCode.AUTH),
            ))
        self.mechanism = chosen
        self._mech = self._build(chosen)
        initial = None if body.initial_response is None else bytes(body.initial_response)
        return self._step(lambda mech: mech.start(initial))

    def _build(self, chosen: Mechanism) -> ServerMechanism:
        if chosen is Mechanism.ANONYMOUS:
            return AnonymousServer()
        assert self._auth is not None  # only offered with an authenticator
        if chosen is Mechanism.PLAIN:
            return PlainServer(self._auth)
        if chosen is Mechanism.EXTERNAL:
            assert self._external_identity is not None
            return ExternalServer(self._auth, self._external_identity)
        return ScramServer(chosen, self._auth, nonce=self._nonce)

    def _step(self, run: Callable[[ServerMechanism], ServerStep]) -> list[Composite]:
        assert self._mech is not None
        try:
            step = run(self._mech)
        except SASLError as exc:  # the authenticator's way to say "sys" / "sys-temp"
            code = exc.code if exc.code in _OUTCOME_ERRORS else int(SaslCode.SYS)
            step = StepFailure(SASLError(exc.description, condition=exc.condition or _Cond.INTERNAL_ERROR, code=code))
        if isinstance(step, StepChallenge):
            self._advance(SaslInput.SEND_CHALLENGE)
            return [SaslChallenge(challenge=step.data)]
        if isinstance(step, StepFailure):
            return self._fail(step.error)
        self.user = step.identity
        self._advance(SaslInput.SEND_OUTCOME_OK)
        # Spec 5.3.3.6: additional-data carries the mechanism's success data (SCRAM's v=...).
        return [SaslOutcome(code=SaslCode.OK, additional_data=step.additional_data)]
