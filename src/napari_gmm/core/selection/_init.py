"""Deterministic starts (intensity quantiles) and the classification entropy used by ICL."""

from __future__ import annotations

import numpy as np

from ..fit._sklearn_private import compute_precision_cholesky, estimate_gaussian_parameters


def classification_entropy(gmm, points, weights=None) -> float:
    """``-sum_i w_i sum_k t_ik log t_ik`` of the posteriors ``t`` of `points` (nats).

    Examples
    --------
    >>> from sklearn.mixture import GaussianMixture
    >>> X = np.r_[np.zeros(50), np.ones(50) * 10][:, None] + np.linspace(0, 1, 100)[:, None]
    >>> gmm = GaussianMixture(2, random_state=0).fit(X)
    >>> round(classification_entropy(gmm, X), 6)  # well separated: nothing ambiguous
    0.0
    """
    t = gmm.predict_proba(np.asarray(points, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_point = -np.where(t > 0, t * np.log(t), 0.0).sum(axis=1)
    w = np.ones(t.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    return float(np.dot(w, per_point))


def quantile_means(points, weights, k: int) -> np.ndarray:
    """Deterministic starting means: `k` quantiles along the first principal axis.

    The (weighted) points are projected on their first principal axis; the start of
    component ``j`` is the point of that axis at the quantile ``(2j + 1) / (2k)`` of the
    projections. For gray images these are simply the intensity quantiles. Ties (one value
    holding more than 1/k of the pixels) are spread by a small fraction of the spread, so
    that no two components start identical.

    Examples
    --------
    >>> quantile_means(np.arange(100.0)[:, None], None, 4).ravel().round(1).tolist()
    [12.0, 37.0, 62.0, 87.0]
    """
    X = np.asarray(points, dtype=np.float64)
    w = np.ones(X.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    centre = np.average(X, axis=0, weights=w)
    Xc = X - centre
    if X.shape[1] == 1:
        axis = np.ones(1)
    else:
        cov = (Xc * w[:, None]).T @ Xc / w.sum()
        axis = np.linalg.eigh(cov)[1][:, -1]
    proj = Xc @ axis
    order = np.argsort(proj, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    targets = (2.0 * np.arange(k) + 1.0) / (2.0 * k)
    t = proj[order][np.minimum(np.searchsorted(cum, targets), proj.size - 1)]
    spread = max(float(np.sqrt(np.average(proj**2, weights=w))), 1e-6)
    for j in range(1, k):  # strictly increasing starts
        t[j] = max(t[j], t[j - 1] + 1e-2 * spread)
    return centre + t[:, None] * axis[None, :]


def quantile_init(points, weights, k: int, params: dict) -> dict:
    """Deterministic ``weights_init``, ``means_init``, ``precisions_init`` for `k` classes.

    Means from :func:`quantile_means`; every point is given to its nearest start and the
    weights and covariances are those of these groups (scikit-learn would otherwise take
    them from a random k-means, which makes the fit depend on the seed).
    """
    X = np.asarray(points, dtype=np.float64)
    w = np.ones(X.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    means = quantile_means(X, w, k)
    nearest = ((X[:, None, :] - means[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    resp = np.zeros((X.shape[0], k))
    resp[np.arange(X.shape[0]), nearest] = w
    resp[:, np.bincount(nearest, minlength=k) == 0] = 1e-10  # an empty start keeps a share
    cov_type, reg = params["covariance_type"], params["reg_covar"]
    nk, _, covariances = estimate_gaussian_parameters(X, resp, reg, cov_type)
    chol = compute_precision_cholesky(covariances, cov_type)
    full = cov_type in ("full", "tied")
    precisions = chol @ np.swapaxes(chol, -1, -2) if full else chol**2
    return {"weights_init": nk / nk.sum(), "means_init": means, "precisions_init": precisions}

