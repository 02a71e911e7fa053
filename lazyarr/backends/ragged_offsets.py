"""Ragged arrays stored flat: one compressed EArray of every item's elements.

The ``ragged-offsets`` layout is a group holding three chunked, compressed
EArrays::

    /name               group, attributes LAZYARR_BACKEND="ragged-offsets"
    /name/data          (total elements,)      the items' elements, flattened (C order)
    /name/bounds        (n, 2) int64           start and stop of item i in ``data``
    /name/shapes        (n, item_ndim) int64   the shape of item i

It is the walkthrough's "EArray with side columns" layout, but read in bulk:
a run of consecutive items is one read of ``bounds``, one of ``shapes`` and
one contiguous read of ``data``, split in memory. Unlike a ``VLArray``, the
elements are compressed (HDF5 never filters variable-length data).

Appends write ``data``, then ``shapes``, then ``bounds``: the bounds row is
the commit record. On open, rows past the last complete bounds row (the
remains of an interrupted write) are ignored, and the next append trims them.

Files laid out as in the walkthrough (``data``, ``data_start_and_stop``,
``data_shape`` at the root, int32 columns) open with the same class through
:meth:`lazyarr.Store.ragged`.

What both ragged layouts share is :class:`lazyarr.backends.ragged_base.RaggedBackendBase`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import tables

from lazyarr.backends._flat_data import FlatData
from lazyarr.backends._pytables import (
    GAP_BYTES,
    atom_for,
    byteorder_of,
    check_dtype,
    hdf5_errors,
    node_dtype,
)
from lazyarr.backends.base import HDF5_LOCK, register_backend
from lazyarr.backends.compressed import CHUNK_BYTES
from lazyarr.backends.ragged_base import Items, RaggedBackendBase, as_int64, item_views, meta_earray
from lazyarr.core.selection import merge_groups
from lazyarr.errors import BackendError

if TYPE_CHECKING:  # pragma: no cover
    from lazyarr.files import FileRef

__all__ = ["RaggedOffsetsBackend"]


@register_backend
class RaggedOffsetsBackend(RaggedBackendBase):
    """Items flat in one compressed EArray, with start/stop and shape columns.

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "ro.h5")
    >>> with la.open(path, "w") as store:
    ...     r = store.create_ragged("r", dtype="int16", item_ndim=2)
    ...     r.extend([np.ones((2, 3), dtype=np.int16), np.zeros((0, 5), dtype=np.int8)])
    >>> with la.open(path) as store:
    ...     b = store["r"].backend
    ...     b.kind, b.committed(), b.read_items(np.array([0, 1]))
    ('ragged-offsets', 2, [array([[1, 1, 1],
           [1, 1, 1]], dtype=int16), array([], shape=(0, 5), dtype=int16)])
    """

    kind = "ragged-offsets"
    _columns = ("data", "bounds", "shapes")
    #: Data appended since the last flush: raw Blosc2 chunk reads (which come
    #: from the file, not HDF5's caches) need a flush first.

    @property
    def _flat(self) -> FlatData:
        """How the data column is read, and its cached windows (made on first use)."""
        flat = self.__dict__.get("_flat_state")
        if flat is None:
            flat = self.__dict__["_flat_state"] = FlatData(self._dtype, self._native,
                                                           self._locked_flat_read)
        return flat

    @classmethod
    def _create_columns(cls, ref: "FileRef", group: Any, dt: np.dtype, nd: int, filters: Any,
                        expected_items: int | None) -> None:
        ref.file.create_earray(
            group, "data", atom=atom_for(dt), shape=(0,), filters=filters,
            chunkshape=(max(1, CHUNK_BYTES // dt.itemsize),), byteorder=byteorder_of(dt),
        )
        meta_earray(group, "bounds", 2, filters, expected_items)
        meta_earray(group, "shapes", nd, filters, expected_items)

    def _check_nodes(self, nodes: dict[str, Any]) -> None:
        data = nodes["data"]
        if not isinstance(data, tables.Array) or isinstance(data, tables.VLArray) or data.ndim != 1:
            raise BackendError(f"{self._where()}: its data must be a 1-d array, got "
                               f"{type(data).__name__} of shape {getattr(data, 'shape', None)}")
        if data.atom.shape != ():
            raise BackendError(f"{self._where()}: its data has a non-scalar atom {data.atom!r}")
        check_dtype(node_dtype(data))
        self._check_meta_node(nodes["bounds"], "bounds", 2)
        self._check_meta_node(nodes["shapes"], "shapes", None)

    def _rows_on_disk(self, nodes: dict[str, Any]) -> int:
        # Ours are written data, shapes, bounds; the walkthrough writes bounds
        # before shapes. Either way an item is complete when both rows exist.
        return min(int(nodes["bounds"].nrows), int(nodes["shapes"].nrows))

    def _validate_rows(self, nodes: dict[str, Any], a: int, b: int) -> None:
        bounds = as_int64(nodes["bounds"].read(a, b))
        shapes = as_int64(nodes["shapes"].read(a, b))
        sizes = self._check_shapes(shapes, a)
        starts, stops = bounds[:, 0], bounds[:, 1]
        prev = np.concatenate(([self._last_stop], stops[:-1]))
        flat_len = int(nodes["data"].nrows)
        checks = [
            (starts > stops, lambda i: f"start {starts[i]} > stop {stops[i]}"),
            (starts < prev, lambda i: f"start {starts[i]} is before the previous item's stop {prev[i]}"),
            (stops > flat_len, lambda i: f"stop {stops[i]} is past the end of the data ({flat_len} elements)"),
            (sizes != stops - starts, lambda i: (
                f"shape {tuple(shapes[i].tolist())} holds {sizes[i]} elements but "
                f"start/stop {starts[i]}:{stops[i]} span {stops[i] - starts[i]}")),
        ]
        first = None
        for bad, why in checks:
            hits = np.flatnonzero(bad)
            if len(hits) and (first is None or hits[0] < first[0]):
                first = (int(hits[0]), why)
        if first is not None:
            raise self._corrupt(a + first[0], first[1](first[0]))
        self._remember("bounds", bounds)
        self._remember("shapes", shapes)
        self._valid = b
        self._last_stop = int(stops[-1])
        self._elements += int((stops - starts).sum())

    def read_items(self, idx: np.ndarray) -> list[np.ndarray]:
        """Items at ``idx`` (sorted, unique, committed), each with its shape.

        One read of each metadata column for the selection, then one read of
        ``data`` per window, where a window is a run of items merged across
        gaps smaller than :data:`~lazyarr.backends._pytables.GAP_BYTES`:
        a slice of items is always one contiguous data read. A single item
        is sliced from a cached window of the decoded data (see
        :mod:`lazyarr.backends._flat_data`): once its window is in memory, no
        read at all.
        """
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return []
        itemsize = self._dtype.itemsize
        gap = max(1, GAP_BYTES // itemsize)
        with HDF5_LOCK, hdf5_errors(f"reading {self._where()}"):
            nodes = self._nodes()
            if len(idx) == 1:
                item = self._one_item(nodes, int(idx[0]))
                if item is not None:
                    return [item]
            bounds = self._read_meta("bounds", idx)
            shapes = self._read_meta("shapes", idx)
            starts, stops = bounds[:, 0], bounds[:, 1]
            # Windows of the flat data: start a new one where the gap since
            # the previous item's stop is too large to read through.
            firsts, lasts = merge_groups(starts, stops, gap)
            windows = [(f, l, int(starts[f]), int(stops[l]))
                       for f, l in zip(firsts.tolist(), lasts.tolist())]
            data = nodes["data"]
            flat = self._flat
            geometry = flat.raw(data)
            if geometry is None:
                bufs = [(f, l, lo, flat.pytables_read(data, lo, hi)) for f, l, lo, hi in windows]
        if geometry is not None:
            # Only the Blosc2 blocks the items lie in are decoded (and kept
            # in the node's block LRU for the next small read), outside the
            # lock like compressed arrays' reads.
            bufs = [(f, l, lo, flat.decode(data, geometry, lo, hi)) for f, l, lo, hi in windows]
        # Split outside the lock: no HDF5 here.
        out = Items()
        out.nbytes = int((stops - starts).sum()) * itemsize
        for f, l, lo, buf in bufs:
            out.extend(item_views(buf, starts[f : l + 1] - lo, shapes[f : l + 1]))
        return out

    def _one_item(self, nodes: dict[str, Any], i: int) -> np.ndarray | None:
        """Item ``i`` from a cached window of the flat data (None: it spans
        two windows; the general path reads it). Caller holds the lock."""
        meta = self._meta
        if meta is not None and "bounds" in meta and "shapes" in meta:
            lo, hi = meta["bounds"].buf[i].tolist()
            shape = meta["shapes"].buf[i].tolist()
        else:
            one = np.array([i], dtype=np.int64)
            lo, hi = self._read_meta("bounds", one)[0].tolist()
            shape = self._read_meta("shapes", one)[0].tolist()
        return self._flat.item(nodes["data"], lo, hi, shape, self._last_stop)

    def _locked_flat_read(self, sel: tuple) -> np.ndarray:
        # The fallback of _blosc2.read, for chunks it cannot decode.
        (s,) = sel
        with HDF5_LOCK, hdf5_errors(f"reading {self._where()}"):
            return self._flat.pytables_read(self._nodes()["data"], s.start, s.stop)

    def _trim(self, nodes: dict[str, Any], n: int) -> None:
        super()._trim(nodes, n)
        if nodes["data"].nrows > self._last_stop:
            nodes["data"].truncate(self._last_stop)
        self._flat.written()

    def _write(self, nodes: dict[str, Any], flats: list[np.ndarray], shapes: np.ndarray) -> None:
        data = nodes["data"]
        sizes = np.array([len(f) for f in flats], dtype=np.int64)
        base = int(data.nrows)
        stops = base + np.cumsum(sizes)
        bounds = np.stack([stops - sizes, stops], axis=1)
        flat = np.concatenate(flats) if len(flats) > 1 else flats[0]
        if flat.size:
            data.append(np.ascontiguousarray(flat, dtype=data.atom.dtype))
            self._flat.written()  # the last window may have grown
        nodes["shapes"].append(shapes.astype(nodes["shapes"].atom.dtype))
        nodes["bounds"].append(bounds.astype(nodes["bounds"].atom.dtype))
        self._remember("bounds", bounds)
        self._remember("shapes", shapes)
        self._valid += len(flats)
        self._last_stop = int(stops[-1])
        self._elements += int(sizes.sum())

    @property
    def nbytes_stored(self) -> int:
        """Bytes the three columns take in the file (compressed)."""
        with HDF5_LOCK:
            return sum(int(n.size_on_disk) for n in self._nodes().values())
