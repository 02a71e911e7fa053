"""The NumPy-parity oracle: same values, dtype, shape, scalar-ness, or the same exception."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["assert_same_outcome", "assert_same_as_numpy", "assert_same_write"]


def _snapshot(obj: Any) -> Any:
    """A deep copy of a key or value, to detect an implementation mutating it."""
    return copy.deepcopy(obj)


def _same_object_value(a: Any, b: Any) -> bool:
    """Structural equality of two keys or values (arrays compared by dtype and bits)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            type(a) is type(b)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    if isinstance(a, (tuple, list)):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(_same_object_value(x, y) for x, y in zip(a, b))
        )
    if isinstance(a, np.generic) or isinstance(b, np.generic):
        return type(a) is type(b) and a.tobytes() == b.tobytes()
    # NaN != NaN, but an untouched NaN is unchanged.
    return type(a) is type(b) and bool(a == b or (a != a and b != b))


def _describe(obj: Any) -> str:
    if isinstance(obj, BaseException):
        return f"{type(obj).__name__}: {obj}"
    if isinstance(obj, (np.ndarray, np.generic)):
        body = np.array2string(np.asarray(obj), threshold=30, edgeitems=3)
        return f"{type(obj).__name__} dtype={obj.dtype.str} shape={np.shape(obj)} {body}"
    text = repr(obj)
    return f"{type(obj).__name__} {text[:200]}{'...' if len(text) > 200 else ''}"


def _same_values(actual: Any, expected: Any) -> bool:
    """Same elements: NaN equals NaN (NaT equals NaT), but -0.0 differs from 0.0.

    Structured dtypes compare field by field, by the same rules (not their
    bytes: padding between fields holds anything).
    """
    a = np.asarray(actual)
    e = np.asarray(expected)
    if e.dtype.names is not None:
        if a.dtype.names != e.dtype.names or a.shape != e.shape:
            return False
        return all(_same_values(a[name], e[name]) for name in e.dtype.names)
    if e.dtype.kind in "mM":
        return bool(np.array_equal(a, e, equal_nan=True))
    if e.dtype.kind in "fc":
        if not np.array_equal(a, e, equal_nan=True):
            return False
        # array_equal says -0.0 == 0.0; a copy must keep the sign bit.
        return bool(
            np.array_equal(np.signbit(a.real), np.signbit(e.real))
            and np.array_equal(np.signbit(a.imag), np.signbit(e.imag))
        )
    return bool(np.array_equal(a, e))


