"""File space and the superblock: what makes a flush crash-safe.

Two orderings HDF5 does not give, made here (issue 14): what a flush
referenced is never written over before the next flush (the file space
strategy of the files lazyarr creates, and a guard after each flush), and
the superblock's end of file reaches the disk before the metadata that
points past the old one (:func:`publish_eoa`). :mod:`lazyarr.files`
calls these around every flush; the commit record they protect is
:func:`lazyarr.backends._hdf5.write_committed_rows`.
"""

from __future__ import annotations

import ctypes
import os

import tables

from lazyarr.backends._hdf5 import HDF5_LIB, _global_hid, hid

__all__ = ["create_file", "mark_pytables_file", "guard_flushed_space", "publish_eoa", "drop_guards"]


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
