"""SASL mechanism halves on their own: RFC test vectors, SASLprep, and each failure path.

The negotiation order (frames, outcome codes) is tested in test_sasl.py; here the mechanism
objects talk to each other directly, bytes in and bytes out.
"""

from __future__ import annotations

import base64

import pytest

from amqp10.engine.mechanisms import (
    AnonymousServer,
    ExternalClient,
    ExternalServer,
    Mechanism,
    PlainClient,
    PlainServer,
    ScramCredentials,
    StepChallenge,
    StepFailure,
    StepSuccess,
    saslprep,
)
from amqp10.engine.authenticators import SimpleAuthenticator
from amqp10.engine.scram import (
    MAX_SCRAM_ITERATIONS,
    ScramClient,
    ScramServer,
    derive_scram_credentials,
)
from amqp10.errors import SASLError

SCRAMS = [Mechanism.SCRAM_SHA_1, Mechanism.SCRAM_SHA_256, Mechanism.SCRAM_SHA_512]


class OneUser:
    """An authenticator holding fixed SCRAM credentials (no plaintext), like a real user store."""

    def __init__(self, user: str, creds: ScramCredentials | None) -> None:
        self.user, self.creds = user, creds

    def authenticate_plain(self, user: str, password: str) -> bool:
        return False

    def scram_credentials(self, user: str, mechanism: Mechanism) -> ScramCredentials | None:
        return self.creds if user == self.user else None

    def authenticate_external(self, identity: str) -> bool:
        return False


def fixed(value: str):  # type: ignore[no-untyped-def]
    return lambda: value


# -- RFC test vectors ---------------------------------------------------------------------------

# RFC 5802 section 5 (SCRAM-SHA-1) and RFC 7677 section 3 (SCRAM-SHA-256): user "user",
# password "pencil", 4096 iterations; every message of the exchange, byte for byte.
RFC_VECTORS = [
    pytest.param(
        Mechanism.SCRAM_SHA_1,
        "fyko+d2lbbFgONRv9qkxdawL",
        "3rfcNHYJY1ZVvWVs7j",
        "QSXCR+Q6sek8bf92",
        b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
        b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        id="rfc5802-sha1",
    ),
    pytest.param(
        Mechanism.SCRAM_SHA_256,
        "rOprNGfwEbeRWgbNEkqO",
        "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "W22ZaJ0SNY7soEsUEjb6gQ==",
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        id="rfc7677-sha256",
    ),
]


@pytest.mark.parametrize(
    "mech, cnonce, snonce, salt, client_first, server_first, client_final, server_final", RFC_VECTORS
)
def test_ScramClient_sends_the_rfc_messages_when_given_the_rfc_nonce(
    mech: Mechanism,
    cnonce: str,
    snonce: str,
    salt: str,
    client_first: bytes,
    server_first: bytes,
    client_final: bytes,
    server_final: bytes,
) -> None:
    client = ScramClient(mech, "user", "pencil", nonce=fixed(cnonce))
    assert client.initial_response() == client_first
    assert client.challenge(server_first) == client_final
    client.verify_success(server_final)  # raises if the server signature does not match


@pytest.mark.parametrize(
    "mech, cnonce, snonce, salt, client_first, server_first, client_final, server_final", RFC_VECTORS
)
def test_ScramServer_sends_the_rfc_messages_when_holding_only_derived_credentials(
    mech: Mechanism,
    cnonce: str,
    snonce: str,
    salt: str,
    client_first: bytes,
    server_first: bytes,
    client_final: bytes,
    server_final: bytes,
) -> None:
    creds = derive_scram_credentials("pencil", mech, salt=base64.b64decode(salt), iterations=4096)
    server = ScramServer(mech, OneUser("user", creds), nonce=fixed(snonce))
    assert server.start(client_first) == StepChallenge(server_first)
    assert server.respond(client_final) == StepSuccess("user", server_final)


# -- SCRAM both halves ------------------------------------------------------------------------


def run_scram(
    mech: Mechanism,
    client: ScramClient,
    creds: ScramCredentials | None,
    user: str = "user",
) -> tuple[StepChallenge | StepSuccess | StepFailure, ScramServer]:
    server = ScramServer(mech, OneUser(user, creds))
    first = server.start(client.initial_response())
    assert isinstance(first, StepChallenge)
    return server.respond(client.challenge(first.data)), server


