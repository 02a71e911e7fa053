"""The build's one part pyproject.toml cannot say: lazyarr's optional C module.

``lazyarr/_speedups.c`` needs NumPy's headers, whose folder only NumPy can
name. The extension is ``optional``: without a C compiler the install still
succeeds (setuptools warns); lazyarr then makes ragged items in Python
(``lazyarr.backends.ragged_base.item_views``) and compresses the chunks of
one-row appends in place (``lazyarr.backends._b2write._fly``).
"""

import numpy
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lazyarr._speedups",
            sources=["lazyarr/_speedups.c"],
            include_dirs=[numpy.get_include()],
            optional=True,
        )
    ]
)
