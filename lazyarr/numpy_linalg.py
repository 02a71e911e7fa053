"""Out-of-core ``np.linalg.norm``, ``np.cov`` and ``np.corrcoef``.

Registered in :data:`lazyarr.numpy_functions.HANDLED`. ``norm`` follows
NumPy's own code path for every ``ord`` and ``axis`` of an array of up to two
dimensions, with the element-wise steps (``abs(x)``, ``x != 0``, ``|x|**p``)
as lazy maps and the sums, maxima and minima as the out-of-core reductions;
along axes that exclude axis 0 each block's rows are NumPy's own answer. The
``2``-norm of an (n, k) matrix is the root of the largest eigenvalue of the
k x k Gram matrix summed in blocks; ``-2`` and ``'nuc'`` come from the ``R``
of a blocked QR (same singular values, k x k in memory). ``cov`` and
``corrcoef`` of (n, k) observations (``rowvar=False``, or 1-d) are one pass:
the k x k sum of products of the observations less a shift, corrected for
the shift (:func:`_centred_products`).
Floating-point sums are accumulated in a different order than NumPy's BLAS
calls, so these agree with NumPy to rounding, not bit for bit.

Examples
--------
>>> import numpy as np, lazyarr as la, lazyarr.reduce as lr
>>> lr.DEFAULT_BLOCK_BYTES, old = 256, lr.DEFAULT_BLOCK_BYTES
>>> a = np.arange(40.0).reshape(20, 2)
>>> x = la.LazyArray(la.backends.MemoryBackend(a))
>>> bool(np.isclose(np.linalg.norm(x), np.linalg.norm(a)))
True
>>> np.linalg.norm(x, ord=1), np.linalg.norm(a, ord=1)
(np.float64(400.0), np.float64(400.0))
>>> bool(np.allclose(np.cov(x, rowvar=False), np.cov(a, rowvar=False)))
True
>>> lr.DEFAULT_BLOCK_BYTES = old
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from lazyarr.numpy_functions import (block_budget, blockwise_map, budget_blocks, finish_reduction,
                                     fits_one_block, implements, is_lazy, merged_over_blocks,
                                     numpy_answer, one_blas_thread, probe_rows, rowwise_result,
                                     without_warnings)
from lazyarr.reduce import Pairwise

_INF = float("inf")


def _sqnorm(x: Any) -> Any:
    """Sum of |x|**2 over all elements, NumPy's ``x.dot(x)`` per block, merged pairwise."""
    def part(b: np.ndarray) -> Any:
        b = b.reshape(-1)
        if b.dtype.kind == "c":
            return b.real.dot(b.real) + b.imag.dot(b.imag)
        return b.dot(b)

    return merged_over_blocks(x, part, lambda p, q: p + q)


