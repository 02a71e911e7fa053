"""Minibatches: ``x.iter_batches(batch_size, shuffle=..., seed=...)`` and :func:`pad`.

Rows are read in *windows* of whole storage chunks (at most ``window_bytes``
each, :data:`lazyarr.reduce.DEFAULT_BLOCK_BYTES` by default). In order, the
windows are read front to back; shuffled, the windows are visited in a random
order and the rows inside each window are permuted, so a shuffled epoch still
reads the file in large sequential pieces. Batches run across window
boundaries; every row appears exactly once per epoch (the last batch is
short unless ``drop_last``), and the same ``seed`` gives the same epoch.

Examples
--------
>>> import numpy as np, lazyarr as la
>>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(10)))
>>> [b.tolist() for b in x.iter_batches(4)]
[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
>>> rows = np.concatenate(list(x.iter_batches(3, shuffle=True, seed=1, window_bytes=32)))
>>> sorted(rows.tolist()) == list(range(10))
True
>>> pad([np.ones((2, 1)), np.ones((1, 3))], fill_value=-1)
(array([[[ 1., -1., -1.],
        [ 1., -1., -1.]],
<BLANKLINE>
       [[ 1.,  1.,  1.],
        [-1., -1., -1.]]]), array([[2, 1],
       [1, 3]]))
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["iter_batches", "iter_item_batches", "pad"]


def _check(batch_size: Any) -> int:
    if isinstance(batch_size, (bool, np.bool_)):
        raise TypeError("batch_size must be an integer, not bool")
    batch_size = operator.index(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return batch_size


def _windows(n: int, rows: int, shuffle: bool, rng: np.random.Generator | None) -> list[tuple[int, int]]:
    wins = [(s, min(n, s + rows)) for s in range(0, n, rows)]
    if shuffle:
        wins = [wins[i] for i in rng.permutation(len(wins))]
    return wins


def _batches(windows: list[tuple[int, int]], read: Callable[[int, int], Any],
             take: Callable[[Any, np.ndarray], Any], join: Callable[[list], Any],
             batch_size: int, drop_last: bool, rng: np.random.Generator | None) -> Iterator[Any]:
    carry: list = []  # pieces of the batch being filled
    have = 0
    for start, stop in windows:
        block = read(start, stop)
        if rng is not None:
            block = take(block, rng.permutation(stop - start))
        pos, m = 0, stop - start
        while pos < m:
            k = min(batch_size - have, m - pos)
            carry.append(block[pos : pos + k])
            have += k
            pos += k
            if have == batch_size:
                yield join(carry)
                carry, have = [], 0
    if have and not drop_last:
        yield join(carry)


def iter_batches(x: Any, batch_size: int, *, shuffle: bool = False, seed: Any = None,
                 drop_last: bool = False, window_bytes: int | None = None) -> Iterator[np.ndarray]:
    """Yield ``x`` along axis 0 in batches of ``batch_size`` rows (ndarrays).

    Parameters
    ----------
    x : LazyArray
        At least 1-d.
    batch_size : int
        Rows per batch (the last batch may be shorter).
    shuffle : bool
        Visit windows of whole chunks in random order, rows shuffled within each.
    seed : int, numpy.random.Generator or None
        For ``numpy.random.default_rng``; the same seed gives the same epoch.
    drop_last : bool
        Drop a last batch shorter than ``batch_size``.
    window_bytes : int, optional
        Bytes per window (default :data:`lazyarr.reduce.DEFAULT_BLOCK_BYTES`).
    """
    from lazyarr.reduce import rows_per_block

    batch_size = _check(batch_size)
    if not x.shape:
        raise TypeError("iteration over a 0-d array")
    rng = np.random.default_rng(seed) if shuffle else None
    wins = _windows(x.shape[0], rows_per_block(x, window_bytes, fast=False), shuffle, rng)
    return _batches(wins, lambda a, b: x[a:b], lambda blk, p: blk[p],
                    lambda parts: parts[0] if len(parts) == 1 else np.concatenate(parts),
                    batch_size, drop_last, rng)


def iter_item_batches(r: Any, batch_size: int, *, shuffle: bool = False, seed: Any = None,
                      drop_last: bool = False, window_bytes: int | None = None) -> Iterator[list]:
    """:func:`iter_batches` for a RaggedArray: each batch is a list of items."""
    from lazyarr.reduce import DEFAULT_BLOCK_BYTES

    batch_size = _check(batch_size)
    rng = np.random.default_rng(seed) if shuffle else None
    n = len(r)
    budget = DEFAULT_BLOCK_BYTES if window_bytes is None else int(window_bytes)
    avg = max(1, r.nbytes // max(1, n))
    wins = _windows(n, max(1, budget // avg), shuffle, rng)
    return _batches(wins, lambda a, b: r[a:b], lambda items, p: [items[i] for i in p],
                    lambda parts: [it for part in parts for it in part],
                    batch_size, drop_last, rng)


def pad(items: Sequence[Any], fill_value: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stack items of one ndim but different shapes into one padded array.

    Parameters
    ----------
    items : sequence of array_like
        At least one item; all with the same number of dimensions.
    fill_value : scalar
        Value of the padding.

    Returns
    -------
    padded : ndarray
        Shape ``(len(items),) + elementwise max of the shapes``; item ``i`` is
        ``padded[i][tuple(slice(0, n) for n in shapes[i])]``.
    shapes : ndarray
        ``(len(items), ndim)`` int64: each item's shape.
    """
    arrs = [np.asarray(a) for a in items]
    if not arrs:
        raise ValueError("pad() needs at least one item")
    ndims = {a.ndim for a in arrs}
    if len(ndims) != 1:
        raise ValueError(f"items must all have the same ndim, got {sorted(ndims)}")
    shapes = np.array([a.shape for a in arrs], dtype=np.int64).reshape(len(arrs), -1)
    dtype = np.result_type(*arrs)
    out = np.full((len(arrs),) + tuple(shapes.max(axis=0)), fill_value, dtype=dtype)
    for i, a in enumerate(arrs):
        out[(i,) + tuple(slice(0, n) for n in a.shape)] = a
    return out, shapes
