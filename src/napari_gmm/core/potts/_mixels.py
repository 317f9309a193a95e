"""Mixel-aware posteriors: the class of the largest fraction on clean images with partial
volumes.

On a clean scan (little noise) of thin structures, many voxels hold two tissues and their
values lie between the class means: half CSF and half grey matter looks like neither. A
Gaussian mixture fitted to such an image widens its components to cover those values and
labels them with confidence, often wrongly (a voxel's true label is its class of the
largest fraction). Under the Potts prior that mistake is fed to the neighbours.

A *mixel model* (FSL FAST's, Zhang, Brady & Smith, IEEE TMI 20, 2001) describes the values
as a mixture of pure classes and of mixed voxels: for each pair of classes ``a < b`` and a
fraction ``f`` of ``b`` on a grid of :data:`N_LEVELS` interior values,
``x ~ N((1 - f) mu_a + f mu_b, (1 - f) S_a + f S_b)``. scikit-learn has no such mixture
(its components are free Gaussians, not tied to two others), so it is fitted here by EM on
a histogram of the pixels (:func:`_histogram`), from the plain fit: the weights of the pure
classes and of each pair (shared by its fractions), and the pure classes' means and
covariances from their own responsibilities (the mixed voxels' share of them is left out,
which keeps the M-step closed-form).

The *majority likelihood* of class ``k`` sums the pure class ``k`` and the mixed
components in which ``k`` holds more than half; :mod:`._mixel_swap` puts it in the final
posteriors of ``smoothing='auto'`` on clean images.

The model is fitted on the central block the guard of ``'auto'`` checks (at most
``_beta_cv.MAX_PIXELS`` pixels, :func:`._auto_smoothing.central_crop`), so a dask image,
which reads that block, fits the same model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.special import logsumexp

from ..fit._frame_noise import full_covariances
from ..fit._sklearn_private import weighted_log_prob
from ._auto_smoothing import central_crop
from ._beta_cv import MAX_PIXELS

#: Interior fractions of the mixed components of each pair, ``(j + 0.5) / N_LEVELS``.
N_LEVELS = 10
#: Bins of the histogram the mixel model is fitted on (:func:`_histogram`).
BINS = 1 << 12
#: EM iterations of the mixel model.
N_ITER = 30
#: Starting weight of all the mixed components together.
START_MIXED = 0.1
#: Smallest plain posterior the swap divides by. The final posteriors are float32, so a
#: class the plain fit rules out (posterior 1e-50, say) keeps a posterior of 0 or a rounded
#: tiny value there, and dividing that by the exact plain posterior would revive the class
#: (on the 1-voxel sheet at 5 % noise: Dice 0.84 instead of 0.92). On the anatomy
#: phantoms at 5 % noise the labels are the same for floors from 1e-4 to 1e-20.
FLOOR = 1e-12
#: Grid points of a one-channel image's correction table (:func:`_grid`).
TABLE = 1 << 14


@dataclass(frozen=True)
class MixelModel:
    """A fitted mixel model (see the module docstring).

    Attributes
    ----------
    means : (K, d) ndarray
    covariances : (K, d, d) ndarray
        Of the pure classes.
    weights : (C,) ndarray
        Of the components: the K pure ones first, then each pair's fractions.
    a, b : (C,) int ndarray
        The classes mixed by each component (``a == b`` for a pure one).
    f : (C,) ndarray
        The fraction of ``b`` (0 for a pure component).
    plain : GaussianMixture or None
        The plain fit it was fitted from, whose data term it replaces.
    grid, table : ndarray or None
        :meth:`parts` (K columns each) at the values `grid` (:data:`TABLE` points, or every
        integer of the range for an integer image), interpolated in between.
    """

    means: np.ndarray
    covariances: np.ndarray
    weights: np.ndarray
    a: np.ndarray
    b: np.ndarray
    f: np.ndarray
    plain: object = field(default=None, repr=False)
    grid: np.ndarray | None = field(default=None, repr=False)
    table: np.ndarray | None = field(default=None, repr=False)

    @property
    def majority(self) -> np.ndarray:
        """The class holding more than half of each component."""
        return np.where(self.f < 0.5, self.a, self.b)

    def log_densities(self, x) -> np.ndarray:
        """``log N(x | component)`` (n, C) of rows `x` (n, d)."""
        return mixed_log_densities(x, self.means, self.covariances, self.a, self.b, self.f)

    def majority_log_lik(self, x) -> np.ndarray:
        """``log sum_{c: majority(c) = k} w_c N(x | c)`` (n, K) of rows `x` (n, d)."""
        lp = self.log_densities(x) + np.log(np.maximum(self.weights, 1e-300))
        majority = self.majority
        return np.stack(
            [logsumexp(lp[:, majority == k], axis=1) for k in range(self.means.shape[0])],
            axis=1,
        )

    def parts(self, x) -> tuple[np.ndarray, np.ndarray]:
        """The two smooth terms of :meth:`correction` of rows `x` (n, d): the majority
        log-likelihood and the plain fit's log-posteriors, each (n, K)."""
        x = np.asarray(x, dtype=np.float64)
        wlp = weighted_log_prob(self.plain, x)
        return self.majority_log_lik(x), wlp - logsumexp(wlp, axis=1, keepdims=True)

    def correction(self, x) -> np.ndarray:
        """``log P'(k | x) - log max(P(k | x), FLOOR)`` (n, K), up to a constant per row:
        what the swap adds to the log-posteriors of rows `x` (n, d), exactly."""
        majority, log_plain = self.parts(x)
        return majority - np.maximum(log_plain, np.log(FLOOR))

    def fast_correction(self, x) -> np.ndarray:
        """:meth:`correction` of rows `x` (n, d), from the table where there is one: its two
        smooth parts interpolated, then the floor (values outside the grid exactly)."""
        if self.table is None:
            return self.correction(x)
        v = np.asarray(x, dtype=np.float64)[:, 0]
        k = self.means.shape[0]
        cols = [np.interp(v, self.grid, self.table[:, j]) for j in range(2 * k)]
        out = np.stack(cols[:k], axis=1) - np.maximum(np.stack(cols[k:], axis=1),
                                                       np.log(FLOOR))
        outside = (v < self.grid[0]) | (v > self.grid[-1])
        if outside.any():
            out[outside] = self.correction(v[outside, None])
        return out


