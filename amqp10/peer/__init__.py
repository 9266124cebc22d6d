"""The embedded peer behind ``amqp10 serve``: queues, topics, dynamic nodes, anonymous relay,
source filters (JMS selectors, legacy bindings, no-local) and queue browsing.

For development and tests. Production uses a broker or a router network: RabbitMQ, ActiveMQ
Artemis, Apache Qpid (qpidd) or Qpid Dispatch / skupper-router.

``Broker`` is a server handler (ADAPTERS.md) written once on the sans-IO engine; ``serve``
(``amqp10.peer.server``) runs it on real sockets, ``MemoryHub`` runs it in memory.
"""

from .broker import ANONYMOUS_RELAY as ANONYMOUS_RELAY
from .broker import Broker as Broker
from .memory import MemoryHub as MemoryHub
from .nodes import NodeLimits as NodeLimits

__all__ = ["ANONYMOUS_RELAY", "Broker", "MemoryHub", "NodeLimits"]
