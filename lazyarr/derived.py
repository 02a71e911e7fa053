"""Lazy arrays derived from another LazyArray: a cast (``astype``) and a reshape.

Each holds its source array (any LazyArray, views included) and reads
through it, so a chain such as ``x.T.lazy[::2].astype("f8")`` is one read of
``x``'s storage, through ``x``'s cache policy (``cache_stats`` counts it).

Examples
--------
>>> import numpy as np, lazyarr as la
>>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(8, dtype=np.int16)))
>>> y = x.reshape(2, 4).astype(np.float32)
>>> y[:, 1:3]
array([[1., 2.],
       [5., 6.]], dtype=float32)
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Iterator

import numpy as np

from lazyarr.array import LazyArray
from lazyarr.errors import ReadOnlyError
from lazyarr.core.normalize import Ell, Mask, normalize
from lazyarr.core.selection import stand_in

__all__ = ["CastView", "MapView", "ReshapedView"]


class _Derived(LazyArray):
    """A LazyArray computed from ``self._src`` on read; shares its backend and cache."""

    def __init__(self, src: LazyArray) -> None:
        # Not LazyArray.__init__: reads go through the source's bound cache.
        self.__dict__.update(src.__dict__)
        self._src = src

    @property
    def dtype(self) -> np.dtype:
        return self._src.dtype

    @property
    def chunks(self) -> None:
        return None

    @property
    def _block_itemsize(self) -> int:
        # A block read through this view is the source's block plus this one's.
        return getattr(self._src, "_block_itemsize", self._src.dtype.itemsize) + self.dtype.itemsize

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + ", view)"

    def _read_all(self) -> np.ndarray:
        return self[...]

    def _iter_rows(self) -> Iterator[Any]:
        from lazyarr.reduce import row_blocks, rows_per_block

        for _, block in row_blocks(self, rows_per_block(self, 4 * 2**20), prefetch=False):
            yield from block

    def append(self, rows: Any) -> None:
        raise TypeError("a view has a fixed shape and cannot be appended to; append to its base")

    def flush(self) -> None:
        self._src.flush()


class _Elementwise(_Derived):
    """A view of the source's shape whose elements are computed from the
    source's, one by one, in the dtype ``_dtype``: its selections are the
    source's selections, mapped."""

    _dtype: np.dtype

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def chunks(self) -> tuple[int, ...] | None:
        return self._src.chunks  # same shape: blocks of whole source chunks

    @property
    def shape(self) -> tuple[int, ...]:
        return self._src.shape

    @property
    def ndim(self) -> int:
        return self._src.ndim


class CastView(_Elementwise):
    """``x.astype(dtype)``: reads ``x`` and casts (read-only, as NumPy's copy is to ``x``)."""

    def __init__(self, src: LazyArray, dtype: np.dtype) -> None:
        super().__init__(src)
        self._dtype = np.dtype(dtype)

    def __getitem__(self, key: Any) -> Any:
        # The cast is elementwise, so casting the selection equals selecting
        # from the cast array; a NumPy scalar stays a scalar. NumPy warned of
        # a complex-to-real cast at astype already, so it is not repeated.
        block = self._src[key]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            return block.astype(self._dtype)

    def __setitem__(self, key: Any, value: Any) -> None:
        raise ReadOnlyError("x.astype(...) is a read-only view; write to x, or to np.asarray(...)")

    def __reduce__(self):
        return (CastView, (self._src, self._dtype))


