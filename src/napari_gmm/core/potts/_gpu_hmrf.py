"""HMRF-EM of the segmentation pipeline on the GPU (backend ``'cupy'``).

The GPU counterpart of :func:`._hmrf.iter_regularize` (mean-field marginals): the image
is uploaded once, the log-likelihoods, sweeps and M-steps run on the device (the M-step
on every valid voxel), and only labels, probability and, when asked for, the posteriors
come back.
"""

from __future__ import annotations

import copy

import numpy as np

from ..fit._fit import component_order, order_components
from ._calibrate import calibrate_planes
from ._gpu import GpuPlanes, supported
from ._hmrf_rounds import sweep_fractions
from ._neighbours import POTTS_SCALE, _axis_weights, neighbour_kernel
from ._planes import iter_hmrf_planes


def gpu_supported(data, n_classes: int) -> bool:
    """Whether the GPU route handles these pixels and this number of classes."""
    return supported(data.spatial_shape, n_classes, data.n_features)


def iter_hmrf_gpu(gmm, features, valid, spatial_shape, *, smoothing, spacing, counts,
                  stop_changed, sweeps):
    """Generator: HMRF-EM of `gmm` (updated in place) on the device; yields after each
    sweep and returns the :class:`._gpu.GpuPlanes` (posteriors still on the device)."""
    kernel = neighbour_kernel(len(spatial_shape), spacing)
    planes = GpuPlanes(features, valid, spatial_shape, gmm.n_components, kernel,
                       _axis_weights(kernel), float(smoothing) * POTTS_SCALE)
    yield from iter_hmrf_planes(planes, gmm, None, counts, stop_changed, sweeps)
    return planes


def iter_regularize_gpu(gmm, data, *, smoothing, scale, reestimate, posteriors, n_sweeps,
                        stop_changed, sweeps, calibration_seed=None, stats=None):
    """Generator: yields the fraction done after every sweep; returns ``(model, labels,
    probability, posteriors or None)`` as :func:`._hmrf.iter_regularize`.

    `stats`, a dict, gets ``"log_likelihood"``: the returned model's mean log-likelihood
    over the valid pixels, summed on the device by the pass of its log-likelihood planes.

    With `calibration_seed` the posteriors are tempered on the device
    (:mod:`._calibrate`): the temperature is fitted on the central block's posteriors, the
    only ones copied to the host for it, and the posteriors come back only when asked for.
    """
    new = copy.deepcopy(gmm)
    n_rounds = 1 if reestimate else 0
    steps = iter_hmrf_gpu(
        new, data.features, data.valid, data.spatial_shape, smoothing=smoothing,
        spacing=scale, counts=(n_rounds, n_sweeps), stop_changed=stop_changed, sweeps=sweeps,
    )
    planes = yield from sweep_fractions(steps, max(1, (n_rounds + 1) * n_sweeps))
    if stats is not None:
        stats["log_likelihood"] = planes.log_likelihood
    if calibration_seed is not None:  # the mixture still in the planes' class order
        calibrate_planes(planes, new if reestimate else gmm, data, smoothing=smoothing,
                         scale=scale, random_state=calibration_seed)
    order = np.arange(gmm.n_components)
    if reestimate:
        order = component_order(new)
        order_components(new)
    labels, probability, q = planes.finish(order, posteriors)
    return (new if reestimate else gmm), labels, probability, q
