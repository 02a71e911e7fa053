"""Smoke tests of the benchmark suite (bench/): it runs, checks its answers,
writes the JSON it promises and cleans up. Never a timing assertion."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
# bench/ is not installed with the package: import it from the checkout.
sys.path.insert(0, str(ROOT))
from bench import run as bench_run  # noqa: E402
from bench import workloads  # noqa: E402


def _have(module: str, major: int = 0) -> bool:
    try:
        mod = __import__(module)
    except ImportError:
        return False
    return int(mod.__version__.split(".")[0]) >= major


#: Peers of the ``bench`` extra: the suite leaves them out (with a note) when missing.
OPTIONAL_PEERS = tuple(p for p, ok in (("h5py", _have("h5py")), ("zarr", _have("zarr", 3))) if ok)
RECORD_KEYS = {"workload", "variant", "case", "impl", "min_s", "median_s", "times_s", "calls",
               "nbytes", "note", "primary", "per_call_us", "GBps", "lazyarr_ratio_min",
               "lazyarr_ratio_median"}


def run_tiny(tmp_path: Path, *only: str, extra: tuple[str, ...] = ()) -> dict:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    out = tmp_path / "out.json"
    md = tmp_path / "out.md"
    argv = ["--tiny", "--dir", str(data_dir), "--out", str(out), "--markdown", str(md), *extra]
    if only:
        argv += ["--only", *only]
    assert bench_run.main(argv) == 0
    # Every data file is gone; only the outputs remain.
    assert list(data_dir.iterdir()) == []
    assert "## Machine" in md.read_text()
    return json.loads(out.read_text())


def test_suite_writes_the_promised_json(tmp_path, capsys):
    res = run_tiny(tmp_path, "slice,full,row", "element", "fancy", "mask", "column", "column5",
                   "reverse", "minibatch", "reduce", "ragged", "codecs")
    assert set(res) >= {"machine", "config", "notes", "results", "targets", "skipped", "extra", "elapsed_s"}
    assert set(res["machine"]) >= {"cpu", "cores_logical", "ram_gib", "python", "versions"}
    assert set(res["machine"]["versions"]) >= {"numpy", "tables", "h5py", "zarr", "blosc2"}
    assert res["config"]["preset"] == "tiny" and res["config"]["repeats"] == 1
    recs = res["results"]
    assert all(set(r) == RECORD_KEYS for r in recs)
    # The first word of an impl is its peer ("h5py gzip-1 copy" without hdf5plugin).
    seen = {(r["workload"], r["impl"]) for r in recs}
    peers = {(r["workload"], r["impl"].split()[0]) for r in recs}
    for w in ("slice", "full", "row", "element", "fancy", "mask", "column", "reverse", "reduce"):
        for impl in ("lazyarr", "pytables", "memmap", "numpy") + OPTIONAL_PEERS:
            assert (w, impl) in peers, (w, impl)
    assert ("full", "blosc2 decode only") in seen and ("full", "read_chunk+blosc2") in seen
    assert {("minibatch", "lazyarr NoCache"), ("minibatch", "lazyarr InMemory")} <= seen
    assert any(w == "minibatch" and i.startswith("lazyarr SwapWindow(") for w, i in seen)
    assert {r["variant"] for r in recs if r["workload"] == "ragged"} == {"offsets", "vl"}
    # Every peer has a ratio against its group's lazyarr record.
    for r in recs:
        if not r["impl"].startswith("lazyarr") and r["workload"] != "ragged":
            assert r["lazyarr_ratio_min"] is not None, r
        assert r["min_s"] <= r["median_s"]
    assert {t["target"] for t in res["targets"]} >= {
        "fancy sorted, zstd: <= 1/50 PyTables", "13: plain column x[:, 5] <= 2x memmap",
        "13: plain 5,120 unsorted rows, repeats <= 3x memmap",
        "13: ragged random item <= 0.5x the walkthrough's getter"}
    assert any(r["case"] == "x[:, 5]" for r in recs)
    codecs = res["extra"]["codecs"]
    assert {c["compression"] for c in codecs} == {"blosc2:zstd", "blosc2:lz4", "zlib", None}
    assert all(c["ratio"] > 0 and c["random_row_us"] > 0 for c in codecs)
    out = capsys.readouterr().out
    assert "lazyarr/peer min" in out and "Targets of issues 5 and 13" in out


def test_interrupt_removes_the_data(tmp_path, monkeypatch, capsys):
    def interrupted(ctx):
        raise KeyboardInterrupt

    monkeypatch.setitem(workloads.WORKLOADS, "row", (interrupted, True))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    assert bench_run.main(["--tiny", "--dir", str(data_dir), "--only", "row"]) == 130
    assert list(data_dir.iterdir()) == []


def test_bad_workload_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        bench_run.main(["--only", "nosuch"])
    assert "unknown workload(s) nosuch" in capsys.readouterr().err


def test_profile(tmp_path, capsys):
    pytest.importorskip("pyinstrument")
    # Enough calls that the sampling profiler sees the read path however fast it gets.
    assert bench_run.main(["--tiny", "--dir", str(tmp_path), "--profile", "row",
                           "--variants", "plain", "--calls", "50000"]) == 0
    out = capsys.readouterr().out
    assert "LazyArray.__getitem__" in out
    # Only lazyarr ran: no peer's timing line.
    assert re.search(r"^ +plain .* (pytables|h5py|zarr|numpy) +min ", out, re.M) is None
    assert re.search(r"^ +plain .* lazyarr +min ", out, re.M)


def test_runs_as_a_script(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--tiny", "--only", "element",
                           "--variants", "plain", "--dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "element" in proc.stdout and list(tmp_path.iterdir()) == []


def test_compare_judges_cases_by_their_ratios_against_peers(tmp_path, capsys):
    from bench import compare

    def rec(case, impl, ratio=None, t=1.0):
        return {"workload": "w", "variant": "plain", "case": case, "impl": impl, "min_s": t,
                "median_s": t, "lazyarr_ratio_min": ratio, "lazyarr_ratio_median": ratio}

    old = {"results": [rec("a", "lazyarr"), rec("a", "h5py", 1.0), rec("a", "zarr", 2.0),
                       rec("b", "lazyarr"), rec("b", "h5py", 1.0),
                       rec("c", "lazyarr", t=2.0), rec("gone", "lazyarr")]}
    new = {"results": [rec("a", "lazyarr"), rec("a", "h5py", 1.5), rec("a", "zarr", 2.1),
                       rec("b", "lazyarr"), rec("b", "h5py", 1.5),
                       rec("c", "lazyarr", t=1.0), rec("new", "lazyarr")]}
    # "a": slower against h5py but not against zarr -> the machine, not lazyarr.
    assert [(c.case, c.verdict) for c in compare.compare(old, new)] == [
        ("a", "same"), ("b", "slower"), ("c", "faster")]
    paths = []
    for name, run in (("old", old), ("new", new)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(run))
    assert compare.main([str(p) for p in paths]) == 1
    assert "1 slower" in capsys.readouterr().out
    assert compare.main([str(paths[0]), str(paths[0])]) == 0


def test_interleaved_cases_alternate_and_check_their_answers():
    order: list[str] = []
    runner = workloads.Runner(3, log=lambda msg: None)
    fns = {"lazyarr": lambda: order.append("a") or 1, "peer": lambda: order.append("b") or 1}
    runner.interleaved("w", "v", "c", fns, expect=1, repeats=3, calls={"lazyarr": 7})
    # One checked warm-up each, then three alternating rounds.
    assert "".join(order) == "ab" + "ab" * 3
    recs = {r["impl"]: r for r in runner.records}
    assert [len(r["times_s"]) for r in recs.values()] == [3, 3]
    assert recs["lazyarr"]["primary"] and not recs["peer"]["primary"]
    assert (recs["lazyarr"]["calls"], recs["peer"]["calls"]) == (7, 1)
    with pytest.raises(AssertionError, match="peer gave a different answer"):
        runner.interleaved("w", "v", "c", {"lazyarr": lambda: 1, "peer": lambda: 2}, expect=1)
