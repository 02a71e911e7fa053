"""RaggedArray on both ragged backends, against a Python list of arrays.

The model of a ragged array is a plain list of NumPy arrays. For any key,
``r[key]`` must give what NumPy gives on ``obj``, the 1-d object array of the
model's items (``r[i, rest...]`` is ``model[i][rest...]``), with lists in
place of object arrays; for a key NumPy rejects, the same exception type.
"""

from __future__ import annotations

import itertools
import os
import pickle
from typing import Any

import numpy as np
import pytest
import tables
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lazyarr as la
from lazyarr import ragged as ragged_mod
from lazyarr.errors import ClosedError, CorruptStoreError, ReadOnlyError

BACKENDS = ["offsets", "vl"]
_counter = itertools.count()


# ------------------------------------------------------------------ oracle
def object_array(items: list[np.ndarray]) -> np.ndarray:
    obj = np.empty(len(items), dtype=object)
    for i, a in enumerate(items):
        obj[i] = a  # one by one: NumPy would stack equal-shaped items
    return obj


def model_getitem(items: list[np.ndarray], key: Any) -> Any:
    """What ``r[key]`` must return, computed with NumPy on the model."""
    obj = object_array(items)
    if isinstance(key, tuple) and len(key) > 1 and ragged_mod._item_index(key[0]) is not None:
        return obj[key[0]][key[1:]]
    res = obj[key]
    if isinstance(res, np.ndarray) and res.dtype == object:
        return res.tolist()
    return res


def assert_same(got: Any, want: Any, where: str = "") -> None:
    """Same structure, and per array the same values, dtype and shape."""
    if isinstance(want, list):
        assert isinstance(got, list), f"{where}: expected a list, got {type(got)}"
        assert len(got) == len(want), f"{where}: {len(got)} items, expected {len(want)}"
        for j, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{j}]")
        return
    assert type(got) is type(want), f"{where}: type {type(got)}, expected {type(want)}"
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype, f"{where}: dtype {got.dtype}, expected {want.dtype}"
        assert got.shape == want.shape, f"{where}: shape {got.shape}, expected {want.shape}"
    else:
        assert np.asarray(got).dtype == np.asarray(want).dtype, where
    assert np.array_equal(got, want), f"{where}: {got!r} != {want!r}"


def check_key(r: Any, items: list[np.ndarray], key: Any) -> None:
    """The parity oracle: same result, or the same exception type."""
    try:
        want = model_getitem(items, key)
    except Exception as exc:  # noqa: BLE001 - NumPy's verdict is the spec
        with pytest.raises(type(exc)):
            r[key]
        return
    assert_same(r[key], want, f"r[{key!r}]")


# -------------------------------------------------------------- strategies
DTYPES = ["float32", ">i2", "int64", "uint8", "bool", "complex64", "S3"]


def elements(dt: np.dtype) -> st.SearchStrategy:
    if dt.kind == "f":
        return st.floats(-100, 100, width=8 * dt.itemsize)
    if dt.kind in "iu":
        return st.integers(0, 100)
    if dt.kind == "b":
        return st.booleans()
    if dt.kind == "c":
        return st.complex_numbers(max_magnitude=100, width=8 * dt.itemsize)
    return st.text(alphabet="abc", max_size=dt.itemsize).map(str.encode)


@st.composite
def models(draw: Any, max_items: int = 10) -> tuple[np.dtype, int, list[np.ndarray]]:
    """A dtype, an item ndim (1..3) and a list of items, zero-size ones included."""
    dt = np.dtype(draw(st.sampled_from(DTYPES)))
    nd = draw(st.integers(1, 3))
    n = draw(st.integers(0, max_items))
    items = []
    for _ in range(n):
        shape = tuple(draw(st.lists(st.integers(0, 4), min_size=nd, max_size=nd)))
        items.append(draw(hnp.arrays(dt, shape, elements=elements(dt))))
    return dt, nd, items


