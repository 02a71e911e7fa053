"""The pure core on its own: normalisation, the one planner, what backends declare.

* the core imports without ``tables``, h5py or zarr (a subprocess that makes
  importing them fail);
* :func:`lazyarr.core.normalize.normalize` by value and by NumPy's verdict;
* plans asserted by value (tables with ids);
* the fast path and the general planner agree on every key the fast path
  takes (a property test, through the oracle);
* the general planner gives NumPy's answers on a memory array read through it
  (the memory backend itself takes NumPy keys directly);
* the cost model's ``split_for`` and the chunk projection, by value.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import lazyarr as la
from lazyarr.backends import MemoryBackend
from lazyarr.core.normalize import Ell, Mask, normalize
from lazyarr.core.plan import ReadPlan, fast_plan, plan, plan_read
from lazyarr.core.selection import apply_orthogonal, stack, unique_inverse
from lazyarr.core.support import CostModel, IndexingSupport, Step, project, read_by_steps, split_for
from lazyarr.testing import (arrays, arrays_and_keys, arrays_keys_and_values, assert_same_as_numpy,
                             assert_same_write, shapes)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------- layering
def test_core_imports_without_storage_libraries():
    # ``lazyarr/__init__`` imports the whole package (store, backends): load
    # the core modules under a bare package object instead, with tables,
    # h5py and zarr made unimportable.
    code = f"""
import sys, types
for name in ("tables", "h5py", "zarr", "blosc2"):
    sys.modules[name] = None  # any import of them raises ImportError
pkg = types.ModuleType("lazyarr")
pkg.__path__ = [{os.path.join(ROOT, "lazyarr")!r}]
sys.modules["lazyarr"] = pkg
import lazyarr.core, lazyarr.core.plan, lazyarr.core.normalize, lazyarr.core.selection, lazyarr.core.support, lazyarr.core.windows
loaded = sorted(m for m in sys.modules if m.startswith("lazyarr.") and sys.modules[m] is not None)
assert all(m.startswith("lazyarr.core") for m in loaded), loaded
print(lazyarr.core.plan.plan(3, (4, 2)).reads)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "((slice(3, 4, 1), slice(0, 2, 1)),)"


# -------------------------------------------------------------- normalize
@pytest.mark.parametrize(
    "key, shape, components",
    [
        pytest.param((Ellipsis, -1), (4, 5), (Ell(1), 4), id="ellipsis-negative-int"),
        pytest.param(slice(None, None, -2), (5,), (range(4, -1, -2),), id="negative-step"),
        pytest.param(slice(-100, 100), (3,), (range(0, 3),), id="slice-past-the-ends"),
        pytest.param((None, 1, None), (3,), (None, 1, None), id="newaxis"),
        pytest.param(np.int8(-1), (3,), (2,), id="numpy-int"),
        pytest.param((), (2, 2), (), id="empty-tuple"),
    ],
)
def test_normalize_basic_components(key, shape, components):
    assert normalize(key, shape).components == components


def test_normalize_arrays_and_masks():
    nk = normalize(([3, -1], np.array([[0], [1]])), (5, 2))
    a, b = nk.components
    np.testing.assert_array_equal(a, [3, 4])
    assert a.dtype == np.intp and b.shape == (2, 1)
    (m,) = normalize(np.array([[True, False], [False, True]]), (2, 2)).components
    assert isinstance(m, Mask) and m.ndim == 2 and m.count == 2
    np.testing.assert_array_equal(m.arrays[0], [0, 1])
    (z,) = normalize(np.True_, (3,)).components
    assert z is np.True_ and normalize(np.True_, (3,)).advanced


