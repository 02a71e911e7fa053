"""Hand-written edge cases: one table of keys, read and written on every backend.

Each row is an :class:`Expect` (NumPy accepts the key; ``output`` is the result
shape we expect NumPy to give, written by hand as a check on the table itself)
or an :class:`ExpectFail` (NumPy rejects the key with ``exception``). The same
rows drive reads and writes through the oracle in :mod:`lazyarr.testing`, so a
row added here is tested four times on four backends. The layout follows
zarr's ``tests/conftest.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pytest

import lazyarr as la
from lazyarr.backends import MemoryBackend
from lazyarr.testing import assert_same_as_numpy, assert_same_outcome, assert_same_write

TIn = TypeVar("TIn")
TOut = TypeVar("TOut")


@dataclass(frozen=True)
class Expect(Generic[TIn, TOut]):
    """NumPy accepts ``input``; its result has shape ``output``."""

    input: TIn
    output: TOut
    id: str


@dataclass(frozen=True)
class ExpectFail(Generic[TIn]):
    """NumPy rejects ``input`` with ``exception``."""

    input: TIn
    exception: type[Exception]
    id: str


SHAPE = (3, 4, 5)
#: Distinct values, so a misplaced element shows.
A = np.arange(60, dtype=np.int32).reshape(SHAPE)
MASK_2D = np.arange(12).reshape(3, 4) % 3 == 0  # 4 True
MASK_INNER = np.arange(20).reshape(4, 5) % 4 == 0  # 5 True
MASK_FULL = A % 7 == 0  # 9 True

READ_CASES: list[Expect[Any, tuple[int, ...]] | ExpectFail[Any]] = [
    Expect(1, (4, 5), "int"),
    Expect(-1, (4, 5), "negative-int"),
    Expect((1, 2, 3), (), "all-ints-scalar"),
    Expect((1, 2, 3, ...), (), "all-ints-ellipsis-0d"),
    Expect(slice(1, 3), (2, 4, 5), "slice"),
    Expect(slice(None, None, 2), (2, 4, 5), "step-2"),
    Expect(slice(None, None, -1), (3, 4, 5), "negative-step"),
    Expect(slice(2, 0, -1), (2, 4, 5), "negative-step-bounds"),
    Expect(slice(-1, -5, -2), (2, 4, 5), "negative-step-past-start"),
    Expect((slice(None), slice(None, None, -1)), (3, 4, 5), "inner-negative-step"),
    Expect((slice(None), slice(None), slice(4, None, -3)), (3, 4, 2), "last-axis-negative-step"),
    Expect(slice(None, None, 5), (1, 4, 5), "step-past-end"),
    Expect(slice(1, 100), (2, 4, 5), "stop-past-end"),
    Expect(slice(-100, 2), (2, 4, 5), "start-before-start"),
    Expect(slice(2**64, None, -1), (3, 4, 5), "huge-start-negative-step"),
    Expect((..., 1), (3, 4), "ellipsis-first"),
    Expect((1, ...), (4, 5), "ellipsis-last"),
    Expect((0, ..., 0), (4,), "ellipsis-middle"),
    Expect(..., (3, 4, 5), "bare-ellipsis"),
    Expect((), (3, 4, 5), "empty-tuple"),
    Expect((None, 0), (1, 4, 5), "newaxis-first"),
    Expect((slice(None), None, 1), (3, 1, 5), "newaxis-middle"),
    Expect((..., None), (3, 4, 5, 1), "newaxis-last"),
    Expect(slice(2, 1), (0, 4, 5), "empty-slice"),
    Expect([0, 2], (2, 4, 5), "sorted-list"),
    Expect([2, 0, 1], (3, 4, 5), "unsorted-list"),
    Expect([1, 1, 0, 1], (4, 4, 5), "repeated-list"),
    Expect([-1, 0, -3], (3, 4, 5), "negative-list"),
    Expect([], (0, 4, 5), "empty-list"),
    Expect(np.array([[0, 1], [2, 0]]), (2, 2, 4, 5), "2d-int-array"),
    Expect(np.array(1), (4, 5), "0d-int-array"),
    Expect((slice(None), np.array([3, 0], dtype=np.uint8)), (3, 2, 5), "uint8-array"),
    Expect(([0, 2], [1, 3]), (2, 5), "two-arrays"),
    Expect(([0, 2], [[1], [3]]), (2, 2, 5), "two-arrays-broadcast"),
    Expect(([0, 1], slice(None), [1, 2]), (2, 4), "arrays-separated-by-slice"),
    Expect((slice(None), [0, 1], [1, 2]), (3, 2), "adjacent-arrays-after-slice"),
    Expect(([0, 1], 1, [1, 2]), (2,), "arrays-and-int"),
    Expect(([0, 1], None, [1, 2]), (2, 1, 5), "arrays-separated-by-newaxis"),
    # The int counts as an index array: separated advanced indices go first.
    Expect((1, slice(None), [0, 4]), (2, 4), "int-slice-array"),
    Expect((slice(None), 1, [0, 4]), (3, 2), "slice-int-array"),
    Expect((..., [4, 0, 4]), (3, 4, 3), "ellipsis-then-array"),
    Expect(np.array([True, False, True]), (2, 4, 5), "mask-axis0"),
    Expect([True, False, True], (2, 4, 5), "mask-as-list"),
    Expect((slice(None), np.array([False, True, True, False])), (3, 2, 5), "mask-axis1"),
    Expect(MASK_2D, (4, 5), "mask-2d"),
    Expect((slice(None), MASK_INNER), (3, 5), "mask-2d-inner"),
    Expect(MASK_FULL, (9,), "mask-full-shape"),
    Expect(np.zeros(3, bool), (0, 4, 5), "mask-all-false"),
    Expect((np.array([True, False, True]), [0, 3]), (2, 5), "mask-and-array"),
    Expect(([2, 0], slice(1, 3)), (2, 2, 5), "list-plus-slice"),
    Expect(np.int8(1), (4, 5), "numpy-int8"),
    Expect(np.uint64(2), (4, 5), "numpy-uint64"),
    Expect((np.int64(-1), np.intp(0)), (5,), "numpy-ints-tuple"),
    Expect(True, (1, 3, 4, 5), "0d-true"),
    Expect(False, (0, 3, 4, 5), "0d-false"),
    Expect(np.True_, (1, 3, 4, 5), "numpy-true"),
    Expect((0, np.False_), (0, 4, 5), "int-then-false"),
    Expect((slice(None), True, [1, 2]), (3, 2, 5), "true-between"),
    ExpectFail(3, IndexError, "int-out-of-bounds"),
    ExpectFail(-4, IndexError, "negative-int-out-of-bounds"),
    ExpectFail((0, 4), IndexError, "inner-int-out-of-bounds"),
    ExpectFail(2**63, OverflowError, "int-past-intp"),
    ExpectFail((0, 0, 0, 0), IndexError, "too-many-indices"),
    ExpectFail(1.0, IndexError, "float"),
    ExpectFail("a", IndexError, "string"),
    ExpectFail((..., ...), IndexError, "two-ellipsis"),
    ExpectFail([0, 3], IndexError, "list-out-of-bounds"),
    ExpectFail([-4], IndexError, "list-negative-out-of-bounds"),
    ExpectFail(np.array([True, False]), IndexError, "mask-wrong-shape"),
    ExpectFail(([0, 1], [0, 1, 2]), IndexError, "arrays-not-broadcastable"),
    ExpectFail(np.array([0.0]), IndexError, "float-array"),
    ExpectFail([0.5], IndexError, "float-list"),
    ExpectFail(slice(None, None, 0), ValueError, "zero-step"),
    ExpectFail(slice(0.5, 2), TypeError, "float-slice-bound"),
    ExpectFail([0, slice(None)], IndexError, "list-holding-slice"),
    # 0-d booleans take no axis, but NumPy caps advanced indices at 64.
    Expect((False,) * 40, (0, 3, 4, 5), "forty-0d-false"),
    ExpectFail((False,) * 65, IndexError, "too-many-0d-false"),
    ExpectFail((True,) * 65, IndexError, "too-many-0d-true"),
]

WRITE_ONLY_CASES: list[tuple[str, Any, Any]] = [
    # (id, key, value): the value matters here, not only the key.
    ("broadcast-row", slice(None), np.arange(5)),
    ("broadcast-column", (slice(None), slice(None), 0), np.arange(3)[:, None]),
    ("repeated-last-wins", [1, 1, 0, 1], np.arange(4)[:, None, None] * np.ones((4, 5))),
    ("points-last-wins", ([0, 0], [1, 1], [2, 2]), [7, 8]),
    ("not-broadcastable", slice(None), np.zeros(4)),
    ("float-into-int", 0, 2.75),
    ("nan-into-int", 0, np.nan),
    ("nan-array-into-int", slice(0, 1), np.full((1, 4, 5), np.nan)),
    ("complex-into-int", 0, 1 + 2j),
    ("python-int-overflow", 0, 2**40),
    ("list-value", (0, 0), [1, 2, 3, 4, 5]),
    ("empty-into-empty", slice(2, 1), []),
    ("string-value", 0, "x"),
]


def _ids(cases: list[Any]) -> list[str]:
    return [c.id for c in cases]


# --------------------------------------------------------------------- backends


BACKENDS = ["memory", "plain", "compressed", "compressed-nocomp"]


@pytest.fixture(scope="module", params=BACKENDS)
def make(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``make(a) -> LazyArray`` holding a copy of ``a`` on one backend."""
    kind = request.param
    if kind == "memory":
        yield lambda a: la.LazyArray(MemoryBackend(a.copy()))
        return
    store = la.open(tmp_path_factory.mktemp(kind) / "edge.h5", mode="w")
    names = itertools.count()

    def factory(a: np.ndarray) -> la.LazyArray:
        name = f"a{next(names)}"
        if kind == "plain":
            return store.create_array(name, a.copy(), backend="plain")
        if a.ndim == 0:
            pytest.skip("compressed arrays need at least one axis")
        # 2 x 3 x 3 chunks: every key in the table crosses chunk boundaries.
        chunks = None if 0 in a.shape[1:] else (2,) + tuple(min(n, 3) for n in a.shape[1:])
        return store.create_array(
            name, a.copy(), backend="compressed", chunks=chunks,
            compression=None if kind == "compressed-nocomp" else "blosc2:zstd",
        )

    try:
        yield factory
    finally:
        store.close()


