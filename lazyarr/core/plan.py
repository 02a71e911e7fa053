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
>>> from lazyarr.core.normalize import normalize
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

from lazyarr.core.normalize import Ell, Mask, NormalizedKey, normalize
from lazyarr.core.selection import Selection, advanced_first, selection_shape, unique_inverse
from lazyarr.core.support import DEFAULT_COST

__all__ = ["ReadPlan", "plan", "plan_read", "fast_plan", "CALL_COST_BYTES", "SLAB_FACTOR"]

#: What one backend call costs, counted in bytes read, when the backend
#: declares no :class:`lazyarr.core.support.CostModel` of its own.
CALL_COST_BYTES = DEFAULT_COST.call_bytes

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
        their blocks are stacked along the collapsed point axis.
    post_key : tuple
        Key applied with NumPy to the block that was read (box mode) or to the
        gathered points (point mode); ``()`` when the block is the result.
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

    Plans compare by value (index arrays element by element), so a test can
    assert on the plan of a key without any file.
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

    def buffer_key(self, lo: int) -> tuple:
        """Box mode: the one NumPy key that gives the result from a buffer.

        The buffer holds rows ``lo, lo + 1, ...`` of axis 0 and every element
        of the other axes (a cache window). The key composes the read with
        the post-key, so the result is one gather from the buffer.

        Examples
        --------
        >>> from lazyarr.core.normalize import normalize
        >>> buf = np.arange(40).reshape(10, 4)[2:8]        # rows 2..7
        >>> p = plan_read(normalize((slice(6, 2, -2), [3, 0, 3]), (10, 4)))
        >>> buf[p.buffer_key(2)]
        array([[27, 24, 27],
               [19, 16, 19]])
        """
        (sel,) = self.reads
        post = self.post_key
        if not post:
            post = (slice(None),) * len(sel)
        out: list[Any] = []
        ax = 0
        for p in post:
            if p is None or isinstance(p, np.bool_):
                out.append(p)
                continue
            if p is Ellipsis:
                n = len(sel) - sum(1 for q in post if q is not None and q is not Ellipsis
                                   and not isinstance(q, np.bool_))
                if n == 0:
                    # Still NumPy's: an all-int key with it gives a 0-d array,
                    # and it separates index arrays.
                    out.append(Ellipsis)
                for _ in range(n):
                    out.append(_compose(sel[ax], slice(None), lo if ax == 0 else 0))
                    ax += 1
                continue
            out.append(_compose(sel[ax], p, lo if ax == 0 else 0))
            ax += 1
        while ax < len(sel):
            out.append(_compose(sel[ax], slice(None), lo if ax == 0 else 0))
            ax += 1
        return tuple(out)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReadPlan):
            return NotImplemented
        return (self.shape == other.shape and self.result_shape == other.result_shape
                and self.point_axes == other.point_axes and self.move_to == other.move_to
                and self.n_bcast == other.n_bcast and self.covering == other.covering
                and _same(self.reads, other.reads) and _same(self.post_key, other.post_key))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        reads = _short(self.reads) if len(self.reads) <= 4 else f"<{len(self.reads)} point groups>"
        extra = ""
        if self.point_axes:
            extra = f", point_axes={self.point_axes}, move_to={self.move_to}"
        return (
            f"ReadPlan(mode={self.mode!r}, shape={self.shape}, result_shape={self.result_shape}, "
            f"reads={reads}, post_key={_short(self.post_key)}{extra})"
        )


