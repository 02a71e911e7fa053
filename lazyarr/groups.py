"""Groups and attributes, h5py's way.

* :class:`Attributes`: ``store.attrs``, ``x.attrs``, ``r.attrs``, ``group.attrs``
  -- a mutable mapping of a node's user attributes. lazyarr's own
  bookkeeping (``LAZYARR_BACKEND``, ``LAZYARR_VERSION``, ``LAZYARR_DTYPE``,
  a ragged group's ``item_ndim``) is hidden and cannot be overwritten.
  Values are NumPy scalars, arrays, ``str`` or ``bytes`` (Python numbers
  and lists come back as NumPy's; objects are refused rather than pickled).
* :class:`Group`: what ``store["/grp"]`` returns -- a mapping of the group's
  children by name (every child: arrays, ragged arrays, groups, and nodes
  lazyarr cannot open, whose lookup raises KeyError saying why), with
  ``attrs`` and ``create_array``/``create_ragged``/``create_group``
  relative to it.
* :func:`describe_node` and :func:`tree`: one node's facts, and the
  hierarchy as text (``store.tree()``, ``print(store)``, ``lazyarr info``).

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "g.h5")
>>> with la.open(path, "w") as store:
...     store.attrs["title"] = "run 7"
...     g = store.create_group("raw")
...     x = g.create_array("counts", np.arange(6), chunks=(3,))
...     x.attrs["unit"] = "Hz"
...     x.attrs["gain"] = np.float32(1.5)
>>> with la.open(path) as store:
...     g = store["raw"]
...     list(g), dict(g["counts"].attrs), store.attrs["title"]
(['counts'], {'gain': np.float32(1.5), 'unit': 'Hz'}, 'run 7')
>>> with la.open(path) as store:
...     print(store)  # doctest: +ELLIPSIS
/  group, 1 child, 1 attribute
└── raw  group, 1 child
    └── counts  compressed (6,) int64, chunks (3,), blosc2:zstd level 1, 48 B raw, ... B stored (ratio ...), 2 attributes
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np
import tables

from lazyarr.backends._hdf5 import ATTR_BACKEND, HDF5_LOCK, hdf5_errors, quiet
from lazyarr.errors import ReadOnlyError
from lazyarr.nodes import HIDDEN_ATTRS, GROUP, is_group, kind_of, node_path

__all__ = ["Attributes", "Group", "attrs_of", "describe_node", "tree"]

#: Hidden on every node; ``item_ndim`` only where lazyarr wrote the node.
_ALWAYS_HIDDEN = HIDDEN_ATTRS - {"item_ndim"}


class Attributes(MutableMapping):
    """The user attributes of one node of an HDF5 file (see the module docstring).

    Parameters
    ----------
    ref : FileRef
        The file.
    path : str
        The node (``"/"`` for the root group).
    """

    def __init__(self, ref: Any, path: str) -> None:
        self._ref, self._path = ref, path

    def _node_attrs(self) -> Any:
        f = self._ref.file
        try:
            return f.get_node(self._path)._v_attrs
        except tables.NoSuchNodeError:
            raise KeyError(f"no node {self._path!r} in {self._ref.path!r}") from None

    def _hidden(self, attrs: Any) -> frozenset:
        return HIDDEN_ATTRS if ATTR_BACKEND in attrs else _ALWAYS_HIDDEN

    def keys(self) -> list[str]:  # type: ignore[override]
        """Attribute names, sorted."""
        with HDF5_LOCK, quiet():
            attrs = self._node_attrs()
            hidden = self._hidden(attrs)
            return sorted(k for k in attrs._v_attrnamesuser if k not in hidden)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.keys()

    def __getitem__(self, name: str) -> Any:
        with HDF5_LOCK, quiet():
            attrs = self._node_attrs()
            if name in self._hidden(attrs) or name not in attrs._v_attrnamesuser:
                raise KeyError(name)
            value = attrs[name]
        # PyTables gives np.str_ / np.bytes_: give back the str / bytes stored.
        if isinstance(value, np.str_):
            return str(value)
        return bytes(value) if isinstance(value, np.bytes_) else value

    def _check_write(self, name: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"attribute names are non-empty str, got {name!r}")
        if self._ref.readonly:
            raise ReadOnlyError(f"cannot set attributes: {self._ref.path!r} is open "
                                "read-only (mode 'r')")
        if name in HIDDEN_ATTRS:
            raise ValueError(f"attribute name {name!r} is reserved for lazyarr's bookkeeping")

    def __setitem__(self, name: str, value: Any) -> None:
        self._check_write(name)
        if isinstance(value, (list, tuple)):
            value = np.asarray(value)
        if not isinstance(value, (str, bytes, np.generic, np.ndarray, int, float, complex)):
            raise TypeError(f"attribute values are NumPy scalars or arrays, str or bytes; "
                            f"got {type(value).__name__}")
        if isinstance(value, (np.ndarray, np.generic)) and value.dtype.hasobject:
            raise TypeError("attribute values of dtype object are not supported")
        if isinstance(value, (np.ndarray, np.generic)) and not value.dtype.isnative:
            # PyTables stores a non-native attribute's bytes under the native
            # type (it reads back garbled): store the values in native order.
            value = value.astype(value.dtype.newbyteorder("="))
        with HDF5_LOCK, quiet(), hdf5_errors(f"setting attribute {name!r} of {self._path!r}"):
            self._node_attrs()[name] = value

    def __delitem__(self, name: str) -> None:
        self._check_write(name)
        with HDF5_LOCK, quiet():
            attrs = self._node_attrs()
            if name not in attrs._v_attrnamesuser:
                raise KeyError(name)
            with hdf5_errors(f"deleting attribute {name!r} of {self._path!r}"):
                del attrs[name]

    def __repr__(self) -> str:
        return f"<Attributes of {self._path!r}: {dict(self.items())!r}>"


def attrs_of(backend: Any) -> Any:
    """The attributes of the node behind ``backend``: ours for a lazyarr file,
    h5py's or zarr's own for those, AttributeError for an in-memory array."""
    ref, path = getattr(backend, "fileref", None), getattr(backend, "path", None)
    if ref is not None and path is not None:
        return Attributes(ref, path)
    for name in ("dataset", "array"):
        inner = getattr(backend, name, None)
        if inner is not None and hasattr(inner, "attrs"):
            return inner.attrs
    raise AttributeError(f"a {getattr(backend, 'kind', '?')!r} array has no stored attributes")


class Group(Mapping):
    """A group of an open store: its children by name (see the module docstring).

    Returned by ``store["/grp"]``, ``store.root`` and ``store.create_group``.
    """

    def __init__(self, store: Any, path: str) -> None:
        self._store, self._path = store, path

    @property
    def path(self) -> str:
        """Absolute path of the group."""
        return self._path

    @property
    def name(self) -> str:
        """The group's own name (``""`` for the root)."""
        return self._path.rsplit("/", 1)[-1]

    @property
    def store(self) -> Any:
        return self._store

    @property
    def attrs(self) -> Attributes:
        """The group's attributes (a mutable mapping)."""
        return Attributes(self._store.fileref, self._path)

    def _child(self, name: str) -> str:
        if not isinstance(name, str):
            raise TypeError(f"node names are str, got {type(name).__name__}")
        # As in h5py: an absolute name is absolute, a relative one is below the group.
        return node_path(name if name.startswith("/") else f"{self._path}/{name}")

    def _node(self) -> Any:
        return self._store.fileref.file.get_node(self._path)

    def keys(self) -> list[str]:  # type: ignore[override]
        """Names of every child, sorted."""
        with HDF5_LOCK, quiet():
            return sorted(self._node()._v_children)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and "/" not in name.strip("/") and name.strip("/") in self.keys()

    def __getitem__(self, name: str) -> Any:
        return self._store[self._child(name)]

    def create_array(self, name: str, *args: Any, **kw: Any) -> Any:
        """:meth:`lazyarr.Store.create_array` with ``name`` relative to this group."""
        return self._store.create_array(self._child(name), *args, **kw)

    def create_ragged(self, name: str, **kw: Any) -> Any:
        """:meth:`lazyarr.Store.create_ragged` with ``name`` relative to this group."""
        return self._store.create_ragged(self._child(name), **kw)

    def create_group(self, name: str) -> "Group":
        """:meth:`lazyarr.Store.create_group` with ``name`` relative to this group."""
        return self._store.create_group(self._child(name))

    def tree(self) -> str:
        """This group's hierarchy as text (see :func:`tree`)."""
        return tree(self._store, self._path)

    def __str__(self) -> str:
        return self.tree()

    def __repr__(self) -> str:
        n = len(self)
        return f"<lazyarr.Group {self._path!r} ({n} member{'s' if n != 1 else ''})>"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Group) and other._store is self._store
                and other._path == self._path)

    def __hash__(self) -> int:
        return hash((id(self._store), self._path))


