#!/usr/bin/env python3
"""A small AMQP 1.0 peer built on python-qpid-proton, for amqp10's client to talk to.

It listens on 127.0.0.1 and behaves like a tiny broker:

- an address is a queue: messages sent to it are stored until a receiver takes them
  (competing receivers share them round-robin);
- an address starting ``topic://`` is a topic: each receiver attached at send time gets a copy,
  nothing is stored;
- the address given by ``--echo`` (default ``echo``) is a service: each message is answered with
  a copy sent to its ``reply-to`` address, ``correlation-id`` set to the request's
  ``message-id`` (or its correlation-id when it has one);
- a receiver with a dynamic source gets a fresh queue ``dynamic/<n>``, deleted when it detaches;
- a sender with no target address routes each message by its ``to`` (ANONYMOUS-RELAY is offered
  in the open frame unless ``--no-anonymous-relay``);
- each address given with ``--refuse`` is refused: the attach is answered, then the link is
  detached with ``amqp:not-found``.

Settlement: incoming unsettled deliveries get the outcome chosen by ``--outcome`` (only accepted
messages are stored); with rcv-settle-mode ``second`` we wait for the sender to settle first.
Outgoing deliveries follow the snd-settle-mode the receiver asked for, and its rcv-settle-mode
(``second``: we settle once its outcome arrives, then it settles); a released or modified
delivery goes back to the head of its queue (modified with delivery-failed adds one to
delivery-count); a receiver detaching with unsettled deliveries gives them back the same way.

When ready it prints ``listening on PORT`` (one line, flushed). With ``--events`` it then
prints one JSON object per line for what it sees (connections, links, messages, outcomes),
so a test can check what the peer observed.

SASL: python-qpid-proton's built-in SASL (no Cyrus) can serve only ANONYMOUS (and EXTERNAL with
a TLS client certificate); PLAIN needs a Proton built with Cyrus SASL and a sasldb. Use the rhea
listener for PLAIN. A client that skips SASL entirely is accepted unless ``--require-sasl``.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import sys
import uuid
from collections import deque
from typing import Any

from proton import Condition, Delivery, Endpoint, Link, Message, SSLDomain, SymbolList, symbol
from proton.handlers import MessagingHandler
from proton.reactor import Container

ANONYMOUS_RELAY = symbol("ANONYMOUS-RELAY")
OUTCOMES = ("accept", "reject", "release", "modify")


def jsonable(value: Any) -> Any:
    """Make a message body or property printable as JSON without losing what it was."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"binary": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return repr(value)


