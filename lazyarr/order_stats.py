"""Exact order statistics out of core: ``np.median``, ``np.percentile``, ``np.quantile``.

The ``k``-th smallest element of each reduced slice is found by a radix
selection over the elements' sort keys (the bits of a float or integer
mapped so that unsigned order is numeric order): one pass over the array
counts, per slice, how many elements fall in each bucket of the top bits,
which fixes the bucket holding rank ``k``; the next pass either collects the
few elements of that bucket (then sorts them in memory) or, when too many
share it, counts the next bits within it. Memory is the block budget plus
the bucket counts; NaNs are counted aside. With the exact order statistics,
NumPy's own interpolation (its private quantile helpers, the same code
``np.percentile`` runs) gives the result, so values equal NumPy's.

Examples
--------
>>> import numpy as np, lazyarr as la
>>> a = np.random.default_rng(0).standard_normal((1000, 3))
>>> x = la.LazyArray(la.backends.MemoryBackend(a))
>>> import lazyarr.reduce as lr
>>> lr.DEFAULT_BLOCK_BYTES, old = 4096, lr.DEFAULT_BLOCK_BYTES
>>> bool(np.array_equal(np.median(x, axis=0), np.median(a, axis=0)))
True
>>> bool(np.array_equal(np.percentile(x, [5, 50], method="weibull"), np.percentile(a, [5, 50], method="weibull")))
True
>>> lr.DEFAULT_BLOCK_BYTES = old
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from lazyarr import reduce as _reduce
from lazyarr.reduce import row_blocks, rows_per_block

__all__ = ["median", "quantile", "supported"]

try:  # NumPy's interpolation, exactly as np.quantile applies it
    from numpy.lib._function_base_impl import _QuantileMethods, _get_gamma, _get_indexes, _lerp
except ImportError:  # pragma: no cover - a NumPy that moved them: read whole arrays
    _QuantileMethods = None


def supported(x: Any, axis: Any) -> bool:
    """Whether the radix selection applies (real dtype, axis 0 among the reduced, a few slices)."""
    if _QuantileMethods is None or x.dtype.kind not in "biuf" or not x.shape or x.size == 0:
        return False
    axes = _axes(x, axis)
    if 0 not in axes:
        return False
    k = math.prod(n for a, n in enumerate(x.shape) if a not in axes)
    return _bits(k) >= 1


def _axes(x: Any, axis: Any) -> tuple[int, ...]:
    return tuple(range(x.ndim)) if axis is None else normalize_axis_tuple(axis, x.ndim)


def _budget() -> int:
    return _reduce.DEFAULT_BLOCK_BYTES


def _bits(k: int) -> int:
    """Bits counted per pass: ``k`` slices of ``2**bits`` int64 counters.

    The counters take a quarter of the block budget, or 1 MiB when that is
    more (a tiny budget must not mean one bit per pass over the array).
    """
    room = max(_budget() // 4, 2**20) // (8 * max(k, 1))
    return min(16, room.bit_length() - 1) if room >= 2 else 0


def _keys(block: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Unsigned sort keys of ``block`` and its NaN mask (None without NaNs)."""
    dt = block.dtype
    if not dt.isnative:
        block = block.astype(dt.newbyteorder("="))
    if dt.kind == "b":
        return block.view(np.uint8), None
    width = block.dtype.itemsize * 8
    u = block.view(f"u{block.dtype.itemsize}")
    top = np.array(1 << (width - 1), dtype=u.dtype)
    if dt.kind == "u":
        return u, None
    if dt.kind == "i":
        return u ^ top, None
    nan = np.isnan(block)
    # Negative floats: all bits flipped; others: the sign bit set. One shift,
    # one or, one xor (the arithmetic shift spreads the sign bit).
    signed = block.view(f"i{block.dtype.itemsize}")
    flip = signed >> (width - 1)
    flip |= top.view(signed.dtype)
    flip ^= signed
    keys = flip.view(u.dtype)
    # -0.0 sorts as 0.0, as NumPy compares them.
    np.copyto(keys, top, where=keys == ~top)
    return keys, (nan if nan.any() else None)