@pytest.mark.parametrize("mech", SCRAMS)
def test_ScramClient_and_ScramServer_agree_when_the_password_is_right(mech: Mechanism) -> None:
    creds = derive_scram_credentials("s3cret", mech, salt=b"0123456789abcdef")
    client = ScramClient(mech, "user", "s3cret")
    step, _ = run_scram(mech, client, creds)
    assert isinstance(step, StepSuccess) and step.identity == "user"
    client.verify_success(step.additional_data)


@pytest.mark.parametrize("mech", SCRAMS)
def test_ScramServer_fails_with_auth_code_when_the_password_is_wrong(mech: Mechanism) -> None:
    creds = derive_scram_credentials("s3cret", mech, salt=b"0123456789abcdef")
    step, _ = run_scram(mech, ScramClient(mech, "user", "guess"), creds)
    assert isinstance(step, StepFailure)
    assert step.error.code == 1 and step.error.condition == "amqp:unauthorized-access"
    assert "wrong password" in (step.error.description or "")


@pytest.mark.parametrize("mech", SCRAMS)
def test_ScramClient_refuses_the_server_when_its_signature_is_tampered(mech: Mechanism) -> None:
    creds = derive_scram_credentials("s3cret", mech, salt=b"0123456789abcdef")
    client = ScramClient(mech, "user", "s3cret")
    step, _ = run_scram(mech, client, creds)
    assert isinstance(step, StepSuccess) and step.additional_data is not None
    signature = bytearray(base64.b64decode(step.additional_data[2:]))
    signature[0] ^= 1
    with pytest.raises(SASLError, match="signature is wrong") as info:
        client.verify_success(b"v=" + base64.b64encode(bytes(signature)))
    assert info.value.condition == "amqp:unauthorized-access"


def test_ScramClient_refuses_the_server_when_an_impostor_knows_only_a_different_password() -> None:
    mech = Mechanism.SCRAM_SHA_256
    # The impostor's stored key happens to accept our proof (it copied StoredKey) but its
    # ServerKey is from another password: the client must notice at the server signature.
    real = derive_scram_credentials("s3cret", mech, salt=b"salt-salt-salt!!")
    fake = derive_scram_credentials("other", mech, salt=b"salt-salt-salt!!")
    stolen = ScramCredentials(
        salt=real.salt, iterations=real.iterations, stored_key=real.stored_key, server_key=fake.server_key
    )
    client = ScramClient(mech, "user", "s3cret")
    step, _ = run_scram(mech, client, stolen)
    assert isinstance(step, StepSuccess)
    with pytest.raises(SASLError, match="signature is wrong"):
        client.verify_success(step.additional_data)


def test_ScramClient_refuses_success_when_the_server_sends_no_server_final() -> None:
    mech = Mechanism.SCRAM_SHA_256
    client = ScramClient(mech, "user", "s3cret")
    client.initial_response()
    with pytest.raises(SASLError, match="without proving"):
        client.verify_success(None)


def test_ScramClient_accepts_server_final_when_sent_as_a_challenge() -> None:
    mech = Mechanism.SCRAM_SHA_1
    creds = derive_scram_credentials("s3cret", mech, salt=b"0123456789abcdef")
    client = ScramClient(mech, "user", "s3cret")
    step, _ = run_scram(mech, client, creds)
    assert isinstance(step, StepSuccess) and step.additional_data is not None
    assert client.challenge(step.additional_data) == b""  # some servers do it this way
    client.verify_success(None)  # already verified: the outcome needs no data
    with pytest.raises(SASLError, match="after"):
        client.challenge(b"v=AAAA")


