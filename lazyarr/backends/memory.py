"""A NumPy array as a backend: the reference implementation and a test double."""

from __future__ import annotations

import numpy as np

from lazyarr.backends.base import BackendBase, Selection, register_backend
from lazyarr.errors import BackendError

__all__ = ["MemoryBackend"]


def _orthogonal_index(sel: Selection) -> tuple:
    """A NumPy key that selects the same box as the orthogonal selection ``sel``.

    With any array present every axis becomes an ``np.ix_`` array, so several
    arrays select their outer product rather than points.
    """
    if all(isinstance(s, slice) for s in sel):
        # ``...`` keeps a 0-d selection an array (``a[()]`` would be a scalar).
        return tuple(sel) + (Ellipsis,)
    return np.ix_(
        *[np.arange(s.start, s.stop, s.step) if isinstance(s, slice) else s for s in sel]
    )


@register_backend
class MemoryBackend(BackendBase):
    """Serve an in-memory NumPy array through the backend protocol.

    Parameters
    ----------
    array : array_like
        The data. It is used as is (no copy) when it is already an ndarray,
        so writes through a LazyArray are visible in ``array``.
    readonly : bool, optional
        Refuse writes and appends.

    Examples
    --------
    >>> import numpy as np, lazyarr as la
    >>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(10)))
    >>> x[::-3]
    array([9, 6, 3, 0])
    """

    kind = "memory"
    extendable = True

    def __init__(self, array, *, readonly: bool = False) -> None:
        a = np.asarray(array)
        if a.dtype.hasobject:
            raise BackendError("object arrays cannot be stored: use a numeric dtype")
        self._a = a
        self.readonly = readonly or not a.flags.writeable

    @property
    def array(self) -> np.ndarray:
        """The array behind this backend."""
        return self._a

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self._a.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._a.dtype

    def read(self, sel: Selection) -> np.ndarray:
        return np.array(self._a[_orthogonal_index(sel)], copy=True)

    def write(self, sel: Selection, value: np.ndarray) -> None:
        self._a[_orthogonal_index(sel)] = value

    def append(self, rows: np.ndarray) -> None:
        # A new array each time: the old one may be shared with the caller.
        # Not np.concatenate: its dtype promotion drops a big-endian order.
        out = np.empty((len(self._a) + len(rows),) + self._a.shape[1:], dtype=self._a.dtype)
        out[: len(self._a)] = self._a
        out[len(self._a) :] = rows
        self._a = out

    def describe(self) -> dict:
        return {"in_memory": True}

    def __reduce__(self):
        # The data itself (there is no file to refer to). The dtype travels
        # separately: NumPy 2.4 unpickles a big-endian array as native order
        # under pickle protocols < 5.
        return (_restore, (self._a, self._a.dtype, self.readonly))


def _restore(a: np.ndarray, dtype: np.dtype, readonly: bool) -> MemoryBackend:
    if a.dtype != dtype:
        a = a.astype(dtype)
    return MemoryBackend(a, readonly=readonly)
