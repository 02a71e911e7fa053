"""A PyTables ``Table`` (or an h5py 1-d compound dataset) as a structured array.

PyTables opens every 1-d HDF5 compound dataset as a ``Table``: its rows are
the records of a NumPy structured dtype (nested columns are nested fields).
This backend serves it as a 1-d :class:`lazyarr.LazyArray` of that dtype:
rows by any NumPy key, ``x["field"]`` one column (read as one column, not
the whole table), writes with ``x[key] = records``, appends of records.

Examples
--------
>>> import numpy as np, tables, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "t.h5")
>>> with tables.open_file(path, "w") as f:
...     t = f.create_table("/", "particles", {"x": tables.Float64Col(), "n": tables.Int32Col()})
...     t.append([(1, 0.5), (2, 1.5), (3, 2.5)])  # columns in name order: n, x
>>> with la.open(path, "a") as store:
...     x = store["particles"]
...     x.append((4, 3.5))  # one record
...     x.dtype, x[[3, 0]]["n"], x["x"][1:3]
(dtype([('n', '<i4'), ('x', '<f8')]), array([4, 1], dtype=int32), array([1.5, 2.5]))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import tables

from lazyarr.backends._pytables import PyTablesBackend, hdf5_errors, quiet
from lazyarr.backends.base import HDF5_LOCK, register_backend
from lazyarr.core.selection import Selection, selection_shape
from lazyarr.errors import BackendError, ReadOnlyError

if TYPE_CHECKING:  # pragma: no cover
    from lazyarr.files import FileRef

__all__ = ["TableBackend"]


@register_backend
class TableBackend(PyTablesBackend):
    """A ``tables.Table`` as a 1-d array of its records; extendable.

    Parameters
    ----------
    ref : FileRef
    path : str
        The Table node.
    """

    kind = "table"
    extendable = True

    def __init__(self, ref: "FileRef", path: str) -> None:
        self._ref, self._path = ref, path
        self._cached = None
        self._shape_seen = None
        self._chunks = False
        self._verified = True
        with HDF5_LOCK, quiet():
            node = self._node()
            self._check_node(node)
            self._dtype = np.dtype(node.dtype)
            self._swapped = False  # PyTables reads records in this (native) dtype

    def _verify(self, node: Any) -> None:
        self._check_node(node)
        if np.dtype(node.dtype) != self._dtype:
            raise BackendError(
                f"table {self._path!r} in {self._ref.path!r} now holds {node.dtype}, "
                f"not the {self._dtype} it held when this array was pickled"
            )
        self._verified = True

    def _check_node(self, node: Any) -> None:
        if not isinstance(node, tables.Table):
            raise BackendError(f"node {self._path!r} in {self._ref.path!r} is a "
                               f"{type(node).__name__}, not a table")
        if node.nrows:
            # PyTables reads every compound dataset as a 1-d table; for one of
            # more axes (written by h5py) its first read fails: say so now.
            try:
                node.read(0, 1)
            except tables.HDF5ExtError:
                raise BackendError(
                    f"{self._path!r} in {self._ref.path!r} is a compound dataset of more "
                    "than one axis, which PyTables cannot read; open it with h5py: "
                    "lazyarr.wrap(h5py.File(path)[node])"
                ) from None

    def _shape_of(self, node: Any) -> tuple[int, ...]:
        return (int(node.nrows),)

    @property
    def extendable(self) -> bool:  # type: ignore[override]
        return not self._ref.readonly

    def read(self, sel: Selection) -> np.ndarray:
        """Records at a 1-entry selection (a slice or sorted unique indices)."""
        (s,) = sel
        with HDF5_LOCK, quiet():
            node = self._node()
            with hdf5_errors(self):
                if isinstance(s, slice):
                    out = node.read(s.start, s.stop, s.step)
                else:
                    out = node.read_coordinates(np.asarray(s, dtype=np.int64))
        return np.asarray(out, dtype=self._dtype)

    def read_field(self, name: str) -> np.ndarray:
        """One column of every row (``x["field"]``): only that column is read."""
        with HDF5_LOCK, quiet():
            node = self._node()
            with hdf5_errors(self):
                return np.asarray(node.read(field=name))

    def _writable(self) -> None:
        if self.readonly:
            raise ReadOnlyError(f"{self._ref.path!r} is open read-only (mode 'r'); "
                                "open it with mode 'r+' or 'a' to write")

    def write(self, sel: Selection, value: np.ndarray) -> None:
        self._writable()
        (s,) = sel
        value = np.asarray(value, dtype=self._dtype).reshape(selection_shape(sel))
        if not len(value):
            return
        with HDF5_LOCK, quiet():
            node = self._node()
            with hdf5_errors(f"writing {self._path!r} in {self._ref.path!r}"):
                if isinstance(s, slice):
                    node.modify_rows(s.start, s.stop, s.step, rows=value)
                else:
                    node.modify_coordinates(np.asarray(s, dtype=np.int64), value)

    def append(self, rows: np.ndarray) -> None:
        self._writable()
        rows = np.asarray(rows, dtype=self._dtype)
        with HDF5_LOCK, quiet():
            node = self._node()
            with hdf5_errors(f"appending to {self._path!r} in {self._ref.path!r}"):
                node.append(rows)
                node.flush()

    def describe(self) -> dict[str, Any]:
        with HDF5_LOCK:
            node = self._node()
            filters = node.filters
            return {"file": self._ref.path, "node": self._path, "mode": self._ref.mode,
                    "kind": self.kind, "class": "Table", "columns": list(node.colnames),
                    "chunkshape": self.chunks,
                    "complib": filters.complib if filters.complevel else None,
                    "level": filters.complevel, "shuffle": filters.shuffle,
                    "bitshuffle": filters.bitshuffle, "nbytes_stored": int(node.size_on_disk)}
