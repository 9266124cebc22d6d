"""The asyncio adapter: ``connect()`` for clients, ``serve()`` / ``start_server()`` for servers.

The same surface as ``amqp10.trio`` (and ``amqp10.blocking``), on asyncio: ``async with
amqp10.asyncio.connect(url) as conn``, ``async with conn.open_sender("q") as sender``,
``await sender.send(msg)``, ``async for delivery in receiver``. Cancelling a ``send`` or
``receive`` (``task.cancel()``, ``asyncio.timeout``) leaves the connection usable and loses no
message. Needs nothing beyond the standard library.
"""

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
from ._server import start_server as start_server

__all__ = ["connect", "serve", "listen", "Listener", "AcceptedConnection", "start_server", "Connection", "Session", "Sender", "Receiver", "Requester", "Tracker", "OutgoingStream", "IncomingStream", "Transaction", "Server"]
