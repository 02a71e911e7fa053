"""Every built-in backend passes ``lazyarr.testing.check_backend``; broken ones fail it.

These tests are the harness's own CI: the memory, plain and compressed
backends and the h5py and zarr dataset backends run the whole conformance
suite (under each cache policy for h5py and zarr), and deliberately broken
backends must fail it with a readable, minimal, copy-pasteable
counterexample. The example backend of ``examples/`` runs in
``tests/test_examples.py``.

File-backed factories create a node (or dataset) per example in one file per
test, so their example budget is a fraction of the hypothesis profile's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings

import lazyarr as la
from lazyarr.backends import MemoryBackend
from lazyarr.testing import (
    CHECKS,
    ConformanceError,
    arrays_keys_and_values,
    assert_same_outcome,
    check_backend,
    shapes,
)
from lazyarr.testing.conformance import _src
from lazyarr.testing.oracle import _same_object_value

h5py = pytest.importorskip("h5py")
zarr = pytest.importorskip("zarr")

#: Examples per check for file-backed factories (the profile's 400 on CI
#: would create 2,400 nodes per backend).
FILE_EXAMPLES = max(10, settings.default.max_examples // 10)


#: The memory backend is cheap but not free: six checks of the full profile
#: would add a minute to CI.
MEMORY_EXAMPLES = max(25, settings.default.max_examples // 4)


def small_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Chunks of 2 rows and at most 3 along other axes, so keys cross chunk boundaries."""
    return tuple(max(1, min(n, 2 if ax == 0 else 3)) for ax, n in enumerate(shape))


class StoreFactory:
    """``factory(a)``: a plain or compressed backend holding ``a``, a new node each call."""

    def __init__(self, store: Any, kind: str) -> None:
        self.store = store
        self.kind = kind
        self._names = itertools.count()

    def __call__(self, a: np.ndarray) -> Any:
        name = f"a{next(self._names)}"
        if self.kind == "plain":
            return self.store.create_array(name, a, backend="plain").backend
        chunks = None if 0 in a.shape[1:] else small_chunks(a.shape)
        return self.store.create_array(name, a, backend="compressed", chunks=chunks).backend

    def __repr__(self) -> str:
        return f"StoreFactory({self.kind!r})"


class H5pyFactory:
    """``factory(a)``: an h5py dataset holding ``a``; chunked and resizable, or contiguous."""

    def __init__(self, f: Any, chunked: bool = True) -> None:
        self.f = f
        self.chunked = chunked
        self._names = itertools.count()

    def __call__(self, a: np.ndarray) -> Any:
        name = f"d{next(self._names)}"
        if self.chunked and a.ndim:
            d = self.f.create_dataset(name, data=a, chunks=small_chunks(a.shape),
                                      maxshape=(None,) * a.ndim)
        else:
            d = self.f.create_dataset(name, data=a)
        return la.backends.H5pyBackend(d)


def zarr_factory(a: np.ndarray) -> Any:
    # write_empty_chunks: zarr 3.1 skips a complex chunk that compares equal
    # to the fill value, so a chunk of -0j would read back as +0j (found by
    # this suite; zarr's own z[...] = a; z[...] does the same).
    z = zarr.create_array(store={}, shape=a.shape, dtype=a.dtype, chunks=small_chunks(a.shape),
                          config={"write_empty_chunks": True})
    z[...] = a
    return la.backends.ZarrBackend(z)


def _zarr_dtypes() -> list[np.dtype]:
    """lazyarr's dtypes but bytes: zarr's v3 format does not specify them (zarr warns)."""
    codes = ["?", "i1", "u1"] + [o + c for c in ("i2", "i4", "i8", "u2", "u4", "u8", "f2", "f4",
                                                  "f8", "c8", "c16") for o in "<>"]
    return [np.dtype(c) for c in codes]


def swap_window(a: np.ndarray) -> la.SwapWindow:
    """A window of two rows: most reads evict."""
    row = int(np.prod(a.shape[1:], dtype=np.int64)) * a.dtype.itemsize
    return la.SwapWindow(max(64, 2 * row))


@pytest.fixture
def store(tmp_path: Any) -> Iterator[Any]:
    with la.open(tmp_path / "conformance.h5", mode="w") as s:
        yield s


@pytest.fixture
def h5file(tmp_path: Any) -> Iterator[Any]:
    with h5py.File(tmp_path / "conformance_h5py.h5", "w") as f:
        yield f


# ------------------------------------------------------------ built-in backends


def test_memory_backend_conforms() -> None:
    report = check_backend(MemoryBackend, max_examples=MEMORY_EXAMPLES)
    assert report == {name: "passed" for name in CHECKS}


