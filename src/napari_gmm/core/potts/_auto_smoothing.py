"""``smoothing='auto'``: the Potts prior strength estimated from the image.

Method: stochastic EM for a hidden Markov random field with the Potts coupling ``beta``
estimated by maximum pseudo-likelihood (Besag, The Statistician 24, 1975) on label fields
drawn from the posterior, the "simulated field" variant of Celeux, Forbes & Peyrard
(Pattern Recognition 36, 2003; also Chalmond, Pattern Recognition 22, 1989). Each round:

1. a few checkerboard Gibbs sweeps (:class:`._gibbs.PottsGibbs`) of the posterior
   ``p(z | x; beta, mixture)``, continuing the chain of the previous round;
2. ``beta <- argmax_b sum_i log p(z_i | z_neighbours; b)`` on the last sample ``z``, with
   ``p(z_i = k | ...) = softmax_k(b * m_ik)`` and ``m_ik`` the weighted share of the
   neighbours of ``i`` in class ``k`` (the energy of :func:`._spatial.potts_posteriors`); a
   1-D concave problem, solved by bounded scalar minimisation;
3. the mixture re-estimated from the Rao-Blackwellised marginals of the sweeps (M-step).

Estimating ``beta`` on posterior *samples* rather than on the mean-field labels matters:
the mean-field labels of a noisy image are too smooth at large ``beta`` and too rough at
small ``beta``, so pseudo-likelihood on them drifts to an extreme, while a sample from the
posterior has the roughness of the prior when the model holds. Re-estimating the mixture
along the way matters at high noise, where the per-pixel fit overestimates the class
variances. The estimate is clipped to ``[0, MAX_SMOOTHING]``.

On the synthetic benchmark cases (``benchmarks/bench_quality.py``: 2D 3-class images with
region sizes 1-4 pixels, 3D blobs, 1-2 pixel lines; noise 0.3-0.7 x class spacing) the
estimate is within 0.01 accuracy of the best fixed strength except where it says otherwise.
"""

from __future__ import annotations

import copy

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.utils import check_random_state

from .._features import PixelData
from .._predict import pixel_log_prob
from ..fit._fit import subsample_rows
from ..fit._sklearn_private import set_parameters
from ._mstep import m_step_from_posteriors
from ._neighbours import POTTS_SCALE
from ._sampling import PottsGibbs

#: Upper bound of the estimated smoothing (beta = 2 * POTTS_SCALE = 16 nats).
MAX_SMOOTHING = 2.0
#: Stochastic-EM rounds and Gibbs sweeps per round. The estimate moves by < 0.03 after 8
#: rounds of 5 sweeps on the benchmark cases.
N_ROUNDS = 8
SWEEPS = 5
#: Starting strength (the recommended fixed value).
START = 1.0
#: Largest number of pixels the estimate runs on (a central block of larger images). At
#: 2^22 (before) a 2048^2 image took 43 s, at 2^20 12 s, with strengths within 0.004 on two
#: 2-D images (2048^2, K=3) and 0.021 on a 3-D one (64x256x256, K=2), and the same accuracy.
MAX_PIXELS = 1 << 20


