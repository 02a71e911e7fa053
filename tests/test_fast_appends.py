"""The one-row append's fast path (CompressedBackend.appender, _b2write.putter).

After an append, ``x.append(rows)`` of an ndarray of the array's own dtype
and row shape copies the rows into the node's buffered tail with only the
checks that case needs. Everything else takes the full path, and must raise
exactly what it raised before: the tests run every input through an array
whose fast path is armed and through one whose fast path is always off, and
compare both with NumPy.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import tables
from hypothesis import given, settings
from hypothesis import strategies as st

import lazyarr as la
from lazyarr.backends import _b2write
from lazyarr.testing import assert_same_as_numpy, keys

EXAMPLES = max(10, settings.default.max_examples // 3)

#: How the rows of one append are handed over.
FORMS = ["slice", "slice", "slice", "strided", "fortran", "row", "list", "zero", "wider", "transposed",
         "wider dtype", "narrower int", "out of range", "complex", "scalar", "backend cast", "many"]


def _rows(form, k, row_shape, dtype, seed):
    """Rows for one append in ``form``, and what NumPy would append (None: an error)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0 if dtype.kind == "u" else -100, 100, (k,) + row_shape).astype(dtype)
    if form == "slice":
        big = rng.integers(-100, 100, (k + 3,) + row_shape).astype(dtype)
        return big[2 : 2 + k], big[2 : 2 + k]
    if form == "strided":
        big = np.repeat(base, 2, axis=0)
        big[1::2] = 77
        return big[::2], base
    if form == "fortran":
        return np.asfortranarray(base), base
    if form == "row":
        return base[0], base[:1]
    if form == "list":
        return base.tolist(), base
    if form == "zero":
        return base[:0], base[:0]
    if form == "wider":
        return np.zeros((k,) + row_shape[:-1] + (row_shape[-1] + 1,), dtype), None
    if form == "transposed":  # the same number of elements per row, another row shape
        rows = np.ascontiguousarray(np.swapaxes(base, 1, -1))
        return rows, (rows if rows.shape == base.shape else None)
    if form == "wider dtype":  # same_kind: cast like NumPy
        return base.astype(np.float64 if dtype.kind == "f" else np.int64), base
    if form == "narrower int":
        return base.astype(np.int8), base.astype(np.int8).astype(dtype)
    if form == "out of range":
        return np.full((k,) + row_shape, 2**40, np.int64), (None if dtype.kind in "iu" else
                                                           np.full((k,) + row_shape, 2**40, np.int64).astype(dtype))
    if form == "complex":
        return base.astype(np.complex64), None
    if form == "scalar":
        return np.array(5, dtype), None
    if form == "backend cast":  # a same_kind dtype, straight to the backend
        return base.astype({"f": np.float64, "i": np.int64, "u": np.uint16}[dtype.kind]), base
    assert form == "many"
    big = rng.integers(-100, 100, (3 * k + 9,) + row_shape).astype(dtype)
    return big, big


def _append(x, rows, form, fast):
    if not fast:
        x._append_fast = None  # the full path, as before the fast path existed
    if form == "backend cast":
        x.backend.append(rows)  # put()'s cast branch: a dtype the buffer takes
        x._cache.invalidate(None)
    else:
        x.append(rows)


