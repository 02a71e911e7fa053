"""``python -m lazyarr``: the same as the ``lazyarr`` command."""

import sys

from lazyarr.cli import main

# Guarded so that ``pytest --doctest-modules`` can import this module without
# running the command.
if __name__ == "__main__":
    sys.exit(main())
