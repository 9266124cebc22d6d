"""Type stub for the compiled ``amqp10._speedups._framing`` (built from ``_framing.pyx``).

The signature is that of the pure-Python twin ``amqp10.framing.scan.scan_frames``.
"""

def scan_frames(
    buf: bytes | bytearray | memoryview, pos: int, max_frame_size: int, limit: int = -1
) -> list[tuple[int, int, int, int, int]]: ...
