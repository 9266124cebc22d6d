"""Ready-made server ``Authenticator``s: an in-memory user store for tests and the dev server.

Owns: ``SimpleAuthenticator``. Must never: do I/O or keep anything but what it was given (a
real deployment plugs in its own ``Authenticator`` backed by its user store).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Callable, Iterable, Mapping

from .mechanisms import Mechanism, ScramCredentials, saslprep
from .scram import DEFAULT_SCRAM_ITERATIONS, derive_scram_credentials

__all__ = ["SimpleAuthenticator"]


class SimpleAuthenticator:
    """An in-memory ``Authenticator`` over ``{user: password}``, for tests and the dev server.

    SCRAM credentials are derived on first use per user and mechanism, with a salt from
    ``salt()`` (default: 16 bytes from ``secrets``), and cached, so only the first SCRAM login of
    each user pays for ``Hi()``. EXTERNAL admits the identities in ``external_identities``.

    Args:
        users: user name -> password.
        external_identities: TLS identities EXTERNAL admits.
        iterations: SCRAM iteration count for derived credentials.
        salt: salt source for derived credentials.

    Raises:
        ValueError: a user name or password with a character SASLprep prohibits.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        external_identities: Iterable[str] = (),
        iterations: int = DEFAULT_SCRAM_ITERATIONS,
        salt: Callable[[], bytes] = lambda: secrets.token_bytes(16),
    ) -> None:
        self._users = {
            saslprep(user, what="user name"): saslprep(password, what="password")
            for user, password in users.items()
        }
        self._external = frozenset(external_identities)
        self._iterations = iterations
        self._salt = salt
        self._scram: dict[tuple[str, Mechanism], ScramCredentials] = {}

    def authenticate_plain(self, user: str, password: str) -> bool:
        """True when ``password`` is ``user``'s (compared in constant time)."""
        expected = self._users.get(user)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    def scram_credentials(self, user: str, mechanism: Mechanism) -> ScramCredentials | None:
        """Derived from the stored password, once per user and mechanism; None if unknown."""
        password = self._users.get(user)
        if password is None:
            return None
        key = (user, mechanism)
        if key not in self._scram:
            self._scram[key] = derive_scram_credentials(
                password, mechanism, salt=self._salt(), iterations=self._iterations
            )
        return self._scram[key]

    def authenticate_external(self, identity: str) -> bool:
        """True for the configured identities."""
        return identity in self._external