class ReshapedView(_Derived):
    """``x.reshape(shape)`` where rows stay contiguous, read lazily.

    Rows of the source and of the result group into *super-rows* of
    ``lcm(source row size, result row size)`` elements; a read fetches the
    super-rows holding the result rows its key needs, reshapes them in
    memory and applies the key there (the axis-0 part made relative).
    """

    def __init__(self, src: LazyArray, shape: tuple[int, ...]) -> None:
        super().__init__(src)
        self._shape = tuple(shape)
        r1 = math.prod(src.shape[1:])
        r2 = math.prod(self._shape[1:])
        sup = math.lcm(r1, r2)
        self._g1, self._g2 = sup // r1, sup // r2  # source / result rows per super-row

    @classmethod
    def of(cls, src: LazyArray, shape: tuple[int, ...]) -> "ReshapedView | None":
        """The lazy reshape, or None when rows do not stay contiguous (or it is empty)."""
        if not src.shape or not shape or 0 in shape:
            return None
        r1, r2 = math.prod(src.shape[1:]), math.prod(shape[1:])
        if r1 % r2 and r2 % r1:
            return None
        return cls(src, shape)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def ndim(self) -> int:
        return len(self._shape)

    def _locate(self, key: Any) -> tuple[Any, tuple, tuple | None]:
        """(rows of the source to read, the key on the reshaped block, the empty result's shape)."""
        nk = normalize(key, self._shape)
        if nk.empty_result is not None:
            return None, (), nk.empty_result
        result = stand_in(self._shape)[key]  # NumPy's result shape (uint8, no data)
        if result.size == 0:
            return None, (), result.shape
        comps = list(nk.components)
        post: list[Any] = []
        at = None  # index in post of the axis-0 component
        for c in comps:
            if isinstance(c, Mask):
                post.extend(c.arrays)
                at = len(post) - c.ndim if at is None else at
                continue
            if isinstance(c, Ell):
                post.append(Ellipsis)
                if at is None and c.n:
                    at = -1  # axis 0 taken whole
                continue
            if isinstance(c, range):
                stop = c.start + c.step * len(c)
                post.append(slice(c.start, None if stop < 0 else stop, c.step))
            else:
                post.append(c)
            if at is None and c is not None and not isinstance(c, np.bool_):
                at = len(post) - 1
        g1, g2, n = self._g1, self._g2, self._shape[0]
        if at is None or at == -1:
            return slice(None), tuple(post), None
        c = post[at]
        if isinstance(c, slice):
            r = range(*c.indices(n))
            lo, hi = min(r[0], r[-1]) // g2, max(r[0], r[-1]) // g2 + 1
            post[at] = slice(r.start - lo * g2, None if r.stop - lo * g2 < 0 else r.stop - lo * g2, r.step)
            return slice(lo * g1, hi * g1), tuple(post), None
        if isinstance(c, (int, np.integer)):
            s = int(c) // g2
            post[at] = int(c) - s * g2
            return slice(s * g1, (s + 1) * g1), tuple(post), None
        sup, inv = np.unique(c // g2, return_inverse=True)
        post[at] = (inv.reshape(c.shape) * g2 + c % g2).astype(np.intp)
        rows = (sup[:, None] * g1 + np.arange(g1)).reshape(-1)
        return rows, tuple(post), None

    def _block(self, rows: Any) -> np.ndarray:
        return np.asarray(self._src[rows]).reshape((-1,) + self._shape[1:])

    def __getitem__(self, key: Any) -> Any:
        rows, post, empty = self._locate(key)
        if empty is not None:
            return np.empty(empty, self.dtype)
        return self._block(rows)[post]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._src._check_writable()
        if isinstance(value, LazyArray):
            value = np.asarray(value)
        # NumPy's validation, casting and warnings, before anything is read.
        stand_in(self._shape, self.dtype)[key] = value
        rows, post, empty = self._locate(key)
        if empty is not None:
            return
        block = self._block(rows)
        block[post] = value
        self._src[rows] = block.reshape((-1,) + self._src.shape[1:])

    def __reduce__(self):
        return (ReshapedView, (self._src, self._shape))


class MapView(_Elementwise):
    """``fn`` applied elementwise on read (``fn(block)`` has ``dtype``); read-only.

    What lets the NumPy function layer reuse the reductions: ``np.nansum(x)``
    is the sum of ``MapView(x, nan -> 0)``, ``np.linalg.norm(x, 1)`` the sum
    of ``MapView(x, abs)``.
    """

    def __init__(self, src: LazyArray, fn: Any, dtype: Any) -> None:
        super().__init__(src)
        self._fn = fn
        self._dtype = np.dtype(dtype)
        # Reads may run in a prefetch thread: compute under the errstate of
        # the call that made the view, not the thread's default.
        self._errstate = np.geterr()

    def __getitem__(self, key: Any) -> Any:
        block = self._src[key]
        with np.errstate(**self._errstate):
            return self._fn(block)

    def __setitem__(self, key: Any, value: Any) -> None:
        raise ReadOnlyError("a mapped view is read-only")

    def __reduce__(self):
        return (MapView, (self._src, self._fn, self._dtype))
