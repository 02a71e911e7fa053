"""``python -m bench.compare OLD.json NEW.json``: has any workload got slower?

Two runs of ``python -m bench --out`` are compared case by case through
what a loaded machine changes least: lazyarr's time *divided by a peer's in
the same run* (``lazyarr_ratio_min``, and the median). A case is **slower**
when its ratio against every peer it shares with the old run grew by more
than ``--tolerance`` (default 10 %, about the repeat-to-repeat noise of the
bench on this 2-core machine); **faster** when it shrank as much against
every peer. Cases with no peer (lazyarr alone) compare raw min times.

Exit status 1 when a case is slower, so CI or a person can use it as a gate.

Examples
--------
>>> old = {"results": [
...     {"workload": "row", "variant": "plain", "case": "x[i]", "impl": "lazyarr",
...      "min_s": 1.0, "median_s": 1.0, "primary": True},
...     {"workload": "row", "variant": "plain", "case": "x[i]", "impl": "h5py", "min_s": 1.0,
...      "median_s": 1.0, "lazyarr_ratio_min": 1.0, "lazyarr_ratio_median": 1.0}]}
>>> new = {"results": [dict(r) for r in old["results"]]}
>>> new["results"][1].update(lazyarr_ratio_min=0.5, lazyarr_ratio_median=0.6)
>>> [(c.case, c.verdict) for c in compare(old, new)]
[('x[i]', 'faster')]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["Comparison", "compare", "main"]


@dataclass(frozen=True)
class Comparison:
    """One case of both runs: the ratio against each shared peer, old -> new."""

    workload: str
    variant: str
    case: str
    #: peer -> (old min ratio, new min ratio); a ratio is lazyarr / peer.
    ratios: dict[str, tuple[float, float]]
    verdict: str  # "slower", "faster", "same"

    @property
    def change(self) -> float:
        """The smallest growth factor of the ratio over the shared peers."""
        return min(new / old for old, new in self.ratios.values())


def _cases(run: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, float]]:
    """(workload, variant, case) -> {peer: lazyarr/peer min ratio} ("(alone)": raw time)."""
    out: dict[tuple[str, str, str], dict[str, float]] = {}
    for r in run["results"]:
        k = (r["workload"], r["variant"], r["case"])
        ratio = r.get("lazyarr_ratio_min")
        if r["impl"] != "lazyarr" and ratio:
            out.setdefault(k, {})[r["impl"]] = float(ratio)
        elif r["impl"] == "lazyarr":
            out.setdefault(k, {}).setdefault("(alone)", float(r["min_s"]))
    for peers in out.values():
        if len(peers) > 1:
            peers.pop("(alone)", None)  # with peers, the ratios say it
    return out


def compare(old: dict[str, Any], new: dict[str, Any], tolerance: float = 0.10) -> list[Comparison]:
    """Every case both runs have, judged as the module docstring says."""
    a, b = _cases(old), _cases(new)
    out = []
    for k in a.keys() & b.keys():
        shared = {p: (a[k][p], b[k][p]) for p in a[k].keys() & b[k].keys() if a[k][p] > 0}
        if not shared:
            continue
        growth = [n / o for o, n in shared.values()]
        if min(growth) > 1 + tolerance:
            verdict = "slower"
        elif max(growth) < 1 - tolerance:
            verdict = "faster"
        else:
            verdict = "same"
        out.append(Comparison(*k, ratios=shared, verdict=verdict))
    return sorted(out, key=lambda c: (c.workload, c.variant, c.case))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    p.add_argument("old", help="results JSON of the reference run (e.g. bench/results.json)")
    p.add_argument("new", help="results JSON of the new run")
    p.add_argument("--tolerance", type=float, default=0.10,
                   help="growth of every ratio beyond this fraction counts as slower (default 0.10)")
    p.add_argument("--all", action="store_true", help="list every case, not only changed ones")
    args = p.parse_args(argv)
    with open(args.old) as f:
        old = json.load(f)
    with open(args.new) as f:
        new = json.load(f)
    rows = compare(old, new, args.tolerance)
    counts = {v: sum(c.verdict == v for c in rows) for v in ("slower", "same", "faster")}
    for c in rows:
        if args.all or c.verdict != "same":
            peers = ", ".join(f"{p} {o:.3g} -> {n:.3g}" for p, (o, n) in sorted(c.ratios.items()))
            print(f"{c.verdict:<7} {c.workload:<10} {c.variant:<12} {c.case:<34} {peers}")
    print(f"{len(rows)} cases in both runs: {counts['slower']} slower, {counts['same']} within "
          f"{args.tolerance:.0%}, {counts['faster']} faster (ratios lazyarr/peer, min times)")
    return 1 if counts["slower"] else 0


if __name__ == "__main__":
    sys.exit(main())