def _components(k: int):
    """``(a, b, f)`` arrays of the pure components, then each pair's fractions."""
    levels = (np.arange(N_LEVELS) + 0.5) / N_LEVELS
    a, b, f = list(range(k)), list(range(k)), [0.0] * k
    for i in range(k):
        for j in range(i + 1, k):
            a += [i] * N_LEVELS
            b += [j] * N_LEVELS
            f += levels.tolist()
    return np.array(a), np.array(b), np.array(f)


def mixed_log_densities(x, means, covs, a, b, f) -> np.ndarray:
    """``log N(x | (1 - f) mu_a + f mu_b, (1 - f) S_a + f S_b)`` (n, C) of rows `x` (n, d)
    for components ``(a[c], b[c], f[c])`` of the classes' `means` (K, d) and full
    covariances `covs` (K, d, d)."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    if d == 1:  # one broadcast over the components
        mu = (1.0 - f) * means[a, 0] + f * means[b, 0]
        var = (1.0 - f) * covs[a, 0, 0] + f * covs[b, 0, 0]
        return -0.5 * ((x - mu) ** 2 / var + np.log(2 * np.pi * var))
    out = np.empty((n, a.size))
    for c in range(a.size):
        mu = (1.0 - f[c]) * means[a[c]] + f[c] * means[b[c]]
        cov = (1.0 - f[c]) * covs[a[c]] + f[c] * covs[b[c]]
        chol = np.linalg.cholesky(cov)
        z = np.linalg.solve(chol, (x - mu).T)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        out[:, c] = -0.5 * ((z * z).sum(axis=0) + logdet + d * np.log(2 * np.pi))
    return out


def _histogram(data):
    """Bin centres (B, 1) and counts (B,) of the valid values of one channel: one bin per
    integer for an integer image of at most :data:`BINS` values, else :data:`BINS` bins
    between the 0.05th and 99.95th percentiles (the values beyond them, 0.1 %, are left
    out: a few hot pixels would widen every bin)."""
    v = data.valid_features()[:, 0]
    lo, hi = float(v.min()), float(v.max())
    if data.is_integer and hi - lo < BINS:
        counts = np.bincount((v - v.min()).astype(np.int64), minlength=int(hi - lo) + 1)
        centres = lo + np.arange(counts.size, dtype=np.float64)
    else:
        lo, hi = np.percentile(v, [0.05, 99.95])
        counts, edges = np.histogram(v, bins=BINS, range=(lo, hi) if hi > lo else None)
        centres = 0.5 * (edges[:-1] + edges[1:])
    keep = counts > 0
    return centres[keep, None], counts[keep].astype(np.float64)


def _grid(model: MixelModel, integer: bool) -> np.ndarray:
    """Values of the correction table: the classes' means +- 12 of their largest standard
    deviation (the plain fit's or the model's), every integer when there are at most
    :data:`TABLE` of them in an integer image."""
    sd = np.sqrt(max(float(model.covariances.max()), float(np.max(model.plain.covariances_))))
    means = np.r_[model.means[:, 0], model.plain.means_[:, 0]]
    lo, hi = float(means.min() - 12 * sd), float(means.max() + 12 * sd)
    if integer and np.ceil(hi) - np.floor(lo) < TABLE:
        return np.arange(np.floor(lo), np.ceil(hi) + 1.0)
    return np.linspace(lo, hi, TABLE)


def _em(x, counts, gmm, a, b, f):
    """EM of the mixel model on rows `x` of multiplicities `counts` (a histogram) from the
    plain fit `gmm`: ``(means, covariances, weights)``."""
    k = gmm.means_.shape[0]
    pure = a == b
    pair = np.where(pure, -1, a * k + b)
    weights = np.where(pure, 0.0, START_MIXED / (~pure).sum())
    weights[:k] = (1.0 - START_MIXED) * gmm.weights_
    means = gmm.means_.astype(np.float64).copy()
    covs = full_covariances(gmm)
    reg = float(gmm.reg_covar) * np.eye(means.shape[1])
    for _ in range(N_ITER):
        lp = mixed_log_densities(x, means, covs, a, b, f) + np.log(np.maximum(weights, 1e-300))
        resp = np.exp(lp - logsumexp(lp, axis=1, keepdims=True)) * counts[:, None]
        weights = resp.sum(axis=0) / counts.sum()
        for p in np.unique(pair[~pure]):
            weights[pair == p] = weights[pair == p].mean()
        for i in range(k):
            r = resp[:, i]
            total = max(float(r.sum()), 1e-12)
            means[i] = r @ x / total
            diff = x - means[i]
            covs[i] = (diff * r[:, None]).T @ diff / total + reg
    return means, covs, weights


def fit_mixels(gmm, data):
    """Fit the mixel model to the histogram of `data`'s central block, from the plain fit
    `gmm`.

    Parameters
    ----------
    gmm : GaussianMixture
        The plain fit (not modified; kept as the model's ``plain``).
    data : PixelData
        The image's pixels (its central block of ``_beta_cv.MAX_PIXELS`` is used).

    Returns
    -------
    MixelModel or None
        None when the image has fewer than two classes or the model does not lower BIC on
        the block (one extra parameter per pair of classes): no evidence of partial
        volumes. None for several channels or ``covariance_type='tied'`` too: measured only
        on one channel with a variance per class. On a 2-channel phantom (the 1-voxel sheet
        at 5 % noise and a mirrored second channel) the swap lost 0.006-0.135 Dice against
        the plain posteriors with diagonal, spherical or tied covariances (gained 0.026 with
        full ones), and on the 1-voxel sheet with a tied variance it lost 0.016-0.032 (pure
        classes' covariances fitted freely, or in the plain fit's form).
    """
    if data.n_features != 1 or gmm.covariance_type == "tied":
        return None
    if data.n_pixels > MAX_PIXELS:
        data = central_crop(data, MAX_PIXELS)
    k = gmm.means_.shape[0]
    if k < 2 or data.n_valid < 10 * k * k:
        return None
    x, counts = _histogram(data)
    a, b, f = _components(k)
    means, covs, weights = _em(x, counts, gmm, a, b, f)
    model = MixelModel(means, covs, weights, a, b, f, plain=gmm)
    ll_mixel = logsumexp(model.log_densities(x) + np.log(np.maximum(weights, 1e-300)), axis=1)
    ll_plain = gmm.score_samples(x)
    extra = k * (k - 1) // 2
    gain = 2.0 * float(counts @ (ll_mixel - ll_plain)) - extra * np.log(counts.sum())
    if gain <= 0:
        return None
    grid = _grid(model, data.is_integer)
    return replace(model, grid=grid, table=np.concatenate(model.parts(grid[:, None]), axis=1))
