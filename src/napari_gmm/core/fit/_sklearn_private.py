"""The one place that touches scikit-learn's private mixture helpers.

Why: ``GaussianMixture`` has no ``sample_weight`` (scikit-learn issue 15647) and no public
way to evaluate log densities or to set fitted parameters from outside ``fit``. Our exact
weighted EM, the HMRF M-step and the lookup-table prediction need exactly the maths
scikit-learn uses, so that ``labels == model.predict(X) + 1`` holds to the bit. The helpers
below have had the same signatures from scikit-learn 1.0 through 1.9 (checked against the
sources); the test suite exercises every one of them, so a change in a future release fails
loudly in CI rather than silently here. Everything else imports them from this module.
"""

from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import (
    _compute_precision_cholesky,
    _estimate_gaussian_parameters,
    _estimate_log_gaussian_prob,
)

__all__ = [
    "compute_precision_cholesky",
    "estimate_gaussian_parameters",
    "estimate_log_gaussian_prob",
    "n_parameters",
    "set_parameters",
    "weighted_log_prob",
    "with_estep",
]


def compute_precision_cholesky(covariances, covariance_type):
    """Cholesky factors of the precisions, as ``GaussianMixture`` stores them."""
    return _compute_precision_cholesky(covariances, covariance_type)


def estimate_gaussian_parameters(X, resp, reg_covar, covariance_type):
    """M-step statistics ``(nk, means, covariances)`` from responsibilities."""
    return _estimate_gaussian_parameters(X, resp, reg_covar, covariance_type)


def estimate_log_gaussian_prob(X, means, precisions_chol, covariance_type):
    """Per-component Gaussian log densities, shape ``(n_samples, K)``."""
    return _estimate_log_gaussian_prob(X, means, precisions_chol, covariance_type)


def weighted_log_prob(gmm: GaussianMixture, X) -> np.ndarray:
    """``log p(x, k) = log w_k + log N(x | k)``: what ``predict`` takes the argmax of."""
    return gmm._estimate_weighted_log_prob(np.asarray(X, dtype=np.float64))


def set_parameters(gmm: GaussianMixture, params) -> None:
    """Set ``(weights, means, covariances, precisions_cholesky)`` and derived precisions."""
    gmm._set_parameters(params)


def n_parameters(gmm: GaussianMixture) -> int:
    """Number of free parameters of the mixture (for BIC/AIC)."""
    return int(gmm._n_parameters())


def with_estep(log_prob_resp):
    """A ``GaussianMixture`` subclass whose private E-step is ``log_prob_resp(gmm, X) ->
    (log_norm, log_resp)`` (e.g. :func:`._compiled_estep.log_prob_resp`).

    The override takes the ``xp`` (array API namespace) argument that recent releases pass
    and older ones do not; only numpy arrays come here.
    """

    class WithEStep(GaussianMixture):
        def _estimate_log_prob_resp(self, X, xp=None):
            return log_prob_resp(self, X)

    return WithEStep