def outer_keys(n: int) -> st.SearchStrategy:
    """Keys on the item axis, valid or not: what NumPy says goes."""
    idx = st.integers(-n - 2, n + 1)
    opt = st.one_of(st.none(), st.integers(-n - 3, n + 3))
    return st.one_of(
        idx,
        idx.map(np.int32),
        st.builds(slice, opt, opt, st.one_of(st.none(), st.integers(-3, 3))),
        st.lists(st.integers(-n - 1, n), max_size=6),
        st.lists(st.integers(-n, max(n - 1, -n)), max_size=6).map(lambda v: np.array(v, dtype=np.int64)),
        hnp.arrays(np.intp, st.tuples(st.integers(0, 2), st.integers(0, 3)),
                   elements=st.integers(-n, max(n - 1, 0))),
        hnp.arrays(bool, n),
        hnp.arrays(bool, n + 1),
        st.integers(-n - 1, n).map(np.array),  # 0-d integer arrays
        st.sampled_from([None, Ellipsis, (), (Ellipsis,), (None, slice(None)), (Ellipsis, -1),
                         True, False, 1.5, "a", (0, 0, 0, 0, 0), (slice(None), 0)]),
    )


@st.composite
def item_keys(draw: Any, items: list[np.ndarray]) -> tuple:
    """``(i, rest...)``: an item, then a NumPy key inside it."""
    n = len(items)
    i = draw(st.integers(-n, n - 1))
    shape = items[i].shape
    rest = draw(st.one_of(
        hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True),
        st.lists(st.integers(-shape[0], shape[0] - 1), max_size=4) if shape[0] else st.just([]),
        hnp.arrays(bool, shape[:1]),
        st.just((0,) * (len(shape) + 1)),  # too many indices
    ))
    rest = rest if isinstance(rest, tuple) else (rest,)
    return (i,) + rest if draw(st.booleans()) else (np.int64(i),) + rest


def write_plan(n: int) -> st.SearchStrategy:
    """How to add ``n`` items: batch sizes (1 = ``append``) and flushes between."""
    return st.lists(st.tuples(st.integers(1, 4), st.booleans()), min_size=n, max_size=n)


def fill(r: Any, items: list[np.ndarray], plan: list[tuple[int, bool]]) -> None:
    pos = 0
    for size, flush in plan:
        if pos >= len(items):
            break
        batch = items[pos : pos + size]
        if len(batch) == 1 and size == 1:
            r.append(batch[0])
        else:
            r.extend(batch)
        pos += len(batch)
        if flush:
            r.flush()


# ------------------------------------------------------------ properties
@pytest.mark.parametrize("meta_cached", [True, False], ids=["meta-in-memory", "meta-on-disk"])
@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30)
@given(model=models(), data=st.data())
def test_reads_match_model(tmp_path, monkeypatch, backend, meta_cached, model, data):
    from lazyarr.backends import ragged_base

    monkeypatch.setattr(ragged_base, "META_CACHE_BYTES", 16 * 2**20 if meta_cached else 0)
    dt, nd, items = model
    path = tmp_path / f"prop-{backend}.h5"
    name = f"r{next(_counter)}"
    with la.open(path, "a") as store:
        r = store.create_ragged(name, dtype=dt, item_ndim=nd, backend=backend,
                                compression=data.draw(st.sampled_from(["blosc2:zstd", "zlib", None])))
        fill(r, items, data.draw(write_plan(len(items))))
        # Some items may still be buffered: reads must see them.
        for key in data.draw(st.lists(outer_keys(len(items)), max_size=3)):
            check_key(r, items, key)
    with la.open(path) as store:
        r = store[name]
        assert isinstance(r, la.RaggedArray)
        assert len(r) == len(items) and r.dtype == dt and r.item_ndim == nd
        assert r.backend.kind == f"ragged-{backend}"
        assert r.shapes.dtype == np.int64
        assert r.shapes.tolist() == [list(a.shape) for a in items] or (not items and r.shapes.shape == (0, nd))
        assert r.nbytes == sum(a.nbytes for a in items)
        assert_same(list(r), list(items), "list(r)")
        arr = np.asarray(r)
        assert arr.dtype == object and arr.shape == (len(items),)
        for key in data.draw(st.lists(outer_keys(len(items)), min_size=1, max_size=8)):
            check_key(r, items, key)
        if items:
            for key in data.draw(st.lists(item_keys(items), min_size=1, max_size=6)):
                check_key(r, items, key)


# -------------------------------------------------------------- fixtures
def pseudo_images(n: int, seed: int = 1999) -> list[np.ndarray]:
    """The walkthrough's "pseudo images": random int32 2-d items of 2..9 x 2..9."""
    rs = np.random.RandomState(seed)
    out = []
    for _ in range(n):
        shape = rs.randint(2, 10, 2)
        out.append(rs.randint(0, 256, shape[0] * shape[1]).astype(np.int32).reshape(shape))
    return out


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def filled(tmp_path, backend):
    """A closed file with 300 pseudo images in ``/imgs``, and the model."""
    path = tmp_path / f"filled-{backend}.h5"
    items = pseudo_images(300)
    with la.open(path, "w") as store:
        store.create_ragged("imgs", dtype="int32", item_ndim=2, backend=backend).extend(items)
    return path, items


