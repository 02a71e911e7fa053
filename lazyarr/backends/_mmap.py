"""Contiguous, unfiltered HDF5 datasets read and written through a memory map.

A contiguous dataset with no filters and no external storage is one run of
bytes at a fixed place in the file: ``prod(shape) * itemsize`` bytes at the
address HDF5's ``H5Dget_offset`` gives (a userblock included). Mapped with
``mmap``, NumPy indexes those bytes directly, for every key, with no HDF5
call, no lock and no hyperslab planning.

How the bytes are found
    Through the HDF5 library PyTables itself links (``ctypes`` on its
    extension module, whose dependencies ``dlsym`` searches), on the
    dataset id PyTables already holds: no second HDF5 library and no second
    HDF5 open of the file (h5py's ``get_offset`` would need both, and a
    flush first). The map opens the file by name, checked against the
    descriptor HDF5 has open (``H5Fget_vfd_handle``: same device and inode)
    so it is the very file PyTables writes; with a descriptor of its own,
    the map never holds HDF5's file lock. Whether the dataset has storage
    comes from ``H5Dget_space_status``, not from the offset: HDF5 1.14 adds
    the userblock size to the "undefined" address of a dataset without
    storage.
    Only files opened with HDF5's default ``sec2`` driver are mapped (the
    ``core`` driver of :class:`lazyarr.InMemory` keeps its bytes in memory).

What is not mapped (today's PyTables path serves it)
    Chunked, compact, external and virtual layouts, filtered data, zero-size
    datasets, strings padded with spaces (HDF5 converts their padding), and
    a dataset with no storage yet (created with ``shape=`` only, never
    written): it has no address until its first write, and is checked again
    on every call until it has one.

Coherence
    * A map is ``MAP_SHARED``: lazyarr's writes through it are in the page
      cache at once, where every later read (lazyarr's, another process's,
      HDF5's own once its buffers are dropped) finds them.
    * HDF5 keeps up to 64 KiB of a contiguous dataset in a *sieve buffer*
      per open dataset. Writes made with PyTables directly become visible to
      the map when flushed (``node.flush()``, ``file.flush()``, close); a
      lazyarr write through HDF5 (while a dataset has no address) is flushed
      by lazyarr at once (:func:`flush_dataset`).
    * Maps belong to one open ``tables.File`` and one node object: a node
      removed and created again, a file closed or reopened (a new
      ``tables.File``, a fork) gets a new map, and :func:`drop_maps` lets go
      of a file's maps when lazyarr closes it. Maps are never unmapped
      explicitly: a read running in another thread keeps its map alive, and
      the operating system unmaps it when the last array over it is gone.

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "m.h5")
>>> with la.open(path, "w") as store:
...     x = store.create_array("x", np.arange(6, dtype=">i4").reshape(2, 3), backend="plain")
...     m = x.backend.map()
...     m.dtype, m.offset > 0, x[1, ::-1]
(dtype('>i4'), True, array([5, 4, 3], dtype='>i4'))
"""

from __future__ import annotations

import ctypes
import mmap
import os
import threading
import weakref
from typing import Any

import numpy as np
import tables
from numpy.lib.array_utils import byte_bounds

__all__ = ["NodeMap", "node_map", "drop_maps", "flush_dataset"]

# HDF5 constants (H5Dpublic.h, H5Tpublic.h): stable across 1.10-1.14.
_H5D_CONTIGUOUS = 1
_H5T_STRING = 3
_H5T_STR_SPACEPAD = 2
_H5D_SPACE_STATUS_ALLOCATED = 2
_HADDR_UNDEF = 2**64 - 1

_hid = ctypes.c_int64  # hid_t is 64 bits since HDF5 1.10


