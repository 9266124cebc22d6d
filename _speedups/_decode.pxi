# Included by _codec.pyx: the compound half of the decoder, bytes -> values. Mirrors
# codec/_pure_decode.py: lists, maps, described values, arrays, the tables they use, and the
# entry points (decode_value, decode_described_list, split_sections). The scalar body
# decoders and the constructor switch ``_body`` are in _decode_scalars.pxi.

# constructor byte -> Python type of the array elements it makes (None: not an element
# constructor), and the fewest bytes one such element takes (mirrors _ELEMENT_TYPE/_MIN_WIDTH).
_ELEMENT_OF = {
    0x40: type(None), 0x41: bool, 0x42: bool, 0x56: bool,
    0x43: UInt, 0x52: UInt, 0x70: UInt, 0x44: ULong, 0x53: ULong, 0x80: ULong,
    0x50: UByte, 0x60: UShort, 0x51: Byte, 0x61: Short, 0x54: Int, 0x71: Int,
    0x55: int, 0x81: int, 0x72: Float, 0x82: float, 0x74: Decimal32, 0x84: Decimal64,
    0x94: Decimal128, 0x73: Char, 0x83: Timestamp, 0x98: _uuid.UUID,
    0xA0: bytes, 0xB0: bytes, 0xA1: str, 0xB1: str, 0xA3: Symbol, 0xB3: Symbol,
    0x45: list, 0xC0: list, 0xD0: list, 0xC1: dict, 0xD1: dict, 0xE0: Array, 0xF0: Array,
}
assert set(_ELEMENT_OF) == {int(c) for c in _FormatCode} - {0}
cdef tuple _ELEMENT_TYPE = tuple([_ELEMENT_OF.get(c) for c in range(256)])


def _min_width(code):
    w, cat = _WIDTH[code], _CATEGORY[code]
    if cat is _Category.FIXED or cat is _Category.VARIABLE:
        return w
    if cat is _Category.COMPOUND:
        return 2 * w
    return 2 * w + 1


cdef int _MIN_WIDTH[256]
# For split_sections' skip: category (0 fixed, 1 variable, 2 compound, 3 array, -1 unknown),
# size-field width, limit kind (0 none, 1 binary, 2 string/symbol) and the encoding's name.
cdef int _SKIP_CAT[256]
cdef int _SKIP_WIDTH[256]
cdef int _SKIP_KIND[256]
cdef list _SKIP_NAME = [None] * 256
for _c in range(256):
    _MIN_WIDTH[_c] = 0
    _SKIP_CAT[_c] = -1
    _SKIP_WIDTH[_c] = 0
    _SKIP_KIND[_c] = 0
for _fc in _FormatCode:
    if _fc is _FormatCode.DESCRIBED:
        continue
    _MIN_WIDTH[int(_fc)] = _min_width(_fc)
    _SKIP_CAT[int(_fc)] = [
        _Category.FIXED, _Category.VARIABLE, _Category.COMPOUND, _Category.ARRAY
    ].index(_CATEGORY[_fc])
    _SKIP_WIDTH[int(_fc)] = _WIDTH[_fc]
    _SKIP_KIND[int(_fc)] = {"binary": 1, "string": 2, "symbol": 2}.get(_AMQP_TYPE[_fc], 0)
    _SKIP_NAME[int(_fc)] = _fc.name.lower()


# --- compound ---------------------------------------------------------------------------------

# mirrors codec/_pure_decode.py:_list_body
cdef object _list_body(
    _D* d, Py_ssize_t pos, Py_ssize_t stop, long long count, long long depth, Py_ssize_t* out
):
    cdef Py_ssize_t i
    cdef unsigned char code
    # Every element takes at least its constructor byte, so the count is bounded by the bytes
    # the declared size leaves; both checks come before the list is allocated.
    if count > stop - pos:
        raise DecodeError(f"list at offset {pos} declares {count} elements in {stop - pos} bytes")
    if count > d.max_count:
        raise _over_limit("list", pos, count, "max_count", (<object>d.limits).max_count)
    depth += 1
    if depth > d.max_depth:
        raise _too_deep(pos, d)
    items = PyList_New(<Py_ssize_t>count)
    _enter(&d.nest, " while decoding an AMQP list")
    try:
        for i in range(<Py_ssize_t>count):
            if pos >= stop:
                raise DecodeError(f"list element {i} at offset {pos} is beyond the list's size")
            code = d.b[pos]
            pos += 1
            item = _body(d, code, &pos, stop, depth)
            Py_INCREF(item)
            PyList_SET_ITEM(items, i, item)
    finally:
        _leave(&d.nest)
    if pos != stop:
        # 1.2: the size covers exactly the count and the elements.
        raise DecodeError(f"list elements end at offset {pos}, {stop - pos} bytes before its size")
    out[0] = pos
    return items


