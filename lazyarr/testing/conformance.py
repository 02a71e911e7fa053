"""``check_backend``: the NumPy-parity conformance suite for any storage backend.

A backend (see :mod:`lazyarr.backends.base`) only answers orthogonal
selections of normalized slices and sorted unique integer arrays;
:class:`lazyarr.LazyArray` turns every NumPy key into such selections. This
module checks the pair end to end: for arrays and keys drawn by the
strategies of :mod:`lazyarr.testing`, ``LazyArray(factory(a))`` must give
exactly NumPy's answer, through the one oracle
(:func:`~lazyarr.testing.assert_same_as_numpy` and friends). Hypothesis
shrinks a failure to a minimal counterexample, which is reported as code
that can be pasted into a Python session.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Sequence
from typing import Any

import hypothesis.strategies as st
import numpy as np
from hypothesis import HealthCheck, Phase, given, settings

from lazyarr.array import LazyArray
from lazyarr.testing import strategies as _s
from lazyarr.testing.oracle import assert_same_as_numpy, assert_same_outcome, assert_same_write

__all__ = ["check_backend", "ConformanceError", "CHECKS", "default_shapes"]

#: The checks :func:`check_backend` runs, in order.
CHECKS = ("array", "read", "bad_keys", "write", "append", "pickle")

#: Arrays larger than this are described by shape and dtype only in a reproduction.
_MAX_SHOWN = 1000


class ConformanceError(AssertionError):
    """A backend gave an answer NumPy would not; the message holds a reproduction.

    Attributes
    ----------
    check : str
        The (first) failing check (one of :data:`CHECKS`).
    reproduction : str
        Python code that replays its minimal failing example.
    failures : list of ConformanceError
        One per failing check, when several failed.
    """

    def __init__(self, message: str, check: str, reproduction: str) -> None:
        super().__init__(message)
        self.check = check
        self.reproduction = reproduction
        self.failures: list[ConformanceError] = [self]


# --------------------------------------------------------------------------
# Source code for values (the reproduction must paste into Python as is)
# --------------------------------------------------------------------------


def _pyfloat(x: float) -> str:
    """``repr`` of a float, keeping the sign of a NaN (``repr`` says ``nan`` for both)."""
    if x != x:
        return "-nan" if math.copysign(1.0, x) < 0 else "nan"
    return repr(x)


def _float_array_src(obj: np.ndarray) -> str:
    if np.isnan(obj).any():
        # NaNs may carry a sign or payload that no literal spells: the bits.
        bits = np.dtype(f"{obj.dtype.str[0]}u{obj.dtype.itemsize}")
        return f"np.array({obj.view(bits).tolist()!r}, dtype={bits.str!r}).view({obj.dtype.str!r})"
    return f"np.array({obj.tolist()!r}, dtype={obj.dtype.str!r})"


def _src(obj: Any) -> str:
    """Python source that rebuilds ``obj`` (after ``import numpy as np``).

    Examples
    --------
    >>> _src((slice(None, None, -1), np.array([[1], [0]], dtype=np.int8), None, ...))
    "(slice(None, None, -1), np.array([[1], [0]], dtype='|i1'), None, ...)"
    >>> _src(np.zeros((0, 2), dtype='>f4'))
    "np.array([], dtype='>f4').reshape((0, 2))"
    """
    if obj is Ellipsis:
        return "..."
    if isinstance(obj, np.ndarray):
        if obj.size > _MAX_SHOWN:
            return f"np.empty({obj.shape}, dtype={obj.dtype.str!r})  # {obj.size} values not shown"
        flat = np.ascontiguousarray(obj).reshape(-1)
        if obj.dtype.kind == "c":
            # repr(complex(1, nan)) is '(1+nanj)', which is not Python: go
            # through the (real, imag) float pairs instead.
            fdt = np.dtype(f"{obj.dtype.str[0]}f{obj.dtype.itemsize // 2}")
            return f"{_float_array_src(flat.view(fdt))}.view({obj.dtype.str!r}).reshape({obj.shape})"
        if obj.dtype.kind == "f" and np.isnan(obj).any():
            return f"{_float_array_src(flat)}.reshape({obj.shape})"
        text = f"np.array({obj.tolist()!r}, dtype={obj.dtype.str!r})"
        if np.array(obj.tolist(), dtype=obj.dtype).shape != obj.shape:
            text += f".reshape({obj.shape})"
        return text
    if isinstance(obj, (complex, np.complexfloating)):
        text = f"complex({_pyfloat(float(obj.real))}, {_pyfloat(float(obj.imag))})"
        return text if type(obj) is complex else f"np.{type(obj).__name__}({text})"
    if isinstance(obj, np.floating):
        if np.isnan(obj):
            return f"{_src(np.array([obj]))}[0]"  # the bits, sign and payload included
        return f"np.{type(obj).__name__}({float(obj)!r})"
    if isinstance(obj, float):
        return _pyfloat(obj)
    if isinstance(obj, tuple):
        inner = ", ".join(_src(o) for o in obj)
        return f"({inner},)" if len(obj) == 1 else f"({inner})"
    if isinstance(obj, list):
        return "[" + ", ".join(_src(o) for o in obj) + "]"
    if isinstance(obj, slice):
        return f"slice({_src(obj.start)}, {_src(obj.stop)}, {_src(obj.step)})"
    return repr(obj)  # ints, bools, bytes, None, NumPy integer and bool scalars


def _factory_src(factory: Any) -> str:
    name = getattr(factory, "__qualname__", None)
    if isinstance(name, str) and name.isidentifier():
        return name
    return "factory"


class _Trace:
    """The steps of one example, as code, for the reproduction."""

    def __init__(self, factory: Any, cache: Any) -> None:
        self.factory = factory
        self.cache = cache
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)

    def render(self) -> str:
        name = _factory_src(self.factory)
        head = [
            "import numpy as np",
            "from numpy import inf, nan",
            "import lazyarr as la",
            "from lazyarr.testing import assert_same_as_numpy, assert_same_outcome, assert_same_write",
        ]
        if name == "factory":
            head.append(f"factory = ...  # {self.factory!r}")
        if self.cache is not None:
            head.append(f"cache = la.{self.cache!r}")
        return "\n".join(head + self.lines)


# --------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------


def default_shapes() -> st.SearchStrategy[tuple[int, ...]]:
    """:func:`lazyarr.testing.shapes`, and tall arrays (8 to 64 rows, up to 2 short axes more).

    The planner reads dense index arrays as a covering slice, so on the small
    arrays of ``shapes()`` a backend rarely sees an index array; tall arrays
    give it sparse ones.
    """
    tall = st.tuples(st.integers(8, 64), _s.shapes(max_dims=2, max_side=4)).map(
        lambda t: (t[0],) + t[1]
    )
    return st.one_of(_s.shapes(), tall)


class _Context:
    """What every check needs: the factory, the strategies, the flags."""

    def __init__(
        self,
        factory: Callable[[np.ndarray], Any],
        dtypes: st.SearchStrategy[np.dtype],
        shapes: st.SearchStrategy[tuple[int, ...]],
        cache: Any,
        writable: bool,
        extendable: bool | None,
    ) -> None:
        self.factory = factory
        self.dtypes = dtypes
        self.shapes = shapes
        self.cache = cache
        self.writable = writable
        self.extendable = extendable
        self.pickled = False
        self.unpicklable = ""

    def array(self, data: st.DataObject, t: _Trace, min_ndim: int = 0) -> np.ndarray:
        shapes = self.shapes
        if min_ndim:
            shapes = shapes.filter(lambda s: len(s) >= min_ndim)
        a = data.draw(_s.arrays(self.dtypes, shapes), label="a")
        t.add(f"a = {_src(a)}")
        return a

    def make(self, a: np.ndarray, t: _Trace) -> Any:
        policy = self.cache(a) if callable(self.cache) else self.cache
        t.cache = policy
        t.add(
            f"x = la.LazyArray({_factory_src(self.factory)}(a.copy())"
            + (", cache=cache)" if policy is not None else ")")
        )
        backend = self.factory(a.copy())
        shape = tuple(int(n) for n in backend.shape)
        if shape != a.shape or np.dtype(backend.dtype).str != a.dtype.str:
            raise AssertionError(
                f"factory(a) returned a backend of shape {shape} and dtype "
                f"{np.dtype(backend.dtype).str!r} for an array of shape {a.shape} and "
                f"dtype {a.dtype.str!r}"
            )
        if self.writable and getattr(backend, "readonly", False):
            raise AssertionError(
                "the backend is read-only (backend.readonly is True): pass writable=False"
            )
        if self.extendable and not getattr(backend, "extendable", False):
            raise AssertionError(
                "extendable=True but backend.extendable is False: pass extendable=None"
            )
        return LazyArray(backend, cache=policy)


def _read_keys(data: st.DataObject, t: _Trace, x: Any, model: np.ndarray, n: tuple[int, int]) -> None:
    for _ in range(data.draw(st.integers(*n), label="reads")):
        key = data.draw(_s.keys(model.shape), label="key")
        t.add(f"assert_same_as_numpy(x.__getitem__, model, {_src(key)})")
        assert_same_as_numpy(x.__getitem__, model, key)


def _check_array(ctx: _Context, data: st.DataObject, t: _Trace) -> None:
    """len, shape, dtype, ``__array__`` (with dtype=, copy=False), iteration."""
    a = ctx.array(data, t)
    x = ctx.make(a, t)
    for attr in ("shape", "ndim", "size", "nbytes"):
        t.add(f"assert x.{attr} == a.{attr}")
        assert_same_outcome(lambda: getattr(x, attr), lambda: getattr(a, attr), f"x.{attr}")
    t.add("assert x.dtype.str == a.dtype.str")
    if np.dtype(x.dtype).str != a.dtype.str:
        raise AssertionError(f"x.dtype is {np.dtype(x.dtype).str!r}, NumPy's is {a.dtype.str!r}")
    t.add("assert_same_outcome(lambda: len(x), lambda: len(a), 'len(x)')")
    assert_same_outcome(lambda: len(x), lambda: len(a), "len(x)")
    t.add("assert_same_outcome(lambda: np.asarray(x), lambda: np.asarray(a), 'np.asarray(x)')")
    assert_same_outcome(lambda: np.asarray(x), lambda: np.asarray(a), "np.asarray(x)")
    other = data.draw(_s.dtypes(), label="dtype")
    t.add(
        f"assert_same_outcome(lambda: np.asarray(x, dtype={other.str!r}), "
        f"lambda: np.asarray(a, dtype={other.str!r}), 'np.asarray(x, dtype=...)')"
    )
    assert_same_outcome(
        lambda: np.asarray(x, dtype=other), lambda: np.asarray(a, dtype=other),
        f"np.asarray(x, dtype={other.str!r})",
    )
    t.add("np.testing.assert_raises(ValueError, np.asarray, x, copy=False)")
    try:
        np.asarray(x, copy=False)
    except ValueError:
        pass
    else:
        raise AssertionError("np.asarray(x, copy=False) returned instead of raising ValueError")
    t.add("assert_same_outcome(lambda: list(x), lambda: list(a), 'list(x)')")
    assert_same_outcome(lambda: list(x), lambda: list(a), "list(x)")


@st.composite
def _scattered_keys(draw: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """A list of positions spread over axis 0; on other axes slices or, for
    points, lists of the same length.

    The general keys often pick neighbouring positions, which the planner
    reads as one slice; these reach the backend as index arrays.
    """
    k = draw(st.integers(2, 5))
    items: list[Any] = [draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=k, max_size=k))]
    for n in shape[1:]:
        if n and draw(st.integers(0, 3)) == 3:
            items.append(draw(st.lists(st.integers(-n, n - 1), min_size=k, max_size=k)))
        else:
            items.append(slice(None))
    return tuple(items)


def _check_read(ctx: _Context, data: st.DataObject, t: _Trace) -> None:
    """Keys of every form (and some NumPy rejects) give NumPy's answer."""
    a = ctx.array(data, t)
    x = ctx.make(a, t)
    t.add("model = a")
    _read_keys(data, t, x, a, (1, 4))
    if a.ndim and a.size:
        key = data.draw(_scattered_keys(a.shape), label="scattered key")
        t.add(f"assert_same_as_numpy(x.__getitem__, model, {_src(key)})")
        assert_same_as_numpy(x.__getitem__, a, key)


