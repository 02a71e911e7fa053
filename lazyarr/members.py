"""The ndarray members NumPy code reaches for, on a LazyArray.

Lazy (nothing is read until the result is indexed, and a chain of them is
one read of the base): ``T``, ``transpose``, ``swapaxes``, ``squeeze``,
``reshape`` when it keeps rows contiguous (see :class:`lazyarr.derived.ReshapedView`)
and ``astype`` (a read-only view that casts what it reads). In memory, as
NumPy returns them: ``copy``, ``flatten``, ``ravel``, ``tolist``, ``item``.
Arguments NumPy rejects raise NumPy's exception, checked on a zero-stride
stand-in of the array's shape before anything is read.

``fill`` and ``sort`` are not offered: they rewrite the whole array, and a
write that fails half-way would leave the file neither as it was nor as asked.

Examples
--------
>>> import numpy as np, lazyarr as la
>>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(6).reshape(2, 3)))
>>> x.T
LazyArray(shape=(3, 2), dtype=int64, backend='memory', cache=NoCache(), view)
>>> x.T[::2]
array([[0, 3],
       [2, 5]])
>>> v = x.T.lazy[::2].astype("f4")      # still nothing read
>>> v[1], v.dtype
(array([2., 5.], dtype=float32), dtype('float32'))
>>> x.reshape(3, 2)[2], x.reshape(-1)[4]
(array([4, 5]), np.int64(4))
>>> x.item(4), x.tolist()
(4, [[0, 1, 2], [3, 4, 5]])
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from lazyarr.core.selection import stand_in as _probe  # NumPy validates arguments on it for free

__all__ = ["MembersMixin"]


def _axes_arg(axes: tuple) -> Any:
    # ndarray.transpose(*axes): no argument, one tuple/list/None, or ints.
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        return axes[0]
    return axes or None


def _view(x: Any, how: str, arg: Any) -> Any:
    """A LazyView of ``x`` whose map is ``x``'s map transposed or unit-reshaped."""
    from lazyarr.view import LazyView, identity, transpose_map, unit_reshape_map

    base, m = (x._base, x._map) if isinstance(x, LazyView) else (x, identity(x.shape))
    new = transpose_map(m, arg) if how == "transpose" else unit_reshape_map(m, arg)
    return None if new is None else LazyView(base, new)


