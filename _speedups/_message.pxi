# Included by _codec.pyx: the message decoder. Mirrors codec/message.py:decode_message.
#
# Why it is here: once the values decode in C, what is left of a small message's decode time is
# the Python of the section loop and of building the ``Header``/``Properties`` dataclasses
# (thirteen frozen-dataclass assignments), several times the cost of the bytes themselves.
# This is the same loop, check for check and message for message; every error is either raised
# with the pure path's own f-string or by calling the very helper the pure path calls
# (``sections.order_error``, ``section_code``, ``check_map``, ``bad_application_properties``,
# ``too_many_body_sections``, and the generated ``_amqp_from_fields_``), so the two cannot drift
# apart in what they say.

cdef extern from *:
    """
    /* A data descriptor's own setter: what object.__setattr__ ends in for a __slots__ field
       (a frozen dataclass's __init__ calls object.__setattr__ once per field). */
    static int amqp10_descr_set(PyObject *descr, PyObject *obj, PyObject *value) {
        return Py_TYPE(descr)->tp_descr_set(descr, obj, value);
    }
    """
    int amqp10_descr_set(object descr, object obj, object value) except -1


cdef class _Composer:
    """Builds one composite class (Header, Properties) from its decoded fields, as the
    generated ``cls._amqp_from_fields_(fields)`` does, without its Python overhead.

    The generated method checks each field's exact type against its spec type, then calls the
    frozen dataclass constructor. ``fast`` is set only after probing that method once with a
    sample of every type the decoder can produce in every field position: ``accepted[i]`` is
    the set of types it took there, and it must have stored each sample untouched. Any field
    outside ``accepted`` makes ``build`` call the generated method itself, which raises the
    generated error; a class that fails the probe (mandatory fields, conversions, non-slot
    fields) is always built by the generated method.
    """

    cdef object cls
    cdef object from_fields
    cdef tuple accepted
    cdef tuple setters
    cdef Py_ssize_t n
    cdef bint fast

    def __init__(self, cls):
        self.cls = cls
        self.from_fields = cls._amqp_from_fields_
        self.fast = False
        try:
            self._probe()
        except Exception:  # noqa: BLE001 - anything unexpected: keep the generated method
            self.fast = False

    cdef _probe(self):
        cls = self.cls
        names = tuple([f.name for f in cls.FIELDS])
        if getattr(cls, "_amqp_mandatory_", ()):
            return
        setters = []
        for name in names:
            descr = cls.__dict__.get(name)
            if type(descr).__name__ != "member_descriptor":
                return
            setters.append(descr)
        samples = _probe_samples()
        accepted = []
        for i, name in enumerate(names):
            ok = set()
            for sample in samples:
                fields = [None] * i + [sample]
                try:
                    built = self.from_fields(fields)
                except DecodeError:
                    continue
                if type(built) is not cls or getattr(built, name) is not sample:
                    return
                if any(getattr(built, other) is not None for other in names if other != name):
                    return
                ok.add(type(sample))
            accepted.append(frozenset(ok))
        empty = self.from_fields([])
        if type(empty) is not cls or any(getattr(empty, name) is not None for name in names):
            return
        self.accepted = tuple(accepted)
        self.setters = tuple(setters)
        self.n = len(names)
        self.fast = True

    cdef object build(self, list fields):
        cdef Py_ssize_t i, m = len(fields)
        if not self.fast:
            return self.from_fields(fields)
        for i in range(self.n if self.n < m else m):
            value = <object>PyList_GET_ITEM(fields, i)
            if value is not None and type(value) not in <frozenset>PyTuple_GET_ITEM(self.accepted, i):
                return self.from_fields(fields)  # raises the generated DecodeError
        obj = self.cls.__new__(self.cls)
        for i in range(self.n):
            value = <object>PyList_GET_ITEM(fields, i) if i < m else None
            amqp10_descr_set(<object>PyTuple_GET_ITEM(self.setters, i), obj, value)
        return obj


