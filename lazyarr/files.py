"""File handles: one ``tables.File`` per file and driver per process.

An array never holds an open HDF5 handle as its identity. It holds a
:class:`FileRef` (absolute path, mode, driver options) and a node path; the
``tables.File`` behind a FileRef is opened lazily, once per process, shared
by every FileRef of the same file in that process, and opened afresh after a
``fork`` (the parent's handle is dropped, never closed, in the child: closing
it there could flush stale metadata into the parent's file).

Forks are made safe in two steps: :data:`HDF5_LOCK` is taken around
``os.fork`` (so no other thread is inside HDF5 when the child's copy of the
library is made, and the child does not inherit a held lock), and the child
forgets every inherited handle, including PyTables' registry entry, whose
exit handler would otherwise close (and flush) the parent's file.

A forked child that opens a file its parent had open at the fork gets, from
HDF5, the parent's file as it was at the fork (HDF5 reuses an open file it
finds in its own state): fork after writing and flushing (e.g. create a
``multiprocessing.Pool`` once the data is written), or open the file read-only.
A child forked while a file is open for writing should end with ``os._exit``
(``multiprocessing`` workers do): HDF5's own exit handler closes every file
still open in the process, the inherited one included.
A spawned child cannot open a file another process has open for writing
(HDF5's file lock): the OSError says so. Do not turn the lock off
(``HDF5_USE_FILE_LOCKING=FALSE``) to read a file while it is written: a
reader then sees metadata half-way through an update, and wrong values.
"""

from __future__ import annotations

import errno
import os
import weakref
from typing import Any

import tables

from lazyarr.backends._hdf5 import (
    abandon,
    BEFORE_FLUSH,
    HDF5_LOCK,
    committed_rows,
    write_committed_rows,
    flush_file,
    hdf5_error,
    hdf5_errors,
    hold_metadata,
    quiet,
    summary,
)
from lazyarr.backends._hdf5_space import (
    create_file,
    drop_guards,
    guard_flushed_space,
    mark_pytables_file,
    publish_eoa,
)
from lazyarr.backends._hdf5_sane import precheck_file
from lazyarr.backends._mmap import drop_maps
from lazyarr.errors import ClosedError, CorruptStoreError, StorageError

__all__ = ["FileRef", "MODES"]

MODES = ("r", "r+", "a", "w")


# --------------------------------------------------------------------------
# Handles: one tables.File per file per process, shared and reference counted
# --------------------------------------------------------------------------
class _Handle:
    """An open ``tables.File`` and how many FileRefs of this process use it."""

    __slots__ = ("key", "file", "pid", "users", "commits", "limits", "failed")

    def __init__(self, key: str, file: tables.File, pid: int) -> None:
        self.key, self.file, self.pid, self.users = key, file, pid, 0
        #: Commit records to write at the next flush: node path -> a function
        #: giving the row (item) count to record (see :func:`commit_flush`).
        self.commits: dict[str, Any] = {}
        #: Node path -> its commit record as found when this handle first
        #: looked (rows past it are an interrupted write's), None once a
        #: write of this process has trimmed them.
        self.limits: dict[str, int | None] = {}
        #: The last flush failed: closing must not write (see abandon()).
        self.failed = False


def commit_flush(h: _Handle) -> None:
    """Flush ``h``'s file in two steps, so that a crash leaves a known prefix.

    1. ``H5Fflush``: every chunk, and the metadata describing it.
    2. The commit record of every array written since the last flush (the
       ``LAZYARR_ROWS`` attribute: rows or items complete in step 1),
       then ``H5Fflush`` again.

    A process killed during step 1 leaves the records of the previous
    flush; rows past them are ignored on open and trimmed by the next write
    (:func:`lazyarr.backends._hdf5.committed_rows`). Caller holds the lock.
    """
    f = h.file
    # The flush rewrites in place metadata pointing past the end of file the
    # on-disk superblock records: record the new end first.
    publish_eoa(f)
    flush_file(f, f"flushing {f.filename!r}")
    # Nothing written from now on may land on what step 1 wrote.
    guard_flushed_space(f)
    if not h.commits:
        return
    pending, h.commits = h.commits, {}
    for path, rows in pending.items():
        if path in f:
            node = f.get_node(path)
            n = int(node.shape[0] if rows is None else rows())
            # n < 0: no record can be kept for this node (see
            # CompressedBackend.append); an old one would hide rows written
            # since. In place either way (see write_committed_rows).
            write_committed_rows(node, n)
    flush_file(f, f"writing the commit records of {f.filename!r}")