# ------------------------------------------------------------------ the table


@pytest.mark.parametrize("case", READ_CASES, ids=_ids(READ_CASES))
def test_table_matches_numpy(case: Expect | ExpectFail) -> None:
    """The table's hand-written answers are NumPy's (so the table can be trusted)."""
    if isinstance(case, Expect):
        assert np.shape(A[case.input]) == case.output
    else:
        with pytest.raises(case.exception):
            A[case.input]


@pytest.mark.parametrize("case", READ_CASES, ids=_ids(READ_CASES))
def test_read(make: Any, case: Expect | ExpectFail) -> None:
    x = make(A)
    assert_same_as_numpy(x.__getitem__, A, case.input)
    if isinstance(case, ExpectFail):
        with pytest.raises(case.exception):
            x[case.input]


@pytest.mark.parametrize("case", READ_CASES, ids=_ids(READ_CASES))
def test_write_scalar(make: Any, case: Expect | ExpectFail) -> None:
    x = make(A)
    assert_same_write(x, A.copy(), case.input, -1)


@pytest.mark.parametrize("case", READ_CASES, ids=_ids(READ_CASES))
def test_write_distinct_values(make: Any, case: Expect | ExpectFail) -> None:
    """A value with one distinct element per selected position (repeats: last wins)."""
    x = make(A)
    shape = case.output if isinstance(case, Expect) else (2,)
    value = -1 - np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    assert_same_write(x, A.copy(), case.input, value)


