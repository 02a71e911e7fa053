"""Hypothesis strategies: shapes, dtypes, arrays, keys of every form, write values."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np

__all__ = ["shapes", "dtypes", "arrays", "keys", "bad_keys", "write_values", "arrays_and_keys", "arrays_keys_and_values", "numpy_verdict"]


# --------------------------------------------------------------------------
# Shapes, dtypes and arrays
# --------------------------------------------------------------------------

_SCALAR_CODES = ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"]


def shapes(
    min_dims: int = 0, max_dims: int = 4, min_side: int = 0, max_side: int = 6
) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes, including 0-d and zero-length axes by default.

    Parameters
    ----------
    min_dims, max_dims : int
        Bounds on the number of dimensions.
    min_side, max_side : int
        Bounds on the length of each axis.

    Returns
    -------
    SearchStrategy of tuple of int

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from lazyarr.testing import assert_same_as_numpy, assert_same_write
    >>> @settings(max_examples=25, database=None)
    ... @given(shape=shapes(max_dims=2, max_side=3))
    ... def test_shape(shape):
    ...     assert len(shape) <= 2 and all(0 <= n <= 3 for n in shape)
    >>> test_shape()
    """
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def dtypes(
    *, byteorders: Sequence[str] = ("<", ">"), bytes_: bool = True
) -> st.SearchStrategy[np.dtype]:
    """The dtypes lazyarr stores: bool, all integer widths, float16..complex128.

    Parameters
    ----------
    byteorders : sequence of {"<", ">"}
        Byte orders of the multi-byte dtypes. Both by default: a big-endian
        array read back as little-endian is a dtype mismatch the oracle reports.
    bytes_ : bool
        Also produce fixed-width bytes ``S4``.

    Returns
    -------
    SearchStrategy of numpy.dtype

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from lazyarr.testing import assert_same_as_numpy, assert_same_write
    >>> @settings(max_examples=25, database=None)
    ... @given(dtype=dtypes())
    ... def test_dtype(dtype):
    ...     assert dtype.kind in "biufcS"
    >>> test_dtype()
    """
    out = []
    for code in _SCALAR_CODES:
        d = np.dtype(code)
        if d.itemsize == 1:
            out.append(d)
        else:
            out.extend(d.newbyteorder(b) for b in byteorders)
    if bytes_:
        out.append(np.dtype("S4"))
    return st.sampled_from(out)


