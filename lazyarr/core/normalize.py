"""Normalize a NumPy key against a shape: validation, no I/O.

:func:`normalize` accepts exactly the keys NumPy accepts and rejects the others
with NumPy's own exception (type and message). It expands the Ellipsis, turns
negative integers into positive ones, resolves slices against the axis length
and turns boolean masks into the integer arrays NumPy would use
(``mask.nonzero()``). It never reads data and allocates only what the key
itself holds.

Examples
--------
>>> normalize((Ellipsis, -1), (4, 5))
NormalizedKey(shape=(4, 5), components=(Ell(1), 4))
>>> normalize(slice(None, None, -2), (5,)).components
(range(4, -1, -2),)
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

__all__ = ["normalize", "NormalizedKey", "Ell", "Mask", "Component"]

_INVALID_INDEX = (
    "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) "
    "and integer or boolean arrays are valid indices"
)


@dataclass(frozen=True)
class Ell:
    """An Ellipsis that stands for ``n`` full slices."""

    n: int

    def __repr__(self) -> str:
        return f"Ell({self.n})"


@dataclass(frozen=True, eq=False)
class Mask:
    """A boolean mask of ndim >= 1, as the integer arrays NumPy makes of it.

    ``arrays`` holds ``mask.nonzero()``: one 1-d intp array per axis the mask
    covers, in that axis order.
    """

    arrays: tuple[np.ndarray, ...]

    @property
    def ndim(self) -> int:
        return len(self.arrays)

    @property
    def count(self) -> int:
        return len(self.arrays[0])

    def __repr__(self) -> str:
        return f"Mask(ndim={self.ndim}, count={self.count})"


#: One normalized key component: an in-bounds non-negative int, a ``range`` (a
#: slice resolved against its axis), None, an :class:`Ell`, an intp ndarray of
#: in-bounds non-negative indices (any ndim, 0-d included), a :class:`Mask`, or
#: a 0-d boolean (``np.bool_``).
Component = Union[int, range, None, Ell, np.ndarray, Mask, np.bool_]


@dataclass(frozen=True, eq=False)
class NormalizedKey:
    """A key NumPy accepts, resolved against ``shape``.

    Attributes
    ----------
    shape : tuple of int
        The shape of the array the key applies to.
    components : tuple
        One :data:`Component` per component of the user's key, in order.
    """

    shape: tuple[int, ...]
    components: tuple[Component, ...]
    #: Set (and ``components`` empty) for keys that select nothing in a way
    #: only NumPy's own rules describe: the result shape.
    empty_result: tuple[int, ...] | None = None

    @property
    def advanced(self) -> bool:
        """True when NumPy would use advanced indexing for this key."""
        return any(isinstance(c, (np.ndarray, Mask, np.bool_)) for c in self.components)

    def __repr__(self) -> str:
        comps = ", ".join(_short(c) for c in self.components)
        if len(self.components) == 1:
            comps += ","
        return f"NormalizedKey(shape={self.shape}, components=({comps}))"


def _short(c: Any) -> str:
    if isinstance(c, np.ndarray):
        return "array(" + np.array2string(c, threshold=8, separator=", ") + ")"
    return repr(c)


def _fail(key: Any, shape: tuple[int, ...], fallback: Exception) -> Exception:
    """Return NumPy's exception for ``key``, or ``fallback`` if NumPy accepts it.

    Indexes a zero-stride view, so basic keys allocate nothing; used only on
    error paths, to give NumPy's exact exception type and message.
    """
    # NumPy allocates the (uint8) result of an advanced key before it checks
    # bounds; skip asking it when that result could be large.
    raw = key if isinstance(key, tuple) else (key,)
    n_index = sum(c.size if isinstance(c, np.ndarray) else len(c) for c in raw if isinstance(c, (list, np.ndarray)))
    if n_index * max(1, int(np.prod(shape, dtype=np.float64))) > 1e8:
        return fallback
    try:
        res = np.broadcast_to(np.empty((), np.uint8), shape)[key]
    except Exception as exc:  # noqa: BLE001 - we re-raise NumPy's own verdict
        return exc
    if np.size(res) == 0:
        # NumPy skips bounds and mask-shape checks when nothing is selected
        # (e.g. ``a[False, [99]]``): the answer is simply empty.
        return _EmptyResult(np.shape(res))
    return fallback


class _EmptyResult(Exception):
    """NumPy accepts a key our checks reject, because it selects nothing."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__(shape)
        self.shape = tuple(shape)


def _as_index_array(obj: Any) -> np.ndarray | None:
    """Turn a sequence / array-like key component into an ndarray, or None."""
    if isinstance(obj, np.ndarray):
        return obj
    if isinstance(obj, (list, tuple)):
        arr = np.asarray(obj)
        # NumPy indexes with an empty sequence as an empty intp array.
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.intp)
        return arr
    if hasattr(obj, "__array__") or hasattr(obj, "__array_interface__"):
        return np.asarray(obj)
    return None


