# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``amqp10/framing/gather.py`` (installed as ``amqp10._speedups._gather``).

Owns: ``Gather``, which collects a multi-frame delivery's bytes into one ``bytes`` object
that only it holds while it grows (``_PyBytes_Resize``: a realloc, so a large buffer moves
by remapping pages, not by copying), and ``take_slice``, which turns a ``bytes`` object that
nobody else refers to into one of its slices in place. Together they let the client give a
large message's single data section to the application as the very buffer its frames were
gathered into (issue 9: the receiver then holds the message once, not twice).

Must never: change a ``bytes`` object anyone else can see. ``take_slice`` checks that the
object's only reference is the one it was handed (in a list it empties), and that this
CPython keeps the cached hash where it resets it; otherwise it changes nothing.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF
from libc.string cimport memcpy, memmove

cdef extern from "Python.h":
    int _PyBytes_Resize(PyObject** b, Py_ssize_t newsize) except -1
    Py_ssize_t Py_REFCNT(object o)

cdef extern from *:
    """
    /* PyBytesObject caches its hash in ob_shash up to at least 3.13; a bytes object whose
       contents change must forget it. Elsewhere take_slice does nothing. */
    #if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000 && !defined(PYPY_VERSION)
    #define AMQP10_CAN_TAKE 1
    static void amqp10_forget_hash(PyObject* o) {
    #if defined(__GNUC__)
    #pragma GCC diagnostic push
    #pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    #endif
        ((PyBytesObject*)o)->ob_shash = -1;
    #if defined(__GNUC__)
    #pragma GCC diagnostic pop
    #endif
    }
    #else
    #define AMQP10_CAN_TAKE 0
    static void amqp10_forget_hash(PyObject* o) { (void)o; }
    #endif
    """
    int AMQP10_CAN_TAKE
    void amqp10_forget_hash(PyObject* o)


cdef class Gather:
    """Bytes appended one chunk at a time, then ``finish()`` as one read-only view.

    Capacity grows by a quarter at a time (a realloc: a large buffer's pages are remapped, not
    copied), so it is never more than 1.25x what arrived; nothing is allocated before bytes
    arrive, so a size a peer claims never decides an allocation.
    """

    cdef PyObject* _buf  # a bytes object only this refers to, or NULL
    cdef Py_ssize_t _size
    cdef Py_ssize_t _cap

    def __cinit__(self):
        self._buf = NULL
        self._size = 0
        self._cap = 0

    def __dealloc__(self):
        Py_XDECREF(self._buf)

    def __len__(self):
        return self._size

    def append(self, chunk):
        """Add ``chunk`` (any bytes-like object) at the end."""
        cdef Py_buffer view
        cdef Py_ssize_t need, cap
        PyObject_GetBuffer(chunk, &view, PyBUF_SIMPLE)
        try:
            if view.len == 0:
                return
            need = self._size + view.len
            if need > self._cap:
                cap = self._cap + (self._cap >> 2)
                if cap < need:
                    cap = need
                if self._buf == NULL:
                    first = PyBytes_FromStringAndSize(NULL, cap)
                    Py_INCREF(first)
                    self._buf = <PyObject*>first
                    first = None
                else:
                    _PyBytes_Resize(&self._buf, cap)  # on failure it is freed and NULL
                self._cap = cap
            memcpy(PyBytes_AS_STRING(<object>self._buf) + self._size, view.buf, view.len)
            self._size = need
        finally:
            PyBuffer_Release(&view)

    def finish(self):
        """The gathered bytes as a read-only ``memoryview``; the ``Gather`` is empty after."""
        if self._buf == NULL:
            return memoryview(b"")
        _PyBytes_Resize(&self._buf, self._size)
        result = <object>self._buf
        Py_DECREF(result)  # the reference this held is the local one now
        self._buf = NULL
        self._size = self._cap = 0
        return memoryview(result)


def take_slice(list holder, Py_ssize_t start, Py_ssize_t end):
    """Make ``holder``'s one ``bytes`` object into its ``[start:end)`` slice, in place.

    ``holder`` is a one-item list; it is emptied. Returns ``(True, the slice)`` when the
    object was referred to by nothing but ``holder`` (it is then changed: moved down and
    shrunk, no copy of the slice is made), else ``(False, the object)`` unchanged.
    """
    data = holder.pop()
    cdef PyObject* raw
    cdef char* p
    if (not AMQP10_CAN_TAKE or type(data) is not bytes or Py_REFCNT(data) != 1
            or start < 0 or end < start or end > len(data)):
        return False, data
    p = PyBytes_AS_STRING(data)
    if start:
        memmove(p, p + start, end - start)
    raw = <PyObject*>data
    Py_INCREF(data)  # raw's own reference, so that ``data`` can let go of it
    data = None
    _PyBytes_Resize(&raw, end - start)
    amqp10_forget_hash(raw)
    result = <object>raw
    Py_DECREF(result)
    return True, result