def _check_bad_keys(ctx: _Context, data: st.DataObject, t: _Trace) -> None:
    """Keys NumPy rejects raise NumPy's exception type."""
    a = ctx.array(data, t)
    x = ctx.make(a, t)
    for _ in range(data.draw(st.integers(1, 3), label="bad keys")):
        key = data.draw(_s.bad_keys(a.shape), label="bad key")
        t.add(f"assert_same_as_numpy(x.__getitem__, a, {_src(key)})")
        assert_same_as_numpy(x.__getitem__, a, key)


def _check_write(ctx: _Context, data: st.DataObject, t: _Trace) -> None:
    """Writes follow NumPy's assignment; reads after a write see it."""
    a = ctx.array(data, t)
    x = ctx.make(a, t)
    model = a.copy()
    t.add("model = a.copy()")
    for _ in range(data.draw(st.integers(1, 3), label="writes")):
        key = data.draw(_s.keys(model.shape), label="key")
        value = data.draw(_s.write_values(model.shape, key, model.dtype), label="value")
        t.add(f"assert_same_write(x, model, {_src(key)}, {_src(value)})")
        assert_same_write(x, model, key, value)
        _read_keys(data, t, x, model, (0, 2))
    if model.ndim and model.size:
        # Scattered rows reach the backend's write as index arrays.
        key = data.draw(_scattered_keys(model.shape), label="scattered key")
        value = data.draw(_s.write_values(model.shape, key, model.dtype, invalid=False),
                          label="value")
        t.add(f"assert_same_write(x, model, {_src(key)}, {_src(value)})")
        assert_same_write(x, model, key, value)


