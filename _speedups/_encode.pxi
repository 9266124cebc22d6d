# Included by _codec.pyx: the encoder, values -> bytes. Mirrors codec/_pure_encode.py (the
# scalar encoders, mirroring codec/_pure_encode_scalars.py, are in _encode_scalars.pxi, and the
# arrays in _encode_array.pxi).
#
# Layout: ``_W`` is a write cursor over the caller's bytearray. While a call runs, the
# bytearray is grown by doubling (its visible size is the capacity) and written through a C
# pointer; when the call ends it is cut back to what was written, or, on any error, to what it
# held before (the pure path's "a failed call leaves ``out`` as it was"). Nothing else may
# touch that bytearray during the call: no Python code here is given it.
#
# Dispatch: a C switch on a small "kind" number. Exact builtin and wrapper types are found by
# pointer comparison; any other type is resolved once, exactly as _pure_encode._resolve does
# (composites first, then the MRO), and cached. Arrays resolve their element type the same way.

cdef struct _W:
    PyObject* ba
    unsigned char* p
    Py_ssize_t n
    Py_ssize_t cap
    int nest                  # compound levels entered (see _enter in _codec.pyx)


cdef inline int _w_open(_W* w, object out, int nest=0) except -1:
    if not PyByteArray_Check(out):
        raise TypeError(f"out must be a bytearray, not {type(out).__name__}")
    w.ba = <PyObject*>out
    w.n = w.cap = PyByteArray_GET_SIZE(out)
    w.p = <unsigned char*>PyByteArray_AS_STRING(out)
    w.nest = nest
    return 0


cdef inline int _w_close(_W* w) except -1:
    if w.cap != w.n:
        PyByteArray_Resize(<object>w.ba, w.n)
        w.cap = w.n
    return 0


cdef int _grow(_W* w, Py_ssize_t need) except -1:
    cdef Py_ssize_t cap = w.cap * 2
    if cap < w.n + need:
        cap = w.n + need
    if cap < 256:
        cap = 256
    PyByteArray_Resize(<object>w.ba, cap)
    w.p = <unsigned char*>PyByteArray_AS_STRING(<object>w.ba)
    w.cap = cap
    return 0


cdef inline unsigned char* _room(_W* w, Py_ssize_t need) except NULL:
    """A pointer to ``need`` writable bytes at the end; the caller then adds ``need`` to n."""
    if w.n + need > w.cap:
        _grow(w, need)
    return w.p + w.n


cdef inline int _byte(_W* w, unsigned char b) except -1:
    _room(w, 1)[0] = b
    w.n += 1
    return 0


cdef inline int _put(_W* w, const void* data, Py_ssize_t n) except -1:
    if n:
        memcpy(_room(w, n), data, n)
        w.n += n
    return 0


