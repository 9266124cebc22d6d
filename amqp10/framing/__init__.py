"""Bytes <-> frames: protocol headers, frame encoding and the incremental frame reader.

Owns: the 8-byte protocol headers (spec 2.2), the frame layout (spec 2.3: size, doff, type,
channel, extended header) and the frame-size limits. Must never: hold endpoint state (sessions,
links, credit), read a clock, or do I/O. Decoding performatives is delegated to the codec.
"""

from .frame import EMPTY_FRAME as EMPTY_FRAME
from .frame import Frame as Frame
from .frame import FrameType as FrameType
from .frame import encode_frame as encode_frame
from .headers import ProtocolHeader as ProtocolHeader
from .headers import ProtocolId as ProtocolId
from .reader import FrameReader as FrameReader

__all__ = [
    "EMPTY_FRAME",
    "Frame",
    "FrameType",
    "encode_frame",
    "ProtocolHeader",
    "ProtocolId",
    "FrameReader",
]
