"""What both ragged layouts share: :class:`RaggedBackendBase` (node lookup,
incremental validation of the metadata, reading shapes, writing items), and
the helpers that create their groups and metadata columns.

The layouts themselves are :mod:`lazyarr.backends.ragged_offsets` (flat data
with start/stop and shape columns) and :mod:`lazyarr.backends.ragged_vl`
(a VLArray with a shape column).
"""

from __future__ import annotations

from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import tables

from lazyarr.backends._hdf5 import check_space
from lazyarr.backends._pytables import (
    quiet,
    check_dtype,
    hdf5_errors,
    node_dtype,
    read_selection,
    set_kind_attrs,
)
from lazyarr.backends.base import HDF5_LOCK, FileNodeBackend
from lazyarr.backends.compressed import make_filters
from lazyarr.core.selection import runs
from lazyarr.errors import BackendError, CorruptStoreError, ReadOnlyError

try:  # The C loop of item_views, built at install when a compiler is there.
    from lazyarr._speedups import item_views as _item_views_c
except ImportError:  # pragma: no cover - depends on the install
    _item_views_c = None

if TYPE_CHECKING:  # pragma: no cover
    from lazyarr.files import FileRef

__all__ = ["RaggedBackendBase", "as_int64", "check_create_args", "make_group", "meta_earray"]

#: Metadata rows checked per HDF5 read when validating on open: bounded
#: memory for any number of items, few calls for the usual ones.
VALIDATE_ROWS = 2**16
#: A selection of items whose span is at most this many times its length
#: (or at most :data:`SPAN_ROWS` rows) reads its metadata as one span.
SPAN_FACTOR = 4
SPAN_ROWS = 4096
#: Rows per chunk of a metadata column (64 KiB of start/stop rows).
META_CHUNK_ROWS = 4096
#: Validation reads every start/stop and shape row on open anyway; up to
#: this many bytes of them are kept in memory, so that reading items costs
#: one data read per run (Blosc2 chunks bypass HDF5's chunk cache, so the
#: same small metadata reads would otherwise be decompressed again each time).
META_CACHE_BYTES = 16 * 2**20


class _Rows:
    """A growable ``(n, ncols)`` int64 table (amortized O(1) appends)."""

    __slots__ = ("buf", "n")

    def __init__(self, ncols: int) -> None:
        self.buf = np.empty((64, ncols), dtype=np.int64)
        self.n = 0

    def append(self, rows: np.ndarray) -> None:
        need = self.n + len(rows)
        if need > len(self.buf):
            new = np.empty((max(need, 2 * len(self.buf)), self.buf.shape[1]), dtype=np.int64)
            new[: self.n] = self.buf[: self.n]
            self.buf = new
        self.buf[self.n : need] = rows
        self.n = need

    @property
    def nbytes(self) -> int:
        return self.buf.nbytes


def as_int64(a: np.ndarray) -> np.ndarray:
    # The walkthrough's columns are int32 (and may be big-endian elsewhere).
    return np.asarray(a, dtype=np.int64)


