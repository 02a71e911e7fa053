"""NumPy functions on a LazyArray (``__array_function__``, NEP 18).

The functions whole-array code calls most run out of core, reading the
array in blocks within the reductions' budget (``lazyarr.reduce``'s
``DEFAULT_BLOCK_BYTES``): ``np.histogram`` and ``histogram_bin_edges``,
``np.median``/``percentile``/``quantile`` and their nan-variants (exact
order statistics, :mod:`lazyarr.order_stats`), ``np.linalg.norm``,
``np.cov``/``corrcoef`` of (n, k) data (:mod:`lazyarr.numpy_linalg`),
``np.unique``, ``np.save`` (streamed; the ``.npy`` file is NumPy's, byte for
byte), ``np.count_nonzero``, ``np.nansum``/``nanmean``/``nanvar``/``nanstd``/
``nanmin``/``nanmax``, ``np.average``, and ``np.clip``/``where``/
``concatenate``/``stack`` (which fill the ndarray NumPy returns block by
block). The reductions (``np.sum``, ``np.mean``, ...) call the array's own
out-of-core methods, and the metadata functions (``np.shape``,
``np.result_type``, ...) read nothing.

Every other function, and any call these cannot do out of core (an
argument they do not cover, an array that fits in one block), gets NumPy's
exact answer on ``np.asarray(x)``. Arguments are validated by NumPy itself
on a tiny stand-in first, so bad ones raise NumPy's exception before
anything is read.

Examples
--------
>>> import numpy as np, lazyarr as la
>>> x = la.LazyArray(la.backends.MemoryBackend(np.array([[1.0, np.nan], [3.0, 4.0]])))
>>> np.nanmean(x, axis=0), np.count_nonzero(x)
(array([2., 4.]), np.int64(4))
>>> np.histogram(x[:, 0], bins=2)
(array([1, 1]), array([1., 2., 3.]))
>>> np.transpose(x)              # any other function: NumPy's answer
array([[ 1.,  3.],
       [nan,  4.]])
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from lazyarr import reduce as _reduce
from lazyarr.progress import progress
from lazyarr.reduce import Pairwise, row_blocks, rows_per_block

__all__ = ["NumpyFunctionsMixin", "HANDLED"]

NOVALUE: Any = np._NoValue

#: NumPy function -> lazyarr implementation (same signature).
HANDLED: dict[Callable, Callable] = {}

#: Functions NumPy implements by calling the array's methods or attributes
#: (``np.sum`` calls ``x.sum``, ``np.shape`` reads ``x.shape``): NumPy's own
#: implementation runs on the LazyArray itself.
_BY_METHOD = {np.sum, np.prod, np.mean, np.std, np.var, np.min, np.max, np.amin, np.amax, np.any,
              np.all, np.argmin, np.argmax, np.shape, np.ndim, np.size, np.iscomplexobj,
              np.isrealobj}


def implements(*funcs: Callable) -> Callable:
    def register(impl: Callable) -> Callable:
        for f in funcs:
            HANDLED[f] = impl
        return impl

    return register


def is_lazy(obj: Any) -> bool:
    """An array of lazyarr's (its NumPy functions are ours)."""
    return isinstance(obj, NumpyFunctionsMixin)