# mirrors codec/_pure_decode.py:_map_body
cdef object _map_body(
    _D* d, Py_ssize_t pos, Py_ssize_t stop, long long count, long long depth, Py_ssize_t* out
):
    cdef long long i
    cdef Py_ssize_t key_pos
    cdef unsigned char code
    if count & 1:
        # 1.6.23: a map's count is of keys *and* values, so it is even.
        raise DecodeError(f"map at offset {pos} has an odd element count {count}")
    if count > stop - pos:
        raise DecodeError(f"map at offset {pos} declares {count} elements in {stop - pos} bytes")
    if count > d.max_count:
        raise _over_limit("map", pos, count, "max_count", (<object>d.limits).max_count)
    depth += 1
    if depth > d.max_depth:
        raise _too_deep(pos, d)
    cdef dict result = {}
    _enter(&d.nest, " while decoding an AMQP map")
    try:
        for i in range(count >> 1):
            if pos >= stop:
                raise DecodeError(f"map key at offset {pos} is beyond the map's size")
            key_pos = pos
            code = d.b[pos]
            pos += 1
            key = _body(d, code, &pos, stop, depth)
            if pos >= stop:
                raise DecodeError(f"map value at offset {pos} is beyond the map's size")
            code = d.b[pos]
            pos += 1
            value = _body(d, code, &pos, stop, depth)
            try:
                PyDict_SetItem(result, key, value)
            except TypeError:
                # A Python dict cannot hold a list, map or array key; say so instead of
                # guessing a representation that would not round-trip.
                raise DecodeError(
                    f"map key at offset {key_pos} is a {type(key).__name__}, "
                    "which cannot be a Python dict key"
                ) from None
    finally:
        _leave(&d.nest)
    if pos != stop:
        raise DecodeError(f"map elements end at offset {pos}, {stop - pos} bytes before its size")
    if PyDict_Size(result) != count >> 1:
        # 1.6.23 requires distinct keys; keys equal as Python values land here too.
        raise DecodeError(
            f"map ending at offset {pos} repeats a key (or has keys equal as Python values)"
        )
    out[0] = pos
    return result


# mirrors codec/_pure_decode.py:_dec_list8/_dec_map8 (what: "list8"/"map8")
cdef object _compound8(_D* d, bint is_map, Py_ssize_t pos, Py_ssize_t end, long long depth,
                       Py_ssize_t* out):
    cdef str name = "map8" if is_map else "list8"
    if pos + 2 > end:
        raise _short(name + " header", pos, 2, end)
    cdef long long size = d.b[pos]
    cdef Py_ssize_t stop = pos + 1 + size
    if stop > end:
        raise _overrun(name, pos, size, end - pos - 1)
    if size < 1:
        raise DecodeError(f"{name} at offset {pos} has size 0, too small for its count")
    if is_map:
        return _map_body(d, pos + 2, stop, d.b[pos + 1], depth, out)
    return _list_body(d, pos + 2, stop, d.b[pos + 1], depth, out)


# mirrors codec/_pure_decode.py:_dec_list32/_dec_map32 (what: "list32"/"map32")
cdef object _compound32(_D* d, bint is_map, Py_ssize_t pos, Py_ssize_t end, long long depth,
                        Py_ssize_t* out):
    cdef str name = "map32" if is_map else "list32"
    if pos + 8 > end:
        raise _short(name + " header", pos, 8, end)
    cdef long long size = _u32(d.b + pos)
    cdef long long count = _u32(d.b + pos + 4)
    if size > end - pos - 4:
        raise _overrun(name, pos, size, end - pos - 4)
    if size < 4:
        raise DecodeError(f"{name} at offset {pos} has size {size}, too small for its count")
    if is_map:
        return _map_body(d, pos + 8, pos + 4 + size, count, depth, out)
    return _list_body(d, pos + 8, pos + 4 + size, count, depth, out)


# --- described values -------------------------------------------------------------------------

