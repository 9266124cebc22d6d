"""amqp10's client against a peer without the anonymous relay: the Proton C++ example broker
offers no capabilities in OPEN, yet accepts a link with a null target and then every message
sent on it (into a queue named ""). ``open_sender(None)`` must refuse before anything is sent.

(Filters and distribution modes cannot be checked against it: it echoes the source it was
sent, filters and ``copy`` included, while applying neither; ``tests/adapters/
test_terminus_checks.py`` uses a handler that answers with a bare source instead.)

A peer that is not running is skipped with instructions, or fails under
``AMQP10_REQUIRE_PEERS=1`` (CI).
"""

from __future__ import annotations

import uuid

import pytest

import amqp10
from support.peers import peer_info

pytestmark = pytest.mark.interop

_WAIT = 15.0


def _queue() -> str:
    return f"amqp10-downgrade-{uuid.uuid4().hex[:8]}"


def test_proton_cpp_broker_offers_no_anonymous_relay_and_open_sender_None_raises() -> None:
    info = peer_info("PROTON_CPP_BROKER")
    with amqp10.connect(info.url(), timeout=_WAIT) as conn:
        assert "ANONYMOUS-RELAY" not in [str(c) for c in conn.remote_offered_capabilities or ()]
        with pytest.raises(amqp10.AnonymousRelayNotOfferedError):
            conn.open_sender(None)
