"""Stateful tests: random reads, writes and appends agree with a NumPy model.

The model is a plain NumPy array. After every step the LazyArray must hold
exactly the model's data (shape, dtype, values), whatever sequence of reads,
writes, appends and failed appends came before. This is where a cache that
serves a stale block after a write or an append, or an append that writes
half its rows before failing, shows up. Each backend runs under every cache
policy lazyarr provides.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import lazyarr as la

SwapWindow = getattr(la, "SwapWindow", None)
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


def _cache_policies() -> list[tuple[str, Callable[[], Any]]]:
    """Every cache policy this lazyarr has, with settings small enough to evict."""
    policies: list[tuple[str, Callable[[], Any]]] = [("nocache", la.NoCache)]
    if SwapWindow is not None:
        # A window of a few hundred bytes: most reads evict something.
        policies.append(("swapwindow", lambda: la.SwapWindow(256)))
    if hasattr(la, "InMemory"):
        policies.append(("inmemory", la.InMemory))
    return policies


CACHES = _cache_policies()


def _store_cache(policy: Any) -> Any:
    """The store's own policy: a SwapWindow is applied per array (see Factory)."""
    return None if SwapWindow is not None and isinstance(policy, SwapWindow) else policy
BACKENDS = ["memory", "plain", "compressed"]


class Factory:
    """``make(a) -> LazyArray`` on one backend under one cache policy."""

    def __init__(self, kind: str, cache: Any, store: Any = None) -> None:
        self.kind = kind
        self.cache = cache
        self.store = store
        self.min_ndim = 1 if kind == "compressed" else 0
        self._names = itertools.count()

    def __call__(self, a: np.ndarray) -> la.LazyArray:
        x = self._make(a)
        if isinstance(self.cache, SwapWindow):
            # A window must hold one row (a smaller one is a ValueError):
            # keep it a couple of rows wide, so most reads still evict.
            row = int(np.prod(a.shape[1:], dtype=np.int64)) * a.dtype.itemsize
            x = la.LazyArray(x.backend, cache=SwapWindow(max(self.cache.nbytes, 2 * row)))
        return x

    def _make(self, a: np.ndarray) -> la.LazyArray:
        if self.kind == "memory":
            return la.LazyArray(MemoryBackend(a.copy()), cache=_store_cache(self.cache))
        name = f"a{next(self._names)}"
        if self.kind == "plain":
            return self.store.create_array(name, a.copy(), backend="plain")
        chunks = None if 0 in a.shape[1:] else (2,) + tuple(min(n, 3) for n in a.shape[1:])
        return self.store.create_array(name, a.copy(), backend="compressed", chunks=chunks)


@pytest.fixture(
    scope="module",
    params=[(b, c) for b in BACKENDS for c in CACHES],
    ids=[f"{b}-{c[0]}" for b in BACKENDS for c in CACHES],
)
def make(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Factory]:
    kind, (cache_id, policy) = request.param
    if kind == "memory":
        yield Factory(kind, policy())
        return
    path = tmp_path_factory.mktemp(f"{kind}-{cache_id}") / "state.h5"
    store = la.open(path, mode="w", cache=_store_cache(policy()))
    try:
        yield Factory(kind, policy(), store)
    finally:
        store.close()


def _safe_row_dtypes(dtype: np.dtype) -> list[np.dtype]:
    """Dtypes of rows that an append must accept (NumPy casts them safely)."""
    if dtype.kind == "S":
        return [dtype]
    codes = ["?", "i1", "u1", "i2", "f2", "f4", "f8", "c8", "c16", "i8"]
    return [dtype] + [np.dtype(c) for c in codes if np.can_cast(np.dtype(c), dtype, "safe")]


