"""Windows: an orthogonal selection as the boxes a hyperslab reader makes.

A library that reads one box (a hyperslab) per call, or a union of boxes
per call (HDF5 through PyTables), is handed a selection as *windows*: each
index array is cut into runs of consecutive indices and, for reads, the runs
are merged across gaps cheaper to read through than to skip and within one
chunk (decoded whole anyway). What is read beyond the wanted positions is
dropped in memory. This module decides the windows, and how to group them
into calls; the backend only turns them into its library's calls.

Examples
--------
>>> import numpy as np
>>> (ax,) = plan_windows((np.array([0, 1, 5, 40]),), (100,), 8, None,
...                      gap_bytes=32, piece_bytes=2**20)
>>> [w[:3] for w in ax.windows], ax.exact
([(0, 6, 1), (40, 41, 1)], False)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from lazyarr.core.selection import Selection, merge_runs, runs, selection_shape

__all__ = ["Window", "AxisWindows", "plan_windows", "window_strategy"]


class Window(NamedTuple):
    """One window along one axis.

    Read positions ``range(start, stop, step)``; of the block read, keep
    ``src`` (a slice or the int64 positions) and store them at ``dst`` (a
    slice) of the result.
    """

    start: int
    stop: int
    step: int
    src: Any
    dst: slice


class AxisWindows:
    """One axis of a selection as windows to read (see :class:`Window`).

    ``exact`` says no window reads anything that was not asked for.

    Examples
    --------
    >>> ax = AxisWindows(10, np.array([1, 2, 3, 7]), chunk=None, merge_gap=None)
    >>> [tuple(w[:3]) for w in ax.windows], ax.exact
    ([(1, 4, 1), (7, 8, 1)], True)
    """

    def __init__(self, n: int, s: slice | np.ndarray, chunk: int | None,
                 merge_gap: int | None, piece: int | None = None) -> None:
        self.n, self.chunk = n, chunk
        if isinstance(s, slice):
            self.windows = [Window(s.start, s.stop, s.step, slice(None), slice(None))]
            self.exact = True
            return
        idx = np.asarray(s, dtype=np.int64)
        starts, stops = runs(idx)
        if merge_gap is not None:  # reads only: a write must not touch the gaps
            starts, stops = merge_runs(starts, stops, merge_gap, chunk, piece)
        self.exact = bool((stops - starts).sum() == len(idx))
        bounds = np.searchsorted(idx, stops)  # where each window's indices end
        self.windows = []
        lo = 0
        for a, b, hi in zip(starts.tolist(), stops.tolist(), bounds.tolist()):
            self.windows.append(Window(a, b, 1, idx[lo:hi] - a, slice(lo, hi)))
            lo = hi

    @property
    def whole_slice(self) -> bool:
        """One window that is the selection's own slice (no positions to take)."""
        return len(self.windows) == 1 and isinstance(self.windows[0].src, slice)

    def groups(self, max_runs: int) -> list[list[Window]]:
        """The windows in groups of at most ``max_runs``, each group inside one
        chunk, so that a union of a group's boxes decodes (and, for writes,
        re-encodes) each chunk about once."""
        out: list[list[Window]] = []
        for w in self.windows:
            if (not out or len(out[-1]) >= max_runs
                    or (self.chunk and w.start // self.chunk != out[-1][0].start // self.chunk)):
                out.append([])
            out[-1].append(w)
        return out

    def __repr__(self) -> str:
        return f"AxisWindows(n={self.n}, windows={len(self.windows)}, exact={self.exact})"


def plan_windows(sel: Selection, shape: tuple[int, ...], itemsize: int,
                 chunks: tuple[int, ...] | None, *, gap_bytes: int | None,
                 piece_bytes: int) -> list[AxisWindows]:
    """Each axis of ``sel`` as :class:`AxisWindows`.

    ``gap_bytes`` None: exact runs only (writes). Otherwise gaps are bridged
    when they cost less than ``gap_bytes`` of reading, counted in bytes of
    the block one index of this axis spans (the trailing axes of the
    result), and windows stop at multiples of ``piece_bytes`` (whole chunks),
    so a sparse key over a large array is read piece by piece.
    """
    out_shape = selection_shape(sel)
    axes = []
    for i, (n, s) in enumerate(zip(shape, sel)):
        gap = piece = None
        chunk = int(chunks[i]) if chunks else None
        if gap_bytes is not None and not isinstance(s, slice):
            per_index = max(1, itemsize * math.prod(out_shape[i + 1:]))
            gap = gap_bytes // per_index
            piece = max(1, piece_bytes // per_index)
            if chunk:
                piece = max(chunk, piece // chunk * chunk)
        axes.append(AxisWindows(n, s, chunk, gap, piece))
    return axes


def window_strategy(axes: list[AxisWindows], itemsize: int, *, max_runs: int,
                    gap_bytes: int) -> str:
    """How to read the boxes of ``axes``: ``"one"``, ``"boxes"`` or ``"unions"``.

    ``"one"``: a single exact box. ``"boxes"``: one call per box, when they
    are few (at most ``max_runs``) or large enough (``gap_bytes`` each on
    average) that a call each costs little next to their bytes. Otherwise
    ``"unions"`` of at most ``max_runs`` boxes per call (HDF5 builds a union
    in time quadratic in its runs).

    Examples
    --------
    >>> axes = plan_windows((np.arange(0, 400, 4), slice(0, 2, 1)), (400, 2), 8, None,
    ...                     gap_bytes=0, piece_bytes=2**20)
    >>> window_strategy(axes, 8, max_runs=128, gap_bytes=2**16)
    'boxes'
    >>> window_strategy(axes, 8, max_runs=16, gap_bytes=2**16)
    'unions'
    """
    n_boxes = math.prod(len(a.windows) for a in axes)
    if n_boxes == 1 and all(a.exact for a in axes):
        return "one"
    box_bytes = itemsize * math.prod(
        sum(len(range(w.start, w.stop, w.step)) for w in a.windows) for a in axes) // n_boxes
    if n_boxes <= max_runs or box_bytes >= gap_bytes:
        return "boxes"
    return "unions"
