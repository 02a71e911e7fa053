"""Arrays in worker processes: multiprocessing pools under every start method,
arrays inherited over fork, and a DataLoader-style dataset (without torch).

Pools are small (2 processes) and shared per start method: spawning is the
slow part. Workers return what they read; the parent compares with NumPy.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle

import numpy as np
import pytest

import lazyarr as la

METHODS = [m for m in ("fork", "spawn", "forkserver") if m in mp.get_all_start_methods()]

#: Arrays a forked worker inherits instead of receiving them by pickle.
_INHERITED: dict[str, object] = {}


# ---------------------------------------------------------------- workers
def _read(arr, key):
    return os.getpid(), arr[key]


def _read_inherited(name, key):
    arr = _INHERITED[name]
    got = arr[key]
    # The handle the read went through was opened by this process.
    return os.getpid(), got, arr.backend.fileref._handle.pid


class PairDataset:
    """What a PyTorch ``Dataset`` is: ``__len__`` and ``__getitem__``."""

    def __init__(self, x, r):
        self.x, self.r = x, r

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.r[i % len(self.r)]


_DATASET: PairDataset | None = None


def _init_worker(dataset):
    # DataLoader hands each worker the dataset once, by pickle (spawn) or by
    # inheritance (fork); here by pickle, as initargs.
    global _DATASET
    _DATASET = dataset


def _fetch(batch):
    return [_DATASET[i] for i in batch]


# --------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("par") / "par.h5"
    rng = np.random.default_rng(3)
    arrays = {
        "plain": rng.random((120, 5)),
        "comp": rng.integers(-50, 50, (150, 6)).astype("i4"),
    }
    items = [rng.random((int(n), 3)).astype("f4") for n in rng.integers(0, 6, 60)]
    with la.open(path, "w") as s:
        s.create_array("plain", arrays["plain"], backend="plain")
        s.create_array("comp", arrays["comp"], chunks=(16, 6))
        s.create_ragged("ragged", dtype="f4", item_ndim=2).extend(items)
    return path, arrays, items


@pytest.fixture(scope="module")
def pools():
    made = {}

    def get(method):
        if method not in made:
            made[method] = mp.get_context(method).Pool(2)
        return made[method]

    yield get
    for pool in made.values():
        pool.close()
        pool.join()


def _tasks(arrays, n_items):
    """Disjoint keys (each task its own rows) and overlapping ones (the same
    rows read by many tasks), on every array."""
    tasks = []
    for name, a in arrays.items():
        n = len(a)
        for start in range(0, n, n // 4):  # disjoint
            tasks.append((name, slice(start, start + n // 4)))
        for _ in range(3):  # overlapping
            tasks += [(name, slice(5, 40, 3)), (name, ([7, 2, 7, 30], slice(None, None, -2))),
                      (name, -1)]
    for start in range(0, n_items, 15):
        tasks.append(("ragged", slice(start, start + 15)))
    tasks += [("ragged", [4, 1, 4])] * 3 + [("ragged", 9)] * 3
    return tasks


def _check(name, key, got, arrays, items):
    if name == "ragged":
        want = items[key] if isinstance(key, (int, slice)) else [items[i] for i in key]
        want = want if isinstance(want, list) else [want]
        got = got if isinstance(got, list) else [got]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(g, w)
    else:
        want = arrays[name][key]
        assert type(got) is type(want) and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize("method", METHODS)
def test_pool_reads_pickled_arrays(data, pools, method):
    path, arrays, items = data
    with la.open(path) as s:
        objs = {"plain": s["plain"], "comp": s["comp"], "ragged": s["ragged"]}
        tasks = _tasks(arrays, len(items))
        results = pools(method).starmap(_read, [(objs[n], k) for n, k in tasks], chunksize=1)
    for (name, key), (_, got) in zip(tasks, results):
        _check(name, key, got, arrays, items)
    assert all(pid != os.getpid() for pid, _ in results)


def test_forked_workers_reopen_inherited_arrays(data):
    """Arrays in use in the parent at fork time: each child notices the PID
    change and opens its own handle instead of using the parent's."""
    path, arrays, items = data
    store = la.open(path, cache=la.SwapWindow(2**12))
    try:
        _INHERITED.update(plain=store["plain"], comp=store["comp"], ragged=store["ragged"])
        for a in _INHERITED.values():
            a[0]  # opened and read in the parent: the child inherits a live handle
        parent_file = store.fileref.file
        tasks = _tasks(arrays, len(items))
        with mp.get_context("fork").Pool(2) as pool:
            results = pool.starmap(_read_inherited, tasks, chunksize=2)
        for (name, key), (pid, got, opened_by) in zip(tasks, results):
            assert pid != os.getpid() and opened_by == pid
            _check(name, key, got, arrays, items)
        # The parent's handle is untouched and still works.
        assert store.fileref.file is parent_file and parent_file.isopen
        assert store.fileref._handle.pid == os.getpid()
        _check("comp", slice(None), _INHERITED["comp"][:], arrays, items)
    finally:
        _INHERITED.clear()
        store.close()


@pytest.mark.skipif("fork" not in METHODS, reason="needs the fork start method")
def test_forked_child_reads_a_file_the_parent_writes(tmp_path):
    """Fork after writing, without closing: the children read, through
    read-only copies, the file as it was at the fork (HDF5 in a child reuses
    the file the parent had open, so what the parent writes later is not
    seen); the parent keeps writing."""
    path = tmp_path / "w.h5"
    with la.open(path, "w") as s:
        x = s.create_array("data", np.zeros((20, 2)))
        r = s.create_ragged("r", dtype="i8", item_ndim=1)
        x[3:6] = 7.0
        r.extend([[1, 2, 3], [4]])
        s.flush()  # ragged appends are buffered in Python until flushed
        with mp.get_context("fork").Pool(1) as pool:
            x[4] = 8.0  # after the fork: not seen by the child
            (_, block), (_, item), (_, n) = pool.starmap(
                _read, [(x, slice(2, 7)), (r, 0), (r, slice(None))])
        x[0] = 1.0
    expected = np.zeros((5, 2))
    expected[1:4] = 7.0
    np.testing.assert_array_equal(block, expected)
    np.testing.assert_array_equal(item, [1, 2, 3])
    assert len(n) == 2
    with la.open(path) as s:
        assert s["data"][0, 0] == 1.0 and s["data"][4, 0] == 8.0 and len(s["r"]) == 2


@pytest.mark.parametrize("method", METHODS)
def test_dataloader_style_workers(data, method):
    path, arrays, items = data
    with la.open(path) as s:
        ds = PairDataset(s["comp"], s["ragged"])
        blob = pickle.dumps(ds)
        assert len(blob) < 2000  # by reference: the workers open the file
        n = len(ds)
        order = np.random.default_rng(0).permutation(n)
        batches = [order[i : i + 16].tolist() for i in range(0, n, 16)]
        ctx = mp.get_context(method)
        with ctx.Pool(2, initializer=_init_worker, initargs=(ds,)) as pool:
            out = pool.map(_fetch, batches)
    for batch, got in zip(batches, out):
        for i, (row, item) in zip(batch, got):
            _check("comp", i, row, arrays, items)
            _check("ragged", i % len(items), item, arrays, items)
