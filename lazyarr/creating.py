"""Creating nodes: :meth:`create_array`, :meth:`create_ragged`, :meth:`create_group`.

A mixin of :class:`lazyarr.Store` (paths are absolute, or relative to the
root); :class:`lazyarr.groups.Group` calls the same methods with paths
relative to itself. Creation is all or nothing: a failure leaves no
half-written node and no new groups.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tables

from lazyarr.array import LazyArray
from lazyarr.backends._hdf5 import ATTR_BACKEND, HDF5_LOCK, hdf5_errors, quiet
from lazyarr.backends._pytables import check_dtype, split_path
from lazyarr.backends.base import backend_class, backend_kinds
from lazyarr.backends.encoded import ATTR_DTYPE, EncodedBackend, for_create
from lazyarr.backends.ragged_offsets import RaggedOffsetsBackend
from lazyarr.backends.ragged_vl import RaggedVLBackend
from lazyarr.errors import ReadOnlyError
from lazyarr.nodes import node_path
from lazyarr.ragged import RaggedArray

__all__ = ["CreatingMixin"]

#: ``backend=`` names of :meth:`CreatingMixin.create_ragged` -> backend class.
_RAGGED_BACKENDS = {"offsets": RaggedOffsetsBackend, "vl": RaggedVLBackend}


class CreatingMixin:
    """The creating methods of :class:`lazyarr.Store`."""

    _ref: Any
    _cache: Any
    path: str

    def _track(self, arr: Any) -> Any:  # pragma: no cover - Store's
        raise NotImplementedError

    def _writable(self, name: str) -> None:
        if self._ref.readonly:
            raise ReadOnlyError(
                f"cannot create {name!r}: {self.path!r} is open read-only (mode 'r')"
            )

    def create_group(self, name: str) -> Any:
        """Create a group at ``name`` (missing parents too) and return it.

        Raises
        ------
        ValueError
            The node exists, or a parent is an array.
        ReadOnlyError
            The store is read-only.

        Examples
        --------
        >>> import lazyarr as la, tempfile, os
        >>> with la.open(os.path.join(tempfile.mkdtemp(), "g.h5"), "w") as store:
        ...     g = store.create_group("runs/2026")
        ...     _ = g.create_array("x", [1, 2])
        ...     sorted(store), list(store["runs"])
        (['/runs', '/runs/2026', '/runs/2026/x'], ['2026'])
        """
        from lazyarr.groups import Group

        self._writable(name)
        self._create_node(name, "a group", lambda path: self._ref.file.create_group(
            *split_path(path)))
        return Group(self, node_path(name))

    def create_array(
        self,
        name: str,
        data: Any = None,
        *,
        shape: Any = None,
        dtype: Any = None,
        backend: str = "compressed",
        compression: str | None = "blosc2:zstd",
        level: int = 1,
        shuffle: bool = True,
        chunks: tuple[int, ...] | None = None,
        expectedrows: int | None = None,
    ) -> LazyArray:
        """Create an array node and return it as a :class:`lazyarr.LazyArray`.

        Parameters
        ----------
        name : str
            Node path; missing groups are created (``"grp/sub/data"``).
        data : array_like, optional
            Initial contents (cast like ``np.asarray(data, dtype)``).
        shape, dtype : optional
            Instead of ``data``: an array of zeros (``dtype`` default float64).
        backend : str
            A registered backend kind that can create nodes: ``"compressed"``
            (chunked, extendable along axis 0) or ``"plain"`` (contiguous).
        compression : str or None
            Any PyTables complib (``"blosc2:zstd"``, ``"blosc2:lz4"``,
            ``"blosc:lz4"``, ``"zlib"``, ...) or None for uncompressed chunks.
            Only the compressed backend uses ``compression``, ``level``,
            ``shuffle``, ``chunks`` and ``expectedrows``.
        level : int
            Compression level 0..9. The default, Blosc2/Zstd level 1, came
            out of ``bench/codecs.py``: the same ratio as level 5 (within
            3 %), writes 5x faster, single rows 30 % cheaper.
        shuffle : bool
            Byte-shuffle before compressing.
        chunks : tuple of int, optional
            Chunk shape; by default about 1 MiB of whole rows.
        expectedrows : int, optional
            Expected final row count (caps the default chunk length).

        Returns
        -------
        LazyArray

        Raises
        ------
        ReadOnlyError
            The store is read-only.
        ValueError
            The node exists, or a bad backend/compression/chunks argument.
        TypeError
            Not exactly one of ``data``/``shape``; or an unsupported dtype
            (:class:`lazyarr.BackendError`).

        Examples
        --------
        >>> import numpy as np, lazyarr as la, tempfile, os
        >>> store = la.open(os.path.join(tempfile.mkdtemp(), "c.h5"), "w")
        >>> x = store.create_array("x", np.arange(4, dtype=">i2"), compression="zlib")
        >>> x.dtype, x.backend.kind, x[1:3]
        (dtype('>i2'), 'compressed', array([1, 2], dtype='>i2'))
        >>> store.create_array("x", shape=(2,))
        Traceback (most recent call last):
        ...
        ValueError: name already exists: '/x'
        >>> store.close()
        """
        self._writable(name)
        if (data is None) == (shape is None):
            raise TypeError("create_array needs exactly one of data= or shape=")
        if data is not None:
            arr = np.asarray(data, dtype=dtype)
            dtype, shape = arr.dtype, None
        else:
            arr = None
            shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
            if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0
                       for n in shape):
                raise ValueError(f"shape must be non-negative ints, got {shape!r}")
            shape = tuple(int(n) for n in shape)
            dtype = np.dtype(np.float64 if dtype is None else dtype)
        logical = dtype
        # Dtypes HDF5 has no type for are stored as bytes it has (encoded.py).
        arr, shape, dtype, chunks, dtype_attr = for_create(arr, shape, dtype, chunks)
        check_dtype(dtype)
        try:
            cls = backend_class(backend)
        except KeyError:
            cls = None
        if cls is None or not hasattr(cls, "create"):
            can = [k for k in backend_kinds() if hasattr(backend_class(k), "create")]
            raise ValueError(f"backend {backend!r} cannot create arrays in a file; use one of {can}")

        def make(path: str) -> Any:
            b = cls.create(self._ref, path, arr, shape=shape, dtype=dtype,
                           compression=compression, level=level, shuffle=shuffle,
                           chunks=chunks, expectedrows=expectedrows)
            if dtype_attr is None:
                return b
            self._ref.file.get_node(path)._v_attrs[ATTR_DTYPE] = dtype_attr
            return EncodedBackend(b, logical)

        return LazyArray(self._create_node(name, "an array", make), cache=self._cache)

    def _create_node(self, name: str, what: str, make: Any) -> Any:
        """Create a node with ``make(path)``, all or nothing.

        Missing groups are made first; if anything fails the file is left as
        it was: no half-written node, no new groups.
        """
        path = node_path(name)
        if path == "/":
            raise ValueError(f"cannot create {what} at the root group '/'")
        with HDF5_LOCK, quiet():
            f = self._ref.file
            if path in f:
                raise ValueError(f"name already exists: {path!r}")
            created: list[str] = []
            try:
                self._make_groups(f, path, created)
                with hdf5_errors(f"creating {path!r} in {self.path!r}"):
                    return make(path)
            except BaseException:
                for p in [path] + created[::-1]:
                    try:
                        if p in f:
                            f.remove_node(p, recursive=True)
                    except Exception:  # pragma: no cover - best effort cleanup
                        pass
                raise

    def create_ragged(
        self,
        name: str,
        *,
        dtype: Any,
        item_ndim: int,
        backend: str = "offsets",
        compression: str | None = "blosc2:zstd",
        level: int = 5,
        shuffle: bool = True,
        expected_items: int | None = None,
    ) -> RaggedArray:
        """Create an empty ragged array (items of varying shape) at ``name``.

        Parameters
        ----------
        name : str
            Node path of the group that holds the array; missing parent
            groups are created.
        dtype : dtype_like
            The items' dtype (bool, integers, floats, complex or bytes).
        item_ndim : int
            Number of axes of every item (>= 1).
        backend : {'offsets', 'vl'}
            ``'offsets'`` (kind ``ragged-offsets``): the items' elements flat
            in one compressed EArray with start/stop and shape columns.
            ``'vl'`` (kind ``ragged-vl``): one VLArray row per item plus a
            shape column; HDF5 does not compress its rows.
        compression, level, shuffle
            As in :meth:`create_array`; for ``'vl'`` they apply to the shape
            column only.
        expected_items : int, optional
            Expected number of items (sizes the metadata chunks).

        Returns
        -------
        RaggedArray

        Raises
        ------
        ReadOnlyError
            The store is read-only.
        ValueError
            The node exists; a bad backend, compression or ``item_ndim``.
        TypeError
            An unsupported dtype (:class:`lazyarr.BackendError`).

        Examples
        --------
        >>> import numpy as np, lazyarr as la, tempfile, os
        >>> store = la.open(os.path.join(tempfile.mkdtemp(), "cr.h5"), "w")
        >>> r = store.create_ragged("imgs/small", dtype="int16", item_ndim=2)
        >>> r.extend([np.zeros((2, 3), dtype=np.int16), [[1], [2], [3], [4]]])
        >>> r.backend.kind, len(r), r.shapes.tolist()
        ('ragged-offsets', 2, [[2, 3], [4, 1]])
        >>> store.create_ragged("x", dtype="f4", item_ndim=1, backend="flat")
        Traceback (most recent call last):
        ...
        ValueError: backend must be 'offsets' or 'vl', got 'flat'
        >>> store.close()
        """
        self._writable(name)
        cls = _RAGGED_BACKENDS.get(backend) if isinstance(backend, str) else None
        if cls is None:
            raise ValueError(f"backend must be 'offsets' or 'vl', got {backend!r}")
        b = self._create_node(
            name,
            "a ragged array",
            lambda path: cls.create_ragged(
                self._ref, path, dtype=dtype, item_ndim=item_ndim,
                compression=compression, level=level, shuffle=shuffle,
                expected_items=expected_items,
            ),
        )
        return self._track(RaggedArray(b, cache=self._cache))

    @staticmethod
    def _make_groups(f: tables.File, path: str, created: list[str]) -> None:
        parts = path.strip("/").split("/")[:-1]
        where = ""
        for p in parts:
            where += "/" + p
            if where in f:
                if not isinstance(f.get_node(where), tables.Group) or (
                    ATTR_BACKEND in f.get_node(where)._v_attrs
                ):
                    raise ValueError(f"{where!r} is an array, not a group")
            else:
                parent = where.rpartition("/")[0] or "/"
                f.create_group(parent, p)
                created.append(where)
