"""Blosc2 chunks written by lazyarr and read block by block through a map
(lazyarr.backends._b2blocks).

Every property test compares the mapped block reader with NumPy (through the
oracle) *and* with PyTables' own decoding of the same node (``raw_chunks =
False``), over block sizes, dtypes, partial last chunks and blocks, appends
that move the chunk index, writes, and several arrays over one file.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os

import numpy as np
import pytest
import tables
from hypothesis import given, settings
from hypothesis import strategies as st

import lazyarr as la
from lazyarr.backends import _b2blocks, _b2decode, _b2write
from lazyarr.backends.compressed import CompressedBackend
from lazyarr.testing import assert_same_as_numpy, dtypes, keys

#: Examples per property test: each writes an HDF5 file, so a third of the
#: profile's (dev 33, ci 133, heavy 1333).
EXAMPLES = max(10, settings.default.max_examples // 3)
#: Block sizes the tests write with: tiny (many blocks per chunk, padded
#: chunks), odd, and the default.
BLOCKS = [64, 200, 1024, _b2write.BLOCK_BYTES]


@pytest.fixture
def decoded(monkeypatch):
    """Bytes handed to blosc2 to decode, one entry per decode call."""
    seen: list[int] = []
    orig = _b2decode.decode

    def counted(src, dst):
        seen.append(dst.nbytes)
        return orig(src, dst)

    monkeypatch.setattr(_b2decode, "decode", counted)
    return seen


@pytest.fixture
def hdf5_reads(monkeypatch):
    """Names of the PyTables read calls made."""
    seen = []
    for cls, name in [(tables.Leaf, "read_chunk"), (tables.Array, "_g_read_slice"),
                      (tables.Array, "_g_read_selection")]:
        orig = getattr(cls, name)

        def counted(self, *a, _orig=orig, _name=name, **k):
            seen.append(_name)
            return _orig(self, *a, **k)

        monkeypatch.setattr(cls, name, counted)
    return seen


def _values(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    v = rng.integers(-1000, 1000, shape)
    if np.dtype(dtype).kind == "S":
        return v.astype("S4")
    if np.dtype(dtype).kind == "b":
        return v % 3 == 0
    if np.dtype(dtype).kind == "u":
        v = np.abs(v)
    return v.astype(dtype)


def _reference(store, name):
    ref = store[name]
    ref.backend.raw_chunks = False  # PyTables decodes: the reference
    return ref


# ---------------------------------------------------------------- writing
@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape, chunks", [((1000, 7), (300, 7)), ((50, 6, 9), (7, 4, 5)),
                                           ((10,), (4,)), ((3, 2), (1000, 2))])
def test_files_read_by_pytables_and_h5py(tmp_path, monkeypatch, block, shape, chunks):
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("hdf5plugin")
    monkeypatch.setattr(_b2write, "BLOCK_BYTES", block)
    a = _values(shape, "f8")
    path = tmp_path / "w.h5"
    with la.open(path, "w") as s:
        x = s.create_array("x", a, chunks=chunks)
        x.append(a[:2])
        x.append(a[:1])
    want = np.concatenate([a, a[:2], a[:1]])
    with tables.open_file(path) as f:
        np.testing.assert_array_equal(f.root.x[:], want)
        np.testing.assert_array_equal(f.root.x[1::3], want[1::3])
        # The frames say the block size PyTables' filter was told (PT_DEFAULT_B2_BLOCKSIZE).
        rows = _b2write.block_rows(chunks, 8)
        raw = f.root.x.read_chunk((0,) * len(shape))
        h = int.from_bytes(raw[11:15], "big")
        assert int.from_bytes(raw[h + 8 : h + 12], "little") == rows * 8 * int(np.prod(chunks[1:]))
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["x"][()], want)


def test_frames_are_what_blosc2_makes(tmp_path):
    # The hand-assembled frame equals blosc2.asarray's, byte for byte
    # (one thread: blosc2's threads may store blocks in another order).
    import blosc2

    a = _values((100, 64), "f4")
    w = _b2write._writer((128, 64), "<f4", blosc2.Codec.ZSTD, 1, True)
    w = w._replace(cparams=dataclasses.replace(w.cparams, nthreads=1))
    ours = _b2write.encode(w, a)
    pad = np.zeros((128, 64), "f4")
    pad[:100] = a
    theirs = blosc2.asarray(pad.view("V4"), chunks=(128, 64), blocks=(128, 64),
                            cparams=w.cparams).to_cframe()
    assert ours == theirs


def test_write_chunk_path_needs_blosc2_and_native_order(tmp_path):
    with la.open(tmp_path / "n.h5", "w") as s:
        nodes = {
            "zstd": s.create_array("a", np.arange(10.0)),
            "zlib": s.create_array("b", np.arange(10.0), compression="zlib"),
            "big-endian": s.create_array("c", np.arange(10.0).astype(">f8")),
        }
        got = {k: _b2write.writer(v.backend._node()) is not None for k, v in nodes.items()}
    assert got == {"zstd": True, "zlib": False, "big-endian": False}


# ---------------------------------------------------------------- reading
@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_block_reader_same_as_numpy_and_pytables(tmp_path_factory, data):
    block = data.draw(st.sampled_from(BLOCKS), label="block bytes")
    dtype = data.draw(dtypes(byteorders=("<",)), label="dtype")
    ndim = data.draw(st.integers(1, 3), label="ndim")
    shape = tuple(data.draw(st.lists(st.integers(1, 9), min_size=ndim - 1, max_size=ndim - 1)))
    shape = (data.draw(st.integers(1, 300), label="rows"),) + shape
    chunks = (data.draw(st.integers(1, 64), label="chunk rows"),) + tuple(
        data.draw(st.integers(1, n)) for n in shape[1:])
    a = _values(shape, dtype, data.draw(st.integers(0, 9)))
    path = tmp_path_factory.mktemp("b") / "a.h5"
    old = _b2write.BLOCK_BYTES
    _b2write.BLOCK_BYTES = block
    try:
        with la.open(path, "w") as s:
            s.create_array("x", a, chunks=chunks)
    finally:
        _b2write.BLOCK_BYTES = old
    # Whole chunks decoded on several threads at once (any size), or as a
    # large read decides.
    parallel = data.draw(st.booleans(), label="parallel decode")
    with la.open(path) as s:
        x, ref = s["x"], _reference(s, "x")
        old_parallel = _b2decode.PARALLEL_BYTES
        if parallel:
            _b2decode.PARALLEL_BYTES = 0
        try:
            for _ in range(4):
                key = data.draw(keys(a.shape), label="key")
                assert_same_as_numpy(x.__getitem__, a, key)
                try:
                    want = ref[key]
                except Exception:  # noqa: BLE001 - NumPy rejected it: the oracle checked the type
                    continue
                np.testing.assert_array_equal(x[key], want)
        finally:
            _b2decode.PARALLEL_BYTES = old_parallel


def test_parallel_decode_of_whole_chunks(tmp_path, monkeypatch):
    """Whole chunks of a large read decode on several threads at once: the
    same values, every thread joined, and a failing chunk's error raised."""
    import threading

    a = _values((5000, 7), np.dtype("<f4"), 3)
    path = tmp_path / "p.h5"
    with la.open(path, "w") as s:
        s.create_array("x", a, chunks=(256, 7))
    monkeypatch.setattr(_b2decode, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(_b2decode, "threads", lambda: 3)
    seen: set[str] = set()
    orig = _b2decode.decode

    def watched(src, dst):
        seen.add(threading.current_thread().name)
        return orig(src, dst)

    monkeypatch.setattr(_b2decode, "decode", watched)
    with la.open(path) as s:
        x = s["x"]
        np.testing.assert_array_equal(x[:], a)
        np.testing.assert_array_equal(x[256:4864], a[256:4864])
        if _b2decode.releases_gil():
            assert "lazyarr-decode" in seen and threading.current_thread().name in seen
        assert not [t for t in threading.enumerate() if t.name == "lazyarr-decode"]
        calls = []

        def failing(src, dst):
            calls.append(1)
            if len(calls) == 5:
                raise RuntimeError("Error while decompressing a Blosc2 chunk (test)")
            return orig(src, dst)

        monkeypatch.setattr(_b2decode, "decode", failing)
        with pytest.raises(Exception, match="decompressing"):
            x[:]
        assert not [t for t in threading.enumerate() if t.name == "lazyarr-decode"]
        monkeypatch.setattr(_b2decode, "decode", orig)
        np.testing.assert_array_equal(x[:], a)


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_appends_writes_and_two_arrays_on_one_file(tmp_path_factory, data):
    # Appends move the chunk index (and rewrite the last chunk in place),
    # writes rewrite chunks; two nodes and two array objects over one node
    # share the file's map and caches. A NumPy model follows every step.
    path = tmp_path_factory.mktemp("s") / "s.h5"
    cols = data.draw(st.integers(1, 5), label="cols")
    crow = data.draw(st.integers(1, 40), label="chunk rows")
    models = {n: _values((data.draw(st.integers(0, 50)), cols), "i4", i) for i, n in enumerate("xy")}
    with la.open(path, "w") as s:
        arrs = {n: s.create_array(n, m, chunks=(crow, cols)) for n, m in models.items()}
        other = s["x"]  # a second array object over node x
        for _ in range(data.draw(st.integers(1, 12), label="steps")):
            n = data.draw(st.sampled_from("xy"))
            what = data.draw(st.sampled_from(["append", "append1", "write", "read", "other"]))
            m = models[n]
            if what.startswith("append"):
                k = 1 if what == "append1" else data.draw(st.integers(1, 3 * crow))
                rows = _values((k, cols), "i4", len(m))
                arrs[n].append(rows)
                models[n] = np.concatenate([m, rows])
            elif what == "write" and len(m):
                i = data.draw(st.integers(0, len(m) - 1))
                arrs[n][i] = -i
                m[i] = -i
            else:
                x = other if (what == "other" and n == "x") else arrs[n]
                key = data.draw(keys(m.shape, invalid=False), label="key")
                assert_same_as_numpy(x.__getitem__, models[n], key)
        for n in "xy":
            np.testing.assert_array_equal(np.asarray(arrs[n]), models[n])
    with tables.open_file(path) as f:
        for n in "xy":
            np.testing.assert_array_equal(f.get_node("/" + n)[:], models[n])


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_buffered_one_row_appends_interleaved(tmp_path_factory, data):
    # One-row appends wait in the node's tail without growing HDF5's extent
    # (_b2write.append_small); every other step -- reads through either of
    # two array objects, shapes, writes, bulk appends, flushes, a close and
    # reopen, PyTables' own read after a flush -- sees exactly the model.
    path = tmp_path_factory.mktemp("t") / "t.h5"
    cols = data.draw(st.integers(1, 4), label="cols")
    crow = data.draw(st.integers(2, 12), label="chunk rows")
    m = _values((data.draw(st.integers(0, 20), label="rows"), cols), "i4", 1)
    s = la.open(path, "w")
    try:
        x = s.create_array("x", m, chunks=(crow, cols))
        other = s["x"]
        for _ in range(data.draw(st.integers(1, 25), label="steps")):
            what = data.draw(st.sampled_from(["append1"] * 4 + ["appendk", "write", "read", "shape",
                                                                  "flush", "reopen"]))
            if what.startswith("append"):
                k = 1 if what == "append1" else data.draw(st.integers(1, 2 * crow))
                rows = _values((k, cols), "i4", len(m) + 7)
                (x if data.draw(st.booleans()) else other).append(rows[0] if k == 1 else rows)
                m = np.concatenate([m, rows])
            elif what == "write" and len(m):
                i = data.draw(st.integers(-len(m), len(m) - 1))
                other[i] = -5
                m[i] = -5
            elif what == "read":
                key = data.draw(keys(m.shape, invalid=False), label="key")
                assert_same_as_numpy(data.draw(st.sampled_from([x, other])).__getitem__, m, key)
            elif what == "shape":
                assert x.shape == other.shape == m.shape and len(x) == len(m)
            elif what == "flush":
                s.flush()
                np.testing.assert_array_equal(x.backend._node().read(), m)  # PyTables' own read
            else:
                s.close()
                s = la.open(path, "a")
                x, other = s["x"], s["x"]
        assert x.shape == m.shape
        np.testing.assert_array_equal(x[:], m)
    finally:
        s.close()
    with tables.open_file(path) as f:
        np.testing.assert_array_equal(f.root.x[:], m)
        assert f.root.x._v_attrs["LAZYARR_ROWS"] == len(m)


def test_reads_touch_only_needed_blocks(tmp_path, decoded, hdf5_reads):
    a = _values((8192, 64), "f4")  # 2 chunks of 4096 rows, blocks of 128 rows
    with la.open(tmp_path / "r.h5", "w") as s:
        x = s.create_array("x", a, chunks=(4096, 64))
        x[0]  # the chunk index is cached from here on
        hdf5_reads.clear()
        decoded.clear()
        np.testing.assert_array_equal(x[5000], a[5000])
        assert decoded == [128 * 64 * 4]  # one block
        decoded.clear()
        rows = [3, 5, 130, 4095, 4096, 8191, 3]
        np.testing.assert_array_equal(x[rows], a[rows])
        assert decoded == [5 * 128 * 64 * 4]  # 5 distinct blocks in one decode call
        decoded.clear()
        np.testing.assert_array_equal(x[:], a)
        assert decoded == [4096 * 64 * 4] * 2  # each chunk once, straight into the result
        assert hdf5_reads == []  # no chunk ever came through HDF5


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_one_row_path_same_as_numpy_and_pytables(tmp_path_factory, data):
    # x[i] and x[i, basic key] on arrays one chunk wide decode one block with
    # no chunk projection (_b2blocks._one_row); rows in the short last block,
    # partial last chunks and padded chunks take the general path.
    block = data.draw(st.sampled_from(BLOCKS), label="block bytes")
    cols = data.draw(st.integers(1, 9), label="cols")
    rows = data.draw(st.integers(1, 300), label="rows")
    crow = data.draw(st.integers(1, 64), label="chunk rows")
    a = _values((rows, cols), data.draw(st.sampled_from(["<f4", "<i8", "<u2"])), rows)
    path = tmp_path_factory.mktemp("o") / "o.h5"
    old = _b2write.BLOCK_BYTES
    _b2write.BLOCK_BYTES = block
    try:
        with la.open(path, "w") as s:
            s.create_array("x", a, chunks=(crow, cols))
    finally:
        _b2write.BLOCK_BYTES = old
    with la.open(path) as s:
        x, ref = s["x"], _reference(s, "x")
        for _ in range(6):
            i = data.draw(st.integers(-rows - 2, rows + 1), label="row")
            key = data.draw(st.sampled_from([i, (i,), (i, slice(None)), (i, -1),
                                             (i, slice(1, None, 2)), (i, slice(None, None, -1))]))
            assert_same_as_numpy(x.__getitem__, a, key)
            if -rows <= i < rows:
                np.testing.assert_array_equal(x[key], ref[key])


def test_one_row_path_decodes_one_block(tmp_path, decoded, hdf5_reads, monkeypatch):
    a = _values((8192, 64), "f4")  # 2 chunks of 4096 rows, blocks of 128 rows
    calls = []
    orig = _b2blocks._one_row
    monkeypatch.setattr(_b2blocks, "_one_row", lambda *a: calls.append(a[2]) or orig(*a))
    with la.open(tmp_path / "r.h5", "w") as s:
        x = s.create_array("x", a, chunks=(4096, 64))
        x[0], x[4096]  # the chunk index is cached from here on
        decoded.clear(), calls.clear(), hdf5_reads.clear()
        for i in (5000, 0, 8191, -1, 4095):
            np.testing.assert_array_equal(x[i], a[i])
            np.testing.assert_array_equal(x[i, 3:9:2], a[i, 3:9:2])
        assert calls == [5000, 5000, 0, 0, 8191, 8191, 8191, 8191, 4095, 4095]
        assert decoded == [128 * 64 * 4] * 10 and hdf5_reads == []
        x[3] = -1  # a write drops the chunk index: the general path reads it again
        np.testing.assert_array_equal(x[3], np.full(64, -1, "f4"))


def test_uncompressible_and_special_chunks(tmp_path):
    rng = np.random.default_rng(0)
    a = np.zeros((3000, 8), "u1")
    a[1000:2000] = rng.integers(0, 256, (1000, 8))  # stored uncompressed (memcpyed)
    a[2000:] = 7  # a run: a special-value chunk
    with la.open(tmp_path / "u.h5", "w") as s:
        x = s.create_array("x", a, chunks=(1000, 8))
        for key in [slice(None), 1500, [5, 1999, 2000, 2999], slice(990, 2010, 3)]:
            np.testing.assert_array_equal(x[key], a[key])


def test_pytables_nd_blocks(tmp_path):
    # PyTables picks N-d blocks for N-d chunks: their rows are not contiguous
    # once decoded. Both raw paths leave such chunks to PyTables (the
    # read_chunk path decoded them out of C order before).
    a = np.arange(8 * 64 * 512, dtype="f8").reshape(8, 64, 512)
    path = tmp_path / "nd.h5"
    with tables.open_file(path, "w") as f:
        f.create_carray("/", "x", obj=a, chunkshape=(4, 64, 512),
                        filters=tables.Filters(complevel=1, complib="blosc2:zstd"))
        assert not _b2blocks.rows_blocked(f.root.x.read_chunk((0, 0, 0)), (4, 64, 512))
    with la.open(path) as s:
        for mapped in (True, False):
            x = s["x"]
            x.backend.mapped_blocks = mapped
            for key in [slice(None), 3, (3, 5), [1, 6]]:
                np.testing.assert_array_equal(x[key], a[key])


def test_core_driver_reads_and_appends(tmp_path):
    # No file to map under the core driver: the read_chunk path, and
    # PyTables compresses (its own Blosc2 reads take chunks from disk).
    a = _values((500, 6), "f4")
    path = tmp_path / "m.h5"
    with la.open(path, "w") as s:
        s.create_array("x", a, chunks=(64, 6))
    with la.open(path, "r+", cache=la.InMemory()) as s:
        x = s["x"]
        assert _b2write.writer(x.backend._node()) is None
        x.append(a[:3])
        x[2] = 9.0
        want = np.concatenate([a, a[:3]])
        want[2] = 9.0
        np.testing.assert_array_equal(np.asarray(x), want)


def test_checksums_need_a_verifier(tmp_path, monkeypatch):
    a = _values((300, 4), "f8")
    path = tmp_path / "f.h5"
    with tables.open_file(path, "w") as f:
        f.create_carray("/", "x", obj=a, chunkshape=(100, 4),
                        filters=tables.Filters(complevel=1, complib="blosc2:zstd", fletcher32=True))
    # Without a verifier (lazyarr/backends/_checksum.py installs one on
    # import), Fletcher32 nodes are left to PyTables.
    monkeypatch.setattr(_b2blocks, "_FLETCHER32", None)
    with la.open(path) as s:
        x = s["x"]
        assert not _b2blocks.eligible(x.backend._node())
        np.testing.assert_array_equal(x[[5, 299]], a[[5, 299]])  # PyTables checks them
    # Installed, the verifier sees every stored chunk once, frame + checksum.
    seen = []

    def verify(buf):
        seen.append(len(buf))
        return True

    _b2blocks.set_verifier(lambda frame: b"\0" * 4, verify)
    with la.open(path) as s:
        x = s["x"]
        node = x.backend._node()
        sizes = sorted(node.chunk_info((r, 0)).size for r in (0, 100, 200))
        for _ in range(2):
            np.testing.assert_array_equal(x[[5, 150, 299]], a[[5, 150, 299]])
        assert sorted(seen) == sizes
        # A chunk the verifier rejects goes to PyTables (which checks it too).
        seen.clear()
        _b2blocks.forget(node)
        _b2blocks.set_verifier(lambda frame: b"\0" * 4, lambda buf: False)
        np.testing.assert_array_equal(x[[5, 299]], a[[5, 299]])


def test_buffered_appends_written_on_flush_and_close(tmp_path):
    a = _values((10, 3), "i8")
    path = tmp_path / "t.h5"
    with la.open(path, "w") as s:
        x = s.create_array("x", a[:0], chunks=(4, 3))
        for row in a:
            x.append(row[None])
        node = x.backend._node()
        # Rows 8, 9 wait in memory; HDF5's extent grows when they are written.
        assert node.nrows == 8 and x.shape == (10, 3) and len(x) == 10
        s.flush()
        assert node.nrows == 10
        np.testing.assert_array_equal(node.read(), a)  # through PyTables' own read
        x.append(a[:1])
    with tables.open_file(path) as f:
        np.testing.assert_array_equal(f.root.x[:], np.concatenate([a, a[:1]]))


@pytest.mark.parametrize("dtype", ["<f8", ">f8", ">i2", "?", "S3", "<c8"])
def test_files_written_by_pytables(tmp_path, decoded, dtype):
    # PyTables' own frames (its default 128 KiB blocks, any byte order) take
    # the block path too: one block for one row.
    a = _values((5000, 8), dtype)
    path = tmp_path / "p.h5"
    order = {">": "big", "<": "little"}.get(np.dtype(dtype).byteorder)
    with tables.open_file(path, "w") as f:
        node = f.create_carray("/", "x", atom=tables.Atom.from_dtype(a.dtype.newbyteorder("=")),
                               shape=a.shape, chunkshape=(2048, 8), byteorder=order,
                               filters=tables.Filters(complevel=1, complib="blosc2:zstd", shuffle=True))
        node[:] = a
    with la.open(path) as s:
        x = s["x"]
        assert x.dtype == a.dtype
        x[0]
        decoded.clear()
        assert_same_as_numpy(x.__getitem__, a, 4500)
        rows = max(1, 2**17 // (8 * a.dtype.itemsize))  # PyTables' default block
        assert decoded == [min(rows, 2048) * 8 * a.dtype.itemsize]
        for key in [slice(None), [4999, 0, 2048, 2047], np.arange(5000) % 7 == 0, (slice(None), 3)]:
            assert_same_as_numpy(x.__getitem__, a, key)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_reads(tmp_path):
    # The parent's decoder keeps blosc2 threads alive; a child forked then
    # could never decode on threads (it hung): the decoder is freed first.
    a = _values((4000, 10), "f8")
    path = tmp_path / "f.h5"
    with la.open(path, "w") as s:
        s.create_array("x", a, chunks=(1000, 10))
    with la.open(path) as s:
        x = s["x"]
        np.testing.assert_array_equal(x[:], a)  # the decoder and its threads exist now
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(1) as pool:
            got = pool.apply_async(_child_sum, (x,)).get(timeout=120)
        assert got == float(a.sum() + a[[1, 2000]].sum())
        np.testing.assert_array_equal(x[[5, 3999]], a[[5, 3999]])


def _child_sum(x):
    return float(x[:].sum() + x[[1, 2000]].sum())


def test_a_flushed_partial_chunk_keeps_its_place_and_length(tmp_path):
    # HDF5 frees and reuses the space of a chunk whose length changes while the
    # flushed chunk index still points there: a kill -9 before the next flush
    # then lost the chunk's flushed rows. A chunk flushed partial is stored
    # uncompressed from then on (one length), so HDF5 rewrites it in place.
    a = _values((200, 5), "f4")
    path = tmp_path / "p.h5"
    with la.open(path, "w") as s:
        x = s.create_array("x", a[:70], chunks=(64, 5))  # its partial chunk: compressed
        node = x.backend._node()
        x.append(a[70])
        s.flush()  # rewritten uncompressed: its length changes this once
        first = node.chunk_info((64, 0))
        for i in range(71, 128):  # fills the chunk, flushing between rows
            x.append(a[i])
            if i % 7 == 0:
                s.flush()
                info = node.chunk_info((64, 0))
                assert (info.offset, info.size) == (first.offset, first.size)
        s.flush()
        info = node.chunk_info((64, 0))
        assert (info.offset, info.size) == (first.offset, first.size)  # full now, same place
        x.append(a[128:200])
        assert node.chunk_info((128, 0)).size < first.size  # a chunk never flushed partial: compressed
        np.testing.assert_array_equal(x[:], a)
    with tables.open_file(path) as f:
        np.testing.assert_array_equal(f.root.x[:], a)
    import h5py
    import hdf5plugin  # noqa: F401

    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["x"][:], a)


def test_many_small_reads_give_their_mapped_pages_back(tmp_path, monkeypatch):
    # Single rows touch one block each; they add up, and past RELEASE_BYTES
    # the map gives its pages back (else a random walk over a large file
    # would keep every page it touched in the process's memory).
    released = []
    orig = _b2blocks._Map.release
    monkeypatch.setattr(_b2blocks._Map, "release",
                        lambda self, lo, hi: released.append((lo, hi)) or orig(self, lo, hi))
    a = np.random.default_rng(0).random((8192, 64)).astype("f4")  # incompressible: 32 KiB blocks
    with la.open(tmp_path / "m.h5", "w") as s:
        x = s.create_array("x", a, chunks=(4096, 64))
        x[0], x[4096]
        released.clear()
        for i in range(0, 8192, 128):  # one row of each block: ~1.8 MiB of compressed blocks touched
            np.testing.assert_array_equal(x[i], a[i])
        assert 5 <= len(released) <= 8
