"""Benchmarks of ragged arrays against the PyTables walkthrough's recipes.

Run with ``PYTHONPATH=. python bench/ragged.py`` (or ``python -m bench.ragged``).
Every figure is the minimum and the median over ``--repeats`` runs. Files go
to a temporary directory that is removed at the end.

1. **Slice of 1,000 items**: ``r[0:1000]`` on lazyarr's ``ragged-offsets``
   (own layout and the walkthrough's file opened with ``Store.ragged``)
   against the walkthrough's per-item getter on its EArray layout (three tiny
   HDF5 reads per item), and lazyarr's ``ragged-vl`` against per-item reads of
   the walkthrough's VLArray layout.
2. **Appends**: items appended one at a time against one bulk ``extend``
   (time includes writing them: the store is closed inside the timing).
3. **Bytes on disk** against raw bytes for the walkthrough's pseudo images.

Targets (issue 3): slice >= 50x faster than the per-item getter; one-at-a-time
appends >= 0.5x the throughput of ``extend``; ``ragged-offsets`` with the
default compression <= 0.5x the raw size of the pseudo images.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from typing import Callable

import numpy as np
import tables

import lazyarr as la
from bench._timing import timeit
from lazyarr.cli.ragged_demo import walkthrough_images


def write_walkthrough_earray(path: str, items: list[np.ndarray]) -> None:
    """The walkthrough's EArray layout (whole items per append: same file)."""
    with tables.open_file(path, "w") as f:
        filters = tables.Filters(complevel=5, complib="blosc")
        data = f.create_earray(f.root, "data", tables.Int32Atom(), shape=(0,), filters=filters,
                               expectedrows=50 * len(items))
        ss = f.create_earray(f.root, "data_start_and_stop", tables.Int32Atom(), shape=(0, 2),
                             filters=filters)
        shp = f.create_earray(f.root, "data_shape", tables.Int32Atom(), shape=(0, 2),
                              filters=filters)
        start = 0
        for a in items:
            data.append(a.ravel())
            ss.append(np.array((start, start + a.size))[None])
            shp.append(np.array(a.shape)[None])
            start += a.size


def write_walkthrough_vlarray(path: str, items: list[np.ndarray]) -> None:
    """The walkthrough's VLArray layout with its shape column."""
    with tables.open_file(path, "w") as f:
        data = f.create_vlarray(f.root, "data", tables.Int32Atom(shape=()))
        shp = f.create_earray(f.root, "data_shape", tables.Int32Atom(), shape=(0, 2),
                              expectedrows=len(items))
        for a in items:
            data.append(a.ravel())
            shp.append(np.array(a.shape)[None])


def walkthrough_earray_getter(f: tables.File) -> Callable[[slice], list]:
    """The walkthrough's getter for its EArray layout (In [21]), verbatim in effect."""
    shape_node = f.root.data_shape
    old_data_getter = f.root.data.__getitem__
    shape_getter = f.root.data_shape.__getitem__
    start_and_stop_getter = f.root.data_start_and_stop.__getitem__

    def getter(key: slice) -> list:
        start = key.start if key.start is not None else 0
        stop = key.stop if key.stop is not None else len(shape_node)
        step = key.step if key.step is not None else 1
        pos_keys = [len(shape_node) + k if k < 0 else k for k in range(start, stop, step)]
        starts_and_stops = [start_and_stop_getter(k) for k in pos_keys]
        shapes = [shape_getter(k) for k in pos_keys]
        return [old_data_getter(slice(dstrt, dstp, 1)).reshape(shp)
                for ((dstrt, dstp), shp) in zip(starts_and_stops, shapes)]

    return getter


def walkthrough_vl_getter(f: tables.File) -> Callable[[slice], list]:
    """The walkthrough's VLArray getter (In [16]): one row read per item."""
    old_data_getter = f.root.data.__getitem__
    shape_getter = f.root.data_shape.__getitem__

    def getter(key: slice) -> list:
        return [old_data_getter(k).reshape(shape_getter(k)) for k in range(*key.indices(len(f.root.data)))]

    return getter


def fmt(t: tuple[float, float]) -> str:
    return f"min {t[0] * 1e3:8.2f} ms  median {t[1] * 1e3:8.2f} ms"