class Broker(MessagingHandler):
    """Queues, topics, dynamic nodes and the echo service, for every accepted connection."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(prefetch=args.credit, auto_accept=False, auto_settle=True)
        self.args = args
        # Each queued message carries its arrival number, so a released one goes back in order.
        self.queues: dict[str, deque[tuple[int, Message]]] = {}
        self.consumers: dict[str, list[Link]] = {}  # address -> our sender links
        self.in_flight: dict[Delivery, tuple[str, int, Message]] = {}
        self.arrivals = itertools.count(1)
        self.refusals: dict[Link, str] = {}  # links to detach with amqp:not-found once attached
        self.dynamic_ids = itertools.count(1)
        self.tags = itertools.count(1)

    # -- reporting ---------------------------------------------------------------------------
    def emit(self, event: str, **fields: Any) -> None:
        if self.args.events:
            print(json.dumps({"event": event, **{k: jsonable(v) for k, v in fields.items()}}), flush=True)

    # -- listening ---------------------------------------------------------------------------
    def on_start(self, event: Any) -> None:
        ssl = None
        if self.args.tls_cert:
            ssl = SSLDomain(SSLDomain.MODE_SERVER)
            ssl.set_credentials(self.args.tls_cert, self.args.tls_key, None)
        acceptor = event.container.listen(f"{self.args.host}:{self.args.port}", ssl_domain=ssl)
        # Proton's Acceptor does not expose its socket; its selectable delegates getsockname().
        port = acceptor._selectable.getsockname()[1]
        print(f"listening on {port}", flush=True)

    def on_connection_bound(self, event: Any) -> None:
        # Runs before the transport reads a byte: the place to set SASL and transport limits.
        transport = event.transport
        sasl = transport.sasl()
        sasl.allowed_mechs(self.args.sasl_mechs)
        if self.args.require_sasl:
            transport.require_auth(True)
        if self.args.idle_timeout:
            # Proton advertises half of its local idle timeout in open; double it so the open
            # frame carries --idle-timeout, as rhea's does. Silence for twice that closes.
            transport.idle_timeout = 2 * self.args.idle_timeout
        if self.args.max_frame_size:
            transport.max_frame_size = self.args.max_frame_size

    def on_connection_opening(self, event: Any) -> None:
        conn = event.connection
        conn.container = self.args.container_id
        if not self.args.no_anonymous_relay:
            conn.offered_capabilities = SymbolList([ANONYMOUS_RELAY])
        self.emit("connection-open", container_id=conn.remote_container, hostname=conn.remote_hostname,
                  user=event.transport.user)

    def on_connection_closed(self, event: Any) -> None:
        self.emit("connection-close")

    def on_transport_error(self, event: Any) -> None:
        cond = event.transport.condition
        self.emit("transport-error", condition=cond.name if cond else None,
                  description=cond.description if cond else None)

    # -- links -------------------------------------------------------------------------------
    def on_link_opening(self, event: Any) -> None:
        link = event.link
        link.snd_settle_mode = link.remote_snd_settle_mode
        link.rcv_settle_mode = link.remote_rcv_settle_mode
        if link.is_sender:  # the peer receives from us
            if link.remote_source.dynamic:
                address = f"dynamic/{next(self.dynamic_ids)}"
                link.source.copy(link.remote_source)
                link.source.address = address
                self.queues[address] = deque()
            else:
                address = link.remote_source.address
                if address is None or address in self.args.refuse:
                    # Answered with a null source, then detached in on_link_opened.
                    self.refusals[link] = (f"address {address!r} is refused by this peer"
                                           if address is not None else "a receiver needs a source address")
                    return
                link.source.copy(link.remote_source)
            link.target.copy(link.remote_target)
            self.consumers.setdefault(address, []).append(link)
        else:  # the peer sends to us
            address = link.remote_target.address
            if address is not None and address in self.args.refuse:
                self.refusals[link] = f"address {address!r} is refused by this peer"
                return
            if address is None and self.args.no_anonymous_relay:
                self.refusals[link] = "no target address, and this peer does not offer ANONYMOUS-RELAY"
                return
            link.target.copy(link.remote_target)
            link.source.copy(link.remote_source)
        self.emit("attach", role="sender" if link.is_sender else "receiver", address=address,
                  name=link.name, dynamic=link.is_sender and link.remote_source.dynamic,
                  snd_settle_mode=int(link.remote_snd_settle_mode),
                  rcv_settle_mode=int(link.remote_rcv_settle_mode))

    def on_link_opened(self, event: Any) -> None:
        link = event.link
        description = self.refusals.pop(link, None)
        if description is not None:
            link.condition = Condition("amqp:not-found", description)
            link.close()
            wanted = (link.remote_source if link.is_sender else link.remote_target).address
            self.emit("refused", address=wanted, description=description)

    def on_link_closing(self, event: Any) -> None:
        self._forget_link(event.link)

    def on_link_error(self, event: Any) -> None:
        self._forget_link(event.link)

    def on_session_closing(self, event: Any) -> None:
        for link in list(self._all_consumer_links()):
            if link.session == event.session:
                self._forget_link(link)

    def on_connection_closing(self, event: Any) -> None:
        for link in list(self._all_consumer_links()):
            if link.connection == event.connection:
                self._forget_link(link)

    def on_disconnected(self, event: Any) -> None:
        for link in list(self._all_consumer_links()):
            if link.connection == event.connection:
                self._forget_link(link)

    def _all_consumer_links(self) -> Any:
        return itertools.chain.from_iterable(self.consumers.values())

    def _forget_link(self, link: Link) -> None:
        """Give back what the link held unsettled; drop its dynamic queue."""
        for address, links in list(self.consumers.items()):
            if link in links:
                links.remove(link)
                if address.startswith("dynamic/") and link.remote_source.dynamic:
                    self.queues.pop(address, None)
        for delivery, (address, seq, message) in list(self.in_flight.items()):
            if delivery.link == link:
                del self.in_flight[delivery]
                self._requeue(address, seq, message)
        self.emit("detach", name=link.name)

    # -- incoming messages -------------------------------------------------------------------
    def on_message(self, event: Any) -> None:
        delivery, message, link = event.delivery, event.message, event.link
        address = link.target.address or message.address
        self.emit("message", address=address, body=message.body, id=message.id,
                  properties=message.properties, settled=delivery.settled)
        outcome = self.args.outcome
        if outcome == "accept" and address == self.args.echo and not message.reply_to:
            outcome, reason = "reject", "the echo service needs a reply-to address"
        elif outcome == "accept" and address is None:
            outcome, reason = "reject", "anonymous relay needs the message's to field"
        else:
            reason = "rejected by --outcome reject"
        if outcome == "accept":
            self._route(address, message)
        if delivery.settled:
            return  # pre-settled: at-most-once, no outcome travels back
        if outcome == "accept":
            delivery.update(Delivery.ACCEPTED)
        elif outcome == "reject":
            delivery.local.condition = Condition("amqp:precondition-failed", reason)
            delivery.update(Delivery.REJECTED)
        elif outcome == "release":
            delivery.update(Delivery.RELEASED)
        else:
            delivery.local.failed = True
            delivery.local.undeliverable = False
            delivery.update(Delivery.MODIFIED)
        # Receiver-settle-mode "second": settle only after the sender settled (on_settled).
        if link.rcv_settle_mode != Link.RCV_SECOND:
            delivery.settle()

    def on_settled(self, event: Any) -> None:
        delivery = event.delivery
        if delivery.link.is_receiver:
            if delivery.link.rcv_settle_mode == Link.RCV_SECOND:
                self.emit("settled_by_sender", address=delivery.link.target.address)
            delivery.settle()
        else:
            self.in_flight.pop(delivery, None)

    def _route(self, address: str, message: Message) -> None:
        if address == self.args.echo and message.reply_to:
            reply = Message(body=message.body, address=message.reply_to,
                            correlation_id=message.correlation_id or message.id,
                            properties=message.properties, subject=message.subject)
            self._route(message.reply_to, reply)
        elif address.startswith("topic://"):
            seq = next(self.arrivals)
            for link in list(self.consumers.get(address, [])):
                self._send(link, address, seq, message)
        else:
            self.queues.setdefault(address, deque()).append((next(self.arrivals), message))
            self._pump(address)

    # -- outgoing messages -------------------------------------------------------------------
    def on_sendable(self, event: Any) -> None:
        address = event.link.source.address
        if address is not None and not address.startswith("topic://"):
            self._pump(address)

    def on_link_flow(self, event: Any) -> None:
        # Runs before MessagingHandler turns the flow into on_sendable. Drain (spec 2.6.7):
        # send what we have, then use up the remaining credit so the peer sees it drained.
        link = event.link
        if link.is_sender and link.drain_mode and link.credit > 0 and link.state & Endpoint.LOCAL_ACTIVE:
            self.on_sendable(event)
            link.drained()

    def _pump(self, address: str) -> None:
        """Hand queued messages to this address's receivers that have credit, round-robin."""
        queue = self.queues.get(address)
        links = self.consumers.get(address, [])
        while queue and links:
            ready = [link for link in links if link.credit > 0]
            if not ready:
                return
            for link in ready:
                if not queue:
                    return
                self._send(link, address, *queue.popleft())
                links.remove(link)  # rotate: this link goes to the back
                links.append(link)

    def _send(self, link: Link, address: str, seq: int, message: Message) -> None:
        if link.credit <= 0:
            return
        delivery = link.send(message, tag=str(next(self.tags)))
        if link.snd_settle_mode == Link.SND_SETTLED:
            delivery.settle()
        else:
            self.in_flight[delivery] = (address, seq, message)
        self.emit("sent", address=address, body=message.body)

    def on_accepted(self, event: Any) -> None:
        self._outcome(event, "accepted")

    def on_rejected(self, event: Any) -> None:
        self._outcome(event, "rejected")

    def on_released(self, event: Any) -> None:
        # Proton reports both released and modified here.
        delivery = event.delivery
        modified = delivery.remote_state == Delivery.MODIFIED
        self._outcome(event, "modified" if modified else "released")
        entry = self.in_flight.pop(delivery, None)
        if entry is not None:
            address, seq, message = entry
            if modified and delivery.remote.failed:
                message.delivery_count += 1
            self._requeue(address, seq, message)

    def _outcome(self, event: Any, name: str) -> None:
        delivery = event.delivery
        remote = delivery.remote
        self.emit("outcome", outcome=name, address=delivery.link.source.address,
                  condition=remote.condition.name if remote.condition else None,
                  failed=remote.failed if name == "modified" else None,
                  undeliverable=remote.undeliverable if name == "modified" else None)
        if name in ("accepted", "rejected"):
            self.in_flight.pop(delivery, None)
        if delivery.link.rcv_settle_mode == Link.RCV_SECOND:
            # 2.6.12: the receiver sent its outcome unsettled and settles only after us.
            # (MessagingHandler's auto_settle waits for the receiver to settle first.)
            delivery.settle()

    def _requeue(self, address: str, seq: int, message: Message) -> None:
        # Topic copies are not stored, and a dynamic queue may be gone with its link.
        if address.startswith("topic://") or (address.startswith("dynamic/") and address not in self.queues):
            return
        queue = self.queues.setdefault(address, deque())
        position = 0  # requeued messages belong near the head: scan from there
        while position < len(queue) and queue[position][0] < seq:
            position += 1
        queue.insert(position, (seq, message))
        self._pump(address)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): any free port, printed")
    parser.add_argument("--sasl-mechs", default="ANONYMOUS",
                        help="space-separated mechanisms to offer (built-in Proton: ANONYMOUS, EXTERNAL)")
    parser.add_argument("--require-sasl", action="store_true",
                        help="refuse a client that skips the SASL layer")
    parser.add_argument("--idle-timeout", type=float, default=0.0,
                        help="seconds, advertised as idle-time-out in open; a peer silent for twice "
                        "that is disconnected")
    parser.add_argument("--max-frame-size", type=int, default=0)
    parser.add_argument("--credit", type=int, default=100, help="credit window granted to each sender")
    parser.add_argument("--outcome", choices=OUTCOMES, default="accept",
                        help="outcome for every incoming unsettled delivery")
    parser.add_argument("--echo", default="echo", help="address of the echo (request/reply) service")
    parser.add_argument("--refuse", action="append", default=[], metavar="ADDRESS",
                        help="refuse links to this address with amqp:not-found (repeatable)")
    parser.add_argument("--no-anonymous-relay", action="store_true",
                        help="do not offer ANONYMOUS-RELAY and refuse senders without a target address")
    parser.add_argument("--container-id", default=f"proton-listener-{uuid.uuid4()}")
    parser.add_argument("--tls-cert", help="PEM certificate: serve TLS (amqps) instead of plain TCP")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument("--events", action="store_true", help="print one JSON line per event")
    args = parser.parse_args(argv)
    unsupported = set(args.sasl_mechs.split()) - {"ANONYMOUS", "EXTERNAL"}
    if unsupported:
        parser.error(f"python-qpid-proton's built-in SASL cannot serve {' '.join(sorted(unsupported))} "
                     "(that needs Proton built with Cyrus SASL); use interop/rhea/listener.js for PLAIN")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        Container(Broker(args)).run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
