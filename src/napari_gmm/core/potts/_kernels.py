"""Compiled Potts mean-field sweep: E-step + neighbour average + prior + softmax, fused.

The numpy route (:func:`._spatial.potts_posteriors`) keeps the (K, N) log-probabilities,
two posterior buffers, a neighbour-sum buffer (two when anisotropic) and a normalisation
map: about 16K + 8 bytes per voxel in float32, plus scikit-learn's float64 temporaries when
the log-probabilities are computed. The sweep below recomputes each voxel's K weighted
log-probabilities from the image (a few multiply-adds at the few channels of an image:
cheaper than reading them back from memory) and its neighbour weights from the validity
mask, so smoothing holds only the image, two (N, K) float32 posterior buffers, the mask and
the outputs.

Posteriors are pixel-major, (N, K) with N = Z * Y * X in C order (2D images have Z = 1), so
that each voxel's K values are adjacent. Parallelism is over image rows (z, y); every voxel
reads only the previous sweep's buffer, so results do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._nb_estep import pixel_wlp, softmax_row


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
def potts_sweep(features, valid, shape, weights, beta, means, prec, const, q_in, q_out):
    """One mean-field sweep ``q_out = softmax(log p(x, k) + beta * mean_nb(q_in))``.

    Parameters
    ----------
    features : (N, C) array, any real dtype
    valid : (N,) bool, or empty when every voxel is valid
    shape : (3,) int64, the spatial shape (Z, Y, X), Z * Y * X == N
    weights : (3,) float64, the weight of the two face neighbours along z, y and x
    beta : float, Potts coupling in nats; 0 gives the plain posteriors (`q_in` unused)
    means, prec, const : see :func:`._nb_estep.kernel_params`
    q_in, q_out : (N, K) float32, the previous and the new posteriors (0 where invalid)

    The neighbour mean is taken over the valid neighbours that exist (as the numpy route).
    """
    ny, nx = shape[1], shape[2]
    n_comp, n_chan = means.shape
    check = valid.shape[0] > 0
    for r in prange(shape[0] * ny):
        z = np.empty(n_comp)
        d = np.empty(n_chan)
        pos = np.empty(3, dtype=np.int64)
        pos[0] = r // ny
        pos[1] = r - pos[0] * ny
        for x_idx in range(nx):
            i = r * nx + x_idx
            if check and not valid[i]:
                for k in range(n_comp):
                    q_out[i, k] = 0.0
                continue
            pixel_wlp(features, i, means, prec, const, d, z)
            if beta > 0.0:
                pos[2] = x_idx
                _add_prior(z, q_in, i, pos, shape, weights, beta, valid, check)
            softmax_row(z, q_out, i)


@njit(cache=True, parallel=True, fastmath=False)
def potts_sweep_lp(log_prob, valid, shape, weights, beta, q_in, q_out):
    """:func:`potts_sweep` with precomputed log-probabilities `log_prob` (N, K) float32."""
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
