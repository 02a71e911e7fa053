"""The ragged part of ``lazyarr demo``: the walkthrough's variable-length data.

Builds the two ragged data sets of the PyTables walkthrough with its seed --
1-d float32 vectors of length ``int(100 * randn() ** 2)`` and 2-d int32
"pseudo images" of 2..9 x 2..9 random bytes -- stores each with both ragged
backends, checks every read against the in-memory list and reports bytes on
disk against raw bytes.

Examples
--------
>>> import tempfile
>>> rows = run_ragged_demo(tempfile.mkdtemp())
>>> [(r["backend"], r["data"]) for r in rows]  # doctest: +NORMALIZE_WHITESPACE
[('ragged-offsets', 'vectors'), ('ragged-offsets', 'pseudo images'),
 ('ragged-vl', 'vectors'), ('ragged-vl', 'pseudo images')]
>>> rows[1]["nbytes_raw"], rows[1]["ratio"] >= 2
(119840, True)
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import numpy as np

import lazyarr as la
from lazyarr.testing.oracle import assert_same_outcome

__all__ = ["run_ragged_demo", "walkthrough_vectors", "walkthrough_images"]

#: Items per data set, as in the walkthrough.
N_ITEMS = 1000
COMPRESSION = "blosc2:zstd"


def walkthrough_vectors(seed: int = 1999, n: int = N_ITEMS) -> list[np.ndarray]:
    """The walkthrough's 1-d float32 vectors (its VLArray example).

    The cluster label it draws in the same loop is drawn too, so that the
    items are the walkthrough's own for the same seed.
    """
    rs = np.random.RandomState(seed)
    out = []
    for _ in range(n):
        length = int(100 * rs.randn() ** 2)
        out.append(rs.randn(length).astype(np.float32))
        rs.randint(1, 5)
    return out


def walkthrough_images(seed: int = 1999, n: int = N_ITEMS) -> list[np.ndarray]:
    """The walkthrough's 2-d int32 "pseudo images" (its EArray example)."""
    rs = np.random.RandomState(seed)
    out = []
    for _ in range(n):
        shape = rs.randint(2, 10, 2)
        out.append(rs.randint(0, 256, shape[0] * shape[1]).astype(np.int32).reshape(shape))
    return out


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(f"ragged demo check failed: {what}")


def _same(label: str, got: Callable[[], Any], want: Any) -> None:
    """The test suite's NumPy oracle on one read; its message names the check."""
    try:
        assert_same_outcome(got, lambda: want, label)
    except AssertionError as exc:
        raise AssertionError(f"ragged demo check failed: {exc}") from None


def _check_reads(r: la.RaggedArray, items: list[np.ndarray], label: str) -> float:
    """Check ``r`` against ``items``; return the best time of reading them all."""
    _check(len(r) == len(items), f"{label}: len {len(r)} != {len(items)}")
    _check(r.shapes.tolist() == [list(a.shape) for a in items], f"{label}: shapes")
    _check(r.nbytes == sum(a.nbytes for a in items), f"{label}: nbytes")
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        got = r[:]
        best = min(best, time.perf_counter() - t0)
    _same(f"{label}: r[:]", lambda: got, items)
    _same(f"{label}: iteration", lambda: list(r), items)
    _same(f"{label}: r[-5:-1]", lambda: r[-5:-1], items[-5:-1])
    _same(f"{label}: r[[3, 1, 3, -1]]", lambda: r[[3, 1, 3, -1]], [items[i] for i in [3, 1, 3, -1]])
    _same(f"{label}: r[-1]", lambda: r[-1], items[-1])
    _same(f"{label}: r[7, :2]", lambda: r[7, :2], items[7][:2])
    return best


def run_ragged_demo(directory: str, seed: int = 1999) -> list[dict]:
    """Store the walkthrough's ragged data with both backends and check it.

    Parameters
    ----------
    directory : str
        Where the files go (``ragged-offsets.h5``, ``ragged-vl.h5``); they
        are left there.
    seed : int
        The walkthrough's seed.

    Returns
    -------
    list of dict
        One row per backend and data set: ``backend`` (kind), ``data``,
        ``items``, ``compression``, ``nbytes_stored`` (the array's bytes on
        disk; an estimate for ``ragged-vl``, see
        :attr:`lazyarr.backends.RaggedVLBackend.nbytes_stored`),
        ``nbytes_raw`` (the items' bytes in memory), ``ratio`` (raw / stored, as zarr's ``info``),
        ``file_bytes`` (the whole file, both data sets) and ``read_seconds``
        (best of 3 reads of every item as one slice).

    Raises
    ------
    AssertionError
        A read disagreed with the in-memory data; the message names the check.
    """
    data = {"vectors": walkthrough_vectors(seed), "pseudo images": walkthrough_images(seed)}
    rows = []
    for backend in ("offsets", "vl"):
        path = os.path.join(os.fspath(directory), f"ragged-{backend}.h5")
        with la.open(path, "w") as store:
            for name, items in data.items():
                r = store.create_ragged(name.replace(" ", "_"), dtype=items[0].dtype,
                                        item_ndim=items[0].ndim, backend=backend,
                                        compression=COMPRESSION, expected_items=len(items))
                # Half one at a time, half in bulk: both paths are exercised.
                half = len(items) // 2
                for a in items[:half]:
                    r.append(a)
                r.extend(items[half:])
        file_bytes = os.path.getsize(path)
        with la.open(path) as store:
            for name, items in data.items():
                r = store[name.replace(" ", "_")]
                label = f"{r.backend.kind} {name}"
                _check(isinstance(r, la.RaggedArray), f"{label}: opens as RaggedArray")
                seconds = _check_reads(r, items, label)
                raw = sum(a.nbytes for a in items)
                stored = int(r.nbytes_stored)
                rows.append({
                    "backend": r.backend.kind,
                    "data": name,
                    "items": len(items),
                    "compression": COMPRESSION if backend == "offsets" else f"{COMPRESSION} (shapes only)",
                    "nbytes_stored": stored,
                    "nbytes_raw": raw,
                    "ratio": raw / stored if stored else float("nan"),
                    "file_bytes": file_bytes,
                    "read_seconds": seconds,
                })
    return rows
