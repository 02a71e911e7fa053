"""Out-of-core reductions against NumPy, through the oracle, with tiny block budgets.

Exact reductions (min, max, any, all, argmin, argmax, integer and boolean
sums and products) must give NumPy's answer bit for bit. Floating sums, means
and variances are merged in another order than NumPy's, so they must give
NumPy's type, dtype, shape, warnings and exceptions, and values within the
rounding error of the sum (see :func:`_close`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lazyarr as la
import lazyarr.reduce as lr
from lazyarr.backends import MemoryBackend
from lazyarr.testing import arrays, assert_same_outcome, shapes

EXACT = ["min", "max", "any", "all", "argmin", "argmax"]
ROUNDED = ["sum", "prod", "mean", "var", "std"]
BLOCKS = [1, 7, 16, 40, 64, 10**9]

_INT_BOOL = [np.dtype(c) for c in ["?", "i1", "u1", "<i2", ">i4", "<u4", "<i8", ">i8"]]
_FLOAT = [np.dtype(c) for c in ["<f2", "<f4", ">f4", "<f8", ">f8"]]


@st.composite
def data_arrays(draw):
    """Small arrays of ints, bools or moderate floats (with NaN sometimes).

    Floats stay within +-1e3 so that no sum overflows in one summation order
    and not in another: that would be a difference of order, not a bug.
    """
    dtype = draw(st.sampled_from(_INT_BOOL + _FLOAT))
    shape = draw(shapes(max_dims=3, max_side=6))
    if dtype.kind != "f":
        return draw(arrays(dtype, shape))
    width = 8 * min(dtype.itemsize, 8)
    elements = st.floats(-1e3, 1e3, width=width)
    if draw(st.booleans()):
        elements = elements | st.just(float("nan"))
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def axes(draw, ndim):
    kind = draw(st.sampled_from(["none", "int", "tuple", "bad"]))
    if kind == "none" or ndim == 0 and kind != "bad":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    if kind == "tuple":
        picked = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
        return tuple(a - ndim if draw(st.booleans()) else a for a in picked)
    return draw(st.sampled_from([ndim, -ndim - 1, (0, 0), 1.5]))


@st.composite
def calls(draw, names):
    a = draw(data_arrays())
    name = draw(st.sampled_from(names))
    kw = {}
    axis = draw(axes(a.ndim))
    if axis is not None or draw(st.booleans()):
        kw["axis"] = axis
    if draw(st.booleans()):
        kw["keepdims"] = draw(st.booleans())
    if name in ("sum", "prod") and draw(st.booleans()):
        kw["dtype"] = draw(st.sampled_from(["i8", "u1", "f8", "f4"]))
    if name in ("mean", "var", "std") and draw(st.booleans()):
        kw["dtype"] = draw(st.sampled_from(["f8", "f4"]))
    if name in ("var", "std") and draw(st.booleans()):
        kw["ddof"] = draw(st.integers(0, 3))
    if name in ("sum", "prod", "min", "max") and draw(st.integers(0, 4)) == 0:
        kw["initial"] = draw(st.sampled_from([0, 1, 5]))
    return a, name, kw, draw(st.sampled_from(BLOCKS)), draw(st.booleans())


def _scale(a: np.ndarray) -> float:
    finite = np.abs(a[np.isfinite(a)]) if a.dtype.kind in "fc" else np.abs(a.astype(np.float64))
    return float(finite.max()) if finite.size else 1.0


def _tolerance(name: str, a: np.ndarray, ref: np.ndarray, kw: dict) -> tuple[float, float]:
    """(rtol, atol) for a result: the rounding error of summing ``a.size`` terms."""
    eps = float(max(np.finfo(ref.dtype).eps if ref.dtype.kind in "fc" else 0.0,
                    np.finfo(np.float16).eps if a.dtype == np.float16 else 0.0))
    n = max(a.size, 1)
    scale = _scale(a)
    if name == "var":
        scale = scale * scale
    if name == "prod":
        return 4 * n * eps, 0.0
    return 4 * n * eps, 4 * n * eps * max(scale, 1.0)


def _close(actual_fn, expected_fn, name, a, kw, what):
    """The oracle, with float values compared within rounding."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = expected_fn()
        except Exception:  # noqa: BLE001 - the oracle compares the exception
            ref = None

    def rounded():
        got = actual_fn()
        if isinstance(ref, (np.ndarray, np.generic)) and type(got) is type(ref) \
                and got.dtype == ref.dtype and np.shape(got) == np.shape(ref) \
                and ref.dtype.kind in "fc":
            rtol, atol = _tolerance(name, a, np.asarray(ref), kw)
            g, r = np.asarray(got, np.float64), np.asarray(ref, np.float64)
            same_inf = np.array_equal(np.isinf(g), np.isinf(r))
            if name in ("var", "std") and kw.get("ddof", 0) >= _reduced_count(a, kw):
                # NumPy divides by max(n - ddof, 0) = 0: inf where rounding left
                # the squared deviations above zero, nan where they are exactly
                # zero. Either is "undefined"; the finite parts must agree.
                g, r = np.where(np.isfinite(g), g, np.nan), np.where(np.isfinite(r), r, np.nan)
                same_inf = True
            if same_inf and np.allclose(g, r, rtol=rtol, atol=atol, equal_nan=True):
                return ref  # equal within rounding: report NumPy's own value
        return got

    assert_same_outcome(rounded, expected_fn, what)


