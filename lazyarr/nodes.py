"""What each node of an HDF5 file is to lazyarr, and the backend that opens it.

One place decides, for a PyTables node, which array object it becomes:

==========================================  ===================================
node                                        opens as
==========================================  ===================================
marked ``LAZYARR_BACKEND`` (array or group)  that backend kind (and, with
                                            ``LAZYARR_DTYPE``, its NumPy dtype)
``Array``/``CArray``/``EArray``             ``plain`` (contiguous) or
                                            ``compressed`` (chunked);
                                            h5py's enum bool as ``bool``
``Table`` (h5py 1-d compound too)           ``table``: structured dtype
``VLArray`` of numbers                      ``vlarray``: a RaggedArray
h5py variable-length strings                ``h5py-strings``: read-only,
                                            ``dtype=object`` of ``str``
``Group``                                   a :class:`lazyarr.groups.Group`
==========================================  ===================================

Anything else (links, sub-array atoms, object VLArrays, unknown dtypes) is
*unopenable*: listed with the reason, which ``store[path]`` raises as a
KeyError.

Examples
--------
>>> node_path("grp//data/")
'/grp/data'
"""

from __future__ import annotations

import inspect
from typing import Any, Iterator

import numpy as np
import tables

from lazyarr.array import LazyArray
from lazyarr.backends._hdf5 import (
    ATTR_BACKEND,
    ATTR_ROWS,
    ATTR_VERSION,
    FORMAT_VERSION,
    HDF5_LOCK,
    hdf5_errors,
    quiet,
)
from lazyarr.backends._hdf5_sane import check_children, precheck_node
from lazyarr.backends._pytables import check_dtype
from lazyarr.backends.base import backend_class, backend_kinds
from lazyarr.backends.compressed import CompressedBackend  # noqa: F401  (registers)
from lazyarr.backends.encoded import ATTR_DTYPE, EncodedBackend, dtype_from_attr
from lazyarr.backends.plain import PlainBackend  # noqa: F401  (registers)
from lazyarr.backends.table import TableBackend  # noqa: F401  (registers)
from lazyarr.backends.vlarray import VLArrayBackend, vlarray_problem  # noqa: F401
from lazyarr.errors import BackendError, CorruptStoreError, NodeNotFoundError, UnopenableNodeError
from lazyarr.ragged import RaggedArray

__all__ = ["node_path", "kind_of", "walk", "open_backend", "wrap_backend", "is_group"]

#: The kind :func:`kind_of` gives a group that is not itself an array.
GROUP = "group"
#: Attributes of lazyarr's own bookkeeping, hidden from ``attrs``.
HIDDEN_ATTRS = frozenset({ATTR_BACKEND, ATTR_VERSION, ATTR_ROWS, ATTR_DTYPE, "item_ndim"})


def node_path(name: str) -> str:
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


def is_group(node: Any) -> bool:
    """A group that is a container, not an array stored as a group."""
    return isinstance(node, tables.Group) and ATTR_BACKEND not in node._v_attrs


def _is_enum_bool(atom: Any) -> bool:
    # h5py stores bool as an int8 enum {FALSE: 0, TRUE: 1}.
    return isinstance(atom, tables.EnumAtom) and dict(atom.enum) == {"FALSE": 0, "TRUE": 1}


def _h5py_strings(node: Any) -> str | None:
    """Why an UnImplemented node is not h5py variable-length strings, or None."""
    try:
        from lazyarr.backends.h5py_strings import strings_problem
    except ImportError:
        return "it is a dataset PyTables cannot read (pip install h5py to read vlen strings)"
    return strings_problem(node._v_file.filename, node._v_pathname)


