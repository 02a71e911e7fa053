"""Tests of lazyarr.testing itself: the oracle must pass NumPy and catch every lie.

An oracle that never fails proves nothing, so each way an implementation can
differ from NumPy (values, dtype, byte order, shape, scalar versus 0-d, the
exception type, warnings, a mutated key or value) has a test here that feeds
the oracle a deliberately wrong implementation and expects an AssertionError.
The strategies are checked for breadth (every key form the brief lists can be
produced) and balance (valid keys are the majority).
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

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
    shapes,
    write_values,
)

# find() must not depend on (or pollute) the example database, must look long
# enough that a rare key form is still found, and need not shrink what it finds.
FIND = settings(
    database=None,
    max_examples=3000,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)

A = np.arange(24.0).reshape(2, 3, 4)


# ---------------------------------------------------------------- NumPy passes


@given(ak=arrays_and_keys())
def test_numpy_agrees_with_itself_on_reads(ak: tuple[np.ndarray, Any]) -> None:
    a, key = ak
    assert_same_as_numpy(a.copy().__getitem__, a, key)


@given(data=st.data(), shape=shapes())
def test_numpy_agrees_with_itself_on_bad_keys(data: st.DataObject, shape: tuple[int, ...]) -> None:
    a = np.zeros(shape)
    assert_same_as_numpy(a.copy().__getitem__, a, data.draw(bad_keys(shape)))


@given(akv=arrays_keys_and_values())
def test_numpy_agrees_with_itself_on_writes(akv: tuple[np.ndarray, Any, Any]) -> None:
    a, key, value = akv
    assert_same_write(a.copy(), a.copy(), key, value)


# ------------------------------------------------------- read oracle catches lies


class _MyIndexError(IndexError):
    """Stands for a lazyarr exception that subclasses NumPy's."""


def _raise(exc: Exception) -> Any:
    raise exc


def _warn_then(result: Any) -> Any:
    warnings.warn("spurious", UserWarning, stacklevel=2)
    return result


# (id, array, key, wrong implementation of a[key])
_READ_LIES = [
    ("values", A, 0, lambda k: A[k] + 1),
    ("one-element", A, (slice(None), [2, 0]), lambda k: np.where(A[k] == 8.0, 9.0, A[k])),
    ("dtype", A, 0, lambda k: A[k].astype(np.float32)),
    ("byte-order", A, 0, lambda k: A[k].astype(">f8")),
    ("scalar-dtype", A, (0, 0, 0), lambda k: np.float32(A[k])),
    ("shape", A, 0, lambda k: A[k][None]),
    ("transposed", A, 0, lambda k: np.ascontiguousarray(A[k].T).reshape(A[k].shape)),
    ("0d-instead-of-scalar", A, (1, 2, 3), lambda k: np.asarray(A[k])),
    ("scalar-instead-of-0d", A, (1, 2, 3, ...), lambda k: A[k][()]),
    ("python-float", A, (1, 2, 3), lambda k: float(A[k])),
    ("ndarray-subclass", A, 0, lambda k: A[k].view(np.ma.MaskedArray)),
    ("list", A, (0, 0), lambda k: A[k].tolist()),
    ("negative-zero", np.zeros(3), 1, lambda k: np.float64(-0.0)),
    ("zero-for-negative-zero", np.array([-0.0]), slice(None), lambda k: np.zeros(1)),
    ("nan-for-number", np.ones(2), slice(None), lambda k: np.array([1.0, np.nan])),
    ("complex-imag", np.ones(2, np.complex128), 0, lambda k: np.complex128(1 + 1e-300j)),
    ("bytes", np.array([b"ab", b"cd"], "S4"), 1, lambda k: np.bytes_(b"ab")),
    ("returns-for-bad-key", A, 5, lambda k: A[0]),
    ("returns-for-float", A, 1.0, lambda k: A[1]),
    ("wrong-exception", A, 5, lambda k: _raise(ValueError("5"))),
    ("base-of-exception", A, 5, lambda k: _raise(LookupError("5"))),
    ("raises-for-good-key", A, 0, lambda k: _raise(IndexError("0"))),
    ("warns", A, 0, lambda k: _warn_then(A[k])),
]