@pytest.mark.parametrize(
    "key, shape",
    [
        pytest.param(7, (5,), id="out-of-bounds-int"),
        pytest.param(1.0, (5,), id="float"),
        pytest.param((0, 0), (5,), id="too-many"),
        pytest.param((Ellipsis, Ellipsis), (5,), id="two-ellipses"),
        pytest.param(np.array([True, False]), (5,), id="mask-shape"),
        pytest.param(([0, 1], [0, 1, 2]), (5, 5), id="no-broadcast"),
        pytest.param(slice(0, 1, 0), (5,), id="zero-step"),
        pytest.param([[0, 1], [2]], (5,), id="ragged-list"),
        pytest.param(np.array([5]), (5,), id="array-out-of-bounds"),
    ],
)
def test_normalize_raises_numpys_exception(key, shape):
    with pytest.raises(Exception) as numpy_exc:
        np.empty(shape)[key]
    with pytest.raises(type(numpy_exc.value)):
        normalize(key, shape)


def test_normalize_empty_result_keeps_numpys_shape():
    # NumPy skips bounds checks when nothing is selected.
    nk = normalize((False, [99]), (3,))
    assert nk.components == () and nk.empty_result == np.empty(3)[False, [99]].shape


# ---------------------------------------------------------- plans by value
def _plan(shape, result_shape, reads, post, **kw):
    return ReadPlan(shape, result_shape, reads, post, **kw)


@pytest.mark.parametrize(
    "key, shape, expected",
    [
        pytest.param(3, (10, 4), _plan((10, 4), (4,), ((slice(3, 4, 1), slice(0, 4, 1)),), (0,)), id="int"),
        pytest.param(slice(1, 9, 4), (10,), _plan((10,), (2,), ((slice(1, 6, 4),),), ()), id="slice-stop-trimmed"),
        pytest.param((slice(None), -1), (3, 4), _plan((3, 4), (3,), ((slice(0, 3, 1), slice(3, 4, 1)),),
                                                      (slice(None), 0)), id="int-last-axis"),
        pytest.param(slice(None, None, -1), (3,), _plan((3,), (3,), ((slice(0, 3, 1),),),
                                                        (slice(None, None, -1),)), id="reversed"),
        pytest.param([5, 1, 5], (10**6,), _plan((10**6,), (3,), ((np.array([1, 5]),),),
                                                (np.array([1, 0, 1]),)), id="unique-inverse"),
        pytest.param([2, 0, 1], (10,), _plan((10,), (3,), ((slice(0, 3, 1),),),
                                             (np.array([2, 0, 1]),)), id="dense-slab"),
        pytest.param(([0, 2], [1, 3]), (3, 4), _plan((3, 4), (2,), ((slice(0, 3, 1), slice(1, 4, 1)),),
                                                     (np.array([0, 2]), np.array([0, 2])),
                                                     covering=False), id="two-arrays-box"),
        pytest.param((False, 0), (3,), _plan((3,), (0,), ((slice(0, 1, 1),),), (np.False_, 0)),
                     id="false-selects-nothing"),
    ],
)
def test_plans_by_value(key, shape, expected):
    got = plan(key, shape)
    assert got == expected, f"{got!r} != {expected!r}"


def test_point_plan_by_value():
    # A sparse diagonal with long rows: the box would read 10 x 10 rows.
    i = np.arange(0, 10_000, 1000)
    shape = (10_000, 10_000, 1000)
    p = plan((i, i), shape)
    assert p.mode == "points" and p.point_axes == (0, 1) and p.move_to == 0
    assert p.reads[0] == (slice(0, 1, 1), slice(0, 1, 1), slice(0, 1000, 1)) and len(p.reads) == 10
    assert p == plan((i, i), shape) and p != plan((i, i[::-1]), shape)


def test_plan_repr_is_readable():
    assert repr(plan((slice(None, None, -1), [4, 0, 4]), (3, 9))) == (
        "ReadPlan(mode='box', shape=(3, 9), result_shape=(3, 3), "
        "reads=((slice(0, 3, 1), array([0, 4])),), post_key=(slice(None, None, -1), array([1, 0, 1])))"
    )


