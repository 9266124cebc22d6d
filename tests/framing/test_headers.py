from __future__ import annotations

import pytest

from amqp10.errors import FramingError
from amqp10.framing.headers import (
    AMQP_HEADER,
    SASL_HEADER,
    TLS_HEADER,
    ProtocolHeader,
    ProtocolId,
    answer_header,
    check_header_prefix,
    parse_header,
)


def test_headers_encode_as_in_spec_2_2() -> None:
    assert AMQP_HEADER == b"AMQP\x00\x01\x00\x00"
    assert SASL_HEADER == b"AMQP\x03\x01\x00\x00"
    assert TLS_HEADER == b"AMQP\x02\x01\x00\x00"


@pytest.mark.parametrize("raw,pid", [(AMQP_HEADER, ProtocolId.AMQP), (SASL_HEADER, ProtocolId.SASL), (TLS_HEADER, ProtocolId.TLS)])
def test_parse_header_recognises_each_protocol_id(raw: bytes, pid: ProtocolId) -> None:
    header = parse_header(raw)
    assert header.protocol_id is pid
    assert header.is_supported
    assert header.encode() == raw


def test_parse_header_keeps_an_unknown_id_and_version_for_the_answer() -> None:
    header = parse_header(b"AMQP\x07\x02\x01\x00")
    assert header.protocol_id == 7
    assert not header.is_supported


def test_parse_header_rejects_bytes_that_are_not_amqp_with_framing_error() -> None:
    with pytest.raises(FramingError) as info:
        parse_header(b"GET / HT")
    assert info.value.condition == "amqp:connection:framing-error"


def test_check_header_prefix_fails_on_the_first_wrong_byte() -> None:
    check_header_prefix(b"AM")
    with pytest.raises(FramingError):
        check_header_prefix(b"\x16")  # a TLS ClientHello


def test_answer_header_echoes_a_supported_header_when_we_have_not_sent_ours() -> None:
    answer = answer_header(ProtocolHeader(ProtocolId.AMQP), [ProtocolId.AMQP], already_sent=False)
    assert answer.accepted and answer.reply == AMQP_HEADER


def test_answer_header_offers_a_supported_header_when_the_version_is_wrong() -> None:
    answer = answer_header(ProtocolHeader(ProtocolId.AMQP, 2, 0, 0), [ProtocolId.AMQP], already_sent=False)
    assert not answer.accepted
    assert answer.reply == AMQP_HEADER
    assert answer.description


def test_answer_header_asks_for_sasl_when_the_server_requires_it() -> None:
    answer = answer_header(ProtocolHeader(ProtocolId.AMQP), [ProtocolId.SASL], already_sent=False)
    assert not answer.accepted and answer.reply == SASL_HEADER


def test_answer_header_refuses_tls_when_only_amqp_is_spoken() -> None:
    answer = answer_header(ProtocolHeader(ProtocolId.TLS), [ProtocolId.AMQP], already_sent=False)
    assert not answer.accepted and answer.reply == AMQP_HEADER
