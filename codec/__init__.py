"""Values and bytes: the AMQP 1.0 type system (installed as ``amqp10.codec``).

Public API: ``encode(value) -> bytes``, ``decode(data) -> value`` (exactly one value),
``decode_prefix(data) -> (value, consumed)``, the wrapper types of ``amqp10.codec.types``, the
errors, ``Limits``. The hot functions framing and the engine call per frame are exported too:
``decode_value``, ``decode_described_list``, ``encode_value``, ``encode_described_list`` and
``split_sections``.

The implementation is chosen once, here, at import (msgpack's pattern): ``AMQP10_PURE=1``
forces the pure-Python ``_pure``; otherwise the Cython ``amqp10._speedups._codec`` is used if it
imports, and if not a single ``RuntimeWarning`` says so and ``_pure`` is used. ``IMPL`` says
which is active (``"cython"`` or ``"pure"``). Both raise the same error classes with the same
messages, so callers never need to know.

Must never: read any environment variable but ``AMQP10_PURE`` (STYLE.md), or decide the
implementation more than once.
"""

from __future__ import annotations

import importlib as _importlib
import os as _os
import warnings as _warnings
from typing import Any

from .errors import CodecError as CodecError
from .errors import DecodeError as DecodeError
from .errors import EncodeError as EncodeError
from .limits import DEFAULT_LIMITS as DEFAULT_LIMITS
from .limits import Limits as Limits
from .types import Array as Array
from .types import Byte as Byte
from .types import Char as Char
from .types import Decimal32 as Decimal32
from .types import Decimal64 as Decimal64
from .types import Decimal128 as Decimal128
from .types import Described as Described
from .types import Float as Float
from .types import Int as Int
from .types import Long as Long
from .types import Short as Short
from .types import Symbol as Symbol
from .types import Timestamp as Timestamp
from .types import UByte as UByte
from .types import UInt as UInt
from .types import ULong as ULong
from .types import UShort as UShort

IMPL: str
"""Which codec implementation is active: ``"cython"`` or ``"pure"``."""

if _os.environ.get("AMQP10_PURE") == "1":
    from ._pure import decode_described_list as decode_described_list
    from ._pure import decode_value as decode_value
    from ._pure import encode_described_list as encode_described_list
    from ._pure import encode_value as encode_value
    from ._pure import split_sections as split_sections

    IMPL = "pure"
else:
    try:
        from amqp10._speedups._codec import (  # type: ignore[import-not-found,no-redef,unused-ignore]
            decode_described_list as decode_described_list,
            decode_value as decode_value,
            encode_described_list as encode_described_list,
            encode_value as encode_value,
            split_sections as split_sections,
        )

        IMPL = "cython"
    except ImportError as _exc:
        _warnings.warn(
            f"amqp10: the Cython speedups are not available ({_exc}); using the pure-Python "
            "codec, which is complete but slower. To get them, install amqp10 from source with "
            "Cython and a C compiler present (`pip install .`); set AMQP10_PURE=1 to choose the "
            "pure-Python codec explicitly and silence this warning.",
            RuntimeWarning,
            stacklevel=2,
        )
        from ._pure import decode_described_list as decode_described_list
        from ._pure import decode_value as decode_value
        from ._pure import encode_described_list as encode_described_list
        from ._pure import encode_value as encode_value
        from ._pure import split_sections as split_sections

        IMPL = "pure"

# The generated spec classes register themselves in composite.BY_CODE / BY_NAME when their
# module is imported, and the decoders look descriptors up there; import it now so the registry
# is full before anything is decoded. While the generator's output (codec/spec.py) does not
# exist yet, described lists decode as Described; any other import failure inside spec.py is a
# real bug and propagates.
try:
    _importlib.import_module(__name__ + ".spec")
except ModuleNotFoundError as _exc:
    if _exc.name != __name__ + ".spec":
        raise

# Last, because codec/message.py uses the hot functions bound above.
from .message import AmqpSequence as AmqpSequence, AmqpValue as AmqpValue, Data as Data  # noqa: E402
from .message import Header as Header, Message as Message, Properties as Properties  # noqa: E402


def _as_buffer(data: Any) -> memoryview:
    """A one-dimensional unsigned-byte view of ``data`` (bytes, bytearray, memoryview, ...)."""
    buf = data if type(data) is memoryview else memoryview(data)
    if buf.format != "B" or buf.ndim != 1:
        buf = buf.cast("B") if buf.c_contiguous else memoryview(buf.tobytes())
    return buf


def encode(value: Any) -> bytes:
    """Encode one value, choosing the smallest encoding (see ``encode_value``).

    Raises:
        EncodeError: naming the type of the value (or element) that cannot be encoded.
    """
    out = bytearray()
    encode_value(out, value)
    return bytes(out)


def decode(data: Any, limits: Limits | None = None) -> Any:
    """Decode exactly one value that fills ``data`` (bytes-like).

    Raises:
        DecodeError: if ``data`` is not exactly one valid encoding within ``limits``
            (default ``DEFAULT_LIMITS``); trailing bytes are an error.
    """
    buf = _as_buffer(data)
    value, pos = decode_value(buf, 0, DEFAULT_LIMITS if limits is None else limits)
    if pos != len(buf):
        raise DecodeError(f"{len(buf) - pos} trailing bytes after the value, at offset {pos}")
    return value


def decode_prefix(data: Any, limits: Limits | None = None) -> tuple[Any, int]:
    """Decode the one value at the start of ``data``; return it and the bytes it took.

    Raises:
        DecodeError: if ``data`` does not start with a valid encoding within ``limits``.
    """
    return decode_value(_as_buffer(data), 0, DEFAULT_LIMITS if limits is None else limits)


__all__ = [
    "IMPL",
    "encode",
    "decode",
    "decode_prefix",
    "decode_value",
    "decode_described_list",
    "encode_value",
    "encode_described_list",
    "split_sections",
    "CodecError",
    "DecodeError",
    "EncodeError",
    "Limits",
    "DEFAULT_LIMITS",
    "Symbol",
    "Char",
    "UByte",
    "UShort",
    "UInt",
    "ULong",
    "Byte",
    "Short",
    "Int",
    "Long",
    "Float",
    "Timestamp",
    "Decimal32",
    "Decimal64",
    "Decimal128",
    "Described",
    "Array",
    "Message", "Header", "Properties", "Data", "AmqpSequence", "AmqpValue",  # codec/message.py
]
