"""Tests of the ``lazyarr`` command line and of the README's commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import lazyarr
from lazyarr.cli import main
from lazyarr.cli.demo import DEMO_CONFIGS, make_cluster_points

ROOT = Path(__file__).resolve().parent.parent


def test_demo_passes_and_prints_table(tmp_path, capsys):
    status = main(["demo", "--dir", str(tmp_path), "--n", "2000"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert err == ""
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("backend"))
    for column in ("compression", "bytes on disk", "ratio", "read data", "fancy/mask", "checks"):
        assert column in header
    for backend, compression in DEMO_CONFIGS:
        row = [line for line in lines if line.split()[:2] == [backend, str(compression)]]
        assert len(row) == 1, (backend, compression, out)
        passed, total = re.search(r"(\d+)/(\d+)\s*$", row[0]).groups()
        assert passed == total and int(total) > 0
    assert "all " in out and "agree with NumPy" in out
    # --dir keeps one file per configuration.
    assert len(list(tmp_path.glob("*.h5"))) == len(DEMO_CONFIGS)


def test_demo_without_dir_removes_its_temporary_folder(tmp_path, monkeypatch, capsys):
    # tempfile.gettempdir() honours tempfile.tempdir, so the demo's temporary
    # folder is created inside tmp_path, where we can see it is gone afterwards.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["demo", "--n", "64"]) == 0
    assert "lazyarr-demo-" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_demo_reports_a_failed_check(tmp_path, monkeypatch, capsys):
    # A LazyArray that answers one key wrongly must turn the demo red and be
    # named in the message.
    real_getitem = lazyarr.LazyArray.__getitem__

    def wrong_for_lists(self, key):
        result = real_getitem(self, key)
        if isinstance(key, list) and key == [5, 1, 5]:
            return result + 1
        return result

    monkeypatch.setattr(lazyarr.LazyArray, "__getitem__", wrong_for_lists)
    assert main(["demo", "--dir", str(tmp_path), "--n", "64"]) == 1
    out, err = capsys.readouterr()
    assert "FAILED" in out
    assert "data[[5, 1, 5]]: values differ" in err


def test_demo_rejects_too_few_rows(capsys):
    assert main(["demo", "--n", "3"]) == 2
    assert "at least" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lazyarr {lazyarr.__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_python_dash_m():
    done = subprocess.run(
        [sys.executable, "-m", "lazyarr", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"lazyarr {lazyarr.__version__}"


def test_cluster_points_are_reproducible():
    # Labels *and* noise come from the seeded generator (the walkthrough this
    # demo is taken from drew its noise from NumPy's global state).
    a, la_ = make_cluster_points(500, seed=3)
    b, lb = make_cluster_points(500, seed=3)
    c, _ = make_cluster_points(500, seed=4)
    assert np.array_equal(a, b) and np.array_equal(la_, lb)
    assert not np.array_equal(a, c)
    assert a.shape == (500, 2) and a.dtype == np.float64 and la_.dtype == np.int64
    # Every point sits near its label's centre.
    centres = np.array([(-1, -1), (1, 1), (1, -1), (-1, 1)])
    assert np.abs(a - centres[la_]).max() < 2


@pytest.mark.parametrize(
    "name, key, wrong, message",
    [
        ("data[-1, 1]", (-1, 1), np.asarray, "result type differs for key (-1, 1)"),
        ("data[7]", 7, lambda r: r.astype(np.float32), "dtype differs for key 7"),
        ("data[-1, 1]", (-1, 1), lambda r: r + 1, "values differ for key (-1, 1)"),
    ],
    ids=["0d-vs-scalar", "dtype", "values"],
)
def test_demo_checks_with_the_testing_oracle(tmp_path, monkeypatch, capsys, name, key, wrong,
                                             message):
    # The demo's verdicts are lazyarr.testing's (the one oracle of the test
    # suite), so each kind of difference it knows is reported by its words.
    real_getitem = lazyarr.LazyArray.__getitem__

    def wrong_for_one_key(self, k):
        result = real_getitem(self, k)
        same = type(k) is type(key) and repr(k) == repr(key)
        return wrong(result) if same and self.ndim == 2 else result

    monkeypatch.setattr(lazyarr.LazyArray, "__getitem__", wrong_for_one_key)
    assert main(["demo", "--dir", str(tmp_path), "--n", "64"]) == 1
    assert f"{name}: {message}" in capsys.readouterr().err


def test_demo_runs_without_hypothesis(tmp_path):
    # The oracle needs only NumPy: an install without the testing extra
    # still runs the demo (hypothesis is made unimportable in the child).
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "from lazyarr.cli import main\n"
        f"sys.exit(main(['demo', '--n', '32', '--dir', {str(tmp_path)!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert f"kept in {tmp_path.resolve()}" in done.stdout


def _readme_block(marker: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^<!-- {marker} -->\n(.*?)^<!-- /{marker} -->", text, re.M | re.S)
    assert match, f"README.md has no <!-- {marker} --> block"
    return [
        line
        for line in match.group(1).splitlines()
        if line.strip() and not line.startswith("```")
    ]


def test_readme_commands_match_ci():
    lines = _readme_block("test-command")
    assert len(lines) == 1, lines
    command = lines[0]
    # Copy-pasteable on a machine with only Python: makes its own venv.
    assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install ")
    assert "HYPOTHESIS_PROFILE=ci pytest" in command
    done = subprocess.run(
        ["bash", str(ROOT / ".ci" / "run"), "--print-command"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == command


def test_readme_demo_command_uses_console_script():
    lines = _readme_block("demo-command")
    assert lines == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install . && lazyarr demo"
    ]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'lazyarr = "lazyarr.cli:main"' in pyproject


def test_readme_python_examples_run(tmp_path, monkeypatch):
    """The README's usage examples run as written, in order."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", readme, re.S))
    assert "la.open" in code
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})


