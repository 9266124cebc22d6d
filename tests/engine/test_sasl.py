"""SaslClient and SaslServer negotiating with each other in memory (spec 5.3).

Every mechanism succeeds and fails end to end; the client's choice and transport policy;
frames out of order (both sides); outcome codes mapped to SASLError; misuse raising
LocalProtocolError. The mechanism arithmetic itself is proven in test_mechanisms.py.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import replace
from typing import Union

import pytest

from amqp10.codec.composite import Composite
from amqp10.codec.spec import SaslChallenge, SaslCode, SaslInit, SaslMechanisms, SaslOutcome, SaslResponse
from amqp10.codec.types import Symbol
from amqp10.engine.mechanisms import Mechanism, ScramCredentials
from amqp10.engine.sasl import (
    MECHANISM_PREFERENCE,
    SASL_CLIENT_TRANSITIONS,
    SASL_SERVER_TRANSITIONS,
    SaslClient,
    SaslClientState,
    SaslInput,
    SaslServer,
    SaslServerState,
)
from amqp10.engine.authenticators import SimpleAuthenticator
from amqp10.errors import LocalProtocolError, SASLError

USERS = {"alice": "wonderland", "bob": "builder"}
SCRAMS = [Mechanism.SCRAM_SHA_1, Mechanism.SCRAM_SHA_256, Mechanism.SCRAM_SHA_512]
Frame = Composite


def counter_nonce(prefix: str):  # type: ignore[no-untyped-def]
    """A deterministic nonce source: prefix0, prefix1, ..."""
    numbers = itertools.count()
    return lambda: f"{prefix}{next(numbers)}"


def authenticator() -> SimpleAuthenticator:
    return SimpleAuthenticator(USERS, external_identities=["CN=alice"], salt=lambda: b"0123456789abcdef")


def server(**kwargs: object) -> SaslServer:
    kwargs.setdefault("nonce", counter_nonce("srv"))
    return SaslServer(authenticator(), **kwargs)  # type: ignore[arg-type]


def client(**kwargs: object) -> SaslClient:
    kwargs.setdefault("nonce", counter_nonce("cli"))
    return SaslClient(**kwargs)  # type: ignore[arg-type]


def negotiate(c: SaslClient, s: SaslServer) -> list[tuple[str, Frame]]:
    """Pump frames between the two until neither has anything to say; return the transcript."""
    transcript: list[tuple[str, Frame]] = []
    to_client = s.initial_frames() + c.initial_frames()
    to_server: list[Frame] = []
    for _ in range(20):  # bounded: a SASL exchange is a handful of frames
        if not to_client and not to_server:
            return transcript
        if to_client:
            frame = to_client.pop(0)
            transcript.append(("S->C", frame))
            to_server += c.receive(frame)
        else:
            frame = to_server.pop(0)
            transcript.append(("C->S", frame))
            to_client += s.receive(frame)
    raise AssertionError(f"SASL did not settle in 20 frames: {transcript}")


def kinds(transcript: list[tuple[str, Frame]]) -> list[str]:
    return [f"{way} {type(frame).__name__}" for way, frame in transcript]


# -- every mechanism succeeds ------------------------------------------------------------------


@pytest.mark.parametrize("mech", SCRAMS)
def test_SaslClient_authenticates_with_scram_when_the_password_is_right(mech: Mechanism) -> None:
    c, s = client(username="alice", password="wonderland", mechanisms=[mech]), server()
    transcript = negotiate(c, s)
    assert kinds(transcript) == [
        "S->C SaslMechanisms",
        "C->S SaslInit",
        "S->C SaslChallenge",
        "C->S SaslResponse",
        "S->C SaslOutcome",
    ]
    outcome = transcript[-1][1]
    assert isinstance(outcome, SaslOutcome) and outcome.code == SaslCode.OK
    assert outcome.additional_data is not None and bytes(outcome.additional_data).startswith(b"v=")
    assert (c.done, c.succeeded, c.error, c.user, c.mechanism) == (True, True, None, "alice", mech)
    assert (s.done, s.succeeded, s.error, s.user, s.mechanism) == (True, True, None, "alice", mech)


@pytest.mark.parametrize("tls_active, allow_insecure_plain", [(True, False), (False, True)])
def test_SaslClient_authenticates_with_plain_when_tls_is_active_or_insecure_plain_allowed(
    tls_active: bool, allow_insecure_plain: bool
) -> None:
    policy = dict(tls_active=tls_active, allow_insecure_plain=allow_insecure_plain)
    c = client(username="bob", password="builder", mechanisms=["PLAIN"], **policy)
    s = server(**policy)
    transcript = negotiate(c, s)
    assert kinds(transcript) == ["S->C SaslMechanisms", "C->S SaslInit", "S->C SaslOutcome"]
    init = transcript[1][1]
    assert isinstance(init, SaslInit) and init.mechanism == "PLAIN"
    assert bytes(init.initial_response) == b"\0bob\0builder"
    assert c.succeeded and s.succeeded and s.user == "bob" and c.user == "bob"


def test_SaslClient_authenticates_with_external_when_a_client_certificate_is_in_use() -> None:
    c = client(tls_active=True, tls_client_cert=True)
    s = server(tls_active=True, external_identity="CN=alice")
    negotiate(c, s)
    assert c.mechanism is Mechanism.EXTERNAL and c.succeeded
    assert s.succeeded and s.user == "CN=alice" and c.user is None


def test_SaslClient_authenticates_anonymously_when_it_has_no_credentials() -> None:
    c, s = client(), server(allow_anonymous=True)
    transcript = negotiate(c, s)
    assert kinds(transcript) == ["S->C SaslMechanisms", "C->S SaslInit", "S->C SaslOutcome"]
    assert c.mechanism is Mechanism.ANONYMOUS and c.succeeded and c.user is None
    assert s.succeeded and s.user == "anonymous"


def test_SaslServer_authenticates_anonymously_without_an_authenticator_when_allowed() -> None:
    c, s = client(), SaslServer(allow_anonymous=True)
    negotiate(c, s)
    assert s.offered == (Mechanism.ANONYMOUS,) and c.succeeded and s.succeeded


def test_SaslServer_records_the_hostname_when_the_client_sends_one() -> None:
    c, s = client(hostname="vhost.example"), server(allow_anonymous=True)
    negotiate(c, s)
    assert s.hostname == "vhost.example"


# -- the client's choice -----------------------------------------------------------------------


def test_SaslClient_picks_scram_sha_512_when_the_server_offers_everything() -> None:
    s = server(tls_active=True, allow_anonymous=True, external_identity="CN=alice")
    assert s.offered == MECHANISM_PREFERENCE
    c = client(username="alice", password="wonderland", tls_active=True, tls_client_cert=True)
    negotiate(c, s)
    assert c.mechanism is Mechanism.SCRAM_SHA_512 and c.succeeded


@pytest.mark.parametrize(
    "offered, expected",
    [
        (["PLAIN", "SCRAM-SHA-1"], Mechanism.SCRAM_SHA_1),
        (["SCRAM-SHA-1", "SCRAM-SHA-256"], Mechanism.SCRAM_SHA_256),
        (["ANONYMOUS", "PLAIN"], Mechanism.PLAIN),
        (["plain"], Mechanism.PLAIN),  # mechanism names compare case-insensitively
        (["GSSAPI", "PLAIN", "X-UNKNOWN"], Mechanism.PLAIN),
    ],
)
def test_SaslClient_picks_the_strongest_offered_mechanism_when_it_has_credentials(
    offered: list[str], expected: Mechanism
) -> None:
    c = client(username="alice", password="wonderland", tls_active=True)
    [init] = c.receive(SaslMechanisms(sasl_server_mechanisms=[Symbol(m) for m in offered]))
    assert isinstance(init, SaslInit) and init.mechanism == expected.value
    assert c.mechanism is expected and c.state is SaslClientState.AWAIT_OUTCOME


def test_SaslClient_accepts_a_single_mechanism_symbol_when_not_sent_as_an_array() -> None:
    c = client(username="alice", password="wonderland")
    [init] = c.receive(SaslMechanisms(sasl_server_mechanisms=Symbol("SCRAM-SHA-1")))
    assert isinstance(init, SaslInit) and init.mechanism == "SCRAM-SHA-1"


def test_SaslClient_uses_only_the_listed_mechanisms_when_given_a_list() -> None:
    c = client(username="alice", password="wonderland", mechanisms=["SCRAM-SHA-1"])
    negotiate(c, server())
    assert c.mechanism is Mechanism.SCRAM_SHA_1 and c.succeeded


def test_SaslClient_refuses_to_downgrade_to_anonymous_when_it_has_credentials() -> None:
    c, s = client(username="alice", password="wonderland"), server(allow_anonymous=True, mechanisms=["ANONYMOUS"])
    transcript = negotiate(c, s)
    assert kinds(transcript) == ["S->C SaslMechanisms"]  # nothing sent
    assert c.done and not c.succeeded and c.error is not None
    assert c.error.condition == "amqp:not-implemented" and "no SASL mechanism in common" in str(c.error)
    assert "ANONYMOUS" in str(c.error) and not s.done


def test_SaslClient_uses_anonymous_with_credentials_when_listed_explicitly() -> None:
    c = client(username="alice", password="wonderland", mechanisms=["ANONYMOUS"])
    negotiate(c, server(allow_anonymous=True))
    assert c.mechanism is Mechanism.ANONYMOUS and c.succeeded


def test_SaslClient_does_not_pick_external_when_no_certificate_is_in_use_or_asked() -> None:
    c = client(tls_active=True)
    s = server(tls_active=True, external_identity="CN=alice", mechanisms=["EXTERNAL"])
    negotiate(c, s)
    assert not c.succeeded and c.error is not None and "no SASL mechanism in common" in str(c.error)


def test_SaslClient_uses_external_when_listed_explicitly() -> None:
    c = client(tls_active=True, mechanisms=["EXTERNAL"], authzid="CN=alice")
    negotiate(c, server(tls_active=True, external_identity="CN=alice"))
    assert c.succeeded and c.user == "CN=alice"


def test_SaslClient_raises_ValueError_when_a_listed_mechanism_is_unsupported() -> None:
    with pytest.raises(ValueError, match="GSSAPI"):
        SaslClient(mechanisms=["GSSAPI"])


def test_SaslClient_raises_ValueError_when_the_user_name_has_a_control_character() -> None:
    with pytest.raises(ValueError, match="user name"):
        SaslClient(username="ali\x00ce", password="pw")


# -- PLAIN and the transport -------------------------------------------------------------------


def test_SaslClient_refuses_plain_and_sends_nothing_when_the_transport_has_no_tls() -> None:
    c = client(username="bob", password="builder")
    s = server(allow_insecure_plain=True, mechanisms=["PLAIN"])
    transcript = negotiate(c, s)
    assert kinds(transcript) == ["S->C SaslMechanisms"]
    assert c.done and not c.succeeded and c.error is not None
    assert c.error.condition == "amqp:not-allowed" and c.error.code is None
    assert "allow_insecure_plain=True" in str(c.error) and "TLS" in str(c.error)
    assert c.state is SaslClientState.FAILED and s.state is SaslServerState.AWAIT_INIT


def test_SaslServer_does_not_offer_plain_when_the_transport_has_no_tls() -> None:
    assert Mechanism.PLAIN not in server().offered
    assert Mechanism.PLAIN in server(tls_active=True).offered
    assert Mechanism.PLAIN in server(allow_insecure_plain=True).offered


def test_SaslServer_does_not_offer_anonymous_or_external_unless_enabled() -> None:
    offered = server(tls_active=True).offered
    assert Mechanism.ANONYMOUS not in offered and Mechanism.EXTERNAL not in offered
    assert offered == (Mechanism.SCRAM_SHA_512, Mechanism.SCRAM_SHA_256, Mechanism.SCRAM_SHA_1, Mechanism.PLAIN)


def test_SaslServer_raises_ValueError_when_nothing_is_left_to_offer() -> None:
    with pytest.raises(ValueError, match="no mechanism to offer"):
        SaslServer(authenticator(), mechanisms=["PLAIN"])
    with pytest.raises(ValueError, match="no mechanism to offer"):
        SaslServer()


# -- authentication fails ----------------------------------------------------------------------

WRONG = [
    pytest.param(dict(mechanisms=[m], username="alice", password="guess"), id=f"{m.value}-wrong-password")
    for m in SCRAMS
] + [
    pytest.param(dict(mechanisms=[m], username="mallory", password="guess"), id=f"{m.value}-unknown-user")
    for m in SCRAMS
] + [
    pytest.param(dict(mechanisms=["PLAIN"], username="alice", password="guess"), id="PLAIN-wrong-password"),
    pytest.param(dict(mechanisms=["PLAIN"], username="mallory", password="x"), id="PLAIN-unknown-user"),
    pytest.param(dict(mechanisms=["EXTERNAL"], authzid="CN=root"), id="EXTERNAL-other-authzid"),
]


@pytest.mark.parametrize("credentials", WRONG)
def test_SaslServer_answers_outcome_auth_when_the_credentials_are_wrong(credentials: dict[str, object]) -> None:
    c = client(tls_active=True, **credentials)
    s = server(tls_active=True, external_identity="CN=alice")
    transcript = negotiate(c, s)
    outcome = transcript[-1][1]
    assert isinstance(outcome, SaslOutcome) and outcome.code == SaslCode.AUTH
    assert outcome.additional_data is None  # spec 5.3.3.6: not set on failure
    assert s.done and not s.succeeded and s.user is None
    assert s.error is not None and s.error.code == 1
    assert c.done and not c.succeeded and c.error is not None
    assert (c.error.condition, c.error.code) == ("amqp:unauthorized-access", 1)
    assert "check the user name, password and mechanism" in str(c.error)


def test_SaslServer_refuses_external_when_the_authenticator_does_not_admit_the_identity() -> None:
    c = client(tls_active=True, tls_client_cert=True)
    negotiate(c, server(tls_active=True, external_identity="CN=mallory"))
    assert c.error is not None and c.error.code == 1


def test_SaslClient_fails_after_a_server_ok_when_the_scram_server_signature_is_tampered() -> None:
    c, s = client(username="alice", password="wonderland", mechanisms=["SCRAM-SHA-256"]), server()
    for frame in s.initial_frames():
        [init] = c.receive(frame)
    [challenge] = s.receive(init)
    [response] = c.receive(challenge)
    [outcome] = s.receive(response)
    assert isinstance(outcome, SaslOutcome) and s.succeeded
    signature = bytearray(base64.b64decode(bytes(outcome.additional_data)[2:]))
    signature[-1] ^= 0x80
    forged = replace(outcome, additional_data=b"v=" + base64.b64encode(bytes(signature)))
    assert c.receive(forged) == []
    assert c.done and not c.succeeded and c.error is not None
    assert "signature is wrong" in str(c.error) and c.error.condition == "amqp:unauthorized-access"


def test_SaslClient_fails_when_a_scram_server_reports_ok_without_a_signature() -> None:
    c = client(username="alice", password="wonderland", mechanisms=["SCRAM-SHA-1"])
    c.receive(SaslMechanisms(sasl_server_mechanisms=[Symbol("SCRAM-SHA-1")]))
    assert c.receive(SaslOutcome(code=SaslCode.OK)) == []
    assert not c.succeeded and c.error is not None and "without proving" in str(c.error)


@pytest.mark.parametrize(
    "code, words",
    [
        (SaslCode.AUTH, "refused these credentials"),
        (SaslCode.SYS, "system error (sasl-outcome sys)"),
        (SaslCode.SYS_PERM, "retrying will not help"),
        (SaslCode.SYS_TEMP, "retry later"),
    ],
)
def test_SaslClient_maps_each_outcome_code_to_a_SASLError_when_the_server_refuses(
    code: SaslCode, words: str
) -> None:
    c = client(username="bob", password="builder", tls_active=True)
    c.receive(SaslMechanisms(sasl_server_mechanisms=[Symbol("PLAIN")]))
    assert c.receive(SaslOutcome(code=code)) == []
    assert c.done and not c.succeeded and c.error is not None
    assert c.error.code == int(code) and words in str(c.error)
    expected = "amqp:unauthorized-access" if code == SaslCode.AUTH else "amqp:internal-error"
    assert c.error.condition == expected
    assert "PLAIN as 'bob'" in str(c.error)


class UserStoreDown(SimpleAuthenticator):
    def authenticate_plain(self, user: str, password: str) -> bool:
        raise SASLError("the LDAP server is unreachable", code=int(SaslCode.SYS_TEMP))

    def scram_credentials(self, user: str, mechanism: Mechanism) -> ScramCredentials | None:
        raise SASLError("the user database is corrupt")  # no code: sys


@pytest.mark.parametrize(
    "mechanism, code", [("PLAIN", SaslCode.SYS_TEMP), ("SCRAM-SHA-256", SaslCode.SYS)]
)
def test_SaslServer_sends_the_authenticators_code_when_it_raises_SASLError(mechanism: str, code: SaslCode) -> None:
    c = client(username="bob", password="builder", tls_active=True, mechanisms=[mechanism])
    s = SaslServer(UserStoreDown({}), tls_active=True)
    transcript = negotiate(c, s)
    outcome = transcript[-1][1]
    assert isinstance(outcome, SaslOutcome) and outcome.code == code
    assert s.error is not None and s.error.code == int(code)
    assert c.error is not None and c.error.code == int(code)


def test_SaslServer_answers_outcome_auth_when_the_client_chooses_a_mechanism_not_offered() -> None:
    s = server()
    s.initial_frames()
    [outcome] = s.receive(SaslInit(mechanism=Symbol("PLAIN"), initial_response=b"\0bob\0builder"))
    assert isinstance(outcome, SaslOutcome) and outcome.code == SaslCode.AUTH
    assert s.error is not None and "not offered" in str(s.error) and not s.succeeded


# -- frames out of order -----------------------------------------------------------------------

SAMPLE_FRAMES: dict[SaslInput, Frame] = {
    SaslInput.RECV_MECHANISMS: SaslMechanisms(sasl_server_mechanisms=[Symbol("ANONYMOUS")]),
    SaslInput.RECV_INIT: SaslInit(mechanism=Symbol("ANONYMOUS"), initial_response=b""),
    SaslInput.RECV_CHALLENGE: SaslChallenge(challenge=b""),
    SaslInput.RECV_RESPONSE: SaslResponse(response=b""),
    SaslInput.RECV_OUTCOME: SaslOutcome(code=SaslCode.OK),
}


class NotSasl(Composite):
    """A body that is no SASL frame at all (as an open would be during the SASL phase)."""

    __slots__ = ()
    _amqp_name_ = "test:not-sasl:list"


def client_in(state: SaslClientState) -> SaslClient:
    """A client driven to a receiving state through real frames."""
    c = client(mechanisms=["ANONYMOUS"])
    if state is SaslClientState.AWAIT_OUTCOME:
        c.receive(SAMPLE_FRAMES[SaslInput.RECV_MECHANISMS])
    assert c.state is state
    return c


def server_in(state: SaslServerState) -> SaslServer:
    """A server driven to a receiving state through real frames."""
    s = server(mechanisms=["SCRAM-SHA-1"])
    s.initial_frames()
    if state is SaslServerState.AWAIT_RESPONSE:
        s.receive(SaslInit(mechanism=Symbol("SCRAM-SHA-1")))  # no initial response: challenged
    assert s.state is state
    return s


RECEIVING_INPUTS = [*SAMPLE_FRAMES, SaslInput.RECV_OTHER]


def sample(event: SaslInput) -> Frame:
    return SAMPLE_FRAMES[event] if event in SAMPLE_FRAMES else NotSasl()


@pytest.mark.parametrize("state", [SaslClientState.AWAIT_MECHANISMS, SaslClientState.AWAIT_OUTCOME])
@pytest.mark.parametrize("event", RECEIVING_INPUTS)
def test_SaslClient_fails_with_illegal_state_when_a_frame_is_not_in_its_table(
    state: SaslClientState, event: SaslInput
) -> None:
    c = client_in(state)
    replies = c.receive(sample(event))
    if (state, event) in SASL_CLIENT_TRANSITIONS:
        # In order: the mechanism may still dislike the content, but it is no order violation.
        assert c.error is None or c.error.condition != "amqp:illegal-state"
    else:
        assert replies == [] and c.state is SaslClientState.FAILED
        assert c.error is not None and c.error.condition == "amqp:illegal-state"
        assert state.name in str(c.error) and "5.3.2" in str(c.error)


@pytest.mark.parametrize("state", [SaslServerState.AWAIT_INIT, SaslServerState.AWAIT_RESPONSE])
@pytest.mark.parametrize("event", RECEIVING_INPUTS)
def test_SaslServer_answers_sys_perm_when_a_frame_is_not_in_its_table(
    state: SaslServerState, event: SaslInput
) -> None:
    s = server_in(state)
    replies = s.receive(sample(event))
    if (state, event) in SASL_SERVER_TRANSITIONS:
        # In order: the mechanism ran (and may refuse the content with auth, never sys-perm).
        assert s.error is None or (s.error.condition, s.error.code) == ("amqp:unauthorized-access", 1)
    else:
        assert replies == [SaslOutcome(code=SaslCode.SYS_PERM)]
        assert s.state is SaslServerState.FAILED and s.error is not None
        assert (s.error.condition, s.error.code) == ("amqp:illegal-state", 3)


def test_SaslServer_raises_LocalProtocolError_when_receive_comes_before_initial_frames() -> None:
    with pytest.raises(LocalProtocolError, match="initial_frames"):
        server().receive(SAMPLE_FRAMES[SaslInput.RECV_INIT])


def test_SaslServer_raises_LocalProtocolError_when_initial_frames_is_called_twice() -> None:
    s = server()
    s.initial_frames()
    with pytest.raises(LocalProtocolError):
        s.initial_frames()


def test_SaslClient_and_SaslServer_raise_LocalProtocolError_when_fed_after_done() -> None:
    c, s = client(), server(allow_anonymous=True)
    negotiate(c, s)
    with pytest.raises(LocalProtocolError, match="already finished"):
        c.receive(SaslOutcome(code=SaslCode.OK))
    with pytest.raises(LocalProtocolError, match="stop once done"):
        s.receive(SAMPLE_FRAMES[SaslInput.RECV_INIT])


def test_SaslClient_initial_frames_are_empty_because_the_server_speaks_first() -> None:
    c = client()
    assert c.initial_frames() == [] and c.state is SaslClientState.AWAIT_MECHANISMS and not c.done


# -- the tables themselves ---------------------------------------------------------------------

Table = Union[
    dict[tuple[SaslClientState, SaslInput], SaslClientState],
    dict[tuple[SaslServerState, SaslInput], SaslServerState],
]


def test_sasl_tables_never_leave_a_terminal_state() -> None:
    for (state, _), _next in [*SASL_CLIENT_TRANSITIONS.items(), *SASL_SERVER_TRANSITIONS.items()]:
        assert state.name not in ("SUCCEEDED", "FAILED")


def test_sasl_client_table_can_abandon_from_every_live_state() -> None:
    for state in SaslClientState:
        live = state not in (SaslClientState.SUCCEEDED, SaslClientState.FAILED)
        assert ((state, SaslInput.ABANDON) in SASL_CLIENT_TRANSITIONS) == live


# -- absent mandatory fields (spec 5.3.3: the generated classes let them be None) ----------------


@pytest.mark.parametrize(
    "state, body",
    [
        (SaslClientState.AWAIT_MECHANISMS, SaslMechanisms()),
        (SaslClientState.AWAIT_OUTCOME, SaslChallenge()),
        (SaslClientState.AWAIT_OUTCOME, SaslOutcome()),
    ],
)
def test_SaslClient_fails_with_invalid_field_when_a_mandatory_field_is_absent(
    state: SaslClientState, body: Frame
) -> None:
    c = client_in(state)
    assert c.receive(body) == []
    assert c.state is SaslClientState.FAILED and c.error is not None
    assert c.error.condition == "amqp:invalid-field" and "mandatory" in str(c.error)


@pytest.mark.parametrize(
    "state, body",
    [(SaslServerState.AWAIT_INIT, SaslInit()), (SaslServerState.AWAIT_RESPONSE, SaslResponse())],
)
def test_SaslServer_answers_sys_perm_when_a_mandatory_field_is_absent(state: SaslServerState, body: Frame) -> None:
    s = server_in(state)
    assert s.receive(body) == [SaslOutcome(code=SaslCode.SYS_PERM)]
    assert s.state is SaslServerState.FAILED and s.error is not None
    assert (s.error.condition, s.error.code) == ("amqp:invalid-field", 3)
