"""Cache policies: how reads reach a backend.

A policy object is a *specification* (picklable, compared by value); each
array it is applied to gets its own state from :meth:`CachePolicy.bind`.

* :class:`NoCache` — every read goes to the backend.
* :class:`SwapWindow` — a read-ahead window of whole leading-axis rows (whole
  items for ragged arrays) of at most ``nbytes``; reads inside it are served
  from memory, so sequential minibatches cost one backend read per window.
* :class:`InMemory` — the file is opened with HDF5's core driver (the whole
  file in RAM; :mod:`lazyarr.files` does that); reads then never touch the disk.

Every policy state wraps one reader interface, :class:`BoundCache`:
``read(sel)`` (an orthogonal selection), ``read_plan(plan)`` (a box
:class:`~lazyarr.core.plan.ReadPlan`, post-key applied: a window applies it
to its buffer in one gather), and for backends that take NumPy keys
``getitem(key)`` / ``setitem(key, value)``. The ragged item window lives in
:mod:`lazyarr.ragged`.

Examples
--------
>>> import numpy as np, lazyarr as la
>>> a = np.arange(40.0).reshape(10, 4)
>>> x = la.LazyArray(la.backends.MemoryBackend(a), cache=la.SwapWindow(4 * 32))
>>> x[0:2], x[2:4, ::-1][0]
(array([[0., 1., 2., 3.],
       [4., 5., 6., 7.]]), array([11., 10.,  9.,  8.]))
>>> x.cache_stats
{'hits': 1, 'misses': 1, 'backend_reads': 1, 'bytes_read': 128}
"""

from __future__ import annotations

import operator
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from lazyarr.core.selection import (
    VIEW_TYPES,
    Selection,
    apply_orthogonal,
    entry_span,
    stack,
)
from lazyarr.core.support import IndexingSupport, read_by_steps, write_by_steps
from lazyarr.readahead import Fill as _Fill, stop_fills  # noqa: F401  (stop_fills: re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from lazyarr.core.plan import ReadPlan

#: ``a.nbytes`` without a Python frame per item (ragged reads return many).
_NBYTES = operator.attrgetter("nbytes")

__all__ = [
    "CachePolicy",
    "NoCache",
    "SwapWindow",
    "InMemory",
    "BoundCache",
    "stop_fills",
]


def _rebind(policy: "CachePolicy", backend: Any) -> "BoundCache":
    return policy.bind(backend)


#: Every live cache state, so that a forked child can renew their locks (a
#: lock another thread held at the fork would stay held in the child).
_LIVE: "weakref.WeakSet[BoundCache]" = weakref.WeakSet()


def _renew_locks() -> None:
    for bound in list(_LIVE):
        bound._renew_locks()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_locks)


