"""What every array object is: a backend, a cache policy, and how it pickles.

:class:`CachedArray` is the base of :class:`lazyarr.LazyArray` and
:class:`lazyarr.RaggedArray`: it binds the policy to the backend (once, or on
first use for an unpickled array) and pickles the array *by reference*
(file, node, mode, policy), never by data.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from lazyarr.cache import BoundCache, CachePolicy, NoCache

__all__ = ["CachedArray", "PICKLE_MODES"]


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
        #: The bound state's reader of NumPy keys when it is ``direct``, else
        #: None: the read path calls it without looking at the state (a tenth
        #: of a small read of the memory backend, measured on x[::2, 0]).
        self._direct: Any = None
        if not getattr(backend, "deferred", False):
            # Now, so that a bad policy (a window smaller than a row) fails
            # here; an unpickled array binds on first use instead, since
            # binding may read the shape from the file.
            self._bind()

    def _bind(self) -> BoundCache:
        bound = self._policy.bind(self._backend)
        self._direct = bound.direct_reader() if bound.direct else None
        self._bound = bound
        return bound

    @property
    def _cache(self) -> BoundCache:
        bound = self._bound
        if bound is None:
            with _BIND_LOCK:
                bound = self._bound
                if bound is None:
                    bound = self._bind()
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

