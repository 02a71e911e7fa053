"""``lazyarr convert SRC DST``: copy arrays into a lazyarr file, block by block.

Sources: a ``.npy`` file (memory-mapped), an HDF5 file (anything
:func:`lazyarr.open` reads: lazyarr's own, PyTables', h5py's), or a zarr
store (a directory or ``.zip``; needs zarr). Arrays, ragged arrays, groups
and attributes are copied; the result holds the same values, dtypes and
shapes. ``--node`` copies one node (a group with everything under it); for
a ``.npy`` source it names the array made (default ``/`` + the file's stem).

Memory stays bounded: arrays are copied in blocks of whole rows of about
:data:`BLOCK_BYTES` (whole destination chunks), ragged arrays in batches of
items of about as many bytes. A progress bar (tqdm) shows on a terminal,
unless ``--quiet``.

Exit status: 0 when everything was copied; 1 when the source cannot be read
or a node could not be copied (each is named on stderr; the others are).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Iterator

import numpy as np

import lazyarr as la
from lazyarr.backends.compressed import default_chunks
from lazyarr.groups import Group
from lazyarr.nodes import node_path

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run", "convert", "BLOCK_BYTES"]

#: Bytes of one block copied at a time (memory stays about twice this).
BLOCK_BYTES = 16 * 2**20

HELP = "copy arrays from .npy, HDF5 or zarr into a lazyarr file, block by block"
DESCRIPTION = (
    "Copy the arrays (and ragged arrays, groups and attributes) of SRC -- a .npy file, "
    "an HDF5 file written by lazyarr, PyTables or h5py, or a zarr store -- into the "
    "lazyarr file DST, in bounded memory, with the compression and chunks given."
)


def _chunks(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"chunks are comma-separated ints, got {text!r}") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"chunks must be positive, got {text!r}")
    return out


def _level(text: str) -> int:
    n = int(text)
    if not 0 <= n <= 9:
        raise argparse.ArgumentTypeError(f"level must be 0..9, got {n}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``lazyarr convert``'s arguments to its sub-parser."""
    parser.add_argument("src", help="a .npy file, an HDF5 file or a zarr store")
    parser.add_argument("dst", help="the lazyarr (HDF5) file to write; created or appended to")
    parser.add_argument("--node", default=None,
                        help="copy only this node of SRC (for .npy: the name of the array made)")
    parser.add_argument("--compression", default="blosc2:zstd",
                        help="compression of the arrays made (default blosc2:zstd; 'none')")
    parser.add_argument("--level", type=_level, default=1, help="compression level 0..9 (default 1)")
    parser.add_argument("--chunks", type=_chunks, default=None,
                        help="chunk shape, e.g. 1000,4, for arrays of that many axes")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


# --------------------------------------------------------------------- sources
class _Source:
    """A tree of source nodes: ``walk()`` yields ``(path, kind, obj, attrs)``,
    kind one of ``array``, ``ragged``, ``group`` or ``skip`` (obj is then why)."""

    def close(self) -> None:
        pass


class _NpyRows:
    """Rows of a C-order ``.npy`` file, read with plain file reads.

    Not a memory map: the pages of a map stay resident while the file is
    copied, so the process would grow to the file's size.
    """

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
            self.offset = f.tell()
        if dtype.hasobject:
            raise TypeError(f"{path!r} holds Python objects (dtype {dtype}), not array data")
        self.path, self.shape, self.dtype, self.fortran = path, tuple(shape), dtype, fortran
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * dtype.itemsize
        self.attrs: dict = {}

    def __getitem__(self, key: Any) -> np.ndarray:
        if self.fortran or not self.shape:  # rare: let NumPy map it
            return np.asarray(np.load(self.path, mmap_mode="r")[key])
        a, b, _ = key.indices(self.shape[0])
        row = int(np.prod(self.shape[1:], dtype=np.int64))
        with open(self.path, "rb") as f:
            f.seek(self.offset + a * row * self.dtype.itemsize)
            flat = np.fromfile(f, dtype=self.dtype, count=max(0, b - a) * row)
        return flat.reshape((max(0, b - a),) + self.shape[1:])


