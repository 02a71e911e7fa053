"""Every dtype a user has in memory, stored by lazyarr and read back exactly (issue 15).

Round trips per dtype and backend (create, read, write, append, reopen),
property tests of structured and datetime arrays through lazyarr.testing's
oracle, the ``'c'`` char dtype on every file backend, and what stays refused.
"""

from __future__ import annotations

import itertools

import h5py
import numpy as np
import pytest
import tables
import zarr
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lazyarr as la
from lazyarr.errors import BackendError
from lazyarr.testing import (
    arrays_and_keys,
    assert_same_as_numpy,
    assert_same_outcome,
    assert_same_write,
    keys,
)

#: dtype id -> an array of it with distinct, awkward values.
SAMPLES = {
    "bool": np.array([True, False, True]),
    "char": np.array([[b"a", b"\x00", b"z"]], dtype="c"),
    "float16": np.array([0.5, -0.0, np.inf], dtype="f2"),
    ">float16": np.array([1.5, np.nan, -2.0], dtype=">f2"),
    "complex64": np.array([1 + 2j, -0.0j], dtype="c8"),
    ">complex128": np.array([1 - 2j, np.nan + 1j], dtype=">c16"),
    "bytes": np.array([b"a\x00b", b"", b"xyz"], dtype="S3"),
    "unicode": np.array([["ab", "ç€"], ["", "\U0001f600x"]]),
    ">unicode": np.array(["ab", "c"], dtype=">U2"),
    "datetime64[ns]": np.array(["2020-01-01T00:00:00.000000001", "NaT", "1677-09-22"],
                               dtype="M8[ns]"),
    ">datetime64[D]": np.array(["1970-01-01", "2262-04-11"], dtype=">M8[D]"),
    "datetime64[Y]": np.array(["1", "9999", "NaT"], dtype="M8[Y]"),
    "timedelta64[ms]": np.array([1, -5, "NaT"], dtype="m8[ms]"),
    ">timedelta64[s]": np.array([[7, 0]], dtype=">m8[s]"),
    "struct": np.array([(1, 2.5), (-3, np.nan)], dtype=[("a", "<i4"), ("b", ">f8")]),
    "struct-nested": np.array(
        [(1, (2.5, b"x"), [1, 2]), (3, (4.5, b"yz"), [5, 6])],
        dtype=[("a", "<i4"), ("b", [("x", ">f8"), ("y", "S2")]), ("c", "u1", (2,))]),
    "struct-padded": np.zeros(2, dtype=np.dtype({"names": ["a", "b"], "formats": ["u1", "<i8"],
                                                 "offsets": [0, 8], "itemsize": 24})),
    "struct-unicode-datetime": np.array([("ab", "2020-01-01")],
                                        dtype=[("s", "U2"), ("t", "M8[s]")]),
    "void": np.array([b"\x01\x02\x03", b"\x00\x00\xff"], dtype="V3"),
}

BACKENDS = ["plain", "compressed"]


def _same(got, want):
    # The oracle: type, dtype (byte order too), shape, values (NaN, NaT equal
    # themselves; structured field by field, padding bytes ignored).
    assert_same_outcome(lambda: got, lambda: want, "read")
    assert got.dtype.char == want.dtype.char


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(SAMPLES))
def test_round_trip(tmp_path, name, backend):
    a = SAMPLES[name]
    path = tmp_path / "d.h5"
    with la.open(path, "w") as store:
        x = store.create_array("x", a, backend=backend)
        assert x.dtype == a.dtype and x.dtype.str == a.dtype.str and x.shape == a.shape
        _same(x[...], a)
        _same(np.asarray(x), a)
        assert_same_as_numpy(x.__getitem__, a, (slice(None, None, -1),))
        assert_same_as_numpy(x.__getitem__, a, -1)
        model = a.copy()
        assert_same_write(x, model, 0, a[-1])
        if backend == "compressed":
            x.append(a[:1])
            x.append(a[0])  # one row of the trailing shape
            grown = np.empty((len(model) + 2,) + model.shape[1:], dtype=model.dtype)
            grown[: len(model)], grown[len(model):] = model, a[:1]  # not concatenate: byte order
            model = grown
        z = store.create_array("zeros", shape=a.shape, dtype=a.dtype, backend=backend)
        _same(z[...], np.zeros(a.shape, a.dtype))
    with la.open(path) as store:
        _same(store["x"][...], model)
        assert store["x"].chunks == (None if backend == "plain" else store["x"].chunks)
        assert store["x"].backend.kind == backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_char_assignment_keeps_char(tmp_path, backend):
    """Issue 12's pinned case: 'c' stays 'c', so a str assigns one char per element."""
    with la.open(tmp_path / "c.h5", "w") as store:
        x = store.create_array("c", np.zeros((1, 5), dtype="c"), backend=backend)
        x[0] = np.str_("asdfg")
        model = np.zeros((1, 5), dtype="c")
        model[0] = np.str_("asdfg")
        _same(x[...], model)
        assert x[...].tolist() == [[b"a", b"s", b"d", b"f", b"g"]]
    with la.open(tmp_path / "c.h5") as store:
        assert store["c"].dtype.char == "c"


