"""Blosc2 chunks compressed by lazyarr at codec speed, and buffered appends.

PyTables compresses through its ``blosc2`` HDF5 filter on one thread
(measured 5x slower than the codec). :func:`write_rows` compresses whole
chunks with ``blosc2.compress2`` on every core and stores the frames with
``node.write_chunk``: the frames are byte for byte what ``blosc2.asarray``
makes (the header differs only in its two size fields, patched here), so
PyTables and h5py + hdf5plugin read them like their own. Blocks are runs of
whole chunk rows of about :data:`BLOCK_BYTES`, which the block reader
(:mod:`lazyarr.backends._b2blocks`) decodes one at a time.

Rows appended after the last whole chunk wait in a per-node tail
(:func:`append`, :func:`append_small`, and the one-row fast path
:func:`putter`) until the chunk fills, or the node is read, written, flushed
or closed (:func:`flush_tail`; closing and flushing through lazyarr call it
for every node of the file). A chunk that fills one append at a time is
compressed on another core while the appends go on (:func:`_fly`), and
stored at the node's next append that writes, read, flush or close
(:func:`_land`).

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "w.h5")
>>> with la.open(path, "w") as store:
...     x = store.create_array("x", np.zeros((0, 3)), chunks=(4, 3))
...     for i in range(6):
...         x.append(np.full((1, 3), i))
...     x[:, 0]
array([0., 1., 2., 3., 4., 5.])
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from typing import Any, Callable, NamedTuple

from dataclasses import replace as dataclass_replace

import blosc2
import numpy as np

from lazyarr.backends import _b2blocks, _b2decode
from lazyarr.backends._hdf5 import BEFORE_FLUSH, HDF5_LOCK

__all__ = ["BLOCK_BYTES", "block_rows", "writer", "encode", "write_rows", "append", "append_small",
           "tail", "putter", "flush_tail", "pending", "drop_tail", "unsynced"]

#: Bytes per Blosc2 block of the chunks lazyarr writes (see the README's
#: "Why Blosc2 blocks of 32 KiB": 16-128 KiB measured; 32 KiB keeps the
#: full-read speed of larger blocks, costs 1.5 % of ratio, and halves a
#: random row's decode against PyTables' default 128 KiB).
BLOCK_BYTES = 32 * 1024

_CODECS = {"blosclz": blosc2.Codec.BLOSCLZ, "lz4": blosc2.Codec.LZ4, "lz4hc": blosc2.Codec.LZ4HC,
           "zlib": blosc2.Codec.ZLIB, "zstd": blosc2.Codec.ZSTD}


def block_rows(chunks: tuple[int, ...], itemsize: int) -> int:
    """Chunk rows per Blosc2 block: about :data:`BLOCK_BYTES`, at least one row.

    Examples
    --------
    >>> block_rows((4096, 64), 4), block_rows((10, 100000), 8), block_rows((7, 3), 8)
    (128, 1, 7)
    >>> block_rows((43690, 6), 4), block_rows((4099, 64), 4)
    (1285, 128)
    """
    row = itemsize * int(np.prod(chunks[1:], dtype=np.int64))
    want = int(max(1, min(chunks[0], BLOCK_BYTES // max(1, row))))
    # A divisor of the chunk's rows if one is near: no padding, and readers
    # that expect unpadded chunks (lazyarr's read_chunk path) decode them.
    for r in range(want, max(1, want // 2) - 1, -1):
        if chunks[0] % r == 0:
            return r
    return want


class Writer(NamedTuple):
    """How one node's chunks are encoded (see :func:`writer`)."""

    chunks: tuple[int, ...]
    dtype: np.dtype
    rows: int            # chunk rows per block
    ext_rows: int        # chunk rows padded to whole blocks
    cparams: Any
    head: bytes          # frame header of a template frame
    tail: bytes          # its offsets chunk and trailer
    copy_cparams: Any    # cparams storing a chunk uncompressed (see encode's ``fixed``)
    checksum: Callable[[bytes], bytes] | None = None  # Fletcher32 bytes of a frame
    # _b2decode.Encoding writes cparams' chunks byte for byte as blosc2 does
    # on one thread, outside the GIL (checked on this writer's sample
    # chunks): chunks may fly (see _fly).
    flies: bool = False


