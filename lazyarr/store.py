"""HDF5 files: open/create stores and find the arrays in them.

File handles (:class:`~lazyarr.files.FileRef`) live in :mod:`lazyarr.files`.

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "example.h5")
>>> with la.open(path, mode="w") as store:
...     x = store.create_array("grp/data", np.arange(10.0))
...     x.append(np.array([10.0, 11.0]))
>>> store = la.open(path)
>>> list(store)
['/grp/data']
>>> store["grp/data"][::4]
array([0., 4., 8.])
>>> store.close()
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import tables

from lazyarr.array import LazyArray
from lazyarr.backends._hdf5 import (
    ATTR_BACKEND,
    ATTR_VERSION,
    FORMAT_VERSION,
    HDF5_LOCK,
    hdf5_errors,
    quiet,
)
from lazyarr.backends._pytables import check_dtype
from lazyarr.backends.base import backend_class, backend_kinds
from lazyarr.backends.compressed import CompressedBackend  # noqa: F401  (registers)
from lazyarr.backends.plain import PlainBackend  # noqa: F401  (registers)
from lazyarr.backends.ragged_offsets import RaggedOffsetsBackend
from lazyarr.backends.ragged_vl import RaggedVLBackend
from lazyarr.cache import InMemory
from lazyarr.errors import BackendError, CorruptStoreError, NodeNotFoundError, ReadOnlyError
from lazyarr.files import MODES, FileRef, core_driver_kw
from lazyarr.ragged import RaggedArray

__all__ = ["FileRef", "Store", "open", "open_array"]

# --------------------------------------------------------------------------
# Node discovery
# --------------------------------------------------------------------------
def _node_path(name: str) -> str:
    """``"data"``, ``"/data"``, ``"grp//data/"`` -> ``"/data"``, ``"/grp/data"``."""
    if not isinstance(name, str):
        raise TypeError(f"node names are str, got {type(name).__name__}")
    if "\x00" in name:
        # HDF5 names are C strings: "a\x00b" would silently become "/a".
        raise ValueError(f"node path {name!r} contains a NUL byte")
    parts = [p for p in name.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ValueError(f"node path {name!r} may not contain '.' or '..'")
    return "/" + "/".join(parts)


def _kind_of(node: Any) -> tuple[str | None, str]:
    """Which backend kind opens ``node``, or ``(None, why not)``.

    Our attribute wins (it may mark a group: later layouts store one array
    as a group of datasets); otherwise an HDF5 file written by PyTables or
    h5py maps by layout: contiguous -> plain, chunked -> compressed.
    """
    if isinstance(node, (tables.link.Link, tables.UnImplemented)):
        return None, f"it is a {type(node).__name__}"
    attrs = node._v_attrs
    if ATTR_BACKEND in attrs._v_attrnamesuser:
        return _marked_kind(node)
    if isinstance(node, tables.Group):
        return None, "it is a group"
    if not isinstance(node, tables.Array):
        return None, f"it is a {type(node).__name__}, not an array"
    if node.atom.shape != ():
        return None, f"its atom {node.atom!r} is not scalar"
    try:
        check_dtype(node.atom.dtype)
    except BackendError as exc:
        return None, str(exc)
    return ("plain" if node.chunkshape is None else "compressed"), ""


def _marked_kind(node: Any) -> tuple[str | None, str]:
    """The kind of a node lazyarr marked, or ``(None, why it cannot be opened)``.

    Such a node is listed by the store even when it cannot be opened (an
    unknown kind, a newer format), so that it never silently disappears;
    opening it raises :class:`lazyarr.BackendError` with the reason.
    """
    attrs = node._v_attrs
    kind = attrs[ATTR_BACKEND]
    if isinstance(kind, bytes):
        kind = kind.decode("utf-8", "replace")
    if not isinstance(kind, str):
        return None, f"its {ATTR_BACKEND} attribute is {kind!r}, not a backend name"
    if kind not in backend_kinds():
        return None, f"it was written by backend kind {kind!r}, which is not installed"
    cls = backend_class(kind)
    if not hasattr(cls, "_node") and not hasattr(cls, "_nodes"):
        return None, f"backend kind {kind!r} does not store arrays in HDF5 files"
    if ATTR_VERSION in attrs._v_attrnamesuser:
        version = attrs[ATTR_VERSION]
        try:
            ok = int(version) == version
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            return None, f"its {ATTR_VERSION} attribute is {version!r}, not a format version"
        if int(version) > FORMAT_VERSION:
            return None, (f"it was written in format version {int(version)} of {kind!r} "
                          f"by a newer lazyarr; this one reads versions up to {FORMAT_VERSION}: "
                          "upgrade lazyarr")
    return kind, ""


def _listed(node: Any) -> bool:
    """A key of the store: an array we open, or a node we marked (even one
    we cannot open: see :func:`_marked_kind`)."""
    return _kind_of(node)[0] is not None or (
        not isinstance(node, (tables.link.Link, tables.UnImplemented))
        and ATTR_BACKEND in node._v_attrs._v_attrnamesuser
    )


def _walk(group: Any) -> Iterator[str]:
    for name in sorted(group._v_children):
        child = group._v_children[name]
        if isinstance(child, tables.Group) and ATTR_BACKEND not in child._v_attrs._v_attrnamesuser:
            yield from _walk(child)
        elif _listed(child):
            yield child._v_pathname


def _open_backend(ref: FileRef, name: str) -> Any:
    path = _node_path(name)
    with HDF5_LOCK, quiet():
        with hdf5_errors(f"opening {path!r} in {ref.path!r}", True):
            try:
                node = ref.file.get_node(path)
            except tables.NoSuchNodeError:
                raise NodeNotFoundError(f"no node {path!r} in {ref.path!r}") from None
            except KeyError:  # a damaged symbol table names a child it lacks
                raise CorruptStoreError(f"{ref.path!r} is corrupt: its group entries for "
                                        f"{path!r} cannot be read") from None
            kind, why = _kind_of(node)
            if kind is None:
                if _listed(node):
                    raise BackendError(f"{path!r} in {ref.path!r} cannot be opened: {why}")
                raise NodeNotFoundError(
                    f"{path!r} in {ref.path!r} is not an array lazyarr can open: {why}")
            return backend_class(kind)(ref, path)


def _wrap(backend: Any, cache: Any) -> Any:
    """The array object for a backend: RaggedArray for ragged layouts."""
    if getattr(backend, "ragged", False):
        return RaggedArray(backend, cache=cache)
    return LazyArray(backend, cache=cache)


#: ``backend=`` names of :meth:`Store.create_ragged` -> backend class.
_RAGGED_BACKENDS = {"offsets": RaggedOffsetsBackend, "vl": RaggedVLBackend}


def _check_cache(cache: Any) -> None:
    if cache is not None and not callable(getattr(cache, "bind", None)):
        raise TypeError(f"cache must be a cache policy such as lazyarr.NoCache(), got {cache!r}")


def _driver_kw(cache: Any, mode: str) -> dict[str, Any]:
    """Driver options a policy asks of the file: the core driver for InMemory."""
    return core_driver_kw(mode) if isinstance(cache, InMemory) else {}


# --------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------
class Store(Mapping):
    """An open HDF5 file as a read-only mapping of node path -> array.

    Use :func:`lazyarr.open` to make one. Keys are absolute node paths
    (``"/grp/data"``); lookups also accept relative ones (``"grp/data"``).
    Only array nodes lazyarr can open are keys; groups are walked into.

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "s.h5")
    >>> with la.open(path, "w") as store:
    ...     _ = store.create_array("a", np.zeros(3), backend="plain")
    ...     _ = store.create_array("/g/b", shape=(2, 2), dtype="i4")
    ...     sorted(store), "a" in store, len(store)
    (['/a', '/g/b'], True, 2)
    """

    def __init__(self, ref: FileRef, *, mode: str | None = None, cache: Any = None) -> None:
        _check_cache(cache)
        self._ref = ref
        self._mode = mode or ref.mode
        self._cache = cache
        # Ragged arrays with buffered appends, which flush() and close() must
        # write. Strong references: ``store.create_ragged(...).extend(items)``
        # drops the array at once, and its items must still reach the file.
        # An array is in the set only while it has a buffer.
        self._dirty: set[RaggedArray] = set()
        #: FileRefs opened for arrays whose policy needs other driver options
        #: than the store's (``get(name, cache=InMemory())``): closed with it.
        self._other_refs: dict[str, FileRef] = {}

    def _ref_for(self, cache: Any) -> FileRef:
        """The FileRef an array with ``cache`` reads through."""
        want = _driver_kw(cache, self._ref.mode)
        if not want or want.get("driver") == self._ref.driver_kw.get("driver"):
            return self._ref
        self._ref.file  # noqa: B018  (ClosedError when the store is closed)
        key = repr(sorted(want.items()))
        ref = self._other_refs.get(key)
        if ref is None or ref.closed:
            self._flush_ragged()  # the core image must see buffered items
            if not self._ref.readonly:
                self._ref.flush()
            ref = FileRef(self.path, self._ref.mode, **want)
            ref.file  # noqa: B018  (open now: errors belong to get())
            self._other_refs[key] = ref
        return ref

    def _track(self, arr: Any) -> Any:
        if isinstance(arr, RaggedArray):
            arr._dirty_set = self._dirty
        return arr

    # ------------------------------------------------------------ properties
    @property
    def path(self) -> str:
        """Absolute path of the file."""
        return self._ref.path

    @property
    def mode(self) -> str:
        """The mode the store was opened with."""
        return self._mode

    @property
    def closed(self) -> bool:
        return self._ref.closed

    @property
    def cache(self) -> Any:
        """The cache policy given to arrays read from this store (None: NoCache)."""
        return self._cache

    @property
    def fileref(self) -> FileRef:
        return self._ref

    # --------------------------------------------------------------- mapping
    def __getitem__(self, name: str) -> Any:
        return self._track(_wrap(_open_backend(self._ref, name), self._cache))

    def get(self, name: str, default: Any = None, *, cache: Any = None) -> Any:  # type: ignore[override]
        """The array at ``name`` (with ``cache`` instead of the store's), or ``default``.

        With ``cache=lazyarr.InMemory()`` on a store opened without it, the
        array reads from its own copy of the file opened with the core
        driver (a second open of the file: both must be read-only). It is
        closed with the store.

        Examples
        --------
        >>> import numpy as np, lazyarr as la, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "get.h5")
        >>> with la.open(path, "w") as store:
        ...     _ = store.create_array("data", np.arange(4))
        >>> with la.open(path) as store:
        ...     x = store.get("data", cache=la.InMemory())
        ...     x[1:], x.backend.fileref.driver_kw["driver"], store.get("nope")
        (array([1, 2, 3]), 'H5FD_CORE', None)
        """
        _check_cache(cache)
        cache = cache if cache is not None else self._cache
        try:
            backend = _open_backend(self._ref_for(cache), name)
        except KeyError:
            return default
        return self._track(_wrap(backend, cache))

    def keys(self) -> list[str]:  # type: ignore[override]
        """Absolute paths of the arrays in the file, sorted."""
        with HDF5_LOCK, quiet(), hdf5_errors(f"listing the nodes of {self.path!r}", True):
            return list(_walk(self._ref.file.root))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            path = _node_path(name)
        except ValueError:
            return False
        with HDF5_LOCK, quiet(), hdf5_errors(f"looking up {path!r} in {self.path!r}", True):
            f = self._ref.file
            if path not in f:
                return False
            return _listed(f.get_node(path))

    # -------------------------------------------------------------- creating
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
        if self._ref.readonly:
            raise ReadOnlyError(
                f"cannot create {name!r}: {self.path!r} is open read-only (mode 'r')"
            )
        if (data is None) == (shape is None):
            raise TypeError("create_array needs exactly one of data= or shape=")
        if data is not None:
            arr = np.asarray(data, dtype=dtype)
            check_dtype(arr.dtype)
            shape = None
        else:
            arr = None
            shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
            if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0
                       for n in shape):
                raise ValueError(f"shape must be non-negative ints, got {shape!r}")
            shape = tuple(int(n) for n in shape)
            dtype = check_dtype(np.float64 if dtype is None else dtype)
        try:
            cls = backend_class(backend)
        except KeyError:
            cls = None
        if cls is None or not hasattr(cls, "create"):
            can = [k for k in backend_kinds() if hasattr(backend_class(k), "create")]
            raise ValueError(f"backend {backend!r} cannot create arrays in a file; use one of {can}")
        b = self._create_node(
            name,
            "an array",
            lambda path: cls.create(
                self._ref, path, arr, shape=shape, dtype=dtype,
                compression=compression, level=level, shuffle=shuffle,
                chunks=chunks, expectedrows=expectedrows,
            ),
        )
        return LazyArray(b, cache=self._cache)

    def _create_node(self, name: str, what: str, make: Any) -> Any:
        """Create a node with ``make(path)``, all or nothing.

        Missing groups are made first; if anything fails the file is left as
        it was: no half-written node, no new groups.
        """
        path = _node_path(name)
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
        if self._ref.readonly:
            raise ReadOnlyError(
                f"cannot create {name!r}: {self.path!r} is open read-only (mode 'r')"
            )
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

    def ragged(
        self,
        name: str,
        shapes: str | None = None,
        bounds: str | None = None,
        *,
        cache: Any = None,
    ) -> RaggedArray:
        """Open a ragged array, including layouts written by hand.

        Parameters
        ----------
        name : str
            A group written by :meth:`create_ragged` (then ``shapes`` and
            ``bounds`` are omitted), or the data node of a hand-made layout:
            a 1-d array of every item's elements (with ``bounds``) or a
            ``VLArray`` of flattened items (without ``bounds``).
        shapes : str, optional
            Node path of the ``(n, item_ndim)`` integer shape column.
        bounds : str, optional
            Node path of the ``(n, 2)`` integer start/stop column.
        cache : cache policy, optional
            Instead of the store's.

        Returns
        -------
        RaggedArray
            Of kind ``ragged-offsets`` (with ``bounds``) or ``ragged-vl``.
            It can be appended to when its columns are EArrays/VLArrays and
            the store is writable.

        Raises
        ------
        KeyError
            A node is missing, or ``name`` is not a ragged array.
        TypeError
            The nodes do not form a ragged layout (:class:`lazyarr.BackendError`).
        CorruptStoreError
            The columns disagree (a ValueError).

        Examples
        --------
        The walkthrough's layout: an EArray ``data`` with start/stop and shape
        columns at the root.

        >>> import numpy as np, tables, lazyarr as la, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "walk.h5")
        >>> with tables.open_file(path, "w") as f:
        ...     d = f.create_earray("/", "data", tables.Int32Atom(), shape=(0,))
        ...     ss = f.create_earray("/", "data_start_and_stop", tables.Int32Atom(), shape=(0, 2))
        ...     sh = f.create_earray("/", "data_shape", tables.Int32Atom(), shape=(0, 2))
        ...     d.append(np.arange(10)); ss.append([[0, 6], [6, 10]]); sh.append([[2, 3], [2, 2]])
        >>> with la.open(path) as store:
        ...     r = store.ragged("data", shapes="data_shape", bounds="data_start_and_stop")
        ...     r[1], r.backend.kind
        (array([[6, 7],
               [8, 9]], dtype=int32), 'ragged-offsets')
        """
        _check_cache(cache)
        cache = cache if cache is not None else self._cache
        if shapes is None:
            if bounds is not None:
                raise TypeError("bounds= needs shapes= too")
            arr = self[name]
            if not isinstance(arr, RaggedArray):
                raise KeyError(
                    f"{_node_path(name)!r} in {self.path!r} is not a ragged array; "
                    "pass shapes= (and bounds=) to open a hand-made layout"
                )
            if cache is not self._cache:
                arr = self.get(name, cache=cache)
            return self._track(arr)
        paths = {"data": _node_path(name), "shapes": _node_path(shapes)}
        if bounds is not None:
            paths["bounds"] = _node_path(bounds)
        ref = self._ref_for(cache)
        with HDF5_LOCK, quiet():
            f = ref.file
            for p in paths.values():
                if p not in f:
                    raise KeyError(f"no node {p!r} in {self.path!r}")
            cls = RaggedOffsetsBackend if bounds is not None else RaggedVLBackend
            b = cls(ref, paths["data"], data=paths["data"], shapes=paths["shapes"],
                    bounds=paths.get("bounds"))
        return self._track(RaggedArray(b, cache=cache))

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

    # --------------------------------------------------------------- closing
    def _flush_ragged(self) -> None:
        for r in list(self._dirty):
            r.flush()

    def flush(self) -> None:
        """Write buffered data (ragged appends included) to disk."""
        self._ref.file  # noqa: B018  (ClosedError when closed)
        self._flush_ragged()
        self._ref.flush()

    def close(self) -> None:
        """Write buffered ragged appends and close the store; its arrays raise
        :class:`lazyarr.ClosedError` afterwards. Idempotent."""
        try:
            if not self._ref.closed and not self._ref.readonly:
                self._flush_ragged()
        finally:
            for ref in self._other_refs.values():
                ref.close()
            self._other_refs.clear()
            self._ref.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = ", closed" if self.closed else ""
        return f"<lazyarr.Store {self.path!r} mode={self._mode!r}{state}>"

    # Mapping's __eq__ would compare contents (reading every node's identity).
    __eq__ = object.__eq__  # type: ignore[assignment]
    __hash__ = object.__hash__  # type: ignore[assignment]


def open(path: str | os.PathLike, mode: str = "r", *, cache: Any = None) -> Store:  # noqa: A001
    """Open an HDF5 file as a :class:`Store`.

    Parameters
    ----------
    path : str or os.PathLike
    mode : {'r', 'r+', 'a', 'w'}
        ``'r'`` read-only, ``'r+'`` read/write an existing file, ``'a'``
        read/write creating it if missing, ``'w'`` create or truncate.
    cache : cache policy, optional
        Given to every array read from the store (default ``NoCache()``).
        With :class:`lazyarr.InMemory` the file is opened with HDF5's core
        driver: read into memory at open (no backing store for mode
        ``'r'``; writable modes write it back on flush and close).

    Raises
    ------
    ValueError
        Unknown mode.
    FileNotFoundError
        Mode ``'r'``/``'r+'`` and no such file.
    OSError
        The file is not HDF5 or is corrupt.

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "o.h5")
    >>> with la.open(path, "w") as store:
    ...     _ = store.create_array("data", np.eye(3))
    >>> with la.open(path) as store:
    ...     store["data"][[0, 2], 0]
    array([1., 0.])
    >>> la.open(path, "x")
    Traceback (most recent call last):
    ...
    ValueError: mode must be one of 'r', 'r+', 'a', 'w'; got 'x'
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}; got {mode!r}")
    _check_cache(cache)
    ref = FileRef(path, mode, **_driver_kw(cache, mode))
    ref.file  # noqa: B018  (open now: errors belong to open(), not first use)
    return Store(ref, mode=mode, cache=cache)


def open_array(
    path: str | os.PathLike, node: str = "/data", *, mode: str = "r", cache: Any = None
) -> LazyArray | RaggedArray:
    """Open one array; the file stays open as long as the array lives.

    Parameters
    ----------
    path : str or os.PathLike
    node : str
        Node path of the array.
    mode : {'r', 'r+', 'a'}
    cache : cache policy, optional
        As for :func:`open` (:class:`lazyarr.InMemory` opens the file with
        the core driver).

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "one.h5")
    >>> with la.open(path, "w") as store:
    ...     _ = store.create_array("data", np.arange(5))
    >>> x = la.open_array(path)
    >>> x[-2:], x.backend.kind
    (array([3, 4]), 'compressed')
    """
    if mode not in ("r", "r+", "a"):
        raise ValueError(f"open_array mode must be 'r', 'r+' or 'a'; got {mode!r}")
    _check_cache(cache)
    ref = FileRef(path, mode, **_driver_kw(cache, mode))
    ref.file  # noqa: B018
    try:
        backend = _open_backend(ref, node)
    except BaseException:
        ref.close()
        raise
    return _wrap(backend, cache)
