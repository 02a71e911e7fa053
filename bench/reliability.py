"""The cost of issue 14's crash safety: one tree against another, same run.

``python -m bench.reliability /work/main`` times, in child processes
alternating between this tree and the given one (same machine, same
moment): creating a file, small appends with a flush after each, a large
overwrite, ``la.open`` of an existing file, a full read of a checksummed
compressed array, and PyTables doing the same appends (the reference).
Prints min and median seconds and this tree's ratios to the other's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, os, sys, time
import numpy as np
import lazyarr as la, tables
d = sys.argv[1]
out = {}
def t(name, fn, k=5):
    times = []
    for _ in range(k):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    out[name] = min(times)
rows = np.random.default_rng(0).random((20, 5)).astype(np.float32)
big = np.random.default_rng(1).random((200_000, 5)).astype(np.float32)
p = os.path.join(d, "b.h5")
def create():
    with la.open(p, "w") as s:
        s.create_array("x", big, chunks=(8192, 5))
t("create 4 MB array", create)
def appends():
    with la.open(p, "w") as s:
        x = s.create_array("x", np.empty((0, 5), np.float32), chunks=(8192, 5))
        for _ in range(100):
            x.append(rows); x.flush()
t("100 appends + flush", appends)
def pt_appends():
    with tables.open_file(p + ".pt", "w") as f:
        e = f.create_earray("/", "x", tables.Float32Atom(), (0, 5), chunkshape=(8192, 5),
                            filters=tables.Filters(5, "blosc2:lz4", fletcher32=True))
        for _ in range(100):
            e.append(rows); f.flush()
t("PyTables 100 appends + flush", pt_appends)
create()
def overwrite():
    with la.open(p, "a") as s:
        s["x"][:] = big[::-1]
t("overwrite 4 MB", overwrite)
def opening():
    for _ in range(20):
        with la.open(p) as s:
            s["x"]
t("20 x la.open + node", opening)
def read():
    with la.open(p) as s:
        s["x"][:]
t("full checksummed read", read)
print(json.dumps(out))
"""


def _run(tree: str, d: str) -> dict:
    env = dict(os.environ, PYTHONPATH=tree)
    p = subprocess.run([sys.executable, "-c", _CHILD, d], capture_output=True, text=True,
                       env=env, cwd=tree, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    other = os.path.abspath(argv[0])
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rounds = int(argv[1]) if len(argv) > 1 else 3
    res: dict[str, dict[str, list[float]]] = {"this": {}, "other": {}}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(rounds):
            for who, tree in (("this", here), ("other", other)):
                for k, v in _run(tree, d).items():
                    res[who].setdefault(k, []).append(v)
    print(f"{'operation':32s} {'this min/med (s)':>20s} {'other min/med (s)':>20s}"
          f" {'ratio min':>9s} {'ratio med':>9s}")
    for k in res["this"]:
        a, b = res["this"][k], res["other"][k]
        print(f"{k:32s} {min(a):9.4f}/{statistics.median(a):<9.4f} "
              f"{min(b):9.4f}/{statistics.median(b):<9.4f} {min(a) / min(b):9.2f} "
              f"{statistics.median(a) / statistics.median(b):9.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
