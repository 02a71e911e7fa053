"""The whole HDF5 file as users know it (issue 15): groups, attributes, every
node kind written by PyTables and h5py, foreign filters, and the small things
(repr, info, one-row append, a file in memory only, py.typed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import pytest
import tables

import lazyarr as la
from lazyarr.errors import ReadOnlyError
from lazyarr.groups import Group
from lazyarr.testing import assert_same_as_numpy, assert_same_outcome, assert_same_write

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ groups
def test_groups_h5py_way(tmp_path):
    with la.open(tmp_path / "g.h5", "w") as store:
        g = store.create_group("a/b")
        assert isinstance(g, Group) and g.path == "/a/b" and g.name == "b"
        x = g.create_array("c", np.arange(3))
        assert x.backend.path == "/a/b/c"
        r = g.create_ragged("r", dtype="i2", item_ndim=1)
        sub = g.create_group("sub")
        store.create_array("/deep/er/x", np.zeros(2))  # missing groups made
        assert list(store) == ["/a", "/a/b", "/a/b/c", "/a/b/r", "/a/b/sub", "/deep",
                               "/deep/er", "/deep/er/x"]
        assert list(store["a/b"]) == ["c", "r", "sub"] and len(g) == 3
        assert "c" in g and "nope" not in g and "/a/b" in store
        assert store["/a"]["b/c"].shape == (3,) and store["a"]["b"] == g
        assert isinstance(g["r"], la.RaggedArray) and isinstance(g["sub"], Group)
        assert list(store.root) == ["a", "deep"] and sub.store is store
        with pytest.raises(ValueError, match="already exists"):
            store.create_group("a/b")
        with pytest.raises(ValueError, match="not a group"):
            store.create_group("a/b/c/d")
        with pytest.raises(KeyError, match="no node"):
            g["nope"]
        r.append([1, 2])
    with la.open(tmp_path / "g.h5") as store:
        with pytest.raises(ReadOnlyError):
            store.create_group("x")
        assert list(store["a/b/r"][0]) == [1, 2]


def test_tree_and_print(tmp_path, capsys):
    with la.open(tmp_path / "t.h5", "w") as store:
        store.create_array("g/x", np.zeros((4, 2), dtype="f4"), chunks=(2, 2))
        store.create_ragged("r", dtype="f4", item_ndim=1).extend([[1.0], [2.0, 3.0]])
        store["g"].attrs["k"] = 1
    with tables.open_file(tmp_path / "t.h5", "a") as f:
        f.create_vlarray("/", "strings", tables.VLStringAtom())
    with la.open(tmp_path / "t.h5") as store:
        print(store)
        text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith("/  group, 3 children")
    assert any(line.startswith("├── g  group, 1 child, 1 attribute") for line in lines)
    assert any("x  compressed (4, 2) float32, chunks (2, 2), blosc2:zstd level 1, 32 B raw"
               in line for line in lines)
    assert any("r  ragged-offsets 2 items of 1-d float32" in line for line in lines)
    assert any("strings  cannot open (VLArray): it is a VLArray of VLStringAtom" in line
               for line in lines)


# -------------------------------------------------------------- attributes
def test_attributes_round_trip_and_hide_bookkeeping(tmp_path):
    values = {
        "s": "hé", "b": b"\x00raw", "i": np.int16(-3), "f": np.float64(0.1),
        "c": np.complex64(1 + 2j), "a": np.arange(6, dtype=">i4").reshape(2, 3),
        "u": np.array(["x", "yz"]), "flag": np.bool_(True),
    }
    with la.open(tmp_path / "a.h5", "w") as store:
        x = store.create_array("x", np.array(["ab"]))  # LAZYARR_DTYPE too
        r = store.create_ragged("r", dtype="f4", item_ndim=2)
        for obj in (store, x, r, store.create_group("g")):
            assert dict(obj.attrs) == {}
            for k, v in values.items():
                obj.attrs[k] = v
        x.attrs["lst"] = [1, 2]
        del x.attrs["flag"]
        with pytest.raises(KeyError):
            del x.attrs["flag"]
        with pytest.raises(ValueError, match="reserved"):
            x.attrs["LAZYARR_BACKEND"] = "plain"
        with pytest.raises(TypeError, match="NumPy scalars"):
            x.attrs["o"] = object()
        with pytest.raises(TypeError, match="object"):
            x.attrs["o"] = np.array([None])
    with la.open(tmp_path / "a.h5") as store:
        for obj in (store, store["x"], store["r"], store["g"]):
            got = dict(obj.attrs)
            assert "LAZYARR_BACKEND" not in got and "item_ndim" not in got
            # Nor the commit records a flush writes (LAZYARR_ROWS), nor any other.
            assert not [k for k in got if k.startswith("LAZYARR_")], got
            for k, v in values.items():
                if obj is not store and k == "flag" and isinstance(obj, la.LazyArray):
                    continue
                if k == "a":  # the values, in native byte order (see Attributes)
                    v = v.astype("=i4")
                assert_same_outcome(lambda k=k: got[k], lambda v=v: v, k)
        assert_same_outcome(lambda: store["x"].attrs["lst"], lambda: np.array([1, 2]), "lst")
        with pytest.raises(ReadOnlyError):
            store.attrs["new"] = 1
    with h5py.File(tmp_path / "a.h5", "r") as f:  # the attributes are plain HDF5 ones
        assert f["x"].attrs["s"] in ("hé", "hé".encode()) and f["r"].attrs["a"].shape == (2, 3)


def test_attributes_written_by_h5py(tmp_path):
    with h5py.File(tmp_path / "h.h5", "w") as f:
        f.attrs["title"] = "t"
        d = f.create_dataset("d", data=np.arange(3))
        d.attrs["scale"] = 2.5
        d.attrs["names"] = np.array([b"a", b"b"])
        f.create_group("g").attrs["n"] = np.int32(4)
    with la.open(tmp_path / "h.h5") as store:
        assert store.attrs["title"] == "t" and store["d"].attrs["scale"] == 2.5
        assert store["d"].attrs["names"].tolist() == [b"a", b"b"]
        assert dict(store["g"].attrs) == {"n": np.int32(4)}


def test_memory_backend_has_no_stored_attributes():
    with pytest.raises(AttributeError, match="no stored attributes"):
        la.wrap(np.arange(3)).attrs


# -------------------------------------------- files written by PyTables
def _walkthrough_vlarray(path):
    # The walkthrough's my_variable_length_data.hdf5, as it writes it.
    with tables.open_file(path, mode="w") as f:
        data = f.create_vlarray(f.root, "data", tables.Float32Atom(shape=()))
        clusters = f.create_vlarray(f.root, "clusters", tables.Int32Atom(shape=()))
        rs = np.random.RandomState(1999)
        for _ in range(200):
            length = int(100 * rs.randn() ** 2)
            data.append(rs.randn(length))
            clusters.append([length % rs.randint(1, 5)])
    with tables.open_file(path) as f:
        return [f.root.data[i] for i in range(200)], [f.root.clusters[i] for i in range(200)]


def test_walkthrough_vlarray_opens(tmp_path):
    path = tmp_path / "my_variable_length_data.hdf5"
    items, clusters = _walkthrough_vlarray(path)
    with la.open(path) as store:
        assert list(store) == ["/clusters", "/data"]
        r = store["data"]
        assert isinstance(r, la.RaggedArray) and r.backend.kind == "vlarray"
        assert r.item_ndim == 1 and r.dtype == np.float32 and len(r) == 200
        assert r.shapes[:, 0].tolist() == [len(a) for a in items]
        assert_same_outcome(lambda: list(r), lambda: items, "list(r)")
        assert_same_outcome(lambda: r[[5, 1, 5, -1]], lambda: [items[i] for i in [5, 1, 5, -1]],
                            "r[[5, 1, 5, -1]]")
        assert_same_outcome(lambda: r[7, :3], lambda: items[7][:3], "r[7, :3]")
        assert store.ragged("data").backend.kind == "vlarray"
        assert_same_outcome(lambda: store["clusters"][:], lambda: clusters, "clusters")
    with la.open(path, "a") as store:
        r = store["data"]
        r.append(np.arange(4, dtype="f4"))
        r.extend([[], [1.5]])
    with la.open(path) as store:
        r = store["data"]
        assert len(r) == 203 and r[-3].tolist() == [0, 1, 2, 3] and r[-2].shape == (0,)
    with tables.open_file(path) as f:  # PyTables sees the rows it would have appended
        assert f.root.data.nrows == 203 and f.root.data[-1].tolist() == [1.5]


def test_vlarray_of_shaped_atoms(tmp_path):
    with tables.open_file(tmp_path / "v.h5", "w") as f:
        vl = f.create_vlarray("/", "pts", tables.Int16Atom(shape=(2,)))
        vl.append(np.arange(6).reshape(3, 2))
        vl.append(np.zeros((0, 2)))
    with la.open(tmp_path / "v.h5", "a") as store:
        r = store["pts"]
        assert r.item_ndim == 2 and r.shapes.tolist() == [[3, 2], [0, 2]]
        assert r[0].tolist() == [[0, 1], [2, 3], [4, 5]] and r[0].dtype == np.int16
        r.append(np.ones((1, 2), dtype="i2"))
        with pytest.raises(ValueError, match=r"\(n,\) \+ \(2,\)"):
            r.append(np.ones((1, 3), dtype="i2"))
        assert len(r) == 3
    with la.open(tmp_path / "v.h5") as store:
        assert store["pts"][-1].tolist() == [[1, 1]]


NESTED = {"id": tables.Int64Col(pos=0), "pos": {"x": tables.Float32Col(pos=0),
                                                 "y": tables.Float32Col(pos=1)},
          "name": tables.StringCol(4, pos=2), "flags": tables.BoolCol(shape=(2,), pos=3)}


def test_pytables_table_is_a_structured_array(tmp_path):
    path = tmp_path / "t.h5"
    with tables.open_file(path, "w") as f:
        g = f.create_group("/", "experiment")
        t = f.create_table(g, "particles", NESTED)
        rows = np.zeros(5, dtype=t.dtype)
        rows["id"] = np.arange(5)
        rows["pos"]["x"] = np.arange(5) / 2
        rows["name"] = [b"a", b"bb", b"c", b"dddd", b""]
        rows["flags"][::2] = True
        t.append(rows)
        model = t.read()
    with la.open(path, "a") as store:
        assert list(store) == ["/experiment", "/experiment/particles"]
        x = store["experiment/particles"]
        assert x.backend.kind == "table" and x.dtype == model.dtype and x.shape == (5,)
        for key in [3, -1, slice(None, None, -2), [4, 0, 4], model["id"] > 1, (), Ellipsis,
                    "id", "pos", ["name", "id"], "nope", (1, 2), 5]:
            assert_same_as_numpy(x.__getitem__, model, key)
        assert_same_write(x, model, [3, 1], model[[0, 4]])
        assert_same_write(x, model, slice(0, 4, 3), model[2])
        x.append(model[0])  # one record
        x.append(model[1:3])
        model = np.concatenate([model, model[:3]])
        assert_same_outcome(lambda: x[...], lambda: model, "x[...]")
    with tables.open_file(path) as f:
        assert f.root.experiment.particles.nrows == 8
        assert f.root.experiment.particles[5]["id"] == model[5]["id"]


# ------------------------------------------------ files written by h5py
def test_h5py_layouts(tmp_path):
    path = tmp_path / "h.h5"
    compound = np.array([(1, 2.5), (3, -1.0)], dtype=[("a", "<i4"), ("b", "<f8")])
    with h5py.File(path, "w") as f:
        f["bool"] = np.array([True, False, True])
        f["bool2d"] = np.array([[True], [False]])
        f.create_dataset("boolc", data=np.ones(5, bool), chunks=(2,), maxshape=(None,))
        f["compound"] = compound
        f["compound2d"] = np.zeros((2, 2), dtype=compound.dtype)
        f["strings"] = np.array(["ab", "ç", ""], dtype=h5py.string_dtype())
        f["bytes_vlen"] = np.array([b"x", b"yz"], dtype=h5py.string_dtype("ascii"))
        f["f16"] = np.arange(3, dtype="f2")
        f["c16"] = np.array([1j, 2])
        f["grp/empty"] = np.zeros(0)
    with la.open(path, "a") as store:
        assert list(store) == ["/bool", "/bool2d", "/boolc", "/bytes_vlen", "/c16", "/compound",
                               "/compound2d", "/f16", "/grp", "/grp/empty", "/strings"]
        for name, want in [("bool", [True, False, True]), ("bool2d", [[True], [False]])]:
            x = store[name]
            assert x.dtype == np.bool_
            assert_same_as_numpy(x.__getitem__, np.array(want), ...)
        b = store["boolc"]
        b[1] = False
        b.append(np.array([False, True]))
        b.append(True)
        assert b[...].tolist() == [True, False, True, True, True, False, True, True]
        t = store["compound"]
        assert t.dtype == compound.dtype
        assert_same_as_numpy(t.__getitem__, compound, [1, 0])
        assert_same_as_numpy(t.__getitem__, compound, "b")
        with pytest.raises(TypeError, match="more than one axis.*lazyarr.wrap"):
            store["compound2d"]
        s = store["strings"]
        assert s.backend.readonly and s.dtype == object
        expected = np.array(["ab", "ç", ""], dtype=object)
        for key in [..., [2, 0], 1, slice(None, None, -1), np.array([True, False, True])]:
            assert_same_as_numpy(s.__getitem__, expected, key)
        with pytest.raises(ReadOnlyError):
            s[0] = "x"
        assert store["bytes_vlen"][...].tolist() == ["x", "yz"]
        assert store["f16"].dtype == np.float16 and store["c16"][0] == 1j
    with h5py.File(path, "r") as f:  # lazyarr's writes kept h5py's enum bool
        assert f["boolc"].dtype == np.bool_ and f["boolc"][...].tolist()[-1]


@pytest.mark.parametrize("name, kw", [
    ("zstd", hdf5plugin.Zstd()), ("lz4", hdf5plugin.LZ4()),
    ("bitshuffle", hdf5plugin.Bitshuffle()), ("blosc", hdf5plugin.Blosc()),
    ("bzip2", hdf5plugin.BZip2()),
], ids=["zstd", "lz4", "bitshuffle", "blosc", "bzip2"])
def test_hdf5plugin_filters_read(tmp_path, name, kw):
    a = np.arange(2000, dtype="f4").reshape(100, 20)
    with h5py.File(tmp_path / "p.h5", "w") as f:
        f.create_dataset("x", data=a, chunks=(10, 20), **kw)
    with la.open(tmp_path / "p.h5") as store:
        x = store["x"]
        assert_same_as_numpy(x.__getitem__, a, (slice(5, 95, 7), [19, 0]))
        assert_same_as_numpy(x.__getitem__, a, ...)


def test_missing_filter_is_named(tmp_path):
    with h5py.File(tmp_path / "lzf.h5", "w") as f:
        f.create_dataset("x", data=np.arange(100.0), compression="lzf")
    with la.open(tmp_path / "lzf.h5") as store:
        with pytest.raises(OSError, match="'lzf' filter.*built into h5py") as info:
            store["x"][3]
        assert "H5ARRAYOreadSlice" not in str(info.value)


def test_filters_missing_when_tables_was_imported_first(tmp_path):
    with h5py.File(tmp_path / "z.h5", "w") as f:
        f.create_dataset("x", data=np.arange(100.0), **hdf5plugin.Zstd())
    code = ("import os, sys; os.environ.pop('HDF5_PLUGIN_PATH', None)\n"
            "import tables, lazyarr as la\n"
            f"s = la.open({str(tmp_path / 'z.h5')!r})\n"
            "try:\n    s['x'][0]\nexcept OSError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=False, env={**os.environ, "HDF5_PLUGIN_PATH": ""})
    assert done.returncode == 0, done.stderr
    assert "Zstd comes with hdf5plugin, which is installed but was not set up" in done.stdout
    assert "import lazyarr before tables" in done.stdout


def test_h5py_reads_lazyarr_blosc2_with_hdf5plugin(tmp_path):
    """The README's advice to h5py users, checked."""
    a = np.arange(1000.0)
    with la.open(tmp_path / "b.h5", "w") as store:
        store.create_array("x", a, chunks=(100,))
    with h5py.File(tmp_path / "b.h5", "r") as f:
        np.testing.assert_array_equal(f["x"][...], a)