#: (realpath, driver options) -> the handle open in this process. PyTables
#: refuses to open a file twice unless every open is read-only, so FileRefs
#: share one handle; a FileRef with other driver options (the core driver of
#: :class:`lazyarr.InMemory`) needs a handle of its own.
_HANDLES: dict[str, _Handle] = {}


def _handle_key(path: str, driver_kw: dict) -> str:
    real = os.path.realpath(path)
    if not driver_kw:
        return real
    return real + "\0" + repr(sorted(driver_kw.items()))


def _check_path(path: str, mode: str) -> None:
    """FileNotFoundError, PermissionError or IsADirectoryError before HDF5
    says something vaguer ("not an HDF5 file", "unable to open")."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if mode in ("r", "r+"):
            raise FileNotFoundError(errno.ENOENT, "No such file", path) from None
        parent = os.path.dirname(path) or "."
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "Permission denied: cannot create a file in "
                                  f"{parent!r}", path) from None
        return
    except PermissionError:
        # A directory on the way without search (x) permission.
        raise PermissionError(errno.EACCES, "Permission denied: a directory on the path "
                              "cannot be searched", path) from None
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "Is a directory, not an HDF5 file", path)
    if not os.access(path, os.R_OK):
        raise PermissionError(errno.EACCES, "Permission denied: the file is not readable", path)
    if mode != "r" and not os.access(path, os.W_OK):
        raise PermissionError(errno.EACCES, f"Permission denied: mode {mode!r} needs write "
                              "permission on the file; open it with mode 'r'", path)
    del st


def _open_tables_file(path: str, mode: str, driver_kw: dict) -> tables.File:
    """``tables.open_file`` with errors that name the path and no HDF5 trace."""
    _check_path(path, mode)
    if mode != "w" and os.path.exists(path):
        try:
            ok = tables.is_hdf5_file(path)
        except (OSError, tables.HDF5ExtError):
            ok = False
        if not ok:
            raise CorruptStoreError(f"{path!r} is not an HDF5 file (or its header is corrupt)")
        if not driver_kw:
            # Before PyTables parses the root group's attributes unchecked
            # (a flipped byte there crashed the process, issue 14). The
            # caller holds HDF5_LOCK.
            precheck_file(path)
    try:
        with quiet():
            # A new file whose freed space is never reused (see
            # lazyarr.backends._hdf5_space.create_file); the core driver keeps
            # its file in memory, where PyTables creates it.
            made = mode == "w" and not driver_kw and create_file(path)
            f = tables.open_file(path, "a" if made else mode, **driver_kw)
            if made:
                mark_pytables_file(f)
            if mode != "r":
                hold_metadata(f)
            return f
    except (tables.HDF5ExtError, SystemError, UnicodeDecodeError) as exc:
        if "unable to lock file" in str(exc):
            # The usual case: an array pickled from a store still open for
            # writing in another process, unpickled in a spawned worker.
            # Reading a file while another process writes it is not safe
            # (a reader can see half-written metadata and wrong values), so
            # the way out offered is the safe one.
            raise StorageError(
                errno.EAGAIN,
                f"cannot open {path!r} with mode {mode!r}: the file is locked by another "
                "process that has it open (HDF5 file locking); a file being written cannot "
                "be read safely: flush and close it there first (or reopen it read-only "
                "there) before other processes open it",
            ) from None
        raise hdf5_error(f"cannot open {path!r} with mode {mode!r}", exc, summary(exc)) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        # PyTables parsing a root attribute it wrote, damaged: its format
        # version "2.1" flipped to "h.1" gave int()'s ValueError (issue 14).
        if mode == "w" or driver_kw:
            raise  # not a file's metadata: the arguments
        raise CorruptStoreError(f"cannot open {path!r}: the file's metadata is corrupt "
                                f"({type(exc).__name__}: {exc})") from exc


#: This process's id, renewed in a forked child (:func:`_after_fork_in_child`):
#: every use of a file handle asks whether this process opened it, and
#: ``os.getpid()`` is a system call (90 ns here, twice per read).
_PID = os.getpid()


def _acquire(key: str, path: str, mode: str, driver_kw: dict) -> _Handle:
    pid = _PID
    h = _HANDLES.get(key)
    if h is not None and (h.pid != pid or not h.file.isopen):
        # Inherited over fork (or closed behind our back): forget, don't close.
        del _HANDLES[key]
        h = None
    if h is None:
        _check_other_drivers(key, path, mode, pid)
        h = _Handle(key, _open_tables_file(path, mode, driver_kw), pid)
        _HANDLES[key] = h
    elif mode == "w":
        raise ValueError(
            f"cannot open {path!r} with mode 'w' (truncate): it is open in this "
            "process; close its stores and arrays first"
        )
    elif mode != "r" and h.file.mode == "r":
        raise ValueError(
            f"{path!r} is open read-only in this process; close those stores and "
            f"arrays before opening it with mode {mode!r}"
        )
    h.users += 1
    return h


def _check_other_drivers(key: str, path: str, mode: str, pid: int) -> None:
    """Refuse, with our message, an open PyTables would refuse with its own:
    the same file open in this process with other driver options, where
    either open may write."""
    real = key.split("\0")[0]
    for other in list(_HANDLES.values()):
        if other.key == key or other.key.split("\0")[0] != real:
            continue
        if other.pid != pid or not other.file.isopen:
            continue
        if mode != "r" or other.file.mode != "r":
            raise ValueError(
                f"{path!r} is open in this process with other driver options "
                f"(mode {other.file.mode!r}); a second open with mode {mode!r} is only "
                "possible when both are read-only: close the other store or array first, "
                "or use the store's own cache policy"
            )


def _release(h: _Handle) -> None:
    with HDF5_LOCK:
        h.users -= 1
        if h.users > 0 or h.pid != _PID:
            return
        if _HANDLES.get(h.key) is h:
            del _HANDLES[h.key]
        # Plain arrays' memory maps belong to this open file: let go of them.
        drop_maps(h.file)
        if h.file.isopen:
            try:
                if h.file.mode != "r":
                    _flush(h)
            finally:
                with hdf5_errors(f"closing {h.file.filename!r}", True):
                    drop_guards(h.file)
                    if h.failed:
                        # The file keeps what the last successful flush wrote.
                        abandon(h.file)
                        try:
                            h.file.close()
                        except (tables.HDF5ExtError, OSError):
                            pass
                    else:
                        h.file.close()


def _flush(h: _Handle) -> None:
    """Buffered writes, then :func:`commit_flush`; a failure is remembered
    (``h.failed``) until a flush succeeds. Caller holds the lock."""
    try:
        # The hooks write buffered rows (a tail chunk): their HDF5 errors
        # too reach the caller as lazyarr errors.
        with hdf5_errors(f"flushing {h.file.filename!r}"):
            for hook in BEFORE_FLUSH:
                hook(h.file)
            commit_flush(h)
    except BaseException:
        h.failed = True
        raise
    h.failed = False


def _fileref(path: str, mode: str, driver_kw: dict) -> "FileRef":
    return FileRef(path, mode, **driver_kw)


# --------------------------------------------------------------------------
# Fork safety
# --------------------------------------------------------------------------
def _before_fork() -> None:
    # No thread may be inside HDF5 while the child's copy of it is made.
    HDF5_LOCK.acquire()


def _after_fork_in_parent() -> None:
    HDF5_LOCK.release()


#: In a forked child, the ``tables.File`` objects inherited from the parent.
#: Kept alive for good: PyTables closes an HDF5 file when its File object is
#: garbage-collected, and a close in the child could flush the child's copy
#: of the parent's metadata into the parent's file.
_INHERITED: list[tables.File] = []


def _after_fork_in_child() -> None:
    global _PID
    _PID = os.getpid()
    # The forking thread is the only one left and owns the lock: release it.
    HDF5_LOCK.release()
    registry = getattr(tables.file, "_open_files", None)
    for h in list(_HANDLES.values()):
        _INHERITED.append(h.file)
        # Forget, never close: the parent still uses this file. Out of
        # PyTables' registry, its exit handler will not close it here, and
        # an open in this process is not refused as "already opened".
        if registry is not None:
            try:
                registry.remove(h.file)
            except (KeyError, ValueError):  # pragma: no cover - not registered
                pass
    _HANDLES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


# What lazyarr.InMemory() asks of file opening: the whole file in memory.
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


def uses_core_driver(ref: Any) -> bool:
    """True when ``ref`` (a :class:`FileRef`) opens its file with the core driver."""
    return getattr(ref, "driver_kw", {}).get("driver") == "H5FD_CORE"


class FileRef:
    """What file to open and how: the identity an array keeps of its file.

    Parameters
    ----------
    path : str or os.PathLike
        The file; stored as an absolute path.
    mode : {'r', 'r+', 'a', 'w'}
        As in PyTables. A ``'w'`` FileRef truncates on its first open only,
        then behaves as ``'a'`` (a reopen after a fork must not truncate).
    **driver_kw
        Passed to :func:`tables.open_file` (e.g. ``driver="H5FD_CORE"``).

    Notes
    -----
    :attr:`file` opens the file on first use in each process. The handle is
    shared with other FileRefs of the same file and closed when the last
    one is closed or garbage-collected. Pickling a FileRef pickles the path
    and mode, not the handle.

    Examples
    --------
    >>> import tempfile, os
    >>> ref = FileRef(os.path.join(tempfile.mkdtemp(), "f.h5"), "w")
    >>> bool(ref.file.isopen), ref.mode
    (True, 'a')
    >>> ref.close()
    >>> ref.file  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lazyarr.errors.ClosedError: ...is closed...
    """

    def __init__(self, path: str | os.PathLike, mode: str = "r", **driver_kw: Any) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}; got {mode!r}")
        self.path = os.path.abspath(os.fspath(path))
        self._mode = mode
        self.driver_kw = dict(driver_kw)
        self._handle: _Handle | None = None
        self._finalizer: weakref.finalize | None = None
        self._closed = False

    @property
    def mode(self) -> str:
        """The mode the next open uses (``'w'`` has become ``'a'`` once opened)."""
        return self._mode

    @property
    def readonly(self) -> bool:
        return self._mode == "r"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def file(self) -> tables.File:
        """The open ``tables.File`` for this process (opened on first use).

        Raises :class:`lazyarr.ClosedError` after :meth:`close`.
        """
        if self._closed:
            raise ClosedError(
                f"{self.path!r} is closed (its store was closed); "
                "reopen it with lazyarr.open() or lazyarr.open_array()"
            )
        h = self._handle
        if h is not None and h.pid == _PID and h.file.isopen:
            return h.file
        with HDF5_LOCK:
            h = self._handle
            if h is not None:
                if h.pid == _PID:
                    self._finalizer()  # type: ignore[misc]  # closed elsewhere: let go
                else:
                    self._finalizer.detach()  # type: ignore[union-attr]  # parent's
                self._handle = self._finalizer = None
            h = _acquire(_handle_key(self.path, self.driver_kw), self.path, self._mode,
                         self.driver_kw)
            if self._mode == "w":
                self._mode = "a"
            self._handle = h
            self._finalizer = weakref.finalize(self, _release, h)
            return h.file

    def flush(self) -> None:
        """Flush the file if it is open in this process."""
        h = self._handle
        if not self._closed and h is not None and h.pid == _PID and h.file.isopen:
            with HDF5_LOCK, hdf5_errors(f"flushing {self.path!r}"):
                _flush(h)

    def will_commit(self, path: str, rows: Any = None) -> None:
        """Record ``rows()`` (default: the node's length) as the commit record
        of ``path`` at the next flush.

        Called by every append; see :func:`commit_flush`. Caller holds the lock.
        """
        h = self._handle
        if h is not None and h.pid == _PID:
            h.commits[path] = rows
            h.limits[path] = None

    def row_limit(self, path: str, node: Any) -> int | None:
        """Rows of ``path`` that count: its commit record when this file
        handle first looked, until a write of this process trims the rest
        (then None: every row counts). ``node()`` gives the node holding
        the record. Caller holds the lock."""
        h = self._handle
        if h is None or h.pid != _PID:
            return None
        if path not in h.limits:
            h.limits[path] = committed_rows(node())
        return h.limits[path]

    def clear_limit(self, path: str) -> None:
        """The rows past ``path``'s commit record were trimmed: all rows count."""
        h = self._handle
        if h is not None and h.pid == _PID:
            h.limits[path] = None

    def close(self) -> None:
        """Stop using the file; it closes when no other FileRef uses it. Idempotent."""
        # SwapWindow read-ahead threads of arrays on this reference end
        # first (outside the lock: they may be waiting for it).
        from lazyarr.readahead import stop_fills

        stop_fills(self)
        with HDF5_LOCK:
            self._closed = True
            if self._finalizer is not None:
                if self._handle is not None and self._handle.pid == _PID:
                    self._finalizer()
                else:
                    self._finalizer.detach()
            self._handle = self._finalizer = None

    def with_mode(self, mode: str) -> "FileRef":
        """A new, not yet opened FileRef of the same file and driver in ``mode``.

        ``'w'`` is refused: a reference must never truncate the file.

        Examples
        --------
        >>> import tempfile, os
        >>> ref = FileRef(os.path.join(tempfile.mkdtemp(), "m.h5"), "w")
        >>> ref.file.mode, ref.with_mode("r")  # doctest: +ELLIPSIS
        ('a', <FileRef '...m.h5' mode='r'>)
        >>> ref.close()
        """
        if mode not in ("r", "r+", "a"):
            raise ValueError(f"mode must be 'r', 'r+' or 'a'; got {mode!r}")
        return FileRef(self.path, mode, **self.driver_kw)

    def __reduce__(self):
        # Never 'w': an unpickled reference must not truncate the file.
        mode = "a" if self._mode == "w" else self._mode
        return (_fileref, (self.path, mode, self.driver_kw))

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<FileRef {self.path!r} mode={self._mode!r}{state}>"
