"""Full-data M-step from posterior planes: weighted moments, then mixture parameters.

For every class k the weighted moments of the valid voxels around a shift ``m_k`` (the
class's previous mean, which keeps the float64 sums well conditioned)::

    n_k = sum_i q_ik,   s_k = sum_i q_ik (x_i - m_k),   S_k = sum_i q_ik (x_i - m_k)(x_i - m_k)^T

are one reduction over the image (:func:`moments_kernel`, numba: the CPU twin of the
CUDA ``moments`` kernel in :mod:`._gpu_kernels`). :func:`params_from_moments` turns them
into scikit-learn's parameters for any covariance type, with the arithmetic of
scikit-learn's ``_estimate_gaussian_parameters`` (tested against it).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..fit._sklearn_private import compute_precision_cholesky
from ._mstep import set_keeping_empty

_BLOCK = 1 << 15


def n_moments(n_classes: int, n_channels: int) -> int:
    """Number of moment sums of K classes of C channels: ``K (1 + C + C^2)``."""
    return n_classes * (1 + n_channels + n_channels * n_channels)


@njit(cache=True, parallel=True, fastmath=False)
def moments_kernel(features, q, valid, shift, out):
    """Weighted moments (K, 1 + C + C^2) float64 of `features` (N, C) under `q` (K, N).

    `valid` (N,) bool or empty (all valid); `shift` (K, C) float64. Per-block partial sums
    are added in block order, so the result does not depend on the thread count.
    """
    n, n_chan = features.shape
    n_comp = q.shape[0]
    width = 1 + n_chan + n_chan * n_chan
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    partial = np.zeros((n_blocks, n_comp, width))
    check = valid.shape[0] > 0
    for b in prange(n_blocks):
        acc = partial[b]
        d = np.empty(n_chan)
        for i in range(b * _BLOCK, min(n, (b + 1) * _BLOCK)):
            if check and not valid[i]:
                continue
            for k in range(n_comp):
                w = np.float64(q[k, i])
                for a in range(n_chan):
                    d[a] = features[i, a] - shift[k, a]
                acc[k, 0] += w
                for a in range(n_chan):
                    wd = w * d[a]
                    acc[k, 1 + a] += wd
                    for c in range(n_chan):
                        acc[k, 1 + n_chan + a * n_chan + c] += wd * d[c]
    out[...] = 0.0
    for b in range(n_blocks):
        out += partial[b]


def cpu_moments(features, q, valid, shift) -> np.ndarray:
    """:func:`moments_kernel` into a new (K, 1 + C + C^2) array."""
    from .._nb_estep import KERNEL_LOCK

    k, c = shift.shape
    out = np.zeros((k, 1 + c + c * c))
    valid = np.zeros(0, dtype=bool) if valid is None else valid
    with KERNEL_LOCK:
        moments_kernel(features, q, valid, np.ascontiguousarray(shift, dtype=np.float64), out)
    return out


def params_from_moments(moments, shift, covariance_type, reg_covar):
    """(weights, means, covariances, precisions_cholesky) from :func:`moments_kernel` sums.

    As scikit-learn: ``n_k`` gets ``10 * eps`` added, ``reg_covar`` is added to the
    covariance diagonals, 'tied' is the ``n_k``-weighted mean of the class covariances.
    """
    k, c = shift.shape
    nk = moments[:, 0] + 10 * np.finfo(np.float64).eps
    offset = moments[:, 1 : 1 + c] / nk[:, None]
    means = shift + offset
    scatter = moments[:, 1 + c :].reshape(k, c, c) / nk[:, None, None]
    full = scatter - offset[:, :, None] * offset[:, None, :]
    full = 0.5 * (full + np.swapaxes(full, 1, 2))
    eye = np.eye(c)
    if covariance_type == "full":
        covs = full + reg_covar * eye
    elif covariance_type == "tied":
        covs = (nk[:, None, None] * full).sum(axis=0) / nk.sum() + reg_covar * eye
    elif covariance_type == "diag":
        covs = np.diagonal(full, axis1=1, axis2=2) + reg_covar
    elif covariance_type == "spherical":
        covs = np.diagonal(full, axis1=1, axis2=2).mean(axis=1) + reg_covar
    else:
        raise ValueError(f"unknown covariance_type {covariance_type!r}")
    weights = nk / nk.sum()
    return weights, means, covs, compute_precision_cholesky(covs, covariance_type)


def update_from_moments(gmm, moments, shift, n_valid) -> None:
    """One M-step of `gmm` in place from moments; empty classes keep their shape."""
    params = params_from_moments(moments, shift, gmm.covariance_type, gmm.reg_covar)
    set_keeping_empty(gmm, params, n_valid)
