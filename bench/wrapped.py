"""Benchmark: NumPy fancy indexing on an h5py dataset, through lazyarr vs by hand (issue 8).

Run with ``PYTHONPATH=. python bench/wrapped.py [--rows 4194304] [--repeats 7]``
(``--quick`` for 512k rows, ``--compression gzip`` for a gzip-filtered dataset).

An ``(rows, 32)`` float32 h5py dataset in chunks of 4,096 rows (512 MB at the
default size, uncompressed unless ``--compression``) is written to a
temporary directory, which is removed at the end. Each repeat draws 4,096
unsorted row indices, a quarter of them repeats, and reads them two ways:

* ``lazyarr``: ``la.LazyArray(H5pyBackend(d))[idx]`` -- the planner sorts and
  deduplicates, h5py reads, NumPy puts the rows back in the key's order;
* ``h5py + take``: what one writes by hand, since h5py refuses unsorted or
  repeated indices: ``u, inv = np.unique(idx, return_inverse=True)``,
  ``np.take(d[u], inv, axis=0)``.

Both get the same keys (a fresh one per repeat, so neither profits from the
other's HDF5 chunk cache more than by chance); the results are compared.
Printed: minimum and median milliseconds per read, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

import h5py
import numpy as np

import lazyarr as la
from lazyarr.backends.h5py_dataset import H5pyBackend

COLS = 32
CHUNK_ROWS = 4096
KEY_ROWS = 4096


def _key(rng: np.random.Generator, rows: int) -> np.ndarray:
    """4,096 unsorted row indices, a quarter of them repeats of the others."""
    base = rng.integers(0, rows, KEY_ROWS - KEY_ROWS // 4)
    key = np.concatenate([base, rng.choice(base, KEY_ROWS // 4)])
    rng.shuffle(key)
    return key


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=4 * 2**20, help="rows (default 4,194,304: 512 MB)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--compression", default=None, help="an h5py filter, e.g. gzip (default none)")
    p.add_argument("--quick", action="store_true", help="512k rows, 3 repeats")
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.repeats = 2**19, 3

    tmp = tempfile.mkdtemp(prefix="lazyarr-bench-wrapped-")
    try:
        path = os.path.join(tmp, "wrapped.h5")
        rng = np.random.default_rng(0)
        with h5py.File(path, "w") as f:
            d = f.create_dataset("data", shape=(args.rows, COLS), dtype="f4",
                                 chunks=(CHUNK_ROWS, COLS), compression=args.compression)
            block = 64 * CHUNK_ROWS
            for start in range(0, args.rows, block):
                stop = min(args.rows, start + block)
                d[start:stop] = rng.standard_normal((stop - start, COLS), dtype=np.float32)
        size = os.path.getsize(path) / 2**20
        print(f"h5py {h5py.__version__}, dataset ({args.rows:,}, {COLS}) float32, chunks "
              f"({CHUNK_ROWS}, {COLS}), compression={args.compression}, file {size:,.0f} MB")

        with h5py.File(path, "r") as f:
            d = f["data"]
            x = la.LazyArray(H5pyBackend(d))
            keys = [_key(rng, args.rows) for _ in range(args.repeats)]
            # Same results, checked once up front.
            u, inv = np.unique(keys[0], return_inverse=True)
            np.testing.assert_array_equal(x[keys[0]], np.take(d[u], inv, axis=0))
            repeats = sum(len(k) - len(np.unique(k)) for k in keys) / len(keys)

            def lazy(k: np.ndarray) -> np.ndarray:
                return x[k]

            def by_hand(k: np.ndarray) -> np.ndarray:
                u, inv = np.unique(k, return_inverse=True)
                return np.take(d[u], inv, axis=0)

            # One read per key and method, alternating which goes first, so
            # both see the same page-cache and chunk-cache conditions.
            times: dict[str, list[float]] = {"lazy": [], "hand": []}
            for i, k in enumerate(keys):
                order = [("lazy", lazy), ("hand", by_hand)]
                for name, fn in order if i % 2 == 0 else order[::-1]:
                    t0 = time.perf_counter()
                    fn(k)
                    times[name].append(time.perf_counter() - t0)
            t_lazy = (min(times["lazy"]), statistics.median(times["lazy"]))
            t_hand = (min(times["hand"]), statistics.median(times["hand"]))

        print(f"{KEY_ROWS:,} unsorted rows per read ({repeats:.0f} of them repeats), "
              f"{len(keys)} reads per method")
        print(f"{'method':<28}{'min ms':>10}{'median ms':>12}")
        print(f"{'la.LazyArray(H5pyBackend)':<28}{t_lazy[0] * 1e3:>10.1f}{t_lazy[1] * 1e3:>12.1f}")
        print(f"{'h5py d[unique] + np.take':<28}{t_hand[0] * 1e3:>10.1f}{t_hand[1] * 1e3:>12.1f}")
        print(f"ratio lazyarr / by hand: min {t_lazy[0] / t_hand[0]:.2f}, "
              f"median {t_lazy[1] / t_hand[1]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