def _reduced_count(a, kw):
    """How many elements each result of a reduction over ``kw["axis"]`` sees."""
    axis = kw.get("axis")
    if axis is None:
        return a.size
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([a.shape[ax] for ax in axes]))


def _lazy(a):
    return la.LazyArray(MemoryBackend(a.copy()))


@given(call=calls(EXACT))
@example(call=(np.array([[0.0, np.nan], [np.nan, 1.0]]), "argmin", {"axis": 0}, 8, False))
@example(call=(np.array([3, 1, 1, 0, 0], dtype=np.int8), "argmin", {}, 1, False))
@example(call=(np.zeros((0, 3)), "min", {"axis": 1}, 1, False))
def test_exact_reductions(call):
    a, name, kw, bb, _ = call
    x = _lazy(a)
    assert_same_outcome(lambda: getattr(x, name)(block_bytes=bb, **kw),
                        lambda: getattr(a, name)(**kw), f"{name}({kw}) of {a.dtype}{a.shape}")


@given(call=calls(ROUNDED))
@example(call=(np.ones((3, 2), dtype=np.int64), "var", {"axis": 0, "ddof": 3}, 8, False))
@example(call=(np.array([683.0006516, 683.0006516, 683.0006516]), "var", {"ddof": 3}, 1, False))
@example(call=(np.zeros((0, 2), dtype=np.float32), "mean", {"axis": 0}, 8, False))
@example(call=(np.array([[np.nan, 1.0], [2.0, 3.0]]), "std", {"axis": (0, 1)}, 16, False))
def test_rounded_reductions(call):
    a, name, kw, bb, _ = call
    x = _lazy(a)
    _close(lambda: getattr(x, name)(block_bytes=bb, **kw), lambda: getattr(a, name)(**kw),
           name, a, kw, f"{name}({kw}) of {a.dtype}{a.shape}")


@given(call=calls(EXACT + ROUNDED))
@example(call=(np.array([False, True]), "mean", {}, 1, False))
def test_out_argument(call):
    a, name, kw, bb, _ = call
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = np.asarray(getattr(a, name)(**kw))
        except Exception:  # noqa: BLE001 - only calls NumPy accepts get an out
            return
    out1, out2 = np.zeros_like(ref), np.zeros_like(ref)
    x = _lazy(a)
    _close(lambda: getattr(x, name)(out=out1, block_bytes=bb, **kw),
           lambda: getattr(a, name)(out=out2, **kw), name, a, kw, f"{name}(out=...)")


def test_integer_sums_are_exact_when_they_wrap():
    a = np.full((50, 3), 2**62, dtype=np.int64)
    x = _lazy(a)
    assert_same_outcome(lambda: x.sum(axis=0, block_bytes=48), lambda: a.sum(axis=0))
    assert_same_outcome(lambda: x.sum(block_bytes=48), lambda: a.sum())
    assert_same_outcome(lambda: x.prod(axis=0, block_bytes=24), lambda: a.prod(axis=0))


