"""Turn a normalized key into backend reads plus an in-memory post-key; no I/O.

NumPy decides the semantics, the plan only decides what to read. The post-key
has the *same shape of key as the user's*: an int where the user had an int, a
slice where the user had a slice (now relative to what was read), an array
where the user had an array (now positions into what was read), ``None`` and
``...`` where they were. NumPy then applies its own rules (broadcasting, where
the advanced axes go, scalar versus 0-d) to the small block in memory.

Backends only ever see positive-step slices and sorted unique int64 arrays:

* a negative step reads the same elements forwards, the post-key flips them;
* an unsorted or repeated index array reads ``np.unique`` of it, the post-key
  is the inverse; when the unique indices are dense (the covering slab costs
  at most twice the selected elements) the slab is read instead;
* several index arrays that pick scattered points (a diagonal, a sparse 2-d
  mask) may be read as *point groups* rather than their orthogonal box: see
  :data:`CALL_COST_BYTES`.

Examples
--------
>>> from lazyarr.index import normalize
>>> p = plan_read(normalize((slice(None, None, -1), [4, 0, 4]), (3, 9)), itemsize=8)
>>> p.reads
((slice(0, 3, 1), array([0, 4])),)
>>> p.post_key
(slice(None, None, -1), array([1, 0, 1]))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lazyarr.backends.base import Selection, selection_shape
from lazyarr.index import Ell, Mask, NormalizedKey

__all__ = ["ReadPlan", "plan_read", "CALL_COST_BYTES", "SLAB_FACTOR"]

#: What one backend call costs, counted in bytes read (HDF5 spends 10-20
#: microseconds per call on a contiguous array, about what it takes to move
#: this much data). The planner reads the orthogonal box of several index
#: arrays unless reading point groups is cheaper under this model.
CALL_COST_BYTES = 16 * 1024

#: A dense set of indices on one axis is read as its covering slab when the
#: slab holds at most this many times the selected elements.
SLAB_FACTOR = 2


@dataclass(frozen=True, eq=False)
class ReadPlan:
    """What to read for one key, and how NumPy finishes it in memory.

    Attributes
    ----------
    shape : tuple of int
        Shape of the source array.
    result_shape : tuple of int
        Shape of ``source[key]``.
    reads : tuple of Selection
        Box mode: one orthogonal selection. Point mode: one per point group;
        their blocks are concatenated along the collapsed point axis.
    post_key : tuple
        Key applied with NumPy to the block that was read (box mode) or to the
        gathered points (point mode).
    point_axes : tuple of int
        Point mode only: the source axes collapsed into the leading point axis.
    move_to : int or None
        Point mode only: where the broadcast index dimensions go in the result
        (NumPy puts adjacent advanced indices where they stand).
    n_bcast : int
        Number of broadcast index dimensions.
    covering : bool
        Box mode: every element of the block is selected at least once, so a
        write need not read the block first.
    """

    shape: tuple[int, ...]
    result_shape: tuple[int, ...]
    reads: tuple[Selection, ...]
    post_key: tuple[Any, ...]
    point_axes: tuple[int, ...] = ()
    move_to: int | None = None
    n_bcast: int = 0
    covering: bool = True

    @property
    def mode(self) -> str:
        """``"box"`` or ``"points"``."""
        return "points" if self.point_axes else "box"

    @property
    def elements_read(self) -> int:
        """How many elements the backend reads for this plan."""
        return sum(int(np.prod(selection_shape(s), dtype=np.int64)) for s in self.reads)

    def __repr__(self) -> str:
        def short(x: Any) -> str:
            if isinstance(x, np.ndarray):
                return "array(" + np.array2string(x, threshold=8, separator=", ") + ")"
            if isinstance(x, tuple):
                return "(" + ", ".join(short(v) for v in x) + ("," if len(x) == 1 else "") + ")"
            return repr(x)

        reads = short(self.reads) if len(self.reads) <= 4 else f"<{len(self.reads)} point groups>"
        extra = ""
        if self.point_axes:
            extra = f", point_axes={self.point_axes}, move_to={self.move_to}"
        return (
            f"ReadPlan(mode={self.mode!r}, shape={self.shape}, result_shape={self.result_shape}, "
            f"reads={reads}, post_key={short(self.post_key)}{extra})"
        )


def _plan_array(a: np.ndarray, n: int) -> tuple[slice | np.ndarray, np.ndarray, bool]:
    """Read for an integer index array on an axis of length ``n``.

    Returns ``(read, post, covering)``: what to read, the array that picks the
    user's elements out of it (same shape as ``a``), and whether every read
    element is picked.
    """
    if a.size == 0:
        return slice(0, 0, 1), a.astype(np.intp), True
    flat = a.reshape(-1)
    if a.ndim == 1 and (flat.size == 1 or bool(np.all(flat[1:] > flat[:-1]))):
        u = flat
        inv = None
    else:
        u, inv = np.unique(flat, return_inverse=True)
        inv = inv.reshape(a.shape)
    lo, hi = int(u[0]), int(u[-1])
    span = hi - lo + 1
    if span <= SLAB_FACTOR * len(u):
        return slice(lo, hi + 1, 1), (a - lo).astype(np.intp, copy=False), span == len(u)
    post = np.arange(len(u), dtype=np.intp) if inv is None else inv.astype(np.intp, copy=False)
    return u.astype(np.int64, copy=False), post, True


def _plan_range(r: range) -> tuple[slice, slice]:
    """Read and post-key for a slice already resolved to a ``range``."""
    if len(r) == 0:
        return slice(0, 0, 1), slice(None)
    if r.step > 0:
        return slice(r.start, r[-1] + 1, r.step), slice(None)
    return slice(r[-1], r.start + 1, -r.step), slice(None, None, -1)


def plan_read(
    nk: NormalizedKey, itemsize: int = 8, *, call_cost: int | None = None
) -> ReadPlan:
    """Plan the reads for a normalized key.

    Parameters
    ----------
    nk : NormalizedKey
        From :func:`lazyarr.index.normalize`.
    itemsize : int
        Bytes per element, for the box-versus-points cost model.
    call_cost : int, optional
        Cost of one backend call in bytes; defaults to :data:`CALL_COST_BYTES`.

    Returns
    -------
    ReadPlan

    Examples
    --------
    >>> import numpy as np
    >>> from lazyarr.index import normalize
    >>> i = np.arange(10_000)
    >>> plan_read(normalize((i, i), (10_000, 10_000))).mode   # a diagonal: not the box
    'points'
    >>> plan_read(normalize(([5, 1], slice(None)), (10**6, 4))).reads
    ((array([1, 5]), slice(0, 4, 1)),)
    """
    if call_cost is None:
        call_cost = CALL_COST_BYTES
    shape = nk.shape
    if nk.empty_result is not None:
        return ReadPlan(shape, nk.empty_result, (), ())
    comps = nk.components
    advanced = nk.advanced

    reads: list[slice | np.ndarray] = []
    post: list[Any] = []
    covering = True
    # Per component: the source axes it indexes (for advanced ones).
    adv_comp_idx: list[int] = []
    adv_axes: list[int] = []
    bshapes: list[tuple[int, ...]] = []
    n_array_axes = 0
    axis = 0
    for i, c in enumerate(comps):
        if c is None:
            post.append(None)
        elif isinstance(c, np.bool_):
            post.append(c)
            adv_comp_idx.append(i)
            bshapes.append((int(c),))
        elif isinstance(c, Ell):
            for _ in range(c.n):
                reads.append(slice(0, shape[axis], 1))
                axis += 1
            post.append(Ellipsis)
        elif isinstance(c, range):
            rd, pk = _plan_range(c)
            reads.append(rd)
            post.append(pk)
            axis += 1
        elif isinstance(c, int):
            reads.append(slice(c, c + 1, 1))
            post.append(0)
            if advanced:
                adv_comp_idx.append(i)
                adv_axes.append(axis)
                bshapes.append(())
            axis += 1
        elif isinstance(c, Mask):
            for arr in c.arrays:
                rd, pk, cov = _plan_array(arr, shape[axis])
                reads.append(rd)
                post.append(pk)
                covering &= cov
                adv_axes.append(axis)
                axis += 1
            n_array_axes += c.ndim
            adv_comp_idx.append(i)
            bshapes.append((c.count,))
        else:  # integer ndarray
            rd, pk, cov = _plan_array(c, shape[axis])
            reads.append(rd)
            post.append(pk)
            covering &= cov
            adv_comp_idx.append(i)
            adv_axes.append(axis)
            bshapes.append(c.shape)
            n_array_axes += 1
            axis += 1
    # Slices, Ellipsis and dense arrays below the end of the shape.
    while axis < len(shape):
        reads.append(slice(0, shape[axis], 1))
        axis += 1

    # NumPy's rule: the broadcast index dims replace the advanced components
    # when those stand next to each other in the key, else they go first.
    bshape = np.broadcast_shapes(*bshapes) if bshapes else ()
    adjacent = bool(adv_comp_idx) and adv_comp_idx == list(
        range(adv_comp_idx[0], adv_comp_idx[-1] + 1)
    )
    result: list[int] = []
    inserted = False
    lead = 0  # result dims before the first advanced component
    axis = 0
    for i, c in enumerate(comps):
        if advanced and i in adv_comp_idx:
            if adjacent and not inserted:
                lead = len(result)
                result.extend(bshape)
                inserted = True
            if isinstance(c, Mask):
                axis += c.ndim
            elif not isinstance(c, np.bool_):
                axis += 1
            continue
        if c is None:
            result.append(1)
        elif isinstance(c, Ell):
            result.extend(shape[axis : axis + c.n])
            axis += c.n
        elif isinstance(c, range):
            result.append(len(c))
            axis += 1
        else:  # a basic int
            axis += 1
    result.extend(shape[axis:])
    if advanced and not adjacent:
        result = list(bshape) + result
    result_shape = tuple(int(n) for n in result)

    # Several index arrays pick points of their box, not all of it.
    covering = covering and n_array_axes <= 1
    box = ReadPlan(shape, result_shape, (tuple(reads),), tuple(post), covering=covering)
    if n_array_axes < 2 or int(np.prod(bshape, dtype=np.int64)) == 0:
        return box
    return _maybe_points(box, comps, adv_axes, bshape, adjacent, lead, itemsize, call_cost)


def _maybe_points(
    box: ReadPlan,
    comps: tuple[Any, ...],
    adv_axes: list[int],
    bshape: tuple[int, ...],
    adjacent: bool,
    lead: int,
    itemsize: int,
    call_cost: int,
) -> ReadPlan:
    """Replace a box plan by point groups when the box costs more to read."""
    shape = box.shape
    (sel,) = box.reads
    sel_shape = selection_shape(sel)
    box_adv = int(np.prod([sel_shape[a] for a in adv_axes], dtype=np.int64))
    rest = int(np.prod([n for a, n in enumerate(sel_shape) if a not in adv_axes], dtype=np.int64))
    # The user's coordinates, one flat array per advanced axis.
    coords: list[np.ndarray] = []
    for c in comps:
        if isinstance(c, Mask):
            coords.extend(np.broadcast_to(a, bshape) for a in c.arrays)
        elif isinstance(c, np.ndarray):
            coords.append(np.broadcast_to(c, bshape))
        elif isinstance(c, int):
            coords.append(np.broadcast_to(np.intp(c), bshape))
    dims = [shape[a] for a in adv_axes]
    flat = [np.ascontiguousarray(c).reshape(-1) for c in coords]
    try:
        lin = np.ravel_multi_index(flat, dims)
        ulin, inv = np.unique(lin, return_inverse=True)
        ucoords = np.unravel_index(ulin, dims)
    except ValueError:  # more cells than an intp holds: unique rows instead
        urows, inv = np.unique(np.stack(flat, axis=1), axis=0, return_inverse=True)
        ucoords = tuple(urows[:, k] for k in range(urows.shape[1]))
    n_points = len(ucoords[0])
    if box_adv <= SLAB_FACTOR * n_points:
        return box
    # Groups: points sharing every advanced coordinate but the last.
    if len(ucoords) > 1:
        prefix = np.stack(ucoords[:-1], axis=1)
        change = np.any(prefix[1:] != prefix[:-1], axis=1)
        starts = np.concatenate([[0], np.nonzero(change)[0] + 1, [n_points]])
    else:
        starts = np.array([0, n_points])
    n_groups = len(starts) - 1
    cost_box = box_adv * rest * itemsize + call_cost
    cost_points = n_points * rest * itemsize + n_groups * call_cost
    if cost_box <= cost_points:
        return box

    last = adv_axes[-1]
    reads = []
    for g in range(n_groups):
        s, e = int(starts[g]), int(starts[g + 1])
        gsel = list(sel)
        for k, a in enumerate(adv_axes[:-1]):
            v = int(ucoords[k][s])
            gsel[a] = slice(v, v + 1, 1)
        cols = np.asarray(ucoords[-1][s:e], dtype=np.int64)
        if cols[-1] - cols[0] + 1 == len(cols):
            gsel[last] = slice(int(cols[0]), int(cols[-1]) + 1, 1)
        else:
            gsel[last] = cols
        reads.append(tuple(gsel))

    # Post-key on the gathered block (points first, then the other axes).
    post: list[Any] = [np.asarray(inv, dtype=np.intp).reshape(bshape)]
    for c, p in zip(_components_with_post(comps), box.post_key):
        if c == "basic":
            post.append(p)
    return ReadPlan(
        shape,
        box.result_shape,
        tuple(reads),
        tuple(post),
        point_axes=tuple(adv_axes),
        move_to=lead if adjacent else None,
        n_bcast=len(bshape),
        covering=True,
    )


def _components_with_post(comps: tuple[Any, ...]) -> list[str]:
    """Label each post-key entry of a box plan ``"basic"`` or ``"advanced"``.

    Masks contribute one post-key entry per axis they cover.
    """
    labels: list[str] = []
    for c in comps:
        if isinstance(c, Mask):
            labels.extend(["advanced"] * c.ndim)
        elif isinstance(c, (np.ndarray, np.bool_)) or (isinstance(c, int) and not isinstance(c, bool)):
            labels.append("advanced")
        else:
            labels.append("basic")
    return labels
