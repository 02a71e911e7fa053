"""Blosc2-compressed chunks read raw and decoded with the ``blosc2`` package.

PyTables decodes Blosc2 chunks one thread at a time, a whole chunk per
touched chunk (measured: 0.1-0.2 GB/s on data the codec decodes at 1 GB/s
per core). This module reads the stored bytes of each chunk with
``node.read_chunk`` under :data:`HDF5_LOCK`, and decodes them *outside* the
lock with ``blosc2``:

* a chunk the read covers whole is decoded on every core, straight into the
  result when the layouts agree;
* a chunk the read touches in a few rows is decoded only in the Blosc2
  blocks that hold those rows (``SChunk.get_slice``), and the decoded blocks
  go into a small per-node LRU so that neighbouring small reads
  (``x[i]``, ``x[i + 1]``, ...) do not decode them again.

Each HDF5 chunk written by PyTables' ``blosc2`` filter is a Blosc2 frame
holding one Blosc2 chunk of the HDF5 chunk's bytes, in the stored byte order.
Anything else falls back to PyTables, chunk by chunk: a chunk whose filter
mask says a filter was skipped, a chunk not in storage (fill value), a frame
that is not what we expect. Writes go through PyTables and invalidate the
node's cached blocks (:func:`invalidate`).

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "b.h5")
>>> with la.open(path, "w") as store:
...     x = store.create_array("x", np.arange(60.0).reshape(20, 3), chunks=(4, 3))
...     x[5:7, ::2]
array([[15., 17.],
       [18., 20.]])
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable

import blosc2
import numpy as np

from lazyarr.backends._checksum import corrupt_chunk, verify_chunk
from lazyarr.backends._hdf5 import hdf5_errors
from lazyarr.backends import _b2blocks
from lazyarr.backends.base import HDF5_LOCK
from lazyarr.core.selection import Selection, orthogonal_key, runs, selection_shape
from lazyarr.core.support import project
from lazyarr.errors import StorageError

__all__ = ["eligible", "read", "invalidate", "LRU_BYTES"]

#: Decoded bytes kept per node for neighbouring small reads.
LRU_BYTES = 16 * 2**20
#: A read touching at most this many chunks counts as small: its decoded
#: blocks are kept in the LRU (a large read would only flush it).
SMALL_READ_CHUNKS = 4

_FRAME_MAGIC = b"b2frame"


def eligible(node: Any) -> bool:
    """True when every chunk of ``node`` is a Blosc2 frame we can decode.

    Only PyTables' ``blosc2`` filter (optionally with a codec, e.g.
    ``blosc2:zstd``), optionally followed by HDF5's Fletcher32 checksum,
    which :func:`lazyarr.backends._checksum.verify_chunk` checks and strips.
    Caller holds the lock.
    """
    if node.chunkshape is None:
        return False
    f = node.filters
    return bool(f.complevel and (f.complib or "").split(":")[0] == "blosc2")


# ----------------------------------------------------------------- the LRU
class _BlockLRU:
    """Decoded Blosc2 blocks of one node, least recently used first out."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.blocks: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.nbytes = 0

    def get(self, key: tuple) -> np.ndarray | None:
        with self.lock:
            b = self.blocks.get(key)
            if b is not None:
                self.blocks.move_to_end(key)
            return b

    def put(self, key: tuple, block: np.ndarray) -> None:
        with self.lock:
            old = self.blocks.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self.blocks[key] = block
            self.nbytes += block.nbytes
            while self.nbytes > LRU_BYTES and self.blocks:
                _, b = self.blocks.popitem(last=False)
                self.nbytes -= b.nbytes

    def clear(self) -> None:
        with self.lock:
            self.blocks.clear()
            self.nbytes = 0


# One LRU per (open file, node path): every backend object over the node in
# this process shares it, so a write through any of them invalidates it.
_LRUS: "weakref.WeakKeyDictionary[Any, dict[str, _BlockLRU]]" = weakref.WeakKeyDictionary()
_LRUS_LOCK = threading.Lock()


def _forget_after_fork() -> None:
    # A lock held by another thread at the fork stays held in the child:
    # start over with fresh locks and caches (the child opens its own files).
    global _LRUS_LOCK, _LRUS
    _LRUS_LOCK = threading.Lock()
    _LRUS = weakref.WeakKeyDictionary()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _lru(node: Any) -> _BlockLRU:
    f = node._v_file
    with _LRUS_LOCK:
        per_file = _LRUS.setdefault(f, {})
        lru = per_file.get(node._v_pathname)
        if lru is None:
            lru = per_file[node._v_pathname] = _BlockLRU()
        return lru


