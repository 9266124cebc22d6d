"""The sans-IO AMQP 1.0 engine: connections, sessions, links and deliveries, both roles.

``Connection(config)`` takes bytes (``receive_data``), returns events, gives bytes to send
(``data_to_send``) and deadlines (``tick(now)``). Nothing here does I/O or reads a clock.
"""

from .config import Config as Config
from .config import ConnectionRole as ConnectionRole
from .connection import Connection as Connection
from .delivery import Delivery as Delivery
from .link import Link as Link
from .link import Receiver as Receiver
from .link import Sender as Sender
from .recovery import UnsettledDelivery as UnsettledDelivery
from .recovery import UnsettledMap as UnsettledMap
from .session import Session as Session
from .states import ConnectionState as ConnectionState
from .states import LinkState as LinkState
from .states import SessionState as SessionState

__all__ = [
    "Config",
    "ConnectionRole",
    "Connection",
    "Delivery",
    "Link",
    "Receiver",
    "Sender",
    "UnsettledDelivery",
    "UnsettledMap",
    "Session",
    "ConnectionState",
    "LinkState",
    "SessionState",
]
