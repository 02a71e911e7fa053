"""ndarray members on a LazyArray: NumPy's results, lazily where the brief says so.

A chain of members (``T``, ``transpose``, ``swapaxes``, ``squeeze``,
``reshape``, ``astype``) is applied to a LazyArray and to the same data in
NumPy; then any key the strategies draw must read the same through the
oracle, and (where NumPy's result is a view) write the same storage.
"""

from __future__ import annotations

import math
import warnings

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
    assert_same_write,
    keys,
    shapes,
    write_values,
)


def _lazy(a):
    return la.LazyArray(MemoryBackend(a.copy()))


@st.composite
def reshapes(draw, shape):
    """A new shape of the same size: dims merged, split, or length-1 axes added or dropped."""
    dims = list(shape)
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["merge", "split", "one", "drop"]))
        if how == "merge" and len(dims) >= 2:
            i = draw(st.integers(0, len(dims) - 2))
            dims[i : i + 2] = [dims[i] * dims[i + 1]]
        elif how == "split" and dims:
            i = draw(st.integers(0, len(dims) - 1))
            f = [d for d in range(1, dims[i] + 1) if dims[i] % d == 0] if dims[i] else [1]
            d = draw(st.sampled_from(f))
            dims[i : i + 1] = [d, dims[i] // d if d else 0]
        elif how == "one":
            dims.insert(draw(st.integers(0, len(dims))), 1)
        elif how == "drop" and 1 in dims:
            dims.remove(1)
    if dims and math.prod(dims) and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


@st.composite
def member_chains(draw):
    a = draw(arrays(shape=shapes(max_dims=3, max_side=4)))
    ops = []
    shape = a.shape
    for _ in range(draw(st.integers(1, 3))):
        nd = len(shape)
        kind = draw(st.sampled_from(["T", "transpose", "swapaxes", "squeeze", "reshape", "astype"]))
        if kind == "transpose":
            op = (kind, tuple(draw(st.permutations(range(nd)))))
        elif kind == "swapaxes" and nd:
            op = (kind, draw(st.integers(-nd, nd - 1)), draw(st.integers(-nd, nd - 1)))
        elif kind == "squeeze":
            ones = [i for i, n in enumerate(shape) if n == 1]
            op = (kind, draw(st.sampled_from([None] + ones)))
        elif kind == "reshape":
            op = (kind, draw(reshapes(shape)))
        elif kind == "astype":
            op = (kind, draw(st.sampled_from(["f8", "f4", "i8", "i2", "u1", "?", a.dtype.str])))
        else:
            op = ("T",)
        ops.append(op)
        shape = _apply(np.broadcast_to(np.empty((), np.uint8), shape), op).shape
    return a, ops


def _apply(obj, op):
    kind, *args = op
    if kind == "T":
        return obj.T
    if kind == "astype":
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            return obj.astype(*args)
    return getattr(obj, kind)(*args)


def _chain(obj, ops):
    for op in ops:
        obj = _apply(obj, op)
    return obj


@given(mc=member_chains(), data=st.data())
@example(mc=(np.arange(24).reshape(2, 3, 4), [("T",), ("reshape", (4, 6))]), data=None)
@example(mc=(np.array(2.1474836e+09, dtype=np.float32), [("astype", "i2")]), data=None)
@example(mc=(np.arange(24).reshape(4, 6), [("reshape", (2, 2, 6)), ("swapaxes", 0, 2)]), data=None)
@example(mc=(np.arange(6).reshape(1, 6), [("squeeze", None), ("reshape", (3, 1, 2))]), data=None)
def test_member_chains_read_as_numpy(mc, data):
    a, ops = mc
    x = _lazy(a)
    y, ref = _chain(x, ops), _chain(a, ops)
    assert (y.shape, y.dtype, y.ndim, y.size) == (ref.shape, ref.dtype, ref.ndim, ref.size)
    keyset = [Ellipsis, ()] if data is None else [data.draw(keys(ref.shape)) for _ in range(3)]
    for key in keyset:
        # An invalid float->int cast warns in NumPy; the view casts the same elements.
        with np.errstate(all="ignore"):
            assert_same_as_numpy(y.__getitem__, ref, key)
    with np.errstate(all="ignore"):  # the cast's invalid-value warning comes on read, NumPy's at astype
        assert_same_outcome(lambda: np.asarray(y), lambda: np.asarray(ref), "np.asarray")


@given(mc=member_chains(), data=st.data())
def test_writes_through_transposed_and_reshaped_views(mc, data):
    a, ops = mc
    ops = [op for op in ops if op[0] != "astype"]
    if a.dtype.kind not in "biuf":
        a = np.arange(a.size, dtype="f8").reshape(a.shape)
    x = _lazy(a)
    model = a.copy()
    y, mv = _chain(x, ops), _chain(model, ops)
    if not np.shares_memory(mv, model) and mv.size:
        return  # NumPy's result is a copy: nothing to compare writes with
    if not isinstance(y, la.LazyArray):
        return
    key = data.draw(keys(mv.shape))
    value = data.draw(write_values(mv.shape, key, mv.dtype))
    assert_same_write(y, mv, key, value)
    np.testing.assert_array_equal(np.asarray(x), model)


def test_lazy_members_read_nothing_until_indexed(tmp_path):
    a = np.arange(120.0).reshape(10, 12)
    with la.open(tmp_path / "m.h5", "w") as s:
        s.create_array("d", a, chunks=(4, 12))
    with la.open(tmp_path / "m.h5") as s:
        x = s["d"]
        views = [x.T, x.transpose(1, 0), x.swapaxes(0, 1), x[None].squeeze() if False else x.reshape(1, 10, 12).squeeze(),
                 x.reshape(30, 4), x.reshape(-1), x.reshape(5, 2, 12), x.astype("f4"), x.T.lazy[::2].astype("i4"),
                 x.reshape(60, 2).T]
        assert x.cache_stats["backend_reads"] == 0
        v = x.T.lazy[::2].astype("i4")
        before = x.cache_stats["backend_reads"]
        np.testing.assert_array_equal(v[1:3], a.T[::2].astype("i4")[1:3])
        assert x.cache_stats["backend_reads"] == before + 1  # one read for the whole chain
        for v, r in zip(views, [a.T, a.T, a.T, a, a.reshape(30, 4), a.reshape(-1), a.reshape(5, 2, 12),
                                a.astype("f4"), a.T[::2].astype("i4"), a.reshape(60, 2).T]):
            assert_same_outcome(lambda: v[...], lambda: r[...], repr(v))
        # A reshape that mixes rows is NumPy's answer in memory.
        assert type(x.reshape(12, 10)) is np.ndarray


@pytest.mark.parametrize("call", [
    lambda d: d.copy(), lambda d: d.copy(order="F"), lambda d: d.flatten(), lambda d: d.flatten("F"),
    lambda d: d.ravel(), lambda d: d.tolist(), lambda d: d.item(5), lambda d: d.item(-1),
    lambda d: d.item((1, 2)), lambda d: d.item(1, 2), lambda d: d.item(), lambda d: d.item(99),
    lambda d: d.item(1, 9), lambda d: d.itemsize, lambda d: d.transpose(0, 0), lambda d: d.transpose(2, 0),
    lambda d: d.swapaxes(0, 5), lambda d: d.squeeze(0), lambda d: d.reshape(5, 5), lambda d: d.reshape(-1, -1),
    lambda d: d.reshape(4, 6, order="F")[...], lambda d: d.astype("f4", casting="safe"),
    lambda d: d.astype("nope"), lambda d: d.astype("i4", casting="bad"), lambda d: d.reshape(24, copy=True)[...],
    lambda d: d.mT[...], lambda d: d[0].mT,
], ids=["copy", "copyF", "flatten", "flattenF", "ravel", "tolist", "item5", "item-1", "item_tuple",
        "item_args", "item_none", "item_oob", "item_oob2", "itemsize", "transpose_dup", "transpose_short",
        "swapaxes_oob", "squeeze_not1", "reshape_bad", "reshape_two_unknown", "reshapeF", "astype_safe",
        "astype_bad_dtype", "astype_bad_casting", "reshape_copy", "mT", "mT_1d"])
def test_members_in_memory_and_errors(call):
    a = np.arange(24.0).reshape(4, 6)
    assert_same_outcome(lambda: call(_lazy(a)), lambda: call(a.copy()))


def test_item_of_one_element_and_zero_d():
    for a in (np.array(3.5), np.array([[7]], dtype=np.int16)):
        assert_same_outcome(lambda: _lazy(a).item(), lambda: a.item())
        assert_same_outcome(lambda: _lazy(a).T[...], lambda: a.T[...])


def test_astype_copy_semantics_and_read_only():
    a = np.arange(4.0)
    x = _lazy(a)
    assert x.astype(a.dtype, copy=False) is x
    y = x.astype(a.dtype)
    assert y is not x
    with pytest.raises(la.ReadOnlyError):
        y[0] = 1
    with pytest.raises(ValueError):
        y[0] = 1
    assert x.reshape(2, 2, copy=False).shape == (2, 2)
    with pytest.raises(ValueError):
        x.reshape(2, 2, order="F", copy=False)
