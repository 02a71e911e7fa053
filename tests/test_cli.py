"""Tests of the ``lazyarr`` command line and of the README's commands."""

from __future__ import annotations

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
