"""Minibatches: every row once per epoch, in order or chunk-aware shuffled, reproducibly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lazyarr as la
from lazyarr.backends import MemoryBackend


def _ids(n, width=3):
    """Rows whose first column is the row number, so a row can be traced."""
    a = np.zeros((n, width), dtype=np.int64)
    a[:, 0] = np.arange(n)
    a[:, 1:] = np.arange(n)[:, None] * 10
    return a


@given(n=st.integers(0, 60), bs=st.integers(1, 17), window=st.sampled_from([1, 24, 100, 10**6]),
       shuffle=st.booleans(), seed=st.integers(0, 5), drop_last=st.booleans())
def test_every_row_once_per_epoch(n, bs, window, shuffle, seed, drop_last):
    a = _ids(n)
    x = la.LazyArray(MemoryBackend(a.copy()))
    batches = list(x.iter_batches(bs, shuffle=shuffle, seed=seed, drop_last=drop_last, window_bytes=window))
    sizes = [len(b) for b in batches]
    assert all(s == bs for s in sizes[:-1])
    assert sum(sizes) == (n // bs * bs if drop_last else n)
    rows = np.concatenate(batches) if batches else np.empty((0, 3), np.int64)
    assert all(b.dtype == a.dtype and isinstance(b, np.ndarray) for b in batches)
    np.testing.assert_array_equal(rows, a[rows[:, 0]])  # whole rows, unchanged
    assert len(set(rows[:, 0].tolist())) == len(rows)  # none twice
    if not shuffle:
        np.testing.assert_array_equal(rows, a[: len(rows)])
    again = list(x.iter_batches(bs, shuffle=shuffle, seed=seed, drop_last=drop_last, window_bytes=window))
    assert all(np.array_equal(p, q) for p, q in zip(batches, again)) and len(again) == len(batches)


def test_shuffled_epoch_reads_whole_chunks_in_windows(tmp_path):
    a = _ids(1000, 4)
    with la.open(tmp_path / "b.h5", "w") as store:
        store.create_array("data", a, chunks=(50, 4))
    with la.open(tmp_path / "b.h5") as store:
        x = store["data"]
        reads = []
        orig = la.LazyArray.__getitem__

        def spy(self, key):
            reads.append(key)
            return orig(self, key)

        la.LazyArray.__getitem__ = spy
        try:
            batches = list(x.iter_batches(64, shuffle=True, seed=7, window_bytes=200 * 32))
        finally:
            la.LazyArray.__getitem__ = orig
        other = np.concatenate(list(x.iter_batches(64, shuffle=True, seed=8, window_bytes=200 * 32)))
    # Windows of 200 rows = 4 whole chunks, each read once, in a random order.
    assert sorted((k.start, k.stop) for k in reads) == [(s, s + 200) for s in range(0, 1000, 200)]
    assert [k.start for k in reads] != sorted(k.start for k in reads)
    rows = np.concatenate(batches)[:, 0]
    assert sorted(rows.tolist()) == list(range(1000))
    assert rows[:200].tolist() != sorted(rows[:200].tolist())  # shuffled within the window
    assert not np.array_equal(other[:, 0], rows)


def test_bad_batch_sizes():
    x = la.LazyArray(MemoryBackend(np.zeros((4, 2))))
    for bad, exc in [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)]:
        with pytest.raises(exc):
            x.iter_batches(bad)
    with pytest.raises(TypeError):
        la.LazyArray(MemoryBackend(np.zeros(()))).iter_batches(1)


@pytest.mark.parametrize("backend", ["offsets", "vl"])
def test_ragged_batches_and_pad(tmp_path, backend):
    rng = np.random.default_rng(0)
    items = [np.full((int(rng.integers(1, 5)), 2 + i % 2), i, dtype=np.float32) for i in range(37)]
    with la.open(tmp_path / "r.h5", "w") as store:
        r = store.create_ragged("r", dtype="float32", item_ndim=2, backend=backend)
        r.extend(items)
    with la.open(tmp_path / "r.h5") as store:
        r = store["r"]
        in_order = list(r.iter_batches(5))
        assert [len(b) for b in in_order] == [5] * 7 + [2]
        flat = [it for b in in_order for it in b]
        assert all(np.array_equal(p, q) and p.dtype == q.dtype for p, q in zip(flat, items))
        shuffled = list(r.iter_batches(5, shuffle=True, seed=3, drop_last=True, window_bytes=64))
        assert all(len(b) == 5 for b in shuffled) and len(shuffled) == 7
        seen = [it for b in shuffled for it in b]
        ids = [int(it[0, 0]) for it in seen]
        assert len(set(ids)) == 35 and ids != sorted(ids)
        assert all(np.array_equal(it, items[i]) for it, i in zip(seen, ids))
        padded, shapes = la.pad(in_order[0], fill_value=-1)
    assert shapes.dtype == np.int64 and shapes.tolist() == [list(it.shape) for it in items[:5]]
    assert padded.shape == (5,) + tuple(shapes.max(axis=0)) and padded.dtype == np.float32
    for p, it, s in zip(padded, items, shapes):
        np.testing.assert_array_equal(p[: s[0], : s[1]], it)
        assert (p[s[0]:] == -1).all() and (p[:, s[1]:] == -1).all()


def test_pad_rejects_mixed_ndim_and_nothing():
    with pytest.raises(ValueError):
        la.pad([np.zeros(2), np.zeros((2, 2))])
    with pytest.raises(ValueError):
        la.pad([])