@pytest.mark.parametrize("name", EXACT + ROUNDED)
def test_numpy_functions_reach_the_methods(name, monkeypatch):
    """``np.sum(x)`` etc. call ``x.sum`` with exactly the keywords NumPy passes."""
    monkeypatch.setattr(lr, "DEFAULT_BLOCK_BYTES", 64)
    a = np.random.default_rng(1).standard_normal((37, 4))
    x = _lazy(a)
    calls_seen = []
    real = getattr(la.LazyArray, name)

    def spy(self, *args, **kwargs):
        calls_seen.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(la.LazyArray, name, spy)
    fn = getattr(np, name)
    kws = [{}, {"axis": 0}, {"axis": 1, "keepdims": True}]
    if name in ("var", "std"):
        kws.append({"axis": 0, "ddof": 1})
    for kw in kws:
        _close(lambda: fn(x, **kw), lambda: fn(a, **kw), name, a, kw, f"np.{name}(x, {kw})")
    assert calls_seen, "NumPy did not call the method"


def test_ufunc_reduce_is_out_of_core(monkeypatch):
    a = np.arange(60, dtype=np.int32).reshape(20, 3) % 7
    x = _lazy(a)
    reads = []
    monkeypatch.setattr(lr, "DEFAULT_BLOCK_BYTES", 24)
    orig = la.LazyArray.__getitem__

    def spy(self, key):
        reads.append(key)
        return orig(self, key)

    monkeypatch.setattr(la.LazyArray, "__getitem__", spy)
    for uf in (np.add, np.multiply, np.minimum, np.maximum):
        assert_same_outcome(lambda: uf.reduce(x), lambda: uf.reduce(a), uf.__name__)
        assert_same_outcome(lambda: uf.reduce(x, axis=None), lambda: uf.reduce(a, axis=None))
        assert_same_outcome(lambda: uf.reduce(x, axis=1, keepdims=True),
                            lambda: uf.reduce(a, axis=1, keepdims=True))
    b = a > 3
    y = _lazy(b)
    for uf in (np.logical_or, np.logical_and):
        assert_same_outcome(lambda: uf.reduce(y), lambda: uf.reduce(b), uf.__name__)
    assert reads and all(isinstance(k, slice) and k.stop - k.start <= 8 for k in reads)


def test_float32_mean_is_as_accurate_as_numpy():
    """Many blocks of a float32 array whose naive running sum drifts badly."""
    a = np.full(10**7, 0.1, dtype=np.float32)
    a[::3] = 0.7
    exact = a.astype(np.float64).mean()
    x = la.LazyArray(MemoryBackend(a))
    got = x.mean(block_bytes=2**20 + 12)  # blocks not a power of two
    ref = a.mean()
    assert got.dtype == np.float32
    assert abs(float(got) - exact) <= 2 * abs(float(ref) - exact) + 2 * np.finfo(np.float32).eps * exact
    got_std = x.std(block_bytes=2**20)
    exact_std = a.astype(np.float64).std()
    assert abs(float(got_std) - exact_std) <= 2 * abs(float(a.std()) - exact_std) + 1e-6 * exact_std


@pytest.mark.parametrize("backend", ["plain", "compressed"])
def test_reductions_on_files(tmp_path, backend):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((301, 5)).astype(np.float32)
    a[17, 2] = np.nan
    with la.open(tmp_path / "r.h5", "w") as store:
        store.create_array("data", a, backend=backend,
                           **({"chunks": (16, 5)} if backend == "compressed" else {}))
    with la.open(tmp_path / "r.h5") as store:
        x = store["data"]
        for name in EXACT + ROUNDED:
            for kw in ({}, {"axis": 0}, {"axis": 1}, {"axis": (0, 1), "keepdims": True}):
                if name.startswith("arg") and isinstance(kw.get("axis"), tuple):
                    continue
                _close(lambda: getattr(x, name)(block_bytes=500, **kw),
                       lambda: getattr(a, name)(**kw), name, a, kw, f"{backend} {name}{kw}")
        blocks = [len(b) for _, b in lr.row_blocks(x, lr.rows_per_block(x, 2000))]
        if backend == "compressed":
            assert set(blocks[:-1]) == {48}  # whole chunks of 16 rows