def invalidate(node: Any) -> None:
    """Forget the decoded blocks of ``node`` (after a write or an append)."""
    with _LRUS_LOCK:
        per_file = _LRUS.get(node._v_file)
        lru = per_file.get(node._v_pathname) if per_file else None
    if lru is not None:
        lru.clear()


# ---------------------------------------------------------------- planning
def _first_last(local: Any) -> tuple[int, int]:
    if isinstance(local, slice):
        return local.start, local.start + (len(range(local.start, local.stop, local.step)) - 1) * local.step
    return int(local[0]), int(local[-1])


def _shift(local: Any, by: int) -> Any:
    if isinstance(local, slice):
        return slice(local.start - by, local.stop - by, local.step)
    return local - by


# ------------------------------------------------------------------- reads
def read(node: Any, shape: tuple[int, ...], cs: tuple[int, ...], fill: Any, sel: Selection,
         dtype: np.dtype, fallback: Callable[[Selection], np.ndarray]) -> np.ndarray:
    """Read ``sel`` (stored ``dtype``) from a node :func:`eligible` says we decode.

    ``cs`` is its chunk shape and ``fill`` its fill value. ``fallback(sel)``
    reads a selection through PyTables (it takes the lock itself); it serves
    the chunks this module cannot decode. Called without the lock held.
    """
    out = np.empty(selection_shape(sel), dtype=dtype)
    if out.size == 0:
        return out
    # Which chunks the read touches, and where each part lands: the core's
    # one projection.
    combos = project(sel, cs)
    small = len(combos) <= SMALL_READ_CHUNKS
    lru = _lru(node)
    inner = int(np.prod(cs[1:], dtype=np.int64))
    todo = [(ks, combo) for ks, combo in ((tuple(p[0] for p in combo), combo) for combo in combos)
            if not (small and _from_lru(lru, ks, combo, out, cs, dtype, inner))]
    if not todo:
        return out
    starts = [tuple(k * c for k, c in zip(ks, cs)) for ks, _ in todo]
    checked = bool(node.filters.fletcher32)
    at = 0
    while at < len(todo):
        # The raw bytes of up to RAW_BATCH_BYTES of chunks under one
        # acquisition of the lock (a read of that much or less takes it
        # once), decoded after it is let go. Batches, not the whole read at
        # once: decoding bytes fetched just before runs 2x faster (measured).
        with HDF5_LOCK, hdf5_errors(f"reading chunks of {node._v_pathname!r} in "
                                    f"{node._v_file.filename!r}"):
            raws = _fetch(node, starts, at)
        for (ks, combo), start, raw in zip(todo[at:], starts[at:], raws):
            try:
                _place(raw, ks, combo, out, cs, shape, dtype, inner, lru, small, fallback, fill)
            except StorageError as exc:
                if raw is not None or not checked:
                    raise
                # Our Fletcher32 check failed and HDF5's pipeline cannot read it either.
                raise corrupt_chunk(node, start, f"its Fletcher32 checksum does not match ({exc})") from exc
        at += len(raws)
    return out


#: The raw-chunk buffer of each thread (nothing decoded ever points into
#: it), and the decoded-chunk scratch buffer of each thread (only large
#: reads use it, and copy out of it before the next chunk).
_RAW = threading.local()
#: Raw bytes fetched per acquisition of the HDF5 lock (at least one chunk).
RAW_BATCH_BYTES = 4 * 2**20


def _scratch(nbytes: int) -> np.ndarray:
    buf = getattr(_RAW, "scratch", None)
    if buf is None or buf.nbytes < nbytes:
        buf = _RAW.scratch = np.empty(nbytes, dtype=np.uint8)
    return buf[:nbytes]


#: What :func:`_fetch` returns for a chunk that is not in storage.
MISSING = b""