# -------------------------------------------- the fast path inside the planner
def _fast_keys(shape):
    """Ints and slices of every kind, most of which the fast path takes."""
    def axis_key(n):
        bound = st.integers(-2 * n - 2, 2 * n + 2) | st.none()
        return (st.integers(-n - 1, n).map(int)
                | st.integers(-n - 1, n).map(np.int64)
                | st.builds(slice, bound, bound, st.integers(-3, 4).filter(bool) | st.none()))
    n_axes = st.integers(0, len(shape))
    return n_axes.flatmap(lambda k: st.tuples(*[axis_key(n) for n in shape[:k]])).flatmap(
        lambda t: st.sampled_from([t, t[0]] if len(t) == 1 else [t]))


@st.composite
def _arrays_and_fast_keys(draw):
    a = draw(arrays(shape=shapes(min_dims=1, max_dims=3, max_side=6)))
    return a, draw(_fast_keys(a.shape))


@given(_arrays_and_fast_keys())
@example((np.arange(10), slice(0, 10, 4)))
@example((np.arange(12).reshape(3, 4), (np.int64(-1), slice(None, 2))))
def test_fast_path_agrees_with_the_general_planner(ak):
    a, key = ak
    fast = fast_plan(key, a.shape)
    if fast is None:
        return  # the general path's key: covered by every other read test
    general = plan_read(normalize(key, a.shape), a.dtype.itemsize)
    assert fast == general, f"{fast!r} != {general!r}"
    backend = MemoryBackend(a)

    def run(p):
        return backend.read(p.reads[0])[p.post_key]

    assert_same_as_numpy(lambda k: run(fast), a, key)
    assert_same_as_numpy(lambda k: run(general), a, key)


class _Orthogonal(MemoryBackend):
    """A memory array read through the planner, as a disk backend is."""

    kind = "memory-orthogonal"
    support = IndexingSupport.ORTHOGONAL


@given(arrays_and_keys())
@example((np.zeros((1, 4, 1), bool), (slice(None), np.array([False, False, False, True]), Ellipsis,
                                       np.array([[0, 0]]))))
def test_general_planner_same_as_numpy(ak):
    a, key = ak
    x = la.LazyArray(_Orthogonal(a.copy()))
    assert not x._cache.direct
    assert_same_as_numpy(x.__getitem__, a, key)


@given(arrays_and_keys())
def test_window_one_gather_same_as_numpy(ak):
    # buffer_key: the read and the post-key composed onto a window buffer.
    a, key = ak
    if a.ndim == 0:
        return
    row_bytes = a.dtype.itemsize * int(np.prod(a.shape[1:]))
    x = la.LazyArray(_Orthogonal(a.copy()), cache=la.SwapWindow(max(1, a.nbytes, row_bytes) * 2))
    x[:]  # load the whole array as the window
    assert_same_as_numpy(x.__getitem__, a, key)


def test_memory_backend_takes_numpy_keys_and_never_returns_a_view():
    a = np.arange(12.0).reshape(3, 4)
    x = la.LazyArray(MemoryBackend(a))
    assert x._cache.direct
    row = x[1]
    row[:] = -1
    assert a[1, 0] == 4.0  # a copy, as from storage
    assert type(x[1, 2]) is np.float64 and x[[0, 2], 1:3].tolist() == [[1.0, 2.0], [9.0, 10.0]]
    x[0, [1, 3]] = 7
    assert a[0].tolist() == [0.0, 7.0, 2.0, 7.0]
    assert x.cache_stats["backend_reads"] == 3


# ------------------------------------------------- what backends declare
def test_split_for_one_vector_by_value():
    cost = CostModel()
    (st1,) = split_for((np.array([0, 2]), np.array([1, 3])), IndexingSupport.ONE_VECTOR, cost, 8)
    assert repr(st1) == repr(Step((np.array([0, 2]), slice(1, 4, 1)), (slice(None), np.array([0, 2])), None))
    sel = (np.array([0, 99_999]), np.array([0, 9_999]), slice(0, 8, 1))
    steps = split_for(sel, IndexingSupport.ONE_VECTOR, cost, 8)
    assert [s.out for s in steps] == [(slice(None), slice(0, 1)), (slice(None), slice(1, 2))]
    assert split_for(sel, IndexingSupport.ORTHOGONAL, cost, 8)[0].read is not None