class _HDF5:
    """The few HDF5 C functions the map needs, from PyTables' own library."""

    def __init__(self) -> None:
        from lazyarr.backends._hdf5 import HDF5_LIB as lib  # (the one way it is found)

        if lib is None:  # pragma: no cover - unusual builds
            raise OSError("the HDF5 library PyTables uses was not found")

        def fn(name: str, res: Any, *args: Any) -> Any:
            f = getattr(lib, name)
            f.restype, f.argtypes = res, list(args)
            return f

        self.get_offset = fn("H5Dget_offset", ctypes.c_uint64, _hid)
        self.get_space_status = fn("H5Dget_space_status", ctypes.c_int, _hid,
                                   ctypes.POINTER(ctypes.c_int))
        self.get_create_plist = fn("H5Dget_create_plist", _hid, _hid)
        self.get_type = fn("H5Dget_type", _hid, _hid)
        self.flush = fn("H5Dflush", ctypes.c_int, _hid)
        self.get_layout = fn("H5Pget_layout", ctypes.c_int, _hid)
        self.get_external_count = fn("H5Pget_external_count", ctypes.c_int, _hid)
        self.get_nfilters = fn("H5Pget_nfilters", ctypes.c_int, _hid)
        self.pclose = fn("H5Pclose", ctypes.c_int, _hid)
        self.tget_size = fn("H5Tget_size", ctypes.c_size_t, _hid)
        self.tget_class = fn("H5Tget_class", ctypes.c_int, _hid)
        self.tget_strpad = fn("H5Tget_strpad", ctypes.c_int, _hid)
        self.tis_variable_str = fn("H5Tis_variable_str", ctypes.c_int, _hid)
        self.tclose = fn("H5Tclose", ctypes.c_int, _hid)
        self.iget_file_id = fn("H5Iget_file_id", _hid, _hid)
        self.fclose = fn("H5Fclose", ctypes.c_int, _hid)
        self.vfd_handle = fn("H5Fget_vfd_handle", ctypes.c_int, _hid, _hid,
                             ctypes.POINTER(ctypes.c_void_p))


_LIB: _HDF5 | None = None


def _lib() -> _HDF5:
    global _LIB
    if _LIB is None:
        _LIB = _HDF5()
    return _LIB


def _mappable_layout(lib: _HDF5, did: int, dtype: np.dtype) -> bool:
    """Contiguous, unfiltered, not external, and stored as ``dtype``'s bytes."""
    pl = lib.get_create_plist(did)
    if pl < 0:
        return False
    try:
        if lib.get_layout(pl) != _H5D_CONTIGUOUS:
            return False
        if lib.get_external_count(pl) != 0 or lib.get_nfilters(pl) != 0:
            return False
    finally:
        lib.pclose(pl)
    tid = lib.get_type(did)
    if tid < 0:
        return False
    try:
        if lib.tget_size(tid) != dtype.itemsize:
            return False
        if lib.tget_class(tid) == _H5T_STRING:
            # Space padding is rewritten by HDF5's conversion on read; the raw
            # bytes would differ from what PyTables returns.
            return lib.tis_variable_str(tid) == 0 and lib.tget_strpad(tid) != _H5T_STR_SPACEPAD
    finally:
        lib.tclose(tid)
    return True


def _file_descriptor(lib: _HDF5, did: int) -> int | None:
    """The descriptor HDF5's sec2 driver holds for the dataset's file."""
    fid = lib.iget_file_id(did)
    if fid < 0:
        return None
    try:
        handle = ctypes.c_void_p()
        if lib.vfd_handle(fid, 0, ctypes.byref(handle)) < 0 or not handle.value:
            return None
        return ctypes.cast(handle, ctypes.POINTER(ctypes.c_int)).contents.value
    finally:
        lib.fclose(fid)


#: Copies out of a map at least this large give their pages back (see
#: :meth:`NodeMap.copy_out`).
RELEASE_BYTES = 2**20