def _short(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return "array(" + np.array2string(x, threshold=8, separator=", ") + ")"
    if isinstance(x, tuple):
        return "(" + ", ".join(_short(v) for v in x) + ("," if len(x) == 1 else "") + ")"
    return repr(x)


def _same(a: Any, b: Any) -> bool:
    """Equality of nested tuples of keys, index arrays compared by value."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and bool(np.array_equal(a, b)))
    return type(a) is type(b) and a == b


def _compose(s: slice | np.ndarray, p: Any, lo: int) -> Any:
    """Position(s) in a buffer starting at ``lo`` of post-key entry ``p`` of read ``s``."""
    if isinstance(s, slice):
        if type(p) is slice:
            r = range(s.start - lo, s.stop - lo, s.step)[p]
            # Not slice(r.start, r.stop): a stop of -1 would count from the end.
            stop = r.stop if r.stop >= 0 else None
            return slice(r.start, stop, r.step)
        return s.start - lo + p * s.step  # an int or an index array
    return s[p] - lo


def _plan_array(a: np.ndarray, n: int) -> tuple[slice | np.ndarray, np.ndarray, bool]:
    """Read for an integer index array on an axis of length ``n``.

    Returns ``(read, post, covering)``: what to read, the array that picks the
    user's elements out of it (same shape as ``a``), and whether every read
    element is picked.
    """
    if a.size == 0:
        return slice(0, 0, 1), a.astype(np.intp), True
    u, inv = unique_inverse(a)
    lo, hi = int(u[0]), int(u[-1])
    span = hi - lo + 1
    if span <= SLAB_FACTOR * len(u):
        return slice(lo, hi + 1, 1), (a - lo).astype(np.intp, copy=False), span == len(u)
    post = np.arange(len(u), dtype=np.intp) if inv is None else inv
    return u.astype(np.int64, copy=False), post, True


def _plan_range(r: range) -> tuple[slice, slice]:
    """Read and post-key for a slice already resolved to a ``range``."""
    if len(r) == 0:
        return slice(0, 0, 1), slice(None)
    if r.step > 0:
        return slice(r.start, r[-1] + 1, r.step), slice(None)
    return slice(r[-1], r.start + 1, -r.step), slice(None, None, -1)


def plan(key: Any, shape: tuple[int, ...], itemsize: int = 8, *,
         call_cost: int | None = None) -> ReadPlan:
    """THE planner: a user's key on an array of ``shape`` as reads plus a post-key.

    The keys most calls use (ints and positive-step slices selecting
    something) take :func:`fast_plan`, which builds the plan the general
    path would, without normalizing; every other key is validated like NumPy
    (:func:`lazyarr.core.normalize.normalize`) and planned by
    :func:`plan_read`.

    Examples
    --------
    >>> plan(3, (10, 4))
    ReadPlan(mode='box', shape=(10, 4), result_shape=(4,), reads=((slice(3, 4, 1), slice(0, 4, 1)),), post_key=(0,))
    >>> plan(([9, 0], -1), (10, 4)).reads
    ((array([0, 9]), slice(3, 4, 1)),)
    """
    p = fast_plan(key, shape)
    if p is not None:
        return p
    return plan_read(normalize(key, shape), itemsize, call_cost=call_cost)


def fast_plan(key: Any, shape: tuple[int, ...]) -> ReadPlan | None:
    """The plan of an int/positive-step-slice key, or None for any other key.

    Ints (in bounds) and slices with a positive step, alone or in a tuple,
    on an array with at least one axis, selecting at least one element. Any
    other key -- and any of these that would raise or select nothing --
    returns None and takes the general path, which decides what NumPy would.
    The plan equals what :func:`plan_read` makes of the same key.

    Examples
    --------
    >>> fast_plan((slice(1, 9, 4), -1), (10, 4)).reads
    ((slice(1, 6, 4), slice(3, 4, 1)),)
    >>> fast_plan([1, 2], (10, 4)) is None
    True
    """
    if type(key) is not tuple:
        key = (key,)
    if not shape or len(key) > len(shape):
        return None
    sel = []
    post = []
    result = []
    ints = False
    for k, n in zip(key, shape):
        if type(k) is slice:
            try:
                start, stop, step = k.indices(n)
            except (TypeError, ValueError):
                return None
            if step < 0 or stop <= start:
                return None
            m = (stop - start + step - 1) // step
            sel.append(slice(start, start + (m - 1) * step + 1, step))
            post.append(_ALL)
            result.append(m)
        elif isinstance(k, _INTS) and not isinstance(k, _BOOLS):
            i = int(k)
            if i < 0:
                i += n
            if not 0 <= i < n:
                return None
            sel.append(slice(i, i + 1, 1))
            post.append(0)
            ints = True
        else:
            return None
    for n in shape[len(key):]:
        if n == 0:
            return None
        sel.append(slice(0, n, 1))
        result.append(n)
    # A box plan without the frozen dataclass's per-field __setattr__: this
    # runs on every int/slice read.
    p = object.__new__(ReadPlan)
    p.__dict__.update(shape=shape, result_shape=tuple(result), reads=(tuple(sel),),
                      post_key=tuple(post) if ints else (), point_axes=(), move_to=None,
                      n_bcast=0, covering=True)
    return p


_ALL = slice(None)
_INTS = (int, np.integer)
_BOOLS = (bool, np.bool_)


def plan_read(
    nk: NormalizedKey, itemsize: int = 8, *, call_cost: int | None = None
) -> ReadPlan:
    """Plan the reads for a normalized key.

    Parameters
    ----------
    nk : NormalizedKey
        From :func:`lazyarr.core.normalize.normalize`.
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
    >>> from lazyarr.core.normalize import normalize
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
    adv_set = set(adv_comp_idx)
    adjacent = bool(adv_comp_idx) and not advanced_first([i in adv_set for i in range(len(comps))])
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
    if all(type(p) is slice and p == _ALL for p in post):
        post = []  # the block read is the result
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