class BoundCache:
    """Per-array cache state: what a policy became for one backend.

    This base class passes every read through and counts it. Reads may come
    from several threads at once (a thread pool, Dask's threaded
    scheduler): counters and windows are updated under locks, backend reads
    that bypass a window happen outside them.
    """

    def __init__(self, policy: "CachePolicy", backend: Any) -> None:
        self.policy = policy
        self.backend = backend
        #: The backend takes NumPy keys and nothing is cached: the read path
        #: hands user keys straight to :meth:`getitem`.
        support = getattr(backend, "support", IndexingSupport.ORTHOGONAL)
        self.direct = type(self) is BoundCache and support is IndexingSupport.NUMPY
        #: ``backend.read``, or for a backend that declares a level below
        #: ORTHOGONAL, the core's cut of each selection into calls of its level.
        self._read = getattr(backend, "read", None)  # ragged backends read items instead
        if support < IndexingSupport.ORTHOGONAL:
            def read(sel: Selection, _read=backend.read, _support=support) -> np.ndarray:
                return read_by_steps(_read, sel, _support, backend.cost, backend.dtype)

            self._read = read
        self._support = support
        # Counters per thread ([hits, misses, backend_reads, bytes_read, direct]),
        # summed when asked: a thread adds to its own list with no lock, which
        # a read of one element would feel.
        self._local = threading.local()
        self._counters: list[list[int]] = []
        self._renew_locks()
        _LIVE.add(self)

    def write(self, sel: Selection, value: np.ndarray) -> None:
        """Store ``value`` at ``sel`` in the backend (cut into calls of its level), then
        drop what this state holds of ``sel``."""
        write_by_steps(self.backend.write, sel, value, self._support)
        self.invalidate(sel)

    def _renew_locks(self) -> None:
        self._stats_lock = threading.Lock()
        #: Guards the state of subclasses that hold a window.
        self._lock = threading.Lock()

    def _mine(self) -> list[int]:
        try:
            return self._local.c
        except AttributeError:
            # hits, misses, backend_reads, bytes_read, and direct reads: one
            # count for a miss that is one backend read (the getitem closures).
            c = self._local.c = [0, 0, 0, 0, 0]
            with self._stats_lock:
                self._counters.append(c)
            return c

    @property
    def stats(self) -> dict[str, int]:
        """Counters of the reads so far: hits, misses, backend_reads, bytes_read."""
        with self._stats_lock:
            tot = [sum(col) for col in zip(*self._counters)] or [0, 0, 0, 0, 0]
        hits, misses, reads, nbytes, direct = tot
        return {"hits": hits, "misses": misses + direct, "backend_reads": reads + direct,
                "bytes_read": nbytes}

    def _count(self, hits: int = 0, misses: int = 0, reads: int = 0, nbytes: int = 0) -> None:
        try:
            c = self._local.c
        except AttributeError:
            c = self._mine()
        c[0] += hits
        c[1] += misses
        c[2] += reads
        c[3] += nbytes

    def _backend_read(self, sel: Selection) -> np.ndarray:
        block = self._read(sel)
        self._count(reads=1, nbytes=block.nbytes)
        return block

    def read(self, sel: Selection) -> np.ndarray:
        """Read ``sel`` from the backend (subclasses serve some reads from memory)."""
        block = self._read(sel)
        # One count for the miss and the read: single-row reads feel each lock.
        self._count(misses=1, reads=1, nbytes=block.nbytes)
        return block

    def read_plan(self, plan: "ReadPlan") -> Any:
        """The result of a box plan: its read, then its post-key."""
        return self.read(plan.reads[0])[plan.post_key]

    def getitem(self, key: Any) -> Any:
        """``array[key]`` of a backend that takes NumPy keys (see ``direct``)."""
        return self.direct_reader()(key)

    def direct_reader(self) -> Any:
        """The function that :meth:`getitem` is: ``fn(key)`` reads ``array[key]``.

        One closure per state, made on first use and kept as an instance
        attribute that shadows :meth:`getitem`: every attribute it needs is
        bound once, which a one-element read feels.
        """
        fn = self.__dict__.get("getitem")
        if fn is not None:
            return fn
        backend, local, mine = self.backend, self._local, self._mine
        take = backend.getitem

        def getitem(key: Any) -> Any:
            out = take(key)
            try:
                c = local.c
            except AttributeError:
                c = mine()
            c[4] += 1
            c[3] += out.nbytes
            return out

        def getitem_source(key: Any) -> Any:
            # An ndarray behind the backend (``numpy_source``, MemoryBackend):
            # its getitem inlined, to save the call into it (8-20 % of a
            # small read: x[::2, 0], x[3, 4], measured A/B).
            a, owner = backend.numpy_source
            out = a[key]
            if type(out) in VIEW_TYPES and out.base is owner:
                out = out.copy()
            try:
                c = local.c
            except AttributeError:
                c = mine()
            c[4] += 1
            c[3] += out.nbytes
            return out

        fn = getitem_source if hasattr(backend, "numpy_source") else getitem
        self.getitem = fn  # type: ignore[method-assign]
        return fn

    def setitem(self, key: Any, value: Any) -> None:
        """``array[key] = value`` of a backend that takes NumPy keys."""
        self.backend.setitem(key, value)

    def read_items(self, idx: np.ndarray) -> list[np.ndarray]:
        """Items ``idx`` (sorted, unique, committed) of a ragged backend."""
        self._count(misses=1)
        items = self.backend.read_items(idx)
        nbytes = getattr(items, "nbytes", None)  # (ragged_base.Items: summed by the backend)
        self._count(reads=1, nbytes=sum(map(_NBYTES, items)) if nbytes is None else nbytes)
        return items

    def invalidate(self, sel: Selection | None = None) -> None:
        """Forget cached rows touched by a write (all of them when ``sel`` is None)."""

    @property
    def nbytes_held(self) -> int:
        """Bytes of array data this state holds in memory."""
        return 0

    def __reduce__(self):
        # An unpickled array starts with fresh state (an empty window, zero
        # counters) rather than shipping a window of data with it.
        return (_rebind, (self.policy, self.backend))


