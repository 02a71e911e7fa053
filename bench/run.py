"""lazyarr benchmark suite: lazyarr against PyTables, h5py, zarr, numpy.memmap and NumPy.

Run from the repository root with ``python -m bench`` or ``python bench/run.py``
(``--quick`` for a run of under two minutes, ``--help`` for every option).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import Any, Callable

if __package__ in (None, ""):  # ``python bench/run.py``: make ``bench`` and ``lazyarr`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from bench import _data  # noqa: E402
from bench._machine import describe, machine_info  # noqa: E402
from bench.workloads import WORKLOADS, Context, Runner  # noqa: E402

#: The issue's targets: (description, workload, variant, text in the case,
#: impl, reference impl, max of time(impl) / time(reference)). The reference
#: may be another case of the same impl, written "case:<text in that case>".
TARGETS: list[tuple[str, str, str, str, str, str, float]] = [
    ("fancy sorted, zstd: <= 0.4x h5py", "fancy", "blosc2:zstd", "sorted unique", "lazyarr", "h5py", 0.4),
    ("fancy sorted, zstd: <= 1/50 PyTables", "fancy", "blosc2:zstd", "sorted unique", "lazyarr", "pytables",
     1 / 50),
    ("fancy unsorted+repeats <= 1.1x sorted, zstd", "fancy", "blosc2:zstd", "unsorted", "lazyarr",
     "case:sorted unique", 1.1),
    ("1% mask, zstd: faster than h5py", "mask", "blosc2:zstd", "", "lazyarr", "h5py", 1.0),
    ("1% mask, lz4: faster than h5py", "mask", "blosc2:lz4", "", "lazyarr", "h5py", 1.0),
    ("large slices, plain: >= 0.95x PyTables throughput", "slice", "plain", "", "lazyarr", "pytables",
     1 / 0.95),
    ("large slices, zstd: >= 5x PyTables throughput", "slice", "blosc2:zstd", "", "lazyarr", "pytables", 0.2),
    ("large slices, lz4: >= 5x PyTables throughput", "slice", "blosc2:lz4", "", "lazyarr", "pytables", 0.2),
    ("full read, zstd: >= 5x PyTables throughput", "full", "blosc2:zstd", "", "lazyarr", "pytables", 0.2),
    ("full read, lz4: >= 5x PyTables throughput", "full", "blosc2:lz4", "", "lazyarr", "pytables", 0.2),
    ("full read, zstd: >= 0.7x blosc2 codec speed", "full", "blosc2:zstd", "", "lazyarr",
     "blosc2 decode only", 1 / 0.7),
    ("full read, lz4: >= 0.7x blosc2 codec speed", "full", "blosc2:lz4", "", "lazyarr",
     "blosc2 decode only", 1 / 0.7),
    ("single row, plain: <= 1.3x PyTables per call", "row", "plain", "", "lazyarr", "pytables", 1.3),
    ("single row, zstd: <= 0.2x PyTables per call", "row", "blosc2:zstd", "", "lazyarr", "pytables", 0.2),
    ("single row, lz4: <= 0.2x PyTables per call", "row", "blosc2:lz4", "", "lazyarr", "pytables", 0.2),
    *[(f"per call {case}, memory: <= {limit}x NumPy", "percall", "memory", case, "lazyarr", "numpy", limit)
      for case, limit in [("x[3]", 8), ("x[3, 4]", 8), ("x[1:5]", 8), ("x[-1]", 8), ("x[::2, 0]", 8),
                          ("x[[1, 2]]", 3), ("x[[[1], [2]], [0, 3]]", 3), ("x[mask of 1,000]", 2)]],
]
#: Issue 13, plain arrays and ragged items (memmap: the same bytes, see bench/_data.py).
TARGETS += [
    ("13: plain 4,096 sorted rows <= 3x memmap", "fancy", "plain", "sorted unique", "lazyarr", "memmap", 3),
    ("13: plain 5,120 unsorted rows, repeats <= 3x memmap", "fancy", "plain", "unsorted", "lazyarr",
     "memmap", 3),
    ("13: plain 1% mask <= 2x memmap", "mask", "plain", "", "lazyarr", "memmap", 2),
    ("13: plain random x[i] <= 3x memmap (row copied)", "row", "plain", "", "lazyarr", "memmap", 3),
    ("13: plain column x[:, 5] <= 2x memmap", "column", "plain", "x[:, 5]", "lazyarr", "memmap", 2),
    ("13: plain 100k-row slice <= 1.2x memmap", "slice", "plain", "", "lazyarr", "memmap", 1.2),
    ("13: ragged random item <= 0.5x the walkthrough's getter", "ragged", "offsets", "random r[i]",
     "lazyarr", "pytables", 0.5),
    ("13: ragged 1,000-item slice <= 1/100 the walkthrough's getter", "ragged", "offsets", "item slice",
     "lazyarr", "pytables", 0.01),
    ("13: SwapWindow plain minibatches <= 1.05x NoCache", "minibatch", "plain", "",
     "lazyarr SwapWindow(64 MB)", "lazyarr NoCache", 1.05),
    ("13: SwapWindow zstd minibatches <= 1.25x one big read", "minibatch", "blosc2:zstd", "",
     "lazyarr SwapWindow(64 MB)", "lazyarr x[:R] one read", 1.25),
]
#: Issue 13b, lazyarr's default compressed layout (workload "direct").
TARGETS += [
    ("13: compressed random x[i] <= 0.05x PyTables", "direct", "zstd-1", "random x[i]", "lazyarr", "pytables",
     0.05),
    ("13: compressed 4,096 sorted rows <= 0.4x h5py", "direct", "zstd-1", "sorted rows", "lazyarr", "h5py", 0.4),
    ("13: compressed 1% mask <= 0.5x h5py", "direct", "zstd-1", "mask", "lazyarr", "h5py", 0.5),
    ("13: compressed full read <= 1.1x blosc2 alone", "direct", "zstd-1", "x[:]", "lazyarr",
     "blosc2 decode only", 1.1),
    ("13: compressed create <= 1.0x PyTables", "direct", "zstd-1", "create", "lazyarr", "pytables", 1.0),
    ("13: compressed create <= 1.5x zarr", "direct", "zstd-1", "create", "lazyarr", "zarr", 1.5),
    ("13: compressed one-row appends >= 0.5x bulk", "direct", "zstd-1", "appended", "lazyarr",
     "lazyarr bulk", 2.0),
]


# --------------------------------------------------------------------------
# Derived numbers
# --------------------------------------------------------------------------
def _group(r: dict) -> tuple[str, str, str]:
    return (r["workload"], r["variant"], r["case"])


def add_ratios(records: list[dict]) -> None:
    """``lazyarr_ratio_min``/``_median``: the group's lazyarr time / this record's time.

    Below 1 lazyarr is faster. The group's lazyarr record is the one marked
    ``primary`` (plain ``lazyarr`` unless a workload says otherwise).
    """
    primary = {_group(r): r for r in records if r["primary"]}
    for r in records:
        p = primary.get(_group(r))
        r["per_call_us"] = r["min_s"] / r["calls"] * 1e6 if r["calls"] > 1 else None
        r["GBps"] = r["nbytes"] / 1e9 / r["min_s"] if r["nbytes"] and r["min_s"] > 0 else None
        ok = p is not None and p is not r and r["min_s"] > 0 and r["median_s"] > 0
        r["lazyarr_ratio_min"] = p["min_s"] / r["min_s"] if ok else None
        r["lazyarr_ratio_median"] = p["median_s"] / r["median_s"] if ok else None


def check_targets(records: list[dict]) -> list[dict]:
    """The issue's targets that this run measured, each with its ratio and verdict."""

    def find(w: str, v: str, case: str, impl: str) -> dict | None:
        return next((r for r in records if (r["workload"], r["variant"], r["impl"]) == (w, v, impl)
                     and case in r["case"]), None)

    out = []
    for desc, w, v, case, impl, ref, limit in TARGETS:
        a = find(w, v, case, impl)
        b = find(w, v, ref[5:], impl) if ref.startswith("case:") else find(w, v, case, ref)
        if a is None or b is None:
            continue
        ratio = a["min_s"] / b["min_s"]
        out.append({"target": desc, "ratio": ratio, "limit": limit, "met": ratio <= limit})
    return out


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def _t(s: float) -> str:
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def format_table(records: list[dict]) -> str:
    """Aligned plain text, one line per record; notes become numbered footnotes."""
    head = ["workload", "variant", "case", "impl", "min", "median", "µs/call", "GB/s",
            "lazyarr/peer min", "median", "note"]
    notes: list[str] = []
    rows = []
    last = None
    for r in records:
        g = _group(r)
        note = ""
        if r["note"]:
            if r["note"] not in notes:
                notes.append(r["note"])
            note = f"[{notes.index(r['note']) + 1}]"
        first = g != last
        last = g
        rows.append([
            r["workload"] if first else "", r["variant"] if first else "", r["case"] if first else "",
            r["impl"], _t(r["min_s"]), _t(r["median_s"]),
            f"{r['per_call_us']:.1f}" if r["per_call_us"] is not None else "",
            f"{r['GBps']:.3g}" if r["GBps"] is not None else "",
            f"{r['lazyarr_ratio_min']:.2f}" if r["lazyarr_ratio_min"] is not None else "",
            f"{r['lazyarr_ratio_median']:.2f}" if r["lazyarr_ratio_median"] is not None else "",
            note,
        ])
    widths = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
    left = {0, 1, 2, 3, 10}

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    prev = None
    for cells, r in zip(rows, records):
        if prev is not None and r["workload"] != prev:
            out.append("")
        prev = r["workload"]
        out.append(line(cells))
    if notes:
        out.append("")
        out += [f"[{i + 1}] {n}" for i, n in enumerate(notes)]
    return "\n".join(out)


