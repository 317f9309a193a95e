"""Partial volumes: each class's fraction of every voxel at the boundaries between classes.

At the resolution of a scan a voxel on a boundary holds two tissues, and its value is the
fraction-weighted mix of theirs. FSL FAST and ANTs Atropos report those fractions; here
they are estimated after the segmentation, as in FAST's mixel model (Zhang, Brady & Smith,
IEEE TMI 20, 2001), on boundary voxels only:

- a *boundary voxel* is one with a face neighbour of another label; elsewhere the
  fractions are the (regularised) posteriors;
- on a boundary voxel the two most probable classes ``a``, ``b`` share it: its value is
  modelled as ``x ~ N((1 - f) mu_a + f mu_b, (1 - f) S_a + f S_b)`` for a fraction ``f`` of
  ``b`` on a grid of `N_LEVELS` values in [0, 1], with prior mass ``PURE`` shared by the
  pure ends in proportion to the posteriors of ``a`` and ``b``, and ``1 - PURE`` spread
  evenly over the mixed values; the reported fraction is the posterior mean of ``f``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.special import logsumexp

from ..fit._frame_noise import full_covariances
from ._mixels import mixed_log_densities

#: Fraction values of the mixel grid (0 and 1 included).
N_LEVELS = 21
#: Prior mass of the two pure ends on a boundary voxel.
PURE = 0.5


def boundary_mask(labels) -> np.ndarray:
    """Voxels (label > 0) with a face neighbour of another non-zero label.

    Examples
    --------
    >>> boundary_mask(np.array([[1, 1, 2, 2]])).astype(int).tolist()
    [[0, 1, 1, 0]]
    """
    labels = np.asarray(labels)
    out = np.zeros(labels.shape, dtype=bool)
    for axis in range(labels.ndim):
        lo = [slice(None)] * labels.ndim
        hi = [slice(None)] * labels.ndim
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        a, b = labels[tuple(lo)], labels[tuple(hi)]
        differ = (a != b) & (a > 0) & (b > 0)
        out[tuple(lo)] |= differ
        out[tuple(hi)] |= differ
    return out


def partial_volume_fractions(gmm, features, posteriors, labels, *, levels=N_LEVELS):
    """Each class's fraction of every voxel (see the module docstring).

    Parameters
    ----------
    gmm : GaussianMixture
        The segmentation's mixture (component k-1 = label k).
    features : (*spatial, C) or (*spatial,) array
        The image's values.
    posteriors : (*spatial, K) array
        The segmentation's posteriors (regularised with smoothing).
    labels : (*spatial,) integer array
        Labels 1..K (0: not segmented).
    levels : int, default 21
        Fraction values on the mixel grid.

    Returns
    -------
    fractions : ndarray of float32, shape (K, *spatial)
        Fractions summing to 1 on segmented voxels, 0 elsewhere.

    Examples
    --------
    >>> import napari_gmm as ng
    >>> rng = np.random.default_rng(0)  # column 6: 30 % of the bright class, value 3
    >>> image = np.tile(np.r_[np.zeros(6), 3.0, np.full(6, 10.0)], (6, 1))
    >>> seg = ng.segment(image + rng.normal(0, 0.5, image.shape), 2, random_state=0,
    ...                  partial_volume=True)
    >>> seg.fractions.shape, seg.fractions[1].mean(axis=0)[4:9].round(1).tolist()
    ((2, 6, 13), [0.0, 0.0, 0.2, 1.0, 1.0])
    """
    q = np.asarray(posteriors, dtype=np.float32)
    shape = q.shape[:-1]
    k = q.shape[-1]
    x = np.asarray(features, dtype=np.float64).reshape(int(np.prod(shape)), -1)
    labels = np.asarray(labels)
    fractions = np.moveaxis(q, -1, 0).copy()
    edge = boundary_mask(labels).ravel()
    if k < 2 or not edge.any():
        return fractions
    qe = q.reshape(-1, k)[edge].astype(np.float64)
    xe = x[edge]
    top = np.argsort(qe, axis=1)[:, -2:]
    a, b = top.min(axis=1), top.max(axis=1)  # a the darker class of the pair
    grid = np.linspace(0.0, 1.0, int(levels))
    means, covs = gmm.means_.astype(np.float64), full_covariances(gmm)
    f_mean = np.empty(xe.shape[0])
    for i, j in {(int(u), int(v)) for u, v in zip(a, b, strict=True)}:
        rows = (a == i) & (b == j)
        ll = mixed_log_densities(xe[rows], means, covs, np.full(grid.size, i),
                                 np.full(grid.size, j), grid)
        qa, qb = qe[rows, i], qe[rows, j]
        prior = np.full((rows.sum(), grid.size), (1.0 - PURE) / (grid.size - 2))
        prior[:, 0] = PURE * qa / np.maximum(qa + qb, 1e-12)
        prior[:, -1] = PURE * qb / np.maximum(qa + qb, 1e-12)
        logp = ll + np.log(np.maximum(prior, 1e-300))
        post = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
        f_mean[rows] = post @ grid
    flat = fractions.reshape(k, -1)
    index = np.flatnonzero(edge)
    flat[:, index] = 0.0
    flat[a, index] = (1.0 - f_mean).astype(np.float32)
    flat[b, index] = f_mean.astype(np.float32)
    return fractions


def fraction_error(fractions, true_fractions, mask=None) -> float:
    """Mean absolute error of fractions (K, *spatial) over the classes and `mask` voxels."""
    diff = np.abs(np.asarray(fractions, np.float64) - np.asarray(true_fractions, np.float64))
    if mask is not None:
        diff = diff[:, np.asarray(mask, dtype=bool)]
    return float(diff.mean())


def with_fractions(result, data, *, keep_posteriors: bool):
    """`result` (a Segmentation with posteriors) with its ``fractions`` added."""
    fractions = partial_volume_fractions(
        result.model, data.to_spatial(data.features), result.posteriors, result.labels
    )
    posteriors = result.posteriors if keep_posteriors else None
    return replace(result, fractions=fractions, posteriors=posteriors)