# mirrors codec/_pure_decode.py:_descriptor
cdef object _descriptor(_D* d, Py_ssize_t pos, Py_ssize_t end, Py_ssize_t* out):
    if pos >= end:
        raise _short("descriptor", pos, 1, end)
    cdef unsigned char code = d.b[pos]
    if code == 0x53:  # smallulong: every spec descriptor code is < 256
        if pos + 2 > end:
            raise _short("smallulong", pos + 1, 1, end)
        out[0] = pos + 2
        return _tget(_SMALLULONG_T, d.b[pos + 1])
    if code == 0xA3 or code == 0x80 or code == 0xB3:
        out[0] = pos + 1
        return _body(d, code, out, end, 0)
    if code == 0x44:
        out[0] = pos + 1
        return _tget(_SMALLULONG_T, 0)
    # 1.5: other descriptor types are reserved; refusing them also keeps 0x00 out of here.
    raise DecodeError(
        f"descriptor at offset {pos} must be a ulong or a symbol, got constructor 0x{code:02x}"
    )


# mirrors codec/_pure_decode.py:_build
cdef object _build(object cls, object fields, Py_ssize_t pos):
    try:
        return cls._amqp_from_fields_(fields)
    except DecodeError:
        raise
    except (TypeError, ValueError, LookupError) as exc:
        # A field of the wrong shape (an enum lookup, a wrapper's range check) is the peer's
        # bad encoding, not our bug: report it as such, with the cause chained.
        raise DecodeError(f"{cls.__name__} at offset {pos}: {exc}") from exc


cdef inline object _composite_class(object descriptor):
    cdef PyObject* hit
    if type(descriptor) is _ULong:
        hit = PyDict_GetItem(_CODES, descriptor)
    else:
        hit = PyDict_GetItem(_NAMES, descriptor)
    return None if hit == NULL else <object>hit


# mirrors codec/_pure_decode.py:_described: Described(descriptor, value) without re-checking
# a descriptor already decoded as a ULong or Symbol.
cdef object _described_of(object descriptor, object value):
    result = _Described.__new__(_Described)
    result.descriptor = descriptor
    result.value = value
    return result


# mirrors codec/_pure_decode.py:_dec_described
cdef object _described(_D* d, Py_ssize_t pos, Py_ssize_t end, long long depth, Py_ssize_t* out):
    depth += 1
    if depth > d.max_depth:
        raise _too_deep(pos - 1, d)
    descriptor = _descriptor(d, pos, end, &pos)
    if pos >= end:
        raise _short("described value", pos, 1, end)
    cdef unsigned char code = d.b[pos]
    out[0] = pos + 1
    _enter(&d.nest, " while decoding an AMQP described value")
    try:
        value = _body(d, code, out, end, depth)
    finally:
        _leave(&d.nest)
    if code == 0xC0 or code == 0xD0 or code == 0x45:  # list8, list32, list0
        cls = _composite_class(descriptor)
        if cls is not None:
            return _build(cls, value, pos)
    return _described_of(descriptor, value)


# --- arrays -----------------------------------------------------------------------------------

# mirrors codec/_pure_decode.py:_array_body
cdef object _array_body(
    _D* d, Py_ssize_t pos, Py_ssize_t stop, long long count, long long depth, Py_ssize_t* out
):
    cdef Py_ssize_t start = pos
    cdef Py_ssize_t i
    cdef long long width
    depth += 1
    if depth > d.max_depth:
        raise _too_deep(pos, d)
    if count > d.max_count:
        raise _over_limit("array", pos, count, "max_count", (<object>d.limits).max_count)
    if pos >= stop:
        raise _short("array element constructor", pos, 1, stop)
    cdef unsigned char code = d.b[pos]
    descriptor = None
    if code == 0x00:
        # An array of described values: the descriptor once, then the value constructor.
        descriptor = _descriptor(d, pos + 1, stop, &pos)
        if pos >= stop:
            raise _short("array element constructor", pos, 1, stop)
        code = d.b[pos]
    element_type = _tget(_ELEMENT_TYPE, code)
    if element_type is None:
        raise DecodeError(f"array at offset {start}: 0x{code:02x} is not an element constructor")
    pos += 1
    width = _MIN_WIDTH[code]
    if width:
        if count > (stop - pos) // width:
            raise DecodeError(
                f"array at offset {start} declares {count} elements of at least {width} bytes "
                f"in {stop - pos} bytes"
            )
    else:
        if count > d.zero_left:
            raise DecodeError(
                f"array at offset {start} declares {count} zero-width elements, more than the "
                f"{d.zero_left} left of Limits.max_count={(<object>d.limits).max_count} "
                "for this value"
            )
        d.zero_left -= count
    items = PyList_New(<Py_ssize_t>count)
    _enter(&d.nest, " while decoding an AMQP array")
    try:
        for i in range(<Py_ssize_t>count):
            item = _body(d, code, &pos, stop, depth)
            Py_INCREF(item)
            PyList_SET_ITEM(items, i, item)
    finally:
        _leave(&d.nest)
    if pos != stop:
        raise DecodeError(f"array elements end at offset {pos}, {stop - pos} bytes before its size")
    out[0] = pos
    if descriptor is None:
        return Array(element_type, items)
    if element_type is list:
        cls = _composite_class(descriptor)
        if cls is not None:
            return Array(cls, [_build(cls, fields, start) for fields in items])
    return Array(Described, [_described_of(descriptor, v) for v in items], descriptor)


