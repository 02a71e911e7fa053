"""The three cache policies side by side on the same reads (``lazyarr demo``).

Examples
--------
>>> import tempfile
>>> rows = run_cache_demo(tempfile.mkdtemp())
>>> [r["policy"] for r in rows]
['NoCache()', 'SwapWindow(nbytes=1048576)', 'InMemory()']
>>> rows[1]["backend_reads"] < rows[0]["backend_reads"]
True
"""

from __future__ import annotations

import os
import time

import numpy as np

import lazyarr as la
from lazyarr.testing.oracle import assert_same_as_numpy

__all__ = ["run_cache_demo"]


def _check(x: la.LazyArray, a: np.ndarray, key: object, what: str) -> None:
    try:
        assert_same_as_numpy(x.__getitem__, a, key)
    except AssertionError as exc:
        raise AssertionError(f"cache demo: {what}: {exc}") from None


def run_cache_demo(directory: str, rows: int = 20_000, batch: int = 256) -> list[dict]:
    """Read the same minibatches and random rows under each cache policy.

    Parameters
    ----------
    directory : str
        Where to write the demo file (removed afterwards).
    rows, batch : int
        Rows of the ``(rows, 32)`` float32 array, and rows per minibatch.

    Returns
    -------
    list of dict
        One per policy: ``policy`` (its repr), ``backend_reads``,
        ``bytes_read``, ``hits`` and ``seconds``.

    Raises
    ------
    AssertionError
        A read did not equal NumPy's answer (the message names the check).
    """
    a = np.random.default_rng(0).standard_normal((rows, 32)).astype(np.float32)
    path = os.path.join(directory, "cache_demo.h5")
    with la.open(path, "w") as store:
        store.create_array("data", a)
    picks = np.random.default_rng(1).integers(0, rows, 200)
    out = []
    try:
        for policy in (la.NoCache(), la.SwapWindow(2**20), la.InMemory()):
            t0 = time.perf_counter()
            with la.open(path, cache=policy) as store:
                x = store["data"]
                for i in range(0, rows, batch):
                    _check(x, a, np.s_[i : i + batch], f"{policy!r} minibatch {i}:{i + batch}")
                for i in picks.tolist():
                    _check(x, a, i, f"{policy!r} row {i}")
                _check(x, a, np.s_[picks[:20], ::-3], f"{policy!r} fancy read")
                stats = x.cache_stats
            out.append({"policy": repr(policy), "backend_reads": stats["backend_reads"],
                        "bytes_read": stats["bytes_read"], "hits": stats["hits"],
                        "seconds": time.perf_counter() - t0})
    finally:
        os.remove(path)
    return out
