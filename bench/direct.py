"""Issue 13's compressed workloads: lazyarr's default compressed layout.

``direct``: random ``x[i]`` against PyTables on the same node, 4,096 sorted
rows and a 1 % mask against h5py on the same file, ``x[:]`` against the
blosc2 package alone decoding the same stored chunks already in memory,
``create_array`` against PyTables and zarr with the same codec and chunks,
and appends of one row at a time against one bulk append. ``blocks``: the
Blosc2 block sizes lazyarr's writer could use (ratio, random row, full read).
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from bench.workloads import Context

#: The issue's table: (rows, 64) float32, Blosc2/Zstd level 1, shuffle,
#: chunks of 4,096 rows -- lazyarr's defaults, written by ``create_array``.
DIRECT_COLS = 64
DIRECT_CHUNKS = (4096, DIRECT_COLS)


def _direct_file(ctx: Context) -> tuple[str, np.ndarray]:
    """The layout's file (written once per run by lazyarr) and its data."""
    path = os.path.join(ctx.tmp, "direct.h5")
    data = realistic_rows(ctx.sizes.direct_rows)
    if not os.path.exists(path):
        import lazyarr as la

        with la.open(path, "w") as store:
            store.create_array("x", data, chunks=DIRECT_CHUNKS)
    return path, data


def _c_create(ctx: Context, data: np.ndarray) -> None:
    """``create_array`` of the whole array against PyTables and zarr, same codec and chunks."""
    import lazyarr as la
    import tables

    d = os.path.join(ctx.tmp, "direct-create")
    os.makedirs(d, exist_ok=True)
    case = f"create {data.nbytes / 2**20:.0f} MiB"

    def lz() -> None:
        with la.open(os.path.join(d, "l.h5"), "w") as store:
            store.create_array("x", data, chunks=DIRECT_CHUNKS)

    def pt() -> None:
        with tables.open_file(os.path.join(d, "p.h5"), "w") as f:
            f.create_carray("/", "x", obj=data, chunkshape=DIRECT_CHUNKS,
                            filters=tables.Filters(complevel=1, complib="blosc2:zstd", shuffle=True))

    ctx.runner.case("direct", "zstd-1", case, "lazyarr", lz, nbytes=data.nbytes)
    ctx.runner.case("direct", "zstd-1", case, "pytables", pt, nbytes=data.nbytes,
                    note="create_carray(obj=...), blosc2:zstd level 1, shuffle")
    try:
        import zarr
    except ImportError:
        return

    def zr() -> None:
        z = zarr.create_array(store=os.path.join(d, "z.zarr"), shape=data.shape, chunks=DIRECT_CHUNKS,
                              dtype=data.dtype, overwrite=True,
                              compressors=zarr.codecs.BloscCodec(cname="zstd", clevel=1, shuffle="shuffle"))
        z[:] = data

    ctx.runner.case("direct", "zstd-1", case, "zarr", zr, nbytes=data.nbytes,
                    note="Blosc zstd clevel 1, shuffle, same chunks")


def _c_appends(ctx: Context, data: np.ndarray) -> None:
    """Appending rows one at a time against one bulk append of the same rows."""
    import lazyarr as la

    n = min(len(data), ctx.sizes.direct_appends)
    path = os.path.join(ctx.tmp, "direct-append.h5")
    case = f"{n:,} rows appended"

    def grow(step: int) -> None:
        with la.open(path, "w") as store:
            x = store.create_array("x", data[:0], chunks=DIRECT_CHUNKS)
            for i in range(0, n, step):
                x.append(data[i : i + step])

    ctx.runner.interleaved(
        "direct", "zstd-1", case, {"lazyarr": lambda: grow(1), "lazyarr bulk": lambda: grow(n)},
        repeats=max(5, ctx.runner.repeats), calls={"lazyarr": n},
        notes={"lazyarr": "x.append(one row) each, incl. close",
               "lazyarr bulk": "one x.append of all rows, incl. close"})


