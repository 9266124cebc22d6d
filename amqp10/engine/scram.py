"""SCRAM-SHA-1/256/512 (RFC 5802, RFC 7677), both halves, without channel binding.

Owns: the SCRAM arithmetic (``Hi``, keys, proof, signatures), the stored-credential form
(``ScramCredentials``: the server never needs the plaintext password), the message syntax
(attributes, saslname escaping, nonces) and the two mechanism halves that ``sasl.py`` drives.
Nonces come from an injected ``nonce: Callable[[], str]``.

Must never: do I/O, read a clock, know about frames, or compute an unbounded ``Hi()``: the
client caps the iteration count a server may ask for (``MAX_SCRAM_ITERATIONS``).

Trade-off: no channel binding (the GS2 header is always ``n`` or ``y``), so SCRAM here proves
both sides know the password but does not bind the exchange to a TLS session.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets

from .mechanisms import (
    Authenticator,
    Mechanism,
    NonceFactory,
    ScramCredentials,
    ServerStep,
    StepChallenge,
    StepFailure,
    StepSuccess,
    auth_failed,
    authorize,
    default_nonce,
    saslprep,
)

__all__ = [
    "ScramCredentials",
    "derive_scram_credentials",
    "scram_salted_password",
    "scram_client_proof",
    "scram_server_signature",
    "ScramClient",
    "ScramServer",
    "DEFAULT_SCRAM_ITERATIONS",
    "MAX_SCRAM_ITERATIONS",
]

#: hashlib name of each SCRAM variant's hash (RFC 5802 section 5, RFC 7677).
_SCRAM_HASH: dict[Mechanism, str] = {
    Mechanism.SCRAM_SHA_1: "sha1",
    Mechanism.SCRAM_SHA_256: "sha256",
    Mechanism.SCRAM_SHA_512: "sha512",
}

#: Iterations used when the server derives new SCRAM credentials (RFC 7677 section 4: >= 4096).
DEFAULT_SCRAM_ITERATIONS = 4096
#: The most iterations a client computes for a server's challenge. A hostile server could ask
#: for 2**31 and keep us hashing for hours; this is well above what real servers use.
MAX_SCRAM_ITERATIONS = 600_000


def scram_salted_password(mechanism: Mechanism, password: str, salt: bytes, iterations: int) -> bytes:
    """``SaltedPassword := Hi(Normalize(password), salt, i)`` (RFC 5802 section 3)."""
    prepared = saslprep(password, what="password")
    return hashlib.pbkdf2_hmac(_SCRAM_HASH[mechanism], prepared.encode(), salt, iterations)


def _hmac(mechanism: Mechanism, key: bytes, msg: bytes) -> bytes:
    return hmac.digest(key, msg, _SCRAM_HASH[mechanism])


def _h(mechanism: Mechanism, data: bytes) -> bytes:
    return hashlib.new(_SCRAM_HASH[mechanism], data).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def derive_scram_credentials(
    password: str, mechanism: Mechanism, *, salt: bytes, iterations: int = DEFAULT_SCRAM_ITERATIONS
) -> ScramCredentials:
    """Derive the server's stored SCRAM credentials from a password.

    Args:
        password: the user's password (SASLprep is applied).
        mechanism: one of the SCRAM mechanisms; each hash needs its own credentials.
        salt: a random per-user salt (16 bytes or more is customary).
        iterations: the PBKDF2 iteration count.

    Raises:
        ValueError: ``mechanism`` is not SCRAM, or the password has a prohibited character.
    """
    if not mechanism.is_scram:
        raise ValueError(f"{mechanism.value} is not a SCRAM mechanism")
    salted = scram_salted_password(mechanism, password, salt, iterations)
    client_key = _hmac(mechanism, salted, b"Client Key")
    return ScramCredentials(
        salt=salt,
        iterations=iterations,
        stored_key=_h(mechanism, client_key),
        server_key=_hmac(mechanism, salted, b"Server Key"),
    )


def scram_client_proof(mechanism: Mechanism, salted_password: bytes, auth_message: bytes) -> bytes:
    """``ClientProof := ClientKey XOR HMAC(H(ClientKey), AuthMessage)`` (RFC 5802 section 3)."""
    client_key = _hmac(mechanism, salted_password, b"Client Key")
    signature = _hmac(mechanism, _h(mechanism, client_key), auth_message)
    return _xor(client_key, signature)


def scram_server_signature(mechanism: Mechanism, server_key: bytes, auth_message: bytes) -> bytes:
    """``ServerSignature := HMAC(ServerKey, AuthMessage)`` (RFC 5802 section 3)."""
    return _hmac(mechanism, server_key, auth_message)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    # Raises binascii.Error (a ValueError) on anything that is not strict base64.
    return base64.b64decode(text.encode("ascii"), validate=True)


def _escape_saslname(name: str) -> str:
    # RFC 5802 section 5.1: ',' and '=' in a user name are sent as '=2C' and '=3D'.
    return name.replace("=", "=3D").replace(",", "=2C")


def _unescape_saslname(text: str) -> str:
    if "=" in text.replace("=3D", "").replace("=2C", ""):
        raise ValueError("'=' in a saslname must be followed by 2C or 3D (RFC 5802 section 5.1)")
    return text.replace("=2C", ",").replace("=3D", "=")


def _check_nonce(nonce: str) -> str:
    # RFC 5802 section 7: printable = %x21-2B / %x2D-7E (printable ASCII except ',').
    if not nonce or any(not (0x21 <= ord(c) <= 0x7E) or c == "," for c in nonce):
        raise ValueError(f"a SCRAM nonce must be printable ASCII without ',', got {nonce!r}")
    return nonce


def _attributes(message: str, expected: str) -> list[tuple[str, str]]:
    """Split ``a=1,b=2`` and check the leading attribute names are ``expected`` in order."""
    attrs: list[tuple[str, str]] = []
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=":
            raise ValueError(f"malformed SCRAM attribute {part[:20]!r}")
        attrs.append((part[0], part[2:]))
    if attrs and attrs[0][0] == "m":
        raise ValueError("the peer requires an unsupported SCRAM extension (m=)")
    got = "".join(name for name, _ in attrs[: len(expected)])
    if got != expected:
        raise ValueError(f"SCRAM attributes {got!r} where {expected!r} was expected")
    return attrs


class ScramClient:
    """The client half of SCRAM-SHA-1/256/512 (RFC 5802, RFC 7677) without channel binding.

    Accepts the server-final message either in the sasl-outcome's additional data (AMQP 5.3.3.6)
    or as a last sasl-challenge (answered with an empty response), and insists on one of them:
    a server that cannot prove it knows the password is refused.
    """

    def __init__(
        self,
        mechanism: Mechanism,
        username: str,
        password: str,
        authzid: str | None = None,
        *,
        nonce: NonceFactory = default_nonce,
        max_iterations: int = MAX_SCRAM_ITERATIONS,
    ) -> None:
        if not mechanism.is_scram:
            raise ValueError(f"{mechanism.value} is not a SCRAM mechanism")
        self.mechanism = mechanism
        self._password = saslprep(password, what="password")
        self._max_iterations = max_iterations
        self._cnonce = _check_nonce(nonce())
        authz = f"a={_escape_saslname(authzid)}" if authzid else ""
        self._gs2_header = f"n,{authz},"
        user = saslprep(username, what="user name")
        self._first_bare = f"n={_escape_saslname(user)},r={self._cnonce}"
        self._expected_signature: bytes | None = None
        self._verified = False

    def initial_response(self) -> bytes | None:
        """client-first-message: GS2 header + ``n=user,r=nonce``."""
        return (self._gs2_header + self._first_bare).encode()

    def challenge(self, data: bytes) -> bytes:
        """Answer server-first with client-final, or check server-final sent as a challenge."""
        if self._expected_signature is None:
            return self._client_final(data)
        if not self._verified:
            self._verify(data)
            return b""
        raise auth_failed(f"the server sent a challenge after {self.mechanism.value} completed")

    def verify_success(self, additional_data: bytes | None) -> None:
        """Check the server signature unless a challenge already carried it."""
        if self._verified:
            return
        if self._expected_signature is None or additional_data is None:
            raise auth_failed(
                f"the server reported success without proving it knows the password "
                f"({self.mechanism.value} server-final message missing); refusing the connection"
            )
        self._verify(additional_data)

    def _client_final(self, data: bytes) -> bytes:
        try:
            server_first = data.decode("utf-8")
            attrs = _attributes(server_first, "rsi")
            full_nonce = _check_nonce(attrs[0][1])
            salt = _unb64(attrs[1][1])
            iterations = int(attrs[2][1]) if attrs[2][1].isascii() and attrs[2][1].isdigit() else -1
        except (UnicodeDecodeError, ValueError) as exc:  # binascii.Error is a ValueError
            raise auth_failed(f"malformed SCRAM server-first message: {exc}") from None
        if not full_nonce.startswith(self._cnonce) or full_nonce == self._cnonce:
            raise auth_failed("the SCRAM server nonce does not extend ours (RFC 5802 section 5.1)")
        if not 1 <= iterations <= self._max_iterations:
            raise auth_failed(
                f"the server asks for {attrs[2][1][:20]} SCRAM iterations; "
                f"we accept 1..{self._max_iterations} (raise max_iterations to allow more)"
            )
        without_proof = f"c={_b64(self._gs2_header.encode())},r={full_nonce}"
        auth_message = ",".join([self._first_bare, server_first, without_proof]).encode()
        salted = scram_salted_password(self.mechanism, self._password, salt, iterations)
        proof = scram_client_proof(self.mechanism, salted, auth_message)
        server_key = _hmac(self.mechanism, salted, b"Server Key")
        self._expected_signature = scram_server_signature(self.mechanism, server_key, auth_message)
        return f"{without_proof},p={_b64(proof)}".encode()

    def _verify(self, data: bytes) -> None:
        assert self._expected_signature is not None
        try:
            attrs = _attributes(data.decode("utf-8"), "")
        except (UnicodeDecodeError, ValueError) as exc:
            raise auth_failed(f"malformed SCRAM server-final message: {exc}") from None
        if attrs and attrs[0][0] == "e":
            raise auth_failed(f"the SCRAM server refused: {attrs[0][1][:100]}")
        try:
            if not attrs or attrs[0][0] != "v":
                raise ValueError("no v= attribute")
            signature = _unb64(attrs[0][1])
        except ValueError as exc:
            raise auth_failed(f"malformed SCRAM server-final message: {exc}") from None
        if not hmac.compare_digest(signature, self._expected_signature):
            raise auth_failed(
                "the server's SCRAM signature is wrong: it does not know the password "
                "(an impostor, or a tampered exchange); refusing the connection"
            )
        self._verified = True


# Unknown SCRAM users get a plausible salt so that the exchange looks the same as for a known
# user with a wrong password (RFC 5802 section 9). Keyed per process so the salt is stable.
_FAKE_SALT_KEY = secrets.token_bytes(32)


class _ScramPhase(enum.Enum):
    AWAIT_CLIENT_FIRST = enum.auto()
    AWAIT_CLIENT_FINAL = enum.auto()
    FINISHED = enum.auto()


class ScramServer:
    """The server half of SCRAM-SHA-1/256/512; sends server-final in the outcome's additional data."""

    def __init__(
        self, mechanism: Mechanism, authenticator: Authenticator, *, nonce: NonceFactory = default_nonce
    ) -> None:
        if not mechanism.is_scram:
            raise ValueError(f"{mechanism.value} is not a SCRAM mechanism")
        self.mechanism = mechanism
        self._auth = authenticator
        self._nonce = nonce
        self._phase = _ScramPhase.AWAIT_CLIENT_FIRST
        self._user = ""
        self._creds: ScramCredentials | None = None  # None: unknown user, fail at the end
        self._gs2_header = ""
        self._first_bare = ""
        self._server_first = ""
        self._full_nonce = ""

    def start(self, initial_response: bytes | None) -> ServerStep:
        """Answer client-first with server-first (or ask for client-first if it was not sent)."""
        if initial_response is None:
            return StepChallenge(b"")
        return self.respond(initial_response)

    def respond(self, response: bytes) -> ServerStep:
        """client-first -> server-first challenge; client-final -> success or failure."""
        phase, self._phase = self._phase, _ScramPhase.FINISHED  # any failure finishes it
        try:
            text = response.decode("utf-8")
            if phase is _ScramPhase.AWAIT_CLIENT_FIRST:
                return self._server_first_step(text)
            if phase is _ScramPhase.AWAIT_CLIENT_FINAL:
                return self._final_step(text)
        except ValueError as exc:  # includes UnicodeDecodeError and binascii.Error
            return StepFailure(auth_failed(f"malformed SCRAM message: {exc}"))
        return StepFailure(auth_failed("SCRAM got a response after the exchange completed"))

    def _server_first_step(self, text: str) -> ServerStep:
        cbflag, authz, bare = (text.split(",", 2) + ["", ""])[:3]
        if cbflag.startswith("p"):
            return StepFailure(auth_failed("SCRAM channel binding is not supported (use n, not p=)"))
        if cbflag not in ("n", "y") or (authz and not authz.startswith("a=")):
            raise ValueError("bad GS2 header")
        attrs = _attributes(bare, "nr")
        user = saslprep(_unescape_saslname(attrs[0][1]), what="user name")
        authzid = _unescape_saslname(authz[2:]) if authz else ""
        cnonce = _check_nonce(attrs[1][1])
        if not user:
            raise ValueError("empty user name")
        if authorize(user, authzid) is None:
            return StepFailure(auth_failed(f"{user!r} may not act as {authzid!r}"))
        self._creds = self._auth.scram_credentials(user, self.mechanism)
        if self._creds is None:
            fake = hmac.digest(_FAKE_SALT_KEY, f"{self.mechanism.value}\0{user}".encode(), "sha256")
            salt, iterations = fake[:16], DEFAULT_SCRAM_ITERATIONS
        else:
            salt, iterations = self._creds.salt, self._creds.iterations
        self._user = user
        self._gs2_header = f"{cbflag},{authz},"
        self._first_bare = bare
        self._full_nonce = cnonce + _check_nonce(self._nonce())
        self._server_first = f"r={self._full_nonce},s={_b64(salt)},i={iterations}"
        self._phase = _ScramPhase.AWAIT_CLIENT_FINAL
        return StepChallenge(self._server_first.encode())

    def _final_step(self, text: str) -> ServerStep:
        attrs = _attributes(text, "cr")
        if attrs[-1][0] != "p":
            raise ValueError("client-final has no proof (p=) at the end")
        if _unb64(attrs[0][1]) != self._gs2_header.encode():
            return StepFailure(auth_failed("SCRAM channel-binding data does not match the GS2 header"))
        if attrs[1][1] != self._full_nonce:
            return StepFailure(auth_failed("SCRAM nonce in client-final does not match"))
        proof = _unb64(attrs[-1][1])
        without_proof = text[: text.rindex(",p=")]
        auth_message = ",".join([self._first_bare, self._server_first, without_proof]).encode()
        if self._creds is None:
            return StepFailure(auth_failed(f"{self.mechanism.value}: unknown user {self._user!r}"))
        signature = _hmac(self.mechanism, self._creds.stored_key, auth_message)
        # RFC 5802 section 3: ClientKey = proof XOR ClientSignature; accept iff H(ClientKey) = StoredKey.
        if len(proof) != len(signature) or not hmac.compare_digest(
            _h(self.mechanism, _xor(proof, signature)), self._creds.stored_key
        ):
            return StepFailure(auth_failed(f"{self.mechanism.value}: wrong password for {self._user!r}"))
        server_sig = scram_server_signature(self.mechanism, self._creds.server_key, auth_message)
        return StepSuccess(self._user, f"v={_b64(server_sig)}".encode())