def _outcome(f):
    try:
        f()
    except Exception as e:  # noqa: BLE001 -- compared between the two paths
        return type(e), str(e)
    return None


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_fast_appends_same_as_numpy_and_the_full_path(tmp_path_factory, data):
    dtype = np.dtype(data.draw(st.sampled_from(["<f4", "<i2", "<f8", "<u1"]), label="dtype"))
    row_shape = data.draw(st.sampled_from([(3,), (1,), (2, 3), (3, 3), (2, 1, 2)]), label="row shape")
    crow = data.draw(st.integers(2, 12), label="chunk rows")
    path = tmp_path_factory.mktemp("f") / "f.h5"
    model = np.zeros((data.draw(st.integers(0, 5), label="rows"),) + row_shape, dtype)
    s = la.open(path, "w")
    try:
        fast = s.create_array("fast", model, chunks=(crow,) + row_shape)
        slow = s.create_array("slow", model, chunks=(crow,) + row_shape)
        for step in range(data.draw(st.integers(1, 12), label="steps")):
            what = data.draw(st.sampled_from(["append"] * 6 + ["read", "flush", "reopen", "write"]))
            if what == "append":
                form = data.draw(st.sampled_from(FORMS), label="form")
                k = data.draw(st.integers(1, crow + 1), label="k")
                rows, want = _rows(form, k, row_shape, dtype, step)
                got = _outcome(lambda: _append(fast, rows, form, True))
                assert got == _outcome(lambda: _append(slow, rows, form, False))
                if want is None:
                    assert got is not None and got[0] in (ValueError, TypeError), (form, got)
                else:
                    assert got is None, (form, got)
                    model = np.concatenate([model, want])
            elif what == "read":
                key = data.draw(keys(model.shape, invalid=False), label="key")
                assert_same_as_numpy(fast.__getitem__, model, key)
                assert fast.shape == slow.shape == model.shape
            elif what == "flush":
                s.flush()
                for x in (fast, slow):
                    np.testing.assert_array_equal(x.backend._node().read(), model)  # PyTables' own read
            elif what == "write" and len(model):
                i = data.draw(st.integers(-len(model), len(model) - 1))
                fast[i] = slow[i] = 9
                model[i] = 9
            else:
                s.close()
                s = la.open(path, "a")
                fast, slow = s["fast"], s["slow"]
        assert len(fast) == len(slow) == len(model)
        np.testing.assert_array_equal(fast[:], model)
        np.testing.assert_array_equal(slow[:], model)
    finally:
        s.close()
    with tables.open_file(path) as f:
        for name in ("fast", "slow"):
            np.testing.assert_array_equal(f.get_node("/" + name)[:], model)
            assert f.get_node("/" + name)._v_attrs["LAZYARR_ROWS"] == len(model)


def _armed(tmp_path, dtype="f4", cols=4):
    s = la.open(tmp_path / "a.h5", "w")
    x = s.create_array("x", np.zeros((0, cols), dtype), chunks=(16, cols))
    x.append(np.ones((1, cols), dtype))
    assert x._append_fast is not None  # the next one-row append takes the fast path
    return s, x


def test_the_fast_path_takes_own_dtype_rows_and_counts_them_at_once(tmp_path):
    s, x = _armed(tmp_path)
    node = x.backend._node()
    x.append(np.full((1, 4), 2, np.float32))
    x.append(np.full((3, 4), 3, np.float32)[::-1])  # non-contiguous: copied in C order
    t = _b2write.tail(node)
    assert len(t.pending) == 2 and node.nrows == 1  # no HDF5 call: only the tail knows
    assert x.shape == (5, 4) and len(x) == 5
    np.testing.assert_array_equal(x[:, 0], [1, 2, 3, 3, 3])
    s.close()
    with la.open(tmp_path / "a.h5") as r:
        np.testing.assert_array_equal(r["x"][:, 0], [1, 2, 3, 3, 3])


def test_the_fast_path_refuses_a_closed_array(tmp_path):
    s, x = _armed(tmp_path)
    s.close()
    with pytest.raises(la.ClosedError):
        x.append(np.ones((1, 4), np.float32))


def test_the_fast_path_refuses_a_read_only_file(tmp_path):
    s, x = _armed(tmp_path)
    s.close()
    with la.open(tmp_path / "a.h5") as r:
        y = r["x"]
        with pytest.raises(la.ReadOnlyError):
            y.append(np.ones((1, 4), np.float32))
        assert y.shape == (1, 4)


@pytest.mark.parametrize("rows, error, match", [
    (np.ones((1, 5), np.float32), ValueError, r"shape \(k,\) \+ \(4,\)"),
    (np.ones((1, 4, 1), np.float32), ValueError, r"shape \(k,\) \+ \(4,\)"),
    (np.ones((1, 4), np.complex64), TypeError, "same_kind"),
    (np.array(1.0, np.float32), ValueError, "shape"),
])
def test_the_fast_path_refusals_raise_what_the_full_path_raises(tmp_path, rows, error, match):
    s, x = _armed(tmp_path)
    with s:
        with pytest.raises(error, match=match):
            x.append(rows)
        assert x.shape == (1, 4)
        x.append(np.zeros((0, 4), np.float32))  # 0 rows: nothing
        x.append(np.full((1, 4), 2.0))  # float64: cast, as NumPy's same_kind does
        np.testing.assert_array_equal(x[:, 0], np.array([1, 2], np.float32))


def test_int_rows_out_of_range_are_refused_on_the_fast_path_too(tmp_path):
    s, x = _armed(tmp_path, "i2")
    with s:
        with pytest.raises(ValueError, match="out of range"):
            x.append(np.full((1, 4), 40000, np.int64))
        x.append(np.full((1, 4), -3, np.int8))  # in range: cast
        np.testing.assert_array_equal(x[:, 0], np.array([1, -3], np.int16))


