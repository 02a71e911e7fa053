"""The planner on its own: what gets read for a key, without any file.

These pin the I/O promises of the core issue: reads are proportional to the
selection, backends only see positive-step slices and sorted unique arrays,
and a plan is a printable value.
"""

from __future__ import annotations

import numpy as np
import pytest

import lazyarr as la
from lazyarr.core.selection import selection_shape
from lazyarr.core.normalize import normalize
from lazyarr.core.plan import plan_read


def plan(key, shape, itemsize=8):
    return plan_read(normalize(key, shape), itemsize)


def assert_backend_form(p):
    """Every read is a positive-step slice or a sorted unique int64 array."""
    for sel in p.reads:
        for s in sel:
            if isinstance(s, slice):
                assert s.step >= 1 and 0 <= s.start <= s.stop
            else:
                assert s.dtype == np.int64 and s.ndim == 1
                assert np.all(np.diff(s) > 0)


@pytest.mark.parametrize(
    "key, shape, reads_elements",
    [
        pytest.param(np.array([10, 500_000, 999_999, 10]), (10**6, 4), 3 * 4, id="scattered-rows"),
        pytest.param(np.array([7, 3, 5, 4, 6]), (10**6,), 5, id="dense-unsorted-slab"),
        pytest.param(np.array([0, 2, 4, 6]), (10**6,), 7, id="slab-at-most-twice"),
        pytest.param(np.array([0, 3, 6, 9]), (10**6,), 4, id="sparse-no-slab"),
        pytest.param((slice(None, None, -1), 3), (1000, 8), 1000, id="negative-step"),
        pytest.param((slice(None, None, -7), slice(1, 2)), (1000, 8), 143, id="negative-odd-step"),
        pytest.param(5, (10**6, 3), 3, id="int"),
    ],
)
def test_reads_are_proportional_to_the_selection(key, shape, reads_elements):
    p = plan(key, shape)
    assert_backend_form(p)
    assert p.elements_read == reads_elements


def test_scattered_rows_never_read_the_covering_slab():
    rng = np.random.default_rng(0)
    idx = rng.choice(10**7, size=100, replace=False)
    p = plan(idx, (10**7, 16))
    assert p.elements_read == 100 * 16


def test_diagonal_of_a_big_array_is_read_as_points_not_the_box():
    i = np.arange(20_000)
    p = plan((i, i), (20_000, 20_000))
    assert p.mode == "points"
    assert p.elements_read == 20_000
    assert_backend_form(p)


def test_sparse_full_mask_reads_points():
    mask = np.zeros((3000, 3000), dtype=bool)
    mask[np.arange(0, 3000, 3), np.arange(0, 3000, 3)[::-1]] = True
    # With free calls a sparse mask is read point by point, row by row...
    p = plan_read(normalize(mask, mask.shape), 8, call_cost=0)
    assert p.mode == "points" and len(p.reads) == 1000
    assert p.elements_read == mask.sum()
    # ... while at the default call cost one box read is cheaper.
    assert plan(mask, mask.shape).mode == "box"


def test_point_plans_give_numpys_answer_for_every_placement():
    a = np.arange(41**4, dtype=np.int32).reshape(41, 41, 41, 41)
    x = la.LazyArray(la.backends.MemoryBackend(a.copy()))
    i = np.array([[0, 10], [20, 30]])
    j = np.array([[40, 30], [20, 0]])
    for key in [(i, j), (slice(None), i, j), (i, slice(None), j), (0, slice(None), i, j),
                (None, i, Ellipsis, j), (i, j, None, slice(None, None, -1))]:
        nk = normalize(key, a.shape)
        p = plan_read(nk, a.itemsize, call_cost=0)
        assert p.mode == "points", key
        assert p.result_shape == a[key].shape
        got = x._execute(p)
        assert got.shape == a[key].shape and np.array_equal(got, a[key]), key


def test_plan_is_a_printable_value():
    p = plan((slice(None, None, -1), [4, 0, 4], None, Ellipsis), (5, 9, 2))
    text = repr(p)
    assert "ReadPlan(mode='box'" in text and "post_key=" in text
    assert p.result_shape == (5, 3, 1, 2)
    assert p.post_key[0] == slice(None, None, -1)


def test_plan_never_reads_for_an_empty_result():
    class Exploding(la.backends.MemoryBackend):
        def read(self, sel):
            raise AssertionError("no read expected")

    x = la.LazyArray(Exploding(np.zeros((5, 4))))
    assert x[2:2].shape == (0, 4)
    assert x[[], ::-1].shape == (0, 4)
    assert x[np.zeros(5, bool)].shape == (0, 4)


def test_iteration_reads_in_blocks_not_rows():
    calls = []

    class Counting(la.backends.MemoryBackend):
        def read(self, sel):
            calls.append(selection_shape(sel))
            return super().read(sel)

    a = np.arange(30_000).reshape(10_000, 3)
    x = la.LazyArray(Counting(a))
    rows = list(x)
    assert len(rows) == 10_000 and np.array_equal(np.stack(rows), a)
    assert len(calls) == 1
