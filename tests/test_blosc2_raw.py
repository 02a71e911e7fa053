"""Blosc2 chunks decoded by the ``blosc2`` package (lazyarr.backends._blosc2).

The property tests of ``test_indexing.py`` and ``test_stateful.py`` run every
key, write and append over Blosc2 nodes with tiny chunks through this path,
and through PyTables (``compressed-pytables``) as the reference. These tests
pin what those cannot see: which HDF5 calls are made, the per-chunk
fallbacks, multi-block chunks, and the block cache's invalidation.
"""

from __future__ import annotations

import numpy as np
import pytest
import tables
from hypothesis import given, settings
from hypothesis import strategies as st

import lazyarr as la
from lazyarr.backends._checksum import fletcher32
from lazyarr.backends import _blosc2
from lazyarr.testing import assert_same_as_numpy, keys


@pytest.fixture(autouse=True)
def read_chunk_path(monkeypatch):
    """This file tests the read_chunk path; tests/test_b2blocks.py the mapped one."""
    from lazyarr.backends.compressed import CompressedBackend

    monkeypatch.setattr(CompressedBackend, "mapped_blocks", False)


@pytest.fixture
def store(tmp_path):
    with la.open(tmp_path / "b.h5", "w") as s:
        yield s


@pytest.fixture
def calls(monkeypatch):
    """Names of the PyTables read calls made, in order."""
    seen = []
    for name in ["_g_read_slice", "_g_read_selection", "read_chunk"]:
        cls = tables.Leaf if name == "read_chunk" else tables.Array
        orig = getattr(cls, name)

        def counted(self, *args, _orig=orig, _name=name, **kw):
            seen.append(_name)
            return _orig(self, *args, **kw)

        monkeypatch.setattr(cls, name, counted)
    return seen


@pytest.mark.parametrize("key", [slice(None), [5, 1050, 1999, 3], (slice(None, None, 7), 2),
                                 np.arange(2000) % 3 == 0, -1])
