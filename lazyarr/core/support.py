"""What a backend declares: what it can read, what a read costs; no I/O.

A backend states two things and the core decides everything else:

* ``support`` -- an :class:`IndexingSupport` level (in the spirit of
  xarray's ``IndexingSupport``): which selections it can read in one call.
* ``cost`` -- a :class:`CostModel`: the cost of a call counted in bytes, the
  gap worth reading through, its chunk shape and (Blosc2) block shape.

From those the core computes, once, what each backend call reads and where
its part lands in the result: :func:`project` (which chunks, or which blocks
of a chunk, a selection touches) and :func:`split_for` (a selection cut into
calls a backend of a lower support level can make). Backends only execute.

Examples
--------
>>> import numpy as np
>>> [tuple(p) for p in axis_parts(slice(2, 9, 1), 4)]
[(0, slice(2, 4, 1), slice(0, 2, None)), (1, slice(0, 4, 1), slice(2, 6, None)), (2, slice(0, 1, 1), slice(6, 7, None))]
>>> split_for((np.array([0, 2]), np.array([1, 3])), IndexingSupport.ONE_VECTOR, CostModel(), 8)
(Step(read=(array([0, 2]), slice(1, 4, 1)), take=(slice(None, None, None), array([0, 2])), out=None),)
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

from lazyarr.core.selection import (Selection, apply_orthogonal, entry_length, entry_span, runs,
                                    selection_shape)

__all__ = ["IndexingSupport", "CostModel", "AxisPart", "axis_parts", "project", "Step", "split_for",
           "read_by_steps", "write_by_steps"]


class IndexingSupport(enum.IntEnum):
    """What a backend can read in one call, lowest first.

    ``BASIC``
        Positive-step slices only.
    ``ONE_VECTOR``
        Slices and at most one sorted unique index array (h5py, HDF5's
        hyperslab selections).
    ``ORTHOGONAL``
        Sorted unique index arrays on any number of axes, as their outer
        product: the :mod:`lazyarr.backends.base` protocol. PyTables, zarr.
    ``POINTS``
        Orthogonal, and lists of coordinates (one element per point) in one
        call. The planner's point groups go to such a backend as orthogonal
        reads today; the level is declared so a backend can be handed them.
    ``NUMPY``
        The user's key as NumPy takes it: the data is a NumPy array (the
        memory backend, a memory map), so NumPy itself validates and indexes
        and the planner only checks the call can skip it.
    """

    BASIC = 1
    ONE_VECTOR = 2
    ORTHOGONAL = 3
    POINTS = 4
    NUMPY = 5


@dataclass(frozen=True)
class CostModel:
    """One cost model, with per-backend parameters.

    Attributes
    ----------
    call_bytes : int
        What one backend call costs, counted as bytes it could have read
        instead (HDF5 spends 10-20 us per call on a contiguous array). The
        planner reads the orthogonal box of several index arrays unless
        point groups are cheaper under this model; h5py reads a slab unless
        one call per index is.
    gap_bytes : int
        Gaps between runs of wanted elements smaller than this are read
        through and dropped in memory: cheaper than one more call.
    piece_bytes : int
        Windows merged across gaps stop at multiples of this many bytes, so
        a sparse key over a large array is read piece by piece into one
        reused buffer.
    chunks : tuple of int or None
        Storage chunk shape (None: contiguous).
    blocks : tuple of int or None
        Shape of the independently decodable blocks inside a chunk (Blosc2),
        or None.

    Examples
    --------
    >>> CostModel(chunks=(4, 3))
    CostModel(call_bytes=16384, gap_bytes=65536, piece_bytes=16777216, chunks=(4, 3), blocks=None)
    """

    call_bytes: int = 16 * 2**10
    gap_bytes: int = 64 * 2**10
    piece_bytes: int = 16 * 2**20
    chunks: tuple[int, ...] | None = None
    blocks: tuple[int, ...] | None = None


#: The parameters of a backend that declares none.
DEFAULT_COST = CostModel()


# ------------------------------------------------------------- projections
class AxisPart(NamedTuple):
    """One chunk's share of one axis of a selection.

    ``chunk`` is the chunk's index along the axis, ``local`` the positions
    inside the chunk (a slice, or an int64 array when they are no run),
    ``out`` where they land in the result (a contiguous slice: selections
    ascend).
    """

    chunk: int
    local: Any
    out: slice


def axis_parts(s: slice | np.ndarray, c: int) -> list[AxisPart]:
    """The chunks of length ``c`` one selection entry touches, in order.

    Examples
    --------
    >>> [tuple(p) for p in axis_parts(np.array([1, 2, 9]), 4)]
    [(0, slice(1, 3, 1), slice(0, 2, None)), (2, slice(1, 2, 1), slice(2, 3, None))]
    """
    if isinstance(s, slice):
        start, step = s.start, s.step
        n = entry_length(s)
        parts = []
        j = 0
        while j < n:
            p = start + j * step
            k = p // c
            j_hi = min(n, -(-((k + 1) * c - start) // step))
            last = start + (j_hi - 1) * step
            parts.append(AxisPart(k, slice(p - k * c, last - k * c + 1, step), slice(j, j_hi)))
            j = j_hi
        return parts
    ks = s // c
    br = (np.flatnonzero(ks[1:] != ks[:-1]) + 1).tolist()
    los, his = [0] + br, br + [len(s)]
    out = []
    for lo, hi in zip(los, his):
        k = int(ks[lo])
        local = s[lo:hi] - k * c
        if local[-1] - local[0] == hi - lo - 1:  # a run: slicing is cheaper
            local = slice(int(local[0]), int(local[-1]) + 1, 1)
        out.append(AxisPart(k, local, slice(lo, hi)))
    return out


def project(sel: Selection, grid: tuple[int, ...]) -> list[tuple[AxisPart, ...]]:
    """Every cell of ``grid`` (a chunk or block shape) that ``sel`` touches.

    One tuple of :class:`AxisPart` per touched cell, in C order of the
    cells: the cell's coordinates are ``tuple(p.chunk for p in parts)``, the
    positions inside it ``tuple(p.local ...)``, and where they land in the
    result ``tuple(p.out ...)``.

    Examples
    --------
    >>> cells = project((slice(3, 6, 1), slice(0, 2, 1)), (4, 2))
    >>> [tuple(p.chunk for p in c) for c in cells]
    [(0, 0), (1, 0)]
    """
    combos: list[tuple[AxisPart, ...]] = [()]
    for s, c in zip(sel, grid):
        parts = axis_parts(s, int(c))
        combos = [cb + (p,) for cb in combos for p in parts]
    return combos


# ------------------------------------------------------- lower support levels
@dataclass(frozen=True, eq=False)
class Step:
    """One backend call of a selection cut for a lower support level.

    Read ``read``, take ``take`` of the block with
    :func:`lazyarr.core.selection.apply_orthogonal` (None: the block as is),
    store it at ``out`` of the result (None: the whole result).
    """

    read: Selection
    take: tuple | None
    out: tuple | None

    def __repr__(self) -> str:
        return f"Step(read={self.read!r}, take={self.take!r}, out={self.out!r})"


def _slab(sel: Selection, keep: int | None) -> Step:
    """Read the spans of every array axis but ``keep``; take the positions after."""
    read = []
    take = []
    for ax, s in enumerate(sel):
        if isinstance(s, slice) or ax == keep:
            read.append(s)
            take.append(slice(None))
        else:
            lo, hi = entry_span(s)
            read.append(slice(lo, hi, 1))
            take.append(s - lo)
    return Step(tuple(read), tuple(take), None)


def split_for(sel: Selection, support: IndexingSupport, cost: CostModel,
              itemsize: int) -> tuple[Step, ...]:
    """``sel`` as calls a backend of level ``support`` can make.

    ``ORTHOGONAL`` and above: the selection itself. ``BASIC``: one read of
    the spans of the array axes. ``ONE_VECTOR`` with arrays on several axes:
    by cost, a *slab* (h5py reads the one index array where it saves most,
    the spans of the others; NumPy takes the wanted positions after) or a
    *loop* (one call per index of the shortest other array axis, each cut
    again), whichever reads fewer bytes once each call counts
    ``cost.call_bytes``.

    Examples
    --------
    Two short lists far apart on two long axes: one call per index.

    >>> sel = (np.array([0, 99_999]), np.array([0, 9_999]), slice(0, 8, 1))
    >>> [st.out for st in split_for(sel, IndexingSupport.ONE_VECTOR, CostModel(), 8)]
    [(slice(None, None, None), slice(0, 1, None)), (slice(None, None, None), slice(1, 2, None))]
    """
    arrays = [ax for ax, s in enumerate(sel) if not isinstance(s, slice)]
    if support >= IndexingSupport.ORTHOGONAL or not arrays:
        return (Step(tuple(sel), None, None),)
    if support == IndexingSupport.BASIC:
        return (_slab(sel, None),)
    if len(arrays) == 1:
        return (Step(tuple(sel), None, None),)
    how, ax = multi_array_choice(sel, itemsize, cost.call_bytes)
    if how == "slab":
        return (_slab(sel, ax),)
    lead = (slice(None),) * ax
    steps: list[Step] = []
    for j, i in enumerate(sel[ax].tolist()):
        sub = sel[:ax] + (slice(i, i + 1, 1),) + sel[ax + 1:]
        here = lead + (slice(j, j + 1),)
        for st in split_for(sub, support, cost, itemsize):
            out = here if st.out is None else _within(here, st.out)
            steps.append(Step(st.read, st.take, out))
    return tuple(steps)


def read_by_steps(read: Callable[[Selection], np.ndarray], sel: Selection,
                  support: IndexingSupport, cost: CostModel, dtype: Any) -> np.ndarray:
    """``sel`` read with calls ``read(part)`` of level ``support`` only.

    The one executor of :func:`split_for`'s steps: a selection the backend
    can take in one call is passed through as it is; otherwise each step's
    block is read, its wanted positions taken, and stored where it lands.
    The read path uses it for every backend that declares a level below
    ``ORTHOGONAL``, so such a backend's ``read`` only ever sees selections of
    its level.

    Examples
    --------
    A backend that reads slices only, asked for two scattered rows:

    >>> a = np.arange(12).reshape(4, 3)
    >>> def read(part):
    ...     assert all(isinstance(s, slice) for s in part)
    ...     return a[part]
    >>> read_by_steps(read, (np.array([0, 3]), slice(0, 3, 2)), IndexingSupport.BASIC,
    ...               CostModel(), a.dtype)
    array([[ 0,  2],
           [ 9, 11]])
    """
    steps = split_for(tuple(sel), support, cost, np.dtype(dtype).itemsize)
    if len(steps) == 1 and steps[0].take is None and steps[0].out is None:
        return read(steps[0].read)
    out = np.empty(selection_shape(sel), dtype=dtype)
    for st in steps:
        block = read(st.read)
        if st.take is not None:
            block = apply_orthogonal(block, st.take)
        if st.out is None:
            out[...] = block
        else:
            out[st.out] = block
    return out


def write_by_steps(write: Callable[[Selection, np.ndarray], None], sel: Selection,
                   value: np.ndarray, support: IndexingSupport) -> None:
    """Store ``value`` at ``sel`` with calls ``write(part, block)`` of level ``support``.

    A write must not touch the positions between the wanted ones, so no slab
    here: each index array the level cannot take is cut into its runs of
    consecutive positions (slices), and one call writes each combination of
    runs. ``ONE_VECTOR`` keeps as a list the array axis with the most runs
    (it saves the most calls). ``value`` has the selection's shape.

    Examples
    --------
    >>> a = np.zeros((3, 4), dtype=int)
    >>> def write(part, block):
    ...     assert all(isinstance(s, slice) for s in part)
    ...     a[part] = block
    >>> write_by_steps(write, (np.array([0, 1]), np.array([0, 2, 3])), np.ones((2, 3), int),
    ...                IndexingSupport.BASIC)
    >>> a
    array([[1, 0, 1, 1],
           [1, 0, 1, 1],
           [0, 0, 0, 0]])
    """
    arrays = [ax for ax, s in enumerate(sel) if not isinstance(s, slice)]
    cut = {ax: runs(sel[ax]) for ax in arrays}
    if support == IndexingSupport.ONE_VECTOR and arrays:
        del cut[max(arrays, key=lambda ax: len(cut[ax][0]))]
    if support >= IndexingSupport.ORTHOGONAL or not cut:
        write(tuple(sel), value)
        return
    per_axis = []
    for ax, (starts, stops) in cut.items():
        ends = np.cumsum(stops - starts).tolist()
        per_axis.append([(ax, slice(a, b, 1), slice(e - (b - a), e))
                         for a, b, e in zip(starts.tolist(), stops.tolist(), ends)])
    for combo in itertools.product(*per_axis):
        part = list(sel)
        where: list[Any] = [slice(None)] * len(sel)
        for ax, s, o in combo:
            part[ax] = s
            where[ax] = o
        write(tuple(part), np.ascontiguousarray(value[tuple(where)]))


def _within(outer: tuple, inner: tuple) -> tuple:
    """Compose two result keys made of unit slices: ``inner`` inside ``outer``."""
    n = max(len(outer), len(inner))
    outer = outer + (slice(None),) * (n - len(outer))
    inner = inner + (slice(None),) * (n - len(inner))
    return tuple(i if o == slice(None) else o for o, i in zip(outer, inner))


def multi_array_choice(sel: Selection, itemsize: int, call_bytes: int) -> tuple[str, int]:
    """``("slab", axis)`` or ``("loop", axis)`` for a selection with >= 2 array axes.

    For ``slab`` the axis is the one read by index list; for ``loop`` it is
    the axis iterated one index per call.

    Examples
    --------
    >>> multi_array_choice((np.arange(0, 20, 2), np.array([1, 3])), 8, 16 * 2**10)
    ('slab', 0)
    """
    lengths = [entry_length(s) for s in sel]
    arrays = [ax for ax, s in enumerate(sel) if not isinstance(s, slice)]
    spans = [n if isinstance(s, slice) else (lambda lh: lh[1] - lh[0])(entry_span(s))
             for s, n in zip(sel, lengths)]
    # Slab: keep the list on the axis whose bounding slice would cost most.
    keep = max(arrays, key=lambda ax: spans[ax] / max(1, lengths[ax]))
    slab = itemsize * float(np.prod([lengths[ax] if ax == keep else spans[ax]
                                     for ax in range(len(sel))], dtype=np.float64))
    # Loop over the shortest other array axis; what each call reads is
    # estimated as the slab of the remaining axes (an upper bound).
    loop_ax = min((ax for ax in arrays if ax != keep), key=lambda ax: lengths[ax])
    per_call = slab / max(1, spans[loop_ax])
    loop = lengths[loop_ax] * (call_bytes + per_call)
    return ("slab", keep) if slab + call_bytes <= loop else ("loop", loop_ax)
