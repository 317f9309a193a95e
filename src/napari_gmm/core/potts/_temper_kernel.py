"""Compiled tempering of posteriors: pixel-major rows (the numba twin of
:func:`._calibrate.temper`) and class-major planes (of :func:`._calibrate.temper_planes`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._fast_exp import fast_exp, fast_log

#: Voxels per run of the class-major kernel (its buffers stay in the L1 cache).
_RUN = 1024
#: Smallest normal float32: smaller posteriors take the scalar path.
_TINY = np.float32(np.finfo(np.float32).tiny)


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


@njit(cache=True, parallel=True, fastmath=True)
def temper_planes_kernel(q, inv_t):
    """``q_kv <- q_kv^inv_t / sum_j q_jv^inv_t`` in place for class-major posteriors (K, N)
    float32; voxels whose posteriors are all 0 stay 0.

    Runs of voxels, class outer and voxel inner, with the vectorised
    :func:`._fast_exp.fast_log` and :func:`._fast_exp.fast_exp` (the C library's scalar
    log and exp made the row kernel :func:`temper_rows` ~11 ns per voxel at K=2). Each
    voxel is tempered relative to its largest posterior, whose term is exactly 1 and stays
    the first largest (the label is kept). A run holding a subnormal posterior (the sweeps
    never produce one: their exponentials stop at e^-80) takes numpy's scalar power.
    """
    n_comp, n = q.shape
    inv = np.float32(inv_t)
    below_one = np.float32(1.0) - np.float32(2.0**-24)
    for b in prange((n + _RUN - 1) // _RUN):
        lo = b * _RUN
        m = min(n, lo + _RUN) - lo
        top = q[0, lo : lo + m].copy()
        best = np.zeros(m, dtype=np.int32)
        odd = 0
        for k in range(n_comp):
            row = q[k, lo : lo + m]
            for x in range(m):
                odd += (row[x] > 0) & (row[x] < _TINY)
                better = row[x] > top[x]
                top[x] = row[x] if better else top[x]
                best[x] = k if better else best[x]
        total = np.zeros(m, dtype=np.float32)
        if odd:
            _temper_run_scalar(q, lo, m, inv, total)
            continue
        log_top = np.empty(m, dtype=np.float32)
        _log_run(top, log_top)
        log_v = np.empty(m, dtype=np.float32)
        for k in range(n_comp):
            row = q[k, lo : lo + m]
            _log_run(row, log_v)
            for x in range(m):
                t = fast_exp(min((log_v[x] - log_top[x]) * inv, np.float32(0.0)))
                t = t if row[x] > 0 else np.float32(0.0)
                t = min(t, below_one) if k < best[x] else t
                row[x] = t
                total[x] += t
        _normalise_run(q, lo, m, total)


@njit(cache=True, fastmath=True, inline="always")
def _log_run(values, out):
    """`out` <- log(`values`) (normal float32; others give meaningless values)."""
    m = values.shape[0]
    mant = np.empty(m, dtype=np.int32)
    mant_f = mant.view(np.float32)
    bits = values.view(np.int32)
    for x in range(m):
        mant[x] = (bits[x] & 0x7FFFFF) | 0x3F800000
        out[x] = np.float32(((bits[x] >> 23) & 0xFF) - 127)
    for x in range(m):
        out[x] = fast_log(mant_f[x], out[x])


@njit(cache=True, fastmath=True, inline="always")
def _normalise_run(q, lo, m, total):
    for k in range(q.shape[0]):
        row = q[k, lo : lo + m]
        for x in range(m):
            row[x] = row[x] / total[x] if total[x] > 0 else np.float32(0.0)


@njit(cache=True, fastmath=False)
def _temper_run_scalar(q, lo, m, inv, total):
    for k in range(q.shape[0]):
        for x in range(m):
            v = q[k, lo + x]
            t = np.float32(np.float64(v) ** np.float64(inv)) if v > 0 else np.float32(0.0)
            q[k, lo + x] = t
            total[x] += t
    _normalise_run(q, lo, m, total)
