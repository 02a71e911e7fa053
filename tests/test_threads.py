"""Concurrent reads from many threads: same array, different arrays of one
file, every backend and cache policy; counters stay exact; fork while other
threads read."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading

import numpy as np
import pytest

import lazyarr as la

THREADS = 8
# 150 keys a thread in the default suite (it stays lean), 400 in the heavy profile.
KEYS_PER_THREAD = 400 if os.environ.get("HYPOTHESIS_PROFILE") == "heavy" else 150

POLICIES = {
    "nocache": None,
    "swap": la.SwapWindow(3 * 2**10),
    "inmemory": la.InMemory(),
}


def random_key(rng: np.random.Generator, shape: tuple[int, int]) -> object:
    """A random key NumPy accepts: ints, slices (any step), index lists with
    repeats, masks, and mixes of them."""
    n, m = shape
    kind = rng.integers(0, 7)
    a, b = sorted(rng.integers(-n, n, 2).tolist())
    if kind == 0:
        return int(rng.integers(-n, n))
    if kind == 1:
        return slice(a, b, int(rng.choice([1, 2, 3, -1, -4])))
    if kind == 2:
        return rng.integers(-n, n, int(rng.integers(1, 12))).tolist()
    if kind == 3:
        return rng.random(n) < 0.2
    if kind == 4:
        return (int(rng.integers(0, n)), slice(None, None, -1))
    if kind == 5:
        return (slice(a, b), rng.integers(0, m, 3))
    return (rng.integers(0, n, 4), rng.integers(0, m, 4))  # points


def random_item_key(rng: np.random.Generator, n: int) -> object:
    kind = rng.integers(0, 3)
    if kind == 0:
        return int(rng.integers(-n, n))
    if kind == 1:
        a, b = sorted(rng.integers(0, n, 2).tolist())
        return slice(a, b + 1)
    return rng.integers(-n, n, int(rng.integers(1, 8))).tolist()


def check(got, want) -> None:
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want):
            check(g, w)
        return
    assert type(got) is type(want), (type(got), type(want))
    assert got.dtype == want.dtype and np.shape(got) == np.shape(want)
    np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="module")
def h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("thr") / "thr.h5"
    rng = np.random.default_rng(11)
    arrays = {
        "plain": rng.random((300, 9)),
        "comp": rng.integers(-1000, 1000, (400, 7)).astype(">i8"),
    }
    items = [rng.random(int(n)).astype("f4") for n in rng.integers(0, 30, 250)]
    with la.open(path, "w") as s:
        s.create_array("plain", arrays["plain"], backend="plain")
        s.create_array("comp", arrays["comp"], chunks=(32, 7))
        for kind in ("offsets", "vl"):
            s.create_ragged(f"r_{kind}", dtype="f4", item_ndim=1, backend=kind).extend(items)
    return path, arrays, items


@pytest.fixture(autouse=True)
def frequent_switches():
    # Switch threads every few microseconds instead of every 5 ms: many more
    # interleavings of the reads in the same run time.
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def run_threads(target) -> None:
    """Run ``target(rng)`` in :data:`THREADS` threads started together; re-raise
    the first failure."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def body(seed: int) -> None:
        rng = np.random.default_rng(seed)
        barrier.wait()
        try:
            target(rng)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.mark.parametrize("policy", list(POLICIES), ids=list(POLICIES))
def test_threads_read_every_backend_correctly(h5, policy):
    """8 threads x KEYS_PER_THREAD random keys, each on a random array: the same arrays
    from many threads, and different arrays of one file at once."""
    path, arrays, items = h5
    cache = POLICIES[policy]
    memory = np.arange(500 * 3, dtype="u2").reshape(500, 3)
    with la.open(path, cache=cache) as s:
        objs = {
            "plain": (s["plain"], arrays["plain"]),
            "comp": (s["comp"], arrays["comp"]),
            "memory": (la.LazyArray(la.backends.MemoryBackend(memory), cache=cache), memory),
        }
        ragged = [s["r_offsets"], s["r_vl"]]
        names = list(objs)

        def reads(rng: np.random.Generator) -> None:
            for _ in range(KEYS_PER_THREAD):
                pick = int(rng.integers(0, len(names) + len(ragged)))
                if pick < len(names):
                    x, a = objs[names[pick]]
                    key = random_key(rng, a.shape)
                    check(x[key], a[key])
                else:
                    r = ragged[pick - len(names)]
                    key = random_item_key(rng, len(items))
                    want = items[key] if isinstance(key, (int, slice)) else [items[i] for i in key]
                    check(r[key], want)

        run_threads(reads)


@pytest.mark.parametrize("rows", [3, 8, 40])
def test_swap_window_streams_from_many_threads(h5, rows):
    """Every thread streams its own run of minibatches through one shared
    SwapWindow, so windows are hit, extended and replaced concurrently."""
    path, arrays, items = h5
    a = arrays["comp"]
    with la.open(path, cache=la.SwapWindow(rows * 7 * 8)) as s:
        x, r = s["comp"], s["r_vl"]

        def stream(rng: np.random.Generator) -> None:
            for _ in range(4):
                start = int(rng.integers(0, len(a) - 100))
                for i in range(start, start + 100, int(rng.integers(1, 6))):
                    check(x[i : i + 5], a[i : i + 5])
                    j = i % (len(items) - 3)
                    check(r[j : j + 3], items[j : j + 3])

        run_threads(stream)


@pytest.mark.parametrize("policy", ["nocache", "swap"])
def test_counters_stay_exact_under_threads(h5, policy):
    path, arrays, items = h5
    with la.open(path, cache=POLICIES[policy]) as s:
        x, r = s["comp"], s["r_offsets"]
        n = len(arrays["comp"])

        def reads(rng: np.random.Generator) -> None:
            for _ in range(200):
                a = int(rng.integers(0, n - 10))
                x[a : a + 10]  # one cache read per call
                b = int(rng.integers(0, len(items) - 5))
                r[b : b + 5]

        run_threads(reads)
        for arr in (x, r):
            st = arr.cache_stats
            assert st["hits"] + st["misses"] == THREADS * 200, st
            if policy == "nocache":
                assert st["backend_reads"] == THREADS * 200, st


def _read_rows(x, key):
    return x[key]


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_fork_while_other_threads_read(h5):
    """Forking while threads are inside HDF5 calls: the fork waits for the
    HDF5 lock, so children neither inherit a held lock nor a half-done call."""
    path, arrays, _ = h5
    stop = threading.Event()
    errors: list[BaseException] = []
    with la.open(path) as s:
        x = s["comp"]

        def spin() -> None:
            try:
                while not stop.is_set():
                    check(x[::3, 1:], arrays["comp"][::3, 1:])
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=spin) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            for _ in range(3):
                with mp.get_context("fork").Pool(2) as pool:
                    keys = [slice(i, i + 50) for i in range(0, 400, 50)]
                    got = pool.starmap_async(_read_rows, [(x, k) for k in keys]).get(timeout=120)
                for k, g in zip(keys, got):
                    # Values only: NumPy 2.4 unpickles a big-endian array (the
                    # pool's pipe, protocol 4) as native order.
                    np.testing.assert_array_equal(g, arrays["comp"][k])
        finally:
            stop.set()
            for t in threads:
                t.join()
    assert not errors, errors[0]
