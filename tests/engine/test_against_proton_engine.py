"""Our engine against python-qpid-proton's engine, in memory: connections, sessions, links,
heartbeats and SASL, with our engine in either role (transfers: test_against_proton_transfer.py).

Proton is an independent implementation, so every test here checks both sides: what our events
say and what Proton's objects report. The wiring is ``support.proton_pump``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import proton
import pytest

from amqp10.codec.spec import (
    Error,
    ReceiverSettleMode,
    SenderSettleMode,
    Source,
    Target,
    TerminusDurability,
    TerminusExpiryPolicy,
)
from amqp10.engine import LinkState, SessionState
from amqp10.engine.authenticators import SimpleAuthenticator
from amqp10.engine.events import (
    ConnectionClosed,
    ConnectionOpened,
    LinkAttached,
    LinkDetached,
    LinkRemotelyAttached,
    ProtocolViolationDetected,
    SaslOutcomeReceived,
    SessionBegun,
    SessionEnded,
    SessionRemotelyBegun,
)
from amqp10.engine.sasl import SaslClient, SaslServer
from amqp10.engine.violations import Violation
from amqp10.errors import ConnectionClosedError, LinkDetachedError, LocalProtocolError, SASLError
from amqp10.framing.headers import AMQP_HEADER, SASL_HEADER

from support.engine_pairs import of_type
from support.proton_pump import (
    ProtonPump,
    accept_ours,
    link_to_proton,
    opened,
    proton_events,
    read_proton,
    wired,
)

E = proton.Event
BOTH_CLOSED = proton.Endpoint.LOCAL_CLOSED | proton.Endpoint.REMOTE_CLOSED
BOTH_ACTIVE = proton.Endpoint.LOCAL_ACTIVE | proton.Endpoint.REMOTE_ACTIVE
ROLES = pytest.mark.parametrize("ours_client", [True, False], ids=["ours-client", "proton-client"])


def _types(events: list[proton.Event]) -> list[Any]:
    return [e.type for e in events]


# -- connection: open and close -----------------------------------------------------------------


@ROLES
@pytest.mark.parametrize("with_error", [False, True], ids=["clean", "error"])
@pytest.mark.parametrize("closer", ["ours", "proton"])
def test_Connection_close_handshake_with_proton_reports_the_closers_error(
    ours_client: bool, closer: str, with_error: bool
) -> None:
    pump = opened(ours_client)
    (opened_event,) = of_type(pump.our_events, ConnectionOpened)
    assert opened_event.container_id == "proton"
    assert pump.connection.remote_container == "ours"
    assert pump.connection.state == BOTH_ACTIVE
    if closer == "ours":
        error = Error(condition="amqp:internal-error", description="ours broke") if with_error else None
        pump.ours.close(error)
        _, theirs = pump.pump()
        assert E.CONNECTION_REMOTE_CLOSE in _types(theirs)
        condition = pump.connection.remote_condition
        if with_error:
            assert (condition.name, condition.description) == ("amqp:internal-error", "ours broke")
        else:
            assert condition is None
        pump.connection.close()
        ours, _ = pump.pump()
        (closed,) = of_type(ours, ConnectionClosed)
        assert not closed.by_peer
    else:
        if with_error:
            pump.connection.condition = proton.Condition("amqp:connection:forced", "proton says bye")
        pump.connection.close()
        ours, theirs = pump.pump()
        (closed,) = of_type(ours, ConnectionClosed)
        assert closed.by_peer
        if with_error:
            assert isinstance(closed.error, ConnectionClosedError)
            assert closed.error.condition == "amqp:connection:forced"
            assert closed.error.description == "proton says bye"
        else:
            assert closed.error is None
        assert E.CONNECTION_REMOTE_CLOSE in _types(theirs)
        assert pump.connection.remote_condition is None  # our answering CLOSE carries no error
    assert pump.ours.finished
    assert pump.connection.state == BOTH_CLOSED
    assert pump.transport.closed  # Proton saw the end of our stream and ended its own


def test_pipelined_open_begin_attach_from_us_reach_proton_in_one_flight() -> None:
    pump = wired(ours_client=True)
    pump.ours.open()
    sender = pump.ours.begin_session().attach_sender("early", target=Target(address="q"))
    pump.to_proton()  # nothing has come back from Proton yet
    theirs = pump.peer.take_events()
    remote_opens = [E.CONNECTION_REMOTE_OPEN, E.SESSION_REMOTE_OPEN, E.LINK_REMOTE_OPEN]
    assert [t for t in _types(theirs) if t in remote_opens] == remote_opens
    assert pump.ours_out.headers == [AMQP_HEADER] and pump.ours_out.flights == [3]  # OPEN, BEGIN, ATTACH
    assert pump.proton_out.frames == []
    ours, _ = pump.pump_accepting()
    assert of_type(ours, LinkAttached)[0].link is sender and sender.state is LinkState.ATTACHED


def test_pipelined_open_begin_attach_from_proton_reach_us_in_one_flight() -> None:
    pump = wired(ours_client=False)
    pump.connection.open()
    session = pump.connection.session()
    session.open()
    theirs = session.sender("early")
    theirs.target.address = "q"
    theirs.open()
    events = pump.to_ours()  # Proton sent header, OPEN, BEGIN and ATTACH before hearing from us
    assert [type(e) for e in events] == [ConnectionOpened, SessionRemotelyBegun, LinkRemotelyAttached]
    pump.ours.open()
    accept_ours(events)
    pump.pump()
    assert pump.connection.state == BOTH_ACTIVE and theirs.state == BOTH_ACTIVE
    assert theirs.remote_target.address == "q"


def _configure_proton_open(transport: proton.Transport, connection: proton.Connection) -> None:
    transport.max_frame_size = 4096
    transport.channel_max = 9
    transport.idle_timeout = 20.0
    connection.hostname = "proton-host"
    connection.offered_capabilities = proton.SymbolList(["p-offer"])
    connection.desired_capabilities = proton.SymbolList(["p-desire"])
    connection.properties = {proton.symbol("p-prop"): "pv"}


@ROLES
def test_open_fields_are_exchanged_with_proton_both_ways(ours_client: bool) -> None:
    pump = opened(
        ours_client,
        configure=_configure_proton_open,
        hostname="our-host",
        max_frame_size=2048,
        channel_max=5,
        idle_timeout=30.0,
        offered_capabilities=["o-offer"],
        desired_capabilities=["o-desire"],
        properties={"o-prop": 7},
    )
    remote = pump.ours.remote_open
    assert remote is not None
    assert (remote.container_id, remote.hostname) == ("proton", "proton-host")
    # Proton lowers its channel-max to ours when it already has our OPEN (it answers, as server).
    assert (remote.max_frame_size, remote.channel_max) == (4096, 5 if ours_client else 9)
    assert remote.idle_time_out == 10_000  # Proton advertises half its own (spec 2.4.5)
    assert list(remote.offered_capabilities) == ["p-offer"]
    assert list(remote.desired_capabilities) == ["p-desire"]
    assert remote.properties == {"p-prop": "pv"}
    assert pump.ours.remote_max_frame_size == 4096 and pump.ours.remote_channel_max == remote.channel_max
    t, c = pump.transport, pump.connection
    assert (t.remote_max_frame_size, t.remote_channel_max, t.remote_idle_timeout) == (2048, 5, 15.0)  # we advertise half too
    assert (c.remote_container, c.remote_hostname) == ("ours", "our-host")
    assert list(c.remote_offered_capabilities) == ["o-offer"]
    assert list(c.remote_desired_capabilities) == ["o-desire"]
    assert c.remote_properties == {proton.symbol("o-prop"): 7}


def test_our_sessions_stay_within_protons_channel_max() -> None:
    pump = opened(True, configure=lambda t, c: setattr(t, "channel_max", 1))
    sessions = [pump.ours.begin_session(), pump.ours.begin_session()]
    with pytest.raises(LocalProtocolError, match="channel-max 1"):
        pump.ours.begin_session()
    ours, theirs = pump.pump_accepting()
    assert [e.session for e in of_type(ours, SessionBegun)] == sessions
    assert _types(theirs).count(E.SESSION_REMOTE_OPEN) == 2


def test_proton_sessions_stay_within_our_channel_max() -> None:
    pump = opened(False, channel_max=1)
    for _ in range(3):
        pump.connection.session().open()
    ours, _ = pump.pump_accepting()
    assert len(of_type(ours, SessionRemotelyBegun)) == 2  # Proton held back the third BEGIN
    assert of_type(ours, ProtocolViolationDetected) == []
    assert sorted(s.remote_channel for s in pump.ours.sessions) == [0, 1]


# -- sessions and links -------------------------------------------------------------------------


@ROLES
def test_several_sessions_with_proton_carry_their_own_links_and_end_independently(
    ours_client: bool,
) -> None:
    pump = opened(ours_client)
    links = [
        link_to_proton(pump, ours_sends=True, ours_attaches=ours_client, name=f"l{i}", address=f"q{i}")
        for i in range(3)
    ]
    assert len({ours.session.channel for ours, _ in links}) == 3
    for ours, theirs in links:
        theirs.flow(2)
    pump.pump()
    for i, (ours, _) in enumerate(links):
        ours.send(b"to q%d" % i)
    pump.pump()
    assert [[body for _, body in read_proton(theirs)] for _, theirs in links] == [[b"to q0"], [b"to q1"], [b"to q2"]]
    first_session = links[0][0].session
    first_session.end()
    _, theirs_events = pump.pump()
    assert _types(theirs_events).count(E.SESSION_REMOTE_CLOSE) == 1
    links[0][1].session.close()
    ours_events, _ = pump.pump()
    assert [e.session for e in of_type(ours_events, SessionEnded)] == [first_session]
    assert first_session.state is SessionState.UNMAPPED
    links[2][0].send(b"still q2")
    pump.pump()
    assert [body for _, body in read_proton(links[2][1])] == [b"still q2"]
    assert links[1][1].session.state == BOTH_ACTIVE


@ROLES
@pytest.mark.parametrize("closer", ["ours", "proton"])
def test_session_ended_with_an_error_reports_it_to_the_other_side_and_detaches_links(
    ours_client: bool, closer: str
) -> None:
    pump = opened(ours_client)
    ours, theirs = link_to_proton(pump, ours_sends=True, ours_attaches=ours_client)
    if closer == "ours":
        ours.session.end(Error(condition="amqp:session:window-violation", description="ours ended it"))
        _, proton_side = pump.pump()
        assert E.SESSION_REMOTE_CLOSE in _types(proton_side)
        condition = theirs.session.remote_condition
        assert (condition.name, condition.description) == ("amqp:session:window-violation", "ours ended it")
        theirs.session.close()
        our_side, _ = pump.pump()
        (ended,) = of_type(our_side, SessionEnded)
        assert not ended.by_peer
    else:
        theirs.session.condition = proton.Condition("amqp:resource-limit-exceeded", "proton ended it")
        theirs.session.close()
        our_side, proton_side = pump.pump()
        (ended,) = of_type(our_side, SessionEnded)
        assert ended.by_peer and ended.error is not None
        assert (ended.error.condition, ended.error.description) == (
            "amqp:resource-limit-exceeded", "proton ended it"
        )
        assert E.SESSION_REMOTE_CLOSE in _types(proton_side)  # our answering END
    assert [e.link for e in of_type(our_side, LinkDetached)] == [ours]
    assert ours.session.state is SessionState.UNMAPPED and theirs.session.state == BOTH_CLOSED


def test_terminus_and_link_fields_we_send_reach_proton() -> None:
    pump = opened(True)
    receiver = pump.ours.begin_session().attach_receiver(
        "fields",
        source=Source(
            address="src",
            durable=TerminusDurability.UNSETTLED_STATE,
            expiry_policy=TerminusExpiryPolicy.NEVER,
            timeout=30,
            distribution_mode="copy",
        ),
        target=Target(address="tgt", durable=TerminusDurability.CONFIGURATION, timeout=5),
        snd_settle_mode=SenderSettleMode.UNSETTLED,
        rcv_settle_mode=ReceiverSettleMode.SECOND,
        max_message_size=1 << 20,
        properties={"lp": 1},
    )
    _, theirs = pump.pump()
    (event,) = proton_events(theirs, E.LINK_REMOTE_OPEN)
    link = event.link
    assert link.is_sender and link.name == "fields"
    source, target = link.remote_source, link.remote_target
    assert (source.address, source.durability, source.expiry_policy) == (
        "src", proton.Terminus.DELIVERIES, proton.Terminus.EXPIRE_NEVER
    )
    assert (source.timeout, source.distribution_mode) == (30, proton.Terminus.DIST_MODE_COPY)
    assert (target.address, target.durability, target.timeout) == ("tgt", proton.Terminus.CONFIGURATION, 5)
    assert link.remote_snd_settle_mode == proton.Link.SND_UNSETTLED
    assert link.remote_rcv_settle_mode == proton.Link.RCV_SECOND
    assert link.remote_max_message_size == 1 << 20
    assert link.remote_properties == {proton.symbol("lp"): 1}
    assert receiver.state is LinkState.ATTACH_SENT


def test_terminus_and_link_fields_proton_sends_reach_us() -> None:
    pump = opened(False)
    session = pump.connection.session()
    session.open()
    theirs = session.sender("fields")
    theirs.source.address = "src"
    theirs.source.distribution_mode = proton.Terminus.DIST_MODE_MOVE
    theirs.target.address = "tgt"
    theirs.target.durability = proton.Terminus.CONFIGURATION
    theirs.target.expiry_policy = proton.Terminus.EXPIRE_WITH_CONNECTION
    theirs.target.timeout = 12
    theirs.properties = {proton.symbol("pp"): "x"}
    theirs.max_message_size = 4096
    theirs.snd_settle_mode = proton.Link.SND_SETTLED
    theirs.open()
    ours, _ = pump.pump()
    (event,) = of_type(ours, LinkRemotelyAttached)
    link = event.link
    assert link.name == "fields" and not link.is_sender and link.state is LinkState.ATTACH_RCVD
    assert (link.remote_source.address, link.remote_source.distribution_mode) == ("src", "move")
    target = link.remote_target
    assert (target.address, target.durable, target.timeout) == ("tgt", TerminusDurability.CONFIGURATION, 12)
    assert target.expiry_policy == TerminusExpiryPolicy.CONNECTION_CLOSE
    assert link.remote_properties == {"pp": "x"} and link.remote_max_message_size == 4096
    assert link.snd_settle_mode is SenderSettleMode.SETTLED  # the sender's half is its call


def test_dynamic_source_we_ask_proton_for_comes_back_with_protons_address() -> None:
    pump = opened(True)
    receiver = pump.ours.begin_session().attach_receiver("dyn", source=Source(dynamic=True))
    _, theirs = pump.pump()
    (event,) = proton_events(theirs, E.LINK_REMOTE_OPEN)
    link = event.link
    assert link.remote_source.dynamic and link.remote_source.address is None
    link.source.copy(link.remote_source)
    link.source.address = "proton-tmp-1"  # the node Proton's application created
    link.target.copy(link.remote_target)
    link.session.open()
    link.open()
    ours, _ = pump.pump()
    assert of_type(ours, LinkAttached)[0].link is receiver
    assert receiver.remote_source.address == "proton-tmp-1" and receiver.remote_source.dynamic


def _begun_by_proton(pump: ProtonPump) -> list[Any]:
    """Pump, accepting the sessions Proton began but leaving its links to the test."""
    ours, _ = pump.pump()
    for event in of_type(ours, SessionRemotelyBegun):
        event.session.begin()
    return ours


def test_dynamic_source_proton_asks_us_for_comes_back_with_our_address() -> None:
    pump = opened(False)
    session = pump.connection.session()
    session.open()
    theirs = session.receiver("dyn")
    theirs.source.dynamic = True
    theirs.open()
    (event,) = of_type(_begun_by_proton(pump), LinkRemotelyAttached)
    link = event.link
    assert link.remote_source.dynamic and link.remote_source.address is None
    link.source = replace(link.remote_source, address="ours-tmp-1")
    link.target = link.remote_target
    link.attach()
    pump.pump()
    assert theirs.state == BOTH_ACTIVE
    assert theirs.remote_source.address == "ours-tmp-1" and theirs.remote_source.dynamic


@ROLES
@pytest.mark.parametrize("closer", ["ours", "proton"])
def test_link_closed_with_an_error_reports_condition_and_description_to_the_other_side(
    ours_client: bool, closer: str
) -> None:
    pump = opened(ours_client)
    ours, theirs = link_to_proton(pump, ours_sends=False, ours_attaches=ours_client)
    if closer == "ours":
        ours.detach(closed=True, error=Error(condition="amqp:not-allowed", description="ours says no"))
        _, proton_side = pump.pump()
        assert E.LINK_REMOTE_CLOSE in _types(proton_side)
        assert (theirs.remote_condition.name, theirs.remote_condition.description) == (
            "amqp:not-allowed", "ours says no"
        )
        theirs.close()
        our_side, _ = pump.pump()
        (detached,) = of_type(our_side, LinkDetached)
        assert not detached.by_peer and detached.closed
    else:
        theirs.condition = proton.Condition("amqp:link:stolen", "proton took it back")
        theirs.close()
        our_side, proton_side = pump.pump()
        (detached,) = of_type(our_side, LinkDetached)
        assert detached.by_peer and detached.closed
        assert isinstance(detached.error, LinkDetachedError)
        assert (detached.error.condition, detached.error.description) == (
            "amqp:link:stolen", "proton took it back"
        )
        assert E.LINK_REMOTE_CLOSE in _types(proton_side)  # our answering DETACH
    assert ours.state is LinkState.DETACHED and theirs.state == BOTH_CLOSED


def test_refusing_a_proton_link_sends_a_null_terminus_then_the_error() -> None:
    pump = opened(False)
    session = pump.connection.session()
    session.open()
    theirs = session.sender("refused")
    theirs.target.address = "nowhere"
    theirs.open()
    (event,) = of_type(_begun_by_proton(pump), LinkRemotelyAttached)
    event.link.detach(closed=True, error=Error(condition="amqp:not-found", description="no such node"))
    pump.pump()
    assert theirs.remote_target.type == proton.Terminus.UNSPECIFIED  # spec 2.6.3: null target
    assert theirs.state & proton.Endpoint.REMOTE_CLOSED
    assert (theirs.remote_condition.name, theirs.remote_condition.description) == (
        "amqp:not-found", "no such node"
    )


# -- heartbeats -----------------------------------------------------------------------------------


@ROLES
@pytest.mark.parametrize("pace", ["every-half-second", "at-deadlines"])
def test_heartbeats_keep_a_silent_connection_with_proton_open_for_many_periods(
    ours_client: bool, pace: str
) -> None:
    # Proton advertises half its configured idle timeout (4 s -> 2 s); we advertise half of 2 s.
    pump = opened(ours_client, idle_timeout=2.0, configure=lambda t, c: setattr(t, "idle_timeout", 4.0))
    frames_before = (len(pump.ours_out.frames), len(pump.proton_out.frames))
    deadlines = pump.tick(0.0)
    end = pump.clock.now + 20.0  # ten of our idle periods, five of Proton's
    for _ in range(400):  # bounded; at-deadlines pacing is what an adapter that sleeps does
        if pump.clock.now >= end:
            break
        pending = [d for d in deadlines if d is not None]
        step = 0.5 if pace == "every-half-second" else max(min(pending) - pump.clock.now, 0.001)
        deadlines = pump.tick(step)
        ours, theirs = pump.pump()
        assert of_type(ours, ConnectionClosed) == [] and E.CONNECTION_REMOTE_CLOSE not in _types(theirs)
    sent = pump.ours_out.frames[frames_before[0]:]
    received = pump.proton_out.frames[frames_before[1]:]
    assert sent and received and all(f[0] == 8 for f in sent + received)  # only empty frames
    assert len(sent) >= 9 and len(received) >= 9  # one per half idle period at least
    assert pump.connection.state == BOTH_ACTIVE and not pump.ours.finished


@ROLES
def test_we_close_a_silent_proton_with_resource_limit_exceeded(ours_client: bool) -> None:
    pump = opened(ours_client, idle_timeout=2.0)
    pump.tick(0.0)
    pump.pump()
    pump.tick(1.9, theirs=False)  # Proton stops ticking: it sends no heartbeats
    assert pump.to_ours() == [] and not pump.ours.finished
    pump.tick(0.2, theirs=False)
    events = pump.ours.take_events()
    assert of_type(events, ProtocolViolationDetected)[0].violation is Violation.IDLE_TIMEOUT
    (closed,) = of_type(events, ConnectionClosed)
    assert closed.error is not None and closed.error.condition == "amqp:resource-limit-exceeded"
    pump.to_proton()
    theirs = pump.peer.take_events()
    assert E.CONNECTION_REMOTE_CLOSE in _types(theirs)
    assert pump.connection.remote_condition.name == "amqp:resource-limit-exceeded"


@ROLES
def test_proton_closes_us_with_resource_limit_exceeded_when_we_fall_silent(ours_client: bool) -> None:
    pump = opened(ours_client, configure=lambda t, c: setattr(t, "idle_timeout", 2.0))
    for _ in range(5):  # 2.5 s in which only Proton ticks: we send nothing at all
        pump.tick(0.5, ours=False)
        ours, _ = pump.pump()
        if ours:
            break
    (closed,) = of_type(ours, ConnectionClosed)
    assert closed.by_peer and isinstance(closed.error, ConnectionClosedError)
    assert closed.error.condition == "amqp:resource-limit-exceeded"
    assert pump.transport.condition.name == "amqp:resource-limit-exceeded"


# -- SASL -------------------------------------------------------------------------------------------


def _proton_sasl_client(mechs: str, user: str | None = None, password: str | None = None) -> Any:
    def configure(transport: proton.Transport, connection: proton.Connection) -> None:
        sasl = transport.sasl()
        sasl.allowed_mechs(mechs)
        sasl.allow_insecure_mechs = True  # loopback test: PLAIN in clear is what we check
        transport.require_encryption(False)
        if user is not None:
            connection.user = user
            connection.password = password

    return configure


def _sasl_server(**options: Any) -> ProtonPump:
    pump = wired(False, **options)
    pump.ours.open()
    pump.connection.open()
    return pump


def test_proton_client_authenticates_with_plain_to_our_server_and_the_connection_opens() -> None:
    auth = SimpleAuthenticator({"bob": "builder"})
    pump = _sasl_server(
        configure=_proton_sasl_client("PLAIN", "bob", "builder"),
        sasl=lambda: SaslServer(auth, allow_insecure_plain=True),
    )
    ours, theirs = pump.pump()
    assert pump.ours_out.headers == [SASL_HEADER, AMQP_HEADER]
    (outcome,) = of_type(ours, SaslOutcomeReceived)
    assert outcome.succeeded and outcome.user == "bob" and pump.ours.user == "bob"
    assert of_type(ours, ConnectionOpened)[0].container_id == "proton"
    assert pump.transport.sasl().outcome == proton.SASL.OK
    assert pump.connection.state == BOTH_ACTIVE


def test_proton_client_with_a_wrong_password_is_refused_by_our_server() -> None:
    auth = SimpleAuthenticator({"bob": "builder"})
    pump = _sasl_server(
        configure=_proton_sasl_client("PLAIN", "bob", "wrong"),
        sasl=lambda: SaslServer(auth, allow_insecure_plain=True),
    )
    ours, theirs = pump.pump()
    (outcome,) = of_type(ours, SaslOutcomeReceived)
    assert not outcome.succeeded and isinstance(outcome.error, SASLError)
    (closed,) = of_type(ours, ConnectionClosed)
    assert isinstance(closed.error, SASLError) and pump.ours.finished
    assert pump.transport.sasl().outcome == proton.SASL.AUTH
    assert pump.transport.condition.name == "amqp:unauthorized-access"
    assert E.CONNECTION_REMOTE_OPEN not in _types(theirs) and AMQP_HEADER not in pump.ours_out.headers


def test_proton_client_authenticates_anonymously_to_our_server() -> None:
    pump = _sasl_server(
        configure=_proton_sasl_client("ANONYMOUS"), sasl=lambda: SaslServer(allow_anonymous=True)
    )
    ours, _ = pump.pump()
    (outcome,) = of_type(ours, SaslOutcomeReceived)
    assert outcome.succeeded
    assert pump.transport.sasl().outcome == proton.SASL.OK
    assert pump.connection.state == BOTH_ACTIVE


def _proton_anonymous_server(transport: proton.Transport, connection: proton.Connection) -> None:
    transport.sasl().allowed_mechs("ANONYMOUS")


def test_our_client_authenticates_anonymously_to_proton_with_frames_held_until_the_outcome() -> None:
    pump = wired(True, configure=_proton_anonymous_server, sasl=lambda: SaslClient())
    pump.ours.open()  # pipelined behind SASL: held until the outcome says ok
    sender = pump.ours.begin_session().attach_sender("after-sasl", target=Target(address="q"))
    pump.connection.open()
    ours, theirs = pump.pump_accepting()
    (outcome,) = of_type(ours, SaslOutcomeReceived)
    assert outcome.succeeded
    assert pump.ours_out.headers == [SASL_HEADER, AMQP_HEADER]
    assert pump.transport.sasl().outcome == proton.SASL.OK and pump.transport.authenticated
    assert pump.connection.state == BOTH_ACTIVE
    assert of_type(ours, LinkAttached)[0].link is sender
    assert E.LINK_REMOTE_OPEN in _types(theirs)


def test_our_client_with_credentials_gives_up_on_a_proton_server_offering_only_anonymous() -> None:
    pump = wired(
        True,
        configure=_proton_anonymous_server,
        sasl=lambda: SaslClient(username="bob", password="builder", allow_insecure_plain=True),
    )
    pump.ours.open()
    ours, theirs = pump.pump()
    (outcome,) = of_type(ours, SaslOutcomeReceived)
    assert not outcome.succeeded and isinstance(outcome.error, SASLError)
    (closed,) = of_type(ours, ConnectionClosed)
    assert isinstance(closed.error, SASLError) and pump.ours.finished
    assert pump.ours_out.headers == [SASL_HEADER]  # no AMQP header, nothing pipelined leaked
    assert E.CONNECTION_REMOTE_OPEN not in _types(theirs)
    assert pump.transport.sasl().outcome != proton.SASL.OK
