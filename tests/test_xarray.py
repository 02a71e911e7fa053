"""xarray over lazyarr: DataArray(x) and open_dataset(engine="lazyarr") read nothing until indexed.

Bytes are counted with ``cache_stats``; values go through the oracle
against the same xarray calls on the data in memory.
"""

from __future__ import annotations

import numpy as np
import pytest

import lazyarr as la
import lazyarr.reduce as lr
from lazyarr.testing import assert_same_outcome

xr = pytest.importorskip("xarray")
from lazyarr.xarray_backend import LazyarrBackendEntrypoint  # noqa: E402

A = np.random.default_rng(3).standard_normal((400, 6)).astype("f4")
A[5, 2] = np.nan


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "x.h5"
    with la.open(p, "w") as s:
        s.create_array("data", A, chunks=(40, 6))
        s.create_array("labels", np.arange(400) % 7, backend="plain")
        s.create_array("grid", np.arange(24.0).reshape(4, 6), backend="plain")
    return p


@pytest.fixture
def lazyarr_engine(monkeypatch):
    """engine="lazyarr" as the entry point registers it once lazyarr is installed."""
    import xarray.backends.plugins as plugins

    engines = dict(plugins.list_engines())
    engines.setdefault("lazyarr", LazyarrBackendEntrypoint())
    monkeypatch.setattr(plugins, "list_engines", lambda: engines)


def test_entry_point_is_declared():
    import tomllib
    from pathlib import Path

    meta = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["xarray.backends"]["lazyarr"] == \
        "lazyarr.xarray_backend:LazyarrBackendEntrypoint"
    assert any(r.startswith("xarray") for r in meta["project"]["optional-dependencies"]["test"])


def test_dataarray_keeps_a_lazyarray_lazy(path, monkeypatch):
    with la.open(path) as s:
        x = s["data"]
        da = xr.DataArray(x, dims=("row", "col"))
        repr(da), da.shape, da.dtype, da.sizes
        assert type(da.variable._data) is la.LazyArray
        assert x.cache_stats["bytes_read"] == 0
        sel = da.isel(row=slice(10, 20), col=[4, 1])
        assert x.cache_stats["bytes_read"] <= 10 * 6 * 4  # only the selected rows
        assert_same_outcome(lambda: sel.values, lambda: A[10:20][:, [4, 1]], "isel")
        before = x.cache_stats["bytes_read"]
        # Reductions run block by block (budget: 8 rows), never the whole array at once.
        monkeypatch.setattr(lr, "DEFAULT_BLOCK_BYTES", 8 * 6 * 4 * 2)
        seen = []
        real = x._cache.read
        monkeypatch.setattr(x._cache, "read", lambda sel: seen.append(sel) or real(sel))
        ref = xr.DataArray(A, dims=("row", "col"))
        for what, fn in [("mean", lambda d: d.mean("row").values), ("std", lambda d: d.std("row").values),
                         ("max", lambda d: d.max("row", skipna=False).values),
                         ("median", lambda d: d.median("row").values),
                         ("sum", lambda d: d.sum(skipna=False).values)]:
            got, want = fn(da), fn(ref)
            assert got.dtype == want.dtype and got.shape == want.shape, what
            np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=what)
        assert x.cache_stats["bytes_read"] > before
        assert seen and max(sl[0].stop - sl[0].start for sl in seen) <= 8 * 2


def test_open_dataset_reads_nothing_until_indexed(path, lazyarr_engine):
    ds = xr.open_dataset(path, engine="lazyarr")
    try:
        data = ds["data"].variable._data
        while not isinstance(data, la.LazyArray):  # xarray's wrappers, then our backend array
            data = data.array
        assert ds["data"].dims == ("phony_dim_0", "phony_dim_1")
        assert ds["labels"].dims == ("phony_dim_0",) and ds["grid"].dims == ("phony_dim_2", "phony_dim_1")
        repr(ds)
        assert data.cache_stats["bytes_read"] == 0
        v = ds["data"].isel(phony_dim_0=[7, 3, 7], phony_dim_1=slice(1, 3))
        assert data.cache_stats["bytes_read"] == 0  # still lazy
        assert_same_outcome(lambda: v.values, lambda: A[[7, 3, 7], 1:3], "isel")
        assert data.cache_stats["bytes_read"] <= 2 * 6 * 4
        assert_same_outcome(lambda: ds["data"][5].values, lambda: A[5], "[5]")
        assert_same_outcome(lambda: ds["data"][:, 2].values, lambda: A[:, 2], "[:, 2]")
        assert_same_outcome(lambda: ds["data"].isel(phony_dim_0=[1, 2], phony_dim_1=[0, 5]).values,
                            lambda: A[[1, 2]][:, [0, 5]], "two vectors")
        np.testing.assert_allclose(ds["data"].mean("phony_dim_0").values, np.nanmean(A, 0), rtol=1e-5)
    finally:
        ds.close()


def test_dimension_names_from_attributes(path, lazyarr_engine):
    import tables

    import lazyarr.xarray_backend as xb

    with tables.open_file(path, "a") as f:
        f.get_node("/data")._v_attrs.dims = np.array(["row", "col"])
        f.get_node("/data")._v_attrs.units = "m"
    with xr.open_dataset(path, engine="lazyarr", drop_variables=["labels"]) as ds:
        assert set(ds) == {"data", "grid"}
        assert ds["data"].dims == ("row", "col") and ds["grid"].dims == ("phony_dim_0", "phony_dim_1")
        assert ds["data"].attrs == {"units": "m"}
    assert xb._dims_from({"_ARRAY_DIMENSIONS": '["a", "b"]'}, 2) == ("a", "b")
    assert xb._dims_from({"dims": "a, b"}, 2) == ("a", "b")
    assert xb._dims_from({"dims": ["a"]}, 2) is None
