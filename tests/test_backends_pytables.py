"""PlainBackend and CompressedBackend against NumPy, through the backend protocol.

The oracle is :class:`lazyarr.backends.MemoryBackend` over the same data: the
protocol fixes the result of every orthogonal selection, so the two must agree
on values, shape and dtype (byte order included).
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest
import tables
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lazyarr.backends import CompressedBackend, MemoryBackend, PlainBackend, backend_class
from lazyarr.backends import _pytables
from lazyarr.backends.base import selection_shape
from lazyarr.backends.compressed import compressions, default_chunks
from lazyarr.errors import BackendError, ReadOnlyError
from lazyarr.store import FileRef

# "plain" reads and writes through a memory map, "plain-pytables" the same
# nodes through PyTables (the map switched off).
KINDS = ["plain", "plain-pytables", "compressed"]
_counter = itertools.count()


@pytest.fixture
def ref(tmp_path):
    r = FileRef(tmp_path / "b.h5", "w")
    yield r
    r.close()


def make(ref, kind, data, **opts):
    """A fresh node holding ``data``; a new name per call (property tests share files)."""
    b = backend_class(kind.split("-")[0]).create(ref, f"/n{next(_counter)}", np.asarray(data), **opts)
    if kind == "plain-pytables":
        b.use_map = False
    return b


def full(shape):
    return tuple(slice(0, n, 1) for n in shape)


def check_read(b, a, sel):
    got = b.read(sel)
    want = MemoryBackend(a).read(sel)
    assert got.dtype == want.dtype  # byte order included
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    return got


# ---------------------------------------------------------------- strategies
@st.composite
def shapes_and_sels(draw, max_ndim=3, min_ndim=1, max_side=9):
    ndim = draw(st.integers(min_ndim, max_ndim))
    shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=ndim, max_size=ndim)))
    sel = []
    for n in shape:
        if draw(st.booleans()):
            start = draw(st.integers(0, n))
            stop = draw(st.integers(start, n))
            step = draw(st.integers(1, 4))
            sel.append(slice(start, stop, step))
        else:
            idx = draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=n)) if n else set()
            sel.append(np.array(sorted(idx), dtype=np.int64))
    return shape, tuple(sel)


@pytest.fixture(params=["default", "exact-runs-in-unions", "small-pieces"])
def tuning(request, monkeypatch):
    """Default thresholds, or ones that force every code path on tiny arrays."""
    if request.param == "exact-runs-in-unions":
        monkeypatch.setattr(_pytables, "GAP_BYTES", 0)
        monkeypatch.setattr(_pytables, "MAX_RUNS", 2)
    elif request.param == "small-pieces":
        # Windows merged across every gap, cut into pieces of a few elements.
        monkeypatch.setattr(_pytables, "GAP_BYTES", 2**20)
        monkeypatch.setattr(_pytables, "PIECE_BYTES", 24)
    return request.param


def small_chunks(shape):
    # Tiny chunks so that selections cross many chunk boundaries.
    return tuple(max(1, min(n, 2)) if i else 3 for i, n in enumerate(shape))


# ---------------------------------------------------------- property tests
@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=50)
@given(case=shapes_and_sels(), big_endian=st.booleans())
@example(case=((5, 4), (np.array([0, 2, 3]), np.array([1, 3]))), big_endian=False)
@example(case=((4, 0), (np.array([1]), slice(0, 0, 1))), big_endian=True)
def test_read_matches_numpy(ref, tuning, kind, case, big_endian):
    shape, sel = case
    a = np.arange(int(np.prod(shape)), dtype=">i4" if big_endian else "<i4").reshape(shape)
    opts = {"chunks": small_chunks(shape)} if kind == "compressed" and 0 not in shape[1:] else {}
    b = make(ref, kind, a, **opts)
    assert b.shape == shape and b.dtype == a.dtype
    check_read(b, a, sel)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=50)
@given(case=shapes_and_sels())
@example(case=((6, 3), (np.array([0, 1, 4]), np.array([0, 2]))))
def test_write_matches_numpy(ref, tuning, kind, case):
    shape, sel = case
    a = np.zeros(shape, dtype="f8")
    opts = {"chunks": small_chunks(shape)} if kind == "compressed" and 0 not in shape[1:] else {}
    b = make(ref, kind, a, **opts)
    m = MemoryBackend(a.copy())
    value = np.arange(1, 1 + int(np.prod(selection_shape(sel))), dtype="f8").reshape(
        selection_shape(sel)
    )
    b.write(sel, value)
    m.write(sel, value)
    np.testing.assert_array_equal(b.read(full(shape)), m.array)


# ---------------------------------------------------------- table-driven
SCATTER = np.arange(0, 600, 2)  # 300 runs of one: more than one batch of runs
READ_CASES = [
    pytest.param((6,), (slice(0, 6, 1),), id="1d-all"),
    pytest.param((6,), (slice(1, 6, 2),), id="1d-step"),
    pytest.param((6,), (slice(3, 3, 1),), id="1d-empty-slice"),
    pytest.param((6,), (np.array([], dtype=np.int64),), id="1d-empty-array"),
    pytest.param((6,), (np.array([5]),), id="1d-last"),
    pytest.param((0,), (slice(0, 0, 1),), id="zero-length"),
    pytest.param((0, 3), (slice(0, 0, 1), np.array([0, 2])), id="zero-rows"),
    pytest.param((4, 0), (np.array([1, 3]), slice(0, 0, 1)), id="zero-cols"),
    pytest.param((5, 4), (np.array([0, 2]), np.array([1, 3])), id="two-arrays-2d"),
    pytest.param((5, 4, 3), (np.array([4]), slice(0, 4, 3), np.array([0, 2])), id="arrays-around-slice"),
    pytest.param((7, 5), (slice(1, 7, 3), np.array([0, 1, 2, 4])), id="slice-then-array"),
    pytest.param((600, 2), (SCATTER, slice(0, 2, 1)), id="many-runs-batched"),
    pytest.param((600, 3), (SCATTER, np.array([0, 2])), id="many-runs-two-arrays"),
    pytest.param((50000,), (np.array([0, 1, 2, 30000, 49999]),), id="far-gaps-exact"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape, sel", READ_CASES)
def test_read_cases(ref, tuning, kind, shape, sel):
    a = np.arange(int(np.prod(shape)), dtype="<i8").reshape(shape)
    b = make(ref, kind, a)
    out = check_read(b, a, sel)
    # Always a fresh, writable array.
    assert out.flags.writeable and out.flags.owndata


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape, sel", READ_CASES)
def test_write_cases(ref, tuning, kind, shape, sel):
    a = np.arange(int(np.prod(shape)), dtype="<i8").reshape(shape)
    b = make(ref, kind, a)
    m = MemoryBackend(a.copy())
    v = -np.arange(int(np.prod(selection_shape(sel))), dtype="<i8").reshape(selection_shape(sel))
    b.write(sel, v)
    m.write(sel, v)
    np.testing.assert_array_equal(b.read(full(shape)), m.array)


def test_zero_d_plain(ref):
    b = make(ref, "plain", np.float32(2.5))
    assert b.shape == () and b.dtype == np.float32 and b.chunks is None
    out = b.read(())
    assert out.shape == () and out.dtype == np.float32 and out == 2.5
    b.write((), np.array(7, dtype=np.float32))
    assert b.read(()) == 7


def test_zero_d_compressed_refused(ref):
    with pytest.raises(ValueError, match="at least one axis"):
        make(ref, "compressed", np.float32(2.5))


@pytest.fixture
def count_calls(monkeypatch):
    calls = []
    for name in ["_g_read_slice", "_g_read_selection"]:
        orig = getattr(tables.Array, name)

        def counted(self, *args, _orig=orig, _name=name):
            calls.append(_name)
            return _orig(self, *args)

        monkeypatch.setattr(tables.Array, name, counted)
    return calls


@pytest.mark.parametrize(
    "kind, shape, chunks, idx, want",
    [
        # Through the memory map: no HDF5 call at all.
        ("plain", (20000,), None, np.arange(0, 20000, 7), []),
        ("plain", (2000, 1024), None, np.arange(0, 2000, 10), []),
        # 2858 indices 48 bytes apart: one window, one hyperslab.
        ("plain-pytables", (20000,), None, np.arange(0, 20000, 7), ["_g_read_slice"]),
        # 200 rows 72 KiB apart: too many windows, unions of MAX_RUNS.
        ("plain-pytables", (2000, 1024), None, np.arange(0, 2000, 10), ["_g_read_selection"] * 2),
        # Far apart in different chunks: one hyperslab per window.
        ("compressed", (20000,), (1000,), np.array([5, 10000, 19999]), ["_g_read_slice"] * 3),
        # Same chunk, far apart in bytes: one window (the chunk is read anyway).
        ("compressed", (20000, 8), (20000, 8), np.array([0, 19999]), ["_g_read_slice"]),
    ],
    ids=["mapped", "mapped-scattered", "merged", "union-batches", "per-chunk", "same-chunk"],
)
def test_hdf5_calls_are_few(ref, count_calls, kind, shape, chunks, idx, want):
    a = np.arange(int(np.prod(shape)), dtype="f8").reshape(shape)
    b = make(ref, kind, a, **({"chunks": chunks} if chunks else {}))
    b.raw_chunks = False  # these are PyTables' calls; blosc2 decoding has its own test
    count_calls.clear()
    check_read(b, a, (idx,) + full(shape[1:]))
    assert count_calls == want


# ---------------------------------------------------------- dtypes
DTYPES = [
    "?", "i1", "u1", "<i2", ">i2", "<u2", ">u4", "<i4", ">i8", "<u8",
    "<f2", ">f2", "<f4", ">f4", "<f8", ">f8", "<c8", ">c8", "<c16", ">c16", "S1", "S7",
]
if hasattr(tables, "Float128Atom"):
    DTYPES += ["g", "G"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes(ref, kind, dtype):
    dt = np.dtype(dtype)
    a = (np.arange(24).reshape(4, 6) % 7).astype(dt)
    b = make(ref, kind, a)
    assert b.dtype == dt and b.dtype.byteorder == dt.byteorder
    check_read(b, a, full(a.shape))
    check_read(b, a, (np.array([0, 3]), np.array([1, 2, 5])))
    v = np.ones((2, 3), dtype=dt)
    b.write((np.array([1, 2]), slice(0, 6, 2)), v)
    a[1:3, ::2] = v
    check_read(b, a, full(a.shape))
    # The stored byte order survives a reopen.
    again = type(b)(ref, b.path)
    assert again.dtype == dt


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "dtype", ["O", "U3", "M8[s]", "m8[s]", [("a", "i4"), ("b", "f8")], ("i4", (2,))],
    ids=["object", "unicode", "datetime", "timedelta", "structured", "subarray"],
)
def test_unsupported_dtypes(ref, kind, dtype):
    with pytest.raises(BackendError, match="cannot store dtype"):
        backend_class(kind.split("-")[0]).create(ref, "/bad", shape=(3,), dtype=dtype)
    assert "/bad" not in ref.file  # refused before anything is created


# ---------------------------------------------------------- compression
@pytest.mark.parametrize("compression", [None, *compressions()])
def test_compressions(ref, compression):
    a = np.arange(3000, dtype="f8").reshape(1000, 3)
    b = make(ref, "compressed", a, compression=compression, level=3, shuffle=True)
    check_read(b, a, (np.array([0, 5, 999]), slice(0, 3, 2)))
    d = b.describe()
    assert d["complib"] == compression and d["chunkshape"] == b.chunks
    assert b.nbytes_stored > 0


def test_bad_compression(ref):
    with pytest.raises(ValueError, match="valid: None, .*'blosc2:zstd'"):
        make(ref, "compressed", np.zeros(3), compression="zip")
    with pytest.raises(ValueError, match="level"):
        make(ref, "compressed", np.zeros(3), compression="zlib", level=12)


# ---------------------------------------------------------- chunks
@pytest.mark.parametrize(
    "shape, itemsize, rows, want",
    [
        ((10**9, 16), 8, None, (8192, 16)),
        ((100, 16), 8, 100, (100, 16)),
        ((0, 16), 8, None, (8192, 16)),
        ((10, 1000, 1000), 8, None, (1, 131, 1000)),
        ((5, 2**21), 1, None, (1, 2**20)),
        ((7,), 8, 3, (3,)),
    ],
    ids=["rows", "capped", "no-rows-yet", "split-trailing", "huge-row", "1d-expected"],
)
def test_default_chunks(shape, itemsize, rows, want):
    got = default_chunks(shape, itemsize, rows)
    assert got == want and 0 not in got


def test_chunks_on_create(ref):
    # The initial length does not cap the chunks of an extendable array...
    b = make(ref, "compressed", np.zeros((10, 4)))
    assert b.chunks == (2**15, 4)
    # ... expectedrows does.
    b = make(ref, "compressed", np.zeros((10, 4)), expectedrows=10)
    assert b.chunks == (10, 4)
    b = make(ref, "compressed", np.zeros((10, 4)), chunks=(3, 2))
    assert b.chunks == (3, 2)
    for bad in [(0, 4), (3,), (3, 5), (2.5, 4)]:
        with pytest.raises(ValueError, match="chunks"):
            make(ref, "compressed", np.zeros((10, 4)), chunks=bad)
    with pytest.raises(ValueError, match="chunks"):
        make(ref, "plain", np.zeros((10, 4)), chunks=(3, 2))


# ---------------------------------------------------------- append
def test_append(ref):
    a = np.arange(12, dtype=">f4").reshape(4, 3)
    b = make(ref, "compressed", a, chunks=(2, 3))
    assert b.extendable
    rows = np.full((5, 3), 9, dtype=">f4")
    b.append(rows)
    b.append(rows[:0])
    assert b.shape == (9, 3)
    check_read(b, np.concatenate([a, rows]).astype(">f4"), full((9, 3)))


def test_bad_append_writes_nothing(ref):
    a = np.arange(6, dtype="i4").reshape(2, 3)
    b = make(ref, "compressed", a)
    before = b.nbytes_stored
    with pytest.raises(ValueError, match="shape"):
        b.append(np.zeros((2, 4), dtype="i4"))
    with pytest.raises(ValueError, match="shape"):
        b.append(np.zeros(3, dtype="i4"))
    with pytest.raises(TypeError, match="cannot append"):
        b.append(np.zeros((1, 3), dtype="f8"))
    assert b.shape == (2, 3) and b.nbytes_stored == before
    check_read(b, a, full(a.shape))


def test_plain_not_extendable(ref):
    b = make(ref, "plain", np.zeros((2, 3)))
    assert not b.extendable
    with pytest.raises(TypeError, match="not extendable"):
        b.append(np.zeros((1, 3)))


@pytest.mark.parametrize("shape", [(4, 0), (0, 0), (3, 0, 2)])
def test_empty_rows_compressed(ref, shape):
    b = backend_class("compressed").create(ref, f"/e{next(_counter)}", shape=shape, dtype="i2")
    assert b.shape == shape and b.extendable and b.dtype == np.int16
    b.append(np.zeros((2,) + shape[1:], dtype="i2"))
    assert b.shape == (shape[0] + 2,) + shape[1:]
    assert b.read(full(b.shape)).shape == b.shape
    assert type(b)(ref, b.path).shape == b.shape  # attributes survive the regrow


def test_shape_only_is_zeros(ref):
    for kind in KINDS:
        b = backend_class(kind.split("-")[0]).create(ref, f"/z{next(_counter)}", shape=(300, 2), dtype=">u2")
        out = b.read(full((300, 2)))
        assert out.dtype == np.dtype(">u2") and not out.any()


def test_readonly(tmp_path):
    w = FileRef(tmp_path / "ro.h5", "w")
    make(w, "compressed", np.zeros((2, 2)))
    path = f"/n{next(_counter) - 1}"
    w.close()
    r = FileRef(tmp_path / "ro.h5", "r")
    b = CompressedBackend(r, path)
    assert b.readonly
    with pytest.raises(ReadOnlyError):
        b.write(full((2, 2)), np.ones((2, 2)))
    with pytest.raises(ReadOnlyError):
        b.append(np.ones((1, 2)))
    r.close()


def test_write_validates_shape(ref):
    b = make(ref, "plain", np.zeros((3, 3)))
    with pytest.raises(ValueError, match="shape"):
        b.write(full((3, 3)), np.ones((3, 2)))


# ---------------------------------------------------------- foreign nodes
def test_foreign_pytables_nodes(ref):
    f = ref.file
    f.create_carray("/", "carray", obj=np.arange(20.0).reshape(4, 5), chunkshape=(2, 2))
    e = f.create_earray("/", "earray1", atom=tables.Int32Atom(), shape=(3, 0))
    e.append(np.ones((3, 4), dtype="i4"))
    f.create_earray("/", "earray0", obj=np.arange(6).reshape(2, 3))
    f.create_array("/", "array", obj=np.arange(6))
    c = CompressedBackend(ref, "/carray")
    assert not c.extendable and c.chunks == (2, 2)
    check_read(c, np.arange(20.0).reshape(4, 5), (np.array([0, 3]), np.array([1, 4])))
    assert not CompressedBackend(ref, "/earray1").extendable
    assert CompressedBackend(ref, "/earray0").extendable
    assert PlainBackend(ref, "/array").shape == (6,)
    with pytest.raises(BackendError, match="plain"):
        CompressedBackend(ref, "/array")
    with pytest.raises(BackendError, match="compressed"):
        PlainBackend(ref, "/carray")


def test_read_returns_stored_byteorder():
    # Guard against a silent platform assumption in the tests above.
    assert sys.byteorder == "little" or np.dtype(">i4").isnative


def test_pickle_backend(ref):
    import pickle

    b = make(ref, "compressed", np.arange(4))
    ref.file.flush()
    b2 = pickle.loads(pickle.dumps(b))
    np.testing.assert_array_equal(b2.read((slice(0, 4, 1),)), np.arange(4))
    b2.fileref.close()


def test_hdf5_errors_become_oserror():
    with pytest.raises(OSError, match="HDF5 failed reading"):
        with _pytables.hdf5_errors("reading x"):
            raise tables.HDF5ExtError("boom\nlong trace")
