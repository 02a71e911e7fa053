"""Out-of-core reductions: NumPy's answers, block by block, in bounded memory.

Every reduction reads the array in blocks of whole rows (whole storage chunks
along axis 0 when the array has them), each at most :data:`DEFAULT_BLOCK_BYTES`
(or the ``block_bytes=`` of the call, counting the temporaries the reduction
makes), reduces each block with NumPy and merges the block results:

* along axes that do not include axis 0, each block gives its own rows of the
  result, computed by NumPy exactly as on the whole array;
* across axis 0, block results are merged pairwise (a binary tree, as NumPy's
  pairwise summation), variances with Chan et al.'s update of counts, means and
  sums of squared deviations, so that a float32 mean of 10^8 elements is as
  accurate as NumPy's; min/max/any/all/argmin/argmax and integer sums are exact.

An array that fits in one block, and an empty array, is handed to NumPy
whole, so warnings, errors and edge cases are NumPy's own. Arguments are
validated by running the same NumPy call on a tiny stand-in first, so a bad
``axis``, ``dtype``, ``ddof`` or ``out`` raises NumPy's exception before any
data is read.

Examples
--------
>>> import numpy as np, lazyarr as la
>>> a = np.arange(12, dtype=np.float32).reshape(4, 3)
>>> x = la.LazyArray(la.backends.MemoryBackend(a))
>>> x.sum(axis=0, block_bytes=12)       # one row per block
array([18., 22., 26.], dtype=float32)
>>> np.mean(x), np.argmax(x, axis=1)
(np.float32(5.5), array([2, 2, 2, 2]))
>>> x.std(ddof=1, block_bytes=24)
np.float32(3.6055512)
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

__all__ = ["DEFAULT_BLOCK_BYTES", "ReductionsMixin", "row_blocks", "rows_per_block"]

#: Bytes one block of a reduction may take, temporaries included. Change it
#: for the whole process with ``lazyarr.reduce.DEFAULT_BLOCK_BYTES = n``, or
#: per call with ``block_bytes=``.
DEFAULT_BLOCK_BYTES = 64 * 2**20

#: Blocks are no bigger than this even when the budget allows: a buffer this
#: size is reused by the allocator from one block to the next, a bigger one
#: is mapped and page-faulted afresh each time (glibc maps anything past 32 MB),
#: which costs as much as the reduction itself.
FAST_BLOCK_BYTES = 8 * 2**20

_NOVALUE: Any = np._NoValue  # NumPy's own "argument not given" marker


def rows_per_block(x: Any, block_bytes: int | None = None, temp_itemsize: int = 0,
                   fast: bool = True) -> int:
    """Rows of ``x`` per block: whole storage chunks, within ``block_bytes``.

    ``temp_itemsize`` counts the bytes per element of temporaries the caller
    makes from a block (a float64 deviation, say). A block is never less than
    one row. With ``fast`` (what reductions use), two blocks share the budget
    -- one is reduced while the next is read -- and a block stops at
    :data:`FAST_BLOCK_BYTES` (or one chunk, if bigger) even when the budget
    is larger.

    Examples
    --------
    >>> import numpy as np, lazyarr as la
    >>> x = la.LazyArray(la.backends.MemoryBackend(np.zeros((100, 4))))
    >>> rows_per_block(x, 512), rows_per_block(x, 512, fast=False)
    (8, 16)
    """
    budget = DEFAULT_BLOCK_BYTES if block_bytes is None else int(block_bytes)
    if budget <= 0:
        raise ValueError(f"block_bytes must be positive, got {budget}")
    shape = x.shape
    # A derived array (a cast, a mapped view) also holds its source's block.
    itemsize = getattr(x, "_block_itemsize", x.dtype.itemsize)
    per_row = int(np.prod(shape[1:], dtype=np.int64)) * (itemsize + temp_itemsize)
    per_row = max(1, per_row)
    full = budget // 2 if fast else budget
    rows = max(1, (min(full, FAST_BLOCK_BYTES) if fast else full) // per_row)
    chunks = getattr(x, "chunks", None)
    if chunks:
        # Whole chunks per block: no chunk is decompressed twice.
        if rows >= chunks[0]:
            rows = rows // chunks[0] * chunks[0]
        elif full // per_row >= chunks[0]:
            rows = chunks[0]  # a chunk past FAST_BLOCK_BYTES, still within budget
    return rows


def row_blocks(x: Any, rows: int, prefetch: bool = True) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, x[start:start + rows])`` over axis 0 of ``x``.

    With ``prefetch``, the next block is read in a background thread while the
    caller works on this one (HDF5 reads release the GIL), so reading and
    reducing overlap; at most two blocks are held.
    """
    from lazyarr.progress import track

    # A bar of the rows read, inside ``with la.progress():`` only.
    return track(_row_blocks(x, rows, prefetch), x.shape[0])