def format_targets(targets: list[dict]) -> str:
    if not targets:
        return "(no target measured in this run)"
    w = max(len(t["target"]) for t in targets)
    return "\n".join(f"{t['target']:{w}s}  time ratio {t['ratio']:8.3f}  limit {t['limit']:7.3f}  "
                     f"{'met' if t['met'] else 'NOT met'}" for t in targets)


def markdown(result: dict) -> str:
    """The run as Markdown (machine, settings, table, targets) for bench/RESULTS.md."""
    cfg = result["config"]
    parts = [
        "## Machine\n", describe(result["machine"]), "",
        f"## Run\n\n`{cfg['command']}` — preset {cfg['preset']}, {cfg['repeats']} repeats, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(result['started']))}, "
        f"{result['elapsed_s']:.0f} s in all.\n",
        *[f"- {n}" for n in result["notes"]], "",
        "## Results\n", "Times are per run of the case (min and median over the repeats); "
        "`lazyarr/peer` is lazyarr's time divided by the peer's (below 1: lazyarr is faster).\n",
        "```text", format_table(result["results"]), "```", "",
        "## Targets (issues 5 and 13)\n", "```text", format_targets(result["targets"]), "```",
    ]
    if result["extra"].get("codecs"):
        from bench.codecs import format_table as codec_table

        parts += ["", "## Compression settings (bench/codecs.py)\n", "```text",
                  codec_table(result["extra"]["codecs"]), "```"]
    if result["skipped"]:
        parts += ["", "## Skipped\n"] + [f"- {k}: {v}" for k, v in result["skipped"].items()]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------
