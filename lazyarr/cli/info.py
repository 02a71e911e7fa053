"""``lazyarr info FILE [NODE]``: what an HDF5 file holds, as lazyarr sees it.

Without NODE: the tree, one node a line -- kind, shape, dtype, chunks,
compression, raw/stored ratio (as zarr's ``info``), attribute count (nodes lazyarr cannot open
say why). With NODE: that node's facts, its attributes and its backend's
details. ``--json`` prints the same as JSON: ``{"file", "nodes": [...]}`` or
``{"file", "node": {...}}``, each node as :func:`lazyarr.groups.describe_node`
gives it (plus ``attributes`` and ``backend`` for one node).

Exit status: 0, or 1 when the file cannot be opened or has no such node.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

import lazyarr as la
from lazyarr.groups import describe_node, summary, tree
from lazyarr.nodes import node_path

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run", "jsonable"]

HELP = "show the nodes of an HDF5 file: kind, shape, dtype, chunks, compression, sizes"
DESCRIPTION = (
    "Show what an HDF5 file holds as lazyarr opens it: the tree of groups and arrays "
    "with each node's kind, shape, dtype, chunks, compression, stored and raw size, "
    "and attribute count; for one NODE also its attributes and backend details."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``lazyarr info``'s arguments to its sub-parser."""
    parser.add_argument("file", help="an HDF5 file (written by lazyarr, PyTables or h5py)")
    parser.add_argument("node", nargs="?", default=None, help="one node to describe in full")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def jsonable(value: Any) -> Any:
    """``value`` (an attribute, a describe() fact) as something json can write.

    Examples
    --------
    >>> jsonable({"a": np.arange(2), "b": np.float32(1.5), "c": b"x\\xff", "d": (1, None)})
    {'a': [0, 1], 'b': 1.5, 'c': 'x\\\\xff', 'd': [1, None]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def _one(store: Any, path: str) -> dict[str, Any]:
    info = describe_node(store, path)
    if info["kind"] is not None:
        obj = store[path]
        info["attributes"] = jsonable(dict(obj.attrs))
        if info["kind"] != "group":
            info["backend"] = jsonable(obj.backend.describe())
    return info


def run(args: argparse.Namespace) -> int:
    """Run ``lazyarr info``; return the exit status."""
    try:
        store = la.open(args.file)
    except (OSError, ValueError) as exc:
        print(f"lazyarr info: {exc}", file=sys.stderr)
        return 1
    with store:
        if args.node is not None:
            path = node_path(args.node)
            if path != "/" and path not in store:
                print(f"lazyarr info: no node {path!r} in {store.path!r}", file=sys.stderr)
                return 1
            info = _one(store, path)
            if args.json:
                print(json.dumps({"file": store.path, "node": info}, indent=2))
                return 0
            print(f"{path}  {summary(info)}")
            for key in ("attributes", "backend"):
                if info.get(key):
                    print(f"{key}:")
                    for k, v in info[key].items():
                        print(f"  {k}: {v}")
            return 0
        if args.json:
            nodes = [describe_node(store, p) for p in ["/", *store.keys()]]
            print(json.dumps({"file": store.path, "nodes": jsonable(nodes)}, indent=2))
            return 0
        print(store.path)
        print(tree(store, "/"))
    return 0