def _probe_samples():
    """One value of every Python type the decoder returns, composites included."""
    samples = [
        None, True, _int_new(UByte, 1), _int_new(UShort, 1), _int_new(UInt, 1),
        _int_new(ULong, 1), _int_new(Byte, 1), _int_new(Short, 1), _int_new(Int, 1), 1,
        _float_new(Float, 1.0), 1.0, _int_new(Decimal32, 1), _int_new(Decimal64, 1),
        _int_new(Decimal128, 1), _str_new(Char, "c"), _int_new(Timestamp, 1),
        _uuid.UUID(int=1), b"b", "s", _str_new(Symbol, "y"), [], {}, Array(int, []),
        Described(_int_new(ULong, 0xAB00000000), 1),
    ]
    for composite_cls in set(_CODES.values()):
        try:
            samples.append(composite_cls())
        except Exception:  # noqa: BLE001 - one with mandatory constructor arguments
            pass
    return samples


# The message module's names, bound on first use: amqp10.codec imports this module before
# codec/message.py and codec/sections.py exist.
cdef bint _message_ready = False
cdef object _AmqpValue, _AmqpSequence, _Data, _Header, _Properties
cdef object _order_error, _section_code, _check_map, _bad_application_properties
cdef object _too_many_body_sections
cdef object _NOT_SIMPLE
cdef tuple _RANK_BY_CODE
cdef _Composer _HEADER_COMPOSER, _PROPERTIES_COMPOSER


cdef int _bind_message() except -1:
    global _message_ready, _AmqpValue, _AmqpSequence, _Data, _Header, _Properties
    global _order_error, _section_code, _check_map, _bad_application_properties
    global _too_many_body_sections
    global _NOT_SIMPLE, _RANK_BY_CODE, _HEADER_COMPOSER, _PROPERTIES_COMPOSER
    from amqp10.codec import sections, spec
    _AmqpValue = sections.AmqpValue
    _AmqpSequence = sections.AmqpSequence
    _Data = sections.Data
    _order_error = sections.order_error
    _section_code = sections.section_code
    _check_map = sections.check_map
    _bad_application_properties = sections.bad_application_properties
    _too_many_body_sections = sections.too_many_body_sections
    _NOT_SIMPLE = sections.NOT_SIMPLE
    _RANK_BY_CODE = tuple(sections.RANK_BY_CODE)
    _Header = spec.Header
    _Properties = spec.Properties
    # The composers are made when the first header / properties section comes (see
    # _header_composer): probing one costs milliseconds, which a process's first message
    # paid on its way to the application, even one with neither section (issue 9: the
    # compiled path was slower than the pure one end to end for a single large message).
    _HEADER_COMPOSER = None
    _PROPERTIES_COMPOSER = None
    _message_ready = True
    return 0


cdef _Composer _header_composer():
    global _HEADER_COMPOSER
    if _HEADER_COMPOSER is None:
        _HEADER_COMPOSER = _Composer(_Header)
    return _HEADER_COMPOSER


cdef _Composer _properties_composer():
    global _PROPERTIES_COMPOSER
    if _PROPERTIES_COMPOSER is None:
        _PROPERTIES_COMPOSER = _Composer(_Properties)
    return _PROPERTIES_COMPOSER


