"""Decoding Blosc2 chunks: on blosc2's threads, and outside the GIL.

The block reader (:mod:`lazyarr.backends._b2blocks`) hands every chunk (or
synthetic chunk of the blocks it needs) to :func:`decode`. Decodes of at
least :data:`NOGIL_BYTES` go through a private copy of the C library that
python-blosc2 ships, called with ``ctypes``, which releases the GIL
meanwhile: python-blosc2 itself holds it unless
``blosc2.set_releasegil(True)``, a process-wide switch that is not ours to
flip. Other Python threads (a SwapWindow's read-ahead and the caller that
consumes its rows, a thread pool) then run during a decode, and
:func:`decode_all` decodes the whole chunks of a large read on every core.
Without that library (or in a forked child) every decode holds the GIL.
The same library also encodes (:class:`Encoding`, on a native thread) a
one-row append's chunk while the appends go on
(:mod:`lazyarr.backends._b2write`).

Examples
--------
>>> import numpy as np, blosc2
>>> a = np.arange(1000, dtype=np.float32)
>>> out = np.empty_like(a)
>>> decode(blosc2.compress2(a, typesize=4), out)
>>> bool((out == a).all())
True
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from typing import Any

from dataclasses import replace as dataclass_replace

import blosc2
import numpy as np

__all__ = ["decode", "decode_all", "scratch", "threads", "releases_gil", "own_decoder",
           "Encoding", "encodes_like", "NOGIL_BYTES", "PARALLEL_BYTES"]


def _drop_decoder_before_fork() -> None:
    # A child forked while blosc2's decoding threads are alive cannot decode
    # on threads at all (measured: its next threaded decode never returns):
    # free the decoder, and its threads, first. No decode is running (that
    # holds the GIL, which the forking thread has); the parent makes a new
    # one on its next decode.
    _DECODER.clear()


def _forget_after_fork() -> None:
    global _DECODER_LOCK, _NOGIL_LOCK, _FORKED
    _DECODER_LOCK = threading.Lock()
    _NOGIL_LOCK = threading.Lock()
    # Even a decoder made afresh in a forked child was seen to hang in its
    # first threaded decode (blosc2 state inherited from the parent): forked
    # children decode on one thread (they are usually one of many workers).
    _FORKED = True


#: True in a process forked from one that imported this module.
_FORKED = False


def threads() -> int:
    """Threads blosc2 decodes and encodes on here: ``blosc2.nthreads``, 1 in a forked child."""
    return 1 if _FORKED else blosc2.nthreads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_drop_decoder_before_fork, after_in_child=_forget_after_fork)


_TLS = threading.local()


#: The one decoder of the process: (nthreads, a super-chunk) and its lock.
_DECODER: list = []
_DECODER_LOCK = threading.Lock()
#: Decoded bytes from which a decode releases the GIL (when it can, see
#: :func:`releases_gil`): below it the ``ctypes`` call's own cost (a few us)
#: would show in random single rows, and so short a decode blocks nobody.
NOGIL_BYTES = 2**16


class _DParams(ctypes.Structure):
    """c-blosc2's ``blosc2_dparams``, opaque past ``nthreads`` (its first
    field in every release): filled from the library's own defaults, and
    larger than the real struct, so either way by value it holds all of it."""

    _fields_ = [("nthreads", ctypes.c_int16), ("_pad", ctypes.c_int16 * 3),
                ("_rest", ctypes.c_void_p * 31)]


class _CParams(ctypes.Structure):
    """c-blosc2's ``blosc2_cparams``: the fields lazyarr sets (the first ones,
    at these offsets in every 2.x release), opaque after them, and larger
    than the real struct (by value it holds all of it). Filled from the
    library's own defaults; :func:`encodes_like` checks the result byte for
    byte against python-blosc2 before anything relies on it."""

    _fields_ = [("compcode", ctypes.c_uint8), ("compcode_meta", ctypes.c_uint8),
                ("clevel", ctypes.c_uint8), ("use_dict", ctypes.c_int),
                ("typesize", ctypes.c_int32), ("nthreads", ctypes.c_int16),
                ("blocksize", ctypes.c_int32), ("splitmode", ctypes.c_int32),
                ("schunk", ctypes.c_void_p), ("filters", ctypes.c_uint8 * 6),
                ("filters_meta", ctypes.c_uint8 * 6), ("_rest", ctypes.c_void_p * 40)]


def _load_nogil() -> Any:
    """A private copy of c-blosc2 to decode with the GIL released, or None.

    python-blosc2 links c-blosc2 statically into its extension and also
    ships the shared library (``blosc2/lib``): loaded here with ``ctypes``
    (``RTLD_LOCAL``), it is a copy of its own, with a global context and
    thread count nobody else sets, and ``ctypes`` releases the GIL for the
    length of each call. Its global context keeps its threads between calls
    (what the super-chunk of the GIL-holding path is for); contexts of one
    thread each serve background readers (:func:`own_decoder`). Checked
    once on a chunk python-blosc2 encodes. None when the library is not
    there, does not load or fails the check: every decode holds the GIL.
    """
    names = {"win32": ["blosc2.dll", "libblosc2.dll"], "darwin": ["libblosc2.dylib"]}.get(
        sys.platform, ["libblosc2.so"])
    base = os.path.join(os.path.dirname(blosc2.__file__), "lib")
    for name in names:
        path = os.path.join(base, name)
        if not os.path.exists(path):
            continue
        try:
            lib = ctypes.CDLL(path)
            c = ctypes
            for fn, args, res in [
                ("blosc2_init", [], None),
                ("blosc2_decompress", [c.c_void_p, c.c_int32, c.c_void_p, c.c_int32], c.c_int),
                ("blosc2_set_nthreads", [c.c_int16], c.c_int16),
                ("blosc2_get_blosc2_dparams_defaults", [], _DParams),
                ("blosc2_create_dctx", [_DParams], c.c_void_p),
                ("blosc2_decompress_ctx", [c.c_void_p, c.c_void_p, c.c_int32, c.c_void_p,
                                           c.c_int32], c.c_int),
                ("blosc2_free_ctx", [c.c_void_p], None),
            ]:
                f = getattr(lib, fn)
                f.argtypes, f.restype = args, res
            lib.blosc2_init()
            try:
                for fn, args, res in [
                    ("blosc2_get_blosc2_cparams_defaults", [], _CParams),
                    ("blosc2_create_cctx", [_CParams], c.c_void_p),
                    ("blosc2_compress_ctx", [c.c_void_p, c.c_void_p, c.c_int32, c.c_void_p,
                                             c.c_int32], c.c_int),
                ]:
                    f = getattr(lib, fn)
                    f.argtypes, f.restype = args, res
                lib.lazyarr_encodes = True
            except AttributeError:  # an older library: it decodes only
                lib.lazyarr_encodes = False
            # The check: a Zstd chunk of python-blosc2's, decoded both ways.
            want = np.arange(2**15, dtype=np.float32)
            chunk = np.frombuffer(blosc2.compress2(want, codec=blosc2.Codec.ZSTD, typesize=4,
                                                   nthreads=1), np.uint8)
            got = np.zeros_like(want)
            ok = lib.blosc2_decompress(chunk.ctypes.data, chunk.nbytes, got.ctypes.data,
                                       got.nbytes) == want.nbytes and (got == want).all()
            ctx = _new_ctx(lib)
            got[:] = 0
            ok = ok and ctx is not None and lib.blosc2_decompress_ctx(
                ctx, chunk.ctypes.data, chunk.nbytes, got.ctypes.data, got.nbytes) == want.nbytes
            ok = ok and (got == want).all()
            if ctx is not None:
                lib.blosc2_free_ctx(ctx)
        except (OSError, AttributeError, RuntimeError, ValueError, TypeError):
            continue
        if ok:
            return lib
    return None


def _new_ctx(lib: Any) -> int | None:
    """A decompression context of one thread in ``lib`` (None: not made)."""
    dp = lib.blosc2_get_blosc2_dparams_defaults()
    dp.nthreads = 1
    return lib.blosc2_create_dctx(dp) or None


class own_decoder:
    """Inside, this thread's decodes run on this thread alone, in a context
    of its own, with the GIL released (when :func:`releases_gil`).

    For background readers that work side by side (a SwapWindow's fill):
    each decodes whole chunks on one core, so none waits for another's
    threads, where the shared context splits every chunk between its
    threads and waits for the slowest at its end.
    """

    def __enter__(self) -> "own_decoder":
        self.ctx = _new_ctx(_NOGIL) if releases_gil() else None
        _TLS.dctx = self.ctx
        return self

    def __exit__(self, *exc: Any) -> None:
        _TLS.dctx = None
        if self.ctx is not None:
            _NOGIL.blosc2_free_ctx(self.ctx)


_NOGIL: Any = _load_nogil()
#: Threads the private library's context was last given (0: not yet).
_NOGIL_THREADS = [0]
_NOGIL_LOCK = threading.Lock()


def releases_gil() -> bool:
    """True when large decodes here release the GIL (see :func:`_load_nogil`).

    Not in a forked child: the library's threads and its lock are the
    parent's there (see :func:`_forget_after_fork`).
    """
    return _NOGIL is not None and not _FORKED


def decode(src: Any, dst: np.ndarray) -> None:
    """Decode one Blosc2 chunk into ``dst`` on ``blosc2.nthreads`` threads.

    From :data:`NOGIL_BYTES` decoded bytes, with the GIL released (see
    :func:`releases_gil`; the library's own lock serializes calls).
    Otherwise through one long-lived super-chunk: ``blosc2.decompress2``
    makes (and tears down) a decompression context, and with it a thread
    pool, on every call -- measured 300 us a call on this 2-core machine,
    and 2x slower over 1 MiB chunks than a context that keeps its threads.
    The chunk is copied into the super-chunk (compressed bytes: cheap). One
    for the process, under a lock: python-blosc2 holds the GIL while it
    decodes, so two Python threads could not decode at once anyway, and
    blosc2's own threads use every core.
    """
    ctx = getattr(_TLS, "dctx", None)
    if ctx is not None:  # inside own_decoder(): no lock, nobody else's threads
        s = np.frombuffer(src, np.uint8)
        d = dst.view(np.uint8).reshape(-1)
        rc = _NOGIL.blosc2_decompress_ctx(ctx, s.ctypes.data, s.nbytes, d.ctypes.data, d.nbytes)
        if rc < 0:
            raise RuntimeError(f"Error while decompressing a Blosc2 chunk (blosc2 error {rc})")
        return
    if dst.nbytes >= NOGIL_BYTES and _NOGIL is not None and not _FORKED:
        s = np.frombuffer(src, np.uint8)
        d = dst.view(np.uint8).reshape(-1)  # (a view: dst is C-contiguous)
        # Under a lock of ours, like the library's own around its global
        # context, so that a change of thread count never meets a decode.
        with _NOGIL_LOCK:
            n = threads()
            if _NOGIL_THREADS[0] != n:
                _NOGIL.blosc2_set_nthreads(n)
                _NOGIL_THREADS[0] = n
            rc = _NOGIL.blosc2_decompress(s.ctypes.data, s.nbytes, d.ctypes.data, d.nbytes)
        if rc < 0:
            raise RuntimeError(f"Error while decompressing a Blosc2 chunk (blosc2 error {rc})")
        return
    with _DECODER_LOCK:
        n = threads()
        if not _DECODER or _DECODER[0] != n:
            sc = blosc2.SChunk(chunksize=1024, dparams=blosc2.DParams(nthreads=n))
            sc.append_data(np.zeros(1024, np.uint8))
            _DECODER[:] = [n, sc]
        sc = _DECODER[1]
        sc.update_chunk(0, src)
        sc.decompress_chunk(0, dst)


#: Decoded bytes of whole chunks from which a read decodes them on
#: :func:`threads` threads at once, each chunk on one core in a context of
#: its own (:class:`own_decoder`), rather than one after another, each split
#: between the shared context's threads: ~15 % faster over 128 MiB here
#: (nobody waits at the end of each chunk for the slowest thread).
PARALLEL_BYTES = 4 * 2**20


def decode_all(jobs: list[tuple[Any, np.ndarray]]) -> None:
    """Decode every ``(source, destination)`` chunk of ``jobs`` (disjoint
    destinations): on :func:`threads` threads, the caller's among them, when
    decodes release the GIL and there is enough of it (:data:`PARALLEL_BYTES`);
    one after another otherwise, and inside a thread that already decodes on
    its own (a SwapWindow's fill). The first error is raised once all stop."""
    n = min(threads(), len(jobs))
    if (n < 2 or not releases_gil() or getattr(_TLS, "dctx", None) is not None
            or sum(d.nbytes for _, d in jobs) < PARALLEL_BYTES):
        for src, dst in jobs:
            decode(src, dst)
        return
    todo = iter(jobs)
    take = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        with own_decoder():
            while not errors:
                with take:
                    job = next(todo, None)
                if job is None:
                    return
                try:
                    decode(*job)
                except BaseException as exc:  # noqa: BLE001 - raised by the caller below
                    errors.append(exc)

    helpers = [threading.Thread(target=work, name="lazyarr-decode", daemon=True) for _ in range(n - 1)]
    for t in helpers:
        t.start()
    try:
        work()
    finally:
        for t in helpers:
            t.join()
    if errors:
        raise errors[0]


def _cparams(cp: "blosc2.CParams") -> _CParams:
    """``cp`` as the library's struct, on one thread (see :class:`Encoding`)."""
    c = _NOGIL.blosc2_get_blosc2_cparams_defaults()
    c.compcode, c.compcode_meta, c.clevel = int(cp.codec.value), int(cp.codec_meta), int(cp.clevel)
    c.use_dict, c.typesize, c.nthreads = int(cp.use_dict), int(cp.typesize), 1
    c.blocksize, c.splitmode = int(cp.blocksize), int(cp.splitmode.value)
    filters, meta = list(cp.filters), list(cp.filters_meta)
    for i in range(6):
        c.filters[i] = int(filters[i].value) if i < len(filters) else 0
        c.filters_meta[i] = int(meta[i]) if i < len(meta) else 0
    return c


class Encoding:
    """``blosc2.compress2(src, cparams=cp)`` on a native thread of its own,
    started at once, that never takes the GIL; :meth:`result` waits for it.

    For a chunk compressed while the caller's Python thread keeps working
    (:func:`lazyarr.backends._b2write._fly`): a Python thread doing the
    same waits for the GIL, behind a caller that never lets go of it, up to
    the switch interval twice per chunk (measured: the chunks then took
    longer than compressing them in place). The private library's
    ``blosc2_compress_ctx`` runs on ``lazyarr._speedups.Compression``'s
    thread, in a one-thread context of its own. Only where
    :func:`encodes_like` holds.
    """

    __slots__ = ("_src", "_dest", "_ctx", "_job")

    def __init__(self, cp: "blosc2.CParams", src: np.ndarray) -> None:
        self._src = np.ascontiguousarray(src).view(np.uint8).reshape(-1)  # (kept: the thread reads it)
        # BLOSC2_MAX_OVERHEAD (32) more, as python-blosc2 gives: with more
        # room, blosc2 keeps an incompressible chunk "compressed" and larger.
        self._dest = np.empty(self._src.nbytes + 32, np.uint8)
        self._ctx = _NOGIL.blosc2_create_cctx(_cparams(cp))
        if not self._ctx:
            raise RuntimeError("blosc2 could not make a compression context")
        try:
            self._job = _Compression(_COMPRESS_CTX, self._ctx, self._src, self._dest)
        except BaseException:
            _NOGIL.blosc2_free_ctx(self._ctx)
            self._ctx = None
            raise

    def result(self) -> memoryview:
        """The compressed chunk, once the thread is done (a view of its
        buffer: the frame around it copies it once)."""
        rc = self._job.wait()
        self._free()
        if rc <= 0:
            raise RuntimeError(f"Error while compressing a Blosc2 chunk (blosc2 error {rc})")
        return self._dest[:rc].data

    def _free(self) -> None:
        # The context, once the thread no longer uses it (it has ended).
        if self._ctx:
            _NOGIL.blosc2_free_ctx(self._ctx)
            self._ctx = None

    def __del__(self) -> None:
        # A flight dropped unstored (its node shortened or removed): wait,
        # then free the context. Not in a forked child (the thread is the
        # parent's: wait() refuses), nor if the thread never started.
        if getattr(self, "_ctx", None):
            try:
                self._job.wait()
            except (RuntimeError, AttributeError):
                return
            self._free()


try:
    from lazyarr._speedups import Compression as _Compression
except ImportError:  # pragma: no cover - depends on the install
    _Compression = None
#: The address of the private library's blosc2_compress_ctx (0: none).
_COMPRESS_CTX = (ctypes.cast(_NOGIL.blosc2_compress_ctx, ctypes.c_void_p).value or 0
                 if _NOGIL is not None and _NOGIL.lazyarr_encodes else 0)


def encodes_like(cp: "blosc2.CParams", sample: np.ndarray) -> bool:
    """True when :class:`Encoding` can run here and writes exactly the
    bytes ``blosc2.compress2`` writes for ``cp`` on one thread (checked on
    ``sample``).

    On one thread: on several, blosc2 stores the blocks of a chunk in the
    order its threads finish them (measured: 2 of 8 chunks of one array
    differed that way), so its bytes are not a fixed reference; they decode
    to the same data.

    Examples
    --------
    >>> cp = blosc2.CParams(codec=blosc2.Codec.ZSTD, clevel=1, typesize=4)
    >>> a = np.arange(4096, dtype=np.float32)
    >>> encodes_like(cp, a) == (releases_gil() and _Compression is not None)
    True
    """
    if not (releases_gil() and _COMPRESS_CTX and _Compression is not None):
        return False
    try:
        one = dataclass_replace(cp, nthreads=1)
        return Encoding(cp, sample).result() == blosc2.compress2(np.ascontiguousarray(sample), cparams=one)
    except (RuntimeError, ValueError, TypeError, AttributeError):
        return False


def scratch(nbytes: int) -> np.ndarray:
    """A decode buffer of this thread, reused between reads (no page faults)."""
    buf = getattr(_TLS, "scratch", None)
    if buf is None or buf.nbytes < nbytes:
        buf = _TLS.scratch = np.empty(nbytes, dtype=np.uint8)
    return buf[:nbytes]