class _Npy(_Source):
    def __init__(self, path: str, node: str | None) -> None:
        self.array = _NpyRows(path)
        self.name = node or "/" + os.path.splitext(os.path.basename(path))[0]

    def walk(self) -> Iterator[tuple[str, str, Any, dict]]:
        yield self.name, "array", self.array, {}


class _Hdf5(_Source):
    def __init__(self, path: str, node: str | None) -> None:
        self.store = la.open(path)
        self.node = node

    def walk(self) -> Iterator[tuple[str, str, Any, dict]]:
        store = self.store
        if self.node is None:
            paths = list(store.keys())
        else:
            top = node_path(self.node)
            if top != "/" and top not in store:
                raise KeyError(f"no node {top!r} in {store.path!r}")
            paths = [p for p in store.keys() if p == top or p.startswith(top.rstrip("/") + "/")]
        yield "/", "attrs", None, dict(store.attrs) if self.node in (None, "/") else {}
        for path in paths:
            try:
                obj = store[path]
            except KeyError as exc:
                yield path, "skip", str(exc).strip("\"'"), {}
                continue
            kind = ("group" if isinstance(obj, Group)
                    else "ragged" if isinstance(obj, la.RaggedArray) else "array")
            yield path, kind, obj, dict(obj.attrs)

    def close(self) -> None:
        self.store.close()


class _Zarr(_Source):
    def __init__(self, path: str, node: str | None) -> None:
        try:
            import zarr
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise OSError("reading zarr stores needs zarr: pip install lazyarr[zarr]") from e
        self.zarr = zarr
        self.root = zarr.open(path, mode="r")
        self.node = node
        stem = os.path.basename(os.path.normpath(path))
        self.name = "/" + (stem[: -len(".zarr")] if stem.endswith(".zarr") else stem)

    def walk(self) -> Iterator[tuple[str, str, Any, dict]]:
        zarr = self.zarr
        top = self.root
        prefix = "/"
        if self.node not in (None, "/"):
            name = self.node.strip("/")
            top = self.root[name]
            prefix = "/" + name

        def visit(obj: Any, path: str) -> Iterator[tuple[str, str, Any, dict]]:
            if isinstance(obj, zarr.Array):
                yield path, "array", obj, dict(obj.attrs)
                return
            if path != "/":
                yield path, "group", obj, dict(obj.attrs)
            for name, child in sorted(obj.members()):
                yield from visit(child, path.rstrip("/") + "/" + name)

        if isinstance(top, zarr.Array):
            yield (self.name if prefix == "/" else prefix), "array", top, dict(top.attrs)
            return
        yield "/", "attrs", None, dict(self.root.attrs) if prefix == "/" else {}
        yield from visit(top, prefix)


def _is_zarr(path: str) -> bool:
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, m)) for m in ("zarr.json", ".zgroup", ".zarray"))


