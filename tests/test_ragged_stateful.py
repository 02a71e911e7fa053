"""Stateful test of RaggedArray: appends, extends, flushes, reopens and reads.

The model is a Python list of NumPy arrays. After every step the ragged array
must hold exactly the model's items, whatever mix of buffered and written
items, failed batches and reopened stores came before.
"""

from __future__ import annotations

import itertools
import os
import tempfile

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

import lazyarr as la
from lazyarr import ragged as ragged_mod

from test_ragged import assert_same, check_key, item_keys, outer_keys

_names = itertools.count()


class RaggedMachine(RuleBasedStateMachine):
    backend = "offsets"
    cache: object = None

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="lazyarr-ragged-sm-")
        self.path = os.path.join(self.dir, "sm.h5")
        self.store: la.Store | None = None

    @initialize(nd=st.integers(1, 3), dtype=st.sampled_from(["float32", "int16", ">f8"]),
                compression=st.sampled_from(["blosc2:zstd", "zlib", None]))
    def create(self, nd: int, dtype: str, compression: str | None) -> None:
        self.nd, self.dtype = nd, np.dtype(dtype)
        self.model: list[np.ndarray] = []
        self.store = la.open(self.path, "w", cache=self.cache)
        self.r = self.store.create_ragged("r", dtype=dtype, item_ndim=nd, backend=self.backend,
                                          compression=compression)

    def items(self, min_size: int = 0, max_size: int = 4) -> st.SearchStrategy:
        shape = st.lists(st.integers(0, 3), min_size=self.nd, max_size=self.nd).map(tuple)
        item = shape.flatmap(lambda s: hnp.arrays(self.dtype, s, elements=st.integers(-50, 50)))
        return st.lists(item, min_size=min_size, max_size=max_size)

    @rule(data=st.data())
    def append(self, data: st.DataObject) -> None:
        (item,) = data.draw(self.items(1, 1))
        self.r.append(item)
        self.model.append(item.copy())

    @rule(data=st.data())
    def extend(self, data: st.DataObject) -> None:
        items = data.draw(self.items())
        self.r.extend(items)
        self.model.extend(a.copy() for a in items)

    @rule(data=st.data(), bad=st.sampled_from(["ndim", "dtype"]))
    def extend_with_a_bad_item(self, data: st.DataObject, bad: str) -> None:
        items = data.draw(self.items(0, 3))
        wrong = np.zeros((1,) * (self.nd + 1)) if bad == "ndim" else np.zeros((1,) * self.nd, "U1")
        items.insert(data.draw(st.integers(0, len(items))), wrong)
        with pytest.raises(ValueError if bad == "ndim" else TypeError):
            self.r.extend(items)

    @rule()
    def flush(self) -> None:
        self.r.flush()

    @rule()
    def store_flush(self) -> None:
        self.store.flush()

    @rule(small=st.booleans())
    def buffer_limit(self, small: bool) -> None:
        # Flip between writing at every few items and the default chunk size.
        ragged_mod.FLUSH_ITEMS = 3 if small else 2**14

    @rule(mode=st.sampled_from(["a", "r+"]), via_get=st.booleans())
    def reopen(self, mode: str, via_get: bool) -> None:
        self.store.close()
        self.store = la.open(self.path, mode, cache=self.cache)
        self.r = self.store.get("r") if via_get else self.store["r"]

    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        check_key(self.r, self.model, data.draw(outer_keys(len(self.model))))
        if self.model:
            check_key(self.r, self.model, data.draw(item_keys(self.model)))

    @invariant()
    def same_length(self) -> None:
        if self.store is not None:
            assert len(self.r) == len(self.model)

    def teardown(self) -> None:
        ragged_mod.FLUSH_ITEMS = 2**14
        if self.store is not None:
            self.store.close()
            with la.open(self.path) as store:
                assert_same(list(store["r"]), self.model, "after close")
                np.testing.assert_array_equal(
                    store["r"].shapes.reshape(-1, self.nd), [a.shape for a in self.model]
                    if self.model else np.zeros((0, self.nd)))
        for name in os.listdir(self.dir):
            os.remove(os.path.join(self.dir, name))
        os.rmdir(self.dir)


# Every cache policy: a window small enough to hold a few items only.
CACHES = [("nocache", None), ("swapwindow", la.SwapWindow(64)), ("inmemory", la.InMemory())]


@pytest.mark.parametrize("cache", [c[1] for c in CACHES], ids=[c[0] for c in CACHES])
@pytest.mark.parametrize("backend", ["offsets", "vl"])
def test_ragged_state_machine(backend, cache):
    machine = type(f"RaggedMachine_{backend}", (RaggedMachine,),
                   {"backend": backend, "cache": cache})
    run_state_machine_as_test(
        machine, settings=settings(max_examples=25, stateful_step_count=20, deadline=None)
    )
