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


# --------------------------------------------------------------------------
# File space: what a flush referenced is never written over before the next
# --------------------------------------------------------------------------
# HDF5 rewrites a chunk in place when its new version has the old size, and
# otherwise frees the old space and allocates anew; space freed at the end
# of the file or next to an allocation block goes straight back to it, and
# its free-space manager hands out other freed space to the next request.
# Either way the next write lands on bytes the flushed metadata still points
# to: the last, partial chunk rewritten by every append (a killed process
# then left chunks that failed their checksum, VLArray rows pointing into a
# heap that was not there: issue 14). Two measures, both needed:
#
# * files lazyarr creates use the "aggregators only" file space strategy
#   (``H5Pset_file_space_strategy``): freed space is dropped, never reused,
#   except what adjoins the end of the file or an allocation block;
# * after every flush, a guard (:func:`guard_flushed_space`) takes the space
#   right after the last allocation, so nothing the flush wrote adjoins the
#   end of the file or a block any more.
#
# The price: each flush leaves the old copy of each rewritten chunk behind
# as unused bytes (``h5repack`` gives them back).

#: ``H5F_FSPACE_STRATEGY_AGGR``: aggregators, no free-space manager.
_FSPACE_AGGR = 2
#: Guard sizes: one small request (served by HDF5's block for small raw
#: data, 2 KiB by default) and one above it (served at the end of the file).
_GUARD_BYTES = (1,)


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

#: HDF5's metadata checksum (Jenkins' lookup3), None if the build hides it.
_checksum = getattr(HDF5_LIB, "H5_checksum_metadata", None)
if _checksum is not None:
    _checksum.restype = ctypes.c_uint32
    _checksum.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32]


def create_file(path: str) -> bool:
    """Create an empty HDF5 file at ``path`` whose freed space is never reused.

    The file then opens with PyTables (mode ``'a'``) like one it created
    (:func:`mark_pytables_file` adds PyTables' root attributes). Returns
    False (nothing created) when the library cannot be reached: the caller
    lets PyTables create the file. Caller holds :data:`HDF5_LOCK`.
    """
    if HDF5_LIB is None:  # pragma: no cover
        return False
    HDF5_LIB.H5open()
    fcpl = HDF5_LIB.H5Pcreate(_global_hid("H5P_CLS_FILE_CREATE_ID_g"))
    if fcpl < 0:  # pragma: no cover
        HDF5_LIB.H5Eclear2(hid(0))
        return False
    try:
        if HDF5_LIB.H5Pset_file_space_strategy(hid(fcpl), ctypes.c_int(_FSPACE_AGGR),
                                           ctypes.c_bool(False), ctypes.c_uint64(1)) < 0:
            HDF5_LIB.H5Eclear2(hid(0))  # pragma: no cover
            return False  # pragma: no cover
        fid = HDF5_LIB.H5Fcreate(os.fsencode(path), ctypes.c_uint(2), hid(fcpl), hid(0))  # TRUNC
        if fid < 0:
            HDF5_LIB.H5Eclear2(hid(0))
            return False
        HDF5_LIB.H5Fclose(hid(fid))
        return True
    finally:
        HDF5_LIB.H5Pclose(hid(fcpl))


def mark_pytables_file(file: tables.File) -> None:
    """Give a file :func:`create_file` made the root attributes PyTables
    writes to the files it creates (so it is one of its own to every reader)."""
    attrs = file.root._v_attrs
    for name, value in (("CLASS", "GROUP"), ("TITLE", ""), ("VERSION", "1.0"),
                        ("PYTABLES_FORMAT_VERSION", tables.file.format_version)):
        attrs._g__setattr(name, value)
    file.format_version = tables.file.format_version
    file._isPTFile = True


#: Per open file (by ``id`` of the tables.File): the guards of the last flush.
_GUARDS: dict[int, list[int]] = {}


def guard_flushed_space(file: tables.File) -> None:
    """Take the file space right after what the last flush wrote.

    Anonymous datasets (no link: no reader ever sees them) with their space
    allocated at once; each is kept open until the next flush has placed
    its own guards, then closed (HDF5 then drops it; its bytes are not
    reused, see above). Call after a flush. Caller holds :data:`HDF5_LOCK`.
    """
    if HDF5_LIB is None or file.mode == "r":  # pragma: no cover
        return
    fid = hid(file._get_file_id())
    old = _GUARDS.pop(id(file), [])
    new = []
    dcpl = HDF5_LIB.H5Pcreate(_global_hid("H5P_CLS_DATASET_CREATE_ID_g"))
    try:
        HDF5_LIB.H5Pset_alloc_time(hid(dcpl), ctypes.c_int(1))  # H5D_ALLOC_TIME_EARLY
        HDF5_LIB.H5Pset_layout(hid(dcpl), ctypes.c_int(1))  # H5D_CONTIGUOUS
        for n in _GUARD_BYTES:
            d = _anon_bytes(fid, dcpl, n)
            if d >= 0:
                new.append(d)
    finally:
        HDF5_LIB.H5Pclose(hid(dcpl))
        HDF5_LIB.H5Eclear2(hid(0))
    _GUARDS[id(file)] = new
    for d in old:
        HDF5_LIB.H5Dclose(hid(d))


