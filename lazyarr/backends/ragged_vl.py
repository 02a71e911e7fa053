"""Ragged arrays in a ``VLArray`` of flattened items, with a shape column.

The ``ragged-vl`` layout is a group holding::

    /name           group, attributes LAZYARR_BACKEND="ragged-vl"
    /name/data      VLArray, row i = item i flattened (C order)
    /name/shapes    (n, item_ndim) int64 EArray, compressed

HDF5 never compresses variable-length data (PyTables accepts filters on a
``VLArray`` but they apply to the row descriptors only, and Blosc2 is refused
outright), so ``compression`` applies to the shape column alone; prefer
``ragged-offsets`` when size on disk matters. This layout exists because it is
the walkthrough's first one, which users already have on disk: a ``VLArray``
``data`` with a ``data_shape`` EArray opens through
:meth:`lazyarr.Store.ragged`.

Appends write the rows, then the shapes: an item is complete when both
exist. A row's length is known only once it is read, so the check
``len(row) == prod(shape)`` happens on read (shapes are checked on open).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import tables

from lazyarr.backends._pytables import (
    quiet,
    atom_for,
    byteorder_of,
    check_dtype,
    hdf5_errors,
    node_dtype,
)
from lazyarr.backends.base import HDF5_LOCK, register_backend
from lazyarr.backends.ragged_base import RaggedBackendBase, clear_vl_tail, meta_earray, read_vl_rows
from lazyarr.errors import BackendError

if TYPE_CHECKING:  # pragma: no cover
    from lazyarr.files import FileRef

__all__ = ["RaggedVLBackend"]


@register_backend
class RaggedVLBackend(RaggedBackendBase):
    """Items as the rows of a ``VLArray``, with a shape column.

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "vl.h5")
    >>> with la.open(path, "w") as store:
    ...     r = store.create_ragged("r", dtype="float32", item_ndim=1, backend="vl")
    ...     r.extend([[1.5, 2.5], []])
    >>> with la.open(path) as store:
    ...     b = store["r"].backend
    ...     b.kind, b.read_items(np.array([0, 1]))
    ('ragged-vl', [array([1.5, 2.5], dtype=float32), array([], dtype=float32)])
    """

    kind = "ragged-vl"
    _columns = ("data", "shapes")

    @classmethod
    def _create_columns(cls, ref: "FileRef", group: Any, dt: np.dtype, nd: int, filters: Any,
                        expected_items: int | None) -> None:
        ref.file.create_vlarray(
            group, "data", atom=atom_for(dt), byteorder=byteorder_of(dt),
            expectedrows=max(1, expected_items or 1),
        )
        meta_earray(group, "shapes", nd, filters, expected_items)

    def _check_nodes(self, nodes: dict[str, Any]) -> None:
        data = nodes["data"]
        if not isinstance(data, tables.VLArray):
            raise BackendError(f"{self._where()}: its data must be a VLArray, got {type(data).__name__}")
        if data.atom.shape != () or not hasattr(data.atom, "dtype") or data.atom.kind == "object":
            raise BackendError(f"{self._where()}: its VLArray atom {data.atom!r} is not a scalar atom")
        check_dtype(node_dtype(data))
        self._check_meta_node(nodes["shapes"], "shapes", None)

    def _rows_on_disk(self, nodes: dict[str, Any]) -> int:
        return min(int(nodes["data"].nrows), int(nodes["shapes"].nrows))

    def _validate_rows(self, nodes: dict[str, Any], a: int, b: int) -> None:
        # Row lengths are unknown until read: sizes are checked in read_items.
        shapes = np.asarray(nodes["shapes"].read(a, b), dtype=np.int64)
        sizes = self._check_shapes(shapes, a)
        self._remember("shapes", shapes)
        self._valid = b
        self._elements += int(sizes.sum())

    def read_items(self, idx: np.ndarray) -> list[np.ndarray]:
        """Items at ``idx`` (sorted, unique, committed): one ``VLArray.read``
        per run of consecutive items, one read of the shape column."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return []
        with HDF5_LOCK, quiet(), hdf5_errors(f"reading {self._where()}"):
            nodes = self._nodes()
            shapes = self._read_meta("shapes", idx)
            rows = read_vl_rows(nodes["data"], idx)
        sizes = np.prod(shapes, axis=1)
        lens = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        bad = np.flatnonzero(lens != sizes)
        if len(bad):
            i = int(bad[0])
            raise self._corrupt(int(idx[i]), f"shape {tuple(shapes[i].tolist())} holds "
                                f"{sizes[i]} elements but its row has {lens[i]}")
        return [self._native(r).reshape(s) for r, s in zip(rows, shapes.tolist())]

    def _trim(self, nodes: dict[str, Any], n: int) -> None:
        super()._trim(nodes, n)
        if nodes["data"].nrows > n:
            nodes["data"].truncate(n)
            # PyTables 3.11 keeps appending at the old row count after a
            # VLArray truncate (the new row lands past an empty one); a
            # fresh node object starts from the truncated length.
            nodes["data"].close()
            self._cached = None

    def _write(self, nodes: dict[str, Any], flats: list[np.ndarray], shapes: np.ndarray) -> None:
        data = nodes["data"]
        native = data.atom.dtype
        if not getattr(self, "_tail_cleared", False):
            clear_vl_tail(data)
            self._tail_cleared = True
        for flat in flats:
            data.append(np.ascontiguousarray(flat, dtype=native))
        nodes["shapes"].append(shapes.astype(nodes["shapes"].atom.dtype))
        self._remember("shapes", shapes)
        self._valid += len(flats)
        self._elements += int(sum(len(f) for f in flats))

    @property
    def nbytes_stored(self) -> int:
        """An estimate of the bytes in the file: the compressed shape column,
        the row descriptors, and the elements themselves (HDF5 stores
        variable-length data uncompressed in its global heap, whose size it
        does not report per dataset)."""
        with HDF5_LOCK:
            nodes = self._nodes()
            return (int(nodes["shapes"].size_on_disk) + int(nodes["data"]._get_storage_size())
                    + self.total_elements * self._dtype.itemsize)
