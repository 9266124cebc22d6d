"""Values and bytes: the AMQP 1.0 type system (installed as amqp10.codec)."""
