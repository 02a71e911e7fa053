"""h5py and zarr datasets behind LazyArray: NumPy's indexing where those libraries refuse.

``tests/test_conformance.py`` runs the property suite on both backends; here
are the core issue's parity table (imported from ``tests/test_edge_cases.py``)
and a table of the keys h5py and zarr reject (or answer differently) on
their own, for reads and writes, plus ``la.wrap``, the lazy imports, the h5py
multi-array read plans, appends and read-only files.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import lazyarr as la
from lazyarr.testing import assert_same_as_numpy, assert_same_write, numpy_verdict

h5py = pytest.importorskip("h5py")
zarr = pytest.importorskip("zarr")

from lazyarr.backends.h5py_dataset import H5pyBackend, _multi_array_plan  # noqa: E402
from lazyarr.backends.zarr_array import ZarrBackend  # noqa: E402

A = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6) * 1.5

#: Keys NumPy accepts and h5py or zarr refuse or answer differently.
KEYS = {
    "unsorted": [3, 0, 2],
    "repeated": [1, 1, 0, 1],
    "negative-index": [-1, 0],
    "negative-step": np.s_[::-1],
    "negative-step-odd-bounds": np.s_[3:0:-2, ::-3],
    "two-arrays-points": ([0, 3, 3], [4, 0, 1]),
    "arrays-separated-by-slice": ([0, 2], slice(None), [5, 0]),
    "arrays-broadcast": ([[0], [3]], [1, 2, 4]),
    "newaxis": (None, 1, ..., None),
    "mask-2d": A[..., 0] > 20,
    "mask-and-array": (A[:, 0, 0] > 5, slice(None), [0, 0]),
    "int-and-ellipsis": (..., -1),
    "scalar": (1, 2, 3),
    "zero-d-bool": (np.True_, 2),
    "empty-list": [],
    "out-of-bounds-slice": np.s_[2:100, -100:2],
    "numpy-int-scalars": (np.uint8(1), np.int64(-1)),
}

#: Keys NumPy rejects: same exception type, whatever h5py or zarr would say.
BAD_KEYS = {
    "out-of-bounds": 4,
    "out-of-bounds-in-list": [0, 9],
    "float": 1.0,
    "too-many-indices": (0, 0, 0, 0),
    "two-ellipsis": (..., ...),
    "non-broadcastable": ([0, 1], [0, 1, 2]),
    "wrong-mask-shape": np.ones(5, dtype=bool),
    "zero-step": np.s_[::0],
}


def _chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Chunks of at most 2 along every axis, so keys cross chunk boundaries."""
    return tuple(max(1, min(n, 2)) for n in shape)


def _h5(tmp_path: Any, a: np.ndarray, **kw: Any) -> Any:
    f = h5py.File(tmp_path / "t.h5", "a")
    name = f"d{len(f)}"
    return f, f.create_dataset(name, data=a, **kw)


def _zarr(a: np.ndarray) -> Any:
    # Bytes in zarr's v2 format: v3 has no specified fixed-width bytes type.
    fmt = {"zarr_format": 2} if a.dtype.kind == "S" else {}
    z = zarr.create_array(store={}, shape=a.shape, dtype=a.dtype, chunks=_chunks(a.shape),
                          config={"write_empty_chunks": True}, **fmt)
    z[...] = a
    return z


