"""What the PyTables backends share: node lookup, dtype rules, selection I/O.

Only ``lazyarr/backends/*`` and ``lazyarr/store.py`` import :mod:`tables`.

Reads and writes use private PyTables calls, because its public indexing
cannot express what the protocol asks for (``node[[0, 2]]`` on a 2-d
``tables.Array`` raises an HDF5 error, and only one index list per key is
allowed):

* ``node._g_read_slice`` / ``node._g_write_slice``: one hyperslab. For Blosc2
  PyTables decompresses chunks itself on this path, about 7x faster than
  HDF5's filter pipeline.
* ``node._g_read_selection`` / ``node._g_write_selection``: a union of
  hyperslabs in one ``H5Dread``/``H5Dwrite``, built as "everything minus the
  gaps" (``NOTB``). HDF5 builds such a union in time quadratic in the number
  of runs (1000 runs: 15 ms, 10000 runs: 2.5 s), so unions hold at most
  :data:`MAX_RUNS` runs.

The core (:mod:`lazyarr.core.windows`) cuts each index array into runs of
consecutive indices, merges them for reads into *windows* across small gaps
and within a chunk, and chooses one box, a call per box, or unions; this
module only turns its windows into those calls and trims the boxes read in
memory.
"""

from __future__ import annotations

import itertools
import math
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import tables

from lazyarr.backends._hdf5 import (  # noqa: F401  (re-exported for the backends)
    ATTR_BACKEND,
    check_space,
    ATTR_VERSION,
    FORMAT_VERSION,
    HDF5_LOCK,
    hdf5_errors,
    quiet,
)
from lazyarr.backends.base import FileNodeBackend
from lazyarr.core.selection import Selection, orthogonal_key, selection_shape
from lazyarr.core.support import DEFAULT_COST, CostModel
from lazyarr.core.windows import AxisWindows, plan_windows, window_strategy
from lazyarr.errors import BackendError, ReadOnlyError

if TYPE_CHECKING:  # pragma: no cover
    from lazyarr.files import FileRef

__all__ = [
    "ATTR_BACKEND",
    "ATTR_VERSION",
    "FORMAT_VERSION",
    "PyTablesBackend",
    "check_dtype",
    "hdf5_errors",
]


#: Most runs in one hyperslab union (see the module docstring), and most
#: window boxes read one hyperslab call each before unions are used instead.
MAX_RUNS = 128
#: Gaps smaller than this (in bytes of the block being read) are read through
#: and dropped in memory: cheaper than one more hyperslab.
GAP_BYTES = DEFAULT_COST.gap_bytes  # the cost model's gap worth bridging
#: Windows merged across gaps stop at multiples of this many bytes, so a
#: sparse key over a large array reads it piece by piece into one buffer.
PIECE_BYTES = DEFAULT_COST.piece_bytes

_SUPPORTED_KINDS = "biufcS"


def check_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a NumPy dtype PyTables can store, else BackendError.

    Examples
    --------
    >>> check_dtype(">i4")
    dtype('>i4')
    >>> check_dtype("U3")
    Traceback (most recent call last):
    ...
    lazyarr.errors.BackendError: cannot store dtype <U3 in HDF5: unicode strings are not supported; encode them to bytes ('S') first
    """
    dt = np.dtype(dtype)
    why = None
    if dt.fields is not None:
        why = "structured dtypes are not supported"
    elif dt.subdtype is not None:
        why = "sub-array dtypes are not supported; add the axes to the shape"
    elif dt.kind == "U":
        why = "unicode strings are not supported; encode them to bytes ('S') first"
    elif dt.kind == "O":
        why = "object arrays are not supported"
    elif dt.kind not in _SUPPORTED_KINDS:
        why = "supported are bool, integers, floats, complex and bytes ('S')"
    elif dt.kind == "S" and dt.itemsize == 0:
        why = "zero-length bytes have no storage"
    else:
        try:
            tables.Atom.from_dtype(dt.newbyteorder("="))
        except Exception as exc:  # PyTables' reason, e.g. no float128 here
            why = f"PyTables cannot store it ({exc})"
    if why:
        raise BackendError(f"cannot store dtype {dt.str} in HDF5: {why}")
    return dt


def byteorder_of(dt: np.dtype) -> str | None:
    """The PyTables ``byteorder=`` argument that keeps ``dt``'s byte order."""
    if dt.byteorder == "|":
        return None
    if dt.byteorder == "=":
        return sys.byteorder
    return "big" if dt.byteorder == ">" else "little"


