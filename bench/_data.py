"""Sizes, data files and the peers that read them, for the benchmark suite.

One HDF5 file per variant (``plain``: contiguous and uncompressed;
``blosc2:zstd`` and ``blosc2:lz4``: chunked, level 5, shuffle), written
through lazyarr's public API; h5py reads the *same* files (through
``hdf5plugin`` for blosc2); zarr gets its own copy with the same chunks and
a comparable Blosc codec; ``numpy.memmap`` maps the plain HDF5 file's own
bytes (at the offset h5py's ``get_offset`` gives; a raw ``.npy`` copy when
there is no plain variant or no h5py); and the in-memory NumPy array is the
data in RAM.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import ExitStack
from typing import Any

import numpy as np

import lazyarr as la

#: Variant name -> ``Store.create_array`` arguments.
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {"backend": "plain"},
    "blosc2:zstd": {"backend": "compressed", "compression": "blosc2:zstd", "level": 5, "shuffle": True},
    "blosc2:lz4": {"backend": "compressed", "compression": "blosc2:lz4", "level": 5, "shuffle": True},
}
#: Every peer the suite knows, in table order.
PEERS = ("lazyarr", "pytables", "h5py", "zarr", "memmap", "numpy")


@dataclasses.dataclass
class Sizes:
    """Every size a workload uses (one preset per ``--quick``/``--tiny``)."""

    rows: int = 4 * 2**20          # 4M rows x 32 float32 = 512 MiB per variant
    cols: int = 32
    chunk_rows: int = 4096
    slice_rows: int = 100_000
    slices: int = 4                # large slices per timed run
    calls: int = 10_000            # random single-row / single-element calls (plain)
    calls_compressed: int = 2_000  # the same on compressed variants (~2 ms each via PyTables)
    fancy: int = 4096
    mask_fraction: float = 0.01
    column_rows: int = 2**20       # x[:R, j] and x[:R, ::-1] read the first R rows
    columns: int = 2               # column reads per timed run
    minibatch_rows: int = 2**20    # sequential 256-row minibatches over the first R rows
    batch: int = 256
    ragged_items: int = 2000       # items in the ragged file; slices read 1,000 of them
    ragged_slice: int = 1000
    ragged_random: int = 1000      # random single items r[i]
    ragged_appends: int = 20_000
    codec_rows: int = 2**19        # codecs: rows x 64 float32 = 128 MiB per setting
    codec_random: int = 300
    direct_rows: int = 2**20       # direct: (rows, 64) float32, lazyarr's default compressed layout
    direct_appends: int = 20_000   # direct: rows appended one at a time

    @classmethod
    def preset(cls, name: str) -> "Sizes":
        if name == "full":
            return cls()
        if name == "quick":
            return cls(rows=2**18, slices=2, calls=1000, calls_compressed=100, fancy=1024,
                       column_rows=2**17, columns=1, minibatch_rows=2**16, ragged_appends=5000,
                       codec_rows=2**14, codec_random=50, direct_rows=2**17, direct_appends=5000)
        if name == "tiny":
            return cls(rows=20_000, cols=8, chunk_rows=1024, slice_rows=5000, slices=1, calls=50,
                       calls_compressed=20, fancy=64, column_rows=8192, columns=1,
                       minibatch_rows=4096, ragged_items=200, ragged_slice=100, ragged_random=50,
                       ragged_appends=200, codec_rows=4096, codec_random=10, direct_rows=10_000,
                       direct_appends=300)
        raise ValueError(f"unknown preset {name!r}")


def realistic(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Normal values rounded to 2 decimals, as float32 (the issue's data)."""
    return np.round(rng.standard_normal((rows, cols), dtype=np.float32), 2)


def zarr_codec(variant: str) -> Any:
    """A zarr 3 compressor comparable to a variant's HDF5 filter (None: plain)."""
    import zarr

    if variant == "plain":
        return None
    cname = variant.split(":")[1]
    return zarr.codecs.BloscCodec(cname=cname, clevel=5, shuffle="shuffle")


@dataclasses.dataclass
class Dataset:
    """The files of one suite run and the reference data in RAM."""

    dir: str
    sizes: Sizes
    variants: list[str]
    data: np.ndarray                      # the in-memory NumPy peer
    h5: dict[str, str]                    # variant -> HDF5 file (node "/x")
    npy: str
    zarr: str | None
    h5py_files: dict[str, str]            # variant -> file h5py reads (== h5 unless a gzip copy)
    notes: list[str]

    @property
    def chunks(self) -> tuple[int, int]:
        return (self.sizes.chunk_rows, self.sizes.cols)


def build(tmp: str, sizes: Sizes, variants: list[str], *, peers: tuple[str, ...] = PEERS,
          h5py_copy: bool = False, log: Any = print) -> Dataset:
    """Write every file of a suite run into ``tmp`` (peers' copies only for ``peers``)."""
    rng = np.random.default_rng(0)
    data = realistic(rng, sizes.rows, sizes.cols)
    notes: list[str] = []
    h5 = {}
    for v in variants:
        path = os.path.join(tmp, f"{v.replace(':', '-')}.h5")
        kw = dict(VARIANTS[v])
        if kw["backend"] == "compressed":
            kw["chunks"] = (sizes.chunk_rows, sizes.cols)
        with la.open(path, "w") as store:
            store.create_array("x", data, **kw)
        h5[v] = path
        log(f"  wrote {path} ({os.path.getsize(path) / 2**20:.0f} MiB)")
    npy = os.path.join(tmp, "x.npy")
    np.save(npy, data)
    h5py_files = _h5py_files(tmp, data, sizes, h5, h5py_copy, notes) if "h5py" in peers else {}
    zpath = _zarr_copy(tmp, data, sizes, variants, notes) if "zarr" in peers else None
    return Dataset(tmp, sizes, variants, data, h5, npy, zpath, h5py_files, notes)