def _distinct_values(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An array whose elements mostly differ, so misplaced elements show.

    Hypothesis' ``arrays`` fills most elements of larger arrays with one
    value, which would hide a planner that reads the wrong rows.
    """
    n = int(np.prod(shape, dtype=np.int64))
    i = np.arange(n)
    if dtype.kind == "S":
        flat = np.array([str(v).encode() for v in i], dtype=dtype)
    elif dtype.kind == "b":
        flat = (i % 3 == 1)
    elif dtype.kind == "c":
        flat = i + 1j * (n - i)
    elif dtype.kind in "iu":
        # Wrap on purpose: distinct modulo the dtype's range is enough.
        flat = (i + 1) % (2 ** min(8 * dtype.itemsize, 62))
    else:
        flat = i + 0.5
    return flat.astype(dtype).reshape(shape)


def arrays(
    dtype: np.dtype | st.SearchStrategy[np.dtype] | None = None,
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
) -> st.SearchStrategy[np.ndarray]:
    """NumPy arrays of any stored dtype and small shape.

    Half of the arrays come from :func:`hypothesis.extra.numpy.arrays`
    (including NaN, infinities and -0.0), the other half have mostly distinct
    elements so that reading the wrong position cannot go unnoticed.

    Parameters
    ----------
    dtype : numpy.dtype or strategy, optional
        Defaults to :func:`dtypes`.
    shape : tuple of int or strategy, optional
        Defaults to :func:`shapes`.

    Returns
    -------
    SearchStrategy of numpy.ndarray

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from lazyarr.testing import assert_same_as_numpy, assert_same_write
    >>> @settings(max_examples=25, database=None)
    ... @given(a=arrays(np.dtype(">i2"), shapes(min_dims=1)))
    ... def test_array(a):
    ...     assert a.dtype.str == ">i2" and a.ndim >= 1
    >>> test_array()
    """
    dtype_st = dtypes() if dtype is None else dtype
    shape_st = shapes() if shape is None else shape
    if not isinstance(dtype_st, st.SearchStrategy):
        dtype_st = st.just(np.dtype(dtype_st))
    if not isinstance(shape_st, st.SearchStrategy):
        shape_st = st.just(tuple(shape_st))

    @st.composite
    def _arrays(draw: Any) -> np.ndarray:
        d = draw(dtype_st)
        s = draw(shape_st)
        if draw(st.booleans()):
            return draw(hnp.arrays(d, s))
        return _distinct_values(s, d)

    return _arrays()


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------

_SIGNED_TYPES = (np.intp, np.int8, np.int16, np.int32, np.int64)
_UNSIGNED_TYPES = (np.uint8, np.uint16, np.uint32, np.uint64)


def _rare(draw: Any, percent: int) -> bool:
    """True about ``percent`` % of the time; shrinks towards False (the common case)."""
    return draw(st.integers(0, 99)) >= 100 - percent


def _int_object(draw: Any, i: int) -> Any:
    """``i`` as a Python int or, sometimes, a NumPy integer scalar that can hold it."""
    kind = draw(st.sampled_from(["py", "py", "np_signed", "np_unsigned"]))
    if kind == "np_signed":
        t = draw(st.sampled_from(_SIGNED_TYPES))
        if np.iinfo(t).min <= i <= np.iinfo(t).max:
            return t(i)
    elif kind == "np_unsigned":
        t = draw(st.sampled_from(_UNSIGNED_TYPES))
        if 0 <= i <= np.iinfo(t).max:
            return t(i)
    return i


def _int_index(draw: Any, n: int, invalid: bool) -> Any:
    """An integer index into an axis of length ``n``."""
    if n == 0 or (invalid and _rare(draw, 6)):
        # Out of bounds: just past either end, or beyond what intp can hold
        # (NumPy's verdict there is OverflowError, not IndexError).
        i = draw(st.sampled_from([n, n + 1, -n - 1, -n - 2, 2**31, 2**63, -(2**63) - 1]))
    else:
        i = draw(st.integers(-n, n - 1))
    return _int_object(draw, i)


def _slice_bound(draw: Any, n: int) -> Any:
    b = draw(
        st.one_of(
            st.none(),
            st.integers(-n - 3, n + 3),
            st.sampled_from([sys.maxsize, -sys.maxsize - 1, 2**64, -(2**64)]),
        )
    )
    return b if b is None else _int_object(draw, b)


def _slice_index(draw: Any, n: int, invalid: bool) -> slice:
    """A slice with any bounds (None, negative, past the ends) and any step."""
    start = _slice_bound(draw, n)
    stop = _slice_bound(draw, n)
    if invalid and _rare(draw, 2):
        step: Any = 0  # ValueError: slice step cannot be zero
    else:
        step = draw(
            st.one_of(
                st.none(),
                st.integers(1, n + 2),
                st.integers(-n - 2, -1),
                st.sampled_from([sys.maxsize, -sys.maxsize]),
            )
        )
        if step is not None:
            step = _int_object(draw, step)
    return slice(start, stop, step)


def _as_array_or_list(draw: Any, arr: np.ndarray) -> Any:
    """``arr`` as an ndarray of some integer dtype, a (nested) list, or a tuple."""
    form = draw(st.sampled_from(["array", "array", "list", "tuple"]))
    if arr.ndim == 0:
        return arr if form == "array" else arr.item()
    if form == "list" or (form == "tuple" and arr.ndim != 1):
        return arr.tolist()
    if form == "tuple":
        return tuple(arr.tolist())
    if arr.dtype == np.bool_:
        return arr
    candidates = [t for t in _SIGNED_TYPES + _UNSIGNED_TYPES
                  if arr.size == 0 or (np.iinfo(t).min <= arr.min() and arr.max() <= np.iinfo(t).max)]
    return arr.astype(draw(st.sampled_from(candidates)))


@st.composite
def _shapes_broadcasting_to(draw: Any, target: tuple[int, ...]) -> tuple[int, ...]:
    """Shapes that ``np.broadcast_to`` stretches to ``target`` (not merely compatible ones)."""
    # Not hypothesis' broadcastable_shapes: (0,) is compatible with (1,) but
    # cannot be stretched to it, and a write value must be.
    # Mostly the full target (the common case in user code), sometimes with
    # leading axes dropped or stretched axes of length 1.
    drop = draw(st.integers(0, len(target))) if draw(st.booleans()) else 0
    return tuple(1 if _rare(draw, 25) else n for n in target[drop:])


def _int_array_index(draw: Any, n: int, bshape: tuple[int, ...], invalid: bool) -> Any:
    """An integer index array (or list) into an axis of length ``n``.

    Its shape broadcasts to ``bshape``, the shape shared by every index array
    of one key, so several arrays in one key usually broadcast together.
    """
    if invalid and _rare(draw, 4):
        # Not broadcastable with the others (IndexError), unless NumPy
        # happens to accept it.
        shape = draw(shapes(min_dims=1, max_dims=2, max_side=4))
    else:
        shape = draw(_shapes_broadcasting_to(bshape))
    if n == 0 or (invalid and _rare(draw, 5)):
        elements = st.integers(-n - 3, n + 3)
    else:
        elements = st.integers(-n, n - 1)
    arr = draw(hnp.arrays(np.intp, shape, elements=elements, fill=st.nothing()))
    return _as_array_or_list(draw, arr)


def _mask_index(draw: Any, sub_shape: tuple[int, ...], invalid: bool) -> Any:
    """A boolean mask over the axes ``sub_shape``; sometimes one side is off by one."""
    shape = list(sub_shape)
    if invalid and shape and _rare(draw, 6):
        ax = draw(st.integers(0, len(shape) - 1))
        shape[ax] = max(0, shape[ax] + draw(st.sampled_from([-1, 1])))
    mask = draw(hnp.arrays(np.bool_, tuple(shape), fill=st.nothing()))
    return _as_array_or_list(draw, mask) if mask.ndim else mask


_ZERO_D_BOOLS = [True, False, np.True_, np.False_, np.array(True), np.array(False)]


def _axis_items(
    draw: Any, sub_shape: tuple[int, ...], bshape: tuple[int, ...], invalid: bool
) -> list[Any]:
    """Index items that together consume exactly the axes ``sub_shape``."""
    items = []
    i = 0
    while i < len(sub_shape):
        kind = draw(st.sampled_from(["slice", "array", "int", "slice", "array", "array", "mask"]))
        n = sub_shape[i]
        if kind == "int":
            items.append(_int_index(draw, n, invalid))
            i += 1
        elif kind == "slice":
            items.append(_slice_index(draw, n, invalid))
            i += 1
        elif kind == "array":
            items.append(_int_array_index(draw, n, bshape, invalid))
            i += 1
        else:
            k = draw(st.integers(1, len(sub_shape) - i))
            items.append(_mask_index(draw, sub_shape[i : i + k], invalid))
            i += k
    return items


def _bare_key(draw: Any, shape: tuple[int, ...], bshape: tuple[int, ...], invalid: bool) -> Any:
    """A key that is not a tuple: it indexes axis 0 (a mask: the leading axes)."""
    n = shape[0] if shape else 0
    kind = draw(st.sampled_from(["int", "slice", "array", "mask", "ellipsis", "none", "bool", "empty"]))
    if kind == "int":
        return _int_index(draw, n, invalid)
    if kind == "slice":
        return _slice_index(draw, n, invalid)
    if kind == "array":
        return _int_array_index(draw, n, bshape, invalid)
    if kind == "mask":
        k = draw(st.integers(min(1, len(shape)), len(shape)))
        return _mask_index(draw, shape[:k], invalid)
    if kind == "bool":
        return draw(st.sampled_from(_ZERO_D_BOOLS))
    return {"ellipsis": Ellipsis, "none": None, "empty": ()}[kind]


@st.composite
def _keys(draw: Any, shape: tuple[int, ...], invalid: bool) -> Any:
    ndim = len(shape)
    # The broadcast shape of this key's index arrays, drawn once so that
    # several arrays (adjacent or separated) usually broadcast together.
    bshape = draw(shapes(min_dims=0 if _rare(draw, 20) else 1, max_dims=2, max_side=4))
    if draw(st.integers(0, 3)) == 0:
        return _bare_key(draw, shape, bshape, invalid)
    has_ellipsis = draw(st.booleans())
    # Keys usually index every axis (or every axis but those the Ellipsis spans).
    n_before = ndim if not has_ellipsis and draw(st.booleans()) else draw(st.integers(0, ndim))
    n_after = draw(st.integers(0, ndim - n_before)) if has_ellipsis else 0
    items = _axis_items(draw, shape[:n_before], bshape, invalid)
    if has_ellipsis:
        items.append(Ellipsis)
        items += _axis_items(draw, shape[ndim - n_after :], bshape, invalid)
    # Items that consume no axis can go anywhere.
    for _ in range(draw(st.integers(0, 2))):
        extra = draw(st.sampled_from([None, None, *_ZERO_D_BOOLS]))
        items.insert(draw(st.integers(0, len(items))), extra)
    if invalid and _rare(draw, 3):
        # One index too many (IndexError), or a second Ellipsis.
        extra = draw(st.sampled_from([0, slice(None), Ellipsis]))
        items.insert(draw(st.integers(0, len(items))), extra)
    if len(items) == 1 and draw(st.booleans()):
        return items[0]
    return tuple(items)


def numpy_verdict(shape: tuple[int, ...], key: Any) -> tuple[int, ...] | BaseException:
    """The result shape NumPy gives ``key`` on an array of ``shape``, or its exception.

    Indexes a zero-stride view, so it allocates (almost) nothing for basic keys.

    Examples
    --------
    >>> numpy_verdict((3, 4), (slice(None), [0, 0, 1]))
    (3, 3)
    >>> numpy_verdict((3, 4), 3)
    IndexError('index 3 is out of bounds for axis 0 with size 3')
    """
    view = np.broadcast_to(np.empty((), np.uint8), shape)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.shape(view[key])
    except Exception as exc:  # noqa: BLE001 - the exception *is* the verdict
        return exc


def keys(shape: tuple[int, ...], *, invalid: bool = True) -> st.SearchStrategy[Any]:
    """Every form of key NumPy accepts for an array of ``shape``, and some it rejects.

    Produces Python and NumPy integers (negative; sometimes out of bounds),
    slices with any start/stop/step (None, negative, past the ends, huge),
    ``Ellipsis``, ``None``, integer lists and arrays of rank 0 to 2 (unsorted,
    repeated, negative; several of them broadcast together, adjacent or
    separated by slices, ints or ``None``), boolean masks of every rank over
    any run of axes (sometimes of the wrong shape), 0-d booleans, bare keys
    and tuples. Most keys are valid.

    Parameters
    ----------
    shape : tuple of int
        Shape of the array the keys are for.
    invalid : bool
        When False, only keys NumPy accepts are produced.

    Returns
    -------
    SearchStrategy

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from lazyarr.testing import assert_same_as_numpy, assert_same_write
    >>> a = np.arange(12).reshape(3, 4)
    >>> @settings(max_examples=25, database=None, deadline=None)
    ... @given(key=keys(a.shape))
    ... def test_read(key):
    ...     assert_same_as_numpy(a.copy().__getitem__, a, key)
    >>> test_read()
    """
    strategy = _keys(tuple(shape), invalid)
    if not invalid:
        strategy = strategy.filter(
            lambda k: not isinstance(numpy_verdict(tuple(shape), k), BaseException)
        )
    return strategy


@st.composite
def _bad_keys(draw: Any, shape: tuple[int, ...]) -> Any:
    ndim = len(shape)
    side = shape[0] if shape else 0
    kind = draw(
        st.sampled_from(
            [
                "float", "string", "too_many", "float_array", "two_ellipsis",
                "wrong_mask", "non_broadcastable", "float_slice", "zero_step",
                "list_with_slice", "ragged_list", "float_list", "object",
            ]
        )
    )
    if kind == "float":
        return draw(st.sampled_from([1.0, 0.5, np.float64(0), -1.0, float("nan")]))
    if kind == "string":
        return draw(st.sampled_from(["a", b"0", "0"]))
    if kind == "too_many":
        return tuple(draw(st.lists(st.sampled_from([0, slice(None), [0]]), min_size=ndim + 1, max_size=ndim + 2)))
    if kind == "float_array":
        return np.zeros(draw(st.integers(0, 3)), dtype=draw(st.sampled_from([np.float64, np.float32, np.complex64])))
    if kind == "two_ellipsis":
        return (Ellipsis, slice(None), Ellipsis) if draw(st.booleans()) else (Ellipsis, Ellipsis)
    if kind == "wrong_mask":
        wrong = tuple(n + 1 for n in shape) if shape else (1,)
        return np.ones(wrong, dtype=bool)
    if kind == "non_broadcastable":
        if ndim >= 2:
            return ([0] * 2, [0] * 3)
        return ([0, 0], [0, 0, 0])
    if kind == "float_slice":
        return slice(draw(st.sampled_from([0.0, 1.5])), side)
    if kind == "zero_step":
        return slice(None, None, 0)
    if kind == "list_with_slice":
        return [0, slice(None)]
    if kind == "ragged_list":
        return [[0], [0, 0]]
    if kind == "float_list":
        return [0.5, 1.0]
    return np.array([0, None], dtype=object)


def bad_keys(shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    """Keys NumPy is expected to reject for an array of ``shape``.

    Floats, strings, one index too many, float arrays, two Ellipsis, a mask
    of the wrong shape, index arrays that do not broadcast, float slice
    bounds, a zero step, a list holding a slice, ragged and float lists, and
    object arrays. The verdict still comes from NumPy, not from this list:
    pass the keys to :func:`assert_same_as_numpy`.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from lazyarr.testing import assert_same_as_numpy, assert_same_write
    >>> a = np.arange(3)
    >>> @settings(max_examples=25, database=None, deadline=None)
    ... @given(key=bad_keys(a.shape))
    ... def test_bad_read(key):
    ...     assert_same_as_numpy(a.copy().__getitem__, a, key)
    >>> test_bad_read()
    """
    return _bad_keys(tuple(shape))


@st.composite
def arrays_and_keys(
    draw: Any,
    array_strategy: st.SearchStrategy[np.ndarray] | None = None,
    key_strategy: Callable[[tuple[int, ...]], st.SearchStrategy[Any]] = keys,
) -> tuple[np.ndarray, Any]:
    """Pairs ``(a, key)`` with the key drawn for ``a.shape``.

    A single argument (rather than ``st.data()``) so that counterexamples can
    be pinned with ``@example(ak=(a, key))``.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from lazyarr.testing import assert_same_as_numpy, assert_same_write
    >>> @settings(max_examples=25, database=None, deadline=None)
    ... @given(ak=arrays_and_keys(arrays(np.dtype("f4"), (3, 4))))
    ... def test_read(ak):
    ...     a, key = ak
    ...     assert_same_as_numpy(a.copy().__getitem__, a, key)
    >>> test_read()
    """
    a = draw(arrays() if array_strategy is None else array_strategy)
    return a, draw(key_strategy(a.shape))


# --------------------------------------------------------------------------
# Values to write
# --------------------------------------------------------------------------


def _safe_sources(dtype: np.dtype) -> list[np.dtype]:
    """Dtypes NumPy casts safely into ``dtype`` (for values of another dtype)."""
    if dtype.kind == "S":
        return [np.dtype("S2"), np.dtype("S4")]
    return [np.dtype(c) for c in _SCALAR_CODES if np.can_cast(np.dtype(c), dtype, "safe")]


@st.composite
def _write_values(draw: Any, shape: tuple[int, ...], key: Any, dtype: np.dtype, invalid: bool) -> Any:
    verdict = numpy_verdict(shape, key)
    target = verdict if isinstance(verdict, tuple) else draw(shapes(max_dims=2, max_side=3))
    kind = draw(st.sampled_from(["scalar", "full", "full", "broadcast", "other_dtype", "list"]))
    if invalid and _rare(draw, 5):
        kind = "wrong"
    if kind == "scalar":
        value = draw(hnp.from_dtype(dtype))
        # NumPy scalar or its Python equivalent: both are common in user code.
        return value.item() if draw(st.booleans()) and hasattr(value, "item") else value
    if kind == "wrong":
        wrong = draw(st.sampled_from(["shape", "complex", "nan", "overflow"]))
        if wrong == "shape" or dtype.kind in "bcS":
            return np.zeros(tuple(n + 2 for n in target) or (2,), dtype=dtype)
        if wrong == "complex":
            return np.ones(target, dtype=np.complex128) * (1 + 1j)
        if wrong == "nan":
            return np.nan if draw(st.booleans()) else np.full(target, np.nan)
        return 2**70
    if kind == "broadcast":
        vshape = draw(_shapes_broadcasting_to(target))
    else:
        vshape = target
    if kind == "other_dtype":
        src = draw(st.sampled_from(_safe_sources(dtype)))
        return draw(arrays(src, vshape))
    value = draw(arrays(dtype, vshape))
    if kind == "list" and dtype.kind != "S" and value.size:
        # (An empty nested list loses its inner axes: [] has shape (0,).)
        return value.tolist()
    return value


def write_values(
    shape: tuple[int, ...], key: Any, dtype: np.dtype, *, invalid: bool = True
) -> st.SearchStrategy[Any]:
    """Values to assign to ``a[key]`` for an array of ``shape`` and ``dtype``.

    Scalars (NumPy and Python), arrays of exactly the selected shape (with
    mostly distinct elements, so the last write to a repeated index shows),
    arrays broadcastable to it, arrays of another dtype NumPy casts safely,
    nested lists, and -- when ``invalid`` -- sometimes a value NumPy refuses or
    warns about (wrong shape, complex into real, NaN or a huge int into an
    integer array). When NumPy rejects ``key`` itself, the value has an
    arbitrary small shape.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from lazyarr.testing import assert_same_as_numpy, assert_same_write
    >>> key = (slice(None), [0, 0])
    >>> @settings(max_examples=25, database=None, deadline=None)
    ... @given(value=write_values((3, 4), key, np.dtype("f8")))
    ... def test_write(value):
    ...     a = np.zeros((3, 4))
    ...     assert_same_write(a.copy(), a, key, value)
    >>> test_write()
    """
    return _write_values(tuple(shape), key, np.dtype(dtype), invalid)


@st.composite
def arrays_keys_and_values(
    draw: Any,
    array_strategy: st.SearchStrategy[np.ndarray] | None = None,
    key_strategy: Callable[[tuple[int, ...]], st.SearchStrategy[Any]] = keys,
) -> tuple[np.ndarray, Any, Any]:
    """Triples ``(a, key, value)`` for write tests (see :func:`arrays_and_keys`).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from lazyarr.testing import assert_same_as_numpy, assert_same_write
    >>> @settings(max_examples=25, database=None, deadline=None)
    ... @given(akv=arrays_keys_and_values())
    ... def test_write(akv):
    ...     a, key, value = akv
    ...     assert_same_write(a.copy(), a, key, value)
    >>> test_write()
    """
    a = draw(arrays() if array_strategy is None else array_strategy)
    key = draw(key_strategy(a.shape))
    return a, key, draw(write_values(a.shape, key, a.dtype))
