"""Pixels per label value, counted in parallel (``np.bincount`` runs on one thread).

Counting the labels of a 128x512x512 segmentation (to warn about empty classes) took
3 % of a one-thread smoothed segmentation, all of it serial, which limits the thread
scaling. Each task counts a run of pixels into its own row; the rows are summed in a
fixed order (integers, so the counts are exact whatever the thread count).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._backend import use_numba

_RUN = 1 << 16


@njit(cache=True, parallel=True)
def _count_runs(flat, n_values, partial):
    n = flat.shape[0]
    for b in prange(partial.shape[0]):
        row = partial[b]
        for i in range(b * _RUN, min(n, (b + 1) * _RUN)):
            v = flat[i]
            if v < n_values:
                row[v] += 1


def label_counts(labels, n_values: int) -> np.ndarray:
    """(n_values,) int64: how many pixels have each label value 0..n_values-1.

    Values outside that range are not counted (``np.bincount`` would grow its output).
    """
    flat = np.asarray(labels).ravel()
    if (flat.dtype.kind != "u" or not use_numba() or flat.size < 2 * _RUN
            or not flat.flags.c_contiguous):
        counts = np.bincount(flat, minlength=n_values)[:n_values]
        return counts.astype(np.int64)
    from .._nb_estep import KERNEL_LOCK

    partial = np.zeros(((flat.size + _RUN - 1) // _RUN, n_values), dtype=np.int64)
    with KERNEL_LOCK:
        _count_runs(flat, n_values, partial)
    return partial.sum(axis=0)
