"""amqp10: a sans-IO AMQP 1.0 protocol stack for Python.

This module only re-exports the public names (trio's pattern); each lives in the module that
owns it.
"""

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

__version__ = "0.1.0.dev0"
