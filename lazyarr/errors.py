"""Exception types raised by lazyarr.

Every lazyarr exception is also the built-in exception NumPy (or Python) would
raise in the same situation, so ``except ValueError`` keeps working in code
written for NumPy arrays.
"""

from __future__ import annotations

__all__ = [
    "LazyArrError",
    "ReadOnlyError",
    "ClosedError",
    "BackendError",
    "CorruptStoreError",
    "StorageError",
    "NodeNotFoundError",
]


class LazyArrError(Exception):
    """Base class of every lazyarr-specific exception."""


class ReadOnlyError(LazyArrError, ValueError):
    """A write to an array opened read-only.

    NumPy raises ``ValueError: assignment destination is read-only`` for the
    same mistake, so this is a ValueError too.
    """


class ClosedError(LazyArrError, ValueError):
    """An operation on an array whose store has been closed."""


class BackendError(LazyArrError, TypeError):
    """An object that cannot be used as (or stored by) a backend."""


class StorageError(LazyArrError, OSError):
    """HDF5 failed to read or write the file (a full disk, an I/O error, a
    file HDF5 cannot parse). The message names the file and the node; HDF5's
    own trace is kept as ``__cause__``."""


class CorruptStoreError(StorageError, ValueError):
    """Stored data that contradicts itself (a ragged array whose start/stop
    rows, shapes and flat data disagree, a chunk whose checksum does not
    match, metadata HDF5 cannot parse).

    The message names the file, the node and the first bad item or chunk.
    Reading on would return garbage, so lazyarr refuses instead. An OSError
    (the file is damaged) and, as before, a ValueError.
    """


class NodeNotFoundError(LazyArrError, KeyError):
    """No node at that path in the file (a KeyError, as for a mapping)."""

    def __str__(self) -> str:
        # KeyError's str() is the repr of its argument; ours is a sentence.
        return str(self.args[0]) if self.args else ""


class UnopenableNodeError(BackendError, KeyError):
    """A node lazyarr marked as one of its arrays that this lazyarr cannot
    open (a kind not installed, a kind that stores nothing in files, a newer
    format version). A BackendError saying why, and a KeyError: a store is a
    mapping, and ``store.get(path)`` gives its default for it."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
