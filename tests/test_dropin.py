"""Drop-in: existing NumPy and SciPy code runs unchanged on a LazyArray.

Each call runs once on a LazyArray (memory, plain and compressed backends)
and once on the same data in memory; the oracle requires the same result
(type, dtype, shape, values) or the same exception. The reduction block
budget is tiny so out-of-core paths, not the one-block shortcut, run.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.cluster.vq
import scipy.linalg
import scipy.signal
import scipy.spatial
import scipy.spatial.distance
import scipy.stats

import lazyarr as la
import lazyarr.reduce as lr
from lazyarr.backends import MemoryBackend
from lazyarr.testing import assert_same_outcome

DATA = np.random.default_rng(42).standard_normal((300, 4)) * [1.0, 2.0, 0.5, 10.0] + [0, 1, 2, 3]


@pytest.fixture(params=["memory", "plain", "compressed"])
def xa(request, tmp_path, monkeypatch):
    """(LazyArray, the same data in memory), with a 1 KiB reduction budget."""
    monkeypatch.setattr(lr, "DEFAULT_BLOCK_BYTES", 1024)
    a = DATA.copy()
    if request.param == "memory":
        yield la.LazyArray(MemoryBackend(a.copy())), a
        return
    with la.open(tmp_path / "d.h5", "w") as store:
        kw = {"chunks": (32, 4)} if request.param == "compressed" else {}
        store.create_array("data", a, backend=request.param, **kw)
    with la.open(tmp_path / "d.h5", "r+") as store:
        yield store["data"], a


def same(fn, x, a, what=""):
    assert_same_outcome(lambda: fn(x), lambda: fn(a), what)


def test_scipy_cluster(xa):
    x, a = xa
    same(scipy.cluster.vq.whiten, x, a, "whiten")
    same(lambda d: scipy.cluster.vq.kmeans2(d, 3, seed=np.random.default_rng(0), minit="++"), x, a, "kmeans2")


def test_scipy_stats(xa):
    x, a = xa
    same(scipy.stats.zscore, x, a, "zscore")
    same(lambda d: scipy.stats.zscore(d, axis=None, ddof=1), x, a, "zscore(axis=None)")
    same(scipy.stats.describe, x, a, "describe")


def test_scipy_spatial_signal_linalg(xa):
    x, a = xa
    centers = a[[0, 10, 20]]
    same(lambda d: scipy.spatial.distance.cdist(d, centers), x, a, "cdist")
    same(lambda d: scipy.spatial.cKDTree(d).query(centers + 0.1, k=2), x, a, "cKDTree")
    column = x.lazy[:, 3]  # a lazy view of one column
    # Same input values; pocketfft's last bits depend on the input's memory
    # alignment, so the spectra agree to rounding, not bit for bit.
    f1, p1 = scipy.signal.welch(column, nperseg=64)
    f2, p2 = scipy.signal.welch(a[:, 3], nperseg=64)
    np.testing.assert_array_equal(f1, f2)
    assert p1.dtype == p2.dtype and p1.shape == p2.shape
    np.testing.assert_allclose(p1, p2, rtol=1e-12)
    small = x.lazy[:20]
    assert_same_outcome(lambda: scipy.linalg.svd(small), lambda: scipy.linalg.svd(a[:20]), "svd")


def test_numpy_functions(xa):
    x, a = xa
    w = np.arange(8.0).reshape(4, 2)
    same(np.histogram, x, a, "histogram")
    same(lambda d: np.percentile(d, [5, 50, 95], axis=0), x, a, "percentile")
    same(lambda d: np.concatenate([d, d[:3]]), x, a, "concatenate")
    same(lambda d: d @ w, x, a, "x @ w")
    same(lambda d: w.T @ d.T if isinstance(d, np.ndarray) else w.T @ np.asarray(d).T, x, a, "w @ x")
    assert np.allclose(x, a) and not np.allclose(x, a + 1)
    np.testing.assert_array_equal(x, a)
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(x, a + 1)


@pytest.mark.parametrize("name", ["sum", "mean", "std", "var", "min", "max", "prod", "any", "all",
                                  "argmin", "argmax"])
def test_numpy_reductions_reach_the_out_of_core_methods(xa, name):
    x, a = xa
    fn = getattr(np, name)
    for kw in ({}, {"axis": 0}, {"axis": 1}, {"axis": -1, "keepdims": True}):
        got, ref = fn(x, **kw), fn(a, **kw)
        assert type(got) is type(ref) and np.shape(got) == np.shape(ref) and got.dtype == ref.dtype
        if name in ("sum", "mean", "std", "var", "prod"):
            np.testing.assert_allclose(got, ref, rtol=1e-12)
        else:
            np.testing.assert_array_equal(got, ref)


def test_operators_and_ufuncs(xa):
    x, a = xa
    for what, fn in [("x + 1", lambda d: d + 1), ("2 * x", lambda d: 2 * d), ("x > 0", lambda d: d > 0),
                     ("-x", lambda d: -d), ("abs(x)", abs), ("x ** 2", lambda d: d**2),
                     ("x == x", lambda d: d == d), ("1 / x", lambda d: 1 / d),
                     ("sqrt", lambda d: np.sqrt(np.abs(d))), ("add", lambda d: np.add(d, d[::-1])),
                     ("divmod", lambda d: np.divmod(d, 2.0)), ("maximum", lambda d: np.maximum(d, 0.5)),
                     ("isnan", np.isnan), ("x // 3", lambda d: d // 3)]:
        same(fn, x, a, what)
    y = la.LazyArray(MemoryBackend(a[::-1].copy()))
    assert_same_outcome(lambda: np.add(x, y), lambda: np.add(a, a[::-1]), "np.add(x, y)")
    assert_same_outcome(lambda: x - y, lambda: a - a[::-1], "x - y")
    out = np.empty_like(a)
    assert np.multiply(x, 3, out=out) is out
    np.testing.assert_array_equal(out, a * 3)


def test_reduce_of_ufuncs_and_unsupported_methods(xa):
    x, a = xa
    for uf in (np.add, np.multiply, np.minimum, np.maximum):
        for kw in ({}, {"axis": None}, {"axis": 1, "keepdims": True}, {"dtype": None}):
            got, ref = uf.reduce(x, **kw), uf.reduce(a, **kw)
            assert type(got) is type(ref) and np.shape(got) == np.shape(ref)
            np.testing.assert_allclose(got, ref, rtol=1e-12)
    same(lambda d: np.subtract.reduce(d, axis=1), x, a, "subtract.reduce")
    b = la.LazyArray(MemoryBackend(a > 0))
    same(lambda d: np.logical_or.reduce(d), b, a > 0, "logical_or.reduce")
    same(lambda d: np.logical_and.reduce(d, axis=1), b, a > 0, "logical_and.reduce")
    for call in (lambda: np.add.accumulate(x), lambda: np.add.outer(x, 1),
                 lambda: np.add.reduceat(x, [0, 2]), lambda: np.add.at(x, [0], 1)):
        with pytest.raises(TypeError):
            call()


def test_out_is_written_to_storage(xa):
    x, a = xa
    res = np.add(x, 1, out=x)
    assert res is x
    np.testing.assert_array_equal(np.asarray(x), a + 1)
    x *= 2
    np.testing.assert_array_equal(np.asarray(x), (a + 1) * 2)
    out = la.LazyArray(MemoryBackend(np.zeros(4)))
    assert np.add.reduce(x, out=out) is out
    np.testing.assert_allclose(np.asarray(out), ((a + 1) * 2).sum(axis=0))


def test_operators_make_lazy_arrays_unhashable_like_ndarray():
    with pytest.raises(TypeError):
        hash(la.LazyArray(MemoryBackend(np.zeros(2))))