@pytest.mark.parametrize(
    ("array", "key", "lie"), [c[1:] for c in _READ_LIES], ids=[c[0] for c in _READ_LIES]
)
def test_read_oracle_catches(array: np.ndarray, key: Any, lie: Any) -> None:
    with pytest.raises(AssertionError):
        assert_same_as_numpy(lie, array, key)


def test_read_oracle_accepts_nan_and_exception_subclass() -> None:
    a = np.array([np.nan, -0.0, 1.0])
    assert_same_as_numpy(lambda k: a.copy()[k], a, slice(None))
    assert_same_as_numpy(lambda k: _raise(_MyIndexError("lazy")), a, 7)


def test_read_oracle_message_names_key_and_answers() -> None:
    with pytest.raises(AssertionError) as info:
        assert_same_as_numpy(lambda k: A[k][::-1], A, ([1, 0], 2))
    msg = str(info.value)
    assert "([1, 0], 2)" in msg and "expected" in msg and "actual" in msg


def test_read_oracle_catches_mutated_key() -> None:
    def mutating(k: Any) -> Any:
        k[0] += 1  # an implementation "normalizing" negative indices in place
        return A[[1]]

    with pytest.raises(AssertionError, match="modified in place"):
        assert_same_as_numpy(mutating, A, [-1])

    arr_key = np.array([-1])

    def mutating_array(k: Any) -> Any:
        k[k < 0] += 2
        return A[k]

    with pytest.raises(AssertionError, match="modified in place"):
        assert_same_as_numpy(mutating_array, A, arr_key)


def test_oracle_records_warnings_even_under_w_error() -> None:
    # A NumPy warning turned into an error by "-W error" would otherwise look
    # like an exception NumPy raised.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AssertionError, match="warned"):
            assert_same_as_numpy(lambda k: _warn_then(A[k]), A, 0)


# ------------------------------------------------------ assert_same_outcome


def test_outcome_compares_lists_elementwise() -> None:
    a = np.arange(3, dtype=np.int16)
    assert_same_outcome(lambda: list(a.copy()), lambda: list(a), "list(x)")
    with pytest.raises(AssertionError, match=r"list\(x\)\[1\]"):
        assert_same_outcome(lambda: [a[0], np.int32(a[1]), a[2]], lambda: list(a), "list(x)")
    with pytest.raises(AssertionError, match="length"):
        assert_same_outcome(lambda: list(a)[:2], lambda: list(a), "list(x)")
    with pytest.raises(AssertionError):
        assert_same_outcome(lambda: 3, lambda: len(a[:2]), "len(x)")


def test_outcome_requires_missing_warning() -> None:
    a = np.array([1 + 1j])

    def numpy_cast() -> Any:
        return np.asarray(a, dtype=np.float64)  # ComplexWarning

    def silent_cast() -> Any:
        return a.real.copy()

    assert_same_outcome(numpy_cast, numpy_cast)
    with pytest.raises(AssertionError, match="ComplexWarning"):
        assert_same_outcome(silent_cast, numpy_cast)


# ------------------------------------------------------ write oracle catches lies


class FakeLazy:
    """A stand-in for LazyArray whose writes can be made wrong on purpose."""

    def __init__(self, a: np.ndarray, setitem: Any = None) -> None:
        self.a = a.copy()
        self._setitem = setitem

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.a.copy() if dtype is None else self.a.astype(dtype)

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._setitem is None:
            self.a[key] = value
        else:
            self._setitem(self.a, key, value)


def _first_write_wins(a: np.ndarray, key: Any, value: Any) -> None:
    idx = np.asarray(key)
    vals = np.broadcast_to(value, idx.shape)
    for i, v in reversed(list(zip(idx, vals))):
        a[i] = v


def _partial_then_raise(a: np.ndarray, key: Any, value: Any) -> None:
    a[0] = 99
    a[key] = value


def _wrong_exception(a: np.ndarray, key: Any, value: Any) -> None:
    try:
        a[key] = value
    except IndexError as e:
        raise ValueError(str(e)) from None


def _no_exception(a: np.ndarray, key: Any, value: Any) -> None:
    try:
        a[key] = value
    except IndexError:
        pass


def _mutates_value(a: np.ndarray, key: Any, value: Any) -> None:
    a[key] = value
    value[...] = 0


def _cast_silently(a: np.ndarray, key: Any, value: Any) -> None:
    a[key] = np.real(value)


