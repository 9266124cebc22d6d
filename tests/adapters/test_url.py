"""amqp10.url: the URL grammar of DESIGN.md, percent-decoding, default ports, clear errors."""

from __future__ import annotations

import pytest

from amqp10.url import URL, Scheme, parse_url


def test_parse_url_gives_every_part_when_all_are_present() -> None:
    assert parse_url("amqps://alice:s3cret@broker.example:5999/orders") == URL(
        scheme=Scheme.AMQPS, host="broker.example", port=5999,
        username="alice", password="s3cret", address="orders",
    )


def test_parse_url_defaults_the_port_per_scheme_when_none_is_given() -> None:
    assert parse_url("amqp://h").port == 5672
    assert parse_url("amqps://h").port == 5671
    assert parse_url("AMQPS://h").tls


def test_parse_url_percent_decodes_credentials_and_address() -> None:
    url = parse_url("amqp://us%40er:p%3Ass%40w%2Frd@h/queue%2Fa")
    assert (url.username, url.password, url.address) == ("us@er", "p:ss@w/rd", "queue/a")


def test_parse_url_keeps_an_address_with_its_own_scheme_when_it_follows_the_host() -> None:
    assert parse_url("amqp://localhost:5672/topic://news").address == "topic://news"


def test_parse_url_has_no_address_password_or_user_when_absent() -> None:
    url = parse_url("amqp://h:1/")
    assert (url.username, url.password, url.address) == (None, None, None)
    assert parse_url("amqp://bob@h").password is None
    assert parse_url("amqp://bob:@h").password == ""


def test_parse_url_unbrackets_ipv6_literals() -> None:
    url = parse_url("amqp://[::1]:5673/q")
    assert (url.host, url.port) == ("::1", 5673)
    assert str(url) == "amqp://[::1]:5673/q"


def test_URL_str_hides_the_password() -> None:
    assert str(parse_url("amqp://u:secret@h/q")) == "amqp://u:***@h:5672/q"


@pytest.mark.parametrize(
    "text, message",
    [
        ("http://h/q", "unsupported URL scheme"),
        ("h:5672/q", "not an AMQP URL"),
        ("amqp:///q", "no host"),
        ("amqp://h:0/q", "bad port"),
        ("amqp://h:99999/q", "bad port"),
        ("amqp://h:x/q", "bad port"),
        ("amqp://h/q?x=1", "no query"),
        ("amqp://h?x=1", "no query"),
        ("amqp://[::1/q", "unterminated IPv6"),
    ],
)
def test_parse_url_raises_ValueError_with_the_reason_when_malformed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_url(text)