@given(arrays(shape=shapes(min_dims=1, max_dims=3, min_side=1, max_side=7)), st.data())
def test_split_for_reads_what_the_selection_means(a, data):
    sel = []
    for n in a.shape:
        if data.draw(st.booleans()):
            idx = np.unique(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n)))
            sel.append(idx.astype(np.int64))
        else:
            lo = data.draw(st.integers(0, n - 1))
            sel.append(slice(lo, data.draw(st.integers(lo + 1, n)), data.draw(st.integers(1, 3))))
    sel = tuple(sel)
    want = apply_orthogonal(a, sel)
    for level in (IndexingSupport.BASIC, IndexingSupport.ONE_VECTOR):
        out = np.empty_like(want)
        for step in split_for(sel, level, CostModel(call_bytes=data.draw(st.sampled_from([0, 16, 2**20]))), 8):
            block = apply_orthogonal(a, step.read)
            if step.take is not None:
                block = apply_orthogonal(block, step.take)
            out[... if step.out is None else step.out] = block
        np.testing.assert_array_equal(out, want)


class _Level(MemoryBackend):
    """A third-party backend of a level below ORTHOGONAL: its ``read`` and
    ``write`` refuse any selection above that level, so the read path must
    cut every selection into calls it can make."""

    kind = "memory-level"
    support = IndexingSupport.BASIC

    def __init__(self, a, support, call_bytes=16 * 2**10):
        super().__init__(a)
        self.support = support
        self._cost = CostModel(call_bytes=call_bytes)
        self.calls = 0

    @property
    def cost(self):
        return self._cost

    def _check(self, sel):
        arrays = sum(not isinstance(s, slice) for s in sel)
        assert arrays <= (0 if self.support == IndexingSupport.BASIC else 1), sel
        self.calls += 1

    def read(self, sel):
        self._check(sel)
        return super().read(sel)

    def write(self, sel, value):
        self._check(sel)
        super().write(sel, value)


_LEVELS = st.sampled_from([IndexingSupport.BASIC, IndexingSupport.ONE_VECTOR])


@given(arrays_and_keys(), _LEVELS, st.sampled_from([0, 64, 2**20]))
@example((np.arange(24.0).reshape(2, 3, 4), (np.array([1, 0]), slice(None), np.array([[3], [0]]))),
         IndexingSupport.ONE_VECTOR, 0)
def test_backends_below_orthogonal_read_through_the_core(ak, level, call_bytes):
    a, key = ak
    x = la.LazyArray(_Level(a.copy(), level, call_bytes))
    assert_same_as_numpy(x.__getitem__, a, key)


@given(arrays_keys_and_values(), _LEVELS)
def test_backends_below_orthogonal_write_through_the_core(akv, level):
    a, key, value = akv
    x = la.LazyArray(_Level(a.copy(), level))
    assert_same_write(x, a.copy(), key, value)


def test_read_by_steps_passes_a_selection_of_the_level_through():
    b = _Level(np.arange(12).reshape(3, 4), IndexingSupport.ONE_VECTOR)
    sel = (np.array([0, 2]), slice(0, 4, 1))
    out = read_by_steps(b.read, sel, b.support, b.cost, b.dtype)
    assert b.calls == 1 and out.tolist() == [[0, 1, 2, 3], [8, 9, 10, 11]]
    b.calls = 0
    x = la.LazyArray(b)
    x[[0, 2], [1, 3]] = -1  # point groups: two ONE_VECTOR writes at most
    x[np.ix_([0, 2], [0, 3])] = 5  # lists on two axes: the other one cut into runs
    assert np.asarray(b.array).tolist() == [[5, -1, 2, 5], [4, 5, 6, 7], [5, 9, 10, 5]]


def test_project_by_value():
    cells = project((slice(3, 6, 1), np.array([0, 1, 5])), (4, 2))
    assert [tuple(p.chunk for p in c) for c in cells] == [(0, 0), (0, 2), (1, 0), (1, 2)]
    assert [tuple(p.out for p in c) for c in cells][1] == (slice(0, 1), slice(2, 3))


