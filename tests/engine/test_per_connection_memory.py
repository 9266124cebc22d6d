"""What an idle connection's engine holds stays small: a server keeps one per connection for the
connection's whole life (10,000 of them in one process, docs/scale.md). Links carry many
attributes; as an instance dict a Sender's was not key-shared by CPython (30 keys, over its
limit of 29) and cost 1.5 KiB alone, so links use slots."""

from __future__ import annotations

import pytest

from amqp10.engine.link import Receiver, Sender

from support.engine_pairs import link_pair, opened_pair


def test_attached_senders_and_receivers_on_both_sides_keep_no_instance_dict() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)  # the client's sender, the server's receiver
    back, forth, _, _ = link_pair(pair, name="back", client_sends=False)
    receiver.flow(10)
    sender.send(b"x")
    pair.pump()
    for link in (sender, receiver, back, forth):
        assert isinstance(link, (Sender, Receiver))
        assert not hasattr(link, "__dict__")


def test_a_link_refuses_an_attribute_it_does_not_declare() -> None:
    # With slots a misspelt attribute fails loudly instead of costing a dict per link.
    pair = opened_pair()
    sender, _, _, _ = link_pair(pair)
    with pytest.raises(AttributeError):
        sender.no_such_attribute = 1  # type: ignore[attr-defined]
