#!/usr/bin/env python3
"""A python-qpid-proton transactional client (spec part 4) that runs one scenario and prints JSON.

    tx_client.py URL SCENARIO --address NODE [--count N] [--rollback] [--timeout S]

Proton's own controller does the work (``Container.declare_transaction``, as in its
``tx_send``/``tx_recv`` examples), so a peer's coordinator is checked by an independent
implementation. Scenarios:

- ``send``: declare a transaction, send ``--count`` messages (bodies ``"tx-<i>"``) in it, wait
  until each is settled, then commit (or, with ``--rollback``, abort it):
  ``{"declared": true, "sent": N, "discharged": "committed" | "aborted"}``;
- ``receive``: declare a transaction, then take ``--count`` messages from the node and accept
  each in it, then commit or abort: ``{"declared": true, "received": N, "bodies": [...],
  "discharged": ...}``.

Exit status 0 on success; 1 with ``{"error": {"where": ..., "description": ...}}`` when the
declare or the commit fails or ``--timeout`` expires; 2 for a usage error. SASL ANONYMOUS.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from proton import Message
from proton.handlers import MessagingHandler, TransactionHandler
from proton.reactor import Container


class TxClient(MessagingHandler, TransactionHandler):  # type: ignore[misc]
    """One scenario; ``report`` holds what happened."""

    def __init__(self, url: str, scenario: str, address: str, count: int, rollback: bool, timeout: float) -> None:
        super().__init__(prefetch=0, auto_accept=False)
        self.url = url
        self.scenario = scenario
        self.address = address
        self.count = count
        self.rollback = rollback
        self.timeout = timeout
        self.report: dict[str, Any] = {"declared": False}
        self.failed = False
        self.transaction: Any = None
        self.sent = 0
        self.settled = 0
        self.bodies: list[Any] = []
        self.conn: Any = None
        self.link: Any = None
        self.timer: Any = None

    def on_start(self, event: Any) -> None:
        self.container = event.container
        self.conn = event.container.connect(self.url, sasl_enabled=True, allowed_mechs="ANONYMOUS")
        if self.scenario == "send":
            self.link = event.container.create_sender(self.conn, self.address)
        else:
            self.link = event.container.create_receiver(self.conn, self.address)
        event.container.declare_transaction(self.conn, handler=self)
        self.timer = event.container.schedule(self.timeout, self)

    def on_timer_task(self, event: Any) -> None:
        self.fail("timeout", f"not done within {self.timeout} s")

    def fail(self, where: str, description: str) -> None:
        self.failed = True
        self.report["error"] = {"where": where, "description": description}
        self.conn.close()
        self.timer.cancel()

    def on_transaction_declared(self, event: Any) -> None:
        self.transaction = event.transaction
        self.report["declared"] = True
        if self.scenario == "send":
            self.send_all()
        else:
            self.link.flow(self.count)

    def send_all(self) -> None:
        while self.sent < self.count and self.link.credit > 0:
            self.transaction.send(self.link, Message(body=f"tx-{self.sent}"))
            self.sent += 1

    def on_sendable(self, event: Any) -> None:
        if self.transaction is not None and self.scenario == "send":
            self.send_all()

    def on_settled(self, event: Any) -> None:
        if self.scenario == "send" and event.link == self.link:
            self.settled += 1
            if self.settled == self.count:
                self.report["sent"] = self.sent
                self.discharge()

    def on_message(self, event: Any) -> None:
        self.transaction.accept(event.delivery)
        self.bodies.append(event.message.body)
        if len(self.bodies) == self.count:
            self.report["received"] = len(self.bodies)
            self.report["bodies"] = self.bodies
            self.discharge()

    def discharge(self) -> None:
        if self.rollback:
            self.transaction.abort()
        else:
            self.transaction.commit()

    def on_transaction_committed(self, event: Any) -> None:
        self.finish("committed")

    def on_transaction_aborted(self, event: Any) -> None:
        self.finish("aborted")

    def on_transaction_declare_failed(self, event: Any) -> None:
        self.fail("declare", str(event.delivery.remote_state))

    def on_transaction_commit_failed(self, event: Any) -> None:
        self.report["discharged"] = "commit-failed"
        self.fail("commit", str(event.delivery.remote_state))

    def finish(self, how: str) -> None:
        self.report["discharged"] = how
        self.conn.close()
        self.timer.cancel()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("scenario", choices=("send", "receive"))
    parser.add_argument("--address", required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--rollback", action="store_true")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    client = TxClient(args.url, args.scenario, args.address, args.count, args.rollback, args.timeout)
    Container(client).run()
    print(json.dumps(client.report))
    return 1 if client.failed else 0


if __name__ == "__main__":
    sys.exit(main())
