"""amqp10: a sans-IO AMQP 1.0 protocol stack for Python.

This module only re-exports the public names (trio's pattern); each lives in the module that
owns it.
"""

import sys as _sys

from . import _source_tree

# Started from a checkout (``python -m amqp10`` in the repository's root), this folder has no
# codec/: load the checkout's codec/ and _speedups/ as amqp10.codec and amqp10._speedups.
_source_tree.map_source_tree(_sys.modules[__name__])

from . import _compiled  # noqa: E402
from . import codec as _codec  # noqa: E402

# The engine's and framing layer's hot modules may be compiled from their source (setup.py):
# they run compiled exactly when the codec does (``_compiled``), so AMQP10_PURE=1 (read once,
# by the codec) makes the whole stack pure Python. The codec imports nothing of the engine.
_compiled.install(pure=_codec.IMPL == "pure")

from .codec.limits import Limits as Limits
from .codec.message import AmqpSequence as AmqpSequence
from .codec.message import AmqpValue as AmqpValue
from .codec.message import Data as Data
from .codec.message import Header as Header
from .codec.message import Message as Message
from .codec.message import Properties as Properties
from .codec.spec import Accepted as Accepted
from .codec.spec import Modified as Modified
from .codec.spec import Received as Received
from .codec.spec import Rejected as Rejected
from .codec.spec import Released as Released

# The adapters' public surface (blocking is the default; trio and asyncio live in amqp10.trio
# and amqp10.asyncio).
from ._delivery import Delivery as Delivery
from ._handler import Handler as Handler
from ._handler import ServerConnection as ServerConnection
from ._options import ConnectOptions as ConnectOptions
from ._outcomes import DeliveryState as DeliveryState
from ._outcomes import Outcome as Outcome
from ._options import ReceiverOptions as ReceiverOptions
from ._options import SenderOptions as SenderOptions
from ._options import ServerOptions as ServerOptions
from ._options import SettleMode as SettleMode
from ._reconnect import Reconnect as Reconnect
from ._options import selector_filter as selector_filter
from ._transactions import TransactionState as TransactionState
from .blocking import AcceptedConnection as AcceptedConnection
from .blocking import AcceptingListener as AcceptingListener
from .blocking import Connection as Connection
from .blocking import Listener as Listener
from .blocking import Receiver as Receiver
from .blocking import Requester as Requester
from .blocking import Sender as Sender
from .blocking import Session as Session
from .blocking import Tracker as Tracker
from .blocking import IncomingStream as IncomingStream
from .blocking import OutgoingStream as OutgoingStream
from .blocking import Transaction as Transaction
from .blocking import connect as connect
from .engine.recovery import UnsettledDelivery as UnsettledDelivery
from .engine.recovery import UnsettledMap as UnsettledMap
from .blocking import listen as listen
from .errors import AMQPError as AMQPError
from .errors import AnonymousRelayNotOfferedError as AnonymousRelayNotOfferedError
from .errors import ConnectionClosedError as ConnectionClosedError
from .errors import ConnectionRedirectError as ConnectionRedirectError
from .errors import DeliveryInDoubtError as DeliveryInDoubtError
from .errors import ReconnectFailedError as ReconnectFailedError
from .errors import DecodeError as DecodeError
from .errors import DeliveryAbortedError as DeliveryAbortedError
from .errors import EncodeError as EncodeError
from .errors import FramingError as FramingError
from .errors import LinkDetachedError as LinkDetachedError
from .errors import LinkRedirectError as LinkRedirectError
from .errors import LocalProtocolError as LocalProtocolError
from .errors import NotAbortableError as NotAbortableError
from .errors import RemoteProtocolError as RemoteProtocolError
from .errors import RequestRefusedError as RequestRefusedError
from .errors import SASLError as SASLError
from .errors import SessionEndedError as SessionEndedError
from .errors import SettleModeDowngradedError as SettleModeDowngradedError
from .errors import SourceDowngradedError as SourceDowngradedError
from .errors import Timeout as Timeout
from .errors import TransactionError as TransactionError
from .errors import TransactionRolledBack as TransactionRolledBack

__version__ = "0.1.0.dev0"
