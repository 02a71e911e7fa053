"""RaggedArray: a sequence of N-d arrays of varying shape, stored in HDF5.

The items of a ragged array all have the same dtype and number of axes, but
each has its own shape (speech utterances, sentences, images of different
sizes). ``r[i]`` is one item as an ndarray; any other key NumPy accepts on a
1-d array of length ``len(r)`` selects items the way NumPy would select
them from ``np.asarray(r)`` (a 1-d object array), and returns them as a
list. ``r[i, rest...]`` indexes inside item ``i``.

Reads are in bulk: the items a key selects are grouped into runs of
consecutive items and each run is read with a handful of HDF5 calls,
whatever its length. Appends are validated up front and buffered, so that
one-at-a-time appends cost about what a bulk ``extend`` does.

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "ragged.h5")
>>> with la.open(path, "w") as store:
...     r = store.create_ragged("utterances", dtype="float32", item_ndim=2)
...     r.extend([np.ones((3, 2)), np.arange(4).reshape(1, 4)])
...     r.append(np.zeros((0, 2)))
>>> store = la.open(path)
>>> r = store["utterances"]
>>> r
RaggedArray(len=3, dtype=float32, item_ndim=2, backend='ragged-offsets', cache=NoCache())
>>> r[1], r[1, 0, ::2]
(array([[0., 1., 2., 3.]], dtype=float32), array([0., 2.], dtype=float32))
>>> [a.shape for a in r[::-1]]
[(0, 2), (1, 4), (3, 2)]
>>> r.shapes
array([[3, 2],
       [1, 4],
       [0, 2]])
>>> store.close()
"""

from __future__ import annotations

import operator
from typing import Any, Iterable, Iterator

import numpy as np

from lazyarr.cache import BoundCache, CachePolicy, SwapWindow
from lazyarr.core.normalize import Ell, Mask, normalize
from lazyarr.core.selection import unique_inverse
from lazyarr.errors import ReadOnlyError
from lazyarr.handle import CachedArray

__all__ = ["RaggedArray"]

#: Buffered appends are written once they hold this many bytes of elements
#: (about one data chunk) or :data:`FLUSH_ITEMS` items (one metadata chunk).
FLUSH_BYTES = 2**20
FLUSH_ITEMS = 2**14
#: Bytes of items read per block when iterating.
ITER_BYTES = 4 * 2**20



def _item_index(k: Any) -> int | None:
    """``k`` as an item index if NumPy would take it as one integer, else None."""
    if isinstance(k, (bool, np.bool_)):
        return None
    if isinstance(k, (int, np.integer)):
        return int(k)
    if isinstance(k, np.ndarray) and k.ndim == 0 and k.dtype.kind in "iu":
        return int(k)
    return None


