"""scikit-learn's EM with its E-step compiled and parallel (numba backend).

The fit of ``segment`` runs scikit-learn's :class:`~sklearn.mixture.GaussianMixture` on a
subsample of the pixels. Its E-step (weighted log-probabilities, ``logsumexp``, log
responsibilities) is serial numpy and costs most of the fit, which would then be the
largest serial part of a segmentation on several cores.
:func:`._sklearn_private.with_estep` replaces only that method by one parallel
pass (:func:`log_resp_kernel`, the arithmetic of :func:`.._nb_estep.pixel_wlp`);
initialisation, M-step, convergence test and everything else stay scikit-learn's, so the
fitted parameters equal scikit-learn's to round-off (the tests compare them). After the fit
the object is a plain ``GaussianMixture`` again.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from sklearn.mixture import GaussianMixture

from .._nb_estep import BLOCK, KERNEL_LOCK, kernel_params
from .._nb_runs import pixel_wlp
from ._sklearn_private import with_estep


@njit(cache=True, parallel=True, fastmath=False)
def log_resp_kernel(X, means, prec, const, log_resp, log_norm):
    """``log_norm[i] = logsumexp_k z_ik`` and ``log_resp[i, k] = z_ik - log_norm[i]`` of
    the weighted log-probabilities ``z`` of rows `X` (N, C) float64."""
    n = X.shape[0]
    n_comp, n_chan = means.shape
    for b in prange((n + BLOCK - 1) // BLOCK):
        z = np.empty(n_comp)
        d = np.empty(n_chan)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            pixel_wlp(X, i, means, prec, const, d, z)
            top = z[0]
            for k in range(1, n_comp):
                top = max(top, z[k])
            total = 0.0
            for k in range(n_comp):
                total += np.exp(z[k] - top)
            lse = top + np.log(total)
            log_norm[i] = lse
            for k in range(n_comp):
                log_resp[i, k] = z[k] - lse


def log_prob_resp(gmm, X):
    """``(log_norm, log_resp)`` of rows `X` under `gmm` (scikit-learn's E-step values) by
    :func:`log_resp_kernel`."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    log_resp = np.empty((X.shape[0], gmm.n_components))
    log_norm = np.empty(X.shape[0])
    with KERNEL_LOCK:
        log_resp_kernel(X, *kernel_params(gmm), log_resp, log_norm)
    return log_norm, log_resp


def fit_compiled(X, params) -> GaussianMixture:
    """``GaussianMixture(**params).fit(X)`` with the compiled E-step; a plain mixture."""
    gmm = _COMPILED(**params)
    try:
        gmm.fit(X)
    finally:
        gmm.__class__ = GaussianMixture
    return gmm


_COMPILED = with_estep(log_prob_resp)
