"""Cache policies: how reads reach a backend.

A policy object is a *specification* (picklable, compared by value); each
array it is applied to gets its own state from :meth:`CachePolicy.bind`.

* :class:`NoCache` — every read goes to the backend.
* :class:`SwapWindow` — a read-ahead window of whole leading-axis rows (whole
  items for ragged arrays) of at most ``nbytes``; reads inside it are served
  from memory, so sequential minibatches cost one backend read per window.
* :class:`InMemory` — the file is opened with HDF5's core driver (the whole
  file in RAM); reads then never touch the disk.

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
from typing import Any

import numpy as np

from lazyarr.backends.base import Selection, selection_shape

#: ``a.nbytes`` without a Python frame per item (ragged reads return many).
_NBYTES = operator.attrgetter("nbytes")

__all__ = [
    "CachedArray",
    "CachePolicy",
    "NoCache",
    "SwapWindow",
    "InMemory",
    "BoundCache",
    "core_driver_kw",
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
        self.stats = {"hits": 0, "misses": 0, "backend_reads": 0, "bytes_read": 0}
        self._renew_locks()
        _LIVE.add(self)

    def _renew_locks(self) -> None:
        self._stats_lock = threading.Lock()
        #: Guards the state of subclasses that hold a window.
        self._lock = threading.Lock()

    def _count(self, hits: int = 0, misses: int = 0, reads: int = 0, nbytes: int = 0) -> None:
        # ``d[k] += 1`` is not atomic across threads: count under a lock.
        with self._stats_lock:
            st = self.stats
            st["hits"] += hits
            st["misses"] += misses
            st["backend_reads"] += reads
            st["bytes_read"] += nbytes

    def _backend_read(self, sel: Selection) -> np.ndarray:
        block = self.backend.read(sel)
        self._count(reads=1, nbytes=block.nbytes)
        return block

    def read(self, sel: Selection) -> np.ndarray:
        """Read ``sel`` from the backend (subclasses serve some reads from memory)."""
        block = self.backend.read(sel)
        # One count for the miss and the read: single-row reads feel each lock.
        self._count(misses=1, reads=1, nbytes=block.nbytes)
        return block

    def read_items(self, idx: np.ndarray) -> list[np.ndarray]:
        """Items ``idx`` (sorted, unique, committed) of a ragged backend."""
        self._count(misses=1)
        items = self.backend.read_items(idx)
        self._count(reads=1, nbytes=sum(map(_NBYTES, items)))
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
def _axis0_range(s: slice | np.ndarray) -> tuple[int, int]:
    """``[lo, hi)``: the rows of axis 0 an orthogonal selection entry touches."""
    if isinstance(s, slice):
        n = len(range(s.start, s.stop, s.step))
        return (s.start, s.start + (n - 1) * s.step + 1) if n else (s.start, s.start)
    return (int(s[0]), int(s[-1]) + 1) if len(s) else (0, 0)


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


def _apply_orthogonal(buf: np.ndarray, sel: Selection) -> np.ndarray:
    """``buf`` indexed by the orthogonal selection ``sel``: a fresh C array.

    Slices first (a view, no copy), then one ``np.take`` per array axis, so
    arrays on several axes select their outer product, never points.
    """
    out = buf[tuple(s if isinstance(s, slice) else slice(None) for s in sel)]
    taken = False
    for ax, s in enumerate(sel):
        if not isinstance(s, slice):
            out = np.take(out, s, axis=ax)
            taken = True
    # Never hand out a view into the window: the caller may write into it.
    return out if taken and out.flags.c_contiguous else np.array(out, order="C", copy=True)


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
            return _ItemWindow(self, backend)
        if len(backend.shape) == 0:
            return BoundCache(self, backend)  # a 0-d array has no rows to window
        return _RowWindow(self, backend)


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
        # Where the previous read began and ended: a miss that continues or
        # repeats it (or the first read) loads a window; a miss elsewhere is
        # random access.
        self.last_start: int | None = None
        self.last_stop: int | None = None

    @property
    def nbytes_held(self) -> int:
        buf = self.buf
        return 0 if buf is None else buf.nbytes

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
        shape = tuple(int(m) for m in self.backend.shape)
        whole = (slice(lo, hi, 1),) + tuple(slice(0, m, 1) for m in shape[1:])
        buf = self._backend_read(whole)
        self.buf, self.lo, self.hi = buf, lo, hi
        return buf

    def read(self, sel: Selection) -> np.ndarray:
        r0, r1 = _axis0_range(sel[0])
        if r1 - r0 > self.rows:
            self._count(misses=1)
            return self._backend_read(sel)
        rest = tuple(sel[1:])
        # Check-and-load is atomic; a read that bypasses the window is made
        # after the lock is released, so random reads from many threads
        # do not queue behind each other here.
        with self._lock:
            buf = self.buf
            bypass = False
            if buf is not None and self.lo <= r0 and r1 <= self.hi:
                self._count(hits=1)
                self.last_start, self.last_stop = r0, r1
                lo = self.lo
            elif buf is not None and self.lo <= r0 < self.hi < r1 and self._next_covers(r1):
                # The read runs off the end of the window: serve its head from
                # the window and read ahead from where the window ends, so a
                # sequence of reads costs one backend read per window of new
                # rows whatever the batch size.
                self._count(misses=1)
                self.last_start, self.last_stop = r0, r1
                lo, hi = self.lo, self.hi
                head_sel, tail_sel = _split0(sel[0], hi)
                head = _apply_orthogonal(buf, (_shift0(head_sel, lo),) + rest)
                self.buf = buf = None  # the budget holds while the next window loads
                n = int(self.backend.shape[0])
                buf = self._load(hi, min(n, hi + self._width()))
                tail = _apply_orthogonal(buf, (_shift0(tail_sel, hi),) + rest)
                out = np.empty(selection_shape(sel), dtype=head.dtype)
                out[: len(head)] = head  # not np.concatenate: it drops a byte order
                out[len(head) :] = tail
                return out
            elif self.last_stop is not None and r0 not in (self.last_start, self.last_stop):
                # Random access: reading a whole window per miss would move
                # ``nbytes`` for every row asked for. Read just the request
                # and keep the window for the sequential stream.
                self._count(misses=1)
                self.last_start, self.last_stop = r0, r1
                bypass = True
            else:
                self._count(misses=1)
                self.last_start, self.last_stop = r0, r1
                lo, hi = self._window_for(r0, r1, int(self.backend.shape[0]))
                # Drop the old window before reading the new one: the budget
                # holds while the backend reads, too.
                self.buf = None
                buf = self._load(lo, hi)
        if bypass:
            return self._backend_read(sel)
        return _apply_orthogonal(buf, (_shift0(sel[0], lo),) + rest)

    def _width(self) -> int:
        """Rows of a window: whole chunks when it holds at least one."""
        c = self.chunk_rows
        return self.rows // c * c if self.rows >= c else self.rows

    def _next_covers(self, r1: int) -> bool:
        return r1 <= self.hi + self._width()

    def invalidate(self, sel: Selection | None = None) -> None:
        with self._lock:
            if self.buf is None:
                return
            if sel is not None and len(sel):
                r0, r1 = _axis0_range(sel[0])
                if r1 <= self.lo or r0 >= self.hi:
                    return  # the write missed the window
            self.buf = None
            self.lo = self.hi = 0


class _ItemWindow(BoundCache):
    """SwapWindow state for a ragged array: whole items ``[lo, hi)``.

    Used through :meth:`read_items` (sorted, unique, committed item indices)
    rather than :meth:`read`. The window is loaded by reading items from the
    first one requested until the next would pass the budget.
    """

    def __init__(self, policy: SwapWindow, backend: Any) -> None:
        super().__init__(policy, backend)
        self.lo = self.hi = 0
        self.items: list[np.ndarray] | None = None
        # As for rows: only a miss that continues or repeats the previous
        # read (or the first read) loads a window.
        self.last_start: int | None = None
        self.last_stop: int | None = None

    @property
    def nbytes_held(self) -> int:
        items = self.items
        return 0 if items is None else sum(map(_NBYTES, items))

    def _counted(self, items: list[np.ndarray]) -> list[np.ndarray]:
        self._count(reads=1, nbytes=sum(map(_NBYTES, items)))
        return items

    def _span(self, lo: int, committed: int) -> int:
        """End of the window of whole items from ``lo`` within the budget."""
        budget = self.policy.nbytes
        itemsize = np.dtype(self.backend.dtype).itemsize
        stop = min(committed, lo + 4096)
        while True:
            sizes = np.prod(self.backend.read_shapes(lo, stop), axis=1) * itemsize
            fit = int(np.searchsorted(np.cumsum(sizes), budget, side="right"))
            if fit < stop - lo or stop == committed:
                return lo + fit
            stop = min(committed, lo + 2 * (stop - lo))

    def read_items(self, idx: np.ndarray) -> list[np.ndarray]:
        if not len(idx):
            return []
        r0, r1 = int(idx[0]), int(idx[-1]) + 1
        bypass = False
        with self._lock:
            items = self.items
            sequential = self.last_stop is None or r0 in (self.last_start, self.last_stop)
            self.last_start, self.last_stop = r0, r1
            if items is not None and self.lo <= r0 and r1 <= self.hi:
                self._count(hits=1)
                lo = self.lo
            elif not sequential:
                # Random access: just the items asked for (after the lock is
                # released); the window stays.
                self._count(misses=1)
                bypass = True
            else:
                self._count(misses=1)
                self.items = None
                committed = self.backend.committed()
                hi = self._span(r0, committed)
                if hi < r1:
                    # More than the window holds: straight to the backend.
                    bypass = True
                else:
                    # The items of a run are views of one buffer of exactly
                    # their data (no copy, so the budget holds while loading);
                    # they are copied on the way out, never handed out.
                    items = self._counted(
                        self.backend.read_items(np.arange(r0, hi, dtype=np.int64)))
                    self.items, self.lo, self.hi, lo = items, r0, hi, r0
        if bypass:
            return self._counted(self.backend.read_items(idx))
        return [items[j].copy() for j in (idx - lo).tolist()]

    def invalidate(self, sel: Selection | None = None) -> None:
        with self._lock:
            self.items = None
            self.lo = self.hi = 0


# --------------------------------------------------------------------------
# InMemory
# --------------------------------------------------------------------------
def core_driver_kw(mode: str) -> dict[str, Any]:
    """``tables.open_file`` options that load the whole file into memory.

    Read-only opens keep no backing store; writable ones write the image
    back to the file on flush and close.

    Examples
    --------
    >>> core_driver_kw("r")
    {'driver': 'H5FD_CORE', 'driver_core_backing_store': 0}
    """
    return {"driver": "H5FD_CORE", "driver_core_backing_store": 0 if mode == "r" else 1}


def _is_core(driver_kw: dict) -> bool:
    return driver_kw.get("driver") == "H5FD_CORE"


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
        if ref is not None and not _is_core(getattr(ref, "driver_kw", {})):
            raise ValueError(
                f"InMemory() needs the file opened with HDF5's core driver, but "
                f"{ref.path!r} was opened without it: pass cache=lazyarr.InMemory() "
                "to lazyarr.open(), lazyarr.open_array() or Store.get()"
            )
        return BoundCache(self, backend)


#: Serializes the first binding of a policy to an unpickled array.
_BIND_LOCK = threading.Lock()

#: Modes an array's pickles may carry (see :meth:`CachedArray.pickle_as`).
PICKLE_MODES = ("r", "r+", "a")


def _unpickle_array(cls: type, backend: Any, policy: CachePolicy, mode: str | None,
                    state: dict) -> "CachedArray":
    obj = cls(backend, policy)
    obj.__dict__.update(state)
    if mode is not None:
        obj._pickle_mode = mode
    return obj


class CachedArray:
    """What every array object shares: a backend read through a cache policy.

    :class:`lazyarr.LazyArray` and :class:`lazyarr.RaggedArray` derive from
    it, so the policy is bound, and the array pickled, the same way for both.

    Pickles hold a reference, not data: the absolute file path, the node
    path(s), the mode, the backend kind and dtype, the cache policy (and
    whatever :meth:`_pickle_state` adds). Unpickling opens nothing; the file
    is opened on first use, once per process. An array whose backend has no
    file (``MemoryBackend``) pickles its data. See :meth:`pickle_as`.
    """

    #: Mode of the file in this array's pickles; None means read-only ('r').
    _pickle_mode: str | None = None

    def __init__(self, backend: Any, cache: CachePolicy | None = None) -> None:
        self._backend = backend
        self._policy = cache if cache is not None else NoCache()
        self._bound: BoundCache | None = None
        if not getattr(backend, "deferred", False):
            # Now, so that a bad policy (a window smaller than a row) fails
            # here; an unpickled array binds on first use instead, since
            # binding may read the shape from the file.
            self._bound = self._policy.bind(backend)

    @property
    def _cache(self) -> BoundCache:
        bound = self._bound
        if bound is None:
            with _BIND_LOCK:
                if self._bound is None:
                    self._bound = self._policy.bind(self._backend)
                bound = self._bound
        return bound

    # -------------------------------------------------------------- pickling
    def _pickle_state(self) -> dict:
        """Attributes a pickle carries besides backend, policy and mode."""
        return {}

    def _reduce_by_reference(self) -> tuple:
        """``__reduce__`` for arrays: pickle by reference (see the class notes).

        An array of a writable file is flushed first (buffered appends
        included), so that another process sees what this one wrote.
        """
        backend = self._backend
        reference = getattr(backend, "reference", None)
        if reference is None:  # no file behind it: the backend pickles itself
            args = (type(self), backend, self._policy, self._pickle_mode, self._pickle_state())
            return (_unpickle_array, args)
        ref = backend.fileref
        if not ref.readonly and not ref.closed:
            self.flush()  # type: ignore[attr-defined]
            ref.flush()
        mode = self._pickle_mode or "r"
        copy = reference(None if mode == ref.mode else mode)
        return (_unpickle_array, (type(self), copy, self._policy, self._pickle_mode,
                                  self._pickle_state()))

    def pickle_as(self, mode: str = "r+") -> "CachedArray":
        """This array, pickling with the file opened in ``mode``.

        A pickled array opens its file read-only (``'r'``) in the process
        that unpickles it, whatever mode this process opened it with: a
        worker cannot write by accident. Ask for a writable copy explicitly
        with ``pickle_as("r+")`` (or ``"a"``); the result reads and writes
        the same file as this array here, and its pickles (and those of its
        unpickled copies) open the file in ``mode``.

        HDF5 files have one writer at a time: give writable copies only to
        a process that is the file's sole writer while it uses them, after
        this process has closed the file or opened it read-only (HDF5's file
        lock refuses other opens while a file is open for writing, except in
        a forked child).

        Parameters
        ----------
        mode : {'r', 'r+', 'a'}

        Returns
        -------
        LazyArray or RaggedArray
            A new array object of the same class, backend and cache policy.

        Examples
        --------
        >>> import pickle, numpy as np, lazyarr as la, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "p.h5")
        >>> with la.open(path, "w") as store:
        ...     x = store.create_array("data", np.arange(4.0))
        ...     pickle.loads(pickle.dumps(x)).backend.fileref.mode
        ...     pickle.loads(pickle.dumps(x.pickle_as("r+"))).backend.fileref.mode
        'r'
        'r+'
        """
        if mode not in PICKLE_MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, PICKLE_MODES))}; got {mode!r}")
        flush = getattr(self, "flush", None)
        if flush is not None and not getattr(self._backend, "readonly", True):
            flush()  # the copy has its own buffer of appends
        new = type(self)(self._backend, self._policy)
        new.__dict__.update(self._pickle_state())
        new._pickle_mode = None if mode == "r" else mode
        return new

    @property
    def backend(self) -> Any:
        """The storage backend (its ``kind`` names the layout)."""
        return self._backend

    @property
    def cache(self) -> CachePolicy:
        """The cache policy object this array reads through."""
        return self._policy

    @property
    def cache_stats(self) -> dict[str, int]:
        """Counters of this array's reads: hits, misses, backend_reads, bytes_read."""
        return dict(self._cache.stats)

    @property
    def dtype(self) -> np.dtype:
        """Element dtype, byte order included."""
        return np.dtype(self._backend.dtype)

