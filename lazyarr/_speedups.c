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
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

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
    return PyModule_Create(&module);
}
