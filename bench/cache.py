"""Benchmarks of the cache policies (issue 4).

Run with ``PYTHONPATH=. python bench/cache.py [--mb 1024] [--repeats 3]``
(``--quick`` for a 128 MB run). Every figure is the minimum and the median
over ``--repeats`` runs; files go to a temporary directory removed at the end.

1. **Sequential minibatches**: 256-row minibatches over a blosc2-compressed
   ``(n, 256)`` float32 array of ``--mb`` megabytes under NoCache,
   SwapWindow(64 MB) and InMemory, against raw PyTables 256-row minibatches
   and one big read of every row.
2. **Random single rows** (``--random`` of them) under each policy.

Targets: SwapWindow minibatches >= 0.8x the throughput of one big read and
>= 3x faster than raw PyTables minibatches; InMemory single-row reads no
slower than the normal driver's (NoCache).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from typing import Callable

import numpy as np
import tables

import lazyarr as la
from bench._timing import timeit

BATCH = 256
COLS = 64


def policies(window: int = 64 * 2**20) -> dict[str, la.cache.CachePolicy]:
    """The policies every minibatch benchmark runs under, by label."""
    return {"NoCache": la.NoCache(), f"SwapWindow({window / 2**20:g} MB)": la.SwapWindow(window),
            "InMemory": la.InMemory()}


def minibatch_cases(path: str, node: str, rows: int, batch: int = BATCH,
                    window: int = 64 * 2**20) -> dict[str, Callable[[], None]]:
    """Timed cases: one pass of ``batch``-row minibatches over the first ``rows`` rows.

    Each case opens the file inside the timing (so InMemory pays for loading
    the file), keyed by label: ``"one big read"`` (lazyarr ``x[:rows]``),
    ``"raw PyTables minibatches"`` and ``"<policy> minibatches"`` for every
    policy of :func:`policies` (SwapWindow of ``window`` bytes).
    """

    def minibatches(policy: la.cache.CachePolicy) -> Callable[[], None]:
        def run() -> None:
            with la.open(path, cache=policy) as store:
                x = store[node]
                for i in range(0, rows, batch):
                    x[i : i + batch]
        return run

    def raw_minibatches() -> None:
        with tables.open_file(path) as f:
            n = f.get_node(node)
            for i in range(0, rows, batch):
                n[i : i + batch]

    def one_big_read() -> None:
        with la.open(path) as store:
            store[node][:rows]

    cases = {"one big read": one_big_read, "raw PyTables minibatches": raw_minibatches}
    for label, policy in policies(window).items():
        cases[f"{label} minibatches"] = minibatches(policy)
    return cases


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=int, default=1024, help="array size in MB (default 1024)")
    p.add_argument("--quick", action="store_true", help="128 MB, 2 repeats")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--random", type=int, default=2000, help="random single-row reads")
    args = p.parse_args(argv)
    if args.quick:
        args.mb, args.repeats = 128, 2
    rows = args.mb * 2**20 // (COLS * 4)
    tmp = tempfile.mkdtemp(prefix="lazyarr-bench-cache-")
    path = f"{tmp}/bench.h5"
    try:
        rng = np.random.default_rng(0)
        with la.open(path, "w") as store:
            x = store.create_array("data", shape=(0, COLS), dtype="float32", expectedrows=rows)
            # Compressible but not trivial: rounded noise.
            for i in range(0, rows, 65536):
                k = min(rows, i + 65536) - i
                x.append(np.round(rng.standard_normal((k, COLS)), 1).astype(np.float32))
        nbytes = rows * COLS * 4
        print(f"array ({rows}, {COLS}) float32, {nbytes / 2**20:.0f} MB, "
              f"chunks {la.open_array(path).chunks}, {args.repeats} repeats\n")

        cases = list(minibatch_cases(path, "/data", rows).items())
        res = {}
        print(f"{'sequential ' + str(BATCH) + '-row minibatches':40s} {'min s':>8s} {'med s':>8s} {'MB/s':>8s}")
        for name, fn in cases:
            res[name] = timeit(fn, args.repeats)
            print(f"{name:40s} {res[name][0]:8.3f} {res[name][1]:8.3f} "
                  f"{nbytes / 2**20 / res[name][0]:8.0f}")
        sw = res["SwapWindow(64 MB) minibatches"][0]
        print(f"\nSwapWindow throughput / one big read: {res['one big read'][0] / sw:.2f}x (target >= 0.8)")
        print(f"raw PyTables minibatches / SwapWindow: {res['raw PyTables minibatches'][0] / sw:.2f}x "
              "faster (target >= 3)")

        # A plain (contiguous, uncompressed) copy: there a single row costs a
        # syscall and a memcpy, not a chunk decompression, so the driver shows.
        with la.open(path, "a") as store:
            store.create_array("plain", np.asarray(store["data"]), backend="plain")
        picks = rng.integers(0, rows, args.random).tolist()
        ratios = {}
        for node in ("data", "plain"):
            print(f"\n{str(args.random) + ' random single rows, ' + node:40s} {'min s':>8s} {'med s':>8s} {'us/row':>8s}")
            rand = {}
            for policy in policies().values():
                with la.open(path, cache=policy) as store:
                    x = store[node]
                    x[0]  # the open (InMemory: reading the whole file) is not timed

                    def run() -> None:
                        for i in picks:
                            x[i]
                    rand[repr(policy)] = timeit(run, args.repeats)
                m = rand[repr(policy)]
                print(f"{repr(policy):40s} {m[0]:8.3f} {m[1]:8.3f} {m[0] / args.random * 1e6:8.1f}")
            ratios[node] = rand["NoCache()"][0] / rand["InMemory()"][0]
        print(f"\nInMemory single rows vs normal driver: {ratios['data']:.2f}x faster (compressed), "
              f"{ratios['plain']:.2f}x faster (plain) (target >= 1)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