# mirrors codec/message.py:decode_message
def decode_message(cls, data, limits):
    """Build a ``cls`` (a ``Message``) from its encoded sections.

    Compiled twin of ``amqp10.codec.message.decode_message`` (the body of ``Message.decode``):
    same result, same ``DecodeError`` messages.
    """
    cdef Py_buffer view
    cdef _D d
    cdef const unsigned char* b
    cdef Py_ssize_t size, pos = 0, start, n, a, repeats = 0
    cdef int code, body_code = 0, rank = -1, section_rank
    cdef unsigned char constructor
    cdef list data_spans = None
    if not _message_ready:
        _bind_message()
    if limits is None:
        limits = DEFAULT_LIMITS
    buf = memoryview(data)
    if type(data) is not bytes and (buf.ndim != 1 or buf.format != "B"):
        buf = buf.cast("B")
    size = len(buf)
    if size > limits.max_message_size:
        raise DecodeError(
            f"message of {size} bytes exceeds max_message_size {limits.max_message_size}"
        )
    _init(&d, limits)  # one context for every section, as on the pure path
    msg = cls.__new__(cls)
    header = delivery_annotations = message_annotations = None
    properties = application_properties = footer = None
    body = None
    _acquire(buf, &view)
    try:
        b = <const unsigned char*>view.buf
        d.b = b
        while pos < size:
            start = pos
            # 3.2: every section is a described value; descriptor fast path: smallulong.
            if b[pos] != 0x00:
                raise DecodeError(
                    f"expected a message section (a described value, 0x00) at offset {pos}, "
                    f"found constructor 0x{b[pos]:02x}"
                )
            if pos + 2 < size and b[pos + 1] == 0x53:
                code = b[pos + 2]
                pos += 3
            else:
                descriptor = _decode_in(&d, size, pos + 1, 1, &pos)
                code = _section_code(descriptor, start)
            section_rank = <int>_tget(_RANK_BY_CODE, code) if code < 256 else -1
            if section_rank <= rank:
                # 3.2 allows one or more data sections, or one or more amqp-sequence sections.
                if code != body_code or code == 0x77 or section_rank < 0:
                    _order_error(code, body_code, section_rank, rank, start)
                # Bound their number before this one is decoded or listed.
                repeats += 1
                if repeats >= limits.max_body_sections:
                    _too_many_body_sections(limits, start)
            rank = section_rank

            if code == 0x75:  # data: only the span now, the one copy at the end
                if pos >= size:
                    raise DecodeError(f"data section at offset {start} has no value")
                constructor = b[pos]
                if constructor == 0xA0 and pos + 1 < size:
                    n = b[pos + 1]
                    pos += 2
                elif constructor == 0xB0 and pos + 4 < size:
                    n = _u32(b + pos + 1)
                    pos += 5
                else:
                    raise DecodeError(
                        f"data section at offset {start} must hold binary (vbin8/vbin32), "
                        f"found constructor 0x{constructor:02x} or a truncated length"
                    )
                if n > size - pos:
                    raise DecodeError(
                        f"data section at offset {start} claims {n} bytes, "
                        f"only {size - pos} remain"
                    )
                if n > limits.max_binary_size:
                    raise DecodeError(
                        f"data section of {n} bytes exceeds max_binary_size "
                        f"{limits.max_binary_size}"
                    )
                if data_spans is None:
                    data_spans = [(pos, pos + n)]
                else:
                    data_spans.append((pos, pos + n))
                pos += n
                body_code = 0x75
                continue

            value = _decode_in(&d, size, pos, 1, &pos)
            if code == 0x77:  # amqp-value
                body = value
                if value is None or isinstance(value, bytes):
                    body = _AmqpValue(value)  # a bare None/bytes body would mean something else
                body_code = 0x77
            elif code == 0x73:  # properties
                if type(value) is not list:
                    raise DecodeError(f"properties section at offset {start} must hold a list")
                properties = _properties_composer().build(value)
            elif code == 0x74:  # application-properties (3.2.5: string keys, simple values)
                if type(value) is not dict:
                    raise DecodeError(
                        f"application-properties section at offset {start} must hold a map"
                    )
                for key in value:
                    if type(key) is not str:
                        _bad_application_properties(value, start)
                for item in (<dict>value).values():
                    if type(item) in _NOT_SIMPLE:
                        _bad_application_properties(value, start)
                application_properties = value
            elif code == 0x70:  # header
                if type(value) is not list:
                    raise DecodeError(f"header section at offset {start} must hold a list")
                header = _header_composer().build(value)
            elif code == 0x72:  # message-annotations
                message_annotations = value if type(value) is dict else _check_map(value, code, start)
            elif code == 0x71:  # delivery-annotations
                delivery_annotations = value if type(value) is dict else _check_map(value, code, start)
            elif code == 0x76:  # amqp-sequence
                if type(value) is not list:
                    raise DecodeError(f"amqp-sequence section at offset {start} must hold a list")
                if body_code == 0x76:
                    body.append(_AmqpSequence(value))
                else:
                    body = [_AmqpSequence(value)]
                    body_code = 0x76
            else:  # 0x78 footer
                footer = value if type(value) is dict else _check_map(value, code, start)

        if data_spans is not None:
            # The one copy of each payload: from the input straight into its body object.
            if len(data_spans) == 1:
                a, n = data_spans[0]
                body = PyBytes_FromStringAndSize(<const char*>b + a, n - a)
            else:
                body = [_Data(buf[a:n]) for a, n in data_spans]
    finally:
        PyBuffer_Release(&view)
    msg.header = header
    msg.delivery_annotations = delivery_annotations
    msg.message_annotations = message_annotations
    msg.properties = properties
    msg.application_properties = application_properties
    msg.body = body
    msg.footer = footer
    return msg
