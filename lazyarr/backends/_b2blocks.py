"""Blosc2 chunks read block by block through a memory map of the file.

PyTables' ``blosc2`` filter stores each HDF5 chunk as one Blosc2 frame: a
msgpack header (with the ``b2nd`` metalayer: chunk and block shapes), one
Blosc2 chunk of the whole (padded) HDF5 chunk, an offsets chunk and a
trailer. A Blosc2 chunk is a 32-byte header, one int32 start offset per
block, then the blocks; each block decodes on its own.

Writing is :mod:`lazyarr.backends._b2write`.

**Reading.** :func:`read` never takes a chunk through HDF5: the chunk index
(``node.chunk_info``: byte offset and size) is cached per node and
refreshed after writes (:func:`forget`), the file is memory-mapped once per
open file, and for each touched chunk only the frame header, the block
offsets and the *needed* blocks are touched. The needed blocks of many
chunks are copied into one synthetic Blosc2 chunk (same header, new sizes
and block offsets) and decoded by one call on ``blosc2.nthreads`` threads (decoding, with
the GIL released where it can be, is :mod:`lazyarr.backends._b2decode`).
Chunks read whole decode straight from the map, many at once on every core. Rows then go to the output
once each, in any order (masks, repeats, scattered rows).

Anything unusual returns to the caller's fallback (PyTables): chunks whose
blocks are not runs of whole rows (PyTables picks N-d blocks for N-d chunks),
dictionaries, a skipped filter, a frame that does not parse, the core
driver (no file to map), a checksum without a verifier.

Checksums: a chunk stored with Fletcher32 ends with 4 checksum bytes after
the frame. :func:`set_verifier` installs the function that checks one
stored chunk; it runs once per process per stored chunk (remembered by
file, offset and size), when the chunk is first touched.

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "b.h5")
>>> a = np.arange(30000.0).reshape(3000, 10)
>>> with la.open(path, "w") as store:
...     x = store.create_array("x", a, chunks=(1000, 10))
...     bool((x[[2999, 5, 1500]] == a[[2999, 5, 1500]]).all())
True
"""

from __future__ import annotations

import math
import mmap
import os
import threading
import weakref
from typing import Any, Callable, NamedTuple

import msgpack
import numpy as np

from lazyarr.backends import _b2decode as D
from lazyarr.backends._b2decode import own_decoder, releases_gil, threads
from lazyarr.backends._hdf5_sane import chunk_info
from lazyarr.backends.base import HDF5_LOCK
from lazyarr.core.selection import Selection, orthogonal_key, selection_shape
from lazyarr.core.support import project
from lazyarr.errors import StorageError

# threads, releases_gil and own_decoder are lazyarr.backends._b2decode's (the decoder).
__all__ = ["read", "eligible", "forget", "rows_blocked", "frame_header_len", "checksum_maker", "threads",
           "set_verifier", "releases_gil", "mapped", "own_decoder", "BATCH_BYTES"]

#: Decoded bytes per synthetic chunk (bounds a read's scratch memory).
BATCH_BYTES = 16 * 2**20


# ================================================================ checksums
#: ``(make, verify)`` for chunks stored with HDF5's Fletcher32 filter after
#: Blosc2 (see :func:`set_verifier`); None until the checksum code installs it.
_FLETCHER32: tuple[Callable[[bytes], bytes], Callable[[Any], bool]] | None = None


def set_verifier(make: Callable[[bytes], bytes] | None, verify: Callable[[Any], bool] | None) -> None:
    """Install Fletcher32 support: ``make(frame) -> 4 checksum bytes`` for
    writes, ``verify(stored_chunk) -> bool`` for reads (``stored_chunk`` is a
    buffer of the whole stored chunk, frame and checksum).

    ``verify`` runs once per process per stored chunk, when the chunk is first
    touched (remembered by file, offset and size); a False makes the chunk go
    through PyTables, and if HDF5's own pipeline cannot read it either, the
    read raises :class:`lazyarr.CorruptStoreError` naming file, node and chunk.
    Until both are installed, nodes with Fletcher32 are read and written by
    PyTables.
    """
    global _FLETCHER32
    _FLETCHER32 = None if make is None or verify is None else (make, verify)


def eligible(node: Any) -> bool:
    """True when :func:`read` may serve ``node``: PyTables' ``blosc2`` filter,
    with Fletcher32 only once :func:`set_verifier` installed a checker."""
    f = node.filters
    return bool(node.chunkshape is not None and f.complevel
                and (f.complib or "").split(":")[0] == "blosc2"
                and _checksum_bytes(node) is not None)


