"""Foreign HDF5 filters: hdf5plugin's plugins for PyTables, and what is missing.

HDF5 finds filter plugins in the folders of ``HDF5_PLUGIN_PATH``, which it
reads once, when the library is initialised -- for PyTables at
``import tables``. :func:`setup` (run by ``import lazyarr`` before anything
imports :mod:`tables`) adds the plugin folder of ``hdf5plugin``, when it is
installed (``pip install lazyarr[filters]``), so that datasets written with
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

__all__ = ["setup", "plugin_path", "missing_filter"]

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
    """Add hdf5plugin's folder to ``HDF5_PLUGIN_PATH`` if PyTables has not loaded HDF5 yet.

    Returns whether the plugins are available to PyTables. A folder already
    in the variable (the user's own) stays first.
    """
    global ACTIVE
    path = plugin_path()
    if path is None:
        return False
    current = os.environ.get("HDF5_PLUGIN_PATH", "")
    parts = [p for p in current.split(os.pathsep) if p]
    if path in parts:
        ACTIVE = True
        return True
    if "tables" in sys.modules:
        # Too late: HDF5 read the variable when tables was imported.
        return False
    os.environ["HDF5_PLUGIN_PATH"] = os.pathsep.join(parts + [path])
    ACTIVE = True
    return True


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
