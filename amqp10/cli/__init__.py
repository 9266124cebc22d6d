"""The ``amqp10`` command line: ``serve``, ``send``, ``receive``, ``trace`` and ``demo``."""