def checksum_maker() -> Callable[[bytes], bytes] | None:
    """The installed ``make(frame) -> checksum bytes`` (None: none installed)."""
    return None if _FLETCHER32 is None else _FLETCHER32[0]


def frame_header_len(raw: Any) -> int:
    """Bytes of a Blosc2 frame's msgpack header (its int32 at byte 11)."""
    return int.from_bytes(raw[11:15], "big")


def _checksum_bytes(node: Any) -> int | None:
    """Bytes after the frame in each stored chunk (4 with Fletcher32), or None
    when such chunks cannot be checked here."""
    if not node.filters.fletcher32:
        return 0
    return 4 if _FLETCHER32 is not None else None


# ================================================================== the map
class _Map:
    """A read-only memory map of one HDF5 file, grown when the file grows."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self.mm: mmap.mmap | None = None
        self.view: memoryview | None = None
        self.size = 0
        weakref.finalize(self, os.close, self.fd)

    def get(self, end: int) -> memoryview | None:
        """The map (as bytes), covering at least ``end`` bytes; None if the file is shorter."""
        if end > self.size:
            size = os.fstat(self.fd).st_size
            if end > size:
                return None
            # Views of the old map may still be in use: let it go, don't close it.
            self.mm = mmap.mmap(self.fd, size, access=mmap.ACCESS_READ)
            self.view = memoryview(self.mm)
            self.size = size
        return self.view

    def release(self, lo: int, hi: int) -> None:
        """Give back this process's pages of bytes ``lo:hi`` (they stay in the
        page cache): a scan of a large file would otherwise count every page
        it read in the process's RSS until the file is closed."""
        mm = self.mm
        if mm is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        lo = -(-lo // mmap.PAGESIZE) * mmap.PAGESIZE
        hi = min(hi, len(mm)) // mmap.PAGESIZE * mmap.PAGESIZE
        if hi > lo:
            mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


#: Reads spanning at least this many stored bytes release their pages after
#: decoding (see :meth:`_Map.release`).
RELEASE_BYTES = 2**18


#: Per open ``tables.File``: its map (or None: no file to map), the chunk
#: index of each node, and the parsed geometry of each stored chunk.
_STATE: "weakref.WeakKeyDictionary[Any, _FileState]" = weakref.WeakKeyDictionary()
_STATE_LOCK = threading.Lock()
#: Stored chunks whose geometry is remembered per file (then start over).
_MAX_GEOMS = 1 << 17


class _FileState:
    def __init__(self, f: Any) -> None:
        self.map: _Map | None = None
        # Only files HDF5 reads with its default (sec2) driver are the bytes
        # on disk; the core driver keeps writes in memory until close.
        if f.params.get("DRIVER") in (None, "H5FD_SEC2") and os.path.isfile(f.filename):
            try:
                self.map = _Map(f.filename)
            except OSError:
                self.map = None
        self.index: dict[str, dict[tuple, tuple]] = {}
        self.geoms: dict[tuple[int, int], Any] = {}
        #: Mapped bytes touched since the map last gave its pages back, and their span.
        self.held, self.lo, self.hi = 0, math.inf, 0

    def touched(self, lo: int, hi: int, nbytes: int) -> None:
        """Count ``nbytes`` of the map read within ``lo:hi``; past
        :data:`RELEASE_BYTES` since the last release, give the pages back
        (many small reads -- random rows -- add up like one large one)."""
        self.held += nbytes
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)
        if self.held >= RELEASE_BYTES and self.map is not None:
            self.map.release(int(self.lo), self.hi)
            self.held, self.lo, self.hi = 0, math.inf, 0


def _forget_after_fork() -> None:
    # The parent's maps, chunk indexes and lock are no use in a child.
    global _STATE, _STATE_LOCK
    _STATE_LOCK = threading.Lock()
    _STATE = weakref.WeakKeyDictionary()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _state(node: Any) -> _FileState:
    f = node._v_file
    st = _STATE.get(f)  # a lookup needs no lock (a random row feels one)
    if st is not None:
        return st
    with _STATE_LOCK:
        st = _STATE.get(f)
        if st is None:
            st = _STATE[f] = _FileState(f)
        return st


def mapped(node: Any) -> bool:
    """True when ``node``'s file is read through a map here (not under the core driver)."""
    return _state(node).map is not None


