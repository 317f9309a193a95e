"""The shared mixture of a series widened by one frame's extra noise.

With ``frames='shared'`` and a bias field, every frame is divided by its own field, which
takes up the frame's gain; on a bleaching series the dim frames are scaled up, and their
camera noise with them, so the classes learned on the whole series are narrower than a
dim frame's pixels, and the frame collapses into the widest class. Each frame's classes
are the shared classes seen through that frame's noise: class k of frame t is
``N(mu_k, Sigma_k + diag(s_t^2 - s_0^2))``, ``s_t`` the frame's noise (a robust estimate
from neighbour differences, in the corrected intensities, per channel) and ``s_0`` the
quietest frame's. Means, weights and class order stay the shared mixture's, so labels
agree across frames.

A per-frame gain and offset fitted by EM (``N(a mu_k + b, a^2 Sigma_k + s^2)``) was
measured too and dropped: with two classes the affine map is as free as the two means and
ran to degenerate maps (gain 7, offset -1700), and the moment estimate of ``s`` stayed 0
on the middle frames; the field already carries each frame's gain.
"""

from __future__ import annotations

import copy

import numpy as np

from ._sklearn_private import compute_precision_cholesky, set_parameters


def full_covariances(gmm) -> np.ndarray:
    """The covariances of every class as (K, C, C) matrices, whatever the type."""
    k, c = gmm.means_.shape
    cov = np.asarray(gmm.covariances_, dtype=np.float64)
    kind = gmm.covariance_type
    if kind == "full":
        return cov.copy()
    if kind == "tied":
        return np.broadcast_to(cov, (k, c, c)).copy()
    if kind == "diag":
        return cov[:, :, None] * np.eye(c)
    return cov[:, None, None] * np.eye(c)


def _as_type(full: np.ndarray, kind: str, weights) -> np.ndarray:
    """(K, C, C) covariances back in the layout of `kind`."""
    if kind == "full":
        return full
    if kind == "tied":
        return np.average(full, axis=0, weights=weights)
    diag = np.diagonal(full, axis1=1, axis2=2)
    return diag.copy() if kind == "diag" else diag.mean(axis=1)


def widened_mixture(gmm, extra_var):
    """A copy of `gmm` whose every class covariance has ``diag(extra_var)`` added.

    Parameters
    ----------
    gmm : GaussianMixture
        A fitted mixture (not modified).
    extra_var : (C,) array_like
        Variance added per channel (>= 0).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> x = np.r_[np.zeros(50), np.ones(50) * 10][:, None] + np.tile([-1.0, 1.0], 50)[:, None]
    >>> gmm = GaussianMixture(2, random_state=0).fit(x)
    >>> wide = widened_mixture(gmm, [3.0])
    >>> np.round(wide.covariances_.ravel() - gmm.covariances_.ravel(), 6).tolist()
    [3.0, 3.0]
    """
    extra = np.asarray(extra_var, dtype=np.float64).reshape(-1)
    full = full_covariances(gmm) + np.diag(extra)
    kind = gmm.covariance_type
    covs = _as_type(full, kind, gmm.weights_)
    out = copy.deepcopy(gmm)
    params = (gmm.weights_, gmm.means_, covs, compute_precision_cholesky(covs, kind))
    set_parameters(out, params)
    return out