def test_a_flush_between_fast_appends_records_them(tmp_path):
    s, x = _armed(tmp_path)
    with s:
        for i in range(40):  # fills two chunks and more, flushing on the way
            x.append(np.full((1, 4), i, np.float32))
            if i % 7 == 0:
                s.flush()
                node = x.backend._node()
                assert node._v_attrs["LAZYARR_ROWS"] == i + 2 == node.nrows  # the commit record
                np.testing.assert_array_equal(node.read()[:, 0], np.r_[1, np.arange(i + 1)])
        np.testing.assert_array_equal(x[:, 0], np.r_[1, np.arange(40)])


# ----------------------------------------- chunks compressed while appends go on
def _flies() -> bool:
    """Whether chunks fly in this install (the C module and blosc2's library)."""
    from lazyarr.backends import _b2decode

    return _b2decode._Compression is not None and bool(_b2decode._COMPRESS_CTX) and _b2decode.releases_gil()


needs_flights = pytest.mark.skipif(not _flies(), reason="chunks do not fly here (no C module or no "
                                   "private blosc2 library)")


def _one_row_appends(x, rows, seen=None):
    for i in range(len(rows)):
        x.append(rows[i : i + 1])
        if seen is not None:
            t = _b2write.tail(x.backend._node())
            seen.append(t is not None and t.flight is not None)


@needs_flights
def test_a_chunk_filled_one_row_at_a_time_flies_and_lands_as_the_bulk_path_writes_it(tmp_path):
    """The chunk compressed on its own thread is byte for byte the chunk the
    bulk path stores (one Blosc2 block per chunk here: the bulk path's
    threads cannot order blocks differently), reads see it at once, and
    PyTables reads the file."""
    rows = np.round(np.random.default_rng(1).standard_normal((16 * 3 + 5, 8)), 2).astype(np.float32)
    with la.open(tmp_path / "f.h5", "w") as s:
        one = s.create_array("one", rows[:0], chunks=(16, 8))
        bulk = s.create_array("bulk", rows[:0], chunks=(16, 8))
        seen: list = []
        _one_row_appends(one, rows[:20], seen)
        assert any(seen)  # a chunk flew
        np.testing.assert_array_equal(one[:], rows[:20])  # a read lands it first
        _one_row_appends(one, rows[20:])
        bulk.append(rows)
    with tables.open_file(tmp_path / "f.h5") as f:
        np.testing.assert_array_equal(f.root.one[:], rows)
        # (Not the chunk at 16: the read flushed it partly filled, and such a
        # chunk keeps its stored length, uncompressed, see _b2write.flush_tail.)
        for c in (0, 32):
            assert f.root.one.read_chunk((c, 0)) == f.root.bulk.read_chunk((c, 0))


@needs_flights
def test_flights_keep_every_row_through_flushes_reopens_and_writes(tmp_path):
    rng = np.random.default_rng(2)
    model = np.zeros((0, 3), np.int32)
    s = la.open(tmp_path / "f.h5", "w")
    try:
        x = s.create_array("x", model, chunks=(8, 3))
        for step in range(60):
            rows = rng.integers(-9, 9, (1, 3)).astype(np.int32)
            x.append(rows)
            model = np.concatenate([model, rows])
            if step % 13 == 5:
                s.flush()
                np.testing.assert_array_equal(x.backend._node().read(), model)  # PyTables' own read
            if step % 17 == 9:
                x[-9] = model[-9] = 42
            if step % 23 == 11:
                s.close()
                s = la.open(tmp_path / "f.h5", "a")
                x = s["x"]
            np.testing.assert_array_equal(x[-8:], model[-8:])
    finally:
        s.close()
    with tables.open_file(tmp_path / "f.h5") as f:
        np.testing.assert_array_equal(f.root.x[:], model)


@needs_flights
def test_a_failed_compression_on_its_thread_is_done_again_in_place(tmp_path, monkeypatch):
    from lazyarr.backends import _b2decode

    def fail(self):
        raise RuntimeError("Error while compressing a Blosc2 chunk (blosc2 error -1)")

    monkeypatch.setattr(_b2decode.Encoding, "result", fail)
    rows = np.arange(40 * 4, dtype=np.float32).reshape(40, 4)
    with la.open(tmp_path / "f.h5", "w") as s:
        x = s.create_array("x", rows[:0], chunks=(16, 4))
        _one_row_appends(x, rows)
        np.testing.assert_array_equal(x[:], rows)
    with tables.open_file(tmp_path / "f.h5") as f:
        np.testing.assert_array_equal(f.root.x[:], rows)