def forget(node: Any) -> None:
    """Drop ``node``'s cached chunk index and the file's parsed chunks.

    Call after any write to the file: HDF5 rewrites a chunk of unchanged
    size in place, and reuses freed space for other chunks, so a stored
    chunk's (offset, size) can come to hold other bytes.
    """
    with _STATE_LOCK:
        st = _STATE.get(node._v_file)
    if st is not None:
        st.index.pop(node._v_pathname, None)
        st.geoms = {}


# ================================================================= geometry
class _Geom(NamedTuple):
    """What one stored chunk's Blosc2 chunk looks like, parsed once."""

    start: int           # file offset of the Blosc2 chunk
    cbytes: int
    nbytes: int          # decoded bytes (the chunk padded to whole blocks)
    blocksize: int
    rows: int            # chunk rows per block (blocks are runs of whole rows)
    mode: int            # _BLOCKS, _WHOLE (decode it all) or _COPY (stored uncompressed)
    key: bytes           # header bytes that blocks decoded together must share
    bstarts: Any         # file offsets of the blocks (_BLOCKS only; a list)
    blens: Any           # their compressed lengths


_BLOCKS, _WHOLE, _COPY = 0, 1, 2
#: The geometry of a stored chunk whose Fletcher32 checksum does not match.
_BAD = "bad checksum"


def _geom(st: _FileState, mv: memoryview, off: int, size: int, tail: int,
          cs: tuple[int, ...], row_bytes: int) -> _Geom | None:
    """The geometry of the stored chunk at ``off`` (cached); None: PyTables reads it."""
    g = st.geoms.get((off, size), False)
    if g is not False:
        return g
    if tail and not _FLETCHER32[1](mv[off : off + size]):  # type: ignore[index]
        g = _BAD
    else:
        try:
            g = _parse(mv, off, size - tail, cs, row_bytes)
        except (ValueError, TypeError, IndexError, KeyError, msgpack.UnpackException):
            g = None
    if len(st.geoms) >= _MAX_GEOMS:
        st.geoms.clear()
    st.geoms[(off, size)] = g
    return g