def _to_numpy(obj: Any) -> Any:
    if is_lazy(obj):
        return np.asarray(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_numpy(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_numpy(v) for k, v in obj.items()}
    return obj


def numpy_answer(func: Callable, args: tuple, kwargs: dict) -> Any:
    """NumPy's answer with every LazyArray argument read into memory."""
    if func in _BY_METHOD:
        return func._implementation(*args, **kwargs)
    out = kwargs.get("out")
    if is_lazy(out):
        res = func(*_to_numpy(args), **_to_numpy(dict(kwargs, out=None)))
        out[...] = res
        return out
    return func(*_to_numpy(args), **_to_numpy(kwargs))


class NumpyFunctionsMixin:
    """``__array_function__``: the out-of-core implementations, else NumPy's answer."""

    def __array_function__(self, func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
        for t in types:
            # NEP 18: another array type decides for itself.
            if not issubclass(t, (np.ndarray, NumpyFunctionsMixin)):
                return NotImplemented
        impl = HANDLED.get(func)
        if impl is None:
            return numpy_answer(func, args, kwargs)
        with progress.label(f"np.{func.__name__}"):
            return impl(*args, **kwargs)


# ------------------------------------------------------------------ helpers
# Shared with lazyarr.numpy_stats and lazyarr.numpy_linalg (public names for
# that reason; not in ``__all__``).


def block_budget() -> int:
    """Bytes of data per block (the reductions' ``block_bytes`` budget)."""
    return _reduce.DEFAULT_BLOCK_BYTES


_BLAS: Any = None


@contextlib.contextmanager
def one_blas_thread():
    """OpenBLAS (or MKL) on one thread inside: for the per-block products of k x k results.

    A block's ``v.T @ v`` with small k is a few milliseconds of work, which
    BLAS threads cannot share: on a busy machine (or beside the prefetch
    thread reading the next block) their spin-waits made the product 50x
    slower (0.49 s instead of 0.0096 s for a 21,845 x 32 block, measured
    on two cores under load). No effect without ``threadpoolctl``.

    Examples
    --------
    >>> v = np.ones((1000, 3))
    >>> with one_blas_thread():
    ...     g = v.T @ v
    >>> g[0]
    array([1000., 1000., 1000.])
    """
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _BLAS = False
        else:
            _BLAS = ThreadpoolController()
    if _BLAS is False:
        yield
        return
    with _BLAS.limit(limits=1, user_api="blas"):
        yield


def fits_one_block(x: Any) -> bool:
    """Fits in one block (or is 0-d or empty): NumPy's answer is exact and as cheap."""
    return not is_lazy(x) or not x.shape or x.size == 0 or x.nbytes <= block_budget() // 2


def probe_rows(x: Any, rows: int = 1) -> np.ndarray:
    """Zeros of ``x``'s dtype, ``rows`` long on axis 0: NumPy validates calls on it."""
    return np.zeros((min(rows, x.shape[0]),) + tuple(x.shape[1:]) if x.shape else (), x.dtype)


def without_warnings(fn: Callable[[], Any]) -> Any:
    """``fn()`` with every warning silenced (NumPy's are replayed on a probe instead)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def _axes(x: Any, axis: Any) -> tuple[int, ...]:
    return tuple(range(x.ndim)) if axis is None else normalize_axis_tuple(axis, x.ndim)


def budget_blocks(x: Any, temp: int = 0):
    """``(start, block)`` over axis 0 of ``x`` within :func:`block_budget` (``temp``
    bytes per element of scratch counted too)."""
    return row_blocks(x, rows_per_block(x, block_budget(), temp))


def finish_reduction(res: np.ndarray, axes: tuple[int, ...], keepdims: bool, out: Any) -> Any:
    """A keepdims result squeezed (unless keepdims), copied into ``out``, 0-d as a scalar."""
    if not keepdims:
        res = np.squeeze(res, axis=axes)
    if out is not None:
        np.copyto(out, res, casting="unsafe")
        return out
    return res[()] if res.ndim == 0 else res


def rowwise_result(x: Any, fn: Callable[[np.ndarray], np.ndarray], axes: tuple[int, ...],
                   keepdims: bool, out: Any) -> Any:
    """Axis 0 kept: each block's rows of the (keepdims) result are NumPy's own."""
    res = None
    # Into one preallocated result: a list of parts interleaved with freed
    # blocks fragments the heap (peak RSS grew to 700 MB on a 1 GiB array).
    for start, b in budget_blocks(x):
        part = np.asarray(fn(np.asarray(b)))
        if res is None:
            res = np.empty((x.shape[0],) + part.shape[1:], part.dtype)
        res[start : start + len(part)] = part
    return finish_reduction(res, axes, keepdims, out)


def merged_over_blocks(x: Any, fn: Callable[[np.ndarray], np.ndarray], merge: Callable,
                       temp: int = 0) -> Any:
    """Per-block (keepdims) results merged pairwise across axis 0."""
    tree = Pairwise(merge)
    for _, b in budget_blocks(x, temp):
        tree.push(fn(np.asarray(b)))
    return tree.result()


def blockwise_map(x: Any, fn: Callable, dtype: Any) -> Any:
    """A lazy view of ``fn`` applied to each block read (:class:`lazyarr.derived.MapView`)."""
    from lazyarr.derived import MapView

    return MapView(x, fn, dtype)


def _nan_to(x: Any, value: Any) -> Any:
    """``x`` with NaNs read as ``value`` (inexact dtypes only)."""
    def fn(b: Any) -> Any:
        b = np.array(b)
        np.copyto(b, value, where=np.isnan(b))
        return b if b.ndim else b[()]

    return blockwise_map(x, fn, x.dtype)


def given_kwargs(**kw: Any) -> dict:
    """The keyword arguments a caller gave (not NumPy's ``_NoValue``)."""
    return {k: v for k, v in kw.items() if v is not NOVALUE}


# --------------------------------------------------------------- metadata


@implements(np.result_type)
def _result_type(*arrays_and_dtypes: Any) -> np.dtype:
    # Only the dtype matters (NumPy 2 promotes arrays by dtype, not value).
    return np.result_type(*[np.empty(0, a.dtype) if is_lazy(a) else a for a in arrays_and_dtypes])


@implements(np.shares_memory, np.may_share_memory)
def _shares_memory(a: Any, b: Any, max_work: Any = None) -> bool:
    if is_lazy(a) or is_lazy(b):
        return False  # storage is never an ndarray's memory
    return np.shares_memory(a, b) if max_work is None else np.shares_memory(a, b, max_work)


# ----------------------------------------------------------- counting, nan*


@implements(np.count_nonzero)
def count_nonzero(a: Any, axis: Any = None, *, keepdims: bool = False) -> Any:
    if fits_one_block(a):
        return numpy_answer(np.count_nonzero, (a,), dict(axis=axis, keepdims=keepdims))
    np.count_nonzero(probe_rows(a), axis=axis, keepdims=keepdims)
    if axis is None and not keepdims:
        return np.intp(sum(np.count_nonzero(b) for _, b in budget_blocks(a)))
    return blockwise_map(a, lambda b: np.asarray(b).astype(bool), bool).sum(axis=axis, dtype=np.intp,
                                                                    keepdims=keepdims)


def _inexact(x: Any) -> bool:
    return np.issubdtype(x.dtype, np.inexact)


@implements(np.nansum)
def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = NOVALUE,
           initial: Any = NOVALUE, where: Any = NOVALUE) -> Any:
    kw = dict(axis=axis, dtype=dtype, out=out, **given_kwargs(keepdims=keepdims, initial=initial, where=where))
    if fits_one_block(a) or where is not NOVALUE or a.dtype.hasobject:
        return numpy_answer(np.nansum, (a,), kw)
    return (_nan_to(a, 0) if _inexact(a) else a).sum(**kw)


def _divide_by_count(a: Any, b: Any, out: Any = None) -> Any:
    # numpy/lib/_nanfunctions_impl.py::_divide_by_count, so results match.
    with np.errstate(invalid="ignore", divide="ignore"):
        if isinstance(a, np.ndarray):
            return np.divide(a, b, out=a if out is None else out, casting="unsafe")
        if out is None:
            try:
                return a.dtype.type(a / b)
            except AttributeError:
                return a / b
        return np.divide(a, b, out=out, casting="unsafe")


def _count_valid(a: Any, axis: Any, keepdims: Any) -> Any:
    return blockwise_map(a, lambda b: ~np.isnan(b), bool).sum(axis=axis, dtype=np.intp, keepdims=keepdims)


@implements(np.nanmean)
def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = NOVALUE, *,
            where: Any = NOVALUE) -> Any:
    kw = dict(axis=axis, dtype=dtype, out=out, **given_kwargs(keepdims=keepdims, where=where))
    if fits_one_block(a) or where is not NOVALUE or not _inexact(a):
        return numpy_answer(np.nanmean, (a,), kw)
    np.nanmean(probe_rows(a), **dict(kw, out=None))
    kd = False if keepdims is NOVALUE else keepdims
    if dtype is not None and not issubclass(np.dtype(dtype).type, np.inexact):
        raise TypeError("If a is inexact, then dtype must be inexact")
    if out is not None and not issubclass(out.dtype.type, np.inexact):
        raise TypeError("If a is inexact, then out must be inexact")
    cnt = _count_valid(a, axis, kd)
    tot = _nan_to(a, 0).sum(axis=axis, dtype=dtype, out=out, keepdims=kd)
    avg = _divide_by_count(tot, cnt, out=out)
    if np.any(cnt == 0):
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=3)
    return avg


