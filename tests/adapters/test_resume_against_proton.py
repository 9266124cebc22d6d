"""``_resume.rebind`` (what a reconnect puts back) against python-qpid-proton's engine in memory:
the old connection is lost, a new one to a fresh Proton peer is made, and the same client
records carry on: unsettled messages reach the new peer again (at-least-once, nothing lost),
a durable link's resumption degrades to the same against Proton's null unsettled map, trackers
follow their messages, and a receiver's credit window is granted on the new link."""

from __future__ import annotations

import proton

from amqp10._api import ClientCore, LinkRecord
from amqp10._options import receiver_attach, sender_attach
from amqp10._resume import attached_again, rebind
from amqp10.codec.message import Message
from amqp10.codec.spec import Accepted

from support.proton_pump import ProtonPump, read_proton, wired


def _connected(core: ClientCore | None = None) -> tuple[ProtonPump, ClientCore]:
    pump = wired(True, container_id="client-1")
    pump.ours.open()
    if core is None:
        core = ClientCore(pump.ours, "proton-1")
    else:
        rebind(core, pump.ours, "proton-2")
    _settle(pump, core)
    return pump, core


def _settle(pump: ProtonPump, core: ClientCore) -> None:
    ours, _ = pump.pump_accepting()
    core.handle(ours)


def _proton_link(pump: ProtonPump) -> proton.Link:
    link = pump.connection.link_head(0)
    assert link is not None
    return link


def _sender(core: ClientCore, pump: ProtonPump, **options: object) -> LinkRecord:
    session = core.session_for_links()
    record = session.attach_sender("q", sender_attach("q", **options), name="out")  # type: ignore[arg-type]
    _settle(pump, core)
    _proton_link(pump).flow(100)
    _settle(pump, core)
    assert record.attached
    return record


def _bodies(pump: ProtonPump, accept: bool) -> list[object]:
    got = []
    for delivery, data in read_proton(_proton_link(pump)):
        got.append(Message.decode(data).body)
        if accept:
            delivery.update(proton.Delivery.ACCEPTED)
            delivery.settle()
    return got


def test_unsettled_messages_are_sent_again_to_the_new_proton_peer_and_their_outcomes_follow() -> None:
    pump, core = _connected()
    record = _sender(core, pump)
    sent = [record.send(Message(body=f"m{i}").encode()) for i in range(3)]
    _settle(pump, core)
    assert _bodies(pump, accept=False) == ["m0", "m1", "m2"]  # taken, outcomes never sent
    core.transport_failed("cut")
    assert core.finished

    pump2, _ = _connected(core)
    assert attached_again(core) is True
    _proton_link(pump2).flow(100)
    _settle(pump2, core)
    assert _bodies(pump2, accept=True) == ["m0", "m1", "m2"]
    _settle(pump2, core)
    assert [record.result(d) for d in sent] == [Accepted()] * 3
    assert record.known(sent[0])


def test_a_durable_sender_resumed_against_proton_degrades_to_sending_again() -> None:
    pump, core = _connected()
    record = _sender(core, pump, durable="unsettled-state", expiry_policy="never")
    sent = [record.send(Message(body=f"d{i}").encode()) for i in range(2)]
    _settle(pump, core)
    assert _bodies(pump, accept=False) == ["d0", "d1"]
    core.transport_failed("cut")

    pump2, _ = _connected(core)
    _proton_link(pump2).flow(100)
    _settle(pump2, core)
    assert _bodies(pump2, accept=True) == ["d0", "d1"]  # Proton's null map: all again
    _settle(pump2, core)
    assert [record.result(d) for d in sent] == [Accepted()] * 2


def test_a_receiver_gets_its_credit_window_on_the_new_link() -> None:
    pump, core = _connected()
    session = core.session_for_links()
    record = session.attach_receiver("q", receiver_attach("q"), credit=7, auto_accept=False, name="in")
    _settle(pump, core)
    assert _proton_link(pump).credit == 7
    core.transport_failed("cut")

    pump2, _ = _connected(core)
    assert record.attached and _proton_link(pump2).credit == 7
