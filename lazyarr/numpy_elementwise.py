"""NumPy's ndarray results filled block by block: element-wise ufuncs,
``np.clip``, ``np.where``, ``np.concatenate`` and ``np.stack`` on a LazyArray.

Memory is NumPy's result plus one block of the reductions' budget
(``lazyarr.reduce.DEFAULT_BLOCK_BYTES``), not the inputs read whole as well.
Calls these do not cover (an array that fits in one block, a generalized
ufunc, a Fortran-ordered result) get NumPy's answer on the arrays read into
memory, from :func:`lazyarr.numpy_functions.numpy_answer`.

Examples
--------
>>> import numpy as np, lazyarr as la
>>> x = la.LazyArray(la.backends.MemoryBackend(np.array([[1.0, -2.0], [3.0, 4.0]])))
>>> np.clip(x, 0, 3)
array([[1., 0.],
       [3., 3.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from lazyarr.numpy_functions import (
    NOVALUE,
    block_budget,
    budget_blocks,
    fits_one_block,
    given_kwargs,
    implements,
    is_lazy,
    numpy_answer,
    probe_rows,
    without_warnings,
)
from lazyarr.reduce import rows_per_block

__all__ = ["ufunc_in_blocks", "clip", "where", "concatenate", "stack"]


def _rows_of(obj: Any, n: int, ndim: int) -> bool:
    """Whether ``obj`` runs along the result's axis 0 (so it is sliced by rows)."""
    return np.ndim(obj) == ndim and np.shape(obj)[0] == n and n != 1