def atom_for(dt: np.dtype) -> tables.Atom:
    # Atoms are always native; the byte order on disk is a separate argument.
    return tables.Atom.from_dtype(dt.newbyteorder("=") if dt.byteorder != "|" else dt)


def node_dtype(node: tables.Leaf) -> np.dtype:
    """The dtype of ``node`` as stored, byte order included."""
    dt = np.dtype(node.atom.dtype)
    order = node.byteorder
    if order in ("big", "little") and order != sys.byteorder and dt.byteorder != "|":
        dt = dt.newbyteorder(">" if order == "big" else "<")
    return dt


def _union_batches(axis_windows: AxisWindows, axis: int) -> list[tuple[list, int, Any, Any]]:
    """One axis's window groups (the core's :meth:`~lazyarr.core.windows.AxisWindows.groups`)
    as PyTables selections, ``(ops, block length, src, dst)``: "everything
    minus the gaps"."""
    n = axis_windows.n
    if axis_windows.whole_slice:
        a, b, step, src, dst = axis_windows.windows[0]
        count = len(range(a, b, step))
        ops = [] if (count == n and step == 1) else [(a, count, step, axis, "AND")]
        return [(ops, count, src, dst)]
    out = []
    for batch in axis_windows.groups(MAX_RUNS):
        ops, prev, offset, srcs = [], 0, 0, []
        for a, b, _, src, _ in batch:
            if a > prev:
                ops.append((prev, a - prev, 1, axis, "NOTB"))
            prev = b
            srcs.append(src + offset)
            offset += b - a
        if prev < n:
            ops.append((prev, n - prev, 1, axis, "NOTB"))
        dst = slice(batch[0].dst.start, batch[-1].dst.stop)
        out.append((ops, offset, np.concatenate(srcs), dst))
    return out


def _windows(node: tables.Leaf, shape: tuple[int, ...], itemsize: int, sel: Selection,
             merge: bool) -> list[AxisWindows]:
    # The module's thresholds are read at each call (tests tune them).
    return plan_windows(sel, shape, itemsize, node.chunkshape,
                        gap_bytes=GAP_BYTES if merge else None, piece_bytes=PIECE_BYTES)


#: Reused start/stop/step rows per rank: filling them costs less than making
#: three arrays per read, which shows on single-row reads. Only used under
#: HDF5_LOCK, so one per process is enough.
_BOXES: dict[int, np.ndarray] = {}


def _box(nd: int) -> np.ndarray:
    b = _BOXES.get(nd)
    if b is None:
        b = _BOXES[nd] = np.empty((3, nd), dtype=np.int64)
    return b


def _read_slice(node: tables.Leaf, box: list[tuple[int, int, int]], out: np.ndarray) -> None:
    start, stop, step = _box(len(box))
    for i, (a, z, st) in enumerate(box):
        start[i] = a
        stop[i] = z
        step[i] = st
    node._g_read_slice(start, stop, step, out)


