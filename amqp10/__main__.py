"""``python -m amqp10``: the same as the ``amqp10`` command."""

import sys

from .cli.__main__ import main

sys.exit(main())
