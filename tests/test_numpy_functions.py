"""NumPy functions on a LazyArray: out of core, and NumPy's answers through the oracle.

The reduction budget is a few hundred bytes, so every out-of-core path runs
over many blocks (and the radix selection over many small passes). Exact
functions (order statistics, histograms, unique, counts, nanmin/nanmax, the
element-wise fills, np.save) must equal NumPy bit for bit; the sums
(nansum, nanmean, nanvar, norm, cov, average) must equal it within the
rounding of summing in another order, after which NumPy's own value is
compared (type, dtype, shape, warnings).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lazyarr as la
import lazyarr.reduce as lr
from lazyarr.backends import MemoryBackend
from lazyarr.testing import assert_same_outcome

DTYPES = [np.dtype(d) for d in ("f8", "f4", ">f8", "f2", "i8", "i2", "u1", "?")]
BUDGETS = [256, 1024]
#: A quarter of the profile's examples: every example runs several whole-array calls.
N = settings(max_examples=max(10, settings.default.max_examples // 4))


@st.composite
def data(draw, min_dims=1, max_dims=2, dtypes=DTYPES, nan=True):
    """Small arrays with repeats, NaNs and infinities, and a reduction budget."""
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(st.sampled_from([(draw(st.integers(2, 60)),), (draw(st.integers(2, 40)), draw(st.integers(1, 3))),
                                  (draw(st.integers(2, 12)), 2, 3)][min_dims - 1 : max_dims]))
    if dtype.kind == "f":
        pool = draw(st.lists(st.floats(-1e3, 1e3, width=16 if dtype.itemsize == 2 else 32), min_size=1, max_size=6))
        extra = [np.nan, np.inf, -np.inf] if nan else []
        elements = st.sampled_from(pool + extra) | st.floats(-1e4, 1e4, width=16 if dtype.itemsize == 2 else 32)
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max)) | st.sampled_from([int(info.min), 0, 1, int(info.max)])
    a = draw(hnp.arrays(dtype, shape, elements=elements))
    return a, draw(st.sampled_from(BUDGETS))


def _axis(draw, a, tuples=True):
    nd = a.ndim
    opts = [None] + list(range(-nd, nd))
    if tuples and nd >= 2:
        opts += [(0, 1), (1, 0), tuple(range(nd))] + ([(0, 2)] if nd == 3 else [])
    return draw(st.sampled_from(opts))


@pytest.fixture
def budget(monkeypatch):
    def set_(bb):
        monkeypatch.setattr(lr, "DEFAULT_BLOCK_BYTES", bb)
    return set_


def _lazy(a):
    return la.LazyArray(MemoryBackend(a.copy()))


def _canon(r):
    """-0.0 as 0.0: NumPy's partition returns either of two equal zeros."""
    if isinstance(r, tuple):
        return tuple(_canon(v) for v in r)
    if isinstance(r, (np.ndarray, np.generic)) and r.dtype.kind == "f":
        return r + r.dtype.type(0)
    return r


def exact(fn, a, what):
    x = _lazy(a)
    assert_same_outcome(lambda: _canon(fn(x)), lambda: _canon(fn(a.copy())), what)


