"""Out-of-core ``np.histogram``, ``histogram_bin_edges``, ``unique`` and the quantiles.

Registered in :data:`lazyarr.numpy_functions.HANDLED`; see that module.

* Histograms: the edges come from NumPy on the array's out-of-core min and
  max (a two-element array has the same ones), the counts from NumPy on each
  block with those edges. Weighted counts are summed over the same
  65,536-element runs NumPy sums over, so they are NumPy's to the bit.
* ``np.unique``: per-block uniques (with first indices and counts) merged
  pairwise; ``return_inverse`` is a second pass of ``searchsorted``.
* Median, percentile and quantile: :mod:`lazyarr.order_stats`.

Examples
--------
>>> import numpy as np, lazyarr as la, lazyarr.reduce as lr
>>> lr.DEFAULT_BLOCK_BYTES, old = 64, lr.DEFAULT_BLOCK_BYTES
>>> a = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5])
>>> x = la.LazyArray(la.backends.MemoryBackend(a))
>>> np.unique(x, return_counts=True)
(array([1, 2, 3, 4, 5, 6, 9]), array([2, 1, 2, 1, 3, 1, 1]))
>>> np.histogram(x, bins=4)[0]
array([3, 3, 4, 1])
>>> lr.DEFAULT_BLOCK_BYTES = old
"""

from __future__ import annotations

import operator
import warnings
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from lazyarr import order_stats
from lazyarr.numpy_functions import (NOVALUE, budget_blocks, fits_one_block, given_kwargs, implements,
                                     is_lazy, merged_over_blocks, numpy_answer, probe_rows,
                                     without_warnings)
from lazyarr.reduce import Pairwise

#: NumPy's histogram sums weighted counts over runs of this many elements.
_NP_BLOCK = 65536


