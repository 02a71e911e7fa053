"""Lazy views: ``x.lazy[a][b]`` is ``np.asarray(x)[a][b]``, for every key the strategies draw.

Reads go through the oracle at every level of a chain of views; writes
through a view are compared with a NumPy model that writes the storage
positions the view maps to (for a basic first key that is exactly NumPy's
``x[a][b] = v``; for an advanced one NumPy would write a copy).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import lazyarr as la
from lazyarr.backends import MemoryBackend
from lazyarr.testing import (
    arrays,
    assert_same_as_numpy,
    assert_same_outcome,
    keys,
    numpy_verdict,
    shapes,
    write_values,
)
from lazyarr.view import LazyView


@st.composite
def chains(draw, depth=3):
    """An array and up to ``depth`` keys, each drawn for the shape the previous one gives."""
    a = draw(arrays(shape=shapes(max_dims=3, max_side=5)))
    ks = []
    shape = a.shape
    for _ in range(depth):
        k = draw(keys(shape))
        ks.append(k)
        verdict = numpy_verdict(shape, k)
        if isinstance(verdict, BaseException):
            break
        shape = verdict
    return a, ks


def _stand_in(shape):
    return np.broadcast_to(np.empty((), np.uint8), shape)


def _whole(v, expected_is_scalar):
    return v[()] if expected_is_scalar else v[...]


@given(chain=chains())
@example(chain=(np.arange(24).reshape(2, 3, 4), [(slice(None), slice(None), [0, 1]), 0, [1, 0]]))
@example(chain=(np.arange(24).reshape(2, 3, 4), [([0, 1], slice(None), [0, 1]), (slice(None), 1)]))
@example(chain=(np.arange(6).reshape(2, 3), [(None, [1, 0]), (0, Ellipsis, None), ()]))
@example(chain=(np.arange(6).reshape(2, 3), [np.ones((2, 3), bool), [[5, 0], [1, 1]], (1, np.True_)]))
@example(chain=(np.arange(6).reshape(2, 3), [(slice(None, None, -1), [2, 0, 2]), slice(None, None, -2)]))
@example(chain=(np.arange(6).reshape(2, 3), [(False, 0), Ellipsis, None]))
def test_view_chains_read_like_numpy(chain):
    a, ks = chain
    x = la.LazyArray(MemoryBackend(a.copy()))
    view, expected = x, a
    for k in ks:
        assert_same_as_numpy(view.__getitem__, expected, k)
        verdict = numpy_verdict(expected.shape, k)
        if isinstance(verdict, BaseException):
            with pytest.raises(type(verdict)):
                view.lazy[k]
            return
        scalar = isinstance(_stand_in(expected.shape)[k], np.generic)
        view = view.lazy[k]
        # A scalar result becomes the 0-d array a view of it stands for.
        expected = expected[(k if isinstance(k, tuple) else (k,)) + (Ellipsis,)] if scalar else expected[k]
        assert isinstance(view, la.LazyArray) and view.shape == expected.shape
        assert view.dtype == expected.dtype and view.size == expected.size
        assert_same_outcome(lambda: _whole(view, scalar), lambda: expected[()] if scalar else expected[...])
        assert_same_outcome(lambda: np.asarray(view), lambda: expected, "np.asarray(view)")
        assert_same_outcome(lambda: len(view), lambda: len(expected), "len(view)")
        assert_same_outcome(lambda: list(view), lambda: list(expected), "list(view)")
        # One key on the base reproduces the view (what pickling will rely on).
        if a.ndim and view.size:
            again = x.lazy[view._key]
            assert again.shape == view.shape
            np.testing.assert_array_equal(again[...], expected)


@st.composite
def view_writes(draw):
    a = draw(arrays(shape=shapes(max_dims=3, max_side=4)))
    k1 = draw(keys(a.shape, invalid=False))
    vshape = numpy_verdict(a.shape, k1)
    k2 = draw(keys(vshape))
    value = draw(write_values(vshape, k2, a.dtype))
    return a, k1, k2, value


@given(w=view_writes())
@example(w=(np.zeros((2, 3)), ([0, 0], slice(None)), 0, np.arange(3.0)))
@example(w=(np.zeros(4), [3, 1, 3], slice(None), np.array([1.0, 2.0, 3.0])))
@example(w=(np.zeros((2, 3, 4)), (slice(None), slice(None), [0, 1]), 0, np.arange(6.0).reshape(3, 2)))
def test_writes_through_views(w):
    a, k1, k2, value = w
    x = la.LazyArray(MemoryBackend(a.copy()))
    model = a.copy()

    def lazy_write():
        x.lazy[k1][k2] = value
        return np.asarray(x)

    def model_write():
        # NumPy's verdict on key and value first, in NumPy's order, on a
        # stand-in of the view's shape; then the storage positions the view
        # maps to, written like NumPy writes (last write wins).
        vshape = numpy_verdict(a.shape, k1)
        cell = np.empty(1, dtype=a.dtype)
        stand_in = np.lib.stride_tricks.as_strided(cell, vshape, (0,) * len(vshape), writeable=True)
        stand_in[k2] = value
        pos = np.arange(a.size).reshape(a.shape)[k1][k2]
        model.reshape(-1)[pos] = value
        return model

    assert_same_outcome(lazy_write, model_write, f"x.lazy[{k1!r}][{k2!r}] = {value!r}")
    if numpy_verdict(a.shape, k1) is not None and not _advanced(k1):
        basic = a.copy()
        try:
            basic[k1][k2] = value
        except Exception:  # noqa: BLE001 - compared above
            return
        np.testing.assert_array_equal(basic, model)


def _advanced(k):
    parts = k if isinstance(k, tuple) else (k,)
    return any(isinstance(c, (list, tuple, np.ndarray, bool, np.bool_)) for c in parts)


def test_making_a_view_reads_nothing_and_validates_at_once():
    x = la.LazyArray(MemoryBackend(np.arange(20.0).reshape(4, 5)))
    v = x.lazy[::2, [4, 0]].lazy[::-1]
    assert x.cache_stats["backend_reads"] == 0
    assert v._base is x and isinstance(v, LazyView)
    with pytest.raises(IndexError):
        x.lazy[4]
    with pytest.raises(IndexError):
        v.lazy[:, 2]
    with pytest.raises(IndexError):
        x.lazy[1.5]
    np.testing.assert_array_equal(v[...], np.arange(20.0).reshape(4, 5)[::2, [4, 0]][::-1])


def test_a_view_of_a_view_is_one_key_and_one_read():
    x = la.LazyArray(MemoryBackend(np.arange(1000).reshape(100, 10)))
    v = x.lazy[10:90:2].lazy[5:, ::3].lazy[::-1, 1]
    assert v._key == (slice(88, 18, -2), 3)
    before = x.cache_stats["backend_reads"]
    np.testing.assert_array_equal(v[...], np.arange(1000).reshape(100, 10)[10:90:2][5:, ::3][::-1, 1])
    assert x.cache_stats["backend_reads"] == before + 1


@pytest.mark.parametrize("policy", [la.NoCache(), la.SwapWindow(4096), la.InMemory()], ids=repr)
@pytest.mark.parametrize("backend", ["plain", "compressed"])
def test_views_on_files_share_the_base_cache(tmp_path, policy, backend):
    a = np.random.default_rng(0).standard_normal((200, 6)).astype(np.float32)
    path = tmp_path / "v.h5"
    with la.open(path, "w") as store:
        store.create_array("data", a, backend=backend)
    with la.open(path, "r+", cache=policy) as store:
        x = store["data"]
        v = x.lazy[20:180, [5, 1, 2]]
        assert v.cache is x.cache and v._cache is x._cache
        e = a[20:180, [5, 1, 2]]
        np.testing.assert_array_equal(v[3:9], e[3:9])
        assert v.cache_stats == x.cache_stats and x.cache_stats["backend_reads"] > 0
        np.testing.assert_allclose(v.mean(axis=0, block_bytes=100), e.mean(axis=0), rtol=1e-5, atol=1e-6)
        assert_same_outcome(lambda: v.argmax(axis=0, block_bytes=100), lambda: e.argmax(axis=0))
        assert_same_outcome(lambda: np.concatenate(list(v.iter_batches(7))), lambda: e)
        assert_same_outcome(lambda: np.stack(list(v)), lambda: e)
        v[0] = 0
        v.lazy[1:3][:, 0] = [7, 8]
        a[20, [5, 1, 2]] = 0
        a[21:23, 5] = [7, 8]
        np.testing.assert_array_equal(np.asarray(x), a)


def test_views_cannot_be_appended_to_and_empty_views_work():
    x = la.LazyArray(MemoryBackend(np.zeros((3, 2))))
    with pytest.raises(TypeError):
        x.lazy[:2].append(np.zeros((1, 2)))
    e = x.lazy[[]]
    assert e.shape == (0, 2)
    assert_same_outcome(lambda: e.lazy[:, None][...], lambda: np.zeros((0, 2))[:, None])
    assert_same_outcome(lambda: e.sum(axis=0), lambda: np.zeros((0, 2)).sum(axis=0))