# ---------------------------------------------------------- basic surface
def test_surface_and_repr_read_no_data(filled, monkeypatch):
    path, items = filled
    with la.open(path) as store:
        r = store["imgs"]
        assert sorted(store) == ["/imgs"] and "imgs" in store
        monkeypatch.setattr(type(r.backend), "read_items", None)  # any item read fails
        text = repr(r)
        assert text.startswith("RaggedArray(len=300, dtype=int32, item_ndim=2, backend='ragged-")
        assert r.cache == la.NoCache() and r.cache_stats["backend_reads"] == 0
        assert r.nbytes == sum(a.nbytes for a in items)
        assert 0 < r.nbytes_stored
        np.testing.assert_array_equal(r.shapes, [a.shape for a in items])


def test_item_index_types(filled):
    path, items = filled
    with la.open(path) as store:
        r = store["imgs"]
        for k in (0, -1, np.int8(5), np.uint64(7), np.int64(-300), np.array(3)):
            assert_same(r[k], items[int(k)])
        for k in (300, -301, np.int64(10**6)):
            with pytest.raises(IndexError, match="out of bounds"):
                r[k]
        with pytest.raises(IndexError):
            r[300, 0]
        assert_same(r[4, ::-1, [0, 0]], items[4][::-1, [0, 0]])
        assert_same(r[4, 1, 1], items[4][1, 1])  # a NumPy scalar
        assert_same(r[4, ...], items[4][...])
        with pytest.raises(IndexError):
            r[4, 0, 0, 0]
        with pytest.raises(IndexError):
            r[1.0]
        with pytest.raises(ValueError):
            r[::0]


def test_asarray_iter_and_copy_false(filled):
    path, items = filled
    with la.open(path) as store:
        r = store["imgs"]
        arr = np.asarray(r)
        assert arr.dtype == object and arr.shape == (300,)
        assert_same(list(arr), items)
        with pytest.raises(ValueError):
            np.asarray(r, copy=False)
        with pytest.raises(ValueError):
            r.__array__(copy=False)
        assert_same(list(r), items)


def test_equal_shaped_items_stay_items(tmp_path, backend):
    with la.open(tmp_path / "eq.h5", "w") as store:
        r = store.create_ragged("r", dtype="f8", item_ndim=1, backend=backend)
        r.extend(np.ones((3, 2)))  # a regular array is a batch of rows
        arr = np.asarray(r)
        assert arr.shape == (3,) and arr.dtype == object and arr[0].shape == (2,)


def test_repeated_indices_give_distinct_arrays(filled):
    path, items = filled
    with la.open(path) as store:
        got = store["imgs"][[5, 5, -295]]
        assert got[0] is not got[1] and not np.shares_memory(got[0], got[1])
        assert_same(got, [items[5]] * 3)


# ------------------------------------------------------------- bulk reads
class CountReads:
    """Count HDF5 hyperslab reads, raw chunk reads (Blosc2 data decoded by
    lazyarr) and VLArray reads (monkeypatched classes)."""

    def __init__(self, monkeypatch):
        self.n = 0
        for cls, name in ((tables.EArray, "_g_read_slice"), (tables.EArray, "read_chunk"),
                          (tables.VLArray, "read")):
            orig = getattr(cls, name)

            def wrapper(node, *a, _orig=orig, **k):
                self.n += 1
                return _orig(node, *a, **k)

            monkeypatch.setattr(cls, name, wrapper)