@pytest.mark.parametrize(("key", "value"), [c[1:] for c in WRITE_ONLY_CASES],
                         ids=[c[0] for c in WRITE_ONLY_CASES])
def test_write_values(make: Any, key: Any, value: Any) -> None:
    x = make(A)
    assert_same_write(x, A.copy(), key, value)


# ------------------------------------------------- shapes other than (3, 4, 5)


OTHER_ARRAYS = [
    ("0d", np.array(7.5)),
    ("empty-axis0", np.zeros((0, 3), np.int16)),
    ("empty-inner", np.zeros((3, 0), np.int16)),
    ("one-element", np.array([[-0.0]])),
    ("big-endian", np.arange(12, dtype=">f8").reshape(3, 4)),
    ("bytes", np.array([b"ab", b"", b"abcd"], dtype="S4")),
    ("float16-nan", np.array([np.nan, -0.0, np.inf], dtype=np.float16)),
    ("complex-big-endian", (np.arange(6) + 1j).astype(">c8").reshape(2, 3)),
    ("bool", np.array([[True, False], [False, True]])),
    ("uint64-max", np.array([0, 2**64 - 1], dtype=np.uint64)),
]

OTHER_KEYS = [
    ((), "empty-tuple"),
    (..., "ellipsis"),
    (None, "newaxis"),
    (True, "true"),
    (False, "false"),
    (0, "zero"),
    (-1, "minus-one"),
    (slice(None, None, -1), "reversed"),
    ([0, 0], "repeated"),
    ([], "empty-list"),
    ((..., 0), "ellipsis-zero"),
    ((0, 0), "zero-zero"),
    (np.array(True), "0d-true-array"),
]


@pytest.mark.parametrize("a", [c[1] for c in OTHER_ARRAYS], ids=[c[0] for c in OTHER_ARRAYS])
@pytest.mark.parametrize("key", [c[0] for c in OTHER_KEYS], ids=[c[1] for c in OTHER_KEYS])
def test_other_arrays(make: Any, a: np.ndarray, key: Any) -> None:
    x = make(a)
    assert_same_as_numpy(x.__getitem__, a, key)
    assert_same_write(x, a.copy(), key, a.flat[0] if a.size else np.zeros((), a.dtype))


@pytest.mark.parametrize("a", [c[1] for c in OTHER_ARRAYS], ids=[c[0] for c in OTHER_ARRAYS])
def test_len_iter_asarray(make: Any, a: np.ndarray) -> None:
    x = make(a)
    assert_same_outcome(lambda: len(x), lambda: len(a), "len(x)")
    assert_same_outcome(lambda: list(x), lambda: list(a), "list(x)")
    assert_same_outcome(lambda: np.asarray(x), lambda: a.copy(), "np.asarray(x)")
    assert (x.shape, x.dtype, x.ndim, x.size, x.nbytes) == (a.shape, a.dtype, a.ndim, a.size, a.nbytes)


def test_len_of_0d_raises_type_error(make: Any) -> None:
    x = make(np.array(1.0))
    with pytest.raises(TypeError):
        len(x)
    with pytest.raises(TypeError):
        iter(x)


def test_asarray_copy_false_raises(make: Any) -> None:
    x = make(A)
    with pytest.raises(ValueError):
        np.asarray(x, copy=False)
    assert_same_outcome(lambda: np.asarray(x, dtype=np.float32), lambda: A.astype(np.float32))