def test_memory_backend_conforms_under_swap_window() -> None:
    report = check_backend(MemoryBackend, cache=swap_window, checks=["read", "write", "append"],
                           max_examples=FILE_EXAMPLES)
    assert set(report.values()) == {"passed"}


def test_plain_backend_conforms(store: Any) -> None:
    report = check_backend(StoreFactory(store, "plain"), max_examples=FILE_EXAMPLES)
    assert report["append"] == "skipped: backend.extendable is False"
    assert report["read"] == report["write"] == report["pickle"] == "passed"


def test_compressed_backend_conforms(store: Any) -> None:
    report = check_backend(StoreFactory(store, "compressed"), shapes=shapes(min_dims=1),
                           max_examples=FILE_EXAMPLES)
    assert set(report.values()) == {"passed"}


@pytest.mark.parametrize("cache", [None, swap_window], ids=["nocache", "swapwindow"])
def test_h5py_backend_conforms(h5file: Any, cache: Any) -> None:
    report = check_backend(H5pyFactory(h5file), cache=cache, max_examples=FILE_EXAMPLES)
    # h5py datasets do not pickle: that check has nothing to do.
    assert report.pop("pickle").startswith("skipped: the arrays do not pickle (TypeError")
    assert report == {name: "passed" for name in CHECKS if name != "pickle"}


def test_h5py_contiguous_dataset_conforms(h5file: Any) -> None:
    report = check_backend(H5pyFactory(h5file, chunked=False), checks=["read", "write", "append"],
                           max_examples=FILE_EXAMPLES)
    assert report == {"read": "passed", "write": "passed",
                      "append": "skipped: backend.extendable is False"}


def test_zarr_backend_conforms() -> None:
    report = check_backend(zarr_factory, dtypes=_zarr_dtypes(), max_examples=FILE_EXAMPLES)
    assert set(report.values()) == {"passed"}


def test_zarr_v2_format_conforms() -> None:
    """zarr's v2 format, with fixed-width bytes (v3 does not specify them)."""

    def zarr_v2_factory(a: np.ndarray) -> Any:
        z = zarr.create_array(store={}, shape=a.shape, dtype=a.dtype, zarr_format=2,
                              chunks=small_chunks(a.shape), config={"write_empty_chunks": True})
        z[...] = a
        return la.backends.ZarrBackend(z)

    report = check_backend(zarr_v2_factory, checks=["read", "write"],
                           dtypes=[np.dtype("S4"), np.dtype(">i2"), np.dtype("f8")],
                           max_examples=FILE_EXAMPLES)
    assert report == {"read": "passed", "write": "passed"}


def test_zarr_backend_conforms_under_swap_window() -> None:
    # The checks whose reads go through the cache (zarr is slow per call).
    report = check_backend(zarr_factory, dtypes=_zarr_dtypes(), cache=swap_window,
                           checks=["read", "write", "append"], max_examples=FILE_EXAMPLES)
    assert set(report.values()) == {"passed"}


# ---------------------------------------------------------------- broken ones


class IgnoresSteps(MemoryBackend):
    """Reads every slice with step 1 (then keeps the right count): x[::-2] comes out wrong."""

    def read(self, sel: Any) -> np.ndarray:
        sel = tuple(slice(s.start, s.stop, 1) if isinstance(s, slice) else s for s in sel)
        out = super().read(sel)
        return out[tuple(slice(0, n) for n in out.shape)].copy()


class ReversesIndexOrder(MemoryBackend):
    """Assumes index arrays arrive descending, so reverses what it reads for them."""

    def read(self, sel: Any) -> np.ndarray:
        out = super().read(sel)
        for ax, s in enumerate(sel):
            if not isinstance(s, slice):
                out = np.flip(out, axis=ax)
        return out.copy()


class StaleRows(MemoryBackend):
    """Caches what it read and never forgets it, so a write is not seen."""

    def __init__(self, array: Any) -> None:
        super().__init__(array)
        self._seen: dict[bytes, np.ndarray] = {}

    def read(self, sel: Any) -> np.ndarray:
        key = repr(sel).encode()
        if key not in self._seen:
            self._seen[key] = super().read(sel)
        return self._seen[key].copy()


class LosesByteOrder(MemoryBackend):
    """Returns native-order data for a big-endian array."""

    def read(self, sel: Any) -> np.ndarray:
        out = super().read(sel)
        return out.astype(out.dtype.newbyteorder("="))


class WrongShapeAfterAppend(MemoryBackend):
    """Appends one row too few."""

    def append(self, rows: np.ndarray) -> None:
        super().append(rows[:-1] if len(rows) else rows)


