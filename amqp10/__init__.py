"""amqp10: a sans-IO AMQP 1.0 protocol stack for Python."""

__version__ = "0.1.0.dev0"