def _make_nanvar(std: bool) -> Callable:
    fn = np.nanstd if std else np.nanvar

    def impl(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
             keepdims: Any = NOVALUE, *, where: Any = NOVALUE, mean: Any = NOVALUE,
             correction: Any = NOVALUE) -> Any:
        kw = dict(axis=axis, dtype=dtype, out=out, ddof=ddof,
                  **given_kwargs(keepdims=keepdims, where=where, mean=mean, correction=correction))
        if fits_one_block(a) or where is not NOVALUE or mean is not NOVALUE or not _inexact(a):
            return numpy_answer(fn, (a,), kw)
        without_warnings(lambda: fn(probe_rows(a), **dict(kw, out=None)))  # NumPy's argument errors
        if correction is not NOVALUE:
            ddof = correction
        kd = False if keepdims is NOVALUE else keepdims
        axes = _axes(a, axis)
        if 0 not in axes:
            # Each block's rows of the result are NumPy's own; warnings once.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = rowwise_result(a, lambda b: fn(b, axis=axis, dtype=dtype, ddof=ddof, keepdims=True),
                               axes, kd, out)
            for w in {(w.category, str(w.message)) for w in caught}:
                warnings.warn(w[1], w[0], stacklevel=3)
            return res
        # NumPy's two passes: the mean of the non-NaN elements, then the
        # squared deviations from it (NaNs counting 0).
        cnt = _count_valid(a, axis, True)
        avg = _divide_by_count(_nan_to(a, 0).sum(axis=axis, dtype=dtype, keepdims=True), cnt)

        def dev(b: Any) -> np.ndarray:
            b = np.asarray(b)
            d = np.subtract(b, avg, casting="unsafe", dtype=np.result_type(b, avg) if dtype is None else None)
            if d.dtype != b.dtype and dtype is None:
                d = d.astype(b.dtype)
            np.copyto(d, 0, where=np.isnan(b))
            return (d * d.conj()).real if d.dtype.kind == "c" else np.multiply(d, d, out=d)

        sq_dtype = np.empty(0, a.dtype).real.dtype
        var = blockwise_map(a, dev, sq_dtype).sum(axis=axis, dtype=dtype, out=out, keepdims=kd)
        if np.ndim(var) < cnt.ndim:
            cnt = cnt.squeeze(axes)
        dof = cnt - ddof
        var = _divide_by_count(var, dof)
        isbad = dof <= 0
        if np.any(isbad):
            warnings.warn("Degrees of freedom <= 0 for slice.", RuntimeWarning, stacklevel=3)
            if isinstance(var, np.ndarray):
                np.copyto(var, np.nan, where=isbad, casting="unsafe")
            else:
                var = var.dtype.type(np.nan)
        if std:
            if isinstance(var, np.ndarray):
                var = np.sqrt(var, out=var)
            elif hasattr(var, "dtype"):
                var = var.dtype.type(np.sqrt(var))
        return var

    return impl


