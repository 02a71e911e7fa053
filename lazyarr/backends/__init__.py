"""Storage backends: the only code that touches PyTables (or another store)."""

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
]