def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes, 2 repeats: under two minutes")
    size.add_argument("--tiny", action="store_true", help="toy sizes, 1 repeat (smoke tests)")
    p.add_argument("--only", nargs="+", metavar="WORKLOAD",
                   help=f"workloads to run (space or comma separated): {', '.join(WORKLOADS)}")
    p.add_argument("--skip", nargs="+", metavar="WORKLOAD", default=[], help="workloads to leave out")
    p.add_argument("--variants", default=",".join(_data.VARIANTS),
                   help="comma-separated: plain, blosc2:zstd, blosc2:lz4 (default all)")
    p.add_argument("--peers", default=",".join(_data.PEERS),
                   help="comma-separated peers to run (lazyarr always runs)")
    p.add_argument("--repeats", type=int, help="timed runs per case, after one checked warm-up run (default 3; --quick 2; --tiny 1)")
    p.add_argument("--rows", type=int, help="rows of the suite's (rows, 32) float32 arrays (default 4Mi; --quick 256Ki)")
    p.add_argument("--calls", type=int, help="random x[i] / x[i, j] calls on plain arrays (default 10,000)")
    p.add_argument("--calls-compressed", type=int, help="the same on compressed arrays (default 2,000)")
    p.add_argument("--column-rows", type=int, help="rows read by the column and reverse workloads (default 1Mi)")
    p.add_argument("--minibatch-rows", type=int, help="rows walked by the minibatch workload (default 1Mi)")
    p.add_argument("--out", metavar="JSON", help="write every number to this JSON file")
    p.add_argument("--markdown", metavar="MD", help="write the run as Markdown (for bench/RESULTS.md)")
    p.add_argument("--dir", help="make the temporary data directory inside DIR (default: system temp)")
    p.add_argument("--h5py-copy", action="store_true",
                   help="h5py reads a gzip copy instead of the blosc2 files (as without hdf5plugin)")
    p.add_argument("--profile", metavar="WORKLOAD",
                   help="run one workload, lazyarr only, under pyinstrument and print where time goes")
    args = p.parse_args(argv)
    names = []
    for n in (args.only or WORKLOADS):
        names += [x for x in n.split(",") if x]
    if args.profile:
        names = [args.profile]
    skip = {x for n in args.skip for x in n.split(",") if x}
    bad = [n for n in names + list(skip) if n not in WORKLOADS]
    if bad:
        p.error(f"unknown workload(s) {', '.join(bad)}; choose from {', '.join(WORKLOADS)}")
    args.workloads = [n for n in names if n not in skip]
    args.variant_list = [v for v in args.variants.split(",") if v]
    bad = [v for v in args.variant_list if v not in _data.VARIANTS]
    if bad or not args.variant_list:
        p.error(f"unknown variant(s) {bad}; choose from {', '.join(_data.VARIANTS)}")
    args.peer_list = tuple(["lazyarr"] + [x for x in args.peers.split(",") if x and x != "lazyarr"])
    bad = [x for x in args.peer_list if x not in _data.PEERS]
    if bad:
        p.error(f"unknown peer(s) {bad}; choose from {', '.join(_data.PEERS)}")
    return args


