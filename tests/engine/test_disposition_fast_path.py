"""An untraced session writes a plain outcome's DISPOSITION from its wire values (no
``Disposition`` object); the bytes must be exactly those of the general path
(``encode_frame(Disposition(...))``, which the traced path and other states still use), and
the peer must read back the same performative."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amqp10.codec.spec import Accepted, Disposition, Error, Modified, Received, Rejected, Released, Role
from amqp10.codec.types import Symbol
from amqp10.engine import trace
from amqp10.framing.frame import encode_frame
from amqp10.framing.performatives import decode_body
from amqp10.framing.reader import FrameReader
from support.engine_pairs import link_pair, opened_pair

_STATES = st.one_of(
    st.none(),
    st.just(Accepted()),
    st.just(Released()),
    st.builds(Rejected, error=st.none() | st.builds(Error, condition=st.just(Symbol("amqp:internal-error")),
                                                      description=st.none() | st.text(max_size=20))),
    st.builds(Modified, delivery_failed=st.none() | st.booleans(), undeliverable_here=st.none() | st.booleans(),
              message_annotations=st.none() | st.dictionaries(st.sampled_from(["x-a", "x-b", "x-c"]).map(Symbol), st.integers(0, 9), max_size=2)),
    st.builds(Received, section_number=st.integers(0, 2**32 - 1), section_offset=st.integers(0, 2**64 - 1)),
)


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    pair = opened_pair()
    sender, _, client_session, _ = link_pair(pair)
    yield pair.client, client_session


@settings(max_examples=200, deadline=None)
@given(
    role=st.sampled_from([Role.SENDER, Role.RECEIVER]),
    first=st.integers(0, 2**32 - 1),
    span=st.integers(0, 3),
    settled=st.booleans(),
    state=_STATES,
)
def test_the_fast_disposition_is_byte_for_byte_the_general_one(
    session: Any, role: Role, first: int, span: int, settled: bool, state: Any
) -> None:
    connection, sess = session
    last = (first + span) % 2**32
    assert not trace.ENABLED
    connection.data_to_send()
    sess._write_disposition(role, first, last, state, settled)
    fast = connection.data_to_send()
    general = bytearray()
    expected = Disposition(role=role, first=first, last=last if last != first else None, settled=settled or None, state=state)
    encode_frame(general, sess.channel, expected)
    assert fast == bytes(general)
    reader = FrameReader()
    reader.feed(fast)
    (frame,) = reader.read_frames()
    decoded, payload = decode_body(frame)
    assert decoded == expected and not payload


def test_a_traced_session_writes_the_same_disposition(session: Any) -> None:
    connection, sess = session
    connection.data_to_send()
    sess._write_disposition(Role.RECEIVER, 7, 9, Accepted(), True)
    fast = connection.data_to_send()
    trace.set_enabled(True)
    try:
        sess._write_disposition(Role.RECEIVER, 7, 9, Accepted(), True)
        traced = connection.data_to_send()
    finally:
        trace.set_enabled(False)
    assert fast == traced
