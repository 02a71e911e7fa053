"""The workloads of the benchmark suite (``python -m bench``).

Every workload is a function ``(ctx) -> None`` that records timings through
``ctx.runner``. lazyarr is only ever used through its public API (``la.open``,
``store["x"]``, ``x[key]``), so engine improvements show up here unchanged.
Each peer answers the same question the way its users would ask it; where a
peer cannot take the key itself, the work-around is timed too and written in
the record's ``note``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import numpy as np

from bench._data import Dataset, Handles, Sizes
from bench._timing import run_times, summary


# --------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------
class Runner:
    """Times cases and collects one record per (workload, variant, case, impl).

    ``impls`` restricts which implementations run (``--profile`` runs only
    the lazyarr ones); a case's first call is a warm-up whose result is
    checked against NumPy's, so a benchmark never times a wrong answer.
    """

    def __init__(self, repeats: int, impls: Callable[[str], bool] = lambda impl: True,
                 log: Callable[[str], None] = print) -> None:
        self.repeats = repeats
        self.wanted = impls
        self.log = log
        self.records: list[dict[str, Any]] = []
        self.skipped: dict[str, str] = {}
        #: Tables that are not timings of one case (bench/codecs.py's settings).
        self.extra: dict[str, Any] = {}

    def case(self, workload: str, variant: str, case: str, impl: str, fn: Callable[[], Any], *,
             expect: Any = None, check: Callable[[], Any] | None = None, calls: int = 1,
             nbytes: int | None = None, note: str = "", primary: bool | None = None,
             close: Callable[[Any, Any], bool] | None = None) -> None:
        """Warm up (``check`` or ``fn``), compare with ``expect``, then time ``fn``."""
        if not self.wanted(impl):
            return
        self._check(workload, variant, case, impl, (check or fn)(), expect, close)
        self._record(workload, variant, case, impl, run_times(fn, self.repeats), calls, nbytes, note,
                     impl == "lazyarr" if primary is None else primary)

    @staticmethod
    def _check(workload: str, variant: str, case: str, impl: str, got: Any, expect: Any,
               close: Callable[[Any, Any], bool] | None = None) -> None:
        if expect is not None and not (close or same)(got, expect):
            raise AssertionError(f"{workload}/{variant}/{case}: {impl} gave a different answer")

    def _record(self, workload: str, variant: str, case: str, impl: str, times: list[float], calls: int,
                nbytes: int | None, note: str, primary: bool) -> None:
        rec = {"workload": workload, "variant": variant, "case": case, "impl": impl,
               **summary(times), "times_s": times, "calls": calls, "nbytes": nbytes,
               "note": note, "primary": primary}
        self.records.append(rec)
        self.log(f"    {variant:12s} {case:28s} {impl:26s} min {rec['min_s'] * 1e3:10.3f} ms")

    def interleaved(self, workload: str, variant: str, case: str, fns: dict[str, Callable[[], Any]], *,
                    expect: Any = None, repeats: int | None = None, calls: dict[str, int] | None = None,
                    nbytes: int | None = None, notes: dict[str, str] | None = None,
                    primary: str = "lazyarr") -> None:
        """Like :meth:`case` for several implementations of one case whose ratio is a
        target: each is warmed up and checked, then their timed runs alternate
        (``a b a b ...``, ``repeats`` rounds, default the runner's), so that a
        change of the machine's load during the case weighs on both sides alike
        instead of on whichever ran in that stretch."""
        fns = {impl: fn for impl, fn in fns.items() if self.wanted(impl)}
        for impl, fn in fns.items():
            self._check(workload, variant, case, impl, fn(), expect)
        times: dict[str, list[float]] = {impl: [] for impl in fns}
        for _ in range(max(1, repeats or self.repeats)):
            for impl, fn in fns.items():
                times[impl] += run_times(fn, 1)
        for impl, ts in times.items():
            self._record(workload, variant, case, impl, ts, (calls or {}).get(impl, 1), nbytes,
                         (notes or {}).get(impl, ""), impl == primary)

    def add(self, workload: str, variant: str, case: str, impl: str, t: tuple[float, float], *,
            calls: int = 1, nbytes: int | None = None, note: str = "", primary: bool = False) -> None:
        """Record a (min, median) measured elsewhere (bench/ragged.py)."""
        if not self.wanted(impl):
            return
        self.records.append({"workload": workload, "variant": variant, "case": case, "impl": impl,
                             "min_s": t[0], "median_s": t[1], "times_s": None, "calls": calls,
                             "nbytes": nbytes, "note": note, "primary": primary})


def same(got: Any, want: Any) -> bool:
    """Same values and shape (lists compared item by item)."""
    if isinstance(want, list):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
    got, want = np.asarray(got), np.asarray(want)
    return got.shape == want.shape and np.array_equal(got, want)


@dataclasses.dataclass
class Context:
    """What a workload gets: the data, the runner, the sizes and a scratch dir."""

    ds: Dataset | None
    runner: Runner
    sizes: Sizes
    tmp: str
    peers: tuple[str, ...]
    rng: np.random.Generator = dataclasses.field(default_factory=lambda: np.random.default_rng(1))


def _copy(r: Any) -> Any:
    """A slice of a memmap or of an in-memory array is a view: copy it, as a read would."""
    return np.array(r) if isinstance(r, np.ndarray) else r


def _rowkey(ndim: int, idx: Any) -> tuple:
    # PyTables reads a bare 1-d array on an N-d node as *one point's*
    # coordinates; a tuple with slices makes it a selection along axis 0.
    return (idx,) + (slice(None),) * (ndim - 1)


def _unique_take(read: Callable[[np.ndarray], np.ndarray], idx: np.ndarray) -> np.ndarray:
    u, inv = np.unique(idx, return_inverse=True)
    return read(u)[inv]


UNIQUE_NOTE = "needs increasing unique indices: np.unique + read + take"


# --------------------------------------------------------------------------
# Array workloads
# --------------------------------------------------------------------------
def _per_variant(ctx: Context, body: Callable[[str, dict[str, Any]], None]) -> None:
    assert ctx.ds is not None
    for v in ctx.ds.variants:
        with Handles(ctx.ds, v, ctx.peers) as hs:
            body(v, hs.h)


def _basic(ctx: Context, workload: str, case: str, keys: list[Any], *, nbytes: int,
           flip_peers: bool = False) -> None:
    """Time ``[h[k] for k in keys]`` on every peer (basic keys)."""
    assert ctx.ds is not None
    want = [ctx.ds.data[k] for k in keys]

    def body(v: str, h: dict[str, Any]) -> None:
        for impl, a in h.items():
            note = ""
            if impl in ("memmap", "numpy"):
                get = lambda k, a=a: _copy(a[k])  # noqa: E731
            elif flip_peers and impl.split()[0] in ("pytables", "h5py", "zarr"):
                # No negative steps: read the rows, then a reversed view.
                get = lambda k, a=a: a[k[0]][:, ::-1]  # noqa: E731
                note = "no negative steps: read rows, then [:, ::-1] view"
            else:
                get = a.__getitem__
            ctx.runner.case(workload, v, case, impl, lambda get=get: [get(k) for k in keys],
                            expect=want, calls=len(keys), nbytes=nbytes, note=note)

    _per_variant(ctx, body)


def w_slice(ctx: Context) -> None:
    """Large contiguous slices (``slice_rows`` rows each) at random places."""
    s = ctx.sizes
    L = min(s.slice_rows, s.rows)
    starts = ctx.rng.integers(0, s.rows - L + 1, s.slices).tolist()
    keys = [slice(a, a + L) for a in starts]
    _basic(ctx, "slice", f"x[a:a+{L:,}]", keys, nbytes=len(keys) * L * s.cols * 4)


def _codec_cases(ctx: Context, v: str, path: str, want: np.ndarray) -> None:
    """What the ``blosc2`` package alone decodes this node's raw HDF5 chunks at.

    PyTables 3.11 stores each HDF5 chunk of a blosc2-filtered node as one
    Blosc2 contiguous frame (a super-chunk with ``b2nd`` metadata) holding a
    single Blosc2 chunk of the full chunk shape (edge chunks padded). We read
    the raw bytes with ``node.read_chunk(coords)`` and decode them with
    ``blosc2`` on ``blosc2.nthreads`` threads, straight into the output.
    """
    if not ctx.runner.wanted("blosc2 decode only"):
        return
    import tables

    try:
        import blosc2
    except ImportError:
        ctx.runner.skipped[f"full/{v}/codec"] = "the blosc2 package is not installed"
        return
    nthreads = min(2, os.cpu_count() or 1)
    blosc2.set_nthreads(nthreads)
    with tables.open_file(path) as f:
        node = f.get_node("/x")
        cshape = node.chunkshape
        if node.filters.complib is None or not node.filters.complib.startswith("blosc2"):
            return
        grid = [range(0, n, c) for n, c in zip(node.shape, cshape)]
        coords = [tuple(c) for c in np.stack(np.meshgrid(*grid, indexing="ij"), -1).reshape(-1, len(grid))]
        masks = {node.chunk_info(c).filter_mask for c in coords}
        if masks != {0}:
            ctx.runner.skipped[f"full/{v}/codec"] = f"filter masks {masks}: some chunks skip filters"
            return

        # Fletcher32 (lazyarr's default since issue 14) appends 4 checksum
        # bytes to each stored chunk, after the Blosc2 frame.
        trailer = 4 if node.filters.fletcher32 else 0

        def read_raw() -> list[bytes]:
            return [node.read_chunk(c) for c in coords]

        def frame(raw: bytes) -> Any:
            return memoryview(raw)[: len(raw) - trailer] if trailer else raw

        raws = read_raw()
        # Padded output: every chunk decodes whole, edge chunks included.
        padded = tuple(-(-n // c) * c for n, c in zip(node.shape, cshape))
        out = np.empty(padded, dtype=node.atom.dtype)

        def decode(raw_chunks: list[bytes]) -> np.ndarray:
            for c, raw in zip(coords, raw_chunks):
                sc = blosc2.schunk_from_cframe(frame(raw), copy=False)
                sc.dparams = blosc2.DParams(nthreads=nthreads)
                dst = out[tuple(slice(a, a + n) for a, n in zip(c, cshape))]
                sc.decompress_chunk(0, dst)
            return out[tuple(slice(0, n) for n in node.shape)]

        nb = want.nbytes
        note = f"blosc2 {blosc2.__version__}, {nthreads} threads, raw chunks already in memory"
        ctx.runner.case("full", v, "x[:]", "blosc2 decode only", lambda: decode(raws),
                        expect=want, nbytes=nb, note=note)
        ctx.runner.case("full", v, "x[:]", "read_chunk+blosc2", lambda: decode(read_raw()),
                        expect=want, nbytes=nb, note=f"blosc2 {nthreads} threads, incl. read_chunk")


def w_full(ctx: Context) -> None:
    """The whole array, ``x[:]`` (GB/s), and the codec speed of its raw chunks."""
    assert ctx.ds is not None
    want = ctx.ds.data
    reads = {"lazyarr": lambda a: a[:], "pytables": lambda a: a.read(), "h5py": lambda a: a[()],
             "zarr": lambda a: a[:], "memmap": np.array, "numpy": np.copy}

    def body(v: str, h: dict[str, Any]) -> None:
        for impl, a in h.items():
            ctx.runner.case("full", v, "x[:]", impl, lambda a=a, r=reads[impl.split()[0]]: r(a),
                            expect=want, nbytes=want.nbytes)
        if v != "plain":
            _codec_cases(ctx, v, ctx.ds.h5[v], want)

    _per_variant(ctx, body)


def _random_calls(ctx: Context, workload: str, keyfn: Callable[[int, int], Any]) -> None:
    assert ctx.ds is not None
    s = ctx.sizes

    def body(v: str, h: dict[str, Any]) -> None:
        n = s.calls if v == "plain" else s.calls_compressed
        rows = ctx.rng.integers(0, s.rows, n).tolist()
        cols = ctx.rng.integers(0, s.cols, n).tolist()
        keys = [keyfn(i, j) for i, j in zip(rows, cols)]
        want = [ctx.ds.data[k] for k in keys[:20]]
        case = f"{n:,} random {'x[i]' if workload == 'row' else 'x[i, j]'}"
        for impl, a in h.items():
            get = (lambda k, a=a: _copy(a[k])) if impl in ("memmap", "numpy") else a.__getitem__

            def run(get: Callable[[Any], Any] = get) -> None:
                for k in keys:
                    get(k)

            ctx.runner.case(workload, v, case, impl, run, calls=n,
                            check=lambda get=get: [get(k) for k in keys[:20]], expect=want)

    _per_variant(ctx, body)


def w_row(ctx: Context) -> None:
    """Single rows ``x[i]`` at random (µs per call)."""
    _random_calls(ctx, "row", lambda i, j: i)


def w_element(ctx: Context) -> None:
    """Single elements ``x[i, j]`` at random (µs per call)."""
    _random_calls(ctx, "element", lambda i, j: (i, j))


def fancy_keys(rng: np.random.Generator, rows: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sorted unique rows; ``n`` unique unsorted rows plus ``n // 4`` repeats
    of them (issue 13: 4,096 sorted, 5,120 unsorted with repeats)."""
    n = min(n, rows)
    sorted_unique = np.sort(rng.choice(rows, n, replace=False))
    base = rng.choice(rows, n, replace=False)
    unsorted = np.concatenate([base, rng.choice(base, n // 4)])
    rng.shuffle(unsorted)
    return sorted_unique, unsorted


def w_fancy(ctx: Context) -> None:
    """``x[idx]`` for random rows: sorted unique, and unsorted with repeats."""
    assert ctx.ds is not None
    data = ctx.ds.data
    srt, uns = fancy_keys(ctx.rng, ctx.sizes.rows, ctx.sizes.fancy)

    def body(v: str, h: dict[str, Any]) -> None:
        for case, idx in ((f"{len(srt):,} sorted unique", srt), (f"{len(uns):,} unsorted, repeats", uns)):
            ok = case.endswith("unique")
            for impl, a in h.items():
                note = ""
                if impl == "pytables":
                    fn = lambda a=a, idx=idx: a[_rowkey(a.ndim, idx)]  # noqa: E731
                    if not ok:
                        fn = lambda a=a, idx=idx: _unique_take(lambda u: a[_rowkey(a.ndim, u)], idx)  # noqa: E731
                        note = "PyTables " + UNIQUE_NOTE
                elif impl.startswith("h5py") and not ok:
                    fn = lambda a=a, idx=idx: _unique_take(a.__getitem__, idx)  # noqa: E731
                    note = "h5py " + UNIQUE_NOTE
                elif impl == "zarr":
                    fn = lambda a=a, idx=idx: a.oindex[idx]  # noqa: E731
                else:
                    fn = lambda a=a, idx=idx: a[idx]  # noqa: E731
                ctx.runner.case("fancy", v, case, impl, fn, expect=data[idx],
                                nbytes=len(idx) * data[:1].nbytes, note=note)

    _per_variant(ctx, body)


def w_mask(ctx: Context) -> None:
    """``x[mask]`` with a random boolean mask on axis 0."""
    assert ctx.ds is not None
    data = ctx.ds.data
    mask = ctx.rng.random(ctx.sizes.rows) < ctx.sizes.mask_fraction
    where = np.flatnonzero(mask)
    case = f"{ctx.sizes.mask_fraction:.0%} mask ({len(where):,} rows)"

    def body(v: str, h: dict[str, Any]) -> None:
        for impl, a in h.items():
            note = ""
            if impl == "pytables":
                # PyTables reads a per-axis boolean mask as the integers 0 and 1,
                # and its point selection (a[np.flatnonzero(mask), :]) costs
                # O(points**2): 16k rows take ~9 s, a 1% mask of 4M rows minutes.
                fn = lambda a=a: _blockwise_mask(a, mask)  # noqa: E731
                note = ("PyTables misreads a bool mask and its point selection is quadratic: "
                        "read blocks of 64Ki rows, mask each")
            elif impl == "zarr":
                fn = lambda a=a: a.oindex[mask]  # noqa: E731
            else:
                fn = lambda a=a: a[mask]  # noqa: E731
            ctx.runner.case("mask", v, case, impl, fn, expect=data[mask],
                            nbytes=len(where) * data[:1].nbytes, note=note)

    _per_variant(ctx, body)


def _blockwise_mask(a: Any, mask: np.ndarray, block: int = 2**16) -> np.ndarray:
    """``a[mask]`` for a boolean ``mask`` on axis 0, one block of rows at a time."""
    parts = [a[i : i + block][mask[i : i + block]] for i in range(0, len(mask), block)
             if mask[i : i + block].any()]
    return np.concatenate(parts) if parts else a[0:0]


def _row_range(s: Sizes) -> slice:
    return slice(None) if s.column_rows >= s.rows else slice(0, s.column_rows)


def w_column(ctx: Context) -> None:
    """``x[:, j]`` column reads (over the first ``column_rows`` rows)."""
    s = ctx.sizes
    r = _row_range(s)
    js = ctx.rng.integers(0, s.cols, s.columns).tolist()
    n = min(s.column_rows, s.rows)
    label = "x[:, j]" if r.stop is None else f"x[:{n:,}, j]"
    _basic(ctx, "column", label, [(r, j) for j in js], nbytes=len(js) * n * 4)


def w_column5(ctx: Context) -> None:
    """The whole column ``x[:, 5]`` (every row: strided over the whole array)."""
    s = ctx.sizes
    j = min(5, s.cols - 1)
    _basic(ctx, "column", f"x[:, {j}]", [(slice(None), j)], nbytes=s.rows * 4)


def w_reverse(ctx: Context) -> None:
    """An inner negative step ``x[:, ::-1]`` (over the first ``column_rows`` rows)."""
    s = ctx.sizes
    r = _row_range(s)
    n = min(s.column_rows, s.rows)
    label = "x[:, ::-1]" if r.stop is None else f"x[:{n:,}, ::-1]"
    _basic(ctx, "reverse", label, [(r, slice(None, None, -1))], nbytes=n * s.cols * 4,
           flip_peers=True)


def w_minibatch(ctx: Context) -> None:
    """Sequential minibatches under every cache policy (bench/cache.py's cases) and the peers."""
    from bench.cache import minibatch_cases

    assert ctx.ds is not None
    s = ctx.sizes
    rows, b = min(s.minibatch_rows, s.rows), s.batch
    case = f"{b}-row batches, {rows:,} rows"
    nb = rows * s.cols * 4
    names = {"raw PyTables minibatches": "pytables", "one big read": "lazyarr x[:R] one read"}
    # 64 MB, but never more than the rows walked: a window past them would
    # time reading rows the loop never asks for (small --quick arrays).
    window = min(64 * 2**20, nb)
    for v in ctx.ds.variants:
        fns = {names.get(label, "lazyarr " + label.replace(" minibatches", "")): fn
               for label, fn in minibatch_cases(ctx.ds.h5[v], "/x", rows, b, window).items()}
        # Alternating runs: the targets are ratios of these cases to each other.
        ctx.runner.interleaved("minibatch", v, case, fns, nbytes=nb,
                               calls={impl: -(-rows // b) for impl in fns},
                               notes={impl: "opens the file inside the timing" for impl in fns
                                      if "InMemory" in impl},
                               primary=next(impl for impl in fns if "SwapWindow" in impl))
        for impl, fn in _peer_minibatches(ctx.ds, v, rows, b).items():
            ctx.runner.case("minibatch", v, case, impl, fn, calls=-(-rows // b), nbytes=nb)


def _peer_minibatches(ds: Dataset, v: str, rows: int, b: int) -> dict[str, Callable[[], None]]:
    out: dict[str, Callable[[], None]] = {}
    if v in ds.h5py_files:
        def h5() -> None:
            import h5py

            with h5py.File(ds.h5py_files[v], "r") as f:
                d = f["x"]
                for i in range(0, rows, b):
                    d[i : i + b]
        out["h5py"] = h5
    if ds.zarr is not None:
        def zr() -> None:
            import zarr

            z = zarr.open_array(os.path.join(ds.zarr, v.replace(":", "-")), mode="r")
            for i in range(0, rows, b):
                z[i : i + b]
        out["zarr"] = zr
    if v == "plain" or len(ds.variants) == 1:
        def mm() -> None:
            a = np.load(ds.npy, mmap_mode="r")
            for i in range(0, rows, b):
                np.array(a[i : i + b])
        out["memmap"] = mm

        def npy() -> None:
            for i in range(0, rows, b):
                np.array(ds.data[i : i + b])
        out["numpy"] = npy
    return out


def w_reduce(ctx: Context) -> None:
    """``x.mean(axis=0)`` and ``x.sum()`` (out of core); peers loop over chunks."""
    assert ctx.ds is not None
    data = ctx.ds.data
    block = ctx.sizes.chunk_rows * 16
    n = ctx.sizes.rows

    def looped(a: Any, axis: int | None) -> Any:
        # What a user of h5py/zarr/PyTables writes without Dask: float64
        # partial sums over blocks of whole chunks.
        tot = 0.0
        for i in range(0, n, block):
            tot = tot + np.asarray(a[i : i + block]).sum(axis=0, dtype=np.float64)
        return (tot / n).astype(data.dtype) if axis == 0 else data.dtype.type(np.sum(tot))

    def close(got: Any, want: Any) -> bool:
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-3, atol=1e-6 * n))

    cases = {"x.mean(axis=0)": (lambda a: a.mean(axis=0), 0), "x.sum()": (lambda a: a.sum(), None)}

    def body(v: str, h: dict[str, Any]) -> None:
        for case, (op, axis) in cases.items():
            want = op(data)
            for impl, a in h.items():
                own = impl in ("lazyarr", "memmap", "numpy")
                fn = (lambda a=a, op=op: op(a)) if own else (lambda a=a, axis=axis: looped(a, axis))
                ctx.runner.case("reduce", v, case, impl, fn, expect=want, close=close,
                                nbytes=data.nbytes, note="" if own else "loop over 16-chunk blocks")

    _per_variant(ctx, body)


# --------------------------------------------------------------------------
# Workloads with their own data
# --------------------------------------------------------------------------
def w_ragged(ctx: Context) -> None:
    """bench/ragged.py's 1,000-item slices and one-at-a-time appends."""
    from bench import ragged

    s, r = ctx.sizes, ctx.runner
    if not any(r.wanted(i) for i in ("lazyarr", "pytables")):
        return
    d = os.path.join(ctx.tmp, "ragged")
    os.makedirs(d, exist_ok=True)
    res = ragged.bench_slice(d, r.repeats, n_items=s.ragged_items, k=s.ragged_slice)
    case = f"{s.ragged_slice:,}-item slice"
    r.add("ragged", "offsets", case, "lazyarr", res["lazyarr ragged-offsets"], primary=True)
    r.add("ragged", "offsets", case, "lazyarr, walkthrough file",
          res["lazyarr ragged-offsets, walkthrough file"])
    r.add("ragged", "offsets", case, "pytables", res["walkthrough EArray per-item getter"],
          note="the walkthrough's per-item getter (EArray layout)")
    r.add("ragged", "vl", case, "lazyarr", res["lazyarr ragged-vl"], primary=True)
    r.add("ragged", "vl", case, "pytables", res["walkthrough VLArray per-item reads"],
          note="the walkthrough's VLArray, one row per item")
    res1 = ragged.bench_random_items(d, r.repeats, n_items=s.ragged_items, calls=s.ragged_random)
    case = f"{s.ragged_random:,} random r[i]"
    r.add("ragged", "offsets", case, "lazyarr", res1["lazyarr ragged-offsets"], primary=True,
          calls=s.ragged_random)
    r.add("ragged", "offsets", case, "pytables", res1["walkthrough EArray per-item getter"],
          calls=s.ragged_random, note="the walkthrough's per-item getter (EArray layout)")
    r.add("ragged", "vl", case, "lazyarr", res1["lazyarr ragged-vl"], primary=True,
          calls=s.ragged_random)
    r.add("ragged", "vl", case, "pytables", res1["walkthrough VLArray per-item reads"],
          calls=s.ragged_random, note="the walkthrough's VLArray, one row per item")
    res2 = ragged.bench_appends(d, max(1, r.repeats), n_items=s.ragged_appends)
    for backend in ("offsets", "vl"):
        case = f"{s.ragged_appends:,} appends"
        r.add("ragged", backend, case, "lazyarr", res2[(backend, "append")], primary=True,
              calls=s.ragged_appends, note="one at a time, incl. close")
        r.add("ragged", backend, case, "lazyarr extend (bulk)", res2[(backend, "extend")],
              calls=s.ragged_appends, note="one extend, incl. close")


def w_codecs(ctx: Context) -> None:
    """bench/codecs.py: compression settings on realistic data."""
    from bench import codecs

    if not ctx.runner.wanted("lazyarr"):
        return
    d = os.path.join(ctx.tmp, "codecs")
    os.makedirs(d, exist_ok=True)
    codecs.run(ctx.runner, d, ctx.sizes.codec_rows, ctx.sizes.codec_random, quick=ctx.sizes.rows < 2**20)


#: The per-call keys of :func:`w_percall`: (case, key), on a (1000, 20) array.
PERCALL_KEYS: list[tuple[str, Any]] = [
    ("x[3]", 3),
    ("x[3, 4]", (3, 4)),
    ("x[1:5]", slice(1, 5)),
    ("x[-1]", -1),
    ("x[::2, 0]", (slice(None, None, 2), 0)),
    ("x[[1, 2]]", [1, 2]),
    ("x[[[1], [2]], [0, 3]]", ([[1], [2]], [0, 3])),
    ("x[mask of 1,000]", np.arange(1000) % 3 == 0),
]


def w_percall(ctx: Context) -> None:
    """The fixed cost of one call: lazyarr's memory backend against NumPy on the same array.

    No file: a (1000, 20) float64 array in memory, ``x = la.wrap(a)``.
    ``numpy`` is ``a[key]`` (a view for basic keys); ``numpy + copy`` also
    copies views, as a read from storage (and lazyarr, which never hands out
    a view of its data) does. Calls are timed in many short runs of
    :data:`PERCALL_BATCH` calls, the implementations taking turns run by run,
    so that a loaded machine slows each of them alike and the minimum is a
    run nobody interrupted.
    """
    import time

    import lazyarr as la

    a = np.arange(1000 * 20, dtype=np.float64).reshape(1000, 20)
    x = la.wrap(a)
    # Many short runs (about 1 s in all): the minimum of each is then a run that
    # nothing interrupted, which 30 runs did not always give (ratios moved 5-10 %
    # between runs on a loaded machine).
    runs = max(200, 60 * ctx.runner.repeats)
    reps = range(PERCALL_BATCH)
    for case, key in PERCALL_KEYS:
        peers = {"lazyarr": x.__getitem__, "numpy": a.__getitem__,
                 "numpy + copy": lambda k: _copy(a[k])}
        peers = {impl: get for impl, get in peers.items() if ctx.runner.wanted(impl)}
        for impl, get in peers.items():
            if not same(get(key), a[key]):
                raise AssertionError(f"percall/memory/{case}: {impl} gave a different answer")
        times: dict[str, list[float]] = {impl: [] for impl in peers}
        for _ in range(runs):
            for impl, get in peers.items():
                t = time.perf_counter()
                for _ in reps:
                    get(key)
                times[impl].append(time.perf_counter() - t)
        for impl, ts in times.items():
            ctx.runner.add("percall", "memory", case, impl, (min(ts), float(np.median(ts))),
                           calls=PERCALL_BATCH, primary=impl == "lazyarr")


#: Calls per timed run of :func:`w_percall`.
PERCALL_BATCH = 200


from bench.direct import w_blocks, w_direct  # noqa: E402  (they use this module's helpers)

#: Workload name -> (function, needs the suite's array files).
WORKLOADS: dict[str, tuple[Callable[[Context], None], bool]] = {
    "slice": (w_slice, True),
    "full": (w_full, True),
    "row": (w_row, True),
    "element": (w_element, True),
    "fancy": (w_fancy, True),
    "mask": (w_mask, True),
    "column": (w_column, True),
    "column5": (w_column5, True),
    "reverse": (w_reverse, True),
    "minibatch": (w_minibatch, True),
    "reduce": (w_reduce, True),
    "ragged": (w_ragged, False),
    "codecs": (w_codecs, False),
    "direct": (w_direct, False),
    "blocks": (w_blocks, False),
    "percall": (w_percall, False),
}
