"""``lazyarr check FILE...``: validate every node and chunk (see :mod:`lazyarr.check`).

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser(); add_arguments(p)
>>> p.parse_args(["a.h5", "b.h5"]).files
['a.h5', 'b.h5']
"""

from __future__ import annotations

import argparse

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "validate every node and chunk of HDF5 files; exit 1 on any finding"
DESCRIPTION = (
    "Open each file, read every array and ragged array in it chunk by chunk "
    "(verifying checksums where the arrays carry them) in a child process, so "
    "that a crash inside HDF5 is reported as a finding; print what is wrong and "
    "exit non-zero when anything is."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="HDF5 files to check")


def run(args: argparse.Namespace) -> int:
    from lazyarr.check import main

    return main(args.files)