class RaggedArray(CachedArray):
    """A list of N-d arrays of one dtype and ndim, each with its own shape.

    Use :meth:`lazyarr.Store.create_ragged` to make one, and
    ``store[name]`` or :meth:`lazyarr.Store.ragged` to open one.

    Parameters
    ----------
    backend : RaggedBackendBase
        A ``ragged-offsets`` or ``ragged-vl`` backend.
    cache : CachePolicy, optional
        How reads reach the backend (:class:`lazyarr.NoCache` by default);
        ``cache_stats`` counts the reads.

    Notes
    -----
    Keys follow NumPy on ``np.asarray(r)``, a 1-d object array of the items:

    * ``r[i]`` (any integer type, negative counts from the end): the item,
      an ndarray with its stored shape; IndexError out of range;
    * ``r[i, rest...]`` is ``r[i][rest...]``, full NumPy semantics inside
      the item;
    * slices, integer lists/arrays (unsorted, repeated, negative) and boolean
      masks: a list of the items in the order NumPy selects them (a key
      whose NumPy result has more than one axis gives nested lists, as
      ``ndarray.tolist`` would); invalid keys raise what NumPy raises.

    Returned items never share memory with the buffer of pending appends,
    and a repeated index gives distinct arrays.

    Appended items are buffered: they are written when the buffer reaches
    about one chunk, on :meth:`flush`, and when the store is flushed, closed
    or its ``with`` block ends. Reads see buffered items. An array opened
    with :func:`lazyarr.open_array` is not tied to a store: call
    :meth:`flush` before dropping it.

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> store = la.open(os.path.join(tempfile.mkdtemp(), "r.h5"), "w")
    >>> r = store.create_ragged("words", dtype="S8", item_ndim=1, backend="vl")
    >>> r.extend([[b"a", b"ragged"], [b"list"]])
    >>> len(r), r[-1], r[[1, 0, 1]]
    (2, array([b'list'], dtype='|S8'), [array([b'list'], dtype='|S8'), array([b'a', b'ragged'], dtype='|S8'), array([b'list'], dtype='|S8')])
    >>> r[5]
    Traceback (most recent call last):
    ...
    IndexError: index 5 is out of bounds for axis 0 with size 2
    >>> store.close()
    """

    def __init__(self, backend: Any, cache: CachePolicy | None = None) -> None:
        super().__init__(backend, cache)
        #: Appended, not yet written: flattened copies in the stored dtype.
        self._pending: list[np.ndarray] = []
        self._pending_shapes: list[tuple[int, ...]] = []
        self._pending_bytes = 0
        #: Set by the Store that handed this array out: holds it while it has
        #: a buffer, so that the store's flush/close writes the buffer.
        self._dirty_set: set | None = None

    def __reduce__(self):
        # By reference (see CachedArray and pickle_as): buffered items are
        # written first, so that the copy sees them.
        return self._reduce_by_reference()

    # ------------------------------------------------------------ properties

    @property
    def item_ndim(self) -> int:
        """Number of axes of every item."""
        return int(self._backend.item_ndim)

    @property
    def shapes(self) -> np.ndarray:
        """The items' shapes, ``(len(r), item_ndim)`` int64 (a fresh array)."""
        c = self._backend.committed()
        disk = self._backend.read_shapes(0, c)
        if not self._pending_shapes:
            return disk
        pend = np.array(self._pending_shapes, dtype=np.int64).reshape(-1, self.item_ndim)
        return np.concatenate([disk, pend])

    @property
    def nbytes(self) -> int:
        """Bytes the items take in memory, as NumPy counts them (summed ``nbytes``)."""
        elements = self._backend.total_elements + sum(len(p) for p in self._pending)
        return elements * self.dtype.itemsize

    @property
    def nbytes_stored(self) -> int | None:
        """Bytes the written items take on disk (see the backend's note), or None."""
        return self._backend.nbytes_stored

    def __len__(self) -> int:
        return self._backend.committed() + len(self._pending)

    @property
    def attrs(self) -> Any:
        """The node's user attributes, a mutable mapping (:class:`lazyarr.groups.Attributes`)."""
        from lazyarr.groups import attrs_of

        return attrs_of(self._backend)

    def __repr__(self) -> str:
        try:
            n: Any = len(self)
        except Exception:  # noqa: BLE001 - a repr must not fail (closed store, say)
            n = "?"
        return (f"RaggedArray(len={n}, dtype={self.dtype}, item_ndim={self.item_ndim}, "
                f"backend={self._backend.kind!r}, cache={self._policy!r})")

    # ----------------------------------------------------------------- reads
    def __getitem__(self, key: Any) -> Any:
        c = self._backend.committed()
        n = c + len(self._pending)
        if isinstance(key, tuple) and key:
            i = _item_index(key[0])
            if i is not None:
                item = self._read_one(self._check_index(i, n), c)
                rest = key[1:]
                return item[rest] if rest else item
        i = _item_index(key)
        if i is not None:
            return self._read_one(self._check_index(i, n), c)
        if type(key) is slice:
            start, stop, step = key.indices(n)
            if step > 0:
                # Sorted and unique already: what _positions and
                # _read_positions would find out, at a tenth of a 1,000-item
                # slice's time.
                return self._read_sorted(np.arange(start, stop, step, dtype=np.int64), c)
        pos = _positions(key, n)
        if pos.ndim == 0:
            return self._read_one(int(pos))
        items = self._read_positions(pos.reshape(-1))
        if pos.ndim == 1:
            return items
        obj = np.empty(len(items), dtype=object)
        for j, a in enumerate(items):
            obj[j] = a
        return obj.reshape(pos.shape).tolist()

    @staticmethod
    def _check_index(i: int, n: int) -> int:
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of bounds for axis 0 with size {n}")
        return i + n if i < 0 else i

    def _read_one(self, i: int, committed: int | None = None) -> np.ndarray:
        if committed is not None and i < committed:
            # Committed (the usual case): straight to the policy, counted once.
            return self._cache.read_items(np.array([i], dtype=np.int64))[0]
        return self._read_sorted(np.array([i], dtype=np.int64))[0]

    def _read_positions(self, pos: np.ndarray) -> list[np.ndarray]:
        """Items at ``pos`` (1-d, in range, any order), in that order."""
        if len(pos) == 0:
            return []
        uniq, inv = unique_inverse(pos)
        if inv is None:
            return self._read_sorted(uniq.astype(np.int64, copy=False))
        items = self._read_sorted(uniq.astype(np.int64, copy=False))
        seen = np.zeros(len(uniq), dtype=bool)
        out = []
        for j in inv.tolist():
            # A repeated index gets its own array, as a read from disk would.
            out.append(items[j].copy() if seen[j] else items[j])
            seen[j] = True
        return out

    def _read_sorted(self, idx: np.ndarray, c: int | None = None) -> list[np.ndarray]:
        """Items at sorted, unique, in-range ``idx``: disk first, then the buffer.

        ``c``: the backend's committed items, when the caller just asked.
        """
        if c is None:
            c = self._backend.committed()
        cut = len(idx) if not len(idx) or idx[-1] < c else int(np.searchsorted(idx, c))
        out: list[np.ndarray] = []
        if cut:
            # Through the policy: a SwapWindow serves runs of items from memory.
            out = list(self._cache.read_items(idx[:cut]))
        for j in (idx[cut:] - c).tolist():
            out.append(self._pending[j].reshape(self._pending_shapes[j]).copy())
        return out

    def __iter__(self) -> Iterator[np.ndarray]:
        n = len(self)
        c = self._backend.committed()
        avg = max(1, self._backend.total_elements * self.dtype.itemsize // max(1, c))
        step = int(min(max(1, ITER_BYTES // avg), 2**16))
        for a in range(0, n, step):
            yield from self._read_sorted(np.arange(a, min(n, a + step), dtype=np.int64))

    def iter_batches(self, batch_size: int, *, shuffle: bool = False, seed: Any = None,
                     drop_last: bool = False, window_bytes: int | None = None) -> Iterator[list]:
        """Items in batches (lists); see :func:`lazyarr.batches.iter_item_batches`."""
        from lazyarr.batches import iter_item_batches

        return iter_item_batches(self, batch_size, shuffle=shuffle, seed=seed,
                                 drop_last=drop_last, window_bytes=window_bytes)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The items as a 1-d object array (``np.asarray(r)``).

        ``copy=False`` raises ValueError: the items must be copied off storage.
        """
        if copy is False:
            raise ValueError(
                "a RaggedArray cannot be viewed without a copy: its items live in "
                "storage; use np.asarray(r) or list(r)"
            )
        out = np.empty(len(self), dtype=object)
        for j, a in enumerate(self):
            out[j] = a  # one by one: NumPy would stack equal-shaped items
        if dtype is not None and np.dtype(dtype) != out.dtype:
            out = out.astype(dtype)
        return out

    # ---------------------------------------------------------------- writes
    def _prepare(self, item: Any, j: int) -> tuple[np.ndarray, tuple[int, ...]]:
        """Validate one item; return a flattened copy in the stored dtype, and its shape."""
        dt = self.dtype
        arr = np.asarray(item)
        if arr.ndim != self.item_ndim:
            raise ValueError(
                f"item {j} has {arr.ndim} axes (shape {arr.shape}); this ragged array "
                f"holds {self.item_ndim}-d items"
            )
        check_shape = getattr(self._backend, "check_item_shape", None)
        if check_shape is not None:  # a layout with fixed trailing axes (a VLArray's atom)
            check_shape(arr.shape, j)
        if arr.dtype.hasobject or not np.can_cast(arr.dtype, dt, casting="same_kind"):
            raise TypeError(f"cannot append item {j} of dtype {arr.dtype} to a ragged array "
                            f"of {dt} (same_kind casting)")
        if dt.kind in "iu" and arr.dtype.kind in "iu" and arr.size:
            info = np.iinfo(dt)
            lo, hi = arr.min(), arr.max()
            if lo < info.min or hi > info.max:
                raise ValueError(f"item {j} has values [{lo}, {hi}] out of range for {dt}")
        # A copy: the caller may reuse its array before the buffer is written.
        return np.array(arr, dtype=dt, order="C", copy=True).reshape(-1), arr.shape

    def append(self, item: Any) -> None:
        """Append one item (array_like with ``item_ndim`` axes).

        Raises
        ------
        ValueError
            Wrong number of axes, or integers out of range for the dtype.
        TypeError
            A dtype that cannot be cast with NumPy's ``same_kind`` rule.
        ReadOnlyError
            The store is read-only.

        Examples
        --------
        >>> import numpy as np, lazyarr as la, tempfile, os
        >>> store = la.open(os.path.join(tempfile.mkdtemp(), "a.h5"), "w")
        >>> r = store.create_ragged("r", dtype="int32", item_ndim=1)
        >>> r.append([1, 2, 3])
        >>> r.append(np.ones((2, 2), dtype=np.int32))
        Traceback (most recent call last):
        ...
        ValueError: item 0 has 2 axes (shape (2, 2)); this ragged array holds 1-d items
        >>> r.append([0.5])
        Traceback (most recent call last):
        ...
        TypeError: cannot append item 0 of dtype float64 to a ragged array of int32 (same_kind casting)
        >>> len(r)
        1
        >>> store.close()
        """
        self.extend((item,))

    def extend(self, items: Iterable[Any]) -> None:
        """Append items; a bad one (see :meth:`append`) appends none of them.

        Examples
        --------
        >>> import numpy as np, lazyarr as la, tempfile, os
        >>> store = la.open(os.path.join(tempfile.mkdtemp(), "e.h5"), "w")
        >>> r = store.create_ragged("r", dtype="float64", item_ndim=1)
        >>> r.extend([np.arange(3.0), [7.0]])
        >>> r.extend([[1.0], [[2.0]]])
        Traceback (most recent call last):
        ...
        ValueError: item 1 has 2 axes (shape (1, 1)); this ragged array holds 1-d items
        >>> len(r), r[-1]
        (2, array([7.]))
        >>> store.close()
        """
        self._check_writable()
        if isinstance(items, np.ndarray) and items.dtype != object:
            # A regular array is a batch of equal-shaped items along axis 0.
            items = list(items)
        flats, shapes = [], []
        for j, item in enumerate(items):
            flat, shape = self._prepare(item, j)
            flats.append(flat)
            shapes.append(shape)
        if not flats:
            return
        self._pending.extend(flats)
        self._pending_shapes.extend(shapes)
        self._pending_bytes += sum(f.nbytes for f in flats)
        if self._dirty_set is not None:
            self._dirty_set.add(self)
        if self._pending_bytes >= FLUSH_BYTES or len(self._pending) >= FLUSH_ITEMS:
            self.flush()

    def _check_writable(self) -> None:
        b = self._backend
        b.fileref.file  # noqa: B018  (ClosedError after close)
        if b.readonly:
            raise ReadOnlyError(
                f"{b.fileref.path!r} is open read-only (mode 'r'); "
                "open it with mode 'r+' or 'a' to append"
            )
        if not b.extendable:
            raise TypeError(f"ragged array {b.path!r} cannot grow: its columns are not EArrays")

    def flush(self) -> None:
        """Write buffered items to the file (data, then shapes, then start/stop)."""
        if self._pending:
            self._backend.write_items(self._pending, np.array(
                self._pending_shapes, dtype=np.int64).reshape(-1, self.item_ndim))
            self._pending, self._pending_shapes, self._pending_bytes = [], [], 0
            self._cache.invalidate(None)
        if self._dirty_set is not None:
            self._dirty_set.discard(self)
        if not self._backend.readonly and not self._backend.fileref.closed:
            self._backend.flush()

    # ------------------------------------------------- processes and Dask
    def to_dask_bag(self, partition_size: int | None = None) -> Any:
        """The items as a ``dask.bag.Bag`` for item-wise work (pickled by reference).

        See :func:`lazyarr.dask_support.to_dask_bag` (needs ``pip install lazyarr[dask]``).
        """
        from lazyarr.dask_support import to_dask_bag

        return to_dask_bag(self, partition_size)


def _positions(key: Any, n: int) -> np.ndarray:
    """Item positions NumPy selects with ``key`` from a 1-d array of length ``n``.

    Raises NumPy's exception for a key NumPy rejects. Slices, index arrays
    and masks cost what they select, not ``n``.

    Examples
    --------
    >>> _positions(slice(None, None, -2), 5)
    array([4, 2, 0])
    >>> _positions([[1, -1]], 3)
    array([[1, 2]])
    """
    if isinstance(key, np.ndarray) and key.size > 2**20:
        # NumPy allocates its result before it checks the key: a key that
        # selects more items than memory holds fails at once there, not
        # after a check of 10**10 indices. So here.
        np.empty(key.shape, dtype=np.intp)
    nk = normalize(key, (n,))
    if nk.empty_result is not None:
        return np.empty(nk.empty_result, dtype=np.intp)
    if len(nk.components) == 1:
        c = nk.components[0]
        if isinstance(c, range):
            return np.arange(c.start, c.stop, c.step, dtype=np.intp)
        if isinstance(c, np.ndarray):
            return c
        if isinstance(c, Mask):
            return c.arrays[0]
        if isinstance(c, int):
            return np.array(c, dtype=np.intp)
        if isinstance(c, Ell):
            return np.arange(n, dtype=np.intp)
    # Rare keys (newaxis, Ellipsis with an index, 0-d booleans): NumPy's
    # own answer on the positions, already validated above.
    return np.arange(n, dtype=np.intp)[key]


# --------------------------------------------------------------------------
# The SwapWindow of a ragged array
# --------------------------------------------------------------------------
#: ``a.nbytes`` without a Python frame per item (ragged reads return many).
_NBYTES = operator.attrgetter("nbytes")


class ItemWindow(BoundCache):
    """SwapWindow state for a ragged array: whole items ``[lo, hi)``.

    Used through :meth:`read_items` (sorted, unique, committed item indices)
    rather than :meth:`read`. The window is loaded by reading items from the
    first one requested until the next would pass the budget.
    """

    def __init__(self, policy: SwapWindow, backend: Any) -> None:
        super().__init__(policy, backend)
        self.lo = self.hi = 0
        self.items: list[np.ndarray] | None = None
        # As for rows: only a miss that continues or repeats the previous
        # read (or the first read) loads a window.
        self.last_start: int | None = None
        self.last_stop: int | None = None

    @property
    def nbytes_held(self) -> int:
        items = self.items
        return 0 if items is None else sum(map(_NBYTES, items))

    def _counted(self, items: list[np.ndarray]) -> list[np.ndarray]:
        self._count(reads=1, nbytes=sum(map(_NBYTES, items)))
        return items

    def _span(self, lo: int, committed: int) -> int:
        """End of the window of whole items from ``lo`` within the budget."""
        budget = self.policy.nbytes
        itemsize = np.dtype(self.backend.dtype).itemsize
        stop = min(committed, lo + 4096)
        while True:
            sizes = np.prod(self.backend.read_shapes(lo, stop), axis=1) * itemsize
            fit = int(np.searchsorted(np.cumsum(sizes), budget, side="right"))
            if fit < stop - lo or stop == committed:
                return lo + fit
            stop = min(committed, lo + 2 * (stop - lo))

    def read_items(self, idx: np.ndarray) -> list[np.ndarray]:
        if not len(idx):
            return []
        r0, r1 = int(idx[0]), int(idx[-1]) + 1
        bypass = False
        with self._lock:
            items = self.items
            sequential = self.last_stop is None or r0 in (self.last_start, self.last_stop)
            self.last_start, self.last_stop = r0, r1
            if items is not None and self.lo <= r0 and r1 <= self.hi:
                self._count(hits=1)
                lo = self.lo
            elif not sequential:
                # Random access: just the items asked for (after the lock is
                # released); the window stays.
                self._count(misses=1)
                bypass = True
            else:
                self._count(misses=1)
                self.items = None
                committed = self.backend.committed()
                hi = self._span(r0, committed)
                if hi < r1:
                    # More than the window holds: straight to the backend.
                    bypass = True
                else:
                    # The items of a run are views of one buffer of exactly
                    # their data (no copy, so the budget holds while loading);
                    # they are copied on the way out, never handed out.
                    items = self._counted(
                        self.backend.read_items(np.arange(r0, hi, dtype=np.int64)))
                    self.items, self.lo, self.hi, lo = items, r0, hi, r0
        if bypass:
            return self._counted(self.backend.read_items(idx))
        return [items[j].copy() for j in (idx - lo).tolist()]

    def invalidate(self, sel: Selection | None = None) -> None:
        with self._lock:
            self.items = None
            self.lo = self.hi = 0
