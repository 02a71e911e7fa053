"""Checked reads of the HDF5 metadata PyTables parses without checking.

PyTables reads some metadata without looking at what HDF5 returns: a
flipped byte in the attribute messages of the root group (a version 1
object header, which carries no checksum) made ``tables.open_file`` die
with SIGSEGV inside ``read_f_attr`` (issue 14), where h5py, making the
same HDF5 calls but checking each, raised. :func:`precheck_file` (the root
group, before ``tables.open_file``) and :func:`precheck_node` (a node,
before PyTables loads it) make those calls first, through the HDF5 library
PyTables is linked with, and check every return value: the object header
opens, its attributes iterate, each attribute's type, space and value
read, and no value claims more bytes than the file holds. Any failure is a
:class:`lazyarr.CorruptStoreError`. Version 2 object headers (every node
of the files lazyarr creates but the root) carry a checksum HDF5 verifies,
so only their opening is checked.

:func:`check_chunk_index` checks the chunk index of one dataset (a
version 1 B-tree, no checksum either): a flipped key there moved a chunk
off its place, so HDF5 reported the chunk missing and reads returned the
fill value, or set its filter mask, so HDF5 skipped Blosc2 and Fletcher32
and returned stored bytes as values.

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "ok.h5")
>>> with la.open(path, "w") as s:
...     _ = s.create_array("x", np.arange(10.0))
>>> precheck_file(path)
True
"""

from __future__ import annotations

import ctypes
import os
import weakref
from typing import Any

import tables

from lazyarr.backends._hdf5 import HDF5_LIB, hid, hdf5_errors
from lazyarr.errors import CorruptStoreError

__all__ = ["precheck_file", "precheck_node", "check_children", "check_chunk_index", "chunk_info"]

_c = ctypes
_HID = _c.c_int64
# H5Aiterate2's and H5Ovisit3's callbacks: (location, name, info, data) -> herr_t.
_ITER = _c.CFUNCTYPE(_c.c_int, _HID, _c.c_char_p, _c.c_void_p, _c.c_void_p)
# H5Dchunk_iter's: (offset[], filter mask, address, size, data) -> int.
_CHUNK = _c.CFUNCTYPE(_c.c_int, _c.POINTER(_c.c_uint64), _c.c_uint, _c.c_uint64,
                      _c.c_uint64, _c.c_void_p)
_H5T_STRING, _H5T_VLEN = 3, 9
_H5F_CLOSE_STRONG = 3
_H5O_NATIVE_INFO_HDR = 0x0008
_UNDEF = 2**64 - 1  # HADDR_UNDEF

if HDF5_LIB is not None:
    for _fn in ("H5Fopen", "H5Oopen", "H5Aopen", "H5Aget_type", "H5Aget_space", "H5Dopen2",
                "H5Dget_space", "H5Dget_create_plist", "H5Pcreate", "H5Sget_simple_extent_npoints"):
        getattr(HDF5_LIB, _fn).restype = _c.c_int64
    HDF5_LIB.H5Tget_size.restype = _c.c_size_t
    HDF5_LIB.H5Tis_variable_str.restype = _c.c_int


class _Failed(Exception):
    """A checked HDF5 call failed: what was being read."""


class _Unopened(_Failed):
    """The object header of a node its group names did not open."""


def _ok(status: int, what: str) -> int:
    if status < 0:
        HDF5_LIB.H5Eclear2(hid(0))
        raise _Failed(what)
    return status


