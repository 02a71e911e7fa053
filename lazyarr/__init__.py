"""lazyarr: NumPy arrays that live in HDF5 files.

Examples
--------
>>> import numpy as np, lazyarr as la
>>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(12).reshape(3, 4)))
>>> x[[2, 0, 2], ::-2]
array([[11,  9],
       [ 3,  1],
       [11,  9]])
"""

# First: HDF5 reads its plugin folders when tables is imported (see _plugins).
from lazyarr import _plugins

_plugins.setup()

from lazyarr import backends  # noqa: E402
from lazyarr.array import LazyArray
from lazyarr.batches import pad
from lazyarr.cache import InMemory, NoCache, SwapWindow
from lazyarr.errors import (
    BackendError,
    ClosedError,
    CorruptStoreError,
    LazyArrError,
    NodeNotFoundError,
    UnopenableNodeError,
    ReadOnlyError,
    StorageError,
)
from lazyarr.progress import progress
from lazyarr.ragged import RaggedArray
from lazyarr.store import Store, open, open_array
from lazyarr.wrap import wrap

__all__ = [
    "LazyArray",
    "pad",
    "progress",
    "InMemory",
    "NoCache",
    "SwapWindow",
    "RaggedArray",
    "backends",
    "BackendError",
    "ClosedError",
    "CorruptStoreError",
    "LazyArrError",
    "NodeNotFoundError",
    "UnopenableNodeError",
    "ReadOnlyError",
    "StorageError",
    "Store",
    "open",
    "open_array",
    "wrap",
]

__version__ = "0.1.0"
