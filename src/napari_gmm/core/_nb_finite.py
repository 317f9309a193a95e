"""Compiled check of a float image for non-finite values (numba).

numpy's ``np.isfinite(features)`` writes a bool mask of the whole image before it can be
counted, on one core; most images have no NaN at all, so :func:`count_nonfinite` counts
them on every core without writing anything, and the mask is built only when there are
some (:func:`.._features.pixel_data`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Values per parallel task (fixed, so the work split does not depend on the thread count).
BLOCK = 1 << 16


@njit(cache=True, parallel=True, fastmath=False)
def _count(flat):
    n = flat.shape[0]
    counts = np.zeros((n + BLOCK - 1) // BLOCK, dtype=np.int64)
    for b in prange(counts.shape[0]):
        c = 0
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            v = flat[i]
            c += (v - v) != 0  # NaN and +-inf give NaN
        counts[b] = c
    return counts.sum()


def count_nonfinite(values: np.ndarray) -> int:
    """Number of NaN and infinite values in a C-contiguous float32 or float64 array.

    Examples
    --------
    >>> count_nonfinite(np.array([[1.0, np.nan], [np.inf, -np.inf]]))
    3
    """
    from ._nb_estep import KERNEL_LOCK

    with KERNEL_LOCK:
        return int(_count(values.reshape(-1)))