def _values(keys: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The values whose sort keys are ``keys`` (uint64), in ``dtype``."""
    dtype = np.dtype(dtype).newbyteorder("=")
    if dtype.kind == "b":
        return keys.astype(np.uint8).view(bool)
    u = keys.astype(f"u{dtype.itemsize}")
    top = np.array(1 << (dtype.itemsize * 8 - 1), dtype=u.dtype)
    if dtype.kind == "u":
        return u.view(dtype)
    if dtype.kind == "i":
        return (u ^ top).view(dtype)
    return np.where(u & top, u ^ top, ~u).view(dtype)


def _slices(block: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``block`` as (elements, slices): the reduced axes first, flattened."""
    keep = [a for a in range(block.ndim) if a not in axes]
    if keep and keep != list(range(block.ndim - len(keep), block.ndim)):
        block = np.moveaxis(block, keep, range(block.ndim - len(keep), block.ndim))
    k = math.prod(block.shape[block.ndim - len(keep):])
    return block.reshape(-1, k)


def _blocks(x: Any, axes: tuple[int, ...]):
    temp = 24  # keys, the NaN mask, digits
    for _, block in row_blocks(x, rows_per_block(x, _budget(), temp)):
        keys, nan = _keys(np.asarray(block))
        yield _slices(keys, axes), (None if nan is None else _slices(nan, axes))


def order_statistics(x: Any, axes: tuple[int, ...], ranks_of: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact order statistics of each slice of ``x`` reduced over ``axes``.

    ``ranks_of(n_valid, nans)`` maps the per-slice counts of non-NaN and NaN
    elements (int64 arrays of shape (k,)) to ranks (t, k) into each slice's
    sorted non-NaN values (-1 for none). Returns the values (t, k) in ``x.dtype``
    (unspecified where the rank is -1), ``n_valid`` and the per-slice count
    of NaNs.

    First one pass between bounds from a sample (:func:`_windowed`); where
    a rank falls outside them (or too many elements fall inside), the radix
    selection, which always ends.
    """
    found = _windowed(x, axes, ranks_of)
    return found if found is not None else _radix(x, axes, ranks_of)


#: Half-width of a sample window, in standard deviations of the sample rank.
_SIGMAS = 4.5
#: Distinct windows one pass follows (more ranks: the radix selection).
_MAX_WINDOWS = 8


def _comparable(v: np.ndarray) -> np.ndarray:
    return v.view(np.uint8) if v.dtype.kind == "b" else v


def _sample(x: Any, axes: tuple[int, ...]) -> np.ndarray | None:
    """About a quarter of the budget of rows from 64 places spread over axis 0, as (elements, slices)."""
    n = x.shape[0]
    row_bytes = max(1, x.nbytes // max(n, 1))
    rows = max(16, _budget() // 4 // row_bytes)
    if rows * 2 > n:
        return None  # a sample near the array's size: the radix passes are as cheap
    pieces = min(64, rows)
    step = rows // pieces
    starts = np.unique(np.linspace(0, n - step, pieces).astype(np.int64))
    sample = np.concatenate([np.asarray(x[int(s) : int(s) + step]) for s in starts])
    if not sample.dtype.isnative:
        sample = sample.astype(sample.dtype.newbyteorder("="))
    return _comparable(_slices(sample, axes))


def _windowed(x: Any, axes: tuple[int, ...], ranks_of: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The order statistics in one pass, between bounds estimated from a sample, or None.

    For each target rank the sample gives bounds ``lo <= v <= hi`` that hold
    the rank's value unless the sample misleads (a miss has probability
    below 1e-5 for data in random order; evenly spread samples of ordered
    data are closer still). One pass then counts, per slice, the elements
    below ``lo`` and keeps those between: if every rank falls among the kept
    ones, one ``np.partition`` of each slice's kept elements gives the exact
    value, as NumPy's own ``np.median`` takes it. Otherwise (a miss, or more
    kept elements than half the budget holds) None, and the caller runs the
    radix selection.
    """
    dtype = np.dtype(x.dtype).newbyteorder("=")
    sample = _sample(x, axes)
    if sample is None:
        return None
    k = sample.shape[1]
    per_slice = math.prod(n for a, n in enumerate(x.shape) if a in axes)
    srt = np.sort(sample.T, axis=1)  # NaNs last
    sv = (~np.isnan(srt)).sum(axis=1) if dtype.kind == "f" else np.full(k, srt.shape[1])
    est_valid = np.round(sv / srt.shape[1] * per_slice).astype(np.int64)
    est = np.asarray(ranks_of(est_valid, per_slice - est_valid), dtype=np.int64)
    if est.shape[0] == 0:
        return None
    cols = np.arange(k)
    p = np.clip(est / np.maximum(est_valid - 1, 1), 0, 1)
    j = p * np.maximum(sv - 1, 0)
    w = _SIGMAS * np.sqrt(np.maximum(sv, 1) * p * (1 - p)) + 2
    lo_i, hi_i = np.floor(j - w).astype(np.int64), np.ceil(j + w).astype(np.int64)
    if srt.dtype.kind == "f":
        lowest, highest = -np.inf, np.inf
    else:
        lowest, highest = np.iinfo(srt.dtype).min, np.iinfo(srt.dtype).max
    lo = np.where(lo_i >= 0, srt[cols, np.clip(lo_i, 0, srt.shape[1] - 1)], lowest).astype(srt.dtype)
    hi = np.where(hi_i < sv, srt[cols, np.clip(hi_i, 0, srt.shape[1] - 1)], highest).astype(srt.dtype)
    cdtype = srt.dtype
    del sample, srt  # held through the pass, they would be a third of the budget
    bounds, window_of = np.unique(np.stack([lo, hi], axis=1), axis=0, return_inverse=True)
    window_of = window_of.reshape(-1)
    if len(bounds) > _MAX_WINDOWS:
        return None
    nw = len(bounds)
    below = np.zeros((nw, k), np.int64)
    valid = np.zeros(k, np.int64)
    kept: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(nw)]
    n_kept = 0
    # Each kept element: its value and its slice (one or two bytes for a
    # few slices); three quarters of the budget hold them (two blocks the rest).
    ctype = np.uint8 if k <= 256 else np.uint16 if k <= 65536 else np.int64
    cap = _budget() * 3 // 4 // (dtype.itemsize + np.dtype(ctype).itemsize)
    for v in _value_blocks(x, axes):
        flat = v.reshape(-1)
        for wi, (blo, bhi) in enumerate(bounds):
            lt = v < blo
            below[wi] += lt.sum(axis=0)
            # lo <= v <= hi as (v <= hi) > (v < lo): NaNs fail both.
            keep = v <= bhi
            np.greater(keep, lt, out=keep)
            at = np.flatnonzero(keep)  # several times faster than a 2-d nonzero
            n_kept += len(at)
            if n_kept > cap:
                return None
            kept[wi].append(((at % k).astype(ctype), flat[at]))
        valid += _valid_count(v)
    nans = per_slice - valid
    ranks = np.asarray(ranks_of(valid, nans), dtype=np.int64)
    live = ranks >= 0
    result = np.zeros(ranks.shape, cdtype)
    for wi in range(nw):
        c = np.concatenate([q[0] for q in kept[wi]])
        vals = np.concatenate([q[1] for q in kept[wi]])
        kept[wi] = []
        if k > 64:
            # A stable sort of small integers is NumPy's radix sort: one pass.
            order = np.argsort(c, kind="stable")
            c, vals = c[order], vals[order]
            del order
            start = np.searchsorted(c, np.arange(k + 1))
        for col in range(k):
            targets = np.flatnonzero(live[:, col] & (window_of == wi))
            if not len(targets):
                continue
            within = ranks[targets, col] - below[wi, col]
            # A few slices: one mask each, no index array of all kept elements.
            seg = vals[c == col] if k <= 64 else vals[start[col] : start[col + 1]]
            if within.min() < 0 or within.max() >= len(seg):
                return None  # the sample misled: the radix selection answers
            part = np.partition(seg, np.unique(within))
            result[targets, col] = part[within]
    if dtype.kind == "b":
        result = result.view(bool)
    return result.astype(dtype, copy=False), valid, nans


def _valid_count(v: np.ndarray) -> np.ndarray:
    if v.dtype.kind == "f":
        nan = np.isnan(v)
        if nan.any():
            return len(v) - nan.sum(axis=0)
    return np.full(v.shape[1], len(v), np.int64)


def _value_blocks(x: Any, axes: tuple[int, ...]):
    for _, block in row_blocks(x, rows_per_block(x, _budget(), 2)):
        b = np.asarray(block)
        if not b.dtype.isnative:
            b = b.astype(b.dtype.newbyteorder("="))
        yield _comparable(_slices(b, axes))


def _radix(x: Any, axes: tuple[int, ...], ranks_of: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`order_statistics` by a radix selection over the elements' sort keys."""
    dtype = x.dtype
    k = math.prod(n for a, n in enumerate(x.shape) if a not in axes)
    width = dtype.itemsize * 8
    bits = _bits(k)
    cap = max(1, _budget() // (2 * (dtype.itemsize + 16)))
    cols = np.arange(k, dtype=np.int64)
    # Pass 1: the top bits of every element, per slice.
    nb = 1 << min(bits, width)
    shift = width - min(bits, width)
    hist = np.zeros((k, nb), np.int64)
    nans = np.zeros(k, np.int64)
    small = k * nb < 2**31
    for keys, nan in _blocks(x, axes):
        digit = keys >> keys.dtype.type(shift)
        digit = digit.astype(np.uint32 if small else np.int64, copy=False)
        digit += (cols * nb).astype(digit.dtype)
        if nan is not None:
            nans += nan.sum(axis=0)
            digit = digit[~nan]
        hist += np.bincount(digit.reshape(-1), minlength=k * nb).reshape(k, nb)
    n_valid = hist.sum(axis=1)
    ranks = np.asarray(ranks_of(n_valid, nans), dtype=np.int64)
    t = ranks.shape[0]
    live = ranks >= 0
    rank = np.where(live, ranks, 0)
    prefix = np.zeros((t, k), np.uint64)
    pbits = 0
    count = np.zeros((t, k), np.int64)

    def descend(h: np.ndarray, ti: int, nbits: int) -> None:
        # The bucket of each slice's rank, and the rank left within it.
        cum = np.cumsum(h, axis=1)
        b = np.minimum((cum <= rank[ti][:, None]).sum(axis=1), h.shape[1] - 1)
        before = np.where(b > 0, cum[cols, np.maximum(b - 1, 0)], 0)
        rank[ti] -= before
        count[ti] = h[cols, b]
        prefix[ti] = (prefix[ti] << np.uint64(nbits)) | b.astype(np.uint64)

    for ti in range(t):
        descend(hist, ti, min(bits, width))
    pbits = min(bits, width)
    result = np.zeros((t, k), np.uint64)
    while pbits < width:
        # Targets whose buckets coincide (a median's two middle ranks, most
        # often) share one pass's work.
        reps, rep_of = np.unique(prefix, axis=0, return_inverse=True)
        rep_of = rep_of.reshape(-1)
        if int(np.where(live, count, 0).max(axis=0).sum()) * len(reps) <= cap:
            _collect(x, axes, reps, rep_of, pbits, width, rank, live, result)
            return _values(result, dtype), n_valid, nans
        step = min(bits, width - pbits)
        nb = 1 << step
        hists = np.zeros((len(reps), k, nb), np.int64)
        for keys, nan in _blocks(x, axes):
            hi = keys >> keys.dtype.type(width - pbits)
            digit = ((keys >> keys.dtype.type(width - pbits - step)) & keys.dtype.type(nb - 1)).astype(np.int64)
            digit += cols * nb
            for ri, rep in enumerate(reps):
                m = hi == rep.astype(keys.dtype)
                if nan is not None:
                    m &= ~nan
                hists[ri] += np.bincount(digit[m], minlength=k * nb).reshape(k, nb)
        for ti in range(t):
            descend(hists[rep_of[ti]], ti, step)
        pbits += step
    return _values(prefix, dtype), n_valid, nans


def _collect(x: Any, axes: tuple, reps: np.ndarray, rep_of: np.ndarray, pbits: int, width: int,
             rank: np.ndarray, live: np.ndarray, result: np.ndarray) -> None:
    """The elements of each target bucket, sorted in memory: the exact keys at ``rank``."""
    k = reps.shape[1]
    found: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(len(reps))]
    for keys, nan in _blocks(x, axes):
        hi = keys >> keys.dtype.type(width - pbits)
        for ri, rep in enumerate(reps):
            m = hi == rep.astype(keys.dtype)
            if nan is not None:
                m &= ~nan
            r, c = np.nonzero(m)
            found[ri].append((c, keys[r, c]))
    for ri in range(len(reps)):
        c = np.concatenate([f[0] for f in found[ri]])
        v = np.concatenate([f[1] for f in found[ri]]).astype(np.uint64)
        order = np.lexsort((v, c))
        c, v = c[order], v[order]
        start = np.searchsorted(c, np.arange(k))
        for ti in np.flatnonzero(rep_of == ri):
            pos = np.minimum(start + rank[ti], max(len(v) - 1, 0))
            result[ti] = np.where(live[ti], v[pos] if len(v) else 0, 0)


def _kept_shape(x: Any, axes: tuple[int, ...], keepdims: bool) -> tuple[int, ...]:
    if keepdims:
        return tuple(1 if a in axes else n for a, n in enumerate(x.shape))
    return tuple(n for a, n in enumerate(x.shape) if a not in axes)


def _finish(res: np.ndarray, out: Any) -> Any:
    if out is not None:
        np.copyto(out, res, casting="unsafe")
        return out
    return res[()] if res.ndim == 0 else res


def median(x: Any, axis: Any = None, out: Any = None, keepdims: bool = False, nan: bool = False) -> Any:
    """``np.median`` (or ``np.nanmedian``) of ``x``, exact, in bounded memory."""
    axes = _axes(x, axis)

    def ranks_of(n: np.ndarray, nans: np.ndarray) -> np.ndarray:
        # The plain median of a slice with NaNs is NaN: no rank to find.
        ok = (n > 0) if nan else (n > 0) & (nans == 0)
        lo = np.where(n % 2 == 1, n // 2, n // 2 - 1)
        return np.where(ok, np.stack([lo, n // 2]), -1)

    vals, n_valid, nans = order_statistics(x, axes, ranks_of)
    n = n_valid if nan else n_valid + nans
    res = np.empty(len(n), dtype=np.result_type(np.mean(np.zeros(2, x.dtype))))
    odd = n % 2 == 1
    # np.mean of the middle one or two, as NumPy's _median takes it.
    if odd.any():
        res[odd] = np.mean(vals[:1, odd], axis=0)
    if (~odd).any():
        res[~odd] = np.mean(vals[:, ~odd], axis=0)
    bad = (nans > 0) if not nan else (n_valid == 0)
    if bad.any():
        res[bad] = np.nan
        if nan:
            warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=4)
    return _finish(res.reshape(_kept_shape(x, axes, keepdims)), out)


def quantile(x: Any, q: np.ndarray, axis: Any, out: Any, method: str, keepdims: bool, weak_q: bool,
             nan: bool = False) -> Any:
    """``np.quantile`` (or ``np.nanquantile``) with ``q`` in [0, 1], validated by the caller."""
    axes = _axes(x, axis)
    props = _QuantileMethods[method]
    dummy = np.empty(0, x.dtype)

    def indexes(n: int) -> tuple[np.ndarray, np.ndarray, Any, bool]:
        vi = np.asanyarray(props["get_virtual_index"](n, q))
        ints = props["fix_gamma"] is None or (method == "linear" and np.issubdtype(vi.dtype, np.integer))
        if ints:
            return vi.astype(np.intp), vi.astype(np.intp), vi, True
        prev, nxt = _get_indexes(dummy, vi, n)
        return prev, nxt, vi, False

    def ranks_of(nv: np.ndarray, nans: np.ndarray) -> np.ndarray:
        # The plain quantile of a slice with NaNs is NaN: no rank to find.
        total = nv if nan else np.where(nans == 0, nv, 0)
        out_r = np.full((2 * q.size, len(nv)), -1, np.int64)
        for n in np.unique(total):
            if n <= 0:
                continue
            prev, nxt, _, _ = indexes(int(n))
            cols = total == n
            out_r[: q.size, cols] = (np.asarray(prev).reshape(-1) % n)[:, None]
            out_r[q.size :, cols] = (np.asarray(nxt).reshape(-1) % n)[:, None]
        return out_r

    vals, n_valid, nans = order_statistics(x, axes, ranks_of)
    k = len(n_valid)
    total = n_valid if nan else np.where(nans == 0, n_valid, 0)
    rdtype = _quantile_dtype(x.dtype, q, method, weak_q)
    if nan and n_valid[0] == 0:
        # np.nanquantile applies itself slice by slice: the first slice's
        # result, here an all-NaN one (NaNs of the array's dtype), sets the dtype.
        rdtype = x.dtype
    pieces = np.empty(q.shape + (k,), dtype=rdtype)
    for n in np.unique(total):
        cols = np.nonzero(total == n)[0]
        if n == 0:
            pieces[..., cols] = np.nan
            continue
        prev, nxt, vi, ints = indexes(int(n))
        lo = vals[: q.size, cols].reshape(q.shape + (len(cols),))
        hi = vals[q.size :, cols].reshape(q.shape + (len(cols),))
        if ints:
            pieces[..., cols] = lo
            continue
        gamma = _get_gamma(vi, prev, props)
        gamma = float(gamma) if weak_q else gamma.reshape(vi.shape + (1,))
        pieces[..., cols] = _lerp(lo, hi, gamma)
    bad = (nans > 0) if not nan else (n_valid == 0)
    res = pieces.reshape(q.shape + _kept_shape(x, axes, keepdims))
    if bad.any():
        pieces[..., bad] = np.nan
        if nan:
            warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=4)
        elif res.ndim == 0 and out is None:
            # NumPy answers a 0-d quantile of data with NaNs with the array's
            # last element after partitioning: a NaN of the array's dtype.
            return x.dtype.type(np.nan)
    return _finish(res, out)


def _quantile_dtype(dtype: np.dtype, q: np.ndarray, method: str, weak_q: bool) -> np.dtype:
    """The dtype np.quantile gives for this input dtype, q and method (NumPy on a tiny array)."""
    qq = float(q.reshape(-1)[0]) if weak_q else q.reshape(-1)[:1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(np.quantile(np.zeros(3, dtype), qq, method=method)).dtype
