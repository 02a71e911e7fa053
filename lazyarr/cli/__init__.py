"""The ``lazyarr`` command line.

One module per subcommand; each has ``HELP`` (its line in ``lazyarr --help``),
``DESCRIPTION``, ``add_arguments(parser)`` and ``run(args) -> int`` (the exit
status). :data:`COMMANDS` lists them in the order ``--help`` shows them; a new
subcommand is a new module and one line there.

Nothing here is imported by the engine: the demos and their helpers live in
this package, next to the command that runs them, not beside the modules that
read and write arrays.

Examples
--------
>>> main(["--version"])  # doctest: +ELLIPSIS
lazyarr ...
0
"""

from __future__ import annotations

import argparse
import importlib
from typing import Sequence

import lazyarr as la

__all__ = ["main", "COMMANDS"]

#: ``name -> module`` of every subcommand, in ``--help`` order. (``check``,
#: the file checker of the reliability issue, goes here as one more line.)
COMMANDS: dict[str, str] = {
    "info": "lazyarr.cli.info",
    "convert": "lazyarr.cli.convert",
    "demo": "lazyarr.cli.demo",
    "check": "lazyarr.cli.check",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lazyarr",
        description="NumPy arrays that live in HDF5 files.",
    )
    parser.add_argument("--version", action="version", version=f"lazyarr {la.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lazyarr`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 1 when the command failed (a demo
        check disagreed with NumPy, a file could not be read), 2 for a usage
        error.

    Examples
    --------
    >>> main(["--version"])  # doctest: +ELLIPSIS
    lazyarr ...
    0
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse exits for --help, --version and usage errors; as a function
        # main returns the status instead, so tests and callers can see it.
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.run(args))
