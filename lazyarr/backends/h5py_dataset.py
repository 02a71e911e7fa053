"""An ``h5py.Dataset`` as a backend: NumPy's full indexing for h5py datasets.

h5py reads slices with a positive step and *one* increasing index list per
selection. The planner already turns every NumPy key into per-axis slices and
sorted unique arrays; this backend declares
:attr:`~lazyarr.core.support.IndexingSupport.ONE_VECTOR` (one index list per
call), and the core cuts a selection with index arrays on several axes into
calls it can make (:func:`lazyarr.core.support.split_for`), by cost, one of:

* **slab**: h5py reads the one index array it can (the axis where it saves
  most) and the *bounding slices* of the other array axes; NumPy then takes
  the wanted positions from that slab. One HDF5 call, but it reads the
  positions between the wanted ones.
* **loop**: one h5py call per index of the shortest other array axis, each
  with fewer array axes (recursively). Reads only what is wanted, but pays
  HDF5's per-call overhead (tens of microseconds) each time.

The slab wins unless it would read many times more than wanted; the overhead
of a call is counted as :data:`CALL_OVERHEAD_BYTES` of reading (this
backend's ``cost.call_bytes``).

Every h5py call holds :data:`lazyarr.backends.base.HDF5_LOCK`: h5py has its own
lock, but lazyarr's rule is one lock for everything that enters HDF5, so h5py
and PyTables arrays can be used from threads side by side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lazyarr.backends.base import HDF5_LOCK, BackendBase, check_plain_dtype
from lazyarr.backends.encoded import declared_char
from lazyarr.core.selection import Selection, selection_shape
from lazyarr.core.support import (CostModel, IndexingSupport, multi_array_choice, read_by_steps,
                                   write_by_steps)

try:
    import h5py
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "lazyarr's H5pyBackend needs h5py: pip install lazyarr[h5py]"
    ) from e

__all__ = ["H5pyBackend", "CALL_OVERHEAD_BYTES"]

#: What one extra h5py call costs, in bytes of reading it could have done
#: instead (about 30 us of call overhead at ~2 GB/s).
CALL_OVERHEAD_BYTES = 64 * 2**10


def _multi_array_plan(sel: Selection, itemsize: int) -> tuple[str, int]:
    """``("slab", axis)`` or ``("loop", axis)``: the core's choice for this backend.

    See :func:`lazyarr.core.support.multi_array_choice`.

    Examples
    --------
    Two short lists far apart on two long axes: a slab would read
    2 x 10,000 x 8 elements, one call per index of the second list
    2 x (2 x 1 x 8).

    >>> sel = (np.array([0, 99_999]), np.array([0, 9_999]), slice(0, 8, 1))
    >>> _multi_array_plan(sel, 8)
    ('loop', 1)

    Dense lists: one slab.

    >>> _multi_array_plan((np.arange(0, 20, 2), np.array([1, 3])), 8)
    ('slab', 0)
    """
    return multi_array_choice(sel, itemsize, CALL_OVERHEAD_BYTES)


class H5pyBackend(BackendBase):
    """Serve an ``h5py.Dataset`` through the backend protocol.

    Parameters
    ----------
    dset : h5py.Dataset
        Any dataset of a numeric, bool or fixed-width bytes dtype. Writable
        when its file is open for writing; extendable when it is chunked and
        its ``maxshape[0]`` is unlimited (``None``).

    Notes
    -----
    The dataset's file must stay open while the backend is used; the backend
    does not pickle (h5py objects do not). Reads of selections with index
    arrays on several axes are planned by cost (see the module docstring).
    NoCache and SwapWindow apply as to any backend; ``la.InMemory()`` means
    PyTables' core driver, so for h5py open the file with
    ``h5py.File(path, driver="core")`` instead (:func:`lazyarr.wrap` says so).

    Examples
    --------
    >>> import numpy as np, h5py, lazyarr as la
    >>> f = h5py.File("doc.h5", "w", driver="core", backing_store=False)
    >>> d = f.create_dataset("x", data=np.arange(12).reshape(3, 4), maxshape=(None, 4))
    >>> x = la.LazyArray(la.backends.H5pyBackend(d))
    >>> x[[2, 0, 2], ::-1]          # h5py alone refuses both the list and the step
    array([[11, 10,  9,  8],
           [ 3,  2,  1,  0],
           [11, 10,  9,  8]])
    >>> x[[0, 2], [3, 0]]           # two index arrays: points, as in NumPy
    array([3, 8])
    >>> x.append(np.ones((1, 4), dtype=x.dtype)); len(x), d.shape
    (4, (4, 4))
    >>> f.close()
    """

    kind = "h5py"
    #: h5py reads slices and one increasing index list per call.
    support = IndexingSupport.ONE_VECTOR

    def __init__(self, dset: Any) -> None:
        if not isinstance(dset, h5py.Dataset):
            raise TypeError(f"H5pyBackend needs an h5py.Dataset, got {type(dset).__name__}")
        with HDF5_LOCK:
            dtype = declared_char(dset.dtype, dset.attrs)
            maxshape = dset.maxshape
            chunks = dset.chunks
            mode = dset.file.mode
        check_plain_dtype(dtype, f"dataset {dset.name!r}")
        self._d = dset
        self._dtype = dtype
        self.readonly = mode != "r+"
        self.chunks = None if chunks is None else tuple(int(c) for c in chunks)
        self.extendable = bool(
            not self.readonly and chunks is not None and maxshape and maxshape[0] is None
        )

    @property
    def dataset(self) -> Any:
        """The h5py dataset behind this backend."""
        return self._d

    @property
    def shape(self) -> tuple[int, ...]:
        with HDF5_LOCK:
            return tuple(int(n) for n in self._d.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def describe(self) -> dict:
        with HDF5_LOCK:
            return {"file": self._d.file.filename, "name": self._d.name}

    # ----------------------------------------------------------------- reads
    @property
    def cost(self) -> CostModel:
        """This backend's cost parameters: an h5py call costs more than a PyTables one."""
        return CostModel(call_bytes=CALL_OVERHEAD_BYTES, chunks=self.chunks)

    def read(self, sel: Selection) -> np.ndarray:
        # The core decides the calls (the read path hands this backend
        # ONE_VECTOR selections only; a direct caller may pass any); this
        # only makes them, under one lock.
        with HDF5_LOCK:
            return read_by_steps(self._read_one, sel, self.support, self.cost, self._dtype)

    def _read_one(self, sel: Selection) -> np.ndarray:
        """One h5py call: ``sel`` has at most one index array. Caller holds the lock."""
        out = np.empty(selection_shape(sel), dtype=self._dtype)
        if out.size:
            # read_direct fills ``out`` in its own dtype (byte order kept),
            # and a 0-d selection stays an array.
            self._d.read_direct(out, tuple(sel))
        return out

    # ---------------------------------------------------------------- writes
    def write(self, sel: Selection, value: np.ndarray) -> None:
        if self.readonly:
            raise TypeError("the dataset's file is open read-only")
        # h5py writes one list per call: the core cuts the others into runs
        # (no read-modify-write of a slab, which could race a reader).
        with HDF5_LOCK:
            write_by_steps(self._write_one, sel, value, self.support)

    def _write_one(self, sel: Selection, value: np.ndarray) -> None:
        """One h5py call: ``sel`` has at most one index array. Caller holds the lock."""
        self._d.write_direct(np.ascontiguousarray(value), dest_sel=tuple(sel))

    def append(self, rows: np.ndarray) -> None:
        if not self.extendable:
            raise TypeError(
                "this h5py dataset cannot grow: create it chunked with maxshape=(None, ...) "
                "in a file open for writing"
            )
        with HDF5_LOCK:
            n = self._d.shape[0]
            self._d.resize(n + len(rows), axis=0)
            try:
                self._d[n:] = rows
            except BaseException:
                # A failed append leaves the dataset as it was.
                self._d.resize(n, axis=0)
                raise

    def flush(self) -> None:
        with HDF5_LOCK:
            self._d.flush()
