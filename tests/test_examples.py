"""The examples in ``examples/`` run, and the custom backend passes the conformance suite."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import settings

import lazyarr as la

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: The backend writes a folder of files per example: a fraction of the profile.
FILE_EXAMPLES = max(10, settings.default.max_examples // 10)


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so that its classes pickle
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


custom = _load("custom_backend")


def test_custom_backend_conforms(tmp_path: Path) -> None:
    report = custom.check(tmp_path, max_examples=FILE_EXAMPLES)
    assert set(report.values()) == {"passed"}, report


def test_custom_backend_uses_only_the_public_api() -> None:
    source = (EXAMPLES / "custom_backend.py").read_text()
    for line in source.splitlines():
        if line.startswith(("import ", "from ")) and "lazyarr" in line:
            assert line.split()[1] in {"lazyarr", "lazyarr.backends", "lazyarr.testing"}, line


def test_custom_backend_reopens_appends_and_pickles(tmp_path: Path) -> None:
    import pickle

    a = np.arange(30, dtype=">f4").reshape(10, 3)
    b = custom.NpyBlocksBackend.create(tmp_path / "x", a, block_rows=4)
    x = la.LazyArray(b)
    x.append(a[:5])
    y = la.LazyArray(custom.NpyBlocksBackend(tmp_path / "x"))  # reopened from disk
    expected = np.concatenate([a, a[:5]]).astype(a.dtype)
    np.testing.assert_array_equal(y[::-1, [2, 0, 2]], expected[::-1, [2, 0, 2]])
    assert y.dtype.str == ">f4" and len(y) == 15
    z = pickle.loads(pickle.dumps(y))
    np.testing.assert_array_equal(np.asarray(z), expected)


def test_custom_backend_zero_d_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one axis"):
        custom.NpyBlocksBackend.create(tmp_path / "x", np.float32(1))


def test_custom_backend_demo_runs() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLES / "custom_backend.py")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "x[[9, 0, 9], ::-1] = [[19.0, 18.0], [1.0, 0.0], [19.0, 18.0]]" in done.stdout
    assert "'read': 'passed'" in done.stdout
