"""Hypothesis strategies and the NumPy-parity oracle for array-like objects.

lazyarr's one rule is that NumPy decides the semantics: for every key NumPy
accepts, ``x[key]`` is exactly ``np.asarray(x)[key]`` (values, dtype, shape,
scalar versus 0-d array), and for every key NumPy rejects, ``x[key]`` raises
an exception of the same type. Writes follow ``a[key] = value`` the same way.
This package holds the tools that check the rule, for lazyarr's own tests and
for authors of backends:

* strategies: :func:`shapes`, :func:`dtypes`, :func:`arrays`, :func:`keys`,
  :func:`bad_keys`, :func:`write_values` and the combined
  :func:`arrays_and_keys` / :func:`arrays_keys_and_values`;
* the oracle: :func:`assert_same_as_numpy` for reads,
  :func:`assert_same_write` for writes and :func:`assert_same_outcome` for
  any other call (``np.asarray(x)``, ``list(x)``, ``len(x)``);
* :func:`check_backend`, the whole conformance suite for a storage backend
  (one call in a third party's test: ``check_backend(MyBackend)``).

The strategies are deliberately wider than
:func:`hypothesis.extra.numpy.basic_indices`: they produce out-of-bounds
integers, NumPy integer scalars, slices with any bounds and steps, integer
lists and arrays of any rank (unsorted, repeated, negative), several index
arrays broadcast together in any position, boolean masks of every rank, 0-d
booleans, and -- less often -- keys NumPy rejects. The verdict on a key always
comes from NumPy itself, never from this package.

Examples
--------
>>> import numpy as np
>>> from lazyarr.testing import assert_same_as_numpy
>>> a = np.arange(12).reshape(3, 4)
>>> assert_same_as_numpy(a.copy().__getitem__, a, (slice(None, None, -1), [0, 0]))
>>> assert_same_as_numpy(lambda key: a[key] + 1, a, 0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
AssertionError: values differ for key 0: ...

In a property test, draw an array and a key for it together:

>>> from hypothesis import given, settings
>>> @settings(max_examples=25, database=None, deadline=None)
... @given(ak=arrays_and_keys())
... def test_read(ak):
...     a, key = ak
...     assert_same_as_numpy(a.copy().__getitem__, a, key)
>>> test_read()
"""

# The oracle needs only NumPy, so ``lazyarr demo`` can use it on an install
# without the testing extra; the strategies and the conformance suite need
# hypothesis, and say so when it is missing.
from lazyarr.testing.oracle import assert_same_as_numpy, assert_same_outcome, assert_same_write

try:
    import hypothesis  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    _MISSING_HYPOTHESIS: ImportError | None = e
else:
    _MISSING_HYPOTHESIS = None
    from lazyarr.testing.conformance import CHECKS, ConformanceError, check_backend
    from lazyarr.testing.strategies import (
        arrays,
        arrays_and_keys,
        arrays_keys_and_values,
        bad_keys,
        dtypes,
        keys,
        numpy_verdict,
        shapes,
        write_values,
    )


def __getattr__(name: str) -> object:  # pragma: no cover - depends on the environment
    if _MISSING_HYPOTHESIS is not None and name in __all__:
        raise ImportError(
            f"lazyarr.testing.{name} needs hypothesis: pip install lazyarr[testing]"
        ) from _MISSING_HYPOTHESIS
    raise AttributeError(f"module 'lazyarr.testing' has no attribute {name!r}")


__all__ = [
    "shapes",
    "dtypes",
    "arrays",
    "keys",
    "bad_keys",
    "write_values",
    "arrays_and_keys",
    "arrays_keys_and_values",
    "numpy_verdict",
    "assert_same_outcome",
    "assert_same_as_numpy",
    "assert_same_write",
    "check_backend",
    "ConformanceError",
    "CHECKS",
]
