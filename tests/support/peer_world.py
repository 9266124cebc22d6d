"""Client engines wired to an embedded broker in memory, with their events sorted for tests.

``World(broker)`` holds a ``MemoryHub``; ``world.client("a")`` opens a client engine with one
session; ``world.pump()`` moves every byte and sorts every client's events into plain lists
(received deliveries per receiver, outcomes per sent delivery, detaches per link). No sockets,
no threads, no clock: everything is deterministic.
"""

from __future__ import annotations

from typing import Any

from amqp10.codec.message import Message
from amqp10.codec.spec import ReceiverSettleMode, SenderSettleMode, Source, Target
from amqp10.engine import Config, Connection, Delivery, Receiver, Sender
from amqp10.engine.events import (
    ConnectionOpened,
    DeliveryReceived,
    DeliverySettled,
    DeliveryUpdated,
    Event,
    LinkAttached,
    LinkDetached,
)
from amqp10.peer import Broker, MemoryHub


class Client:
    """One client engine and what happened to it."""

    def __init__(self, world: World, name: str) -> None:
        self.world = world
        self.engine = Connection(Config(container_id=name))
        world.hub.connect(self.engine)
        self.engine.open()
        self.session = self.engine.begin_session()
        self.events: list[Event] = []
        self.received: dict[Receiver, list[Delivery]] = {}
        self.outcomes: dict[Delivery, Any] = {}
        self.detached: dict[Any, LinkDetached] = {}
        self.attached: set[Any] = set()
        self.remote_open: ConnectionOpened | None = None
        self._names = 0
        world.clients.append(self)

    def _name(self, kind: str) -> str:
        self._names += 1
        return f"{kind}-{self._names}"

    def sender(
        self,
        address: str | None,
        *,
        settled: bool = False,
        capabilities: list[str] | None = None,
        dynamic: bool = False,
        rcv_settle_mode: ReceiverSettleMode = ReceiverSettleMode.FIRST,
    ) -> Sender:
        """Attach a sending link to ``address`` (``None``: the anonymous relay)."""
        return self.session.attach_sender(
            self._name("sender"),
            source=Source(),
            target=Target(address=address, capabilities=capabilities, dynamic=dynamic or None),
            snd_settle_mode=SenderSettleMode.SETTLED if settled else SenderSettleMode.UNSETTLED,
            rcv_settle_mode=rcv_settle_mode,
        )

    def receiver(
        self,
        address: str | None,
        *,
        credit: int = 10,
        dynamic: bool = False,
        capabilities: list[str] | None = None,
        settled: bool = False,
        default_outcome: Any = None,
        filter: dict[Any, Any] | None = None,
        distribution_mode: str | None = None,
    ) -> Receiver:
        """Attach a receiving link from ``address`` and grant ``credit``."""
        link = self.session.attach_receiver(
            self._name("receiver"),
            source=Source(
                address=address,
                dynamic=dynamic or None,
                capabilities=capabilities,
                default_outcome=default_outcome,
                filter=filter,
                distribution_mode=distribution_mode,
            ),
            target=Target(),
            snd_settle_mode=SenderSettleMode.SETTLED if settled else SenderSettleMode.UNSETTLED,
        )
        self.received[link] = []
        if credit:
            link.flow(credit)
        return link

    def send(self, sender: Sender, body: Any = None, **fields: Any) -> Delivery:
        """Send ``Message(body, **fields)`` (not pumped)."""
        return sender.send(Message(body, **fields).encode())

    def bodies(self, receiver: Receiver) -> list[Any]:
        """Bodies of everything ``receiver`` got, in order."""
        return [Message.decode(d.payload).body for d in self.received[receiver]]

    def take(self, receiver: Receiver) -> list[Delivery]:
        """The deliveries ``receiver`` got since the last ``take``."""
        got, self.received[receiver] = self.received[receiver], []
        return got

    def sort(self, events: list[Event]) -> None:
        self.events += events
        for event in events:
            if isinstance(event, DeliveryReceived):
                self.received.setdefault(event.delivery.link, []).append(event.delivery)  # type: ignore[arg-type]
            elif isinstance(event, DeliveryUpdated):
                if event.state is not None:
                    self.outcomes[event.delivery] = event.state
            elif isinstance(event, DeliverySettled):
                self.outcomes.setdefault(event.delivery, event.delivery.remote_state)
            elif isinstance(event, LinkDetached):
                self.detached[event.link] = event
            elif isinstance(event, LinkAttached):
                self.attached.add(event.link)
            elif isinstance(event, ConnectionOpened):
                self.remote_open = event


class World:
    """A broker, a memory hub and the clients connected to it."""

    def __init__(self, broker: Broker | None = None) -> None:
        self.broker = broker if broker is not None else Broker()
        self.hub = MemoryHub(self.broker)
        self.clients: list[Client] = []

    def client(self, name: str = "client") -> Client:
        """Connect a new client (opened, with one session) and pump."""
        client = Client(self, name)
        self.pump()
        return client

    def pump(self) -> None:
        """Move every byte until quiet, then sort each client's events."""
        self.hub.pump()
        for client in self.clients:
            client.sort(self.hub.events(client.engine))
