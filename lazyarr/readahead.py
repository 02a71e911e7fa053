"""SwapWindow's read-ahead: a window buffer filled on background threads.

A :class:`lazyarr.cache.SwapWindow` over a backend whose reads decode
outside the GIL allocates its window whole and has a :class:`Fill` decode
it piece by piece, front to back, while the caller reads the rows decoded
so far. :func:`stop_fills` ends the fills of a file reference before the
file closes (:meth:`lazyarr.files.FileRef.close`).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

import numpy as np

__all__ = ["Fill", "stop_fills"]


class Fill:
    """One window buffer being filled by background threads, piece by piece.

    ``threads`` threads take the pieces in order (each the next one not
    taken), read each with ``read_into(sel, buf[a:b])`` inside
    ``scope()`` and stop early when :meth:`stop` is called or a read raises
    (``failed``: some rows never come; the caller then reads its rows
    itself and gets the error). ``done``: rows of ``buf`` (from its start)
    all decoded. Several threads, each decoding whole chunks on one core,
    keep both cores busy when the caller takes one now and then, where one
    thread on the shared decoder waits for the slower half of every chunk.
    """

    def __init__(self, read_into: Any, buf: np.ndarray, lo: int, rest: tuple, step: int,
                 owner: Any = None, threads: int = 1, scope: Any = None) -> None:
        self.cv = threading.Condition(threading.Lock())
        n = len(buf)
        self.n = n
        self.done = 0
        self.finished = False
        self.failed = False
        self._stop = False
        self._pieces = [(a, min(n, a + step)) for a in range(0, n, step)]
        self._ready = [False] * len(self._pieces)
        self._next = 0  # the next piece to take
        self._first = 0  # the first piece not ready
        self._running = max(1, min(int(threads), len(self._pieces)))
        #: The file reference the reads go through (see :func:`stop_fills`).
        self.owner = owner
        self.threads = [
            threading.Thread(target=self._run, args=(read_into, buf, lo, rest, scope),
                             name="lazyarr-swapwindow-fill", daemon=True)
            for _ in range(self._running)
        ]
        _FILLS.add(self)
        for t in self.threads:
            t.start()

    @property
    def thread(self) -> threading.Thread:
        """The first of the fill's threads."""
        return self.threads[0]

    def alive(self) -> bool:
        """True while any of its threads runs."""
        return any(t.is_alive() for t in self.threads)

    def _run(self, read_into: Any, buf: np.ndarray, lo: int, rest: tuple, scope: Any) -> None:
        ok = True
        try:
            with (scope() if scope is not None else contextlib.nullcontext()):
                while True:
                    with self.cv:
                        i = self._next
                        if self._stop or self.failed or i >= len(self._pieces):
                            break
                        self._next = i + 1
                    a, b = self._pieces[i]
                    read_into((slice(lo + a, lo + b, 1),) + rest, buf[a:b])
                    with self.cv:
                        self._ready[i] = True
                        j = self._first
                        while j < len(self._ready) and self._ready[j]:
                            j += 1
                        if j != self._first:
                            self._first = j
                            self.done = self._pieces[j - 1][1]
                            self.cv.notify_all()
        except BaseException:  # noqa: BLE001 -- the caller's own read raises it
            ok = False
        finally:
            with self.cv:
                self._running -= 1
                if not ok or (self._stop and self.done < self.n):
                    self.failed = True
                if self._running == 0 or self.failed:
                    self.finished = self._running == 0
                    self.cv.notify_all()

    def wait(self, rows: int) -> bool:
        """Wait until the first ``rows`` rows are in the buffer; False if they never will be."""
        if self.done >= rows:
            return True
        with self.cv:
            while self.done < rows and not self.failed and not self.finished:
                self.cv.wait()
            return self.done >= rows

    def stop(self) -> int:
        """Stop after the pieces being read (waits for them); the rows decoded
        (the first ones, in order)."""
        with self.cv:
            self._stop = True
        me = threading.current_thread()
        for t in self.threads:
            if t is not me:
                t.join()
        return self.done


#: Every background fill not yet collected (see :func:`stop_fills`).
_FILLS: "weakref.WeakSet[Fill]" = weakref.WeakSet()


def stop_fills(owner: Any) -> None:
    """Stop (and wait for) the background fills that read through ``owner``
    (a :class:`lazyarr.files.FileRef`): its close calls this before it
    closes the file, so that no thread reads the file's map afterwards.
    Called without the HDF5 lock (a fill may be waiting for it)."""
    for fill in list(_FILLS):
        if fill.owner is owner and fill.alive():
            fill.stop()
