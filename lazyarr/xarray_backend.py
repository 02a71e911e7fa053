"""xarray integration: ``xr.open_dataset(path, engine="lazyarr")``.

Needs ``pip install lazyarr[xarray]``. Every array of the file becomes a
variable whose data is a lazily indexed LazyArray: opening reads no element,
and indexing a variable (``ds["data"].isel(row=slice(10, 20))``) reads only
what lazyarr's planner chooses for that key. A LazyArray handed to
``xarray.DataArray(x)`` stays lazy the same way (it is a duck array:
``ndim``, ``shape``, ``dtype``, ``__array_function__``, ``__array_ufunc__``),
and reductions such as ``.mean("row")`` run out of core.

Dimension names come from a node attribute ``dims`` or
``_ARRAY_DIMENSIONS`` (a list of names, one per axis, as zarr stores them);
otherwise they are phony names, as h5netcdf gives them (``phony_dims="sort"``
style): ``phony_dim_0``, ``phony_dim_1``, ..., one per distinct axis length
in the file, in order of first appearance, so axes of equal length share a
dimension. Ragged arrays are left out (they have no fixed shape).

Examples
--------
>>> import numpy as np, lazyarr as la, xarray as xr, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "d.h5")
>>> with la.open(path, "w") as store:
...     _ = store.create_array("data", np.arange(12.0).reshape(6, 2))
>>> from lazyarr.xarray_backend import LazyarrBackendEntrypoint
>>> ds = xr.open_dataset(path, engine=LazyarrBackendEntrypoint)  # engine="lazyarr" once installed
>>> ds["data"].dims
('phony_dim_0', 'phony_dim_1')
>>> ds["data"].isel(phony_dim_0=slice(1, 3)).values
array([[2., 3.],
       [4., 5.]])
>>> ds.close()
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.core import indexing

import lazyarr

__all__ = ["LazyarrBackendEntrypoint", "LazyarrBackendArray"]


class LazyarrBackendArray(BackendArray):
    """A LazyArray as xarray's backend array (outer indexing, one vector at a time)."""

    def __init__(self, array: Any) -> None:
        self.array = array
        self.shape = array.shape
        self.dtype = array.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER_1VECTOR, self._raw_indexing_method
        )

    def _raw_indexing_method(self, key: tuple) -> np.ndarray:
        # Outer semantics with NumPy's indexing: at most one index array
        # (OUTER_1VECTOR), and ints read as length-1 slices then dropped, so
        # NumPy cannot move the array's axis to the front.
        ints = tuple(isinstance(k, (int, np.integer)) for k in key)
        full = tuple(slice(int(k), int(k) + 1) if i else k for k, i in zip(key, ints))
        out = np.asarray(self.array[full])
        if any(ints):
            out = out[tuple(0 if i else slice(None) for i in ints)]
        return out


def _node_attrs(x: Any) -> dict:
    attrs = getattr(x, "attrs", None)
    if attrs is not None:
        return dict(attrs)
    backend = x.backend
    ref, path = getattr(backend, "fileref", None), getattr(backend, "_path", None)
    if ref is None or path is None:
        return {}
    from lazyarr.backends._hdf5 import HDF5_LOCK

    with HDF5_LOCK:
        node_attrs = ref.file.get_node(path)._v_attrs
        return {k: node_attrs[k] for k in node_attrs._v_attrnamesuser}


def _dims_from(attrs: dict, ndim: int) -> tuple[str, ...] | None:
    for name in ("dims", "_ARRAY_DIMENSIONS"):
        value = attrs.get(name)
        if value is None:
            continue
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = [v.strip() for v in value.split(",")]
        value = [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(value).tolist()]
        if len(value) == ndim:
            return tuple(value)
    return None


class LazyarrBackendEntrypoint(BackendEntrypoint):
    """``engine="lazyarr"``: HDF5 files lazyarr opens, as lazily indexed Datasets."""

    description = "Open HDF5 files with lazyarr (PyTables); NumPy-exact lazy indexing"
    url = "https://github.com/lazyarr/lazyarr"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "cache")

    def open_dataset(self, filename_or_obj: Any, *, drop_variables: Any = None, cache: Any = None) -> Any:
        import xarray as xr

        store = lazyarr.open(filename_or_obj, "r", cache=cache)
        drop = set([drop_variables] if isinstance(drop_variables, str) else drop_variables or ())
        phony: dict[int, str] = {}
        variables = {}
        for name in store.keys():
            var_name = name.lstrip("/")
            if var_name in drop or name in drop:
                continue
            x = store[name]
            if not isinstance(x, lazyarr.LazyArray):
                continue  # ragged arrays have no fixed shape
            attrs = _node_attrs(x)
            dims = _dims_from(attrs, x.ndim)
            if dims is None:
                dims = tuple(phony.setdefault(n, f"phony_dim_{len(phony)}") for n in x.shape)
                if len(set(dims)) != len(dims):  # one array with two axes of one length
                    dims = tuple(f"phony_dim_{len(phony) + i}" if dims.index(d) != i else d
                                 for i, d in enumerate(dims))
            data = indexing.LazilyIndexedArray(LazyarrBackendArray(x))
            keep = {k: v for k, v in attrs.items() if k not in ("dims", "_ARRAY_DIMENSIONS")
                    and not k.startswith("LAZYARR_")}
            variables[var_name] = xr.Variable(dims, data, attrs=keep)
        ds = xr.Dataset(variables)
        ds.set_close(store.close)
        return ds

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        try:
            ext = os.path.splitext(os.fspath(filename_or_obj))[1]
        except TypeError:
            return False
        return ext in {".h5", ".hdf5", ".he5"}