class LazyArrayMachine(RuleBasedStateMachine):
    """A LazyArray and a NumPy model that must stay equal."""

    def __init__(self, make: Factory) -> None:
        super().__init__()
        self.make = make
        self.x: la.LazyArray | None = None
        self.model: np.ndarray | None = None

    @initialize(data=st.data())
    def create(self, data: st.DataObject) -> None:
        shape_st = shapes(min_dims=max(1, self.make.min_ndim) if data.draw(st.booleans())
                          else self.make.min_ndim, max_dims=3, max_side=5)
        a = data.draw(arrays(shape=shape_st), label="initial")
        self.model = a.copy()
        self.x = self.make(a)

    @property
    def extendable(self) -> bool:
        return bool(getattr(self.x.backend, "extendable", False)) and self.model.ndim >= 1

    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        key = data.draw(keys(self.model.shape), label="key")
        assert_same_as_numpy(self.x.__getitem__, self.model, key)

    @rule(data=st.data())
    def write(self, data: st.DataObject) -> None:
        key = data.draw(keys(self.model.shape), label="key")
        value = data.draw(write_values(self.model.shape, key, self.model.dtype), label="value")
        assert_same_write(self.x, self.model, key, value)

    @precondition(lambda self: self.extendable)
    @rule(data=st.data())
    def append(self, data: st.DataObject) -> None:
        n = data.draw(st.integers(0, 4), label="rows")
        dtype = data.draw(st.sampled_from(_safe_row_dtypes(self.model.dtype)), label="row dtype")
        rows = data.draw(arrays(dtype, (n,) + self.model.shape[1:]), label="appended")
        # Lists too, where their NumPy dtype passes append's documented
        # same_kind rule (a list of ints is int64: not same_kind for uint8).
        as_list = (
            dtype.kind != "S"
            and rows.size > 0
            and np.can_cast(np.asarray(rows.tolist()).dtype, self.model.dtype, "same_kind")
            and data.draw(st.booleans())
        )
        given = rows.tolist() if as_list else rows
        if n == 1 and data.draw(st.booleans(), label="as one row"):
            # One row of the trailing shape appends one row (issue 15).
            given = rows[0].tolist() if as_list else rows[0]
        self.x.append(given)
        # Not np.concatenate: it would drop a big-endian byte order.
        grown = np.empty((len(self.model) + n,) + self.model.shape[1:], self.model.dtype)
        grown[: len(self.model)] = self.model
        grown[len(self.model) :] = rows
        self.model = grown

    @precondition(lambda self: self.extendable)
    @rule(data=st.data())
    def bad_append(self, data: st.DataObject) -> None:
        trailing = list(self.model.shape[1:])
        kind = data.draw(st.sampled_from(["trailing", "ndim", "complex"]), label="bad append")
        if kind == "complex" and self.model.dtype.kind in "cS":
            kind = "trailing"
        if kind == "trailing":
            if trailing:
                ax = data.draw(st.integers(0, len(trailing) - 1))
                trailing[ax] += 1
                rows = np.zeros([2, *trailing], self.model.dtype)
            else:
                rows = np.zeros((2, 1), self.model.dtype)
        elif kind == "ndim":
            # One axis too many. (One row of the trailing shape is a good
            # append since issue 15; with one axis too few it is a bad one
            # when it is not that row: the trailing shape without its last axis.)
            if len(trailing) >= 2 and data.draw(st.booleans()):
                rows = np.zeros(trailing[1:] + [trailing[0] + 1], self.model.dtype)
            else:
                rows = np.zeros([1, *trailing, 1], self.model.dtype)
        else:
            rows = np.full((1, *trailing), 1 + 1j)
        before = self.model.shape
        with pytest.raises((ValueError, TypeError)):
            self.x.append(rows)
        assert self.x.shape == before, f"a failed append of {rows.shape} changed the shape"

    @invariant()
    def same_as_model(self) -> None:
        if self.x is None:
            return
        x, m = self.x, self.model
        assert (x.shape, x.dtype, x.ndim, x.size, x.nbytes) == (m.shape, m.dtype, m.ndim, m.size, m.nbytes)
        assert_same_outcome(lambda: np.asarray(x), lambda: m.copy(), "np.asarray(x)")


def test_stateful(make: Factory) -> None:
    # File-backed runs pay a node creation per example; run half as many.
    budget = settings.default.max_examples
    if make.kind != "memory":
        budget = max(10, budget // 2)
    run_state_machine_as_test(
        lambda: LazyArrayMachine(make),
        settings=settings(settings.default, max_examples=budget, stateful_step_count=25),
    )


# Counterexamples the machine found, pinned as plain tests (a state machine
# has no @example). Each must leave x equal to the NumPy model.
APPENDS = [
    # (id, initial array, rows)
    ("big-endian-keeps-byte-order", np.zeros(0, ">i2"), np.array([1], ">i2")),
    ("bool-rows-into-uint64", np.zeros(0, np.uint64), np.array([False, True])),
    ("uint8-rows-into-uint64", np.zeros(1, np.uint64), np.array([7], np.uint8)),
    ("float32-rows-into-float64-2d", np.zeros((1, 2)), np.ones((2, 2), np.float32)),
]


@pytest.mark.parametrize(("a", "rows"), [c[1:] for c in APPENDS], ids=[c[0] for c in APPENDS])
def test_append_cases(make: Factory, a: np.ndarray, rows: np.ndarray) -> None:
    if make.kind == "plain":
        pytest.skip("plain arrays are not extendable")
    x = make(a)
    x.append(rows)
    expected = np.empty((len(a) + len(rows),) + a.shape[1:], a.dtype)
    expected[: len(a)], expected[len(a) :] = a, rows
    assert x.dtype == a.dtype, f"append changed the dtype from {a.dtype.str} to {x.dtype.str}"
    assert_same_outcome(lambda: np.asarray(x), lambda: expected, "np.asarray(x) after append")