@pytest.mark.parametrize(
    "server_first, match",
    [
        (b"r=someoneelse123,s=QSXCR+Q6sek8bf92,i=4096", "does not extend ours"),
        (b"r=NONCE,s=QSXCR+Q6sek8bf92,i=4096", "does not extend ours"),  # no server part
        (b"r=NONCEx,s=QSXCR+Q6sek8bf92,i=0", "iterations"),
        (b"r=NONCEx,s=QSXCR+Q6sek8bf92,i=%d" % (MAX_SCRAM_ITERATIONS + 1), "iterations"),
        (b"r=NONCEx,s=QSXCR+Q6sek8bf92,i=-5", "iterations"),
        (b"r=NONCEx,s=QSXCR+Q6sek8bf92,i=\xd9\xa3", "iterations"),  # Arabic-Indic digit
        (b"m=ext,r=NONCEx,s=QSXCR+Q6sek8bf92,i=4096", "extension"),
        (b"r=NONCEx,s=not*base64,i=4096", "malformed"),
        (b"r=NONCEx,i=4096,s=QSXCR+Q6sek8bf92", "malformed"),
        (b"r=NONCEx,s=QSXCR+Q6sek8bf92", "malformed"),
        (b"\xff\xfe", "malformed"),
        (b"", "malformed"),
        (b"e=other-error", "malformed"),
    ],
)
def test_ScramClient_raises_SASLError_when_server_first_is_bad(server_first: bytes, match: str) -> None:
    client = ScramClient(Mechanism.SCRAM_SHA_256, "user", "pw", nonce=fixed("NONCE"))
    client.initial_response()
    with pytest.raises(SASLError, match=match) as info:
        client.challenge(server_first)
    assert info.value.code == 1


def test_ScramClient_reports_the_server_error_when_server_final_is_e() -> None:
    mech = Mechanism.SCRAM_SHA_256
    client = ScramClient(mech, "user", "pw", nonce=fixed("NONCE"))
    client.challenge(b"r=NONCEx,s=QSXCR+Q6sek8bf92,i=1")
    with pytest.raises(SASLError, match="invalid-proof"):
        client.verify_success(b"e=invalid-proof")


def test_ScramClient_escapes_comma_and_equals_when_the_user_name_has_them() -> None:
    mech = Mechanism.SCRAM_SHA_256
    creds = derive_scram_credentials("pw", mech, salt=b"0123456789abcdef")
    client = ScramClient(mech, "a,b=c", "pw", nonce=fixed("N"))
    assert client.initial_response() == b"n,,n=a=2Cb=3Dc,r=N"
    step, _ = run_scram(mech, client, creds, user="a,b=c")
    assert isinstance(step, StepSuccess) and step.identity == "a,b=c"


def test_ScramClient_sends_the_authzid_in_the_gs2_header_when_given() -> None:
    mech = Mechanism.SCRAM_SHA_1
    creds = derive_scram_credentials("pw", mech, salt=b"0123456789abcdef")
    client = ScramClient(mech, "user", "pw", authzid="user", nonce=fixed("N"))
    assert client.initial_response() == b"n,a=user,n=user,r=N"
    step, _ = run_scram(mech, client, creds)
    assert isinstance(step, StepSuccess)


def test_ScramServer_refuses_when_authzid_names_someone_else() -> None:
    mech = Mechanism.SCRAM_SHA_1
    server = ScramServer(mech, OneUser("user", None))
    step = server.start(b"n,a=admin,n=user,r=N")
    assert isinstance(step, StepFailure) and "may not act as" in (step.error.description or "")


def test_ScramServer_challenges_an_unknown_user_like_a_known_one_and_fails_at_the_end() -> None:
    mech = Mechanism.SCRAM_SHA_256
    first_a = ScramServer(mech, OneUser("user", None), nonce=fixed("S")).start(b"n,,n=ghost,r=N")
    first_b = ScramServer(mech, OneUser("user", None), nonce=fixed("S")).start(b"n,,n=ghost,r=N")
    # The same plausible salt each time, so probing cannot tell "unknown" from "wrong password".
    assert isinstance(first_a, StepChallenge) and first_a == first_b
    assert first_a.data.startswith(b"r=NS,s=") and first_a.data.endswith(b",i=4096")
    client = ScramClient(mech, "ghost", "pw")
    step, _ = run_scram(mech, client, None, user="user")
    assert isinstance(step, StepFailure) and step.error.code == 1
    assert "unknown user" in (step.error.description or "")


@pytest.mark.parametrize(
    "client_first, match",
    [
        (b"p=tls-unique,,n=user,r=N", "channel binding"),
        (b"x,,n=user,r=N", "malformed"),
        (b"n,,r=N,n=user", "malformed"),
        (b"n,,n=us=er,r=N", "malformed"),
        (b"n,,n=us\x07er,r=N", "malformed"),
        (b"n,,n=user,r=a,b", "malformed"),
        (b"n,,n=,r=N", "malformed"),
        (b"n,,m=x,n=user,r=N", "malformed"),
        (b"\xc3", "malformed"),
        (b"", "malformed"),
    ],
)
def test_ScramServer_fails_with_auth_code_when_client_first_is_bad(client_first: bytes, match: str) -> None:
    server = ScramServer(Mechanism.SCRAM_SHA_256, OneUser("user", None))
    step = server.start(client_first)
    assert isinstance(step, StepFailure) and step.error.code == 1
    assert match in (step.error.description or "")


