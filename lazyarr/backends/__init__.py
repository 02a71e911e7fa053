"""Storage backends: the only code that touches PyTables (or another store).

:class:`H5pyBackend` and :class:`ZarrBackend` are imported on first use, so
importing lazyarr never imports h5py or zarr (optional extras:
``pip install lazyarr[h5py]`` / ``lazyarr[zarr]``).
"""

from typing import Any

from lazyarr.backends.base import (
    HDF5_LOCK,
    Backend,
    BackendBase,
    Selection,
    backend_class,
    backend_kinds,
    register_backend,
    selection_shape,
)
from lazyarr.backends.memory import MemoryBackend
from lazyarr.backends.plain import PlainBackend
from lazyarr.backends.compressed import CompressedBackend
from lazyarr.backends.ragged_offsets import RaggedOffsetsBackend
from lazyarr.backends.ragged_vl import RaggedVLBackend

__all__ = [
    "HDF5_LOCK",
    "Backend",
    "BackendBase",
    "Selection",
    "backend_class",
    "backend_kinds",
    "register_backend",
    "selection_shape",
    "MemoryBackend",
    "PlainBackend",
    "CompressedBackend",
    "RaggedOffsetsBackend",
    "RaggedVLBackend",
    "H5pyBackend",
    "ZarrBackend",
]

#: Backends of optional extras: name -> module, imported on first access.
_LAZY = {
    "H5pyBackend": "lazyarr.backends.h5py_dataset",
    "ZarrBackend": "lazyarr.backends.zarr_array",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY))
