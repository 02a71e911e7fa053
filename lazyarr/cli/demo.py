"""``lazyarr demo``: store sample data with every backend, check reads against NumPy.

It is the end-to-end smoke test a new user runs first. It writes
the four-cluster points of the PyTables walkthrough with every backend and
compression, reads them back through :class:`lazyarr.LazyArray` with slices,
negative steps, fancy keys, boolean masks, ``None`` and ``...``, and compares
every answer with NumPy's through :mod:`lazyarr.testing`'s oracle (the one
the test suite uses): same values, dtype, shape and scalar-versus-array, or
the same exception. It exits non-zero, naming the failed check, on any difference.

Examples
--------
>>> data, labels = make_cluster_points(6, seed=1999)
>>> data.shape, data.dtype, labels.dtype
((6, 2), dtype('float64'), dtype('int64'))
>>> _problem(lambda: assert_same_outcome(lambda: data[0, 0], lambda: data[0, 0])) is None
True
>>> _problem(lambda: assert_same_outcome(lambda: data[:1, 0], lambda: data[0, 0]))
... # doctest: +ELLIPSIS
'result type differs for call: expected float64 ..., actual ndarray ...'
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

import numpy as np

import lazyarr as la
from lazyarr.testing.oracle import assert_same_as_numpy, assert_same_outcome

__all__ = ["make_cluster_points", "run_demo", "add_arguments", "run", "DEMO_CONFIGS"]

#: ``(backend, compression)`` pairs the demo stores its data with.
DEMO_CONFIGS: tuple[tuple[str, str | None], ...] = (
    ("plain", None),
    ("compressed", "blosc2:zstd"),
    ("compressed", "blosc2:lz4"),
    ("compressed", "zlib"),
    ("compressed", None),
)

# Smallest --n for which every demo key is in bounds and still interesting
# (the keys use rows up to 8 and negative rows down to -n).
_MIN_ROWS = 16


def make_cluster_points(n: int, seed: int = 1999) -> tuple[np.ndarray, np.ndarray]:
    """Points around four cluster centres, with their cluster labels.

    The generator of the PyTables walkthrough, except that the noise comes
    from the same seeded generator as the labels (the walkthrough drew it
    from NumPy's global state, so its "seeded" data was not reproducible).

    Parameters
    ----------
    n : int
        Number of points.
    seed : int, optional
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    data : ndarray of float64, shape (n, 2)
        Points: a centre in ``{-1, 1}**2`` plus Gaussian noise of sd 0.2.
    labels : ndarray of int64, shape (n,)
        Index of each point's centre, in ``0..3``.

    Examples
    --------
    >>> a, la_ = make_cluster_points(5, seed=7)
    >>> b, lb = make_cluster_points(5, seed=7)
    >>> bool(np.array_equal(a, b) and np.array_equal(la_, lb))
    True
    >>> sorted(set(make_cluster_points(1000)[1].tolist()))
    [0, 1, 2, 3]
    """
    rng = np.random.default_rng(seed)
    centres = np.array([(-1, -1), (1, 1), (1, -1), (-1, 1)], dtype=np.float64)
    labels = rng.integers(0, len(centres), size=n, dtype=np.int64)
    data = centres[labels] + rng.standard_normal((n, 2)) * 0.2
    return data, labels


@dataclass(frozen=True)
class _Check:
    """One read to compare with NumPy: a printable name and the key itself."""

    name: str
    key: Any
    fancy: bool  # an integer-array or boolean key: timed separately


def _data_checks(n: int, data: np.ndarray, labels: np.ndarray) -> list[_Check]:
    """Keys for the (n, 2) float64 points, written the way a NumPy user would."""
    basic = [
        ("[10:100]", np.s_[10:100]),
        ("[::-1]", np.s_[::-1]),
        (f"[{n - 3}:2:-7]", np.s_[n - 3 : 2 : -7]),  # odd bounds, negative step
        ("[::-1, 0]", np.s_[::-1, 0]),
        ("[7]", np.s_[7]),
        ("[-1, 1]", np.s_[-1, 1]),  # a NumPy scalar, not a 0-d array
        ("[np.int64(3), ::-1]", np.s_[np.int64(3), ::-1]),
        ("[5:5]", np.s_[5:5]),
        ("[..., None]", np.s_[..., None]),
        ("[None, 3]", np.s_[None, 3]),
        ("[..., 0]", np.s_[..., 0]),
        ("[2:8, None, ...]", np.s_[2:8, None, ...]),
    ]
    fancy = [
        ("[[5, 1, 5]]", [5, 1, 5]),
        (f"[[{n - 1}, 0, -3, 3, 3, -{n}]]", [n - 1, 0, -3, 3, 3, -n]),
        ("[np.array([[1, 2], [4, 3]])]", np.array([[1, 2], [4, 3]])),
        ("[[0, 2, 4], [1, 0, 1]]", ([0, 2, 4], [1, 0, 1])),
        ("[::-2, [1, 0, 1]]", np.s_[::-2, [1, 0, 1]]),
        ("[[3, 1], None]", np.s_[[3, 1], None]),
        ("[[]]", []),
        ("[labels == 2]", labels == 2),
        ("[labels == 1, 1]", np.s_[labels == 1, 1]),
        ("[labels == 3, ::-1]", np.s_[labels == 3, ::-1]),
        ("[data > 0]", data > 0),  # a 2-d mask
        ("[..., [True, False]]", np.s_[..., [True, False]]),
        ("[np.zeros(n, bool)]", np.zeros(n, dtype=bool)),
    ]
    return [_Check("data" + s, k, False) for s, k in basic] + [
        _Check("data" + s, k, True) for s, k in fancy
    ]


def _label_checks(n: int, labels: np.ndarray) -> list[_Check]:
    """Keys for the (n,) int64 labels."""
    basic = [
        ("[::-7]", np.s_[::-7]),
        ("[3:-3:4]", np.s_[3:-3:4]),
        ("[7]", np.s_[7]),
        ("[-1]", np.s_[-1]),
        ("[..., None]", np.s_[..., None]),
        ("[None]", np.s_[None]),
    ]
    fancy = [
        ("[[3, -1, 3, 0]]", [3, -1, 3, 0]),
        ("[labels == 3]", labels == 3),
        ("[np.array([], dtype=np.intp)]", np.array([], dtype=np.intp)),
    ]
    return [_Check("labels" + s, k, False) for s, k in basic] + [
        _Check("labels" + s, k, True) for s, k in fancy
    ]


@dataclass
class _Row:
    """What the demo measured for one (backend, compression) pair."""

    backend: str
    compression: str | None
    stored_bytes: int | None = None
    raw_bytes: int = 0
    read_all_s: float | None = None
    fancy_s: float | None = None
    passed: int = 0
    total: int = 0
    failures: list[str] = field(default_factory=list)


def _run_checks(
    row: _Row,
    where: str,
    arrays: dict[str, Any],
    expected: dict[str, np.ndarray],
    checks: Sequence[_Check],
) -> float:
    """Compare every check with NumPy, record failures; return time in fancy reads."""
    fancy_s = 0.0

    def record(name: str, problem: str | None) -> None:
        row.total += 1
        if problem is None:
            row.passed += 1
        else:
            row.failures.append(f"{row.backend}/{row.compression} ({where}): {name}: {problem}")

    # Keys first: the whole-array reads below would warm HDF5's chunk cache
    # and flatter the fancy/mask timings.
    for check in checks:
        name = check.name.split("[", 1)[0]
        x, ref = arrays[name], expected[name]
        seconds = [0.0]

        def timed_read(key: Any, x: Any = x, seconds: list[float] = seconds) -> Any:
            t0 = time.perf_counter()
            try:
                return x[key]
            finally:
                seconds[0] = time.perf_counter() - t0

        record(check.name, _problem(lambda: assert_same_as_numpy(timed_read, ref, check.key)))
        if check.fancy:
            fancy_s += seconds[0]
    for name, x in arrays.items():
        ref = expected[name]
        # Then the array-like surface and the whole array, as NumPy sees it.
        surface: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
            f"{name}.shape": (lambda: x.shape, lambda: ref.shape),
            f"{name}.dtype": (lambda: x.dtype, lambda: ref.dtype),
            f"{name}.ndim": (lambda: x.ndim, lambda: ref.ndim),
            f"len({name})": (lambda: len(x), lambda: len(ref)),
            f"np.asarray({name})": (lambda: np.asarray(x), lambda: ref),
        }
        for what, (got, want) in surface.items():
            record(what, _problem(lambda: assert_same_outcome(got, want, what)))
    return fancy_s


def _problem(check: Callable[[], None]) -> str | None:
    """Run one oracle check; the oracle's message when it fails, else None.

    A failed check is reported, not raised: the user should see every
    failure in one run.
    """
    try:
        check()
    except AssertionError as exc:
        return str(exc)
    return None


def _time_first_read(path: Path, name: str) -> float:
    """Seconds for ``np.asarray`` of ``name`` on a freshly opened file.

    Only the first read counts: a repeat would be served from HDF5's chunk
    cache for some compressors and not others, which is not what a user
    reading a large array once would see.
    """
    with la.open(path, "r") as store:
        x = store[name]
        t0 = time.perf_counter()
        np.asarray(x)
        return time.perf_counter() - t0


def _demo_one(
    folder: Path,
    backend: str,
    compression: str | None,
    data: np.ndarray,
    labels: np.ndarray,
    checks: Sequence[_Check],
) -> _Row:
    """Write, check, reopen read-only, check again and time one configuration."""
    row = _Row(backend, compression, raw_bytes=data.nbytes + labels.nbytes)
    path = folder / f"demo-{backend}-{(compression or 'none').replace(':', '-')}.h5"
    expected = {"data": data, "labels": labels}
    try:
        with la.open(path, "w") as store:
            arrays = {}
            for name, values in expected.items():
                # Create with most of the rows and append the rest, so the demo
                # also exercises growing an array, where the backend can grow.
                # expectedrows, as in the walkthrough, sizes the chunks for the
                # final length rather than for the first block.
                split = len(values) * 3 // 4 if backend == "compressed" else len(values)
                x = store.create_array(
                    name,
                    values[:split],
                    backend=backend,
                    compression=compression,
                    expectedrows=len(values),
                )
                if split < len(values):
                    x.append(values[split:])
                arrays[name] = x
            kinds = {name: x.backend.kind for name, x in arrays.items()}
            for name, kind in kinds.items():
                row.total += 1
                if kind == backend:
                    row.passed += 1
                else:
                    row.failures.append(
                        f"{backend}/{compression} (mode 'w'): {name}.backend.kind: "
                        f"{kind!r} != expected {backend!r}"
                    )
            _run_checks(row, "mode 'w'", arrays, expected, checks)

        row.read_all_s = _time_first_read(path, "data")
        # Reopened read-only, the arrays must be found by name alone, with the
        # backend recorded in the file, and give the same answers.
        with la.open(path, "r") as store:
            arrays = {name: store[name] for name in expected}
            for name, x in arrays.items():
                row.total += 1
                if x.backend.kind == backend:
                    row.passed += 1
                else:
                    row.failures.append(
                        f"{backend}/{compression} (mode 'r'): {name}.backend.kind: "
                        f"{x.backend.kind!r} != expected {backend!r}"
                    )
            row.fancy_s = _run_checks(row, "mode 'r'", arrays, expected, checks)
            stored = [x.backend.nbytes_stored for x in arrays.values()]
            row.stored_bytes = None if None in stored else int(sum(stored))
    except Exception as exc:  # noqa: BLE001 - reported as a failed row
        row.total += 1
        row.failures.append(
            f"{backend}/{compression}: stopped by {type(exc).__name__}: {exc}"
        )
    return row


def _format_table(rows: Sequence[_Row]) -> str:
    """The demo's results as a plain-text table."""

    def ms(seconds: float | None) -> str:
        if seconds is None:
            return "n/a"
        # Three decimals resolve the sub-millisecond reads of small arrays.
        return f"{seconds * 1e3:.3f} ms" if seconds < 0.01 else f"{seconds * 1e3:.1f} ms"

    header = (
        "backend", "compression", "bytes on disk", "ratio", "read data", "fancy/mask", "checks"
    )
    body = []
    for r in rows:
        ratio = "n/a" if r.stored_bytes is None else f"{r.raw_bytes / r.stored_bytes:.3f}" if r.stored_bytes else "n/a"
        stored = "n/a" if r.stored_bytes is None else f"{r.stored_bytes:,}"
        checks = f"{r.passed}/{r.total}" + ("" if r.passed == r.total else " FAILED")
        body.append(
            (r.backend, str(r.compression), stored, ratio, ms(r.read_all_s), ms(r.fancy_s), checks)
        )
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    # Text columns read best left-aligned, numbers right-aligned.
    align = ["<", "<", ">", ">", ">", ">", ">"]
    lines = []
    for line in [header, None, *body]:
        if line is None:
            lines.append("  ".join("-" * w for w in widths))
        else:
            lines.append(
                "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(line, align, widths)).rstrip()
            )
    return "\n".join(lines)


def run_demo(
    folder: Path, n: int, seed: int, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the demo with its files in ``folder``; return the exit status.

    Parameters
    ----------
    folder : Path
        Where the HDF5 files are written (one per configuration).
    n : int
        Number of points.
    seed : int
        Seed of the points and labels.
    out, err : file, optional
        Where the table and the failures are printed (stdout and stderr).

    Returns
    -------
    int
        0 when every check agreed with NumPy, 1 otherwise.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    data, labels = make_cluster_points(n, seed)
    checks = _data_checks(n, data, labels) + _label_checks(n, labels)
    print(
        f"lazyarr {la.__version__} demo: {n} points x 2 float64 + int64 labels "
        f"(seed {seed}), raw {data.nbytes + labels.nbytes:,} bytes, files in {folder}",
        file=out,
    )
    rows = [
        _demo_one(folder, backend, compression, data, labels, checks)
        for backend, compression in DEMO_CONFIGS
    ]
    print(_format_table(rows), file=out)
    failures = [f for r in rows for f in r.failures]
    total = sum(r.total for r in rows)
    failures += _ragged_part(folder, seed, out)
    failures += _cache_part(folder, out)
    if failures:
        print(f"{len(failures)} of {total} checks against NumPy FAILED:", file=err)
        for f in failures:
            print(f"  {f}", file=err)
        return 1
    print(f"all {total} checks agree with NumPy (values, dtype, shape, scalar-ness)", file=out)
    return 0


def _ragged_part(folder: Path, seed: int, out: TextIO) -> list[str]:
    """Run the ragged demo, print its table; return failure messages."""
    from lazyarr.cli.ragged_demo import run_ragged_demo

    sub = folder / "ragged"
    sub.mkdir(exist_ok=True)
    try:
        rows = run_ragged_demo(str(sub), seed=seed)
    except AssertionError as exc:
        return [f"ragged: {exc}"]
    print("\nragged arrays (the walkthrough's variable-length data, 1,000 items each):", file=out)
    print(
        f"{'backend':<16}{'data':<15}{'compression':<27}{'bytes on disk':>14}"
        f"{'raw bytes':>11}{'ratio':>7}{'read all':>11}",
        file=out,
    )
    for r in rows:
        print(
            f"{r['backend']:<16}{r['data']:<15}{str(r['compression']):<27}"
            f"{r['nbytes_stored']:>14,}{r['nbytes_raw']:>11,}{r['ratio']:>7.3f}"
            f"{r['read_seconds'] * 1e3:>8.2f} ms",
            file=out,
        )
    return []


def _cache_part(folder: Path, out: TextIO) -> list[str]:
    """Run the cache-policy demo, print its table; return failure messages."""
    from lazyarr.cli.cache_demo import run_cache_demo

    try:
        rows = run_cache_demo(str(folder))
    except AssertionError as exc:
        return [f"cache policies: {exc}"]
    print("\ncache policies (the same 256-row minibatches and 200 random rows, 20,000 x 32 float32):", file=out)
    print(f"{'policy':<28}{'backend reads':>14}{'bytes read':>14}{'hits':>7}{'time':>11}", file=out)
    for r in rows:
        print(
            f"{r['policy']:<28}{r['backend_reads']:>14,}{r['bytes_read']:>14,}"
            f"{r['hits']:>7,}{r['seconds'] * 1e3:>8.1f} ms",
            file=out,
        )
    return []




def _rows(text: str) -> int:
    n = int(text)
    if n < _MIN_ROWS:
        raise argparse.ArgumentTypeError(f"must be at least {_MIN_ROWS}, got {n}")
    return n


#: One line in ``lazyarr --help``.
HELP = "store sample data with every backend and check reads against NumPy"
DESCRIPTION = (
    "Write four-cluster sample points with every backend and compression, "
    "read them back with many kinds of NumPy keys, compare each result "
    "with NumPy's exactly, and print sizes and timings."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``lazyarr demo``'s options to its sub-parser."""
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="keep the HDF5 files in DIR (default: a temporary folder, removed afterwards)",
    )
    parser.add_argument("--n", type=_rows, default=10_000, help="number of points (default 10000)")
    parser.add_argument("--seed", type=int, default=1999, help="random seed (default 1999)")


def run(args: argparse.Namespace) -> int:
    """Run ``lazyarr demo`` with parsed arguments; return the exit status."""
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        status = run_demo(args.dir, args.n, args.seed)
        print(f"the demo's files are kept in {args.dir.resolve()}")
        return status
    with tempfile.TemporaryDirectory(prefix="lazyarr-demo-") as tmp:
        return run_demo(Path(tmp), args.n, args.seed)