def _row_blocks(x: Any, rows: int, prefetch: bool) -> Iterator[tuple[int, np.ndarray]]:
    n = x.shape[0]
    starts = range(0, n, rows)
    if not prefetch or len(starts) < 2:
        for start in starts:
            yield start, x[start : min(n, start + rows)]
        return
    with ThreadPoolExecutor(1, thread_name_prefix="lazyarr-prefetch") as pool:
        nxt = pool.submit(x.__getitem__, slice(0, min(n, rows)))
        for i, start in enumerate(starts):
            block = nxt.result()
            nxt = None
            if i + 1 < len(starts):
                s2 = starts[i + 1]
                nxt = pool.submit(x.__getitem__, slice(s2, min(n, s2 + rows)))
            yield start, block
            del block


class Pairwise:
    """Merge a stream of partial results as a balanced binary tree.

    Holds O(log n) partials; earlier partials always come first in a merge
    (argmin/argmax keep the first of equal values that way).
    """

    def __init__(self, merge: Callable[[Any, Any], Any]) -> None:
        self._merge = merge
        self._stack: list[tuple[int, Any]] = []

    def push(self, p: Any) -> None:
        level = 0
        while self._stack and self._stack[-1][0] == level:
            p = self._merge(self._stack.pop()[1], p)
            level += 1
        self._stack.append((level, p))

    def result(self) -> Any:
        out = self._stack[-1][1]
        for _, p in reversed(self._stack[:-1]):
            out = self._merge(p, out)
        return out