cdef int _put_buffer(_W* w, object data) except -1:
    """Append any bytes-like object (the pure path's ``out += data``)."""
    cdef Py_buffer view
    if PyBytes_CheckExact(data):
        return _put(w, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        _put(w, view.buf, view.len)
    finally:
        PyBuffer_Release(&view)
    return 0


# The pure path's struct packers (codec/_pure_encode_scalars.py). The compiled path writes in C; it calls these only when a
# value is out of range for its format (a wrapper built with int.__new__ around its check), so
# that the struct.error or OverflowError, and so the EncodeError message, is the same one.
cdef object _PACK_BH = _struct.Struct(">BH").pack
cdef object _PACK_Bh = _struct.Struct(">Bh").pack
cdef object _PACK_BI = _struct.Struct(">BI").pack
cdef object _PACK_Bi = _struct.Struct(">Bi").pack
cdef object _PACK_BQ = _struct.Struct(">BQ").pack
cdef object _PACK_Bq = _struct.Struct(">Bq").pack
cdef object _PACK_BBQ = _struct.Struct(">BBQ").pack

cdef tuple _DESCRIBED_SMALL = tuple([bytes((0x00, 0x53, i)) for i in range(256)])

cdef uint64_t _U32_MAX = 0xFFFFFFFF
_U64_MAX = (1 << 64) - 1
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1


# mirrors codec/_pure_encode_scalars.py:_type_name
def _type_name(value):
    tp = type(value)
    return tp.__qualname__ if tp.__module__ == "builtins" else f"{tp.__module__}.{tp.__qualname__}"


cdef int _as_i64(object v, int64_t* out) except -1:
    """1 and ``out`` set if int ``v`` fits a signed 64-bit integer, else 0."""
    cdef int overflow = 0
    cdef long long x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow:
        return 0
    out[0] = x
    return 1


cdef int _as_u64(object v, uint64_t* out) except -1:
    """1 and ``out`` set if int ``v`` is in [0, 2**64 - 1], else 0."""
    cdef int overflow = 0
    cdef long long x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow == 0:
        if x < 0:
            return 0
        out[0] = <uint64_t>x
        return 1
    if overflow < 0:
        return 0
    try:
        out[0] = PyLong_AsUnsignedLongLong(v)
    except OverflowError:
        return 0
    return 1


# --- kinds --------------------------------------------------------------------------------------

cdef enum:
    K_NULL = 1
    K_BOOL
    K_LONG
    K_DOUBLE
    K_STR
    K_BINARY
    K_MEMORYVIEW
    K_LIST
    K_MAP
    K_UUID
    K_DATETIME
    K_UBYTE
    K_USHORT
    K_UINT
    K_ULONG
    K_BYTE
    K_SHORT
    K_INT
    K_FLOAT
    K_CHAR
    K_TIMESTAMP
    K_SYMBOL
    K_DEC32
    K_DEC64
    K_DEC128
    K_DESCRIBED
    K_ARRAY
    K_COMPOSITE

# mirrors codec/_pure_encode.py:_ENCODERS (the same keys, each to the kind of its encoder)
cdef dict _KINDS = {
    type(None): K_NULL,
    bool: K_BOOL,
    int: K_LONG,
    Long: K_LONG,
    float: K_DOUBLE,
    str: K_STR,
    bytes: K_BINARY,
    bytearray: K_BINARY,
    memoryview: K_MEMORYVIEW,
    list: K_LIST,
    tuple: K_LIST,  # encode only: decoding gives a list
    dict: K_MAP,
    _uuid.UUID: K_UUID,
    _dt.datetime: K_DATETIME,  # encode only: decoding gives a Timestamp
    UByte: K_UBYTE,
    UShort: K_USHORT,
    UInt: K_UINT,
    ULong: K_ULONG,
    Byte: K_BYTE,
    Short: K_SHORT,
    Int: K_INT,
    Float: K_FLOAT,
    Char: K_CHAR,
    Timestamp: K_TIMESTAMP,
    Symbol: K_SYMBOL,
    Decimal32: K_DEC32,
    Decimal64: K_DEC64,
    Decimal128: K_DEC128,
    Described: K_DESCRIBED,
    Array: K_ARRAY,
}


# mirrors codec/_pure_encode.py:_resolve
cdef int _resolve(object tp) except -1:
    cdef int kind = 0
    if getattr(tp, "_amqp_code_", None) is not None and hasattr(tp, "_amqp_fields_"):
        kind = K_COMPOSITE
    else:
        for base in tp.__mro__[1:]:
            hit = _KINDS.get(base)
            if hit is not None:
                kind = hit
                break
    if kind == 0:
        raise EncodeError(
            f"cannot encode a {tp.__module__}.{tp.__qualname__} as AMQP; use a plain Python "
            "value or a wrapper from amqp10.codec.types"
        )
    _KINDS[tp] = kind
    return kind


cdef inline int _kind(object v) except -1:
    cdef object t = type(v)
    cdef PyObject* hit
    # The commonest types first, by pointer; then the table; then the one-off resolution.
    if t is str:
        return K_STR
    if t is int:
        return K_LONG
    if t is _Symbol:
        return K_SYMBOL
    if v is None:
        return K_NULL
    if t is bool:
        return K_BOOL
    if t is list:
        return K_LIST
    if t is dict:
        return K_MAP
    hit = PyDict_GetItem(_KINDS, t)
    if hit != NULL:
        return <int><long>(<object>hit)
    return _resolve(t)


# --- compound ---------------------------------------------------------------------------------

# mirrors codec/_pure_encode.py:_enc_list
cdef int _enc_list(_W* w, object value) except -1:
    cdef Py_ssize_t n = len(value)
    cdef Py_ssize_t start, body, i
    cdef unsigned char* p
    if n == 0:
        return _byte(w, 0x45)  # list0
    # Reserve a list8 header, encode in place, then patch it, widening to list32 (a memmove of
    # the body) only for big lists: small lists are the common case and cost no copy.
    start = w.n
    p = _room(w, 3)
    p[0] = 0xC0
    w.n += 3
    _enter(&w.nest, " while encoding an AMQP list")
    try:
        if PyList_CheckExact(value):
            i = 0
            while i < PyList_GET_SIZE(value):
                _enc(w, <object>PyList_GET_ITEM(value, i))
                i += 1
        elif PyTuple_CheckExact(value):
            for i in range(PyTuple_GET_SIZE(value)):
                _enc(w, <object>PyTuple_GET_ITEM(value, i))
        else:
            for item in value:
                _enc(w, item)
    finally:
        _leave(&w.nest)
    body = w.n - start - 3
    if body < 255 and n < 256:
        w.p[start + 1] = <unsigned char>(body + 1)
        w.p[start + 2] = <unsigned char>n
    elif <uint64_t>(body + 4) <= _U32_MAX and <uint64_t>n <= _U32_MAX:
        _room(w, 6)
        p = w.p + start
        memmove(p + 9, p + 3, body)
        p[0] = 0xD0
        _put32(p + 1, <uint32_t>(body + 4))
        _put32(p + 5, <uint32_t>n)
        w.n += 6
    else:
        raise EncodeError(f"list of {n} elements ({body} bytes) is over the list32 limits")
    return 0


# mirrors codec/_pure_encode.py:_enc_map
cdef int _enc_map(_W* w, object value) except -1:
    cdef Py_ssize_t count = 2 * len(value)
    cdef Py_ssize_t start, body, i = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef unsigned char* p
    start = w.n
    p = _room(w, 3)
    p[0] = 0xC1
    w.n += 3
    _enter(&w.nest, " while encoding an AMQP map")
    try:
        if PyDict_CheckExact(value):
            while PyDict_Next(value, &i, &k, &v):
                key = <object>k  # hold references while encoding runs arbitrary code
                item = <object>v
                _enc(w, key)
                _enc(w, item)
        else:
            for key, item in value.items():
                _enc(w, key)
                _enc(w, item)
    finally:
        _leave(&w.nest)
    body = w.n - start - 3
    if body < 255 and count < 256:
        w.p[start + 1] = <unsigned char>(body + 1)
        w.p[start + 2] = <unsigned char>count
    elif <uint64_t>(body + 4) <= _U32_MAX and <uint64_t>count <= _U32_MAX:
        _room(w, 6)
        p = w.p + start
        memmove(p + 9, p + 3, body)
        p[0] = 0xD1
        _put32(p + 1, <uint32_t>(body + 4))
        _put32(p + 5, <uint32_t>count)
        w.n += 6
    else:
        raise EncodeError(f"map of {count // 2} entries ({body} bytes) is over the map32 limits")
    return 0


# mirrors codec/_pure_encode_scalars.py:_enc_descriptor
cdef int _enc_descriptor(_W* w, object descriptor) except -1:
    if isinstance(descriptor, int) and not isinstance(descriptor, bool):
        if not 0 <= descriptor <= _U64_MAX:
            raise EncodeError(f"descriptor {int(descriptor)} does not fit a ulong")
        return _enc_ulong(w, descriptor)
    if isinstance(descriptor, str):
        return _enc_symbol(w, descriptor)
    # 1.5: descriptors other than ulong and symbol are reserved.
    raise EncodeError(f"descriptor must be a ULong or a Symbol, got {_type_name(descriptor)}")


# mirrors codec/_pure_encode.py:_enc_described
cdef int _enc_described(_W* w, object value) except -1:
    _byte(w, 0x00)
    _enc_descriptor(w, value.descriptor)
    inner = value.value
    _enter(&w.nest, " while encoding an AMQP described value")
    try:
        _enc(w, inner)
    finally:
        _leave(&w.nest)
    return 0


# mirrors codec/_pure_encode.py:_described_list
cdef int _described_list(_W* w, object code, object fields) except -1:
    cdef uint64_t c
    cdef unsigned char* p
    if PyLong_Check(code):
        if not _as_u64(code, &c):
            raise EncodeError(f"descriptor code {code} does not fit a ulong")
        if c < 256:
            p = _room(w, 3)
            p[0] = 0x00
            p[1] = 0x53
            p[2] = <unsigned char>c
            w.n += 3
        else:
            p = _room(w, 10)
            p[0] = 0x00
            p[1] = 0x80
            _put64(p + 2, c)
            w.n += 10
    elif 0 <= code < 256:  # not an int: whatever the pure path's comparisons make of it
        _put_buffer(w, _DESCRIBED_SMALL[code])
    elif 0 <= code <= _U64_MAX:
        _put_buffer(w, _PACK_BBQ(0x00, 0x80, code))
    else:
        raise EncodeError(f"descriptor code {code} does not fit a ulong")
    if not isinstance(fields, list):
        raise EncodeError(f"composite fields must be a list, got {_type_name(fields)}")
    return _enc_list(w, fields)


# mirrors codec/_pure_encode.py:_enc_composite
cdef int _enc_composite(_W* w, object value) except -1:
    return _described_list(w, type(value)._amqp_code_, value._amqp_fields_())


# --- the dispatcher -----------------------------------------------------------------------------

cdef int _enc(_W* w, object v) except -1:
    cdef int kind = _kind(v)
    if kind == K_STR:
        return _enc_str(w, v)
    elif kind == K_LONG:
        return _enc_long(w, v)
    elif kind == K_SYMBOL:
        return _enc_symbol(w, v)
    elif kind == K_NULL:
        return _byte(w, 0x40)
    elif kind == K_BOOL:
        return _byte(w, 0x41 if v else 0x42)
    elif kind == K_LIST:
        return _enc_list(w, v)
    elif kind == K_MAP:
        return _enc_map(w, v)
    elif kind == K_UINT:
        return _enc_uint(w, v)
    elif kind == K_ULONG:
        return _enc_ulong(w, v)
    elif kind == K_TIMESTAMP:
        return _enc_word(w, v, 0x83)
    elif kind == K_DOUBLE:
        return _enc_real(w, v, False)
    elif kind == K_FLOAT:
        return _enc_real(w, v, True)
    elif kind == K_BINARY:
        return _enc_binary(w, v)
    elif kind == K_MEMORYVIEW:  # mirrors codec/_pure_encode_scalars.py:_enc_memoryview
        # len() of a memoryview counts items, not bytes; a non-contiguous view must be copied.
        return _enc_binary(w, v.cast("B") if v.c_contiguous else v.tobytes())
    elif kind == K_UBYTE:
        return _enc_small(w, v, False)
    elif kind == K_BYTE:
        return _enc_small(w, v, True)
    elif kind == K_USHORT:
        return _enc_fixed_int(w, v, 0x60)
    elif kind == K_SHORT:
        return _enc_fixed_int(w, v, 0x61)
    elif kind == K_INT:
        return _enc_fixed_int(w, v, 0x71)
    elif kind == K_CHAR:
        return _enc_char(w, v)
    elif kind == K_DEC32:
        return _enc_word(w, v, 0x74)
    elif kind == K_DEC64:
        return _enc_word(w, v, 0x84)
    elif kind == K_DEC128:
        return _enc_decimal128(w, v)
    elif kind == K_UUID:
        return _enc_uuid(w, v)
    elif kind == K_DATETIME:  # mirrors codec/_pure_encode_scalars.py:_enc_datetime
        return _enc_word(w, _Timestamp.from_datetime(v), 0x83)
    elif kind == K_DESCRIBED:
        return _enc_described(w, v)
    elif kind == K_ARRAY:
        return _enc_array(w, v)
    elif kind == K_COMPOSITE:
        return _enc_composite(w, v)
    raise AssertionError(f"amqp10._speedups: no encoder for kind {kind}")  # pragma: no cover


include "_encode_array.pxi"


# --- public entry points ----------------------------------------------------------------------

cdef object _encode_failed(object out, Py_ssize_t start, BaseException exc):
    """The pure path's cleanup: restore ``out`` and say what went wrong as an EncodeError."""
    del out[start:]
    if isinstance(exc, EncodeError):
        return None
    if isinstance(exc, RecursionError):
        return EncodeError("value nests too deeply to encode (or contains itself)")
    if isinstance(exc, (_struct.error, OverflowError)):
        # Only a wrapper built around its range check (int.__new__) gets here.
        return EncodeError(f"value out of range for its AMQP type: {exc}")
    return None


# mirrors codec/_pure_encode.py:encode_value
def encode_value(out, value):
    """Append the smallest AMQP encoding of ``value`` to the bytearray ``out``.

    Compiled twin of ``amqp10.codec._pure_encode.encode_value``: same bytes, same
    ``EncodeError`` messages, and ``out`` left as it was when the call fails.
    """
    cdef _W w
    cdef Py_ssize_t start = len(out)
    try:
        _w_open(&w, out)
        try:
            _enc(&w, value)
        finally:
            _w_close(&w)
    except BaseException as exc:
        replacement = _encode_failed(out, start, exc)
        if replacement is None:
            raise
        raise replacement from None


# mirrors codec/_pure_encode.py:encode_described_list
def encode_described_list(out, code, fields):
    """Append a described list: 0x00, ``code`` as smallulong/ulong, then ``fields`` as the
    smallest list encoding.

    Compiled twin of ``amqp10.codec._pure_encode.encode_described_list``.
    """
    cdef _W w
    cdef Py_ssize_t start = len(out)
    try:
        _w_open(&w, out)
        try:
            _described_list(&w, code, fields)
        finally:
            _w_close(&w)
    except BaseException as exc:
        replacement = _encode_failed(out, start, exc)
        if replacement is None:
            raise
        raise replacement from None