def central_box(spatial_shape, max_pixels: int) -> tuple:
    """Slices of the central block of about `max_pixels` pixels of `spatial_shape`, same
    aspect ratio (axes of 3 pixels or fewer whole; the whole image when it is smaller).

    Examples
    --------
    >>> central_box((10, 10), 16)
    (slice(3, 7, None), slice(3, 7, None))
    """
    shape = tuple(int(n) for n in spatial_shape)
    factor = min(1.0, (max_pixels / float(np.prod(shape))) ** (1.0 / len(shape)))
    new = tuple(max(3, int(n * factor)) if n > 3 else n for n in shape)
    return tuple(slice((n - m) // 2, (n - m) // 2 + m) for n, m in zip(shape, new, strict=True))


def central_crop(data: PixelData, max_pixels: int) -> PixelData:
    """The central block of about `max_pixels` pixels, same aspect ratio, as PixelData.

    Examples
    --------
    >>> from napari_gmm.core._features import pixel_data
    >>> crop = central_crop(pixel_data(np.arange(100.0).reshape(10, 10)), 16)
    >>> crop.spatial_shape, crop.features[:, 0].reshape(4, 4)[0].tolist()
    ((4, 4), [33.0, 34.0, 35.0, 36.0])
    """
    box = central_box(data.spatial_shape, max_pixels)
    new = tuple(b.stop - b.start for b in box)
    features = data.to_spatial(data.features)[box].reshape(-1, data.n_features)
    valid = None if data.valid is None else data.to_spatial(data.valid)[box].ravel()
    n_valid = features.shape[0] if valid is None else int(valid.sum())
    return PixelData(np.ascontiguousarray(features), new, valid, n_valid)


def _distinct_rows(codes):
    """``np.unique(codes, axis=0)`` and the count of each row, for codes in [0, 4096].

    With at most 5 columns each row is one int64 key in base 4097 (the same order as the
    rows'), whose sort is ~50x faster than numpy's sort of rows: at 2^21 pixels the rows'
    took ~4 s per round of ``smoothing='auto'``.
    """
    if codes.shape[1] > 5:
        distinct, inverse = np.unique(codes, axis=0, return_inverse=True)
        return distinct, np.bincount(inverse.ravel(), minlength=distinct.shape[0]).astype(float)
    key = np.zeros(codes.shape[0], dtype=np.int64)
    for j in range(codes.shape[1]):
        key = key * 4097 + codes[:, j]
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    return codes[first], counts.astype(np.float64)


def pseudo_likelihood_beta(labels_onehot, share, *, upper=MAX_SMOOTHING * POTTS_SCALE):
    """Maximum pseudo-likelihood Potts coupling of a label field.

    Parameters
    ----------
    labels_onehot : array (n, K)
        One-hot labels of the pixels (rows of zeros are ignored).
    share : array (n, K)
        Weighted share of each pixel's neighbours in each class (rows summing to 1).
    upper : float
        Largest coupling considered (nats).

    Returns
    -------
    float
        ``argmax_b sum_i [b * share[i, z_i] - log sum_k exp(b * share[i, k])]``.

    Examples
    --------
    >>> share = np.array([[1.0, 0.0], [0.75, 0.25], [0.75, 0.25], [0.25, 0.75]])
    >>> onehot = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    >>> round(pseudo_likelihood_beta(onehot, share), 2)  # one pixel disagrees with its side
    2.09
    >>> pseudo_likelihood_beta(onehot[[0, 1, 3]], share[[0, 1, 3]])  # none: the upper bound
    16.0
    """
    t = np.asarray(labels_onehot, dtype=np.float64)
    m = np.asarray(share, dtype=np.float64)
    keep = t.sum(axis=1) > 0
    t, m = t[keep], m[keep]
    if t.shape[0] == 0:
        return 0.0
    agree = float((t * m).sum())
    # the shares take few distinct values (neighbour counts): evaluate each once
    codes = np.round(m * 4096.0).astype(np.int64)
    distinct, counts = _distinct_rows(codes)
    m = distinct / 4096.0

    def negative(b):
        z = b * m
        top = z.max(axis=1)
        lse = np.log(np.exp(z - top[:, None]).sum(axis=1)) + top
        return -(b * agree - float(counts @ lse)) / t.shape[0]

    return float(minimize_scalar(negative, bounds=(0.0, upper), method="bounded").x)


def estimate_smoothing(
    gmm, data: PixelData, compressed=None, *, scale=None, random_state=0, reestimate=True,
    max_samples=200_000, n_rounds=N_ROUNDS, sweeps=SWEEPS,
):
    """Estimate the smoothing strength (``beta / POTTS_SCALE``) of an image.

    Parameters
    ----------
    gmm : GaussianMixture
        Fitted mixture (not modified).
    data : PixelData
        The image's pixels.
    compressed : optional
        Distinct values of an integer image (lookup-table log-likelihoods).
    scale : sequence of float, optional
        Physical pixel size per spatial axis.
    random_state : int, RandomState or None
        Seed of the Gibbs sampler and of the M-step subsample.
    reestimate : bool, default True
        Re-estimate the mixture between rounds (False: keep `gmm`, as ``apply_model`` does).
    max_samples : int
        Pixels used by the M-step (a seeded subsample).
    n_rounds, sweeps : int
        Stochastic-EM rounds and Gibbs sweeps per round.

    Images of more than `MAX_PIXELS` pixels are estimated on a central block of about that
    many pixels (the strength is a local property of the class geometry and the noise).

    Returns
    -------
    smoothing : float
        The mean of the second half of the rounds' estimates (stochastic EM iterates
        fluctuate around the estimate), in ``[0, MAX_SMOOTHING]``. Rounds stop early when
        the re-estimated mixture would lose a class (the strength of that round is
        dropped): the prior is then too strong for the classes of this image.
    history : tuple of float
        The estimate after each round.
    """
    rng = np.random.default_rng(check_random_state(random_state).randint(2**31 - 1))
    gmm = copy.deepcopy(gmm)
    k = gmm.n_components
    if data.n_pixels > MAX_PIXELS:
        data, compressed = central_crop(data, MAX_PIXELS), None
    valid = None if data.valid is None else data.to_spatial(data.valid)
    rows = np.arange(data.n_pixels) if data.valid is None else np.flatnonzero(data.valid)
    pick = subsample_rows(rows.size, max_samples, int(rng.integers(2**31)))
    if pick is not None:
        rows = rows[pick]
    X = np.asarray(data.features[rows], dtype=np.float64)
    beta, z, history = START * POTTS_SCALE, None, []
    for _ in range(int(n_rounds)):
        lp = data.to_spatial(pixel_log_prob(gmm, data, compressed))
        sampler = PottsGibbs(
            lp, beta, valid=valid, spacing=scale, seed=int(rng.integers(2**31)), labels=z
        )
        del lp
        marginals = np.zeros((k, *data.spatial_shape), dtype=np.float32)
        for _ in range(int(sweeps)):
            sampler.sweep(marginals)
        z = sampler.z.copy()
        onehot = sampler.onehot().reshape(k, -1).T
        share = sampler.share().reshape(k, -1).T
        new_beta = pseudo_likelihood_beta(onehot, share)
        if reestimate:
            q = (marginals.reshape(k, -1)[:, rows] / sweeps).T
            weights, means, covs, prec = m_step_from_posteriors(
                X, q, gmm.covariance_type, gmm.reg_covar
            )
            if np.any(weights * rows.size < 1.0):
                # the prior emptied a class: the new strength is too strong for this
                # image's classes; keep the estimates of the rounds before
                break
            set_parameters(gmm, (weights, means, covs, prec))
        beta = new_beta
        history.append(beta / POTTS_SCALE)
    if not history:
        return START, ()
    # stochastic EM iterates fluctuate around the estimate: average the second half
    estimate = float(np.mean(history[len(history) // 2 :]))
    return float(np.clip(estimate, 0.0, MAX_SMOOTHING)), tuple(history)


def recorded_smoothing(smoothing, frames) -> float:
    """The strength to record for a time series: the mean of the frames' when chosen."""
    if isinstance(smoothing, str):  # 'auto' or 'held-out': chosen per frame
        return float(np.mean([f.smoothing for f in frames]))
    return float(smoothing)