def _store_float32(a: np.ndarray, key: Any, value: Any) -> None:
    a[key] = np.float32(value)


# (id, initial array, key, value, wrong setitem)
_WRITE_LIES = [
    ("first-write-wins", np.zeros(4), [3, 0, 3], np.array([1.0, 2.0, 3.0]), _first_write_wins),
    ("partial-then-raise", np.zeros(4), 9, 1.0, _partial_then_raise),
    ("wrong-exception", np.zeros(4), 9, 1.0, _wrong_exception),
    ("no-exception", np.zeros(4), 9, 1.0, _no_exception),
    ("mutates-value", np.zeros(4), slice(None), np.ones(4), _mutates_value),
    ("swallows-complex-warning", np.zeros(2), 0, 1 + 1j, _cast_silently),
    ("rounds-through-float32", np.zeros(2), 0, 0.1, _store_float32),
]


@pytest.mark.parametrize(
    ("a", "key", "value", "setitem"), [c[1:] for c in _WRITE_LIES], ids=[c[0] for c in _WRITE_LIES]
)
def test_write_oracle_catches(a: np.ndarray, key: Any, value: Any, setitem: Any) -> None:
    with pytest.raises(AssertionError):
        assert_same_write(FakeLazy(a, setitem), a.copy(), key, value)


