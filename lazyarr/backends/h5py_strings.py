"""h5py's variable-length strings, read-only, as NumPy's ``dtype=object`` of ``str``.

PyTables cannot read HDF5 variable-length strings (it lists such a dataset
as ``UnImplemented``); h5py can. This backend reads them through h5py, in a
read-only h5py handle of its own on the same file (opened per read: HDF5
variable-length data is slow to read anyway), and gives what NumPy
gives for such data: an object array of ``str`` (h5py's ``.asstr()``).
Writes are refused: a fixed-width ``'U'`` or ``'S'`` array is the form
lazyarr stores.

Examples
--------
>>> import numpy as np, h5py, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "s.h5")
>>> with h5py.File(path, "w") as f:
...     _ = f.create_dataset("names", data=["ab", "ç", ""], dtype=h5py.string_dtype())
>>> with la.open(path) as store:
...     x = store["names"]
...     x.dtype, x[[1, 0]], x.backend.readonly
(dtype('O'), array(['ç', 'ab'], dtype=object), True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lazyarr.backends.base import HDF5_LOCK, FileNodeBackend, register_backend
from lazyarr.core.selection import Selection
from lazyarr.errors import BackendError, ReadOnlyError

try:
    import h5py
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("reading h5py's variable-length strings needs h5py: "
                      "pip install lazyarr[h5py]") from e

if TYPE_CHECKING:  # pragma: no cover
    from lazyarr.files import FileRef

__all__ = ["H5pyStringsBackend", "strings_problem"]


def _open(path: str) -> Any:
    # locking=False: PyTables may have the same file open (for writing, too);
    # two HDF5 libraries in one process would otherwise lock each other out.
    return h5py.File(path, "r", locking=False)


def strings_problem(path: str, node: str) -> str | None:
    """Why ``node`` of ``path`` is not a dataset of h5py vlen strings, or None."""
    try:
        with HDF5_LOCK, _open(path) as f:
            d = f.get(node)
            if not isinstance(d, h5py.Dataset):
                return "it is an HDF5 object PyTables cannot read"
            info = h5py.check_string_dtype(d.dtype)
            if info is None or info.length is not None:
                return f"it is a dataset of {d.dtype} that PyTables cannot read"
            return None
    except OSError as exc:
        return f"PyTables cannot read it, and h5py cannot open the file: {exc}"


@register_backend
class H5pyStringsBackend(FileNodeBackend):
    """A dataset of variable-length strings, read-only, as ``dtype=object``.

    Parameters
    ----------
    ref : FileRef
    path : str
        The dataset.
    """

    kind = "h5py-strings"
    readonly = True
    extendable = False

    def __init__(self, ref: "FileRef", path: str) -> None:
        why = strings_problem(ref.path, path)
        if why is not None:
            raise BackendError(f"{path!r} in {ref.path!r}: {why}")
        self._ref, self._path = ref, path
        with HDF5_LOCK, _open(ref.path) as f:
            d = f[path]
            self._shape = tuple(int(n) for n in d.shape)
            self.chunks = None if d.chunks is None else tuple(int(c) for c in d.chunks)

    def __reduce__(self) -> tuple:
        return (H5pyStringsBackend, (self._ref, self._path))

    def reference(self, mode: str | None = None) -> "H5pyStringsBackend":
        ref = self._ref if mode is None else self._ref.with_mode(mode)
        return H5pyStringsBackend(ref, self._path)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(object)

    @property
    def nbytes_stored(self) -> int:
        with HDF5_LOCK, _open(self._ref.path) as f:
            return int(f[self._path].id.get_storage_size())

    def read(self, sel: Selection) -> np.ndarray:
        # h5py takes one index list per read: read the bounding box of the
        # others and pick in memory.
        box, picks = [], []
        lists = 0
        for s in sel:
            if isinstance(s, slice):
                box.append(s)
                picks.append(slice(None))
            elif lists == 0 and len(s):
                box.append(np.asarray(s))
                picks.append(slice(None))
                lists += 1
            else:
                lo = int(s[0]) if len(s) else 0
                box.append(slice(lo, int(s[-1]) + 1 if len(s) else lo, 1))
                picks.append(np.asarray(s) - lo)
        # A handle per read, closed at once: one left open would make a later
        # h5py.File(path) with file locking fail ("locking flag values don't match").
        with HDF5_LOCK, _open(self._ref.path) as f:
            out = np.asarray(f[self._path].asstr()[tuple(box)], dtype=object)
        for axis, p in enumerate(picks):
            if not isinstance(p, slice):
                out = np.take(out, p, axis=axis)
        return out.reshape(tuple(_len(s) for s in sel))

    def write(self, sel: Selection, value: np.ndarray) -> None:
        raise ReadOnlyError(f"{self._path!r} holds h5py variable-length strings, which "
                            "lazyarr reads only; store them as a fixed-width 'U' array")

    def describe(self) -> dict[str, Any]:
        return {"file": self._ref.path, "node": self._path, "kind": self.kind,
                "chunkshape": self.chunks, "dtype": "vlen str"}


def _len(s: Any) -> int:
    return len(range(s.start, s.stop, s.step)) if isinstance(s, slice) else len(s)