def close(fn, a, what, rtol=None):
    """The oracle, with inexact float results equal to NumPy's within rounding."""
    x = _lazy(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = fn(a.copy())
        except Exception:  # noqa: BLE001 - the oracle compares the exception
            ref = None

    def near(got, want):
        if isinstance(want, tuple) and isinstance(got, tuple) and len(got) == len(want):
            return tuple(near(g, w) for g, w in zip(got, want))
        if isinstance(want, (np.ndarray, np.generic)) and type(got) is type(want) and \
                got.dtype == want.dtype and np.shape(got) == np.shape(want) and want.dtype.kind in "fc":
            eps = np.finfo(want.dtype).eps
            tol = rtol if rtol is not None else 64 * eps * max(a.size, 1)
            g, w = np.asarray(got, np.complex128), np.asarray(want, np.complex128)
            # Rounding in a sum scales with the terms, not the result (cancellation).
            fin = np.abs(a[np.isfinite(a)]).astype(np.float64) if a.dtype.kind in "fc" else np.abs(a.astype(np.float64))
            scale = max(np.nanmax(np.abs(w[np.isfinite(w)]), initial=1.0), float(fin.max(initial=0.0)) ** (
                2 if "var" in what or "cov" in what or "corr" in what else 1))
            both_nan = np.isnan(g) == np.isnan(w)
            same_inf = np.array_equal(np.isinf(g), np.isinf(w))
            if both_nan.all() and same_inf and np.allclose(g, w, rtol=tol, atol=tol * scale, equal_nan=True):
                return want
        return got

    assert_same_outcome(lambda: near(fn(x), ref), lambda: fn(a.copy()), what)


# ------------------------------------------------------------ order statistics

METHODS = ["linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf", "averaged_inverted_cdf",
           "closest_observation", "interpolated_inverted_cdf", "hazen", "weibull", "median_unbiased",
           "normal_unbiased"]


@N
@given(d=data(max_dims=3), st_=st.data())
@example(d=(np.array([1.0, -0.0, 0.0, np.nan, 2.0]), 96), st_=None)
@example(d=(np.array([[3, 3], [3, 3], [1, 3]], dtype=np.int16), 96), st_=None)
@example(d=(np.full(40, 7.0), 96), st_=None)
def test_median_and_quantiles(d, st_, budget):
    a, bb = d
    budget(bb)
    axis = None if st_ is None else st_.draw(st.sampled_from([None, 0, (0,), -a.ndim] + ([(0, 1)] if a.ndim > 1 else [])))
    keepdims = False if st_ is None else st_.draw(st.booleans())
    q = 50.0 if st_ is None else st_.draw(st.sampled_from([0, 100, 50.0, 37.5, [5, 50, 95], np.array([12.5, 99.0])]))
    method = "linear" if st_ is None else st_.draw(st.sampled_from(METHODS))
    with np.errstate(all="ignore"):
        exact(lambda v: np.median(v, axis=axis, keepdims=keepdims), a, "median")
        exact(lambda v: np.nanmedian(v, axis=axis, keepdims=keepdims), a, "nanmedian")
        exact(lambda v: np.percentile(v, q, axis=axis, method=method, keepdims=keepdims), a, "percentile")
        exact(lambda v: np.nanpercentile(v, q, axis=axis, method=method), a, "nanpercentile")
        qq = np.true_divide(q, 100) if not isinstance(q, list) else [v / 100 for v in q]
        exact(lambda v: np.quantile(v, qq, axis=axis, method=method), a, "quantile")
        exact(lambda v: np.nanquantile(v, qq, axis=axis, method=method, keepdims=keepdims), a, "nanquantile")


@st.composite
def long_data(draw):
    """Longer arrays (a sample of rows, then one windowed pass): ties, NaNs, order, few columns."""
    dtype = draw(st.sampled_from([np.dtype("f4"), np.dtype("f8"), np.dtype("i2"), np.dtype("u1"), np.dtype("?")]))
    n, k = draw(st.integers(40, 4000)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["random", "ties", "sorted", "blocks"]))
    a = rng.standard_normal((n, k)) * 100
    if kind == "ties":
        a = np.round(a / 50)
    elif kind == "sorted":
        a = np.sort(a, axis=0)[:: draw(st.sampled_from([1, -1]))]
    elif kind == "blocks":  # runs of one value: a sample sees few of them
        a = np.repeat(rng.standard_normal((n // 37 + 1, k)), 37, axis=0)[:n] * 100
    a = (a > 0) if dtype.kind == "b" else a.astype(dtype) if dtype.kind == "f" else np.clip(
        a, np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)
    if dtype.kind == "f" and draw(st.booleans()):
        a[rng.random(a.shape) < draw(st.sampled_from([0.01, 0.5, 1.0]))] = np.nan
    return a, draw(st.sampled_from([2048, 8192, 32768]))


@N
@given(d=long_data(), st_=st.data())
@example(d=(np.repeat(np.arange(50.0), 20)[:, None], 2048), st_=None)
def test_order_statistics_over_a_sample_window(d, st_, budget, monkeypatch):
    # The windowed pass (sample bounds, one partition) and, with windows
    # too narrow to hold the ranks, its fallback to the radix selection.
    import lazyarr.order_stats as order_stats

    a, bb = d
    budget(bb)
    # Narrower windows than the default's: at these tiny budgets the
    # default's hold more elements than the budget, so the narrow ones
    # take the windowed path, and none (0) the fallback after a miss.
    monkeypatch.setattr(order_stats, "_SIGMAS", 1.0 if st_ is None else st_.draw(st.sampled_from([0.0, 1.0, 2.0])))
    axis = None if st_ is None else st_.draw(st.sampled_from([None, 0]))
    q = [5, 50, 95] if st_ is None else st_.draw(st.sampled_from([50.0, [5, 50, 95], [0, 100], 99.9]))
    method = "linear" if st_ is None else st_.draw(st.sampled_from(METHODS))
    with np.errstate(all="ignore"):
        exact(lambda v: np.median(v, axis=axis), a, "median")
        exact(lambda v: np.nanmedian(v, axis=axis), a, "nanmedian")
        exact(lambda v: np.percentile(v, q, axis=axis, method=method), a, "percentile")
        exact(lambda v: np.nanquantile(v, np.true_divide(q, 100), axis=axis, method=method), a, "nanquantile")


def test_windowed_pass_answers_random_data_alone(budget, monkeypatch):
    # On data in random order the sample's bounds hold: no radix pass runs.
    import lazyarr.order_stats as order_stats

    budget(65536)
    a = np.random.default_rng(3).standard_normal((16384, 2)).astype("f4")
    a[::7, 1] = np.nan

    def no_radix(*args):
        raise AssertionError("the radix selection ran")

    monkeypatch.setattr(order_stats, "_radix", no_radix)
    exact(lambda v: np.median(v, axis=0), a, "median")
    exact(lambda v: np.nanmedian(v, axis=0), a, "nanmedian")
    exact(lambda v: np.nanpercentile(v, [5, 50, 95], axis=0), a, "nanpercentile")


def test_windowed_pass_over_many_slices(budget, monkeypatch):
    # More than 64 slices: the kept elements are grouped by a radix argsort.
    import lazyarr.order_stats as order_stats

    budget(262144)
    monkeypatch.setattr(order_stats, "_SIGMAS", 2.0)
    a = np.round(np.random.default_rng(11).standard_normal((600, 70)) * 3)
    original, ran = order_stats._radix, []

    def counting(*args):
        ran.append(1)
        return original(*args)

    monkeypatch.setattr(order_stats, "_radix", counting)
    exact(lambda v: np.median(v, axis=0), a, "median")
    exact(lambda v: np.percentile(v, [10, 90], axis=0, method="nearest"), a, "percentile")
    assert len(ran) < 2, "the sample window missed on both calls"


@pytest.mark.parametrize("call", [
    lambda v: np.percentile(v, 101), lambda v: np.quantile(v, -0.1), lambda v: np.percentile(v, 5, method="nope"),
    lambda v: np.median(v, axis=3), lambda v: np.percentile(v, 5, axis=1),
    lambda v: np.median(v, out=np.empty(())), lambda v: np.percentile(v, [[1, 2], [3, 4]]),
    lambda v: np.quantile(v, 0.5, weights=np.ones(40), method="inverted_cdf"),
], ids=["q>100", "q<0", "method", "axis", "axis-rowwise", "out", "2-d q", "weights"])
def test_quantile_arguments(call, budget):
    budget(96)
    exact(call, np.arange(40.0)[::-1].copy(), "call")


# -------------------------------------------------------------- histograms, unique


@N
@given(d=data(dtypes=[np.dtype("f8"), np.dtype("f4"), np.dtype("i2"), np.dtype("u1")], nan=False), st_=st.data())
@example(d=(np.zeros(30), 96), st_=None)
def test_histogram(d, st_, budget):
    a, bb = d
    budget(bb)
    bins = 10 if st_ is None else st_.draw(st.sampled_from([1, 3, 10, [0, 1, 5, 100], np.array([-5.0, 0.5, 2.0])]))
    rng = None if st_ is None else st_.draw(st.sampled_from([None, (0, 10), (-100, 100)]))
    density = False if st_ is None else st_.draw(st.booleans())
    exact(lambda v: np.histogram(v, bins=bins, range=rng), a, "histogram")
    exact(lambda v: np.histogram_bin_edges(v, bins=bins, range=rng), a, "histogram_bin_edges")
    w = np.linspace(0.5, 2.0, a.size).reshape(a.shape)
    # Weighted counts over uniform bins are summed as NumPy sums them.
    if np.ndim(bins) == 0:
        exact(lambda v: np.histogram(v, bins=bins, range=rng, weights=w), a, "weighted histogram")
    else:
        close(lambda v: np.histogram(v, bins=bins, range=rng, weights=w), a, "weighted histogram")
    close(lambda v: np.histogram(v, bins=bins, range=rng, density=density), a, "density")


def test_histogram_errors_and_nan(budget):
    budget(96)
    a = np.arange(50.0)
    a[7] = np.nan
    for call in [lambda v: np.histogram(v), lambda v: np.histogram(v, bins=0), lambda v: np.histogram(v, bins=2.5),
                 lambda v: np.histogram(v, range=(5, 1)), lambda v: np.histogram(v, bins=[3, 1]),
                 lambda v: np.histogram(v, weights=np.ones(3)), lambda v: np.histogram(v, bins="auto"),
                 lambda v: np.histogram(v, range=(0, 10))]:
        with np.errstate(all="ignore"):
            exact(call, a, "histogram")


@N
@given(d=data(max_dims=3), st_=st.data())
@example(d=(np.array([np.nan, 1.0, np.nan, -0.0, 0.0]), 96), st_=None)
def test_unique(d, st_, budget):
    a, bb = d
    budget(bb)
    flags = (True, True, True, True) if st_ is None else st_.draw(st.tuples(*[st.booleans()] * 4))
    ri, rv, rc, en = flags
    exact(lambda v: np.unique(v, return_index=ri, return_inverse=rv, return_counts=rc, equal_nan=en), a, "unique")


@pytest.mark.parametrize("dtype", ["i1", ">i2", "u2", "?", "u1"])
@pytest.mark.parametrize("inverse", [False, True])
def test_unique_of_small_integers_by_counting(dtype, inverse, budget):
    # One bincount per block (no return_index): extremes, repeats, the cast
    # view the example uses.
    budget(512)
    info = np.iinfo(dtype) if dtype != "?" else None
    rng = np.random.default_rng(5)
    a = rng.integers(-3, 4, (900, 2)) if info is None else rng.integers(int(info.min), int(info.max) + 1, (900, 2))
    a[::97] = 0 if info is None else info.max
    a[5::89] = 1 if info is None else info.min
    a = a.astype(dtype) if dtype != "?" else a > 0
    exact(lambda v: np.unique(v, return_counts=True, return_inverse=inverse), a, "unique")
    exact(lambda v: np.unique(v), a, "unique")
    f = np.clip(rng.standard_normal((900, 2)) * 50, -120, 120)
    exact(lambda v: np.unique(v.astype(np.int8), return_counts=True), f, "unique(x.astype(int8))")


# -------------------------------------------------------- counts, nan*, average


@N
@given(d=data(max_dims=3), st_=st.data())
def test_count_nonzero_nanmin_nanmax(d, st_, budget):
    a, bb = d
    budget(bb)
    axis = _axis(st_.draw, a)
    kd = st_.draw(st.booleans())
    exact(lambda v: np.count_nonzero(v, axis=axis, keepdims=kd), a, "count_nonzero")
    exact(lambda v: np.nanmin(v, axis=axis, keepdims=kd), a, "nanmin")
    exact(lambda v: np.nanmax(v, axis=axis), a, "nanmax")
    if a.dtype.kind != "b":
        exact(lambda v: np.nanmax(v, axis=axis, initial=a.dtype.type(3)), a, "nanmax(initial=)")


@N
@given(d=data(max_dims=3, dtypes=[np.dtype("f8"), np.dtype("f4"), np.dtype("i2")]), st_=st.data())
def test_nan_sums_and_moments(d, st_, budget):
    a, bb = d
    budget(bb)
    axis = _axis(st_.draw, a)
    kd = st_.draw(st.booleans())
    ddof = st_.draw(st.sampled_from([0, 1, 2]))
    with np.errstate(all="ignore"):
        close(lambda v: np.nansum(v, axis=axis, keepdims=kd), a, "nansum")
        close(lambda v: np.nanmean(v, axis=axis, keepdims=kd), a, "nanmean")
        close(lambda v: np.nanvar(v, axis=axis, ddof=ddof), a, "nanvar", rtol=1e-3 if a.dtype == "f4" else 1e-9)
        close(lambda v: np.nanstd(v, axis=axis, keepdims=kd), a, "nanstd", rtol=1e-3 if a.dtype == "f4" else 1e-9)


@N
@given(d=data(max_dims=3, dtypes=[np.dtype("f8"), np.dtype("i8")], nan=False), st_=st.data())
@example(d=(np.array([9223368127360304640, -9223372036854037504] + [1] * 16).reshape(3, 2, 3), 256), st_=None)
def test_average(d, st_, budget):
    a, bb = d
    budget(bb)
    axis = None if st_ is None else _axis(st_.draw, a, tuples=False)
    returned = st_ is None or st_.draw(st.booleans())
    close(lambda v: np.average(v, axis=axis, returned=returned), a, "average")
    w = np.linspace(1.0, 3.0, a.size).reshape(a.shape)
    close(lambda v: np.average(v, axis=axis, weights=w, returned=returned), a, "average(weights)")
    if axis is not None:
        w1 = np.linspace(1.0, 2.0, a.shape[axis])
        close(lambda v: np.average(v, axis=axis, weights=w1), a, "average(1-d weights)")


# --------------------------------------------------------------- norm, cov


@N
@given(d=data(dtypes=[np.dtype("f8"), np.dtype("f4"), np.dtype("i2")], nan=False), st_=st.data())
def test_norm(d, st_, budget):
    a, bb = d
    budget(bb)
    if a.ndim == 1:
        ords = [None, 2, 1, 0, np.inf, -np.inf, 3, 0.5, -1, "fro"]
        axes = [None, 0, -1]
    else:
        ords = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf, 3]
        axes = [None, 0, 1, (0, 1), (1, 0)]
    ord_, axis = st_.draw(st.sampled_from(ords)), st_.draw(st.sampled_from(axes))
    kd = st_.draw(st.booleans())
    with np.errstate(all="ignore"):
        close(lambda v: np.linalg.norm(v, ord=ord_, axis=axis, keepdims=kd), a, f"norm(ord={ord_}, axis={axis})",
              rtol=1e-3 if a.dtype == "f4" else 1e-8)


@pytest.mark.parametrize("dtype", ["f4", "f8", "c16"])
@pytest.mark.parametrize("scale", [1.0, 1e-3, "huge"])
def test_norm_2_is_the_largest_singular_value(dtype, scale, budget):
    # The Gram matrix's root for ord=2 (its squares overflow at 1e200: the
    # QR then; float32's at 1e30 do not overflow in float64), against
    # NumPy's SVD; several blocks, a dominant direction and a spread of
    # singular values.
    budget(4096)
    if scale == "huge":
        scale = 1e30 if dtype == "f4" else 1e200
    rng = np.random.default_rng(7)
    a = rng.standard_normal((500, 6)) @ np.diag([50.0, 3, 1, 1e-2, 1e-4, 0]) + 1.0
    if dtype == "c16":
        a = a + 1j * rng.standard_normal(a.shape)
    a = (a * scale).astype(dtype)
    for axis in [None, (0, 1), (1, 0)]:
        close(lambda v: np.linalg.norm(v, ord=2, axis=axis), a, f"norm(ord=2, axis={axis})",
              rtol=1e-5 if dtype == "f4" else 1e-12)


@N
@given(d=data(dtypes=[np.dtype("f8"), np.dtype("i2")], nan=False), st_=st.data())
@example(d=(np.array([[1e4, -1e4], [1e4 + 1, -1e4], [1e4, -1e4 + 3]] * 20), 256), st_=None)
def test_cov_corrcoef(d, st_, budget):
    a, bb = d
    budget(bb)
    ddof, bias = (None, False) if st_ is None else (st_.draw(st.sampled_from([None, 0, 1])), st_.draw(st.booleans()))
    with np.errstate(all="ignore"):
        close(lambda v: np.cov(v, rowvar=False, ddof=ddof, bias=bias), a, "cov", rtol=1e-8)
        close(lambda v: np.corrcoef(v, rowvar=False), a, "corrcoef", rtol=1e-8)
        close(lambda v: np.cov(v), a, "cov(rowvar=True)", rtol=1e-8)


# ------------------------------------------------ element-wise fills, save


@N
@given(d=data(max_dims=3), st_=st.data())
@example(d=(np.array([[1.0, -1.0], [np.nan, 0.0]] * 40), 256), st_=None)
def test_ufuncs_fill_their_result_in_blocks(d, st_, budget):
    # Element-wise ufuncs on an array bigger than a block: NumPy's result,
    # filled block by block (warnings, dtypes, broadcasting, errors).
    a, bb = d
    budget(bb)
    other = np.arange(a.shape[-1]) if st_ is None else st_.draw(st.sampled_from(
        [2, 0.5, np.arange(a.shape[-1]), np.ones((a.shape[0],) + (1,) * (a.ndim - 1)), np.ones(a.shape[-1] + 1)]))
    with np.errstate(all="ignore" if st_ is None else "warn"):
        exact(lambda v: np.add(v, other), a, "add")
        exact(lambda v: v > 0, a, "greater")
        exact(lambda v: np.sqrt(v), a, "sqrt")
        exact(lambda v: np.multiply(other, v, dtype="f8"), a, "multiply(dtype=f8)")
        for order in "CFAK":
            r, e = np.absolute(_lazy(a), order=order), np.absolute(a, order=order)
            assert (r.flags.c_contiguous, r.flags.f_contiguous) == (e.flags.c_contiguous, e.flags.f_contiguous), order


@N
@given(d=data(max_dims=3), st_=st.data())
@example(d=(np.arange(24.0).reshape(12, 2), 64), st_=None)
def test_generalized_ufuncs_are_not_cut_in_rows(d, st_, budget):
    # np.matmul, np.vecdot, ... work on core dimensions: x @ v of a vector v
    # drops an axis, so their result is NumPy's on the whole array (this
    # raised a core-dimension ValueError on arrays bigger than a block).
    a, bb = d
    budget(bb)
    k = a.shape[-1]
    m = 3 if st_ is None else st_.draw(st.integers(1, 4))
    for name, w in [("vector", np.arange(k) - 1.0), ("square", np.eye(k) * 2), ("matrix", np.ones((k, m)))]:
        exact(lambda v, w=w: v @ w, a, f"x @ {name}")
        exact(lambda v, w=w: np.matmul(v, w), a, f"matmul(x, {name})")
    exact(lambda v: np.ones((m,) + a.shape[-2:-1]) @ v if a.ndim >= 2 else np.ones(a.shape) @ v, a, "w @ x")
    exact(lambda v: np.vecdot(v, np.arange(k) + 1.0), a, "vecdot")
    exact(lambda v: v @ np.ones(k + 1), a, "x @ mismatched")


@N
@given(d=data(max_dims=3), st_=st.data())
def test_clip_where_concatenate_stack(d, st_, budget):
    a, bb = d
    budget(bb)
    lo, hi = (a.dtype.type(0), a.dtype.type(5)) if a.dtype.kind != "b" else (False, True)
    exact(lambda v: np.clip(v, lo, hi), a, "clip")
    exact(lambda v: np.clip(v, np.zeros(a.shape[1:], a.dtype), hi), a, "clip(row bounds)")
    exact(lambda v: np.where(v > lo), a, "where(c)")
    exact(lambda v: np.where(v > lo, v, -1), a, "where(c, x, y)")
    exact(lambda v: np.where(a > lo, 1.5, v), a, "where(array, 1.5, x)")
    axis = st_.draw(st.sampled_from([0, -1, None]))
    exact(lambda v: np.concatenate([v, a[:3]], axis=axis), a, "concatenate")
    exact(lambda v: np.concatenate([a[:2], v, v], axis=0, dtype="f8"), a, "concatenate(dtype=)")
    sax = st_.draw(st.sampled_from([0, 1, -1]))
    exact(lambda v: np.stack([v, a], axis=sax), a, "stack")
    exact(lambda v: np.stack([v, a[:1]]), a, "stack(mismatch)")
    exact(lambda v: np.concatenate([v, a[:1, None]]), a, "concatenate(mismatch)")


@N
@given(d=data(max_dims=3))
def test_save_is_numpys_file(d, budget):
    a, bb = d
    budget(bb)
    mine, theirs = io.BytesIO(), io.BytesIO()
    np.save(mine, _lazy(a))
    np.save(theirs, a)
    assert mine.getvalue() == theirs.getvalue()


def test_save_path_and_other_functions(tmp_path, budget):
    budget(96)
    a = np.arange(60.0).reshape(20, 3)
    x = _lazy(a)
    np.save(tmp_path / "x", x)
    np.save(tmp_path / "a", a)
    assert (tmp_path / "x.npy").read_bytes() == (tmp_path / "a.npy").read_bytes()
    # Everything else: NumPy's answer on np.asarray(x).
    for what, fn in [("transpose", np.transpose), ("cumsum", np.cumsum), ("sort", lambda v: np.sort(v, 0)),
                     ("diff", np.diff), ("shape", np.shape), ("ndim", np.ndim), ("size", np.size),
                     ("result_type", lambda v: np.result_type(v, 1.0)), ("iscomplexobj", np.iscomplexobj),
                     ("shares_memory", lambda v: np.shares_memory(v, a)), ("tile", lambda v: np.tile(v, 2)),
                     ("argsort", lambda v: np.argsort(v, axis=0)), ("allclose", lambda v: np.allclose(v, a))]:
        exact(fn, a, what)


def test_other_array_types_decide():
    class Other:
        def __array_function__(self, func, types, args, kwargs):
            return "other"

    x = _lazy(np.arange(3.0))
    assert np.concatenate([x, Other()]) == "other"


def test_metadata_and_reductions_read_nothing(tmp_path):
    with la.open(tmp_path / "r.h5", "w") as s:
        s.create_array("d", np.arange(100.0).reshape(50, 2))
    with la.open(tmp_path / "r.h5") as s:
        x = s["d"]
        np.shape(x), np.ndim(x), np.size(x), np.result_type(x, 1), np.iscomplexobj(x)
        assert x.cache_stats["backend_reads"] == 0


def test_progress_bar_per_block_of_code(budget):
    budget(256)
    x = _lazy(np.arange(400.0))
    err = io.StringIO()
    np.median(x)  # off by default: nothing to show, nothing imported for it
    with la.progress(file=err, mininterval=0):
        assert np.median(x) == 199.5
        np.save(io.BytesIO(), x)
    text = err.getvalue()
    assert "np.median" in text and "np.save" in text and "400/400" in text
    err2 = io.StringIO()
    with la.progress(file=err2), la.progress(False):
        x.sum()
    assert err2.getvalue() == ""
