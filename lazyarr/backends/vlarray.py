"""A PyTables ``VLArray`` on its own: row ``i`` is item ``i``.

The walkthrough's first ragged layout (``my_variable_length_data.hdf5``): a
``VLArray`` of ``Float32Atom(shape=())`` whose rows are 1-d vectors, with no
shape column. Items are 1-d (or, for an atom of shape ``s``, of shape
``(length,) + s``), so the shapes are the row lengths; HDF5 knows a row's
length only by reading it, so the lengths are read once when the array is
opened (in blocks of :data:`lazyarr.backends.ragged_base.VALIDATE_ROWS`
rows) and kept, 8 bytes per item. Appends add rows.

Examples
--------
>>> import numpy as np, tables, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "vl.h5")
>>> with tables.open_file(path, "w") as f:
...     vl = f.create_vlarray("/", "data", tables.Float32Atom(shape=()))
...     vl.append(np.arange(3, dtype="f4")); vl.append(np.zeros(0, dtype="f4"))
>>> with la.open(path, "a") as store:
...     r = store["data"]
...     r.append([7.0])
...     r.backend.kind, r.item_ndim, r.shapes.tolist(), r[0]
('vlarray', 1, [[3], [0], [1]], array([0., 1., 2.], dtype=float32))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import tables

from lazyarr.backends._pytables import check_dtype, hdf5_errors, node_dtype, quiet
from lazyarr.backends.base import HDF5_LOCK, register_backend
from lazyarr.backends.ragged_base import RaggedBackendBase, clear_vl_tail, read_vl_rows
from lazyarr.errors import BackendError

if TYPE_CHECKING:  # pragma: no cover
    from lazyarr.files import FileRef

__all__ = ["VLArrayBackend", "vlarray_problem"]


def vlarray_problem(node: Any) -> str | None:
    """Why ``node`` (a VLArray) cannot be a ragged array of numbers, or None."""
    atom = node.atom
    if isinstance(atom, (tables.VLStringAtom, tables.VLUnicodeAtom)) or atom.kind == "object":
        return (f"it is a VLArray of {type(atom).__name__} (Python objects or strings), "
                "not of numbers")
    try:
        check_dtype(np.dtype(atom.dtype).base)
    except BackendError as exc:
        return str(exc)
    return None


@register_backend
class VLArrayBackend(RaggedBackendBase):
    """A bare ``VLArray`` as a ragged array (see the module docstring).

    Parameters
    ----------
    ref : FileRef
    path : str
        The VLArray node.
    """

    kind = "vlarray"

    def __init__(self, ref: "FileRef", path: str, **ignored: Any) -> None:
        super().__init__(ref, path, data=path)

    def _item_dtype(self, nodes: dict[str, Any]) -> np.dtype:
        # node_dtype gives a sub-array dtype for a shaped atom: its base is the items'.
        return node_dtype(nodes["data"]).base

    def _ndim_of(self, nodes: dict[str, Any]) -> int:
        self._dtype = self._item_dtype(nodes)
        self._atom_shape = tuple(int(n) for n in nodes["data"].atom.shape)
        return 1 + len(self._atom_shape)

    def _reset(self) -> None:
        super()._reset()
        self._meta = None  # no metadata columns: the lengths below are the shapes
        self._lengths = np.empty(64, dtype=np.int64)

    def _verify(self, nodes: dict[str, Any]) -> None:
        self._check_nodes(nodes)
        dt, nd = self._item_dtype(nodes), self._ndim_of(nodes)
        self._verified = True
        if dt != np.dtype(self._dtype) or nd != self._item_ndim:  # pragma: no cover - rare
            raise BackendError(f"{self._where()} changed since this array was pickled")

    def _check_nodes(self, nodes: dict[str, Any]) -> None:
        data = nodes["data"]
        why = "it is not a VLArray" if not isinstance(data, tables.VLArray) else vlarray_problem(data)
        if why:
            raise BackendError(f"{self._where()}: {why}")

    def _rows_on_disk(self, nodes: dict[str, Any]) -> int:
        return int(nodes["data"].nrows)

    def _keep(self, lengths: np.ndarray) -> None:
        need = self._valid + len(lengths)
        if need > len(self._lengths):
            grown = np.empty(max(need, 2 * len(self._lengths)), dtype=np.int64)
            grown[: self._valid] = self._lengths[: self._valid]
            self._lengths = grown
        self._lengths[self._valid : need] = lengths
        self._valid = need
        self._elements += int(lengths.sum()) * int(np.prod(self._atom_shape, dtype=np.int64))

    def _validate_rows(self, nodes: dict[str, Any], a: int, b: int) -> None:
        rows = nodes["data"].read(a, b)
        self._keep(np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows)))

    def _read_meta(self, key: str, idx: np.ndarray) -> np.ndarray:
        lengths = self._lengths[: self._valid][idx]
        out = np.empty((len(lengths), self._item_ndim), dtype=np.int64)
        out[:, 0] = lengths
        out[:, 1:] = self._atom_shape
        return out

    def read_items(self, idx: np.ndarray) -> list[np.ndarray]:
        """Items at ``idx`` (sorted, unique, committed): one read per run."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return []
        with HDF5_LOCK, quiet(), hdf5_errors(f"reading {self._where()}"):
            rows = read_vl_rows(self._nodes()["data"], idx)
        return [self._native(np.asarray(r)) for r in rows]

    def check_item_shape(self, shape: tuple[int, ...], j: int) -> None:
        """ValueError (at append, before anything is buffered) for an item whose
        trailing axes are not the atom's shape."""
        if tuple(shape[1:]) != self._atom_shape:
            raise ValueError(
                f"item {j} has shape {tuple(shape)}; the rows of {self._where()} hold items "
                f"of shape (n,) + {self._atom_shape}"
            )

    def _check_fits(self, nodes: dict[str, Any], shapes: np.ndarray, n: int) -> None:
        if self._atom_shape and (shapes[:, 1:] != self._atom_shape).any():
            bad = shapes[(shapes[:, 1:] != self._atom_shape).any(axis=1)][0]
            raise ValueError(
                f"{self._where()}: its rows hold items of shape (n,) + {self._atom_shape}, "
                f"not {tuple(bad.tolist())}"
            )

    def _write(self, nodes: dict[str, Any], flats: list[np.ndarray], shapes: np.ndarray) -> None:
        data = nodes["data"]
        native = np.dtype(data.atom.dtype).base
        if not getattr(self, "_tail_cleared", False):
            clear_vl_tail(data)
            self._tail_cleared = True
        for flat, shape in zip(flats, shapes.tolist()):
            data.append(np.ascontiguousarray(flat, dtype=native).reshape(shape))
        self._keep(shapes[:, 0].astype(np.int64))

    def describe(self) -> dict[str, Any]:
        with HDF5_LOCK:
            data = self._nodes()["data"]
            return {"file": self._ref.path, "node": self._path, "mode": self._ref.mode,
                    "kind": self.kind, "columns": {"data": f"VLArray{tuple(data.shape)}"},
                    "atom": repr(data.atom), "complib": None, "level": 0}

    @property
    def nbytes_stored(self) -> int:
        """An estimate, as for ``ragged-vl``: row descriptors plus the elements
        (HDF5 keeps variable-length data uncompressed in its global heap)."""
        with HDF5_LOCK:
            data = self._nodes()["data"]
            return int(data._get_storage_size()) + self.total_elements * self._dtype.itemsize