class _Walk:
    """One pass over a file's objects and attributes (see the module docstring)."""

    def __init__(self, fid: int, size: int) -> None:
        self.fid, self.size = fid, size
        self.failed: str | None = None
        self.where = "/"
        # Kept on the instance: ctypes needs the callbacks alive while HDF5 runs them.
        self._attr_cb = _ITER(self._attr)

    def _attr(self, loc: int, name: bytes, info: Any, data: Any) -> int:
        try:
            self.attribute(loc, name)
        except _Failed as exc:
            self.failed = f"{exc} of attribute {name!r} of {self.where!r}"
            return -1
        return 0

    def attribute(self, loc: int, name: bytes) -> None:
        aid = _ok(HDF5_LIB.H5Aopen(hid(loc), name, hid(0)), "opening")
        tid = sid = -1
        try:
            tid = _ok(HDF5_LIB.H5Aget_type(hid(aid)), "reading the type")
            sid = _ok(HDF5_LIB.H5Aget_space(hid(aid)), "reading the dataspace")
            n = _ok(HDF5_LIB.H5Sget_simple_extent_npoints(hid(sid)), "reading the dataspace")
            width = HDF5_LIB.H5Tget_size(hid(tid))
            if width == 0:
                _ok(-1, "reading the type")
            cls = HDF5_LIB.H5Tget_class(hid(tid))
            variable = cls == _H5T_VLEN or (
                cls == _H5T_STRING and _ok(HDF5_LIB.H5Tis_variable_str(hid(tid)), "reading the type"))
            if not variable and n * width > self.size:
                raise _Failed(f"a value of {n * width} bytes in a file of {self.size}: reading")
            if n * width > 2**28:
                return  # fits in the file, and PyTables reads it checked; too big to read twice
            buf = _c.create_string_buffer(max(1, n * width))
            _ok(HDF5_LIB.H5Aread(hid(aid), hid(tid), buf), "reading the value")
            if variable:
                HDF5_LIB.H5Treclaim(hid(tid), hid(sid), hid(0), buf)
        finally:
            for close, h in ((HDF5_LIB.H5Sclose, sid), (HDF5_LIB.H5Tclose, tid), (HDF5_LIB.H5Aclose, aid)):
                if h >= 0:
                    close(hid(h))

    def attributes(self, oid: int) -> None:
        status = HDF5_LIB.H5Aiterate2(hid(oid), 0, 2, None, self._attr_cb, None)  # by name, native
        if status < 0:
            HDF5_LIB.H5Eclear2(hid(0))
            raise _Failed(self.failed or f"iterating over the attributes of {self.where!r}")

    def node(self, path: str) -> None:
        """Check the object header at ``path``: its attributes when it has
        no checksum (version 1); HDF5 verifies a version 2 header itself."""
        self.where = path
        oid = HDF5_LIB.H5Oopen(hid(self.fid), path.encode(), hid(0))
        if oid < 0:
            HDF5_LIB.H5Eclear2(hid(0))
            parts = path.strip("/").split("/")
            for k in range(1, len(parts) + 1):  # each step: H5Lexists fails on a missing parent
                linked = HDF5_LIB.H5Lexists(hid(self.fid), ("/" + "/".join(parts[:k])).encode(),
                                        hid(0))
                HDF5_LIB.H5Eclear2(hid(0))
                if linked <= 0:
                    break
            if linked > 0:  # its group names it: its header is what fails
                raise _Unopened(f"opening the object header of {path!r}")
            if linked < 0:  # not even the group's entries read
                raise _Unopened(f"looking up {path!r} in its group")
            return  # missing: PyTables says so
        try:
            info = (_c.c_uint * 64)()  # H5O_native_info_t: hdr.version first
            _ok(HDF5_LIB.H5Oget_native_info(hid(oid), info, _c.c_uint(_H5O_NATIVE_INFO_HDR)),
                f"reading the object header of {path!r}")
            if info[0] < 2:
                self.attributes(oid)
        finally:
            HDF5_LIB.H5Oclose(hid(oid))


#: Files whose root group passed, by (path, size, mtime): a reopen does not check again.
_PASSED: dict[tuple[str, int, int], bool] = {}


def _open_fid(path: str) -> int:
    fapl = HDF5_LIB.H5Pcreate(_HID.in_dll(HDF5_LIB, "H5P_CLS_FILE_ACCESS_ID_g"))
    if fapl < 0:  # pragma: no cover
        HDF5_LIB.H5Eclear2(hid(0))
        return -1
    try:
        # Strong close: nothing of this pass stays open under PyTables' handle.
        HDF5_LIB.H5Pset_fclose_degree(hid(fapl), _c.c_int(_H5F_CLOSE_STRONG))
        fid = HDF5_LIB.H5Fopen(os.fsencode(path), _c.c_uint(0), hid(fapl))  # read-only
    finally:
        HDF5_LIB.H5Pclose(hid(fapl))
    if fid < 0:
        HDF5_LIB.H5Eclear2(hid(0))
    return fid


def precheck_file(path: str) -> bool:
    """Raise CorruptStoreError when HDF5 fails on root-group metadata PyTables
    parses unchecked at open (see the module docstring).

    Only the root group: what ``tables.open_file`` parses (checking every
    node at open made opening a file of 500 arrays 550x slower); the nodes
    below it are checked as they are first loaded (:func:`precheck_node`).
    True when the file passed, False when the check could not run (no
    library, or HDF5 would not open the file read-only here: locked by a
    writer, say; PyTables then reports why itself). Caller holds
    :data:`lazyarr.backends._hdf5.HDF5_LOCK`.
    """
    if HDF5_LIB is None:  # pragma: no cover - unusual builds
        return False
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key in _PASSED:
        return True
    HDF5_LIB.H5open()
    fid = _open_fid(path)
    if fid < 0:
        return False
    try:
        walk = _Walk(fid, st.st_size)
        root = _ok(HDF5_LIB.H5Oopen(hid(fid), b"/", hid(0)), "opening the root group")
        try:
            walk.attributes(root)
        finally:
            HDF5_LIB.H5Oclose(hid(root))
    except _Failed as exc:
        raise CorruptStoreError(f"{path!r}: the file's metadata is corrupt (HDF5 failed "
                                f"{exc})") from None
    finally:
        HDF5_LIB.H5Fclose(hid(fid))
        HDF5_LIB.H5Eclear2(hid(0))
    _PASSED[key] = True
    return True


