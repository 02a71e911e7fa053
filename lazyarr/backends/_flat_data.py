"""Reads of the flat data column of a ``ragged-offsets`` array.

Two things :class:`lazyarr.backends.ragged_offsets.RaggedOffsetsBackend`
keeps per array about its 1-d data column:

* how a range of it is read: Blosc2 chunks decoded by
  :mod:`lazyarr.backends._blosc2` (only the blocks a range lies in, outside
  the HDF5 lock), anything else through PyTables' hyperslab read;
* a bounded LRU of decoded, aligned windows of it, from which a single item
  is sliced, as HDF5's chunk cache serves the walkthrough's per-item getter
  from memory: a random item costs one lookup once its window is in.

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "f.h5")
>>> with la.open(path, "w") as store:
...     r = store.create_ragged("r", dtype="int16", item_ndim=1)
...     r.extend([np.arange(3), np.arange(5)])
>>> with la.open(path) as store:
...     r = store["r"]
...     r[1], len(r.backend._flat.windows)
(array([0, 1, 2, 3, 4], dtype=int16), 1)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from lazyarr.backends import _blosc2

__all__ = ["FlatData", "ITEM_WINDOW_BYTES", "ITEM_CACHE_BYTES"]

#: A single item is served from a decoded, aligned window of the flat data
#: of this many bytes (read whole on a miss: for Blosc2 data only the blocks
#: it lies in are decoded) ...
ITEM_WINDOW_BYTES = 64 * 2**10
#: ... and up to this many bytes of windows are kept per array.
ITEM_CACHE_BYTES = 16 * 2**20


class FlatData:
    """The read state of one data column (see the module docstring).

    Parameters
    ----------
    dtype : numpy.dtype
        The stored dtype (byte order included) reads return.
    native : callable
        Turns what PyTables read (native byte order) into ``dtype``.
    fallback : callable
        ``fallback((slice,))`` reads a range through PyTables taking the
        lock itself: what :func:`lazyarr.backends._blosc2.read` falls back to.
    """

    def __init__(self, dtype: np.dtype, native: Callable[[np.ndarray], np.ndarray],
                 fallback: Callable[[tuple], np.ndarray]) -> None:
        self.dtype = dtype
        self._native = native
        self._fallback = fallback
        #: Appended since the last flush: raw Blosc2 chunk reads (which come
        #: from the file, not HDF5's caches) need a flush first.
        self.unflushed = True
        self._raw_for: tuple[Any, Any] | None = None
        self.windows: "OrderedDict[int, np.ndarray]" = OrderedDict()

    def written(self) -> None:
        """The column grew or was trimmed: flush before raw reads, drop windows."""
        self.unflushed = True
        self.windows.clear()

    def raw(self, data: Any) -> tuple | None:
        """``(shape, chunk shape, fill value)`` for :func:`_blosc2.read` when it
        decodes this column, else None. Flushes pending appends first. Caller
        holds the lock."""
        got = self._raw_for
        if got is None or got[0] is not data:
            geo = None
            if _blosc2.eligible(data):
                geo = (tuple(int(c) for c in data.chunkshape), data.atom.dflt)
            got = self._raw_for = (data, geo)
        if got[1] is None:
            return None
        if self.unflushed:
            # Raw chunks come from the file: appends must be in it, and the
            # decoded blocks of the old last chunk forgotten.
            data.flush()
            _blosc2.invalidate(data)
            self.unflushed = False
        return ((int(data.nrows),),) + got[1]

    def pytables_read(self, data: Any, lo: int, hi: int) -> np.ndarray:
        """Elements ``lo:hi`` through PyTables (stored dtype). Caller holds the lock."""
        buf = np.empty(hi - lo, dtype=data.atom.dtype)
        if hi > lo:
            data._g_read_slice(np.array([lo], dtype=np.int64), np.array([hi], dtype=np.int64),
                               np.array([1], dtype=np.int64), buf)
        return self._native(buf)

    def decode(self, data: Any, geometry: tuple, lo: int, hi: int) -> np.ndarray:
        """Elements ``lo:hi`` of a column :meth:`raw` gave ``geometry`` for."""
        return _blosc2.read(data, *geometry, (slice(lo, hi, 1),), self.dtype, self._fallback)

    def item(self, data: Any, lo: int, hi: int, shape: list, end: int) -> np.ndarray | None:
        """The item at elements ``lo:hi`` of shape ``shape`` (a fresh array), from
        its cached window; None when it spans two windows. ``end`` is where the
        committed data stops. Caller holds the lock."""
        width = max(1, ITEM_WINDOW_BYTES // self.dtype.itemsize)
        w = lo // width
        if hi > (w + 1) * width:
            return None
        buf = self.windows.get(w)
        if buf is None or hi > w * width + len(buf):
            # Not cached, or cached before items were appended into it (by
            # another array: our own appends clear the windows).
            a, b = w * width, min((w + 1) * width, end)
            geometry = self.raw(data)
            buf = self.pytables_read(data, a, b) if geometry is None else self.decode(data, geometry, a, b)
            self.windows[w] = buf
            while len(self.windows) * width * self.dtype.itemsize > ITEM_CACHE_BYTES:
                self.windows.popitem(last=False)
        else:
            self.windows.move_to_end(w)
        # A copy: the caller owns the item, the window stays as read.
        return buf[lo - w * width : hi - w * width].reshape(shape).copy()
