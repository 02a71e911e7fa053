"""LazyArray: the NumPy protocol surface over a backend.

Examples
--------
>>> import numpy as np, lazyarr as la
>>> a = np.arange(24, dtype=np.float32).reshape(4, 6)
>>> x = la.LazyArray(la.backends.MemoryBackend(a.copy()))
>>> x
LazyArray(shape=(4, 6), dtype=float32, backend='memory', cache=NoCache())
>>> x[::-2, [5, 0, 5]]
array([[23., 18., 23.],
       [11.,  6., 11.]], dtype=float32)
>>> x[1, 2]
np.float32(8.0)
>>> x[x[:, 0] > 10, -1]
array([17., 23.], dtype=float32)
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from lazyarr.cache import BoundCache, CachePolicy
from lazyarr.core.plan import ReadPlan, plan
from lazyarr.core.selection import Selection, selection_shape, stack, stand_in
from lazyarr.errors import ReadOnlyError
from lazyarr.handle import CachedArray
from lazyarr.members import MembersMixin
from lazyarr.numpy_api import NumpyOperatorsMixin
from lazyarr.numpy_functions import NumpyFunctionsMixin
from lazyarr.reduce import ReductionsMixin

__all__ = ["LazyArray"]

#: Rows per block when iterating an array with no storage chunks.
_ITER_BLOCK_BYTES = 4 * 2**20


class LazyArray(MembersMixin, NumpyFunctionsMixin, ReductionsMixin, NumpyOperatorsMixin, CachedArray):
    """An array on storage that indexes exactly like a NumPy array.

    Parameters
    ----------
    backend : Backend
        Any object implementing :class:`lazyarr.backends.Backend`.
    cache : CachePolicy, optional
        How reads reach the backend; :class:`lazyarr.NoCache` by default.

    Notes
    -----
    ``x[key]`` returns what ``np.asarray(x)[key]`` returns (values, dtype,
    shape, scalar versus 0-d) and raises what it raises; only the elements
    the key needs are read. ``x[key] = value`` follows NumPy's broadcasting,
    casting and last-write-wins rules.

    Examples
    --------
    >>> import numpy as np, lazyarr as la
    >>> x = la.LazyArray(la.backends.MemoryBackend(np.zeros((3, 2), dtype=np.int16)))
    >>> x[[0, 2, 0], 1] = [7, 8, 9]
    >>> np.asarray(x)
    array([[0, 9],
           [0, 0],
           [0, 8]], dtype=int16)
    >>> x.append([[1, 1]])
    >>> x.shape
    (4, 2)
    """

    def __init__(self, backend: Any, cache: CachePolicy | None = None) -> None:
        super().__init__(backend, cache)

    # ------------------------------------------------------------ properties

    @property
    def shape(self) -> tuple[int, ...]:
        """Current shape (grows along axis 0 on append)."""
        return tuple(map(int, self._backend.shape))

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self._backend.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes the elements take in memory (as ``ndarray.nbytes``)."""
        return self.size * self.dtype.itemsize

    @property
    def chunks(self) -> tuple[int, ...] | None:
        """Storage chunk shape, or None for contiguous storage."""
        c = getattr(self._backend, "chunks", None)
        return None if c is None else tuple(int(n) for n in c)

    def __repr__(self) -> str:
        from lazyarr.info import storage_repr

        return (
            f"LazyArray(shape={self.shape}, dtype={self.dtype}, "
            f"backend={self._backend.kind!r}{storage_repr(self._backend)}, cache={self._policy!r})"
        )

    @property
    def info(self) -> Any:
        """What zarr's ``.info`` gives: type, dtype, shape, chunks, compression,
        bytes in memory and on disk, ratio (see :class:`lazyarr.info.ArrayInfo`)."""
        from lazyarr.info import ArrayInfo

        return ArrayInfo(self)

    @property
    def attrs(self) -> Any:
        """The node's user attributes, a mutable mapping (:class:`lazyarr.groups.Attributes`)."""
        from lazyarr.groups import attrs_of

        return attrs_of(self._backend)

    def __len__(self) -> int:
        shape = self.shape
        if not shape:
            raise TypeError("len() of unsized object")
        return shape[0]

    # ----------------------------------------------------------------- reads
    def _plan(self, key: Any) -> ReadPlan:
        # Itemsize and the backend's call cost never change: looked up once.
        # The shape is the backend's (which looks it up again only when the
        # node can have changed).
        meta = self.__dict__.get("_plan_meta")
        if meta is None:
            cost = getattr(self._backend, "cost", None)
            meta = self._plan_meta = (self.dtype.itemsize, None if cost is None else cost.call_bytes)
        return plan(key, self._backend.shape, meta[0], call_cost=meta[1])

    def __getitem__(self, key: Any) -> Any:
        direct = self._direct
        if direct is not None:
            # The backend takes NumPy keys (an ndarray behind it): NumPy
            # validates and indexes (field names included), nothing to plan.
            return direct(key)
        if isinstance(key, str) or (type(key) is list and key and isinstance(key[0], str)):
            from lazyarr.info import read_fields  # x["field"], x[["a", "b"]]

            return read_fields(self, key)
        bound = self._bound
        if bound is not None:
            p = self._plan(key)
            if not p.point_axes and 0 not in p.result_shape:
                return bound.read_plan(p)  # one box: the hot path
            return self._execute(p)
        return self._execute(self._plan(key))

    def _execute(self, plan: ReadPlan) -> Any:
        if 0 in plan.result_shape:
            # Nothing to read: NumPy's answer is an empty array of this shape.
            return np.empty(plan.result_shape, dtype=self.dtype)
        if not plan.point_axes:
            return self._cache.read_plan(plan)
        gathered = self._gather(plan)
        out = gathered[plan.post_key]
        if plan.move_to is not None and plan.move_to != 0:
            nb = plan.n_bcast
            out = np.moveaxis(out, range(nb), range(plan.move_to, plan.move_to + nb))
        return out

    def _gather(self, plan: ReadPlan) -> np.ndarray:
        """Read every point group; stack them as ``(points,) + other axes``."""
        k = len(plan.point_axes)
        parts = []
        for sel in plan.reads:
            block = self._cache.read(sel)
            block = np.moveaxis(block, plan.point_axes, range(k))
            parts.append(block.reshape((-1,) + block.shape[k:]))
        return stack(parts, self.dtype)

    def _read_all(self) -> np.ndarray:
        sel = tuple(slice(0, n, 1) for n in self.shape)
        return self._cache.read(sel)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The whole array in memory (``np.asarray(x)``).

        ``copy=False`` raises ValueError: the data must be copied off storage.
        """
        if copy is False:
            raise ValueError(
                "a LazyArray cannot be viewed without a copy: its data lives in "
                "storage; use np.asarray(x) or np.array(x)"
            )
        out = self._read_all()
        if dtype is not None:
            out = out.astype(dtype, copy=False)
        return out

    def __iter__(self) -> Iterator[Any]:
        # Not a generator function: ``iter(x)`` itself must raise for 0-d.
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return self._iter_rows()

    def _iter_rows(self) -> Iterator[Any]:
        shape = self.shape
        row_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * self.dtype.itemsize)
        chunks = self.chunks
        step = max(1, _ITER_BLOCK_BYTES // row_bytes)
        if chunks:
            # Whole storage chunks per block, so no chunk is decoded twice.
            step = max(chunks[0], step // chunks[0] * chunks[0])
        n = shape[0]
        for start in range(0, n, step):
            stop = min(n, start + step)
            sel = (slice(start, stop, 1),) + tuple(slice(0, m, 1) for m in shape[1:])
            yield from self._cache.read(sel)

    # ------------------------------------------- views and batches (view.py, batches.py)
    @property
    def lazy(self) -> Any:
        """Index this to get a view that reads nothing yet: ``x.lazy[key]``."""
        from lazyarr.view import _Indexer

        return _Indexer(self)

    def iter_batches(self, batch_size: int, *, shuffle: bool = False, seed: Any = None,
                     drop_last: bool = False, window_bytes: int | None = None) -> Iterator[np.ndarray]:
        """Rows in batches (see :func:`lazyarr.batches.iter_batches`)."""
        from lazyarr.batches import iter_batches

        return iter_batches(self, batch_size, shuffle=shuffle, seed=seed,
                            drop_last=drop_last, window_bytes=window_bytes)

    # ---------------------------------------------------------------- writes
    def _check_writable(self) -> None:
        if getattr(self._backend, "readonly", False):
            raise ReadOnlyError("assignment destination is read-only")

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check_writable()
        if isinstance(value, LazyArray):
            value = np.asarray(value)
        bound = self._bound
        if bound is not None and bound.direct:
            bound.setitem(key, value)
            return
        dtype = self.dtype
        try:
            plan = self._plan(key)
        except IndexError:
            # NumPy converts the value before it checks that index arrays
            # broadcast and are in bounds: replay the assignment on a
            # zero-stride stand-in to raise (and warn) exactly as NumPy does.
            stand_in(self.shape, dtype)[key] = value
            raise
        if 0 in plan.result_shape:
            # Nothing to store, but NumPy still validates (and may warn about)
            # the value in its own way for this key.
            stand_in(self.shape, dtype)[key] = value
            return
        if plan.mode == "box":
            (sel,) = plan.reads
            if plan.covering:
                block = np.empty(selection_shape(sel), dtype=dtype)
            else:
                block = self._cache.read(sel)
            # NumPy applies its own assignment rules to the same-shaped key.
            block[plan.post_key] = value
            self._write(sel, block)
            return
        # Point groups: let NumPy broadcast and cast into the result shape,
        # then scatter into the gathered points and back to storage.
        vals = np.empty(plan.result_shape, dtype=dtype)
        vals[...] = value
        nb = plan.n_bcast
        if plan.move_to:
            vals = np.moveaxis(vals, range(plan.move_to, plan.move_to + nb), range(nb))
        k = len(plan.point_axes)
        sizes = []
        rest_shape = None
        for sel in plan.reads:
            sshape = selection_shape(sel)
            sizes.append(int(np.prod([sshape[a] for a in plan.point_axes], dtype=np.int64)))
            rest_shape = tuple(n for a, n in enumerate(sshape) if a not in plan.point_axes)
        gathered = np.empty((sum(sizes),) + rest_shape, dtype=dtype)
        gathered[plan.post_key] = vals
        start = 0
        for sel, m in zip(plan.reads, sizes):
            sshape = selection_shape(sel)
            part = gathered[start : start + m]
            start += m
            part = part.reshape(tuple(sshape[a] for a in plan.point_axes) + rest_shape)
            self._write(sel, np.moveaxis(part, range(k), plan.point_axes))

    def _write(self, sel: Selection, block: np.ndarray) -> None:
        # Not np.ascontiguousarray: it turns a 0-d block into a 1-d one.
        if not block.flags.c_contiguous:
            block = block.copy()
        self._cache.write(sel, block)

    def append(self, rows: Any) -> None:
        """Append rows along axis 0.

        Parameters
        ----------
        rows : array_like
            Shape ``(k,) + x.shape[1:]``, or one row of shape ``x.shape[1:]``
            (a record, for a structured dtype); cast to ``x.dtype`` under NumPy's
            ``same_kind`` rule. Everything is validated before anything is
            written, so a bad append writes nothing.

        Raises
        ------
        ReadOnlyError
            The array is read-only.
        TypeError
            The backend cannot grow, or the dtype cannot be cast.
        ValueError
            Wrong trailing shape, or integers out of range for ``x.dtype``.

        Examples
        --------
        >>> import numpy as np, lazyarr as la
        >>> x = la.LazyArray(la.backends.MemoryBackend(np.zeros((0, 2))))
        >>> x.append(np.ones((3, 2)))
        >>> x.append([5.0, 6.0])  # one row
        >>> len(x), x[-1]
        (4, array([5., 6.]))
        """
        fast = self._append_fast
        if fast is not None and type(rows) is np.ndarray and fast(rows):
            # Rows of the array's own dtype and row shape into a buffered
            # last chunk, checked by the backend (CompressedBackend.appender);
            # everything else takes the full path below.
            drop = self._append_drop
            if drop is not None:
                drop(None)
            return
        self._check_writable()
        if not getattr(self._backend, "extendable", False):
            raise TypeError(
                f"{self._backend.kind!r} arrays have a fixed shape and cannot be "
                "appended to; create the array with backend='compressed'"
            )
        rows = _validate_rows(rows, self.shape, self.dtype)
        if rows.shape[0]:
            self._backend.append(rows)
            self._cache.invalidate(None)
            appender = getattr(self._backend, "appender", None)
            bound = self._cache
            # A state that holds no rows (NoCache's) has none to drop.
            self._append_drop = None if type(bound).invalidate is BoundCache.invalidate else bound.invalidate
            self._append_fast = None if appender is None else appender()

    #: The backend's fast path for the next one-row append (see append), and
    #: the bound state's ``invalidate`` it calls after (None: nothing to drop).
    _append_fast: Any = None
    _append_drop: Any = None

    def flush(self) -> None:
        """Push buffered writes to storage."""
        flush = getattr(self._backend, "flush", None)
        if flush is not None:
            flush()

    # ------------------------------------------------- processes and Dask
    def __reduce__(self):
        # By reference: file, node, mode, backend kind and dtype, cache
        # policy, plus _pickle_state() (see CachedArray and pickle_as).
        return self._reduce_by_reference()

    def to_dask(self, chunks: Any = None) -> Any:
        """This array as a ``dask.array.Array`` whose tasks pickle by reference.

        See :func:`lazyarr.dask_support.to_dask` (needs ``pip install lazyarr[dask]``).
        """
        from lazyarr.dask_support import to_dask

        return to_dask(self, chunks)


def _validate_rows(rows: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Check ``rows`` for an append to an array of ``shape``; return them cast."""
    if isinstance(rows, LazyArray):
        rows = np.asarray(rows)
    arr = np.asarray(rows, dtype=dtype if dtype.names and not isinstance(rows, np.ndarray) else None)
    if shape and arr.shape == shape[1:]:
        arr = arr[np.newaxis]  # one row of the trailing shape: append it as one row
    if arr.ndim != len(shape) or arr.shape[1:] != shape[1:]:
        raise ValueError(
            f"rows to append must have shape (k,) + {shape[1:]}, got shape {arr.shape}"
        )
    both_int = dtype.kind in "iu" and arr.dtype.kind in "iu"
    # Integers go by value (a list of Python ints becomes int64, which is not
    # same_kind with uint8 although every value may fit), everything else
    # by NumPy's same_kind rule.
    if arr.dtype.hasobject or not (both_int or np.can_cast(arr.dtype, dtype, casting="same_kind")):
        raise TypeError(f"cannot append {arr.dtype} rows to a {dtype} array (same_kind casting)")
    if both_int and arr.size:
        info = np.iinfo(dtype)
        lo, hi = int(arr.min()), int(arr.max())
        if lo < info.min or hi > info.max:
            raise ValueError(f"values [{lo}, {hi}] out of range for {dtype}")
    return arr.astype(dtype, copy=False)