# ------------------------------------------------- lazyarr info / convert
def _lazyarr(*args, cwd=None):
    """The installed command as a user runs it: ``python -m lazyarr`` in a subprocess."""
    done = subprocess.run([sys.executable, "-m", "lazyarr", *map(str, args)], capture_output=True,
                          text=True, check=False, cwd=cwd or ROOT)
    return done.returncode, done.stdout, done.stderr


def _pytables_file(path):
    import tables

    with tables.open_file(path, "w") as f:
        g = f.create_group("/", "experiment")
        g._v_attrs.operator = "ada"
        t = f.create_table(g, "particles", {"x": tables.Float64Col(), "n": tables.Int32Col()})
        t.append([(1, 0.5), (2, 1.5), (3, 2.5)])
        vl = f.create_vlarray("/", "data", tables.Float32Atom(shape=()))
        for n in (3, 0, 5):
            vl.append(np.arange(n, dtype="f4"))
        f.create_earray("/", "e", obj=np.arange(20).reshape(10, 2),
                        filters=tables.Filters(5, "zlib"))
        f.create_vlarray("/", "words", tables.VLStringAtom()).append(b"hi")


def test_info_text_and_json(tmp_path):
    path = tmp_path / "pt.h5"
    _pytables_file(path)
    status, out, err = _lazyarr("info", path)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == str(path) and lines[1].startswith("/  group, 4 children")
    assert any("data  vlarray 3 items of 1-d float32" in line for line in lines)
    assert any("e  compressed (10, 2) int64, chunks" in line and "zlib level 5" in line
               and "160 B raw" in line for line in lines)
    assert any("experiment  group, 1 child, 1 attribute" in line for line in lines)
    assert any("particles  table (3,) [('n', '<i4'), ('x', '<f8')]" in line for line in lines)
    assert any("words  cannot open (VLArray)" in line for line in lines)

    status, out, err = _lazyarr("info", path, "--json")
    assert status == 0, err
    doc = json.loads(out)
    nodes = {n["path"]: n for n in doc["nodes"]}
    assert doc["file"] == str(path) and list(nodes) == [
        "/", "/data", "/e", "/experiment", "/experiment/particles", "/words"]
    assert nodes["/e"]["shape"] == [10, 2] and nodes["/e"]["compression"] == "zlib level 5"
    assert nodes["/e"]["nbytes"] == 160 and nodes["/e"]["nbytes_stored"] > 0
    assert nodes["/data"]["items"] == 3 and nodes["/experiment"]["attrs"] == 1
    assert nodes["/words"]["kind"] is None and "VLStringAtom" in nodes["/words"]["why"]

    status, out, err = _lazyarr("info", path, "experiment", "--json")
    assert status == 0, err
    node = json.loads(out)["node"]
    assert node["kind"] == "group" and node["attributes"] == {"operator": "ada"}
    status, out, err = _lazyarr("info", path, "/e")
    assert status == 0 and "backend:" in out and "complib: zlib" in out