def _read_box(node: tables.Leaf, sel: Selection, dtype: Any) -> np.ndarray:
    """Read a selection of slices only: one hyperslab, no planning."""
    start, stop, step = _box(len(sel))
    shape = []
    for i, s in enumerate(sel):
        a, z, st = s.start, s.stop, s.step
        start[i] = a
        stop[i] = z
        step[i] = st
        shape.append(max(0, (z - a + st - 1) // st))
    out = np.empty(shape, dtype=dtype)
    if out.size:
        node._g_read_slice(start, stop, step, out)
    return out


def read_selection(node: tables.Leaf, shape: tuple[int, ...], sel: Selection) -> np.ndarray:
    """Read ``sel`` from ``node`` into a fresh array in the node's native dtype.

    Index arrays are cut into windows (runs of indices, merged across small
    gaps and within a chunk). Few windows: one hyperslab read per window,
    the path PyTables optimizes for Blosc2 (7x faster than HDF5's filter
    pipeline on whole chunks). Many windows (small, scattered, uncompressed):
    unions of :data:`MAX_RUNS` windows per read, so calls stay few.
    Caller holds :data:`HDF5_LOCK`.
    """
    native = node.atom.dtype
    if all(type(s) is slice for s in sel):
        # One box (the hot path of single rows and elements): no planning.
        return _read_box(node, sel, native)
    out_shape = selection_shape(sel)
    out = np.empty(out_shape, dtype=native)
    if out.size == 0:
        return out
    native = np.dtype(native)
    axes = _windows(node, shape, native.itemsize, sel, merge=True)
    how = window_strategy(axes, native.itemsize, max_runs=MAX_RUNS, gap_bytes=GAP_BYTES)
    if how == "one":
        _read_slice(node, [a.windows[0][:3] for a in axes], out)
        return out
    if how == "boxes":
        scratch = np.empty(0, dtype=native)
        for w in itertools.product(*[a.windows for a in axes]):
            box = [x[:3] for x in w]
            bshape = tuple(len(range(*b)) for b in box)
            size = math.prod(bshape)
            if scratch.size < size:
                scratch = np.empty(size, dtype=native)
            # One buffer for every box: each is copied out before the next.
            buf = scratch[:size].reshape(bshape)
            _read_slice(node, box, buf)
            out[orthogonal_key([x.dst for x in w], list(out_shape))] = buf[orthogonal_key([x.src for x in w], list(buf.shape))]
        return out
    batches = [_union_batches(a, i) for i, a in enumerate(axes)]
    for combo in itertools.product(*batches):
        ops = [op for b in combo for op in b[0]]
        buf = np.empty(tuple(b[1] for b in combo), dtype=native)
        node._g_read_selection(ops, buf)
        out[orthogonal_key([b[3] for b in combo], list(out_shape))] = buf[orthogonal_key([b[2] for b in combo], list(buf.shape))]
    return out


def write_selection(node: tables.Leaf, shape: tuple[int, ...], sel: Selection,
                    value: np.ndarray) -> None:
    """Write ``value`` (native dtype, C order, selection shape) at ``sel``.

    Never writes outside ``sel``: runs are not merged across gaps here, and
    are written as unions of :data:`MAX_RUNS` runs per HDF5 call.
    Caller holds :data:`HDF5_LOCK`.
    """
    if value.size == 0:
        return
    if all(isinstance(s, slice) for s in sel):
        start = np.array([s.start for s in sel], dtype=np.int64)
        step = np.array([s.step for s in sel], dtype=np.int64)
        count = np.array(selection_shape(sel), dtype=np.int64)
        node._g_write_slice(start, step, count, value)
        return
    axes = _windows(node, shape, value.itemsize, sel, merge=False)
    batches = [_union_batches(a, i) for i, a in enumerate(axes)]
    single = all(len(b) == 1 for b in batches)
    for combo in itertools.product(*batches):
        ops = [op for b in combo for op in b[0]]
        part = value if single else np.ascontiguousarray(
            value[orthogonal_key([b[3] for b in combo], list(value.shape))]
        )
        node._g_write_selection(ops, part)


class PyTablesBackend(FileNodeBackend):
    """Base of the backends that keep one PyTables leaf per array.

    Holds *what* to read (a :class:`lazyarr.store.FileRef` and a node path),
    never the node as identity: the node is looked up through the FileRef and
    cached per open file, so a fork or a reopen finds it again.
    """

    def __init__(self, ref: "FileRef", path: str) -> None:
        self._ref = ref
        self._path = path
        self._cached: tuple[Any, Any] | None = None
        self._shape_seen: tuple[Any, tuple[int, ...]] | None = None
        self._chunks: Any = False  # not looked up yet
        self._verified = True
        #: Rows past this are the remains of an interrupted write (see
        #: :meth:`_recover`); None: every row on disk counts.
        self._limit: int | None = None
        with HDF5_LOCK:
            node = self._node()
            self._check_node(node)
            self._dtype = node_dtype(node)
            # PyTables reads give native byte order; the protocol the stored one.
            self._swapped = not self._dtype.isnative

    # ----------------------------------------------------------- plumbing
    def __reduce__(self):
        # By reference, and opened on first use after unpickling.
        return (_deferred, (type(self), self._ref, self._path, self._dtype))

    def reference(self, mode: str | None = None) -> "PyTablesBackend":
        """A backend for the same node that opens nothing until first used.

        What a pickle of this backend becomes. With ``mode`` it reads through
        a new (unopened) FileRef of the same file in that mode; the node is
        checked, and its dtype compared with this one's, on first use.
        """
        ref = self._ref if mode is None else self._ref.with_mode(mode)
        return _deferred(type(self), ref, self._path, self._dtype)

    @property
    def deferred(self) -> bool:
        """True for a reference (an unpickled backend) not used yet: no file opened."""
        return not self._verified

    def _verify(self, node: tables.Leaf) -> None:
        """First use of a deferred backend: the node must still be what was pickled."""
        self._check_node(node)
        if node_dtype(node) != self._dtype:
            raise BackendError(
                f"node {self._path!r} in {self._ref.path!r} now holds {node_dtype(node)}, "
                f"not the {self._dtype} it held when this array was pickled"
            )
        self._verified = True

    def _node(self) -> tables.Leaf:
        f = self._ref.file  # ClosedError after close; reopens after a fork
        cached = self._cached
        if cached is not None and cached[0] is f and cached[1]._v_isopen:
            return cached[1]
        with HDF5_LOCK, quiet():
            try:
                node = f.get_node(self._path)
            except tables.NoSuchNodeError:
                raise BackendError(f"no node {self._path!r} in {self._ref.path!r}") from None
            if not self._verified:
                self._verify(node)
            self._recover(node)
        self._cached = (f, node)
        return node

    def _recover(self, node: tables.Leaf) -> None:
        """On each fresh lookup of the node: undo an interrupted write.

        Arrays that grow (:class:`CompressedBackend`) compare their length
        with the commit record of the last flush. Nothing to do here.
        """

    def _check_node(self, node: Any) -> None:
        if not isinstance(node, tables.Array):
            raise BackendError(
                f"node {self._path!r} in {self._ref.path!r} is a "
                f"{type(node).__name__}, not an array"
            )
        if node.atom.shape != ():
            raise BackendError(
                f"node {self._path!r} in {self._ref.path!r} has a non-scalar atom "
                f"{node.atom!r}; only scalar atoms are supported"
            )
        check_dtype(node_dtype(node))

    def _shape_of(self, node: tables.Leaf) -> tuple[int, ...]:
        # PyTables gives NumPy ints and replaces the tuple when the node
        # grows: convert once per tuple, not once per call.
        raw = node.shape
        seen = self._shape_seen
        if seen is not None and seen[0] is raw:
            return seen[1]
        shape = tuple(int(n) for n in raw)
        if self._limit is not None and shape and shape[0] > self._limit:
            shape = (self._limit,) + shape[1:]
        self._shape_seen = (raw, shape)
        return shape

    # ------------------------------------------------------------ protocol
    @property
    def shape(self) -> tuple[int, ...]:
        # No lock: the node is cached (looked up again, under the lock, only
        # after a reopen or a fork) and its shape is a plain attribute
        # PyTables replaces on append. A read then takes the lock once.
        return self._shape_of(self._node())

    @property
    def cost(self) -> CostModel:
        """The cost model's parameters for this node (its chunk shape)."""
        cost = self.__dict__.get("_cost")
        if cost is None:
            cost = self._cost = CostModel(chunks=self.chunks)
        return cost

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def readonly(self) -> bool:  # type: ignore[override]
        return self._ref.readonly

    @property
    def chunks(self) -> tuple[int, ...] | None:  # type: ignore[override]
        # A node's chunk shape never changes: look it up once.
        cs = self._chunks
        if cs is False:
            with HDF5_LOCK:
                raw = self._node().chunkshape
            cs = self._chunks = None if raw is None else tuple(int(c) for c in raw)
        return cs

    @property
    def nbytes_stored(self) -> int | None:
        with HDF5_LOCK:
            return int(self._node().size_on_disk)

    def describe(self) -> dict[str, Any]:
        with HDF5_LOCK:
            node = self._node()
            filters = node.filters
            return {
                "file": self._ref.path,
                "node": self._path,
                "mode": self._ref.mode,
                "kind": self.kind,
                "class": type(node).__name__,
                "byteorder": node.byteorder,
                "chunkshape": self.chunks,
                "complib": filters.complib if filters.complevel else None,
                "level": filters.complevel,
                "shuffle": filters.shuffle,
                "bitshuffle": filters.bitshuffle,
                "nbytes_stored": int(node.size_on_disk),
            }

    def _check_sel(self, sel: Selection, shape: tuple[int, ...]) -> None:
        if len(sel) != len(shape):
            raise ValueError(f"selection has {len(sel)} entries for a {len(shape)}-d array")

    def read(self, sel: Selection) -> np.ndarray:
        """Read an orthogonal selection; see :mod:`lazyarr.backends.base`."""
        sel = tuple(sel)
        with HDF5_LOCK:
            node = self._node()
            shape = self._shape_of(node)
            self._check_sel(sel, shape)
            with hdf5_errors(self):
                out = read_selection(node, shape, sel)
        if self._swapped:
            # PyTables reads convert to native order; give back what is stored.
            out = out.byteswap().view(self._dtype)
        return out

    def write(self, sel: Selection, value: np.ndarray) -> None:
        """Store ``value`` at an orthogonal selection."""
        if self.readonly:
            raise ReadOnlyError(
                f"{self._ref.path!r} is open read-only (mode 'r'); "
                "open it with mode 'r+' or 'a' to write"
            )
        sel = tuple(sel)
        value = np.asarray(value)
        want = selection_shape(sel)
        if value.shape != want:
            raise ValueError(f"value has shape {value.shape}, selection has shape {want}")
        with HDF5_LOCK:
            node = self._node()
            shape = self._shape_of(node)
            self._check_sel(sel, shape)
            native = np.ascontiguousarray(value, dtype=node.atom.dtype)
            if node.chunkshape is not None:  # rewritten chunks take new space
                check_space(self._ref.path, native.nbytes, f"write to {self._path!r}")
            with hdf5_errors(f"writing {self._path!r} in {self._ref.path!r}"):
                write_selection(node, shape, sel, native)

    def flush(self) -> None:
        """Write the array, and the file's metadata with it, to disk.

        The whole file, not only the node: HDF5 keeps the file's free-space
        and end-of-allocation records in the superblock, and a node flushed
        without them is what a crash turned into an unreadable file.
        """
        with HDF5_LOCK:
            self._node()
            self._ref.flush()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._ref.path!r}, {self._path!r})"


def _deferred(cls: type, ref: "FileRef", path: str, dtype: np.dtype) -> PyTablesBackend:
    """A ``cls`` backend of ``path`` in ``ref`` that touches no file until used."""
    obj = cls.__new__(cls)
    obj._ref, obj._path, obj._cached = ref, path, None
    obj._dtype = np.dtype(dtype)
    obj._swapped = not obj._dtype.isnative
    obj._shape_seen, obj._chunks = None, False
    obj._verified = False
    obj._limit = None
    return obj


def set_kind_attrs(node: Any, kind: str) -> None:
    """Mark ``node`` as written by the ``kind`` backend (files self-describe)."""
    node._v_attrs[ATTR_BACKEND] = kind
    node._v_attrs[ATTR_VERSION] = FORMAT_VERSION


def split_path(path: str) -> tuple[str, str]:
    """``"/a/b/c"`` -> ``("/a/b", "c")``."""
    parent, _, name = path.rpartition("/")
    return parent or "/", name