#: Small dtypes and shapes keep hypothesis' shrinking quick.
SMALL = dict(dtypes=[np.dtype("i2"), np.dtype("f4")], shapes=shapes(max_dims=2))
BROKEN = [
    (IgnoresSteps, "read", {}),  # the planner reads small steps as a slab: tall arrays
    (ReversesIndexOrder, "read", {}),  # needs tall arrays: the default shapes
    (StaleRows, "write", SMALL),
    (LosesByteOrder, "read", dict(dtypes=[np.dtype(">i4")], shapes=shapes(max_dims=2))),
    (WrongShapeAfterAppend, "append", SMALL),
]


@pytest.mark.parametrize("broken, check, kw", BROKEN, ids=[b[0].__name__ for b in BROKEN])
def test_broken_backend_fails_with_a_reproduction(broken: type, check: str, kw: dict) -> None:
    with pytest.raises(ConformanceError) as info:
        check_backend(broken, checks=[check], max_examples=200, **kw)
    err = info.value
    assert err.check == check
    message = str(err)
    assert message.startswith(f"check_backend({broken.__name__}): the {check!r} check failed.")
    assert "expected" in message or "NumPy" in message
    # The reproduction is code: it runs up to its last line, which fails
    # the same way (the factory's name resolves in this namespace).
    lines = err.reproduction.splitlines()
    namespace: dict[str, Any] = {broken.__name__: broken}
    exec(compile("\n".join(lines[:-1]), "<reproduction>", "exec"), namespace)
    with pytest.raises(AssertionError):
        exec(compile(lines[-1], "<reproduction>", "exec"), namespace)
    # Shrunk: a small array, a few steps.
    assert len(lines) <= 20, err.reproduction


def test_stale_row_counterexample_is_minimal() -> None:
    with pytest.raises(ConformanceError) as info:
        check_backend(StaleRows, checks=["write"], max_examples=200,
                      dtypes=[np.dtype("i1")], shapes=shapes(min_dims=1, max_dims=1))
    # A write, then the read that misses it: one assert_same_write line.
    lines = info.value.reproduction.splitlines()
    assert sum(line.startswith("assert_same_write(") for line in lines) == 1


def test_check_backend_flags_mismatched_factory() -> None:
    def one_more_axis(a: np.ndarray) -> Any:
        return MemoryBackend(a[None])

    with pytest.raises(ConformanceError, match="returned a backend of shape"):
        check_backend(one_more_axis, checks=["read"], max_examples=20)


def test_check_backend_readonly_needs_writable_false() -> None:
    def readonly(a: np.ndarray) -> Any:
        return MemoryBackend(a, readonly=True)

    with pytest.raises(ConformanceError, match="pass writable=False"):
        check_backend(readonly, checks=["read"], max_examples=5)
    report = check_backend(readonly, writable=False, max_examples=5)
    assert report["write"] == report["append"] == "skipped: writable=False"


def test_check_backend_rejects_unknown_check() -> None:
    with pytest.raises(ValueError, match="unknown checks"):
        check_backend(MemoryBackend, checks=["reed"])


def test_every_failing_check_is_reported() -> None:
    """A backend broken in two ways fails two checks, each with its reproduction."""

    class StaleAndShort(StaleRows):
        def append(self, rows: np.ndarray) -> None:
            super().append(rows[:-1] if len(rows) else rows)

    with pytest.raises(ConformanceError) as info:
        check_backend(StaleAndShort, checks=["read", "write", "append"], max_examples=100, **SMALL)
    err = info.value
    assert [f.check for f in err.failures] == ["write", "append"]
    assert "2 checks failed ('write', 'append')" in str(err)
    assert str(err).count("Minimal reproduction") == 2


@given(akv=arrays_keys_and_values())
@example(akv=(np.array([complex(1, np.nan), complex(-0.0, np.inf)], dtype=">c8"), (),
              np.complex64(complex(1, np.nan))))
@example(akv=(np.array(-np.nan, dtype="<f2"), 0, np.float16(-np.nan)))  # NaN's sign bit
@example(akv=(np.array([1.5, -np.nan]), [0], [-np.nan, complex(-np.nan, 1)]))
def test_reproduction_source_rebuilds_arrays_keys_and_values(akv: tuple) -> None:
    """What a reproduction prints for an array, key or value evaluates back to it."""
    namespace = {"np": np, "nan": np.nan, "inf": np.inf}
    for obj in akv:
        again = eval(_src(obj), namespace)
        if isinstance(obj, (np.ndarray, np.generic)):
            assert_same_outcome(lambda: again, lambda: obj, _src(obj))
        else:
            assert _same_object_value(obj, again), (_src(obj), obj, again)