HANDLED[np.nanvar] = _make_nanvar(False)
HANDLED[np.nanstd] = _make_nanvar(True)


def _make_nanminmax(name: str) -> Callable:
    fn, ufunc = getattr(np, name), (np.fmin if name == "nanmin" else np.fmax)

    def impl(a: Any, axis: Any = None, out: Any = None, keepdims: Any = NOVALUE, initial: Any = NOVALUE,
             where: Any = NOVALUE) -> Any:
        kw = dict(axis=axis, out=out, **given_kwargs(keepdims=keepdims, initial=initial, where=where))
        if fits_one_block(a) or where is not NOVALUE or a.dtype.hasobject:
            return numpy_answer(fn, (a,), kw)
        without_warnings(lambda: fn(probe_rows(a), **dict(kw, out=None)))
        kd = False if keepdims is NOVALUE else keepdims
        axes = _axes(a, axis)
        # fmin/fmax ignore NaN and are exact: NumPy's nanmin is fmin.reduce.
        ini = {} if initial is NOVALUE else {"initial": initial}
        if 0 not in axes:
            res = rowwise_result(a, lambda b: ufunc.reduce(b, axis=axes, keepdims=True, **ini), axes, kd, out)
        else:
            res = merged_over_blocks(a, lambda b: ufunc.reduce(b, axis=axes, keepdims=True, **ini),
                          lambda p, q: ufunc(p, q))
            res = finish_reduction(res, axes, kd, out)
        if _inexact(a) and np.isnan(res).any():
            warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
        return res

    return impl


HANDLED[np.nanmin] = _make_nanminmax("nanmin")
HANDLED[np.nanmax] = _make_nanminmax("nanmax")