@pytest.mark.parametrize("args, message", [
    (["info", "missing.h5"], "No such file"),
    (["info", "README.md"], "not an HDF5 file"),
    (["info", "{h5}", "/nope"], "no node '/nope'"),
    (["convert", "missing.npy", "{out}"], "no such file"),
    (["convert", "{h5}", "{out}", "--node", "/nope"], "no node '/nope'"),
], ids=["info-missing", "info-not-hdf5", "info-no-node", "convert-missing", "convert-no-node"])
def test_command_errors_exit_1(tmp_path, args, message):
    h5 = tmp_path / "pt.h5"
    _pytables_file(h5)
    args = [a.format(h5=h5, out=tmp_path / "out.h5") for a in args]
    status, out, err = _lazyarr(*args)
    assert status == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["info"], ["convert", "a"], ["convert", "a", "b", "--level",
                                                                "12"]],
                         ids=["info-no-file", "convert-no-dst", "convert-bad-level"])
def test_usage_errors_exit_2(args):
    assert _lazyarr(*args)[0] == 2


def _same_file_contents(src_store, dst_store, paths):
    from lazyarr.testing import assert_same_outcome

    for p in paths:
        s, d = src_store[p], dst_store[p]
        if isinstance(s, lazyarr.RaggedArray):
            assert_same_outcome(lambda: list(d), lambda: list(s), p)
        elif isinstance(s, lazyarr.LazyArray):
            assert_same_outcome(lambda: d[...], lambda: s[...], p)
        assert dict(d.attrs).keys() == dict(s.attrs).keys(), p


def test_convert_npy(tmp_path):
    a = np.random.default_rng(0).standard_normal((1000, 7)).astype(">f4")
    np.save(tmp_path / "points.npy", a)
    status, out, err = _lazyarr("convert", tmp_path / "points.npy", tmp_path / "o.h5",
                                "--compression", "zlib", "--level", "3", "--chunks", "128,7")
    assert status == 0, err
    assert "o.h5" in out and err == ""  # no progress bar off a terminal
    with lazyarr.open(tmp_path / "o.h5") as s:
        x = s["points"]
        assert x.dtype == a.dtype and x.chunks == (128, 7)
        assert x.backend.describe()["complib"] == "zlib" and x.backend.describe()["level"] == 3
        assert np.array_equal(x[...], a)
    np.save(tmp_path / "u.npy", np.array([["ab", "ç"]]))
    assert _lazyarr("convert", tmp_path / "u.npy", tmp_path / "o.h5", "--node", "/s/u")[0] == 0
    with lazyarr.open(tmp_path / "o.h5") as s:
        assert s["s/u"][...].tolist() == [["ab", "ç"]]