class RaggedBackendBase(FileNodeBackend):
    """What both ragged layouts share. Not a :class:`~lazyarr.backends.Backend`:
    it serves whole items to :class:`lazyarr.RaggedArray`, not boxes.

    Subclasses set ``kind`` and implement ``_check_nodes``, ``_rows_on_disk``,
    ``_validate_rows``, ``read_items`` and ``_write``.

    Parameters
    ----------
    ref : FileRef
    path : str
        The group written by :meth:`create_ragged`, or (with ``data=``) the
        data node of a layout written by others.
    data, shapes, bounds : str, optional
        Absolute node paths of the columns of a layout written by others.
    """

    ragged = True
    #: Names of the columns inside a group written by lazyarr.
    _columns: tuple[str, ...] = ()

    def __init__(self, ref: "FileRef", path: str, *, data: str | None = None,
                 shapes: str | None = None, bounds: str | None = None) -> None:
        self._ref = ref
        self._path = path
        if data is None:
            self._paths = {c: f"{path}/{c}" for c in self._columns}
        else:
            self._paths = {"data": data, "shapes": shapes, "bounds": bounds}
            self._paths = {k: v for k, v in self._paths.items() if v is not None}
        self._external = data is not None
        self._cached: tuple[Any, dict[str, Any]] | None = None
        self._verified = True
        self._reset()
        with HDF5_LOCK, quiet():
            nodes = self._nodes()
            self._check_nodes(nodes)
            self._dtype = node_dtype(nodes["data"])
            self._item_ndim = self._ndim_of(nodes)
            self.committed()  # validate now: a corrupt store fails on open

    def _reset(self) -> None:
        #: Items checked so far, the stop of the last one and their element count.
        self._valid = 0
        self._last_stop = 0
        self._elements = 0
        #: Rows 0.._valid of the metadata columns, while they fit
        #: :data:`META_CACHE_BYTES` (None once they do not).
        self._meta: dict[str, _Rows] | None = {}
        # What ragged-offsets keeps of its flat data (cached windows) is stale.
        flat = self.__dict__.get("_flat_state")
        if flat is not None:
            flat.written()

    def _remember(self, key: str, rows: np.ndarray) -> None:
        if self._meta is None:
            return
        if key not in self._meta:
            self._meta[key] = _Rows(rows.shape[1])
        self._meta[key].append(rows)
        if sum(r.nbytes for r in self._meta.values()) > META_CACHE_BYTES:
            self._meta = None

    def __reduce__(self):
        # By reference, and opened on first use after unpickling.
        return (_deferred_ragged, self._reference_args(self._ref))

    def _reference_args(self, ref: "FileRef") -> tuple:
        return (type(self), ref, self._path, self._paths, self._dtype, self._item_ndim)

    def reference(self, mode: str | None = None) -> "RaggedBackendBase":
        """A backend for the same nodes that opens nothing until first used.

        What a pickle of this backend becomes; with ``mode`` it reads through
        a new (unopened) FileRef of the same file in that mode. The nodes
        are checked, and the items validated, on first use.
        """
        ref = self._ref if mode is None else self._ref.with_mode(mode)
        return _deferred_ragged(*self._reference_args(ref))

    @property
    def deferred(self) -> bool:
        """True for a reference (an unpickled backend) not used yet: no file opened."""
        return not self._verified

    def _verify(self, nodes: dict[str, Any]) -> None:
        """First use of a deferred backend: the nodes must still be what was pickled."""
        self._check_nodes(nodes)
        dt, nd = node_dtype(nodes["data"]), self._ndim_of(nodes)
        if (dt, nd) != (self._dtype, self._item_ndim):
            raise BackendError(
                f"{self._where()} now holds {nd}-d items of {dt}, not the "
                f"{self._item_ndim}-d items of {self._dtype} it held when it was pickled"
            )
        self._verified = True

    def _ndim_of(self, nodes: dict[str, Any]) -> int:
        """Axes of every item: the width of the shape column."""
        return int(nodes["shapes"].shape[1])

    # ----------------------------------------------------------- plumbing
    def _nodes(self) -> dict[str, Any]:
        f = self._ref.file  # ClosedError after close; reopens after a fork
        cached = self._cached
        if cached is not None and cached[0] is f and all(n._v_isopen for n in cached[1].values()):
            return cached[1]
        with HDF5_LOCK, quiet():
            try:
                nodes = {k: f.get_node(p) for k, p in self._paths.items()}
            except tables.NoSuchNodeError as exc:
                raise BackendError(
                    f"ragged array {self._path!r} in {self._ref.path!r} is missing a node: {exc}"
                ) from None
            if not self._verified:
                self._verify(nodes)
        self._cached = (f, nodes)
        return nodes

    def _group(self) -> Any:
        return self._ref.file.get_node(self._path)

    def _where(self) -> str:
        return f"ragged array {self._path!r} in {self._ref.path!r}"

    def _check_meta_node(self, node: Any, what: str, ncols: int | None) -> None:
        if not isinstance(node, tables.Array) or node.ndim != 2:
            raise BackendError(f"{self._where()}: its {what} column must be a 2-d array, "
                               f"got {type(node).__name__} of shape {getattr(node, 'shape', None)}")
        if node.atom.shape != () or np.dtype(node.atom.dtype).kind not in "iu":
            raise BackendError(f"{self._where()}: its {what} column must hold integers")
        if ncols is not None and node.shape[1] != ncols:
            raise BackendError(f"{self._where()}: its {what} column must have {ncols} columns, "
                               f"got shape {node.shape}")
        if what == "shapes" and node.shape[1] < 1:
            raise BackendError(f"{self._where()}: items must have at least one axis")

    @classmethod
    def create_ragged(
        cls,
        ref: "FileRef",
        path: str,
        *,
        dtype: Any,
        item_ndim: int,
        compression: str | None = "blosc2:zstd",
        level: int = 5,
        shuffle: bool = True,
        expected_items: int | None = None,
    ) -> "RaggedBackendBase":
        """Create the group at ``path`` (its parent exists) and return its backend.

        Each layout adds its columns (:meth:`_create_columns`); for
        ``ragged-vl`` ``compression`` applies to the shape column only, as
        HDF5 does not compress variable-length data.
        """
        dt, nd = check_create_args(dtype, item_ndim, expected_items)
        filters = make_filters(compression, level, shuffle)
        with HDF5_LOCK, quiet():
            group = make_group(ref, path, cls.kind)
            group._v_attrs["item_ndim"] = nd
            cls._create_columns(ref, group, dt, nd, filters, expected_items)
            ref.will_commit(path, lambda: 0)
        return cls(ref, path)

    @classmethod
    def _create_columns(cls, ref: "FileRef", group: Any, dt: np.dtype, nd: int, filters: Any,
                        expected_items: int | None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_nodes(self, nodes: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _corrupt(self, item: int, why: str) -> CorruptStoreError:
        return CorruptStoreError(f"{self._where()} is corrupt at item {item}: {why}")

    # ------------------------------------------------------------ metadata
    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def item_ndim(self) -> int:
        return self._item_ndim

    @property
    def readonly(self) -> bool:  # type: ignore[override]
        return self._ref.readonly

    @property
    def extendable(self) -> bool:  # type: ignore[override]
        with HDF5_LOCK:
            nodes = self._nodes()
            return all(isinstance(n, (tables.EArray, tables.VLArray)) for n in nodes.values())

    def _rows_on_disk(self, nodes: dict[str, Any]) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def committed(self) -> int:
        """Number of complete items on disk, validating any not seen before.

        Rows past the last complete item (an interrupted write) do not count.
        Raises :class:`lazyarr.CorruptStoreError` at the first bad item.
        """
        with HDF5_LOCK:
            nodes = self._nodes()
            n = self._rows_on_disk(nodes)
            if not self._external:
                # The commit record of the last flush: items past it are the
                # remains of an interrupted write, ignored here and trimmed
                # by the next append (see lazyarr.files.commit_flush).
                limit = self._ref.row_limit(self._path, self._group)
                if limit is not None:
                    n = min(n, limit)
            if n < self._valid:  # truncated behind our back: check from scratch
                self._reset()
            if n > self._valid:
                self._check_allocated(nodes, n)
                with quiet(), hdf5_errors(f"validating {self._where()}"):
                    for a in range(self._valid, n, VALIDATE_ROWS):
                        self._validate_rows(nodes, a, min(n, a + VALIDATE_ROWS))
            return n

    def _validate_rows(self, nodes: dict[str, Any], a: int, b: int) -> None:  # pragma: no cover
        raise NotImplementedError

    def _check_allocated(self, nodes: dict[str, Any], n: int) -> None:
        """CorruptStoreError when a column claims ``n`` rows it has no storage for.

        Every row of a metadata column was written by an append, so its
        chunks exist: a column grown without writing (``truncate(10**12)``
        on an empty one) would otherwise be validated as 10**12 rows of
        fill values. Two O(1) checks: the chunk holding row ``n - 1``
        exists, and the column's bytes on disk could hold its chunks.
        """
        for key, node in nodes.items():
            if key == "data" and "bounds" in nodes:
                continue  # flat data: its length is checked against the stops
            rows = min(n, int(node.nrows))
            if rows == 0:
                continue
            chunks = node.chunkshape
            with hdf5_errors(f"validating {self._where()}"):
                stored = int(node._get_storage_size())
                if chunks is None:
                    missing = stored == 0  # contiguous storage exists whole or not at all
                else:
                    nchunks = -(-rows // int(chunks[0]))
                    last = ((rows - 1) // int(chunks[0]) * int(chunks[0]),) + (0,) * (node.ndim - 1)
                    missing = stored < nchunks or node.chunk_info(last).offset is None
            if missing:
                raise self._corrupt(rows - 1, f"its {key} column claims {int(node.nrows)} "
                                    f"rows but only {stored} bytes of them are stored")

    def _check_shapes(self, shapes: np.ndarray, a: int) -> np.ndarray:
        """Element count of each shape row; CorruptStoreError on a negative entry."""
        neg = np.flatnonzero((shapes < 0).any(axis=1))
        if len(neg):
            i = int(neg[0])
            raise self._corrupt(a + i, f"negative shape {tuple(shapes[i].tolist())}")
        # In floats first: an int64 product wraps around ((2**32, 2**32) -> 0).
        big = np.flatnonzero(np.prod(shapes.astype(np.float64), axis=1) >= 2.0**62)
        if len(big):
            i = int(big[0])
            raise self._corrupt(a + i, f"shape {tuple(shapes[i].tolist())} holds more "
                                "elements than any array can")
        return np.prod(shapes, axis=1, dtype=np.int64)

    @property
    def total_elements(self) -> int:
        """Elements in the committed items."""
        self.committed()
        return self._elements

    def _read_meta(self, key: str, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` (sorted, unique, validated) of a metadata column, as int64.

        From memory when cached; else one read of the span when it is not
        much longer than the selection, else windows around the runs of
        ``idx``. Caller holds the lock. May return a view of the cache.
        """
        lo, hi = int(idx[0]), int(idx[-1]) + 1
        if self._meta is not None and key in self._meta:
            rows = self._meta[key].buf
            return rows[lo:hi] if hi - lo == len(idx) else rows[idx]
        node = self._nodes()[key]
        ncols = int(node.shape[1])
        if hi - lo <= max(SPAN_ROWS, SPAN_FACTOR * len(idx)):
            out = read_selection(node, tuple(node.shape), (slice(lo, hi, 1), slice(0, ncols, 1)))
            if hi - lo != len(idx):
                out = out[idx - lo]
        else:
            out = read_selection(node, tuple(node.shape), (idx, slice(0, ncols, 1)))
        return as_int64(out)

    def read_shapes(self, start: int, stop: int) -> np.ndarray:
        """Shapes of items ``start:stop`` (committed ones) as ``(k, item_ndim)`` int64."""
        if stop <= start:
            return np.empty((0, self._item_ndim), dtype=np.int64)
        with HDF5_LOCK, hdf5_errors(f"reading {self._where()}"):
            return self._read_meta("shapes", np.arange(start, stop, dtype=np.int64)).copy()

    def _native(self, a: np.ndarray) -> np.ndarray:
        # PyTables reads convert to native order; give back what is stored.
        return a if a.dtype == self._dtype else a.byteswap().view(self._dtype)

    # --------------------------------------------------------------- writes
    def write_items(self, flats: list[np.ndarray], shapes: np.ndarray) -> None:
        """Append items given flattened (stored dtype) with their shapes.

        Writes the data first and the commit record last, so that an
        interruption leaves the items before it intact.
        """
        if self.readonly:
            raise ReadOnlyError(
                f"{self._ref.path!r} is open read-only (mode 'r'); "
                "open it with mode 'r+' or 'a' to append"
            )
        if not self.extendable:
            raise TypeError(f"{self._where()} is not extendable (its columns are not EArrays)")
        if not flats:
            return
        shapes = np.asarray(shapes, dtype=np.int64).reshape(len(flats), self._item_ndim)
        check_space(self._ref.path, sum(f.nbytes for f in flats) + shapes.nbytes * 2,
                    f"append {len(flats)} items to {self._where()}")
        with HDF5_LOCK, quiet(), hdf5_errors(f"appending to {self._where()}"):
            nodes = self._nodes()
            n = self.committed()
            self._check_fits(nodes, shapes, n)
            self._trim(nodes, n)
            self._write(self._nodes(), flats, shapes)
            if not self._external:  # trimmed: every row on disk counts now
                self._ref.will_commit(self._path, lambda: self._valid)

    def _check_fits(self, nodes: dict[str, Any], shapes: np.ndarray, n: int) -> None:
        """Refuse (before writing) metadata a narrow column (int32) cannot hold."""
        total = self._last_stop + int(np.prod(shapes, axis=1).sum()) if "bounds" in nodes else 0
        for key, biggest in (("shapes", int(shapes.max(initial=0))), ("bounds", total)):
            if key in nodes:
                info = np.iinfo(nodes[key].atom.dtype)
                if biggest > info.max:
                    raise ValueError(
                        f"{self._where()}: {biggest} does not fit its {nodes[key].atom.dtype} "
                        f"{key} column"
                    )

    def _trim(self, nodes: dict[str, Any], n: int) -> None:
        """Drop the rows an interrupted write left past the last complete item."""
        for node in nodes.values():
            if node.nrows > n and node is not nodes["data"]:
                node.truncate(n)

    def _write(self, nodes: dict[str, Any], flats: list[np.ndarray],
               shapes: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def flush(self) -> None:
        with HDF5_LOCK, hdf5_errors(f"flushing {self._where()}"):
            # The whole file: see PyTablesBackend.flush.
            self._nodes()
            self._ref.flush()

    # ------------------------------------------------------------- describe
    def describe(self) -> dict[str, Any]:
        with HDF5_LOCK:
            nodes = self._nodes()
            return {
                "file": self._ref.path,
                "node": self._path,
                "mode": self._ref.mode,
                "kind": self.kind,
                "columns": {k: f"{type(v).__name__}{tuple(v.shape)}" for k, v in nodes.items()},
                "complib": nodes["shapes"].filters.complib if nodes["shapes"].filters.complevel else None,
                "level": nodes["shapes"].filters.complevel,
            }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._ref.path!r}, {self._path!r})"


class Items(list):
    """What a ragged backend's ``read_items`` may return: the list of items,
    and ``nbytes``, the sum of their ``nbytes`` (which the cache counts;
    summing it item by item was a tenth of a 1,000-item slice).

    Examples
    --------
    >>> out = Items([np.zeros(3), np.zeros((2, 2))]); out.nbytes = 56
    >>> len(out), out.nbytes
    (2, 56)
    """

    __slots__ = ("nbytes",)


#: Fewest items per distinct shape at which :func:`item_views` makes one
#: stack view per shape (about 0.5 us each) and indexes it per item (about
#: 0.1 us) rather than one ``np.ndarray`` per item (about 0.16 us).
STACK_ITEMS = 8


def item_views(buf: np.ndarray, starts: np.ndarray, shapes: np.ndarray) -> list[np.ndarray]:
    """Views of items over the 1-d C-contiguous ``buf``: item ``j`` is the
    C-contiguous view of shape ``shapes[j]`` starting at element
    ``starts[j]`` (``shapes``: int64, one row per item, one column per item
    dimension; every item lies inside ``buf``).

    The loop is C (``lazyarr._speedups``, about 50 ns an item: 54 us for a
    1,000-item slice of the walkthrough's images) when the install built
    it, else :func:`_item_views_py` (about 180 us there). The C loop checks
    that every item fits in ``buf`` (a ValueError, never a read outside it).

    Examples
    --------
    >>> buf = np.arange(10)
    >>> [a.tolist() for a in item_views(buf, np.array([0, 4]), np.array([[2, 2], [3, 2]]))]
    [[[0, 1], [2, 3]], [[4, 5], [6, 7], [8, 9]]]
    >>> [a.tolist() for a in item_views(buf, np.array([1, 5]), np.array([[3], [0]]))]
    [[1, 2, 3], []]
    """
    if _item_views_c is not None:
        return _item_views_c(buf, starts, shapes)
    return _item_views_py(buf, starts, shapes)


def _item_views_py(buf: np.ndarray, starts: np.ndarray, shapes: np.ndarray) -> list[np.ndarray]:
    """:func:`item_views` in Python: the install had no C compiler.

    Each item is made the cheapest way NumPy has from Python: for every
    distinct shape ``s`` one *stack* view of shape ``(len(buf) - size(s) +
    1, *s)`` whose first stride is one element, so that the item starting
    at element ``a`` is the stack's row ``a``, an integer index. On a
    1,000-item slice of the walkthrough's images (64 shapes) that is 163 us
    against 213 us for one ``np.ndarray`` per item. Shapes shared by fewer
    than :data:`STACK_ITEMS` items on average get one ``np.ndarray`` each.

    Examples
    --------
    >>> buf = np.arange(10)
    >>> [a.tolist() for a in _item_views_py(buf, np.array([0, 4]), np.array([[2, 2], [3, 2]]))]
    [[[0, 1], [2, 3]], [[4, 5], [6, 7], [8, 9]]]
    """
    n = len(starts)
    if n == 0:
        return []
    if shapes.shape[1] == 1:  # 1-d items: a basic slice each is cheaper still
        return [buf[a : a + k] for a, k in zip(starts.tolist(), shapes[:, 0].tolist())]
    if shapes.shape[1] == 2 and n >= STACK_ITEMS and int(shapes.max()) < 2**31:
        # One int per shape for the common 2-d item: cheaper to build, hash
        # and compare than tuples (no overflow: both < 2**31).
        m = int(shapes[:, 1].max()) + 1
        keys: list = (shapes[:, 0] * m + shapes[:, 1]).tolist()
        distinct = {k: divmod(k, m) for k in set(keys)}
    else:
        keys = list(zip(*(shapes[:, d].tolist() for d in range(shapes.shape[1]))))
        distinct = {k: k for k in set(keys)}
    if len(distinct) * STACK_ITEMS > n:
        shp = keys if isinstance(keys[0], tuple) else [distinct[k] for k in keys]
        return list(map(np.ndarray, shp, repeat(buf.dtype), repeat(memoryview(buf)),
                        (starts * buf.itemsize).tolist()))
    itemsize, dt, mv, nb = buf.itemsize, buf.dtype, memoryview(buf), len(buf)
    stacks = {}
    for k, shape in distinct.items():
        # C-order strides of the item, after the stack's one-element stride.
        strides = (itemsize,)
        for d in shape[:0:-1]:
            strides = (strides[0] * d, *strides)
        stacks[k] = np.ndarray((nb - strides[0] * shape[0] // itemsize + 1, *shape), dt, mv, 0,
                               (itemsize, *strides))
    return [stacks[k][a] for k, a in zip(keys, starts.tolist())]


def _deferred_ragged(cls: type, ref: "FileRef", path: str, paths: dict[str, str],
                     dtype: np.dtype, item_ndim: int) -> RaggedBackendBase:
    """A ``cls`` backend of the nodes ``paths`` that touches no file until used."""
    obj = cls.__new__(cls)
    obj._ref, obj._path, obj._paths = ref, path, dict(paths)
    obj._external = set(paths.values()) != {f"{path}/{c}" for c in cls._columns}
    obj._cached = None
    obj._verified = False
    obj._reset()
    obj._dtype, obj._item_ndim = np.dtype(dtype), int(item_ndim)
    return obj


def make_group(ref: "FileRef", path: str, kind: str) -> Any:
    """Create the group of a ragged array and mark it (caller holds the lock)."""
    parent, _, name = path.rpartition("/")
    group = ref.file.create_group(parent or "/", name)
    set_kind_attrs(group, kind)
    return group


def meta_earray(group: Any, name: str, ncols: int, filters: Any,
                expected_items: int | None) -> Any:
    """An ``(0, ncols)`` int64 EArray: a metadata column.

    Its chunks are small (:data:`META_CHUNK_ROWS`): a read of a few
    thousand items must not decompress a megabyte of start/stop rows.
    """
    chunks = (max(1, min(META_CHUNK_ROWS, expected_items or META_CHUNK_ROWS)), ncols)
    return group._v_file.create_earray(
        group, name, atom=tables.Int64Atom(), shape=(0, ncols), filters=filters,
        chunkshape=chunks, expectedrows=max(1, expected_items or 1),
    )


def check_create_args(dtype: Any, item_ndim: Any, expected_items: Any) -> tuple[np.dtype, int]:
    dt = check_dtype(dtype)
    if isinstance(item_ndim, bool) or not isinstance(item_ndim, (int, np.integer)) or item_ndim < 1:
        raise ValueError(f"item_ndim must be an int >= 1, got {item_ndim!r}")
    if expected_items is not None and (
        isinstance(expected_items, bool) or not isinstance(expected_items, (int, np.integer))
        or expected_items < 0
    ):
        raise ValueError(f"expected_items must be a non-negative int, got {expected_items!r}")
    return dt, int(item_ndim)


def read_vl_rows(data: Any, idx: np.ndarray) -> list[np.ndarray]:
    """Rows ``idx`` (sorted, unique) of the VLArray ``data``: one ``read`` per
    run of consecutive rows. Caller holds the lock."""
    starts, stops = runs(idx)
    rows: list[np.ndarray] = []
    for a, b in zip(starts.tolist(), stops.tolist()):
        rows.extend(data.read(a, b))
    return rows


def clear_vl_tail(node: Any) -> None:
    """Zero the row descriptors past ``node``'s last row in its last chunk.

    A VLArray's rows are (length, heap address, index) descriptors in an
    unfiltered chunk that HDF5 rewrites in place. A process killed during a
    flush can leave there, past the rows the file records, descriptors of
    rows whose heap objects never reached the file; HDF5's next append into
    that chunk frees what the old descriptors point to and fails ("bad heap
    index": issue 14's ragged-vl trials). The descriptors are zeroed with a
    raw chunk write (no type conversion, nothing freed) before this process
    first appends. Filtered descriptor chunks are left alone (lazyarr does
    not write them). Caller holds the lock.
    """
    cs = node.chunkshape
    n = int(node.nrows)
    if not cs or n % cs[0] == 0 or node.filters.complevel or node.filters.fletcher32:
        return
    start = n - n % cs[0]
    try:
        raw = bytearray(node.read_chunk((start,)))
    except (tables.HDF5ExtError, ValueError, OSError):  # not allocated: nothing stale
        return
    cut = (n - start) * (len(raw) // cs[0])
    if any(raw[cut:]):
        raw[cut:] = bytes(len(raw) - cut)
        node.write_chunk((start,), bytes(raw))