class NodeMap:
    """The bytes of one contiguous dataset as an ndarray over ``mmap``.

    Attributes
    ----------
    array : numpy.ndarray
        The dataset's elements in their stored dtype (byte order included);
        writeable when the file is open for writing.
    offset : int
        Byte offset of the first element in the file.
    """

    __slots__ = ("node", "array", "offset", "owner", "__weakref__")

    def __init__(self, node: Any, array: np.ndarray, offset: int) -> None:
        self.node, self.array, self.offset = node, array, offset
        #: What NumPy makes the base of a view of ``array``: a result with
        #: this base shares the map's memory and must be copied.
        self.owner = array[...].base

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    def copy_out(self, view: np.ndarray) -> np.ndarray:
        """A copy of ``view`` (a view of :attr:`array`) that leaves its pages unmapped.

        A large read (a reduction's block, a whole-array copy) would otherwise
        leave every page it touched counted in the process's RSS until the map
        goes: a 1 GB scan in 64 MB blocks would look like 1 GB of memory.
        The pages stay in the page cache (MADV_DONTNEED on a shared file
        mapping drops only this process's page tables, never data), so reading
        them again costs a minor fault each. Small reads keep their pages.
        """
        out = view.copy()
        if out.nbytes < RELEASE_BYTES:
            return out
        mm = self.array.base
        while isinstance(mm, np.ndarray):
            mm = mm.base
        if not isinstance(mm, mmap.mmap) or not hasattr(mmap, "MADV_DONTNEED"):
            return out
        base = self.array.ctypes.data - self.offset % mmap.ALLOCATIONGRANULARITY
        lo, hi = byte_bounds(view)
        lo = -(-(lo - base) // mmap.PAGESIZE) * mmap.PAGESIZE
        hi = (hi - base) // mmap.PAGESIZE * mmap.PAGESIZE
        if hi > lo:
            mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
        return out

    def __repr__(self) -> str:
        return (f"NodeMap({self.node._v_pathname!r}, offset={self.offset}, "
                f"shape={self.array.shape}, dtype={self.array.dtype}, "
                f"writeable={self.array.flags.writeable})")


#: Per open ``tables.File``: node path -> NodeMap, or None where the node
#: cannot be mapped (checked once per node object; see :func:`node_map`).
_MAPS: "weakref.WeakKeyDictionary[tables.File, dict[str, Any]]" = weakref.WeakKeyDictionary()
_MAPS_LOCK = threading.Lock()
#: A node with no storage yet: look again on the next call.
_UNALLOCATED = object()


def _make_map(node: Any, dtype: np.dtype) -> Any:
    """A NodeMap of ``node``, None (never mappable), or _UNALLOCATED."""
    f = node._v_file
    if f.params.get("DRIVER") not in (None, "H5FD_SEC2"):
        return None
    shape = tuple(int(n) for n in node.shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes == 0:
        return None
    lib = _lib()
    did = node._v_objectid
    if not _mappable_layout(lib, did, dtype):
        return None
    status = ctypes.c_int(-1)
    if lib.get_space_status(did, ctypes.byref(status)) < 0:
        return None
    if status.value != _H5D_SPACE_STATUS_ALLOCATED:
        return _UNALLOCATED
    offset = int(lib.get_offset(did))
    if offset == _HADDR_UNDEF:
        return None
    hdf5_fd = _file_descriptor(lib, did)
    if hdf5_fd is None:
        return None
    writable = f.mode != "r"
    # A descriptor of our own: ``mmap`` keeps a duplicate of the one it is
    # given for as long as it lives, and a duplicate of HDF5's would keep
    # HDF5's file lock (flock) after the file is closed.
    fd = os.open(f.filename, os.O_RDWR if writable else os.O_RDONLY)
    try:
        mine, theirs = os.fstat(fd), os.fstat(hdf5_fd)
        if (mine.st_dev, mine.st_ino) != (theirs.st_dev, theirs.st_ino):
            return None  # the path now names another file than the one open
        if mine.st_size < offset + nbytes:
            return None  # a truncated file: never map past its end (SIGBUS)
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        mm = mmap.mmap(fd, offset + nbytes - start, offset=start,
                       access=mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ)
    finally:
        os.close(fd)
    arr = np.ndarray(shape, dtype=dtype, buffer=mm, offset=offset - start)
    if not writable:
        arr.flags.writeable = False
    return NodeMap(node, arr, offset)


def node_map(node: Any, dtype: np.dtype) -> tuple[NodeMap | None, bool]:
    """The map of ``node`` (an open contiguous ``tables.Array``), and whether
    that answer is final.

    ``(None, True)``: this node is never mapped; read and write it through
    PyTables. ``(None, False)``: it has no storage yet; ask again after a
    write. Maps are made once per node object and open file and shared by
    every array of that node. The caller holds
    :data:`lazyarr.backends.base.HDF5_LOCK` (the lookup calls into HDF5).
    """
    f = node._v_file
    with _MAPS_LOCK:
        per_file = _MAPS.get(f)
        if per_file is None:
            per_file = _MAPS[f] = {}
    path = node._v_pathname
    entry = per_file.get(path)
    if entry is None or entry[0] is not node or entry[1] is _UNALLOCATED:
        entry = per_file[path] = (node, _make_map(node, dtype))
    got = entry[1]
    if got is _UNALLOCATED:
        return None, False
    return got, True


def drop_maps(file: tables.File) -> None:
    """Forget every map of ``file`` (it is being closed).

    Arrays holding a map let go of it on their next call, which finds the
    file closed; the memory is unmapped when the last reference goes.
    """
    with _MAPS_LOCK:
        _MAPS.pop(file, None)


def flush_dataset(node: Any) -> None:
    """Push HDF5's buffered raw data of ``node`` (its sieve buffer) to the file.

    After a write through HDF5, so that reads through the map see it. The
    caller holds :data:`lazyarr.backends.base.HDF5_LOCK`.
    """
    if _lib().flush(node._v_objectid) < 0:
        raise OSError(f"HDF5 failed flushing {node._v_pathname!r}")


def _forget_after_fork() -> None:
    # A child reopens its files (new tables.File objects): its maps are new.
    global _MAPS_LOCK
    _MAPS_LOCK = threading.Lock()
    _MAPS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