def _quiet(fn: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def _acc_dtype(name: str, dtype: Any, adt: np.dtype) -> Any:
    """The dtype NumPy accumulates ``name`` in (see numpy/_core/_methods.py)."""
    if dtype is not None:
        return np.dtype(dtype)
    if name in ("mean", "var", "std") and adt.kind in "biu":
        return np.dtype("f8")
    if name == "mean" and adt == np.float16:
        return np.dtype("f4")
    return None


def _finish(total: np.ndarray, out: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """What ``umr_sum(..., out, keepdims)`` returns, given the keepdims total."""
    res = total if keepdims else np.squeeze(total, axis=axes)
    if out is not None:
        np.copyto(out, res, casting="unsafe")
        return out
    return res[()] if res.ndim == 0 else res


def _reduce(x: Any, name: str, axis: Any, *, dtype: Any = None, out: Any = None,
            keepdims: Any = False, block_bytes: int | None = None, **kw: Any) -> Any:
    """Run reduction ``name`` of ``x`` block by block; see the module docstring."""
    if kw.get("where", True) is not True:
        raise TypeError(f"LazyArray.{name} does not support where=; use np.{name}(np.asarray(x), ...)")
    kw.pop("where", None)
    if kw.get("mean", _NOVALUE) is not _NOVALUE:
        raise TypeError(f"LazyArray.{name} does not support mean=")
    kw.pop("mean", None)
    if name in ("var", "std"):
        corr = kw.pop("correction", _NOVALUE)
        if corr is not _NOVALUE:
            if kw.get("ddof", 0) != 0:
                raise ValueError("ddof and correction can't be provided simultaneously.")
            kw["ddof"] = corr
    keepdims = bool(keepdims) if keepdims is not _NOVALUE else False
    fn = getattr(np, name)
    args: dict[str, Any] = dict(axis=axis, keepdims=keepdims, **kw)
    if name not in ("min", "max", "any", "all", "argmin", "argmax"):
        args["dtype"] = dtype
    elif dtype is not None:
        raise TypeError(f"{name}() got an unexpected keyword argument 'dtype'")
    shape, adt = x.shape, x.dtype
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError("out must be a numpy.ndarray")
    size = int(np.prod(shape, dtype=np.int64))
    temp = 8 if name in ("var", "std") else 0
    rows = rows_per_block(x, block_bytes, temp) if shape else 1
    if size == 0 or not shape or rows >= shape[0]:
        # One block: NumPy's answer, warnings and errors, exactly.
        return fn(np.asarray(x), out=out, **args)
    # NumPy validates axis, dtype, ddof and keepdims on a stand-in first.
    probe = _quiet(lambda: fn(np.zeros((1,) * len(shape), adt), **args))
    ndim = len(shape)
    if name in ("argmin", "argmax"):
        axes = tuple(range(ndim)) if axis is None else (normalize_axis_index(axis, ndim),)
    else:
        axes = tuple(range(ndim)) if axis is None else normalize_axis_tuple(axis, ndim)
    kshape = tuple(1 if a in axes else n for a, n in enumerate(shape))
    if out is not None:
        # NumPy checks out's shape and casting against the real result shape.
        stand_in = np.zeros(tuple(1 if a in axes else n for a, n in enumerate(shape)), adt)
        _quiet(lambda: fn(stand_in, out=np.empty_like(out), **args))
    rdtype = np.asarray(probe).dtype
    if 0 not in axes:
        return _rowwise(x, fn, args, rows, kshape, rdtype, out, axes, keepdims)
    if name in ("argmin", "argmax"):
        res = _arg_across(x, name, axis, rows, kshape)
        return _finish(res, out, axes, keepdims)
    if name in ("var", "std"):
        return _var_across(x, name, axes, dtype, out, keepdims, kw.get("ddof", 0), rows)
    if name == "mean":
        acc = _acc_dtype(name, dtype, adt)
        total = _merged(x, "sum", axes, rows, {"dtype": acc})
        rcount = int(np.prod([shape[a] for a in axes], dtype=np.int64))
        return _mean_tail(_finish(total, out, axes, keepdims), rcount, adt, dtype, out)
    extra = {"dtype": dtype} if name in ("sum", "prod") else {}
    initial = kw.get("initial", _NOVALUE)
    res = _merged(x, name, axes, rows, extra, initial)
    return _finish(res.astype(rdtype, copy=False), out, axes, keepdims)


#: Rows summed naively before a level of the tree: NumPy sums along axis 0
#: row after row (pairwise summation only runs along contiguous memory), so
#: a block of many rows is summed in groups of this many, group sums again.
_GROUP = 64


def _fsum(block: np.ndarray, axes: tuple[int, ...], dtype: Any = None) -> np.ndarray:
    """``np.sum(block, axes, keepdims=True)``, summing floats along axis 0 as a tree."""
    acc = np.result_type(block.dtype if dtype is None else dtype)
    if 0 not in axes or len(block) <= _GROUP or acc.kind not in "fc":
        return np.sum(block, axis=axes, dtype=dtype, keepdims=True)
    rest = tuple(a for a in axes if a != 0)
    p = np.sum(block, axis=rest, dtype=dtype, keepdims=True) if rest else block
    while len(p) > _GROUP:
        k = len(p) // _GROUP
        head = p[: k * _GROUP].reshape((k, _GROUP) + p.shape[1:]).sum(axis=1, dtype=dtype)
        if k * _GROUP < len(p):
            head = np.concatenate([head, p[k * _GROUP :].sum(axis=0, dtype=dtype, keepdims=True)])
        p = head
    return np.sum(p, axis=0, dtype=dtype, keepdims=True)


_MERGE = {"sum": np.add, "prod": np.multiply, "min": np.minimum, "max": np.maximum,
          "any": np.logical_or, "all": np.logical_and}


def _merged(x: Any, name: str, axes: tuple[int, ...], rows: int, extra: dict,
            initial: Any = _NOVALUE) -> np.ndarray:
    """Reduce across axis 0: per-block keepdims results merged pairwise."""
    fn, ufunc = getattr(np, name), _MERGE[name]
    tree = Pairwise(lambda a, b: ufunc(a, b, out=a) if a.dtype == b.dtype else ufunc(a, b))
    for start, block in row_blocks(x, rows):
        kw = dict(extra)
        if start == 0 and initial is not _NOVALUE:
            kw["initial"] = initial  # once per result element, as NumPy does
        if name == "sum" and "initial" not in kw:
            tree.push(_fsum(block, axes, kw.get("dtype")))
        else:
            tree.push(np.asarray(fn(block, axis=axes, keepdims=True, **kw)))
    return tree.result()


def _rowwise(x: Any, fn: Callable, args: dict, rows: int, kshape: tuple[int, ...],
             rdtype: np.dtype, out: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """Axis 0 is kept: each block's rows of the result come from NumPy itself."""
    res = np.empty(kshape, dtype=rdtype)
    bargs = dict(args, keepdims=True)
    if fn in (np.argmin, np.argmax):
        bargs["axis"] = axes[0]
    for start, block in row_blocks(x, rows):
        part = fn(block, **bargs)
        res[start : start + len(part)] = part
    return _finish(res, out, axes, keepdims)


def _arg_across(x: Any, name: str, axis: Any, rows: int, kshape: tuple[int, ...]) -> np.ndarray:
    """argmin/argmax over axis 0 (or all axes): first occurrence wins, NaN first."""
    better = np.less if name == "argmin" else np.greater
    row_size = int(np.prod(x.shape[1:], dtype=np.int64))

    def merge(a: tuple, b: tuple) -> tuple:
        (ia, va), (ib, vb) = a, b
        take = better(vb, va) | (np.isnan(vb) & ~np.isnan(va)) if va.dtype.kind in "fc" else better(vb, va)
        return np.where(take, ib, ia), np.where(take, vb, va)

    tree = Pairwise(merge)
    for start, block in row_blocks(x, rows):
        if axis is None:
            i = getattr(block, name)()
            v = block.reshape(-1)[i]
            tree.push((np.array(i + start * row_size).reshape(kshape), np.asarray(v).reshape(kshape)))
        else:
            i = getattr(block, name)(axis=0, keepdims=True)
            v = np.take_along_axis(block, i, axis=0)
            tree.push((i + start, v))
    return tree.result()[0].astype(np.intp, copy=False)


def _mean_tail(ret: Any, rcount: int, adt: np.dtype, dtype: Any, out: Any) -> Any:
    # The tail of numpy/_core/_methods.py::_mean, so results and warnings match.
    is_float16_result = dtype is None and adt == np.float16
    rcount = np.intp(rcount)
    if isinstance(ret, np.ndarray):
        ret = np.true_divide(ret, rcount, out=ret, casting="unsafe", subok=False)
        if is_float16_result and out is None:
            ret = adt.type(ret)
    elif hasattr(ret, "dtype"):
        ret = adt.type(ret / rcount) if is_float16_result else ret.dtype.type(ret / rcount)
    else:
        ret = ret / rcount
    return ret


def _block_moments(block: np.ndarray, axes: tuple[int, ...], acc: Any) -> tuple:
    """(count, mean, sum of squared deviations) of one block, as NumPy's _var."""
    n = int(np.prod([block.shape[a] for a in axes], dtype=np.int64))
    s = _fsum(block, axes, acc)
    mean = np.true_divide(s, n, out=s, casting="unsafe")
    dev = np.asarray(block - mean)
    if dev.dtype.kind == "c":
        sq = dev.real * dev.real + dev.imag * dev.imag
    else:
        sq = np.multiply(dev, dev, out=dev)
    return n, mean, _fsum(sq, axes, acc)


def _chan(a: tuple, b: tuple) -> tuple:
    """Merge two (count, mean, M2) triples (Chan, Golub & LeVeque, 1979)."""
    na, ma, m2a = a
    nb, mb, m2b = b
    n = na + nb
    delta = mb - ma
    mean = ma + delta * (nb / n)
    d2 = (delta.real * delta.real + delta.imag * delta.imag) if delta.dtype.kind == "c" else delta * delta
    return n, mean, m2a + m2b + d2 * (na * nb / n)


def _var_across(x: Any, name: str, axes: tuple[int, ...], dtype: Any, out: Any,
                keepdims: bool, ddof: Any, rows: int) -> Any:
    adt = x.dtype
    acc = _acc_dtype("var", dtype, adt)
    tree = Pairwise(_chan)
    for _, block in row_blocks(x, rows):
        tree.push(_block_moments(block, axes, acc))
    rcount, _, m2 = tree.result()
    # The tail of numpy/_core/_methods.py::_var (and _std).
    if ddof >= rcount:
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=4)
    ret = _finish(m2, out, axes, keepdims)
    rcount = np.maximum(rcount - ddof, 0)
    if isinstance(ret, np.ndarray):
        ret = np.true_divide(ret, rcount, out=ret, casting="unsafe", subok=False)
    elif hasattr(ret, "dtype"):
        ret = ret.dtype.type(ret / rcount)
    else:
        ret = ret / rcount
    if name == "std":
        if isinstance(ret, np.ndarray):
            ret = np.sqrt(ret, out=ret)
        elif hasattr(ret, "dtype"):
            ret = ret.dtype.type(np.sqrt(ret))
        else:
            ret = np.sqrt(ret)
    return ret


class ReductionsMixin:
    """NumPy's reduction methods for an array object with ``shape``, ``dtype``
    and ``x[start:stop]`` row reads; each also accepts ``block_bytes=``.

    ``where=`` other than True raises TypeError (use ``np.asarray(x)``).
    """

    def sum(self, axis: Any = None, dtype: Any = None, out: np.ndarray | None = None,
            keepdims: Any = False, initial: Any = _NOVALUE, where: Any = True, *,
            block_bytes: int | None = None) -> Any:
        """Sum of elements, as ``numpy.sum``; read in bounded blocks."""
        return _reduce(self, "sum", axis, dtype=dtype, out=out, keepdims=keepdims,
                       initial=initial, where=where, block_bytes=block_bytes)

    def prod(self, axis: Any = None, dtype: Any = None, out: np.ndarray | None = None,
             keepdims: Any = False, initial: Any = _NOVALUE, where: Any = True, *,
             block_bytes: int | None = None) -> Any:
        """Product of elements, as ``numpy.prod``; read in bounded blocks."""
        return _reduce(self, "prod", axis, dtype=dtype, out=out, keepdims=keepdims,
                       initial=initial, where=where, block_bytes=block_bytes)

    def min(self, axis: Any = None, out: np.ndarray | None = None, keepdims: Any = False,
            initial: Any = _NOVALUE, where: Any = True, *, block_bytes: int | None = None) -> Any:
        """Minimum, as ``numpy.min`` (NaN propagates); read in bounded blocks."""
        return _reduce(self, "min", axis, out=out, keepdims=keepdims, initial=initial,
                       where=where, block_bytes=block_bytes)

    def max(self, axis: Any = None, out: np.ndarray | None = None, keepdims: Any = False,
            initial: Any = _NOVALUE, where: Any = True, *, block_bytes: int | None = None) -> Any:
        """Maximum, as ``numpy.max`` (NaN propagates); read in bounded blocks."""
        return _reduce(self, "max", axis, out=out, keepdims=keepdims, initial=initial,
                       where=where, block_bytes=block_bytes)

    def any(self, axis: Any = None, out: np.ndarray | None = None, keepdims: Any = False, *,
            where: Any = True, block_bytes: int | None = None) -> Any:
        """Whether any element is true, as ``numpy.any``."""
        return _reduce(self, "any", axis, out=out, keepdims=keepdims, where=where,
                       block_bytes=block_bytes)

    def all(self, axis: Any = None, out: np.ndarray | None = None, keepdims: Any = False, *,
            where: Any = True, block_bytes: int | None = None) -> Any:
        """Whether all elements are true, as ``numpy.all``."""
        return _reduce(self, "all", axis, out=out, keepdims=keepdims, where=where,
                       block_bytes=block_bytes)

    def mean(self, axis: Any = None, dtype: Any = None, out: np.ndarray | None = None,
             keepdims: Any = False, *, where: Any = True, block_bytes: int | None = None) -> Any:
        """Arithmetic mean, as ``numpy.mean`` (pairwise-merged block sums)."""
        return _reduce(self, "mean", axis, dtype=dtype, out=out, keepdims=keepdims,
                       where=where, block_bytes=block_bytes)

    def var(self, axis: Any = None, dtype: Any = None, out: np.ndarray | None = None,
            ddof: Any = 0, keepdims: Any = False, *, where: Any = True, mean: Any = _NOVALUE,
            correction: Any = _NOVALUE, block_bytes: int | None = None) -> Any:
        """Variance, as ``numpy.var`` (one pass, Chan's merge of block moments)."""
        return _reduce(self, "var", axis, dtype=dtype, out=out, keepdims=keepdims, ddof=ddof,
                       where=where, mean=mean, correction=correction, block_bytes=block_bytes)

    def std(self, axis: Any = None, dtype: Any = None, out: np.ndarray | None = None,
            ddof: Any = 0, keepdims: Any = False, *, where: Any = True, mean: Any = _NOVALUE,
            correction: Any = _NOVALUE, block_bytes: int | None = None) -> Any:
        """Standard deviation, as ``numpy.std`` (one pass, Chan's merge)."""
        return _reduce(self, "std", axis, dtype=dtype, out=out, keepdims=keepdims, ddof=ddof,
                       where=where, mean=mean, correction=correction, block_bytes=block_bytes)

    def argmin(self, axis: Any = None, out: np.ndarray | None = None, *, keepdims: Any = False,
               block_bytes: int | None = None) -> Any:
        """Index of the first minimum, as ``numpy.argmin``."""
        return _reduce(self, "argmin", axis, out=out, keepdims=keepdims, block_bytes=block_bytes)

    def argmax(self, axis: Any = None, out: np.ndarray | None = None, *, keepdims: Any = False,
               block_bytes: int | None = None) -> Any:
        """Index of the first maximum, as ``numpy.argmax``."""
        return _reduce(self, "argmax", axis, out=out, keepdims=keepdims, block_bytes=block_bytes)