class CachePolicy:
    """Base class of cache policies."""

    def bind(self, backend: Any) -> BoundCache:
        """Fresh cache state for one array."""
        raise NotImplementedError

    def _params(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._params() == other._params()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self._params().items()))))


class NoCache(CachePolicy):
    """Every read goes straight to the backend.

    Examples
    --------
    >>> import lazyarr as la
    >>> la.NoCache()
    NoCache()
    >>> la.NoCache() == la.NoCache()
    True
    """

    def bind(self, backend: Any) -> BoundCache:
        return BoundCache(self, backend)


# --------------------------------------------------------------------------
# SwapWindow
# --------------------------------------------------------------------------
def _shift0(s: slice | np.ndarray, lo: int) -> slice | np.ndarray:
    if isinstance(s, slice):
        return slice(s.start - lo, s.stop - lo, s.step)
    return s - lo


def _split0(s: slice | np.ndarray, at: int) -> tuple[slice | np.ndarray, slice | np.ndarray]:
    """Split an axis-0 entry into the rows before ``at`` and the rows from it."""
    if isinstance(s, slice):
        first = s.start + -(-(at - s.start) // s.step) * s.step  # first row >= at
        return slice(s.start, min(at, s.stop), s.step), slice(first, s.stop, s.step)
    cut = int(np.searchsorted(s, at))
    return s[:cut], s[cut:]


class SwapWindow(CachePolicy):
    """Keep a window of whole leading-axis rows of at most ``nbytes`` in memory.

    A read whose rows lie inside the window is served from memory, whatever
    the key; a miss that continues or repeats the previous read (or is the
    first read)
    loads a new window starting at the read (at the storage chunk it falls
    in, when the window holds at least one chunk), so sequential minibatches
    hit. A miss anywhere else is random access: it reads just what was asked,
    rather than ``nbytes`` per row requested. A read larger than the window goes straight
    to the backend. Writes and appends drop the rows they may have changed.
    For ragged arrays the window holds whole items.

    A window of at least two :data:`READ_AHEAD_BYTES` pieces over a backend
    whose reads decode outside the GIL (Blosc2 chunks, see
    ``CompressedBackend.reads_release_gil``) is filled front to back on a
    thread of its own, piece by piece, while the caller already reads the
    rows decoded so far: decoding the window overlaps the caller's use of
    it. The read-ahead is *inside* the window: it never holds more than the
    window's ``nbytes`` (the buffer is allocated whole, then filled), and
    never reads a row the window would not hold anyway. A write, a new
    window or a fork stops it first; a closed file ends it at its next piece.

    Parameters
    ----------
    nbytes : int
        Budget of the window in bytes (> 0). It must hold at least one row;
        binding to an array with larger rows raises ValueError.

    Examples
    --------
    >>> import numpy as np, lazyarr as la
    >>> la.SwapWindow(64 * 2**20)
    SwapWindow(nbytes=67108864)
    >>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(1000)), cache=la.SwapWindow(800))
    >>> batches = [x[i:i + 25] for i in range(0, 1000, 25)]
    >>> x.cache_stats["backend_reads"], x.cache_stats["hits"]
    (10, 30)
    >>> la.LazyArray(la.backends.MemoryBackend(np.zeros((2, 100))), cache=la.SwapWindow(64))
    Traceback (most recent call last):
    ...
    ValueError: SwapWindow(nbytes=64) is smaller than one row of this array (800 bytes)
    """

    def __init__(self, nbytes: int) -> None:
        if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)):
            raise TypeError(f"nbytes must be an int, got {type(nbytes).__name__}")
        if nbytes <= 0:
            raise ValueError(f"nbytes must be positive, got {nbytes}")
        self.nbytes = int(nbytes)

    def _params(self) -> dict:
        return {"nbytes": self.nbytes}

    def bind(self, backend: Any) -> BoundCache:
        if getattr(backend, "ragged", False):
            # Whole items, not rows: the ragged code's own window.
            from lazyarr.ragged import ItemWindow

            return ItemWindow(self, backend)
        if len(backend.shape) == 0:
            return BoundCache(self, backend)  # a 0-d array has no rows to window
        if getattr(backend, "mapped", False):
            # Its bytes are a memory map (a plain array): a window would only
            # copy what NumPy indexes on the map in place, so reads pass
            # straight through (issue 13: minibatches at NoCache's speed).
            return BoundCache(self, backend)
        return _RowWindow(self, backend)