def test_one_lock_acquisition_per_read(store, monkeypatch, key):
    # Issue 12: at most one HDF5-lock acquisition per backend read, however
    # many chunks it touches (up to RAW_BATCH_BYTES of them, 4 MiB; these are
    # about 1 KiB each); the chunks are decoded after the lock is let go.
    a = np.arange(20000.0).reshape(2000, 10)
    x = store.create_array("x", a, chunks=(100, 10))
    real = _blosc2.HDF5_LOCK
    taken = []

    class Counting:
        def __enter__(self):
            taken.append(1)
            return real.__enter__()

        def __exit__(self, *exc):
            return real.__exit__(*exc)

    monkeypatch.setattr(_blosc2, "HDF5_LOCK", Counting())
    assert_same_as_numpy(x.__getitem__, a, key)
    assert len(taken) == 1
    # Batches of one chunk each: the same answers, one acquisition a chunk.
    monkeypatch.setattr(_blosc2, "RAW_BATCH_BYTES", 1)
    _blosc2.invalidate(x.backend._node())
    taken.clear()
    assert_same_as_numpy(x.__getitem__, a, key)
    rows = np.arange(2000)[key[0] if isinstance(key, tuple) else key]
    assert len(taken) == len(np.unique(rows // 100))


def test_reads_raw_chunks_only(store, calls):
    a = np.arange(20000.0).reshape(2000, 10)
    x = store.create_array("x", a, chunks=(100, 10))
    calls.clear()
    np.testing.assert_array_equal(x[[5, 1050, 1999]], a[[5, 1050, 1999]])
    assert calls == ["read_chunk"] * 3
    calls.clear()
    np.testing.assert_array_equal(x[:], a)
    assert calls == ["read_chunk"] * 20


@pytest.mark.parametrize("compression", ["zlib", None])
def test_other_filters_go_through_pytables(store, calls, compression):
    a = np.arange(100.0).reshape(20, 5)
    x = store.create_array("x", a, chunks=(4, 5), compression=compression)
    calls.clear()
    np.testing.assert_array_equal(x[3:9], a[3:9])
    assert "read_chunk" not in calls


def test_fletcher32_chunks_are_read_raw_and_verified(tmp_path, calls):
    # Issue 14: checksummed chunks are decoded by blosc2 too, their
    # Fletcher32 checked by lazyarr instead of HDF5's pipeline.
    path = tmp_path / "f.h5"
    a = np.arange(100.0).reshape(20, 5)
    with tables.open_file(path, "w") as f:
        f.create_carray("/", "x", obj=a, chunkshape=(4, 5),
                        filters=tables.Filters(5, "blosc2:zstd", fletcher32=True))
    x = la.open_array(path, "/x")
    calls.clear()
    np.testing.assert_array_equal(x[[1, 17]], a[[1, 17]])
    assert "read_chunk" in calls


def test_missing_chunks_read_as_fill_value(store):
    # Grown without writing chunks: only chunk 1 is in storage.
    x = store.create_array("x", shape=(40, 3), dtype="i4", chunks=(10, 3))
    x[12:15] = 7
    want = np.zeros((40, 3), "i4")
    want[12:15] = 7
    np.testing.assert_array_equal(x[:], want)
    np.testing.assert_array_equal(x[[0, 13, 39]], want[[0, 13, 39]])


def test_chunk_with_skipped_filter_is_read_by_pytables(store):
    a = np.arange(40, dtype="<i4").reshape(20, 2)
    x = store.create_array("x", a, chunks=(5, 2))
    node = x.backend._node()
    # Store chunk 1 uncompressed, its filter mask saying the filter was skipped.
    new = np.arange(100, 110, dtype="<i4").reshape(5, 2)
    # Fletcher32 (not skipped) still ends the stored chunk.
    raw = new.tobytes()
    node.write_chunk((5, 0), raw + fletcher32(raw).to_bytes(4, "little"), filter_mask=1)
    _blosc2.invalidate(node)
    a[5:10] = new
    np.testing.assert_array_equal(x[:], a)
    np.testing.assert_array_equal(x[[6, 12]], a[[6, 12]])


@pytest.mark.parametrize("dtype", [">f8", "<i2", "?", "S3", ">c8"])
def test_byte_orders_and_kinds(store, dtype):
    rng = np.random.default_rng(1)
    a = (rng.random((300, 4)) * 100).astype(dtype)
    x = store.create_array("x", a, chunks=(64, 4))
    assert x.dtype == a.dtype
    for key in [slice(None), [299, 0, 150], (slice(None, None, -3), 2), 77]:
        assert_same_as_numpy(x.__getitem__, a, key)


def test_multi_block_chunks_and_the_lru(store, monkeypatch):
    # 2 MiB chunks of several Blosc2 blocks: single rows decode one block.
    rng = np.random.default_rng(0)
    a = np.round(rng.normal(size=(20000, 64)), 2).astype("f4")
    x = store.create_array("x", a, chunks=(8192, 64))
    node = x.backend._node()
    lru = _blosc2._lru(node)
    lru.clear()
    for i in [0, 1, 8191, 8192, 4000, 19999, 12000]:
        np.testing.assert_array_equal(x[i], a[i])
    held = lru.nbytes
    assert 0 < held < 7 * 8192 * 64 * 4  # blocks, not whole chunks
    np.testing.assert_array_equal(x[4001:4003], a[4001:4003])  # served from cache
    assert lru.nbytes == held
    monkeypatch.setattr(_blosc2, "LRU_BYTES", 300_000)
    for i in range(0, 20000, 997):
        np.testing.assert_array_equal(x[i], a[i])
    assert lru.nbytes <= 300_000


def test_writes_and_appends_through_another_object_invalidate(store):
    a = np.arange(60.0).reshape(20, 3)
    x = store.create_array("x", a, chunks=(8, 3))
    y = store["x"]  # a second array object over the same node
    assert x[19, 0] == 57.0 and x[3, 1] == 10.0  # now cached
    y[3] = -1.0
    y[19, 0] = -2.0
    assert x[3, 1] == -1.0 and x[19, 0] == -2.0
    y.append(np.full((3, 3), 5.0))  # rewrites the last, partial chunk
    np.testing.assert_array_equal(x[18:], [[54.0, 55.0, 56.0], [-2.0, 58.0, 59.0]] + [[5.0] * 3] * 3)


@settings(max_examples=60)
@given(data=st.data())
def test_same_answers_as_pytables(tmp_path_factory, data):
    # The raw path against PyTables' own decoding, on keys over many chunks.
    rows = data.draw(st.integers(1, 400), label="rows")
    cols = data.draw(st.integers(1, 6), label="cols")
    crow = data.draw(st.integers(1, 64), label="chunk rows")
    ccol = data.draw(st.integers(1, cols), label="chunk cols")
    a = np.arange(rows * cols, dtype="i8").reshape(rows, cols) * 3 - 7
    path = tmp_path_factory.mktemp("p") / "a.h5"
    with la.open(path, "w") as s:
        x = s.create_array("x", a, chunks=(crow, ccol), compression="blosc2:lz4")
        ref = s["x"]
        ref.backend.raw_chunks = False
        for _ in range(3):
            key = data.draw(keys(a.shape), label="key")
            try:
                want = ref[key]
            except Exception as exc:  # noqa: BLE001 - the reference decides
                with pytest.raises(type(exc)):
                    x[key]
                continue
            assert_same_as_numpy(x.__getitem__, a, key)
            np.testing.assert_array_equal(x[key], want)


def test_foreign_fill_value(tmp_path):
    h5py = pytest.importorskip("h5py")
    hdf5plugin = pytest.importorskip("hdf5plugin")
    path = tmp_path / "h.h5"
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", shape=(40, 3), dtype="i4", chunks=(10, 3), fillvalue=5,
                             **hdf5plugin.Blosc2())
        d[12:15] = 7
    want = np.full((40, 3), 5, "i4")
    want[12:15] = 7
    x = la.open_array(path, "/x")
    np.testing.assert_array_equal(x[:], want)
    np.testing.assert_array_equal(x[[0, 13, 25]], want[[0, 13, 25]])


@pytest.mark.parametrize("raw", [True, False], ids=["blosc2", "pytables"])
def test_writes_seen_under_the_core_driver(tmp_path, raw):
    # Raw-chunk reads miss writes still in HDF5's chunk cache under the core
    # driver (PyTables' own Blosc2 reads too): found through a lazy view.
    a = np.random.default_rng(0).standard_normal((200, 6)).astype(np.float32)
    path = tmp_path / "m.h5"
    with la.open(path, "w") as s:
        s.create_array("data", a)
    with la.open(path, "r+", cache=la.InMemory()) as s:
        x = s["data"]
        x.backend.raw_chunks = raw
        np.testing.assert_array_equal(np.asarray(x), a)
        x[21, 5] = 99.0
        a[21, 5] = 99.0
        x.append(a[:3])
        np.testing.assert_array_equal(np.asarray(x), np.concatenate([a, a[:3]]))


@pytest.mark.parametrize("fill", [0, 7], ids=["zeros", "constant"])
def test_special_chunks(store, fill):
    # Blosc2 stores an all-zero chunk as a special value in the frame's
    # index, not as a chunk: read through blosc2's own frame parsing.
    a = np.full((9000, 8), fill, dtype="i4")
    a[5000:5003] = np.arange(24).reshape(3, 8)
    x = store.create_array("x", a, chunks=(1000, 8))
    for key in [slice(None), 4500, [0, 5001, 8999], slice(990, 1010)]:
        assert_same_as_numpy(x.__getitem__, a, key)


def _fletcher32_by_definition(data: bytes) -> int:
    """H5_checksum_fletcher32 word by word (the reference for the vectorized one)."""
    s1 = s2 = 0
    words = [data[i] << 8 | data[i + 1] for i in range(0, len(data) - 1, 2)]
    if len(data) % 2:
        words.append(data[-1] << 8)
    for w in words:
        s1 = (s1 + w) % 65535
        s2 = (s2 + s1) % 65535
    return (s2 << 16) | s1


@pytest.mark.parametrize("n", [0, 1, 2, 3, 2**17 - 1, 2**17, 2**17 + 1, 2**17 + 2, 3 * 2**17 + 5])
def test_fletcher32_matches_its_definition_across_steps(n):
    # Lengths around the vectorized sum's step of 2**16 words; all-0xff bytes
    # give the largest sums (an int64 overflow would show there).
    # Both implementations: HDF5's own (exported by the library PyTables
    # loaded) may write a sum of 0 as 0xffff, as HDF5 does on disk.
    from lazyarr.backends._checksum import _folded, _numpy_fletcher32

    rng = np.random.default_rng(n)
    for data in (rng.bytes(n), b"\xff" * n):
        want = _fletcher32_by_definition(data)
        assert _numpy_fletcher32(data) == want
        assert _folded(fletcher32(data)) == _folded(want)
        assert _folded(fletcher32(memoryview(data))) == _folded(want)  # read-only buffers too
