"""Cache policies: how reads reach a backend.

A policy object is a *specification* (picklable, compared by value); each
array it is applied to gets its own state from :meth:`CachePolicy.bind`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lazyarr.backends.base import Selection

__all__ = ["CachePolicy", "NoCache", "BoundCache"]


class BoundCache:
    """Per-array cache state: what a policy became for one backend."""

    def __init__(self, policy: "CachePolicy", backend: Any) -> None:
        self.policy = policy
        self.backend = backend
        self.stats = {"hits": 0, "misses": 0, "backend_reads": 0, "bytes_read": 0}

    def read(self, sel: Selection) -> np.ndarray:
        """Read ``sel`` from the backend (subclasses serve some reads from memory)."""
        block = self.backend.read(sel)
        self.stats["misses"] += 1
        self.stats["backend_reads"] += 1
        self.stats["bytes_read"] += block.nbytes
        return block

    def invalidate(self, sel: Selection | None = None) -> None:
        """Forget cached rows touched by a write (all of them when ``sel`` is None)."""


class CachePolicy:
    """Base class of cache policies."""

    def bind(self, backend: Any) -> BoundCache:
        """Fresh cache state for one array."""
        raise NotImplementedError

    def _params(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._params() == other._params()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self._params().items()))))


class NoCache(CachePolicy):
    """Every read goes straight to the backend.

    Examples
    --------
    >>> import lazyarr as la
    >>> la.NoCache()
    NoCache()
    >>> la.NoCache() == la.NoCache()
    True
    """

    def bind(self, backend: Any) -> BoundCache:
        return BoundCache(self, backend)
