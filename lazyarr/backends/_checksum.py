"""HDF5's Fletcher32 chunk checksum, verified on lazyarr's raw-chunk reads.

New compressed and ragged arrays carry HDF5's ``fletcher32`` filter after
their compressor, so every stored chunk ends with a 4-byte checksum of the
compressed bytes before it. HDF5 (and h5py, and any HDF5 reader) verifies it
when it decodes a chunk through the filter pipeline; lazyarr's raw-chunk
readers (:mod:`lazyarr.backends._blosc2`, and any block reader) bypass that
pipeline, so they call :func:`verify_chunk` on the bytes they fetched.

A chunk is verified once per process, when first touched: the verdict is
kept by (file, node, chunk, address, size), and a rewritten chunk moves or
changes size, so it is verified again. Block-level random reads of one chunk
therefore pay the checksum once, not per read.

Examples
--------
>>> hex(fletcher32(b"abcde"))
'0x4ff029c7'
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any, Callable

import numpy as np

from lazyarr.errors import CorruptStoreError

__all__ = ["fletcher32", "verify_chunk", "has_fletcher32"]

#: Verdicts kept per process; past this many the set starts over (a chunk
#: is then verified again when next touched: correct, only slower).
MAX_VERIFIED = 2**20
_VERIFIED: set[tuple] = set()
_LOCK = threading.Lock()
#: 16-bit words summed per step: keeps the weighted sums inside int64, and
#: the step's temporaries small enough to be reused, not page-faulted in.
_BLOCK = 2**16
#: The weights of a step's words in the second sum (the last m for m words).
_WEIGHTS = np.arange(_BLOCK, 0, -1, dtype=np.int64)


def _forget_after_fork() -> None:
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _numpy_fletcher32(data: Any) -> int:
    """:func:`fletcher32` in NumPy: for an HDF5 library that does not export
    its own (and the reference the exported one is checked against)."""
    b = memoryview(data).cast("B")
    n = len(b)
    even = np.frombuffer(b, dtype=">u2", count=n // 2)
    s1 = s2 = 0
    for a in range(0, len(even), _BLOCK):
        w = even[a : a + _BLOCK].astype(np.int64)
        m = len(w)
        # s2 gains m * s1 (the sums so far) plus the weighted block.
        s2 = (s2 + m * s1 + int(np.dot(_WEIGHTS[_BLOCK - m :], w))) % 65535
        s1 = (s1 + int(w.sum())) % 65535
    if n % 2:
        s1 = (s1 + (b[n - 1] << 8)) % 65535
        s2 = (s2 + s1) % 65535
    return (s2 << 16) | s1


def _folded(c: int) -> tuple[int, int]:
    # HDF5 folds its sums so that 0xffff can stand for 0 (both are 0 mod 65535).
    return (c >> 16) % 65535, (c & 0xFFFF) % 65535


def _hdf5_fletcher32() -> Callable[[int, int], int] | None:
    """HDF5's own ``H5_checksum_fletcher32(data, len)`` from the library
    PyTables loaded, if it exports it and agrees with :func:`_numpy_fletcher32`
    on a sample (2.4x faster on a 700 KB chunk, 0.13 against 0.31 ms, and the
    GIL is released while it runs); None otherwise."""
    try:
        from lazyarr.backends._hdf5 import HDF5_LIB

        fn = HDF5_LIB.H5_checksum_fletcher32
    except (ImportError, AttributeError, OSError):  # pragma: no cover - depends on the build
        return None
    fn.restype, fn.argtypes = ctypes.c_uint32, [ctypes.c_void_p, ctypes.c_size_t]
    sample = np.frombuffer(bytes(range(256)) * 3 + b"\xff" * 5, dtype=np.uint8)
    for n in (0, 1, 2, 255, len(sample)):
        if _folded(fn(sample.ctypes.data, n)) != _folded(_numpy_fletcher32(sample[:n])):
            return None  # pragma: no cover - a library that disagrees is not used
    return fn


_HDF5_FLETCHER32 = _hdf5_fletcher32()


def fletcher32(data: Any) -> int:
    """HDF5's Fletcher32 of ``data`` (``H5_checksum_fletcher32``).

    16-bit big-endian words (an odd last byte is the high byte of a last
    word), both sums modulo 65535; the result is ``sum2 << 16 | sum1``.
    Computed by HDF5's own function when its library exports it (then a sum
    of 0 may read 0xffff, as HDF5 writes it), else in NumPy.
    """
    if _HDF5_FLETCHER32 is None:
        return _numpy_fletcher32(data)
    # frombuffer takes read-only buffers (bytes, maps) without a copy.
    a = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    return int(_HDF5_FLETCHER32(a.ctypes.data, a.size))


def has_fletcher32(node: Any) -> bool:
    """True when ``node``'s chunks carry HDF5's Fletcher32 checksum."""
    f = getattr(node, "filters", None)
    return bool(f is not None and f.fletcher32)


def verify_chunk(node: Any, coords: tuple[int, ...], raw: Any, offset: Any) -> Any | None:
    """The chunk's bytes without their checksum, or None when it does not match.

    ``raw`` is the chunk as stored (``node.read_chunk``), ``offset`` its
    address in the file. None means the last 4 bytes are not the
    Fletcher32 of the others: the chunk is corrupt, or its pipeline puts
    the checksum elsewhere (a file written by other software); the caller
    reads it through HDF5's pipeline, which knows, and maps a failure there
    to :func:`corrupt_chunk`. Verified chunks are remembered (see the
    module docstring). Caller holds the HDF5 lock.
    """
    size = len(raw)
    if size < 4:
        return None
    key = (node._v_file.filename, node._v_pathname, coords, offset, size)
    body = raw[: size - 4]
    if key in _VERIFIED:
        return body
    if not _matches(raw):
        return None
    with _LOCK:
        if len(_VERIFIED) >= MAX_VERIFIED:
            _VERIFIED.clear()
        _VERIFIED.add(key)
    return body


def corrupt_chunk(node: Any, coords: tuple[int, ...], why: str) -> CorruptStoreError:
    """The error for a chunk whose stored bytes are wrong."""
    return CorruptStoreError(
        f"chunk at {tuple(int(c) for c in coords)} of {node._v_pathname!r} in "
        f"{node._v_file.filename!r} is corrupt: {why}"
    )


def _make(frame: bytes) -> bytes:
    return fletcher32(frame).to_bytes(4, "little")


def _matches(stored: Any) -> bool:
    b = memoryview(stored).cast("B")
    if len(b) < 4:
        return False
    want = int.from_bytes(bytes(b[-4:]), "little")
    got = fletcher32(b[:-4])
    return want == got or _folded(want) == _folded(got)


def _install() -> None:
    # The Blosc2 block reader (issue 13b) verifies and writes checksummed
    # chunks through this one implementation.
    from lazyarr.backends import _b2blocks

    _b2blocks.set_verifier(_make, _matches)


_install()
