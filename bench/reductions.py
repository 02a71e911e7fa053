"""Benchmark of out-of-core reductions (issue 6): peak memory and throughput.

Run with ``PYTHONPATH=. python bench/reductions.py [--mb 1024] [--repeats 3]``
(``--quick`` for a 256 MB run). Writes a plain (contiguous) ``(n, 64)``
float32 array of ``--mb`` megabytes to a temporary directory (removed at the
end), then runs each of these in a fresh subprocess:

* ``read``: one sequential pass over the file in blocks of the reduction
  budget (the I/O any reduction must do: the throughput baseline);
* ``mean(axis=0)``, ``std(axis=0)``, ``mean()``, ``std()`` with lazyarr;
* ``np.asarray(x).mean()``, materialising the array, for contrast.

For each it reports the minimum and median seconds over ``--repeats`` runs,
GB/s, throughput as a fraction of ``read`` (goal >= 0.8) and the peak RSS
growth of the subprocess (VmHWM after the call minus before, with the peak
reset by ``/proc/self/clear_refs`` after imports). Last, the error of the
float32 ``mean()`` of the whole array, lazyarr's and NumPy's, against a
float64 mean.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

COLS = 64

OPS = {
    "read": "for _ in row_blocks(x, rows_per_block(x)): pass",
    "mean(axis=0)": "x.mean(axis=0)",
    "std(axis=0)": "x.std(axis=0)",
    "mean()": "x.mean()",
    "std()": "x.std()",
    "np.asarray(x).mean()": "np.asarray(x).mean()",
}


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def child(op: str, path: str, repeats: int) -> None:
    """Run one operation ``repeats`` times; print timings and peak RSS growth as JSON."""
    import lazyarr as la
    from bench._timing import timeit
    from lazyarr.reduce import row_blocks, rows_per_block

    x = la.open_array(path)
    if op == "accuracy":
        exact = float(x.mean(dtype=np.float64))
        errors = {"lazyarr": float(x.mean()) - exact, "numpy": float(np.asarray(x).mean()) - exact}
        print(json.dumps({"exact": exact, **errors}))
        return
    x[:1]
    code = compile(OPS[op], op, "exec")
    env = {"x": x, "np": np, "row_blocks": row_blocks, "rows_per_block": rows_per_block}
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM: imports do not count
    before = _status("VmHWM")
    best, median = timeit(lambda: exec(code, env), repeats)
    print(json.dumps({"min": best, "median": median, "peak": _status("VmHWM") - before}))


def make(path: Path, mb: int) -> int:
    import lazyarr as la

    rows = mb * 2**20 // (COLS * 4)
    rng = np.random.default_rng(0)
    slab = (rng.standard_normal((65536, COLS)) * 10 + 3).astype(np.float32)
    with la.open(path, "w") as store:
        x = store.create_array("data", shape=(rows, COLS), dtype=np.float32, backend="plain")
        for start in range(0, rows, len(slab)):
            stop = min(rows, start + len(slab))
            x[start:stop] = slab[: stop - start]
    return rows * COLS * 4


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=int, default=1024, help="array size in MB (default 1024)")
    p.add_argument("--quick", action="store_true", help="256 MB, 2 repeats")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    if args.quick:
        args.mb, args.repeats = 256, 2
    tmp = Path(tempfile.mkdtemp(prefix="lazyarr-bench-"))
    try:
        path = tmp / "big.h5"
        nbytes = make(path, args.mb)
        root = Path(__file__).resolve().parents[1]
        print(f"plain float32 array ({nbytes / 1e9:.2f} GB), {args.repeats} repeats, "
              f"block budget 64 MB; peak RSS growth in a fresh process")
        cols = ("min s", 7), ("median s", 9), ("GB/s", 6), ("vs read", 8), ("peak MB", 8)
        print(f"{'operation':24s} " + " ".join(f"{c:>{w}s}" for c, w in cols))
        base = None
        for op in OPS:
            out = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--child", op, str(path), str(args.repeats)],
                capture_output=True, text=True, check=True, env={"PYTHONPATH": str(root)},
            ).stdout
            r = json.loads(out)
            gbs = nbytes / r["min"] / 1e9
            base = base or gbs
            print(f"{op:24s} {r['min']:7.3f} {r['median']:9.3f} {gbs:6.2f} {gbs / base:8.2f} "
                  f"{r['peak'] / 2**20:8.0f}")
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", "accuracy", str(path), "1"],
            capture_output=True, text=True, check=True, env={"PYTHONPATH": str(root)},
        ).stdout
        r = json.loads(out)
        print(f"float32 mean of {nbytes // 4:.2e} elements: exact {r['exact']:.9g}, error "
              f"lazyarr {r['lazyarr']:+.3g}, NumPy {r['numpy']:+.3g}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
