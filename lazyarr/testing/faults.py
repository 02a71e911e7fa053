"""Fault injection: kill -9, a full disk (RLIMIT_FSIZE), corrupt bytes.

Every trial runs the code under test in a child process, with a timeout and
an address-space limit, so that a crash or a hang inside HDF5 is a finding,
not the end of the run. Each trial returns a :class:`Outcome`; a storm of
trials returns their counts (:func:`summarize`). The tests in
``tests/test_faults.py`` run a few trials of each kind; ``python -m
lazyarr.testing.faults --heavy`` runs the storm whose figures are reported
in ``bench/RESULTS.md``.

The data is a function of the row (or item) number, so a reader can tell,
for every row it finds, whether it is right: *intact* means every row up to
the last completed ``flush()`` is there and right, and no row past it is
wrong.

Examples
--------
>>> expected_rows("compressed", 3, 5)[:, 0]
array([21., 28.], dtype=float32)
>>> [a.shape for a in expected_items("ragged-offsets", 0, 3)]
[(1, 3), (2, 3), (3, 3)]
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tables

__all__ = [
    "KINDS",
    "Outcome",
    "expected_rows",
    "expected_items",
    "overwrite",
    "verify_file",
    "kill_trial",
    "storm_file",
    "wrong",
    "corrupt_storm",
    "summarize",
]

#: Backends with appends; ``plain`` is fixed-shape (overwrites only).
APPENDABLE = ("compressed", "ragged-offsets", "ragged-vl")
#: Every backend the trials write: plain arrays are overwritten in passes.
KINDS = ("plain",) + APPENDABLE
#: ``compressed`` written one row per append (the path whose full chunks are
#: compressed on another thread while the appends go on): ``--kinds
#: compressed-rows`` in the kill storm.
ONE_ROW = "compressed-rows"
#: Rows of the plain array the trials overwrite.
PLAIN_ROWS = 400
#: Rows (items) per append, as in the issue's trials.
BATCH = 20
#: Seconds a child may take before it counts as a hang.
TIMEOUT = 60.0
#: Address space a child may use: a corrupt header must not eat the machine.
MEMORY = 2 * 2**30

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# --------------------------------------------------------------------- data
def expected_rows(kind: str, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of the (n, 5) float32 array the trials write."""
    i = np.arange(start, stop, dtype=np.float32)[:, None]
    return i * 7 + np.arange(5, dtype=np.float32)


def expected_items(kind: str, start: int, stop: int) -> list[np.ndarray]:
    """Items ``start:stop`` of the ragged array the trials write."""
    out = []
    for i in range(start, stop):
        if kind == "ragged-vl":
            out.append(np.arange(1 + i % 9, dtype=np.int32) + 100 * i)
        else:
            out.append((np.arange((1 + i % 7) * 3, dtype=np.float64) + 1000.0 * i).reshape(-1, 3))
    return out


def create(store: Any, kind: str, name: str = "x") -> Any:
    """The (empty) array of ``kind`` the trials write into."""
    if kind in ("compressed", ONE_ROW):
        return store.create_array(name, np.empty((0, 5), np.float32), chunks=(64, 5))
    if kind == "plain":
        return store.create_array(name, expected_rows(kind, 0, 400), backend="plain")
    if kind == "ragged-offsets":
        return store.create_ragged(name, dtype="float64", item_ndim=2)
    return store.create_ragged(name, dtype="int32", item_ndim=1, backend="vl")


def plain_rows(start: int, stop: int, generation: int) -> np.ndarray:
    """Rows ``start:stop`` of the plain array after ``generation`` passes."""
    return expected_rows("plain", start, stop) + np.float32(10000 * generation)