#: Per open tables.File: the node paths that passed :func:`precheck_node`.
_NODES_OK: "weakref.WeakKeyDictionary[Any, set[str]]" = weakref.WeakKeyDictionary()


def precheck_node(file: Any, path: str) -> None:
    """CorruptStoreError when the object header at ``path`` (a node PyTables
    is about to load, and parse the attributes of) is unreadable, or has no
    checksum and attributes HDF5 fails on. Once per node and open file.
    Caller holds the HDF5 lock.
    """
    done = _NODES_OK.get(file)
    if done is None:
        done = _NODES_OK[file] = set()
    if path in done or path == "/" or HDF5_LIB is None:
        return
    try:
        size = os.path.getsize(file.filename)
    except OSError:  # a file in memory (the core driver)
        size = 2**62
    try:
        _Walk(file._get_file_id(), size).node(path)
    except _Unopened as exc:
        # PyTables opens headers checked: only when it cannot find the node
        # at all (it leaves unreadable children out of their group) is it
        # this error rather than "no such node".
        if path in file:
            return
        raise CorruptStoreError(f"{file.filename!r}: the metadata of {path!r} is corrupt "
                                f"(HDF5 failed {exc})") from None
    except _Failed as exc:
        raise CorruptStoreError(f"{file.filename!r}: the metadata of {path!r} is corrupt "
                                f"(HDF5 failed {exc})") from None
    done.add(path)


class _GroupInfo(_c.Structure):
    _fields_ = [("storage_type", _c.c_int), ("nlinks", _c.c_uint64),
                ("max_corder", _c.c_int64), ("mounted", _c.c_bool)]


def check_children(group: Any) -> None:
    """CorruptStoreError when ``group`` has links PyTables could not list.

    PyTables leaves out of a group's children, without a word, every child
    whose object header it cannot read (a checksum mismatch, say): the
    array would silently disappear from ``list(store)``. Caller holds the
    HDF5 lock.
    """
    if HDF5_LIB is None:  # pragma: no cover
        return
    info = _GroupInfo()
    if HDF5_LIB.H5Gget_info(hid(group._v_objectid), _c.byref(info)) < 0:
        HDF5_LIB.H5Eclear2(hid(0))
        raise CorruptStoreError(f"{group._v_file.filename!r}: the entries of group "
                                f"{group._v_pathname!r} cannot be read")
    listed = sum(len(d) for d in (group._v_groups, group._v_leaves, group._v_links,
                                  group._v_unknown, group._v_hidden))
    if listed < info.nlinks:
        raise CorruptStoreError(
            f"{group._v_file.filename!r}: group {group._v_pathname!r} has {info.nlinks} "
            f"entries but only {listed} can be read: the metadata of the others is corrupt")


def _optional_filters(node: Any) -> int:
    """The filter mask bits HDF5 may set on a chunk of ``node``: those of its
    optional filters (``H5Z_FLAG_OPTIONAL``: a compressor that did not pay
    off). Fletcher32 is mandatory, and a bit past the pipeline means nothing."""
    dcpl = HDF5_LIB.H5Dget_create_plist(hid(node._v_objectid))
    if dcpl < 0:  # pragma: no cover
        HDF5_LIB.H5Eclear2(hid(0))
        return ~0
    try:
        allowed = 0
        for k in range(max(0, HDF5_LIB.H5Pget_nfilters(hid(dcpl)))):
            flags, nelmts, config = _c.c_uint(0), _c.c_size_t(0), _c.c_uint(0)
            if HDF5_LIB.H5Pget_filter2(hid(dcpl), _c.c_uint(k), _c.byref(flags), _c.byref(nelmts),
                                   None, _c.c_size_t(0), None, _c.byref(config)) < 0:
                HDF5_LIB.H5Eclear2(hid(0))  # pragma: no cover
                return ~0  # pragma: no cover
            if flags.value & 1:  # H5Z_FLAG_OPTIONAL
                allowed |= 1 << k
        return allowed
    finally:
        HDF5_LIB.H5Pclose(hid(dcpl))