@pytest.mark.parametrize("meta_cached", [True, False], ids=["meta-in-memory", "meta-on-disk"])
def test_slice_is_three_reads(tmp_path, monkeypatch, meta_cached):
    """A slice is one flat read, plus one read per metadata column when the
    metadata is too large to keep in memory."""
    from lazyarr.backends import ragged_base

    if not meta_cached:
        monkeypatch.setattr(ragged_base, "META_CACHE_BYTES", 0)
    per_slice = 1 if meta_cached else 3
    path = tmp_path / "bulk.h5"
    items = pseudo_images(2000)
    with la.open(path, "w") as store:
        store.create_ragged("imgs", dtype="int32", item_ndim=2).extend(items)
    with la.open(path) as store:
        r = store["imgs"]
        count = CountReads(monkeypatch)
        got = r[500:1500]
        assert count.n == per_slice
        assert_same(got, items[500:1500])
        count.n = 0
        # The same items again: the data's decoded Blosc2 blocks are still in
        # memory (the node's block LRU), only metadata may be read again.
        assert_same(r[1500:500:-1], items[1500:500:-1])
        assert count.n == per_slice - 1
        count.n = 0
        # Two runs far apart (in bytes of data) and a repeat: a few reads, not 6.
        idx = [1999, 3, 4, 5, 1998, 4]
        assert_same(r[idx], [items[i] for i in idx])
        assert count.n <= per_slice + 1
        count.n = 0
        assert_same(list(r), items)
        # All of the data lies in one chunk, decoded before: no data read.
        assert count.n == per_slice - 1 and r.cache_stats["backend_reads"] == 4
        np.testing.assert_array_equal(r.shapes, [a.shape for a in items])


def test_vl_slice_is_one_row_read(tmp_path, monkeypatch):
    path = tmp_path / "bulkvl.h5"
    items = pseudo_images(500)
    with la.open(path, "w") as store:
        store.create_ragged("imgs", dtype="int32", item_ndim=2, backend="vl").extend(items)
    with la.open(path) as store:
        r = store["imgs"]
        count = CountReads(monkeypatch)
        assert_same(r[100:400], items[100:400])
        assert count.n == 1  # one VLArray.read of the run (shapes are in memory)


# ---------------------------------------------------------------- appends
def test_appends_are_buffered_and_visible(tmp_path, backend):
    path = tmp_path / "buf.h5"
    with la.open(path, "w") as store:
        r = store.create_ragged("r", dtype="float32", item_ndim=2, backend=backend)
        a = np.arange(6.0).reshape(2, 3)
        r.append(a)
        a[:] = -1  # the caller reuses its array: the stored item must not change
        r.append(np.zeros((0, 4)))
        assert r.backend.committed() == 0  # still buffered
        assert len(r) == 2
        got = r[0]
        assert_same(got, np.arange(6.0, dtype=np.float32).reshape(2, 3))
        got[:] = 99  # a copy, not the buffer
        assert_same(r[:], [np.arange(6.0, dtype=np.float32).reshape(2, 3),
                           np.zeros((0, 4), np.float32)])
        np.testing.assert_array_equal(r.shapes, [[2, 3], [0, 4]])
        assert r.nbytes == 24
    # Leaving the with block wrote the buffer.
    with la.open(path) as store:
        assert_same(store["r"][:], [np.arange(6.0, dtype=np.float32).reshape(2, 3),
                                    np.zeros((0, 4), np.float32)])


def test_store_flush_and_chunk_size_writes(tmp_path, backend, monkeypatch):
    path = tmp_path / "fl.h5"
    store = la.open(path, "w")
    r = store.create_ragged("r", dtype="int64", item_ndim=1, backend=backend)
    r.append([1, 2])
    store.flush()
    assert r.backend.committed() == 1
    monkeypatch.setattr(ragged_mod, "FLUSH_ITEMS", 10)
    for i in range(25):
        r.append(np.arange(i))
    assert r.backend.committed() == 21  # written at the buffer limit, not per item
    store.close()
    with la.open(path) as store:
        assert_same(store["r"][1:], [np.arange(i) for i in range(25)])


def test_bad_appends_write_nothing(tmp_path, backend):
    path = tmp_path / "bad.h5"
    with la.open(path, "w") as store:
        r = store.create_ragged("r", dtype="int16", item_ndim=2, backend=backend)
        r.append(np.ones((1, 1), np.int16))
        bad_batches = [
            ([np.ones((2, 2), np.int16), np.ones(3, np.int16)], ValueError),  # ndim
            ([np.ones((2, 2), np.int16), np.ones((2, 2))], TypeError),  # float -> int
            ([np.ones((2, 2), np.int16), np.array([[70000]])], ValueError),  # range
            ([np.ones((2, 2), np.int16), np.array([[None]], dtype=object)], TypeError),
            ([np.ones((2, 2), np.int16), [[1, 2], [3]]], ValueError),  # NumPy: inhomogeneous
            ([np.ones((2, 2), np.int16), np.ones((1, 1), "U1")], TypeError),
        ]
        for batch, exc in bad_batches:
            with pytest.raises(exc):
                r.extend(batch)
            assert len(r) == 1
        with pytest.raises(ValueError):
            r.append(np.ones((2, 2, 2), np.int16))
        r.flush()
        assert len(r) == 1
    with la.open(path) as store:
        assert_same(store["r"][:], [np.ones((1, 1), np.int16)])