@pytest.fixture(params=["h5py-contiguous", "h5py-chunked", "zarr"])
def make(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """``make(a) -> LazyArray`` over a new h5py dataset or zarr array holding ``a``."""
    files = []

    def _make(a: np.ndarray) -> la.LazyArray:
        if request.param == "zarr":
            return la.wrap(_zarr(a))
        kw: dict = {}
        if "chunked" in request.param and a.ndim:
            kw = dict(chunks=_chunks(a.shape), maxshape=(None,) * a.ndim)
        f, d = _h5(tmp_path, a, **kw)
        files.append(f)
        return la.wrap(d)

    yield _make
    for f in files:
        f.close()


# The core issue's parity table (tests/test_edge_cases.py), run here on h5py
# and zarr: pytest resolves ``make`` to this module's fixture.
from test_edge_cases import test_len_iter_asarray as test_edge_len_iter_asarray  # noqa: E402,F401
from test_edge_cases import test_other_arrays as test_edge_other_arrays  # noqa: E402,F401
from test_edge_cases import test_read as test_edge_read  # noqa: E402,F401
from test_edge_cases import test_write_distinct_values as test_edge_write_distinct  # noqa: E402,F401
from test_edge_cases import test_write_scalar as test_edge_write_scalar  # noqa: E402,F401
from test_edge_cases import test_write_values as test_edge_write_values  # noqa: E402,F401


@pytest.mark.parametrize("key", list(KEYS.values()), ids=list(KEYS))
def test_read_where_the_library_refuses(make: Any, key: Any) -> None:
    x = make(A)
    assert_same_as_numpy(x.__getitem__, A, key)


@pytest.mark.parametrize("key", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_bad_keys_raise_numpys_exception(make: Any, key: Any) -> None:
    x = make(A)
    assert_same_as_numpy(x.__getitem__, A, key)


@pytest.mark.parametrize("key", list(KEYS.values()) + list(BAD_KEYS.values()),
                         ids=list(KEYS) + list(BAD_KEYS))
def test_write_where_the_library_refuses(make: Any, key: Any) -> None:
    x = make(A)
    model = A.copy()
    verdict = numpy_verdict(A.shape, key)
    shape = verdict if isinstance(verdict, tuple) else (1,)
    # Distinct values, so the last write to a repeated index shows.
    value = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) + 1000
    assert_same_write(x, model, key, value)


def test_len_and_asarray(make: Any) -> None:
    x = make(A)
    assert len(x) == 4
    np.testing.assert_array_equal(np.asarray(x), A)
    assert x.dtype == A.dtype and x.shape == A.shape


# ------------------------------------------------------------------ h5py plans


@settings(deadline=None)
@given(
    rows=st.lists(st.integers(0, 39), min_size=2, max_size=8, unique=True),
    cols=st.lists(st.integers(0, 29), min_size=2, max_size=8, unique=True),
    lanes=st.lists(st.integers(0, 3), min_size=1, max_size=4, unique=True),
)
@example(rows=[0, 39], cols=[0, 29], lanes=[0, 3])  # sparse: the loop plan
@example(rows=[0, 1, 2], cols=[3, 4], lanes=[1])  # dense: one slab
def test_h5py_multi_array_reads_match_numpy(tmp_path_factory: Any, rows: list, cols: list,
                                            lanes: list) -> None:
    """Both plans (slab and loop) read exactly the orthogonal selection."""
    a = np.arange(40 * 30 * 4, dtype=">i4").reshape(40, 30, 4)
    with h5py.File(tmp_path_factory.mktemp("plans") / "p.h5", "w") as f:
        b = H5pyBackend(f.create_dataset("p", data=a, chunks=(8, 8, 4)))
        sel = (np.array(sorted(rows)), np.array(sorted(cols)), np.array(sorted(lanes)))
        got = b.read(sel)
        assert got.dtype.str == ">i4"
        np.testing.assert_array_equal(got, a[np.ix_(*sel)])


def test_h5py_multi_array_plan_is_chosen_by_cost() -> None:
    far = (np.array([0, 10**6 - 1]), np.array([0, 10**4 - 1]))
    assert _multi_array_plan(far, 4)[0] == "loop"
    dense = (np.arange(0, 100, 2), np.arange(0, 50, 3))
    assert _multi_array_plan(dense, 4)[0] == "slab"


# ------------------------------------------------------------ appends, modes


def test_h5py_append_grows_and_a_failed_append_changes_nothing(tmp_path: Any) -> None:
    f, d = _h5(tmp_path, np.zeros((2, 3), "f4"), chunks=(2, 3), maxshape=(None, 3))
    with f:
        x = la.wrap(d)
        assert x.backend.extendable
        x.append(np.ones((3, 3), "f4"))
        assert d.shape == (5, 3) and x[-1, 0] == 1
        with pytest.raises(ValueError):
            x.append(np.ones((1, 4), "f4"))
        assert d.shape == (5, 3)


def test_h5py_fixed_dataset_cannot_grow(tmp_path: Any) -> None:
    f, d = _h5(tmp_path, np.zeros((2, 3), "f4"))
    with f:
        x = la.wrap(d)
        assert not x.backend.extendable
        with pytest.raises(TypeError, match="fixed shape"):
            x.append(np.ones((1, 3), "f4"))


def test_h5py_read_only_file(tmp_path: Any) -> None:
    f, _ = _h5(tmp_path, A)
    f.close()
    with h5py.File(tmp_path / "t.h5", "r") as f:
        x = la.wrap(f["d0"])
        assert x.backend.readonly
        np.testing.assert_array_equal(x[::-1, [0, 0]], A[::-1, [0, 0]])
        with pytest.raises(la.ReadOnlyError):
            x[0] = 1


def test_zarr_append_and_read_only() -> None:
    z = _zarr(A)
    x = la.wrap(z)
    x.append(A[:1])
    assert z.shape == (5, 5, 6) and len(x) == 5
    ro = zarr.open_array(z.store, mode="r")
    y = la.wrap(ro)
    assert y.backend.readonly
    with pytest.raises(la.ReadOnlyError):
        y[0] = 0


def test_zarr_negative_zero_complex_needs_write_empty_chunks() -> None:
    """Found by check_backend: zarr drops a chunk equal to the fill value, and -0j == 0j."""
    a = np.full(4, complex(-0.0, -0.0), dtype="c8")
    z = zarr.create_array(store={}, shape=a.shape, dtype=a.dtype, chunks=(2,),
                          config={"write_empty_chunks": True})
    x = la.wrap(z)
    x[...] = a
    assert np.signbit(x[::-1].real).all() and np.signbit(x[[3, 0]].imag).all()


def test_zarr_backend_pickles() -> None:
    x = la.wrap(_zarr(A))
    y = pickle.loads(pickle.dumps(x))
    np.testing.assert_array_equal(y[[3, 0], ::-2], A[[3, 0], ::-2])


# ------------------------------------------------------------------ la.wrap


def test_wrap_picks_backend_by_type(tmp_path: Any) -> None:
    a = np.arange(6)
    assert la.wrap(a).backend.kind == "memory"
    f, d = _h5(tmp_path, a)
    with f:
        assert la.wrap(d).backend.kind == "h5py"
    assert la.wrap(zarr.create_array(store={}, shape=(2,), dtype="i4")).backend.kind == "zarr"
    x = la.wrap(a)
    assert la.wrap(x) is x
    assert la.wrap(x, cache=la.SwapWindow(64)).cache == la.SwapWindow(64)
    assert la.wrap(la.backends.MemoryBackend(a)).backend.kind == "memory"


def test_wrap_refuses_unknown_types_listing_supported_ones() -> None:
    with pytest.raises(TypeError, match="h5py.Dataset, zarr.Array"):
        la.wrap([1, 2, 3])


def test_wrap_refuses_in_memory_cache_for_h5py_and_zarr(tmp_path: Any) -> None:
    f, d = _h5(tmp_path, np.arange(3))
    with f, pytest.raises(ValueError, match="driver='core'"):
        la.wrap(d, cache=la.InMemory())
    with pytest.raises(ValueError, match="MemoryStore"):
        la.wrap(zarr.create_array(store={}, shape=(2,), dtype="i4"), cache=la.InMemory())


def test_importing_lazyarr_imports_neither_h5py_nor_zarr() -> None:
    code = (
        "import sys, lazyarr, numpy as np; lazyarr.wrap(np.zeros(2)); "
        "print('h5py' in sys.modules, 'zarr' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("module, name, extra", [
    ("h5py", "H5pyBackend", "lazyarr[h5py]"),
    ("zarr", "ZarrBackend", "lazyarr[zarr]"),
])
def test_missing_extra_names_it(module: str, name: str, extra: str) -> None:
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "import lazyarr\n"
        "try:\n"
        f"    lazyarr.backends.{name}\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f"pip install {extra}" in out.stdout
