# Included by _codec.pyx: the scalar half of the decoder, bytes -> values. Mirrors
# codec/_pure_decode_scalars.py (the per-call context, the error messages, every scalar body
# decoder) and, in ``_body``, codec/_pure_decode.py's constructor table ``_DECODERS``, whose
# compound, described and array cases call into _decode.pxi.
#
# Layout: one ``_D`` per top-level call holds the input pointer, the limits as C integers and
# the zero-width budget; ``_body(d, code, &pos, end, depth)`` is the pure path's 256-entry
# table as one C switch, reading what follows the constructor ``code``. ``end`` is the end of
# the innermost enclosing value, exactly as on the pure path, so truncation is reported where
# it happens and every error carries the same offsets.


cdef struct _D:
    const unsigned char* b
    PyObject* limits          # for error messages: the Limits as the caller gave them
    long long max_depth
    long long max_count
    long long max_binary
    long long max_string
    long long zero_left       # see _pure_decode._Ctx: zero-width array elements left
    int nest                  # compound levels entered (see _enter in _codec.pyx)


# Limits are Python ints; one beyond what a C long long holds is pinned to +-2**62, which no
# size or count read from the wire (each at most 2**32 - 1) can reach, so the outcome is the
# same. The last Limits seen is remembered (it is frozen), sparing four attribute reads a call.
cdef long long _BIG = 1LL << 62
cdef object _last_limits = None
cdef long long _last_depth = 0, _last_count = 0, _last_binary = 0, _last_string = 0


cdef long long _clamp(object v) except? -1:
    cdef int overflow = 0
    cdef long long x
    if PyLong_Check(v):
        x = PyLong_AsLongLongAndOverflow(v, &overflow)
        if overflow == 0:
            return _BIG if x > _BIG else -_BIG if x < -_BIG else x
    if v > _BIG:
        return _BIG
    if v < -_BIG:
        return -_BIG
    return v


cdef inline bint _offset_in(object pos, Py_ssize_t end, Py_ssize_t* out) except -1:
    """The pure path's ``0 <= pos < end``, with ``out`` set to ``pos`` when it holds."""
    cdef int overflow = 0
    cdef long long x
    if PyLong_CheckExact(pos):
        x = PyLong_AsLongLongAndOverflow(pos, &overflow)
        if overflow:
            return False
        out[0] = <Py_ssize_t>x
        return 0 <= x < end
    if not 0 <= pos < end:
        return False
    out[0] = pos
    return True


cdef int _init(_D* d, object limits) except -1:
    global _last_limits, _last_depth, _last_count, _last_binary, _last_string
    d.limits = <PyObject*>limits
    d.nest = 0
    if limits is _last_limits:
        d.max_depth = _last_depth
        d.max_count = _last_count
        d.max_binary = _last_binary
        d.max_string = _last_string
    else:
        # Read into the call's own fields first (reading may run Python code, and so let
        # another thread in); publish to the shared cache only in one C-level step.
        d.max_depth = _clamp(limits.max_depth)
        d.max_count = _clamp(limits.max_count)
        d.max_binary = _clamp(limits.max_binary_size)
        d.max_string = _clamp(limits.max_string_size)
        _last_depth = d.max_depth
        _last_count = d.max_count
        _last_binary = d.max_binary
        _last_string = d.max_string
        _last_limits = limits
    d.zero_left = d.max_count
    return 0


# --- error messages (word for word those of _pure_decode_scalars) -------------------------------------

# mirrors codec/_pure_decode_scalars.py:_short
cdef object _short(str what, Py_ssize_t pos, Py_ssize_t need, Py_ssize_t end):
    cdef Py_ssize_t left = end - pos if end > pos else 0
    return DecodeError(f"truncated {what} at offset {pos}: needs {need} bytes, {left} left")


# mirrors codec/_pure_decode_scalars.py:_overrun
cdef object _overrun(str what, Py_ssize_t pos, long long size, long long left):
    return DecodeError(
        f"{what} at offset {pos} declares {size} bytes but only {left if left > 0 else 0} remain"
    )


# mirrors codec/_pure_decode_scalars.py:_over_limit
cdef object _over_limit(str what, Py_ssize_t pos, long long n, str limit_name, object limit):
    return DecodeError(f"{what} at offset {pos} declares {n}, over Limits.{limit_name}={limit}")


