#!/usr/bin/env python3
"""A python-qpid-proton client that runs one scenario against a peer and prints JSON.

    client.py URL SCENARIO [options]

URL is ``amqp[s]://[user:password@]host:port``; the node comes from ``--address``.

Scenarios:

- ``send``: send ``--count`` messages (body ``--body`` + index, or ``--size`` bytes of binary)
  and wait for every outcome: ``{"sent": N, "outcomes": {"accepted": N, ...}, "conditions": [...]}``;
- ``receive``: receive ``--count`` messages and settle each with ``--outcome``:
  ``{"received": N, "bodies": [...]}``;
- ``request``: attach a receiver with a dynamic source, send ``--count`` requests with its
  address as reply-to and wait for the replies: ``{"reply_to": ADDR, "replies": [{"correlation_id":
  ..., "body": ...}]}``;
- ``respond``: receive ``--count`` requests and answer each to its reply-to (through an anonymous
  sender when the peer offers ANONYMOUS-RELAY, else a sender per address):
  ``{"responded": N}``;
- with ``--rcv-settle-second`` a link asks for rcv-settle-mode ``second`` (spec 2.6.12): a
  receiver sends its outcome unsettled and settles when the sender has; the report adds
  ``remote_rcv_settle_mode`` (what the peer's attach stated), for ``send``
  ``outcomes_settled_by_peer`` (outcomes that arrived already settled) and for ``receive``
  ``settled_by_sender`` (deliveries the sender settled after our outcome);
- ``drain``: grant ``--credit`` with the drain flag set (spec 2.6.7), take whatever the peer sends,
  and finish when its flow gives back the unused credit: ``{"received": N, "drained": true,
  "bodies": [...]}`` (settled with ``--outcome``).

Exit status 0 on success; 1 with ``{"error": {"where": ..., "condition": ..., "description":
...}, ...partial results}`` when the peer refuses something or ``--timeout`` expires; 2 for a
usage error. SASL: with a user in the URL the client allows only PLAIN (Proton would otherwise
pick ANONYMOUS when offered), else ANONYMOUS; ``--sasl-mechs`` overrides, ``--no-sasl`` skips
the SASL layer.
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import sys
from typing import Any
from urllib.parse import urlsplit

from proton import Delivery, Message, SSLDomain, symbol
from proton.handlers import MessagingHandler
from proton import Link
from proton.reactor import AtMostOnce, Container, DynamicNodeProperties, LinkOption

SCENARIOS = ("send", "receive", "request", "respond", "drain")
OUTCOMES = ("accept", "reject", "release", "modify")
ANONYMOUS_RELAY = symbol("ANONYMOUS-RELAY")


def jsonable(value: Any) -> Any:
    """Make a message body printable as JSON without losing what it was."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"binary": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return repr(value)


def _is_ip(host: str | None) -> bool:
    try:
        ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return True