def _flat_blocks(x: Any):
    """(flat offset, 1-d block) over ``x`` in C order."""
    for start, b in budget_blocks(x):
        b = np.asarray(b)
        yield start * (b.size // max(len(b), 1)) if b.ndim else 0, b.reshape(-1)


def _minmax(x: Any) -> tuple[Any, Any]:
    return merged_over_blocks(x, lambda b: (b.min(), b.max()), lambda p, q: (np.minimum(p[0], q[0]), np.maximum(p[1], q[1])))


def _edges_from_data(a: Any, bins: Any, range: Any) -> tuple[np.ndarray, Any]:
    """NumPy's bin edges for an int ``bins``, and the range they span.

    The edges are NumPy's own, from a two-element array with the array's
    min and max (read out of core), which are all NumPy takes from the data.
    """
    if range is None:
        mn, mx = _minmax(a)
        return np.histogram_bin_edges(np.array([mn, mx], dtype=a.dtype), bins), (mn, mx)
    return np.histogram_bin_edges(np.zeros(0, a.dtype), bins, range=range), range


def _check_weights(a: Any, weights: Any) -> Any:
    if weights is None:
        return None
    if tuple(np.shape(weights)) != a.shape:
        raise ValueError("weights should have the same shape as a.")
    return weights


@implements(np.histogram_bin_edges)
def histogram_bin_edges(a: Any, bins: Any = 10, range: Any = None, weights: Any = None) -> np.ndarray:
    kw = dict(bins=bins, range=range, weights=weights)
    if fits_one_block(a) or a.dtype.kind not in "biuf" or isinstance(bins, str):
        return numpy_answer(np.histogram_bin_edges, (a,), kw)
    _check_weights(a, weights)
    if np.ndim(bins) != 0:
        return np.histogram_bin_edges(probe_rows(a), bins, range=range)  # the edges given, checked
    return _edges_from_data(a, bins, range)[0]


@implements(np.histogram)
def histogram(a: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None) -> Any:
    kw = dict(bins=bins, range=range, density=density, weights=weights)
    if fits_one_block(a) or a.dtype.kind not in "biuf" or isinstance(bins, str) or is_lazy(bins):
        return numpy_answer(np.histogram, (a,), kw)
    weights = _check_weights(a, weights)
    np.histogram(np.zeros(0, a.dtype), bins=bins, range=range)  # NumPy's argument errors
    if np.ndim(bins) == 0:
        # The call NumPy makes on the whole array: uniform bins over the
        # array's own [min, max] (or the given range), run on each block.
        edges, span = _edges_from_data(a, bins, range)
        call = dict(bins=operator.index(bins), range=span)
    else:
        edges = np.asarray(bins)
        call = dict(bins=edges)
    if weights is None:
        n = sum(np.histogram(b, **call)[0] for _, b in _flat_blocks(a))
    else:
        n = _weighted_counts(a, weights, call)
    if density:
        db = np.array(np.diff(edges), float)
        return n / db / n.sum(), edges
    return n, edges


def _weighted_counts(a: Any, weights: Any, call: dict) -> np.ndarray:
    # NumPy adds the counts of each run of _NP_BLOCK elements in order; so
    # does this, carrying a partial run from one block to the next.
    n = None
    carry_a = carry_w = None
    wflat = weights if is_lazy(weights) else np.asarray(weights).reshape(-1)
    row = a.size // a.shape[0]
    for start, b in budget_blocks(a):
        b = np.asarray(b).reshape(-1)
        if is_lazy(weights):
            w = np.asarray(weights[start : start + len(b) // row]).reshape(-1)
        else:
            w = wflat[start * row : start * row + len(b)]
        if carry_a is not None:
            b, w = np.concatenate([carry_a, b]), np.concatenate([carry_w, w])
        whole = len(b) // _NP_BLOCK * _NP_BLOCK
        for i in range(0, whole, _NP_BLOCK):
            part = np.histogram(b[i : i + _NP_BLOCK], weights=w[i : i + _NP_BLOCK], **call)[0]
            n = part if n is None else n + part
        carry_a, carry_w = b[whole:], w[whole:]
    if carry_a is not None and len(carry_a):
        part = np.histogram(carry_a, weights=carry_w, **call)[0]
        n = part if n is None else n + part
    return n


# ------------------------------------------------------------------- unique


@implements(np.unique)
def unique(ar: Any, return_index: bool = False, return_inverse: bool = False, return_counts: bool = False,
           axis: Any = None, *, equal_nan: bool = True, sorted: bool = True) -> Any:
    kw = dict(return_index=return_index, return_inverse=return_inverse, return_counts=return_counts,
              axis=axis, equal_nan=equal_nan, sorted=sorted)
    if fits_one_block(ar) or axis is not None or not sorted or ar.dtype.kind not in "biufcUS" \
            or (return_inverse and not equal_nan and ar.dtype.kind in "fc"):
        return numpy_answer(np.unique, (ar,), kw)
    if ar.dtype.kind in "biu" and ar.dtype.itemsize <= 2 and not return_index:
        u, cnt = _small_int_counts(ar)
    else:
        u, idx, cnt = _merged_uniques(ar, equal_nan)
    out = [u]
    if return_index:
        out.append(idx)
    if return_inverse:
        inv = np.empty(ar.size, np.intp)
        for start, b in _flat_blocks(ar):
            inv[start : start + len(b)] = np.searchsorted(u, b)
        # NumPy's inverse has the input's shape when axis is None.
        shape = np.unique(np.zeros((1,) * ar.ndim, ar.dtype), return_inverse=True)[1].shape
        out.append(inv.reshape(ar.shape if len(shape) == ar.ndim else -1))
    if return_counts:
        out.append(cnt)
    return out[0] if len(out) == 1 else tuple(out)


def _small_int_counts(ar: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and their counts for 1- or 2-byte integers and bools: one bincount per block.

    O(n) where merging sorted per-block uniques sorts every block (1.5x
    NumPy's time on 1 GiB of int8).
    """
    dt = ar.dtype.newbyteorder("=")
    width = dt.itemsize * 8
    counts = np.zeros(1 << width, np.intp)
    unsigned = np.dtype(f"u{dt.itemsize}")
    # Signed values offset by 2**(width-1): bin order is value order.
    top = 1 << (width - 1) if dt.kind == "i" else 0
    for _, b in _flat_blocks(ar):
        b = b.astype(dt, copy=False)
        keys = b.view(unsigned) if dt.kind != "i" else (b.view(unsigned) ^ unsigned.type(top))
        counts += np.bincount(keys, minlength=1 << width)
    present = np.flatnonzero(counts)
    values = (present ^ top).astype(unsigned).view(dt) if dt.kind == "i" else present.astype(unsigned).view(dt)
    return values.astype(ar.dtype, copy=False), counts[present]


def _merged_uniques(ar: Any, equal_nan: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values, first indices and counts: per-block uniques merged pairwise."""
    inexact = ar.dtype.kind in "fc"

    def dedupe(v: np.ndarray, i: np.ndarray, c: np.ndarray) -> tuple:
        # A stable sort of sorted runs is a merge; then one entry per value.
        order = np.argsort(v, kind="stable")
        v, i, c = v[order], i[order], c[order]
        first = np.ones(len(v), bool)
        first[1:] = v[1:] != v[:-1]
        if inexact and equal_nan:
            nan = np.isnan(v)
            first[1:] &= ~(nan[1:] & nan[:-1])
        at = np.flatnonzero(first)
        return v[at], np.minimum.reduceat(i, at), np.add.reduceat(c, at)

    def merge(p: tuple, q: tuple) -> tuple:
        return dedupe(*(np.concatenate([s, t]) for s, t in zip(p, q)))

    tree = Pairwise(merge)
    for start, b in _flat_blocks(ar):
        tree.push(dedupe(b, np.arange(start, start + len(b), dtype=np.intp), np.ones(len(b), np.intp)))
    return tree.result()


# ----------------------------------------------------------------- quantiles


@implements(np.median)
def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False, keepdims: bool = False) -> Any:
    kw = dict(axis=axis, out=out, overwrite_input=overwrite_input, keepdims=keepdims)
    if fits_one_block(a) or not order_stats.supported(a, axis):
        return _by_rows_or_numpy(np.median, a, axis, kw)
    without_warnings(lambda: np.median(probe_rows(a), **dict(kw, out=None)))
    return order_stats.median(a, axis, out, keepdims)


@implements(np.nanmedian)
def nanmedian(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
              keepdims: Any = NOVALUE) -> Any:
    kw = dict(axis=axis, out=out, overwrite_input=overwrite_input, **given_kwargs(keepdims=keepdims))
    if fits_one_block(a) or not order_stats.supported(a, axis):
        return _by_rows_or_numpy(np.nanmedian, a, axis, kw)
    without_warnings(lambda: np.nanmedian(probe_rows(a), **dict(kw, out=None)))
    if a.dtype.kind not in "fc":
        return median(a, axis, out, overwrite_input, keepdims is True)
    return order_stats.median(a, axis, out, keepdims is True, nan=True)


def _by_rows_or_numpy(func: Any, a: Any, axis: Any, kw: dict, q: tuple = ()) -> Any:
    """Reduced axes without axis 0: each block's rows are NumPy's own; else NumPy's answer."""
    if fits_one_block(a) or kw.get("out") is not None or a.dtype.kind not in "biuf" or kw.get("weights") is not None:
        return numpy_answer(func, (a,) + q, kw)
    axes = tuple(range(a.ndim)) if axis is None else normalize_axis_tuple(axis, a.ndim)
    if 0 in axes:
        return numpy_answer(func, (a,) + q, kw)
    keep = kw.get("keepdims", False) is True
    qdims = np.ndim(q[0]) if q else 0
    parts = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _, b in budget_blocks(a):
            parts.append(np.asarray(func(np.asarray(b), *q, **dict(kw, keepdims=True))))
    for w in {(w.category, str(w.message)) for w in caught}:
        warnings.warn(w[1], w[0], stacklevel=4)
    res = np.concatenate(parts, axis=qdims)
    if not keep:
        res = np.squeeze(res, axis=tuple(qdims + ax for ax in axes))
    return res[()] if res.ndim == 0 else res


def _make_quantile(func: Any, percent: bool, nan: bool) -> Any:
    def impl(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: Any = False if not nan else NOVALUE, *,
             weights: Any = None) -> Any:
        kw = dict(axis=axis, out=out, overwrite_input=overwrite_input, method=method, weights=weights,
                  **given_kwargs(keepdims=keepdims))
        if fits_one_block(a) or weights is not None or not order_stats.supported(a, axis) or is_lazy(q):
            return _by_rows_or_numpy(func, a, axis, kw, (q,))
        # NumPy's verdict on q, method and axis, and the result type, first.
        without_warnings(lambda: func(probe_rows(a), q, **dict(kw, out=None)))
        weak_q = type(q) in (int, float)
        qq = np.asanyarray(np.true_divide(q, 100) if percent else q)
        return order_stats.quantile(a, qq, axis, out, method, keepdims is True, weak_q,
                                    nan=nan and a.dtype.kind == "f")

    return impl


for _f, _p, _n in [(np.percentile, True, False), (np.quantile, False, False),
                   (np.nanpercentile, True, True), (np.nanquantile, False, True)]:
    implements(_f)(_make_quantile(_f, _p, _n))