def _final_parts(mech: Mechanism) -> tuple[ScramServer, str, str]:
    creds = derive_scram_credentials("pw", mech, salt=b"0123456789abcdef")
    server = ScramServer(mech, OneUser("user", creds), nonce=fixed("S"))
    client = ScramClient(mech, "user", "pw", nonce=fixed("N"))
    first = server.start(client.initial_response())
    assert isinstance(first, StepChallenge)
    final = client.challenge(first.data).decode()
    without_proof, proof = final.rsplit(",p=", 1)
    return server, without_proof, proof


@pytest.mark.parametrize(
    "mangle, match",
    [
        (lambda wp, p: f"c=eSws,r=NS,p={p}", "channel-binding"),
        (lambda wp, p: f"c=biws,r=NX,p={p}", "nonce"),
        (lambda wp, p: f"{wp},p=AAAA", "wrong password"),
        (lambda wp, p: f"{wp}", "malformed"),
        (lambda wp, p: f"{wp},p=!!", "malformed"),
        (lambda wp, p: f"r=NS,c=biws,p={p}", "malformed"),
    ],
)
def test_ScramServer_fails_when_client_final_is_mangled(mangle, match: str) -> None:  # type: ignore[no-untyped-def]
    server, without_proof, proof = _final_parts(Mechanism.SCRAM_SHA_256)
    step = server.respond(mangle(without_proof, proof).encode())
    assert isinstance(step, StepFailure) and match in (step.error.description or "")


def test_ScramServer_fails_when_a_response_comes_after_the_exchange() -> None:
    server, without_proof, proof = _final_parts(Mechanism.SCRAM_SHA_1)
    assert isinstance(server.respond(f"{without_proof},p={proof}".encode()), StepSuccess)
    step = server.respond(f"{without_proof},p={proof}".encode())
    assert isinstance(step, StepFailure) and "after the exchange" in (step.error.description or "")


def test_ScramServer_asks_for_client_first_when_sasl_init_had_no_initial_response() -> None:
    mech = Mechanism.SCRAM_SHA_512
    creds = derive_scram_credentials("pw", mech, salt=b"0123456789abcdef")
    server = ScramServer(mech, OneUser("user", creds))
    client = ScramClient(mech, "user", "pw")
    assert server.start(None) == StepChallenge(b"")
    first = server.respond(client.initial_response() or b"")
    assert isinstance(first, StepChallenge)
    step = server.respond(client.challenge(first.data))
    assert isinstance(step, StepSuccess)
    client.verify_success(step.additional_data)


def test_ScramClient_raises_ValueError_when_the_nonce_factory_returns_a_comma() -> None:
    with pytest.raises(ValueError, match="nonce"):
        ScramClient(Mechanism.SCRAM_SHA_1, "user", "pw", nonce=fixed("a,b"))


def test_derive_scram_credentials_raises_ValueError_when_mechanism_is_not_scram() -> None:
    with pytest.raises(ValueError, match="not a SCRAM"):
        derive_scram_credentials("pw", Mechanism.PLAIN, salt=b"x")


# -- SASLprep -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, prepared",
    [  # RFC 4013 section 3's examples (those that do not need the bidi check)
        ("I\u00adX", "IX"),
        ("user", "user"),
        ("USER", "USER"),
        ("\u00aa", "a"),
        ("\u2168", "IX"),
        ("a\u00a0b", "a b"),  # non-ASCII space -> space
    ],
)
def test_saslprep_maps_and_normalizes_when_given_rfc4013_examples(text: str, prepared: str) -> None:
    assert saslprep(text) == prepared


@pytest.mark.parametrize("text", ["\u0007", "a\u0000b", "x\u200ey", "\ue000", "\x85"])
def test_saslprep_raises_ValueError_when_the_text_has_a_prohibited_character(text: str) -> None:
    with pytest.raises(ValueError, match="prohibited"):
        saslprep(text, what="user name")