def test_unique_inverse_and_stack():
    u, inv = unique_inverse(np.array([[3, 1], [3, 3]]))
    assert u.tolist() == [1, 3] and inv.tolist() == [[1, 0], [1, 1]]
    assert stack([np.ones((1, 2), ">i4"), np.zeros((2, 2), ">i4")], ">i4").dtype == np.dtype(">i4")


# ------------------------------------------------------ one lookup per call
class _CountingLock:
    """The HDF5 lock, counting how often it is taken (re-entries included)."""

    def __init__(self, lock):
        self.lock, self.n = lock, 0

    def __enter__(self):
        self.n += 1
        return self.lock.__enter__()

    def __exit__(self, *exc):
        return self.lock.__exit__(*exc)

    def acquire(self, *a, **k):
        self.n += 1
        return self.lock.acquire(*a, **k)

    def release(self):
        return self.lock.release()


@pytest.mark.parametrize("backend", ["plain", "compressed"])
@pytest.mark.parametrize("key", [5, (5, 1), slice(2, 9), (slice(None, None, -3), [2, 0]), [7, 1, 7]],
                         ids=["int", "element", "slice", "step-and-list", "list"])
def test_one_lock_acquisition_per_read(tmp_path, monkeypatch, backend, key):
    import lazyarr.backends._blosc2 as b2
    import lazyarr.backends._pytables as pt
    import lazyarr.backends.compressed as comp
    import lazyarr.files as files

    a = np.arange(60.0).reshape(20, 3)
    with la.open(tmp_path / "l.h5", "w") as store:
        store.create_array("x", a, backend=backend, **({"chunks": (4, 3)} if backend == "compressed" else {}))
    with la.open(tmp_path / "l.h5") as store:
        x = store["x"]
        x[0]  # first use: node, shape, dtype, chunks and filters are looked up here
        lock = _CountingLock(pt.HDF5_LOCK)
        for mod in (pt, b2, comp, files):
            monkeypatch.setattr(mod, "HDF5_LOCK", lock)
        np.testing.assert_array_equal(x[key], a[key])
        n = lock.n
    # A plain array: at most one acquisition (none when it is read through
    # its memory map). Blosc2 chunks: at most one per chunk
    # fetched (each is decoded outside the lock while other threads fetch
    # theirs; recently decoded blocks come from memory, no lock at all).
    if backend == "plain":
        assert n <= 1, n
    else:
        assert n <= len(project(plan(key, a.shape).reads[0], (4, 3))), n


# ------------------------------------------- the window keeps the last read
@pytest.mark.parametrize("budget_rows", [1000, 150], ids=["window-full", "room-beside"])
def test_window_serves_a_read_inside_the_last_one(budget_rows):
    # The walkthrough's swapper: x[-5:] right after x[-100:] comes from memory.
    a = np.arange(10_000 * 4, dtype=np.float32).reshape(10_000, 4)
    x = la.LazyArray(MemoryBackend(a), cache=la.SwapWindow(budget_rows * 16))
    np.testing.assert_array_equal(x[10:20], a[10:20])      # loads a window from row 10
    np.testing.assert_array_equal(x[-100:], a[-100:])      # elsewhere: read by itself
    before = x.cache_stats
    for key in (slice(-5, None), (slice(-50, -40), [3, 0]), -1, (slice(None, -90, -7), 2)):
        assert_same_as_numpy(x.__getitem__, a, key if key != slice(-5, None) else slice(-5, None))
    st = x.cache_stats
    assert st["backend_reads"] == before["backend_reads"] and st["hits"] == before["hits"] + 4
    assert x._cache.nbytes_held <= budget_rows * 16 + 100 * 16
    x[-3] = -1  # a write drops what it touches
    assert x[-3:][0, 0] == -1 and x.cache_stats["backend_reads"] == st["backend_reads"] + 1
