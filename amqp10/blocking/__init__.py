"""The blocking adapter: ``connect()`` for clients, ``listen()`` for servers.

One I/O thread per client connection (and one per listener) pumps socket <-> engine and ticks
it, so heartbeats flow while your code is busy. Every object is thread-safe and every waiting
call takes a ``timeout`` and raises ``amqp10.Timeout``.
"""

from ._accepting import AcceptedConnection as AcceptedConnection
from ._accepting import AcceptingListener as AcceptingListener
from ._client import Connection as Connection
from ._client import Receiver as Receiver
from ._client import Requester as Requester
from ._client import Sender as Sender
from ._client import Session as Session
from ._client import Tracker as Tracker
from ._streams import IncomingStream as IncomingStream
from ._streams import OutgoingStream as OutgoingStream
from ._client import Transaction as Transaction
from ._client import connect as connect
from ._listener import Listener as Listener
from ._listener import listen as listen

__all__ = ["connect", "listen", "AcceptedConnection", "AcceptingListener", "Connection", "Session", "Sender", "Receiver", "Requester", "Tracker", "OutgoingStream", "IncomingStream", "Transaction", "Listener"]
