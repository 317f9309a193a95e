"""Drive the compiled Potts sweeps (:mod:`._nb_potts`) for the spatial prior.

The numba route of :func:`._spatial.potts_posteriors` and :func:`._spatial.iter_hmrf_em`:
images of 1 to 3 spatial axes are viewed as (Z, Y, X) volumes, posteriors are (N, K)
float32 pixel-major buffers, and each sweep is one kernel call. Generators yield after
every sweep so that callers report progress and honour cancellation between sweeps.
"""

from __future__ import annotations

import numpy as np

from .._nb_estep import KERNEL_LOCK, kernel_params
from ._kernels import finish_kernel, potts_sweep, potts_sweep_lp

#: Largest number of spatial axes the kernels handle (more fall back to numpy).
MAX_NDIM = 3

_NO_VALID = np.zeros(0, dtype=bool)


def supported(spatial_shape) -> bool:
    """Whether the kernels handle images of this spatial shape."""
    return 1 <= len(spatial_shape) <= MAX_NDIM


def as_volume(spatial_shape, axis_weights):
    """(3,) int64 shape and (3,) float64 neighbour weights of the (Z, Y, X) view."""
    pad = MAX_NDIM - len(spatial_shape)
    shape = np.array((1,) * pad + tuple(spatial_shape), dtype=np.int64)
    weights = np.array((0.0,) * pad + tuple(axis_weights), dtype=np.float64)
    return shape, weights


class Sweeper:
    """Mean-field sweeps over one image, recomputing log-probabilities from its features.

    Parameters
    ----------
    features : (N, C) array
        Pixel features in C order of the spatial axes (any real dtype; not copied).
    ok : (N,) bool or None
        Valid pixels; None when all are.
    spatial_shape : tuple of int
    axis_weights : tuple of float
        Weight of the two face neighbours along each spatial axis.
    beta : float
        Potts coupling in nats.
    """

    def __init__(self, features, ok, spatial_shape, axis_weights, beta):
        self.features = features
        self.valid = _NO_VALID if ok is None else np.ascontiguousarray(ok, dtype=bool)
        self.shape, self.weights = as_volume(spatial_shape, axis_weights)
        self.beta = float(beta)
        self.spare = None

    def plain(self, gmm, out) -> np.ndarray:
        """Unregularised posteriors of `gmm` into `out` (N, K) float32."""
        params = kernel_params(gmm)
        with KERNEL_LOCK:
            potts_sweep(
                self.features, self.valid, self.shape, self.weights, 0.0, *params, out, out
            )
        return out

    def iter_sweeps(self, gmm, q, n_iter):
        """Generator: `n_iter` sweeps from posteriors `q`; yields after each, returns q."""
        params = kernel_params(gmm)
        if self.spare is None:
            self.spare = np.empty_like(q)
        for _ in range(n_iter if self.beta > 0 else 0):
            with KERNEL_LOCK:
                potts_sweep(
                    self.features, self.valid, self.shape, self.weights, self.beta, *params,
                    q, self.spare,
                )
            q, self.spare = self.spare, q
            yield
        return q

    def release(self):
        """Drop the spare posterior buffer."""
        self.spare = None


def iter_potts_lp(log_prob, ok, spatial_shape, axis_weights, beta, q, n_iter):
    """Generator: sweeps on precomputed log-probabilities (N, K) float32; returns q."""
    shape, weights = as_volume(spatial_shape, axis_weights)
    valid = _NO_VALID if ok is None else np.ascontiguousarray(ok, dtype=bool)
    spare = np.empty_like(q)
    for _ in range(n_iter):
        with KERNEL_LOCK:
            potts_sweep_lp(log_prob, valid, shape, weights, float(beta), q, spare)
        q, spare = spare, q
        yield
    return q


def plain_lp(log_prob, ok, spatial_shape, out):
    """Softmax of log-probabilities (N, K) into `out` (0 where not `ok`)."""
    shape, weights = as_volume(spatial_shape, (0.0,) * len(spatial_shape))
    valid = _NO_VALID if ok is None else np.ascontiguousarray(ok, dtype=bool)
    with KERNEL_LOCK:
        potts_sweep_lp(log_prob, valid, shape, weights, 0.0, out, out)
    return out


def finish(q, order, label_dtype):
    """Reorder the columns of `q` in place; labels (argmax + 1, 0 if all 0) and max."""
    n = q.shape[0]
    labels = np.empty(n, dtype=label_dtype)
    prob = np.empty(n, dtype=np.float32)
    with KERNEL_LOCK:
        finish_kernel(q, np.ascontiguousarray(order, dtype=np.int64), labels, prob)
    return labels, prob
