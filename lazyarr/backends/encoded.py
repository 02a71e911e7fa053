"""Dtypes HDF5 (through PyTables) has no type for, stored as bytes it has.

PyTables stores bool, integers, floats (float16 too), complex and fixed
bytes ``S`` as they are. The other NumPy dtypes a user has in memory are
stored as a dtype PyTables has, with the NumPy dtype in the node's
:data:`ATTR_DTYPE` attribute, and come back exactly (values, byte order,
``dtype.str``):

============================  ==============================================
NumPy dtype                   stored as
============================  ==============================================
``'c'`` (char)                ``S1`` (the same bytes; only the dtype differs)
``datetime64``/``timedelta64``  ``int64`` of the same byte order (NumPy's own
                              representation: NaT is the smallest int64)
unicode ``U<n>``              ``uint32`` code points, one more axis of ``n``
structured / void             ``uint8``, one more axis of ``itemsize`` bytes
                              (nested fields, sub-arrays and padding kept)
============================  ==============================================

h5py users see the stored form (and the attribute); lazyarr's reads undo
it. :class:`EncodedBackend` wraps the backend of the stored node, so every
backend that stores a node (plain, compressed) gets these dtypes at once.

Examples
--------
>>> import numpy as np
>>> storage_for(np.dtype("<M8[ms]")), storage_for(np.dtype(">U3"))
((dtype('int64'), None), (dtype('>u4'), 3))
>>> storage_for(np.dtype("f2")) is None
True
>>> dtype_from_attr(dtype_to_attr(np.dtype([("a", "<i4"), ("b", "S2", (2,))])))
dtype([('a', '<i4'), ('b', 'S2', (2,))])
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np

from lazyarr.core.selection import Selection
from lazyarr.core.support import DEFAULT_COST, CostModel, IndexingSupport
from lazyarr.errors import BackendError

__all__ = [
    "ATTR_DTYPE",
    "EncodedBackend",
    "for_create",
    "declared_char",
    "dtype_from_attr",
    "dtype_to_attr",
    "storage_for",
]

#: HDF5 attribute holding the NumPy dtype of a node stored in another form.
ATTR_DTYPE = "LAZYARR_DTYPE"


def storage_for(dt: np.dtype) -> tuple[np.dtype, int | None] | None:
    """How ``dt`` is stored: ``(stored dtype, extra trailing axis or None)``.

    None when PyTables stores ``dt`` as it is. Raises
    :class:`lazyarr.BackendError` (a TypeError) naming the dtype for what
    cannot be stored at all (objects, zero-size items).
    """
    dt = np.dtype(dt)
    if dt.hasobject:
        raise BackendError(
            f"cannot store dtype {dt} in HDF5: Python objects have no fixed size "
            "(store str as 'U', bytes as 'S')"
        )
    if dt.char == "c":
        return np.dtype("S1"), None
    if dt.kind in "mM":
        return np.dtype("i8").newbyteorder(dt.byteorder), None
    if dt.itemsize == 0 and dt.kind in "UV":
        raise BackendError(f"cannot store dtype {dt.str} in HDF5: zero-size items have no storage")
    if dt.kind == "U":
        return np.dtype("u4").newbyteorder(dt.byteorder), dt.itemsize // 4
    if dt.kind == "V":
        return np.dtype("u1"), dt.itemsize
    return None


def dtype_to_attr(dt: np.dtype) -> str:
    """The :data:`ATTR_DTYPE` text for ``dt`` (NumPy's ``.npy`` header form)."""
    if dt.char == "c":  # the .npy form would say S1
        return "c"
    return repr(np.lib.format.dtype_to_descr(dt))


def dtype_from_attr(text: Any) -> np.dtype:
    """The dtype :func:`dtype_to_attr` wrote; BackendError when unreadable."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    text = str(text)
    try:
        if text == "c":
            return np.dtype("c")
        return np.lib.format.descr_to_dtype(ast.literal_eval(text))
    except (ValueError, TypeError, SyntaxError) as exc:
        raise BackendError(f"unreadable {ATTR_DTYPE} attribute {text!r}: {exc}") from None


def declared_char(dtype: np.dtype, attrs: Any) -> np.dtype:
    """``'c'`` for an ``S1`` array whose attributes say :data:`ATTR_DTYPE` ``'c'``.

    For the h5py and zarr backends, whose libraries store a ``'c'`` array as
    ``S1``: the attribute (set by whoever wrote the array) keeps NumPy's
    char dtype, so ``x[0] = 'abc'`` stores one character per element.

    Examples
    --------
    >>> declared_char(np.dtype("S1"), {ATTR_DTYPE: "c"}).char
    'c'
    >>> declared_char(np.dtype("S1"), {}).char
    'S'
    """
    dtype = np.dtype(dtype)
    try:
        said = attrs.get(ATTR_DTYPE)
    except Exception:  # noqa: BLE001 - attributes a library cannot read
        return dtype
    if isinstance(said, bytes):
        said = said.decode("ascii", "replace")
    return np.dtype("c") if said == "c" and dtype == np.dtype("S1") else dtype


def _stored(value: np.ndarray, storage: np.dtype, extra: int | None) -> np.ndarray:
    """``value`` (logical dtype) as the stored array: a view, no copy when contiguous."""
    flat = np.ascontiguousarray(value).reshape(-1)
    out = flat.view(storage)
    return out.reshape(value.shape + ((extra,) if extra is not None else ()))


def for_create(
    arr: np.ndarray | None, shape: tuple[int, ...] | None, dtype: np.dtype,
    chunks: tuple[int, ...] | None,
) -> tuple[np.ndarray | None, tuple[int, ...] | None, np.dtype, tuple[int, ...] | None,
           str | None]:
    """What to create for an array of ``dtype``: data, shape, dtype, chunks in
    stored form, and the :data:`ATTR_DTYPE` text (None: stored as it is).

    Examples
    --------
    >>> data, shape, dt, chunks, attr = for_create(np.array(["ab", "c"]), None,
    ...                                            np.dtype("<U2"), (1,))
    >>> data.shape, dt, chunks, attr
    ((2, 2), dtype('uint32'), (1, 2), "'<U2'")
    """
    how = storage_for(dtype)
    if how is None:
        return arr, shape, dtype, chunks, None
    stored, extra = how
    more = (extra,) if extra is not None else ()
    if arr is not None:
        arr = _stored(arr, stored, extra)
    else:
        shape = tuple(shape or ()) + more
    if chunks is not None:
        chunks = tuple(chunks) + more
    return arr, shape, stored, chunks, dtype_to_attr(dtype)


class EncodedBackend:
    """A node of a stored dtype seen as its NumPy dtype (see the module docstring).

    Parameters
    ----------
    inner : Backend
        The backend of the stored node (plain or compressed).
    dtype : numpy.dtype
        The NumPy dtype the node holds.
    storage : (dtype, int or None), optional
        How it is stored, when not :func:`storage_for` (h5py's enum bool:
        ``int8``).

    Everything but shape, dtype, chunks and the I/O calls is the inner
    backend's (kind, file, node path, size on disk, pickling by reference).
    """

    def __init__(self, inner: Any, dtype: np.dtype,
                 storage: tuple[np.dtype, int | None] | None = None) -> None:
        dtype = np.dtype(dtype)
        how = storage_for(dtype) if storage is None else storage
        if how is None:
            raise BackendError(f"dtype {dtype} is stored as it is; it needs no {ATTR_DTYPE}")
        stored, extra = how
        self._inner, self._dtype, self._storage, self._extra = inner, dtype, np.dtype(stored), extra
        if not getattr(inner, "deferred", False):
            self._check(inner.dtype, inner.shape)

    def _check(self, stored: np.dtype, shape: tuple[int, ...]) -> None:
        if stored != self._storage or (self._extra is not None and (
                not shape or shape[-1] != self._extra)):
            raise BackendError(
                f"node {getattr(self._inner, 'path', '?')!r} says it holds {self._dtype} "
                f"({ATTR_DTYPE}) but is stored as {stored} of shape {tuple(shape)}, not "
                f"{self._storage}" + (f" with a last axis of {self._extra}"
                                      if self._extra is not None else "")
            )

    # ------------------------------------------------------------- protocol
    @property
    def inner(self) -> Any:
        """The backend of the stored node."""
        return self._inner

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def shape(self) -> tuple[int, ...]:
        shape = tuple(self._inner.shape)
        return shape[:-1] if self._extra is not None else shape

    @property
    def chunks(self) -> tuple[int, ...] | None:
        c = self._inner.chunks
        if c is None or self._extra is None:
            return c
        return tuple(c[:-1])

    def _sel(self, sel: Selection) -> Selection:
        return tuple(sel) + ((slice(0, self._extra, 1),) if self._extra is not None else ())

    def read(self, sel: Selection) -> np.ndarray:
        raw = np.ascontiguousarray(self._inner.read(self._sel(sel)))
        out = raw.view(self._dtype)
        return out.reshape(raw.shape[:-1]) if self._extra is not None else out

    def write(self, sel: Selection, value: np.ndarray) -> None:
        value = np.asarray(value, dtype=self._dtype)
        self._inner.write(self._sel(sel), _stored(value, self._storage, self._extra))

    def append(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=self._dtype)
        self._inner.append(_stored(rows, self._storage, self._extra))

    @property
    def nbytes_stored(self) -> int | None:
        return self._inner.nbytes_stored

    def describe(self) -> dict[str, Any]:
        out = dict(self._inner.describe())
        out["stored_as"] = f"{self._storage}" + (
            f" with a last axis of {self._extra}" if self._extra is not None else "")
        return out

    def reference(self, mode: str | None = None) -> "EncodedBackend":
        """What a pickle becomes: the inner backend's reference, same dtype."""
        return EncodedBackend(self._inner.reference(mode), self._dtype,
                              (self._storage, self._extra))

    def __reduce__(self) -> tuple:
        return (EncodedBackend, (self._inner, self._dtype, (self._storage, self._extra)))

    #: Reads and writes go through :meth:`read`/:meth:`write`, which undo the
    #: stored form: never NumPy keys straight to the inner backend (a plain
    #: node's memory map holds the stored form).
    support = IndexingSupport.ORTHOGONAL

    @property
    def cost(self) -> CostModel:
        return CostModel(chunks=self.chunks) if self.chunks else DEFAULT_COST

    #: What is the inner backend's, as it is.
    _DELEGATED = frozenset({"kind", "fileref", "path", "readonly", "extendable", "deferred",
                            "flush"})

    def __getattr__(self, name: str) -> Any:
        if name not in EncodedBackend._DELEGATED:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"EncodedBackend({self._inner!r}, {self._dtype})"