def open_source(path: str, node: str | None) -> _Source:
    """The source at ``path``: by its suffix or contents (.npy, zarr, HDF5)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file or directory: {path!r}")
    if path.endswith(".npy"):
        return _Npy(path, node)
    if _is_zarr(path) or path.endswith((".zarr", ".zarr.zip")):
        return _Zarr(path, node)
    return _Hdf5(path, node)


# ----------------------------------------------------------------------- copy
def _row_blocks(n: int, row_bytes: int, chunk_rows: int) -> Iterator[tuple[int, int]]:
    step = max(1, BLOCK_BYTES // max(1, row_bytes))
    step = max(chunk_rows, step // chunk_rows * chunk_rows)  # whole chunks
    for a in range(0, n, step):
        yield a, min(n, a + step)


def _copy_array(dst: Any, path: str, src: Any, args: argparse.Namespace, bar: Any) -> Any:
    shape, dtype = tuple(src.shape), np.dtype(src.dtype)
    if dtype.hasobject:
        raise TypeError("dtype object (h5py vlen strings, say) is not stored by lazyarr")
    compression = None if args.compression.lower() == "none" else args.compression
    if not shape:  # 0-d: contiguous (chunks need an axis)
        return dst.create_array(path, np.asarray(src[()]), backend="plain")
    chunks = args.chunks if args.chunks and len(args.chunks) == len(shape) else None
    if chunks is None and 0 not in shape[1:]:
        chunks = default_chunks(shape, dtype.itemsize, rows=max(1, shape[0]))
    x = dst.create_array(path, shape=(0,) + shape[1:], dtype=dtype, compression=compression,
                         level=args.level, chunks=chunks, expectedrows=max(1, shape[0]))
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    for a, b in _row_blocks(shape[0], row_bytes, (x.chunks or (1,))[0]):
        block = np.asarray(src[a:b])
        x.append(block)
        bar.update(block.nbytes)
    return x


def _copy_ragged(dst: Any, path: str, src: Any, args: argparse.Namespace, bar: Any) -> Any:
    compression = None if args.compression.lower() == "none" else args.compression
    backend = "vl" if src.backend.kind == "ragged-vl" else "offsets"
    r = dst.create_ragged(path, dtype=src.dtype, item_ndim=src.item_ndim, backend=backend,
                          compression=compression, level=args.level, expected_items=len(src))
    sizes = np.prod(src.shapes, axis=1, dtype=np.int64) * src.dtype.itemsize
    a = 0
    while a < len(src):
        # Items up to BLOCK_BYTES (at least one) per batch.
        b = a + max(1, int(np.searchsorted(np.cumsum(sizes[a:]), BLOCK_BYTES, side="right")))
        items = src[a:b]
        r.extend(items)
        bar.update(int(sizes[a:b].sum()))
        a = b
    r.flush()
    return r


def _set_attrs(obj: Any, attrs: dict, problems: list[str], path: str) -> None:
    for k, v in attrs.items():
        try:
            obj.attrs[k] = np.asarray(v) if isinstance(v, (list, tuple)) else v
        except (TypeError, ValueError) as exc:
            problems.append(f"{path}: attribute {k!r} not copied: {exc}")


def _total_bytes(nodes: list) -> int:
    total = 0
    for _, kind, obj, _ in nodes:
        if kind in ("array", "ragged"):
            total += int(obj.nbytes) if hasattr(obj, "nbytes") else 0
    return total


def convert(src: str, dst: str, args: argparse.Namespace) -> list[str]:
    """Copy ``src`` into ``dst`` as ``args`` say; the problems met (empty: all copied)."""
    from tqdm import tqdm

    source = open_source(src, args.node)
    problems: list[str] = []
    try:
        nodes = list(source.walk())
        show = not args.quiet and sys.stderr.isatty()
        with la.open(dst, "a") as out, tqdm(total=_total_bytes(nodes), unit="B", unit_scale=True,
                                            disable=not show, desc="lazyarr convert") as bar:
            for path, kind, obj, attrs in nodes:
                if kind == "skip":
                    problems.append(f"{path}: not copied: {obj}")
                    continue
                try:
                    if kind == "attrs":
                        made = out.root
                    elif kind == "group":
                        made = out[path] if path in out else out.create_group(path)
                    elif kind == "ragged":
                        made = _copy_ragged(out, path, obj, args, bar)
                    else:
                        made = _copy_array(out, path, obj, args, bar)
                except (TypeError, ValueError, OSError) as exc:
                    problems.append(f"{path}: not copied: {exc}")
                    continue
                _set_attrs(made, attrs, problems, path)
    finally:
        source.close()
    return problems


def run(args: argparse.Namespace) -> int:
    """Run ``lazyarr convert``; return the exit status."""
    try:
        problems = convert(args.src, args.dst, args)
    except (OSError, KeyError, ValueError) as exc:
        print(f"lazyarr convert: {str(exc).strip(chr(34) + chr(39))}", file=sys.stderr)
        return 1
    for p in problems:
        print(f"lazyarr convert: {p}", file=sys.stderr)
    if not args.quiet:
        print(f"{args.src} -> {os.path.abspath(args.dst)}" + (
            f" ({len(problems)} problem{'s' if len(problems) != 1 else ''})" if problems else ""))
    return 1 if problems else 0
