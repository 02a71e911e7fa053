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
import warnings
from typing import Any, Iterator

import tables

from lazyarr._plugins import diagnose, missing_filter
from lazyarr.backends.base import HDF5_LOCK

__all__ = [
    "ATTR_BACKEND",
    "ATTR_VERSION",
    "BEFORE_FLUSH",
    "FORMAT_VERSION",
    "HDF5_LOCK",
    "hdf5_errors",
    "quiet",
]

#: HDF5 attribute naming the backend kind that wrote a node.
ATTR_BACKEND = "LAZYARR_BACKEND"
#: HDF5 attribute with the layout version of that backend.
ATTR_VERSION = "LAZYARR_VERSION"
FORMAT_VERSION = 1

#: Called with an open ``tables.File`` (lock held) before lazyarr flushes or
#: closes it: buffered appends (``_b2blocks``) are written there.
BEFORE_FLUSH: list = []


class hdf5_errors:
    """Turn a PyTables/HDF5 failure into an OSError naming file and node.

    A context manager; HDF5's own back trace stays out of the message (it is
    long and names C functions), but is kept as ``__cause__``.
    """

    def __init__(self, what: Any) -> None:
        # A string, or a backend: its read is the hot path, so the message
        # is only formatted when something failed.
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, tp: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None and isinstance(exc, tables.HDF5ExtError):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            what = self.what
            if not isinstance(what, str):
                what = f"reading {what._path!r} from {what._ref.path!r}"
            # A filter HDF5 lacks is named, with the package that brings it.
            first = missing_filter(str(exc)) or (
                None if isinstance(self.what, str) else diagnose(self.what)) or first
            raise OSError(f"HDF5 failed {what}: {first}") from exc
        return False


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
