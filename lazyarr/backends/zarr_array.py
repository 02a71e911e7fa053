"""A ``zarr.Array`` as a backend: NumPy's full indexing for zarr arrays.

zarr's orthogonal indexing (``get_orthogonal_selection``, zarr 2.16 and 3.x)
takes exactly what the planner produces: per-axis positive-step slices and
integer arrays. The planner supplies the rest of NumPy's semantics (negative
steps, repeated and unsorted indices, several index arrays picking points,
masks, ``None``, scalar versus 0-d, NumPy's exceptions).

zarr needs no HDF5 lock: its stores handle their own concurrency.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lazyarr.backends.base import BackendBase, check_plain_dtype
from lazyarr.backends.encoded import declared_char
from lazyarr.core.selection import Selection, selection_shape

try:
    import zarr
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("lazyarr's ZarrBackend needs zarr: pip install lazyarr[zarr]") from e

__all__ = ["ZarrBackend"]


class ZarrBackend(BackendBase):
    """Serve a ``zarr.Array`` through the backend protocol.

    Parameters
    ----------
    array : zarr.Array
        Any array of a numeric, bool or fixed-width bytes dtype. Writable and
        extendable (along axis 0, with ``resize``) unless opened read-only.

    Notes
    -----
    The backend pickles when the zarr array does (arrays in a local or
    remote store pickle by reference).

    zarr (3.1) does not store a chunk that compares equal to the fill value
    unless the array was created with ``config={"write_empty_chunks": True}``;
    for complex arrays ``-0j == 0j``, so a chunk of negative zeros reads back
    as positive zeros, through zarr alone as through lazyarr. Create arrays
    with that option when the sign of zero matters.

    Examples
    --------
    >>> import numpy as np, zarr, lazyarr as la
    >>> z = zarr.create_array(store={}, shape=(3, 4), dtype="i8", chunks=(2, 2))
    >>> z[...] = np.arange(12).reshape(3, 4)
    >>> x = la.LazyArray(la.backends.ZarrBackend(z))
    >>> len(x), x[::-1, [3, 3, 0]]          # zarr alone: no len, no negative step
    (3, array([[11, 11,  8],
           [ 7,  7,  4],
           [ 3,  3,  0]]))
    >>> x[[0, 2], [1, 3]]                   # points, as in NumPy
    array([ 1, 11])
    """

    kind = "zarr"

    def __init__(self, array: Any) -> None:
        if not isinstance(array, zarr.Array):
            raise TypeError(f"ZarrBackend needs a zarr.Array, got {type(array).__name__}")
        dtype = declared_char(check_plain_dtype(array.dtype, "zarr array"), array.attrs)
        self._z = array
        self._dtype = dtype
        self.readonly = bool(getattr(array, "read_only", False))
        self.extendable = not self.readonly
        self.chunks = tuple(int(c) for c in array.chunks)

    @property
    def array(self) -> Any:
        """The zarr array behind this backend."""
        return self._z

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self._z.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def read(self, sel: Selection) -> np.ndarray:
        if not sel:
            # zarr returns a NumPy scalar for the 0-d selection; keep an array.
            return np.array(self._z[...], dtype=self._dtype)
        out = self._z.get_orthogonal_selection(tuple(sel))
        # zarr may hand back its own byte order or a read-only view.
        return np.array(out, dtype=self._dtype, copy=True).reshape(selection_shape(sel))

    def write(self, sel: Selection, value: np.ndarray) -> None:
        if self.readonly:
            raise TypeError("the zarr array is read-only")
        if not sel:
            self._z[...] = value
            return
        self._z.set_orthogonal_selection(tuple(sel), value)

    def append(self, rows: np.ndarray) -> None:
        if self.readonly:
            raise TypeError("the zarr array is read-only")
        n = self._z.shape[0]
        try:
            self._z.append(rows, axis=0)
        except BaseException:
            # A failed append leaves the array as it was.
            if self._z.shape[0] != n:
                self._z.resize((n,) + tuple(self._z.shape[1:]))
            raise

    def describe(self) -> dict:
        return {"store": str(getattr(self._z, "store", "")), "path": getattr(self._z, "path", "")}