@needs_flights
def test_a_failed_write_of_a_flown_chunk_loses_no_row(tmp_path, monkeypatch):
    """The flight stays until its chunk is in the file: the flush fails with
    a clear error, and the next one stores it."""
    rows = np.arange(20 * 4, dtype=np.float32).reshape(20, 4)
    s = la.open(tmp_path / "f.h5", "w")
    x = s.create_array("x", rows[:0], chunks=(16, 4))
    _one_row_appends(x, rows)
    assert _b2write.tail(x.backend._node()).flight is not None
    real = tables.EArray.write_chunk
    calls = []

    def full_disk(self, *args, **kwargs):
        if not calls:
            calls.append(1)
            raise tables.HDF5ExtError("Problems writing chunk (errno = 28, error message = 'No space left on device')")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tables.EArray, "write_chunk", full_disk)
    with pytest.raises(la.StorageError, match="no space left on device"):
        s.flush()
    monkeypatch.setattr(tables.EArray, "write_chunk", real)
    s.flush()
    np.testing.assert_array_equal(x[:], rows)
    s.close()
    with tables.open_file(tmp_path / "f.h5") as f:
        np.testing.assert_array_equal(f.root.x[:], rows)


@needs_flights
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_child_forked_during_a_flight_neither_waits_for_it_nor_writes_it(tmp_path):
    rows = np.arange(20 * 4, dtype=np.float32).reshape(20, 4)
    s = la.open(tmp_path / "f.h5", "w")
    x = s.create_array("x", rows[:0], chunks=(16, 4))
    _one_row_appends(x, rows)
    assert _b2write.tail(x.backend._node()).flight is not None
    import gc

    pid = os.fork()
    if pid == 0:  # the child: drop every reference to the flight, then leave
        code = 1
        try:
            t = _b2write.tail(x.backend._node())
            gc.collect()
            code = 0 if t is None or t.flight is None else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        assert time.monotonic() < deadline, "the forked child hung"
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(status) == 0
    s.close()
    with tables.open_file(tmp_path / "f.h5") as f:
        np.testing.assert_array_equal(f.root.x[:], rows)


@needs_flights
def test_compression_objects_check_their_arguments_and_wait_once():
    import blosc2

    from lazyarr._speedups import Compression
    from lazyarr.backends import _b2decode

    with pytest.raises(ValueError, match="null"):
        Compression(0, 1, b"a", bytearray(8))
    with pytest.raises(BufferError):
        Compression(1, 1, b"a", b"read-only")
    cp = blosc2.CParams(codec=blosc2.Codec.LZ4, clevel=5, typesize=8, nthreads=1)
    src = np.arange(100_000, dtype=np.float64)
    job = _b2decode.Encoding(cp, src)
    assert job.result() == job.result() == blosc2.compress2(src, cparams=cp)
    with pytest.raises(RuntimeError, match="once"):
        job._job.__init__(_b2decode._COMPRESS_CTX, 1, b"a", bytearray(8))


@needs_flights
@pytest.mark.parametrize("keep", [20, 16, 12])
def test_a_node_truncated_under_a_flight_keeps_the_rows_it_still_has(tmp_path, keep):
    """PyTables' own ``truncate`` under a flying chunk (rows 16:32): the rows
    before the new end are stored, and appends go on from there."""
    rows = np.arange(40 * 4, dtype=np.float32).reshape(40, 4)
    with la.open(tmp_path / "f.h5", "w") as s:
        x = s.create_array("x", rows[:0], chunks=(16, 4))
        _one_row_appends(x, rows[:32])
        node = x.backend._node()
        assert _b2write.tail(node).flight is not None  # rows 16:32 fly
        node.truncate(keep)
        x.append(rows[32:33])
        want = np.concatenate([rows[:keep], rows[32:33]])
        np.testing.assert_array_equal(x[:], want)
    with tables.open_file(tmp_path / "f.h5") as f:
        np.testing.assert_array_equal(f.root.x[:], want)