def _elementwise(func: Callable, operands: list, x: Any, kwargs: dict, out: Any = None) -> Any:
    """``func(*operands, **kwargs)`` filled into NumPy's result block by block along axis 0."""
    shapes = [np.shape(o) for o in operands if o is not NOVALUE]
    shape = np.broadcast_shapes(*shapes)
    if len(shape) == 0 or shape[0] <= 1:
        return None
    n, nd = shape[0], len(shape)
    sliced = [o is not NOVALUE and _rows_of(o, n, nd) for o in operands]
    whole = [np.asarray(o) if (is_lazy(o) and not s) else o for o, s in zip(operands, sliced)]

    def rows(lo: int, hi: int) -> list:
        return [np.asarray(o[lo:hi]) if s else o for o, s in zip(whole, sliced)]

    probe = without_warnings(lambda: func(*rows(0, 1), **kwargs))
    if out is None:
        out = np.empty(shape, dtype=np.asarray(probe).dtype)
    elif not isinstance(out, np.ndarray) or out.shape != shape:
        return None
    # Blocks of whole storage chunks of the lazy operand ``x`` (no chunk is
    # decoded twice), counting the result's bytes too.
    if not (np.ndim(x) == nd and x.shape[0] == n):
        x = np.broadcast_to(np.empty((), out.dtype), shape)
    per_row = max(1, int(np.prod(x.shape[1:])))
    rows_n = rows_per_block(x, block_budget(), out.dtype.itemsize * int(np.prod(shape[1:])) // per_row)
    for lo in _progress_range(n, rows_n):
        hi = min(n, lo + rows_n)
        func(*rows(lo, hi), out=out[lo:hi], **kwargs)
    return out


def ufunc_in_blocks(ufunc: np.ufunc, inputs: tuple, kwargs: dict) -> Any:
    """``ufunc(*inputs, **kwargs)`` for a LazyArray input bigger than a block, filled block by block.

    None where that does not apply (every LazyArray input fits in a block,
    shapes that do not broadcast, a result with at most one row): the
    caller then runs NumPy on the inputs read into memory.

    Examples
    --------
    >>> import lazyarr as la, lazyarr.reduce as lr
    >>> lr.DEFAULT_BLOCK_BYTES, old = 64, lr.DEFAULT_BLOCK_BYTES
    >>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(12.0).reshape(6, 2)))
    >>> ufunc_in_blocks(np.add, (x, 1), {})[-1]
    array([11., 12.])
    >>> lr.DEFAULT_BLOCK_BYTES = old
    """
    if ufunc.signature is not None:
        # A generalized ufunc (np.matmul, np.vecdot, ...) works on core
        # dimensions, not element by element: rows of its result are not rows
        # of the broadcast inputs (x @ v of a vector v drops an axis).
        return None
    if str(kwargs.get("order", "K")).upper() == "F":
        return None  # a Fortran-ordered result is not filled in row blocks
    big = [o for o in inputs if is_lazy(o) and not fits_one_block(o)]
    if not big:
        return None
    try:
        np.broadcast_shapes(*[np.shape(o) for o in inputs])
    except ValueError:
        return None  # NumPy's own error, from the caller's path
    return _elementwise(ufunc, list(inputs), big[0], kwargs)


def _progress_range(n: int, step: int):
    from lazyarr.progress import track

    for start, _ in track(((s, range(s, min(n, s + step))) for s in range(0, n, step)), n):
        yield start


@implements(np.clip)
def clip(a: Any, a_min: Any = NOVALUE, a_max: Any = NOVALUE, out: Any = None, *, min: Any = NOVALUE,
         max: Any = NOVALUE, **kwargs: Any) -> Any:
    call = dict(out=out, **given_kwargs(min=min, max=max), **kwargs)
    args = tuple(v for v in (a_min, a_max) if v is not NOVALUE)
    if not is_lazy(a) or fits_one_block(a) or min is not NOVALUE or max is not NOVALUE or is_lazy(out) \
            or len(args) != 2 or a.shape != np.broadcast_shapes(a.shape, np.shape(a_min), np.shape(a_max)):
        return numpy_answer(np.clip, (a,) + args, call)
    np.clip(probe_rows(a), *[np.asarray(v)[:1] if _rows_of(v, a.shape[0], a.ndim) else v for v in args], **kwargs)
    res = _elementwise(lambda x, lo, hi, out=None, **kw: np.clip(x, lo, hi, out=out, **kw),
                       [a, a_min, a_max], a, kwargs, out)
    return numpy_answer(np.clip, (a,) + args, call) if res is None else res


@implements(np.where)
def where(condition: Any, x: Any = NOVALUE, y: Any = NOVALUE) -> Any:
    args = tuple(v for v in (condition, x, y) if v is not NOVALUE)
    if len(args) == 1 and is_lazy(condition) and not fits_one_block(condition):
        # np.where(c) is np.nonzero(c): each block's indices, offset on axis 0.
        parts = [(start, np.nonzero(b)) for start, b in budget_blocks(condition)]
        return tuple(np.concatenate([p[d] + (start if d == 0 else 0) for start, p in parts]).astype(np.intp)
                     for d in range(condition.ndim))
    big = [o for o in args if is_lazy(o) and not fits_one_block(o)]
    res = None
    if len(args) == 3 and big:
        res = _elementwise(_where_into, list(args), big[0], {})
    return numpy_answer(np.where, args, {}) if res is None else res


def _where_into(c: Any, a: Any, b: Any, out: Any = None) -> Any:
    res = np.where(c, a, b)
    return res if out is None else np.copyto(out, res)


def _copy_in(dst: np.ndarray, src: Any, casting: str) -> None:
    if is_lazy(src) and src.shape:
        for start, b in budget_blocks(src):
            np.copyto(dst[start : start + len(b)], b, casting=casting)
    else:
        np.copyto(dst, np.asarray(src), casting=casting)


def _join_probe(func: Callable, shapes: list, dtypes: list, axis: Any, dtype: Any,
                casting: str) -> tuple[tuple[int, ...], np.dtype]:
    """NumPy's verdict, result shape and dtype for joining arrays of these shapes.

    NumPy runs on small stand-ins: every axis on which all shapes agree (and
    the joining axis) is cut to length 1, so an error NumPy would raise is
    raised and nothing of the result's size is allocated.
    """
    nds = {len(s) for s in shapes}
    if func is np.concatenate and axis is None:
        sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
        res = func([np.zeros((min(n, 1),), d) for n, d in zip(sizes, dtypes)], axis=None, dtype=dtype,
                   casting=casting)
        return (sum(sizes),), res.dtype
    if len(nds) != 1:
        func([np.zeros((1,) * len(s), d) for s, d in zip(shapes, dtypes)], axis=axis, dtype=dtype, casting=casting)
    nd = len(shapes[0])
    ax = normalize_axis_index(axis, nd + (func is np.stack)) if (nd or func is np.stack) else None
    cut = [func is np.concatenate and d == ax or all(s[d] == shapes[0][d] for s in shapes) for d in range(nd)]
    small = [tuple(min(n, 1) if c else n for n, c in zip(s, cut)) for s in shapes]
    res = func([np.zeros(s, d) for s, d in zip(small, dtypes)], axis=axis, dtype=dtype, casting=casting)
    if func is np.stack:
        return shapes[0][:ax] + (len(shapes),) + shapes[0][ax:], res.dtype
    return shapes[0][:ax] + (sum(s[ax] for s in shapes),) + shapes[0][ax + 1 :], res.dtype


def _joined(func: Callable, arrays: Any, axis: Any, out: Any, dtype: Any, casting: str) -> Any:
    kw = dict(axis=axis, out=out, dtype=dtype, casting=casting)
    if is_lazy(arrays) or not isinstance(arrays, (list, tuple)) or is_lazy(out) \
            or not any(is_lazy(a) and not fits_one_block(a) for a in arrays):
        return numpy_answer(func, (arrays,), kw)
    arrays = [a if is_lazy(a) else np.asarray(a) for a in arrays]
    shapes = [tuple(a.shape) for a in arrays]
    shape, rdtype = _join_probe(func, shapes, [a.dtype for a in arrays], axis, dtype, casting)
    if out is not None:
        if not isinstance(out, np.ndarray) or out.shape != shape:
            return numpy_answer(func, (arrays,), kw)  # NumPy's error for a bad out
        target = out
    else:
        target = np.empty(shape, rdtype)
    if func is np.stack:
        ax = normalize_axis_index(axis, len(shapes[0]) + 1)
        for i, a in enumerate(arrays):
            _copy_in(target[(slice(None),) * ax + (i,)], a, casting)
        return target
    if axis is None:
        flat, off = target.reshape(-1), 0
        for a, s in zip(arrays, shapes):
            size = int(np.prod(s, dtype=np.int64))
            _copy_in(flat[off : off + size].reshape(s), a, casting)
            off += size
        return target
    ax, off = normalize_axis_index(axis, len(shapes[0])), 0
    for a, s in zip(arrays, shapes):
        _copy_in(target[(slice(None),) * ax + (slice(off, off + s[ax]),)], a, casting)
        off += s[ax]
    return target


@implements(np.concatenate)
def concatenate(arrays: Any, axis: Any = 0, out: Any = None, *, dtype: Any = None,
                casting: str = "same_kind") -> Any:
    return _joined(np.concatenate, arrays, axis, out, dtype, casting)


@implements(np.stack)
def stack(arrays: Any, axis: int = 0, out: Any = None, *, dtype: Any = None, casting: str = "same_kind") -> Any:
    return _joined(np.stack, arrays, axis, out, dtype, casting)