def _compression(desc: dict[str, Any]) -> str | None:
    lib = desc.get("complib")
    if not lib:
        return None
    return f"{lib} level {desc.get('level')}"


def describe_node(store: Any, path: str) -> dict[str, Any]:
    """The facts ``lazyarr info`` and :func:`tree` show for one node.

    Keys: ``path``, ``kind`` (a backend kind, ``"group"`` or ``None`` when
    lazyarr cannot open it), ``why`` (then), ``class`` (PyTables' node
    class), ``attrs`` (count); for arrays ``shape``, ``dtype``, ``chunks``,
    ``compression``, ``nbytes`` (logical), ``nbytes_stored`` and ``ratio``
    (logical / stored, as zarr's ``info``); for ragged arrays ``items`` and ``item_ndim``; for
    groups ``children``.
    """
    with HDF5_LOCK, quiet():
        node = store.fileref.file.get_node(path)
        kind, why = kind_of(node)
        out: dict[str, Any] = {"path": path, "kind": kind, "class": type(node).__name__}
        if kind is None:
            out["why"] = why
            return out
        out["attrs"] = len(Attributes(store.fileref, path))
        if kind == GROUP:
            out["children"] = len(node._v_children)
            return out
    try:
        x = store[path]
    except (KeyError, TypeError, ValueError, OSError) as exc:
        out.update(kind=None, why=str(exc).strip("\"'"))
        return out
    backend = x.backend
    desc = backend.describe()
    out["dtype"] = "c" if x.dtype.char == "c" else str(x.dtype)  # str() would say |S1
    if getattr(backend, "ragged", False):
        out.update(items=len(x), item_ndim=x.item_ndim, nbytes=int(x.nbytes))
    else:
        out.update(shape=list(x.shape), chunks=None if x.chunks is None else list(x.chunks),
                   nbytes=int(x.nbytes))
    out["compression"] = _compression(desc)
    stored = backend.nbytes_stored
    out["nbytes_stored"] = None if stored is None else int(stored)
    out["ratio"] = (None if stored is None or not out["nbytes"]
                    else round(out["nbytes"] / int(stored), 4) if stored else None)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(info: dict[str, Any]) -> str:
    """One line of text for :func:`describe_node`'s facts."""
    kind = info["kind"]
    if kind is None:
        return f"cannot open ({info['class']}): {info['why']}"
    if kind == GROUP:
        parts = [f"group, {_plural(info['children'], 'child').replace('childs', 'children')}"]
    elif "items" in info:
        parts = [f"{kind} {_plural(info['items'], 'item')} of {info['item_ndim']}-d {info['dtype']}"]
    else:
        parts = [f"{kind} {tuple(info['shape'])} {info['dtype']}"]
        if info.get("chunks"):
            parts.append(f"chunks {tuple(info['chunks'])}")
    if info.get("compression"):
        parts.append(info["compression"])
    if info.get("nbytes_stored") is not None:
        ratio = "" if info.get("ratio") is None else f" (ratio {info['ratio']:.3g})"
        parts.append(f"{info['nbytes']:,} B raw, {info['nbytes_stored']:,} B stored{ratio}")
    if info.get("attrs"):
        parts.append(_plural(info["attrs"], "attribute"))
    return ", ".join(parts)


def tree(store: Any, path: str = "/") -> str:
    """The hierarchy under ``path``, one node a line, with :func:`summary`'s facts."""
    lines = [f"{path}  {summary(describe_node(store, path))}"]

    def walk(group_path: str, prefix: str) -> None:
        with HDF5_LOCK, quiet():
            group = store.fileref.file.get_node(group_path)
            names = sorted(group._v_children)
            children = [(n, group._v_children[n]._v_pathname, is_group(group._v_children[n]))
                        for n in names]
        for i, (name, child, sub) in enumerate(children):
            last = i == len(children) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{name}  "
                         f"{summary(describe_node(store, child))}")
            if sub:
                walk(child, prefix + ("    " if last else "│   "))

    with HDF5_LOCK, quiet():
        top = is_group(store.fileref.file.get_node(path))
    if top:
        walk(path, "")
    return "\n".join(lines)
