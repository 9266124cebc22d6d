# Included by _codec.pyx (after _encode.pxi's writer and kinds): the scalar encoders, values ->
# bytes. Mirrors codec/_pure_encode_scalars.py, one encoder per scalar type, each picking the
# smallest encoding.

# --- scalars ----------------------------------------------------------------------------------

# mirrors codec/_pure_encode_scalars.py:_enc_long
cdef int _enc_long(_W* w, object value) except -1:
    cdef int64_t x
    cdef unsigned char* p
    if not _as_i64(value, &x):
        raise EncodeError(
            f"int {value} does not fit an AMQP long (64-bit signed); "
            "wrap it as ULong(...) if it is an unsigned 64-bit value"
        )
    if -128 <= x <= 127:
        p = _room(w, 2)
        p[0] = 0x55
        p[1] = <unsigned char>x
        w.n += 2
    else:
        p = _room(w, 9)
        p[0] = 0x81
        _put64(p + 1, <uint64_t>x)
        w.n += 9
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_uint
cdef int _enc_uint(_W* w, object value) except -1:
    cdef uint64_t x
    cdef unsigned char* p
    if not _as_u64(value, &x) or x > _U32_MAX:
        return _put_buffer(w, _PACK_BI(0x70, value))  # raises struct.error, as on the pure path
    if x == 0:
        return _byte(w, 0x43)
    if x < 256:
        p = _room(w, 2)
        p[0] = 0x52
        p[1] = <unsigned char>x
        w.n += 2
    else:
        p = _room(w, 5)
        p[0] = 0x70
        _put32(p + 1, <uint32_t>x)
        w.n += 5
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_ulong
cdef int _enc_ulong(_W* w, object value) except -1:
    cdef uint64_t x
    cdef unsigned char* p
    if not _as_u64(value, &x):
        return _put_buffer(w, _PACK_BQ(0x80, value))  # raises, as on the pure path
    if x == 0:
        return _byte(w, 0x44)
    if x < 256:
        p = _room(w, 2)
        p[0] = 0x53
        p[1] = <unsigned char>x
        w.n += 2
    else:
        p = _room(w, 9)
        p[0] = 0x80
        _put64(p + 1, x)
        w.n += 9
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_ubyte and _enc_byte
cdef int _enc_small(_W* w, object value, bint signed) except -1:
    cdef int64_t x
    cdef unsigned char* p
    if signed:
        if not (_as_i64(value, &x) and -128 <= x <= 127):
            raise EncodeError(f"Byte out of range: {int(value)}")
    elif not (_as_i64(value, &x) and 0 <= x < 256):
        raise EncodeError(f"UByte out of range: {int(value)}")
    p = _room(w, 2)
    p[0] = 0x51 if signed else 0x50
    p[1] = <unsigned char>x
    w.n += 2
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_ushort, _enc_short and _enc_int
cdef int _enc_fixed_int(_W* w, object value, unsigned char code) except -1:
    cdef int64_t x
    cdef unsigned char* p
    cdef bint ok = _as_i64(value, &x)
    if code == 0x60:
        if not (ok and 0 <= x <= 0xFFFF):
            return _put_buffer(w, _PACK_BH(0x60, value))
        p = _room(w, 3)
        _put16(p + 1, <uint16_t>x)
        w.n += 3
    elif code == 0x61:
        if not (ok and -0x8000 <= x <= 0x7FFF):
            return _put_buffer(w, _PACK_Bh(0x61, value))
        p = _room(w, 3)
        _put16(p + 1, <uint16_t>x)
        w.n += 3
    else:  # 0x71 int, with smallint for [-128, 127]
        if ok and -128 <= x <= 127:
            p = _room(w, 2)
            p[0] = 0x54
            p[1] = <unsigned char>x
            w.n += 2
            return 0
        if not (ok and -0x80000000 <= x <= 0x7FFFFFFF):
            return _put_buffer(w, _PACK_Bi(0x71, value))
        p = _room(w, 5)
        _put32(p + 1, <uint32_t>x)
        w.n += 5
    p[0] = code
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_timestamp (and _enc_decimal32 / _enc_decimal64)
cdef int _enc_word(_W* w, object value, unsigned char code) except -1:
    cdef int64_t x
    cdef uint64_t u
    cdef unsigned char* p
    if code == 0x83:
        if not _as_i64(value, &x):
            return _put_buffer(w, _PACK_Bq(0x83, value))
        u = <uint64_t>x
    elif code == 0x74:
        if not _as_u64(value, &u) or u > _U32_MAX:
            return _put_buffer(w, _PACK_BI(0x74, value))
        p = _room(w, 5)
        p[0] = 0x74
        _put32(p + 1, <uint32_t>u)
        w.n += 5
        return 0
    else:  # 0x84
        if not _as_u64(value, &u):
            return _put_buffer(w, _PACK_BQ(0x84, value))
    p = _room(w, 9)
    p[0] = code
    _put64(p + 1, u)
    w.n += 9
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_float and _enc_double
cdef int _enc_real(_W* w, object value, bint single) except -1:
    cdef unsigned char* p
    cdef double x = PyFloat_AS_DOUBLE(value) if PyFloat_Check(value) else float(value)
    if single:
        p = _room(w, 5)
        amqp10_pack4(x, p + 1)  # OverflowError as struct's '>f' raises it
        p[0] = 0x72
        w.n += 5
    else:
        p = _room(w, 9)
        amqp10_pack8(x, p + 1)
        p[0] = 0x82
        w.n += 9
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_char
cdef int _enc_char(_W* w, object value) except -1:
    cdef unsigned char* p
    if len(value) != 1:
        raise EncodeError(f"Char must be one character, got {str(value)!r}")
    p = _room(w, 5)
    p[0] = 0x73
    _put32(p + 1, <uint32_t>ord(value))
    w.n += 5
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_str
cdef int _enc_str(_W* w, object value) except -1:
    cdef const char* data
    cdef Py_ssize_t n
    cdef unsigned char* p
    try:
        if PyUnicode_CheckExact(value):
            data = PyUnicode_AsUTF8AndSize(value, &n)
            raw = None
        else:
            raw = value.encode("utf-8")  # a subclass: exactly what the pure path calls
            data = PyBytes_AS_STRING(raw)
            n = PyBytes_GET_SIZE(raw)
    except UnicodeEncodeError as exc:
        raise EncodeError(f"str is not encodable as UTF-8 ({exc.reason} at {exc.start})") from None
    if n < 256:
        p = _room(w, 2 + n)
        p[0] = 0xA1
        p[1] = <unsigned char>n
        memcpy(p + 2, data, n)
        w.n += 2 + n
    elif <uint64_t>n <= _U32_MAX:
        p = _room(w, 5 + n)
        p[0] = 0xB1
        _put32(p + 1, <uint32_t>n)
        memcpy(p + 5, data, n)
        w.n += 5 + n
    else:
        raise EncodeError(f"str of {n} UTF-8 bytes is over the 2**32-1 limit of str32")
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_symbol
cdef int _enc_symbol(_W* w, object value) except -1:
    cdef const char* data
    cdef Py_ssize_t n
    cdef unsigned char* p
    cdef object t = type(value)
    if t is _Symbol or t is str:
        if not PyUnicode_IS_ASCII(value):
            raise EncodeError(f"Symbol must be ASCII, got {str(value)!r}")
        data = PyUnicode_AsUTF8AndSize(value, &n)  # ASCII: the string's own bytes
        raw = None
    else:
        try:
            raw = value.encode("ascii")
        except UnicodeEncodeError:
            raise EncodeError(f"Symbol must be ASCII, got {str(value)!r}") from None
        data = PyBytes_AS_STRING(raw)
        n = PyBytes_GET_SIZE(raw)
    if n < 256:
        p = _room(w, 2 + n)
        p[0] = 0xA3
        p[1] = <unsigned char>n
        memcpy(p + 2, data, n)
        w.n += 2 + n
    elif <uint64_t>n <= _U32_MAX:
        p = _room(w, 5 + n)
        p[0] = 0xB3
        _put32(p + 1, <uint32_t>n)
        memcpy(p + 5, data, n)
        w.n += 5 + n
    else:
        raise EncodeError(f"Symbol of {n} bytes is over the 2**32-1 limit of sym32")
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_binary
cdef int _enc_binary(_W* w, object value) except -1:
    cdef Py_buffer view
    cdef unsigned char* p
    cdef Py_ssize_t n
    PyObject_GetBuffer(value, &view, PyBUF_SIMPLE)
    try:
        n = view.len
        if n < 256:
            p = _room(w, 2 + n)
            p[0] = 0xA0
            p[1] = <unsigned char>n
            memcpy(p + 2, view.buf, n)
            w.n += 2 + n
        elif <uint64_t>n <= _U32_MAX:
            p = _room(w, 5 + n)
            p[0] = 0xB0
            _put32(p + 1, <uint32_t>n)
            memcpy(p + 5, view.buf, n)
            w.n += 5 + n
        else:
            raise EncodeError(f"binary of {n} bytes is over the 2**32-1 limit of vbin32")
    finally:
        PyBuffer_Release(&view)
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_uuid
cdef int _enc_uuid(_W* w, object value) except -1:
    _byte(w, 0x98)
    return _put_buffer(w, value.bytes)


# mirrors codec/_pure_encode_scalars.py:_enc_decimal128
cdef int _enc_decimal128(_W* w, object value) except -1:
    data = int(value).to_bytes(16, "big")  # OverflowError out of range, as on the pure path
    _byte(w, 0x94)
    return _put_buffer(w, data)