# -- PLAIN, EXTERNAL, ANONYMOUS -----------------------------------------------------------------


def test_PlainClient_sends_authzid_user_password_when_built() -> None:
    assert PlainClient("bob", "pw", "bob").initial_response() == b"bob\0bob\0pw"
    assert PlainClient("bob", "pw").initial_response() == b"\0bob\0pw"


def test_PlainClient_raises_ValueError_when_the_password_has_a_control_character() -> None:
    with pytest.raises(ValueError, match="password"):
        PlainClient("bob", "p\nw")


def test_PlainClient_raises_SASLError_when_challenged() -> None:
    with pytest.raises(SASLError, match="takes none"):
        PlainClient("bob", "pw").challenge(b"")


@pytest.mark.parametrize(
    "message, expected",
    [
        (b"\0bob\0pw", "bob"),
        (b"bob\0bob\0pw", "bob"),
        (b"\0bob\0nope", "wrong password"),
        (b"\0eve\0pw", "wrong password"),
        (b"alice\0bob\0pw", "may not act as"),
        (b"\0bob\0", "malformed"),
        (b"\0\0pw", "malformed"),
        (b"bob\0pw", "malformed"),
        (b"\0bob\0pw\0x", "malformed"),
        (b"\0b\xffob\0pw", "malformed"),
        (b"\0b\x01ob\0pw", "malformed"),
    ],
)
def test_PlainServer_checks_the_message_with_the_authenticator(message: bytes, expected: str) -> None:
    step = PlainServer(SimpleAuthenticator({"bob": "pw"})).start(message)
    if expected == "bob":
        assert step == StepSuccess("bob")
    else:
        assert isinstance(step, StepFailure) and step.error.code == 1
        assert expected in (step.error.description or "")


def test_PlainServer_asks_for_the_message_when_sasl_init_had_no_initial_response() -> None:
    server = PlainServer(SimpleAuthenticator({"bob": "pw"}))
    assert server.start(None) == StepChallenge(b"")
    assert server.respond(b"\0bob\0pw") == StepSuccess("bob")


def test_PlainServer_fails_when_a_response_arrives_unasked() -> None:
    step = PlainServer(SimpleAuthenticator({"bob": "pw"})).respond(b"\0bob\0pw")
    assert isinstance(step, StepFailure)


def test_PlainServer_matches_after_saslprep_when_the_password_differs_only_by_a_soft_hyphen() -> None:
    server = PlainServer(SimpleAuthenticator({"bob": "pass\u00adword"}))
    assert server.start("\0bob\0password".encode()) == StepSuccess("bob")


@pytest.mark.parametrize(
    "authzid, admitted, expected",
    [
        (None, True, "CN=client"),
        ("CN=client", True, "CN=client"),
        ("CN=admin", True, "may not act as"),
        (None, False, "not admitted"),
    ],
)
def test_ExternalServer_admits_the_tls_identity_when_the_authenticator_does(
    authzid: str | None, admitted: bool, expected: str
) -> None:
    auth = SimpleAuthenticator({}, external_identities=["CN=client"] if admitted else [])
    step = ExternalServer(auth, "CN=client").start(ExternalClient(authzid).initial_response())
    if expected == "CN=client":
        assert step == StepSuccess("CN=client")
    else:
        assert isinstance(step, StepFailure) and expected in (step.error.description or "")


def test_AnonymousServer_admits_as_anonymous_when_given_any_trace() -> None:
    assert AnonymousServer().start(b"me@example.com") == StepSuccess("anonymous")
    assert AnonymousServer().start(None) == StepSuccess("anonymous")


def test_SimpleAuthenticator_derives_scram_credentials_once_when_asked_twice() -> None:
    salts = iter([b"first-salt-16byt", b"second-salt-16by"])
    auth = SimpleAuthenticator({"bob": "pw"}, salt=lambda: next(salts), iterations=4096)
    one = auth.scram_credentials("bob", Mechanism.SCRAM_SHA_256)
    assert one is not None and auth.scram_credentials("bob", Mechanism.SCRAM_SHA_256) is one
    assert one == derive_scram_credentials("pw", Mechanism.SCRAM_SHA_256, salt=b"first-salt-16byt")
    assert auth.scram_credentials("eve", Mechanism.SCRAM_SHA_256) is None