# --------------------------------------------------------------------------
# The superblock's end of file: written before the metadata that needs it
# --------------------------------------------------------------------------
# HDF5 writes a flush's metadata in address order and the superblock, which
# records the end of the file's allocated space (EOA), last. A reader refuses
# any address past that EOA ("addr overflow"). An append puts new chunks and
# new index nodes past the EOA of the last flush, and the flush then rewrites
# in place the index nodes and object headers that point to them: a process
# killed after those writes but before the superblock's left a file whose
# flushed rows could not be read (a rewritten last chunk, moved because its
# compressed size changed, holds flushed rows) and whose next append failed
# (issue 14). So before the flush :func:`publish_eoa` writes the EOA the
# flush will end with into the on-disk superblock itself.

#: Bytes of the probe that finds the end of the allocated space: more than
#: HDF5's block for small raw data (2 KiB), so HDF5 puts it after every
#: allocation made so far. Never written (a hole in the file).
_PROBE_BYTES = 4096
#: Superblock versions 2 and 3 (what files with a file-space strategy, all
#: the files lazyarr creates, have): 48 bytes, end-of-file address at 28.
_SB_SIZE, _SB_EOF, _SB_SUM = 48, 28, 44


def publish_eoa(file: tables.File) -> bool:
    """Write into ``file``'s on-disk superblock the end of its allocated space.

    Called before a flush (see the comment above). The end is that of a
    *probe*, an anonymous dataset of :data:`_PROBE_BYTES` allocated after
    everything else and kept until the next flush's guards replace it
    (:func:`guard_flushed_space`): every address the flush writes is below
    it, and HDF5's own end of file after the flush is not (the probe is
    allocated space), so the file is never shorter than its superblock says.
    The file is extended to that end first (a hole), then the superblock's
    end-of-file address and checksum are rewritten (one 48-byte write).
    Returns False (the superblock untouched) for a file this cannot handle: another
    driver than sec2, a superblock of version 0 or 1 or with a base address,
    a build without the functions it needs. Caller holds :data:`HDF5_LOCK`.
    """
    if (HDF5_LIB is None or file.mode == "r" or _checksum is None
            or file.params.get("DRIVER") not in (None, "H5FD_SEC2")):
        return False
    fid = hid(file._get_file_id())
    handle = ctypes.c_void_p()
    if HDF5_LIB.H5Fget_vfd_handle(fid, hid(0), ctypes.byref(handle)) < 0 or not handle.value:
        HDF5_LIB.H5Eclear2(hid(0))  # pragma: no cover
        return False  # pragma: no cover
    fd = ctypes.cast(handle, ctypes.POINTER(ctypes.c_int)).contents.value
    sb = os.pread(fd, _SB_SIZE, 0)
    if (len(sb) != _SB_SIZE or sb[:8] != b"\x89HDF\r\n\x1a\n" or sb[8] not in (2, 3)
            or sb[9:11] != b"\x08\x08" or int.from_bytes(sb[12:20], "little") != 0
            or _checksum(sb[:_SB_SUM], _SB_SUM, 0) != int.from_bytes(sb[_SB_SUM:], "little")):
        return False
    _write_cached_chunks(fid)
    stored = int.from_bytes(sb[_SB_EOF:_SB_EOF + 8], "little")
    eoa = ctypes.c_uint64(0)
    if HDF5_LIB.H5Fget_eoa(fid, ctypes.byref(eoa)) < 0:
        HDF5_LIB.H5Eclear2(hid(0))  # pragma: no cover
        return False  # pragma: no cover
    # Less the unused space HDF5's allocation blocks hold (a node created
    # and removed again gave its space back to them).
    if eoa.value - max(0, HDF5_LIB.H5Fget_freespace(fid)) <= stored:
        # Nothing in use past the recorded end: nothing the flush writes lies
        # there (and a flush with nothing to write changes no byte).
        HDF5_LIB.H5Eclear2(hid(0))
        return True
    end = _probe(file, fid)
    if end is None:
        return False  # pragma: no cover
    if stored >= end:
        return True  # pragma: no cover
    try:
        if os.fstat(fd).st_size < end:
            # HDF5 refuses a file shorter than its superblock's end of file.
            os.ftruncate(fd, end)
    except OSError:
        # A file size limit: the flush's own space check says so.
        return False
    head = sb[:_SB_EOF] + end.to_bytes(8, "little") + sb[_SB_EOF + 8:_SB_SUM]
    os.pwrite(fd, head + _checksum(head, _SB_SUM, 0).to_bytes(4, "little"), 0)
    return True


