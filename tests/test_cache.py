"""Cache policies: NoCache, SwapWindow and InMemory.

Counting tests read ``cache_stats`` (never the clock); parity tests go
through :func:`lazyarr.testing.assert_same_as_numpy`. The read/write/append
state machine in ``test_stateful.py`` runs every policy on every backend.
"""

from __future__ import annotations

import math
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lazyarr as la
from lazyarr.backends import MemoryBackend
from lazyarr.testing import arrays, assert_same_as_numpy, keys, shapes

POLICIES = [la.NoCache(), la.SwapWindow(1024), la.InMemory()]


# ------------------------------------------------------------ the policies
@pytest.mark.parametrize("policy", POLICIES, ids=repr)
def test_policy_is_a_value(policy):
    again = pickle.loads(pickle.dumps(policy))
    assert again == policy and hash(again) == hash(policy)
    assert eval(repr(policy), {"NoCache": la.NoCache, "SwapWindow": la.SwapWindow,
                               "InMemory": la.InMemory}) == policy


def test_policies_compare_by_value():
    assert la.SwapWindow(10) == la.SwapWindow(10) != la.SwapWindow(11)
    assert la.SwapWindow(10) != la.NoCache() and la.InMemory() != la.NoCache()
    assert repr(la.SwapWindow(2**20)) == "SwapWindow(nbytes=1048576)"


@pytest.mark.parametrize(("nbytes", "exc"), [(0, ValueError), (-5, ValueError),
                                             (1.5, TypeError), (True, TypeError)])
def test_swapwindow_bad_nbytes(nbytes, exc):
    with pytest.raises(exc):
        la.SwapWindow(nbytes)


def test_swapwindow_smaller_than_a_row_names_the_row_size():
    with pytest.raises(ValueError, match="800 bytes"):
        la.LazyArray(MemoryBackend(np.zeros((3, 100))), cache=la.SwapWindow(799))
    la.LazyArray(MemoryBackend(np.zeros((3, 100))), cache=la.SwapWindow(800))  # one row fits


def test_each_array_gets_its_own_state():
    policy = la.SwapWindow(4096)
    x = la.LazyArray(MemoryBackend(np.arange(100)), cache=policy)
    y = la.LazyArray(MemoryBackend(np.arange(100)), cache=policy)
    x[:10]
    x[10:20]
    assert x.cache_stats == {"hits": 1, "misses": 1, "backend_reads": 1, "bytes_read": 800}
    assert y.cache_stats["backend_reads"] == 0
    assert x.cache is policy


def test_pickled_array_starts_with_an_empty_window():
    x = la.LazyArray(MemoryBackend(np.arange(100)), cache=la.SwapWindow(4096))
    x[:10]
    y = pickle.loads(pickle.dumps(x))
    assert y._cache.nbytes_held == 0 and y.cache_stats["backend_reads"] == 0
    np.testing.assert_array_equal(y[5:50], np.arange(5, 50))


# --------------------------------------------------------------- counting
@pytest.fixture
def big(tmp_path):
    """A compressed (4000, 16) float32 array: 256000 bytes, chunks of 100 rows."""
    a = np.random.default_rng(0).standard_normal((4000, 16)).astype(np.float32)
    path = tmp_path / "big.h5"
    with la.open(path, "w") as store:
        store.create_array("data", a, chunks=(100, 16))
    return path, a


@pytest.mark.parametrize("nbytes", [6400, 17000, 20000, 40000, 64 * 1024, 100_000, 10**6])
def test_sequential_minibatches_read_each_window_once(big, nbytes):
    path, a = big
    with la.open(path, cache=la.SwapWindow(nbytes)) as store:
        x = store["data"]
        for i in range(0, len(a), 256):
            np.testing.assert_array_equal(x[i : i + 256], a[i : i + 256])
        stats = x.cache_stats
    if nbytes >= 256 * 64:
        assert stats["backend_reads"] <= math.ceil(a.nbytes / nbytes) + 1, stats
    else:
        # A batch bigger than the window passes straight through.
        assert stats["backend_reads"] == math.ceil(len(a) / 256) and stats["hits"] == 0


