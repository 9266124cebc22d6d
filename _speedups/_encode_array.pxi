# Included by _encode.pxi: arrays, values -> bytes. Mirrors the "arrays" part of
# codec/_pure_encode.py (``_array_payload``, ``_ARRAY_WRITERS`` and the ``_arr_*`` writers).
#
# As on the pure path, a writer first checks every element, then writes the one element
# constructor that fits them all (smallest width first) and the element bodies; the checks run
# in the same order and passes as there, so the first bad element named is the same one.

cdef enum:
    A_NULL = 1
    A_BOOL
    A_UBYTE
    A_USHORT
    A_UINT
    A_ULONG
    A_BYTE
    A_SHORT
    A_INT
    A_LONG
    A_FLOAT
    A_DOUBLE
    A_DEC32
    A_DEC64
    A_DEC128
    A_CHAR
    A_TIMESTAMP
    A_UUID
    A_BINARY
    A_STR
    A_SYMBOL
    A_LIST
    A_MAP
    A_ARRAY
    A_DESCRIBED
    A_COMPOSITE

cdef int64_t _I64_MAX = 0x7FFFFFFFFFFFFFFF
cdef int64_t _I64_MIN = -_I64_MAX - 1

# mirrors codec/_pure_encode.py:_ARRAY_WRITERS (the same keys, each to the kind of its writer)
cdef dict _AKINDS = {
    type(None): A_NULL,
    bool: A_BOOL,
    UByte: A_UBYTE,
    UShort: A_USHORT,
    UInt: A_UINT,
    ULong: A_ULONG,
    Byte: A_BYTE,
    Short: A_SHORT,
    Int: A_INT,
    int: A_LONG,
    Long: A_LONG,
    Float: A_FLOAT,
    float: A_DOUBLE,
    Decimal32: A_DEC32,
    Decimal64: A_DEC64,
    Decimal128: A_DEC128,
    Char: A_CHAR,
    Timestamp: A_TIMESTAMP,
    _dt.datetime: A_TIMESTAMP,
    _uuid.UUID: A_UUID,
    bytes: A_BINARY,
    bytearray: A_BINARY,
    memoryview: A_BINARY,
    str: A_STR,
    Symbol: A_SYMBOL,
    list: A_LIST,
    tuple: A_LIST,
    dict: A_MAP,
    Array: A_ARRAY,
    Described: A_DESCRIBED,
}


# mirrors codec/_pure_encode.py:_resolve_array_writer
cdef int _resolve_array(object tp) except -1:
    cdef int kind = 0
    if isinstance(tp, type):
        if getattr(tp, "_amqp_code_", None) is not None and hasattr(tp, "_amqp_fields_"):
            kind = A_COMPOSITE
        else:
            for base in tp.__mro__[1:]:
                hit = _AKINDS.get(base)
                if hit is not None:
                    kind = hit
                    break
    if kind == 0:
        raise EncodeError(f"Array element_type {tp!r} is not an AMQP type")
    _AKINDS[tp] = kind
    return kind


cdef int _array_kind(object tp) except -1:
    hit = _AKINDS.get(tp)  # dict.get: an unhashable element_type fails as on the pure path
    if hit is not None:
        return hit
    return _resolve_array(tp)


# mirrors codec/_pure_encode.py:_bad_element
cdef object _bad_element(str kind, object value):
    return EncodeError(f"Array({kind}) element {value!r} ({_type_name(value)}) is not a {kind}")


# mirrors codec/_pure_encode.py:_check_ints. Returns 1 if every element lies in
# [small_lo, small_hi], else 0: the pure path's ``low``/``high`` tests (which start from 0) ask
# exactly that, for [0, 255] (smalluint/smallulong) or [-128, 127] (smallint/smalllong).
# ``unsigned`` is for ULong only, whose range is all of [0, 2**64 - 1].
cdef int _check_ints(list items, str kind, object lo, object hi, bint unsigned,
                     int64_t lo_c, int64_t hi_c, int64_t small_lo, int64_t small_hi) except -1:
    cdef bint small = True
    cdef int64_t i
    cdef uint64_t u
    for x in items:
        if not PyLong_Check(x) or PyBool_Check(x):
            raise _bad_element(kind, x)
        if unsigned:
            if not _as_u64(x, &u):
                raise EncodeError(f"Array({kind}) element {int(x)} is out of range [{lo}, {hi}]")
            if u > <uint64_t>small_hi:
                small = False
        else:
            if not _as_i64(x, &i) or i < lo_c or i > hi_c:
                raise EncodeError(f"Array({kind}) element {int(x)} is out of range [{lo}, {hi}]")
            if i < small_lo or i > small_hi:
                small = False
    return small


