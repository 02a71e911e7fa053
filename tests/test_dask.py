"""Dask: to_dask / from_array / to_dask_bag on a real distributed cluster with
worker processes, so that every task's array travels by pickle."""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest

import lazyarr as la
from lazyarr.dask_support import dask_chunks

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    # One cluster for the module: starting worker processes is the slow part.
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("dask") / "dask.h5"
    rng = np.random.default_rng(5)
    arrays = {"comp": rng.random((3000, 6)), "plain": rng.integers(0, 9, (500, 4)).astype("i2")}
    items = [rng.random(int(n)) for n in rng.integers(0, 40, 300)]
    with la.open(path, "w") as s:
        s.create_array("comp", arrays["comp"], chunks=(128, 6))
        s.create_array("plain", arrays["plain"], backend="plain")
        s.create_ragged("ragged", dtype="f8", item_ndim=1).extend(items)
    return path, arrays, items


def test_chunks_follow_storage_chunks(h5):
    path, arrays, _ = h5
    with la.open(path) as s, dask.config.set({"array.chunk-size": "20KiB"}):
        x = s["comp"]
        d = x.to_dask()
        # 20 KiB holds 3 whole chunks of 128 rows x 6 float64 (6 KiB each).
        assert d.chunks[1] == (6,)
        assert set(d.chunks[0][:-1]) == {384} and sum(d.chunks[0]) == 3000
        assert d.dtype == x.dtype and d.shape == x.shape
        assert d.name == x.to_dask().name  # deterministic
        assert d.name != s["plain"].to_dask().name
        assert x.to_dask(chunks=(1000, 3)).chunks == ((1000,) * 3, (3, 3))
    # Every block boundary is a storage chunk boundary.
    assert dask_chunks((3000, 6), 8, (128, 6), 20 * 2**10) == (384, 6)


def test_graph_pickles_by_reference(h5):
    path, _, _ = h5
    with la.open(path) as s:
        d = s["comp"].to_dask()
        blob = pickle.dumps(dict(d.dask))
    assert len(blob) < 5000, len(blob)  # the data (144 KB) is not in it


def test_mean_slice_and_map_blocks_on_cluster(h5, client):
    path, arrays, _ = h5
    a = arrays["comp"]
    with la.open(path) as s, dask.config.set({"array.chunk-size": "64KiB"}):
        x = s["comp"]
        d = x.to_dask()
        assert d.npartitions > 2
        np.testing.assert_allclose(d.mean(axis=0).compute(), a.mean(axis=0), rtol=1e-12)
        np.testing.assert_array_equal(d[1000:2500:7, ::-2].compute(), a[1000:2500:7, ::-2])
        got = d.map_blocks(lambda b: np.cumsum(b, axis=1) * 2, dtype=d.dtype).compute()
        np.testing.assert_allclose(got, np.cumsum(a, axis=1) * 2, rtol=1e-12)
        p = s["plain"]
        np.testing.assert_array_equal(p.to_dask().sum(axis=0).compute(),
                                      arrays["plain"].sum(axis=0))
        # The blocks were read in the worker processes, not here.
        pids = d.map_blocks(_pid_block, chunks=(1, 1), dtype=np.int64).compute()
        assert os.getpid() not in set(pids.ravel().tolist())


def _pid_block(block: np.ndarray) -> np.ndarray:
    assert block.shape[1] == 6
    return np.array([[os.getpid()]])


def test_from_array_works_directly(h5, client):
    path, arrays, _ = h5
    with la.open(path) as s:
        x = s["comp"]
        d = da.from_array(x, chunks=(700, 6))
        np.testing.assert_allclose(d.std(axis=0).compute(), arrays["comp"].std(axis=0),
                                   rtol=1e-12)
        np.testing.assert_array_equal(da.from_array(s["plain"]).compute(), arrays["plain"])


def test_ragged_bag_itemwise_reduction_on_cluster(h5, client):
    path, _, items = h5
    with la.open(path) as s:
        r = s["ragged"]
        bag = r.to_dask_bag(partition_size=64)
        assert bag.npartitions == 5
        sums = bag.map(lambda v: float(v.sum())).compute()
        np.testing.assert_allclose(sums, [float(v.sum()) for v in items])
        total = bag.map(len).sum().compute()
        assert total == sum(len(v) for v in items)
        longest = r.to_dask_bag().map(len).max().compute()  # default partitions
        assert longest == max(len(v) for v in items)
        with pytest.raises(ValueError, match="partition_size"):
            r.to_dask_bag(partition_size=0)


def test_memory_backend_to_dask():
    a = np.arange(40.0).reshape(10, 4)
    x = la.LazyArray(la.backends.MemoryBackend(a))
    d = x.to_dask(chunks=(3, 4))
    np.testing.assert_array_equal(d.compute(scheduler="sync"), a)
    assert d.name == x.to_dask(chunks=(3, 4)).name


def test_missing_dask_names_the_extra(monkeypatch):
    x = la.LazyArray(la.backends.MemoryBackend(np.zeros(3)))
    for name in ("dask", "dask.array", "dask.bag", "dask.base"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install lazyarr\[dask\]"):
        x.to_dask()
