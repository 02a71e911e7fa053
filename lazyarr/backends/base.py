"""The backend protocol, the registry of backend kinds, and the HDF5 lock.

A backend is the only code that touches storage. It never sees a user's key:
the planner (:mod:`lazyarr.core.plan`) hands it an *orthogonal selection*, one entry
per stored axis, each entry either

* a ``slice`` with ``0 <= start <= stop <= shape[axis]`` and ``step >= 1``
  (already normalized: no ``None``, no negatives), or
* a sorted, unique, in-bounds ``int64`` 1-d ndarray.

``read(sel)`` returns a new ndarray whose shape is the per-axis lengths of
``sel`` (``len(range(start, stop, step))`` or ``len(array)``) and whose dtype is
exactly ``backend.dtype``. ``write(sel, value)`` stores ``value`` (already of
that shape and dtype) at those positions. ``append(rows)`` extends axis 0
(``rows.shape[1:] == shape[1:]``, dtype already ``backend.dtype``).

A backend also declares what it can read (``support``, an
:class:`~lazyarr.core.support.IndexingSupport` level) and its cost parameters
(``cost``, a :class:`~lazyarr.core.support.CostModel`); see :mod:`lazyarr.core`.

Examples
--------
>>> import numpy as np
>>> from lazyarr.backends import MemoryBackend
>>> b = MemoryBackend(np.arange(12).reshape(3, 4))
>>> b.read((slice(0, 3, 2), np.array([1, 3])))
array([[ 1,  3],
       [ 9, 11]])
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from lazyarr.core.selection import Selection, selection_shape
from lazyarr.core.support import DEFAULT_COST, CostModel, IndexingSupport

__all__ = [
    "Backend",
    "Selection",
    "HDF5_LOCK",
    "register_backend",
    "backend_class",
    "backend_kinds",
    "selection_shape",
    "BackendBase",
    "FileNodeBackend",
    "check_plain_dtype",
    "IndexingSupport",
    "CostModel",
]

#: PyTables and HDF5 are not thread-safe: every call into them, from any
#: backend in this process, holds this lock. Planning and the in-memory
#: post-key run outside it.
HDF5_LOCK = threading.RLock()


@runtime_checkable
class Backend(Protocol):
    """What :class:`lazyarr.LazyArray` needs from storage."""

    kind: str
    shape: tuple[int, ...]
    dtype: np.dtype
    chunks: tuple[int, ...] | None
    readonly: bool
    extendable: bool

    def read(self, sel: Selection) -> np.ndarray:  # pragma: no cover - protocol
        ...

    def write(self, sel: Selection, value: np.ndarray) -> None:  # pragma: no cover
        ...

    def append(self, rows: np.ndarray) -> None:  # pragma: no cover
        ...


class BackendBase:
    """Convenience base class: defaults for the optional parts of the protocol.

    Subclasses set ``kind`` and implement ``read``; writable ones implement
    ``write`` and extendable ones ``append``.
    """

    kind: ClassVar[str] = ""
    readonly: bool = True
    extendable: bool = False
    chunks: tuple[int, ...] | None = None
    #: What ``read`` takes: the protocol's orthogonal selections.
    support: IndexingSupport = IndexingSupport.ORTHOGONAL

    @property
    def cost(self) -> CostModel:
        """This backend's cost parameters (the defaults, with its chunk shape)."""
        return CostModel(chunks=self.chunks) if self.chunks else DEFAULT_COST

    @property
    def nbytes_stored(self) -> int | None:
        """Bytes the data occupies in storage, or None when unknown."""
        return None

    def write(self, sel: Selection, value: np.ndarray) -> None:
        raise TypeError(f"{self.kind} backend is not writable")

    def append(self, rows: np.ndarray) -> None:
        raise TypeError(f"{self.kind} backend is not extendable")

    def flush(self) -> None:
        """Push buffered writes to storage (no-op by default)."""

    def describe(self) -> dict[str, Any]:
        """Facts for a repr or a bug report; must not read array data."""
        return {}


class FileNodeBackend(BackendBase):
    """Base of the backends of one node of an HDF5 file (set ``_ref``, ``_path``)."""

    _ref: Any
    _path: str

    @property
    def fileref(self) -> Any:
        """The file this array lives in (a :class:`lazyarr.files.FileRef`)."""
        return self._ref

    @property
    def path(self) -> str:
        """Absolute path of the node inside the file (for a ragged array, its
        group; for layouts written by others, its data node)."""
        return self._path


_REGISTRY: dict[str, type] = {}


def register_backend(cls: type) -> type:
    """Register a backend class under its ``kind`` (usable as a decorator).

    Examples
    --------
    >>> from lazyarr.backends.base import backend_class
    >>> backend_class("memory").__name__
    'MemoryBackend'
    """
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{cls!r} has no 'kind' string")
    _REGISTRY[kind] = cls
    return cls


def backend_class(kind: str) -> type:
    """The class registered for ``kind``; KeyError names the known kinds."""
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise KeyError(
            f"unknown backend kind {kind!r}; known kinds: {sorted(_REGISTRY)}"
        ) from None


def backend_kinds() -> list[str]:
    """Names of every registered backend kind."""
    return sorted(_REGISTRY)


def check_plain_dtype(dtype: Any, what: str) -> np.dtype:
    """``dtype`` if it is bool, numeric or fixed-width bytes; else TypeError.

    For backends over other libraries' arrays (h5py, zarr), which can hold
    dtypes lazyarr does not index (objects, strings, records).

    Examples
    --------
    >>> check_plain_dtype("<f4", "dataset '/x'")
    dtype('float32')
    >>> check_plain_dtype("O", "zarr array")
    Traceback (most recent call last):
    ...
    TypeError: zarr array has dtype object; only bool, numeric and fixed-width bytes are supported
    """
    dt = np.dtype(dtype)
    if dt.kind not in "biufcS" or dt.hasobject or dt.shape:
        raise TypeError(f"{what} has dtype {dt}; only bool, numeric and fixed-width bytes are supported")
    return dt