cdef inline int64_t _i64(object x) except? -1:
    cdef int64_t i = 0
    _as_i64(x, &i)
    return i


cdef inline uint64_t _ui64(object x) except? 0xFFFFFFFFFFFFFFFF:
    cdef uint64_t u = 0
    _as_u64(x, &u)
    return u


# Write each (already checked) int element as ``width`` big-endian bytes.
cdef int _write_ints(_W* w, list items, int width, bint unsigned) except -1:
    cdef Py_ssize_t n = len(items), k
    cdef unsigned char* p = _room(w, n * width)
    cdef uint64_t v
    for k in range(n):
        x = items[k]
        v = _ui64(x) if unsigned else <uint64_t>_i64(x)
        if width == 1:
            p[k] = <unsigned char>v
        elif width == 2:
            _put16(p + 2 * k, <uint16_t>v)
        elif width == 4:
            _put32(p + 4 * k, <uint32_t>v)
        else:
            _put64(p + 8 * k, v)
    w.n += n * width
    return 0


# mirrors codec/_pure_encode.py:_reals
cdef list _reals(list items, str kind):
    for x in items:
        if not (PyLong_Check(x) or PyFloat_Check(x)) or PyBool_Check(x):
            raise _bad_element(kind, x)
    return [float(x) for x in items]


# mirrors codec/_pure_encode.py:_decimal_bits
cdef list _decimal_bits(list items, object cls):
    bits = []
    for x in items:
        if isinstance(x, _Decimal):
            bits.append(int(cls.from_decimal(x)))
        elif isinstance(x, cls):
            bits.append(int(x))
        else:
            raise _bad_element(cls.__name__, x)
    return bits


cdef inline Py_ssize_t _chunk_len(object c) except -1:
    return len(c)


cdef int _put_chunk(_W* w, object c) except -1:
    cdef const char* data
    cdef Py_ssize_t n
    if PyUnicode_Check(c):  # an ASCII symbol kept as text: its bytes are its characters
        data = PyUnicode_AsUTF8AndSize(c, &n)
        return _put(w, data, n)
    return _put_buffer(w, c)


# mirrors codec/_pure_encode.py:_arr_sized
cdef int _arr_sized(_W* w, list chunks, unsigned char code8, unsigned char code32) except -1:
    cdef Py_ssize_t n
    cdef bint all8 = True
    for c in chunks:
        if _chunk_len(c) >= 256:
            all8 = False
            break
    if all8:
        _byte(w, code8)
        for c in chunks:
            _byte(w, <unsigned char>_chunk_len(c))
            _put_chunk(w, c)
    else:
        _byte(w, code32)
        for c in chunks:
            n = _chunk_len(c)
            if <uint64_t>n > _U32_MAX:
                raise EncodeError(f"array element of {n} bytes is over the 2**32-1 limit")
            _put32(_room(w, 4), <uint32_t>n)
            w.n += 4
            _put_chunk(w, c)
    return 0


# mirrors codec/_pure_encode.py:_arr_compound
cdef int _arr_compound(_W* w, list bodies, unsigned char code8, unsigned char code32) except -1:
    cdef Py_ssize_t n, size
    cdef bint all8 = True
    cdef unsigned char* p
    for n, b in bodies:
        if not (n < 256 and len(b) < 255):
            all8 = False
            break
    if all8:
        _byte(w, code8)
        for n, b in bodies:
            p = _room(w, 2)
            p[0] = <unsigned char>(len(b) + 1)
            p[1] = <unsigned char>n
            w.n += 2
            _put_buffer(w, b)
    else:
        _byte(w, code32)
        for n, b in bodies:
            size = len(b)
            if <uint64_t>(size + 4) > _U32_MAX or <uint64_t>n > _U32_MAX:
                raise EncodeError(f"array element of {n} items is over the 32-bit limits")
            p = _room(w, 8)
            _put32(p, <uint32_t>(size + 4))
            _put32(p + 4, <uint32_t>n)
            w.n += 8
            _put_buffer(w, b)
    return 0