def _c_reads(ctx: Context, path: str, data: np.ndarray) -> None:
    """Random ``x[i]`` against PyTables; sorted rows and a 1 % mask against h5py."""
    import tables

    import lazyarr as la

    from bench.workloads import fancy_keys

    s = ctx.sizes
    rows = len(data)
    idx = ctx.rng.integers(0, rows, s.calls_compressed).tolist()
    srt, _ = fancy_keys(ctx.rng, rows, s.fancy)
    mask = ctx.rng.random(rows) < s.mask_fraction
    with ExitStack() as stack:
        h = {"lazyarr": stack.enter_context(la.open(path))["x"],
             "pytables": stack.enter_context(tables.open_file(path)).get_node("/x")}
        try:
            import h5py
            import hdf5plugin  # noqa: F401  (the Blosc2 filter for h5py)

            h["h5py"] = stack.enter_context(h5py.File(path, "r"))["x"]
        except ImportError:
            pass
        case = f"{len(idx):,} random x[i]"
        for impl in ("lazyarr", "pytables"):
            a = h[impl]
            ctx.runner.case("direct", "zstd-1", case, impl, lambda a=a: [a[i] for i in idx],
                            check=lambda a=a: [a[i] for i in idx[:20]],
                            expect=[data[i] for i in idx[:20]], calls=len(idx))
        cases = [(f"{len(srt):,} sorted rows", srt, lambda a, k: a[k]),
                 (f"{s.mask_fraction:.0%} mask", mask, lambda a, k: a[k])]
        for case, key, get in cases:
            want = data[key]
            for impl in ("lazyarr", "h5py"):
                if impl in h:
                    ctx.runner.case("direct", "zstd-1", case, impl, lambda a=h[impl], k=key: get(a, k),
                                    expect=want, nbytes=want.nbytes)


def _c_full(ctx: Context, path: str, data: np.ndarray) -> None:
    """``x[:]`` against the blosc2 package alone decoding the stored chunks already in memory."""
    import blosc2
    import tables

    import lazyarr as la

    with tables.open_file(path) as f:
        node = f.get_node("/x")
        raws = [node.read_chunk((r, 0)) for r in range(0, len(data), DIRECT_CHUNKS[0])]
    # Decoding the chunk inside each frame straight into a fresh (padded)
    # result, as a read allocates its result, on blosc2's own threads: the
    # codec's speed, no file access at all.
    chunks = []
    for raw in raws:
        h = int.from_bytes(raw[11:15], "big")
        chunks.append(raw[h : h + int.from_bytes(raw[h + 12 : h + 16], "little")])
    c0 = DIRECT_CHUNKS[0]

    def decode() -> np.ndarray:
        padded = np.empty((len(raws) * c0, DIRECT_COLS), data.dtype)
        for i, c in enumerate(chunks):
            blosc2.decompress2(c, dst=padded[i * c0 : (i + 1) * c0], nthreads=blosc2.nthreads)
        return padded[: len(data)]

    with la.open(path) as store:
        x = store["x"]
        # Alternating runs, at least 5 rounds: both sides are ~0.4 s runs of
        # all cores, and the load of a shared machine drifts on that scale.
        ctx.runner.interleaved(
            "direct", "zstd-1", "x[:]", {"lazyarr": lambda: x[:], "blosc2 decode only": decode},
            expect=data, nbytes=data.nbytes, repeats=max(5, ctx.runner.repeats),
            notes={"blosc2 decode only": f"blosc2 {blosc2.__version__} decompress2, {blosc2.nthreads} "
                                         "threads, stored chunks already in memory, into a fresh result"})


def w_direct(ctx: Context) -> None:
    """Issue 13's compressed rows: random rows, sorted rows, a mask, full read, create, appends."""
    path, data = _direct_file(ctx)
    _c_reads(ctx, path, data)
    _c_full(ctx, path, data)
    _c_create(ctx, data)
    _c_appends(ctx, data)


def w_blocks(ctx: Context) -> None:
    """Blosc2 block sizes of lazyarr's writer: ratio, random ``x[i]``, ``x[:]``."""
    import lazyarr as la
    from lazyarr.backends import _b2blocks, _b2write

    rows = min(ctx.sizes.direct_rows, 2**18)
    data = realistic_rows(rows)
    idx = ctx.rng.integers(0, rows, ctx.sizes.calls_compressed).tolist()
    default = _b2write.BLOCK_BYTES
    for kib in (16, 32, 64, 128):
        path = os.path.join(ctx.tmp, f"blocks-{kib}.h5")
        _b2write.BLOCK_BYTES = kib * 1024
        try:
            with la.open(path, "w") as store:
                store.create_array("x", data, chunks=DIRECT_CHUNKS)
        finally:
            _b2write.BLOCK_BYTES = default
        note = f"ratio {data.nbytes / os.path.getsize(path):.3f}" + (" (default)" if kib * 1024 == default else "")
        with la.open(path) as store:
            x = store["x"]
            ctx.runner.case("blocks", f"{kib} KiB", f"{len(idx):,} random x[i]", "lazyarr",
                            lambda x=x: [x[i] for i in idx], calls=len(idx), note=note,
                            check=lambda x=x: [x[i] for i in idx[:20]], expect=[data[i] for i in idx[:20]])
            ctx.runner.case("blocks", f"{kib} KiB", "x[:]", "lazyarr", lambda x=x: x[:], expect=data,
                            nbytes=data.nbytes, note=note)


def realistic_rows(rows: int) -> np.ndarray:
    """The direct workloads' data: (rows, 64) float32 rounded normals."""
    from bench._data import realistic

    return realistic(np.random.default_rng(3), rows, DIRECT_COLS)


