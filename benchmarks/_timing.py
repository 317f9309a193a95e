"""Wall time of a call, as the benchmarks measure it."""

from __future__ import annotations

import gc
import time

import numpy as np


def best_time(func, repeat: int = 1):
    """Best wall time of `repeat` calls (garbage collected before each), and the last
    result (dropped before each call, so that two results are never held at once)."""
    best, result = np.inf, None
    for _ in range(repeat):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result