# mirrors codec/_pure_decode_scalars.py:_too_deep
cdef object _too_deep(Py_ssize_t pos, _D* d):
    return DecodeError(
        f"value at offset {pos} nests deeper than Limits.max_depth={(<object>d.limits).max_depth}"
    )


# --- tables -----------------------------------------------------------------------------------

# One-byte encodings come from tables indexed by the raw byte (as on the pure path).
cdef tuple _UBYTE_T = tuple([_int_new(UByte, i) for i in range(256)])
cdef tuple _BYTE_T = tuple([_int_new(Byte, i if i < 128 else i - 256) for i in range(256)])
cdef tuple _SMALLUINT_T = tuple([_int_new(UInt, i) for i in range(256)])
cdef tuple _SMALLULONG_T = tuple([_int_new(ULong, i) for i in range(256)])
cdef tuple _SMALLINT_T = tuple([_int_new(Int, i if i < 128 else i - 256) for i in range(256)])
cdef tuple _SMALLLONG_T = tuple([i if i < 128 else i - 256 for i in range(256)])

#: raw text -> Symbol for short symbols already seen (bounded like the pure path's table).
cdef dict _SYMBOLS = {}


cdef inline object _tget(tuple t, Py_ssize_t i):
    return <object>PyTuple_GET_ITEM(t, i)


# --- variable width ---------------------------------------------------------------------------

# mirrors codec/_pure_decode_scalars.py:_binary
cdef object _binary(_D* d, Py_ssize_t pos, long long n, Py_ssize_t end, str what, Py_ssize_t* out):
    if n > end - pos:
        raise _overrun(what, pos, n, end - pos)
    if n > d.max_binary:
        raise _over_limit(what, pos, n, "max_binary_size", (<object>d.limits).max_binary_size)
    out[0] = pos + n
    return PyBytes_FromStringAndSize(<const char*>d.b + pos, <Py_ssize_t>n)


# mirrors codec/_pure_decode_scalars.py:_string
cdef object _string(_D* d, Py_ssize_t pos, long long n, Py_ssize_t end, str what, Py_ssize_t* out):
    if n > end - pos:
        raise _overrun(what, pos, n, end - pos)
    if n > d.max_string:
        raise _over_limit(what, pos, n, "max_string_size", (<object>d.limits).max_string_size)
    try:
        # 1.6.19: strings are UTF-8; the strict codec also refuses surrogates and overlongs.
        s = PyUnicode_DecodeUTF8(<const char*>d.b + pos, <Py_ssize_t>n, NULL)
    except UnicodeDecodeError as exc:
        raise DecodeError(
            f"{what} at offset {pos} is not valid UTF-8 (byte {exc.start}: {exc.reason})"
        ) from None
    out[0] = pos + n
    return s


# mirrors codec/_pure_decode_scalars.py:_symbol (and _dec_sym8's bounded interning)
cdef object _symbol(
    _D* d, Py_ssize_t pos, long long n, Py_ssize_t end, str what, Py_ssize_t* out, bint intern
):
    cdef PyObject* hit
    if n > end - pos:
        raise _overrun(what, pos, n, end - pos)
    if n > d.max_string:
        raise _over_limit(what, pos, n, "max_string_size", (<object>d.limits).max_string_size)
    try:
        # 1.6.21: symbols are "ASCII character strings".
        text = PyUnicode_DecodeASCII(<const char*>d.b + pos, <Py_ssize_t>n, NULL)
    except UnicodeDecodeError as exc:
        raise DecodeError(
            f"{what} at offset {pos} is not ASCII (byte {exc.start}: 0x{d.b[pos + exc.start]:02x})"
        ) from None
    out[0] = pos + n
    if intern:
        hit = PyDict_GetItem(_SYMBOLS, text)
        if hit != NULL:
            return <object>hit
    sym = _new_str(_Symbol, text)
    if intern and n <= 64 and len(_SYMBOLS) < 1024:
        _SYMBOLS[text] = sym
    return sym


# --- the constructor switch -------------------------------------------------------------------

