"""Compiled tempering of pixel-major posteriors (the numba twin of
:func:`._calibrate.temper`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True, fastmath=False)
def temper_rows(q, inv_t, prob):
    """``q_ik <- q_ik^inv_t / sum_j q_ij^inv_t`` in place; `prob` gets each row's maximum.

    Rows that are all 0 stay 0 (probability 0).
    """
    n, k = q.shape
    inv = np.float32(inv_t)
    for i in prange(n):
        total = np.float32(0.0)
        for j in range(k):
            v = q[i, j]
            if v > 0:
                v = np.exp(np.log(v) * inv)
                q[i, j] = v
                total += v
        top = np.float32(0.0)
        if total > 0:
            for j in range(k):
                v = q[i, j] / total
                q[i, j] = v
                if v > top:
                    top = v
        prob[i] = top