def test_read_only_and_closed(filled):
    path, items = filled
    store = la.open(path)
    r = store["imgs"]
    with pytest.raises(ReadOnlyError):
        r.append(items[0])
    with pytest.raises(ReadOnlyError):
        store.create_ragged("x", dtype="f4", item_ndim=1)
    store.close()
    with pytest.raises(ClosedError):
        r[0]
    with pytest.raises(ClosedError):
        r.append(items[0])
    assert "len=?" in repr(r)


def test_append_after_reopen(filled):
    path, items = filled
    with la.open(path, "r+") as store:
        store["imgs"].extend(items[:5])
    with la.open(path) as store:
        assert_same(store["imgs"][:], items + items[:5])


def test_pickle_by_reference(tmp_path, backend):
    path = tmp_path / "p.h5"
    with la.open(path, "w") as store:
        r = store.create_ragged("r", dtype="f8", item_ndim=1, backend=backend)
        r.extend([np.arange(3.0), np.arange(1.0)])
        r2 = pickle.loads(pickle.dumps(r))  # flushes first
        assert_same(r2[:], [np.arange(3.0), np.arange(1.0)])
        assert r.backend.committed() == 2


def test_open_array_gives_ragged(filled):
    path, items = filled
    r = la.open_array(path, "/imgs")
    assert isinstance(r, la.RaggedArray)
    assert_same(r[-2:], items[-2:])


def test_create_errors(tmp_path):
    with la.open(tmp_path / "e.h5", "w") as store:
        store.create_ragged("a/b", dtype="f4", item_ndim=1)
        with pytest.raises(ValueError, match="already exists"):
            store.create_ragged("a/b", dtype="f4", item_ndim=1)
        with pytest.raises(ValueError, match="backend"):
            store.create_ragged("x", dtype="f4", item_ndim=1, backend="compressed")
        with pytest.raises(ValueError, match="item_ndim"):
            store.create_ragged("x", dtype="f4", item_ndim=0)
        with pytest.raises(ValueError, match="compression"):
            store.create_ragged("x", dtype="f4", item_ndim=1, compression="zip")
        with pytest.raises(TypeError):
            store.create_ragged("x", dtype="U3", item_ndim=1)
        with pytest.raises(ValueError):
            store.create_array("y", np.ones(3), backend="ragged-offsets")
        assert "/x" not in store and sorted(store) == ["/a", "/a/b"]
        with pytest.raises(ValueError, match="is an array"):
            store.create_array("a/b/c", np.ones(3))


# ----------------------------------------------------------- corrupt stores
def _tamper(path, fn):
    with tables.open_file(path, "a") as f:
        fn(f)