@pytest.mark.parametrize("chunked", [False, True], ids=["contiguous", "chunked"])
def test_char_on_h5py(tmp_path, chunked):
    kw = {"chunks": (1, 2), "maxshape": (None, 5)} if chunked else {}
    with h5py.File(tmp_path / "h.h5", "w") as f:
        d = f.create_dataset("c", data=np.zeros((1, 5), dtype="c"), **kw)
        d.attrs["LAZYARR_DTYPE"] = "c"
        x = la.wrap(d)
        assert x.dtype.char == "c"
        x[0] = np.str_("asdfg")
        assert x[...].tolist() == [[b"a", b"s", b"d", b"f", b"g"]] and x[...].dtype.char == "c"
        # Without the attribute h5py's S1 is what the dataset holds.
        assert la.wrap(f.create_dataset("s", data=np.zeros(2, "c"))).dtype.char == "S"


# zarr's v3 format has no bytes dtype (it warns); v2 has.
@pytest.mark.parametrize("zarr_format", [2])
def test_char_on_zarr(zarr_format):
    z = zarr.create_array(store={}, shape=(1, 5), dtype="S1", zarr_format=zarr_format)
    z.attrs["LAZYARR_DTYPE"] = "c"
    x = la.wrap(z)
    x[0] = np.str_("asdfg")
    assert x.dtype.char == "c" and x[...].tolist() == [[b"a", b"s", b"d", b"f", b"g"]]


def test_lazyarr_char_file_read_by_h5py_wrap(tmp_path):
    with la.open(tmp_path / "c.h5", "w") as store:
        store.create_array("c", np.array([b"x", b"y"], dtype="c"), compression="zlib")
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert la.wrap(f["c"]).dtype.char == "c"


def test_stored_forms_h5py_sees(tmp_path):
    """What h5py users find: a dtype HDF5 has, and the attribute naming NumPy's."""
    with la.open(tmp_path / "f.h5", "w") as store:
        store.create_array("u", np.array(["ab", "c"]), compression="zlib")
        store.create_array("t", np.array(["2020-01-01"], dtype="M8[D]"), backend="plain")
        store.create_array("s", SAMPLES["struct"], backend="plain")
    with h5py.File(tmp_path / "f.h5", "r") as f:
        assert f["u"].dtype == np.dtype("<u4") and f["u"].shape == (2, 2)
        assert f["u"][0].tolist() == [ord("a"), ord("b")]
        assert f["t"].dtype == np.dtype("<i8") and f["t"][0] == 18262
        assert f["s"].dtype == np.dtype("u1") and f["s"].shape == (2, 12)
        assert f["u"].attrs["LAZYARR_DTYPE"] in ("'<U2'", b"'<U2'")


@pytest.mark.parametrize("dtype, match", [
    (np.dtype("O"), "Python objects"),
    (np.dtype("U0"), "zero-size"),
    (np.dtype([("a", "O")]), "Python objects"),
], ids=["object", "unicode-0", "struct-object"])
def test_refused_dtypes_are_named(tmp_path, dtype, match):
    with la.open(tmp_path / "r.h5", "w") as store:
        with pytest.raises(BackendError, match=match) as info:
            store.create_array("x", shape=(2,), dtype=dtype)
        assert isinstance(info.value, TypeError)
        assert list(store) == []


def test_corrupt_dtype_attribute_is_reported(tmp_path):
    with la.open(tmp_path / "a.h5", "w") as store:
        store.create_array("u", np.array(["ab"]), backend="plain")
    with tables.open_file(tmp_path / "a.h5", "a") as f:
        f.root.u._v_attrs.LAZYARR_DTYPE = "'<U7'"  # says 7 characters, stored 2
    with la.open(tmp_path / "a.h5") as store:
        with pytest.raises(BackendError, match="stored as"):
            store["u"]


# ---------------------------------------------------------- property tests
_DTYPES = st.sampled_from([
    np.dtype("M8[ns]"), np.dtype(">M8[s]"), np.dtype("m8[us]"), np.dtype("<m8[D]"),
    np.dtype([("a", "<i2"), ("b", ">f4")]),
    np.dtype([("t", "M8[ms]"), ("p", [("x", "u1"), ("y", "S3")], (2,))]),
    np.dtype("U3"),
])
_ARRAYS = _DTYPES.flatmap(lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=1, max_dims=3,
                                                                   max_side=5)))
_names = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with la.open(tmp_path_factory.mktemp("prop") / "p.h5", "w") as s:
        yield s


