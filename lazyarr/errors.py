"""Exception types raised by lazyarr.

Every lazyarr exception is also the built-in exception NumPy (or Python) would
raise in the same situation, so ``except ValueError`` keeps working in code
written for NumPy arrays.
"""

from __future__ import annotations

__all__ = ["LazyArrError", "ReadOnlyError", "ClosedError", "BackendError", "CorruptStoreError"]


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


class CorruptStoreError(LazyArrError, ValueError):
    """Stored data that contradicts itself (a ragged array whose start/stop
    rows, shapes and flat data disagree, say).

    The message names the file, the node and the first bad item. Reading on
    would return garbage, so lazyarr refuses instead.
    """