def test_read_inside_window_makes_no_backend_call(big, monkeypatch):
    path, a = big
    with la.open(path, cache=la.SwapWindow(64 * 1024)) as store:
        x = store["data"]
        x[150]  # loads rows 100..1100 (aligned to the 100-row chunks)
        st0 = x.cache_stats
        assert st0["backend_reads"] == 1 and st0["bytes_read"] == 1000 * 64
        monkeypatch.setattr(type(x.backend), "read", lambda *a, **k: pytest.fail("backend read"))
        for key in [100, slice(1099, 99, -1), ([1000, 100, 500], [3, 0, 3]), (slice(200, 300), 5),
                    np.s_[400:200:-7, ::-2], (np.arange(100, 1100) % 3 == 0).nonzero()[0] + 100]:
            assert_same_as_numpy(x.__getitem__, a, key)
        assert x.cache_stats["backend_reads"] == 1
        assert x.cache_stats["hits"] == 6


def test_window_hits_are_copies_the_caller_owns(big):
    # Hits of box reads (x[i:j], x[i:j, a:b]) are a basic slice of the
    # window, copied: writing into one changes no later read.
    path, a = big
    with la.open(path, cache=la.SwapWindow(64 * 1024)) as store:
        x = store["data"]
        for key in [np.s_[150:160], np.s_[150:160, 2:9:3], np.s_[150:160, ::-1], np.s_[150:151, 5]]:
            got = x[key]
            assert not np.shares_memory(got, x[key])  # not both views of the window
            got[...] = -1
            assert_same_as_numpy(x.__getitem__, a, key)
        assert x.cache_stats["hits"] >= 7


def test_read_larger_than_window_passes_through(big):
    path, a = big
    with la.open(path, cache=la.SwapWindow(6400)) as store:  # 100 rows
        x = store["data"]
        np.testing.assert_array_equal(x[10:500], a[10:500])
        np.testing.assert_array_equal(np.asarray(x), a)
        assert x.cache_stats["backend_reads"] == 2 and x._cache.nbytes_held == 0
        np.testing.assert_array_equal(list(x), list(a))  # row iteration, too


def test_window_never_exceeds_budget(big):
    path, a = big
    nbytes = 10_000  # 156 rows: less than two chunks, not a multiple of a row
    rng = np.random.default_rng(1)
    with la.open(path, cache=la.SwapWindow(nbytes)) as store:
        x = store["data"]
        for _ in range(200):
            i = int(rng.integers(0, len(a)))
            k = int(rng.integers(1, 200))
            np.testing.assert_array_equal(x[i : i + k], a[i : i + k])
            assert x._cache.nbytes_held <= nbytes
        for row, want in zip(x, a):
            assert x._cache.nbytes_held <= nbytes
        for i in range(0, 2000, 16):  # sequential minibatches use the window
            np.testing.assert_array_equal(x[i : i + 16], a[i : i + 16])
            assert x._cache.nbytes_held <= nbytes
        assert x.cache_stats["hits"] > 0