# ------------------------------------------------------------------ small
def test_repr_and_info(tmp_path):
    with la.open(tmp_path / "r.h5", "w") as store:
        x = store.create_array("x", np.zeros((10, 3)), chunks=(5, 3), compression="zlib", level=4)
        p = store.create_array("p", np.zeros(3), backend="plain")
        assert repr(x) == ("LazyArray(shape=(10, 3), dtype=float64, backend='compressed', "
                           "chunks=(5, 3), compression='zlib level 4', cache=NoCache())")
        assert repr(p) == "LazyArray(shape=(3,), dtype=float64, backend='plain', cache=NoCache())"
        info = x.info.as_dict()
        assert info["Chunk shape"] == (5, 3) and info["Compression"] == "zlib level 4 (shuffle)"
        assert info["No. bytes"] == 240 and info["No. bytes stored"] > 0
        assert info["Node"] == "/x" and info["Read-only"] is False
        assert "Storage ratio" in str(x.info)
        # One notion of "ratio" everywhere: raw / stored, as zarr's info.
        from lazyarr.groups import describe_node

        big = store.create_array("big", np.zeros((4096, 8)), compression="blosc2:zstd")
        ratio = describe_node(store, "/big")["ratio"]
        assert ratio > 10 and ratio == pytest.approx(big.info.as_dict()["Storage ratio"], rel=0.05)
        assert f"(ratio {ratio:.3g})" in store.tree()


