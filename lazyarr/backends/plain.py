"""A contiguous ``tables.Array``: fixed shape, no chunks, no filters.

The layout to pick for data that is written once and read in arbitrary
pieces: every selection is one hyperslab of an uncompressed dataset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lazyarr.backends._pytables import (
    quiet,
    PyTablesBackend,
    atom_for,
    byteorder_of,
    check_dtype,
    set_kind_attrs,
    split_path,
    write_selection,
)
from lazyarr.backends.base import HDF5_LOCK, register_backend
from lazyarr.errors import BackendError

if TYPE_CHECKING:  # pragma: no cover
    from lazyarr.files import FileRef

__all__ = ["PlainBackend"]


@register_backend
class PlainBackend(PyTablesBackend):
    """An array stored contiguously (``tables.Array``); fixed shape.

    Parameters
    ----------
    ref : FileRef
        The file (see :class:`lazyarr.store.FileRef`).
    path : str
        Absolute path of an existing unchunked array node.

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "plain.h5")
    >>> with la.open(path, "w") as store:
    ...     x = store.create_array("data", np.arange(6).reshape(2, 3), backend="plain")
    ...     x.backend.kind, x.backend.chunks, x.backend.read((slice(0, 2, 1), np.array([0, 2])))
    ('plain', None, array([[0, 2],
           [3, 5]]))
    """

    kind = "plain"
    extendable = False

    def _check_node(self, node: Any) -> None:
        super()._check_node(node)
        if node.chunkshape is not None:
            raise BackendError(
                f"node {self._path!r} is chunked; open it with the 'compressed' backend"
            )

    @property
    def chunks(self) -> None:  # type: ignore[override]
        return None

    @classmethod
    def create(
        cls,
        ref: "FileRef",
        path: str,
        data: np.ndarray | None = None,
        *,
        shape: tuple[int, ...] | None = None,
        dtype: Any = None,
        chunks: tuple[int, ...] | None = None,
        **ignored: Any,
    ) -> "PlainBackend":
        """Create a contiguous array node at ``path`` and return its backend.

        Exactly one of ``data`` (written now) or ``shape`` + ``dtype`` (zeros,
        which cost no memory: HDF5 returns the fill value for unwritten
        space). Compression options are accepted and ignored, since a
        contiguous dataset cannot be filtered; ``chunks`` is refused.
        The caller (:meth:`lazyarr.store.Store.create_array`) creates parent
        groups and removes a half-written node on failure.
        """
        if chunks is not None:
            raise ValueError("plain arrays are contiguous: chunks= needs backend='compressed'")
        if data is not None:
            dt = check_dtype(data.dtype)
            shape = data.shape
        else:
            dt = check_dtype(np.float64 if dtype is None else dtype)
        parent, name = split_path(path)
        with HDF5_LOCK, quiet():
            f = ref.file
            node = f.create_array(
                parent, name, atom=atom_for(dt), shape=tuple(shape),
                byteorder=byteorder_of(dt),
            )
            if data is not None and data.size:
                # Through our writer, not `obj=`: PyTables would infer the atom
                # (and byte order) from the data instead of using ours.
                full = tuple(slice(0, n, 1) for n in shape)
                write_selection(node, tuple(shape), full,
                                np.ascontiguousarray(data, dtype=node.atom.dtype))
            set_kind_attrs(node, cls.kind)
        return cls(ref, path)
