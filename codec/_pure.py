"""The pure-Python codec: the complete reference implementation of the hot functions.

Owns: nothing of its own; it names the five functions that ``amqp10.codec`` exports and that
``_speedups._codec`` mirrors one for one (same names, signatures, results and error messages):
``decode_value``, ``decode_described_list`` and ``split_sections`` (in ``_pure_decode``, with
the scalar body decoders in ``_pure_decode_scalars``), ``encode_value`` and
``encode_described_list`` (in ``_pure_encode``, with the scalar encoders in
``_pure_encode_scalars``). They are split only to keep each module readable; the Cython twin
may mirror them as one file.

Must never: be imported by code outside ``amqp10.codec`` (use ``amqp10.codec``, which picks the
implementation once), or grow behaviour the compiled twin does not have.
"""

from __future__ import annotations

from ._pure_decode import decode_described_list as decode_described_list
from ._pure_decode import decode_value as decode_value
from ._pure_decode import split_sections as split_sections
from ._pure_encode import encode_described_list as encode_described_list
from ._pure_encode import encode_value as encode_value

__all__ = [
    "decode_value",
    "decode_described_list",
    "split_sections",
    "encode_value",
    "encode_described_list",
]
