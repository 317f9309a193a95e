"""Compiled mixel swap of one-channel posteriors (the numba twin of
:func:`._mixel_swap.mixel_posteriors` with a table): one pass over the rows, the
correction interpolated on the table's evenly spaced grid, instead of numpy's passes over
(n, K) float64 temporaries (about 7x faster on one thread)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _interp(table, c, f, j):
    return table[c, j] + f * (table[c + 1, j] - table[c, j])


@njit(cache=True, inline="always")
def _corr(table, c, f, j, k, log_floor):
    """The correction of class `j`: its majority log-likelihood (column `j`) minus its
    plain log-posterior (column `k + j`) floored, each interpolated."""
    return _interp(table, c, f, j) - max(_interp(table, c, f, k + j), log_floor)


#: Rows per run (one scratch buffer per run).
_RUN = 1024


@njit(cache=True, parallel=True, fastmath=False)
def swap_rows(q, x, lo, step, table, log_floor, out, outside):
    """Swap rows `q` (n, K) float32 of values `x` (n,) into `out` (n, K) float32 (zeroed).

    The correction of class ``j`` at ``x`` interpolates ``table[:, j]`` and
    ``table[:, K + j]`` (their values at ``lo + i * step``; see
    :attr:`._mixels.MixelModel.table`) and floors the second at `log_floor`. Rows whose
    value is outside the grid (or not finite) are flagged in `outside` and left to the
    caller; rows that are all 0 stay 0.
    """
    n, k = q.shape
    m = table.shape[0]
    for b in prange((n + _RUN - 1) // _RUN):
        z = np.empty(k)
        for i in range(b * _RUN, min(n, (b + 1) * _RUN)):
            t = (x[i] - lo) / step
            if not (t >= 0.0 and t <= m - 1):
                outside[i] = q[i].sum() > 0
                continue
            c = min(int(t), m - 2)
            f = t - c
            top = -np.inf
            for j in range(k):
                z[j] = -np.inf
                if q[i, j] > 0:
                    z[j] = np.log(np.float64(q[i, j])) + _corr(table, c, f, j, k, log_floor)
                    top = max(top, z[j])
            if top == -np.inf:  # an invalid pixel: stays 0
                continue
            total = 0.0
            for j in range(k):
                z[j] = np.exp(z[j] - top)
                total += z[j]
            for j in range(k):
                out[i, j] = z[j] / total
