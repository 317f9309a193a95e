"""Semi-supervised EM: weighted samples, some labelled with a class (scribbled pixels).

scikit-learn's :class:`~sklearn.mixture.GaussianMixture` cannot hold some samples'
responsibilities fixed (and has no ``sample_weight``), so this EM is ours. It is the weighted
EM of :mod:`._em` with one change in the E-step: a row labelled with class ``c`` is only
explained by the components of class ``c`` (its responsibilities on other classes are
clamped to 0, and renormalised over the class's components). Unlabelled rows are treated
exactly as in unsupervised EM, so with no labels and the same initial parameters the
iterates are scikit-learn's (tests/core/test_scribbles.py checks it against
``GaussianMixture.fit`` on the expanded data). The lower bound is the mean (weighted) log
of ``p(x)`` for unlabelled rows and of ``p(x, class)`` for labelled ones, which EM never
decreases.

Components of a class are contiguous: class ``c`` owns the components where
``groups == c``; the fitted mixture carries the map as ``component_classes_``
(:mod:`._classes`).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state

from ..fit._em import _m_step, _precision_cholesky, finish_fit
from ..fit._em_init import check_inits, precisions_cholesky_from_precisions
from ..fit._sklearn_private import estimate_log_gaussian_prob
from ._classes import set_classes

#: Lloyd iterations of the constrained k-means that initialises the guided EM.
INIT_ITER = 20


def fit_guided_gmm(
    X, sample_weight, y, groups, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
    max_iter=100, n_init=1, random_state=None, weights_init=None, means_init=None,
    precisions_init=None, class_names=None, **_ignored,
) -> GaussianMixture:
    """Fit a mixture by semi-supervised EM with clamped responsibilities for labelled rows.

    Parameters
    ----------
    X : (n, d) ndarray of float
        Data rows (distinct values or pixels).
    sample_weight : (n,) ndarray
        Positive weight of each row (pixel counts).
    y : (n,) int ndarray
        Class index of each row (0-based), or -1 for unlabelled rows.
    groups : (K,) int ndarray
        Class of every component, contiguous and non-decreasing (e.g. [0, 0, 1, 2]).
    covariance_type, tol, reg_covar, max_iter, n_init, random_state
        As in :class:`~sklearn.mixture.GaussianMixture`.
    weights_init, means_init, precisions_init : array_like, optional
        Initial parameters (all three: no initialisation step, as in scikit-learn);
        otherwise a constrained weighted k-means: labelled rows only join components of
        their class, seeded from the labelled rows' class means (extra components of a
        class and classes without labels by weighted k-means++ seeding).
    class_names : sequence of str, optional
        Stored as ``class_names_``.

    Returns
    -------
    GaussianMixture
        Fitted, with ``component_classes_`` = `groups`.
    """
    X = np.asarray(X, dtype=np.float64)
    w = np.asarray(sample_weight, dtype=np.float64)
    y = np.asarray(y, dtype=np.intp)
    groups = np.asarray(groups, dtype=np.intp)
    k = groups.size
    gmm = GaussianMixture(n_components=k, covariance_type=covariance_type, tol=tol,
                          reg_covar=reg_covar, max_iter=max_iter, n_init=n_init,
                          random_state=random_state)
    gmm._validate_params()
    inits = check_inits(weights_init, means_init, precisions_init, covariance_type, k,
                        X.shape[1])
    allowed = _allowed(y, groups)
    rng = check_random_state(random_state)
    best = None
    for _ in range(n_init):
        params = _initialize(X, w, y, groups, allowed, gmm, inits, rng)
        run = _em_loop(X, w, allowed, params, gmm)
        if best is None or run[2] > best[2]:
            best = run
    return set_classes(finish_fit(gmm, best, X.shape[1]), groups, class_names)


def _allowed(y, groups):
    """Per-row mask of the components a row may belong to (None: every row, all)."""
    if not np.any(y >= 0):
        return None
    allowed = np.ones((y.size, groups.size), dtype=bool)
    labelled = y >= 0
    allowed[labelled] = groups[None, :] == y[labelled, None]
    return allowed


def guided_e_step(X, w, allowed, params, covariance_type):
    """E-step with clamping: (weighted mean lower bound, log-responsibilities)."""
    weights, means, _, prec_chol = params
    wlp = estimate_log_gaussian_prob(X, means, prec_chol, covariance_type) + np.log(weights)
    if allowed is not None:
        wlp = np.where(allowed, wlp, -np.inf)
    top = wlp.max(axis=1)
    with np.errstate(under="ignore"):
        norm = top + np.log(np.exp(wlp - top[:, np.newaxis]).sum(axis=1))
        log_resp = wlp - norm[:, np.newaxis]
    return float(np.dot(w, norm) / w.sum()), log_resp


def _em_loop(X, w, allowed, params, gmm):
    """EM iterations from `params` (as ``BaseMixture.fit_predict``'s inner loop)."""
    lower_bound, bounds, converged, n_iter = -np.inf, [], False, 0
    while n_iter < gmm.max_iter:
        n_iter += 1
        previous = lower_bound
        lower_bound, log_resp = guided_e_step(X, w, allowed, params, gmm.covariance_type)
        params = _m_step(X, w, np.exp(log_resp), gmm)
        bounds.append(lower_bound)
        if abs(lower_bound - previous) < gmm.tol:
            converged = True
            break
    return params, n_iter, lower_bound, bounds, converged


def _initialize(X, w, y, groups, allowed, gmm, inits, rng):
    """Initial (weights, means, covariances, precisions_cholesky)."""
    weights_init, means_init, precisions_init = inits
    cov_type = gmm.covariance_type
    if weights_init is not None and means_init is not None and precisions_init is not None:
        prec_chol = precisions_cholesky_from_precisions(precisions_init, cov_type)
        inverse = 1.0 / precisions_init if cov_type in ("diag", "spherical") else (
            np.linalg.inv(precisions_init))
        return weights_init.copy(), means_init.copy(), inverse, prec_chol
    centres = means_init.copy() if means_init is not None else _seed_centres(X, w, y, groups, rng)
    resp = _constrained_kmeans(X, w, allowed, centres)
    weights, means, covariances, _ = _m_step(X, w, resp, gmm)
    weights = weights if weights_init is None else weights_init.copy()
    means = means if means_init is None else means_init.copy()
    if precisions_init is not None:
        prec_chol = precisions_cholesky_from_precisions(precisions_init, cov_type)
    else:
        prec_chol = _precision_cholesky(covariances, cov_type, groups.size, X.shape[0])
    return weights, means, covariances, prec_chol


def _seed_centres(X, w, y, groups, rng):
    """Initial centres: per class, weighted k-means of its labelled rows (as many clusters
    as it has components); the rest (classes without labels, components a class's labelled
    rows cannot seed) by weighted k-means++ seeding on the unlabelled rows."""
    centres = np.full((groups.size, X.shape[1]), np.nan)
    for c in np.unique(groups):
        comps = np.flatnonzero(groups == c)
        rows = y == c
        if not rows.any():
            continue
        Xc, wc = X[rows], w[rows]
        m = min(comps.size, np.unique(Xc, axis=0).shape[0])
        if m == 1:
            centres[comps[0]] = np.average(Xc, axis=0, weights=wc)
        else:
            km = KMeans(n_clusters=m, n_init=1, random_state=rng).fit(Xc, sample_weight=wc)
            order = np.argsort(km.cluster_centers_.mean(axis=1), kind="stable")
            centres[comps[:m]] = km.cluster_centers_[order]
    pool = y < 0 if np.any(y < 0) else np.ones(y.size, dtype=bool)
    Xp, wp = X[pool], w[pool]
    for comp in np.flatnonzero(np.isnan(centres[:, 0])):
        known = centres[~np.isnan(centres[:, 0])]
        if known.shape[0] == 0:
            p = wp / wp.sum()
        else:
            d2 = ((Xp[:, None, :] - known[None]) ** 2).sum(axis=2).min(axis=1)
            p = wp * d2
            p = p / p.sum() if p.sum() > 0 else wp / wp.sum()
        centres[comp] = Xp[rng.choice(Xp.shape[0], p=p)]
    return centres


def _constrained_kmeans(X, w, allowed, centres, n_iter=INIT_ITER):
    """Hard responsibilities of weighted k-means in which labelled rows only join the
    components of their class (centres updated, then rows reassigned, `n_iter` times)."""
    centres = centres.copy()
    resp = np.zeros((X.shape[0], centres.shape[0]))
    previous = None
    for _ in range(n_iter):
        d2 = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2)
        if allowed is not None:
            d2 = np.where(allowed, d2, np.inf)
        nearest = d2.argmin(axis=1)
        if previous is not None and np.array_equal(nearest, previous):
            break
        previous = nearest
        resp[:] = 0.0
        resp[np.arange(X.shape[0]), nearest] = 1.0
        mass = resp.T @ w
        moved = (resp * w[:, None]).T @ X
        filled = mass > 0
        centres[filled] = moved[filled] / mass[filled, None]
    return resp
