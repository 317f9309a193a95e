"""The bias field under the Potts prior: rounds of smoothed posteriors and field steps.

With ``smoothing > 0`` the per-pixel rounds of :mod:`._bias` are followed by rounds in
which the posteriors are the mean-field Potts posteriors of the corrected image (and the
mixture is re-estimated from them, HMRF-EM), as FSL FAST estimates its bias field from
the regularised posteriors. At high noise the per-pixel posteriors of neighbouring pixels
disagree at random, and a field fitted to them can settle on a wrong shape that the prior
would not allow; the smoothed posteriors pin it down. Each round costs a few mean-field
sweeps over the whole image, so only a few rounds run, from the per-pixel estimate (which
is computed on a copy of the image smoothed by a narrow Gaussian, see
:func:`._bias_fit.denoised`).
"""

from __future__ import annotations

import copy

import numpy as np

from ..fit._empty import collapsing
from ..potts._hmrf import regularize
from ._ecm import field_on_grid
from ._steps import (
    class_precisions,
    corrected_data,
    newton_inverse_field,
    rescale,
    valid_mean,
)

#: Largest number of rounds, and the change of the field (at every sampled pixel) that
#: stops them.
HMRF_ROUNDS = 6
HMRF_TOL = 1e-3


def iter_smoothed_field(
    gmm, data, block, rows, basis, coef, *, smoothing, scale, max_samples, seed,
    fit_mixture=True, normalise=True,
):
    """Generator: yields the fraction of rounds done; returns ``(gmm, coef, u_range)``.

    Parameters
    ----------
    gmm : GaussianMixture
        Mixture of the corrected values ``y u`` (not modified).
    data : PixelData
        The uncorrected pixels.
    block : Block
        The sampled pixels (``rows``, flat indices) of `data` and the basis there.
    basis : PolynomialBasis
        The field's basis on the image grid.
    coef : ndarray
        Coefficients of ``u = 1 / b`` from the per-pixel rounds.
    smoothing : float
        Potts prior strength (> 0).
    scale : tuple of float or None
        Pixel size per spatial axis (neighbour weights).
    max_samples, seed
        M-step subsample size and seed of the mixture re-estimation.
    fit_mixture : bool, default True
        Re-estimate the mixture each round (False: fixed, as in ``apply_model``).
    normalise : bool, default True
        Keep the field at mean 1 over the valid pixels (rescaling the mixture).
    """
    gmm = copy.deepcopy(gmm)
    u = block.design @ coef
    start_weights = gmm.weights_.copy()
    for r in range(HMRF_ROUNDS):
        field = field_on_grid(basis, coef, (float(u.min()), float(u.max())))
        if normalise:
            s = valid_mean(field, data)
            field /= np.float32(s)
            coef, u = coef * s, u * s
            rescale(gmm, s)
        new_gmm, _, _, q = regularize(
            gmm, corrected_data(data, field), None, smoothing=smoothing, scale=scale,
            max_samples=max_samples, random_state=seed, reestimate=fit_mixture,
        )
        if fit_mixture and collapsing(start_weights, new_gmm.weights_).size:
            break  # this round would empty a class: keep the previous mixture and field
        gmm = new_gmm
        q_rows = np.asarray(q[rows], dtype=np.float64)
        del q
        coef = newton_inverse_field(block, q_rows, gmm, class_precisions(gmm), coef, 25)
        new_u = block.design @ coef
        change = float(np.max(np.abs(1.0 / new_u - 1.0 / u)))
        u = new_u
        yield (r + 1) / HMRF_ROUNDS
        if change < HMRF_TOL:
            break
    return gmm, coef, (float(u.min()), float(u.max()))
