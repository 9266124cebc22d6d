# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, infer_types=False
"""Compiled twins of the codec's hot functions (installed as ``amqp10._speedups._codec``).

Owns: ``decode_value``, ``decode_described_list``, ``split_sections``, ``encode_value`` and
``encode_described_list``, the five names ``amqp10.codec`` binds when this module imports, and
``decode_message``, which ``amqp10.codec.message`` binds for ``Message.decode``. Each mirrors
its pure-Python original in ``codec/_pure_decode.py`` / ``codec/_pure_encode.py`` (with their
scalar halves in ``codec/_pure_decode_scalars.py`` / ``codec/_pure_encode_scalars.py``) and
``codec/message.py`` one for one: same signature, same values (same Python types all the way down), same bytes, and the
same exception classes with the same messages. ``tests/codec/test_differential.py`` holds them
to it with hypothesis, on values and on arbitrary and mutated bytes.

What makes it fast: typed byte access through one buffer acquired per call (no slicing, no
``struct``), a C ``switch`` on the constructor byte, exact-type dispatch on encode, and output
written straight into the caller's ``bytearray`` with amortised doubling. Error paths are cold:
they build their messages with the same f-strings as the pure path, and where the pure path
gets its error from ``struct`` (a wrapper built around its range check), so does this one.

Must never: define its own errors, limits or types (they come from ``amqp10.codec``, as
msgpack shares its ``exceptions.py``); allocate anything sized by a length or count before the
same checks the pure path makes; let any exception but ``DecodeError`` out of a decoder; grow
behaviour the pure path does not have. The body is split, as the pure path is, across
``_decode_scalars.pxi`` and ``_decode.pxi`` (bytes -> values), ``_encode.pxi``,
``_encode_scalars.pxi`` and ``_encode_array.pxi`` (values -> bytes) and ``_message.pxi``
(``decode_message``), only to keep each part readable.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem, PyDict_Next, PyDict_SetItem, PyDict_Size
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_FromDouble
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.long cimport (
    PyLong_AsLongLongAndOverflow,
    PyLong_AsUnsignedLongLong,
    PyLong_FromLong,
    PyLong_FromLongLong,
    PyLong_FromUnsignedLongLong,
)
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeASCII, PyUnicode_DecodeUTF8
from libc.stdint cimport int16_t, int32_t, int64_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memmove

import datetime as _dt
import decimal as _decimal
import struct as _struct
import uuid as _uuid

from amqp10.codec.composite import BY_CODE as _BY_CODE
from amqp10.codec.composite import BY_NAME as _BY_NAME
from amqp10.codec.errors import DecodeError, EncodeError
from amqp10.codec.formats import CATEGORY as _CATEGORY
from amqp10.codec.formats import WIDTH as _WIDTH
from amqp10.codec.formats import AMQP_TYPE as _AMQP_TYPE
from amqp10.codec.formats import Category as _Category
from amqp10.codec.formats import FormatCode as _FormatCode
from amqp10.codec.limits import DEFAULT_LIMITS
from amqp10.codec.types import (
    Array,
    Byte,
    Char,
    Decimal32,
    Decimal64,
    Decimal128,
    Described,
    Float,
    Int,
    Long,
    Short,
    Symbol,
    Timestamp,
    UByte,
    UInt,
    ULong,
    UShort,
)

__all__ = [
    "decode_value",
    "decode_described_list",
    "split_sections",
    "encode_value",
    "encode_described_list",
    "decode_message",
]


cdef extern from *:
    """
    /* PyFloat_Pack4/Unpack4/Pack8/Unpack8 are public from 3.11; older versions name them
       with a leading underscore. They are exactly what struct's '>f'/'>d' use, so floats
       (NaN payloads and overflow errors included) come out as on the pure path. */
    #if PY_VERSION_HEX < 0x030B0000
    #define amqp10_pack4(x, p) _PyFloat_Pack4((x), (unsigned char *)(p), 0)
    #define amqp10_pack8(x, p) _PyFloat_Pack8((x), (unsigned char *)(p), 0)
    #define amqp10_unpack4(p) _PyFloat_Unpack4((const unsigned char *)(p), 0)
    #define amqp10_unpack8(p) _PyFloat_Unpack8((const unsigned char *)(p), 0)
    #else
    #define amqp10_pack4(x, p) PyFloat_Pack4((x), (char *)(p), 0)
    #define amqp10_pack8(x, p) PyFloat_Pack8((x), (char *)(p), 0)
    #define amqp10_unpack4(p) PyFloat_Unpack4((const char *)(p), 0)
    #define amqp10_unpack8(p) PyFloat_Unpack8((const char *)(p), 0)
    #endif
    """
    int amqp10_pack4(double x, unsigned char* p) except -1
    int amqp10_pack8(double x, unsigned char* p) except -1
    double amqp10_unpack4(const unsigned char* p) except? -1.0
    double amqp10_unpack8(const unsigned char* p) except? -1.0


cdef extern from "Python.h":
    # The pure path nests one Python frame (or two) per compound level, so the interpreter's
    # recursion limit is what stops a self-containing or absurdly deep value there. The
    # compiled recursion is plain C, so it enters the same counter explicitly, once per level.
    # (It returns 1, not -1, with RecursionError set when the limit is reached.)
    int Py_EnterRecursiveCall(const char* where) except 1
    void Py_LeaveRecursiveCall()
    bint PyLong_Check(object o)
    bint PyLong_CheckExact(object o)
    bint PyBool_Check(object o)
    bint PyUnicode_CheckExact(object o)
    bint PyUnicode_Check(object o)
    bint PyBytes_CheckExact(object o)
    bint PyByteArray_Check(object o)
    bint PyList_CheckExact(object o)
    bint PyTuple_CheckExact(object o)
    bint PyDict_CheckExact(object o)
    bint PyFloat_Check(object o)
    bint PyUnicode_IS_ASCII(object o)
    const char* PyUnicode_AsUTF8AndSize(object o, Py_ssize_t* size) except NULL
    int PyObject_GenericSetAttr(object o, object name, object v) except -1


# --- shared by both halves ---------------------------------------------------------------------

# Compiled recursion also stops at this many nested levels in one call, whatever the recursion
# limit says: C frames live on the thread's stack, which raising the limit does not grow. (The
# pure path, whose Python frames do not use the C stack, is bound by the limit alone; the two
# can only differ for values nested this deep under a raised limit.)
cdef int _MAX_NESTING = 2000


cdef inline int _enter(int* nest, const char* where) except -1:
    if nest[0] >= _MAX_NESTING:
        raise RecursionError("maximum recursion depth exceeded" + where.decode("ascii"))
    Py_EnterRecursiveCall(where)
    nest[0] += 1
    return 0


cdef inline void _leave(int* nest) noexcept:
    nest[0] -= 1
    Py_LeaveRecursiveCall()

# Wrappers built with the base type's __new__ skip the range check of their constructors, as on
# the pure path: the encoding's width already implies the range. ``int.__new__(cls, v)`` is
# called straight through the base type's tp_new slot, which is what the Python-level call
# ends in, minus the argument shuffling of the slot wrapper.
cdef object _int_new = int.__new__
cdef object _float_new = float.__new__
cdef object _str_new = str.__new__


cdef inline object _new_int(object cls, object value):
    cdef tuple args = (value,)
    return (<PyTypeObject*>int).tp_new(cls, <PyObject*>args, NULL)


cdef inline object _new_float(object cls, double value):
    cdef tuple args = (PyFloat_FromDouble(value),)
    return (<PyTypeObject*>float).tp_new(cls, <PyObject*>args, NULL)


cdef inline object _new_str(object cls, object text):
    cdef tuple args = (text,)
    return (<PyTypeObject*>str).tp_new(cls, <PyObject*>args, NULL)

# The wrapper classes as C globals: an exact-type test is then one pointer comparison.
cdef object _UByte = UByte, _UShort = UShort, _UInt = UInt, _ULong = ULong
cdef object _Byte = Byte, _Short = Short, _Int = Int, _Long = Long
cdef object _Float = Float, _Char = Char, _Timestamp = Timestamp, _Symbol = Symbol
cdef object _Decimal32 = Decimal32, _Decimal64 = Decimal64, _Decimal128 = Decimal128
cdef object _Described = Described, _Array = Array
cdef object _UUID = _uuid.UUID
cdef object _SAFE_UNKNOWN = _uuid.SafeUUID.unknown
cdef object _datetime = _dt.datetime
cdef object _Decimal = _decimal.Decimal
cdef object _NoneType = type(None)

cdef dict _CODES = _BY_CODE
cdef dict _NAMES = _BY_NAME

cdef inline uint16_t _u16(const unsigned char* p) noexcept nogil:
    return (<uint16_t>p[0] << 8) | p[1]

cdef inline uint32_t _u32(const unsigned char* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]

cdef inline uint64_t _u64(const unsigned char* p) noexcept nogil:
    return (<uint64_t>_u32(p) << 32) | _u32(p + 4)

cdef inline void _put16(unsigned char* p, uint16_t v) noexcept nogil:
    p[0] = <unsigned char>(v >> 8)
    p[1] = <unsigned char>v

cdef inline void _put32(unsigned char* p, uint32_t v) noexcept nogil:
    p[0] = <unsigned char>(v >> 24)
    p[1] = <unsigned char>(v >> 16)
    p[2] = <unsigned char>(v >> 8)
    p[3] = <unsigned char>v

cdef inline void _put64(unsigned char* p, uint64_t v) noexcept nogil:
    _put32(p, <uint32_t>(v >> 32))
    _put32(p + 4, <uint32_t>v)


include "_decode_scalars.pxi"
include "_decode.pxi"
include "_encode.pxi"
include "_encode_scalars.pxi"
include "_message.pxi"