@pytest.mark.parametrize(
    "case, row, value, match",
    [
        ("overlap", 3, [0, 999], "item 3: start 0 is before"),
        ("past_end", 299, None, "item 299: stop .* past the end"),
        ("reversed", 7, "swap", "item 7: start .* > stop"),
        ("size", 10, [[1, 1]], "item 10: shape \\(1, 1\\) holds 1 elements"),
        ("negative", 12, [[-2, 3]], "item 12: negative shape"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_corrupt_offsets_store(tmp_path, case, row, value, match):
    path = tmp_path / "c.h5"
    with la.open(path, "w") as store:
        store.create_ragged("imgs", dtype="int32", item_ndim=2).extend(pseudo_images(300))

    def tamper(f):
        b = f.get_node("/imgs/bounds")
        if case == "past_end":
            b[row] = [b[row][0], f.get_node("/imgs/data").nrows + 1]
        elif case == "reversed":
            b[row] = b[row][::-1]
        elif case == "overlap":
            b[row] = value
        else:
            f.get_node("/imgs/shapes")[row] = value[0]

    _tamper(path, tamper)
    with la.open(path) as store:
        with pytest.raises(CorruptStoreError, match=f"'/imgs' in .* is corrupt at {match}") as info:
            store["imgs"]
        assert isinstance(info.value, ValueError)
        # Discovery still lists it: the error belongs to opening it.
        assert list(store) == ["/imgs"]


def test_corrupt_vl_store(tmp_path):
    path = tmp_path / "cvl.h5"
    with la.open(path, "w") as store:
        store.create_ragged("imgs", dtype="int32", item_ndim=2, backend="vl").extend(pseudo_images(50))
    _tamper(path, lambda f: f.get_node("/imgs/shapes").__setitem__(20, [100, 100]))
    with la.open(path) as store:
        r = store["imgs"]
        assert_same(r[:20], pseudo_images(50)[:20])
        with pytest.raises(CorruptStoreError, match="corrupt at item 20: shape \\(100, 100\\)"):
            r[15:25]
    _tamper(path, lambda f: f.get_node("/imgs/shapes").__setitem__(30, [-1, 0]))
    with la.open(path) as store:
        with pytest.raises(CorruptStoreError, match="item 30: negative shape"):
            store["imgs"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_interrupted_write_leaves_prefix(tmp_path, backend):
    """Rows past the last complete item are ignored on open and trimmed on append."""
    path = tmp_path / "int.h5"
    items = pseudo_images(20)
    with la.open(path, "w") as store:
        store.create_ragged("imgs", dtype="int32", item_ndim=2, backend=backend).extend(items)

    def half_write(f):
        # What a crash before the commit record leaves: the data row(s), and
        # for offsets the shape row too (its commit record is start/stop).
        f.get_node("/imgs/data").append(np.full(7, -1, np.int32))
        if backend == "offsets":
            f.get_node("/imgs/shapes").append(np.array([[7, 1]]))

    _tamper(path, half_write)
    with la.open(path) as store:
        r = store["imgs"]
        assert len(r) == 20
        assert_same(r[:], items)
    with la.open(path, "a") as store:
        store["imgs"].append(items[0])
    with la.open(path) as store:
        assert_same(store["imgs"][:], items + items[:1])
    with tables.open_file(path) as f:
        assert f.get_node("/imgs/shapes").nrows == 21
        if backend == "offsets":
            assert f.get_node("/imgs/data").nrows == sum(a.size for a in items + items[:1])


# ------------------------------------------------ the walkthrough's layouts
def write_walkthrough_offsets(path, n=200, seed=1999):
    """The walkthrough's EArray layout, written as it writes it (int32 columns,
    blosc, data -> start/stop -> shape), with whole items per append."""
    items = []
    with tables.open_file(path, mode="w") as f:
        filters = tables.Filters(complevel=5, complib="blosc")
        data = f.create_earray(f.root, "data", tables.Int32Atom(), shape=(0,), filters=filters,
                               expectedrows=50 * n)
        ss = f.create_earray(f.root, "data_start_and_stop", tables.Int32Atom(), shape=(0, 2),
                             filters=filters)
        shp = f.create_earray(f.root, "data_shape", tables.Int32Atom(), shape=(0, 2),
                              filters=filters)
        rs = np.random.RandomState(seed)
        start = 0
        for _ in range(n):
            shape = rs.randint(2, 10, 2)
            length = shape[0] * shape[1]
            img = rs.randint(0, 256, length)
            data.append(img)
            stop = start + length
            ss.append(np.array((start, stop))[None])
            shp.append(np.array(shape)[None])
            items.append(img.astype(np.int32).reshape(shape))
            start = stop
    return items


def write_walkthrough_vl(path, n=200, seed=1999):
    """The walkthrough's VLArray layout: float32 rows and an int32 shape column."""
    items = []
    with tables.open_file(path, mode="w") as f:
        data = f.create_vlarray(f.root, "data", tables.Float32Atom(shape=()))
        shapes = f.create_earray(f.root, "data_shape", tables.Int32Atom(), shape=(0, 2),
                                 expectedrows=n)
        rs = np.random.RandomState(seed)
        for _ in range(n):
            shape = (int(100 * rs.randn() ** 2), rs.randint(2, 10))
            a = rs.randn(*shape)
            data.append(a.ravel())
            shapes.append(np.array(shape)[None])
            items.append(a.astype(np.float32))
    return items


def test_walkthrough_offsets_layout_opens(tmp_path):
    path = tmp_path / "my_earray_variable_length_data.hdf5"
    items = write_walkthrough_offsets(path)
    with la.open(path) as store:
        r = store.ragged("data", shapes="data_shape", bounds="data_start_and_stop")
        assert r.backend.kind == "ragged-offsets" and r.dtype == np.int32 and len(r) == 200
        assert_same(r[-2], items[-2])
        assert_same(r[-20:-1], items[-20:-1])
        assert_same(list(r), items)
        assert_same(r[[3, 1, 3]], [items[3], items[1], items[3]])
        assert r.shapes.dtype == np.int64
        with pytest.raises(KeyError):
            store.ragged("data", shapes="nope", bounds="data_start_and_stop")
        with pytest.raises(KeyError):
            store.ragged("data")  # not a lazyarr group: needs shapes=
    # Appending keeps the walkthrough's int32 columns.
    with la.open(path, "a") as store:
        store.ragged("data", shapes="data_shape", bounds="data_start_and_stop").extend(items[:3])
    with la.open(path) as store:
        r = store.ragged("data", shapes="data_shape", bounds="data_start_and_stop")
        assert_same(r[:], items + items[:3])
        r2 = pickle.loads(pickle.dumps(r))
        assert_same(r2[-1], items[2])


def test_walkthrough_vl_layout_opens(tmp_path):
    path = tmp_path / "my_nd_variable_length_data.hdf5"
    items = write_walkthrough_vl(path)
    with la.open(path) as store:
        r = store.ragged("data", shapes="data_shape")
        assert r.backend.kind == "ragged-vl" and r.dtype == np.float32
        assert_same(r[-1], items[-1])
        assert [a.shape for a in r[-5:-1]] == [a.shape for a in items[-5:-1]]
        assert_same(list(r), items)
    with la.open(path, "a") as store:
        store.ragged("data", shapes="data_shape").append(items[0])
    with la.open(path) as store:
        assert_same(store.ragged("data", shapes="data_shape")[-1], items[0])


def test_walkthrough_offsets_with_bad_bounds(tmp_path):
    path = tmp_path / "w.h5"
    write_walkthrough_offsets(path, n=20)
    _tamper(path, lambda f: f.root.data_start_and_stop.__setitem__(5, [0, 4]))
    with la.open(path) as store:
        with pytest.raises(CorruptStoreError, match="'/data' .* corrupt at item 5"):
            store.ragged("data", shapes="data_shape", bounds="data_start_and_stop")


def test_ragged_method_on_own_group(filled):
    path, items = filled
    with la.open(path) as store:
        r = store.ragged("imgs", cache=la.NoCache())
        assert_same(r[0], items[0])
        with pytest.raises(TypeError):
            store.ragged("imgs", bounds="x")


def test_big_endian_dtype_roundtrip(tmp_path, backend):
    items = [np.arange(6, dtype=">f8").reshape(2, 3), np.zeros((1, 0), ">f8")]
    with la.open(tmp_path / "be.h5", "w") as store:
        store.create_ragged("r", dtype=">f8", item_ndim=2, backend=backend).extend(items)
    with la.open(tmp_path / "be.h5") as store:
        r = store["r"]
        assert r.dtype == np.dtype(">f8")
        assert_same(r[:], items)


def test_files_are_cleaned_up_by_tmp_path(tmp_path):
    # Guard: tests above write only below tmp_path.
    assert not os.path.exists("imgs")


def test_single_items_from_cached_windows(tmp_path, monkeypatch):
    """Random items come from cached windows of the flat data: each one a copy,
    and items appended later (through this array or another) are seen."""
    from lazyarr.backends import _flat_data

    monkeypatch.setattr(_flat_data, "ITEM_WINDOW_BYTES", 256)  # many small windows
    monkeypatch.setattr(_flat_data, "ITEM_CACHE_BYTES", 1024)  # and an LRU that evicts
    path = tmp_path / "win.h5"
    items = pseudo_images(300)
    with la.open(path, "w") as store:
        store.create_ragged("imgs", dtype="int32", item_ndim=2).extend(items[:200])
    with la.open(path, "a") as store:
        r, other = store["imgs"], store["imgs"]
        rng = np.random.default_rng(5)
        for i in rng.integers(0, 200, 300).tolist():
            got = r[i]
            np.testing.assert_array_equal(got, items[i])
            got[...] = -1  # the caller's own array: the window is untouched
        assert_same([r[i] for i in range(200)], items[:200])
        other.extend(items[200:250])  # another array of the same node appends
        other.flush()  # (appends are buffered until then)
        r.extend(items[250:])
        r.flush()
        for i in [199, 200, 249, 250, 299] + rng.integers(0, 300, 100).tolist():
            np.testing.assert_array_equal(r[i], items[i])
            np.testing.assert_array_equal(other[i], items[i])


# ------------------------------------------- item views over one buffer
def _item_view_impls() -> list:
    """Both implementations of ``item_views``: the C loop (when the install
    built ``lazyarr._speedups``) and the Python fallback."""
    from lazyarr.backends import ragged_base

    c = ragged_base._item_views_c
    return [pytest.param(ragged_base._item_views_py, id="python"),
            pytest.param(c, id="c", marks=pytest.mark.skipif(
                c is None, reason="lazyarr._speedups was not built (no C compiler at install)"))]


@st.composite
def packed_items(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 1-d buffer and ``(starts, shapes)`` of items packed in it with gaps:
    few distinct shapes (so that the Python ``item_views`` stacks them) or many."""
    nd = draw(st.integers(1, 3))
    pool = draw(st.lists(st.tuples(*[st.integers(0, 4)] * nd), min_size=1, max_size=draw(st.sampled_from([2, 40]))))
    shapes = draw(st.lists(st.sampled_from(pool), max_size=60))
    starts, pos = [], 0
    for s in shapes:
        pos += draw(st.integers(0, 3))  # a gap before the item
        starts.append(pos)
        pos += int(np.prod(s))
    buf = np.arange(pos + draw(st.integers(0, 3)), dtype=draw(st.sampled_from(["<i4", ">f8", "u1"])))
    if draw(st.booleans()):
        buf.flags.writeable = False
    return buf, np.array(starts, dtype=np.int64), np.array(shapes, dtype=np.int64).reshape(len(shapes), nd)


@pytest.mark.parametrize("impl", _item_view_impls())
@given(packed=packed_items())
@example(packed=(np.arange(0, dtype="<i4"), np.zeros(8, np.int64), np.array([[3, 0]] * 8)))
@example(packed=(np.arange(16, dtype="<i4"), np.arange(8, dtype=np.int64) * 2, np.array([[1, 2]] * 8)))
def test_item_views_are_the_items(impl, packed):
    from lazyarr.testing import assert_same_outcome

    buf, starts, shapes = packed
    got = impl(buf, starts, shapes)
    assert_same_outcome(
        lambda: got,
        lambda: [buf[a : a + int(np.prod(s))].reshape(s) for a, s in zip(starts.tolist(), shapes.tolist())],
        "item_views")
    for g in got:
        assert g.flags.c_contiguous and g.base is not None and np.shares_memory(g, buf) == (g.size > 0)
        assert g.flags.writeable == buf.flags.writeable


@pytest.mark.skipif(not _item_view_impls()[1].values[0], reason="lazyarr._speedups was not built")
@pytest.mark.parametrize("buf, starts, shapes, match", [
    (np.arange(10), [8], [[3]], "outside the buffer"),
    (np.arange(10), [-1], [[2]], "outside the buffer"),
    (np.arange(10), [0, 11], [[1], [0]], "item 1 .* outside the buffer"),
    (np.arange(10), [0], [[-2, -3]], "negative dimension"),
    (np.arange(10), [0], [[2**40, 2**40]], "more elements than the buffer"),
    (np.arange(10), [0], [[2**62, 2**62, 2]], "more elements than the buffer"),
    (np.arange(10), [0, 1], [[1]], "2 starts but 1 shapes"),
    (np.arange(10).reshape(2, 5), [0], [[1]], "1-d C-contiguous"),
    (np.arange(10)[::2], [0], [[1]], "1-d C-contiguous"),
    (np.arange(10), [[0]], [[1]], "too deep"),
    (np.arange(10), [0], [1], "too small depth"),
])
def test_c_item_views_refuse_items_outside_the_buffer(buf, starts, shapes, match):
    """The C loop checks every item before it makes a view: a corrupt start
    or shape is a ValueError, never memory outside ``buf``."""
    from lazyarr.backends.ragged_base import _item_views_c

    with pytest.raises(ValueError, match=match):
        _item_views_c(buf, np.asarray(starts), np.asarray(shapes))


@pytest.mark.skipif(not _item_view_impls()[1].values[0], reason="lazyarr._speedups was not built")
def test_c_item_views_keep_the_buffer_alive():
    """Each view holds its buffer (a reference, not a copy): dropping every
    other name of the buffer leaves the items readable."""
    import gc
    import weakref

    from lazyarr.backends.ragged_base import _item_views_c

    buf = np.arange(12, dtype=np.float32)
    ref = weakref.ref(buf)
    views = _item_views_c(buf, np.array([0, 2, 12]), np.array([[1, 2], [5, 2], [2**40, 0]]))
    del buf
    gc.collect()
    assert ref() is not None
    np.testing.assert_array_equal(views[1], np.arange(2, 12, dtype=np.float32).reshape(5, 2))
    assert views[2].shape == (2**40, 0)
    del views
    gc.collect()
    assert ref() is None
