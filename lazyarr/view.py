"""Lazy views: ``x.lazy[key]`` is a LazyArray over the same storage, read later.

A view holds its base array and *one* key on it (``view._base``,
``view._key``); a view of a view composes the keys, so every read of a view
is one read plan on the base, through the base's cache policy. Nothing is
read when a view is made, but the key is validated at once: a key NumPy
rejects raises NumPy's exception at ``x.lazy[key]``.

Internally a view is a *map* from view coordinates to base coordinates, one
entry per base axis:

* an ``int`` (the base axis was indexed by an integer),
* a :class:`Span` -- a range of the base axis laid along one view axis
  (what slices compose into: a slice of a slice is a slice),
* an intp ndarray with one dimension per view axis, of length 1 on the view
  axes it does not depend on (what index arrays and masks compose into).

Composing a map with a normalized key follows NumPy's rules for where the
broadcast index dimensions go. Turning a map back into a base key gives
ints, slices, ``None`` and index arrays; when NumPy would place the index
dimensions elsewhere than the view has them, the read is transposed in
memory (a write then uses an all-array key, so repeated positions are
written in the view's order, last write winning as in NumPy).

Examples
--------
>>> import numpy as np, lazyarr as la
>>> x = la.LazyArray(la.backends.MemoryBackend(np.arange(24).reshape(4, 6)))
>>> v = x.lazy[::-1, [5, 0, 2]]
>>> v
LazyArray(shape=(4, 3), dtype=int64, backend='memory', cache=NoCache(), view)
>>> w = v.lazy[1:, 0]          # one key on x: (slice(2, None, -1), 5)
>>> w._key
(slice(2, None, -1), 5)
>>> w[:]
array([17, 11,  5])
>>> v[0] = -1                   # writes x[3, [5, 0, 2]]
>>> x[3]
array([-1, 19, -1, 21, 22, -1])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from lazyarr.core.normalize import Ell, Mask, NormalizedKey, normalize
from lazyarr.core.selection import advanced_first, stand_in

__all__ = ["Span", "ViewMap", "compose", "identity", "make_view", "transpose_map", "unit_reshape_map"]


@dataclass(frozen=True)
class Span:
    """Base coordinates ``r[i]`` for view coordinate ``i`` along view ``axis``."""

    r: range
    axis: int


Coord = Any  # int | Span | np.ndarray


@dataclass(frozen=True, eq=False)
class ViewMap:
    """View shape and one coordinate per base axis; ``coords`` is None when empty."""

    shape: tuple[int, ...]
    coords: tuple[Coord, ...] | None

    @property
    def empty(self) -> bool:
        return self.coords is None


def identity(shape: tuple[int, ...]) -> ViewMap:
    """The map of a whole array onto itself."""
    if 0 in shape:
        return ViewMap(tuple(shape), None)
    return ViewMap(tuple(shape), tuple(Span(range(n), j) for j, n in enumerate(shape)))


def _range_of_range(r: range, r2: range) -> range:
    start = r[r2.start] if len(r2) else 0
    step = r.step * r2.step
    return range(start, start + step * len(r2), step)


def compose(m: ViewMap, nk: NormalizedKey) -> ViewMap:
    """The map of ``view[key]`` for a view with map ``m`` (``nk`` is against ``m.shape``)."""
    if nk.empty_result is not None:
        return ViewMap(nk.empty_result, None)
    advanced = nk.advanced
    # One item per component, in order; each covers zero or more view axes.
    items: list[tuple] = []
    a = 0
    for c in nk.components:
        if c is None:
            items.append(("new",))
        elif isinstance(c, Ell):
            items.append(("ell", [(a + t, range(m.shape[a + t])) for t in range(c.n)]))
            a += c.n
        elif isinstance(c, range):
            items.append(("span", a, c))
            a += 1
        elif isinstance(c, np.bool_):
            items.append(("adv", [], (int(c),)))
        elif isinstance(c, Mask):
            items.append(("adv", [(a + t, arr) for t, arr in enumerate(c.arrays)], (c.count,)))
            a += c.ndim
        elif isinstance(c, np.ndarray):
            items.append(("adv", [(a, c)], c.shape))
            a += 1
        elif advanced:  # an int among index arrays is a 0-d index array
            items.append(("adv", [(a, np.array(c, dtype=np.intp))], ()))
            a += 1
        else:
            items.append(("int", a, c))
            a += 1
    if a < len(m.shape):  # axes the key leaves out are taken whole
        items.append(("ell", [(t, range(m.shape[t])) for t in range(a, len(m.shape))]))
    # Where NumPy puts the view's axes: basic ones in order, the broadcast
    # block where the (adjacent) advanced components stand, else first.
    adv_pos = [i for i, it in enumerate(items) if it[0] == "adv"]
    bshape = np.broadcast_shapes(*[it[2] for i, it in enumerate(items) if it[0] == "adv"]) if adv_pos else ()
    out_axes: list[tuple] = []  # ("new",) | ("span", vaxis, range) | ("block",)
    block_at = 0
    in_place = bool(adv_pos) and not advanced_first([it[0] == "adv" for it in items])
    for i, it in enumerate(items):
        if in_place and i == adv_pos[0]:
            block_at = len(out_axes)
        if it[0] == "new":
            out_axes.append(it)
        elif it[0] == "span":
            out_axes.append(it)
        elif it[0] == "ell":
            out_axes.extend(("span", va, r) for va, r in it[1])
    nb = len(bshape)
    wshape: list[int] = []
    vcoord: dict[int, Any] = {}
    waxis = 0
    for k, ax in enumerate(out_axes + [None]):
        if k == block_at and adv_pos:
            wshape.extend(bshape)
            waxis += nb
        if ax is None:
            break
        if ax[0] == "new":
            wshape.append(1)
        else:
            vcoord[ax[1]] = Span(ax[2], waxis)
            wshape.append(len(ax[2]))
        waxis += 1
    shape = tuple(wshape)
    if 0 in shape:
        return ViewMap(shape, None)
    wnd = len(shape)
    for it in items:
        if it[0] == "int":
            vcoord[it[1]] = it[2]
        elif it[0] == "adv":
            for va, arr in it[1]:
                arr = arr.reshape((1,) * (nb - arr.ndim) + arr.shape)
                vcoord[va] = arr.reshape((1,) * block_at + arr.shape + (1,) * (wnd - block_at - nb))
    coords = tuple(_apply(c, vcoord, shape) for c in m.coords)
    return ViewMap(shape, coords)


def transpose_map(m: ViewMap, axes: tuple[int, ...]) -> ViewMap:
    """The map of ``view.transpose(axes)`` (``axes`` a permutation of the view's axes)."""
    shape = tuple(m.shape[a] for a in axes)
    if m.empty:
        return ViewMap(shape, None)
    inv = {a: j for j, a in enumerate(axes)}
    coords = tuple(Span(c.r, inv[c.axis]) if isinstance(c, Span)
                   else c.transpose(axes) if isinstance(c, np.ndarray) else c for c in m.coords)
    return ViewMap(shape, coords)


def unit_reshape_map(m: ViewMap, shape: tuple[int, ...]) -> ViewMap | None:
    """The map of ``view.reshape(shape)`` when it only drops or adds length-1 axes, else None."""
    old = [a for a, n in enumerate(m.shape) if n != 1]
    new = [a for a, n in enumerate(shape) if n != 1]
    if [m.shape[a] for a in old] != [shape[a] for a in new]:
        return None
    if m.empty:
        return ViewMap(tuple(shape), None)
    to_new = dict(zip(old, new))
    coords = []
    for c in m.coords:
        if isinstance(c, Span):
            # A length-1 axis that goes away leaves its one coordinate.
            c = Span(c.r, to_new[c.axis]) if c.axis in to_new else c.r[0]
        elif isinstance(c, np.ndarray):
            dims = tuple(c.shape[a] for a in old)
            c = c[tuple(slice(None) if a in to_new else 0 for a in range(c.ndim))]
            c = _const(c.reshape(tuple(dims[new.index(j)] if j in new else 1
                                       for j in range(len(shape)))))
        coords.append(c)
    return ViewMap(tuple(shape), tuple(coords))


def _axis_array(r: range, axis: int, ndim: int) -> np.ndarray:
    a = np.arange(r.start, r.stop, r.step, dtype=np.intp)
    return a.reshape((1,) * axis + (len(r),) + (1,) * (ndim - axis - 1))


def _apply(c: Coord, vcoord: dict[int, Any], shape: tuple[int, ...]) -> Coord:
    """Base coordinate ``c`` (a function of view coords) as a function of the new view's."""
    if isinstance(c, int):
        return c
    if isinstance(c, Span):
        v = vcoord[c.axis]
        if isinstance(v, int):
            return c.r[v]
        if isinstance(v, Span):
            return Span(_range_of_range(c.r, v.r), v.axis)
        return _const(c.r.start + c.r.step * v)
    idx = []
    for a, n in enumerate(c.shape):
        v = vcoord[a] if n != 1 else 0
        if isinstance(v, Span):
            v = _axis_array(v.r, v.axis, len(shape))
        idx.append(v)
    if all(isinstance(v, int) for v in idx):
        return int(c[tuple(idx)])
    return _const(c[tuple(idx)])


def _const(a: np.ndarray) -> Coord:
    """An index array that does not vary is just an int."""
    a = np.asarray(a, dtype=np.intp)
    return int(a.reshape(-1)[0]) if a.size == 1 else a


def _slice(r: range) -> slice:
    stop = r.start + r.step * len(r)
    return slice(r.start, None if stop < 0 else stop, r.step)


def base_key(m: ViewMap) -> tuple[tuple, list[int] | None]:
    """A key on the base reading ``m``, and the transpose that orders the result (or None)."""
    wnd = len(m.shape)
    arrays = [c for c in m.coords if isinstance(c, np.ndarray)]
    dims = sorted({d for c in arrays for d, n in enumerate(c.shape) if n != 1})
    claimed = set(dims) | {c.axis for c in m.coords if isinstance(c, Span)}
    free = [w for w in range(wnd) if w not in claimed]
    key: list[Any] = []
    labels: list[Any] = []  # per key component: W axis, "adv" or None (dropped int)

    def flush_free(before: int) -> None:
        while free and free[0] < before:
            key.append(None)
            labels.append(free.pop(0))

    for c in m.coords:
        if isinstance(c, Span):
            flush_free(c.axis)
            key.append(_slice(c.r))
            labels.append(c.axis)
        elif isinstance(c, np.ndarray):
            flush_free(dims[0])
            key.append(c.reshape(tuple(c.shape[d] for d in dims)))
            labels.append("adv")
        else:
            key.append(c)
            labels.append("adv" if arrays else None)
    flush_free(wnd)
    # The order NumPy gives the result's axes.
    adv = [i for i, lab in enumerate(labels) if lab == "adv"]
    order = [lab for lab in labels if lab not in ("adv", None)]
    if adv:
        at = 0
        if not advanced_first([lab == "adv" for lab in labels]):
            at = sum(1 for lab in labels[: adv[0]] if lab not in ("adv", None))
        order[at:at] = dims
    if order == list(range(wnd)):
        return tuple(key), None
    return tuple(key), [order.index(w) for w in range(wnd)]


def _repeats(m: ViewMap) -> bool:
    """Whether a view axis longer than 1 maps to no base axis (``x.lazy[None][[0, 0]]``)."""
    arrays = [c for c in m.coords if isinstance(c, np.ndarray)]
    claimed = {d for c in arrays for d, n in enumerate(c.shape) if n != 1}
    claimed |= {c.axis for c in m.coords if isinstance(c, Span)}
    return any(n > 1 and w not in claimed for w, n in enumerate(m.shape))


def write_key(m: ViewMap) -> tuple:
    """A key whose result has exactly the view's shape and element order (all index arrays)."""
    wnd = len(m.shape)
    out = []
    for c in m.coords:
        out.append(_axis_array(c.r, c.axis, wnd) if isinstance(c, Span) else c)
    if out and _repeats(m):
        # A repeated axis no coordinate varies along: broadcast one
        # coordinate over the whole view so the key's result has its shape.
        first = np.asarray(out[0], dtype=np.intp).reshape((1,) * (wnd - np.ndim(out[0])) + np.shape(out[0]))
        out[0] = np.broadcast_to(first, m.shape)
    return tuple(out)


def _read(base: Any, m: ViewMap, scalar: bool) -> Any:
    """Read the view ``m`` of ``base``: one base read, then in-memory order and repeats."""
    bkey, perm = base_key(m)
    if not m.shape and not scalar:
        bkey = bkey + (Ellipsis,)  # NumPy gives a 0-d array here, not a scalar
    out = base[bkey]
    if perm is not None:
        out = out.transpose(perm)
    if out.shape != m.shape:
        out = np.broadcast_to(out, m.shape).copy()
    return out


class _Indexer:
    """``x.lazy``: index it to get a view."""

    def __init__(self, array: Any) -> None:
        self._array = array

    def __getitem__(self, key: Any) -> Any:
        return make_view(self._array, key)


def make_view(x: Any, key: Any) -> Any:
    """``x.lazy[key]``: a :class:`LazyView` of ``x``'s base (validates ``key`` now)."""
    if isinstance(x, LazyView):
        base, m = x._base, x._map
    else:
        base, m = x, identity(x.shape)
    nk = normalize(key, m.shape)
    return LazyView(base, _compose_checked(m, nk, key))


def _compose_checked(m: ViewMap, nk: NormalizedKey, key: Any) -> ViewMap:
    if m.empty:
        # Nothing to map: NumPy's result shape (empty) is all there is.
        return ViewMap(stand_in(m.shape)[key].shape, None)
    return compose(m, nk)


# LazyView subclasses LazyArray, which imports this module for ``x.lazy``.
from lazyarr.array import LazyArray  # noqa: E402


class LazyView(LazyArray):
    """A LazyArray that reads and writes a key of another LazyArray's storage.

    Made by ``x.lazy[key]``; see the module docstring. It shares the base's
    backend and bound cache, has a fixed shape (appending to the base does not
    grow it), cannot be appended to, and reports ``chunks`` as None.
    """

    def __init__(self, base: LazyArray, m: ViewMap) -> None:
        # Not LazyArray.__init__, which would bind a new cache: the view shares
        # the base's state (backend, policy, bound cache, whatever else).
        self.__dict__.update(base.__dict__)
        self._base = base
        self._map = m
        if m.empty:
            self._key: Any = _stand_in_key(m.shape, base.ndim)
        else:
            self._key, perm = base_key(m)
            if perm is not None or _repeats(m):
                self._key = write_key(m) if m.coords else self._key

    @property
    def shape(self) -> tuple[int, ...]:
        return self._map.shape

    @property
    def ndim(self) -> int:
        return len(self._map.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._base.dtype  # the base may cast (x.astype(...).T)

    @property
    def chunks(self) -> None:
        return None

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + ", view)"

    def __getitem__(self, key: Any) -> Any:
        nk = normalize(key, self.shape)
        w = _compose_checked(self._map, nk, key)
        if w.empty:
            return np.empty(w.shape, dtype=self.dtype)
        scalar = not w.shape and isinstance(stand_in(self.shape)[key], np.generic)
        return _read(self._base, w, scalar)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._base._check_writable()
        if isinstance(value, LazyArray):
            value = np.asarray(value)
        try:
            nk = normalize(key, self.shape)
        except IndexError:
            stand_in(self.shape, self.dtype)[key] = value
            raise
        w = _compose_checked(self._map, nk, key)
        if w.empty:
            stand_in(self.shape, self.dtype)[key] = value
            return
        if not w.coords:
            # A 0-d base: every view position is its one element; the last wins.
            vals = np.empty(w.shape, dtype=self.dtype)
            vals[...] = value
            self._base[()] = vals.reshape(-1)[-1]
            return
        bkey, perm = base_key(w)
        self._base[bkey if perm is None and not _repeats(w) else write_key(w)] = value

    def _read_all(self) -> np.ndarray:
        return self[...]

    def _iter_rows(self) -> Iterator[Any]:
        from lazyarr.reduce import row_blocks, rows_per_block

        # No prefetch thread: between rows the caller may read the same
        # storage, and cache policies are not meant for two threads at once.
        for _, block in row_blocks(self, rows_per_block(self, 4 * 2**20), prefetch=False):
            yield from block

    def append(self, rows: Any) -> None:
        raise TypeError("a view has a fixed shape and cannot be appended to; append to its base")

    def flush(self) -> None:
        self._base.flush()

    def __reduce__(self):
        # By reference like any array: the base pickles as file, node, mode
        # and policy; the map (ranges and index arrays) says which of its
        # elements the view is. Never the data.
        return (LazyView, (self._base, self._map))

    def pickle_as(self, mode: str = "r+") -> "LazyView":
        """This view, pickling with its base's file opened in ``mode``."""
        return LazyView(self._base.pickle_as(mode), self._map)


def _stand_in_key(shape: tuple[int, ...], base_ndim: int) -> tuple:
    """A key of the base with an empty result of ``shape`` (for an empty view).

    A 0-d base takes no index arrays: its key gives shape ``(0, 1, ...)``,
    the same size, which is all an empty view's key is used for.
    """
    if base_ndim == 0:
        return (np.False_,) + (None,) * (len(shape) - 1)
    return tuple(np.zeros(shape, dtype=np.intp) for _ in range(base_ndim))