def _append_rows(data: st.DataObject, model: np.ndarray) -> np.ndarray:
    n = data.draw(st.integers(0, 4), label="rows")
    return data.draw(_s.arrays(model.dtype, (n,) + model.shape[1:]), label="appended")


def _check_append(ctx: _Context, data: st.DataObject, t: _Trace) -> None:
    """Appends grow axis 0; reads and writes after them agree with NumPy."""
    a = ctx.array(data, t, min_ndim=1)
    x = ctx.make(a, t)
    model = a.copy()
    t.add("model = a.copy()")
    for _ in range(data.draw(st.integers(1, 3), label="appends")):
        _read_keys(data, t, x, model, (0, 1))
        rows = _append_rows(data, model)
        t.add(f"rows = {_src(rows)}")
        t.add("x.append(rows)")
        x.append(rows)
        # Not np.concatenate alone: its dtype promotion drops a big-endian order.
        model = np.concatenate([model, rows]).astype(model.dtype)
        t.add("model = np.concatenate([model, rows]).astype(model.dtype)")
        t.add("assert_same_outcome(lambda: np.asarray(x), lambda: model, 'np.asarray(x)')")
        assert_same_outcome(lambda: np.asarray(x), lambda: model, "np.asarray(x) after append")
        if ctx.writable and data.draw(st.booleans(), label="write after append"):
            key = data.draw(_s.keys(model.shape, invalid=False), label="key")
            value = data.draw(_s.write_values(model.shape, key, model.dtype, invalid=False),
                              label="value")
            t.add(f"assert_same_write(x, model, {_src(key)}, {_src(value)})")
            assert_same_write(x, model, key, value)
        _read_keys(data, t, x, model, (1, 2))