def _parse(mv: memoryview, off: int, size: int, cs: tuple[int, ...], row_bytes: int) -> _Geom | None:
    raw = mv[off : off + size]
    if size < 64 or bytes(raw[2:9]) != b"b2frame" or raw[10] != 0xD2:
        return None
    h = frame_header_len(raw)
    if not 16 <= h <= size - 32:
        return None
    head = msgpack.unpackb(bytes(raw[:h]), raw=True, strict_map_key=False)
    c = bytes(raw[h : h + 32])
    nbytes = int.from_bytes(c[4:8], "little")
    blocksize = int.from_bytes(c[8:12], "little")
    cbytes = int.from_bytes(c[12:16], "little")
    if cbytes > size - h or blocksize <= 0 or c[2] & 0x05 != 0x05:
        return None  # not one Blosc2 chunk with an extended header
    rows = _block_rows_of(head, cs, row_bytes, nbytes, blocksize)
    if rows is None:
        return None
    start = off + h
    key = c[0:4] + c[8:12] + c[16:32]
    flags2 = c[30] | (c[31] & 0xFD)  # VL blocks, dictionary, special value, lazy...
    if c[2] & 0x02:
        return _Geom(start, cbytes, nbytes, blocksize, rows, _COPY, key, None, None)
    if flags2:
        return _Geom(start, cbytes, nbytes, blocksize, rows, _WHOLE, key, None, None)
    nblocks = -(-nbytes // blocksize)
    bst = np.frombuffer(raw, "<i4", nblocks, h + 32).astype(np.int64)
    order = np.argsort(bst, kind="stable")
    ends = np.empty(nblocks, np.int64)
    ends[order[:-1]] = bst[order[1:]]
    ends[order[-1]] = cbytes
    if bst.min() < 32 + 4 * nblocks or (ends - bst).min() <= 0:
        return None
    # Python ints: a read takes a few of them at a time.
    return _Geom(start, cbytes, nbytes, blocksize, rows, _BLOCKS, key, (bst + start).tolist(),
                 (ends - bst).tolist())


def rows_blocked(raw: Any, cs: tuple[int, ...]) -> bool:
    """True unless the frame ``raw``'s ``b2nd`` metalayer says its blocks are
    N-d boxes (PyTables' choice for N-d chunks), whose rows are then not
    contiguous in the decoded chunk.

    Examples
    --------
    >>> import blosc2, numpy as np
    >>> a = np.zeros((4, 64, 512))
    >>> rows_blocked(blosc2.asarray(a, chunks=a.shape, blocks=(4, 64, 128)).to_cframe(), a.shape)
    False
    >>> rows_blocked(blosc2.asarray(a, chunks=a.shape, blocks=(1, 64, 512)).to_cframe(), a.shape)
    True
    """
    try:
        h = frame_header_len(raw)
        head = msgpack.unpackb(bytes(raw[:h]), raw=True, strict_map_key=False)
        metas = head[-1][1] if isinstance(head[-1], list) and len(head[-1]) >= 3 else {}
        if b"b2nd" not in metas:
            return True
        b2 = msgpack.unpackb(head[-1][2][list(metas).index(b"b2nd")], raw=True)
        return tuple(b2[4])[1:] == tuple(cs)[1:]
    except (ValueError, TypeError, IndexError, KeyError, msgpack.UnpackException):
        return False


def _block_rows_of(head: list, cs: tuple[int, ...], row_bytes: int, nbytes: int,
                   blocksize: int) -> int | None:
    """Chunk rows per block when every block is a run of whole chunk rows."""
    metas = head[-1][1] if isinstance(head[-1], list) and len(head[-1]) >= 3 else {}
    if b"b2nd" in metas:
        i = list(metas).index(b"b2nd")
        b2 = msgpack.unpackb(head[-1][2][i], raw=True)
        shape, chunks, blocks = tuple(b2[2]), tuple(b2[3]), tuple(b2[4])
        if shape != cs or chunks != cs or blocks[1:] != cs[1:]:
            return None  # N-d blocks: rows are not contiguous in the decoded chunk
        rows = int(blocks[0])
        if nbytes != -(-cs[0] // rows) * rows * row_bytes or blocksize != rows * row_bytes:
            return None
        return rows
    # A plain frame: the chunk's bytes in C order, in blocks of ``blocksize``.
    if nbytes != cs[0] * row_bytes or blocksize % row_bytes:
        return None
    return blocksize // row_bytes


# =================================================================== reading
def read(node: Any, shape: tuple[int, ...], cs: tuple[int, ...], fill: Any, sel: Selection,
         dtype: np.dtype, fallback: Callable[[Selection], np.ndarray],
         out: np.ndarray | None = None) -> np.ndarray | None:
    """Read ``sel`` (stored ``dtype``) of a Blosc2 node through the file's map.

    None when this node cannot be read so (no map, checksums without a
    verifier): the caller reads it its own way (and ``out`` is untouched).
    Chunks this module cannot decode go to ``fallback(sel)`` (PyTables),
    missing chunks are ``fill``. ``out``: an array of ``dtype`` and the
    selection's shape to decode into (returned), instead of a new one.
    Called without the lock held.
    """
    st = _state(node)
    tail = _checksum_bytes(node)
    if st.map is None or tail is None:
        return None
    s0 = sel[0]
    if (out is None and type(s0) is slice and s0.stop - s0.start == 1 and len(sel) == len(cs)
            and all(type(k) is slice for k in sel[1:])
            and all(c >= n for c, n in zip(cs[1:], shape[1:]))):
        row = _one_row(node, st, s0.start, cs, tail, dtype)
        if row is not None:
            return row[(slice(0, 1),) + tuple(sel[1:])].copy()
    if out is None:
        out = np.empty(selection_shape(sel), dtype=dtype)
    if out.size == 0:
        return out
    combos = project(sel, cs)  # the core's one chunk projection
    path = node._v_pathname
    index = st.index.get(path)
    if index is None:
        index = st.index[path] = {}
    todo = [cs_ for cs_ in {tuple(p[0] * c for p, c in zip(combo, cs)) for combo in combos}
            if cs_ not in index]
    if todo:
        with HDF5_LOCK:
            for coords in todo:
                info = chunk_info(node, coords)  # checked: issue 14's index flips
                index[coords] = (info.offset, info.size, info.filter_mask)
    row_bytes = dtype.itemsize * math.prod(cs[1:])
    batch = _Batch(out, cs, dtype, row_bytes)
    # The span of the map this read touched, and about how many of its bytes
    # (see _FileState.touched: a random row does not give its chunk's header
    # pages back on every read).
    lo, hi, touched = math.inf, 0, 0
    for combo in combos:
        ks = tuple(p[0] for p in combo)
        dst = tuple(p[2] for p in combo)
        off, size, mask = index[tuple(k * c for k, c in zip(ks, cs))]
        if off is None:  # never written: HDF5's fill value
            out[dst] = fill
            continue
        lo, hi = min(lo, off), max(hi, off + size)
        mv = st.map.get(off + size) if not mask else None
        g = _geom(st, mv, off, size, tail, cs, row_bytes) if mv is not None else None
        if g is None or g is _BAD:
            out[dst] = _fall_back(node, fallback, combo, ks, cs, g is _BAD)
            continue
        local = combo[0][1]
        r = np.arange(local.start, local.stop, local.step) if isinstance(local, slice) else local
        if g.mode == _BLOCKS:
            blocks = _blocks_of(local, r, g.rows)
            if len(blocks) * g.blocksize < g.nbytes:
                batch.add(g, mv, blocks, r, combo, dst)
                touched += g.cbytes * len(blocks) * g.blocksize // g.nbytes
                continue
        batch.whole(g, mv, r, combo, dst)
        touched += g.cbytes
    batch.run()
    if touched:
        st.touched(lo, hi, touched)
    return out


def _blocks_of(local: Any, r: np.ndarray, rows: int) -> np.ndarray:
    """The sorted distinct blocks (of ``rows`` chunk rows) holding rows ``r``
    (``local``: the same rows as a slice or an array)."""
    if isinstance(local, slice) and local.step <= rows:
        return np.arange(local.start // rows, (int(r[-1]) // rows) + 1)  # every block of the span
    b = r // rows
    if len(b) > 1:
        # Sorted keys (most fancy keys and every mask): distinct by one pass, no sort.
        step = b[1:] != b[:-1]
        if (b[1:] >= b[:-1]).all():
            return b[np.concatenate(([True], step))]
        return np.unique(b)
    return b


def _one_row(node: Any, st: _FileState, r: int, cs: tuple[int, ...], tail: int,
             dtype: np.dtype) -> np.ndarray | None:
    """Row ``r`` (shape ``(1,) + cs[1:]``, a view of this thread's scratch)
    of a node one chunk wide, by decoding its one block; None: take the
    general path (a missing chunk, a chunk not read by blocks, or its short
    last block).

    A random ``x[i]``: no chunk projection, no batch, one synthetic Blosc2
    chunk of one block whose header is kept per chunk layout.
    """
    c0 = cs[0]
    coords = (r - r % c0,) + (0,) * (len(cs) - 1)
    index = st.index.get(node._v_pathname)
    hit = None if index is None else index.get(coords)
    if hit is None or hit[0] is None or hit[2]:
        return None
    off, size, _ = hit
    mv = st.map.get(off + size)
    if mv is None:
        return None
    row_bytes = dtype.itemsize * math.prod(cs[1:])
    g = _geom(st, mv, off, size, tail, cs, row_bytes)
    if g is None or g is _BAD or g.mode != _BLOCKS:
        return None
    b = (r % c0) // g.rows
    if (b + 1) * g.blocksize > g.nbytes:
        return None  # the short last block decodes with its chunk
    a, n = g.bstarts[b], g.blens[b]
    head = _ONE_HEADS.get(g.key)
    if head is None:
        k = g.key
        head = _ONE_HEADS[g.key] = (k[0:4] + g.blocksize.to_bytes(4, "little") + k[4:8],
                                    k[8:24] + (36).to_bytes(4, "little"))
    buf = D.scratch(g.blocksize)
    D.decode(b"".join((head[0], (36 + n).to_bytes(4, "little"), head[1], mv[a : a + n])), buf)
    st.touched(off, a + n, n)
    j = (r % c0) % g.rows
    return buf.view(dtype).reshape((g.rows,) + cs[1:])[j : j + 1]


#: Per chunk layout (:attr:`_Geom.key`): the header of a one-block chunk, in
#: two parts around its compressed size.
_ONE_HEADS: dict[bytes, tuple[bytes, bytes]] = {}


def _fall_back(node: Any, fallback: Callable[[Selection], np.ndarray], combo: tuple,
               ks: tuple[int, ...], cs: tuple[int, ...], bad: bool) -> np.ndarray:
    """One chunk's part of a read through ``fallback`` (PyTables).

    ``bad``: its Fletcher32 checksum did not match here. HDF5's own pipeline
    then decides (a file written by other software may keep the checksum
    elsewhere); if it cannot read the chunk either, the error names the chunk.
    """
    try:
        return fallback(tuple(_shift(p[1], -k * c) for p, k, c in zip(combo, ks, cs)))
    except StorageError as exc:
        if not bad:
            raise
        # Here, not at the top: _checksum installs its verifier by importing this module.
        from lazyarr.backends._checksum import corrupt_chunk

        raise corrupt_chunk(node, tuple(k * c for k, c in zip(ks, cs)),
                            f"its Fletcher32 checksum does not match ({exc})") from exc


def _shift(local: Any, by: int) -> Any:
    if isinstance(local, slice):
        return slice(local.start - by, local.stop - by, local.step)
    return local - by


class _Batch:
    """The needed blocks of many chunks, decoded together and scattered."""

    def __init__(self, out: np.ndarray, cs: tuple[int, ...], dtype: np.dtype, row_bytes: int) -> None:
        self.out, self.cs, self.dtype, self.row_bytes = out, cs, dtype, row_bytes
        self.groups: dict[bytes, list] = {}
        self.nbytes: dict[bytes, int] = {}
        #: Whole chunks that decode straight into the output: (source, destination).
        self.straight: list[tuple[Any, np.ndarray]] = []

    def add(self, g: _Geom, mv: memoryview, blocks: np.ndarray, r: np.ndarray, combo: tuple,
            dst: tuple) -> None:
        nb = g.nbytes // g.blocksize
        if blocks[-1] == nb - 1 and g.nbytes % g.blocksize:
            self.whole(g, mv, r, combo, dst)  # a short last block decodes with its chunk
            return
        jobs = self.groups.setdefault(g.key, [])
        jobs.append((g, mv, blocks, r, combo, dst))
        self.nbytes[g.key] = self.nbytes.get(g.key, 0) + len(blocks) * g.blocksize
        if self.nbytes[g.key] >= BATCH_BYTES:
            self._decode(g.key)

    def whole(self, g: _Geom, mv: memoryview, r: np.ndarray, combo: tuple, dst: tuple) -> None:
        """Decode one chunk whole (straight into the output when it is all of it)."""
        ext = (g.nbytes // self.row_bytes,) + self.cs[1:]
        if g.mode == _COPY:
            buf = np.frombuffer(mv, self.dtype, g.nbytes // self.dtype.itemsize, g.start + 32)
            self._scatter(buf.reshape(ext), r, combo, dst)
            return
        part = self.out[dst]
        src = mv[g.start : g.start + g.cbytes]
        if (ext == part.shape and part.flags.c_contiguous and len(r) == ext[0]
                and all(isinstance(p[1], slice) and p[1].step == 1 for p in combo)):
            self.straight.append((src, part))  # decoded by run(), on every core
            return
        buf = D.scratch(g.nbytes)
        D.decode(src, buf)
        self._scatter(buf.view(self.dtype).reshape(ext), r, combo, dst)

    def _scatter(self, rows: np.ndarray, r: np.ndarray, combo: tuple, dst: tuple) -> None:
        parts = [r] + [p[1] for p in combo[1:]]
        self.out[dst] = rows[orthogonal_key(parts, list(rows.shape))]

    def run(self) -> None:
        jobs, self.straight = self.straight, []
        D.decode_all(jobs)
        for key in list(self.groups):
            self._decode(key)

    def _decode(self, key: bytes) -> None:
        jobs = self.groups.pop(key)
        self.nbytes.pop(key, None)
        g0 = jobs[0][0]
        # The map may have grown during the read: the last view covers all.
        mv = max((j[1] for j in jobs), key=len)
        parts: list[Any] = [b"", b""]
        offsets: list[int] = []
        at = 0
        for g, _, blocks, _, _, _ in jobs:
            bs, bl = g.bstarts, g.blens
            for b in blocks.tolist():
                a, n = bs[b], bl[b]
                parts.append(mv[a : a + n])
                offsets.append(at)
                at += n
        k = len(offsets)
        head = 32 + 4 * k
        c = bytearray(mv[g0.start : g0.start + 32])
        c[4:8] = (k * g0.blocksize).to_bytes(4, "little")
        c[12:16] = (head + at).to_bytes(4, "little")
        parts[0] = c
        parts[1] = (np.asarray(offsets, "<i4") + head).tobytes()
        dec = D.scratch(k * g0.blocksize)
        D.decode(b"".join(parts), dec)
        rows = dec.view(self.dtype).reshape((k * g0.rows,) + self.cs[1:])
        j0 = 0
        for g, _, blocks, r, combo, dst in jobs:
            if len(blocks) == 1:
                at_rows = j0 * g.rows + r % g.rows
            else:
                at_rows = (j0 + np.searchsorted(blocks, r // g.rows)) * g.rows + r % g.rows
            self._scatter(rows, at_rows, combo, dst)
            j0 += len(blocks)