# mirrors codec/_pure_decode.py:_dec_array8
cdef object _array8(_D* d, Py_ssize_t pos, Py_ssize_t end, long long depth, Py_ssize_t* out):
    if pos + 2 > end:
        raise _short("array8 header", pos, 2, end)
    cdef long long size = d.b[pos]
    cdef Py_ssize_t stop = pos + 1 + size
    if stop > end:
        raise _overrun("array8", pos, size, end - pos - 1)
    if size < 2:
        raise DecodeError(
            f"array8 at offset {pos} has size {size}, too small for its count and constructor"
        )
    return _array_body(d, pos + 2, stop, d.b[pos + 1], depth, out)


# mirrors codec/_pure_decode.py:_dec_array32
cdef object _array32(_D* d, Py_ssize_t pos, Py_ssize_t end, long long depth, Py_ssize_t* out):
    if pos + 8 > end:
        raise _short("array32 header", pos, 8, end)
    cdef long long size = _u32(d.b + pos)
    cdef long long count = _u32(d.b + pos + 4)
    if size > end - pos - 4:
        raise _overrun("array32", pos, size, end - pos - 4)
    if size < 5:
        raise DecodeError(
            f"array32 at offset {pos} has size {size}, too small for its count and constructor"
        )
    return _array_body(d, pos + 8, pos + 4 + size, count, depth, out)


# --- buffer access ----------------------------------------------------------------------------

cdef int _acquire(object buf, Py_buffer* view) except -1:
    # A simple (contiguous) buffer is what every caller passes; anything else (a strided view)
    # is read through a contiguous copy with the same offsets.
    try:
        PyObject_GetBuffer(buf, view, PyBUF_SIMPLE)
    except BufferError:
        PyObject_GetBuffer(bytes(memoryview(buf)), view, PyBUF_SIMPLE)
    return 0


# mirrors codec/_pure_decode.py:decode_in_context (decode_value under a context the caller
# keeps, as the message decoder does for all of a message's sections)
cdef object _decode_in(_D* d, Py_ssize_t end, Py_ssize_t pos, long long depth, Py_ssize_t* out):
    if not 0 <= pos < end:
        raise DecodeError(f"no value at offset {pos}: the input is {end} bytes long")
    out[0] = pos + 1
    try:
        return _body(d, d.b[pos], out, end, depth)
    except RecursionError:
        raise DecodeError(
            f"value at offset {pos} nests deeper than the Python stack allows; "
            "lower Limits.max_depth"
        ) from None
    except MemoryError:
        raise DecodeError(f"out of memory decoding the value at offset {pos}; lower Limits") from None


# decode_value for callers that already hold the buffer: a fresh context, as each pure call
# of decode_value gets.
cdef object _decode_at(const unsigned char* b, Py_ssize_t end, Py_ssize_t pos, object limits,
                       long long depth, Py_ssize_t* out):
    cdef _D d
    _init(&d, limits)
    d.b = b
    return _decode_in(&d, end, pos, depth, out)


# --- public entry points ----------------------------------------------------------------------

# mirrors codec/_pure_decode.py:decode_value
def decode_value(buf, pos, limits, depth=0):
    """Decode the one value whose constructor is at ``buf[pos]``; return ``(value, next_pos)``.

    Compiled twin of ``amqp10.codec._pure_decode.decode_value``: same arguments, results and
    ``DecodeError`` messages.
    """
    cdef Py_buffer view
    cdef _D d
    cdef Py_ssize_t p, end
    cdef long long dep
    end = len(buf)
    _init(&d, limits)  # the pure path makes its context before it looks at pos
    if not _offset_in(pos, end, &p):
        raise DecodeError(f"no value at offset {pos}: the input is {end} bytes long")
    dep = _clamp(depth)
    _acquire(buf, &view)
    try:
        d.b = <const unsigned char*>view.buf
        value = _decode_in(&d, end, p, dep, &p)
        return value, p
    finally:
        PyBuffer_Release(&view)