def test_random_reads_do_not_load_windows(big):
    """Random single rows read just themselves, not a window each."""
    path, a = big
    rng = np.random.default_rng(2)
    with la.open(path, cache=la.SwapWindow(len(a) // 4 * a[0].nbytes)) as store:
        x = store["data"]
        picks = rng.integers(0, len(a), 50)
        for i in picks:
            np.testing.assert_array_equal(x[int(i)], a[i])
        # The first read may load a window; the others read one row each.
        assert x.cache_stats["bytes_read"] <= x._cache.nbytes_held + a[0].nbytes * 50
        assert x.cache_stats["backend_reads"] <= 50


def test_zero_d_and_empty_trailing_axis():
    x = la.LazyArray(MemoryBackend(np.array(5.0)), cache=la.SwapWindow(8))
    assert x[()] == 5.0 and x.cache_stats["backend_reads"] == 1
    y = la.LazyArray(MemoryBackend(np.zeros((10, 0))), cache=la.SwapWindow(8))
    assert y[2:5].shape == (3, 0)


# ----------------------------------------------------------- parity (hypothesis)
@settings(max_examples=60)
@given(data=st.data(), a=arrays(shape=shapes(min_dims=1, max_dims=3, max_side=6)),
       rows=st.integers(1, 8))
def test_every_key_same_as_numpy_through_window(data, a, rows):
    row_bytes = int(np.prod(a.shape[1:], dtype=np.int64)) * a.dtype.itemsize
    x = la.LazyArray(MemoryBackend(a.copy()), cache=la.SwapWindow(max(1, rows * row_bytes)))
    for _ in range(3):
        assert_same_as_numpy(x.__getitem__, a, data.draw(keys(a.shape)))
        assert x._cache.nbytes_held <= max(1, rows * row_bytes)


@settings(max_examples=40)
@given(data=st.data(), a=arrays(shape=shapes(min_dims=1, max_dims=3, max_side=6)))
def test_keys_served_from_a_full_window_make_no_read(data, a):
    row_bytes = int(np.prod(a.shape[1:], dtype=np.int64)) * a.dtype.itemsize
    x = la.LazyArray(MemoryBackend(a.copy()), cache=la.SwapWindow(max(1, a.nbytes, row_bytes)))
    x[0:1]
    before = x.cache_stats["backend_reads"]
    assert_same_as_numpy(x.__getitem__, a, data.draw(keys(a.shape)))
    assert x.cache_stats["backend_reads"] == before


# --------------------------------------------------------------- coherence
def test_writes_and_appends_are_never_stale(tmp_path):
    a = np.arange(60.0).reshape(20, 3)
    with la.open(tmp_path / "w.h5", "w", cache=la.SwapWindow(10 * 24)) as store:
        x = store.create_array("data", a, chunks=(4, 3))
        x[1]  # window rows 0..8
        x[2, 1] = -1.0
        a[2, 1] = -1.0
        x[[5, 7], 0] = [50, 70]
        a[[5, 7], 0] = [50, 70]
        np.testing.assert_array_equal(x[0:8], a[0:8])
        np.testing.assert_array_equal(x[0:8], a[0:8])  # a repeat loads the window
        x[15:18] = 0  # outside the window: it survives
        a[15:18] = 0
        hits = x.cache_stats["hits"]
        np.testing.assert_array_equal(x[0:8], a[0:8])
        assert x.cache_stats["hits"] == hits + 1
        x[16:20]
        x.append(np.ones((2, 3)))
        a = np.concatenate([a, np.ones((2, 3))])
        np.testing.assert_array_equal(x[16:22], a[16:22])
        np.testing.assert_array_equal(np.asarray(x), a)


# ------------------------------------------------- read-ahead (background fill)
needs_nogil = pytest.mark.skipif(not la.backends._b2blocks.releases_gil(),
                                 reason="no GIL-free Blosc2 decoder here: no read-ahead")


@pytest.fixture
def ahead(tmp_path, monkeypatch):
    """A compressed (4000, 16) float32 array (chunks of 100 rows) whose
    SwapWindows fill in the background, one 100-row chunk per piece."""
    monkeypatch.setattr(la.cache, "READ_AHEAD_BYTES", 100 * 64)
    a = np.random.default_rng(3).standard_normal((4000, 16)).astype(np.float32)
    path = tmp_path / "ahead.h5"
    with la.open(path, "w") as store:
        store.create_array("data", a, chunks=(100, 16))
    return path, a


def _slow_pieces(monkeypatch, seconds=0.002, fail_from=None):
    """Make every background piece take a while (so that reads, writes and
    closes meet a fill in flight), or raise from the ``fail_from``-th piece."""
    from lazyarr.backends.compressed import CompressedBackend

    orig = CompressedBackend.read_into
    calls = []

    def read_into(self, sel, out):
        calls.append(sel[0])
        if fail_from is not None and len(calls) > fail_from:
            raise RuntimeError("injected read failure")
        import time

        time.sleep(seconds)
        orig(self, sel, out)

    monkeypatch.setattr(CompressedBackend, "read_into", read_into)
    return calls


@needs_nogil
@pytest.mark.parametrize("nbytes", [64 * 1000, 100_000, 10**6])
def test_read_ahead_minibatches_same_as_numpy(ahead, nbytes):
    path, a = ahead
    with la.open(path, cache=la.SwapWindow(nbytes)) as store:
        x = store["data"]
        x[0:64]
        assert x._cache.fill is not None  # the path under test is taken
        for i in range(64, len(a), 64):
            np.testing.assert_array_equal(x[i : i + 64], a[i : i + 64])
            assert x._cache.nbytes_held <= nbytes  # the read-ahead is inside the budget
        stats = x.cache_stats
    assert stats["backend_reads"] <= math.ceil(a.nbytes / (nbytes // 6400 * 6400)) + 1, stats


@needs_nogil
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_read_ahead_every_key_same_as_numpy(ahead, data):
    path, a = ahead
    with la.open(path, cache=la.SwapWindow(2000 * 64)) as store:
        x = store["data"]
        x[data.draw(st.integers(0, 3999), label="first row")]
        for _ in range(4):
            assert_same_as_numpy(x.__getitem__, a, data.draw(keys(a.shape), label="key"))


@needs_nogil
def test_read_ahead_never_serves_stale_rows(ahead, monkeypatch):
    """Writes and appends while a window is still being filled."""
    path, a = ahead
    _slow_pieces(monkeypatch)
    rng = np.random.default_rng(4)
    with la.open(path, "a", cache=la.SwapWindow(1000 * 64)) as store:
        x = store["data"]
        for step in range(12):
            i = int(rng.integers(0, len(a) - 200)) // 100 * 100
            x[i : i + 8]  # a window of rows i..i+1000, filling
            j = i + int(rng.integers(0, 1000))  # mostly in the part not filled yet
            if step % 3 == 2:
                rows = rng.standard_normal((int(rng.integers(1, 150)), 16)).astype(np.float32)
                x.append(rows)
                a = np.concatenate([a, rows])
            else:
                v = np.float32(-step - 1)
                x[j : j + 3, step] = v
                a[j : j + 3, step] = v
            for k in range(i, min(len(a), i + 1000), 97):
                np.testing.assert_array_equal(x[k : k + 97], a[k : k + 97])
            np.testing.assert_array_equal(x[j - 5 : j + 5], a[max(0, j - 5) : j + 5])
        np.testing.assert_array_equal(np.asarray(x), a)
    with la.open(path) as store:
        np.testing.assert_array_equal(store["data"][:], a)


@needs_nogil
def test_read_ahead_failure_falls_back_to_a_plain_read(ahead, monkeypatch):
    path, a = ahead
    calls = _slow_pieces(monkeypatch, seconds=0, fail_from=2)
    with la.open(path, cache=la.SwapWindow(1000 * 64)) as store:
        x = store["data"]
        for i in range(0, 2000, 50):
            np.testing.assert_array_equal(x[i : i + 50], a[i : i + 50])
    assert len(calls) > 2  # the failure was met


@needs_nogil
def test_closing_the_file_stops_the_read_ahead(ahead, monkeypatch):
    import threading

    path, a = ahead
    _slow_pieces(monkeypatch, seconds=0.01)
    store = la.open(path, cache=la.SwapWindow(4000 * 64))
    x = store["data"]
    np.testing.assert_array_equal(x[0:10], a[0:10])
    fill = x._cache.fill
    assert fill is not None and fill.alive()  # 40 pieces of 10 ms: still going
    store.close()
    assert not fill.alive()
    assert not [t for t in threading.enumerate() if t.name == "lazyarr-swapwindow-fill"]
    with pytest.raises(la.ClosedError):
        x[3990:4000]


@needs_nogil
def test_renewed_state_keeps_the_rows_a_fill_finished(ahead, monkeypatch):
    """What a forked child does (its copy of the fill has no threads): the
    window shrinks to the rows decoded, every read stays right."""
    path, a = ahead
    _slow_pieces(monkeypatch, seconds=0.005)
    with la.open(path, cache=la.SwapWindow(2000 * 64)) as store:
        x = store["data"]
        x[0:10]
        fill = x._cache.fill
        fill.wait(300)
        x._cache._renew_locks()
        assert x._cache.fill is None
        assert x._cache.hi - x._cache.lo <= 2000 and x._cache.hi - x._cache.lo >= 300
        fill.stop()  # (in a child there would be no thread to stop)
        for i in range(0, 2500, 100):
            np.testing.assert_array_equal(x[i : i + 100], a[i : i + 100])


@needs_nogil
def test_read_into_same_as_read(ahead):
    path, a = ahead
    with la.open(path) as store:
        b = store["data"].backend
        for sel in [(slice(0, 4000, 1), slice(0, 16, 1)), (slice(150, 1234, 1), slice(0, 16, 1)),
                    (slice(7, 8, 1), slice(0, 16, 1)), (slice(0, 300, 3), slice(2, 9, 2))]:
            shape = tuple(len(range(s.start, s.stop, s.step)) for s in sel)
            out = np.empty(shape, b.dtype)
            b.read_into(sel, out)
            np.testing.assert_array_equal(out, b.read(sel))
            np.testing.assert_array_equal(out, a[sel])
        wrong = np.empty((10, 16), np.float64)  # another dtype: read and cast
        b.read_into((slice(0, 10, 1), slice(0, 16, 1)), wrong)
        np.testing.assert_array_equal(wrong, a[:10])


# ----------------------------------------------------------------- InMemory
def _write(path, a):
    with la.open(path, "w") as store:
        store.create_array("data", a, backend="plain")
        store.create_array("comp", a)


def test_inmemory_reads_never_touch_the_disk(tmp_path):
    a = np.random.default_rng(2).standard_normal((2000, 100))
    path = tmp_path / "core.h5"
    _write(path, a)
    size = os.path.getsize(path)
    store = la.open(path, cache=la.InMemory())
    other = la.open_array(path, "/comp", cache=la.InMemory())
    try:
        assert store.fileref.driver_kw == {"driver": "H5FD_CORE", "driver_core_backing_store": 0}
        x = store["data"]
        # Overwrite the file in place and then remove it: a read that went
        # to the disk would see zeros or fail.
        with open(path, "r+b") as f:
            f.write(b"\0" * size)
        os.remove(path)
        np.testing.assert_array_equal(np.asarray(x), a)
        np.testing.assert_array_equal(x[::-7, [3, 1]], a[::-7, [3, 1]])
        np.testing.assert_array_equal(store["comp"][100:300], a[100:300])
        np.testing.assert_array_equal(np.asarray(other), a)
        assert x.cache == la.InMemory()
    finally:
        store.close()


def test_inmemory_chunks_past_the_file_on_disk_are_not_corrupt(tmp_path):
    # The core driver's image outgrows the file on disk: a chunk written
    # since lies past that file's end, and is no sign of a corrupt index
    # (test_stateful[compressed-inmemory] once raised CorruptStoreError here).
    path = tmp_path / "grow.h5"
    with la.open(path, "w", cache=la.InMemory()) as store:
        on_disk = os.path.getsize(path)
        arrays = []
        while sum(a.nbytes for _, a in arrays) < 4 * on_disk + 2**16:
            a = np.arange(len(arrays) * 1000.0, len(arrays) * 1000.0 + 2000).reshape(400, 5)
            arrays.append((store.create_array(f"a{len(arrays)}", a, chunks=(64, 5)), a))
        for x, a in arrays[-3:]:
            np.testing.assert_array_equal(x[:], a)
            np.testing.assert_array_equal(x[-70:], a[-70:])
    with la.open(path) as store:
        for i, (_, a) in enumerate(arrays):
            np.testing.assert_array_equal(store[f"a{i}"][:], a)


def test_inmemory_writable_persists_on_close(tmp_path):
    a = np.arange(12.0).reshape(4, 3)
    path = tmp_path / "w.h5"
    _write(path, a)
    with la.open(path, "r+", cache=la.InMemory()) as store:
        assert store.fileref.driver_kw["driver_core_backing_store"] == 1
        store["comp"].append(np.full((1, 3), 7.0))
        store["data"][0] = -1
        store.create_array("new", np.ones(3))
    with la.open(path) as store:
        assert store["comp"].shape == (5, 3) and store["data"][0, 0] == -1
        np.testing.assert_array_equal(store["new"][:], np.ones(3))
    with la.open(tmp_path / "fresh.h5", "w", cache=la.InMemory()) as store:
        store.create_array("x", np.arange(3))
    with la.open(tmp_path / "fresh.h5") as store:
        np.testing.assert_array_equal(store["x"][:], np.arange(3))


def test_store_get_with_inmemory_opens_its_own_core_file(tmp_path):
    a = np.arange(10)
    path = tmp_path / "g.h5"
    _write(path, a)
    with la.open(path) as store:
        x = store.get("data", cache=la.InMemory())
        y = store["data"]
        assert x.backend.fileref.driver_kw["driver"] == "H5FD_CORE"
        assert y.backend.fileref.driver_kw == {}
        np.testing.assert_array_equal(x[::3], a[::3])
        np.testing.assert_array_equal(y[::3], a[::3])
    with pytest.raises(la.ClosedError):
        x[0]
    with la.open(path, "r+") as store:
        with pytest.raises(ValueError, match="other driver options"):
            store.get("data", cache=la.InMemory())


def test_inmemory_on_a_memory_backend_passes_through():
    x = la.LazyArray(MemoryBackend(np.arange(5)), cache=la.InMemory())
    assert x[1:3].tolist() == [1, 2] and x.cache_stats["backend_reads"] == 1


def test_inmemory_refuses_a_file_opened_without_the_core_driver(tmp_path):
    path = tmp_path / "n.h5"
    _write(path, np.arange(3))
    with la.open(path) as store:
        with pytest.raises(ValueError, match="core driver"):
            la.LazyArray(store["data"].backend, cache=la.InMemory())


# ------------------------------------------------------------------ ragged
@pytest.mark.parametrize("backend", ["offsets", "vl"])
def test_ragged_window(tmp_path, backend):
    rng = np.random.default_rng(3)
    items = [rng.standard_normal((int(rng.integers(0, 20)), 4)).astype(np.float32)
             for _ in range(300)]
    path = tmp_path / "r.h5"
    with la.open(path, "w") as store:
        store.create_ragged("r", dtype="float32", item_ndim=2, backend=backend).extend(items)
    nbytes = 4096
    with la.open(path, "a", cache=la.SwapWindow(nbytes)) as store:
        r = store["r"]
        assert r.cache == la.SwapWindow(nbytes)
        for i in range(0, 300, 4):
            got = r[i : i + 4]
            for g, w in zip(got, items[i : i + 4]):
                np.testing.assert_array_equal(g, w)
            assert r._cache.nbytes_held <= nbytes
        total = sum(a.nbytes for a in items)
        stats = r.cache_stats
        assert stats["hits"] > 0 and stats["backend_reads"] <= math.ceil(total / nbytes) * 2 + 2
        # Inside the window: no backend call, fancy keys included. A jump is
        # random access (read through); repeating it loads the window.
        r[200]
        r[200]
        before = r.cache_stats["backend_reads"]
        got = r[[201, 200, 201]]
        assert r.cache_stats["backend_reads"] == before
        for g, w in zip(got, [items[201], items[200], items[201]]):
            np.testing.assert_array_equal(g, w)
        got[0][...] = 99  # a returned item is a copy, never the window
        np.testing.assert_array_equal(r[201], items[201])
        # Iteration goes through the window, and appends are seen.
        for g, w in zip(r, items):
            np.testing.assert_array_equal(g, w)
        r.append(np.ones((2, 4), np.float32))
        r.flush()
        np.testing.assert_array_equal(r[-1], np.ones((2, 4)))
        big = r[0:300]  # more than the window: straight through
        assert len(big) == 300


def test_ragged_item_bigger_than_window(tmp_path):
    path = tmp_path / "rb.h5"
    with la.open(path, "w") as store:
        store.create_ragged("r", dtype="float64", item_ndim=1).extend([np.arange(100.0), [1.0]])
    with la.open(path, cache=la.SwapWindow(64)) as store:
        r = store["r"]
        np.testing.assert_array_equal(r[0], np.arange(100.0))
        np.testing.assert_array_equal(r[1], [1.0])
        np.testing.assert_array_equal(r[1], [1.0])
        assert r.cache_stats["hits"] == 1


def test_ragged_inmemory(tmp_path):
    path = tmp_path / "ri.h5"
    with la.open(path, "w") as store:
        store.create_ragged("r", dtype="int16", item_ndim=1).extend([[1, 2], [3]])
    with la.open(path) as store:
        r = store.get("r", cache=la.InMemory())
        assert r.backend.fileref.driver_kw["driver"] == "H5FD_CORE"
        assert [a.tolist() for a in r] == [[1, 2], [3]]


@pytest.mark.parametrize("backend", ["offsets", "vl"])
def test_ragged_random_items_do_not_load_windows(tmp_path, backend):
    rng = np.random.default_rng(4)
    items = [np.full((int(rng.integers(1, 9)), 3), i, np.int32) for i in range(400)]
    path = tmp_path / "r.h5"
    with la.open(path, "w") as store:
        store.create_ragged("r", dtype="int32", item_ndim=2, backend=backend).extend(items)
    with la.open(path, cache=la.SwapWindow(2000)) as store:
        r = store["r"]
        picks = [int(i) for i in rng.integers(0, 400, 40)]
        for i in picks:
            np.testing.assert_array_equal(r[i], items[i])
        # At most the first read loads a window; the others read one item.
        assert r.cache_stats["bytes_read"] <= 2000 + sum(items[i].nbytes for i in picks)


def test_in_memory_refuses_backends_without_a_file():
    class NoFile:
        kind, shape, dtype, chunks, readonly, extendable = "nofile", (3,), np.dtype("i4"), None, True, False

        def read(self, sel):
            return np.zeros(3, "i4")[sel]

    with pytest.raises(ValueError, match="InMemory"):
        la.LazyArray(NoFile(), cache=la.InMemory())
    # A NumPy array is in memory already.
    la.LazyArray(la.backends.MemoryBackend(np.zeros(3)), cache=la.InMemory())


@settings(max_examples=20, deadline=None)
@given(shapes=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=30),
       data=st.data())
def test_ragged_bytes_read_are_the_items_bytes(tmp_path_factory, shapes, data):
    # RaggedOffsetsBackend.read_items sums the bytes for the cache
    # (ragged_base.Items) from the bounds, gaps between the items included.
    items = [np.arange(a * b, dtype=np.int16).reshape(a, b) for a, b in shapes]
    idx = sorted(data.draw(st.sets(st.integers(0, len(items) - 1), min_size=1), label="items"))
    with la.open(tmp_path_factory.mktemp("r") / "r.h5", "w") as s:
        r = s.create_ragged("r", dtype="int16", item_ndim=2)
        r.extend(items)
        s.flush()
        before = r.cache_stats["bytes_read"]
        got = r[idx]
        assert r.cache_stats["bytes_read"] - before == sum(items[i].nbytes for i in idx)
        for g, i in zip(got, idx):
            np.testing.assert_array_equal(g, items[i])
            assert g.shape == items[i].shape and g.dtype == items[i].dtype