def _fetch(node: Any, starts: list[tuple[int, ...]], first: int) -> list[Any]:
    """The raw bytes of the chunks at ``starts[first:]``, as many as fit in
    :data:`RAW_BATCH_BYTES` (one at least), as views into this thread's raw
    buffer; :data:`MISSING` for a chunk not in storage; None for one PyTables
    must read. Caller holds the lock."""
    infos, total = [], 0
    for coords in starts[first:]:
        info = node.chunk_info(coords)
        # A chunk stored with a filter skipped (filter_mask) is PyTables' to read.
        size = info.size if info.offset is not None and not info.filter_mask else 0
        if infos and total + size > RAW_BATCH_BYTES:
            break
        infos.append(info)
        total += size
    buf = getattr(_RAW, "buf", None)
    if buf is None or len(buf) < total:
        buf = _RAW.buf = bytearray(total + total // 4)
    view, at, raws = memoryview(buf), 0, []
    for coords, info in zip(starts[first:], infos):
        if info.offset is None:
            raws.append(MISSING)
            continue
        if info.filter_mask:
            raws.append(None)
            continue
        raw = node.read_chunk(coords, out=view[at : at + info.size])[: info.size]
        at += info.size
        if node.filters.fletcher32:
            # None on a mismatch: HDF5's pipeline reads the chunk and decides.
            raw = verify_chunk(node, coords, raw, info.offset)
        raws.append(raw)
    return raws


def _needed_blocks(local: Any, rows: int) -> list[int]:
    """Sorted Blosc2 block numbers holding the chunk rows ``local`` selects."""
    if isinstance(local, slice):
        r0, r1 = _first_last(local)
        if local.step == 1 or local.step < rows:
            return list(range(r0 // rows, r1 // rows + 1))
        local = np.arange(r0, r1 + 1, local.step)
    return np.unique(local // rows).tolist()


def _assemble(parts: dict[int, np.ndarray], rows: int, cs: tuple, dtype: np.dtype) -> tuple[np.ndarray, int]:
    """Blocks as one buffer and the chunk row it starts at; rows of blocks not
    in ``parts`` are left unset (the selection never reads them)."""
    if len(parts) == 1:
        (b, blk), = parts.items()
        return blk, b * rows
    buf = np.empty(cs, dtype=dtype)
    for b, blk in parts.items():
        buf[b * rows : b * rows + len(blk)] = blk
    return buf, 0


def _from_lru(lru: _BlockLRU, ks: tuple, combo: tuple, out: np.ndarray, cs: tuple,
              dtype: np.dtype, inner: int) -> bool:
    """Serve one chunk's part of the read from decoded blocks, if all cached."""
    meta = lru.get(ks + ("rows",))
    if meta is None:
        return False
    rows = int(meta[0])
    parts = {}
    for b in _needed_blocks(combo[0][1], rows):
        blk = lru.get(ks + (b,))
        if blk is None:
            return False
        parts[b] = blk
    buf, row0 = _assemble(parts, rows, cs, dtype)
    _copy_part(buf, row0, combo, out)
    return True


def _copy_part(buf: np.ndarray, row0: int, combo: tuple, out: np.ndarray) -> None:
    """``out[result part] = buf[chunk part]``, ``buf`` starting at chunk row ``row0``."""
    local = [_shift(combo[0][1], row0)] + [p[1] for p in combo[1:]]
    dst = tuple(p[2] for p in combo)
    out[dst] = buf[orthogonal_key(local, buf.shape)]


def _place(raw: bytes | None, ks: tuple, combo: tuple, out: np.ndarray, cs: tuple,
           shape: tuple[int, ...], dtype: np.dtype, inner: int, lru: _BlockLRU,
           small: bool, fallback: Callable[[Selection], np.ndarray], fill: Any) -> None:
    """Decode one chunk's share of the read into ``out``."""
    if raw is MISSING:
        # Never written: HDF5's fill value. Not PyTables' read, which returns
        # whatever its Blosc2 path decoded last for such a chunk.
        out[tuple(p[2] for p in combo)] = fill
        return
    nbytes = cs[0] * inner * dtype.itemsize
    if raw is not None and not _b2blocks.rows_blocked(raw, cs):
        # N-d blocks: the decoded chunk is not in C order; PyTables reads it.
        sel = tuple(_shift(p[1], -k * c) for p, k, c in zip(combo, ks, cs))
        out[tuple(p[2] for p in combo)] = fallback(sel)
        return
    chunk = _inner_chunk(raw, nbytes)
    schunk = None
    if chunk is None:
        # Not the plain layout (a special chunk such as all zeros, say):
        # let blosc2 read the frame.
        schunk = _frame(raw)
        if schunk is None or schunk.nbytes != nbytes:
            # Not ours to decode: PyTables reads this chunk's part of the selection.
            sel = tuple(_shift(p[1], -k * c) for p, k, c in zip(combo, ks, cs))
            out[tuple(p[2] for p in combo)] = fallback(sel)
            return
        blocksize = int(schunk.blocksize)
    else:
        blocksize = int.from_bytes(chunk[8:12], "little")
    rows = max(1, blocksize // (inner * dtype.itemsize))
    blocks = _needed_blocks(combo[0][1], rows)
    if len(blocks) * rows >= cs[0]:
        # Every block is needed: decode the chunk on every core, straight
        # into the result when the result's part is the whole chunk.
        # (blosc2.decompress2 on the chunk inside the frame, read in place:
        # measured 2x faster than SChunk.decompress_chunk.)
        if chunk is None:
            chunk = schunk.get_chunk(0)
        dst = out[tuple(p[2] for p in combo)]
        if (not small and dst.shape == cs and dst.flags.c_contiguous
                and all(isinstance(p[1], slice) and p[1].step == 1 for p in combo)):
            blosc2.decompress2(chunk, dst=dst)
            return
        if small:
            buf = np.empty(cs, dtype=dtype)  # its blocks go to the LRU
        else:
            # A large read decodes chunk after chunk into one buffer per
            # thread: no fresh allocation (and page faults) per chunk.
            buf = _scratch(nbytes).view(dtype).reshape(cs)
        blosc2.decompress2(chunk, dst=buf)
        parts = {b: buf[b * rows : (b + 1) * rows] for b in blocks}
        row0 = 0
    else:
        # A few rows: decode only the blocks that hold them, run by run.
        if schunk is None:
            schunk = _frame(raw)
        if schunk is None:  # the inner chunk looked right, the frame does not
            sel = tuple(_shift(p[1], -k * c) for p, k, c in zip(combo, ks, cs))
            out[tuple(p[2] for p in combo)] = fallback(sel)
            return
        parts = {}
        b0s, b1s = runs(np.asarray(blocks, dtype=np.int64))
        for b0, b1 in zip(b0s.tolist(), b1s.tolist()):
            lo, hi = b0 * rows, min(cs[0], b1 * rows)
            flat = np.frombuffer(schunk.get_slice(lo * inner, hi * inner), dtype=dtype)
            run = flat.reshape((hi - lo,) + cs[1:])
            for b in range(b0, b1):
                parts[b] = run[(b - b0) * rows : (b - b0 + 1) * rows]
        buf, row0 = _assemble(parts, rows, cs, dtype)
    if small:
        lru.put(ks + ("rows",), np.array([rows]))
        for b, blk in parts.items():
            lru.put(ks + (b,), blk)
    _copy_part(buf, row0, combo, out)


def _inner_chunk(raw: Any, nbytes: int) -> Any:
    """The one Blosc2 chunk of a frame, as a view of ``raw``, or None.

    A frame (Blosc2's contiguous format) starts with a msgpack header whose
    int32 at byte 11 is the header's length; the first chunk follows it,
    and a chunk's header holds its uncompressed size (bytes 4-8), block
    size (8-12) and compressed size (12-16). Anything unexpected -- chunks
    the frame stores as special values, whose first bytes are then the
    frame's offsets chunk -- gives None, and blosc2 parses the frame itself.
    """
    if raw is None or len(raw) < 32 or bytes(raw[2:9]) != _FRAME_MAGIC or raw[10] != 0xD2:
        return None
    h = int.from_bytes(raw[11:15], "big")
    if not 16 <= h <= len(raw) - 16:
        return None
    if int.from_bytes(raw[h + 4 : h + 8], "little") != nbytes:
        return None
    cbytes = int.from_bytes(raw[h + 12 : h + 16], "little")
    if not 16 <= cbytes <= len(raw) - h:
        return None
    return raw[h : h + cbytes]


def _frame(raw: Any) -> Any:
    """The Blosc2 super-chunk in ``raw``, or None if it is not one chunk in a frame."""
    if raw is None or _FRAME_MAGIC not in bytes(raw[:16]):
        return None
    try:
        schunk = blosc2.schunk_from_cframe(raw, copy=False)
    except Exception:  # a corrupt or foreign frame: PyTables decides
        return None
    if schunk.nchunks != 1:
        return None
    return schunk
