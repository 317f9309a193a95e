"""The weighted M-step of HMRF-EM: mixture parameters from (regularised) posteriors."""

from __future__ import annotations

import numpy as np

from ..fit._fit import single_threaded_blas
from ..fit._sklearn_private import (
    compute_precision_cholesky,
    estimate_gaussian_parameters,
    set_parameters,
)


def m_step_from_posteriors(X, q, covariance_type="full", reg_covar=1e-6):
    """Mixture parameters re-estimated from (regularised) posteriors: a weighted M-step.

    Parameters
    ----------
    X : array of shape (n_pixels, n_features)
        Pixel features (valid pixels only, or a random subsample of them).
    q : array of shape (n_pixels, K)
        Posteriors of those pixels, e.g. rows of :func:`._meanfield.potts_posteriors`.
    covariance_type : {"full", "tied", "diag", "spherical"}, default "full"
    reg_covar : float, default 1e-6
        Added to the covariance diagonals, as in scikit-learn.

    Returns
    -------
    weights, means, covariances, precisions_cholesky
        In scikit-learn's layout, for ``set_parameters(gmm, (weights, means, ...))``.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [10.0], [12.0]])
    >>> q = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> w, m, c, p = m_step_from_posteriors(X, q)
    >>> w.round(3).tolist(), m.ravel().round(3).tolist(), c.ravel().round(3).tolist()
    ([0.5, 0.5], [0.5, 11.0], [0.25, 1.0])
    """
    X = np.asarray(X, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if X.ndim != 2 or q.ndim != 2 or X.shape[0] != q.shape[0] or X.shape[0] == 0:
        raise ValueError(
            f"X must be (n_pixels, n_features) and q (n_pixels, K) with the same non-zero "
            f"number of rows, got {X.shape} and {q.shape}."
        )
    nk, means, covariances = estimate_gaussian_parameters(X, q, reg_covar, covariance_type)
    weights = nk / nk.sum()
    return weights, means, covariances, compute_precision_cholesky(covariances, covariance_type)


def update_mixture(gmm, X, q_rows) -> None:
    """One weighted M-step of `gmm` in place from posteriors `q_rows` of the rows `X`.

    On one BLAS thread (:func:`..fit._fit.single_threaded_blas`): the products are tall and
    thin, and idle BLAS threads would spin on the cores the next compiled pass needs.
    """
    with single_threaded_blas():
        weights, means, covs, prec_chol = m_step_from_posteriors(
            X, q_rows, gmm.covariance_type, gmm.reg_covar
        )
    set_keeping_empty(gmm, (weights, means, covs, prec_chol), X.shape[0])


def set_keeping_empty(gmm, params, n_valid) -> None:
    """Set M-step `params` on `gmm`; a component the prior has emptied (weight below one of
    `n_valid` pixels) keeps its previous shape, with ~zero weight."""
    weights, means, covs, prec_chol = params
    empty = weights * n_valid < 1.0
    if empty.any():
        means[empty] = gmm.means_[empty]
        if gmm.covariance_type != "tied":
            covs[empty] = gmm.covariances_[empty]
            prec_chol[empty] = gmm.precisions_cholesky_[empty]
    set_parameters(gmm, (weights, means, covs, prec_chol))
