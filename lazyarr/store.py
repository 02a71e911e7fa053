"""HDF5 files: open/create stores and find the arrays in them.

File handles (:class:`~lazyarr.files.FileRef`) live in :mod:`lazyarr.files`,
what each node opens as in :mod:`lazyarr.nodes`, creating nodes in
:mod:`lazyarr.creating`, groups and attributes in :mod:`lazyarr.groups`.

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "example.h5")
>>> with la.open(path, mode="w") as store:
...     x = store.create_array("grp/data", np.arange(10.0))
...     x.append(np.array([10.0, 11.0]))
>>> store = la.open(path)
>>> list(store)
['/grp', '/grp/data']
>>> store["grp/data"][::4]
array([0., 4., 8.])
>>> store.close()
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from lazyarr.array import LazyArray
from lazyarr.backends._hdf5 import HDF5_LOCK, hdf5_errors, quiet
from lazyarr.backends._hdf5_sane import precheck_node
from lazyarr.backends.ragged_offsets import RaggedOffsetsBackend
from lazyarr.backends.ragged_vl import RaggedVLBackend
from lazyarr.cache import InMemory
from lazyarr.creating import CreatingMixin
from lazyarr.errors import NodeNotFoundError
from lazyarr.files import MODES, FileRef, core_driver_kw
from lazyarr.groups import Attributes, Group, tree
from lazyarr.nodes import is_group, node_path, open_backend, walk, wrap_backend
from lazyarr.ragged import RaggedArray

__all__ = ["FileRef", "Store", "open", "open_array"]

_node_path = node_path
_wrap = wrap_backend


def _parents(path: str) -> list[str]:
    """``"/a/b/c"`` -> ``["/a", "/a/b"]``."""
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _open_backend(ref: FileRef, name: str) -> Any:
    return open_backend(ref, _node_path(name))


def _check_cache(cache: Any) -> None:
    if cache is not None and not callable(getattr(cache, "bind", None)):
        raise TypeError(f"cache must be a cache policy such as lazyarr.NoCache(), got {cache!r}")


def _driver_kw(cache: Any, mode: str) -> dict[str, Any]:
    """Driver options a policy asks of the file: the core driver for InMemory."""
    if not isinstance(cache, InMemory):
        return {}
    kw = core_driver_kw(mode)
    if not cache.persist:  # a file in memory only: never written back
        kw["driver_core_backing_store"] = 0
    return kw


# --------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------
class Store(CreatingMixin, Mapping):
    """An open HDF5 file as a mapping of node path -> array or group.

    Use :func:`lazyarr.open` to make one. Keys are the absolute paths of
    every node (``"/grp"``, ``"/grp/data"``), depth first; lookups also
    accept relative ones (``"grp/data"``). A group gives a
    :class:`lazyarr.groups.Group`; a node lazyarr cannot open is listed too,
    and looking it up raises KeyError saying why. ``store.attrs`` are the
    root's attributes, ``store.tree()`` (or ``print(store)``) the hierarchy.

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "s.h5")
    >>> with la.open(path, "w") as store:
    ...     _ = store.create_array("a", np.zeros(3), backend="plain")
    ...     _ = store.create_array("/g/b", shape=(2, 2), dtype="i4")
    ...     sorted(store), "a" in store, len(store)
    (['/a', '/g', '/g/b'], True, 3)
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
        path = _node_path(name)
        with HDF5_LOCK, quiet(), hdf5_errors(f"opening {path!r} in {self.path!r}", True):
            f = self._ref.file
            precheck_node(f, path)  # before PyTables loads (and parses) it
            if path not in f:
                raise NodeNotFoundError(f"no node {path!r} in {self.path!r}")
            node = f.get_node(path)
            if is_group(node):
                return Group(self, path)
            backend = open_backend(self._ref, path, node)
        return self._track(_wrap(backend, self._cache))

    def get(self, name: str, default: Any = None, *, cache: Any = None) -> Any:  # type: ignore[override]
        """The array or group at ``name`` (with ``cache`` instead of the store's), or ``default``.

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
        if cache is None or cache is self._cache:
            try:
                return self[name]
            except KeyError:
                return default
        try:
            backend = _open_backend(self._ref_for(cache), name)
        except KeyError:
            return default
        return self._track(_wrap(backend, cache))

    def keys(self) -> list[str]:  # type: ignore[override]
        """Absolute paths of every node in the file (groups, and nodes lazyarr
        cannot open, too), depth first in name order; see :meth:`tree`."""
        with HDF5_LOCK, quiet(), hdf5_errors(f"listing the nodes of {self.path!r}", True):
            return [n._v_pathname for n in walk(self._ref.file.root)]

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
        if path == "/":
            return False
        with HDF5_LOCK, quiet(), hdf5_errors(f"looking up {path!r} in {self.path!r}", True):
            f = self._ref.file
            # Not inside an array stored as a group (its columns are not nodes to us).
            return path in f and all(
                is_group(f.get_node(p)) for p in _parents(path))

    @property
    def root(self) -> Group:
        """The root group ``/``: a mapping of its children by name (as h5py's File)."""
        return Group(self, "/")

    @property
    def attrs(self) -> Attributes:
        """The root group's attributes (a mutable mapping)."""
        return Attributes(self._ref, "/")

    def tree(self) -> str:
        """The file's hierarchy, one node a line: kind, shape, dtype, chunks,
        compression (``print(store)`` prints it)."""
        return tree(self, "/")

    def __str__(self) -> str:
        return self.tree()

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