def writer(node: Any) -> Writer | None:
    """The encoder for ``node``'s chunks, or None when PyTables must write them.

    Only PyTables' ``blosc2`` filter with nothing after it, stored in native
    byte order (what PyTables' own Blosc2 path requires too). Caller holds
    the lock.
    """
    if node._v_file.params.get("DRIVER") not in (None, "H5FD_SEC2"):
        # PyTables' own Blosc2 reads take chunks from the file on disk, which
        # the core driver writes only at close: let PyTables write (and keep
        # its chunk cache in step) there.
        return None
    cached = getattr(node, "_lazyarr_b2writer", False)
    if cached is not False:
        return cached
    w = _writer_for(node)
    node._lazyarr_b2writer = w  # a node's filters and layout never change
    return w


def _writer_for(node: Any) -> Writer | None:
    f = node.filters
    lib = (f.complib or "").split(":")
    checksum = _b2blocks.checksum_maker() if f.fletcher32 else None
    if (node.chunkshape is None or not f.complevel or lib[0] != "blosc2"
            or (f.fletcher32 and checksum is None) or f.bitshuffle or f.least_significant_digit is not None):
        return None
    dt = node.atom.dtype
    if node.byteorder not in ("irrelevant", sys.byteorder) or dt.itemsize > 255:
        return None
    codec = _CODECS.get(lib[1] if len(lib) > 1 else "blosclz")
    if codec is None:
        return None
    w = _writer(tuple(node.chunkshape), dt.str, codec, int(f.complevel), bool(f.shuffle))
    # Fletcher32 (HDF5's filter after Blosc2): 4 checksum bytes after each frame.
    return w._replace(checksum=checksum) if checksum is not None else w


_WRITERS: dict[tuple, Writer] = {}


