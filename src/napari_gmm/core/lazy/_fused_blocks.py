"""Halo blocks of lazy smoothing on the compiled class-major planes of the in-memory path.

The numba route of :mod:`._apply`: a halo block's posteriors stay class-major
(:class:`..potts._planes.Planes`, (K, N) float32) from the sweeps to the block's results,
so that no pixel-major copy of the whole halo block is made: the block's own voxels are
cut out of the planes once, then either turned into labels, max posterior (and
posteriors) by the compiled :func:`..potts._planes_kernels.finish_planes`, or reduced to
the HMRF M-step statistics by the compiled :func:`..potts._moments.moments_kernel`
(per-block partial sums in a fixed order, so the sums do not depend on the thread count).
"""

from __future__ import annotations

import numpy as np

from .._backend import use_numba
from ..potts._meanfield import MAX_KERNEL_NDIM, POTTS_SCALE, _axis_weights, drive, neighbour_kernel


def fused_route(n_spatial: int, n_classes: int) -> bool:
    """Whether a block of `n_spatial` axes and `n_classes` classes runs on the planes."""
    return use_numba() and n_spatial <= MAX_KERNEL_NDIM and n_classes < 255


def swept_planes(data, models, smoothing, scale, sweeps, init=None):
    """:class:`Planes` of a halo block after `sweeps` sweeps per model, warm-started in turn.

    The first model starts from class-major posteriors `init` (K, *block) when given, else
    from its own plain posteriors; log-likelihood planes are computed once per model and
    every block runs the same number of sweeps (no early stop).
    """
    from ..potts._planes import Planes

    shape = data.spatial_shape
    kernel = neighbour_kernel(len(shape), scale)
    ok = None if data.valid is None else data.to_spatial(data.valid)
    k = models[0].n_components
    planes = Planes(ok, shape, k, kernel, _axis_weights(kernel), float(smoothing) * POTTS_SCALE)
    for i, gmm in enumerate(models):
        planes.set_model(gmm, data.features)
        if i == 0 and init is None:
            planes.plain()
        elif i == 0:
            planes.q[...] = init.reshape(k, -1)  # labels only count changes: not needed
        drive(planes.iter_sweeps(sweeps))
    return planes


def own_planes(planes, shape, inner) -> np.ndarray:
    """Class-major posteriors (K, *own) of the block's own voxels (a contiguous copy)."""
    k = planes.q.shape[0]
    return np.ascontiguousarray(planes.q.reshape(k, *shape)[(slice(None), *inner)])


def packed_outputs(q_own, order, n_out) -> np.ndarray:
    """``(*own, n_out)`` float32: label, max posterior (and posteriors in `order`)."""
    from ..potts._planes_kernels import finish_planes, locked

    k = q_own.shape[0]
    own = q_own.shape[1:]
    flat = q_own.reshape(k, -1)
    n = flat.shape[1]
    order = np.arange(k) if order is None else np.asarray(order)
    post = np.empty((n, k), dtype=np.float32)
    labels = np.empty(n, dtype=np.uint8)
    prob = np.empty(n, dtype=np.float32)
    locked(finish_planes, flat, np.ascontiguousarray(order, dtype=np.int64), post, labels, prob)
    out = np.empty((n, n_out), dtype=np.float32)
    out[:, 0] = labels
    out[:, 1] = prob
    if n_out > 2:
        out[:, 2:] = post
    return out.reshape(*own, n_out)


def own_moments(q_own, features_own, shift):
    """``(nk, S1, S2)`` of the block's own valid voxels around `shift` (K, C)."""
    from ..potts._moments import cpu_moments

    k = q_own.shape[0]
    c = shift.shape[1]
    X = np.ascontiguousarray(features_own).reshape(-1, c)
    valid = np.isfinite(X).all(axis=1) if X.dtype.kind == "f" else None
    if valid is not None and valid.all():
        valid = None
    m = cpu_moments(X, q_own.reshape(k, -1), valid, shift)
    return m[:, 0].copy(), m[:, 1 : 1 + c].copy(), m[:, 1 + c :].reshape(k, c, c).copy()
