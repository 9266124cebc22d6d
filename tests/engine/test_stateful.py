"""Two engines driven by hypothesis with random sends, credit, drains, settlements, detaches,
ends and time steps; invariants are checked after every step, once the pair is quiet."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from amqp10.codec.spec import Target
from amqp10.engine import LinkState, Receiver, Sender, SessionState
from amqp10.engine.events import (
    DeliveryReceived,
    LinkRemotelyAttached,
    ProtocolViolationDetected,
    SessionRemotelyBegun,
)

from support.engine_pairs import client_config, make_pair, server_config


class TwoEngines(RuleBasedStateMachine):
    @initialize(
        max_frame=st.sampled_from([512, 1024, 65536]),
        window=st.integers(min_value=1, max_value=8),
        start_id=st.sampled_from([0, (1 << 32) - 3]),
    )
    def setup(self, max_frame: int, window: int, start_id: int) -> None:
        self.pair = make_pair(
            client_config(max_frame_size=max_frame, idle_timeout=10.0, incoming_window=window),
            server_config(max_frame_size=max_frame, idle_timeout=10.0, incoming_window=window),
        )
        self.start_id = start_id
        self.pair.client.open()
        self.pair.server.open()
        self.counter = 0
        self.sent: dict[Sender, list[bytes]] = {}
        self.received: dict[Receiver, list[bytes]] = {}
        self.by_payload: dict[bytes, Any] = {}  # payload -> the sender's Delivery
        self.unsettled: list[Any] = []
        self._new_session()

    # -- plumbing ------------------------------------------------------------------------
    def _pump(self) -> None:
        for _ in range(10):
            c, s = self.pair.pump()
            for e in c + s:
                assert not isinstance(e, ProtocolViolationDetected), e
                if isinstance(e, SessionRemotelyBegun):
                    e.session.begin()
                elif isinstance(e, LinkRemotelyAttached):
                    e.link.attach()
                elif isinstance(e, DeliveryReceived):
                    link = e.delivery.link
                    self.received.setdefault(link, []).append(bytes(e.delivery.payload))
                    if not e.delivery.settled:
                        self.unsettled.append(e.delivery)
            if not c and not s:
                return

    def _new_session(self) -> None:
        self.session = self.pair.client.begin_session(next_outgoing_id=self.start_id)
        self.links: list[tuple[Sender, Receiver]] = []
        for i in range(2):
            self._attach(i)

    def _attach(self, i: int) -> None:
        self.counter += 1
        name = f"l{self.counter}"
        client_sends = i % 2 == 0
        if client_sends:
            local: Any = self.session.attach_sender(name, target=Target(address="q"))
        else:
            local = self.session.attach_receiver(name)
        self._pump()
        server_session = self.pair.server.sessions[-1]
        (remote,) = [l for l in server_session.links if l.name == name]
        pair = (local, remote) if client_sends else (remote, local)
        self.links.append(pair)
        self.sent[pair[0]] = []
        self.received[pair[1]] = []

    def _live(self) -> list[tuple[Sender, Receiver]]:
        return [(s, r) for s, r in self.links if s.state is LinkState.ATTACHED and r.state is LinkState.ATTACHED]

    # -- rules -----------------------------------------------------------------------------
    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data(), size=st.integers(min_value=0, max_value=3000), settled=st.booleans())
    def send(self, data: st.DataObject, size: int, settled: bool) -> None:
        sender, _ = data.draw(st.sampled_from(self._live()))
        self.counter += 1
        payload = self.counter.to_bytes(4, "big") + b"x" * size
        self.by_payload[payload] = sender.send(payload, settled=settled)
        self.sent[sender].append(payload)
        self._pump()

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data(), credit=st.integers(min_value=0, max_value=10))
    def grant(self, data: st.DataObject, credit: int) -> None:
        _, receiver = data.draw(st.sampled_from(self._live()))
        receiver.flow(credit)
        self._pump()

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data())
    def drain(self, data: st.DataObject) -> None:
        sender, receiver = data.draw(st.sampled_from(self._live()))
        receiver.drain()
        self._pump()
        assert receiver.credit.link_credit == 0 and sender.credit.link_credit == 0

    @precondition(lambda self: bool(self.unsettled))
    @rule(data=st.data(), outcome=st.sampled_from(["accept", "reject", "release", "modify"]))
    def settle(self, data: st.DataObject, outcome: str) -> None:
        delivery = data.draw(st.sampled_from(self.unsettled))
        self.unsettled.remove(delivery)
        if delivery.settled or delivery.link.state is not LinkState.ATTACHED:
            return
        getattr(delivery, outcome)()
        self._pump()
        # the outcome and the settlement reached the sending end
        sender_side = self.by_payload[bytes(delivery.payload)]
        assert sender_side.remote_settled and sender_side.settled
        assert type(sender_side.remote_state) is type(delivery.local_state)

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data(), closed=st.booleans())
    def detach(self, data: st.DataObject, closed: bool) -> None:
        pair = data.draw(st.sampled_from(self._live()))
        end = data.draw(st.sampled_from(pair))
        end.detach(closed=closed)
        self._pump()
        assert pair[0].state is LinkState.DETACHED and pair[1].state is LinkState.DETACHED
        self._check_link_delivered(*pair)
        self.links.remove(pair)
        self._attach(len(self.links))

    @rule()
    def end_session(self) -> None:
        for pair in self._live():
            self._pump()
        self.session.end()
        self._pump()
        assert self.session.state is SessionState.UNMAPPED
        for s, r in self.links:
            self._check_link_delivered(s, r)
        self.unsettled.clear()
        self._new_session()

    @rule(seconds=st.floats(min_value=0.0, max_value=4.0))
    def time_passes(self, seconds: float) -> None:
        self.pair.tick(seconds)
        self._pump()
        assert not self.pair.client.finished and not self.pair.server.finished

    # -- invariants ------------------------------------------------------------------------
    def _check_link_delivered(self, sender: Sender, receiver: Receiver) -> None:
        got = self.received[receiver]
        sent = self.sent[sender]
        # nothing duplicated, nothing reordered, nothing invented: a prefix of what was sent
        assert got == sent[: len(got)]

    @invariant()
    def deliveries_are_an_ordered_prefix_without_duplicates(self) -> None:
        for s, r in self.links:
            self._check_link_delivered(s, r)

    @invariant()
    def credit_and_windows_never_negative(self) -> None:
        for s, r in self.links:
            assert s.credit.link_credit >= 0 and r.credit.link_credit >= 0
        for conn in (self.pair.client, self.pair.server):
            for session in conn.sessions:
                assert session.window.remote_incoming_window >= 0
                assert session.window.incoming_window >= 0

    @invariant()
    def both_ends_agree_after_quiescence(self) -> None:
        for s, r in self._live():
            assert s.credit.delivery_count == r.credit.delivery_count
            assert s.credit.link_credit == r.credit.link_credit
            # every delivery the sender finished and that had credit has arrived
            if s.idle:
                assert self.received[r] == self.sent[s]


TwoEngines.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_two_engines_agree = TwoEngines.TestCase
