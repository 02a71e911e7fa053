"""Dask collections over lazyarr arrays (``pip install lazyarr[dask]``).

:func:`to_dask` turns a :class:`lazyarr.LazyArray` into a ``dask.array.Array``
and :func:`to_dask_bag` a :class:`lazyarr.RaggedArray` into a ``dask.bag.Bag``
of its items. Neither reads any data: the graph holds the array object once,
and an array pickles by reference (file path, node, mode, backend kind, cache
policy), so shipping it to a worker process, or to another machine that sees
the same file, costs a few hundred bytes. A worker opens the file
read-only when a task first reads it (once per process, shared by its
threads) and closes it when it drops the array.

Blocks follow the storage chunks (whole chunks merged up to Dask's
``array.chunk-size`` setting), so no chunk is decompressed by two tasks.
Dask needs no lock of its own (``lock=False``): every HDF5 call in a
process already holds :data:`lazyarr.backends.HDF5_LOCK`.

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "d.h5")
>>> with la.open(path, "w") as store:
...     _ = store.create_array("data", np.arange(20.0).reshape(10, 2), chunks=(3, 2))
...     r = store.create_ragged("r", dtype="int64", item_ndim=1)
...     r.extend([np.arange(n) for n in range(5)])
>>> store = la.open(path)
>>> d = store["data"].to_dask()
>>> d.chunks, float(d.mean().compute(scheduler="threads"))
(((10,), (2,)), 9.5)
>>> store["r"].to_dask_bag(partition_size=2).map(len).compute(scheduler="sync")
[0, 1, 2, 3, 4]
>>> store.close()
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

__all__ = ["to_dask", "to_dask_bag", "dask_chunks"]

#: Bytes of items per partition of a bag when ``partition_size`` is None.
BAG_PARTITION_BYTES = 16 * 2**20


def _import(module: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise ImportError(
            f"this needs Dask ({module} could not be imported: {exc}); "
            "install it with: pip install lazyarr[dask]"
        ) from exc


def dask_chunks(shape: tuple[int, ...], itemsize: int, storage: tuple[int, ...] | None,
                limit: int) -> tuple[int, ...]:
    """A block shape of whole storage chunks holding at most ``limit`` bytes.

    Trailing axes are merged first (a block is then a run of whole rows of
    chunks, contiguous in a row-major file), axis 0 last. A block is never
    smaller than one storage chunk. Contiguous storage (``storage`` None)
    counts as chunks of one row.

    Examples
    --------
    >>> dask_chunks((10**7, 16), 8, (8192, 16), 128 * 2**20)
    (1048576, 16)
    >>> dask_chunks((100, 50, 40), 8, (7, 13, 40), 10**5)
    (7, 39, 40)
    >>> dask_chunks((100, 50), 8, None, 4000)
    (10, 50)
    """
    if not shape:
        return ()
    if storage is None:
        storage = (1,) + tuple(shape[1:])
    block = [max(1, min(int(c), int(n))) for c, n in zip(storage, shape)]
    budget = max(1, limit // max(1, itemsize))
    for ax in reversed(range(len(shape))):
        others = math.prod(block[:ax] + block[ax + 1 :])
        times = max(1, budget // max(1, others * block[ax]))
        block[ax] = max(1, min(int(shape[ax]), block[ax] * times))
    return tuple(block)


def _name(x: Any, chunks: Any) -> str | bool:
    """A deterministic Dask key name for ``x`` (False: let Dask make a unique one)."""
    base = _import("dask.base")
    b = x.backend
    ref = getattr(b, "fileref", None)
    if ref is not None:
        try:
            mtime = os.stat(ref.path).st_mtime_ns
        except OSError:  # pragma: no cover - the file vanished; a read will say so
            mtime = None
        token = base.tokenize("lazyarr", ref.path, b.path, b.kind, x.shape, x.dtype.str,
                              chunks, repr(x.cache), mtime, x._pickle_state())
    elif hasattr(b, "array"):  # the memory backend: hash the data itself
        token = base.tokenize("lazyarr", b.array, chunks)
    else:
        return False
    return f"lazyarr-{token}"


def to_dask(x: Any, chunks: Any = None) -> Any:
    """``x`` (a :class:`lazyarr.LazyArray`) as a ``dask.array.Array``.

    Parameters
    ----------
    x : LazyArray
    chunks : optional
        Anything ``dask.array.from_array`` accepts. None (default): blocks
        of whole storage chunks merged up to ``dask.config`` ``array.chunk-size``
        (see :func:`dask_chunks`).

    Returns
    -------
    dask.array.Array
        Its graph holds ``x`` once; every task reads ``x[block slices]``
        and pickles ``x`` by reference, read-only (see
        :meth:`lazyarr.LazyArray.pickle_as`). The key name is a token of
        the file, node, shape, dtype, chunks and the file's modification time.
        Worker *processes* cannot open a file that this process still has
        open for writing (HDF5's file lock): write, close, reopen read-only,
        then compute.

    Examples
    --------
    >>> import numpy as np, lazyarr as la
    >>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(12.0).reshape(4, 3)))
    >>> d = to_dask(x, chunks=(2, 3))
    >>> d.chunks, d.sum(axis=0).compute(scheduler="sync")
    (((2, 2), (3,)), array([18., 22., 26.]))
    """
    dask = _import("dask")
    da = _import("dask.array")
    if chunks is None:
        limit = dask.utils.parse_bytes(dask.config.get("array.chunk-size"))
        chunks = dask_chunks(x.shape, x.dtype.itemsize, x.chunks, limit)
    meta = np.empty((0,) * x.ndim, dtype=x.dtype)
    normalized = da.core.normalize_chunks(chunks, x.shape, dtype=x.dtype)
    return da.from_array(_Source(x), chunks=normalized, name=_name(x, normalized), lock=False,
                         asarray=True, fancy=False, meta=meta)


class _Source:
    """What a Dask graph holds for ``x``: its shape, dtype and reads, nothing else.

    ``da.from_array`` calls ``copy()`` on any array-like that has one, and
    ``LazyArray.copy()`` is NumPy's (it reads the whole array into memory):
    handing Dask this thin wrapper keeps the graph a reference to the file.
    """

    __slots__ = ("x",)

    def __init__(self, x: Any) -> None:
        self.x = x

    @property
    def shape(self) -> tuple[int, ...]:
        return self.x.shape

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype

    @property
    def ndim(self) -> int:
        return self.x.ndim

    def __getitem__(self, key: Any) -> Any:
        return self.x[key]

    def __reduce__(self):
        return _Source, (self.x,)


def _read_items(r: Any, start: int, stop: int) -> list[np.ndarray]:
    return r[start:stop]


def to_dask_bag(r: Any, partition_size: int | None = None) -> Any:
    """The items of ``r`` (a :class:`lazyarr.RaggedArray`) as a ``dask.bag.Bag``.

    Parameters
    ----------
    r : RaggedArray
    partition_size : int, optional
        Items per partition. None: about :data:`BAG_PARTITION_BYTES` of
        items per partition (from the average item size).

    Returns
    -------
    dask.bag.Bag
        One partition per run of ``partition_size`` items, each read with
        one ``r[start:stop]``; ``r`` is in the graph once and pickles by
        reference. Items appended later are not in the bag.

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> store = la.open(os.path.join(tempfile.mkdtemp(), "b.h5"), "w")
    >>> r = store.create_ragged("r", dtype="float32", item_ndim=1)
    >>> r.extend([np.ones(n) for n in (3, 1, 2)])
    >>> bag = to_dask_bag(r, partition_size=2)
    >>> bag.npartitions, bag.map(np.sum).compute(scheduler="sync")
    (2, [np.float32(3.0), np.float32(1.0), np.float32(2.0)])
    >>> store.close()
    """
    dask = _import("dask")
    db = _import("dask.bag")
    n = len(r)
    if partition_size is None:
        per_item = max(1, r.nbytes // max(1, n))
        partition_size = max(1, BAG_PARTITION_BYTES // per_item)
    if isinstance(partition_size, bool) or not isinstance(partition_size, (int, np.integer)) \
            or partition_size < 1:
        raise ValueError(f"partition_size must be a positive int, got {partition_size!r}")
    step = int(partition_size)
    # The array once in the graph, under a name tied to the file and node.
    b = r.backend
    token = dask.base.tokenize("lazyarr-ragged", b.fileref.path, b.path, n, step,
                               repr(r.cache))
    ref = dask.delayed(r, name=f"lazyarr-ragged-{token}", pure=True)
    read = dask.delayed(_read_items, pure=True)
    parts = [read(ref, a, min(n, a + step)) for a in range(0, n, step)]
    if not parts:
        return db.from_sequence([], npartitions=1)
    return db.from_delayed(parts)
