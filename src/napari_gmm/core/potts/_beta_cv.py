"""The Potts strength chosen by cross-validation: the held-out likelihood of hidden pixels.

A random tenth of the pixels is *hidden*: the pipeline's HMRF-EM (mean-field sweeps, one
M-step, sweeps) runs with them missing, and what the visible neighbours then predict for a
hidden pixel ``i``, ``q_i = softmax_k(log pi_k + beta * m_ik)`` (``m_ik`` the neighbours'
mean posterior of class ``k``), is scored by its value ``x_i``: the held-out predictive
log-likelihood ``log sum_k q_ik N(x_i | k)``. A strength that erases a 1-voxel band makes
its neighbours predict the wrong tissue there with confidence, and the band's hidden
pixels pay for it; a strength too weak predicts little. At ``beta = 0`` the score is the
mixture's own log-likelihood. Every class weighs the same in the score, as in a mean Dice.

That alone does not see a class being *emptied*: when the re-estimation after a strong
prior drains a thin class, the re-estimated mixture still predicts the hidden values about
as well. So a strength is only eligible when every class keeps at least :data:`KEEP` of
its plain-EM weight in the re-estimated mixture.

This differs from the pseudo-likelihood estimate of :mod:`._auto_smoothing`, which fits the
coupling of the posterior label *field* and is pulled towards strengths that make that
field smooth: on cortex-like phantoms (1-2 voxel bands, ``benchmarks/bench_anatomy.py``)
it chooses strengths that erase the bands.

:func:`fit_message_scale` fits, on the same hidden pixels, the factor on the neighbours'
messages of best held-out likelihood; used to rescale the mean-field posteriors it left
their calibration error on the phantoms unchanged, so the pipeline does not use it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp
from sklearn.utils import check_random_state

from .._features import PixelData
from ..fit._sklearn_private import weighted_log_prob
from ._hmrf_rounds import hmrf_em
from ._neighbours import POTTS_SCALE, neighbour_kernel

#: Fraction of the valid pixels hidden.
HOLD_OUT = 0.1
#: Strengths scored by ``smoothing='held-out'`` (``smoothing`` units, beta / POTTS_SCALE).
GRID = (0.0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0)
#: Mean-field sweeps before and after the M-step of a scored run (the pipeline runs 6 and 6;
#: the benchmark numbers were measured with 12 and 12).
SWEEPS = 12
#: Smallest share of its plain-EM weight a class may keep after the HMRF-EM re-estimation:
#: a strength that shrinks a class more is erasing a structure, not removing noise. On the
#: anatomy phantoms the strengths that empty a 1-voxel grey band shrink it to 0.2-0.55 of
#: its weight, while those that help keep >= 0.6 (``benchmarks/bench_anatomy.py``).
KEEP = 0.6
#: Largest number of pixels scored (a central block of larger images).
MAX_PIXELS = 1 << 20
#: Fewest hidden pixels a strength is scored on (fewer: images of ~100 pixels, too small
#: to judge a prior by; 'held-out' gives them none and 'auto' keeps its estimate).
MIN_HIDDEN = 10


def hidden_mask(valid, rng, fraction=HOLD_OUT):
    """A random boolean mask of about `fraction` of the `valid` pixels (spatial shape)."""
    hide = rng.random(valid.shape) < fraction
    return hide & valid


def held_out_score(q_hidden, lp_hidden, log_weights, weights=None) -> float:
    """Mean predictive log-likelihood ``log sum_k q_k N(x | k)`` of hidden pixels.

    Parameters
    ----------
    q_hidden : (n, K) array
        Predicted class probabilities of the hidden pixels (from their neighbours).
    lp_hidden : (n, K) array
        Their weighted log-likelihoods ``log pi_k + log N(x | k)``.
    log_weights : (K,) array
        ``log pi_k``.
    weights : (n,) array, optional
        Weight of each hidden pixel in the mean (default equal).

    Examples
    --------
    >>> lp = np.log([[0.5 * 0.2, 0.5 * 0.01]])  # N(x|1) = 0.2, N(x|2) = 0.01
    >>> round(held_out_score(np.array([[0.5, 0.5]]), lp, np.log([0.5, 0.5])), 4)
    -2.2538
    """
    log_q = np.log(np.maximum(np.asarray(q_hidden, dtype=np.float64), 1e-30))
    dens = np.asarray(lp_hidden, dtype=np.float64) - np.asarray(log_weights)
    return float(np.average(logsumexp(log_q + dens, axis=1), weights=weights))


def _run(gmm, features, visible, hide, smoothing, spacing, seed):
    """One HMRF-EM run of the pipeline with the hidden pixels missing; held-out terms."""
    model, q = hmrf_em(gmm, features, smoothing=smoothing, valid=visible, spacing=spacing,
                       n_rounds=1, n_iter=SWEEPS, random_state=seed)
    messages = neighbour_messages(q, visible, spacing)[hide]
    lp = weighted_log_prob(model, features[hide].reshape(-1, features.shape[-1]))
    log_weights = np.log(np.maximum(model.weights_, 1e-12))
    return model, messages, lp, log_weights


def predicted(messages, log_weights, beta):
    """``softmax_k(log pi_k + beta * m_k)`` row by row (float64)."""
    z = np.asarray(log_weights, dtype=np.float64) + beta * np.asarray(messages, np.float64)
    return np.exp(z - logsumexp(z, axis=1, keepdims=True))


class HeldOut:
    """Held-out scoring of strengths on one image (see the module docstring).

    Parameters
    ----------
    gmm : GaussianMixture
        Fitted mixture (not modified).
    data : PixelData
        The image's pixels (a central block of `MAX_PIXELS` when larger).
    scale : sequence of float, optional
        Physical pixel size per spatial axis.
    random_state : int or None
        Seed of the hidden pixels and of the M-step subsample.

    Each strength is scored once (``score(s)``, cached in ``scores``): the pipeline's
    HMRF-EM (mean-field sweeps, one M-step, sweeps) runs with the hidden pixels missing,
    and the hidden pixels are scored by :func:`held_out_score`, every class weighing the
    same (a hidden pixel weighs ``sum_k r_k / pi_k``, ``r`` its plain posteriors, as each
    class weighs the same in a mean Dice). ``kept[s]`` is the smallest share of its weight
    a class keeps in that run's re-estimated mixture, ``weights[s]`` that mixture's weights.
    """

    def __init__(self, gmm, data: PixelData, *, scale=None, random_state=0):
        from ._auto_smoothing import central_crop

        if data.n_pixels > MAX_PIXELS:
            data = central_crop(data, MAX_PIXELS)
        rng = np.random.default_rng(random_state)
        self.seed = int(rng.integers(2**31 - 1))
        self.gmm, self.scale = gmm, scale
        self.features = data.to_spatial(data.features)
        valid = np.isfinite(self.features).all(axis=-1)
        if data.valid is not None:
            valid &= data.to_spatial(data.valid)
        self.hide = hidden_mask(valid, rng)
        self.visible = valid & ~self.hide
        hidden = self.features[self.hide].reshape(-1, data.n_features)
        self.n_hidden = hidden.shape[0]
        resp = (gmm.predict_proba(hidden) if self.n_hidden
                else np.zeros((0, gmm.n_components)))
        self.balance = (resp / np.maximum(gmm.weights_, 1e-12)).sum(axis=1)
        self.scores = {}
        self.kept = {}
        self.weights = {}

    def score(self, smoothing) -> float:
        """Held-out balanced mean log-likelihood of one strength (cached)."""
        s = round(float(smoothing), 4)
        if s not in self.scores:
            model, messages, lp, lw = _run(self.gmm, self.features, self.visible, self.hide,
                                           s, self.scale, self.seed)
            q = predicted(messages, lw, s * POTTS_SCALE)
            self.scores[s] = held_out_score(q, lp, lw, self.balance)
            share = model.weights_ / np.maximum(self.gmm.weights_, 1e-12)
            self.kept[s] = float(share.min())
            self.weights[s] = np.array(model.weights_, dtype=np.float64)
        return self.scores[s]

    def best(self, candidates) -> float:
        """The candidate strength of highest score (the smaller one on ties) among those
        that keep every class (:data:`KEEP`); 0 when none does."""
        values = [self.score(s) for s in candidates]
        keeps = [s == 0 or self.kept[round(float(s), 4)] >= KEEP for s in candidates]
        candidates = [s for s, k in zip(candidates, keeps, strict=True) if k] or [0.0]
        values = [self.score(s) for s in candidates]
        top = max(values)
        return float(min(s for s, v in zip(candidates, values, strict=True) if v == top))


def cv_smoothing(gmm, data: PixelData, *, scale=None, random_state=0, grid=GRID):
    """The smoothing strength of `grid` with the best held-out score (:class:`HeldOut`).

    Returns
    -------
    smoothing : float
    scores : dict of float -> float
        Held-out score of every strength.
    """
    held = HeldOut(gmm, data, scale=scale, random_state=random_state)
    if held.n_hidden < MIN_HIDDEN:  # a tiny image: nothing to score, no prior
        return 0.0, {}
    return held.best(list(grid)), dict(sorted(held.scores.items()))


def held_out_smoothing(gmm, data: PixelData, *, scale=None, random_state=None) -> float:
    """``smoothing='held-out'``: the strength of `GRID` with the best held-out score."""
    seed = int(check_random_state(random_state).randint(2**31 - 1))
    return cv_smoothing(gmm, data, scale=scale, random_state=seed)[0]


def neighbour_messages(q, valid, spacing=None):
    """Mean posterior of every pixel's valid face neighbours, (*spatial, K) float32.

    Computed with ``scipy.ndimage.correlate`` and the kernel of :func:`neighbour_kernel`,
    averaged over the neighbours that exist (as the mean-field updates do).
    """
    kernel = neighbour_kernel(valid.ndim, spacing)
    present = ndimage.correlate(valid.astype(np.float32), kernel, mode="constant")
    out = np.empty(q.shape, dtype=np.float32)
    for k in range(q.shape[-1]):
        plane = np.where(valid, q[..., k], 0).astype(np.float32)
        out[..., k] = ndimage.correlate(plane, kernel, mode="constant")
    np.divide(out, present[..., None], out=out, where=present[..., None] > 0)
    out[present <= 0] = 0.0
    return out


def fit_message_scale(messages, lp_hidden, log_weights, *, upper=4.0 * POTTS_SCALE) -> float:
    """The factor on the neighbours' messages of best held-out likelihood (nats).

    Parameters
    ----------
    messages : (n, K) array
        Neighbour mean posteriors of the hidden pixels (from a run without their data).
    lp_hidden : (n, K) array
        Their weighted log-likelihoods.
    log_weights : (K,) array
        ``log pi_k``.

    Returns
    -------
    float
        ``argmax_g mean log sum_k softmax(log pi + g m)_k N(x | k)`` over ``[0, upper]``.
    """
    m = np.asarray(messages, dtype=np.float64)
    lw = np.asarray(log_weights, dtype=np.float64)

    def negative(g):
        z = lw + g * m
        q = np.exp(z - logsumexp(z, axis=1, keepdims=True))
        return -held_out_score(q, lp_hidden, lw)

    return float(minimize_scalar(negative, bounds=(0.0, upper), method="bounded").x)
