"""Peak memory and time of NumPy functions on a LazyArray versus on ``np.asarray(x)``.

Each call runs in a fresh subprocess (its peak RSS, ``VmHWM``, reset after the imports),
once on the LazyArray (out of core) and once as ``fn(np.asarray(x))`` (the
whole array read into memory first, the file already in the page cache).
Reported per function: the peak RSS above the process's baseline after
opening the file, the best time of ``--repeats`` calls, and the ratio
lazyarr / NumPy of the times (the target is <= 1.25, i.e. at least 0.8x
NumPy's speed) and the peak (target: the block budget + 200 MB, plus the
result where the result is itself array-sized: clip, greater, where, concatenate,
stack). ``scipy.stats.describe(x)`` is measured too (SciPy converts its
input itself).

Usage (from the repository root)::

    PYTHONPATH=. python bench/numpy_functions.py --rows 8388608 --cols 32   # 1 GiB float32
    PYTHONPATH=. python bench/numpy_functions.py --quick                    # 64 MiB
    PYTHONPATH=. python bench/numpy_functions.py --only median histogram

The data file goes to a temporary folder (``--dir``) that is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: name -> (call on the array ``x``, bytes of its result per byte of ``x``: 0 for a small
#: result, 1 for an array-sized one). The peak allowed is the budget + 200 MB + that result.
CALLS: dict[str, tuple[str, float]] = {
    "histogram": ("np.histogram(x, bins=100)", 0),
    "histogram_bin_edges": ("np.histogram_bin_edges(x, bins=100)", 0),
    "median(axis=0)": ("np.median(x, axis=0)", 0),
    "median": ("np.median(x)", 0),
    "nanmedian(axis=0)": ("np.nanmedian(x, axis=0)", 0),
    "percentile(axis=0)": ("np.percentile(x, [5, 50, 95], axis=0)", 0),
    "nanpercentile(axis=0)": ("np.nanpercentile(x, [5, 95], axis=0)", 0),
    "quantile": ("np.quantile(x, 0.25)", 0),
    "nanquantile(axis=0)": ("np.nanquantile(x, 0.5, axis=0)", 0),
    "norm": ("np.linalg.norm(x)", 0),
    "norm(axis=1)": ("np.linalg.norm(x, axis=1)", 0),
    "norm(ord=1)": ("np.linalg.norm(x, ord=1)", 0),
    "norm(ord=2)": ("np.linalg.norm(x, ord=2)", 0),
    "unique(int8 cast)": ("np.unique(x.astype(np.int8), return_counts=True)", 0),
    "save": ("np.save(open(os.devnull, 'wb'), x)", 0),
    "count_nonzero": ("np.count_nonzero(x)", 0),
    "nanmean(axis=0)": ("np.nanmean(x, axis=0)", 0),
    "nanstd(axis=0)": ("np.nanstd(x, axis=0)", 0),
    "nansum": ("np.nansum(x)", 0),
    "nanmin(axis=0)": ("np.nanmin(x, axis=0)", 0),
    "nanmax": ("np.nanmax(x)", 0),
    "average(axis=0)": ("np.average(x, axis=0)", 0),
    "cov(rowvar=False)": ("np.cov(x, rowvar=False)", 0),
    "corrcoef(rowvar=False)": ("np.corrcoef(x, rowvar=False)", 0),
    "clip": ("np.clip(x, -1, 1)", 1),
    # The comparison is a call of its own (a bool ndarray, as NumPy gives); np.where's
    # peak is measured with that argument already built by the caller (SETUP).
    "greater": ("x > 0", 0.25),
    "where": ("np.where(c, x, 0)", 1),
    "concatenate": ("np.concatenate([x, x[:10]])", 1),
    # x.lazy[...] (``lz``) slices lazily: x[:n] would read half the array into memory first.
    "stack": ("np.stack([lz(x)[:len(x) // 2], lz(x)[len(x) // 2 : 2 * (len(x) // 2)]])", 1),
    "scipy.stats.describe": ("scipy.stats.describe(x)", 0),
}

#: name -> a statement that builds the call's arguments, run before the peak is reset (the
#: caller's own arrays are not the function's memory) and, on NumPy's side, after the load.
SETUP: dict[str, str] = {"where": "c = x > 0"}

_CHILD = textwrap.dedent("""
    import os, sys, time, json, warnings
    warnings.simplefilter("ignore")
    import numpy as np, scipy.stats, lazyarr as la, lazyarr.reduce as lr
    if {budget} is not None:
        lr.DEFAULT_BLOCK_BYTES = {budget}
    store = la.open({path!r})
    x = store["data"]
    x[:1]
    np.asarray(np.zeros(1))
    lz = lambda a: getattr(a, "lazy", a)  # a lazy slice of a LazyArray; an ndarray is itself

    def status(field):
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith(field))

    load = None
    if {numpy}:
        # NumPy's side: the whole array read once, outside the timings (the
        # file is in the page cache), then the call on the ndarray.
        t0 = time.perf_counter()
        x = np.asarray(x)
        load = time.perf_counter() - t0
    {setup}
    # Linux >= 4.0: writing 5 to clear_refs resets the peak RSS (VmHWM), so
    # the peak measured is the call's, not the imports' (nor the load's).
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = status("VmRSS:")
    times = []
    for _ in range({repeats}):
        t0 = time.perf_counter()
        r = {call}
        times.append(time.perf_counter() - t0)
        del r
    peak = status("VmHWM:")
    print(json.dumps({{"times": times, "seconds": min(times), "load": load, "peak_bytes": peak - base}}))
