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
        best = 0
        top = q[i, 0]
        for j in range(1, k):
            if q[i, j] > top:
                best = j
                top = q[i, j]
        if top <= 0:
            prob[i] = 0.0
            continue
        total = np.float32(1.0)  # the maximum's term: (top / top)^inv = 1
        for j in range(k):
            v = q[i, j]
            if j != best and v > 0:
                v = np.exp(np.log(v / top) * inv)  # one log and exp per other class
                q[i, j] = v
                total += v
            elif j != best:
                q[i, j] = 0.0
        for j in range(k):
            q[i, j] = np.float32(1.0) / total if j == best else q[i, j] / total
        prob[i] = np.float32(1.0) / total