class MembersMixin:
    """ndarray members for an array with ``shape``, ``dtype`` and NumPy indexing."""

    @property
    def T(self) -> Any:
        """The transposed array, lazily (as ``ndarray.T``)."""
        return self.transpose()

    @property
    def mT(self) -> Any:
        """The last two axes swapped, lazily (as ``ndarray.mT``)."""
        if self.ndim < 2:
            raise ValueError("matrix transpose with ndim < 2 is undefined")
        return self.swapaxes(-1, -2)

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self.dtype.itemsize

    def transpose(self, *axes: Any) -> Any:
        """A lazy view with the axes permuted, as ``ndarray.transpose``.

        Examples
        --------
        >>> import numpy as np, lazyarr as la
        >>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(24).reshape(2, 3, 4)))
        >>> x.transpose(1, 2, 0).shape, x.transpose((2, 0, 1))[3, 1]
        ((3, 4, 2), array([15, 19, 23]))
        """
        axes = _axes_arg(axes)
        _probe(self.shape).transpose(axes)  # NumPy's errors, nothing read
        perm = tuple(reversed(range(self.ndim))) if axes is None else normalize_axis_tuple(axes, self.ndim)
        return _view(self, "transpose", perm)

    def swapaxes(self, axis1: int, axis2: int) -> Any:
        """A lazy view with two axes swapped, as ``ndarray.swapaxes``."""
        _probe(self.shape).swapaxes(axis1, axis2)
        a, b = normalize_axis_index(axis1, self.ndim), normalize_axis_index(axis2, self.ndim)
        perm = list(range(self.ndim))
        perm[a], perm[b] = b, a
        return _view(self, "transpose", tuple(perm))

    def squeeze(self, axis: Any = None) -> Any:
        """A lazy view without length-1 axes (or the given ones), as ``ndarray.squeeze``."""
        shape = _probe(self.shape).squeeze(axis).shape
        return _view(self, "reshape", shape)

    def reshape(self, *shape: Any, order: str = "C", copy: bool | None = None) -> Any:
        """The array with a new shape, as ``ndarray.reshape``.

        Lazy when the reshape only adds or drops length-1 axes, or keeps rows
        contiguous (a row of the result is whole rows of this array, or a row
        of this array is whole rows of the result, in C order); otherwise, and
        for ``order='F'`` or ``copy=True``, NumPy's answer on the array in
        memory. ``copy=False`` raises ValueError where the result is not lazy.

        Examples
        --------
        >>> import numpy as np, lazyarr as la
        >>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(12).reshape(3, 4)))
        >>> y = x.reshape(6, 2)
        >>> y
        LazyArray(shape=(6, 2), dtype=int64, backend='memory', cache=NoCache(), view)
        >>> y[[5, 0]]
        array([[10, 11],
               [ 0,  1]])
        """
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        new = _probe(self.shape).reshape(shape, order=order).shape
        lazy = None
        if order in ("C", "A") and copy is not True:
            lazy = _view(self, "reshape", new)
            if lazy is None:
                from lazyarr.derived import ReshapedView

                lazy = ReshapedView.of(self, new)
        if lazy is not None:
            return lazy
        if copy is False:
            raise ValueError("Unable to avoid creating a copy while reshaping.")
        return np.asarray(self).reshape(new, order=order)

    def astype(self, dtype: Any, order: str = "K", casting: str = "unsafe", subok: bool = True,
               copy: bool = True) -> Any:
        """A read-only lazy view that casts on read, as ``ndarray.astype``.

        NumPy's casting rules decide (``casting=`` is checked now, before
        anything is read). With ``copy=False`` and the same dtype the array
        itself is returned, as NumPy does; otherwise a new view whose reads
        cast. Like NumPy's copy, writing to it never changes this array (it
        raises ReadOnlyError); unlike a copy, it reads storage when indexed.

        Examples
        --------
        >>> import numpy as np, lazyarr as la
        >>> x = la.LazyArray(la.backends.MemoryBackend(np.array([1.5, -2.5])))
        >>> x.astype(np.int8)[:]
        array([ 1, -2], dtype=int8)
        >>> x.astype("f4", casting="safe")
        Traceback (most recent call last):
        ...
        TypeError: Cannot cast array data from dtype('float64') to dtype('float32') according to the rule 'safe'
        """
        np.empty(0, self.dtype).astype(dtype, order=order, casting=casting, copy=copy)
        dtype = np.dtype(dtype)
        if dtype == self.dtype and not copy:
            return self
        from lazyarr.derived import CastView

        return CastView(self, dtype)

    def copy(self, order: str = "C") -> np.ndarray:
        """The whole array in memory, as ``ndarray.copy``."""
        a = np.asarray(self)
        # A fresh read owns its data: copy only what a cache may still hold.
        if a.base is not None or not a.flags.owndata or (order == "F" and a.ndim > 1):
            a = a.copy(order=order)
        return a

    def flatten(self, order: str = "C") -> np.ndarray:
        """The elements in a 1-d array in memory, as ``ndarray.flatten``."""
        _probe(self.shape).flatten(order)
        return self.copy().reshape(-1, order=order if order in ("C", "F") else "C")

    def ravel(self, order: str = "C") -> np.ndarray:
        """The elements in a 1-d array in memory, as ``ndarray.ravel``."""
        return self.flatten(order)

    def tolist(self) -> Any:
        """The elements as nested Python lists of Python scalars."""
        return np.asarray(self).tolist()

    def item(self, *args: Any) -> Any:
        """One element as a Python scalar, as ``ndarray.item`` (reads one element)."""
        probe = _probe(self.shape)
        probe.item(*args)  # NumPy's errors for a bad position
        if len(args) == 1 and isinstance(args[0], tuple):
            args = args[0]
        if not args:
            pos = (0,) * self.ndim
        elif len(args) == 1 and self.ndim != 1:
            i = operator.index(args[0])
            pos = np.unravel_index(i % self.size, self.shape)
        else:
            pos = tuple(operator.index(a) for a in args)
        return self[tuple(int(p) for p in pos)].item()