@pytest.mark.parametrize("keep", [19, 18, 16, 10])
def test_a_node_truncated_under_its_buffered_tail_keeps_the_rows_it_still_has(tmp_path, keep):
    """PyTables' own ``truncate`` under rows still in lazyarr's tail (16:20):
    the rows before the new end reach the file (they were read as zeros)."""
    rows = np.arange(20 * 4, dtype=np.float32).reshape(20, 4) + 1
    with la.open(tmp_path / "f.h5", "w") as s:
        x = s.create_array("x", rows[:0], chunks=(16, 4))
        x.append(rows)
        x.backend._node().truncate(keep)
        np.testing.assert_array_equal(x[:], rows[:keep])
        x.append(rows[:1] + 100)
        want = np.concatenate([rows[:keep], rows[:1] + 100])
        np.testing.assert_array_equal(x[:], want)
    with tables.open_file(tmp_path / "f.h5") as f:
        np.testing.assert_array_equal(f.root.x[:], want)


@needs_flights
@pytest.mark.parametrize("codec", ["zstd", "lz4", "blosclz"])
@pytest.mark.parametrize("chunks, dtype", [((4096, 64), "<f4"), ((512, 3, 5), "<i2"), ((16, 8), "<f8")])
def test_every_writer_lets_its_chunks_fly(codec, chunks, dtype):
    """The writer's check passes for every codec and chunk shape, every time:
    it compares with blosc2 on one thread, whose bytes are fixed (on two, a
    chunk's blocks come in the order the threads finish them)."""
    import blosc2

    from lazyarr.backends import _b2decode

    w = _b2write._writer(chunks, np.dtype(dtype).str, _b2write._CODECS[codec], 1, True)
    assert w.flies
    n = int(np.prod(chunks)) * np.dtype(dtype).itemsize
    sample = (np.arange(n, dtype=np.int64) // 97 % 251).astype(np.uint8)
    assert all(_b2decode.encodes_like(w.cparams, sample) for _ in range(8))
    assert w.cparams.nthreads == _b2decode.threads()  # (the bulk path's own threads are kept)
    assert blosc2.decompress2(bytes(_b2decode.Encoding(w.cparams, sample).result())) == sample.tobytes()


def test_two_arrays_of_one_node_append_one_row_at_a_time_in_turn(tmp_path):
    """Both arrays' appends go through the node's one tail (and its flights):
    every row once, in order, whichever array appended it."""
    rows = np.arange(70 * 3, dtype=np.float32).reshape(70, 3)
    with la.open(tmp_path / "f.h5", "w") as s:
        s.create_array("x", rows[:0], chunks=(16, 3))
        a, b = s["x"], s["x"]
        for i in range(len(rows)):
            (a if i % 3 else b).append(rows[i : i + 1])
            if i % 29 == 28:
                np.testing.assert_array_equal(b[:], rows[: i + 1])
        assert len(a) == len(b) == len(rows)
        np.testing.assert_array_equal(a[:], rows)
    with tables.open_file(tmp_path / "f.h5") as f:
        np.testing.assert_array_equal(f.root.x[:], rows)


@pytest.mark.parametrize("extra", [1, 5, 12, 30])
def test_rows_appended_through_pytables_after_the_buffered_tail_are_kept(tmp_path, extra):
    """PyTables' own append after rows still in lazyarr's tail (16:20): its
    rows in that chunk are kept when the tail is written (they read as
    zeros before)."""
    rows = np.arange(20 * 4, dtype=np.float32).reshape(20, 4) + 1
    more = np.arange(extra * 4, dtype=np.float32).reshape(extra, 4) + 1000
    with la.open(tmp_path / "f.h5", "w") as s:
        x = s.create_array("x", rows[:0], chunks=(16, 4))
        x.append(rows)
        x.backend._node().append(more)
        want = np.concatenate([rows, more])
        np.testing.assert_array_equal(x[:], want)
        x.append(rows[:1])
        want = np.concatenate([want, rows[:1]])
        np.testing.assert_array_equal(x[:], want)
    with tables.open_file(tmp_path / "f.h5") as f:
        np.testing.assert_array_equal(f.root.x[:], want)


@needs_flights
def test_a_compression_dropped_before_or_after_its_result_is_released_safely():
    """An Encoding dropped without result() (a flight whose node was shortened
    under it) waits for its thread before freeing its context (freeing it
    under a running compression would crash), and one dropped after result()
    does not free it twice (a double free would crash)."""
    import gc

    import blosc2

    from lazyarr.backends import _b2decode

    cp = blosc2.CParams(codec=blosc2.Codec.ZSTD, clevel=1, typesize=4, nthreads=1)
    src = np.arange(200_000, dtype=np.float32)
    for _ in range(50):
        job = _b2decode.Encoding(cp, src)
        del job
        job = _b2decode.Encoding(cp, src)
        assert blosc2.decompress2(bytes(job.result())) == src.tobytes()
        del job
    gc.collect()
