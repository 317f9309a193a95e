"""Apply a mixture whose classes are groups of components (and/or with scribbles).

Per-class log-probabilities are the log-sum-exp of each class's components
(:func:`._classes.class_log_prob`); labels are the argmax over classes + 1 and the
probability is the max class posterior (a class's posterior is the sum of its components').
Scribbled pixels are held in their class: their class log-probabilities become a one-hot
log-prior (0 for the scribbled class, -:data:`CLAMP` for the others), so the Potts sweeps
(:func:`..potts._meanfield.iter_potts_posteriors`, left as they are) never move them and they pull
their neighbours like any pixel certain of its class. With smoothing, the class posteriors
are tempered like the default path's (:mod:`..potts._calibrate`; scribbled pixels, one-hot,
stay so).
"""

from __future__ import annotations

import numpy as np

from .._features import PixelData
from .._predict import Prediction, label_dtype, mean_log_likelihood, pixel_log_prob
from ..fit._fit import single_threaded_blas
from ..fit._sklearn_private import weighted_log_prob
from ..potts._hmrf import SWEEPS
from ..potts._meanfield import iter_potts_posteriors, posterior_labels
from ..progress import rescale
from ._classes import class_log_prob, component_classes, n_classes

#: Log-prior (nats) against the other classes at a scribbled pixel: far beyond any Potts
#: neighbour term (beta = 8 nats per unit of smoothing), so the pixel keeps its class.
CLAMP = 1.0e4


def iter_apply_classes(
    gmm, data: PixelData, compressed, *, smoothing=0.0, scale=None, posteriors=False,
    scribbles=None, random_state=0,
):
    """Generator: yields fractions done; returns the class-level :class:`Prediction`.

    Parameters
    ----------
    gmm : GaussianMixture
        Fitted; ``component_classes_`` (if any) groups its components into classes.
    data : PixelData
    compressed : Compressed or None
        Distinct values of an integer image (lookup-table route), or None.
    smoothing : float
        Potts prior strength (0: per-pixel posteriors).
    scale : tuple of float or None
        Pixel size per spatial axis, for the prior.
    posteriors : bool
        Keep the (n_pixels, n_classes) float32 class posteriors.
    scribbles : (rows, ids) of int ndarrays, or None
        Flat indices of the scribbled pixels and their class ids (1..n_classes): held in
        their class.
    random_state : int, RandomState or None
        Seed of the calibration's hidden pixels: with smoothing the class posteriors are
        tempered by the held-out temperature of the classes (labels unchanged), as the
        default path's (:mod:`..potts._calibrate`).
    """
    groups, k = component_classes(gmm), n_classes(gmm)
    ll = mean_log_likelihood(gmm, data, compressed)
    yield 0.1
    if smoothing == 0 and compressed is not None:
        with single_threaded_blas():
            table = class_log_prob(weighted_log_prob(gmm, compressed.values), groups, k)
        labels, prob, post = _summarize(table)
        labels, prob = compressed.take(labels), compressed.take(prob)
        post = compressed.take(post) if posteriors else None
        _clamp_results(labels, prob, post, scribbles)
        return Prediction(labels, prob, ll, post)
    lp = class_log_prob(pixel_log_prob(gmm, data, compressed), groups, k)
    if scribbles is not None:
        rows, ids = scribbles
        lp[rows] = -CLAMP
        lp[rows, ids - 1] = 0.0
    yield 0.3
    valid = None if data.valid is None else data.to_spatial(data.valid)
    steps = iter_potts_posteriors(
        data.to_spatial(lp), smoothing=smoothing, valid=valid, spacing=scale,
        n_iter=SWEEPS if smoothing > 0 else 0,
    )
    q = (yield from rescale(steps, 0.3, 0.65)).reshape(-1, k)
    del lp
    labels, prob = posterior_labels(q)
    if smoothing > 0:
        prob = _calibrated(gmm, data, q, prob, smoothing=smoothing, scale=scale,
                           random_state=random_state)
    return Prediction(labels, prob, ll, q if posteriors else None)


def _calibrated(gmm, data: PixelData, q, prob, *, smoothing, scale, random_state):
    """The class posteriors `q` (n, n_classes) tempered in place by the held-out temperature
    of the classes; returns the tempered probability (`prob` when the temperature is 1)."""
    from ..potts._calibrate import calibrate

    groups, k = component_classes(gmm), n_classes(gmm)
    weights = np.asarray(gmm.weights_, dtype=np.float64)
    if groups is not None:
        weights = np.bincount(groups, weights=weights, minlength=k)

    def log_prob(rows):
        return class_log_prob(weighted_log_prob(gmm, rows), groups, k)

    return calibrate(gmm, data, q, smoothing=smoothing, scale=scale, random_state=random_state,
                     probability=prob, classes=(weights, log_prob))[0]


def _summarize(table):
    """Labels, max posterior and posteriors of per-class log-probability rows."""
    arg = table.argmax(axis=1)
    shifted = np.exp(table - table.max(axis=1, keepdims=True))
    post = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    labels = (arg + 1).astype(label_dtype(table.shape[1]))
    return labels, post.max(axis=1), post


def _clamp_results(labels, prob, post, scribbles):
    """Put scribbled pixels in their class with probability 1 (in place)."""
    if scribbles is None:
        return
    rows, ids = scribbles
    labels[rows] = ids
    prob[rows] = 1.0
    if post is not None:
        post[rows] = 0.0
        post[rows, ids - 1] = 1.0
