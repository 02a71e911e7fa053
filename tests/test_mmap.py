"""Plain arrays through a memory map (lazyarr.backends._mmap).

The map against NumPy (the oracle) and against PyTables' own read of the same
node, for files written by lazyarr, PyTables and h5py (userblock, big-endian);
writes through the map; several arrays over one file; what keeps the map
coherent (first write of an unallocated node, PyTables writes and flushes,
close, reopen, a node created again); and the layouts that are not mapped.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tables
from hypothesis import example, given, settings
from hypothesis import strategies as st

import lazyarr as la
from lazyarr.backends import _mmap
from lazyarr.backends._pytables import node_dtype
from lazyarr.backends.plain import PlainBackend
from lazyarr.errors import ClosedError
from lazyarr.testing import arrays, assert_same_as_numpy, assert_same_write, keys, write_values

h5py = pytest.importorskip("h5py")

_names = itertools.count()
#: Every dtype a plain node can hold, both byte orders where there are two.
DTYPES = ["?", "i1", "u1", "<i2", ">i2", ">u4", "<i8", ">i8", "<f2", "<f4", ">f4", "<f8", ">f8",
          "<c8", ">c16", "S1", "S5"]


def pytables_read(path: str, node: str) -> np.ndarray:
    """The node as PyTables reads it through a handle of its own."""
    with tables.open_file(path, "r") as f:
        n = f.get_node(node)
        # PyTables reads in native order; compare in the stored one.
        return n.read().astype(node_dtype(n))


@pytest.fixture
def store(tmp_path):
    s = la.open(tmp_path / "m.h5", "w")
    yield s
    s.close()


def mapped(x: la.LazyArray) -> _mmap.NodeMap | None:
    return x.backend.map()


# ------------------------------------------------------------ property tests
@st.composite
def array_keys(draw):
    a = draw(arrays())
    return a, draw(st.lists(keys(a.shape), min_size=1, max_size=4))


@settings(max_examples=max(10, settings().max_examples // 2))
@given(ak=array_keys())
@example(ak=(np.arange(24, dtype=">f4").reshape(4, 6), [(slice(None), 5), np.array([3, 0, 3]),
                                                        np.arange(4) % 2 == 0, (1, slice(None, None, -2))]))
@example(ak=(np.array(3.5), [(), Ellipsis, None]))
def test_reads_match_numpy_and_pytables(tmp_path_factory, ak):
    a, ks = ak
    path = str(tmp_path_factory.mktemp("r") / "a.h5")
    with la.open(path, "w") as s:
        x = s.create_array("x", a, backend="plain")
        assert (mapped(x) is None) == (a.size == 0)
        for k in ks:
            assert_same_as_numpy(x.__getitem__, a, k)
        np.testing.assert_array_equal(np.asarray(x), a)
    # PyTables reads the same bytes the map was read from.
    got = pytables_read(path, "/x")
    assert got.dtype == a.dtype and got.shape == a.shape
    np.testing.assert_array_equal(got, a)


@st.composite
def array_writes(draw):
    a = draw(arrays())
    n = draw(st.integers(1, 3))
    ops = []
    for _ in range(n):
        k = draw(keys(a.shape))
        ops.append((k, draw(write_values(a.shape, k, a.dtype))))
    return a, ops


@settings(max_examples=max(10, settings().max_examples // 2))
@given(aw=array_writes())
@example(aw=(np.zeros((3, 4), ">i4"), [((slice(None), [3, 0, 3]), np.array([1, 2, 3], ">i2")),
                                       (np.array([True, False, True]), 7)]))
def test_writes_through_the_map(tmp_path_factory, aw):
    a, ops = aw
    model = a.copy()
    path = str(tmp_path_factory.mktemp("w") / "a.h5")
    with la.open(path, "w") as s:
        x = s.create_array("x", a, backend="plain")
        # A second array over the same node sees every write at once.
        y = s["x"]
        for k, v in ops:
            assert_same_write(x, model, k, v)
            np.testing.assert_array_equal(np.asarray(y), model)
    # The bytes reached the file: PyTables, through a handle of its own, reads them.
    np.testing.assert_array_equal(pytables_read(path, "/x"), model)
    with la.open(path, "r") as s:
        np.testing.assert_array_equal(np.asarray(s["x"]), model)


# ------------------------------------------------------------- dtypes, foreign files
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_is_mapped(store, dtype):
    a = (np.arange(24).reshape(4, 6) % 7).astype(dtype)
    x = store.create_array(f"d{next(_names)}", a, backend="plain")
    m = mapped(x)
    assert m is not None and m.dtype == a.dtype
    assert_same_as_numpy(x.__getitem__, a, (slice(None), [5, 0, 5]))
    x[1] = a[2]
    a[1] = a[2]
    np.testing.assert_array_equal(np.asarray(x), a)
    assert np.asarray(x).dtype == a.dtype


@pytest.mark.parametrize("userblock", [0, 512, 4096])
@pytest.mark.parametrize("dtype", ["<f4", ">f4", ">i8", "S3"])
def test_h5py_written_files(tmp_path, userblock, dtype):
    path = tmp_path / "h.h5"
    a = (np.arange(60).reshape(12, 5) * 3 % 11).astype(dtype)
    with h5py.File(path, "w", userblock_size=userblock) as f:
        f["g/x"] = a
        f.create_dataset("empty", shape=(4, 2), dtype="f8")  # never written: no storage
    with la.open(path, "r+") as s:
        x = s["g/x"]
        assert x.backend.kind == "plain"
        m = mapped(x)
        assert m is not None and m.offset >= userblock
        for k in [(slice(None, None, -1), 2), [11, 0, 11], a[:, 0] == a[0, 0]]:
            assert_same_as_numpy(x.__getitem__, a, k)
        x[3:5] = a[:2]
        a[3:5] = a[:2]
        e = s["empty"]
        assert mapped(e) is None
        assert_same_as_numpy(e.__getitem__, np.zeros((4, 2)), (slice(None), 1))
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["g/x"][()], a)


def test_pytables_written_files(tmp_path):
    path = tmp_path / "p.h5"
    a = np.arange(40, dtype=">i2").reshape(8, 5)
    with tables.open_file(path, "w") as f:
        f.create_array("/", "x", obj=a)
        f.create_array("/", "z", atom=tables.Float64Atom(), shape=(3, 3))
    with la.open(path, "r+") as s:
        x, z = s["x"], s["z"]
        assert mapped(x) is not None and mapped(z) is None
        assert_same_as_numpy(x.__getitem__, a, ([7, 0, 7], slice(None, None, 2)))
        # The first write gives z its storage; from then on it is mapped.
        z[1, 1] = 5.0
        assert mapped(z) is not None
        z[0] = 1.0
        want = np.zeros((3, 3))
        want[1, 1], want[0] = 5.0, 1.0
        np.testing.assert_array_equal(np.asarray(z), want)
    np.testing.assert_array_equal(pytables_read(str(path), "/z"), want)


def test_unallocated_until_first_write(store):
    x = store.create_array("u", shape=(1000, 3), dtype=">f8", backend="plain")
    assert mapped(x) is None
    assert not np.asarray(x).any()
    x[[999, 5]] = 2.0  # through HDF5: it allocates the storage
    m = mapped(x)
    assert m is not None and m.dtype == np.dtype(">f8")
    want = np.zeros((1000, 3), ">f8")
    want[[999, 5]] = 2.0
    np.testing.assert_array_equal(np.asarray(x), want)
    x[0, 0] = 1.0  # through the map
    want[0, 0] = 1.0
    np.testing.assert_array_equal(np.asarray(x), want)


@pytest.mark.parametrize("layout", ["compact", "external"])
def test_other_layouts_keep_the_pytables_path(tmp_path, layout):
    path = tmp_path / "l.h5"
    a = np.arange(12, dtype="<i4").reshape(3, 4)
    with h5py.File(path, "w") as f:
        if layout == "compact":
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            d = h5py.h5d.create(f.id, b"x", h5py.h5t.STD_I32LE, h5py.h5s.create_simple(a.shape), dcpl=dcpl)
            d.write(h5py.h5s.ALL, h5py.h5s.ALL, a)
        else:
            f.create_dataset("x", shape=a.shape, dtype=a.dtype, external=[(str(tmp_path / "raw"), 0, a.nbytes)])
            f["x"][...] = a
    with la.open(path, "r+") as s:
        x = s["x"]
        assert x.backend.kind == "plain" and mapped(x) is None
        assert_same_as_numpy(x.__getitem__, a, ([2, 0, 2], slice(None, None, -1)))
        x[0] = 9
        a[0] = 9
        np.testing.assert_array_equal(np.asarray(x), a)


def test_core_driver_is_not_mapped(tmp_path):
    path = tmp_path / "c.h5"
    a = np.arange(20.0).reshape(4, 5)
    with la.open(path, "w") as s:
        s.create_array("x", a, backend="plain")
    with la.open(path, "r", cache=la.InMemory()) as s:
        x = s["x"]
        assert_same_as_numpy(x.__getitem__, a, ([3, 1], 2))


# ------------------------------------------------------------------ coherence
def test_pytables_writes_are_seen_once_flushed(store):
    a = np.arange(30.0).reshape(10, 3)
    x = store.create_array("x", a, backend="plain")
    assert mapped(x) is not None
    node = x.backend.fileref.file.get_node("/x")
    node[4] = -1.0
    node.flush()
    a[4] = -1.0
    np.testing.assert_array_equal(np.asarray(x), a)


def test_node_created_again_gets_a_new_map(store):
    x = store.create_array("x", np.zeros((5, 2)), backend="plain")
    m1 = mapped(x)
    f = x.backend.fileref.file
    with la.backends.HDF5_LOCK:
        f.remove_node("/x")
        f.create_array("/", "x", obj=np.full((5, 2), 7.0))
        f.flush()
    y = store["x"]
    assert mapped(y) is not m1
    np.testing.assert_array_equal(np.asarray(y), np.full((5, 2), 7.0))
    np.testing.assert_array_equal(np.asarray(x), np.full((5, 2), 7.0))


def test_close_and_reopen_drop_the_maps(tmp_path):
    path = tmp_path / "o.h5"
    s = la.open(path, "w")
    x = s.create_array("x", np.arange(6.0), backend="plain")
    m = mapped(x)
    f = x.backend.fileref.file
    assert f in _mmap._MAPS
    s.close()
    assert f not in _mmap._MAPS
    with pytest.raises(ClosedError):
        x[0]
    with la.open(path, "r") as s2:
        x2 = s2["x"]
        m2 = mapped(x2)
        assert m2 is not None and m2 is not m and not m2.array.flags.writeable
        np.testing.assert_array_equal(x2[::-1], np.arange(6.0)[::-1])
        with pytest.raises(la.ReadOnlyError):
            x2[0] = 1.0


def test_several_arrays_and_stores_share_one_map(tmp_path):
    path = tmp_path / "s.h5"
    with la.open(path, "w") as s:
        s.create_array("a", np.zeros((4, 4), "<i8"), backend="plain")
        s.create_array("b", np.ones((4, 4), ">i8"), backend="plain")
    s1, s2 = la.open(path, "r+"), la.open(path, "r+")
    try:
        a1, a2, b1 = s1["a"], s2["a"], s1["b"]
        assert mapped(a1) is mapped(a2) and mapped(a1) is not mapped(b1)
        a1[1] = 5
        b1[:, 2] = 9
        assert (a2[1] == 5).all() and (s2["b"][:, 2] == 9).all()
    finally:
        s1.close()
        s2.close()


def test_backend_reads_and_writes_validate(store):
    x = store.create_array("v", np.zeros((3, 3)), backend="plain")
    b = x.backend
    assert isinstance(b, PlainBackend) and b.map() is not None
    with pytest.raises(ValueError, match="entries"):
        b.read((slice(0, 3, 1),))
    with pytest.raises(ValueError, match="shape"):
        b.write((slice(0, 3, 1), slice(0, 3, 1)), np.ones((3, 2)))
    assert b.describe()["mapped_at"] == b.map().offset


def test_swapwindow_passes_mapped_reads_through(tmp_path):
    """A window over a memory map would only copy it: reads go to the map."""
    path = tmp_path / "w.h5"
    a = np.arange(4000 * 8, dtype="<f4").reshape(4000, 8)
    with la.open(path, "w") as s:
        s.create_array("x", a, backend="plain")
        s.create_array("u", shape=(4000, 8), dtype="<f4", backend="plain")  # no storage
    with la.open(path, "r", cache=la.SwapWindow(64 * 1024)) as s:
        x, u = s["x"], s["u"]
        assert x.backend.mapped and not u.backend.mapped
        assert x.cache == la.SwapWindow(64 * 1024)
        for i in range(0, 4000, 256):
            np.testing.assert_array_equal(x[i : i + 256], a[i : i + 256])
            np.testing.assert_array_equal(u[i : i + 256], np.zeros((256, 8), "<f4")[: 4000 - i])
        assert x._cache.nbytes_held == 0 and x.cache_stats["hits"] == 0
        # The node without storage keeps PyTables' path, and a real window.
        assert u.cache_stats["hits"] > 0
