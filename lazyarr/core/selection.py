"""Orthogonal selections and the small rules every layer shares; no I/O.

A :data:`Selection` has one entry per stored axis, each either

* a ``slice`` with ``0 <= start <= stop <= shape[axis]`` and ``step >= 1``
  (already normalized: no ``None``, no negatives), or
* a sorted, unique, in-bounds ``int64`` 1-d ndarray.

Several arrays select their *outer product* (a box), never points. This
module holds the one copy of each rule the engine applies to them: the
block shape (:func:`selection_shape`), the NumPy key that selects the same
box (:func:`orthogonal_key`) and applying it to a buffer
(:func:`apply_orthogonal`), runs of consecutive indices and merging them into
windows (:func:`runs`, :func:`merge_runs`), sorted-unique-plus-inverse
(:func:`unique_inverse`), NumPy's placement of the broadcast index
dimensions (:func:`advanced_first`), and stacking blocks without
``np.concatenate`` (:func:`stack`).

Examples
--------
>>> import numpy as np
>>> sel = (slice(0, 3, 2), np.array([1, 3]))
>>> selection_shape(sel)
(2, 2)
>>> apply_orthogonal(np.arange(12).reshape(3, 4), sel)
array([[ 1,  3],
       [ 9, 11]])
"""

from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np

__all__ = [
    "Selection",
    "selection_shape",
    "entry_length",
    "entry_span",
    "orthogonal_key",
    "apply_orthogonal",
    "runs",
    "merge_runs",
    "merge_groups",
    "unique_inverse",
    "advanced_first",
    "stack",
    "VIEW_TYPES",
    "stand_in",
]

#: One entry per stored axis: a normalized positive-step slice or a sorted
#: unique int64 array.
Selection = tuple[Union[slice, np.ndarray], ...]


def entry_length(s: slice | np.ndarray) -> int:
    """Number of positions one selection entry picks.

    Examples
    --------
    >>> entry_length(slice(2, 9, 3)), entry_length(np.array([0, 4]))
    (3, 2)
    """
    if isinstance(s, slice):
        n = (s.stop - s.start + s.step - 1) // s.step
        return n if n > 0 else 0
    return len(s)


def selection_shape(sel: Selection) -> tuple[int, ...]:
    """Shape of the block a backend returns for ``sel``.

    Examples
    --------
    >>> selection_shape((slice(2, 9, 3), np.array([0, 4])))
    (3, 2)
    """
    return tuple(entry_length(s) for s in sel)


def entry_span(s: slice | np.ndarray) -> tuple[int, int]:
    """``[lo, hi)``: the positions of its axis an entry touches, gaps included.

    Examples
    --------
    >>> entry_span(slice(2, 9, 3)), entry_span(np.array([4, 7])), entry_span(slice(5, 5, 1))
    ((2, 9), (4, 8), (5, 5))
    """
    if isinstance(s, slice):
        n = entry_length(s)
        return (s.start, s.start + (n - 1) * s.step + 1) if n else (s.start, s.start)
    return (int(s[0]), int(s[-1]) + 1) if len(s) else (0, 0)


def orthogonal_key(parts: Sequence[Any], lengths: Sequence[int]) -> tuple:
    """The NumPy key that selects the outer product of ``parts``.

    ``parts`` holds one entry per axis of an array of shape ``lengths``:
    slices (any, ``slice(None)`` included) or 1-d integer arrays. With at
    most one array the parts are already that key (the trailing ``...``
    keeps a 0-d result an array); with several, NumPy would pair them up as
    points, so every axis becomes an ``np.ix_`` array.

    Examples
    --------
    >>> a = np.arange(12).reshape(3, 4)
    >>> a[orthogonal_key([np.array([0, 2]), np.array([1, 3])], a.shape)]
    array([[ 1,  3],
           [ 9, 11]])
    """
    n_arrays = 0
    for p in parts:
        if not isinstance(p, slice):
            n_arrays += 1
    if n_arrays <= 1:
        return tuple(parts) + (Ellipsis,)
    return np.ix_(*[np.arange(*p.indices(n)) if isinstance(p, slice) else p
                    for p, n in zip(parts, lengths)])


def apply_orthogonal(buf: np.ndarray, sel: Sequence[Any]) -> np.ndarray:
    """``buf`` indexed by the orthogonal selection ``sel``: a fresh C array.

    Slices first (a view, no copy), then one ``np.take`` per array axis, so
    arrays on several axes select their outer product, never points. Never
    a view of ``buf``: the caller may write into the result.

    Examples
    --------
    >>> b = np.arange(6).reshape(2, 3)
    >>> out = apply_orthogonal(b, (slice(0, 2, 1), slice(0, 3, 2)))
    >>> out, np.shares_memory(out, b)
    (array([[0, 2],
           [3, 5]]), False)
    """
    # ``...`` keeps a 0-d selection an array (``a[()]`` would be a scalar).
    for s in sel:
        if type(s) is not slice:
            break
    else:
        # A box (a minibatch from a cache window): one basic slice, copied;
        # a sixth of such a read's time went to the general path below.
        return buf[(*sel, Ellipsis)].copy()
    out = buf[tuple(s if isinstance(s, slice) else slice(None) for s in sel) + (Ellipsis,)]
    taken = False
    for ax, s in enumerate(sel):
        if not isinstance(s, slice):
            out = np.take(out, s, axis=ax)
            taken = True
    return out if taken and out.flags.c_contiguous else np.array(out, order="C", copy=True)


