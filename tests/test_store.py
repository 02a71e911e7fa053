"""Store, open, open_array and FileRef: modes, errors, discovery, handles."""

from __future__ import annotations

import gc
import hashlib
import os
import pickle

import h5py
import numpy as np
import pytest
import tables

import lazyarr as la
from lazyarr import files as files_mod
from lazyarr.backends import BackendBase, register_backend
from lazyarr.errors import BackendError, ClosedError, ReadOnlyError
from lazyarr.store import FileRef


def digest(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture
def h5(tmp_path):
    """A file with one compressed, one plain and one grouped array."""
    path = tmp_path / "s.h5"
    with la.open(path, "w") as s:
        s.create_array("data", np.arange(12.0).reshape(4, 3))
        s.create_array("plain", np.arange(5, dtype=">i2"), backend="plain")
        s.create_array("/grp/sub/x", np.ones((2, 2), dtype="u1"))
    return path


# ------------------------------------------------------------------ modes
def test_roundtrip_and_modes(h5):
    with la.open(h5) as s:
        assert s.mode == "r" and s.path == os.path.abspath(h5) and not s.closed
        x = s["data"]
        assert isinstance(x, la.LazyArray) and x.backend.kind == "compressed"
        assert x.backend.readonly
        np.testing.assert_array_equal(x[[3, 0], ::2], np.arange(12.0).reshape(4, 3)[[3, 0], ::2])
        with pytest.raises(ReadOnlyError):
            x[0, 0] = 1
    assert s.closed
    with la.open(h5, "r+") as s:
        s["data"][0, 0] = 100
        s["data"].append(np.zeros((1, 3)))
    with la.open(h5, "a") as s:
        x = s["data"]
        assert x.shape == (5, 3) and x[0, 0] == 100
    with la.open(h5, "w") as s:
        assert len(s) == 0
    with la.open(h5) as s:
        assert list(s) == []


@pytest.mark.parametrize("mode", ["x", "rw", "", None, "R"])
def test_bad_mode(tmp_path, mode):
    with pytest.raises(ValueError, match="mode must be one of"):
        la.open(tmp_path / "m.h5", mode)
    assert not (tmp_path / "m.h5").exists()


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_missing_file(tmp_path, mode):
    path = tmp_path / "missing.h5"
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        la.open(path, mode)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        la.open_array(path, mode=mode)
    assert not path.exists()


@pytest.mark.parametrize("mode", ["r", "r+", "a"])
@pytest.mark.parametrize("content", [b"not an HDF5 file\n", b""], ids=["text", "empty"])
def test_not_hdf5(tmp_path, mode, content):
    path = tmp_path / "text.h5"
    path.write_bytes(content)
    with pytest.raises(OSError, match="text.h5.*not an HDF5 file") as info:
        la.open(path, mode)
    assert "HDF5-DIAG" not in str(info.value)
    assert path.read_bytes() == content


def test_corrupt_hdf5(tmp_path, h5):
    path = tmp_path / "cut.h5"
    path.write_bytes(h5.read_bytes()[:600])  # the signature survives, the rest not
    before = digest(path)
    with pytest.raises((OSError, KeyError)) as info:
        with la.open(path) as s:
            s["data"][:]
    assert "HDF5-DIAG" not in str(info.value)
    assert digest(path) == before


def test_directory(tmp_path):
    with pytest.raises(IsADirectoryError):
        la.open(tmp_path)


def test_w_truncates_once(tmp_path):
    ref = FileRef(tmp_path / "w.h5", "w")
    ref.file.create_array("/", "keep", obj=np.arange(3))
    assert ref.mode == "a"
    ref.close()
    with la.open(tmp_path / "w.h5") as s:
        assert "/keep" in s


# ---------------------------------------------------------------- mapping
def test_mapping(h5):
    with la.open(h5) as s:
        # Every node, groups too (issue 15), depth first.
        assert list(s.keys()) == ["/data", "/grp", "/grp/sub", "/grp/sub/x", "/plain"]
        assert list(s) == list(s.keys()) and len(s) == 5
        assert "data" in s and "/data" in s and "grp/sub/x" in s and "grp" in s
        assert "nope" not in s and 3 not in s and "/" not in s
        assert s["grp/sub/x"].dtype == np.uint8
        assert s["plain"].backend.kind == "plain" and s["plain"].dtype == np.dtype(">i2")
        assert s.get("nope") is None and s.get("nope", 5) == 5
        with pytest.raises(KeyError, match="/nope"):
            s["nope"]
        assert isinstance(s["grp"], la.groups.Group) and list(s["grp"]) == ["sub"]
        assert dict(s.items()).keys() == set(s.keys())


def test_cache_policy_passed(h5):
    policy = la.NoCache()
    with la.open(h5, cache=policy) as s:
        assert s.cache is policy and s["data"].cache is policy
        other = la.NoCache()
        assert s.get("data", cache=other).cache is other
    with la.open(h5) as s:
        assert isinstance(s["data"].cache, la.NoCache)
    with pytest.raises(TypeError, match="cache"):
        la.open(h5, cache="big")


def test_repr_reads_nothing(h5, monkeypatch):
    s = la.open(h5)
    monkeypatch.setattr(tables.Array, "_g_read_slice", None)
    assert repr(s) == f"<lazyarr.Store {os.path.abspath(h5)!r} mode='r'>"
    x = s["data"]
    assert "compressed" in repr(x)
    s.close()
    assert "closed" in repr(s)


# ---------------------------------------------------------------- create
def test_create_variants(tmp_path):
    with la.open(tmp_path / "c.h5", "w") as s:
        z = s.create_array("z", shape=(3, 2), dtype="i4")
        assert z.dtype == np.int32 and not z[:].any()
        f = s.create_array("f", shape=4)
        assert f.dtype == np.float64 and f.shape == (4,)
        c = s.create_array("c", [1, 2, 3], dtype="f4")
        assert c.dtype == np.float32
        p = s.create_array("/a/b/c", np.arange(3), backend="plain")
        assert p.backend.kind == "plain" and "/a/b/c" in s
        big = s.create_array("big", np.arange(4, dtype=">f8"), backend="compressed")
        assert big.dtype == np.dtype(">f8")
        e = s.create_array("empty", np.zeros((0, 3)))
        e.append(np.ones((2, 3)))
        assert e.shape == (2, 3)
        s.create_array("scalar", np.float64(4.5), backend="plain")
    with la.open(tmp_path / "c.h5") as s:
        assert s["big"].dtype == np.dtype(">f8")
        assert s["scalar"][()] == 4.5
        np.testing.assert_array_equal(s["empty"][:], np.ones((2, 3)))


def test_create_writes_attribute(tmp_path):
    with la.open(tmp_path / "a.h5", "w") as s:
        s.create_array("p", np.zeros(2), backend="plain")
        s.create_array("c", np.zeros(2))
    with h5py.File(tmp_path / "a.h5", "r") as f:
        assert f["p"].attrs["LAZYARR_BACKEND"] in ("plain", b"plain")
        assert f["c"].attrs["LAZYARR_BACKEND"] in ("compressed", b"compressed")
        assert int(f["c"].attrs["LAZYARR_VERSION"]) == 1
        assert f["p"].chunks is None and f["c"].chunks is not None


BAD_CREATES = [
    pytest.param(("data",), {"shape": (2,)}, ValueError, "already exists", id="exists"),
    pytest.param(("new",), {}, TypeError, "exactly one", id="neither"),
    pytest.param(("new", [1]), {"shape": (1,)}, TypeError, "exactly one", id="both"),
    pytest.param(("g2/new", [1]), {"compression": "nope"}, ValueError, "valid: None", id="compression"),
    pytest.param(("g2/new",), {"shape": (2,), "dtype": "U0"}, BackendError, "zero-size",
                 id="unicode-0"),
    pytest.param(("g2/new", [object()]), {}, BackendError, "object", id="object"),
    pytest.param(("g2/new", 1.0), {}, ValueError, "at least one axis", id="0d-compressed"),
    pytest.param(("g2/new", [1]), {"backend": "memory"}, ValueError, "cannot create", id="memory"),
    pytest.param(("g2/new", [1]), {"backend": "nope"}, ValueError, "cannot create", id="unknown-kind"),
    pytest.param(("g2/new", [[1]]), {"chunks": (1, 2)}, ValueError, "chunks", id="chunks"),
    pytest.param(("data/x", [1]), {}, ValueError, "not a group", id="under-array"),
    pytest.param(("/", [1]), {}, ValueError, "root", id="root"),
    pytest.param(("new",), {"shape": (-1,)}, ValueError, "non-negative", id="neg-shape"),
]


@pytest.mark.parametrize("args, kw, exc, match", BAD_CREATES)
def test_bad_create_changes_nothing(h5, args, kw, exc, match):
    with la.open(h5, "a") as s:
        keys = list(s)
        with pytest.raises(exc, match=match):
            s.create_array(*args, **kw)
        assert list(s) == keys
        assert "/g2" not in s.fileref.file  # no stray groups either
    before = digest(h5)
    with la.open(h5, "a") as s:
        with pytest.raises(exc, match=match):
            s.create_array(*args, **kw)
    assert digest(h5) == before


def test_create_readonly(h5):
    before = digest(h5)
    with la.open(h5) as s:
        with pytest.raises(ReadOnlyError, match="read-only"):
            s.create_array("new", [1, 2])
    assert digest(h5) == before


def test_failed_create_removes_partial_node(tmp_path, monkeypatch):
    # Fail after the node exists (while writing data): nothing may remain.
    def boom(*a, **k):
        raise RuntimeError("disk full")

    # Blosc2 chunks are stored with write_chunk, other filters with append.
    monkeypatch.setattr(tables.EArray, "append", boom)
    monkeypatch.setattr(tables.Leaf, "write_chunk", boom)
    with la.open(tmp_path / "p.h5", "w") as s:
        with pytest.raises(RuntimeError, match="disk full"):
            s.create_array("g/x", np.arange(3))
        with pytest.raises(RuntimeError, match="disk full"):
            s.create_array("g/y", np.arange(3), compression="zlib")
        assert "/g/x" not in s.fileref.file and "/g" not in s.fileref.file


def test_natural_names_do_not_warn(tmp_path):
    with la.open(tmp_path / "n.h5", "w") as s:
        s.create_array("my-data 1", np.arange(3))
        s.create_array("grp.x/0", np.arange(3), backend="plain")
    with la.open(tmp_path / "n.h5") as s:
        assert list(s) == ["/grp.x", "/grp.x/0", "/my-data 1"]
        assert s["my-data 1"][1] == 1


# ------------------------------------------------------------- discovery
def test_files_written_by_pytables(tmp_path):
    path = tmp_path / "pt.h5"
    with tables.open_file(path, "w") as f:
        f.create_array("/", "arr", obj=np.arange(6).reshape(2, 3))
        f.create_carray("/", "carr", obj=np.arange(6.0), chunkshape=(2,),
                        filters=tables.Filters(5, "zlib"))
        f.create_earray("/", "earr", obj=np.arange(4, dtype=">i4"), byteorder="big")
        g = f.create_group("/", "grp")
        f.create_array(g, "inner", obj=np.zeros(2))
        f.create_table("/", "table", description={"a": tables.Int32Col()})
        f.create_vlarray("/", "vl", atom=tables.Int32Atom())
        f.create_earray("/", "vec", atom=tables.Float32Atom(shape=(3,)), shape=(0,))
    with la.open(path) as s:
        # Every node is listed (issue 15): tables and VLArrays open, the
        # sub-array atom is listed but says why it does not.
        assert list(s) == ["/arr", "/carr", "/earr", "/grp", "/grp/inner", "/table", "/vec",
                           "/vl"]
        kinds = {k: s[k].backend.kind for k in s if k not in ("/grp", "/vec")}
        assert kinds == {"/arr": "plain", "/carr": "compressed", "/earr": "compressed",
                         "/grp/inner": "plain", "/table": "table", "/vl": "vlarray"}
        assert not s["carr"].backend.extendable and s["earr"].backend.extendable
        assert s["earr"].dtype == np.dtype(">i4")
        np.testing.assert_array_equal(s["carr"][[1, 4]], [1.0, 4.0])
        assert "vec" in s
        with pytest.raises(KeyError, match="not an array lazyarr can open: its atom"):
            s["vec"]


def test_files_written_by_h5py(tmp_path):
    path = tmp_path / "h5py.h5"
    a = np.arange(24, dtype="f4").reshape(6, 4)
    with h5py.File(path, "w") as f:
        f["contig"] = a
        f.create_dataset("chunked", data=a, chunks=(2, 2))
        f.create_dataset("gzip", data=a, compression="gzip", chunks=True)
        f.create_dataset("grow", data=a, maxshape=(None, 4), chunks=(3, 4))
        f["scalar"] = np.int64(7)
        f["big"] = a.astype(">f8")
        f["grp/inner"] = a[:2]
        f.create_dataset("strings", data=["a", "bb"], dtype=h5py.string_dtype())
        f["compound"] = np.zeros(3, dtype=[("x", "i4"), ("y", "f8")])
    with la.open(path) as s:
        kinds = {k: s[k].backend.kind for k in s if k != "/grp"}
        assert kinds == {
            "/big": "plain", "/chunked": "compressed", "/compound": "table", "/contig": "plain",
            "/grp/inner": "plain", "/grow": "compressed", "/gzip": "compressed",
            "/scalar": "plain", "/strings": "h5py-strings",
        }
        for k in ["contig", "chunked", "gzip", "grow"]:
            np.testing.assert_array_equal(s[k][[0, 5], 1::2], a[[0, 5], 1::2])
        assert s["scalar"][()] == 7 and s["big"].dtype == np.dtype(">f8")
        assert s["grow"].backend.extendable and not s["chunked"].backend.extendable
        assert s["gzip"].backend.describe()["complib"] == "zlib"
    with la.open(path, "a") as s:
        s["grow"].append(np.ones((1, 4), dtype="f4"))
    with h5py.File(path, "r") as f:
        assert f["grow"].shape == (7, 4)


def test_group_with_attribute_is_one_array(tmp_path):
    @register_backend
    class GroupBackend(BackendBase):
        """A test kind stored as a group of datasets."""

        kind = "test-group"

        def __init__(self, ref, path):
            self.ref, self.path = ref, path
            self.shape, self.dtype = (2,), np.dtype("i8")

        def read(self, sel):
            return np.arange(2)[sel]

    path = tmp_path / "g.h5"
    with tables.open_file(path, "w") as f:
        g = f.create_group("/", "ragged")
        g._v_attrs.LAZYARR_BACKEND = "test-group"
        f.create_array(g, "values", obj=np.arange(5))
        g2 = f.create_group("/", "future")
        g2._v_attrs.LAZYARR_BACKEND = "not-installed"
    with la.open(path) as s:
        # The unknown kind is listed (never dropped silently); its lookup says why.
        assert list(s) == ["/future", "/ragged"]
        x = s["ragged"]
        assert x.backend.kind == "test-group" and x.backend.path == "/ragged"
        with pytest.raises(KeyError, match="not installed"):
            s["future"]


# ------------------------------------------------------------- lifetimes
def test_closed_store_arrays_raise(h5):
    s = la.open(h5)
    x = s["data"]
    s.close()
    s.close()  # idempotent
    with pytest.raises(ClosedError, match="closed"):
        x[0]
    with pytest.raises(ClosedError):
        s["data"]
    with pytest.raises(ClosedError):
        s.keys()
    with pytest.raises(ClosedError):
        s.flush()
    assert isinstance(ClosedError("x"), ValueError)


def _open_it(path):
    return la.open_array(path, "data")


def test_open_array_keeps_file_alive(h5):
    x = _open_it(h5)
    gc.collect()
    np.testing.assert_array_equal(x[1], [3.0, 4.0, 5.0])
    key = os.path.realpath(h5)
    assert key in files_mod._HANDLES
    handle = files_mod._HANDLES[key]
    del x
    gc.collect()
    assert key not in files_mod._HANDLES and not handle.file.isopen


def test_open_array_errors(h5):
    with pytest.raises(KeyError, match="/nope"):
        la.open_array(h5, "nope")
    with pytest.raises(ValueError, match="mode"):
        la.open_array(h5, mode="w")
    assert os.path.realpath(h5) not in files_mod._HANDLES  # nothing left open


def test_handles_are_shared(h5):
    with la.open(h5, "a") as s:
        x = la.open_array(h5, "data")  # reads through the writer's handle
        assert x.backend.readonly
        s["data"][0, 0] = 42
        assert x[0, 0] == 42
        s.close()
        assert x[0, 0] == 42  # still open: x holds its own reference
        del x
    with la.open(h5) as s:
        with pytest.raises(ValueError, match="read-only in this process"):
            la.open(h5, "a")
        with pytest.raises(ValueError, match="truncate"):
            la.open(h5, "w")
        assert s["data"][0, 0] == 42


def test_fileref_reopens_after_fork(h5, monkeypatch):
    ref = FileRef(h5, "r")
    parent_file = ref.file
    b = la.store._open_backend(ref, "data")
    before = b.read((slice(0, 1, 1), slice(0, 3, 1)))
    real = os.getpid()
    monkeypatch.setattr(files_mod, "_PID", real + 1)  # as in a forked child
    child_file = ref.file
    assert child_file is not parent_file
    assert parent_file.isopen  # the parent's handle is not closed in the child
    np.testing.assert_array_equal(b.read((slice(0, 1, 1), slice(0, 3, 1))), before)
    ref.close()
    assert not child_file.isopen
    monkeypatch.undo()
    parent_file.close()


def test_w_fileref_does_not_truncate_after_fork(tmp_path, monkeypatch):
    s = la.open(tmp_path / "f.h5", "w")
    x = s.create_array("data", np.arange(3))
    s.flush()
    first = s.fileref.file
    real = os.getpid()
    monkeypatch.setattr(files_mod, "_PID", real + 1)  # as in a forked child
    first.close()  # as if the child could not share it; the child must not truncate
    np.testing.assert_array_equal(x[:], np.arange(3))
    assert s.fileref.mode == "a"
    s.close()


def test_pickle_fileref(h5):
    ref = FileRef(h5, "r")
    ref2 = pickle.loads(pickle.dumps(ref))
    assert ref2.path == ref.path and ref2.mode == "r" and ref2 is not ref
    assert la.store._open_backend(ref2, "plain").shape == (5,)
    ref2.close()
    ref.close()


def test_flush_persists(tmp_path):
    path = tmp_path / "fl.h5"
    s = la.open(path, "w")
    s.create_array("data", np.arange(4), compression="zlib")  # h5py has no Blosc2 filter
    s.flush()
    with h5py.File(path, "r", locking=False) as f:
        np.testing.assert_array_equal(f["data"][:], np.arange(4))
    s.close()


# ------------------------------------------------- end to end, via LazyArray
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lazyarr.testing import assert_same_as_numpy, assert_same_write, keys  # noqa: E402

E2E_SHAPE = (7, 4, 3)
E2E_DATA = np.arange(np.prod(E2E_SHAPE), dtype=">i4").reshape(E2E_SHAPE)


@pytest.fixture(scope="module")
def e2e_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("e2e") / "e2e.h5"
    s = la.open(path, "w")
    s.create_array("plain", E2E_DATA, backend="plain")
    s.create_array("compressed", E2E_DATA, chunks=(2, 3, 2))
    yield s
    s.close()


@pytest.mark.parametrize("kind", ["plain", "compressed"])
@settings(max_examples=50)
@given(key=keys(E2E_SHAPE))
def test_lazyarray_reads_match_numpy(e2e_store, kind, key):
    assert_same_as_numpy(e2e_store[kind].__getitem__, E2E_DATA, key)


@pytest.mark.parametrize("kind", ["plain", "compressed"])
@settings(max_examples=30)
@given(key=keys(E2E_SHAPE, invalid=False), data=st.data())
def test_lazyarray_writes_match_numpy(e2e_store, kind, key, data):
    name = f"w{next(_names)}"
    x = e2e_store.create_array(name, E2E_DATA, backend=kind, chunks=None if kind == "plain" else (3, 2, 2))
    value = data.draw(st.integers(-1000, 1000))
    assert_same_write(x, E2E_DATA.copy(), key, value)


_names = iter(range(10**9))


def test_bad_append_and_write_leave_file_unchanged(h5):
    before = digest(h5)
    with la.open(h5, "a") as s:
        x = s["data"]
        with pytest.raises(ValueError):
            x.append(np.zeros((2, 4)))
        with pytest.raises(ValueError):
            x.backend.append(np.zeros((2, 4)))
        with pytest.raises(TypeError):
            x.backend.append(np.zeros((1, 3), dtype="c16"))
        with pytest.raises(TypeError):
            s["plain"].append(np.zeros(1, dtype=">i2"))
        with pytest.raises(ValueError):
            x.backend.write((slice(0, 2, 1), slice(0, 3, 1)), np.zeros((2, 2)))
        with pytest.raises(IndexError):
            x[10] = 1
    assert digest(h5) == before
