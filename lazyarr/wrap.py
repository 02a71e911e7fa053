"""``la.wrap(obj)``: a LazyArray over an object, with the backend picked by its type."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from lazyarr.array import LazyArray
from lazyarr.backends.base import Backend
from lazyarr.backends.memory import MemoryBackend

__all__ = ["wrap"]

_SUPPORTED = (
    "numpy.ndarray, h5py.Dataset, zarr.Array, a LazyArray, or an object "
    "implementing the backend protocol (lazyarr.backends.Backend)"
)


def _is_instance(obj: Any, module: str, *names: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module``.

    An object of that type can only exist once its module is imported.
    """
    mod = sys.modules.get(module)
    if mod is None:
        return False
    for name in names:
        cls = mod
        for part in name.split("."):
            cls = getattr(cls, part, None)
        if isinstance(cls, type) and isinstance(obj, cls):
            return True
    return False


def wrap(obj: Any, cache: Any = None) -> LazyArray:
    """A :class:`lazyarr.LazyArray` over ``obj``, with NumPy's full indexing.

    The backend comes from the type of ``obj``: an ``ndarray`` becomes a
    :class:`~lazyarr.backends.MemoryBackend` (no copy: writes go to the
    array), an ``h5py.Dataset`` an :class:`~lazyarr.backends.H5pyBackend`, a
    ``zarr.Array`` a :class:`~lazyarr.backends.ZarrBackend`; an object that
    already implements the backend protocol is used as is, and a LazyArray
    is rewrapped with ``cache`` (or returned unchanged when ``cache`` is None).

    Parameters
    ----------
    obj : object
        The array to wrap.
    cache : CachePolicy, optional
        How reads reach the backend (:class:`lazyarr.NoCache` by default).
        :class:`lazyarr.InMemory` only applies to files opened by
        :func:`lazyarr.open`.

    Raises
    ------
    TypeError
        ``obj`` is none of the supported types (the message lists them).
    ValueError
        ``cache=InMemory()`` for an h5py or zarr array (load those into
        memory with h5py's core driver or a zarr MemoryStore).

    Examples
    --------
    >>> import numpy as np, lazyarr as la
    >>> x = la.wrap(np.arange(10))
    >>> x.backend.kind, x[[-1, 0, -1]]
    ('memory', array([9, 0, 9]))
    >>> la.wrap([1, 2])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: cannot wrap a list: expected numpy.ndarray, h5py.Dataset, zarr.Array, ...
    """
    if isinstance(obj, LazyArray):
        return obj if cache is None else LazyArray(obj.backend, cache=cache)
    if isinstance(obj, np.ndarray):
        return LazyArray(MemoryBackend(obj), cache=cache)
    if _is_instance(obj, "h5py", "Dataset"):
        from lazyarr.backends.h5py_dataset import H5pyBackend

        return LazyArray(H5pyBackend(obj), cache=cache)
    if _is_instance(obj, "zarr", "Array", "core.Array"):
        from lazyarr.backends.zarr_array import ZarrBackend

        return LazyArray(ZarrBackend(obj), cache=cache)
    if _is_instance(obj, "tables", "Leaf"):
        raise TypeError(
            "cannot wrap a PyTables node directly: open its file with lazyarr, "
            "lazyarr.open_array(path, node) or lazyarr.open(path)[node]"
        )
    if isinstance(obj, Backend):
        return LazyArray(obj, cache=cache)
    raise TypeError(f"cannot wrap a {type(obj).__name__}: expected {_SUPPORTED}")