def runs(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) stops of the runs of consecutive values in ``idx``.

    Examples
    --------
    >>> runs(np.array([1, 2, 3, 7, 9, 10]))
    (array([1, 7, 9]), array([ 4,  8, 11]))
    """
    if len(idx) == 0:
        return idx[:0], idx[:0]
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = idx[np.concatenate(([0], breaks))]
    stops = idx[np.concatenate((breaks - 1, [len(idx) - 1]))] + 1
    return starts, stops


def merge_runs(starts: np.ndarray, stops: np.ndarray, max_gap: int,
               chunk: int | None = None, piece: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Merge runs ``[starts, stops)`` into read windows.

    Across gaps of at most ``max_gap`` positions, and within one ``chunk``
    (a chunk is decompressed whole anyway), but never across a multiple of
    ``piece`` (bounded windows can be read into one reused buffer instead of
    one huge fresh one). The runs must be ascending and disjoint.

    Examples
    --------
    >>> merge_runs(np.array([0, 5, 40]), np.array([2, 8, 41]), max_gap=3)
    (array([ 0, 40]), array([ 8, 41]))
    """
    if len(starts) <= 1:
        return starts, stops
    firsts, lasts = merge_groups(starts, stops, max_gap, chunk, piece)
    return starts[firsts], stops[lasts]


def merge_groups(starts: np.ndarray, stops: np.ndarray, max_gap: int,
                 chunk: int | None = None, piece: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`merge_runs` as positions: the first and last run of each window.

    Examples
    --------
    >>> merge_groups(np.array([0, 5, 40]), np.array([2, 8, 41]), max_gap=3)
    (array([0, 2]), array([1, 2]))
    """
    n = len(starts)
    new = np.ones(n, dtype=bool)
    if n > 1:
        join = (starts[1:] - stops[:-1]) <= max_gap
        if chunk:
            join |= (starts[1:] // chunk) == ((stops[:-1] - 1) // chunk)
        if piece:
            join &= (starts[1:] // piece) == (starts[:-1] // piece)
        if join.all():  # (one window, the usual slice: half the time)
            return np.zeros(1, dtype=np.intp), np.array([n - 1], dtype=np.intp)
        new[1:] = ~join
    firsts = np.flatnonzero(new)
    lasts = np.append(firsts[1:], n) - 1
    return firsts, lasts


def unique_inverse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Sorted unique values of ``a`` and where each element of ``a`` is in them.

    The inverse has ``a``'s shape; it is None when ``a`` is 1-d and already
    strictly increasing (then the unique values are ``a`` itself, no sort).

    Examples
    --------
    >>> unique_inverse(np.array([5, 1, 5]))
    (array([1, 5]), array([1, 0, 1]))
    >>> unique_inverse(np.array([1, 4, 6]))
    (array([1, 4, 6]), None)
    """
    flat = a.reshape(-1)
    if a.ndim == 1 and (flat.size <= 1 or bool(np.all(flat[1:] > flat[:-1]))):
        return flat, None
    u, inv = np.unique(flat, return_inverse=True)
    return u, inv.reshape(a.shape).astype(np.intp, copy=False)


def advanced_first(advanced: Sequence[bool]) -> bool:
    """NumPy's rule for where the broadcast index dimensions go.

    ``advanced`` flags each component of a key (after Ellipsis expansion,
    ``None`` included) as advanced (an index array, a mask, a 0-d boolean,
    or an int in a key that has arrays). When the advanced components stand
    next to each other the broadcast dimensions replace them in place;
    otherwise (True here) they go first in the result.

    Examples
    --------
    >>> advanced_first([False, True, True]), advanced_first([True, False, True])
    (False, True)
    """
    pos = [i for i, f in enumerate(advanced) if f]
    return bool(pos) and pos[-1] - pos[0] + 1 != len(pos)


#: The types of ``a[key]`` that can share memory with ``a``: a view, and a
#: structured scalar (``np.void``), which NumPy also gives as a view of its row.
#: A backend that hands out ``a[key]`` copies a result of these types whose
#: ``base`` is ``a``'s: writing into a result must never change the stored data.
VIEW_TYPES = (np.ndarray, np.void)


def stack(parts: Sequence[np.ndarray], dtype: Any) -> np.ndarray:
    """``parts`` stacked along axis 0 into a fresh array of exactly ``dtype``.

    Not ``np.concatenate``: its dtype promotion drops a big-endian byte order
    (``>f8`` parts come back ``<f8``).

    Examples
    --------
    >>> stack([np.ones(2, ">f8"), np.zeros(1, ">f8")], ">f8").dtype
    dtype('>f8')
    """
    first = parts[0]
    out = np.empty((sum(len(p) for p in parts),) + first.shape[1:], dtype=dtype)
    start = 0
    for p in parts:
        out[start : start + len(p)] = p
        start += len(p)
    return out


def stand_in(shape: tuple[int, ...], dtype: Any = np.uint8) -> np.ndarray:
    """A writeable array of ``shape`` whose elements all share one cell.

    Indexing or assigning into it runs NumPy's own validation, casting and
    warnings for any key without allocating the array (basic keys allocate
    nothing at all), so it gives NumPy's verdict, result shape and scalar
    flag for a key.

    Examples
    --------
    >>> stand_in((1000, 1000))[::2, None, 5].shape
    (500, 1)
    """
    cell = np.empty(1, dtype=dtype)
    return np.lib.stride_tricks.as_strided(cell, shape=shape, strides=(0,) * len(shape),
                                           writeable=True)