def _writer(cs: tuple[int, ...], dts: str, codec: Any, level: int, shuffle: bool) -> Writer:
    key = (cs, dts, codec, level, shuffle, BLOCK_BYTES, _b2blocks.threads())
    w = _WRITERS.get(key)
    if w is not None:
        return w
    dt = np.dtype(dts)
    rows = block_rows(cs, dt.itemsize)
    cp = blosc2.CParams(codec=codec, clevel=level, typesize=dt.itemsize,
                        filters=[blosc2.Filter.SHUFFLE if shuffle else blosc2.Filter.NOFILTER],
                        splitmode=blosc2.SplitMode.FORWARD_COMPAT_SPLIT,
                        blocksize=rows * dt.itemsize * int(np.prod(cs[1:], dtype=np.int64)),
                        nthreads=_b2blocks.threads())
    # A template frame made by blosc2 itself (varied bytes: no special chunk).
    n = int(np.prod(cs, dtype=np.int64)) * dt.itemsize
    sample = np.frombuffer(np.random.default_rng(0).bytes(n), f"V{dt.itemsize}").reshape(cs)
    frame = blosc2.asarray(sample, chunks=cs, blocks=(rows,) + cs[1:], cparams=cp).to_cframe()
    h = _b2blocks.frame_header_len(frame)
    cbytes = int.from_bytes(frame[h + 12 : h + 16], "little")
    # The two fields encode() patches: msgpack uint64 and int64 markers.
    assert frame[15] == 0xCF and frame[38] == 0xD3 and int.from_bytes(frame[39:47], "big") == cbytes
    w = Writer(cs, dt, rows, -(-cs[0] // rows) * rows, cp, bytes(frame[:h]),
               bytes(frame[h + cbytes :]), dataclass_replace(cp, clevel=0),
               flies=all(_b2decode.encodes_like(cp, s) for s in (
                   sample.view(np.uint8),  # (incompressible: stored as is)
                   (np.arange(n, dtype=np.int64) // 97 % 251).astype(np.uint8))))
    _WRITERS[key] = w
    return w


def encode(w: Writer, rows: np.ndarray, fixed: bool = False) -> bytes:
    """One stored chunk (a Blosc2 frame) holding ``rows`` (at most a chunk's rows).

    ``fixed``: the Blosc2 chunk stored uncompressed, so that the frame's
    length depends on the chunk's shape only (see :func:`flush_tail`).
    """
    if rows.shape == (w.ext_rows,) + w.chunks[1:] and rows.flags.c_contiguous:
        buf = rows
    else:
        buf = np.zeros((w.ext_rows,) + w.chunks[1:], dtype=w.dtype)
        buf[tuple(slice(0, k) for k in rows.shape)] = rows
    return _frame(w, blosc2.compress2(buf, cparams=w.copy_cparams if fixed else w.cparams))


def _frame(w: Writer, chunk: bytes | memoryview) -> bytes:
    """The stored frame of one compressed Blosc2 chunk (see :func:`encode`)."""
    size = len(w.head) + len(chunk) + len(w.tail)
    head = w.head
    # The frame header's two size fields (msgpack uint64 frame size, int64
    # compressed bytes of its one chunk; big-endian); the rest is fixed.
    frame = b"".join((head[:16], size.to_bytes(8, "big"), head[24:39],
                      len(chunk).to_bytes(8, "big"), head[47:], chunk, w.tail))
    return frame if w.checksum is None else frame + w.checksum(frame)


def write_rows(node: Any, w: Writer, start: int, rows: np.ndarray, fixed: bool = False) -> None:
    """Store ``rows`` at chunk-aligned row ``start``, whole chunks at a time.

    The node must already be long enough (``truncate``); the last chunk is
    padded. ``fixed``: see :func:`encode`. Caller holds the lock.
    """
    c0 = w.chunks[0]
    assert start % c0 == 0
    trailing = [range(0, n, c) for n, c in zip(rows.shape[1:], w.chunks[1:])]
    for i in range(0, len(rows), c0):
        part = rows[i : i + c0]
        for corner in _corners(trailing):
            sub = part[(slice(None),) + tuple(slice(a, a + c) for a, c in zip(corner, w.chunks[1:]))]
            node.write_chunk((start + i,) + corner, encode(w, np.ascontiguousarray(sub, w.dtype), fixed))


#: Rows of one bulk append converted and compressed at a time (bounds the copy).
_STEP_BYTES = 16 * 2**20


#: Per open ``tables.File``: node path -> its tail.
_TAILS: "weakref.WeakKeyDictionary[Any, dict[str, _Tail]]" = weakref.WeakKeyDictionary()
_TAILS_LOCK = threading.Lock()


def _forget_after_fork() -> None:
    # The child writes nothing of the parent's buffered rows (nor could it),
    # nor waits for the chunks the parent's threads compress (see _fly).
    global _TAILS, _TAILS_LOCK
    for tails in list(_TAILS.values()):
        for t in tails.values():
            t.live = False  # (a backend's cached tail, see put)
            t.flight = None
    _TAILS_LOCK = threading.Lock()
    _TAILS = weakref.WeakKeyDictionary()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _tails(f: Any, create: bool = False) -> dict[str, "_Tail"] | None:
    with _TAILS_LOCK:
        t = _TAILS.get(f)
        if t is None and create:
            t = _TAILS[f] = {}
        return t


class _Tail:
    """Rows appended after the node's last whole chunk, kept here until that
    chunk fills or the node is read, written to, flushed or closed: a
    one-row append then copies one row instead of re-encoding a chunk.

    Rows ``start : start + n`` are in ``buf``; the node's extent in HDF5 is
    ``start + ext`` rows (``ext <= n``): one-row appends do not grow it
    (``truncate`` is an HDF5 call, the most of such an append's time), the
    array's shape counts them (:func:`unsynced`), and :func:`_sync` grows
    the extent before anything else looks at the node.
    """

    __slots__ = ("w", "start", "n", "ext", "buf", "dirty", "fixed", "live", "c0", "row_bytes",
                 "bytes", "pending", "filled", "flight")

    def __init__(self, w: Writer, start: int, buf: np.ndarray, n: int) -> None:
        self.w, self.start, self.buf, self.n, self.ext, self.dirty = w, start, buf, n, n, False
        #: Still the node's tail (False once replaced, dropped, or in a
        #: forked child): a backend may hold on to it (see :func:`putter`).
        self.live = True
        self.c0 = w.chunks[0]
        self.row_bytes = int(np.prod(buf.shape[1:], dtype=np.int64)) * buf.dtype.itemsize
        self.bytes = memoryview(buf).cast("B")  # buf's bytes (C-contiguous: made by np.empty)
        #: Rows ``filled : n`` of ``buf`` wait here as bytes (see :func:`putter`)
        #: until :func:`_settle` copies them in.
        self.pending: list[bytes] = []
        self.filled = n
        #: The chunk at ``start`` is in the file (a partial chunk of an
        #: earlier flush): every later write of it keeps its length.
        self.fixed = n > 0
        #: The full chunk before ``start`` while another thread compresses
        #: it: ``(its compression, its first row, its rows)`` (see :func:`_fly`).
        self.flight: tuple[_b2decode.Encoding, int, np.ndarray] | None = None


def _fly(t: _Tail) -> bool:
    """Start compressing ``t``'s full chunk (rows ``start : start + c0``) on
    a thread of its own and give the tail an empty buffer; False (nothing
    done) when chunks cannot fly here. Caller holds the lock; ``t`` has no
    flight.

    The one-row append's chunk: its appender's thread holds the GIL nearly
    all the time, and compressing each chunk (a third of the appends' time,
    measured) runs meanwhile on another core, outside the GIL
    (:class:`lazyarr.backends._b2decode.Encoding`). Memory: one chunk more
    per node. The rows are no less safe: like the tail's, they reach the
    file by the next flush (:func:`_land`). Only chunks that span whole
    rows and are not ``fixed`` (those are stored uncompressed, see
    :func:`flush_tail`), and not in a forked child (see
    :func:`lazyarr.backends._b2decode.releases_gil`).
    """
    w = t.w
    if not w.flies or t.fixed or t.buf.shape[1:] != w.chunks[1:] or not _b2decode.releases_gil():
        return False
    try:
        job = _b2decode.Encoding(w.cparams, t.buf)
    except (RuntimeError, MemoryError):  # (no thread or context to be had: in place, then)
        return False
    t.flight = (job, t.start, t.buf)
    t.buf = np.empty_like(t.buf)
    t.bytes = memoryview(t.buf).cast("B")
    return True


def _land(node: Any, t: _Tail) -> None:
    """Store ``t``'s flying chunk (see :func:`_fly`). Caller holds the lock.

    The flight stays until the chunk is in the file: a failed write (a full
    disk) loses no row, the next flush tries again. A node shortened behind
    lazyarr's back (PyTables' ``truncate``) keeps the chunk's rows it still
    holds; one shortened to before the chunk no longer has it.
    """
    if t.flight is None:
        return
    job, start, rows = t.flight
    if start < node.nrows:
        try:
            frame = _frame(t.w, job.result())
        except RuntimeError:  # (the thread's compression failed: again, here, to raise its error)
            frame = encode(t.w, rows)
        node.write_chunk((start,) + (0,) * (len(t.w.chunks) - 1), frame)
    t.flight = None
    _b2blocks.forget(node)


def _settle(t: _Tail) -> None:
    """Copy the rows :func:`putter` left as bytes into ``t.buf``. Caller holds the lock."""
    if t.pending:
        data = b"".join(t.pending)
        a = t.filled * t.row_bytes
        t.bytes[a : a + len(data)] = data
        t.pending.clear()
    t.filled = t.n


def _sync(node: Any, t: _Tail) -> None:
    """Grow ``node``'s extent over the tail's rows. Caller holds the lock."""
    if t.ext < t.n and node.nrows == t.start + t.ext:
        node.truncate(t.start + t.n)
        t.ext = t.n


def unsynced(node: Any) -> int:
    """Rows appended to ``node`` that its HDF5 extent does not count yet (no lock needed)."""
    tails = _TAILS.get(node._v_file)
    t = tails.get(node._v_pathname) if tails else None
    if t is None or t.n == t.ext or node.nrows != t.start + t.ext:
        return 0  # (the node changed behind lazyarr's back: the tail is stale)
    return t.n - t.ext


def append(node: Any, w: Writer, rows: np.ndarray) -> None:
    """Append ``rows`` (shape ``(k,) + node.shape[1:]``) through the node's tail.

    Whole chunks are encoded as soon as they fill; the node's length grows at
    once (``truncate``), its last partial chunk is written by
    :func:`flush_tail`. Caller holds the lock.
    """
    tails = _tails(node._v_file, create=True)
    path = node._v_pathname
    c0 = w.chunks[0]
    t = tails.get(path)
    if t is not None:
        _land(node, t)
        _settle(t)
        _sync(node, t)
    n0 = int(node.nrows)
    if t is None or t.w is not w or t.start + t.n != n0:
        t0 = n0 - n0 % c0
        buf = np.empty((c0,) + tuple(node.shape[1:]), w.dtype)
        if n0 > t0:
            buf[: n0 - t0] = node.read(t0, n0)
        if t is not None:
            t.live = False
        t = tails[path] = _Tail(w, t0, buf, n0 - t0)
    k = len(rows)
    node.truncate(n0 + k)
    i, wrote = 0, False
    if t.n:
        m = min(c0 - t.n, k)
        t.buf[t.n : t.n + m] = rows[:m]
        t.n, t.ext, i, t.dirty = t.n + m, t.n + m, m, True
        if t.n == c0:
            # The last rows of this append (one-row appends) fill the chunk:
            # compressed meanwhile (still dirty: flushes store it).
            flying = m == k and _fly(t)
            if not flying:
                write_rows(node, w, t.start, t.buf, t.fixed)
            t.start, t.n, t.ext, t.dirty, t.fixed = t.start + c0, 0, 0, flying, False
            wrote = not flying
    full = (k - i) // c0 * c0
    step = max(1, _STEP_BYTES // max(1, t.buf[:1].nbytes) // c0) * c0
    for a in range(i, i + full, step):
        b = min(a + step, i + full)
        write_rows(node, w, t.start, np.ascontiguousarray(rows[a:b], w.dtype))
        t.start, wrote = t.start + (b - a), True
    i += full
    if i < k:
        t.buf[: k - i] = rows[i:]
        t.n, t.ext, t.dirty = k - i, k - i, True
    t.filled = t.n
    if wrote:
        _b2blocks.forget(node)


def append_small(node: Any, rows: np.ndarray) -> bool:
    """Append ``rows`` into the node's tail if they fit without filling it.

    The one-row append: no encoding, no HDF5 call (the node's extent grows
    at :func:`_sync`). False (nothing done) when there is no tail yet, the
    rows do not fit or are not plainly appendable (:func:`append` and the
    caller's checks then decide). Caller holds the lock.
    """
    t = tail(node)
    if t is None or (rows.dtype != t.buf.dtype and (rows.dtype.hasobject
                                                    or not np.can_cast(rows.dtype, t.buf.dtype, "same_kind"))):
        return False
    return putter(t, node, cast=True)(rows)


def tail(node: Any) -> "_Tail | None":
    """``node``'s buffered tail, if it has one (no lock needed: a lookup)."""
    tails = _TAILS.get(node._v_file)
    return tails.get(node._v_pathname) if tails else None


def putter(t: _Tail, node: Any, ref: Any = None, path: str = "", cast: bool = False
           ) -> Callable[[np.ndarray], bool]:
    """A function of ``rows`` that appends them into tail ``t`` of ``node`` if
    it is still the node's tail and they fit without filling it, have its
    row shape and its dtype (or, with ``cast``, one the caller checked it
    can take); it returns False (nothing done) otherwise.

    It may be kept between appends (the one-row fast path of
    :meth:`lazyarr.backends.compressed.CompressedBackend.appender`):
    ``t.live`` says the tail was not replaced since. With ``ref`` (the
    :class:`lazyarr.files.FileRef` the appends go through) it also refuses
    once that ref has let go of its file handle (closed, or reopened), and
    records ``path`` for the next flush's commit record (``will_commit``)
    again after each flush. A closure over what it checks: it runs on every
    one-row append, and attribute lookups were most of that time.

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "p.h5")
    >>> with la.open(path, "w") as store:
    ...     x = store.create_array("x", np.zeros((0, 2), np.float32), chunks=(4, 2))
    ...     x.append(np.ones((1, 2), np.float32))
    ...     node = x.backend._node()
    ...     put = putter(tail(node), node)
    ...     put(np.full((1, 2), 2, np.float32)), put(np.ones((1, 2))), put(np.ones((1, 3), np.float32))
    ...     x[:]
    (True, False, False)
    array([[1., 1.],
           [2., 2.]], dtype=float32)
    """
    pending, lock = t.pending, HDF5_LOCK
    buf = t.buf  # (its dtype and row shape: a flight swaps the buffer itself)
    nd, c0, dt0, row_shape = buf.ndim, t.c0, buf.dtype, buf.shape[1:]
    one = (1,) + row_shape
    h = None if ref is None else ref._handle
    commits = None if h is None else h.commits

    def put(rows: np.ndarray) -> bool:
        nonlocal commits
        shape = rows.shape
        if shape == one:  # (one row: one comparison)
            k = 1
        elif len(shape) != nd or shape[1:] != row_shape or not shape[0]:
            return False
        else:
            k = shape[0]
        dt = rows.dtype
        same = dt is dt0 or dt == dt0
        if not (same or cast):
            return False
        lock.acquire()  # (not ``with``: half the cost)
        try:
            n = t.n
            if (not t.live or n + k >= c0 or (ref is not None and ref._handle is not h)
                    or not node._v_isopen
                    or t.start + t.ext != node.shape[0]):  # (the node changed behind lazyarr's back)
                return False
            if same:
                # Kept as bytes (C order, whatever the strides) until the
                # buffer is needed: a third of the time of copying one row
                # into the buffer.
                pending.append(rows.tobytes())
            else:
                _settle(t)
                t.buf[n : n + k] = rows
                t.filled = n + k
            t.n = n + k
            t.dirty = True
            if h is not None and h.commits is not commits:  # flushed since: the record is due again
                ref.will_commit(path)
                commits = h.commits
        finally:
            lock.release()
        return True

    return put


def flush_tail(node: Any, fixed: bool = True) -> None:
    """Write ``node``'s buffered partial chunk, if any. Caller holds the lock.

    ``fixed=False`` (an array created in one go) stores it compressed: a
    small array would otherwise be one padded, uncompressed chunk. Its first
    rewrite by a later append then changes its length once (the window the
    comment below describes, until the next flush).
    """
    tails = _tails(node._v_file)
    t = tails.get(node._v_pathname) if tails else None
    if t is not None and t.dirty:
        _land(node, t)
        _settle(t)
        _sync(node, t)
        # The tail's rows the node holds: all of them, unless PyTables' own
        # truncate shortened it behind lazyarr's back. Grown behind its back
        # (PyTables' own append, into this chunk): the rows PyTables wrote
        # after the tail's join it, as the file has them.
        end = int(node.nrows)
        keep = min(t.n, end - t.start)
        if end > t.start + t.n and t.n < t.c0:
            keep = min(t.c0, end - t.start)
            t.buf[t.n : keep] = node.read(t.start + t.n, t.start + keep)
        if keep > 0:
            # Uncompressed, so that this chunk keeps one length from now on.
            # HDF5 rewrites a chunk of unchanged length in place, in one
            # write; a chunk whose length changes has its old space freed and
            # reused at once (often by the new version itself, at the end of
            # the file), while the flushed chunk index still points there:
            # a kill before the next flush then lost every flushed row of
            # the chunk (measured: 5 kill -9 trials in 12).
            write_rows(node, t.w, t.start, t.buf[:keep], fixed)
            t.fixed = fixed
        t.dirty = False
        _b2blocks.forget(node)


def pending(node: Any) -> bool:
    """True when ``node`` has appended rows not yet in the file (no lock needed)."""
    tails = _TAILS.get(node._v_file)
    t = tails.get(node._v_pathname) if tails else None
    return t is not None and t.dirty


def drop_tail(node: Any) -> None:
    """Forget ``node``'s buffered rows (already flushed) before others write it."""
    tails = _tails(node._v_file)
    t = tails.pop(node._v_pathname, None) if tails else None
    if t is not None:
        _land(node, t)  # (none left after a flush_tail)
        t.live = False


def _flush_file(f: Any) -> None:
    tails = _tails(f)
    if not tails:
        return
    for path, t in list(tails.items()):
        if t.dirty:
            try:
                node = f.get_node(path)
            except LookupError:  # removed since (tables.NoSuchNodeError)
                tails.pop(path).live = False
                continue
            flush_tail(node)


BEFORE_FLUSH.append(_flush_file)


def _corners(trailing: list[range]) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = [()]
    for r in trailing:
        out = [c + (a,) for c in out for a in r]
    return out