def sizes_for(args: argparse.Namespace) -> tuple[str, _data.Sizes]:
    preset = "tiny" if args.tiny else "quick" if args.quick else "full"
    s = _data.Sizes.preset(preset)
    for field in ("rows", "calls", "calls_compressed", "column_rows", "minibatch_rows"):
        v = getattr(args, field)
        if v is not None:
            setattr(s, field, v)
    if args.repeats is None:
        args.repeats = {"tiny": 1, "quick": 2, "full": 3}[preset]
    return preset, s


def _impl_filter(args: argparse.Namespace) -> Callable[[str], bool]:
    """Which implementations run: lazyarr ones only under --profile, else --peers.

    An implementation belongs to the peer its name starts with ("h5py gzip-1
    copy" is h5py); references that are no peer (the blosc2 codec) always run.
    """
    if args.profile:
        return lambda impl: impl.startswith("lazyarr")
    chosen = set(args.peer_list)

    def wanted(impl: str) -> bool:
        head = re.match(r"[a-z0-9]*", impl).group()  # type: ignore[union-attr]
        return head in chosen or head not in _data.PEERS

    return wanted


def _profiled(fn: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            from pyinstrument import Profiler
        except ImportError:
            raise SystemExit("--profile needs pyinstrument: pip install pyinstrument") from None
        prof = Profiler(interval=0.0005)
        prof.start()
        try:
            fn()
        finally:
            prof.stop()
            print(prof.output_text(unicode=True, color=False, show_all=False))
    return run


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    preset, sizes = sizes_for(args)
    log = print
    # SIGTERM (a killed job, a CI timeout) must clean up like Ctrl-C does.
    old_term = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (run in-process by a test runner thread)
        old_term = None
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)  # --dir names where to work: make it if need be
    tmp = tempfile.mkdtemp(prefix="lazyarr-bench-", dir=args.dir)
    started = time.time()
    info = machine_info()
    print(f"lazyarr benchmark suite, preset {preset}, {args.repeats} repeats; data in {tmp}")
    print(describe(info))
    runner = Runner(args.repeats, log=log, impls=_impl_filter(args))
    notes: list[str] = []
    ctx_peers = ("lazyarr",) if args.profile else args.peer_list
    try:
        ds = None
        if any(WORKLOADS[n][1] for n in args.workloads):
            print(f"\nwriting ({sizes.rows:,}, {sizes.cols}) float32 "
                  f"({sizes.rows * sizes.cols * 4 / 2**20:.0f} MiB) as {', '.join(args.variant_list)} "
                  f"+ peers' copies ...")
            t0 = time.perf_counter()
            ds = _data.build(tmp, sizes, args.variant_list, peers=ctx_peers, h5py_copy=args.h5py_copy,
                             log=lambda s: log(s))
            print(f"  done in {time.perf_counter() - t0:.1f} s")
            notes += ds.notes
        notes.append("memmap and numpy (uncompressed, in RAM or page cache) appear in the plain "
                     "groups only; their slices are copied (np.array) so that every peer returns "
                     "its own array")
        ctx = Context(ds, runner, sizes, tmp, ctx_peers)
        for name in args.workloads:
            fn, _ = WORKLOADS[name]
            print(f"\n== {name}: {(fn.__doc__ or '').strip().partition(chr(10))[0]}")
            t0 = time.perf_counter()
            (_profiled(lambda: fn(ctx)) if args.profile else (lambda: fn(ctx)))()
            print(f"   ({time.perf_counter() - t0:.1f} s)")
    except KeyboardInterrupt:
        print("\ninterrupted: removing the data files", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    records = runner.records
    add_ratios(records)
    targets = check_targets(records)
    result = {
        "machine": info,
        "config": {"command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
                   "preset": preset, "repeats": args.repeats, "workloads": args.workloads,
                   "variants": args.variant_list, "peers": list(args.peer_list),
                   "sizes": dataclasses.asdict(sizes)},
        "notes": notes, "started": started, "elapsed_s": time.time() - started,
        "results": records, "targets": targets, "skipped": runner.skipped, "extra": runner.extra,
    }
    if args.profile:
        return 0
    print("\n" + format_table(records))
    if runner.extra.get("codecs"):
        from bench.codecs import format_table as codec_table

        print("\nCompression settings (ratio = raw / file bytes; x[:] and x[i] best of the repeats)\n")
        print(codec_table(runner.extra["codecs"]))
    print("\nTargets of issues 5 and 13 (time ratio lazyarr / reference, min times):")
    print(format_targets(targets))
    for k, v in runner.skipped.items():
        print(f"skipped {k}: {v}")
    print("\nnotes:\n" + "\n".join(f"- {n}" for n in notes))
    print(f"\ntotal {result['elapsed_s']:.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1, default=_json_default)
        print(f"wrote {args.out}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(result))
        print(f"wrote {args.markdown}")
    return 0


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


if __name__ == "__main__":
    raise SystemExit(main())