def overwrite(arr: Any, n: int, k: int = BATCH) -> None:
    """The plain trials' write number ``n // k``: rows ``n % 400`` on, of
    pass ``n // 400 + 1`` (``n`` counts rows written so far)."""
    start = n % PLAIN_ROWS
    arr[start : start + k] = plain_rows(start, start + k, n // PLAIN_ROWS + 1)


def _plain_check(arr: Any, written: int) -> str:
    """Each row holds the pass of its last flushed write, or the one after
    (an unflushed write may or may not have reached the file)."""
    got = np.asarray(arr[:])
    if got.shape != (PLAIN_ROWS, 5):
        return "wrong shape"
    r = np.arange(PLAIN_ROWS)
    flushed_gen = np.where(written > r, -(-(written - r) // PLAIN_ROWS), 0)
    base = expected_rows("plain", 0, PLAIN_ROWS)
    ok = np.all((got == base + 10000 * flushed_gen[:, None].astype(np.float32))
                | (got == base + 10000 * (flushed_gen[:, None] + 1).astype(np.float32)), axis=1)
    return "intact" if ok.all() else "wrong values"


def add(arr: Any, kind: str, n: int, k: int = BATCH) -> None:
    """Append rows (items) ``n:n+k`` (plain: overwrite them, see :func:`overwrite`)."""
    if kind == "plain":
        overwrite(arr, n, k)
    elif kind == "compressed":
        arr.append(expected_rows(kind, n, n + k))
    elif kind == ONE_ROW:
        rows = expected_rows(kind, n, n + k)
        for i in range(k):
            arr.append(rows[i : i + 1])
    else:
        arr.extend(expected_items(kind, n, n + k))


def check(arr: Any, kind: str, flushed: int) -> str:
    """'intact', or what is wrong: rows ``0:flushed`` must all be there and
    right, and no row past them wrong (they may be missing)."""
    if kind == "plain":
        return _plain_check(arr, flushed)
    n = len(arr)
    if n < flushed:
        return f"lost rows: {n} < {flushed} flushed"
    if kind in ("compressed", ONE_ROW):
        got = np.asarray(arr[:])
        want = expected_rows(kind, 0, n)
        if got.shape != want.shape or not np.array_equal(got, want):
            return "wrong values"
        return "intact"
    got = arr[:]
    for a, b in zip(got, expected_items(kind, 0, n)):
        if a.shape != b.shape or not np.array_equal(a, b):
            return "wrong values"
    return "intact"


# ----------------------------------------------------------------- children
def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = _ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("HDF5_USE_FILE_LOCKING", None)
    return env


def run_child(code: str, timeout: float = TIMEOUT, preexec: Any = None) -> tuple[str, dict]:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last.

    Returns ``(status, result)``: status ``'ok'``, ``'crash'`` (killed by a
    signal: the result names it), ``'hang'`` or ``'error'`` (non-zero exit,
    no JSON: a raw exception escaped the code, its last line is kept).
    """
    def pre() -> None:
        _limits()
        if preexec is not None:
            preexec()

    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=timeout, env=_env(), preexec_fn=pre)
    except subprocess.TimeoutExpired:
        return "hang", {}
    if p.returncode < 0:
        return "crash", {"signal": signal.Signals(-p.returncode).name}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        return "error", {"stderr": tail[-300:]}
    return "ok", json.loads(lines[-1])


# ------------------------------------------------------------- verification
def verify_file(path: str, kind: str, flushed: int, keep: bool = True) -> dict:
    """Open ``path`` for writing, check ``/x`` against ``flushed`` (and
    ``/keep``), write one more batch, reopen and check it. Returns what was
    found: opened, keep, intact, append (the next write works), and the
    error raised if any."""
    import lazyarr as la
    import lazyarr.errors

    out: dict = {"opened": False, "intact": False, "keep": None, "append": None,
                 "raised": None}
    try:
        with la.open(path, "a") as s:
            out["opened"] = True
            if keep:
                out["keep"] = bool(np.array_equal(s["keep"][:], np.arange(1000.0)))
            x = s["x"]
            out["check"] = check(x, kind, flushed)
            out["intact"] = out["check"] == "intact"
            if kind == "plain":
                before = np.asarray(x[:])
                x[:BATCH] = plain_rows(0, BATCH, 99)
                before[:BATCH] = plain_rows(0, BATCH, 99)
            else:
                n = len(x)
                add(x, kind, n)
            s.flush()
        with la.open(path) as s:
            x = s["x"]
            if kind == "plain":
                out["append"] = bool(np.array_equal(x[:], before))
            else:
                want = n + BATCH
                out["append"] = len(x) == want and check(x, kind, want) == "intact"
    except Exception as exc:
        out["raised"] = type(exc).__name__
        out["lazyarr_error"] = (isinstance(exc, lazyarr.errors.LazyArrError)
                                or type(exc).__module__ == "builtins")
        out["message"] = str(exc)[:300]
    return out


_VERIFY = r"""
import json
from lazyarr.testing import faults as F
print(json.dumps(F.verify_file({path!r}, {kind!r}, {flushed}, {keep})))
"""


def verify(path: str, kind: str, flushed: int, keep: bool = True) -> tuple[str, dict]:
    """:func:`verify_file` in a child (a crash there is a finding)."""
    return run_child(_VERIFY.format(path=path, kind=kind, flushed=flushed, keep=keep))


# ------------------------------------------------------------------- kill -9
_WRITER = r"""
import os, sys
import numpy as np
import lazyarr as la
from lazyarr.testing import faults as F
path, kind, seed, log = {path!r}, {kind!r}, {seed}, {log!r}
rng = np.random.default_rng(seed)
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
s = la.open(path, "w")
s.create_array("keep", np.arange(1000.0))
x = F.create(s, kind)
s.flush()
os.write(fd, b"0\n")
n = 0
while True:
    for _ in range(int(rng.integers(1, 6))):
        F.add(x, kind, n)
        n += F.BATCH
    x.flush()
    os.write(fd, b"%d\n" % n)
"""


@dataclass
class Outcome:
    """What one trial found."""

    kind: str
    status: str  # ok / crash / hang / error (of the checking child)
    opened: bool = False
    intact: bool = False
    append: bool = False
    raised: str | None = None
    detail: dict = field(default_factory=dict)


def kill_trial(tmpdir: str, kind: str, seed: int, max_delay: float = 0.6) -> Outcome:
    """Write ``kind`` in a child, SIGKILL it after a random delay, verify."""
    rng = np.random.default_rng(seed)
    path = os.path.join(tmpdir, f"kill-{kind}-{seed}.h5")
    log = path + ".log"
    for p in (path, log):
        if os.path.exists(p):
            os.remove(p)
    code = _WRITER.format(path=path, kind=kind, seed=seed, log=log)
    proc = subprocess.Popen([sys.executable, "-c", code], env=_env(), preexec_fn=_limits,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        while not (os.path.exists(log) and os.path.getsize(log)):
            if proc.poll() is not None or time.monotonic() - t0 > TIMEOUT:
                return Outcome(kind, "error", detail={"writer": f"exit {proc.returncode}"})
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0, max_delay)))
    finally:
        proc.kill()
        proc.wait()
    with open(log) as f:
        done = [int(x) for x in f.read().split("\n")[:-1] if x]
    flushed = done[-1] if done else 0
    status, res = verify(path, kind, flushed)
    keep = os.environ.get("LAZYARR_FAULTS_KEEP")  # a directory: failed trials' files go there
    if keep and not (status == "ok" and res.get("intact") and res.get("append")):
        import shutil

        shutil.copyfile(path, os.path.join(keep, os.path.basename(path)))
    for p in (path, log):
        os.remove(p)
    res["flushed"] = flushed
    return Outcome(kind, status, bool(res.get("opened")) and bool(res.get("keep", True)),
                   bool(res.get("intact")), bool(res.get("append")), res.get("raised"), res)


# ---------------------------------------------------------------- corruption
_READER = r"""
import json, sys
import numpy as np
import lazyarr as la
from lazyarr.testing import faults as F
for path in {paths!r}:
    print("start " + path, flush=True)
    res = "ok"
    try:
        with la.open(path) as s:
            for name in [n for n in list(s) if n.count("/") == 1]:  # the nodes written
                x = s[name]
                if not isinstance(x, (la.RaggedArray, la.LazyArray)):
                    res = "unmarked"  # a flip in unchecksummed attributes: a plain group now
                elif isinstance(x, la.RaggedArray):
                    got = x[:] + [x[0], x[-1]] + x[[1, 0]]
                    n = len(x)
                    want = F.expected_items(F.STORM_KINDS.get(name, "ragged-offsets"), 0, n)
                    want = want + [want[0], want[-1]] + [want[1], want[0]]
                    if any(a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(got, want)):
                        res = F.wrong(s, name)
                else:
                    n = x.shape[0]
                    want = F.expected_rows("compressed", 0, n)
                    for key in (slice(None), 5, slice(3, 200, 7), [0, n - 1], (slice(None), 2)):
                        if not np.array_equal(x[key], want[key]):
                            res = F.wrong(s, name)
    except Exception as exc:
        import lazyarr.errors
        ok = isinstance(exc, lazyarr.errors.LazyArrError) or type(exc).__module__ == "builtins" \
            and isinstance(exc, (KeyError, OSError))
        res = "raised" if ok else "raw " + type(exc).__module__ + "." + type(exc).__name__
        if not ok:
            import traceback
            print("raw-trace", repr(traceback.format_exc(limit=-3)[-600:]), file=sys.stderr)
    print("done " + json.dumps(res), flush=True)
"""


#: Storm files' nodes that are not compressed or ragged-offsets arrays, by path.
STORM_KINDS = {"/v": "ragged-vl", "/p": "plain"}


def storm_file(path: str, kinds: tuple[str, ...] = ("compressed", "ragged-offsets")) -> bytes:
    """Write the file a storm corrupts: an array of each of ``kinds`` (as
    ``/x``, ``/r``, ``/p`` and ``/v``: see :data:`STORM_KINDS`) holding
    :func:`expected_rows` / :func:`expected_items`; return its bytes."""
    import lazyarr as la

    with la.open(path, "w") as s:
        if "compressed" in kinds:
            s.create_array("x", expected_rows("compressed", 0, 300), chunks=(64, 5))
        if "ragged-offsets" in kinds:
            create(s, "ragged-offsets", "r").extend(expected_items("ragged-offsets", 0, 50))
        if "plain" in kinds:
            s.create_array("p", expected_rows("plain", 0, 40), backend="plain")
        if "ragged-vl" in kinds:
            create(s, "ragged-vl", "v").extend(expected_items("ragged-vl", 0, 40))
    with open(path, "rb") as fh:
        return fh.read()


def wrong(store: Any, name: str) -> str:
    """How a storm counts a wrong value read from ``name``: ``'wrong'`` on an
    array whose stored bytes carry a checksum (its data or, for a ragged
    array, its data column), ``'wrong unchecked'`` on one without (plain
    arrays, ragged-vl rows: nothing can tell a flipped data byte there)."""
    f = store.fileref.file
    node = f.get_node(name)
    if isinstance(node, tables.Group):
        node = node._f_get_child("data")
    return "wrong" if getattr(node, "filters", None) is not None and node.filters.fletcher32 \
        else "wrong unchecked"


def corrupt_storm(path: str, pristine: bytes, offsets: Any, xor: int = 0x5A,
                  width: int = 1) -> Counter:
    """Flip ``width`` bytes at each offset of a copy of ``pristine`` (the file
    :func:`expected_rows` / :func:`expected_items` data was written to) and
    read every array of each copy in a child. Counts: ``ok`` (right values),
    ``raised`` (a lazyarr error or OSError/KeyError), ``wrong`` (silently
    wrong values), ``raw`` (another exception), ``crash``, ``hang``."""
    files = []
    for j, off in enumerate(offsets):
        data = bytearray(pristine)
        for k in range(int(off), min(len(data), int(off) + width)):
            data[k] ^= xor
        p = f"{path}.{j}.h5"
        with open(p, "wb") as fh:
            fh.write(data)
        files.append(p)
    counts: Counter = Counter()
    todo = list(files)
    while todo:
        try:
            proc = subprocess.run([sys.executable, "-c", _READER.format(paths=todo)],
                                  capture_output=True, text=True, env=_env(),
                                  preexec_fn=_limits, timeout=TIMEOUT + 5 * len(todo))
            out = proc.stdout
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            proc = None
        finished, current = 0, None
        for line in out.splitlines():
            if line.startswith("start "):
                current = line[6:]
            elif line.startswith("done "):
                r = json.loads(line[5:])
                counts["raw" if r.startswith("raw") else r] += 1  # "wrong unchecked" too
                if r.startswith("raw"):
                    counts[r] += 1
                finished += 1
                current = None
        todo = todo[finished:]
        if current is not None or (todo and (proc is None or proc.returncode)):
            counts["hang" if proc is None else "crash"] += 1
            todo = todo[1:]
    for p in files:
        os.remove(p)
    return counts


def summarize(outcomes: list[Outcome]) -> dict[str, Counter]:
    """Per kind: trials, opened, intact, next append works, and the rest."""
    out: dict[str, Counter] = {}
    for o in outcomes:
        c = out.setdefault(o.kind, Counter())
        c["trials"] += 1
        c[o.status] += 1
        c["opened"] += o.opened
        c["intact"] += o.intact
        c["append works"] += o.append
        if o.raised:
            c[f"raised {o.raised}"] += 1
    return out


if __name__ == "__main__":  # pragma: no cover - the heavy storm, run by hand
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["kill"])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--kinds", default=",".join(KINDS))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        outs = []
        for kind in args.kinds.split(","):
            for seed in range(args.trials):
                o = kill_trial(d, kind, seed)
                outs.append(o)
                good = o.status == "ok" and o.opened and o.intact and o.append
                print(kind, seed, "ok" if good else f"FAIL {o.status} {o.detail}", flush=True)
        for kind, c in summarize(outs).items():
            print(kind, dict(c))