def test_write_oracle_accepts_numpy_and_updates_model() -> None:
    model = np.zeros(4)
    assert_same_write(FakeLazy(model), model, [3, 0, 3], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(model, [2.0, 0.0, 0.0, 3.0])


def test_write_oracle_restores_model_after_an_error() -> None:
    model = np.zeros(3)
    lazy = FakeLazy(model)
    assert_same_write(lazy, model, [0, 7], [1.0, 2.0])  # both raise IndexError
    np.testing.assert_array_equal(model, np.zeros(3))


def test_write_oracle_needs_equal_starting_data() -> None:
    with pytest.raises(AssertionError, match="same data"):
        assert_same_write(FakeLazy(np.ones(3)), np.zeros(3), 0, 1.0)


# ------------------------------------------------------------------ strategies


def _is_int_array(k: Any) -> bool:
    return isinstance(k, (list, np.ndarray)) and np.asarray(k).dtype.kind in "iu"


def _is_mask(k: Any, ndim: int) -> bool:
    return isinstance(k, np.ndarray) and k.dtype == np.bool_ and k.ndim == ndim


def _items(k: Any) -> tuple:
    return k if isinstance(k, tuple) else (k,)


def _pattern(k: Any) -> str:
    """A letter per item: A int array, M2 2-d mask, S slice, I int, N None, E Ellipsis."""
    def letter(i: Any) -> str:
        if _is_int_array(i) and np.ndim(i) > 0:
            return "A"
        if isinstance(i, np.ndarray) and i.dtype == bool:
            return f"M{i.ndim}"
        if isinstance(i, slice):
            return "S"
        if i is None:
            return "N"
        if i is Ellipsis:
            return "E"
        return "I" if isinstance(i, (int, np.integer)) and not isinstance(i, bool) else "?"

    return "".join(letter(i) for i in _items(k))


_SHAPE = (3, 4, 5)

# (id, predicate on a key for shape _SHAPE): each form the brief asks for.
_KEY_FORMS = [
    ("bare-int", lambda k: type(k) is int),
    ("bare-list", lambda k: isinstance(k, list)),
    ("bare-slice", lambda k: isinstance(k, slice)),
    ("bare-ellipsis", lambda k: k is Ellipsis),
    ("bare-none", lambda k: k is None),
    ("empty-tuple", lambda k: isinstance(k, tuple) and not k),
    ("negative-int", lambda k: any(type(i) is int and i < 0 for i in _items(k))),
    ("numpy-int8", lambda k: any(isinstance(i, np.int8) for i in _items(k))),
    ("numpy-uint64", lambda k: any(isinstance(i, np.uint64) for i in _items(k))),
    ("out-of-bounds-int", lambda k: not any(isinstance(i, (list, np.ndarray)) for i in _items(k))
        and "is out of bounds" in str(numpy_verdict(_SHAPE, k))),
    ("intp-overflow", lambda k: any(type(i) is int and abs(i) >= 2**63 for i in _items(k))),
    ("negative-step", lambda k: any(isinstance(i, slice) and (i.step or 1) < -1 and i.start is not None for i in _items(k))),
    ("slice-past-end", lambda k: any(isinstance(i, slice) and isinstance(i.stop, int) and i.stop > 5 for i in _items(k))),
    ("zero-step", lambda k: any(isinstance(i, slice) and i.step == 0 for i in _items(k))),
    ("ellipsis-in-middle", lambda k: isinstance(k, tuple) and len(k) >= 3 and k[1] is Ellipsis),
    ("newaxis-in-tuple", lambda k: isinstance(k, tuple) and len(k) >= 2 and None in [i for i in k if i is None]),
    ("unsorted-repeated-negative-list", lambda k: any(
        isinstance(i, list) and len(i) >= 3 and all(type(v) is int for v in i)
        and len(set(i)) < len(i) and min(i) < 0
        and i != sorted(i) for i in _items(k))),
    ("2d-int-array", lambda k: any(_is_int_array(i) and np.ndim(i) == 2 for i in _items(k))),
    ("0d-int-array", lambda k: any(isinstance(i, np.ndarray) and i.ndim == 0 and i.dtype.kind == "i" for i in _items(k))),
    ("unsigned-index-array", lambda k: any(isinstance(i, np.ndarray) and i.dtype.kind == "u" and i.size for i in _items(k))),
    ("arrays-separated-by-slice", lambda k: re.search("AS+A", _pattern(k))),
    ("adjacent-arrays-after-slice", lambda k: "SAA" in _pattern(k)),
    ("mask-axis0", lambda k: _is_mask(k, 1) and k.shape == (3,)),
    ("mask-2d-after-an-axis", lambda k: re.search("[SIA]M2", _pattern(k))),
    ("mask-full", lambda k: _is_mask(k, 3) and k.shape == _SHAPE),
    ("mask-wrong-shape", lambda k: any(_is_mask(i, 1) for i in _items(k))
        and "boolean index did not match" in str(numpy_verdict(_SHAPE, k))),
    ("mask-as-list", lambda k: isinstance(k, list) and k and isinstance(k[0], bool)),
    ("0d-bool-python", lambda k: any(i is True or i is False for i in _items(k))),
    ("0d-bool-numpy", lambda k: any(isinstance(i, np.bool_) for i in _items(k))),
    ("0d-bool-array", lambda k: any(isinstance(i, np.ndarray) and i.ndim == 0 and i.dtype == bool for i in _items(k))),
    ("too-many-indices", lambda k: "too many indices" in str(numpy_verdict(_SHAPE, k))),
    ("mask-and-array", lambda k: isinstance(k, tuple) and any(_is_mask(i, 1) for i in k)
        and any(_is_int_array(i) for i in k)),
]


#: Forms the derandomized search takes over 3 s to reach (thousands of keys): checked
#: with --heavy, so the default suite stays lean. The rest are checked on every run.
_RARE_FORMS = {"intp-overflow", "adjacent-arrays-after-slice", "arrays-separated-by-slice",
               "mask-2d-after-an-axis", "mask-full", "mask-wrong-shape", "zero-step"}


@pytest.mark.parametrize("predicate", [
    pytest.param(c[1], id=c[0], marks=[pytest.mark.heavy] if c[0] in _RARE_FORMS else [])
    for c in _KEY_FORMS])
def test_keys_produce_every_form(predicate: Any) -> None:
    find(keys(_SHAPE), predicate, settings=FIND)


_BAD_FORMS = [
    ("float", lambda k: isinstance(k, float)),
    ("string", lambda k: isinstance(k, str)),
    ("float-array", lambda k: isinstance(k, np.ndarray) and k.dtype.kind == "f"),
    ("two-ellipsis", lambda k: isinstance(k, tuple) and k.count(Ellipsis) == 2),
    ("too-many", lambda k: isinstance(k, tuple) and len(k) > 3 and Ellipsis not in k),
    ("wrong-mask", lambda k: isinstance(k, np.ndarray) and k.dtype == bool),
    ("non-broadcastable", lambda k: isinstance(k, tuple) and len(k) == 2 and isinstance(k[0], list)),
]


@pytest.mark.parametrize("predicate", [c[1] for c in _BAD_FORMS], ids=[c[0] for c in _BAD_FORMS])
def test_bad_keys_produce_every_form(predicate: Any) -> None:
    key = find(bad_keys(_SHAPE), predicate, settings=FIND)
    assert isinstance(numpy_verdict(_SHAPE, key), Exception), key


def test_keys_are_mostly_valid_and_sometimes_invalid() -> None:
    verdicts: list[bool] = []

    @settings(max_examples=400, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(ak=arrays_and_keys())
    def collect(ak: tuple[np.ndarray, Any]) -> None:
        a, key = ak
        verdicts.append(isinstance(numpy_verdict(a.shape, key), tuple))

    collect()
    share_valid = sum(verdicts) / len(verdicts)
    assert 0.6 <= share_valid <= 0.99, share_valid


@given(data=st.data(), shape=shapes())
def test_keys_invalid_false_gives_only_valid_keys(data: st.DataObject, shape: tuple[int, ...]) -> None:
    key = data.draw(keys(shape, invalid=False))
    assert isinstance(numpy_verdict(shape, key), tuple), key


@given(shape=shapes(min_dims=1, max_dims=3), data=st.data())
def test_write_values_broadcast_to_the_selection(shape: tuple[int, ...], data: st.DataObject) -> None:
    key = data.draw(keys(shape, invalid=False))
    target = numpy_verdict(shape, key)
    value = data.draw(write_values(shape, key, np.dtype("f8"), invalid=False))
    np.broadcast_to(np.asarray(value), target)


@pytest.mark.parametrize(
    "predicate",
    [
        lambda d: d == np.dtype("S4"),
        lambda d: d == np.dtype(">c16"),
        lambda d: d == np.dtype("<f2"),
        lambda d: d == np.dtype(">u8"),
        lambda d: d == np.dtype("?"),
    ],
    ids=["S4", "big-complex128", "little-float16", "big-uint64", "bool"],
)
def test_dtypes_cover_kinds_and_byte_orders(predicate: Any) -> None:
    find(dtypes(), predicate, settings=FIND)


def test_arrays_produce_nan_negative_zero_and_distinct_values() -> None:
    find(arrays(np.dtype("f8"), (4,)), lambda a: np.isnan(a).any(), settings=FIND)
    find(arrays(np.dtype("f8"), (4,)), lambda a: np.signbit(a[a == 0]).any(), settings=FIND)
    find(arrays(np.dtype("i2"), (3, 4)), lambda a: len(np.unique(a)) == 12, settings=FIND)
    find(arrays(), lambda a: a.ndim == 0, settings=FIND)
    find(arrays(), lambda a: 0 in a.shape and a.ndim >= 2, settings=FIND)


def test_numpy_verdict() -> None:
    assert numpy_verdict((3, 4), (slice(None), [0, 0, 1])) == (3, 3)
    assert numpy_verdict((3, 4), (1, 2)) == ()
    assert isinstance(numpy_verdict((3, 4), 3), IndexError)
    assert isinstance(numpy_verdict((3, 4), slice(0, 1, 0)), ValueError)


def test_importing_testing_does_not_import_pytest() -> None:
    code = "import sys, lazyarr.testing; sys.exit('pytest' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_write_oracle_skips_only_what_an_invalid_cast_stores():
    # Found by check_backend on the memory backend: NaN written through a mask
    # into uint32 stored 0 in NumPy and 2**31 through LazyArray. NumPy leaves
    # such values undefined; every other element must still match.
    import lazyarr as la

    a = np.arange(1, 34, dtype="<u4")
    mask = np.zeros(33, bool)
    mask[[28, 30, 31, 32]] = True
    x = la.LazyArray(la.backends.MemoryBackend(a.copy()))
    model = a.copy()
    assert_same_write(x, model, mask, np.full(4, np.nan))
    np.testing.assert_array_equal(model, np.asarray(x))  # the next write starts level
    assert_same_write(x, model, [0, 0], np.uint32(0))

    class WritesOneTooMany:
        def __init__(self, arr):
            self.arr = arr

        def __array__(self, dtype=None, copy=None):
            return self.arr.copy()

        def __setitem__(self, key, value):
            self.arr[key] = value
            self.arr[0] = 99  # not a written position: still compared

    with pytest.raises(AssertionError, match="differs"):
        assert_same_write(WritesOneTooMany(a.copy()), a.copy(), mask, np.full(4, np.nan))