def kind_of(node: Any) -> tuple[str | None, str]:
    """Which backend kind opens ``node`` (or :data:`GROUP`), else ``(None, why not)``."""
    if isinstance(node, tables.link.Link):
        return None, f"it is a {type(node).__name__}"
    if isinstance(node, tables.UnImplemented):
        why = _h5py_strings(node)
        return ("h5py-strings", "") if why is None else (None, why)
    attrs = node._v_attrs
    if ATTR_BACKEND in attrs._v_attrnamesuser:
        return _marked_kind(node)
    if isinstance(node, tables.Group):
        return GROUP, ""
    if isinstance(node, tables.Table):
        return "table", ""
    if isinstance(node, tables.VLArray):
        why = vlarray_problem(node)
        return ("vlarray", "") if why is None else (None, why)
    if not isinstance(node, tables.Array):
        return None, f"it is a {type(node).__name__}, not an array"
    if node.atom.shape != ():
        return None, f"its atom {node.atom!r} is not scalar"
    if not _is_enum_bool(node.atom):
        try:
            check_dtype(node.atom.dtype)
        except BackendError as exc:
            return None, str(exc)
    return ("plain" if node.chunkshape is None else "compressed"), ""


def _marked_kind(node: Any) -> tuple[str | None, str]:
    """The kind of a node lazyarr marked, or ``(None, why it cannot be opened)``.

    Such a node is listed like every other; opening it raises
    :class:`lazyarr.BackendError` with the reason (an unknown kind, a kind
    that stores nothing in files, a newer format version).
    """
    attrs = node._v_attrs
    kind = attrs[ATTR_BACKEND]
    if isinstance(kind, bytes):
        kind = kind.decode("utf-8", "replace")
    if not isinstance(kind, str):
        return None, f"its {ATTR_BACKEND} attribute is {kind!r}, not a backend name"
    if kind not in backend_kinds():
        return None, f"it was written by backend kind {kind!r}, which is not installed"
    try:
        # Kinds that open nodes of files are made as cls(fileref, path);
        # others (the memory backend: cls(ndarray)) cannot open a file's node.
        inspect.signature(backend_class(kind)).bind(None, None)
    except TypeError:
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


def walk(group: Any) -> Iterator[Any]:
    """Every node under ``group``, depth first in name order (arrays stored
    as groups count as one node: their columns are not listed)."""
    check_children(group)  # none left out silently (issue 14)
    for name in sorted(group._v_children):
        # Before PyTables loads (and parses) the child (issue 14).
        precheck_node(group._v_file, group._v_pathname.rstrip("/") + "/" + name)
        child = group._v_children[name]
        yield child
        if is_group(child):
            yield from walk(child)


def open_backend(ref: Any, path: str, node: Any = None) -> Any:
    """The backend of the array at ``path``; KeyError says why there is none.

    Caller holds :data:`HDF5_LOCK`.
    """
    with HDF5_LOCK, quiet(), hdf5_errors(f"opening {path!r} in {ref.path!r}", True):
        if node is None:
            precheck_node(ref.file, path)  # before PyTables loads (and parses) it
            try:
                node = ref.file.get_node(path)
            except tables.NoSuchNodeError:
                raise NodeNotFoundError(f"no node {path!r} in {ref.path!r}") from None
            except KeyError:  # a damaged symbol table names a child it lacks
                raise CorruptStoreError(f"{ref.path!r} is corrupt: its group entries for "
                                        f"{path!r} cannot be read") from None
        kind, why = kind_of(node)
        if kind == GROUP:
            raise NodeNotFoundError(f"{path!r} in {ref.path!r} is a group, not an array")
        if kind is None:
            if ATTR_BACKEND in node._v_attrs._v_attrnamesuser:
                raise UnopenableNodeError(f"{path!r} in {ref.path!r} cannot be opened: {why}")
            raise NodeNotFoundError(
                f"{path!r} in {ref.path!r} is not an array lazyarr can open: {why}")
        backend = backend_class(kind)(ref, path)
        if ATTR_DTYPE in node._v_attrs and not getattr(backend, "ragged", False):
            return EncodedBackend(backend, dtype_from_attr(node._v_attrs[ATTR_DTYPE]))
        if isinstance(node, tables.Array) and _is_enum_bool(node.atom):
            return EncodedBackend(backend, np.dtype(bool), storage=(np.dtype("i1"), None))
        return backend


def wrap_backend(backend: Any, cache: Any) -> Any:
    """The array object for a backend: RaggedArray for ragged layouts."""
    if getattr(backend, "ragged", False):
        return RaggedArray(backend, cache=cache)
    return LazyArray(backend, cache=cache)