cdef object _uuid_from(const unsigned char* p):
    # uuid.UUID(bytes=...) builds the int then sets two slots; doing the same directly keeps
    # the value identical (is_safe included) without the keyword parsing.
    u = _UUID.__new__(_UUID)
    value = (PyLong_FromUnsignedLongLong(_u64(p)) << 64) | PyLong_FromUnsignedLongLong(_u64(p + 8))
    PyObject_GenericSetAttr(u, "int", value)
    PyObject_GenericSetAttr(u, "is_safe", _SAFE_UNKNOWN)
    return u


# mirrors codec/_pure_decode.py:_DECODERS: each case mirrors the _dec_* body decoder of its
# constructor byte (codec/_pure_decode_scalars.py for scalars, codec/_pure_decode.py for the rest)
cdef object _body(_D* d, unsigned char code, Py_ssize_t* ppos, Py_ssize_t end, long long depth):
    """Decode what follows constructor ``code`` at ``ppos[0]``; leave ``ppos[0]`` after it."""
    cdef Py_ssize_t pos = ppos[0]
    cdef const unsigned char* p = d.b + pos
    cdef uint32_t cp
    cdef unsigned char b
    # fixed width, zero bytes
    if code == 0x40:
        return None
    elif code == 0x41:
        return True
    elif code == 0x42:
        return False
    elif code == 0x43:
        return _tget(_SMALLUINT_T, 0)
    elif code == 0x44:
        return _tget(_SMALLULONG_T, 0)
    elif code == 0x45:
        return []
    # one byte
    elif code == 0x56:
        if pos >= end:
            raise _short("boolean", pos, 1, end)
        b = p[0]
        if b > 1:
            # 1.6.2: "0x00 being false and 0x01 being true"; nothing else is a boolean.
            raise DecodeError(f"boolean at offset {pos} must be 0x00 or 0x01, got 0x{b:02x}")
        ppos[0] = pos + 1
        return b == 1
    elif code == 0x50:
        if pos >= end:
            raise _short("ubyte", pos, 1, end)
        ppos[0] = pos + 1
        return _tget(_UBYTE_T, p[0])
    elif code == 0x51:
        if pos >= end:
            raise _short("byte", pos, 1, end)
        ppos[0] = pos + 1
        return _tget(_BYTE_T, p[0])
    elif code == 0x52:
        if pos >= end:
            raise _short("smalluint", pos, 1, end)
        ppos[0] = pos + 1
        return _tget(_SMALLUINT_T, p[0])
    elif code == 0x53:
        if pos >= end:
            raise _short("smallulong", pos, 1, end)
        ppos[0] = pos + 1
        return _tget(_SMALLULONG_T, p[0])
    elif code == 0x54:
        if pos >= end:
            raise _short("smallint", pos, 1, end)
        ppos[0] = pos + 1
        return _tget(_SMALLINT_T, p[0])
    elif code == 0x55:
        if pos >= end:
            raise _short("smalllong", pos, 1, end)
        ppos[0] = pos + 1
        return _tget(_SMALLLONG_T, p[0])
    # two bytes
    elif code == 0x60:
        if pos + 2 > end:
            raise _short("ushort", pos, 2, end)
        ppos[0] = pos + 2
        return _new_int(_UShort, PyLong_FromLong(_u16(p)))
    elif code == 0x61:
        if pos + 2 > end:
            raise _short("short", pos, 2, end)
        ppos[0] = pos + 2
        return _new_int(_Short, PyLong_FromLong(<int16_t>_u16(p)))
    # four bytes
    elif code == 0x70:
        if pos + 4 > end:
            raise _short("uint", pos, 4, end)
        ppos[0] = pos + 4
        return _new_int(_UInt, PyLong_FromUnsignedLongLong(_u32(p)))
    elif code == 0x71:
        if pos + 4 > end:
            raise _short("int", pos, 4, end)
        ppos[0] = pos + 4
        return _new_int(_Int, PyLong_FromLong(<int32_t>_u32(p)))
    elif code == 0x72:
        if pos + 4 > end:
            raise _short("float", pos, 4, end)
        ppos[0] = pos + 4
        # The unpacked double is exactly the binary32 value, so Float's rounding is not needed.
        return _new_float(_Float, amqp10_unpack4(p))
    elif code == 0x73:
        if pos + 4 > end:
            raise _short("char", pos, 4, end)
        cp = _u32(p)
        if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
            # 1.6.16: a char is a single Unicode character, i.e. a scalar value.
            raise DecodeError(f"char at offset {pos} is not a Unicode scalar value: 0x{cp:x}")
        ppos[0] = pos + 4
        return _new_str(_Char, chr(cp))
    elif code == 0x74:
        if pos + 4 > end:
            raise _short("decimal32", pos, 4, end)
        ppos[0] = pos + 4
        return _new_int(_Decimal32, PyLong_FromUnsignedLongLong(_u32(p)))
    # eight bytes
    elif code == 0x80:
        if pos + 8 > end:
            raise _short("ulong", pos, 8, end)
        ppos[0] = pos + 8
        return _new_int(_ULong, PyLong_FromUnsignedLongLong(_u64(p)))
    elif code == 0x81:
        if pos + 8 > end:
            raise _short("long", pos, 8, end)
        ppos[0] = pos + 8
        return PyLong_FromLongLong(<int64_t>_u64(p))
    elif code == 0x82:
        if pos + 8 > end:
            raise _short("double", pos, 8, end)
        ppos[0] = pos + 8
        return PyFloat_FromDouble(amqp10_unpack8(p))
    elif code == 0x83:
        if pos + 8 > end:
            raise _short("timestamp", pos, 8, end)
        ppos[0] = pos + 8
        return _new_int(_Timestamp, PyLong_FromLongLong(<int64_t>_u64(p)))
    elif code == 0x84:
        if pos + 8 > end:
            raise _short("decimal64", pos, 8, end)
        ppos[0] = pos + 8
        return _new_int(_Decimal64, PyLong_FromUnsignedLongLong(_u64(p)))
    # sixteen bytes
    elif code == 0x94:
        if pos + 16 > end:
            raise _short("decimal128", pos, 16, end)
        ppos[0] = pos + 16
        return _new_int(
            _Decimal128,
            (PyLong_FromUnsignedLongLong(_u64(p)) << 64) | PyLong_FromUnsignedLongLong(_u64(p + 8)),
        )
    elif code == 0x98:
        if pos + 16 > end:
            raise _short("uuid", pos, 16, end)
        ppos[0] = pos + 16
        return _uuid_from(p)
    # variable width
    elif code == 0xA1:
        if pos >= end:
            raise _short("str8 size", pos, 1, end)
        return _string(d, pos + 1, p[0], end, "str8", ppos)
    elif code == 0xB1:
        if pos + 4 > end:
            raise _short("str32 size", pos, 4, end)
        return _string(d, pos + 4, _u32(p), end, "str32", ppos)
    elif code == 0xA3:
        # Symbols repeat (capabilities, conditions, annotation keys): short ones are interned.
        if pos >= end:
            raise _short("sym8 size", pos, 1, end)
        return _symbol(d, pos + 1, p[0], end, "sym8", ppos, True)
    elif code == 0xB3:
        if pos + 4 > end:
            raise _short("sym32 size", pos, 4, end)
        return _symbol(d, pos + 4, _u32(p), end, "sym32", ppos, False)
    elif code == 0xA0:
        if pos >= end:
            raise _short("vbin8 size", pos, 1, end)
        return _binary(d, pos + 1, p[0], end, "vbin8", ppos)
    elif code == 0xB0:
        if pos + 4 > end:
            raise _short("vbin32 size", pos, 4, end)
        return _binary(d, pos + 4, _u32(p), end, "vbin32", ppos)
    # compound and array
    elif code == 0xC0:
        return _compound8(d, False, pos, end, depth, ppos)
    elif code == 0xC1:
        return _compound8(d, True, pos, end, depth, ppos)
    elif code == 0xD0:
        return _compound32(d, False, pos, end, depth, ppos)
    elif code == 0xD1:
        return _compound32(d, True, pos, end, depth, ppos)
    elif code == 0xE0:
        return _array8(d, pos, end, depth, ppos)
    elif code == 0xF0:
        return _array32(d, pos, end, depth, ppos)
    elif code == 0x00:
        return _described(d, pos, end, depth, ppos)
    raise DecodeError(f"unknown constructor 0x{code:02x} at offset {pos - 1}")
