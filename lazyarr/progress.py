"""Progress bars for long whole-array calls (off by default).

Reductions (``x.mean()``, ``np.std(x)``), the NumPy functions that run out of
core (``np.median(x)``, ``np.histogram(x)``, ``np.save(f, x)``, ...) and
``la.progress``'s own ``track`` read an array block by block; inside
``with la.progress():`` each such pass over an array shows a ``tqdm`` bar of
the rows read (a multi-pass call, such as a median, shows one bar per pass).
Library calls never show one unless asked. ``la.progress(False)`` switches
bars off again inside an enclosing block; keyword arguments go to ``tqdm``.

Examples
--------
>>> import io, numpy as np, lazyarr as la
>>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(10.0)))
>>> err = io.StringIO()
>>> with la.progress(file=err, mininterval=0):
...     x.sum(block_bytes=16)
np.float64(45.0)
>>> "10/10" in err.getvalue()
True
>>> la.progress.enabled()
False
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

__all__ = ["progress", "track"]

#: The tqdm keyword arguments of the innermost ``with progress():``, or None.
_SETTINGS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("lazyarr_progress", default=None)
#: What the current call is, for the bar's label (set by the NumPy function layer).
_LABEL: contextvars.ContextVar[str | None] = contextvars.ContextVar("lazyarr_progress_label", default=None)


class _Progress:
    """``la.progress(enable=True, **tqdm_kwargs)``: a context manager (see the module)."""

    @contextlib.contextmanager
    def __call__(self, enable: bool = True, **tqdm_kwargs: Any) -> Iterator[None]:
        if enable:
            import tqdm  # noqa: F401 - fail here, not in the middle of a call

        token = _SETTINGS.set(dict(tqdm_kwargs) if enable else None)
        try:
            yield
        finally:
            _SETTINGS.reset(token)

    @staticmethod
    def enabled() -> bool:
        """Whether bars are on here."""
        return _SETTINGS.get() is not None

    @staticmethod
    @contextlib.contextmanager
    def label(text: str) -> Iterator[None]:
        """Name the bars of the passes made inside (``np.median``, say)."""
        token = _LABEL.set(text)
        try:
            yield
        finally:
            _LABEL.reset(token)


progress = _Progress()


def track(blocks: Iterator[tuple[int, Any]], total: int, what: str = "rows") -> Iterator[tuple[int, Any]]:
    """Yield ``(start, block)`` from ``blocks`` with a bar of ``total`` rows when bars are on."""
    settings = _SETTINGS.get()
    if settings is None:
        yield from blocks
        return
    from tqdm.auto import tqdm

    kw = {"desc": _LABEL.get() or "lazyarr", "unit": what, "leave": False, **settings}
    with tqdm(total=total, **kw) as bar:
        for start, block in blocks:
            yield start, block
            bar.update(len(block) if getattr(block, "ndim", 0) else 1)
