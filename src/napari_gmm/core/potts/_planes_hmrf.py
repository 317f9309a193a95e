"""HMRF-EM of the segmentation pipeline on the compiled planes (backend ``'numba'``).

The numba counterpart of :func:`._gpu_hmrf.iter_regularize_gpu`: the rounds run on
class-major planes (:mod:`._planes`) and one final pass writes the labels, the probability
and, only when asked for, the pixel-major posteriors in the order of the re-estimated
components. The final mixture's mean log-likelihood comes from the pass that computed its
log-likelihood planes, so the pipeline needs no further E-step over the image.
"""

from __future__ import annotations

import copy

import numpy as np

from .._predict import label_dtype
from ..fit._fit import component_order, order_components
from ._calibrate import calibrate_planes
from ._hmrf_rounds import iter_hmrf_planes_numba


def iter_regularize_planes(gmm, data, *, smoothing, scale, reestimate, posteriors,
                           max_samples, random_state, n_sweeps, stop_changed, sweeps,
                           stats=None, calibration_seed=None):
    """Generator: yields the fraction done after every sweep; returns ``(model, labels,
    probability, posteriors or None)`` as :func:`._hmrf.iter_regularize`.

    `stats`, a dict, gets ``"log_likelihood"``: the returned model's mean log-likelihood
    over the valid pixels. With `calibration_seed` the probability (and posteriors) are
    tempered (:mod:`._calibrate`): the temperature is fitted on the planes and applied to
    them before they are written out, and the posteriors are written only when asked for.
    """
    new = copy.deepcopy(gmm)
    valid = None if data.valid is None else data.to_spatial(data.valid)
    planes = yield from iter_hmrf_planes_numba(
        new, data.to_spatial(data.features), smoothing=smoothing, valid=valid, spacing=scale,
        n_rounds=1 if reestimate else 0, n_iter=n_sweeps, max_samples=max_samples,
        random_state=random_state, stop_changed=stop_changed, sweeps=sweeps,
    )
    if stats is not None:
        stats["log_likelihood"] = planes.log_likelihood
    model = new if reestimate else gmm
    if calibration_seed is not None:  # the mixture still in the planes' class order
        calibrate_planes(planes, model, data, smoothing=smoothing, scale=scale,
                         random_state=calibration_seed)  # before anything is written out
    order = np.arange(gmm.n_components)
    if reestimate:
        order = component_order(new)
        order_components(new)
    labels, probability, q = planes.finish(order, label_dtype(gmm.n_components), posteriors)
    return model, labels, probability, (q if posteriors else None)
