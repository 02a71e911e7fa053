"""The HDF5 layer every PyTables-backed part of lazyarr shares.

One place for: the process-wide lock around PyTables/HDF5 calls
(:data:`HDF5_LOCK`), the mapping of HDF5 failures to lazyarr errors
(:class:`hdf5_errors`), the warnings PyTables emits that do not concern us
(:func:`quiet`), and the attributes that make files self-describing
(:data:`ATTR_BACKEND`, :data:`ATTR_VERSION`).

:mod:`lazyarr.files`, :mod:`lazyarr.store` and the backends import these
names from here; nothing else maps HDF5 errors.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import os
import warnings
from typing import Any, Iterator

import tables

from lazyarr._plugins import diagnose, missing_filter
from lazyarr.backends.base import HDF5_LOCK
from lazyarr.errors import CorruptStoreError, StorageError

__all__ = [
    "HDF5_LIB",
    "hid",
    "ATTR_BACKEND",
    "ATTR_ROWS",
    "committed_rows",
    "write_committed_rows",
    "hold_metadata",
    "abandon",
    "check_space",
    "flush_file",
    "ATTR_VERSION",
    "BEFORE_FLUSH",
    "FORMAT_VERSION",
    "HDF5_LOCK",
    "hdf5_error",
    "hdf5_errors",
    "summary",
    "quiet",
]

#: HDF5 attribute naming the backend kind that wrote a node.
ATTR_BACKEND = "LAZYARR_BACKEND"
#: HDF5 attribute with the layout version of that backend.
ATTR_VERSION = "LAZYARR_VERSION"
FORMAT_VERSION = 1
#: HDF5 attribute with the rows (items) complete at the last flush: the
#: commit record of an extendable array (see :func:`lazyarr.files.commit_flush`).
ATTR_ROWS = "LAZYARR_ROWS"


def committed_rows(node: Any) -> int | None:
    """The commit record of ``node``: rows complete at its last flush, or None.

    None when the node has none (written by others, or before lazyarr kept
    them) or when it is not a non-negative int (then the rows on disk are
    all there is to go by). Caller holds :data:`HDF5_LOCK`.
    """
    attrs = node._v_attrs
    if ATTR_ROWS not in attrs._v_attrnamesuser:
        return None
    try:
        value = attrs[ATTR_ROWS]
        n = int(value)
    except (TypeError, ValueError, OverflowError, tables.HDF5ExtError):
        return None
    if n < 0 or n != value:
        return None
    return n


def write_committed_rows(node: Any, n: int) -> None:
    """Write ``n`` as the commit record of ``node`` (``n < 0``: no record).

    The record is rewritten in place (``H5Awrite`` of the existing 64-bit
    attribute), never deleted and created again as PyTables' attribute
    assignment does: that freed the header chunk holding the record and
    allocated a new one at the end of the file at every flush, and HDF5
    writes a flush's metadata in address order, so ``/x``'s first header
    chunk (pointing at the new chunk) reached the file before the new chunk
    and the superblock's end of file: a kill -9 between those writes left a
    header that did not open ("addr overflow", issue 14). Written in place,
    a record changes bytes of the header chunk it is in, nothing else. A
    negative ``n`` is written as is (:func:`committed_rows` reads it as no
    record) rather than deleting the attribute, for the same reason. The
    first record of a node is created (a new node: its creation is part of
    the same flush). Caller holds :data:`HDF5_LOCK`.
    """
    attrs = node._v_attrs
    if ATTR_ROWS in attrs._v_attrnamesuser:
        if _write_int64(node._v_objectid, ATTR_ROWS, n):
            # PyTables caches values it has read; the next read must see n.
            attrs.__dict__.pop(ATTR_ROWS, None)
            return
        # Not a 64-bit integer scalar (not ours): replace it.
        del attrs[ATTR_ROWS]
    if n >= 0:
        attrs[ATTR_ROWS] = n


def _write_int64(oid: int, name: str, value: int) -> bool:
    """Overwrite the attribute ``name`` of the object ``oid`` with ``value``
    if it is a signed 64-bit integer scalar; False (nothing written) if not."""
    if HDF5_LIB is None:  # pragma: no cover - unusual builds
        return False
    aid = HDF5_LIB.H5Aopen(hid(oid), name.encode(), hid(0))
    if aid < 0:  # pragma: no cover - the caller saw the attribute
        HDF5_LIB.H5Eclear2(hid(0))
        return False
    try:
        tid = HDF5_LIB.H5Aget_type(hid(aid))
        sid = HDF5_LIB.H5Aget_space(hid(aid))
        try:
            ok = (tid >= 0 and sid >= 0
                  and HDF5_LIB.H5Tget_class(hid(tid)) == 0  # H5T_INTEGER
                  and HDF5_LIB.H5Tget_size(hid(tid)) == 8
                  and HDF5_LIB.H5Tget_sign(hid(tid)) == 1  # H5T_SGN_2
                  and HDF5_LIB.H5Sget_simple_extent_type(hid(sid)) == 0)  # H5S_SCALAR
        finally:
            if tid >= 0:
                HDF5_LIB.H5Tclose(hid(tid))
            if sid >= 0:
                HDF5_LIB.H5Sclose(hid(sid))
        if not ok:
            return False
        buf = ctypes.c_int64(int(value))
        if HDF5_LIB.H5Awrite(hid(aid), _global_hid("H5T_NATIVE_INT64_g"), ctypes.byref(buf)) < 0:
            HDF5_LIB.H5Eclear2(hid(0))  # pragma: no cover
            return False  # pragma: no cover
        return True
    finally:
        HDF5_LIB.H5Aclose(hid(aid))


#: What PyTables raises when HDF5 fails or the file's bytes make no sense:
#: HDF5's own errors, and the Python errors its C code lets out on corrupt
#: metadata (a negative length, undecodable attribute bytes, a name missing
#: from a damaged symbol table).
_RAW_ERRORS = (tables.HDF5ExtError, SystemError, UnicodeDecodeError)

#: Words in HDF5's trace that mean the bytes on disk are wrong, not the disk.
_CORRUPT_WORDS = ("checksum", "signature", "corrupt", "truncated", "inflate",
                  "decompress", "filter", "bad ", "wrong", "invalid", "can't decode",
                  "unable to load", "addr overflow", "out of range")

#: Called with an open ``tables.File`` (lock held) before lazyarr flushes or
#: closes it: buffered appends (``_b2blocks``) are written there.
BEFORE_FLUSH: list = []


class hdf5_errors:
    """Turn a PyTables/HDF5 failure into a lazyarr error naming file and node.

    A context manager, the one place such failures are mapped:

    * a disk or OS failure (``errno`` in HDF5's trace: a full disk, a file
      size limit, a permission) -> :class:`lazyarr.StorageError` (an OSError,
      or PermissionError's message for permissions);
    * metadata or chunks HDF5 cannot make sense of, and the SystemError or
      UnicodeDecodeError PyTables' C code lets out on them ->
      :class:`lazyarr.CorruptStoreError` (OSError and ValueError);
    * anything else HDF5 raises -> :class:`lazyarr.StorageError`.

    HDF5's own back trace stays out of the message (it is long and names C
    functions), but is kept as ``__cause__``.

    Examples
    --------
    >>> import tables
    >>> with hdf5_errors("reading '/x' from 'f.h5'"):
    ...     raise tables.HDF5ExtError("Problems reading chunk: checksum mismatch")
    Traceback (most recent call last):
    ...
    lazyarr.errors.CorruptStoreError: HDF5 failed reading '/x' from 'f.h5': Problems reading chunk: checksum mismatch
    """

    def __init__(self, what: Any, metadata: bool = False) -> None:
        # A string, or a backend: its read is the hot path, so the message
        # is only formatted when something failed.
        self.what = what
        #: Reading the file's structure (nodes, attributes): PyTables then
        #: lets AttributeError and KeyError out of damaged metadata too.
        self.metadata = metadata

    def __enter__(self) -> None:
        return None

    def __exit__(self, tp: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        if self.metadata and type(exc) in (AttributeError, KeyError, IndexError, TypeError):
            raise CorruptStoreError(f"HDF5 failed {self.what}: the file's metadata is "
                                    f"corrupt ({type(exc).__name__}: {exc})") from exc
        if not isinstance(exc, _RAW_ERRORS):
            return False
        first = summary(exc)
        what = self.what
        if not isinstance(what, str):
            what = f"reading {what._path!r} from {what._ref.path!r}"
        # A filter HDF5 lacks is named, with the package that brings it.
        hint = missing_filter(str(exc)) or (
            None if isinstance(self.what, str) else diagnose(self.what))
        if hint:
            raise StorageError(f"HDF5 failed {what}: {hint}") from exc
        raise hdf5_error(f"HDF5 failed {what}", exc, first) from exc


def summary(exc: BaseException) -> str:
    """One line for an HDF5 failure: PyTables' summary and HDF5's innermost reason.

    Examples
    --------
    >>> summary(tables.HDF5ExtError("HDF5 error back trace\\n\\n  File \\"H5D.c\\", line 1\\n"
    ...                             "    can't write data\\n\\nEnd of HDF5 error back trace\\n\\n"
    ...                             "Problems appending the elements"))
    "Problems appending the elements (can't write data)"
    """
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    if not lines[0].startswith("HDF5 error back trace"):
        return lines[0].strip()
    reasons = [ln.strip() for ln in lines if ln.startswith("    ")]
    last = lines[-1].strip()
    if last.startswith("End of HDF5 error back trace"):
        last = "HDF5 error"
    return f"{last} ({reasons[-1]})" if reasons else last


def hdf5_error(what: str, exc: BaseException, first: str) -> BaseException:
    """The lazyarr error for ``exc`` (see :class:`hdf5_errors`)."""
    text = str(exc).lower()
    if isinstance(exc, (SystemError, UnicodeDecodeError)):
        return CorruptStoreError(f"{what}: the file's metadata is corrupt ({first})")
    for code, name in ((errno.ENOSPC, "no space left on device"),
                       (errno.EFBIG, "file too large"), (errno.EDQUOT, "disk quota exceeded"),
                       (errno.EIO, "input/output error")):
        if f"errno = {code}," in text:
            return StorageError(code, f"{what}: {name} ({first})")
    if f"errno = {errno.EACCES}," in text or f"errno = {errno.EPERM}," in text:
        return PermissionError(errno.EACCES, f"{what}: permission denied ({first})")
    if "unable to write" in text or "write failed" in text or "file write failed" in text:
        return StorageError(f"{what}: {first}")
    if any(w in text for w in _CORRUPT_WORDS):
        return CorruptStoreError(f"{what}: {first}")
    return StorageError(f"{what}: {first}")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence PyTables warnings that do not concern how we use it.

    NaturalNameWarning: we address nodes by path, never by attribute access.
    FlavorWarning: we read raw NumPy buffers, never flavored results.
    PerformanceWarning: rows over 100 MiB on append; our chunk shapes, not
    PyTables' row buffer, decide the I/O.
    DataTypeWarning and "problems loading leaf": nodes or attributes PyTables
    cannot represent (h5py variable-length strings, say); such nodes are not
    arrays we open, and discovery skips them.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tables.NaturalNameWarning)
        warnings.simplefilter("ignore", tables.FlavorWarning)
        warnings.simplefilter("ignore", tables.PerformanceWarning)
        warnings.simplefilter("ignore", tables.DataTypeWarning)
        warnings.filterwarnings("ignore", "problems loading leaf", UserWarning)
        yield


# --------------------------------------------------------------------------
# HDF5's metadata cache: nothing written between flushes
# --------------------------------------------------------------------------
_B = ctypes.c_bool


class _MdcConfig(ctypes.Structure):
    """``H5AC_cache_config_t`` of HDF5 1.10-1.14 (version 1 of the struct)."""

    _fields_ = [
        ("version", ctypes.c_int), ("rpt_fcn_enabled", _B), ("open_trace_file", _B),
        ("close_trace_file", _B), ("trace_file_name", ctypes.c_char * 1025),
        ("evictions_enabled", _B), ("set_initial_size", _B), ("initial_size", ctypes.c_size_t),
        ("min_clean_fraction", ctypes.c_double), ("max_size", ctypes.c_size_t),
        ("min_size", ctypes.c_size_t), ("epoch_length", ctypes.c_long),
        ("incr_mode", ctypes.c_int), ("lower_hr_threshold", ctypes.c_double),
        ("increment", ctypes.c_double), ("apply_max_increment", _B),
        ("max_increment", ctypes.c_size_t), ("flash_incr_mode", ctypes.c_int),
        ("flash_multiple", ctypes.c_double), ("flash_threshold", ctypes.c_double),
        ("decr_mode", ctypes.c_int), ("upper_hr_threshold", ctypes.c_double),
        ("decrement", ctypes.c_double), ("apply_max_decrement", _B),
        ("max_decrement", ctypes.c_size_t), ("epochs_before_eviction", ctypes.c_int),
        ("apply_empty_reserve", _B), ("empty_reserve", ctypes.c_double),
        ("dirty_bytes_threshold", ctypes.c_size_t), ("metadata_write_strategy", ctypes.c_int),
    ]


def _libhdf5() -> Any:
    """The HDF5 library PyTables itself is linked with (not h5py's copy)."""
    here = os.path.dirname(tables.__file__)
    found = sorted(glob.glob(os.path.join(here, "..", "tables.libs", "libhdf5-*.so*")))
    found += sorted(glob.glob(os.path.join(here, "..", "tables.libs", "libhdf5*.dylib")))
    try:
        if found:
            return ctypes.CDLL(found[0])
        # A PyTables built against the system's HDF5: its symbols are global.
        lib = ctypes.CDLL(tables.hdf5extension.__file__)
        lib.H5Fget_mdc_config  # noqa: B018
        return lib
    except (OSError, AttributeError):  # pragma: no cover - unusual builds
        return None


#: The HDF5 library PyTables is linked with (ctypes), None on builds where it
#: cannot be found: callers then skip what needs it.
HDF5_LIB = _libhdf5()


def hid(value: int) -> ctypes.c_int64:
    """An HDF5 identifier as ctypes passes it (``hid_t``, 64 bits)."""
    return ctypes.c_int64(value)


def _global_hid(name: str) -> ctypes.c_int64:
    return ctypes.c_int64.in_dll(HDF5_LIB, name)


if HDF5_LIB is not None:
    for _fn in ("H5Pcreate", "H5Fcreate", "H5Screate_simple", "H5Dcreate_anon", "H5Aopen",
                "H5Aget_type", "H5Aget_space"):
        getattr(HDF5_LIB, _fn).restype = ctypes.c_int64
    HDF5_LIB.H5Tget_size.restype = ctypes.c_size_t
    HDF5_LIB.H5Dget_offset.restype = ctypes.c_uint64
    HDF5_LIB.H5Fget_obj_count.restype = ctypes.c_ssize_t
    HDF5_LIB.H5Fget_obj_ids.restype = ctypes.c_ssize_t
    HDF5_LIB.H5Fget_freespace.restype = ctypes.c_int64


def hold_metadata(file: tables.File) -> bool:
    """Keep every dirty HDF5 metadata entry of ``file`` in memory until a flush.

    By default HDF5 evicts metadata (B-tree nodes, object headers, heaps) to
    the file whenever its cache needs room, so a process killed between two
    flushes leaves on disk a mix of old and new metadata: the interrupted
    files of issue 14 that no longer opened or appended. With evictions off
    (``H5Fset_mdc_config``; adaptive resizing must then be off too), the
    file between flushes holds the metadata of the last flush plus raw data
    written to space that metadata does not reference. Returns False when
    the library could not be reached (then nothing changed). Caller holds
    :data:`HDF5_LOCK`.
    """
    if HDF5_LIB is None:  # pragma: no cover
        return False
    fid = ctypes.c_int64(file._get_file_id())
    cfg = _MdcConfig()
    cfg.version = 1
    if HDF5_LIB.H5Fget_mdc_config(fid, ctypes.byref(cfg)) < 0:  # pragma: no cover
        return False
    cfg.evictions_enabled = False
    cfg.incr_mode = cfg.decr_mode = cfg.flash_incr_mode = 0  # H5C_*__off
    cfg.rpt_fcn_enabled = cfg.open_trace_file = cfg.close_trace_file = False
    return HDF5_LIB.H5Fset_mdc_config(fid, ctypes.byref(cfg)) >= 0


def flush_file(file: tables.File, what: str) -> None:
    """Flush ``file`` and raise when HDF5 could not write it.

    ``tables.File.flush`` ignores what ``H5Fflush`` returns, so a full disk
    went unnoticed until the file would not open. Here ``H5Fflush`` is
    called again and its status checked (it rewrites what the first call
    could not). Caller holds :data:`HDF5_LOCK`.
    """
    if HDF5_LIB is not None and file.mode != "r":
        _check_flush_space(file, what)
    file.flush()
    if HDF5_LIB is None or file.mode == "r":  # pragma: no cover - unusual builds
        return
    if HDF5_LIB.H5Fflush(ctypes.c_int64(file._get_file_id()), 1) < 0:  # H5F_SCOPE_GLOBAL
        why = "no space left on device or file too large"
        HDF5_LIB.H5Eclear2(ctypes.c_int64(0))
        raise StorageError(errno.ENOSPC, f"HDF5 failed {what}: the file could not be written "
                           f"({why}, or an I/O error); the file holds what the last "
                           "successful flush wrote")


def _check_flush_space(file: tables.File, what: str) -> None:
    """StorageError before a flush that cannot fit: HDF5 would write part of
    its metadata (the superblock's end-of-file first) and leave a file that
    does not open ("truncated file")."""
    eoa = ctypes.c_uint64(0)
    if HDF5_LIB.H5Fget_eoa(ctypes.c_int64(file._get_file_id()), ctypes.byref(eoa)) < 0:
        HDF5_LIB.H5Eclear2(ctypes.c_int64(0))  # pragma: no cover
        return  # pragma: no cover
    try:
        size = os.path.getsize(file.filename)
    except OSError:  # pragma: no cover
        return
    if eoa.value > size:
        # Metadata is written where its space was allocated, up to the end
        # of the file's allocated space: all of it must fit.
        check_space(file.filename, eoa.value - size, what, margin=64 * 2**10)


def abandon(file: tables.File) -> None:
    """Let ``file`` close without writing anything more to it.

    After a flush that failed, HDF5's close would flush again and write part
    of its metadata (a full disk lets some writes through): the file would
    no longer open. Pointing HDF5's file descriptor at ``/dev/null`` keeps
    the file as the last successful flush left it (metadata is held in
    memory between flushes, see :func:`hold_metadata`). Caller holds
    :data:`HDF5_LOCK` and closes ``file`` next.
    """
    if HDF5_LIB is None or file.mode == "r" or file.params.get("DRIVER") not in (None, "H5FD_SEC2"):
        return
    handle = ctypes.c_void_p()
    if HDF5_LIB.H5Fget_vfd_handle(ctypes.c_int64(file._get_file_id()), ctypes.c_int64(0),
                              ctypes.byref(handle)) < 0 or not handle.value:
        HDF5_LIB.H5Eclear2(ctypes.c_int64(0))  # pragma: no cover
        return  # pragma: no cover
    fd = ctypes.cast(handle, ctypes.POINTER(ctypes.c_int)).contents.value
    null = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


#: Bytes of HDF5 metadata a write may add besides its data (B-tree nodes,
#: object header updates, a rewritten last chunk's old and new copies).
SPACE_MARGIN = 256 * 2**10


def check_space(path: str, nbytes: int, what: str, margin: int | None = None) -> None:
    """StorageError before a write of about ``nbytes`` that cannot fit.

    Checks the free space of the file system and the process's file size
    limit (``RLIMIT_FSIZE``) against ``nbytes`` (uncompressed: an upper
    bound) plus :data:`SPACE_MARGIN`, so that a write that would fail half
    way fails before it starts and changes nothing.
    """
    need = int(nbytes) + (SPACE_MARGIN if margin is None else margin)
    try:
        st = os.statvfs(path)
        size = os.path.getsize(path)
    except OSError:
        return
    free = st.f_bavail * st.f_frsize
    if free < need:
        raise StorageError(errno.ENOSPC, f"cannot {what}: it needs up to {need} bytes and "
                           f"the disk holding {path!r} has {free} free; nothing was written")
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        return
    if limit != resource.RLIM_INFINITY and size + need > limit:
        raise StorageError(errno.EFBIG, f"cannot {what}: it needs up to {need} bytes and "
                           f"the file size limit (RLIMIT_FSIZE {limit}) leaves {limit - size}; "
                           "nothing was written")
