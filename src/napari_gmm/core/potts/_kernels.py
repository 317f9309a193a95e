"""Pixel-major compiled Potts kernels: the previous mean-field sweep, and the finish.

:func:`potts_sweep_lp` is the sweep the class-major planes (:mod:`._planes_kernels`)
replaced; it stays as the baseline of ``benchmarks/bench_spatial.py`` ("previous kernel").
Posteriors are (N, K) with N = Z * Y * X in C order (2D images have Z = 1). Parallelism is
over image rows (z, y); every voxel reads only the previous sweep's buffer, so results do
not depend on the number of threads. :func:`finish_kernel` orders the columns and writes
labels and max posterior for :mod:`._fused`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._nb_estep import softmax_row


@njit(cache=True, fastmath=False, inline="always")
def _neighbour(i, j, exists, w, valid, check):
    """(index, weight) of a face neighbour: weight 0 (and index `i`) if absent/invalid."""
    if not exists or (check and not valid[j]):
        return i, 0.0
    return j, w


@njit(cache=True, fastmath=False, inline="always")
def _add_prior(z, q_in, i, pos, shape, weights, beta, valid, check):
    """Add ``beta * mean_nb(q_in)`` of voxel `i` at `pos` (z, y, x) to `z` (K,).

    The mean is over the valid face neighbours that exist, weighted by `weights` (z, y, x)
    and added in a fixed order (-z, +z, -y, +y, -x, +x). Absent neighbours get weight 0,
    so the loop over classes is branch-free.
    """
    nz, ny, nx = shape[0], shape[1], shape[2]
    plane = ny * nx
    j0, w0 = _neighbour(i, i - plane, pos[0] > 0, weights[0], valid, check)
    j1, w1 = _neighbour(i, i + plane, pos[0] < nz - 1, weights[0], valid, check)
    j2, w2 = _neighbour(i, i - nx, pos[1] > 0, weights[1], valid, check)
    j3, w3 = _neighbour(i, i + nx, pos[1] < ny - 1, weights[1], valid, check)
    j4, w4 = _neighbour(i, i - 1, pos[2] > 0, weights[2], valid, check)
    j5, w5 = _neighbour(i, i + 1, pos[2] < nx - 1, weights[2], valid, check)
    present = w0 + w1 + w2 + w3 + w4 + w5
    if present > 0.0:
        s = beta / present
        for k in range(z.shape[0]):
            acc = w0 * q_in[j0, k] + w1 * q_in[j1, k] + w2 * q_in[j2, k]
            acc += w3 * q_in[j3, k] + w4 * q_in[j4, k] + w5 * q_in[j5, k]
            z[k] += s * acc


@njit(cache=True, parallel=True, fastmath=False)
def potts_sweep_lp(log_prob, valid, shape, weights, beta, q_in, q_out):
    """One pixel-major mean-field sweep ``q_out = softmax(log_prob + beta * mean_nb(q_in))``.

    `log_prob` (N, K) float32; `valid` (N,) bool, or empty when every voxel is valid;
    `shape` (3,) int64, the (Z, Y, X) view; `weights` (3,) float64, the weight of the two
    face neighbours along z, y and x; `q_in`, `q_out` (N, K) float32 (0 where invalid). The
    neighbour mean is taken over the valid neighbours that exist (as the numpy route).
    """
    ny, nx = shape[1], shape[2]
    n_comp = log_prob.shape[1]
    check = valid.shape[0] > 0
    for r in prange(shape[0] * ny):
        z = np.empty(n_comp)
        pos = np.empty(3, dtype=np.int64)
        pos[0] = r // ny
        pos[1] = r - pos[0] * ny
        for x_idx in range(nx):
            i = r * nx + x_idx
            if check and not valid[i]:
                for k in range(n_comp):
                    q_out[i, k] = 0.0
                continue
            for k in range(n_comp):
                z[k] = log_prob[i, k]
            if beta > 0.0:
                pos[2] = x_idx
                _add_prior(z, q_in, i, pos, shape, weights, beta, valid, check)
            softmax_row(z, q_out, i)


@njit(cache=True, parallel=True, fastmath=False)
def finish_kernel(q, order, labels, prob):
    """Permute the columns of `q` (N, K) in place to `order`, write argmax + 1 and max.

    Rows that are all 0 (invalid voxels) get label 0 and probability 0, as
    :func:`._spatial.posterior_labels`; the first maximum wins ties.
    """
    n, n_comp = q.shape
    n_blocks = (n + 16383) // 16384
    for b in prange(n_blocks):
        row = np.empty(n_comp, dtype=np.float32)
        for i in range(b * 16384, min(n, (b + 1) * 16384)):
            for k in range(n_comp):
                row[k] = q[i, order[k]]
            best = 0
            for k in range(n_comp):
                q[i, k] = row[k]
                if row[k] > row[best]:
                    best = k
            if row[best] > 0.0:
                labels[i] = best + 1
                prob[i] = row[best]
            else:
                labels[i] = 0
                prob[i] = 0.0