@implements(np.average)
def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
            keepdims: Any = NOVALUE) -> Any:
    kw = dict(axis=axis, weights=weights, returned=returned, **given_kwargs(keepdims=keepdims))
    if fits_one_block(a) or a.dtype.hasobject:
        return numpy_answer(np.average, (a,), kw)
    if weights is None:
        without_warnings(lambda: np.average(probe_rows(a, 2), **kw))
    kd = False if keepdims is NOVALUE else keepdims
    if weights is None:
        # numpy/lib/_function_base_impl.py::average, on the out-of-core mean.
        avg = a.mean(axis=axis, keepdims=kd)
        avg_as_array = np.asanyarray(avg)
        scl = avg_as_array.dtype.type(a.size / avg_as_array.size)
    else:
        axes = _axes(a, axis)
        w = weights if is_lazy(weights) else np.asanyarray(weights)
        full = tuple(w.shape) == a.shape
        if not full and (axis is None or w.ndim != 1 or w.shape[0] != a.shape[axes[0]]):
            return numpy_answer(np.average, (a,), kw)  # NumPy's own error
        if not full and axes[0] == 0:
            w = w.reshape((-1,) + (1,) * (a.ndim - 1))
            full = True
        rt = np.result_type(a.dtype, w.dtype, "f8") if a.dtype.kind in "biu" else np.result_type(a.dtype, w.dtype)
        if 0 not in axes:
            # Each block's rows of the result are NumPy's own.
            parts = [np.average(np.asarray(b), axis=axis, returned=True, keepdims=True,
                                weights=np.asarray(w[start : start + len(b)]) if full else w)
                     for start, b in budget_blocks(a, 16)]
            avg = finish_reduction(np.concatenate([p[0] for p in parts]), axes, kd, None)
            scl = finish_reduction(np.concatenate([np.broadcast_to(p[1], p[0].shape) for p in parts]), axes, kd, None)
            return (avg, scl) if returned else avg
        if full:
            num, scl = _weighted_sums(a, w, axes, rt)
        else:
            wgt = np.broadcast_to(w, (a.ndim - 1) * (1,) + w.shape).swapaxes(-1, axes[0])
            scl = wgt.sum(axis=axes, dtype=rt, keepdims=True)
            num = merged_over_blocks(a, lambda b: np.multiply(b, wgt, dtype=rt).sum(axis=axes, keepdims=True),
                          np.add)
        if np.any(scl == 0.0):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        avg = avg_as_array = finish_reduction(num / scl, axes, kd, None)
        avg_as_array = np.asanyarray(avg)
        scl = finish_reduction(np.broadcast_to(scl, num.shape).copy(), axes, kd, None)
    if returned:
        if np.shape(scl) != avg_as_array.shape:
            scl = np.broadcast_to(scl, avg_as_array.shape).copy()
        return avg, scl
    return avg


def _weighted_sums(a: Any, w: Any, axes: tuple[int, ...], rt: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(sum of a * w, sum of w) over ``axes``, keepdims, for weights ``w`` broadcasting along axis 0."""
    tree = Pairwise(lambda p, q: (p[0] + q[0], p[1] + q[1]))
    for start, b in budget_blocks(a, 16):
        wb = w if w.shape[0] == 1 else np.asarray(w[start : start + len(b)])
        wb = np.broadcast_to(wb, b.shape)
        tree.push((np.multiply(b, wb, dtype=rt).sum(axis=axes, keepdims=True),
                   wb.sum(axis=axes, dtype=rt, keepdims=True)))
    return tree.result()


# --------------------------------------------------------------- save


@implements(np.save)
def save(file: Any, arr: Any, allow_pickle: bool = True, **kwargs: Any) -> None:
    if not is_lazy(arr) or fits_one_block(arr) or kwargs or arr.dtype.hasobject or not type(arr.dtype)._legacy:
        return numpy_answer(np.save, (file, arr), dict(allow_pickle=allow_pickle, **kwargs))
    from numpy.lib import format as fmt

    try:
        from numpy.lib._format_impl import _write_array_header
    except ImportError:  # pragma: no cover - NumPy < 2
        from numpy.lib.format import _write_array_header
    if hasattr(file, "write"):
        ctx: Any = contextlib.nullcontext(file)
    else:
        file = os.fspath(file)
        if not file.endswith(".npy"):
            file = file + ".npy"
        ctx = open(file, "wb")
    with ctx as fid:
        # The header NumPy writes for a C-ordered array of this shape and dtype.
        _write_array_header(fid, {"descr": fmt.dtype_to_descr(arr.dtype), "fortran_order": False,
                                  "shape": arr.shape}, None)
        for _, b in budget_blocks(arr):
            fid.write(np.ascontiguousarray(b).reshape(-1).view(np.uint8).data)


# Out-of-core histogram, unique and the order statistics, norm and cov, and the
# element-wise results live in their own modules; they register here when imported.
from lazyarr import numpy_elementwise as _numpy_elementwise  # noqa: E402,F401
from lazyarr import numpy_stats as _numpy_stats  # noqa: E402,F401
from lazyarr import numpy_linalg as _numpy_linalg  # noqa: E402,F401
