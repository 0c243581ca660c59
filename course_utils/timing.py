"""Wall-clock timing for notebooks and benchmarks: the median of repeated calls, in milliseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(fn: Callable[[], object], reps: int = 20, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``reps`` calls, after ``warmup`` untimed calls."""
    if reps < 1 or warmup < 0:
        raise ValueError(f"need reps >= 1 and warmup >= 0, got reps={reps}, warmup={warmup}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)
