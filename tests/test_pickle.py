"""Pickling arrays by reference: what a pickle holds, when the file opens, modes."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import lazyarr as la
from lazyarr.errors import BackendError, ReadOnlyError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def assert_items(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.dtype == e.dtype and a.shape == e.shape
        np.testing.assert_array_equal(a, e)


@pytest.fixture
def h5(tmp_path):
    """A file with a plain, a compressed and two ragged arrays."""
    path = tmp_path / "p.h5"
    rng = np.random.default_rng(7)
    data = {"plain": rng.random((40, 3)), "comp": rng.integers(0, 99, (50, 4)).astype(">i4")}
    items = [rng.random((int(n), 2)).astype("f4") for n in rng.integers(0, 5, 30)]
    with la.open(path, "w") as s:
        s.create_array("plain", data["plain"], backend="plain")
        s.create_array("grp/comp", data["comp"], chunks=(8, 4))
        for kind in ("offsets", "vl"):
            s.create_ragged(f"r_{kind}", dtype="f4", item_ndim=2, backend=kind).extend(items)
    return path, data, items


@pytest.mark.parametrize("cache", [None, la.SwapWindow(2**12), la.InMemory()],
                         ids=["nocache", "swap", "inmemory"])
def test_roundtrip_carries_reference(h5, cache):
    path, data, items = h5
    with la.open(path, cache=cache) as s:
        for name, expected in (("plain", data["plain"]), ("/grp/comp", data["comp"])):
            x = s[name]
            y = pickle.loads(pickle.dumps(x))
            assert type(y) is la.LazyArray
            assert y.backend.deferred  # nothing opened yet
            assert y.cache == (cache or la.NoCache())
            assert y.backend.kind == x.backend.kind and y.backend.path == x.backend.path
            assert y.backend.fileref.path == os.path.abspath(path)
            assert y.dtype == expected.dtype  # known without opening the file
            assert y.backend.deferred
            np.testing.assert_array_equal(y[::-3, [0, -1]], expected[::-3, [0, -1]])
            assert not y.backend.deferred
            assert y.shape == expected.shape and y.chunks == x.chunks
        for kind in ("offsets", "vl"):
            r = pickle.loads(pickle.dumps(s[f"r_{kind}"]))
            assert type(r) is la.RaggedArray and r.backend.deferred
            assert r.backend.kind == f"ragged-{kind}" and r.item_ndim == 2
            assert_items(r[[5, 1, 5]], [items[5], items[1], items[5]])
            assert len(r) == len(items)


def test_pickle_of_100mb_array_is_small(tmp_path):
    path = tmp_path / "big.h5"
    with la.open(path, "w") as s:
        # Zeros cost no disk space, but the array holds 128 MiB of elements.
        s.create_array("big", shape=(2**20, 16), dtype="f8")
        s.create_array("plain", shape=(2**20, 16), dtype="f8", backend="plain")
    with la.open(path) as s:
        for name in ("big", "plain"):
            x = s[name]
            assert x.nbytes >= 100 * 2**20
            blob = pickle.dumps(x)
            assert len(blob) < 1000, len(blob)
            assert b"/big" in blob or b"/plain" in blob
            y = pickle.loads(blob)
            assert y[-1, -1] == 0 and y.shape == x.shape


def test_unpickled_copy_is_read_only_and_sees_flushed_writes(tmp_path):
    path = tmp_path / "w.h5"
    with la.open(path, "w") as s:
        x = s.create_array("data", np.zeros((6, 2)))
        r = s.create_ragged("r", dtype="i8", item_ndim=1)
        x[2] = 5
        r.extend([[1, 2], [3]])  # buffered: the pickle writes it first
        y = pickle.loads(pickle.dumps(x))
        r2 = pickle.loads(pickle.dumps(r))
        assert y.backend.fileref.mode == "r" and y.backend.readonly
        assert r2.backend.fileref.mode == "r"
        np.testing.assert_array_equal(y[2], [5.0, 5.0])
        assert_items(r2[:], [np.array([1, 2]), np.array([3])])
        with pytest.raises(ReadOnlyError):
            y[0] = 1
        with pytest.raises(ReadOnlyError):
            r2.append([4])
        # The original stays writable.
        x[0] = 1
        r.append([4])
        assert x[0, 0] == 1 and len(r) == 3


def test_pickle_as_gives_writable_copies(tmp_path):
    path = tmp_path / "w.h5"
    with la.open(path, "w") as s:
        x = s.create_array("data", np.zeros((4, 2)))
        r = s.create_ragged("r", dtype="i8", item_ndim=1)
    s = la.open(path, "r+")
    x, r = s["data"], s["r"]
    xw, rw = x.pickle_as("r+"), r.pickle_as("a")
    assert type(xw) is la.LazyArray and type(rw) is la.RaggedArray
    y = pickle.loads(pickle.dumps(xw))
    r2 = pickle.loads(pickle.dumps(rw))
    assert y.backend.fileref.mode == "r+" and r2.backend.fileref.mode == "a"
    # A copy of a copy keeps asking for write access.
    assert pickle.loads(pickle.dumps(y)).backend.fileref.mode == "r+"
    # pickle_as("r") is the default behaviour again.
    assert pickle.loads(pickle.dumps(xw.pickle_as("r"))).backend.fileref.mode == "r"
    y[1] = 7
    r2.append([9, 9])
    r2.flush()
    np.testing.assert_array_equal(x[1], [7.0, 7.0])
    assert_items(r[:], [np.array([9, 9])])
    s.close()
    with pytest.raises(ValueError, match="mode must be one of"):
        x.pickle_as("w")


def test_memory_backend_pickles_its_data():
    a = np.arange(12, dtype=">u2").reshape(3, 4)
    x = la.LazyArray(la.backends.MemoryBackend(a.copy()), cache=la.SwapWindow(64))
    y = pickle.loads(pickle.dumps(x))
    assert y.cache == la.SwapWindow(64)
    np.testing.assert_array_equal(np.asarray(y), a)
    assert np.asarray(y).dtype == a.dtype
    y[0, 0] = 100  # its own data now
    assert x[0, 0] == 0


def test_pickle_of_closed_store_array_reopens(h5):
    path, data, _ = h5
    with la.open(path) as s:
        x = s["plain"]
    blob = pickle.dumps(x)
    np.testing.assert_array_equal(pickle.loads(blob)[3], data["plain"][3])


def test_changed_node_is_reported_on_first_use(h5):
    path, _, _ = h5
    with la.open(path) as s:
        blob = pickle.dumps(s["plain"])
        rblob = pickle.dumps(s["r_offsets"])
    with la.open(path, "a") as s:
        s.fileref.file.remove_node("/plain")
        s.create_array("plain", np.zeros(3, dtype="i1"), backend="plain")
        s.fileref.file.remove_node("/r_offsets", recursive=True)
    y = pickle.loads(blob)  # unpickling opens nothing, so it cannot fail
    with pytest.raises(BackendError, match="when this array was pickled"):
        y[0]
    with pytest.raises(BackendError, match="missing a node"):
        len(pickle.loads(rblob))


def test_unpickled_in_a_fresh_interpreter(h5):
    """A pickle is self-contained: a new process needs only the file."""
    path, data, items = h5
    with la.open(path) as s:
        blob = pickle.dumps((s["grp/comp"], s["r_vl"]))
    code = (
        "import pickle, sys\n"
        "x, r = pickle.loads(sys.stdin.buffer.read())\n"
        # Protocol 5: NumPy 2.4 drops a big-endian byte order under older ones.
        "sys.stdout.buffer.write(pickle.dumps((x[1:5], r[3]), protocol=5))\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True,
                          env=env, check=False)
    assert done.returncode == 0, done.stderr.decode()
    block, item = pickle.loads(done.stdout)
    np.testing.assert_array_equal(block, data["comp"][1:5])
    assert block.dtype == data["comp"].dtype
    assert_items([item], [items[3]])


def test_locked_file_error_names_the_way_out(tmp_path):
    """A spawned process cannot open a file another process writes (HDF5's
    file lock); the error says why and what to do, and never suggests
    turning the lock off."""
    path = tmp_path / "locked.h5"
    with la.open(path, "w") as s:
        s.create_array("data", np.arange(3))
    s = la.open(path, "a")
    blob = pickle.dumps(s["data"])
    code = "import pickle, sys\nx = pickle.loads(sys.stdin.buffer.read())\nx[0]\n"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("HDF5_USE_FILE_LOCKING", None)
    try:
        done = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True,
                              env=env, check=False)
    finally:
        s.close()
    assert done.returncode != 0
    assert b"locked by another process" in done.stderr and b"StorageError" in done.stderr
    # Issue 14: unlocked reads of a file being written gave wrong values;
    # the message must not offer them as a way out.
    assert b"HDF5_USE_FILE_LOCKING" not in done.stderr


def test_views_pickle_by_reference(tmp_path):
    a = np.arange(2**20 * 4, dtype="f8").reshape(2**20, 4)
    path = tmp_path / "v.h5"
    with la.open(path, "w") as s:
        s.create_array("x", a, backend="plain")
    with la.open(path) as s:
        x = s["x"]
        v = x.lazy[::-3, [2, 0, 2]].lazy[10:20]
        data = pickle.dumps(v)
        assert len(data) < 1000  # a reference, not 8 MB of data
        w = pickle.loads(data)
        assert w.shape == v.shape
        np.testing.assert_array_equal(w[...], a[::-3, [2, 0, 2]][10:20])
        np.testing.assert_array_equal(w.lazy[::2, 1][...], a[::-3, [2, 0, 2]][10:20][::2, 1])
        assert pickle.loads(pickle.dumps(v.pickle_as("r+")))._base.backend.fileref.mode == "r+"