def test_one_row_appends(tmp_path):
    with la.open(tmp_path / "a.h5", "w") as store:
        x = store.create_array("x", shape=(0, 2), dtype="f8")
        model = np.zeros((0, 2))
        for i in range(50):
            x.append(np.array([i, -i], dtype="f8"))
            model = np.vstack([model, [[i, -i]]])
        x.append([[1, 2], [3, 4]])
        model = np.vstack([model, [[1, 2], [3, 4]]])
        assert_same_outcome(lambda: x[...], lambda: model, "x[...]")
        with pytest.raises(ValueError, match="shape"):
            x.append([1, 2, 3])
        v = store.create_array("v", np.arange(3))
        v.append(7)  # a 0-d row of a 1-d array
        assert v[...].tolist() == [0, 1, 2, 7]


def test_in_memory_only_file(tmp_path):
    path = tmp_path / "never.h5"
    with la.open(path, "w", cache=la.InMemory(persist=False)) as store:
        x = store.create_array("x", np.arange(5))
        x[0] = 9
        assert x[...].tolist() == [9, 1, 2, 3, 4]
        assert store.fileref.driver_kw["driver_core_backing_store"] == 0
    assert not path.exists()
    assert repr(la.InMemory(persist=False)) == "InMemory(persist=False)"
    assert la.InMemory() != la.InMemory(persist=False) and la.InMemory() == la.InMemory(True)
    # The default still writes back (the walkthrough's core driver with a backing store).
    with la.open(path, "w", cache=la.InMemory()) as store:
        store.create_array("x", np.arange(2))
    assert path.exists()


def test_py_typed_is_shipped():
    assert (ROOT / "lazyarr" / "py.typed").exists()
    assert 'lazyarr = ["py.typed"]' in (ROOT / "pyproject.toml").read_text()