def check_chunk_index(node: Any, where: str) -> None:
    """CorruptStoreError unless every chunk ``node`` stores sits on its grid,
    inside its extent, once, within the file, with no filter skipped that
    may not be (see :func:`_optional_filters`).

    Cheap enough to run once per node on the first sign of trouble (a chunk
    reported missing or with filters skipped), which is where
    :func:`chunk_info` calls it. Caller holds the HDF5 lock.
    """
    if HDF5_LIB is None:  # pragma: no cover
        return
    allowed = _optional_filters(node)
    shape = tuple(int(n) for n in node.shape)
    cs = tuple(int(c) for c in node.chunkshape)
    eof = os.path.getsize(node._v_file.filename)
    seen: set[tuple[int, ...]] = set()
    bad: list[str] = []

    def one(offset: Any, mask: int, addr: int, size: int, data: Any) -> int:
        at = tuple(offset[i] for i in range(len(cs)))
        if any(o % c or o >= max(n, 1) for o, c, n in zip(at, cs, shape)):
            bad.append(f"a chunk at {at}, off the chunk grid {cs} of shape {shape}")
        elif at in seen:
            bad.append(f"chunk {at} stored twice")
        elif mask & ~allowed:
            bad.append(f"chunk {at} says its filters were skipped (mask {mask:#x})")
        elif addr == _UNDEF or addr + size > eof:
            bad.append(f"chunk {at} lies past the end of the file")
        seen.add(at)
        return 1 if bad else 0

    cb = _CHUNK(one)
    status = HDF5_LIB.H5Dchunk_iter(hid(node._v_objectid), hid(0), cb, None)
    if status < 0:
        HDF5_LIB.H5Eclear2(hid(0))
        bad.append("its chunk index cannot be walked")
    if bad:
        raise CorruptStoreError(f"{where}: the chunk index is corrupt: {bad[0]}")


#: Nodes whose chunk index passed :func:`check_chunk_index` (a missing
#: chunk of theirs is one never written: the fill value).
_INDEX_OK: weakref.WeakSet = weakref.WeakSet()


def _where(node: Any) -> str:
    return f"reading {node._v_pathname!r} from {node._v_file.filename!r}"


def chunk_info(node: Any, coords: tuple[int, ...]) -> Any:
    """``node.chunk_info(coords)``, checked: a chunk reported missing or with
    filters skipped on a node whose chunk index is corrupt (see
    :func:`check_chunk_index`), and any HDF5 failure, raise a lazyarr error
    naming file and node. Caller holds the HDF5 lock.
    """
    try:
        info = node.chunk_info(coords)
    except tables.HDF5ExtError:
        check_chunk_index(node, _where(node))  # the likely cause, said plainly
        with hdf5_errors(_where(node)):
            info = node.chunk_info(coords)
    if (info.offset is None or info.filter_mask) and node not in _INDEX_OK:
        check_chunk_index(node, _where(node))
        _INDEX_OK.add(node)
    elif info.offset is not None and info.offset + info.size > _EOF.get(node._v_file, 0):
        # A size flipped in the index would have the reader allocate it
        # (1.5 GB for a 20 KB file, issue 14): the file's size bounds it.
        f = node._v_file
        size = _file_size(f)
        if size is None:
            return info
        _EOF[f] = size
        if info.offset + info.size > size:
            raise CorruptStoreError(f"{_where(node)}: the chunk index is corrupt: chunk "
                                    f"{tuple(coords)} claims bytes {info.offset}..."
                                    f"{info.offset + info.size} of a file of {size}")
    return info


#: The size of each open file last seen by :func:`chunk_info` (files only
#: grow while open; a chunk past it makes it look again).
_EOF: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()


def _file_size(f: Any) -> int | None:
    """The size of open file ``f`` in bytes: of the file on disk, or, under
    another driver than sec2 (the core driver of ``la.InMemory()`` holds the
    file as an image in memory, larger than the file it was loaded from or
    will be written to), of HDF5's own end of file. None if not known."""
    if f.params.get("DRIVER") in (None, "H5FD_SEC2"):
        try:
            return os.path.getsize(f.filename)
        except OSError:  # pragma: no cover - removed while open
            return None
    if HDF5_LIB is None:  # pragma: no cover - unusual builds
        return None
    size = ctypes.c_uint64()
    if HDF5_LIB.H5Fget_filesize(hid(f._get_file_id()), ctypes.byref(size)) < 0:  # pragma: no cover
        HDF5_LIB.H5Eclear2(hid(0))
        return None
    return int(size.value)