def _h5py_files(tmp: str, data: np.ndarray, sizes: Sizes, h5: dict[str, str], force_copy: bool,
                notes: list[str]) -> dict[str, str]:
    try:
        import h5py
    except ImportError:
        notes.append("h5py not installed: no h5py peer")
        return {}
    try:
        if force_copy:
            raise ImportError("--h5py-copy")
        import hdf5plugin  # noqa: F401  (registers the Blosc2 HDF5 filter with h5py)

        notes.append(f"h5py reads the same HDF5 files; blosc2 through hdf5plugin "
                     f"{getattr(hdf5plugin, 'version', '?')}")
        return dict(h5)
    except ImportError as exc:
        out = {}
        for v, path in h5.items():
            if v == "plain":
                out[v] = path
                continue
            cpath = os.path.join(tmp, f"h5py-{v.replace(':', '-')}.h5")
            with h5py.File(cpath, "w") as f:
                f.create_dataset("x", data=data, chunks=(sizes.chunk_rows, sizes.cols),
                                 compression="gzip", compression_opts=1, shuffle=True)
            out[v] = cpath
        notes.append(f"h5py cannot read blosc2 ({exc}): its compressed variants read a gzip-1 "
                     "copy with the same chunks (NOT the same codec)")
        return out


def _zarr_copy(tmp: str, data: np.ndarray, sizes: Sizes, variants: list[str],
               notes: list[str]) -> str | None:
    try:
        import zarr
    except ImportError:
        notes.append("zarr not installed: no zarr peer (pip install 'zarr>=3')")
        return None
    if int(zarr.__version__.split(".")[0]) < 3:
        notes.append(f"zarr {zarr.__version__} is older than 3: no zarr peer (pip install 'zarr>=3')")
        return None
    path = os.path.join(tmp, "x.zarr")
    for v in variants:
        z = zarr.create_array(store=path, name=v.replace(":", "-"), shape=data.shape,
                              chunks=(sizes.chunk_rows, sizes.cols), dtype=data.dtype,
                              compressors=zarr_codec(v), overwrite=True)
        z[:] = data
    notes.append(f"zarr {zarr.__version__}: local store, chunks ({sizes.chunk_rows}, {sizes.cols}) "
                 "for every variant (plain: no compressor; blosc2:*: Blosc same cname, clevel 5, "
                 "shuffle)")
    return path


def memmap_peer(ds: Dataset) -> np.ndarray:
    """``numpy.memmap`` of the same bytes lazyarr's plain array reads.

    The plain variant's HDF5 file mapped at its dataset's offset (so both
    read the same pages of the page cache); the ``.npy`` copy when the run
    has no plain variant or h5py is missing.
    """
    if "plain" in ds.h5:
        try:
            import h5py
        except ImportError:
            h5py = None
        if h5py is not None:
            with h5py.File(ds.h5["plain"], "r") as f:
                d = f["x"]
                off, shape, dtype = d.id.get_offset(), d.shape, d.dtype
            if off is not None:
                return np.memmap(ds.h5["plain"], dtype=dtype, mode="r", offset=off, shape=shape)
    return np.load(ds.npy, mmap_mode="r")


class Handles:
    """Open handles of every peer on one variant (closed by ``close``)."""

    def __init__(self, ds: Dataset, variant: str, peers: tuple[str, ...] = PEERS,
                 cache: Any = None) -> None:
        self._stack = ExitStack()
        self.variant = variant
        self.h: dict[str, Any] = {}
        try:
            if "lazyarr" in peers:
                store = self._stack.enter_context(la.open(ds.h5[variant], cache=cache))
                self.h["lazyarr"] = store["x"]
            if "pytables" in peers:
                import tables

                f = self._stack.enter_context(tables.open_file(ds.h5[variant]))
                self.h["pytables"] = f.get_node("/x")
            if "h5py" in peers and variant in ds.h5py_files:
                import h5py

                f = self._stack.enter_context(h5py.File(ds.h5py_files[variant], "r"))
                # A gzip copy (no hdf5plugin) is another codec: say so in the name.
                same = ds.h5py_files[variant] == ds.h5[variant]
                self.h["h5py" if same else "h5py gzip-1 copy"] = f["x"]
            if "zarr" in peers and ds.zarr is not None:
                import zarr

                self.h["zarr"] = zarr.open_array(os.path.join(ds.zarr, variant.replace(":", "-")),
                                                 mode="r")
            # Uncompressed references are the same for every variant: measured once,
            # in the plain group.
            if variant == "plain" or len(ds.variants) == 1:
                if "memmap" in peers:
                    self.h["memmap"] = memmap_peer(ds)
                if "numpy" in peers:
                    self.h["numpy"] = ds.data
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.h.clear()
        self._stack.close()

    def __enter__(self) -> "Handles":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