def normalize(key: Any, shape: tuple[int, ...]) -> NormalizedKey:
    """Validate ``key`` like NumPy and resolve it against ``shape``.

    Parameters
    ----------
    key : object
        Anything that can appear between the brackets of ``a[...]``.
    shape : tuple of int
        The shape of the indexed array.
    Returns
    -------
    NormalizedKey

    Raises
    ------
    IndexError, TypeError, ValueError
        Whatever NumPy raises for the same key and shape.

    Examples
    --------
    >>> normalize([3, -1], (5,)).components
    (array([3, 4]),)
    >>> normalize(7, (5,))
    Traceback (most recent call last):
    ...
    IndexError: index 7 is out of bounds for axis 0 with size 5
    """
    shape = tuple(int(n) for n in shape)
    try:
        return _normalize(key, shape)
    except _EmptyResult as e:
        return NormalizedKey(shape, (), empty_result=e.shape)


def _normalize(key: Any, shape: tuple[int, ...]) -> NormalizedKey:
    raw = key if isinstance(key, tuple) else (key,)

    # First pass: classify, and count the axes each component consumes.
    parts: list[Any] = []
    consumed = 0
    n_ellipsis = 0
    for c in raw:
        if c is None:
            parts.append(None)
        elif c is Ellipsis:
            n_ellipsis += 1
            parts.append(Ellipsis)
        elif isinstance(c, slice):
            parts.append(c)
            consumed += 1
        elif isinstance(c, (bool, np.bool_)):
            parts.append(np.bool_(c))
        elif isinstance(c, (int, np.integer)):
            parts.append(int(c))
            consumed += 1
        elif isinstance(c, (float, complex, str, bytes, np.floating, np.complexfloating)):
            raise _fail(key, shape, IndexError(_INVALID_INDEX))
        else:
            arr = None
            try:
                arr = _as_index_array(c)
            except ValueError:
                # NumPy raises ValueError for ragged nested sequences too.
                raise _fail(key, shape, ValueError("inhomogeneous index sequence")) from None
            if arr is None:
                try:
                    parts.append(operator.index(c))
                    consumed += 1
                    continue
                except TypeError:
                    raise _fail(key, shape, IndexError(_INVALID_INDEX)) from None
            if arr.dtype.kind == "b":
                if arr.ndim == 0:
                    parts.append(np.bool_(arr[()]))
                else:
                    parts.append(arr)
                    consumed += arr.ndim
            elif arr.dtype.kind in "iu":
                parts.append(arr)
                consumed += 1
            else:
                raise _fail(key, shape, IndexError(_INVALID_INDEX))
    if n_ellipsis > 1:
        raise _fail(key, shape, IndexError("an index can only have a single ellipsis ('...')"))
    if consumed > len(shape):
        raise _fail(key, shape, IndexError("too many indices for array"))
    if sum(isinstance(c, (np.bool_, np.ndarray)) for c in parts) > 32:
        # NumPy caps the number of advanced indices (64 in NumPy 2, 32
        # before); 0-d booleans consume no axis, so only it can tell.
        verdict = _fail(key, shape, None)  # type: ignore[arg-type]
        if verdict is not None and not isinstance(verdict, _EmptyResult):
            raise verdict

    # Second pass: resolve each component against its axes.
    comps: list[Component] = []
    axis = 0
    for c in parts:
        if c is None or isinstance(c, np.bool_):
            comps.append(c)
        elif c is Ellipsis:
            n = len(shape) - consumed
            comps.append(Ell(n))
            axis += n
        elif isinstance(c, slice):
            try:
                comps.append(range(*c.indices(shape[axis])))
            except (TypeError, ValueError):
                raise _fail(key, shape, TypeError("invalid slice")) from None
            axis += 1
        elif isinstance(c, int):
            n = shape[axis]
            if not -n <= c < n:
                raise _fail(key, shape, IndexError(f"index {c} is out of bounds for axis {axis} with size {n}"))
            comps.append(c + n if c < 0 else c)
            axis += 1
        elif c.dtype.kind == "b":
            if c.shape != shape[axis : axis + c.ndim]:
                raise _fail(key, shape, IndexError("boolean index did not match indexed array"))
            comps.append(Mask(tuple(a.astype(np.intp, copy=False) for a in c.nonzero())))
            axis += c.ndim
        else:
            comps.append(_int_array(c, shape[axis], key, shape, axis))
            axis += 1
    nk = NormalizedKey(shape, tuple(comps))
    _check_broadcast(nk, key)
    return nk


def _int_array(a: np.ndarray, n: int, key: Any, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Bounds-check an integer index array and make it non-negative intp."""
    if a.size:
        lo, hi = a.min(), a.max()
        # Compare before casting: uint64 values past 2**63 must not wrap.
        if hi >= n or (a.dtype.kind == "i" and lo < -n):
            raise _fail(key, shape, IndexError(f"index out of bounds for axis {axis} with size {n}"))
        out = a.astype(np.intp, copy=True)
        if a.dtype.kind == "i" and lo < 0:
            out[out < 0] += n
        return out
    return a.astype(np.intp)


def _check_broadcast(nk: NormalizedKey, key: Any) -> None:
    """Raise NumPy's IndexError when the index arrays cannot broadcast."""
    shapes = []
    for c in nk.components:
        if isinstance(c, np.ndarray):
            shapes.append(c.shape)
        elif isinstance(c, Mask):
            shapes.append((c.count,))
        elif isinstance(c, np.bool_):
            shapes.append((int(c),))
    if len(shapes) > 1:
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise _fail(key, nk.shape, IndexError("shape mismatch: indexing arrays could not be broadcast together")) from None
