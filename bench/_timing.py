"""Timing shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def timeit(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(min, median) seconds of ``fn()`` over ``repeats`` runs."""
    times = run_times(fn, repeats)
    return min(times), statistics.median(times)


def run_times(fn: Callable[[], object], repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` runs of ``fn()`` (at least one run)."""
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def summary(times: list[float]) -> dict[str, float]:
    """``{"min_s", "median_s"}`` of a list of run times."""
    return {"min_s": min(times), "median_s": statistics.median(times)}