@given(ak=arrays_and_keys(_ARRAYS), backend=st.sampled_from(BACKENDS))
@example(ak=(np.array(["NaT", "2000"], dtype="M8[ns]"), [1, 0, 1]), backend="compressed")
def test_reads_match_numpy(store, ak, backend):
    a, key = ak
    x = store.create_array(f"r{next(_names)}", a, backend=backend)
    assert_same_as_numpy(x.__getitem__, a, key)


@st.composite
def _write_cases(draw):
    a = draw(_ARRAYS)
    key = draw(keys(a.shape, invalid=False))
    try:
        shape = a[key].shape
    except (IndexError, OverflowError):  # NumPy rejects the key (2**63: OverflowError)
        shape = ()
    value = draw(hnp.arrays(a.dtype, st.sampled_from([shape, shape[-1:], ()])))
    return a, key, value


@given(case=_write_cases(), backend=st.sampled_from(BACKENDS))
def test_writes_match_numpy(store, case, backend):
    a, key, value = case
    x = store.create_array(f"w{next(_names)}", a, backend=backend)
    assert_same_write(x, a.copy(), key, value)


_TABLE_DTYPE = np.dtype([("i", "<i4"), ("p", [("x", "<f8"), ("s", "S3")]), ("v", "<u2", (2,))])


@pytest.fixture(scope="module")
def table_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tables") / "t.h5"
    tables.open_file(path, "w").close()
    return path


@settings(max_examples=50)  # a PyTables table per example: slow to make
@given(ak=arrays_and_keys(hnp.arrays(_TABLE_DTYPE, st.integers(0, 12))), value=st.data())
def test_table_reads_and_writes_match_numpy(table_file, ak, value):
    """PyTables tables (and h5py's 1-d compound datasets) by any NumPy key."""
    a, key = ak
    name = f"t{next(_names)}"
    with tables.open_file(table_file, "a") as f:
        f.create_table("/", name, obj=a)
    with la.open(table_file, "a") as s:
        x = s[name]
        assert x.backend.kind == "table"
        assert_same_as_numpy(x.__getitem__, a, key)
        try:
            shape = a[key].shape
        except (IndexError, OverflowError):  # NumPy rejects the key (2**63: OverflowError)
            shape = ()
        assert_same_write(x, a.copy(), key, value.draw(hnp.arrays(_TABLE_DTYPE, shape)))


@pytest.mark.parametrize("key", [(2**63,), 2**63, (2**63, Ellipsis), -(2**63) - 1])
def test_table_keys_numpy_overflows_on(table_file, key):
    # Found by test_table_reads_and_writes_match_numpy: NumPy raises
    # OverflowError for an index past int64; reads and writes must too.
    a = np.zeros(3, _TABLE_DTYPE)
    name = f"t{next(_names)}"
    with tables.open_file(table_file, "a") as f:
        f.create_table("/", name, obj=a)
    with la.open(table_file, "a") as s:
        x = s[name]
        assert_same_as_numpy(x.__getitem__, a, key)
        assert_same_write(x, a.copy(), key, np.zeros((), _TABLE_DTYPE))


def test_structured_field_keys_match_numpy(tmp_path):
    a = SAMPLES["struct-nested"]
    with la.open(tmp_path / "f.h5", "w") as store:
        x = store.create_array("s", a)
        for key in ["a", "b", "c", ["a", "c"], "nope", ["a", "nope"]]:
            assert_same_as_numpy(x.__getitem__, a, key)
        y = store.create_array("plain", np.arange(3))
        assert_same_as_numpy(y.__getitem__, np.arange(3), "a")  # IndexError, as NumPy


@pytest.mark.parametrize("backend", ["memory", "plain", "compressed"])
@pytest.mark.parametrize("name", ["struct-native", "struct", "struct-nested", "void"])
def test_a_read_scalar_is_never_a_view_of_the_data(tmp_path, name, backend):
    # NumPy gives a structured (or void) scalar as a view of its row: a
    # LazyArray must copy it, or writing into the result changes the array.
    # (On files a structured dtype is encoded or a Table: read as a copy anyway.)
    native = np.array([(1, 2.5), (-3, 4.0)], dtype=[("a", "<i4"), ("b", "<f8")])
    a = native if name == "struct-native" else SAMPLES[name]
    if backend == "memory":
        x = la.wrap(a.copy())
    else:
        store = la.open(tmp_path / "v.h5", "w")
        x = store.create_array("x", a, backend=backend)
    want = a[1].copy()
    got = x[1]
    assert_same_outcome(lambda: got, lambda: want, "read")
    if a.dtype.names:
        got[a.dtype.names[0]] = 7
    else:
        got = np.void(b"\x07" * a.itemsize)
    assert_same_outcome(lambda: x[1], lambda: want, "read after writing into the result")
    assert_same_outcome(lambda: x[:], lambda: a, "whole array")
