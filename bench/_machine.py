"""A description of the machine and software a benchmark ran on."""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from importlib import metadata
from typing import Any

PACKAGES = ("lazyarr", "numpy", "tables", "h5py", "hdf5plugin", "zarr", "blosc2", "numcodecs")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _version(name: str) -> str | None:
    if name == "lazyarr":
        # The package under test is usually run from a checkout, not installed.
        import lazyarr

        return lazyarr.__version__
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU, cores, RAM, OS, Python and package versions, and the load right now."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_usable": usable,
        "ram_gib": round((_ram_bytes() or 0) / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {name: _version(name) for name in PACKAGES},
    }
    try:
        import tables

        info["hdf5"] = tables.hdf5_version
    except ImportError:
        pass
    try:
        info["load_average"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    # Whether the install built lazyarr's optional C module: without it
    # ragged slices are about 2.5x slower and one-row appends compress their
    # chunks in place.
    info["speedups"] = importlib.util.find_spec("lazyarr._speedups") is not None
    return info


def describe(info: dict[str, Any]) -> str:
    """``machine_info()`` as a few lines of text (also valid Markdown list items)."""
    vers = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    lines = [
        f"- CPU: {info['cpu']} ({info['cores_logical']} logical cores, {info['cores_usable']} usable)",
        f"- RAM: {info['ram_gib']} GiB; OS: {info['os']}",
        f"- Python {info['python']}; {vers}; HDF5 {info.get('hdf5', '?')}",
    ]
    if "load_average" in info:
        lines.append(f"- load average at start (1, 5, 15 min): {info['load_average']}")
    if "speedups" in info:
        built = "built" if info["speedups"] else "NOT built (no C compiler at install): Python fallbacks"
        lines.append(f"- lazyarr's C module (lazyarr._speedups): {built}")
    return "\n".join(lines)
