"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["median_seconds"]


def median_seconds(operation: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``operation`` over ``repeat`` runs (after one warm-up run)."""
    operation()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        operation()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)