def _check_pickle(ctx: _Context, data: st.DataObject, t: _Trace) -> None:
    """If the array pickles, the copy reads what the original holds."""
    a = ctx.array(data, t)
    x = ctx.make(a, t)
    try:
        blob = pickle.dumps(x)
    except Exception as exc:  # noqa: BLE001 - any refusal means "does not pickle"
        ctx.unpicklable = f"{type(exc).__name__}: {exc}"
        return
    ctx.pickled = True
    t.add("import pickle")
    t.add("y = pickle.loads(pickle.dumps(x))")
    y = pickle.loads(blob)
    model = a
    t.add("model = a")
    if np.dtype(y.dtype).str != a.dtype.str:
        # NumPy's own pickle (protocol < 5) turns big-endian arrays native;
        # a backend pickled by value may do the same, and NumPy decides.
        own = pickle.loads(pickle.dumps(a))
        if own.dtype.str == np.dtype(y.dtype).str:
            model = own
            t.add("model = pickle.loads(pickle.dumps(a))  # NumPy's own round trip")
    t.add("assert_same_outcome(lambda: np.asarray(y), lambda: model, 'np.asarray(y)')")
    assert_same_outcome(lambda: np.asarray(y), lambda: model, "np.asarray(unpickled x)")
    _read_keys(data, t, y, model, (1, 2))