#: ``H5F_OBJ_DATASET``: what ``H5Fget_obj_ids`` lists.
_OBJ_DATASET = 2
#: Zeros: the coordinates of a first chunk, for any rank (HDF5's limit is 32).
_ORIGIN = (ctypes.c_uint64 * 32)()


def _write_cached_chunks(fid: ctypes.c_int64) -> None:
    """Write the chunks HDF5's chunk caches hold for the datasets open in ``fid``.

    Otherwise ``H5Fflush`` writes them, and allocates their space, after
    :func:`publish_eoa` has recorded the end of the allocated space.
    ``H5Dget_chunk_info_by_coord`` writes a dataset's cached chunks before
    looking one up (so that it reports sizes on disk); it writes no metadata
    (the metadata cache keeps it, see :func:`hold_metadata`).
    """
    n = HDF5_LIB.H5Fget_obj_count(fid, ctypes.c_uint(_OBJ_DATASET))
    if n <= 0:
        HDF5_LIB.H5Eclear2(hid(0))
        return
    ids = (ctypes.c_int64 * n)()
    n = HDF5_LIB.H5Fget_obj_ids(fid, ctypes.c_uint(_OBJ_DATASET), ctypes.c_size_t(n), ids)
    mask, addr, size = ctypes.c_uint(), ctypes.c_uint64(), ctypes.c_uint64()
    for i in range(max(0, n)):
        # Contiguous datasets (the guards, plain arrays) fail: nothing cached.
        HDF5_LIB.H5Dget_chunk_info_by_coord(hid(ids[i]), _ORIGIN, ctypes.byref(mask),
                                            ctypes.byref(addr), ctypes.byref(size))
    HDF5_LIB.H5Eclear2(hid(0))


def _anon_bytes(fid: ctypes.c_int64, dcpl: int, n: int) -> int:
    """An anonymous ``n``-byte dataset in file ``fid`` made with ``dcpl`` (an
    allocated block of the file: a guard or the probe); its id, < 0 on failure."""
    dims = (ctypes.c_uint64 * 1)(n)
    space = HDF5_LIB.H5Screate_simple(ctypes.c_int(1), dims, None)
    try:
        return HDF5_LIB.H5Dcreate_anon(fid, _global_hid("H5T_NATIVE_UINT8_g"), hid(space),
                                       hid(dcpl), hid(0))
    finally:
        HDF5_LIB.H5Sclose(hid(space))


def _probe(file: tables.File, fid: ctypes.c_int64) -> int | None:
    """Allocate the probe of :func:`publish_eoa`; its end address, or None."""
    dcpl = HDF5_LIB.H5Pcreate(_global_hid("H5P_CLS_DATASET_CREATE_ID_g"))
    try:
        HDF5_LIB.H5Pset_alloc_time(hid(dcpl), ctypes.c_int(1))  # H5D_ALLOC_TIME_EARLY
        HDF5_LIB.H5Pset_layout(hid(dcpl), ctypes.c_int(1))  # H5D_CONTIGUOUS
        HDF5_LIB.H5Pset_fill_time(hid(dcpl), ctypes.c_int(2))  # H5D_FILL_TIME_NEVER
        d = _anon_bytes(fid, dcpl, _PROBE_BYTES)
    finally:
        HDF5_LIB.H5Pclose(hid(dcpl))
    if d < 0:
        HDF5_LIB.H5Eclear2(hid(0))  # pragma: no cover
        return None  # pragma: no cover
    # Kept like a guard: freed now, its space would shrink the file below
    # the end written into the superblock.
    _GUARDS.setdefault(id(file), []).append(d)
    offset = HDF5_LIB.H5Dget_offset(hid(d))
    if offset == 2**64 - 1:  # HADDR_UNDEF
        HDF5_LIB.H5Eclear2(hid(0))  # pragma: no cover
        return None  # pragma: no cover
    return int(offset) + _PROBE_BYTES


def drop_guards(file: tables.File) -> None:
    """Close the guards of ``file`` (before the file closes)."""
    if HDF5_LIB is None:  # pragma: no cover
        return
    for d in _GUARDS.pop(id(file), []):
        HDF5_LIB.H5Dclose(hid(d))