class Scenario(MessagingHandler):
    """Runs one scenario on one connection and collects the result."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(prefetch=0 if args.scenario in ("receive", "respond", "drain") else args.credit,
                         auto_accept=False, auto_settle=True)
        self.args = args
        self.result: dict[str, Any] = {"scenario": args.scenario}
        self.error: dict[str, Any] | None = None
        self.sent = self.settled = self.received = 0
        self.settled_by_peer = 0  # send: outcomes that came settled; receive: sender settlements
        self.outcomes: dict[str, int] = {}
        self.conditions: list[dict[str, Any]] = []
        self.bodies: list[Any] = []
        self.replies: list[dict[str, Any]] = []
        self.sender: Any = None
        self.receiver: Any = None
        self.reply_senders: dict[str | None, Any] = {}
        self.reply_to: str | None = None
        self.conn: Any = None
        self.container: Any = None

    # -- set-up ------------------------------------------------------------------------------
    def on_start(self, event: Any) -> None:
        args = self.args
        url = urlsplit(args.url)
        options: dict[str, Any] = {"container_id": args.container_id}
        if args.no_sasl:
            options["sasl_enabled"] = False
        else:
            options["allowed_mechs"] = args.sasl_mechs or ("PLAIN" if url.username else "ANONYMOUS")
        if args.idle_timeout:
            # Proton advertises half of its local idle timeout; double it so open carries ours.
            options["heartbeat"] = 2 * args.idle_timeout
        if url.scheme == "amqps":
            domain = SSLDomain(SSLDomain.MODE_CLIENT)
            if args.ca:
                domain.set_trusted_ca_db(args.ca)
            domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME if args.ca else SSLDomain.ANONYMOUS_PEER)
            options["ssl_domain"] = domain
            # Proton checks the peer name as a DNS name only, so "127.0.0.1" never matches an
            # IP subjectAltName: verify (and send SNI) "localhost" instead, which our test
            # certificates carry too.
            options["sni"] = args.servername or ("localhost" if _is_ip(url.hostname) else url.hostname)
        if args.max_frame_size:
            options["max_frame_size"] = args.max_frame_size
        self.container = event.container
        self.conn = event.container.connect(args.url, reconnect=False, **options)
        self.deadline = event.container.schedule(args.timeout, self)
        container = event.container
        if args.scenario == "send":
            self.sender = container.create_sender(self.conn, args.address, options=self._settle_options())
        elif args.scenario in ("receive", "respond"):
            self.receiver = container.create_receiver(self.conn, args.address, options=self._settle_options())
            self.receiver.flow(min(args.credit, args.count))
        elif args.scenario == "drain":
            self.receiver = container.create_receiver(self.conn, args.address, options=self._settle_options())
            self.receiver.drain(args.credit)
        else:  # request: the reply queue first, the request sender once we know its address
            self.receiver = container.create_receiver(self.conn, None, dynamic=True,
                                                      options=DynamicNodeProperties({}))

    def _settle_options(self) -> Any:
        options: list[Any] = []
        if self.args.presettled:
            options.append(AtMostOnce())
        if self.args.rcv_settle_second:
            options.append(_RcvSecond())
        return options or None

    def on_timer_task(self, event: Any) -> None:
        self.fail("timeout", "amqp10:timeout", f"scenario did not finish within {self.args.timeout}s")

    # -- endings -----------------------------------------------------------------------------
    def fail(self, where: str, condition: str | None, description: str | None) -> None:
        if self.error is None:
            self.error = {"where": where, "condition": condition, "description": description}
        self.finish()

    def finish(self) -> None:
        """Close cleanly: the container returns once the peer answered our close (or 2 s passed)."""
        if self.conn is None:
            return
        self.conn.close()
        self.conn = None
        self.deadline.cancel()
        self.container.schedule(2.0, _Stop())

    def on_connection_closed(self, event: Any) -> None:
        # Both closes exchanged: nothing left to send. A cancelled timer would still keep
        # the container running until its deadline, so stop it here.
        self.container.stop()

    def on_transport_error(self, event: Any) -> None:
        cond = event.transport.condition
        self.fail("transport", cond.name if cond else None, cond.description if cond else None)

    def on_connection_error(self, event: Any) -> None:
        cond = event.connection.remote_condition
        self.fail("connection", cond.name if cond else None, cond.description if cond else None)

    def on_session_error(self, event: Any) -> None:
        cond = event.session.remote_condition
        self.fail("session", cond.name if cond else None, cond.description if cond else None)

    def on_link_error(self, event: Any) -> None:
        cond = event.link.remote_condition
        self.fail("link", cond.name if cond else None, cond.description if cond else None)

    def on_link_closing(self, event: Any) -> None:
        self.fail("link", None, "the peer detached the link without an error")

    def on_disconnected(self, event: Any) -> None:
        if self.conn is not None:
            self.fail("transport", None, "disconnected")
        self.container.stop()

    # -- sending -----------------------------------------------------------------------------
    def on_link_opened(self, event: Any) -> None:
        if event.link in (self.sender, self.receiver) and self.args.rcv_settle_second:
            self.result["remote_rcv_settle_mode"] = int(event.link.remote_rcv_settle_mode)
        if self.args.scenario == "request" and event.receiver is not None and self.sender is None:
            self.reply_to = event.receiver.remote_source.address
            self.result["reply_to"] = self.reply_to
            self.receiver.flow(min(self.args.credit, self.args.count))
            self.sender = event.container.create_sender(self.conn, self.args.address)

    def on_link_flow(self, event: Any) -> None:
        # The sender answers a drain with a flow that leaves no credit (spec 2.6.7).
        if self.args.scenario == "drain" and event.link == self.receiver and event.link.credit == 0:
            self.result["drained"] = True
            self.finish()

    def on_sendable(self, event: Any) -> None:
        if event.sender != self.sender:
            return
        while self.sender.credit > 0 and self.sent < self.args.count:
            message = self.make_message(self.sent)
            delivery = self.sender.send(message)
            self.sent += 1
            if self.args.presettled:
                delivery.settle()
        if self.args.presettled and self.sent == self.args.count and self.args.scenario == "send":
            self.finish()

    def make_message(self, index: int) -> Message:
        body: Any = bytes(self.args.size) if self.args.size else f"{self.args.body}{index}"
        message = Message(body=body, id=f"{self.args.container_id}-{index}")
        if self.args.scenario == "request" and self.reply_to is not None:
            message.reply_to = self.reply_to
        return message

    def on_accepted(self, event: Any) -> None:
        self.count_outcome(event, "accepted")

    def on_rejected(self, event: Any) -> None:
        self.count_outcome(event, "rejected")

    def on_released(self, event: Any) -> None:
        modified = event.delivery.remote_state == Delivery.MODIFIED
        self.count_outcome(event, "modified" if modified else "released")

    def count_outcome(self, event: Any, name: str) -> None:
        if event.link != self.sender:
            return
        self.outcomes[name] = self.outcomes.get(name, 0) + 1
        if event.delivery.settled:  # Proton's Delivery.settled: the *peer* settled it
            self.settled_by_peer += 1
        cond = event.delivery.remote.condition
        if cond is not None:
            self.conditions.append({"outcome": name, "condition": cond.name, "description": cond.description})
        self.settled += 1
        if self.args.scenario == "send" and self.settled == self.args.count:
            self.finish()

    # -- receiving ---------------------------------------------------------------------------
    def on_message(self, event: Any) -> None:
        delivery, message = event.delivery, event.message
        self.received += 1
        if self.args.scenario == "request":
            self.replies.append({"correlation_id": jsonable(message.correlation_id),
                                 "body": jsonable(message.body)})
        else:
            if self.args.bodies:
                self.bodies.append(jsonable(message.body))
            if self.args.scenario == "respond":
                self.respond(event, message)
        if not delivery.settled:
            self.settle_with_outcome(delivery)
        if self.args.scenario == "drain":
            return  # no more credit: the drain's answer ends the scenario
        if self.received < self.args.count:
            if self.receiver.credit == 0:
                self.receiver.flow(min(self.args.credit, self.args.count - self.received))
        elif self.args.scenario != "respond" and not self._second(delivery):
            self.finish()

    def _second(self, delivery: Delivery) -> bool:
        return self.args.scenario == "receive" and delivery.link.rcv_settle_mode == Link.RCV_SECOND

    def on_settled(self, event: Any) -> None:
        # rcv-settle-mode second: the sender settled after our outcome; now we settle (2.6.12).
        delivery = event.delivery
        if event.link != self.receiver or not self._second(delivery):
            return
        self.settled_by_peer += 1
        delivery.settle()
        if self.received == self.args.count and self.settled_by_peer == self.args.count:
            self.finish()

    def settle_with_outcome(self, delivery: Delivery) -> None:
        outcome = self.args.outcome
        if outcome == "accept":
            delivery.update(Delivery.ACCEPTED)
        elif outcome == "reject":
            delivery.update(Delivery.REJECTED)
        elif outcome == "release":
            delivery.update(Delivery.RELEASED)
        else:
            delivery.local.failed = True
            delivery.update(Delivery.MODIFIED)
        if not self._second(delivery):
            delivery.settle()

    def respond(self, event: Any, request: Message) -> None:
        reply = Message(body=request.body, correlation_id=request.id, address=request.reply_to)
        relay = ANONYMOUS_RELAY in (self.conn.remote_offered_capabilities or ())
        key = None if relay else request.reply_to
        if key not in self.reply_senders:
            self.reply_senders[key] = event.container.create_sender(self.conn, key)
        self.reply_senders[key].send(reply)
        if self.received == self.args.count:
            self.result["responded"] = self.received
            # Let the replies reach the wire and their outcomes come back before closing.
            event.container.schedule(0.5, _Finish(self))

    # -- report ------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        result = dict(self.result)
        if self.args.scenario in ("send", "request"):
            result["sent"] = self.sent
        if self.args.scenario == "send":
            result["outcomes"] = self.outcomes
            result["conditions"] = self.conditions
            if self.args.rcv_settle_second:
                result["outcomes_settled_by_peer"] = self.settled_by_peer
        if self.args.scenario == "receive" and self.args.rcv_settle_second:
            result["settled_by_sender"] = self.settled_by_peer
        if self.args.scenario in ("receive", "respond", "drain"):
            result["received"] = self.received
            if self.args.bodies:
                result["bodies"] = self.bodies
        if self.args.scenario == "request":
            result["replies"] = self.replies
        if self.error is not None:
            result["error"] = self.error
        return result


class _RcvSecond(LinkOption):
    """Ask for rcv-settle-mode ``second`` in our attach."""

    def apply(self, link: Any) -> None:
        link.rcv_settle_mode = Link.RCV_SECOND


class _Finish:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def on_timer_task(self, event: Any) -> None:
        self.scenario.finish()


class _Stop:
    def on_timer_task(self, event: Any) -> None:
        event.container.stop()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="amqp[s]://[user:password@]host:port")
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--address", default="examples")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--body", default="message-", help="text body prefix (the index is appended)")
    parser.add_argument("--size", type=int, default=0, help="send binary bodies of this many zero bytes")
    parser.add_argument("--presettled", action="store_true",
                        help="at-most-once: snd-settle-mode settled (sender) or asked of the peer (receiver)")
    parser.add_argument("--rcv-settle-second", action="store_true",
                        help="ask for rcv-settle-mode second (the receiver settles after the sender)")
    parser.add_argument("--outcome", choices=OUTCOMES, default="accept", help="how a receiver settles")
    parser.add_argument("--credit", type=int, default=100)
    parser.add_argument("--no-bodies", dest="bodies", action="store_false", help="omit bodies from the report")
    parser.add_argument("--sasl-mechs", help="space-separated mechanisms the client may pick")
    parser.add_argument("--no-sasl", action="store_true", help="send the AMQP header directly, no SASL layer")
    parser.add_argument("--ca", help="PEM file of trusted CAs for amqps (the peer's name is then verified)")
    parser.add_argument("--servername", help="TLS name to verify and send as SNI (default: the URL's host, "
                        "or localhost when that is an IP address)")
    parser.add_argument("--idle-timeout", type=float, default=0.0, help="seconds, advertised in open")
    parser.add_argument("--max-frame-size", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0, help="give up after this many seconds")
    parser.add_argument("--container-id", default="proton-client")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    scenario = Scenario(args)
    Container(scenario).run()
    report = scenario.report()
    print(json.dumps(report), flush=True)
    return 1 if "error" in report else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
