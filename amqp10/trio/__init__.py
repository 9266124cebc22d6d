"""The trio adapter: ``connect()`` for clients, ``serve()`` for servers.

The same surface as ``amqp10.blocking``, async: ``async with amqp10.trio.connect(url) as
conn``, ``async with conn.open_sender("q") as sender``, ``await sender.send(msg)``,
``async for delivery in receiver``. Cancelling a ``send`` or ``receive`` leaves the connection
usable and loses no message. Needs the ``trio`` extra (``pip install amqp10[trio]``).
"""

try:
    import trio as _trio  # type: ignore[import-untyped,unused-ignore]  # trio < 0.23 ships no py.typed
except ImportError as _exc:  # say which extra brings it, not only that trio is missing
    raise ImportError("amqp10.trio needs trio, which is not installed: pip install 'amqp10[trio]'", name="trio") from _exc

from .._async_accept import AcceptedConnection as AcceptedConnection
from .._async_accept import Listener as Listener
from ._accepting import listen as listen
from ._client import Connection as Connection
from ._client import Receiver as Receiver
from ._client import Requester as Requester
from ._client import Sender as Sender
from ._client import Session as Session
from ._client import Tracker as Tracker
from .._async_streams import IncomingStream as IncomingStream
from .._async_streams import OutgoingStream as OutgoingStream
from ._client import Transaction as Transaction
from ._client import connect as connect
from ._server import Server as Server
from ._server import serve as serve

__all__ = ["connect", "serve", "listen", "Listener", "AcceptedConnection", "Connection", "Session", "Sender", "Receiver", "Requester", "Tracker", "OutgoingStream", "IncomingStream", "Transaction", "Server"]