def test_convert_hdf5_every_layout(tmp_path):
    import h5py

    src = tmp_path / "pt.h5"
    _pytables_file(src)
    with h5py.File(src, "a") as f:
        f["bools"] = np.array([True, False])
        f["scalar"] = np.float64(2.5)
        f["grp/big"] = np.arange(300_000, dtype="i8").reshape(-1, 3)  # several blocks
        f["grp/big"].attrs["unit"] = "m"
    with lazyarr.open(src, "a") as s:
        s.create_ragged("imgs", dtype="u1", item_ndim=2).extend(
            [np.full((2, 3), 7, "u1"), np.zeros((4, 1), "u1")])
        s.create_array("dates", np.array(["2020-01-01", "NaT"], dtype="M8[s]"))
    status, out, err = _lazyarr("convert", src, tmp_path / "o.h5", "--quiet")
    assert status == 1  # /words (strings in a VLArray) cannot be copied, and says so
    assert "/words: not copied" in err and out == ""
    with lazyarr.open(src) as s, lazyarr.open(tmp_path / "o.h5") as d:
        copied = [p for p in s if p != "/words"]
        assert [p for p in d] == copied
        _same_file_contents(s, d, copied)
        assert d["experiment"].attrs["operator"] == "ada" and d["grp/big"].attrs["unit"] == "m"
        assert d["data"].backend.kind == "ragged-offsets" and d["imgs"][0].shape == (2, 3)
        assert d["bools"].dtype == bool and d["scalar"][()] == 2.5
    # One node (a group with what is under it).
    status, _, err = _lazyarr("convert", src, tmp_path / "one.h5", "--node", "grp")
    assert status == 0, err
    with lazyarr.open(tmp_path / "one.h5") as d:
        assert list(d) == ["/grp", "/grp/big"] and d["grp/big"].shape == (100_000, 3)


def test_convert_zarr(tmp_path):
    import zarr

    root = zarr.open_group(tmp_path / "z.zarr", mode="w")
    root.attrs["title"] = "zt"
    a = root.create_array("x", shape=(50, 4), dtype="<f8", chunks=(8, 4))
    a[:] = np.arange(200.0).reshape(50, 4)
    a.attrs["scale"] = 2
    g = root.create_group("g")
    b = g.create_array("when", shape=(3,), dtype="M8[ms]", chunks=(2,))
    b[:] = np.array(["2020-01-01", "NaT", "1969-01-01"], dtype="M8[ms]")
    status, out, err = _lazyarr("convert", tmp_path / "z.zarr", tmp_path / "o.h5")
    assert status == 0, err
    with lazyarr.open(tmp_path / "o.h5") as d:
        assert list(d) == ["/g", "/g/when", "/x"]
        assert np.array_equal(d["x"][...], a[...]) and d["x"].attrs["scale"] == 2
        assert d.attrs["title"] == "zt"
        got = d["g/when"][...]
        assert got.dtype == np.dtype("M8[ms]") and np.array_equal(got, b[...], equal_nan=True)


@pytest.mark.parametrize("quiet", [False, True], ids=["terminal", "quiet"])
def test_convert_progress_bar_on_a_terminal(tmp_path, quiet):
    import os
    import pty

    import fcntl
    import struct
    import termios

    np.save(tmp_path / "a.npy", np.zeros((1000, 10)))
    master, slave = pty.openpty()
    # A terminal 80 columns wide (a new pty has none, and tqdm then draws nothing).
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lazyarr", "convert", str(tmp_path / "a.npy"),
             str(tmp_path / "o.h5")] + (["--quiet"] if quiet else []),
            stdout=subprocess.PIPE, stderr=slave, cwd=ROOT, check=False, timeout=120)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the other end is closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    bar = b"".join(chunks).decode(errors="replace")
    assert done.returncode == 0
    if quiet:
        assert bar == "" and done.stdout == b""
    else:
        assert "lazyarr convert" in bar and "80.0k" in bar  # tqdm's bytes, unit_scale
