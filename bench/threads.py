"""Benchmark: random single-row reads from 8 threads versus 1 thread (issue 7).

Run with ``PYTHONPATH=. python bench/threads.py [--rows 200000] [--reads 4000]``.
Each figure is the minimum and the median over ``--repeats`` runs; the file
goes to a temporary directory removed at the end.

For a plain (contiguous) and a compressed (blosc2:zstd, default chunks)
``(rows, 64)`` float32 array, ``--reads`` random single rows ``x[i]`` are read
by one thread, then the same number split over 8 threads reading the same
array. The ratio ``8-thread throughput / 1-thread throughput`` says how much
the one-per-process HDF5 lock (:data:`lazyarr.backends.HDF5_LOCK`) costs or
allows: 1.0 means fully serialized, above 1 means work outside the lock
(planning, post-key, decompression once it moves out) runs in parallel.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading

import numpy as np

import lazyarr as la
from bench._timing import timeit

COLS = 64
THREADS = 8


def read_rows(x: la.LazyArray, idx: np.ndarray, threads: int) -> None:
    parts = np.array_split(idx, threads)
    if threads == 1:
        for i in parts[0].tolist():
            x[i]
        return
    barrier = threading.Barrier(threads)

    def body(part: np.ndarray) -> None:
        barrier.wait()
        for i in part.tolist():
            x[i]

    ts = [threading.Thread(target=body, args=(p,)) for p in parts]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--reads", type=int, default=4000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "threads.h5")
        rng = np.random.default_rng(0)
        data = rng.random((args.rows, COLS), dtype=np.float32)
        with la.open(path, "w") as s:
            s.create_array("plain", data, backend="plain")
            s.create_array("compressed", data)
        idx = rng.integers(0, args.rows, args.reads)
        print(f"{args.reads} random single-row reads of a ({args.rows}, {COLS}) float32 array, "
              f"{os.cpu_count()} CPUs")
        print(f"{'backend':<12}{'1 thread rows/s':>18}{'8 threads rows/s':>18}{'8 vs 1':>9}")
        with la.open(path) as s:
            for name in ("plain", "compressed"):
                x = s[name]
                x[0]  # open and warm up
                # Interleaved, so that load from other processes hits both alike.
                ones, manys = [], []
                for _ in range(args.repeats):
                    ones.append(timeit(lambda: read_rows(x, idx, 1), 1)[0])
                    manys.append(timeit(lambda: read_rows(x, idx, THREADS), 1)[0])
                one = (min(ones), statistics.median(ones))
                many = (min(manys), statistics.median(manys))
                r1, r8 = args.reads / one[0], args.reads / many[0]
                print(f"{name:<12}{r1:>18,.0f}{r8:>18,.0f}{r8 / r1:>8.2f}x"
                      f"   (median {args.reads / one[1]:,.0f} / {args.reads / many[1]:,.0f})")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
