"""The blocking client API against our own server (blocking listener + test broker), over loopback."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import amqp10
from amqp10 import Accepted, Message, Modified, Properties, Rejected, Released
from amqp10.blocking import Listener, connect, listen
from amqp10.codec.spec import TerminusDurability, TerminusExpiryPolicy
from amqp10.codec.types import Described, Symbol
from support.broker import QueueBroker


def test_Sender_send_returns_Accepted_and_Receiver_gets_the_message_when_at_least_once(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("q")
        outcome = sender.send(Message(body="hello", application_properties={"n": 1}))
        assert outcome == Accepted()
        receiver = conn.open_receiver("q")
        delivery = receiver.receive(timeout=5)
        assert delivery.message.body == "hello"
        assert delivery.message.application_properties == {"n": 1}
        delivery.accept()
        assert delivery.settled and delivery.state == Accepted()


def test_Sender_send_returns_None_and_message_arrives_presettled_when_at_most_once(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("q", settle_mode="at-most-once")
        receiver = conn.open_receiver("q", settle_mode="at-most-once")
        assert sender.send(Message(body=b"raw")) is None
        delivery = receiver.receive(timeout=5)
        assert delivery.message.body == b"raw"
        assert delivery.settled  # the broker pre-settled it: nothing to accept
        delivery.accept()  # a no-op, not an error


def test_Sender_send_wraps_a_non_Message_as_its_body(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        conn.open_sender("q").send({"k": [1, 2]})
        assert conn.open_receiver("q").receive(timeout=5).message.body == {"k": [1, 2]}


@pytest.mark.parametrize(
    "address, expected",
    [
        ("outcome/release", Released()),
        ("outcome/modify", Modified(delivery_failed=True, undeliverable_here=True)),
    ],
)
def test_Sender_send_returns_the_peers_outcome_when_not_accepted(listener: Listener, address: str, expected: object) -> None:
    with connect(listener.url, timeout=5) as conn:
        assert conn.open_sender(address).send(Message(body=1)) == expected


def test_Sender_send_returns_Rejected_with_the_peers_condition_when_rejected(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        outcome = conn.open_sender("outcome/reject").send(Message(body=1))
        assert isinstance(outcome, Rejected)
        assert outcome.error is not None
        assert (outcome.error.condition, outcome.error.description) == ("amqp:precondition-failed", "rejected by test")


def test_Receiver_receive_raises_Timeout_when_nothing_arrives(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        receiver = conn.open_receiver("empty")
        started = time.monotonic()
        with pytest.raises(amqp10.Timeout, match="within 0.2 s") as info:
            receiver.receive(timeout=0.2)
        assert isinstance(info.value, TimeoutError)
        assert 0.15 < time.monotonic() - started < 2
        # the connection is still usable after a timeout
        conn.open_sender("empty").send(Message(body="late"))
        assert receiver.receive(timeout=5).message.body == "late"


def test_Receiver_gets_nothing_until_flow_when_credit_is_manual(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("manual")
        for i in range(4):
            sender.send(Message(body=i))
        receiver = conn.open_receiver("manual", credit=0)
        with pytest.raises(amqp10.Timeout):
            receiver.receive(timeout=0.2)
        receiver.flow(2)
        assert [receiver.receive(timeout=5).message.body for _ in range(2)] == [0, 1]
        with pytest.raises(amqp10.Timeout):
            receiver.receive(timeout=0.2)
        assert receiver.credit == 0


def test_Receiver_drain_returns_what_the_sender_had_and_zeroes_credit(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("drainq")
        for i in range(3):
            sender.send(Message(body=i))
        receiver = conn.open_receiver("drainq", credit=0)
        receiver.flow(10)
        deliveries = receiver.drain(timeout=5)
        assert [d.message.body for d in deliveries] == [0, 1, 2]
        assert receiver.credit == 0


def test_Receiver_drain_returns_nothing_promptly_when_the_sender_has_nothing(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        receiver = conn.open_receiver("nothing-here", credit=0)
        receiver.flow(5)
        started = time.monotonic()
        assert receiver.drain(timeout=5) == []
        assert time.monotonic() - started < 2
        assert receiver.credit == 0


def test_Receiver_prefetch_tops_up_credit_when_messages_are_taken(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("prefetch")
        receiver = conn.open_receiver("prefetch", credit=4)
        for i in range(20):
            sender.send(Message(body=i))
        got = [receiver.receive(timeout=5).message.body for _ in range(20)]
        assert got == list(range(20))
        assert receiver.queued + receiver.credit <= 4


def test_Receiver_auto_accept_settles_each_delivery_when_handed_out(listener: Listener, broker: QueueBroker) -> None:
    with connect(listener.url, timeout=5) as conn:
        conn.open_sender("auto").send(Message(body="x"))
        receiver = conn.open_receiver("auto", auto_accept=True)
        delivery = receiver.receive(timeout=5)
        assert delivery.settled and delivery.state == Accepted()
        assert _eventually(lambda: listener.call(lambda: not broker.unsettled))


def test_Delivery_release_makes_the_broker_redeliver_the_message(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        conn.open_sender("redo").send(Message(body="again"))
        receiver = conn.open_receiver("redo")
        receiver.receive(timeout=5).release()
        second = receiver.receive(timeout=5)
        assert second.message.body == "again"
        second.accept()


def test_Delivery_reject_and_modify_reach_the_sender(listener: Listener, broker: QueueBroker) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("settle")
        sender.send(Message(body=1))
        sender.send(Message(body=2))
        receiver = conn.open_receiver("settle")
        receiver.receive(timeout=5).reject("amqp:decode-error", "bad body")
        receiver.receive(timeout=5).modify(delivery_failed=True, undeliverable_here=True)
        assert _eventually(lambda: listener.call(lambda: not broker.unsettled and not broker.queues["settle"]))


def test_open_receiver_dynamic_gives_the_address_the_peer_created(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        receiver = conn.open_receiver(dynamic=True)
        assert receiver.address is not None and receiver.address.startswith("dynamic-")
        conn.open_sender(receiver.address).send(Message(body="to the dynamic node"))
        assert receiver.receive(timeout=5).message.body == "to the dynamic node"


def test_open_receiver_refuses_an_address_together_with_dynamic(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        with pytest.raises(ValueError, match="dynamic"):
            conn.open_receiver("q", dynamic=True)


def test_anonymous_Sender_routes_each_message_by_its_to(broker: QueueBroker) -> None:
    with listen("127.0.0.1", 0, broker, offered_capabilities=["ANONYMOUS-RELAY"]) as relay, connect(relay.url, timeout=5) as conn:
        anonymous = conn.open_sender(None)
        assert anonymous.address is None
        assert anonymous.send(Message(body="a", properties=Properties(to="anon-a"))) == Accepted()
        assert anonymous.send(Message(body="b", properties=Properties(to="anon-b"))) == Accepted()
        assert conn.open_receiver("anon-b").receive(timeout=5).message.body == "b"
        assert conn.open_receiver("anon-a").receive(timeout=5).message.body == "a"
        assert broker.attaches[0].target is not None and broker.attaches[0].target.address is None
        with pytest.raises(ValueError, match="properties.to"):
            anonymous.send(Message(body="nowhere"))


def test_open_receiver_sends_source_filters_as_described_values(listener: Listener, broker: QueueBroker) -> None:
    custom = {"my-filter": Described(Symbol("example:custom-filter:string"), "x > 1")}
    with connect(listener.url, timeout=5) as conn:
        receiver = conn.open_receiver("filtered", filter=amqp10.selector_filter("color = 'red'"))
        conn.open_receiver("filtered2", filter=custom)
        source = broker.attaches[0].source
        assert source is not None and source.filter == {
            Symbol("jms-selector"): Described(Symbol("apache.org:selector-filter:string"), "color = 'red'")
        }
        assert broker.attaches[1].source is not None
        assert broker.attaches[1].source.filter == {Symbol("my-filter"): custom["my-filter"]}
        assert receiver.remote_source.filter == source.filter  # the broker echoed what it applied


def test_open_receiver_sends_durable_terminus_options_and_link_properties(listener: Listener, broker: QueueBroker) -> None:
    with connect(listener.url, timeout=5) as conn:
        receiver = conn.open_receiver(
            "subscription",
            name="my-subscription",
            durable="unsettled-state",
            expiry_policy="never",
            expiry_timeout=60,
            capabilities=["topic"],
            distribution_mode="copy",
            properties={"x-opt-tag": "durable-sub"},
        )
        source = broker.attaches[0].source
        assert source is not None
        assert source.durable == TerminusDurability.UNSETTLED_STATE
        assert source.expiry_policy == TerminusExpiryPolicy.NEVER
        assert source.timeout == 60
        assert list(source.capabilities or []) == ["topic"]
        assert source.distribution_mode == "copy"
        assert broker.attaches[0].properties == {Symbol("x-opt-tag"): "durable-sub"}
        assert receiver.remote_properties == {Symbol("x-opt-tag"): "durable-sub"}
        assert receiver.name == broker.attaches[0].name == "my-subscription"
        receiver.detach(timeout=5)  # a durable subscription is detached, not closed
        assert receiver.closed


def test_open_sender_sends_target_options(listener: Listener, broker: QueueBroker) -> None:
    with connect(listener.url, timeout=5) as conn:
        conn.open_sender("tq", durable=TerminusDurability.CONFIGURATION, capabilities="queue", properties={"p": 1})
        target = broker.attaches[0].target
        assert target is not None and target.durable == TerminusDurability.CONFIGURATION
        assert list(target.capabilities or []) == ["queue"]
        assert broker.attaches[0].properties == {Symbol("p"): 1}


def test_open_sender_raises_LinkDetachedError_with_the_condition_when_the_peer_refuses(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        with pytest.raises(amqp10.LinkDetachedError) as info:
            conn.open_sender("refuse/this")
        assert info.value.condition == "amqp:not-found"
        assert "no node named 'refuse/this'" in str(info.value)
        assert "refused the sender link to 'refuse/this'" in str(info.value)
        with pytest.raises(amqp10.LinkDetachedError, match="amqp:not-found"):
            conn.open_receiver("refuse/that")
        # the connection survives a refused link
        assert conn.open_sender("fine").send(Message(body=1)) == Accepted()


def test_Connection_request_returns_the_correlated_reply(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        reply = conn.request("echo", Message(body="ping"), timeout=5)
        assert reply.body == "ping"
        assert reply.properties is not None and reply.properties.correlation_id is not None
        assert conn.request("echo", "again", timeout=5).body == "again"


def test_Requester_matches_replies_to_requests_from_many_threads(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        requester = conn.open_requester("echo")
        results: dict[int, object] = {}

        def ask(n: int) -> None:
            results[n] = requester.request(Message(body=n), timeout=10).body

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        assert results == {n: n for n in range(8)}
        requester.close(timeout=5)


def test_Connection_is_safe_when_many_threads_send_on_it(listener: Listener, broker: QueueBroker) -> None:
    threads_n, per_thread = 8, 40
    with connect(listener.url, timeout=10) as conn:
        sender = conn.open_sender("many")
        outcomes: list[object] = []
        lock = threading.Lock()

        def work(t: int) -> None:
            own = conn.open_sender("many") if t % 2 else sender  # shared and own links
            for i in range(per_thread):
                outcome = own.send(Message(body=[t, i]), timeout=10)
                with lock:
                    outcomes.append(outcome)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert outcomes == [Accepted()] * (threads_n * per_thread)
        receiver = conn.open_receiver("many", credit=50, auto_accept=True)
        bodies = {tuple(receiver.receive(timeout=5).message.body) for _ in range(threads_n * per_thread)}
        assert bodies == {(t, i) for t in range(threads_n) for i in range(per_thread)}


def test_Sender_send_raises_Timeout_and_withdraws_the_message_when_no_credit_comes(listener: Listener, broker: QueueBroker) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("nocredit")
        with pytest.raises(amqp10.Timeout):
            sender.send(Message(body="never"), timeout=0.2)
        assert sender.unsettled == 0
        time.sleep(0.1)
        assert listener.call(lambda: broker.received_count) == 0


def test_Sender_settles_a_timed_out_message_when_its_outcome_comes_later(listener: Listener, broker: QueueBroker) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("held")
        with pytest.raises(amqp10.Timeout):
            sender.send(Message(body="slow"), timeout=0.2)
        assert sender.unsettled == 1  # it went out: its outcome is still tracked
        listener.call(broker.release_held)
        assert _eventually(lambda: sender.unsettled == 0)
        assert conn.open_sender("q").send(Message(body="next")) == Accepted()  # still usable


def test_Receiver_iteration_stops_when_the_link_is_closed(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("iter")
        for i in range(3):
            sender.send(Message(body=i))
        receiver = conn.open_receiver("iter")
        seen = []
        for delivery in receiver:
            seen.append(delivery.message.body)
            delivery.accept()
            if len(seen) == 3:
                receiver.close()
        assert seen == [0, 1, 2]


def test_Session_hosts_links_and_closes_them_when_ended(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        with conn.open_session() as session:
            sender = session.open_sender("sess")
            receiver = session.open_receiver("sess")
            sender.send(Message(body="s"))
            assert receiver.receive(timeout=5).message.body == "s"
        with pytest.raises(amqp10.SessionEndedError, match="you ended it"):
            sender.send(Message(body="after"))


def test_Connection_sends_its_options_in_OPEN(listener: Listener, broker: QueueBroker) -> None:
    with connect(
        listener.url,
        container_id="my-container",
        properties={"product": "test"},
        offered_capabilities=["cap-a"],
        desired_capabilities=["cap-b"],
        max_frame_size=4096,
        channel_max=7,
        timeout=5,
    ) as conn:
        remote = listener.call(lambda: broker.connections[0].engine.remote_open)
        assert remote is not None
        assert remote.container_id == "my-container"
        assert remote.properties == {Symbol("product"): "test"}
        assert list(remote.offered_capabilities or []) == ["cap-a"]
        assert list(remote.desired_capabilities or []) == ["cap-b"]
        assert (remote.max_frame_size, remote.channel_max, remote.hostname) == (4096, 7, "127.0.0.1")
        assert conn.container_id == "my-container"
        assert conn.remote_container_id is not None
        # a message larger than a frame is split and joined again
        conn.open_sender("big").send(Message(body=b"x" * 20000))
        assert conn.open_receiver("big").receive(timeout=5).message.body == b"x" * 20000


def test_Connection_close_is_idempotent_and_later_calls_raise_ConnectionClosedError(listener: Listener) -> None:
    conn = connect(listener.url, timeout=5)
    sender = conn.open_sender("q")
    conn.close()
    conn.close()
    assert conn.closed
    with pytest.raises(amqp10.ConnectionClosedError, match="you closed it"):
        sender.send(Message(body=1))
    with pytest.raises(amqp10.ConnectionClosedError):
        conn.open_sender("q")


def test_Receiver_raises_ConnectionClosedError_with_the_condition_when_the_server_closes(broker: QueueBroker) -> None:
    from amqp10.blocking import listen

    served = listen("127.0.0.1", 0, broker)
    with connect(served.url, timeout=5) as conn:
        receiver = conn.open_receiver("q")
        threading.Timer(0.1, served.close).start()
        with pytest.raises(amqp10.ConnectionClosedError) as info:
            receiver.receive(timeout=5)
        assert info.value.condition == "amqp:connection:forced"
        assert "shutting down" in str(info.value)


def test_connect_raises_ConnectionClosedError_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(amqp10.ConnectionClosedError, match="could not connect to amqp://127.0.0.1"):
        connect(f"amqp://127.0.0.1:{port}", timeout=2)


def test_connect_raises_Timeout_when_the_peer_never_answers() -> None:
    with socket.create_server(("127.0.0.1", 0)) as mute:
        port = mute.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(amqp10.Timeout, match="connecting to amqp://127.0.0.1"):
            connect(f"amqp://127.0.0.1:{port}", timeout=0.3)
        assert time.monotonic() - started < 3


def _eventually(check: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_request_ids_are_distinct_and_unique_to_their_requester(listener: Listener) -> None:
    with amqp10.connect(listener.url, timeout=5) as conn, conn.open_requester("echo") as first, conn.open_requester("echo") as second:
        ids = [first.request(Message(body=n), timeout=5).properties.correlation_id for n in range(3)]  # type: ignore[union-attr]
        other = second.request(Message(body="x"), timeout=5).properties.correlation_id  # type: ignore[union-attr]
    assert all(isinstance(i, str) for i in ids + [other])
    assert len(set(ids)) == 3
    prefixes = {i.rsplit(":", 1)[0] for i in ids}
    assert len(prefixes) == 1 and other.rsplit(":", 1)[0] not in prefixes
