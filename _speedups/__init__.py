"""Internal: compiled twins of amqp10.codec hot functions. Import amqp10.codec instead."""
