/*
 * lazyarr._speedups: the loops that cost more in Python than the work they do.
 *
 * Built at install time when a C compiler is there (setup.py marks the
 * extension optional); lazyarr falls back to the same functions in Python
 * otherwise, and the tests compare the two.
 *
 * item_views(buf, starts, shapes) -> list
 *     The items of a ragged slice as views of its decoded buffer: item j is
 *     the C-contiguous array of shape shapes[j] starting at element
 *     starts[j] of the 1-d, C-contiguous array buf. One NumPy view per item
 *     made here costs about 50 ns; the best Python for it (a stack view per
 *     distinct shape, indexed per item) about 180 ns. Everything is checked
 *     before a byte is touched: a start or shape that does not fit in buf is
 *     a ValueError, never a read outside it.
 *
 * Compression(fn, ctx, src, dst)
 *     Runs the C function at address fn, c-blosc2's blosc2_compress_ctx
 *     (ctx, src, len(src), dst, len(dst)), on a native thread of its own,
 *     started at once; wait() returns its result. The thread never takes
 *     the GIL: a Python thread doing the same would wait for it up to the
 *     switch interval (5 ms) twice per chunk behind a busy caller, longer
 *     than the compression itself. The object holds both buffers until the
 *     thread is done (its deallocation waits for it, except in a forked
 *     child, where the thread does not exist).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <stdint.h>
#ifdef _WIN32
#include <process.h>
#define lazyarr_getpid _getpid
#else
#include <unistd.h>
#define lazyarr_getpid getpid
#endif

/* The element count of the item whose shape is dims[0..d); -1 (and a
 * ValueError) when a dimension is negative or the count exceeds limit. */
static npy_intp
item_size(const npy_int64 *dims, int d, npy_intp limit, npy_intp j)
{
    npy_intp size = 1;
    for (int k = 0; k < d; k++) {
        npy_int64 n = dims[k];
        if (n < 0) {
            PyErr_Format(PyExc_ValueError, "item %zd has a negative dimension (%lld)", j,
                         (long long)n);
            return -1;
        }
        if (n != 0 && size > limit / n) {
            /* Larger than the buffer (and maybe than any integer): keep
             * multiplying only to find a zero dimension, which makes it fit. */
            for (int z = k + 1; z < d; z++) {
                if (dims[z] == 0) {
                    return 0;
                }
            }
            PyErr_Format(PyExc_ValueError, "item %zd holds more elements than the buffer (%zd)",
                         j, limit);
            return -1;
        }
        size *= (npy_intp)n;
    }
    return size;
}