# mirrors codec/_pure_encode.py:_list_body
cdef object _enc_list_body(object items, int nest):
    cdef _W bw
    body = bytearray()
    _w_open(&bw, body, nest)
    _enter(&bw.nest, " while encoding an AMQP array")
    try:
        for item in items:
            _enc(&bw, item)
    finally:
        _leave(&bw.nest)
        _w_close(&bw)
    return (len(items), body)


# mirrors codec/_pure_encode.py:_array_payload
cdef object _array_payload(object arr, int nest):
    cdef _W pw
    cdef int kind
    if not isinstance(arr, _Array):
        raise EncodeError(f"an array element must be an Array, got {_type_name(arr)}")
    element_type = arr.element_type
    kind = _array_kind(element_type)
    if arr.descriptor is not None and kind != A_DESCRIBED:
        raise EncodeError(
            f"Array({getattr(element_type, '__name__', element_type)}) cannot have a descriptor;"
            " only Array(Described, ...) takes one"
        )
    payload = bytearray()
    _w_open(&pw, payload, nest)
    _enter(&pw.nest, " while encoding an AMQP array")
    try:
        _arr_write(&pw, kind, element_type, arr.descriptor, list(arr))
    finally:
        _leave(&pw.nest)
        _w_close(&pw)
    return (len(arr), payload)


# mirrors codec/_pure_encode.py:_array_header
cdef int _array_header(_W* w, Py_ssize_t count, Py_ssize_t payload_len) except -1:
    cdef unsigned char* p
    if payload_len < 255 and count < 256:
        p = _room(w, 3)
        p[0] = 0xE0
        p[1] = <unsigned char>(payload_len + 1)
        p[2] = <unsigned char>count
        w.n += 3
    elif <uint64_t>(payload_len + 4) <= _U32_MAX and <uint64_t>count <= _U32_MAX:
        p = _room(w, 9)
        p[0] = 0xF0
        _put32(p + 1, <uint32_t>(payload_len + 4))
        _put32(p + 5, <uint32_t>count)
        w.n += 9
    else:
        raise EncodeError(f"array of {count} elements is over the array32 limits")
    return 0


# mirrors codec/_pure_encode.py:_enc_array
cdef int _enc_array(_W* w, object value) except -1:
    count, payload = _array_payload(value, w.nest)
    _array_header(w, count, len(payload))
    return _put_buffer(w, payload)