#: Bytes of one piece of a window filled in the background (whole chunks,
#: at least one): the caller waits for the first piece of each window, and
#: the decoder idles while the caller reads the last one. 4 MiB: ~5 ms of
#: Zstd decoding here, 16 pieces in a 64 MB window.
READ_AHEAD_BYTES = 4 * 2**20


class _RowWindow(BoundCache):
    """SwapWindow state for one N-d array: rows ``[lo, hi)`` in ``buf``."""

    def __init__(self, policy: SwapWindow, backend: Any) -> None:
        super().__init__(policy, backend)
        dtype = np.dtype(backend.dtype)
        self.row_bytes = int(np.prod(backend.shape[1:], dtype=np.int64)) * dtype.itemsize
        if self.row_bytes > policy.nbytes:
            raise ValueError(
                f"{policy!r} is smaller than one row of this array ({self.row_bytes} bytes)"
            )
        # Rows of zero bytes (a trailing axis of length 0) cost nothing to hold.
        self.rows = policy.nbytes // self.row_bytes if self.row_bytes else 2**62
        chunks = getattr(backend, "chunks", None)
        self.chunk_rows = int(chunks[0]) if chunks and int(chunks[0]) > 0 else 1
        self.lo = self.hi = 0
        self.buf: np.ndarray | None = None
        #: The rows of the last read that bypassed the window, when they were
        #: whole rows: ``(block, lo, hi)``. A read inside them is a hit.
        self.kept: tuple[np.ndarray, int, int] | None = None
        # Where the previous read began and ended: a miss that continues or
        # repeats it (or the first read) loads a window; a miss elsewhere is
        # random access.
        self.last_start: int | None = None
        self.last_stop: int | None = None
        #: The background fill of ``buf`` (None: ``buf`` is complete).
        self.fill: _Fill | None = None
        # Rows per background piece: whole chunks of READ_AHEAD_BYTES.
        c = self.chunk_rows
        self._step = max(c, READ_AHEAD_BYTES // max(1, self.row_bytes) // c * c)

    def _renew_locks(self) -> None:
        super()._renew_locks()
        # In a forked child the fill's thread is gone: keep the rows it had decoded.
        fill = self.__dict__.get("fill")
        if fill is not None:
            self.fill = None
            self._keep_filled(fill.done)

    @property
    def nbytes_held(self) -> int:
        buf, kept = self.buf, self.kept
        return (0 if buf is None else buf.nbytes) + (0 if kept is None else kept[0].nbytes)

    def _window_for(self, r0: int, r1: int, n: int) -> tuple[int, int]:
        c = self.chunk_rows
        if self.rows >= c:
            # Whole chunks: no chunk is decoded for two windows.
            w = self.rows // c * c
            start = r0 // c * c
            if start + w >= r1:
                return start, min(n, start + w)
        return r0, min(n, r0 + self.rows)

    def _load(self, lo: int, hi: int) -> np.ndarray:
        """Make rows ``[lo, hi)`` the window (read now, or filled in the
        background: wait for the rows needed with :meth:`_have`). Caller
        holds the lock and has dropped the old window."""
        shape = tuple(int(m) for m in self.backend.shape)
        rest = tuple(slice(0, m, 1) for m in shape[1:])
        if hi - lo >= 2 * self._step and getattr(self.backend, "reads_release_gil", False):
            buf = np.empty((hi - lo,) + shape[1:], dtype=self.backend.dtype)
            self._count(reads=1, nbytes=buf.nbytes)
            be = self.backend
            self.fill = _Fill(be.read_into, buf, lo, rest, self._step, getattr(be, "fileref", None),
                              getattr(be, "read_threads", 1), getattr(be, "reader_scope", None))
        else:
            buf = self._backend_read((slice(lo, hi, 1),) + rest)
        self.buf, self.lo, self.hi = buf, lo, hi
        return buf

    def _have(self, r1: int) -> bool:
        """True once the window's rows up to ``r1`` are in its buffer (waits
        for a background fill); False: they never will be, and the window
        is dropped. Caller holds the lock."""
        fill = self.fill
        if fill is None or fill.wait(r1 - self.lo):
            return True
        self._drop_window()
        return False

    def _drop_window(self) -> None:
        """Forget the window (stopping its fill first). Caller holds the lock."""
        fill = self.fill
        if fill is not None:
            self.fill = None
            fill.stop()
        self.buf = None
        self.lo = self.hi = 0

    def _keep_filled(self, done: int) -> None:
        """Shrink the window to its first ``done`` rows (those a stopped fill decoded)."""
        if self.buf is None:
            return
        if done <= 0:
            self.buf = None
            self.lo = self.hi = 0
        elif done < self.hi - self.lo:
            self.buf = self.buf[:done]
            self.hi = self.lo + done

    def _stop_fill(self) -> None:
        """Stop a background fill, keeping the rows it decoded. Caller holds the lock."""
        fill = self.fill
        if fill is not None:
            self.fill = None
            self._keep_filled(fill.stop())

    def read(self, sel: Selection) -> np.ndarray:
        buf, lo = self._locate(sel)
        if lo is None:
            return buf
        return apply_orthogonal(buf, (_shift0(sel[0], lo),) + tuple(sel[1:]))

    def read_plan(self, plan: "ReadPlan") -> Any:
        if not plan.post_key:
            # The read is the result (x[i:j], x[i:j, a:b]: a minibatch). A
            # fifth of such a hit's time went to composing the general key
            # below and asking whether the result shares the window.
            return self.read(plan.reads[0])
        buf, lo = self._locate(plan.reads[0])
        if lo is None:
            return buf[plan.post_key]
        # One gather: the read and the post-key composed into one key on
        # the window, not a copy of the read and then a gather of that.
        out = buf[plan.buffer_key(lo)]
        if isinstance(out, np.ndarray) and out.base is not None and np.may_share_memory(out, buf):
            out = out.copy()  # never hand out a view into the window
        return out

    def _locate(self, sel: Selection) -> tuple[np.ndarray, int | None]:
        """``(window, lo)`` when ``sel`` now lies in the window buffer (rows
        from ``lo``), else ``(block, None)``: ``sel`` read by itself."""
        r0, r1 = entry_span(sel[0])
        if r1 - r0 > self.rows:
            self._count(misses=1)
            return self._backend_read(sel), None
        rest = tuple(sel[1:])
        # Check-and-load is atomic; a read that bypasses the window is made
        # after the lock is released, so random reads from many threads
        # do not queue behind each other here.
        with self._lock:
            buf = self.buf
            if buf is not None and self.lo <= r0 and r1 <= self.hi and self._have(r1):
                self._count(hits=1)
                self.last_start, self.last_stop = r0, r1
                return buf, self.lo
            buf = self.buf  # (None if the window's fill failed)
            kept = self.kept
            if kept is not None and kept[1] <= r0 and r1 <= kept[2]:
                self._count(hits=1)
                self.last_start, self.last_stop = r0, r1
                return kept[0], kept[1]
            if (buf is not None and self.lo <= r0 < self.hi < r1 and self._next_covers(r1)
                    and self._have(self.hi)):
                # The read runs off the end of the window: serve its head from
                # the window and read ahead from where the window ends, so a
                # sequence of reads costs one backend read per window of new
                # rows whatever the batch size.
                self._count(misses=1)
                self.last_start, self.last_stop = r0, r1
                lo, hi = self.lo, self.hi
                head_sel, tail_sel = _split0(sel[0], hi)
                head = apply_orthogonal(buf, (_shift0(head_sel, lo),) + rest)
                # The budget holds while the next window loads.
                self._drop_window()
                buf = self.kept = None
                n = int(self.backend.shape[0])
                buf = self._load(hi, min(n, hi + self._width()))
                if not self._have(r1):
                    return self._backend_read(sel), None  # its error, or its rows
                tail = apply_orthogonal(buf, (_shift0(tail_sel, hi),) + rest)
                return stack([head, tail], head.dtype), None
            buf = self.buf
            if self.last_stop is not None and r0 not in (self.last_start, self.last_stop):
                # Random access: reading a whole window per miss would move
                # ``nbytes`` for every row asked for. Read just the request
                # and keep the window for the sequential stream -- unless
                # the request is whole rows itself: then it becomes the
                # window (``x[-5:]`` after ``x[-100:]`` is a hit).
                self._count(misses=1)
                self.last_start, self.last_stop = r0, r1
            else:
                self._count(misses=1)
                self.last_start, self.last_stop = r0, r1
                lo, hi = self._window_for(r0, r1, int(self.backend.shape[0]))
                # Drop the old window (and kept rows) before reading the new
                # one: the budget holds while the backend reads, too.
                self._drop_window()
                self.kept = None
                buf = self._load(lo, hi)
                if self._have(r1):
                    return buf, lo
                return self._backend_read(sel), None  # its error, or its rows
        block = self._backend_read(sel)
        if self._whole_rows(sel):
            with self._lock:
                buf = self.buf
                if buf is None or buf.nbytes + block.nbytes <= self.policy.nbytes:
                    self.kept = (block, r0, r1)
                else:  # no room beside the window: the rows become the window
                    self.buf, self.lo, self.hi, self.kept = block, r0, r1, None
            return block, r0
        return block, None

    def _whole_rows(self, sel: Selection) -> bool:
        """True when ``sel`` is a run of whole rows (what a window holds)."""
        s0 = sel[0]
        if not isinstance(s0, slice) or s0.step != 1:
            return False
        shape = self.backend.shape
        for s, n in zip(sel[1:], shape[1:]):
            if not isinstance(s, slice) or s.step != 1 or s.start != 0 or s.stop != n:
                return False
        return True

    def _width(self) -> int:
        """Rows of a window: whole chunks when it holds at least one."""
        c = self.chunk_rows
        return self.rows // c * c if self.rows >= c else self.rows

    def _next_covers(self, r1: int) -> bool:
        return r1 <= self.hi + self._width()

    def write(self, sel: Selection, value: np.ndarray) -> None:
        """Stop a background fill (a chunk must not change under its read), then write."""
        with self._lock:
            self._stop_fill()
        super().write(sel, value)

    def invalidate(self, sel: Selection | None = None) -> None:
        with self._lock:
            # Appends reach here after the backend's: what the fill read
            # meanwhile is dropped below, with the rest of the window.
            self._stop_fill()
            r0, r1 = entry_span(sel[0]) if sel is not None and len(sel) else (None, None)
            kept = self.kept
            if kept is not None and (r0 is None or (r1 > kept[1] and r0 < kept[2])):
                self.kept = None
            if self.buf is None:
                return
            if r0 is not None and (r1 <= self.lo or r0 >= self.hi):
                return  # the write missed the window
            self.buf = None
            self.lo = self.hi = 0


# --------------------------------------------------------------------------
# InMemory
# --------------------------------------------------------------------------
class InMemory(CachePolicy):
    """Hold the whole file in memory with HDF5's core driver.

    Given to :func:`lazyarr.open`, :func:`lazyarr.open_array` or
    ``store.get(name, cache=...)``, the file is read into memory once at
    open; reads never touch the disk afterwards. A writable file is written
    back on flush and close. An array with no file (a memory backend) reads
    straight through.

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "core.h5")
    >>> with la.open(path, "w") as store:
    ...     _ = store.create_array("data", np.arange(6.0))
    >>> with la.open(path, cache=la.InMemory()) as store:
    ...     x = store["data"]
    ...     x.cache, x.backend.fileref.driver_kw["driver"], x[::2]
    (InMemory(), 'H5FD_CORE', array([0., 2., 4.]))

    ``persist=False``: a file that lives in memory only (the core driver
    without a backing store): nothing is read from or written to disk.

    >>> with la.open(os.path.join(tempfile.mkdtemp(), "scratch.h5"), "w",
    ...              cache=la.InMemory(persist=False)) as store:
    ...     store.create_array("tmp", np.arange(3))[-1], os.path.exists(store.path)
    (np.int64(2), False)
    """

    def __init__(self, persist: bool = True) -> None:
        self.persist = bool(persist)

    def _params(self) -> dict:
        return {} if self.persist else {"persist": False}

    def bind(self, backend: Any) -> BoundCache:
        ref = getattr(backend, "fileref", None)
        if ref is None and getattr(backend, "kind", None) != "memory":
            # Silently reading through would not be what was asked for.
            raise ValueError(
                f"InMemory() applies to files opened by lazyarr.open() or "
                f"lazyarr.open_array(); a {getattr(backend, 'kind', type(backend).__name__)!r} "
                "backend has no such file (for h5py open the file with "
                "driver='core'; for zarr use a MemoryStore)"
            )
        from lazyarr.files import uses_core_driver  # file opening knows the driver

        if ref is not None and not uses_core_driver(ref):
            raise ValueError(
                f"InMemory() needs the file opened with HDF5's core driver, but "
                f"{ref.path!r} was opened without it: pass cache=lazyarr.InMemory() "
                "to lazyarr.open(), lazyarr.open_array() or Store.get()"
            )
        return BoundCache(self, backend)
