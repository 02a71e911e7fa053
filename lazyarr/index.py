"""Key normalisation; it lives in :mod:`lazyarr.core.normalize` (kept importable here)."""

from lazyarr.core.normalize import Component, Ell, Mask, NormalizedKey, normalize

__all__ = ["normalize", "NormalizedKey", "Ell", "Mask", "Component"]