_BODIES = {
    "array": _check_array,
    "read": _check_read,
    "bad_keys": _check_bad_keys,
    "write": _check_write,
    "append": _check_append,
    "pickle": _check_pickle,
}


# --------------------------------------------------------------------------
# The entry point
# --------------------------------------------------------------------------


def _probe_extendable(ctx: _Context) -> bool:
    """``backend.extendable`` of one backend the factory builds (from a drawn array)."""
    found: list[bool] = []

    @settings(max_examples=1, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def probe(data: st.DataObject) -> None:
        a = ctx.array(data, _Trace(ctx.factory, None), min_ndim=1)
        found.append(bool(getattr(ctx.factory(a.copy()), "extendable", False)))

    probe()
    return found[0]


def _run_check(
    name: str, ctx: _Context, run_settings: settings
) -> None:
    body = _BODIES[name]

    @run_settings
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        t = _Trace(ctx.factory, None)
        try:
            body(ctx, data, t)
        except Exception as exc:
            # The exception hypothesis finally raises is the shrunk example's:
            # it carries its own steps.
            exc.__lazyarr_trace__ = t  # type: ignore[attr-defined]
            raise

    try:
        run()
    except Exception as exc:  # noqa: BLE001 - every failure becomes one readable report
        trace = getattr(exc, "__lazyarr_trace__", None)
        repro = trace.render() if trace is not None else "(no example was drawn)"
        label = _factory_src(ctx.factory)
        if label == "factory":
            label = repr(ctx.factory)
        msg = (
            f"check_backend({label}): the {name!r} check failed.\n"
            f"{type(exc).__name__}: {exc}\n\n"
            f"Minimal reproduction (shrunk by hypothesis); the last line fails:\n\n"
            + "\n".join("    " + line for line in repro.splitlines())
        )
        raise ConformanceError(msg, name, repro) from exc


def check_backend(
    factory: Callable[[np.ndarray], Any],
    *,
    writable: bool = True,
    extendable: bool | None = None,
    max_examples: int | None = None,
    dtypes: st.SearchStrategy[np.dtype] | Sequence[Any] | None = None,
    shapes: st.SearchStrategy[tuple[int, ...]] | None = None,
    cache: Any = None,
    checks: Sequence[str] | None = None,
) -> dict[str, str]:
    """Check that a backend gives NumPy's answer for every key, through LazyArray.

    For random arrays ``a`` (every dtype and shape lazyarr stores, unless
    restricted), the backend ``factory(a)`` is wrapped in
    :class:`lazyarr.LazyArray` and compared with ``a`` itself by the oracle
    of :mod:`lazyarr.testing`. The checks, in order:

    ``array``
        ``shape``, ``ndim``, ``size``, ``nbytes``, ``dtype`` (byte order
        included), ``len(x)``, ``np.asarray(x)``, ``np.asarray(x, dtype=...)``,
        ``np.asarray(x, copy=False)`` raising ValueError, ``list(x)``.
    ``read``
        Keys of every form NumPy accepts (:func:`~lazyarr.testing.keys`) and
        some it rejects.
    ``bad_keys``
        Keys NumPy rejects raise its exception type
        (:func:`~lazyarr.testing.bad_keys`).
    ``write`` (when ``writable``)
        Assignments of broadcast, cast and repeated-index values, each
        followed by reads, so a stale cached row shows.
    ``append`` (when ``writable`` and the backend is extendable)
        Appends along axis 0 interleaved with reads and writes.
    ``pickle``
        When ``pickle.dumps(x)`` succeeds, the unpickled copy must read the
        same data; a backend that refuses to pickle skips this check (the
        report says why).

    Each check runs ``max_examples`` examples (``pickle`` a tenth of them);
    hypothesis shrinks a failure to a minimal example. Every check runs even
    when an earlier one failed, then one :class:`ConformanceError` (an
    AssertionError) reports every failing check.

    Parameters
    ----------
    factory : callable
        ``factory(a) -> backend``: a new backend holding a copy of ``a``.
        Called once per example, so for file-backed backends it should create
        a fresh file or node each time.
    writable : bool
        Check writes. The backends must then not be ``readonly``.
    extendable : bool, optional
        Check appends. None (the default) follows ``backend.extendable``.
    max_examples : int, optional
        Examples per check; by default the active hypothesis profile's
        (``settings.default.max_examples``).
    dtypes : strategy or sequence of dtypes, optional
        The dtypes the backend supports; by default
        :func:`lazyarr.testing.dtypes` (bool, every integer and float width,
        complex, ``S4``, both byte orders).
    shapes : strategy, optional
        The shapes the backend supports; by default :func:`default_shapes`
        (0 to 4 dimensions, zero-length axes, and tall arrays whose sparse
        index arrays reach the backend as arrays rather than slices).
    cache : CachePolicy or callable, optional
        The cache policy the arrays read through, or ``cache(a) -> policy``.
    checks : sequence of str, optional
        Only these checks (names from :data:`CHECKS`).

    Returns
    -------
    dict
        ``{check: "passed" | "skipped: reason"}``.

    Raises
    ------
    ConformanceError
        Naming the failing check, with NumPy's and the backend's answers and
        a reproduction to paste into Python.

    Examples
    --------
    A backend's whole test (here the in-memory reference backend):

    >>> import lazyarr as la
    >>> from lazyarr.testing import check_backend
    >>> check_backend(la.backends.MemoryBackend, max_examples=5)["read"]
    'passed'

    A backend that reads every selection reversed fails, with a reproduction:

    >>> class Reversed(la.backends.MemoryBackend):
    ...     def read(self, sel):
    ...         return super().read(sel)[::-1].copy()
    >>> check_backend(Reversed, checks=["read"], dtypes=[np.dtype("i2")])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lazyarr.testing.conformance.ConformanceError: check_backend(Reversed): the 'read' check failed.
    ...
    """
    if dtypes is None:
        dtype_st = _s.dtypes()
    elif isinstance(dtypes, st.SearchStrategy):
        dtype_st = dtypes
    else:
        dtype_st = st.sampled_from([np.dtype(d) for d in dtypes])
    ctx = _Context(factory, dtype_st, default_shapes() if shapes is None else shapes, cache,
                   bool(writable), extendable)
    n = settings.default.max_examples if max_examples is None else int(max_examples)
    names = CHECKS if checks is None else tuple(checks)
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown checks {unknown}; valid: {list(CHECKS)}")
    report: dict[str, str] = {}
    failures: list[ConformanceError] = []
    for name in CHECKS:
        if name not in names:
            continue
        if name == "write" and not writable:
            report[name] = "skipped: writable=False"
            continue
        if name == "append" and not writable:
            report[name] = "skipped: writable=False"
            continue
        if name == "append" and extendable is False:
            report[name] = "skipped: extendable=False"
            continue
        run_settings = settings(
            settings.default,
            max_examples=max(1, n // 10) if name == "pickle" else max(1, n),
            deadline=None,
            report_multiple_bugs=False,
            # Not the explain phase: it reruns the shrunk example many times to
            # annotate lines, and the reproduction already says what failed.
            phases=[p for p in settings.default.phases if p is not Phase.explain],
            suppress_health_check=[
                HealthCheck.too_slow, HealthCheck.data_too_large,
                HealthCheck.filter_too_much, HealthCheck.large_base_example,
            ],
        )
        if name == "append" and extendable is None and not _probe_extendable(ctx):
            report[name] = "skipped: backend.extendable is False"
            continue
        try:
            _run_check(name, ctx, run_settings)
        except ConformanceError as err:
            # Keep going: the report lists every failing check.
            failures.append(err)
            report[name] = "failed"
            continue
        report[name] = "passed"
        if name == "pickle" and not ctx.pickled:
            report[name] = f"skipped: the arrays do not pickle ({ctx.unpicklable})"
    if len(failures) == 1:
        raise failures[0]
    if failures:
        first = failures[0]
        names = ", ".join(repr(f.check) for f in failures)
        err = ConformanceError(
            f"{len(failures)} checks failed ({names}); each with its own reproduction:\n\n"
            + "\n\n".join(str(f) for f in failures),
            first.check, first.reproduction,
        )
        err.failures = failures
        raise err from first
    return report
