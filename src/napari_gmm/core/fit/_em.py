"""EM for Gaussian mixtures on weighted samples (distinct values and their counts).

scikit-learn's :class:`~sklearn.mixture.GaussianMixture` has no ``sample_weight``
(scikit-learn issue 15647). :func:`fit_weighted_gmm` runs the same EM as
``GaussianMixture.fit`` would on ``np.repeat(X, sample_weight, axis=0)``, but on the rows of
``X`` only: every sufficient statistic is a weighted sum, and the lower bound is the mean
log-likelihood per expanded sample. The result is a fitted ``GaussianMixture``.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ._em_init import check_inits, initial_resp, precisions_cholesky_from_precisions
from ._sklearn_private import compute_precision_cholesky, estimate_log_gaussian_prob

_EPS10 = 10 * np.finfo(np.float64).eps  # added to each nk, as scikit-learn does


def weighted_gaussian_parameters(X, sample_weight, resp, reg_covar, covariance_type):
    """Weighted M-step: scikit-learn's ``_estimate_gaussian_parameters`` on expanded data.

    Each row i counts ``sample_weight[i]`` times, so every sum over samples becomes a sum
    over rows of ``w_i * (...)``; the covariance formulas are scikit-learn's
    ``_estimate_gaussian_covariances_*`` with that substitution.

    Parameters
    ----------
    X : (n, d) ndarray of float64
    sample_weight : (n,) ndarray of float64
    resp : (n, K) ndarray of float64
        Responsibilities of each row.
    reg_covar : float
        Added to the diagonal of the covariances.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    nk : (K,) ndarray
        Weighted responsibility sums (+ 10 eps).
    means : (K, d) ndarray
    covariances : ndarray
        (K, d, d) 'full', (d, d) 'tied', (K, d) 'diag', (K,) 'spherical'.
    """
    wresp = resp * sample_weight[:, np.newaxis]
    nk = wresp.sum(axis=0) + _EPS10
    means = (wresp.T @ X) / nk[:, np.newaxis]
    d = X.shape[1]
    if covariance_type == "full":
        cov = np.empty((nk.size, d, d))
        for k in range(nk.size):
            diff = X - means[k]
            cov[k] = ((wresp[:, k] * diff.T) @ diff) / nk[k]
            cov[k].flat[:: d + 1] += reg_covar
    elif covariance_type == "tied":
        avg_x2 = X.T @ (X * sample_weight[:, np.newaxis])
        cov = (avg_x2 - (nk * means.T) @ means) / nk.sum()
        cov.flat[:: d + 1] += reg_covar
    else:
        cov = (wresp.T @ (X * X)) / nk[:, np.newaxis] - means**2 + reg_covar
        if covariance_type == "spherical":
            cov = cov.mean(axis=1)
    return nk, means, cov


def weighted_e_step(X, sample_weight, weights, means, prec_chol, covariance_type):
    """E-step: weighted mean log-likelihood (the lower bound) and log-responsibilities."""
    wlp = estimate_log_gaussian_prob(X, means, prec_chol, covariance_type) + np.log(weights)
    # max-shifted log-sum-exp in plain numpy: scipy's logsumexp adds array-API dispatch and
    # checks that cost ~30% of an iteration on tens of thousands of distinct colours
    top = wlp.max(axis=1)
    with np.errstate(under="ignore"):
        log_prob_norm = top + np.log(np.exp(wlp - top[:, np.newaxis]).sum(axis=1))
    with np.errstate(under="ignore"):
        log_resp = wlp - log_prob_norm[:, np.newaxis]
    lower_bound = float(np.dot(sample_weight, log_prob_norm) / sample_weight.sum())
    return lower_bound, log_resp


def fit_weighted_gmm(
    X,
    sample_weight,
    n_components,
    *,
    covariance_type="full",
    tol=1e-3,
    reg_covar=1e-6,
    max_iter=100,
    n_init=1,
    init_params="kmeans",
    random_state=None,
    weights_init=None,
    means_init=None,
    precisions_init=None,
) -> GaussianMixture:
    """Fit a Gaussian mixture by EM to weighted samples.

    Equivalent to ``GaussianMixture(...).fit(np.repeat(X, sample_weight, axis=0))`` for
    integer weights (same E/M steps, lower bound, convergence test, ``n_init`` selection and
    explicit initial parameters); the random initialisations are the weighted counterparts
    of scikit-learn's and so draw different numbers.

    Parameters
    ----------
    X : (n, d) array_like
        Data points, normally distinct (e.g. the distinct values of an integer image).
    sample_weight : (n,) array_like
        Positive weight of each point (e.g. its pixel count, up to ~1e8 is fine).
    n_components : int
        Number of components; at most ``n``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        Convergence threshold on the change of the mean log-likelihood per sample.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of the covariances.
    max_iter : int, default=100
        EM iterations per initialisation.
    n_init : int, default=1
        Number of initialisations; the best lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        'kmeans' runs weighted k-means, 'k-means++' weighted seeding, 'random' random
        responsibilities per point, 'random_from_data' K distinct points drawn with
        probability proportional to their weight.
    random_state : int, RandomState instance or None, default=None
    weights_init : (n_components,) array_like, default=None
    means_init : (n_components, d) array_like, default=None
    precisions_init : array_like, default=None
        As in :class:`~sklearn.mixture.GaussianMixture`; they override the initialisation.

    Returns
    -------
    gmm : sklearn.mixture.GaussianMixture
        A fitted estimator: ``predict``, ``predict_proba``, ``score``, ``score_samples``,
        ``bic``, ``aic`` and ``sample`` work; ``gmm.predict(X)`` gives the labels
        scikit-learn's ``fit_predict`` would give for the expanded data.

    Raises
    ------
    ValueError
        On invalid parameters, weights that are not positive and finite, fewer distinct
        points than components, or a covariance that became singular.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        When the best initialisation did not converge within `max_iter` iterations.
    """
    gmm = GaussianMixture(
        n_components=n_components,
        covariance_type=covariance_type,
        tol=tol,
        reg_covar=reg_covar,
        max_iter=max_iter,
        n_init=n_init,
        init_params=init_params,
        random_state=random_state,
        weights_init=weights_init,
        means_init=means_init,
        precisions_init=precisions_init,
    )
    gmm._validate_params()  # scikit-learn's own checks and messages for the parameters
    X = check_array(X, dtype=np.float64, ensure_min_samples=1)
    w = _check_sample_weight(sample_weight, X.shape[0])
    if X.shape[0] < n_components:
        raise ValueError(
            f"The data has only {X.shape[0]} distinct values, fewer than "
            f"n_components={n_components}: reduce n_components to at most {X.shape[0]}."
        )
    inits = check_inits(
        weights_init, means_init, precisions_init, covariance_type, n_components, X.shape[1]
    )
    fit = _run_em(X, w, gmm, inits, check_random_state(random_state))
    return finish_fit(gmm, fit, X.shape[1], warn=max_iter > 0)


def finish_fit(gmm, fit, n_features: int, *, warn: bool = True, stacklevel: int = 2):
    """Set the best run ``(params, n_iter, lower_bound, lower_bounds, converged)`` on `gmm`
    as fitted attributes, warning (as scikit-learn does) when it did not converge;
    `stacklevel` as seen from the fitting function that calls this one."""
    params, gmm.n_iter_, gmm.lower_bound_, gmm.lower_bounds_, gmm.converged_ = fit
    if not gmm.converged_ and warn:
        warnings.warn(
            "Best performing initialization did not converge. Try different init "
            "parameters, or increase max_iter, tol, or check for degenerate data.",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )
    _set_fitted(gmm, params, n_features)
    return gmm


def _check_sample_weight(sample_weight, n) -> np.ndarray:
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}.")
    if not (np.all(np.isfinite(w)) and np.all(w > 0)):
        raise ValueError("sample_weight must be positive and finite (counts of each value).")
    return w


def _run_em(X, w, gmm, inits, rng):
    """The loop of ``BaseMixture.fit_predict`` (over inits, then EM iterations)."""
    max_lower_bound, best_lower_bounds, best_converged = -np.inf, [], False
    best_params, best_n_iter = None, 0
    for _ in range(gmm.n_init):
        params = _initialize(X, w, gmm, inits, rng)
        lower_bound, current_lower_bounds = -np.inf, []
        if gmm.max_iter == 0:
            best_params, best_n_iter = params, 0
            continue
        converged, n_iter = False, 0
        while n_iter < gmm.max_iter:
            n_iter += 1
            prev_lower_bound = lower_bound
            weights, means, _, prec_chol = params
            lower_bound, log_resp = weighted_e_step(
                X, w, weights, means, prec_chol, gmm.covariance_type
            )
            params = _m_step(X, w, np.exp(log_resp), gmm)
            current_lower_bounds.append(lower_bound)
            if abs(lower_bound - prev_lower_bound) < gmm.tol:
                converged = True
                break
        if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
            max_lower_bound, best_params, best_n_iter = lower_bound, params, n_iter
            best_lower_bounds, best_converged = current_lower_bounds, converged
    return best_params, best_n_iter, max_lower_bound, best_lower_bounds, best_converged


def _initialize(X, w, gmm, inits, rng):
    """``GaussianMixture._initialize_parameters`` + ``_initialize`` on weighted rows."""
    weights_init, means_init, precisions_init = inits
    k, cov_type = gmm.n_components, gmm.covariance_type
    weights = means = covariances = None
    if weights_init is None or means_init is None or precisions_init is None:
        resp = initial_resp(X, w, k, gmm.init_params, rng)
        weights, means, covariances = weighted_gaussian_parameters(
            X, w, resp, gmm.reg_covar, cov_type
        )
        weights = weights / w.sum()
    weights = weights if weights_init is None else weights_init.copy()
    means = means if means_init is None else means_init.copy()
    if precisions_init is None:
        prec_chol = _precision_cholesky(covariances, cov_type, k, X.shape[0])
    else:
        prec_chol = precisions_cholesky_from_precisions(precisions_init, cov_type)
        # scikit-learn leaves covariances_ unset here (EM sets it); keep max_iter=0 usable
        covariances = _inverse(precisions_init, cov_type)
    return weights, means, covariances, prec_chol


def _m_step(X, w, resp, gmm):
    k, cov_type = gmm.n_components, gmm.covariance_type
    nk, means, covariances = weighted_gaussian_parameters(X, w, resp, gmm.reg_covar, cov_type)
    weights = nk / nk.sum()
    return weights, means, covariances, _precision_cholesky(covariances, cov_type, k, X.shape[0])


def _precision_cholesky(covariances, covariance_type, n_components, n_distinct):
    try:
        return compute_precision_cholesky(covariances, covariance_type)
    except (ValueError, np.linalg.LinAlgError) as err:
        raise ValueError(
            "Fitting the mixture failed because a component's covariance became singular "
            "(ill-defined empirical covariance: the component collapsed onto too few of the "
            f"{n_distinct} distinct values). Increase reg_covar (e.g. to 1e-3 or more, in "
            f"squared data units) or reduce n_components (currently {n_components})."
        ) from err


def _inverse(precisions, covariance_type):
    if covariance_type in ("diag", "spherical"):
        return 1.0 / precisions
    return np.linalg.inv(precisions)


def _set_fitted(gmm, params, n_features):
    """Set the fitted attributes as scikit-learn's ``set_parameters`` step does."""
    gmm.weights_, gmm.means_, gmm.covariances_, gmm.precisions_cholesky_ = params
    pc = gmm.precisions_cholesky_
    if gmm.covariance_type == "full":
        gmm.precisions_ = pc @ np.swapaxes(pc, 1, 2)
    elif gmm.covariance_type == "tied":
        gmm.precisions_ = pc @ pc.T
    else:
        gmm.precisions_ = pc**2
    gmm.n_features_in_ = n_features