static PyObject *
item_views(PyObject *self, PyObject *args)
{
    PyArrayObject *buf;
    PyObject *starts_obj, *shapes_obj;
    if (!PyArg_ParseTuple(args, "O!OO:item_views", &PyArray_Type, &buf, &starts_obj,
                          &shapes_obj)) {
        return NULL;
    }
    if (PyArray_NDIM(buf) != 1 || !PyArray_IS_C_CONTIGUOUS(buf)) {
        PyErr_SetString(PyExc_ValueError, "item_views: buf must be a 1-d C-contiguous array");
        return NULL;
    }
    PyArrayObject *starts = (PyArrayObject *)PyArray_FROMANY(starts_obj, NPY_INT64, 1, 1,
                                                             NPY_ARRAY_CARRAY_RO);
    if (starts == NULL) {
        return NULL;
    }
    PyArrayObject *shapes = (PyArrayObject *)PyArray_FROMANY(shapes_obj, NPY_INT64, 2, 2,
                                                             NPY_ARRAY_CARRAY_RO);
    if (shapes == NULL) {
        Py_DECREF(starts);
        return NULL;
    }
    PyObject *out = NULL;
    npy_intp n = PyArray_DIM(starts, 0);
    npy_intp d = PyArray_DIM(shapes, 1);
    if (PyArray_DIM(shapes, 0) != n) {
        PyErr_Format(PyExc_ValueError, "item_views: %zd starts but %zd shapes", n,
                     PyArray_DIM(shapes, 0));
        goto done;
    }
    if (n > 0 && (d < 1 || d > NPY_MAXDIMS)) {
        PyErr_Format(PyExc_ValueError, "item_views: items of %zd dimensions", d);
        goto done;
    }
    PyArray_Descr *descr = PyArray_DESCR(buf);
    npy_intp itemsize = PyArray_ITEMSIZE(buf);
    npy_intp nb = PyArray_DIM(buf, 0);
    char *base = PyArray_BYTES(buf);
    const npy_int64 *st = (const npy_int64 *)PyArray_DATA(starts);
    const npy_int64 *sh = (const npy_int64 *)PyArray_DATA(shapes);
    int flags = PyArray_FLAGS(buf) & NPY_ARRAY_WRITEABLE;
    npy_intp dims[NPY_MAXDIMS], strides[NPY_MAXDIMS];

    out = PyList_New(n);
    if (out == NULL) {
        goto done;
    }
    for (npy_intp j = 0; j < n; j++) {
        const npy_int64 *shape = sh + j * d;
        npy_intp size = item_size(shape, (int)d, nb, j);
        if (size < 0) {
            goto fail;
        }
        if (st[j] < 0 || st[j] > nb - size) {
            PyErr_Format(PyExc_ValueError,
                         "item %zd (%zd elements from element %lld) lies outside the buffer "
                         "(%zd elements)", j, size, (long long)st[j], nb);
            goto fail;
        }
        npy_intp stride = itemsize;
        for (npy_intp k = d - 1; k >= 0; k--) {
            dims[k] = (npy_intp)shape[k];
            strides[k] = stride;
            stride *= dims[k] ? dims[k] : 1;
        }
        Py_INCREF(descr);  /* (PyArray_NewFromDescr steals it) */
        PyObject *view = PyArray_NewFromDescr(&PyArray_Type, descr, (int)d, dims, strides,
                                              base + (npy_intp)st[j] * itemsize, flags, NULL);
        if (view == NULL) {
            goto fail;
        }
        Py_INCREF(buf);  /* (PyArray_SetBaseObject steals it, even on failure) */
        if (PyArray_SetBaseObject((PyArrayObject *)view, (PyObject *)buf) < 0) {
            Py_DECREF(view);
            goto fail;
        }
        PyList_SET_ITEM(out, j, view);
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_DECREF(starts);
    Py_DECREF(shapes);
    return out;
}

/* ------------------------------------------------------------ Compression */
typedef int (*compress_fn)(void *ctx, const void *src, int32_t srcsize, void *dest,
                           int32_t destsize);

typedef struct {
    PyObject_HEAD
    compress_fn fn;
    void *ctx;
    Py_buffer src, dst;
    int have_src, have_dst;
    int rc;
    int running;              /* the thread has not been waited for */
    long pid;                 /* the process that started it */
    PyThread_type_lock done;  /* held from the start until the thread ends */
} Compression;

static void
compression_thread(void *arg)
{
    Compression *c = (Compression *)arg;
    c->rc = c->fn(c->ctx, c->src.buf, (int32_t)c->src.len, c->dst.buf, (int32_t)c->dst.len);
    PyThread_release_lock(c->done);
}

/* Wait for the thread (GIL released). 0, or -1 in a process it was not
 * started in (a forked child: it does not exist there). */
static int
compression_join(Compression *c)
{
    if (!c->running) {
        return 0;
    }
    if ((long)lazyarr_getpid() != c->pid) {
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(c->done, WAIT_LOCK);
    Py_END_ALLOW_THREADS
    PyThread_release_lock(c->done);
    c->running = 0;
    return 0;
}

static int
compression_init(Compression *c, PyObject *args, PyObject *kwds)
{
    unsigned long long fn, ctx;
    PyObject *src, *dst;
    static char *kwlist[] = {"fn", "ctx", "src", "dst", NULL};
    if (c->done != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Compression objects run once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "KKOO:Compression", kwlist, &fn, &ctx, &src,
                                     &dst)) {
        return -1;
    }
    if (fn == 0 || ctx == 0) {
        PyErr_SetString(PyExc_ValueError, "Compression: null function or context");
        return -1;
    }
    if (PyObject_GetBuffer(src, &c->src, PyBUF_C_CONTIGUOUS) < 0) {
        return -1;
    }
    c->have_src = 1;
    if (PyObject_GetBuffer(dst, &c->dst, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        return -1;
    }
    c->have_dst = 1;
    if (c->src.len > INT32_MAX || c->dst.len > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "Compression: buffers of 2 GiB or more");
        return -1;
    }
    c->fn = (compress_fn)(uintptr_t)fn;
    c->ctx = (void *)(uintptr_t)ctx;
    c->done = PyThread_allocate_lock();
    if (c->done == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyThread_acquire_lock(c->done, WAIT_LOCK);  /* (free: just made) */
    c->pid = (long)lazyarr_getpid();
    c->running = 1;
    if (PyThread_start_new_thread(compression_thread, c) == PYTHREAD_INVALID_THREAD_ID) {
        c->running = 0;
        PyThread_release_lock(c->done);
        PyErr_SetString(PyExc_RuntimeError, "Compression: cannot start a thread");
        return -1;
    }
    return 0;
}

static PyObject *
compression_wait(Compression *c, PyObject *unused)
{
    if (c->done == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Compression: never started");
        return NULL;
    }
    if (compression_join(c) < 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Compression: started in another process (before a fork)");
        return NULL;
    }
    return PyLong_FromLong(c->rc);
}

static void
compression_dealloc(Compression *c)
{
    if (compression_join(c) < 0) {
        /* A forked child: the thread is the parent's. Its buffers may be the
         * child's copies of ones it would still write: leak them. */
        Py_TYPE(c)->tp_free((PyObject *)c);
        return;
    }
    if (c->have_src) {
        PyBuffer_Release(&c->src);
    }
    if (c->have_dst) {
        PyBuffer_Release(&c->dst);
    }
    if (c->done != NULL) {
        PyThread_free_lock(c->done);
    }
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyMethodDef compression_methods[] = {
    {"wait", (PyCFunction)compression_wait, METH_NOARGS,
     "wait() -> int: wait for the compression; the C function's result."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CompressionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lazyarr._speedups.Compression",
    .tp_basicsize = sizeof(Compression),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Compression(fn, ctx, src, dst): blosc2_compress_ctx on a native thread.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)compression_init,
    .tp_dealloc = (destructor)compression_dealloc,
    .tp_methods = compression_methods,
};

/* ------------------------------------------------------------------ module */
static PyMethodDef methods[] = {
    {"item_views", item_views, METH_VARARGS,
     "item_views(buf, starts, shapes) -> list\n\n"
     "Views of items over the 1-d C-contiguous array buf: item j starts at\n"
     "element starts[j] and has the C-contiguous shape shapes[j]. See\n"
     "lazyarr.backends.ragged_base.item_views."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "lazyarr._speedups",
    "Loops of lazyarr written in C (optional; Python fallbacks exist).", -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    import_array();
    if (PyType_Ready(&CompressionType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&CompressionType);
    if (PyModule_AddObject(m, "Compression", (PyObject *)&CompressionType) < 0) {
        Py_DECREF(&CompressionType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
