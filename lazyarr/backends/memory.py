"""A NumPy array as a backend: the reference implementation and a test double."""

from __future__ import annotations

import numpy as np

from lazyarr.backends.base import BackendBase, IndexingSupport, Selection, register_backend
from lazyarr.core.selection import VIEW_TYPES, apply_orthogonal, orthogonal_key, stack
from lazyarr.errors import BackendError

__all__ = ["MemoryBackend"]


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

    @property
    def support(self) -> IndexingSupport:  # type: ignore[override]
        """NUMPY: the read path hands user keys to NumPy on the array itself.

        A subclass that reads or writes in its own way is read through the
        protocol (ORTHOGONAL), so its ``read``/``write`` are what runs.
        """
        cls = type(self)
        if cls.read is MemoryBackend.read and cls.write is MemoryBackend.write:
            return IndexingSupport.NUMPY
        return IndexingSupport.ORTHOGONAL

    def __init__(self, array, *, readonly: bool = False) -> None:
        a = np.asarray(array)
        if a.dtype.hasobject:
            raise BackendError("object arrays cannot be stored: use a numeric dtype")
        self._set(a)
        self.readonly = readonly or not a.flags.writeable

    def _set(self, a: np.ndarray) -> None:
        self._a = a
        #: The array, and what NumPy makes the base of a view of it: a result
        #: with that base shares memory with the backend and must be copied.
        #: One attribute, replaced whole on append, so the read path can index
        #: the array without a call into this backend (BoundCache.direct_reader).
        self.numpy_source = (a, a[...].base)

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
        return apply_orthogonal(self._a, sel)

    def write(self, sel: Selection, value: np.ndarray) -> None:
        a = self._a
        a[orthogonal_key(sel, a.shape)] = value

    def getitem(self, key: object) -> object:
        """``array[key]`` as NumPy gives it, never a view of the array."""
        a, owner = self.numpy_source
        out = a[key]
        if type(out) in VIEW_TYPES and out.base is owner:
            return out.copy()
        return out

    def setitem(self, key: object, value: object) -> None:
        """``array[key] = value``, NumPy's rules."""
        self._a[key] = value

    def append(self, rows: np.ndarray) -> None:
        # A new array each time: the old one may be shared with the caller.
        out = stack([self._a, rows], self._a.dtype)
        self._set(out)

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
