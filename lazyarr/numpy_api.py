"""Ufuncs and operators for array objects: NumPy's ``NDArrayOperatorsMixin`` pattern.

``x + 1``, ``2 * x``, ``x > 0``, ``-x``, ``x @ w``, ``np.sqrt(x)`` and
``np.add(x, y)`` read each LazyArray operand once (``np.asarray``) and return
what NumPy returns for the in-memory arrays. ``ufunc.reduce`` of add,
multiply, minimum, maximum, logical_or and logical_and runs out of core
(:mod:`lazyarr.reduce`); other ufuncs' reduce reads the operand whole. An
``out=`` that is a LazyArray is written back to storage. The ufunc methods
``accumulate``, ``reduceat``, ``outer`` and ``at`` return NotImplemented, so
NumPy raises its usual TypeError.

Examples
--------
>>> import numpy as np, lazyarr as la
>>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(4.0)))
>>> x * 2 + 1
array([1., 3., 5., 7.])
>>> np.add.reduce(x), np.maximum.reduce(x)
(np.float64(6.0), np.float64(3.0))
>>> np.sqrt(x, out=x)      # written to storage
LazyArray(shape=(4,), dtype=float64, backend='memory', cache=NoCache())
>>> x[1:]
array([1.        , 1.41421356, 1.73205081])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = ["NumpyOperatorsMixin"]

#: ufunc -> the out-of-core reduction its ``reduce`` method runs.
_REDUCTIONS = {
    np.add: "sum",
    np.multiply: "prod",
    np.minimum: "min",
    np.maximum: "max",
    np.logical_or: "any",
    np.logical_and: "all",
}


def _is_ours(obj: Any) -> bool:
    return isinstance(obj, NumpyOperatorsMixin)


class NumpyOperatorsMixin(NDArrayOperatorsMixin):
    """Arithmetic, comparison and bitwise operators and ufuncs through ``__array_ufunc__``.

    Like ndarray, an object with this mixin is unhashable (``==`` is elementwise).
    """

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        for obj in inputs + tuple(kwargs.get("out", ()) or ()):
            handler = getattr(type(obj), "__array_ufunc__", None)
            # NEP 13: defer to other array types that implement the protocol.
            if handler is not None and not _is_ours(obj) and handler is not np.ndarray.__array_ufunc__:
                return NotImplemented
        if method == "reduce":
            return _reduce(ufunc, inputs, kwargs)
        if method != "__call__":
            return NotImplemented
        outs = kwargs.pop("out", None)
        if not outs and ufunc.nout == 1 and "where" not in kwargs:
            # The ndarray result filled block by block (issue 16): memory is
            # the result and a block, not the inputs read whole as well.
            from lazyarr.numpy_elementwise import ufunc_in_blocks

            res = ufunc_in_blocks(ufunc, inputs, kwargs)
            if res is not None:
                return res
        args = [np.asarray(a) if _is_ours(a) else a for a in inputs]
        if not outs or not any(_is_ours(o) for o in outs):
            if outs:
                kwargs["out"] = outs
            return ufunc(*args, **kwargs)
        # A LazyArray out: NumPy computes into memory, the result is stored.
        mem = tuple(np.asarray(o) if _is_ours(o) else o for o in outs)
        ufunc(*args, out=mem, **kwargs)
        for o, m in zip(outs, mem):
            if _is_ours(o):
                o[...] = m
        return outs[0] if len(outs) == 1 else outs


def _reduce(ufunc: np.ufunc, inputs: tuple, kwargs: dict) -> Any:
    (x,) = inputs
    out = kwargs.pop("out", None)
    if isinstance(out, tuple):
        (out,) = out
    name = _REDUCTIONS.get(ufunc)
    axis = kwargs.pop("axis", 0)  # ufunc.reduce reduces axis 0 by default
    plain = (
        name is not None
        and _is_ours(x)
        and not _is_ours(out)
        and kwargs.get("where", True) is True
        and set(kwargs) <= {"dtype", "keepdims", "initial", "where"}
        and (name in ("sum", "prod") or kwargs.get("dtype") is None)
        and (name not in ("any", "all") or ("initial" not in kwargs and x.dtype == bool))
    )
    if plain:
        kwargs.pop("where", None)
        if kwargs.get("dtype", 0) is None:
            kwargs.pop("dtype")
        return getattr(x, name)(axis=axis, out=out, **kwargs)
    # Anything else gets NumPy's answer on the array in memory.
    arr = np.asarray(x) if _is_ours(x) else x
    if _is_ours(out):
        res = ufunc.reduce(arr, axis=axis, **kwargs)
        out[...] = res
        return out
    if out is not None:
        kwargs["out"] = out
    return ufunc.reduce(arr, axis=axis, **kwargs)
