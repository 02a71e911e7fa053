"""Property tests: LazyArray gives NumPy's answer for every key, on every backend.

Every read goes through :func:`lazyarr.testing.assert_same_as_numpy` and every
write through :func:`lazyarr.testing.assert_same_write`, over random arrays
(:func:`lazyarr.testing.arrays`) and keys much wider than hypothesis'
``basic_indices`` (:func:`lazyarr.testing.keys`). The backends are a fixture
factory ``make(a) -> LazyArray``: in memory, a plain (contiguous) HDF5 array,
and compressed (chunked) HDF5 arrays with chunks small enough that most keys
cross chunk boundaries, with and without a compressor.

Counterexamples found so far are pinned with ``@example`` above ``@given``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import lazyarr as la
from lazyarr.backends import MemoryBackend
from lazyarr.testing import (
    arrays,
    arrays_and_keys,
    arrays_keys_and_values,
    assert_same_as_numpy,
    assert_same_outcome,
    assert_same_write,
    bad_keys,
    dtypes,
    keys,
    numpy_verdict,
)

ndindex = pytest.importorskip("ndindex")

# File-backed examples cost a node creation each; keep them to a fraction of
# the profile's budget (memory runs the full budget).
FILE_EXAMPLES = max(10, settings().max_examples // 2)


# --------------------------------------------------------------------- backends


class Factory:
    """``make(a)``: a fresh LazyArray holding a copy of ``a`` on one backend.

    Attributes
    ----------
    kind : str
        The fixture id.
    min_ndim : int
        Compressed (chunked) arrays need at least one axis.
    """

    def __init__(self, kind: str, store: Any = None) -> None:
        self.kind = kind
        self.store = store
        self.min_ndim = 1 if kind.startswith("compressed") else 0
        self._names = itertools.count()

    def __call__(self, a: np.ndarray) -> la.LazyArray:
        if self.kind == "memory":
            return la.LazyArray(MemoryBackend(a.copy()))
        name = f"a{next(self._names)}"
        if self.kind == "plain":
            return self.store.create_array(name, a.copy(), backend="plain")
        x = self.store.create_array(
            name,
            a.copy(),
            backend="compressed",
            compression=None if self.kind == "compressed-nocomp" else "blosc2:zstd",
            chunks=small_chunks(a.shape),
        )
        if self.kind == "compressed-pytables":
            x.backend.raw_chunks = False  # PyTables decodes: the reference path
        return x

    def __repr__(self) -> str:
        return f"Factory({self.kind!r})"


def small_chunks(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """Chunks of 2 rows and at most 3 along other axes, so keys cross chunk boundaries.

    None (the store's default) when a fixed axis has length 0: no chunk fits.
    """
    if not shape or 0 in shape[1:]:
        return None
    return (2,) + tuple(min(n, 3) for n in shape[1:])


# "compressed" decodes Blosc2 chunks with the blosc2 package,
# "compressed-pytables" the same nodes through PyTables.
BACKENDS = ["memory", "plain", "compressed", "compressed-pytables", "compressed-nocomp"]


@pytest.fixture(scope="module", params=BACKENDS)
def make(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Factory]:
    """One factory per backend, shared by every example of the module.

    Module scope because hypothesis runs many examples per test function: each
    example creates its own node (fresh name) in the module's one file.
    """
    if request.param == "memory":
        yield Factory("memory")
        return
    store = la.open(tmp_path_factory.mktemp(request.param) / "arrays.h5", mode="w")
    try:
        yield Factory(request.param, store)
    finally:
        store.close()


def _fits(make: Factory, a: np.ndarray) -> None:
    assume(a.ndim >= make.min_ndim)


def _budget(make: Factory) -> Callable[[Any], Any]:
    """No-op for memory; fewer examples for file-backed arrays."""
    if make.kind == "memory":
        return lambda f: f
    return settings(max_examples=FILE_EXAMPLES)


# ------------------------------------------------------------------------ reads


@st.composite
def array_and_some_keys(draw: Any) -> tuple[np.ndarray, list[Any]]:
    """An array and 1-3 keys for it: one node creation serves several reads."""
    a = draw(arrays())
    return a, draw(st.lists(keys(a.shape), min_size=1, max_size=3))


def _check_read(x: la.LazyArray, a: np.ndarray, key: Any) -> None:
    assert_same_as_numpy(x.__getitem__, a, key)
    if isinstance(numpy_verdict(a.shape, key), BaseException):
        return
    result = x[key]
    if isinstance(result, np.ndarray):
        # np.asarray(x)[key] is always a writeable array of its own; writing
        # into what x returned must not reach x (no views into a cache).
        assert result.flags.writeable, f"x[{key!r}] is read-only; NumPy's is writeable"
        result[...] = np.zeros((), result.dtype)
    assert_same_outcome(lambda: np.asarray(x), lambda: a, f"np.asarray(x) after reading {key!r}")


def test_read(make: Factory) -> None:
    @_budget(make)
    @given(ak=array_and_some_keys())
    # 0-d index arrays are integers for NumPy: a scalar, not a 0-d array.
    @example(ak=(np.arange(3), [np.array(1), (np.array(1),)]))
    @example(ak=(np.arange(12).reshape(3, 4), [(slice(None), np.array([[1, 0], [3, 3]])), ([2, 0], ..., [1])]))
    @example(ak=(np.arange(24).reshape(2, 3, 4), [([0, 1], slice(None), [1, 2]), (slice(None), [0, 1], [1, 2])]))
    # Boolean masks: axis 0, inner 2-d, full shape, 0-d.
    @example(ak=(np.arange(24).reshape(2, 3, 4), [
        np.array([True, False]),
        (0, np.arange(12).reshape(3, 4) % 5 == 0),
        np.arange(24).reshape(2, 3, 4) % 7 == 0,
        (True, ..., False),
    ]))
    # Negative steps with odd bounds, and bounds past intp.
    @example(ak=(np.arange(7.0), [slice(-2, -9, -3), slice(2**64, None, -2), slice(None, None, -(2**63) + 1)]))
    # NumPy skips bounds and mask-shape checks when nothing is selected.
    @example(ak=(np.zeros(1, "u1"), [(False, [-2]), (False, [5])]))
    @example(ak=(np.zeros((3, 0), "u1"), [(False, np.array([], bool))]))
    @example(ak=(np.zeros((3, 0, 1, 3), ">f4"), [(Ellipsis, np.array([], bool), slice(None))]))
    # A sparse 2-d mask on a big-endian array (point groups kept the byte order).
    @example(ak=(np.arange(16, dtype=">f4").reshape(4, 4), [np.eye(4, dtype=bool)[::-1] | np.eye(4, dtype=bool)]))
    # 0-d booleans take no axis, but NumPy caps advanced indices at 64.
    @example(ak=(np.arange(5.0)[:, None], [(False,) * 65, (False,) * 40, (True,) * 65]))
    def check(ak: tuple[np.ndarray, list[Any]]) -> None:
        a, ks = ak
        _fits(make, a)
        x = make(a)
        for key in ks:
            _check_read(x, a, key)

    check()


def test_read_bad_keys(make: Factory) -> None:
    @_budget(make)
    @given(a=arrays(), data=st.data())
    def check(a: np.ndarray, data: st.DataObject) -> None:
        _fits(make, a)
        x = make(a)
        for key in data.draw(st.lists(bad_keys(a.shape), min_size=1, max_size=3)):
            assert_same_as_numpy(x.__getitem__, a, key)

    check()


# ----------------------------------------------------------------------- writes


def test_write(make: Factory) -> None:
    @_budget(make)
    @given(akv=arrays_keys_and_values())
    # Repeated indices: the last write wins, as in NumPy.
    @example(akv=(np.zeros(4), [3, 0, 3, -1], np.array([1.0, 2.0, 3.0, 4.0])))
    @example(akv=(np.zeros((2, 3)), (slice(None), [2, 0, 2]), np.arange(6.0).reshape(2, 3)))
    # A 0-d index array is an integer for NumPy: it is bounds-checked before
    # the value is broadcast, so the verdict is IndexError, not ValueError.
    @example(akv=(np.zeros(3), np.array(5), np.zeros(2)))
    @example(akv=(np.zeros((3, 2)), (np.array(5), slice(None)), np.zeros(3)))
    # NumPy converts a scalar value before it broadcasts the index arrays:
    # NaN into int8 is ValueError even though the key is also bad.
    @example(akv=(np.zeros((2, 3), np.int8), ([0, 1], [0, 1, 2]), np.nan))
    # An all-False mask casts nothing, so NumPy emits no ComplexWarning.
    @example(akv=(np.ones(1, np.int8), (np.array([False]),), np.array([], np.complex128)))
    # Two index arrays pick points of their box: the rest of the box must be
    # read back, not left uninitialised.
    @example(akv=(np.arange(10, dtype="c8").reshape(2, 5), np.eye(2, 5, 2, dtype=bool), 7))
    # A 0-d array written whole stays 0-d on the way to the backend.
    @example(akv=(np.array(3.0, ">f4"), (), 7))
    @example(akv=(np.array(True), (None,), np.array(False)))
    # Casting: complex into float warns, NaN into int raises, huge ints overflow.
    @example(akv=(np.zeros(3), 0, 1 + 1j))
    @example(akv=(np.zeros(3, np.int16), slice(None), np.nan))
    @example(akv=(np.zeros(3, np.int8), 1, 2**70))
    @example(akv=(np.zeros((3, 1)), (False,) * 65, 1.0))
    def check(akv: tuple[np.ndarray, Any, Any]) -> None:
        a, key, value = akv
        _fits(make, a)
        x = make(a)
        assert_same_write(x, a.copy(), key, value)

    check()


def test_write_bad_keys(make: Factory) -> None:
    @_budget(make)
    @given(a=arrays(), data=st.data())
    def check(a: np.ndarray, data: st.DataObject) -> None:
        _fits(make, a)
        x = make(a)
        model = a.copy()
        key = data.draw(bad_keys(a.shape))
        assert_same_write(x, model, key, np.zeros((), a.dtype))

    check()


# ------------------------------------------------------------ the array protocol


def test_array_protocol(make: Factory) -> None:
    @_budget(make)
    @given(a=arrays(), dtype=dtypes())
    def check(a: np.ndarray, dtype: np.dtype) -> None:
        _fits(make, a)
        x = make(a)
        assert (x.shape, x.dtype, x.ndim, x.size, x.nbytes) == (a.shape, a.dtype, a.ndim, a.size, a.nbytes)
        assert_same_outcome(lambda: len(x), lambda: len(a), "len(x)")
        assert_same_outcome(lambda: np.asarray(x), lambda: np.array(a), "np.asarray(x)")
        assert_same_outcome(lambda: np.array(x, copy=True), lambda: np.array(a), "np.array(x, copy=True)")
        assert_same_outcome(
            lambda: np.asarray(x, dtype=dtype),
            lambda: np.asarray(a.copy(), dtype=dtype),
            f"np.asarray(x, dtype={dtype.str!r})",
        )
        with pytest.raises(ValueError):
            np.asarray(x, copy=False)
        assert_same_outcome(lambda: list(x), lambda: list(a), "list(x)")

    check()


# ----------------------------------------------------------- a second oracle


@given(ak=arrays_and_keys(arrays(np.dtype("i1"))))
@example(ak=(np.zeros((3, 4), "i1"), ([0, 1], slice(None), [[0], [1]])))
def test_result_shape_agrees_with_ndindex(ak: tuple[np.ndarray, Any]) -> None:
    """ndindex computes result shapes independently of NumPy's indexing code.

    Shape only depends on the index logic, not on storage, so the memory
    backend suffices. Keys ndindex does not support (arrays separated by
    slices, some list forms) are skipped.
    """
    a, key = ak
    verdict = numpy_verdict(a.shape, key)
    if isinstance(verdict, BaseException):
        return
    try:
        expected = ndindex.ndindex(key).newshape(a.shape)
    except (NotImplementedError, IndexError, ValueError, TypeError):
        return
    assert expected == verdict, f"ndindex and NumPy disagree on {key!r} for shape {a.shape}"
    x = la.LazyArray(MemoryBackend(a.copy()))
    assert np.shape(x[key]) == expected, f"x[{key!r}].shape != {expected}"