class _Outcome:
    """What one call did: its result or exception, and the warnings it emitted."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.result: Any = None
        self.exc: Exception | None = None
        with warnings.catch_warnings(record=True) as caught:
            # "always": a warning already shown once must still be recorded.
            warnings.simplefilter("always")
            try:
                self.result = fn()
            except Exception as e:  # noqa: BLE001 - the exception is what we compare
                self.exc = e
        self.warnings = sorted({w.category for w in caught}, key=lambda c: c.__name__)


def _compare_warnings(what: str, expected: list[type], actual: list[type]) -> None:
    # Each category NumPy emits must be emitted too (a subclass is fine), and
    # nothing else: under "-W error" an extra warning is a new exception.
    missing = [c for c in expected if not any(issubclass(a, c) for a in actual)]
    extra = [a for a in actual if not any(issubclass(a, c) for c in expected)]
    if missing or extra:
        raise AssertionError(
            f"{what}: NumPy warned {[c.__name__ for c in expected]}, "
            f"actual warned {[c.__name__ for c in actual]}"
        )


def _compare_exceptions(what: str, expected: _Outcome, actual: _Outcome) -> None:
    if expected.exc is not None:
        if actual.exc is None:
            raise AssertionError(
                f"{what}: NumPy raised {_describe(expected.exc)}, "
                f"actual returned {_describe(actual.result)}"
            )
        if not isinstance(actual.exc, type(expected.exc)):
            raise AssertionError(
                f"{what}: NumPy raised {_describe(expected.exc)}, "
                f"actual raised {_describe(actual.exc)}"
            ) from actual.exc
    elif actual.exc is not None:
        raise AssertionError(
            f"{what}: NumPy returned {_describe(expected.result)}, "
            f"actual raised {_describe(actual.exc)}"
        ) from actual.exc


def _compare_results(what: str, expected: Any, actual: Any) -> None:
    def fail(aspect: str) -> None:
        verb = "differ" if aspect.endswith("s") else "differs"
        raise AssertionError(
            f"{aspect} {verb} for {what}: expected {_describe(expected)}, "
            f"actual {_describe(actual)}"
        )

    # Exact type: NumPy scalar versus 0-d ndarray versus ndarray (and no
    # ndarray subclasses, no Python scalars where NumPy gives NumPy ones).
    if type(actual) is not type(expected):
        fail("result type")
    if isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            fail("length")
        for i, (e, a) in enumerate(zip(expected, actual)):
            _compare_results(f"{what}[{i}]", e, a)
        return
    if not isinstance(expected, (np.ndarray, np.generic)):
        if not _same_object_value(expected, actual):
            fail("value")
        return
    if actual.dtype != expected.dtype or actual.dtype.str != expected.dtype.str:
        fail("dtype")
    if np.shape(actual) != np.shape(expected):
        fail("shape")
    if not _same_values(actual, expected):
        fail("values")


def assert_same_outcome(
    actual_fn: Callable[[], Any], expected_fn: Callable[[], Any], what: str = "call"
) -> None:
    """Assert that two calls give the same answer, NumPy's being ``expected_fn``.

    The building block of :func:`assert_same_as_numpy`, for anything that is
    not ``x[key]``: ``np.asarray(x, dtype=...)``, ``list(x)``, ``len(x)``.
    When ``expected_fn`` raises, ``actual_fn`` must raise an instance of the
    same type. Otherwise the results must have the same type, dtype
    (including byte order), shape and values (NaN equals NaN, -0.0 differs
    from 0.0); lists and tuples are compared element by element. Both calls
    must emit the same warning categories.

    Parameters
    ----------
    actual_fn, expected_fn : callable
        Called once each, with no arguments.
    what : str
        Names the call in the assertion message.

    Examples
    --------
    >>> a = np.arange(3.0)
    >>> assert_same_outcome(lambda: list(a.copy()), lambda: list(a), "list(x)")
    >>> assert_same_outcome(lambda: a.tolist(), lambda: list(a), "list(x)")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: result type differs for list(x)[0]: expected float64 ..., actual float 0.0
    """
    expected = _Outcome(expected_fn)
    actual = _Outcome(actual_fn)
    _compare_outcomes(what, expected, actual)


def _compare_outcomes(what: str, expected: _Outcome, actual: _Outcome) -> None:
    _compare_exceptions(what, expected, actual)
    _compare_warnings(what, expected.warnings, actual.warnings)
    if expected.exc is None:
        _compare_results(what, expected.result, actual.result)


def assert_same_as_numpy(
    actual_fn: Callable[[Any], Any], expected_array: np.ndarray, key: Any
) -> None:
    """Assert that ``actual_fn(key)`` behaves exactly like ``expected_array[key]``.

    When NumPy raises, ``actual_fn`` must raise an instance of the same
    exception type (a subclass such as a lazyarr error is fine). Otherwise the
    results must have the same type (NumPy scalar versus 0-d ndarray versus
    ndarray, compared with ``type(...) is``), dtype (including byte order),
    shape and values (NaN equals NaN; -0.0 differs from 0.0). Both calls must
    emit the same warning categories, and ``actual_fn`` must not modify
    ``key``.

    Parameters
    ----------
    actual_fn : callable
        Usually ``x.__getitem__`` of the object under test.
    expected_array : numpy.ndarray
        The data ``x`` should hold.
    key : object
        Any key, valid or not.

    Raises
    ------
    AssertionError
        With the key, NumPy's answer and the actual answer.

    Examples
    --------
    >>> a = np.arange(6.0).reshape(2, 3)
    >>> assert_same_as_numpy(lambda k: a.copy()[k], a, (1, [2, 0]))
    >>> assert_same_as_numpy(lambda k: np.asarray(a[k]), a, (1, 2))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: result type differs for key (1, 2): expected float64 ..., actual ndarray ...
    >>> assert_same_as_numpy(lambda k: None, a, 2.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: key 2.0: NumPy raised IndexError: ..., actual returned NoneType None
    """
    pristine = _snapshot(key)
    # NumPy gets its own copy of the key, so an implementation that mutates
    # the key cannot change NumPy's answer.
    expected = _Outcome(lambda: expected_array[_snapshot(key)])
    actual = _Outcome(lambda: actual_fn(key))
    if not _same_object_value(key, pristine):
        raise AssertionError(f"the key was modified in place: {pristine!r} became {key!r}")
    _compare_outcomes(f"key {pristine!r}", expected, actual)


def _assert_same_array(what: str, actual: Any, expected: np.ndarray) -> None:
    actual = np.asarray(actual)
    if (
        actual.shape != expected.shape
        or actual.dtype != expected.dtype
        or not _same_values(actual, expected)
    ):
        raise AssertionError(f"{what}: expected {_describe(expected)}, actual {_describe(actual)}")


def assert_same_write(lazy: Any, model: np.ndarray, key: Any, value: Any) -> None:
    """Apply ``model[key] = value`` and ``lazy[key] = value`` and assert they agree.

    When NumPy raises, ``lazy`` must raise an instance of the same exception
    type and still hold exactly what it held before (``model`` is restored
    too, in case NumPy wrote part of the value before raising). Otherwise
    ``np.asarray(lazy)`` must equal ``model`` exactly afterwards (dtype,
    shape, values, sign of zeros). Warnings must match as in
    :func:`assert_same_as_numpy`, and neither ``key`` nor ``value`` may be
    modified. Only where NumPy warns of an invalid cast into integers (NaN or
    inf) are the written elements' values not compared: NumPy leaves them
    undefined, and its own code paths store different ones; ``model`` then
    takes ``lazy``'s values there.

    Parameters
    ----------
    lazy : object
        Supports ``lazy[key] = value`` and ``np.asarray(lazy)``.
    model : numpy.ndarray
        An ndarray holding the same data as ``lazy``; updated in place.
    key, value : object
        Any key and value, valid or not.

    Raises
    ------
    AssertionError
        With the key, value and both outcomes.

    Examples
    --------
    >>> model = np.zeros(4)
    >>> lazy = np.zeros(4)
    >>> assert_same_write(lazy, model, [3, 0, 3], [1.0, 2.0, 3.0])
    >>> model
    array([2., 0., 0., 3.])
    >>> assert_same_write(lazy, model, 7, 1.0)   # both raise IndexError
    """
    before = np.array(lazy, copy=True)
    model_before = model.copy()
    _assert_same_array("assert_same_write needs lazy and model to hold the same data", before, model)
    key_pristine, value_pristine = _snapshot(key), _snapshot(value)

    def numpy_write() -> None:
        model[_snapshot(key)] = _snapshot(value)

    def lazy_write() -> None:
        lazy[key] = value

    expected = _Outcome(numpy_write)
    actual = _Outcome(lazy_write)
    if not _same_object_value(key, key_pristine):
        raise AssertionError(f"the key was modified in place: {key_pristine!r} became {key!r}")
    if not _same_object_value(value, value_pristine):
        raise AssertionError(
            f"the value was modified in place: {value_pristine!r} became {value!r}"
        )
    what = f"write of {_describe(value_pristine)} to key {key_pristine!r}"
    _compare_exceptions(what, expected, actual)
    _compare_warnings(what, expected.warnings, actual.warnings)
    if expected.exc is not None:
        model[...] = model_before
        _assert_same_array(
            f"{what} raised {type(actual.exc).__name__} but changed the array", lazy, before
        )
        return
    if RuntimeWarning in expected.warnings and model.dtype.kind in "iu":
        # An invalid cast (NaN or inf into integers): NumPy does not define
        # what it stores, and its own code paths store different values.
        # Everything else must still match exactly.
        written = np.zeros(model.shape, dtype=bool)
        written[_snapshot(key_pristine)] = True
        got, want = np.array(lazy, copy=True), model.copy()
        got[written] = want[written] = 0
        _assert_same_array(f"{what}: the array after the write differs", got, want)
        # From here on the model holds what was stored, so later calls
        # start from the same data.
        model[written] = np.asarray(lazy)[written]
        return
    _assert_same_array(f"{what}: the array after the write differs", lazy, model)