# mirrors codec/_pure_decode.py:decode_described_list
def decode_described_list(buf, pos, limits):
    """Decode a described list at ``buf[pos]``; return ``(descriptor, fields, next_pos)``.

    Compiled twin of ``amqp10.codec._pure_decode.decode_described_list``.
    """
    cdef Py_buffer view
    cdef _D d
    cdef Py_ssize_t p, end
    cdef unsigned char code
    end = len(buf)
    if not _offset_in(pos, end, &p):
        raise DecodeError(f"no described list at offset {pos}: the input is {end} bytes long")
    _init(&d, limits)
    _acquire(buf, &view)
    try:
        d.b = <const unsigned char*>view.buf
        if d.b[p] != 0x00:
            raise DecodeError(
                f"expected a described value (0x00) at offset {pos}, got 0x{d.b[p]:02x}"
            )
        try:
            descriptor = _descriptor(&d, p + 1, end, &p)
            if p >= end:
                raise _short("described list", p, 1, end)
            code = d.b[p]
            if code == 0xC0:
                fields = _compound8(&d, False, p + 1, end, 1, &p)
            elif code == 0xD0:
                fields = _compound32(&d, False, p + 1, end, 1, &p)
            elif code == 0x45:
                fields = []
                p += 1
            else:
                raise DecodeError(
                    f"described value at offset {pos} is not a list (constructor 0x{code:02x})"
                )
        except RecursionError:
            raise DecodeError(
                f"value at offset {pos} nests deeper than the Python stack allows; "
                "lower Limits.max_depth"
            ) from None
        except MemoryError:
            raise DecodeError(
                f"out of memory decoding the value at offset {pos}; lower Limits"
            ) from None
        return descriptor, fields, p
    finally:
        PyBuffer_Release(&view)


# mirrors codec/_pure_decode.py:_skip
cdef Py_ssize_t _skip(_D* d, Py_ssize_t pos, Py_ssize_t end, long long depth) except -1:
    cdef unsigned char code
    cdef int category, width, kind
    cdef long long size
    if pos >= end:
        raise _short("value", pos, 1, end)
    code = d.b[pos]
    pos += 1
    while code == 0x00:
        depth += 1
        if depth > d.max_depth:
            raise _too_deep(pos - 1, d)
        _descriptor(d, pos, end, &pos)
        if pos >= end:
            raise _short("described value", pos, 1, end)
        code = d.b[pos]
        pos += 1
    category = _SKIP_CAT[code]
    if category < 0:
        raise DecodeError(f"unknown constructor 0x{code:02x} at offset {pos - 1}")
    width = _SKIP_WIDTH[code]
    kind = _SKIP_KIND[code]
    if category == 0:
        if pos + width > end:
            raise _short(_SKIP_NAME[code], pos, width, end)
        return pos + width
    if pos + width > end:
        raise _short(_SKIP_NAME[code] + " size", pos, width, end)
    size = d.b[pos] if width == 1 else _u32(d.b + pos)
    pos += width
    if size > end - pos:
        raise _overrun(_SKIP_NAME[code], pos - width, size, end - pos)
    if kind == 1 and size > d.max_binary:
        raise _over_limit("binary", pos, size, "max_binary_size", (<object>d.limits).max_binary_size)
    if kind == 2 and size > d.max_string:
        raise _over_limit("string", pos, size, "max_string_size", (<object>d.limits).max_string_size)
    if category != 1 and size < width:
        raise DecodeError(f"value at offset {pos - width} has size {size}, too small for its count")
    return pos + size


# mirrors codec/_pure_decode.py:split_sections
def split_sections(buf, limits=DEFAULT_LIMITS):
    """Find the top-level described values (message sections) without decoding them; return
    ``[(descriptor, start, end), ...]``.

    Compiled twin of ``amqp10.codec._pure_decode.split_sections``.
    """
    cdef Py_buffer view
    cdef _D d
    cdef Py_ssize_t pos = 0, p, end
    end = len(buf)
    if end > limits.max_message_size:
        raise _over_limit("message", 0, end, "max_message_size", limits.max_message_size)
    _init(&d, limits)
    cdef list sections = []
    _acquire(buf, &view)
    try:
        d.b = <const unsigned char*>view.buf
        while pos < end:
            if d.b[pos] != 0x00:
                raise DecodeError(
                    f"message section at offset {pos} is not a described value "
                    f"(constructor 0x{d.b[pos]:02x})"
                )
            descriptor = _descriptor(&d, pos + 1, end, &p)
            p = _skip(&d, p, end, 1)
            sections.append((descriptor, pos, p))
            pos = p
    finally:
        PyBuffer_Release(&view)
    return sections