def test_bad_arguments_raise_before_reading(monkeypatch):
    x = _lazy(np.zeros((5, 4)))
    monkeypatch.setattr(la.LazyArray, "__getitem__", lambda self, key: pytest.fail("read"))
    for call, exc in [(lambda: x.sum(axis=2, block_bytes=8), np.exceptions.AxisError),
                      (lambda: x.mean(axis=(0, 0), block_bytes=8), ValueError),
                      (lambda: x.argmin(axis=(0, 1), block_bytes=8), TypeError),
                      (lambda: x.min(dtype="f8", block_bytes=8), TypeError),
                      (lambda: x.sum(out=np.zeros(3), block_bytes=8), ValueError),
                      (lambda: x.var(ddof=1, correction=1, block_bytes=8), ValueError),
                      (lambda: x.sum(where=np.ones(4, bool), block_bytes=8), TypeError),
                      (lambda: x.sum(block_bytes=0), ValueError)]:
        with pytest.raises(exc):
            call()


# ------------------------------------------------------- memory, measured
_CHILD = r"""
import sys, numpy as np, lazyarr as la

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024

x = la.open_array(sys.argv[1])
x[:1]
try:  # reset the peak so that import-time allocations do not count
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = status("VmHWM")
except OSError:
    base = status("VmRSS")
res = [x.mean(axis=0), x.std(axis=0), x.mean(), x.std()]
print(status("VmHWM") - base)
for r in res:
    print(np.asarray(r, dtype=np.float64).ravel().tolist())
"""

_ROWS, _COLS = 8_400_000, 32  # float32: 1.08 GB


@pytest.mark.heavy
def test_memory_of_mean_and_std_over_a_gigabyte(tmp_path):
    """Peak RSS growth of mean/std (axis 0 and all axes) stays under the budget + 200 MB."""
    import subprocess
    import sys

    path = tmp_path / "big.h5"
    # Column j holds j + (i % 1000) / 1000, so every answer is known exactly.
    pattern = (np.arange(1000, dtype=np.float64)[:, None] / 1000 + np.arange(_COLS)).astype(np.float32)
    with la.open(path, "w") as store:
        x = store.create_array("data", shape=(_ROWS, _COLS), dtype=np.float32, backend="plain")
        slab = np.tile(pattern, (200, 1))
        for start in range(0, _ROWS, len(slab)):
            x[start : start + len(slab)] = slab
    assert path.stat().st_size >= 10**9
    env = {"PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True,
                         env=env, check=True).stdout.split("\n")
    growth = int(out[0])
    assert growth < lr.DEFAULT_BLOCK_BYTES + 200 * 2**20, f"peak RSS grew by {growth / 2**20:.0f} MB"
    mean0, std0, mean_all, std_all = (np.array(eval(line)) for line in out[1:5])
    p = pattern.astype(np.float64)
    np.testing.assert_allclose(mean0, p.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std0, p.std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(mean_all, p.mean(), rtol=1e-6)
    np.testing.assert_allclose(std_all, p.std(), rtol=1e-5)


@given(n=st.integers(1, 700), m=st.integers(1, 3), dtype=st.sampled_from(_FLOAT + [np.dtype("i2")]),
       name=st.sampled_from(ROUNDED), axis=st.sampled_from([0, None, (0, 1), 1]),
       bb=st.sampled_from([64, 1000, 4000]), seed=st.integers(0, 3))
def test_long_blocks_are_summed_as_trees(n, m, dtype, name, axis, bb, seed):
    """Blocks of hundreds of rows: the grouped axis-0 sums of :func:`lazyarr.reduce._fsum`."""
    a = (np.random.default_rng(seed).standard_normal((n, m)) * 100).astype(dtype)
    x = _lazy(a)
    kw = {"axis": axis}
    _close(lambda: getattr(x, name)(block_bytes=bb, **kw), lambda: getattr(a, name)(**kw),
           name, a, kw, f"{name}(axis={axis}) of {dtype}{a.shape}")