def _svals(x: Any) -> np.ndarray | None:
    """Singular values of a 2-d ``x`` (or of its transpose: the same), from a blocked QR."""
    k = x.shape[1]
    if k * k * 16 * 4 > block_budget():
        return None

    def merge(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return np.linalg.qr(np.concatenate([p, q]), mode="r")

    with one_blas_thread():
        r = merged_over_blocks(x, lambda b: np.linalg.qr(b, mode="r"), merge)
    return np.linalg.svd(r, compute_uv=False)


def _largest_sval(x: Any) -> Any:
    """Largest singular value of a 2-d ``x``: sqrt of the Gram matrix's largest eigenvalue.

    ``x^H x`` is summed block by block in double precision (one pass, one
    BLAS syrk per block, k x k in memory). Its largest eigenvalue carries a
    relative error of a few ``eps`` of float64, so the root is NumPy's SVD
    value to the input dtype's rounding. The smallest singular value would
    lose half its digits that way (``cond**2``): ``-2`` and ``'nuc'`` keep the
    QR. None where it does not apply (k too big, or squares that overflow).
    """
    k = x.shape[1]
    if k * k * 16 * 4 > block_budget():
        return None
    wide = np.complex128 if x.dtype.kind == "c" else np.float64

    def part(b: np.ndarray) -> np.ndarray:
        b = np.asarray(b, dtype=wide)
        # b.T @ b on one buffer: NumPy calls syrk (half a gemm's work).
        return (b.conj().T @ b) if b.dtype.kind == "c" else b.T @ b

    # Overflowing squares are no error: the QR answers then.
    with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        g = merged_over_blocks(x, part, lambda p, q: p + q, temp=16 if x.dtype.kind == "c" else 8)
    if not np.isfinite(g).all():
        return None
    return np.sqrt(max(float(np.linalg.eigvalsh(g)[-1]), 0.0))


@implements(np.linalg.norm)
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    kw = dict(ord=ord, axis=axis, keepdims=keepdims)
    if fits_one_block(x) or x.ndim > 2 or x.dtype.hasobject:
        return numpy_answer(np.linalg.norm, (x,), kw)
    # NumPy's verdict on ord and axis, and the result dtype, on a stand-in.
    probe = without_warnings(lambda: np.linalg.norm(probe_rows(x, 2), **kw))
    if not issubclass(x.dtype.type, np.inexact):
        x = x.astype(float)
    nd = x.ndim
    if axis is None and (ord is None or (ord in ("f", "fro") and nd == 2) or (ord == 2 and nd == 1)):
        ret = np.sqrt(_sqnorm(x))
        return ret.reshape(nd * [1]) if keepdims else ret
    if axis is None:
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        axis = (int(axis),)
    axes = tuple(a % nd for a in axis)
    if len(axes) == 1 and axes[0] != 0:
        return rowwise_result(x, lambda b: np.linalg.norm(b, ord=ord, axis=axes, keepdims=True), axes, keepdims, None)
    absx = blockwise_map(x, np.abs, np.asarray(probe).dtype if x.dtype.kind == "c" else x.dtype)
    if len(axes) == 1:
        if ord == _INF:
            return absx.max(axis=axes, keepdims=keepdims, initial=0)
        if ord == -_INF:
            return absx.min(axis=axes, keepdims=keepdims)
        if ord == 0:
            rdt = np.empty(0, x.dtype).real.dtype
            return blockwise_map(x, lambda b: (b != 0).astype(rdt), rdt).sum(axis=axes, keepdims=keepdims)
        if ord == 1:
            return absx.sum(axis=axes, keepdims=keepdims)
        if ord is None or ord == 2:
            sq = blockwise_map(x, lambda b: (b.conj() * b).real, absx.dtype).sum(axis=axes, keepdims=keepdims)
            return np.sqrt(sq)
        p = ord

        def powered(b: np.ndarray) -> np.ndarray:
            a = abs(b)
            a **= p
            return a

        ret = blockwise_map(x, powered, absx.dtype).sum(axis=axes, keepdims=keepdims)
        ret **= np.reciprocal(p, dtype=ret.dtype)
        return ret
    row_axis, col_axis = axes
    big = _largest_sval(x) if ord == 2 else None
    if big is not None:
        ret = big
    elif ord in (2, -2, "nuc"):
        s = _svals(x)
        if s is None:
            return numpy_answer(np.linalg.norm, (x,), kw)
        ret = s.max() if ord == 2 else s.min() if ord == -2 else s.sum()
    elif ord in (1, -1):
        pick = np.max if ord == 1 else np.min
        sums = absx.sum(axis=row_axis)
        ret = pick(sums)
    elif ord in (_INF, -_INF):
        pick = np.max if ord == _INF else np.min
        ret = pick(absx.sum(axis=col_axis))
    elif ord in (None, "fro", "f"):
        ret = np.sqrt(blockwise_map(x, lambda b: (b.conj() * b).real, absx.dtype).sum(axis=axes))
    else:
        return numpy_answer(np.linalg.norm, (x,), kw)
    ret = np.asarray(ret, dtype=np.asarray(probe).dtype)[()]
    if keepdims:
        ret = np.reshape(ret, (1, 1))
    return ret


# ------------------------------------------------------------ cov, corrcoef


def _cov_ooc(m: Any, rowvar: bool, bias: bool, ddof: Any, dtype: Any) -> Any:
    """np.cov of (n, k) observations in rows, or None when it is not that case."""
    if not is_lazy(m) or fits_one_block(m) or not (m.ndim == 1 or (m.ndim == 2 and not rowvar)):
        return None
    k = 1 if m.ndim == 1 else m.shape[1]
    if k * k * 8 * 4 > block_budget() or m.dtype.hasobject:
        return None
    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    if dtype is None:
        dtype = np.result_type(m.dtype, np.float64)
    dtype = np.dtype(dtype)
    n = m.shape[0]
    if k == 0:
        return np.array([]).reshape(0, 0)
    if ddof is None:
        ddof = 1 if bias == 0 else 0
    fact = n - ddof
    if fact <= 0:
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=4)
        fact = 0.0
    with one_blas_thread():
        c = _centred_products(m, k, dtype)
    c *= np.true_divide(1, fact)
    return c.squeeze()


def _centred_products(m: Any, k: int, dtype: np.dtype) -> np.ndarray:
    """The k x k sum of products of the observations centred on their mean, in one pass.

    NumPy subtracts the mean, then multiplies. One pass here: the products
    of the observations less a shift (the first block's mean, near the
    true mean, so nothing cancels), then the shift's error corrected with
    the mean of the shifted values: sum (v - d)(v - d)^T = S - n d d^T.
    """
    tree = Pairwise(lambda p, q: (p[0] + q[0], p[1] + q[1]))
    shift = None
    n = 0
    for _, b in budget_blocks(m, 2 * np.dtype(dtype).itemsize):
        v = np.array(b, dtype=dtype).reshape(len(b), k)
        if shift is None:
            shift = v.mean(axis=0)
        v -= shift
        n += len(v)
        # v.T @ v on one buffer: NumPy calls syrk.
        tree.push((v.sum(axis=0), v.T @ (v.conj() if v.dtype.kind == "c" else v)))
    total, prod = tree.result()
    d = total / n
    prod -= n * np.outer(d, d.conj())
    return prod


@implements(np.cov)
def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: Any = None, fweights: Any = None,
        aweights: Any = None, *, dtype: Any = None) -> Any:
    kw = dict(y=y, rowvar=rowvar, bias=bias, ddof=ddof, fweights=fweights, aweights=aweights, dtype=dtype)
    c = None
    if y is None and fweights is None and aweights is None:
        c = _cov_ooc(m, rowvar, bias, ddof, dtype)
    return numpy_answer(np.cov, (m,), kw) if c is None else c


@implements(np.corrcoef)
def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    c = None if y is not None else _cov_ooc(x, rowvar, False, None, dtype)
    if c is None:
        return numpy_answer(np.corrcoef, (x,), dict(y=y, rowvar=rowvar, dtype=dtype))
    # The tail of numpy/lib/_function_base_impl.py::corrcoef.
    try:
        d = np.diag(c)
    except ValueError:
        return c / c
    stddev = np.sqrt(d.real)
    c /= stddev[:, None]
    c /= stddev[None, :]
    np.clip(c.real, -1, 1, out=c.real)
    if np.iscomplexobj(c):
        np.clip(c.imag, -1, 1, out=c.imag)
    return c
