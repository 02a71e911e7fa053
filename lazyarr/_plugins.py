"""Foreign HDF5 filters: hdf5plugin's plugins for PyTables, and what is missing.

HDF5 finds filter plugins in the folders of ``HDF5_PLUGIN_PATH``, which it
reads once, when the library is initialised -- for PyTables at
``import tables``. :func:`setup` (run by ``import lazyarr`` before anything
imports :mod:`tables`) imports tables with the plugin folder of
``hdf5plugin`` added to that variable, when hdf5plugin is installed (``pip
install lazyarr[filters]``), so that datasets written with
Bitshuffle, LZ4, Zstd, ZFP, SZ, ... (by h5py with hdf5plugin, say) read
through lazyarr. It only locates the folder: importing hdf5plugin would
import h5py too.

Where a filter is still missing, :func:`missing_filter` turns HDF5's
"required filter ... is not registered" into a message naming the filter
and the package that brings it.

Examples
--------
>>> print(missing_filter("... required filter 'lzf' is not registered ..."))
the data is compressed with the 'lzf' filter, which the HDF5 under PyTables cannot decode: LZF is built into h5py only; read the dataset with h5py (lazyarr.wrap(h5py.File(path)[node])), or convert it once with `lazyarr convert`
>>> missing_filter("unable to open file") is None
True
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from typing import Any

__all__ = ["setup", "plugin_path", "missing_filter", "diagnose"]

#: Set by :func:`setup`: whether hdf5plugin's folder was added before PyTables
#: loaded HDF5 (False also when hdf5plugin is not installed).
ACTIVE = False


def plugin_path() -> str | None:
    """hdf5plugin's folder of HDF5 plugins, or None when it is not installed."""
    spec = importlib.util.find_spec("hdf5plugin")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "plugins")
    return path if os.path.isdir(path) else None


def setup() -> bool:
    """Import :mod:`tables` with hdf5plugin's folder on ``HDF5_PLUGIN_PATH``.

    Returns whether the plugins are available to PyTables. The variable is
    set only while tables (and so its HDF5) loads, then restored: h5py's own
    HDF5, loaded later, must not load the same plugins a second time next to
    the ones hdf5plugin registers with it (h5py then fails to create
    Bitshuffle or Blosc datasets). A folder already in the variable (the
    user's own) stays first.
    """
    global ACTIVE
    path = plugin_path()
    if path is None:
        return False
    current = os.environ.get("HDF5_PLUGIN_PATH")
    parts = [p for p in (current or "").split(os.pathsep) if p]
    if "tables" in sys.modules:
        # Too late unless the user set it: HDF5 read the variable when tables loaded.
        ACTIVE = path in parts
        return ACTIVE
    os.environ["HDF5_PLUGIN_PATH"] = os.pathsep.join(parts + [path] if path not in parts
                                                     else parts)
    try:
        import tables  # noqa: F401  (HDF5 reads HDF5_PLUGIN_PATH now, once)
    finally:
        if current is None:
            del os.environ["HDF5_PLUGIN_PATH"]
        else:
            os.environ["HDF5_PLUGIN_PATH"] = current
    ACTIVE = True
    return True


def diagnose(backend: Any) -> str | None:
    """Why reading ``backend``'s node fails, when a missing filter is the cause.

    PyTables' fast read calls report only an error code; its public read of
    one row carries HDF5's message, which names the filter. Caller holds the
    HDF5 lock.
    """
    try:
        node = backend.fileref.file.get_node(backend.path)
        if not getattr(node, "nrows", 0) or node.chunkshape is None:
            return None
        node.read(0, 1)
    except Exception as exc:  # noqa: BLE001 - any failure here only means "no diagnosis"
        return missing_filter(str(exc))
    return None


_NOT_REGISTERED = re.compile(r"required filter '([^']*)' is not registered")

#: (pattern of HDF5's filter name, the filter's name, what brings it).
_PROVIDERS = (
    (r"^lzf$", "LZF", "h5py"),
    (r"bitshuffle", "Bitshuffle", "hdf5plugin"),
    (r"lz4", "LZ4", "hdf5plugin"),
    (r"zstd|zstandard", "Zstd", "hdf5plugin"),
    (r"blosc2", "Blosc2", "hdf5plugin"),
    (r"blosc", "Blosc", "hdf5plugin"),
    (r"bzip2", "BZip2", "hdf5plugin"),
    (r"zfp", "ZFP", "hdf5plugin"),
    (r"sz3", "SZ3", "hdf5plugin"),
    (r"\bsz\b", "SZ", "hdf5plugin"),
    (r"fcidecomp", "FciDecomp", "hdf5plugin"),
    (r"j2k|jpeg", "HTJ2K", "hdf5plugin"),
    (r"sperr", "SPERR", "hdf5plugin"),
)


def missing_filter(text: str) -> str | None:
    """What to say when HDF5's message ``text`` is about a filter it lacks, else None."""
    match = _NOT_REGISTERED.search(text)
    if match is None:
        return None
    name = match.group(1)
    head = (f"the data is compressed with the {name!r} filter, which the HDF5 under "
            "PyTables cannot decode: ")
    for pattern, label, package in _PROVIDERS:
        if re.search(pattern, name, re.I):
            if package == "h5py":
                return head + (f"{label} is built into h5py only; read the dataset with "
                               "h5py (lazyarr.wrap(h5py.File(path)[node])), or convert it "
                               "once with `lazyarr convert`")
            if plugin_path() is None:
                return head + (f"{label} comes with hdf5plugin: pip install hdf5plugin "
                               "(or lazyarr[filters])")
            return head + (f"{label} comes with hdf5plugin, which is installed but was not "
                           "set up before PyTables loaded HDF5: import lazyarr before "
                           "tables, or set HDF5_PLUGIN_PATH=hdf5plugin.PLUGIN_PATH")
    return head + ("no known package brings it; put its HDF5 plugin in a folder of "
                   "HDF5_PLUGIN_PATH")
