"""A third-party backend in one file: a folder of ``.npy`` row blocks.

The whole recipe for putting your own storage behind :class:`lazyarr.LazyArray`
and proving it gives NumPy's answers:

1. Implement the backend protocol (:mod:`lazyarr.backends.base`): ``kind``,
   ``shape``, ``dtype``, ``chunks``, ``readonly``, ``extendable`` and
   ``read(sel)`` (plus ``write(sel, value)`` and ``append(rows)`` if you
   support them). ``sel`` holds one entry per axis, either a slice with
   ``0 <= start <= stop`` and ``step >= 1`` or a sorted, unique int64 array:
   lazyarr has already turned the user's key (negative steps, repeats, masks,
   ``None``...) into that, and finishes the job in memory.
2. Test it with one call, :func:`lazyarr.testing.check_backend`, in your test
   suite (see :func:`test_conformance` at the bottom).

This backend stores rows ``[k * block_rows, (k + 1) * block_rows)`` in
``block_<k>.npy`` and the shape and dtype in ``meta.json``. Reads memory-map
only the blocks a selection touches (``np.load(mmap_mode="r")``); appends
fill the last block and add new ones. It uses nothing but the public API.

Run it (``python examples/custom_backend.py``) for a short demo.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from typing import Any

import numpy as np

import lazyarr as la
from lazyarr.backends import BackendBase, Selection, selection_shape
from lazyarr.testing import check_backend, shapes


class NpyBlocksBackend(BackendBase):
    """Rows of an array in fixed-size ``.npy`` blocks in one folder.

    Parameters
    ----------
    folder : str or os.PathLike
        A folder made by :meth:`create`.
    """

    kind = "npy-blocks"
    readonly = False
    extendable = True

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = os.fspath(folder)
        with open(os.path.join(self.folder, "meta.json")) as f:
            meta = json.load(f)
        self._dtype = np.dtype(meta["dtype"])  # dtype.str keeps the byte order
        self._rows = int(meta["rows"])
        self._tail = tuple(meta["tail"])
        self.block_rows = int(meta["block_rows"])
        self.chunks = (self.block_rows,) + self._tail

    @classmethod
    def create(cls, folder: str | os.PathLike, data: Any, block_rows: int = 1024) -> "NpyBlocksBackend":
        """Store ``data`` (at least 1-d) in a new folder and open it."""
        a = np.asarray(data)
        if a.ndim == 0:
            raise ValueError("npy-blocks arrays have at least one axis")
        os.makedirs(folder)
        _write_meta(folder, a.dtype, 0, a.shape[1:], block_rows)
        backend = cls(folder)
        backend.append(a)
        return backend

    def __reduce__(self) -> Any:
        # Pickle by reference: the folder, not the data.
        return (type(self), (self.folder,))

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._rows,) + self._tail

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    # ------------------------------------------------------------ helpers
    def _path(self, k: int) -> str:
        return os.path.join(self.folder, f"block_{k:06d}.npy")

    def _load(self, k: int, mode: str = "r") -> np.ndarray:
        return np.load(self._path(k), mmap_mode=mode)

    def _groups(self, rows: slice | np.ndarray):
        """(block, rows inside the block, positions in the selection) per touched block."""
        idx = np.arange(rows.start, rows.stop, rows.step) if isinstance(rows, slice) else rows
        blocks = idx // self.block_rows
        # idx is sorted, so each block's rows are one run of positions.
        starts = np.flatnonzero(np.diff(blocks, prepend=-1))
        for lo, hi in zip(starts, list(starts[1:]) + [len(idx)]):
            k = int(blocks[lo])
            yield k, idx[lo:hi] - k * self.block_rows, slice(int(lo), int(hi))

    # ----------------------------------------------------------- protocol
    def read(self, sel: Selection) -> np.ndarray:
        out = np.empty(selection_shape(sel), dtype=self._dtype)
        if out.size == 0:
            return out
        for k, local, where in self._groups(sel[0]):
            part = self._load(k)[local]  # fancy indexing copies out of the map
            for ax, s in enumerate(sel[1:], start=1):
                # One axis at a time: arrays on several axes select their
                # outer product (the protocol's orthogonal selection).
                part = part[(slice(None),) * ax + (s,)]
            out[where] = part
        return out

    def write(self, sel: Selection, value: np.ndarray) -> None:
        for k, local, where in self._groups(sel[0]):
            block = self._load(k, mode="r+")
            others = [np.arange(s.start, s.stop, s.step) if isinstance(s, slice) else s
                      for s in sel[1:]]
            block[np.ix_(local, *others)] = value[where]
            block.flush()

    def append(self, rows: np.ndarray) -> None:
        n, b = self._rows, self.block_rows
        pos = 0
        while pos < len(rows):
            k, filled = divmod(n, b)
            take = min(b - filled, len(rows) - pos)
            block = np.empty((filled + take,) + self._tail, dtype=self._dtype)
            if filled:
                block[:filled] = np.load(self._path(k))
            block[filled:] = rows[pos : pos + take]
            np.save(self._path(k), block)
            n += take
            pos += take
        # The metadata last: an append that fails half way leaves the array
        # as it was (the extra rows in the blocks are never read).
        _write_meta(self.folder, self._dtype, n, self._tail, b)
        self._rows = n


def _write_meta(folder: str | os.PathLike, dtype: np.dtype, rows: int, tail: tuple, block_rows: int) -> None:
    tmp = os.path.join(folder, "meta.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"dtype": np.dtype(dtype).str, "rows": rows, "tail": list(tail),
                   "block_rows": block_rows}, f)
    os.replace(tmp, os.path.join(folder, "meta.json"))


# ---------------------------------------------------------------- its tests


def check(folder: str | os.PathLike, **kwargs: Any) -> dict[str, str]:
    """Run lazyarr's conformance suite on this backend, with arrays under ``folder``."""
    names = itertools.count()

    def factory(a: np.ndarray) -> NpyBlocksBackend:
        # A fresh folder per example; small blocks so keys cross block edges.
        return NpyBlocksBackend.create(os.path.join(folder, f"a{next(names)}"), a, block_rows=3)

    # Rows need at least one axis: no 0-d arrays.
    return check_backend(factory, shapes=shapes(min_dims=1), **kwargs)


def test_conformance(tmp_path: Any) -> None:
    """All a third party's test suite needs (pytest supplies ``tmp_path``)."""
    check(tmp_path)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        b = NpyBlocksBackend.create(os.path.join(d, "x"), np.arange(20.0).reshape(10, 2), block_rows=4)
        x = la.LazyArray(b)
        print(x)
        print("x[[9, 0, 9], ::-1] =", x[[9, 0, 9], ::-1].tolist())
        x.append(np.ones((3, 2)))
        print("after append, len(x) =", len(x), "blocks:", sorted(os.listdir(b.folder)))
        print("conformance:", check(os.path.join(d, "conformance"), max_examples=20))