# The writers, one per element kind; each mirrors codec/_pure_encode.py:_arr_<kind>.
cdef int _arr_write(_W* w, int kind, object element_type, object descriptor, list items) except -1:
    cdef bint small
    cdef unsigned char* p
    cdef Py_ssize_t k
    if kind == A_NULL:  # mirrors _arr_null
        for x in items:
            if x is not None:
                raise _bad_element("null", x)
        return _byte(w, 0x40)
    if kind == A_BOOL:  # mirrors _arr_bool
        for x in items:
            if not PyBool_Check(x):
                raise _bad_element("bool", x)
        _byte(w, 0x56)
        p = _room(w, len(items))
        for k in range(len(items)):
            p[k] = 1 if items[k] is True else 0
        w.n += len(items)
        return 0
    if kind == A_UBYTE:  # mirrors _arr_ubyte
        _check_ints(items, "UByte", 0, 255, False, 0, 255, 0, 255)
        _byte(w, 0x50)
        return _write_ints(w, items, 1, False)
    if kind == A_BYTE:  # mirrors _arr_byte
        _check_ints(items, "Byte", -128, 127, False, -128, 127, -128, 127)
        _byte(w, 0x51)
        return _write_ints(w, items, 1, False)
    if kind == A_USHORT:  # mirrors _arr_ushort
        _check_ints(items, "UShort", 0, 0xFFFF, False, 0, 0xFFFF, 0, 255)
        _byte(w, 0x60)
        return _write_ints(w, items, 2, False)
    if kind == A_SHORT:  # mirrors _arr_short
        _check_ints(items, "Short", -0x8000, 0x7FFF, False, -0x8000, 0x7FFF, -128, 127)
        _byte(w, 0x61)
        return _write_ints(w, items, 2, False)
    if kind == A_UINT:  # mirrors _arr_uint
        small = _check_ints(items, "UInt", 0, 0xFFFFFFFF, False, 0, 0xFFFFFFFF, 0, 255)
        if small:
            _byte(w, 0x52)
            return _write_ints(w, items, 1, False)
        _byte(w, 0x70)
        return _write_ints(w, items, 4, False)
    if kind == A_ULONG:  # mirrors _arr_ulong
        small = _check_ints(items, "ULong", 0, _U64_MAX, True, 0, 0, 0, 255)
        if small:
            _byte(w, 0x53)
            return _write_ints(w, items, 1, True)
        _byte(w, 0x80)
        return _write_ints(w, items, 8, True)
    if kind == A_INT:  # mirrors _arr_int
        small = _check_ints(items, "Int", -(1 << 31), (1 << 31) - 1, False,
                            -0x80000000, 0x7FFFFFFF, -128, 127)
        _byte(w, 0x54 if small else 0x71)
        return _write_ints(w, items, 1 if small else 4, False)
    if kind == A_LONG:  # mirrors _arr_long
        small = _check_ints(items, "long", _LONG_MIN, _LONG_MAX, False,
                            _I64_MIN, _I64_MAX, -128, 127)
        _byte(w, 0x55 if small else 0x81)
        return _write_ints(w, items, 1 if small else 8, False)
    if kind == A_FLOAT:  # mirrors _arr_float: Float() refuses values beyond binary32
        values = [_Float(x) for x in _reals(items, "Float")]
        _byte(w, 0x72)
        p = _room(w, 4 * len(values))
        for k in range(len(values)):
            amqp10_pack4(PyFloat_AS_DOUBLE(values[k]), p + 4 * k)
        w.n += 4 * len(values)
        return 0
    if kind == A_DOUBLE:  # mirrors _arr_double
        values = _reals(items, "float")
        _byte(w, 0x82)
        p = _room(w, 8 * len(values))
        for k in range(len(values)):
            amqp10_pack8(PyFloat_AS_DOUBLE(values[k]), p + 8 * k)
        w.n += 8 * len(values)
        return 0
    if kind == A_CHAR:  # mirrors _arr_char: Char() refuses anything but one scalar value
        for x in items:
            if not PyUnicode_Check(x):
                raise _bad_element("Char", x)
        points = [ord(_Char(x)) for x in items]
        _byte(w, 0x73)
        return _write_ints(w, points, 4, False)
    if kind == A_TIMESTAMP:  # mirrors _arr_timestamp
        values = [_Timestamp.from_datetime(x) if isinstance(x, _datetime) else x for x in items]
        _check_ints(values, "Timestamp", _LONG_MIN, _LONG_MAX, False,
                    _I64_MIN, _I64_MAX, -128, 127)
        _byte(w, 0x83)
        return _write_ints(w, values, 8, False)
    if kind == A_DEC32:  # mirrors _arr_decimal32
        bits = _decimal_bits(items, _Decimal32)
        _fits_or_struct_error(bits, "I", 32)
        _byte(w, 0x74)
        return _write_ints(w, bits, 4, True)
    if kind == A_DEC64:  # mirrors _arr_decimal64
        bits = _decimal_bits(items, _Decimal64)
        _fits_or_struct_error(bits, "Q", 64)
        _byte(w, 0x84)
        return _write_ints(w, bits, 8, True)
    if kind == A_DEC128:  # mirrors _arr_decimal128
        bits = _decimal_bits(items, _Decimal128)
        _byte(w, 0x94)
        for b in bits:
            _put_buffer(w, b.to_bytes(16, "big"))
        return 0
    if kind == A_UUID:  # mirrors _arr_uuid
        for x in items:
            if not isinstance(x, _UUID):
                raise _bad_element("UUID", x)
        _byte(w, 0x98)
        for x in items:
            _put_buffer(w, x.bytes)
        return 0
    if kind == A_BINARY:  # mirrors _arr_binary
        chunks = []
        for x in items:
            if isinstance(x, memoryview):
                x = x.tobytes()
            elif not isinstance(x, (bytes, bytearray)):
                raise _bad_element("bytes", x)
            chunks.append(x)
        return _arr_sized(w, chunks, 0xA0, 0xB0)
    if kind == A_STR:  # mirrors _arr_str
        chunks = []
        for x in items:
            if not PyUnicode_Check(x):
                raise _bad_element("str", x)
            try:
                chunks.append(x.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise EncodeError(
                    f"Array(str) element is not encodable as UTF-8 ({exc.reason})"
                ) from None
        return _arr_sized(w, chunks, 0xA1, 0xB1)
    if kind == A_SYMBOL:  # mirrors _arr_symbol
        chunks = []
        for x in items:
            if not PyUnicode_Check(x):
                raise _bad_element("Symbol", x)
            if (type(x) is _Symbol or type(x) is str) and PyUnicode_IS_ASCII(x):
                chunks.append(x)  # ASCII text is its own encoding; no bytes copy needed
                continue
            try:
                chunks.append(x.encode("ascii"))
            except UnicodeEncodeError:
                raise EncodeError(f"Array(Symbol) element must be ASCII, got {x!r}") from None
        return _arr_sized(w, chunks, 0xA3, 0xB3)
    if kind == A_LIST:  # mirrors _arr_list
        bodies = []
        for x in items:
            if not isinstance(x, (list, tuple)) or isinstance(x, _Array):
                raise _bad_element("list", x)
            bodies.append(_enc_list_body(x, w.nest))
        return _arr_compound(w, bodies, 0xC0, 0xD0)
    if kind == A_MAP:  # mirrors _arr_map
        bodies = []
        for x in items:
            if not isinstance(x, dict):
                raise _bad_element("dict", x)
            bodies.append(_enc_list_body([v for kv in x.items() for v in kv], w.nest))
        return _arr_compound(w, bodies, 0xC1, 0xD1)
    if kind == A_ARRAY:  # mirrors _arr_array
        return _arr_compound(w, [_array_payload(x, w.nest) for x in items], 0xE0, 0xF0)
    if kind == A_COMPOSITE:  # mirrors _arr_composite
        cls = element_type
        for x in items:
            if not isinstance(x, cls):
                raise _bad_element(cls.__name__, x)
        _byte(w, 0x00)
        _enc_ulong(w, cls._amqp_code_)
        return _arr_write(w, A_LIST, list, None, [x._amqp_fields_() for x in items])
    if kind == A_DESCRIBED:  # mirrors _arr_described
        if descriptor is None and items and isinstance(items[0], _Described):
            descriptor = items[0].descriptor  # inferred from the items
        if descriptor is None:
            raise EncodeError(
                "Array(Described) needs a shared descriptor: pass descriptor=... or Described items"
            )
        values = []
        for x in items:
            if isinstance(x, _Described):
                if x.descriptor != descriptor:
                    raise EncodeError(
                        f"Array(Described) elements must share the descriptor {descriptor!r}, "
                        f"got {x.descriptor!r}"
                    )
                values.append(x.value)
            else:
                values.append(x)  # a bare value is the value under the shared descriptor
        _byte(w, 0x00)
        _enc_descriptor(w, descriptor)
        if not values:
            # No value says the type; null, rather than a list constructor, so that an empty
            # array under a registered composite's descriptor still decodes as Array(Described).
            return _byte(w, 0x40)
        value_type = type(values[0])
        vkind = _array_kind(value_type)
        if vkind == A_DESCRIBED or vkind == A_COMPOSITE:
            raise EncodeError("Array(Described) values cannot themselves be described")
        return _arr_write(w, vkind, value_type, None, values)
    raise AssertionError(f"amqp10._speedups: no array writer for kind {kind}")  # pragma: no cover


cdef int _fits_or_struct_error(list bits, str fmt, int width) except -1:
    """The decimal bits come from wrappers that were range-checked at construction; one built
    around that check fails in struct.pack on the pure path, so call it for the same error."""
    cdef uint64_t u
    for b in bits:
        if not _as_u64(b, &u) or (width == 32 and u > _U32_MAX):
            _struct.pack(f">{len(bits)}{fmt}", *bits)
    return 0
