"""The interop matrix of issue 6 as data: its columns (peers, and which side amqp10 plays), its
rows (scenarios), the cells a peer cannot do (each with the reason, citing the peer's documentation
or what we observed), and the message counts of the bulk row.

``tests/interop/test_matrix_client.py`` (amqp10's client against a peer's listener or broker) and
``tests/interop/test_matrix_server.py`` (a peer's client against amqp10's listener) hold one
scenario function per row, parametrised by ``cells(row, side)``; ``interop/render_matrix.py``
runs them and renders this table with each cell's result into ``docs/interop.md``.

A skip here must be something the *peer* cannot do. If amqp10 is what fails, the cell stays a
test and fails until amqp10 is fixed.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any

import pytest

from support.interop_api import Adapter

__all__ = [
    "Side",
    "Column",
    "Row",
    "COLUMNS",
    "ROWS",
    "SKIPS",
    "BULK_COUNTS",
    "QUIRKS",
    "bulk_count",
    "cells",
    "column",
    "row",
]


class Side(enum.Enum):
    """Which end amqp10 plays in a column."""

    CLIENT = "client"  # amqp10.connect / amqp10.{trio,asyncio}.connect against the peer's listener or broker
    SERVER = "server"  # the peer's client against amqp10.listen / amqp10.{trio,asyncio} servers


@dataclass(frozen=True)
class Column:
    """One peer, in one direction."""

    id: str
    title: str
    side: Side
    peer: str  # what exactly runs (product, version, where it comes from)


@dataclass(frozen=True)
class Row:
    """One scenario."""

    id: str
    title: str
    proves: str  # what a passing cell shows, in one sentence


COLUMNS: tuple[Column, ...] = (
    Column("proton-listener", "python-qpid-proton listener", Side.CLIENT,
           "interop/proton/listener.py on python-qpid-proton 0.40 (PyPI), spawned per test session"),
    Column("proton-client", "python-qpid-proton client", Side.SERVER,
           "interop/proton/client.py on python-qpid-proton 0.40 against amqp10's embedded broker"),
    Column("rhea-listener", "rhea listener", Side.CLIENT,
           "interop/rhea/listener.js on rhea 3.0.5 (npm, Node.js)"),
    Column("rhea-client", "rhea client", Side.SERVER,
           "interop/rhea/client.js on rhea 3.0.5 against amqp10's embedded broker"),
    Column("rabbitmq", "RabbitMQ", Side.CLIENT,
           "RabbitMQ 3.10.8 (Debian 12) with rabbitmq_amqp1_0, started by .ci/peers/start"),
    Column("proton-cpp-broker", "Proton C++ broker", Side.CLIENT,
           "Proton 0.37 examples/cpp/broker.cpp (Debian 12), built and started by .ci/peers"),
    Column("proton-c-broker", "Proton C broker", Side.CLIENT,
           "Proton 0.37 examples/c/broker.c (Debian 12), built and started by .ci/peers"),
    Column("qpidd", "qpidd", Side.CLIENT,
           "Qpid C++ broker 1.40 (prebuilt for Debian 12, ../shared/peers), started by .ci/peers/start"),
    Column("router", "Qpid Dispatch network", Side.CLIENT,
           "three Qpid Dispatch 1.19 routers (prebuilt, ../shared/peers): amqp10 on the edge router, "
           "attached to interior A, joined to interior B; broker/ is link-routed to qpidd behind B, "
           "multicast/ and closest/ are routed by the network; TLS on router A"),
)

ROWS: tuple[Row, ...] = (
    Row("sasl-anonymous", "open/close, SASL ANONYMOUS",
        "the connection opens with ANONYMOUS, the peer's container-id is seen, and the CLOSE handshake completes"),
    Row("sasl-plain", "open/close, SASL PLAIN (refused on plain TCP unless allowed)",
        "PLAIN works where allowed, and without allow_insecure_plain amqp10 refuses to send a password over plain TCP"),
    Row("sasl-wrong-password", "wrong password",
        "a wrong password is a typed SASLError (code 1, auth) on amqp10's side, or the peer's client reports the refusal"),
    Row("at-most-once", "send/receive at-most-once",
        "pre-settled messages arrive once, in order, with no outcomes exchanged"),
    Row("at-least-once", "send/receive at-least-once",
        "each send returns Accepted, each received message is accepted once and never redelivered"),
    Row("large-message", "10 MiB message, split across frames, both ways",
        "a 10 MiB body crosses 64 KiB frames intact in both directions"),
    Row("bulk", "many small messages, no loss, no duplicate",
        "every message of a large batch (prefetch and an unsettled window in flight) arrives exactly once"),
    Row("credit", "credit (flow control)",
        "a receiver gets exactly the credit it granted, nothing without credit, and the rest once it grants more"),
    Row("drain", "drain",
        "a drain returns what is available and the unused credit comes back (credit 0)"),
    Row("outcomes", "outcomes: accepted, rejected, released, modified",
        "each outcome travels both ways, and the peer does with it what it says (released and modified redelivered, ...)"),
    Row("request-reply", "request/reply over a dynamic reply-to",
        "a dynamic receiver gets a peer-made address, and replies correlate with requests"),
    Row("anonymous-relay", "anonymous relay (ANONYMOUS-RELAY)",
        "a sender with no target address delivers each message by its 'to'"),
    Row("fanout", "topic / multicast fan-out",
        "every subscriber of a topic gets its own copy of each message"),
    Row("competing-consumers", "competing consumers",
        "two receivers on one queue share its messages: together all of them, none twice"),
    Row("filters", "source filters (JMS selector)",
        "a filter the peer says it applies keeps only matching messages"),
    Row("heartbeats", "heartbeats over a silent period of several idle time-outs",
        "both ends keep a silent connection alive with empty frames, and it still works afterwards"),
    Row("refusal", "the peer refuses an address / ends with an error",
        "a refusal surfaces as a typed error carrying the peer's condition, never a hang"),
    Row("tls", "TLS",
        "amqps with certificate verification against the CA made at test or peer start time"),
)

_BY_COLUMN = {c.id: c for c in COLUMNS}
_BY_ROW = {r.id: r for r in ROWS}

# -- cells the peer cannot do ----------------------------------------------------------------------

_PROTON_NO_CYRUS = (
    "python-qpid-proton 0.40 from PyPI is built without Cyrus SASL (proton.SASL.extended() is "
    "False), and its built-in SASL can serve only ANONYMOUS and EXTERNAL, never PLAIN (observed; "
    "interop/README.md)"
)
_PROTON_BROKERS_ANONYMOUS = (
    "Proton's example brokers serve only SASL ANONYMOUS (no Cyrus SASL configuration; observed: "
    "PLAIN fails with amqp:unauthorized-access)"
)
_NO_FILTER_SUPPORT_SCRIPTS = (
    "a protocol library, not a broker: filtering is the node's job, and the interop listener "
    "script (a thin broker written for these tests) implements no selectors"
)
_ECHOES_FILTER = (
    "echoes the jms-selector filter back in its attach answer but delivers every message "
    "(observed), so no filter is actually supported; see docs/interop.md quirks"
)
_OUR_SERVER_NO_FILTER = (
    "the client scripts send no filters (amqp10's embedded peer applies selectors, bindings "
    "and no-local: tests/peer)"
)
_PROTON_BROKER_NO_TOPIC = (
    "no topics: every address is a plain queue whose receivers compete round-robin (broker "
    "source; observed)"
)
_PROTON_BROKER_NO_RELAY = (
    "does not offer ANONYMOUS-RELAY in its open (observed)"
)
_PROTON_BROKER_REFUSES_NOTHING = (
    "creates a queue for any address and refuses no attach that amqp10's public API can make "
    "(broker source: no error conditions are ever set on links or sessions)"
)

_ROUTER_ANONYMOUS = (
    "the network's client listeners are SASL ANONYMOUS only (authenticatePeer: no in "
    "interop/router/*.conf.in, as in the compose file): a router authenticates against Cyrus SASL "
    "just as qpidd does, whose column tests PLAIN and a wrong password end to end"
)

#: (row, column) -> why the peer cannot do it. Everything not listed is a test.
SKIPS: dict[tuple[str, str], str] = {
    # SASL
    ("sasl-plain", "proton-listener"): _PROTON_NO_CYRUS,
    ("sasl-wrong-password", "proton-listener"): _PROTON_NO_CYRUS,
    ("sasl-plain", "proton-cpp-broker"): _PROTON_BROKERS_ANONYMOUS,
    ("sasl-wrong-password", "proton-cpp-broker"): _PROTON_BROKERS_ANONYMOUS,
    ("sasl-plain", "proton-c-broker"): _PROTON_BROKERS_ANONYMOUS,
    ("sasl-wrong-password", "proton-c-broker"): _PROTON_BROKERS_ANONYMOUS,
    # drain
    ("drain", "proton-cpp-broker"): (
        "never answers a drain: broker.cpp has no on_sender_drain_start and never calls "
        "sender.return_credit() (observed: no flow comes back)"
    ),
    ("drain", "proton-c-broker"): (
        "never answers a drain: broker.c never calls pn_link_drained() (observed: no flow comes back)"
    ),
    # request/reply over a dynamic node
    ("request-reply", "rabbitmq"): (
        "RabbitMQ 3.10's AMQP 1.0 plugin has no dynamic sources: it ends the session with "
        "amqp:not-implemented 'Dynamic sources not supported' (observed; the refusal row "
        "checks that this surfaces as a typed SessionEndedError)"
    ),
    ("request-reply", "proton-c-broker"): (
        "crashes (NULL address) on a receiver with a dynamic source (observed; interop/README.md)"
    ),
    # anonymous relay
    ("anonymous-relay", "rabbitmq"): (
        "RabbitMQ 3.10 does not offer ANONYMOUS-RELAY and ends the session on a null target "
        "with amqp:invalid-field (observed; interop/README.md)"
    ),
    ("anonymous-relay", "proton-cpp-broker"): (
        _PROTON_BROKER_NO_RELAY + "; a null-target sender is attached to a fresh _dynamic_N "
        "queue, so nothing is routed by 'to'"
    ),
    ("anonymous-relay", "proton-c-broker"): (
        _PROTON_BROKER_NO_RELAY + ", and it crashes on a message sent over a null-target link"
    ),
    # fan-out
    ("fanout", "proton-cpp-broker"): _PROTON_BROKER_NO_TOPIC,
    ("fanout", "proton-c-broker"): _PROTON_BROKER_NO_TOPIC,
    # filters
    ("filters", "proton-listener"): _NO_FILTER_SUPPORT_SCRIPTS,
    ("filters", "rhea-listener"): _NO_FILTER_SUPPORT_SCRIPTS,
    ("filters", "proton-client"): _OUR_SERVER_NO_FILTER,
    ("filters", "rhea-client"): _OUR_SERVER_NO_FILTER,
    ("filters", "rabbitmq"): "RabbitMQ 3.10 " + _ECHOES_FILTER,
    ("filters", "proton-cpp-broker"): "broker.cpp " + _ECHOES_FILTER,
    ("filters", "proton-c-broker"): (
        "applies no filters and, correctly, leaves them out of its attach answer (observed)"
    ),
    # refusals
    ("refusal", "proton-cpp-broker"): _PROTON_BROKER_REFUSES_NOTHING,
    ("refusal", "proton-c-broker"): _PROTON_BROKER_REFUSES_NOTHING,
    ("sasl-plain", "router"): _ROUTER_ANONYMOUS,
    ("sasl-wrong-password", "router"): _ROUTER_ANONYMOUS,
    # TLS
    ("tls", "proton-cpp-broker"): "broker.cpp listens on plain TCP only (no ssl options in its source)",
    ("tls", "qpidd"): (
        "the prebuilt qpidd 1.40 does TLS only through its NSS plugin (--ssl-cert-db, an NSS "
        "certificate database made with certutil), which CI does not set up; TLS in front of "
        "qpidd is what the router column tests (router A serves amqps with PEM files)"
    ),
}

# -- the bulk row ----------------------------------------------------------------------------------

#: Messages in the bulk row per column. The issue asks for 100,000 with no loss and no duplicate,
#: within about 20 s per peer on the 2-core CI machine, and the whole interop suite within about
#: 3 minutes per run (it runs twice). Measured here (both adapters of a cell together):
#:   rhea client -> amqp10's listener        100,000 in ~13 s: the full count
#:   proton client -> amqp10's listener      100,000 in ~42 s (Python callbacks per message in
#:                                           the Proton client): 20,000, ~8 s
#:   amqp10 -> RabbitMQ                      100,000 in ~31 s: 20,000, ~6 s
#:   amqp10 -> proton / rhea listeners       20,000 in ~14 s / ~13 s (the scripts are the
#:                                           bottleneck): 5,000
#:   amqp10 -> Proton C++ / C broker         the C broker grants a credit window of 5: 5,000 / 2,000
#:   amqp10 -> qpidd                         100,000 in ~23 s (blocking) / ~14 s (trio): the full count
#:   amqp10 -> edge -> A -> B -> qpidd       100,000 in ~29 s / ~20 s (link-routed through three
#:                                           routers): the full count
#: amqp10's own client sends at-least-once at ~3,000-10,000 messages/s here, depending on the peer
#: (bench/peer_compare.py). ``AMQP10_INTEROP_BULK=100000`` runs every cell at the full count.
BULK_COUNTS: dict[str, int] = {
    "rhea-client": 100_000,
    "proton-client": 20_000,
    "rabbitmq": 20_000,
    "proton-listener": 5_000,
    "rhea-listener": 5_000,
    "proton-cpp-broker": 5_000,
    "proton-c-broker": 2_000,
    "qpidd": 100_000,
    "router": 100_000,
}

# -- peer quirks users meet (rendered into docs/interop.md) ------------------------------------------

#: (peer, what happens, what amqp10 does about it / what to do)
QUIRKS: tuple[tuple[str, str, str], ...] = (
    ("RabbitMQ 3.10",
     "A drain (flow with drain=true) crashes the session on a classic queue: it ends with "
     "amqp:internal-error `function_clause ... send_drained` (rabbitmq/rabbitmq-server#7119, "
     "fixed by #7141 in later releases).",
     "amqp10 raises SessionEndedError with that condition from Receiver.drain(). Do not drain "
     "against RabbitMQ 3.10; use receive(timeout=...) instead."),
    ("RabbitMQ 3.10",
     "The modified outcome is not supported: its attach lists only accepted, rejected and "
     "released in the source's outcomes, and a modified disposition ends the session with "
     "amqp:invalid-field 'Unrecognised state' (rabbitmq/rabbitmq-server#2584).",
     "amqp10 raises SessionEndedError with amqp:invalid-field. Use release() (RabbitMQ requeues "
     "it) or reject() instead of modify()."),
    ("RabbitMQ 3.10",
     "Refusals end the whole session instead of detaching the link: a dynamic source gives "
     "amqp:not-implemented, an unknown /amq/queue/ or /exchange/ amqp:not-found.",
     "open_sender/open_receiver raise SessionEndedError with the condition; open a new session "
     "(or connection) to go on."),
    ("RabbitMQ 3.10",
     "Echoes a jms-selector source filter in its attach answer but does not apply it.",
     "Do not rely on it: filter on the client side."),
    ("RabbitMQ 3.10",
     "A wrong password is answered only after a deliberate 3 s delay, and the socket is reset 3 s later.",
     "connect() raises SASLError (code 1) after that delay; give connect a timeout above 3 s."),
    ("RabbitMQ 3.10",
     "Counts heartbeat intervals in whole seconds: an advertised idle-time-out under 1000 ms gets "
     "no heartbeats at all (it sends them at half the advertised value otherwise).",
     "amqp10 advertises half its idle_timeout (spec 2.4.5), so use idle_timeout=2.0 or more with "
     "RabbitMQ, or amqp10 closes the silent connection with amqp:resource-limit-exceeded."),
    ("RabbitMQ 3.10",
     "Can send one transfer more than the link credit when a receiver raises its credit again "
     "before transfers resume (rabbitmq/rabbitmq-server#2597; seen here under load with "
     "amqp10's prefetch top-ups).",
     "amqp10 treats it as the protocol violation it is: the link is closed with "
     "amqp:link:transfer-limit-exceeded and receive() raises LinkDetachedError. For high-rate "
     "consumers of RabbitMQ 3.10, open the receiver with credit=0 and flow(n) only once the "
     "previous credit is used up (receiver.credit == 0 and receiver.queued == 0)."),
    ("Proton C example broker",
     "Sends every delivery pre-settled whatever settle mode the receiver asks for, grants a "
     "credit window of 5, never answers a drain, and crashes on a dynamic source or a message "
     "on a null-target link.",
     "Delivery.accept() and friends do nothing on a pre-settled delivery; drain() times out "
     "(Timeout). Never use dynamic or anonymous senders against it."),
    ("Proton C++ example broker",
     "Answers a receiver that asks for at-most-once (snd-settle-mode settled) with mixed, and "
     "then sends every delivery unsettled. Ignores receivers' outcomes (a released message is not redelivered), never answers a "
     "drain, echoes source filters without applying them, has no TLS, and attaches a "
     "null-target sender to a fresh _dynamic_N queue instead of routing by 'to'.",
     "Check Connection.remote_offered_capabilities for ANONYMOUS-RELAY before opening an "
     "anonymous sender (amqp10's open_sender(None) raises AnonymousRelayNotOfferedError without it)."),
    ("python-qpid-proton 0.40 (PyPI)",
     "Built without Cyrus SASL: its servers offer only ANONYMOUS and EXTERNAL; its client picks "
     "ANONYMOUS whenever offered even with a user and password, unless allowed_mechs says "
     "otherwise; TLS peer-name checks treat the host as a DNS name, so 127.0.0.1 never matches "
     "an IP subjectAltName.",
     "amqp10's listener offers PLAIN only with an authenticator (and over TLS unless "
     "allow_insecure_plain=True); give Proton clients allowed_mechs='PLAIN' and a DNS name."),
    ("qpidd 1.40",
     "Its decoder does not know the AMQP char type: a message with a char value anywhere makes it "
     "close the connection with amqp:internal-error 'Expected descriptor of type ulong or symbol'.",
     "send() raises ConnectionClosedError with amqp:internal-error; qpidd goes on serving other "
     "connections. Do not send char values to qpidd (use a one-character string)."),
    ("qpidd 1.40",
     "Refuses an attach (no pattern makes a node for the address) with a source or target that has "
     "no address instead of a null one, then detaches with amqp:not-found.",
     "amqp10 cannot tell that answer from an accepted attach, so open_sender/open_receiver may "
     "return and the LinkDetachedError (amqp:not-found) comes with the first send or receive."),
    ("Qpid Dispatch 1.19",
     "Stores nothing. A sender to a message-routed address (anycast, closest, multicast) gets credit "
     "only once a receiver for it is attached somewhere in the network, and an at-least-once "
     "sender's outcome is the consumer's: it arrives when the consumer settles (a rejection by the "
     "consumer reaches the sender as Rejected).",
     "Attach receivers first. Never wait for a send's outcome in the thread or task that would "
     "receive and settle that message (send and receive concurrently, or pre-settle). request() "
     "returns the reply without waiting for the request's outcome, since a service may settle the "
     "request only once its reply is accepted."),
    ("Qpid Dispatch 1.19",
     "Pre-settled (at-most-once) messages are forwarded at once, with the router's own credit: what "
     "the receiver has no credit for is dropped beyond a few buffered deliveries (observed: 8 of "
     "500 arrive when the receiver grants credit afterwards). Receivers become known to other "
     "routers only once the routing protocol has run (~0.5 s on loopback): a multicast sender that "
     "has credit because of a receiver on its own router does not reach one just attached on "
     "another (observed: lost every time when sent at once).",
     "Use at-least-once where loss matters. Before sending to receivers on another router, wait "
     "until the sender's router knows them (AMQP management QUERY of "
     "org.apache.qpid.dispatch.router.address: remoteCount; tests/support/routers.py)."),
    ("Qpid Dispatch 1.19",
     "Balanced (anycast) distribution follows outstanding deliveries, not credit: the next message "
     "goes to the consumer with the fewest unsettled deliveries (link cost counts too), and waits "
     "at a consumer that has no credit for it. A consumer that settles fast on the sender's router "
     "can take everything.",
     "Spread work by holding deliveries until done, or by limiting credit on a broker queue "
     "(link-routed) instead of an anycast address."),
    ("Qpid Dispatch 1.19",
     "Link routing with delExternalPrefix re-adds the prefix to the broker's answer, so a refusing "
     "broker's empty terminus comes back with the bare prefix as its address; its management node "
     "($management) answers with the request's correlation-id, not its message-id.",
     "As for qpidd, a refused link-routed attach raises LinkDetachedError with the first use of the "
     "link. For management requests set message_id and correlation_id to the same value, which "
     "amqp10's request() then matches."),
    ("rhea 3.0.5",
     "Without a user name the client sends no SASL layer at all; it keys links by name alone, "
     "so a sender and a receiver with one name abort its connection; it reports modified as "
     "released unless treat_modified_as_released is false.",
     "amqp10's listener accepts a client without SASL when anonymous access is allowed (the "
     "default), and amqp10 names every link uniquely (`<container-id>-sender-N` / `-receiver-N`)."),
    ("rhea 3.0.5",
     "open_sender({}) sends an attach with no target at all, which amqp10's embedded broker and "
     "RabbitMQ refuse (amqp:invalid-field); rhea's own anonymous sender (connection.send) uses "
     "target: {} (a target with no address), the ANONYMOUS-RELAY convention.",
     "Open anonymous rhea senders with {target: {}}."),
    ("rhea 3.0.5",
     "Keeps every received delivery in its session buffer (2048) until the application settles "
     "it, even one the sender pre-settled: a receiver that never settles pre-settled messages "
     "stalls after 2048 of them. As a server it leaves Nagle's algorithm on for accepted sockets "
     "(tcp_no_delay defaults to false there), so small frames wait for delayed ACKs.",
     "Nothing on amqp10's side; in rhea, call delivery.update(true) for pre-settled deliveries "
     "and pass tcp_no_delay: true to listen()."),
)


# -- helpers for the test modules and the renderer -------------------------------------------------

def column(column_id: str) -> Column:
    """The column with this id."""
    return _BY_COLUMN[column_id]


def row(row_id: str) -> Row:
    """The row with this id."""
    return _BY_ROW[row_id]


def bulk_count(column_id: str) -> int:
    """Messages of the bulk row for a column (``AMQP10_INTEROP_BULK`` overrides all)."""
    override = os.environ.get("AMQP10_INTEROP_BULK", "").strip()
    if override:
        return int(override)
    return BULK_COUNTS[column_id]


def cells(row_id: str, side: Side) -> list[Any]:
    """``pytest.param(column, adapter)`` for every cell of ``row_id`` on ``side``, each marked
    ``matrix(row=..., column=..., adapter=...)`` and skipped with its reason when the peer
    cannot do it."""
    if row_id not in _BY_ROW:
        raise KeyError(f"no row {row_id!r} in the interop matrix")
    params = []
    for col in COLUMNS:
        if col.side is not side:
            continue
        reason = SKIPS.get((row_id, col.id))
        for adapter in Adapter:
            marks = [pytest.mark.matrix(row=row_id, column=col.id, adapter=adapter.value)]
            if reason is not None:
                marks.append(pytest.mark.skip(reason=f"{col.title} cannot: {reason}"))
            params.append(pytest.param(col.id, adapter, id=f"{col.id}-{adapter.value}", marks=marks))
    return params