#: Seconds of timed runs every case of :func:`bench_slice` gets at least
#: (still at least ``repeats`` runs, at most 200). Three runs of a 1 ms read
#: after one warm-up timed CPython warming up (its specialising interpreter
#: quickens code after a few calls: measured 2.5, 0.84, 1.06, 0.92 ms, then
#: 0.65 ms from the tenth call on), not the read; the getter's 60 ms runs are
#: long enough either way.
SLICE_BUDGET_S = 0.25


def _steady(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """``timeit(fn, n)`` with as many runs ``n`` as :data:`SLICE_BUDGET_S` takes."""
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    return timeit(fn, int(min(200, max(repeats, SLICE_BUDGET_S // max(one, 1e-6)))))


def bench_slice(tmp: str, repeats: int, n_items: int = 2000, k: int = 1000) -> dict:
    items = walkthrough_images(n=n_items)
    start = max(0, min(500, n_items - k))  # 500 unless the file is too short
    key = slice(start, start + k)
    want = items[key]
    walk = os.path.join(tmp, "walk-earray.h5")
    walk_vl = os.path.join(tmp, "walk-vlarray.h5")
    own = os.path.join(tmp, "own.h5")
    write_walkthrough_earray(walk, items)
    write_walkthrough_vlarray(walk_vl, items)
    with la.open(own, "w") as s:
        s.create_ragged("offsets", dtype="int32", item_ndim=2).extend(items)
        s.create_ragged("vl", dtype="int32", item_ndim=2, backend="vl").extend(items)

    def same(got: list) -> None:
        assert len(got) == len(want) and all(np.array_equal(g, w) for g, w in zip(got, want))

    out = {}
    with tables.open_file(walk) as f:
        g = walkthrough_earray_getter(f)
        same(g(key))
        out["walkthrough EArray per-item getter"] = _steady(lambda: g(key), repeats)
    with tables.open_file(walk_vl) as f:
        g = walkthrough_vl_getter(f)
        same(g(key))
        out["walkthrough VLArray per-item reads"] = _steady(lambda: g(key), repeats)
    with la.open(walk) as s:
        r = s.ragged("data", shapes="data_shape", bounds="data_start_and_stop")
        same(r[key])
        out["lazyarr ragged-offsets, walkthrough file"] = _steady(lambda: r[key], repeats)
    with la.open(own) as s:
        ro, rv = s["offsets"], s["vl"]
        same(ro[key])
        same(rv[key])
        out["lazyarr ragged-offsets"] = _steady(lambda: ro[key], repeats)
        out["lazyarr ragged-vl"] = _steady(lambda: rv[key], repeats)
    return out


def bench_random_items(tmp: str, repeats: int, n_items: int = 2000, calls: int = 1000) -> dict:
    """``calls`` random single items, ``r[i]``: each layout on its own file, the
    walkthrough's getters (``getter(slice(i, i + 1))``) on the walkthrough's files."""
    items = walkthrough_images(n=n_items)
    picks = np.random.default_rng(3).integers(0, n_items, calls).tolist()
    walk = os.path.join(tmp, "rand-walk-earray.h5")
    walk_vl = os.path.join(tmp, "rand-walk-vlarray.h5")
    own = os.path.join(tmp, "rand-own.h5")
    write_walkthrough_earray(walk, items)
    write_walkthrough_vlarray(walk_vl, items)
    with la.open(own, "w") as s:
        s.create_ragged("offsets", dtype="int32", item_ndim=2).extend(items)
        s.create_ragged("vl", dtype="int32", item_ndim=2, backend="vl").extend(items)

    def check(get: Callable[[int], np.ndarray]) -> None:
        assert all(np.array_equal(get(i), items[i]) for i in picks[:50])

    def timed(get: Callable[[int], np.ndarray]) -> tuple[float, float]:
        check(get)
        return timeit(lambda: [get(i) for i in picks], repeats)

    out = {}
    with tables.open_file(walk) as f:
        g = walkthrough_earray_getter(f)
        out["walkthrough EArray per-item getter"] = timed(lambda i: g(slice(i, i + 1))[0])
    with tables.open_file(walk_vl) as f:
        g = walkthrough_vl_getter(f)
        out["walkthrough VLArray per-item reads"] = timed(lambda i: g(slice(i, i + 1))[0])
    with la.open(own) as s:
        ro, rv = s["offsets"], s["vl"]
        out["lazyarr ragged-offsets"] = timed(ro.__getitem__)
        out["lazyarr ragged-vl"] = timed(rv.__getitem__)
    return out


def bench_appends(tmp: str, repeats: int, n_items: int = 20000) -> dict:
    items = walkthrough_images(n=n_items)
    out = {}
    for backend in ("offsets", "vl"):
        path = os.path.join(tmp, f"app-{backend}.h5")

        def one_at_a_time() -> None:
            with la.open(path, "w") as s:
                r = s.create_ragged("r", dtype="int32", item_ndim=2, backend=backend)
                for a in items:
                    r.append(a)

        def bulk() -> None:
            with la.open(path, "w") as s:
                s.create_ragged("r", dtype="int32", item_ndim=2, backend=backend).extend(items)

        out[(backend, "append")] = timeit(one_at_a_time, repeats)
        out[(backend, "extend")] = timeit(bulk, repeats)
        with la.open(path) as s:
            assert len(s["r"]) == n_items
    return out


def bench_size(tmp: str) -> dict:
    items = walkthrough_images()
    raw = sum(a.nbytes for a in items)
    out = {"raw": raw}
    for backend in ("offsets", "vl"):
        path = os.path.join(tmp, f"size-{backend}.h5")
        with la.open(path, "w") as s:
            s.create_ragged("r", dtype="int32", item_ndim=2, backend=backend).extend(items)
        with la.open(path) as s:
            out[backend] = (s["r"].nbytes_stored, os.path.getsize(path))
    walk = os.path.join(tmp, "size-walk.h5")
    write_walkthrough_earray(walk, items)
    with tables.open_file(walk) as f:
        stored = sum(int(n.size_on_disk) for n in (f.root.data, f.root.data_start_and_stop, f.root.data_shape))
    out["walkthrough blosc EArray"] = (stored, os.path.getsize(walk))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="lazyarr-bench-ragged-")
    try:
        print(f"lazyarr {la.__version__}, tables {tables.__version__}, numpy {np.__version__}; "
              f"{args.repeats} repeats")
        print("\n1. slice of 1,000 walkthrough pseudo images (of 2,000)")
        res = bench_slice(tmp, args.repeats)
        for name, t in res.items():
            print(f"  {name:42s} {fmt(t)}")
        base = res["walkthrough EArray per-item getter"]
        lz = res["lazyarr ragged-offsets"]
        print(f"  speed-up ragged-offsets vs per-item getter: {base[0] / lz[0]:.0f}x (min), "
              f"{base[1] / lz[1]:.0f}x (median)  [target >= 50x]")
        lzw = res["lazyarr ragged-offsets, walkthrough file"]
        print(f"  speed-up on the walkthrough's own file:      {base[0] / lzw[0]:.0f}x (min), "
              f"{base[1] / lzw[1]:.0f}x (median)")
        vb, vl = res["walkthrough VLArray per-item reads"], res["lazyarr ragged-vl"]
        print(f"  speed-up ragged-vl vs VLArray per-item reads: {vb[0] / vl[0]:.0f}x (min), "
              f"{vb[1] / vl[1]:.0f}x (median)")

        print("\n2. appending 20,000 pseudo images (including the write on close)")
        res2 = bench_appends(tmp, max(3, args.repeats // 2))
        for backend in ("offsets", "vl"):
            a, e = res2[(backend, "append")], res2[(backend, "extend")]
            print(f"  {backend:8s} one-at-a-time {fmt(a)}  ({20000 / a[0]:,.0f} items/s)")
            print(f"  {backend:8s} bulk extend   {fmt(e)}  ({20000 / e[0]:,.0f} items/s)")
            print(f"  {backend:8s} append/extend throughput: {e[0] / a[0]:.2f} (min), "
                  f"{e[1] / a[1]:.2f} (median)  [target >= 0.5]")

        print("\n3. bytes on disk, 1,000 walkthrough pseudo images (int32)")
        res3 = bench_size(tmp)
        raw = res3.pop("raw")
        print(f"  raw item bytes {raw:,}")
        for name, (stored, fsize) in res3.items():
            print(f"  {name:26s} stored {stored:>9,} ({stored / raw:.2f}x raw)   "
                  f"file {fsize:>9,} ({fsize / raw:.2f}x raw)")
        print("  [target: offsets stored <= 0.5x raw]  (ragged-vl stored is an estimate)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
