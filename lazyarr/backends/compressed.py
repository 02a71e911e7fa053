"""A chunked, filtered ``tables.EArray`` that grows along axis 0.

The default layout: Blosc2/Zstd-compressed chunks of about 1 MiB. Also opens
chunked nodes written by others (PyTables ``CArray``/``EArray``, h5py chunked
datasets with any filter HDF5 can decode).
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import tables

from lazyarr.backends._hdf5 import check_space
from lazyarr.backends._pytables import (
    ATTR_BACKEND,
    quiet,
    PyTablesBackend,
    atom_for,
    byteorder_of,
    check_dtype,
    hdf5_errors,
    node_dtype,
    set_kind_attrs,
    split_path,
)
from lazyarr.backends import _b2blocks, _b2write, _blosc2
from lazyarr.backends.base import HDF5_LOCK, Selection, register_backend
from lazyarr.errors import BackendError, ReadOnlyError

if TYPE_CHECKING:  # pragma: no cover
    from lazyarr.files import FileRef

__all__ = ["CompressedBackend", "default_chunks", "make_filters", "compressions"]

#: Target bytes per chunk: large enough that per-chunk overhead is small,
#: small enough that reading one row does not decompress megabytes.
CHUNK_BYTES = 2**20
#: Rows appended per PyTables call when writing initial data (bounds the
#: temporary copy PyTables makes to convert dtype or byte order).
_APPEND_BYTES = 16 * 2**20


def compressions() -> list[str]:
    """Compression names usable here: PyTables complibs whose library is present.

    Examples
    --------
    >>> "blosc2:zstd" in compressions() and "zlib" in compressions()
    True
    """
    return [c for c in tables.filters.all_complibs if tables.which_lib_version(c) is not None]


def make_filters(compression: str | None, level: int, shuffle: bool,
                 checksum: bool = True) -> tables.Filters:
    """``tables.Filters`` for a compression name; ValueError lists valid names.

    ``checksum``: HDF5's Fletcher32 of every stored chunk, after the
    compressor (HDF5 and every HDF5 reader verify it; lazyarr's raw-chunk
    reads too, see :mod:`lazyarr.backends._checksum`).

    Examples
    --------
    >>> make_filters("zlib", 4, True)
    Filters(complevel=4, complib='zlib', shuffle=True, bitshuffle=False, fletcher32=True, least_significant_digit=None)
    >>> make_filters("zip", 4, True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown compression 'zip'; valid: None, 'zlib', ...
    """
    if compression is None:
        return tables.Filters(complevel=0, fletcher32=checksum)
    valid = compressions()
    if compression not in valid:
        names = ", ".join(["None"] + [repr(c) for c in valid])
        raise ValueError(f"unknown compression {compression!r}; valid: {names}")
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= level <= 9:
        raise ValueError(f"compression level must be an int in 0..9, got {level!r}")
    return tables.Filters(complevel=int(level), complib=compression, shuffle=bool(shuffle),
                          fletcher32=checksum)


def default_chunks(shape: tuple[int, ...], itemsize: int, rows: int | None = None) -> tuple[int, ...]:
    """A chunk shape of about :data:`CHUNK_BYTES` for an array growing along axis 0.

    Trailing axes are kept whole from the last one backwards (so a chunk is a
    run of whole rows whenever a row fits); axis 0 takes what is left of the
    budget, capped at ``rows`` (expected or actual row count) when known.
    No entry is ever 0.

    Examples
    --------
    >>> default_chunks((10**9, 16), 8)
    (8192, 16)
    >>> default_chunks((100, 16), 8, rows=100)
    (100, 16)
    >>> default_chunks((10, 1000, 1000), 8)
    (1, 131, 1000)
    """
    budget = max(1, CHUNK_BYTES // max(1, itemsize))
    trailing: list[int] = []
    for n in reversed(shape[1:]):
        c = max(1, min(int(n), budget))
        trailing.append(c)
        budget = max(1, budget // c)
    if rows:
        budget = min(budget, int(rows))
    return (max(1, budget),) + tuple(reversed(trailing))


@contextlib.contextmanager
def _b2_blocksize(chunks: tuple[int, ...], itemsize: int) -> Iterator[None]:
    """Blosc2 blocks of about ``_b2write.BLOCK_BYTES`` for a node created inside.

    PyTables' Blosc2 filter reads ``PT_DEFAULT_B2_BLOCKSIZE`` from the
    environment when it creates a node and stores it in the node's filter
    parameters: every chunk PyTables itself compresses for this node later
    (writes through ``node[...] = ...``) gets that block size. Caller holds
    the lock (no other node is created meanwhile).
    """
    rows = _b2write.block_rows(chunks, itemsize)
    old = os.environ.get("PT_DEFAULT_B2_BLOCKSIZE")
    os.environ["PT_DEFAULT_B2_BLOCKSIZE"] = str(rows * itemsize * int(np.prod(chunks[1:], dtype=np.int64)))
    try:
        yield
    finally:
        if old is None:
            del os.environ["PT_DEFAULT_B2_BLOCKSIZE"]
        else:
            os.environ["PT_DEFAULT_B2_BLOCKSIZE"] = old


def _append_rows(node: Any, rows: np.ndarray) -> None:
    """Append ``rows`` to an EArray; Blosc2 chunks are compressed here, at codec speed.

    PyTables compresses through its HDF5 filter on one thread (measured 5x
    slower than the codec itself): where :func:`_b2write.writer` can encode
    the node's frames, whole chunks are compressed on every core and stored
    with ``write_chunk``, and the rows after the last whole chunk wait in
    memory until a read, write, flush or close (:func:`_b2write.append`).
    Otherwise PyTables appends, in bounded pieces (its dtype or byte-order
    conversion copies them). Caller holds the lock.
    """
    w = _b2write.writer(node)
    if w is not None:
        _b2write.append(node, w, rows)
        return
    step = max(1, _APPEND_BYTES // max(1, rows[:1].nbytes))
    for start in range(0, len(rows), step):
        node.append(np.ascontiguousarray(rows[start : start + step], dtype=node.atom.dtype))


def _empty_rows(shape: tuple[int, ...]) -> bool:
    """Rows with no elements (a 0 in ``shape[1:]``), which HDF5 cannot chunk."""
    return len(shape) >= 2 and 0 in shape[1:]


@register_backend
class CompressedBackend(PyTablesBackend):
    """An array stored in compressed chunks; extendable along axis 0.

    Parameters
    ----------
    ref : FileRef
        The file (see :class:`lazyarr.store.FileRef`).
    path : str
        Absolute path of an existing chunked array node (``EArray`` or
        ``CArray``; h5py chunked datasets open as one of those).

    Notes
    -----
    An array whose rows hold no elements (shape ``(n, 0)`` and the like) has
    no bytes at all, and neither PyTables nor HDF5 can chunk it; it is kept
    as an empty contiguous node that :meth:`append` re-creates with more rows.

    Examples
    --------
    >>> import numpy as np, lazyarr as la, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "c.h5")
    >>> with la.open(path, "w") as store:
    ...     x = store.create_array("data", np.arange(6.0).reshape(3, 2), compression="blosc2:lz4")
    ...     x.backend.append(np.ones((1, 2)))
    ...     x.backend.kind, x.backend.shape, x.backend.extendable
    ('compressed', (4, 2), True)
    """

    kind = "compressed"
    #: Decode Blosc2 chunks with the ``blosc2`` package (see
    #: :mod:`lazyarr.backends._blosc2`); False reads everything through
    #: PyTables, the reference path the property tests compare against.
    raw_chunks: bool = True
    #: With ``raw_chunks``: read Blosc2 chunks block by block through a map of
    #: the file (:mod:`lazyarr.backends._b2blocks`); False takes each chunk
    #: with ``read_chunk`` instead (:mod:`lazyarr.backends._blosc2`).
    mapped_blocks: bool = True

    def _check_node(self, node: Any) -> None:
        super()._check_node(node)
        if node.chunkshape is None and not (
            _empty_rows(self._shape_of(node)) and ATTR_BACKEND in node._v_attrs
        ):
            raise BackendError(
                f"node {self._path!r} is contiguous; open it with the 'plain' backend"
            )

    @property
    def extendable(self) -> bool:  # type: ignore[override]
        node = self._node()
        seen = self.__dict__.get("_ext_seen")
        if seen is not None and seen[0] is node:
            return seen[1]  # a node's class and layout never change
        with HDF5_LOCK:
            # The empty-rows layout (no chunks) grows by being re-created.
            ext = node.chunkshape is None or (isinstance(node, tables.EArray) and node.extdim == 0)
        self._ext_seen = (node, ext)
        return ext

    def _shape_of(self, node: Any) -> tuple[int, ...]:
        # Rows of one-row appends wait in the node's buffered tail before
        # HDF5's extent counts them (see _b2write.append_small).
        shape = super()._shape_of(node)
        extra = _b2write.unsynced(node)
        return (shape[0] + extra,) + shape[1:] if extra else shape

    @classmethod
    def create(
        cls,
        ref: "FileRef",
        path: str,
        data: np.ndarray | None = None,
        *,
        shape: tuple[int, ...] | None = None,
        dtype: Any = None,
        compression: str | None = "blosc2:zstd",
        level: int = 1,
        shuffle: bool = True,
        chunks: tuple[int, ...] | None = None,
        expectedrows: int | None = None,
    ) -> "CompressedBackend":
        """Create an extendable chunked node at ``path`` and return its backend.

        Exactly one of ``data`` (written now) or ``shape`` + ``dtype`` (zeros;
        unwritten chunks take no space). The caller creates parent groups and
        removes a half-written node on failure.
        """
        if data is not None:
            dt = check_dtype(data.dtype)
            shape = tuple(data.shape)
        else:
            dt = check_dtype(np.float64 if dtype is None else dtype)
            shape = tuple(int(n) for n in shape)  # type: ignore[union-attr]
        if len(shape) == 0:
            raise ValueError(
                "a compressed array needs at least one axis (it grows along axis 0); "
                "store 0-d arrays with backend='plain'"
            )
        filters = make_filters(compression, level, shuffle)
        if expectedrows is not None and (
            isinstance(expectedrows, bool) or not isinstance(expectedrows, (int, np.integer))
            or expectedrows < 0
        ):
            raise ValueError(f"expectedrows must be a non-negative int, got {expectedrows!r}")
        if chunks is None:
            # Capped by expectedrows only: the array is extendable, so its initial
            # length says little about how long it gets.
            chunks = default_chunks(shape, dt.itemsize, expectedrows)
        else:
            chunks = tuple(chunks)
            if len(chunks) != len(shape) or not all(
                isinstance(c, (int, np.integer)) and not isinstance(c, bool) and c >= 1 for c in chunks
            ):
                raise ValueError(
                    f"chunks must be {len(shape)} positive ints for shape {shape}, got {chunks!r}"
                )
            chunks = tuple(int(c) for c in chunks)
            if any(c > n for c, n in zip(chunks[1:], shape[1:])):
                raise ValueError(
                    f"chunks {chunks} exceed shape {shape} along a fixed axis; only axis 0 grows"
                )
        parent, name = split_path(path)
        if data is not None:
            check_space(ref.path, data.nbytes, f"create {path!r}")
        with HDF5_LOCK, quiet():
            f = ref.file
            if _empty_rows(shape):
                node = f.create_array(parent, name, atom=atom_for(dt), shape=shape,
                                      byteorder=byteorder_of(dt))
            else:
                with _b2_blocksize(chunks, dt.itemsize):
                    node = f.create_earray(
                        parent, name, atom=atom_for(dt), shape=(0,) + shape[1:],
                        filters=filters, chunkshape=chunks, byteorder=byteorder_of(dt),
                        expectedrows=max(1, expectedrows or shape[0] or 1),
                    )
                if data is not None:
                    try:
                        _append_rows(node, data)
                        _b2write.flush_tail(node, fixed=False)
                    finally:
                        # Written, or failed (the caller removes the node).
                        _b2write.drop_tail(node)
                        _b2blocks.forget(node)  # space of a removed node may be reused
                elif shape[0]:
                    # Grows with the fill value (0) without writing chunks.
                    node.truncate(shape[0])
            set_kind_attrs(node, cls.kind)
            ref.will_commit(path)
        return cls(ref, path)

    def read(self, sel: Selection) -> np.ndarray:
        """Read an orthogonal selection; Blosc2 chunks are decoded by ``blosc2``.

        See :mod:`lazyarr.backends._blosc2`; other filters, and chunks that
        module cannot decode, are read by PyTables.
        """
        return self._read(sel, None)

    def read_into(self, sel: Selection, out: np.ndarray) -> None:
        """Read an orthogonal selection into ``out`` (C-contiguous, this
        array's dtype, the selection's shape): decoded in place where the
        block reader serves it, else read and copied.

        A :class:`~lazyarr.cache.SwapWindow` fills its window so, piece by
        piece, on a thread of its own (see :attr:`reads_release_gil`).
        """
        if out.dtype != self._dtype or not out.flags.c_contiguous:
            out[...] = self._read(sel, None)
            return
        got = self._read(sel, out)
        if got is not out:
            out[...] = got

    def reader_scope(self) -> Any:
        """A context manager for a thread that calls :meth:`read_into` beside
        others (a SwapWindow's fill): inside, its decodes run on that thread
        alone (see :class:`lazyarr.backends._b2decode.own_decoder`)."""
        return _b2blocks.own_decoder()

    @property
    def read_threads(self) -> int:
        """Threads that may usefully read at once: Blosc2's thread count."""
        return _b2blocks.threads()

    @property
    def reads_release_gil(self) -> bool:
        """True when this node's reads spend their decoding outside the GIL
        (Blosc2 chunks through the block reader, see
        :func:`lazyarr.backends._b2decode.releases_gil`): a read on another
        thread then overlaps the caller's own work."""
        if not (self.raw_chunks and self.mapped_blocks and _b2blocks.releases_gil()):
            return False
        node = self._node()
        with HDF5_LOCK:
            return bool(_b2blocks.eligible(node)) and _b2blocks.mapped(node)

    def _read(self, sel: Selection, into: np.ndarray | None) -> np.ndarray:
        node = self._node()  # cached: no lock unless the file was reopened
        seen = self.__dict__.get("_raw_seen")
        if seen is None or seen[0] is not node:
            # Filters and fill value are fixed per node: look them up once
            # (again only after a reopen or a fork gives a new node object).
            with HDF5_LOCK:
                seen = self._raw_seen = (node, _blosc2.eligible(node), node.atom.dflt,
                                         _b2blocks.eligible(node))
        if _b2write.pending(node):  # buffered appends go to the file first
            with HDF5_LOCK:
                _b2write.flush_tail(node)
        raw, fill = self.raw_chunks and seen[1], seen[2]
        blocks = self.raw_chunks and self.mapped_blocks and seen[3]
        shape = self._shape_of(node)
        if not (raw or blocks):
            return super().read(sel)
        sel = tuple(sel)
        self._check_sel(sel, shape)
        if blocks:
            # Through a map of the file, only the blocks the read needs.
            out = _b2blocks.read(node, shape, self.chunks, fill, sel, self._dtype, super().read,
                                 into)
            if out is not None:
                return out
        if not raw:
            return super().read(sel)
        return _blosc2.read(node, shape, self.chunks, fill, sel, self._dtype, super().read)

    def write(self, sel: Selection, value: np.ndarray) -> None:
        """Store ``value`` at an orthogonal selection (through PyTables)."""
        with HDF5_LOCK:
            node = self._node()
            # PyTables reads the chunks it partly rewrites: buffered rows first.
            _b2write.flush_tail(node)
            _b2write.drop_tail(node)
            try:
                super().write(sel, value)
            finally:
                self._after_write(node)

    @staticmethod
    def _after_write(node: Any) -> None:
        """Make a write visible to reads of raw Blosc2 chunks. Caller holds the lock.

        Those reads (ours, and PyTables' own Blosc2 path) take chunks from
        the file, not from HDF5's chunk cache, where a write may still sit:
        under the core driver they were measured to miss it. So the node is
        flushed, and its decoded blocks forgotten.
        """
        try:
            if _blosc2.eligible(node):
                with hdf5_errors(f"flushing {node._v_pathname!r}"):
                    node.flush()
        finally:
            _blosc2.invalidate(node)
            _b2blocks.forget(node)

    def append(self, rows: np.ndarray) -> None:
        """Append rows ``(k,) + shape[1:]`` along axis 0; nothing is written on error."""
        if self.readonly:
            raise ReadOnlyError(
                f"{self._ref.path!r} is open read-only (mode 'r'); "
                "open it with mode 'r+' or 'a' to append"
            )
        rows = np.asarray(rows)
        with HDF5_LOCK:
            node = self._node()
            # A few rows into the buffered last chunk (no HDF5 call): no more
            # to check or do.
            if _b2write.append_small(node, rows):
                self._ref.will_commit(self._path)
                return
        with HDF5_LOCK, quiet():
            node = self._node()
            shape = self._shape_of(node)
            if not self.extendable:
                raise TypeError(
                    f"node {self._path!r} cannot grow along axis 0 "
                    f"({type(node).__name__} with fixed shape {shape})"
                )
            if rows.ndim != len(shape) or rows.shape[1:] != shape[1:]:
                raise ValueError(
                    f"rows to append must have shape (k,) + {shape[1:]}, got {rows.shape}"
                )
            if rows.dtype.hasobject or not np.can_cast(rows.dtype, self._dtype, "same_kind"):
                raise TypeError(f"cannot append {rows.dtype} rows to a {self._dtype} array")
            if rows.shape[0] == 0:
                return
            check_space(self._ref.path, rows.size * self._dtype.itemsize,
                        f"append {rows.shape[0]} rows to {self._path!r}")
            with hdf5_errors(f"appending to {self._path!r} in {self._ref.path!r}"):
                if node.chunkshape is None:
                    self._regrow_empty(node, shape[0] + rows.shape[0])
                elif _b2write.writer(node) is not None:
                    # Chunks stored with write_chunk bypass HDF5's chunk cache:
                    # no flush needed for raw-chunk reads to see them.
                    # Rows still in the node's tail are written by the file's
                    # BEFORE_FLUSH hook, before the commit record: the record
                    # (the node's length at the flush) never counts a row that
                    # is not in the file.
                    try:
                        _append_rows(node, rows)
                    finally:
                        _blosc2.invalidate(node)
                else:
                    try:
                        _append_rows(node, rows)
                    finally:
                        # The last chunk may have changed.
                        self._after_write(node)
                self._ref.will_commit(self._path)

    def appender(self) -> Callable[[np.ndarray], bool] | None:
        """The one-row append's fast path, taken right after an append: None
        if the node has no buffered tail (see :func:`_b2write.append`).

        A function of ``rows``, an ndarray of this array's own dtype and row
        shape, that copies them into the node's buffered last chunk if they
        fit without filling it and returns True; False (nothing done): take
        :meth:`append`. It checks only what that needs (see
        :func:`_b2write.putter`): the append before it succeeded, so the file
        is writable and the node extendable; the same file handle, an open
        node and a live tail mean nothing has changed since.
        """
        with HDF5_LOCK:
            node = self._node()
            t = _b2write.tail(node)
            if t is None or self._ref._handle is None or self.readonly:
                return None
            self._ref.will_commit(self._path)
            return _b2write.putter(t, node, self._ref, self._path)

    def _recover(self, node: Any) -> None:
        """Rows past the commit record of the last flush are the remains of
        an interrupted append (a crash in the middle of a flush): a writer
        trims them, a reader does not see them. Caller holds the lock."""
        rows = self._ref.row_limit(self._path, lambda: node)
        self._limit = None
        if rows is None or not node.shape or rows >= node.shape[0]:
            return
        if self._ref.readonly or not isinstance(node, tables.EArray):
            self._limit = rows
            return
        with hdf5_errors(f"trimming the interrupted tail of {self._path!r} in {self._ref.path!r}"):
            node.truncate(rows)
            _blosc2.invalidate(node)
            node._v_file.flush()
        self._ref.clear_limit(self._path)

    def flush(self) -> None:
        """Write buffered appends (see :func:`_b2write.append`), then flush the node."""
        with HDF5_LOCK:
            with hdf5_errors(f"writing appended rows of {self._path!r} in {self._ref.path!r}"):
                _b2write.flush_tail(self._node())
        super().flush()

    def _regrow_empty(self, node: Any, nrows: int) -> None:
        # No data to keep: replace the node by a longer one, attributes included.
        f = node._v_file
        parent, name = node._v_parent, node._v_name
        attrs = {k: node._v_attrs[k] for k in node._v_attrs._v_attrnamesuser}
        dt = node_dtype(node)
        new_shape = (nrows,) + tuple(int(n) for n in node.shape[1:])
        node._f_remove()
        new = f.create_array(parent, name, atom=atom_for(dt), shape=new_shape,
                             byteorder=byteorder_of(dt))
        for k, v in attrs.items():
            new._v_attrs[k] = v
        self._cached = None
