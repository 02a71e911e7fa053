"""A contiguous ``tables.Array``: fixed shape, no chunks, no filters.

The layout to pick for data that is written once and read in arbitrary
pieces. Its bytes are one run in the file, so reads and writes go through a
memory map of them (:mod:`lazyarr.backends._mmap`): NumPy indexes the map,
no HDF5 call is made. A node that cannot be mapped (no storage yet, the
core driver, a compact or external layout) is read through PyTables.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from lazyarr.backends._mmap import NodeMap, flush_dataset, node_map
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
from lazyarr.backends.base import HDF5_LOCK, IndexingSupport, Selection, register_backend
from lazyarr.core.selection import VIEW_TYPES, apply_orthogonal, orthogonal_key, selection_shape
from lazyarr.errors import BackendError, ReadOnlyError

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

    #: ``(node, weak reference to its NodeMap or None)`` once decided for
    #: that node object. Weak: the map belongs to the open file (see
    #: :func:`lazyarr.backends._mmap.drop_maps`), not to this backend.
    _map_for: tuple[Any, Any] | None = None
    #: Read and write through the memory map where the node has one; False
    #: forces PyTables' path (the reference the map is tested against).
    use_map: bool = True

    def map(self) -> NodeMap | None:
        """The memory map reads and writes go through, or None (PyTables' path).

        Looked up once per node object; while the node has no storage yet,
        on every call.
        """
        got = self._map_for
        if got is not None and got[1] is not None:
            # The hot path, no HDF5 call and no lock: the map is alive only
            # while its file is open in lazyarr (drop_maps, and a fork, let
            # go of it), and its node only while it exists in that file.
            m = got[1]()
            if m is not None and m.node._v_isopen and not self._ref._closed and self.use_map:
                return m
        if not self.use_map:
            return None
        node = self._node()
        if got is not None and got[0] is node:
            m = got[1]() if got[1] is not None else None
            if m is not None or got[1] is None:
                return m
        with HDF5_LOCK:
            m, final = node_map(node, self._dtype)
        if final:
            self._map_for = (node, None if m is None else weakref.ref(m))
        return m

    @property
    def support(self) -> IndexingSupport:  # type: ignore[override]
        """``NUMPY`` while the node is mapped: NumPy indexes the map with the
        user's key (:meth:`getitem`); else PyTables' orthogonal selections.

        Asked when an array binds its cache policy. A reference not used yet
        (an unpickled array) answers without opening its file.
        """
        if self.deferred or self.map() is None:
            return IndexingSupport.ORTHOGONAL
        return IndexingSupport.NUMPY

    @property
    def mapped(self) -> bool:
        """True while reads and writes go through a memory map of the node.

        Cache policies take this as "already in memory": a
        :class:`lazyarr.SwapWindow` passes reads straight through.
        """
        return not self.deferred and self.map() is not None

    def getitem(self, key: Any) -> Any:
        """``x[key]`` with NumPy's semantics, indexed on the map; never a view of it."""
        m = self.map()
        if m is None:
            # The map went away (the node was created again, with no storage
            # yet): the whole array, then NumPy's key. Correct, not fast.
            return self.read(tuple(slice(0, n, 1) for n in self.shape))[key]
        a = m.array
        if type(key) is np.ndarray and key.ndim == 1 and a.ndim:
            # Whole rows gathered by np.take, several times faster than
            # NumPy's fancy indexing of the same rows; same results, same
            # IndexError for an index out of bounds.
            if key.dtype.kind == "i":
                return np.take(a, key, axis=0)
            if key.dtype.kind == "b" and len(key) == len(a):
                return np.take(a, np.flatnonzero(key), axis=0)
        out = a[key]
        if type(out) in VIEW_TYPES and out.base is m.owner:
            return m.copy_out(out)
        return out

    def setitem(self, key: Any, value: Any) -> None:
        """``x[key] = value`` with NumPy's semantics, through the map."""
        m = self.map()
        if m is None or not m.array.flags.writeable:
            if self.readonly or m is not None:
                raise ReadOnlyError(
                    f"{self._ref.path!r} is open read-only (mode 'r'); "
                    "open it with mode 'r+' or 'a' to write"
                )
            # No map (see getitem): the whole array, NumPy's assignment, back.
            full = tuple(slice(0, n, 1) for n in self.shape)
            block = self.read(full)
            block[key] = value
            self.write(full, block)
            return
        m.array[key] = value

    @property
    def shape(self) -> tuple[int, ...]:
        # A contiguous node never changes shape: the map's is the node's.
        m = self.map()
        return m.array.shape if m is not None else super().shape

    def read(self, sel: Selection) -> np.ndarray:
        """Read an orthogonal selection; see :mod:`lazyarr.backends.base`."""
        m = self.map()
        if m is None:
            return super().read(sel)
        a = m.array
        sel = tuple(sel)
        if len(sel) != a.ndim:
            raise ValueError(f"selection has {len(sel)} entries for a {a.ndim}-d array")
        if np.ndarray in map(type, sel):
            # Rows gathered by np.take (a fresh array), not fancy indexing.
            return apply_orthogonal(a, sel)
        # A copy of the box: the caller owns what a read returns.
        # ``...`` keeps a 0-d selection an array (``a[()]`` would be a scalar).
        return m.copy_out(a[sel + (Ellipsis,)])

    def write(self, sel: Selection, value: np.ndarray) -> None:
        """Store ``value`` at an orthogonal selection (through the map when there is one)."""
        m = None if self.readonly else self.map()
        if m is None or not m.array.flags.writeable:
            super().write(sel, value)
            if not self.readonly:
                with HDF5_LOCK:
                    # Out of HDF5's sieve buffer, so that a map made after this
                    # first write (it allocated the storage) sees it.
                    flush_dataset(self._node())
            return
        a = m.array
        sel = tuple(sel)
        if len(sel) != a.ndim:
            raise ValueError(f"selection has {len(sel)} entries for a {a.ndim}-d array")
        value = np.asarray(value)
        want = selection_shape(sel)
        if value.shape != want:
            raise ValueError(f"value has shape {value.shape}, selection has shape {want}")
        a[_map_key(sel, a.shape)] = value

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        m = self.map()
        out["mapped_at"] = None if m is None else m.offset
        return out

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
                # Out of HDF5's sieve buffer: reads go through the map.
                flush_dataset(node)
            set_kind_attrs(node, cls.kind)
        return cls(ref, path)


def _map_key(sel: Selection, shape: tuple[int, ...]) -> tuple:
    """A NumPy key for an array of ``shape`` that selects the orthogonal box ``sel``."""
    if list(map(type, sel)).count(np.ndarray) <= 1:
        # Slices and at most one index array: NumPy's own key is the box.
        # ``...`` keeps a 0-d selection an array (``a[()]`` would be a scalar).
        return sel + (Ellipsis,)
    return orthogonal_key(list(sel), list(shape))