""")


def measure(path: str, call: str, *, numpy: bool = False, repeats: int = 1, budget: int | None = None,
            setup: str = "pass", timeout: float = 1200) -> dict:
    """Run ``call`` (an expression on ``x``, the array ``data`` of ``path``) in a fresh process.

    ``setup`` (a statement) builds the call's arguments before the peak is reset.
    Returns ``{"seconds": best time, "peak_bytes": peak RSS above the baseline}``.
    """
    code = _CHILD.format(path=path, call=call, numpy=numpy, repeats=repeats, budget=budget, setup=setup)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=timeout, check=False)
    if out.returncode:
        raise RuntimeError(f"{call} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_data(path: str, rows: int, cols: int, seed: int = 0, backend: str = "compressed") -> None:
    """A (rows, cols) float32 array of standard normal values (rounded to 2 decimals).

    ``backend="compressed"`` is ``create_array``'s default (Blosc2/Zstd);
    ``"plain"`` is an uncompressed contiguous array read through a memory map.
    """
    import lazyarr as la

    rng = np.random.default_rng(seed)
    step = max(1, (64 * 2**20) // (cols * 4))
    with la.open(path, "w") as store:
        if backend == "plain":
            x = store.create_array("data", shape=(rows, cols), dtype="f4", backend="plain")
            for start in range(0, rows, step):
                n = min(step, rows - start)
                x[start : start + n] = np.round(rng.standard_normal((n, cols), dtype=np.float32), 2)
            return
        x = store.create_array("data", shape=(0, cols), dtype="f4", expectedrows=rows)
        for start in range(0, rows, step):
            n = min(step, rows - start)
            x.append(np.round(rng.standard_normal((n, cols), dtype=np.float32), 2))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=8 * 2**20)
    p.add_argument("--cols", type=int, default=32)
    p.add_argument("--quick", action="store_true", help="64 MiB instead of 1 GiB")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", nargs="*", default=None, help="names (or prefixes) of the calls to run")
    p.add_argument("--no-numpy", action="store_true", help="skip the np.asarray(x) runs")
    p.add_argument("--backend", default="compressed", choices=["compressed", "plain"])
    p.add_argument("--data", default=None, help="an existing data file to use (kept; else one is written)")
    p.add_argument("--dir", default=None)
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args(argv)
    rows = 2**19 if args.quick else args.rows
    tmp = tempfile.mkdtemp(prefix="lazyarr-npfuncs-", dir=args.dir)
    results = {}
    try:
        import lazyarr.reduce as lr

        if args.data:
            path = args.data
            import lazyarr as la

            with la.open(path) as store:
                rows, cols = store["data"].shape
                args.backend = store["data"].backend.kind
        else:
            path, cols = os.path.join(tmp, "data.h5"), args.cols
            t0 = time.perf_counter()
            make_data(path, rows, cols, backend=args.backend)
            print(f"data written in {time.perf_counter() - t0:.0f} s")
        nbytes = rows * cols * 4
        print(f"data: ({rows}, {cols}) float32 = {nbytes / 2**20:.0f} MiB ({args.backend}); block budget "
              f"{lr.DEFAULT_BLOCK_BYTES / 2**20:.0f} MiB; {args.repeats} repeats; ratios lazyarr / numpy "
              "(numpy: the call on np.asarray(x), loaded once outside the timing)")
        limit = lr.DEFAULT_BLOCK_BYTES + 200 * 2**20
        print(f"{'call':<24} {'lazyarr s':>9} {'numpy s':>8} {'min':>6} {'median':>6} {'+load':>6} "
              f"{'peak MB':>8} {'limit':>6} {'numpy MB':>8} ok", flush=True)
        for name, (call, sized) in CALLS.items():
            if args.only and not any(name.startswith(o) for o in args.only):
                continue
            setup = SETUP.get(name, "pass")
            mine = measure(path, call, repeats=args.repeats, setup=setup)
            theirs = None if args.no_numpy else measure(path, call, numpy=True, repeats=args.repeats, setup=setup)
            nan = float("nan")
            ratio = mine["seconds"] / theirs["seconds"] if theirs else nan
            med = statistics.median(mine["times"]) / statistics.median(theirs["times"]) if theirs else nan
            # The literal reading: the call on np.asarray(x), the read included.
            with_load = mine["seconds"] / (theirs["seconds"] + theirs["load"]) if theirs else nan
            allowed = limit + (int(nbytes * sized) + 2 * 2**20 if sized else 0)
            ok = mine["peak_bytes"] <= allowed and (theirs is None or ratio <= 1.25)
            results[name] = dict(call=call, lazyarr=mine, numpy=theirs, ratio=ratio, median_ratio=med,
                                 ratio_with_load=with_load, allowed_peak=allowed)
            print(f"{name:<24} {mine['seconds']:9.2f} {theirs['seconds'] if theirs else nan:8.2f} "
                  f"{ratio:6.2f} {med:6.2f} {with_load:6.2f} {mine['peak_bytes'] / 1e6:8.0f} {allowed / 1e6:6.0f} "
                  f"{theirs['peak_bytes'] / 1e6 if theirs else nan:8.0f} {'yes' if ok else 'NO'}",
                  flush=True)
        if theirs:
            print(f"numpy's np.asarray(x) load: {theirs['load']:.2f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(rows=rows, cols=cols, backend=args.backend, results=results), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
