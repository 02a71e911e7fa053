"""Compression settings on realistic data: which default should lazyarr use?

Run with ``PYTHONPATH=. python bench/codecs.py [--rows N] [--quick]`` (also
the ``codecs`` workload of ``python -m bench``). For every dataset, codec
(through ``Store.create_array(compression=..., level=..., shuffle=True,
chunks=...)``) and chunk size, it reports the compression ratio, the write
speed, the full-read speed ``x[:]`` and the cost of one random row ``x[i]``,
all through lazyarr's public API. Files go to a temporary directory removed
at the end.

Datasets (``rows x 64`` float32):

* ``normal-2dp``: standard normal values rounded to 2 decimals (the issue's
  data: measurements with a fixed precision);
* ``smooth``: a slowly varying signal per column (random walk of small steps,
  rounded to 3 decimals), like sensor time series.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from typing import Any

import numpy as np

import lazyarr as la
from bench._timing import run_times, summary

COLS = 64
#: (compression, level) pairs compared; None is uncompressed chunks.
SETTINGS: list[tuple[str | None, int]] = [
    ("blosc2:zstd", 1), ("blosc2:zstd", 5), ("blosc2:lz4", 5), ("zlib", 5), (None, 0),
]
#: Chunk sizes compared, in bytes (whole rows of 64 float32 each).
CHUNK_BYTES = [256 * 2**10, 2**20, 4 * 2**20]


def datasets(rows: int, quick: bool = False) -> dict[str, np.ndarray]:
    """The realistic datasets, ``(rows, 64)`` float32."""
    rng = np.random.default_rng(5)
    out = {"normal-2dp": np.round(rng.standard_normal((rows, COLS), dtype=np.float32), 2)}
    if not quick:
        walk = np.cumsum(rng.standard_normal((rows, COLS), dtype=np.float32) * 0.01, axis=0)
        out["smooth"] = np.round(walk, 3).astype(np.float32)
    return out


def _label(compression: str | None, level: int) -> str:
    return "none" if compression is None else f"{compression}/{level}"


def _size(nbytes: int) -> str:
    return f"{nbytes // 2**20} MiB" if nbytes >= 2**20 else f"{nbytes // 2**10} KiB"


def run(runner: Any, tmp: str, rows: int, random_rows: int, quick: bool = False) -> list[dict]:
    """Measure every setting with ``runner.repeats``; the table also goes to ``runner.extra``.

    The figures are minima over the repeats (medians are kept too). Note that
    HDF5 keeps recently decompressed chunks of zlib- and uncompressed nodes in
    its chunk cache (blosc2 reads in PyTables bypass it), so arrays of a few
    MiB flatter those settings; use the default sizes to choose.
    """
    rng = np.random.default_rng(6)
    table: list[dict] = []
    for dname, data in datasets(rows, quick).items():
        picks = rng.integers(0, rows, random_rows).tolist()
        for compression, level in SETTINGS:
            done = set()
            for cbytes in CHUNK_BYTES:
                chunk_rows = max(1, min(rows, cbytes // (COLS * 4)))
                if chunk_rows in done:  # a short array caps every chunk at its length
                    continue
                done.add(chunk_rows)
                path = os.path.join(tmp, f"{dname}-{_label(compression, level).replace('/', '-').replace(':', '-')}"
                                         f"-{cbytes}.h5")
                t0 = time.perf_counter()
                with la.open(path, "w") as store:
                    store.create_array("x", data, compression=compression, level=level,
                                       shuffle=True, chunks=(chunk_rows, COLS))
                write_s = time.perf_counter() - t0
                stored = os.path.getsize(path)
                setting = f"{_label(compression, level)}, chunks {_size(chunk_rows * COLS * 4)}"
                with la.open(path) as store:
                    x = store["x"]
                    if not np.array_equal(x[:], data):
                        raise AssertionError(f"codecs: {setting} read back different data")
                    full = summary(run_times(lambda: x[:], runner.repeats))

                    def rows_loop() -> None:
                        for i in picks:
                            x[i]

                    x[picks[0]]
                    one = summary(run_times(rows_loop, runner.repeats))
                table.append({
                    "dataset": dname, "compression": compression, "level": level,
                    "chunk_rows": chunk_rows, "chunk_bytes": chunk_rows * COLS * 4,
                    "ratio": data.nbytes / stored, "file_bytes": stored,
                    "write_MBps": data.nbytes / 2**20 / write_s,
                    "full_read_GBps": data.nbytes / 1e9 / full["min_s"],
                    "full_read_median_s": full["median_s"],
                    "random_row_us": one["min_s"] / random_rows * 1e6,
                    "random_row_median_us": one["median_s"] / random_rows * 1e6,
                    "in_hdf5_chunk_cache": data.nbytes <= 2 * _hdf5_chunk_cache(),
                })
                os.remove(path)
    runner.extra["codecs"] = table
    return table


def _hdf5_chunk_cache() -> int:
    import tables

    return int(tables.parameters.CHUNK_CACHE_SIZE)


def format_table(table: list[dict]) -> str:
    """The settings as an aligned plain-text table."""
    head = ["dataset", "compression", "chunk", "ratio", "write MB/s", "x[:] GB/s", "x[i] µs"]
    rows = [[t["dataset"], _label(t["compression"], t["level"]), _size(t["chunk_bytes"]),
             f"{t['ratio']:.2f}", f"{t['write_MBps']:.0f}", f"{t['full_read_GBps']:.2f}",
             f"{t['random_row_us']:.0f}"] for t in table]
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths)))
    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    if any(t["in_hdf5_chunk_cache"] for t in table):
        out.append("(arrays this small stay in HDF5's chunk cache: zlib and uncompressed reads are "
                   "flattered; blosc2 reads bypass it. Choose from a default-size run.)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from bench.workloads import Runner

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2**19, help="rows of 64 float32 (default 2**19: 128 MiB)")
    p.add_argument("--random", type=int, default=300, help="random single rows timed per setting")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="2**16 rows, one dataset, 2 repeats")
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.repeats, args.random = 2**16, 2, 100
    tmp = tempfile.mkdtemp(prefix="lazyarr-bench-codecs-")
    try:
        runner = Runner(args.repeats, log=lambda s: None)
        table = run(runner, tmp, args.rows, args.random, quick=args.quick)
        print(f"{args.rows:,} x {COLS} float32 per dataset, best of {args.repeats}; "
              "ratio = raw bytes / file bytes\n")
        print(format_table(table))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
