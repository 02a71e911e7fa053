"""What an array says about its storage: ``repr``'s chunks and compression,
``x.info`` (as zarr's ``.info``), and fields of structured arrays.

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> store = la.open(os.path.join(tempfile.mkdtemp(), "i.h5"), "w")
>>> x = store.create_array("x", np.zeros((100, 4), dtype="f4"), chunks=(50, 4))
>>> x  # doctest: +NORMALIZE_WHITESPACE
LazyArray(shape=(100, 4), dtype=float32, backend='compressed', chunks=(50, 4),
          compression='blosc2:zstd level 1', cache=NoCache())
>>> print(x.info)  # doctest: +ELLIPSIS
Type               : lazyarr.LazyArray
Backend            : compressed
Data type          : float32
Shape              : (100, 4)
Chunk shape        : (50, 4)
Compression        : blosc2:zstd level 1 (shuffle)
Read-only          : False
File               : ...i.h5
Node               : /x
No. bytes          : 1600 (1.6K)
No. bytes stored   : ...
Storage ratio      : ...
>>> store.close()
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ArrayInfo", "storage_repr", "read_fields", "compression_of"]


def compression_of(backend: Any) -> str | None:
    """``"blosc2:zstd level 1"`` for a compressed node, else None."""
    try:
        desc = backend.describe()
    except Exception:  # noqa: BLE001 - a repr must not fail (a closed store, say)
        return None
    lib = desc.get("complib")
    return f"{lib} level {desc.get('level')}" if lib else None


def storage_repr(backend: Any) -> str:
    """The ``, chunks=..., compression=...`` part of a repr (empty when neither)."""
    out = ""
    try:
        chunks = getattr(backend, "chunks", None)
    except Exception:  # noqa: BLE001 - a repr must not fail
        chunks = None
    if chunks is not None:
        out += f", chunks={tuple(int(c) for c in chunks)}"
    comp = compression_of(backend)
    if comp is not None:
        out += f", compression={comp!r}"
    return out


def _human(n: int) -> str:
    for unit, size in (("T", 2**40), ("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


class ArrayInfo:
    """The facts zarr's ``Array.info`` gives, for a :class:`lazyarr.LazyArray`.

    ``str(info)`` is the text; :meth:`as_dict` the same facts as a dict.
    """

    def __init__(self, x: Any) -> None:
        b = x.backend
        try:
            desc = b.describe()
        except Exception:  # noqa: BLE001 - in-memory backends describe nothing
            desc = {}
        stored = getattr(b, "nbytes_stored", None)
        comp = compression_of(b)
        if comp and desc.get("shuffle"):
            comp += " (shuffle)"
        elif comp and desc.get("bitshuffle"):
            comp += " (bitshuffle)"
        self._facts: dict[str, Any] = {
            "Type": f"lazyarr.{type(x).__name__}",
            "Backend": b.kind,
            "Data type": str(x.dtype),
            "Shape": tuple(x.shape),
            "Chunk shape": x.chunks,
            "Compression": comp,
            "Read-only": bool(getattr(b, "readonly", False)),
            "File": desc.get("file"),
            "Node": desc.get("node"),
            "No. bytes": int(x.nbytes),
            "No. bytes stored": None if stored is None else int(stored),
        }
        if stored:
            self._facts["Storage ratio"] = round(x.nbytes / stored, 1)

    def as_dict(self) -> dict[str, Any]:
        """The facts, by the names zarr uses."""
        return dict(self._facts)

    def __str__(self) -> str:
        lines = []
        for k, v in self._facts.items():
            if v is None:
                continue
            if k.startswith("No. bytes"):
                v = f"{v} ({_human(v)})"
            lines.append(f"{k:<19}: {v}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def read_fields(x: Any, key: Any) -> np.ndarray:
    """``x["field"]`` / ``x[["a", "b"]]``: NumPy's answer for field keys.

    NumPy decides first, on an empty array of the same dtype (the same
    IndexError for a non-structured dtype, ValueError/KeyError for an unknown
    field). A backend with ``read_field`` (a PyTables table) reads one column
    alone; otherwise the whole array is read and NumPy takes the fields.
    """
    np.empty((0,), dtype=x.dtype)[key]
    reader = getattr(x.backend, "read_field", None)
    if isinstance(key, str) and reader is not None:
        return reader(key)
    return np.asarray(x)[key]
