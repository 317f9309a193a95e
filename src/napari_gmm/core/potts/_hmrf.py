"""Spatially regularised segmentation: HMRF-EM with a Potts prior on a fitted mixture."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state

from .._backend import use_cupy, use_numba
from .._features import PixelData
from .._predict import label_dtype, pixel_log_prob
from ..fit._fit import component_order, order_components
from ..progress import run
from ._calibrate import calibrate as calibrate_posteriors
from ._calibrate import calibration_seed
from ._hmrf_rounds import iter_hmrf_em, planes_handle
from ._meanfield import posterior_labels
from ._neighbours import POTTS_SCALE
from ._planes_hmrf import iter_regularize_planes
from ._sampling import gibbs_marginals

#: Mean-field sweeps per round of HMRF-EM in the pipeline. On held-out synthetic images
#: (2D 3-class sigma 40, 3D 2-class sigma 0.65 x gap) 6 sweeps are within 0.3 % accuracy of
#: 10 and 0.4 % better than 4, at 60 % of the cost of 10.
SWEEPS = 6
#: The sweeps of a round end early once fewer than this fraction of the counted valid pixels
#: (all, or a fixed grid of boxes on large images: :mod:`._stop_sample`) changed label in a
#: sweep (the labels then agree with the full count on >= 99.9 % of pixels).
STOP_CHANGED = 0.001


def check_scale(scale, n_spatial: int):
    """Validate the physical pixel size per spatial axis (None = isotropic)."""
    if scale is None:
        return None
    try:
        values = np.asarray(scale, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"scale must be a sequence of numbers, got {scale!r}.") from err
    if values.ndim != 1 or values.size != n_spatial:
        raise ValueError(
            f"scale must have one value per spatial axis ({n_spatial}), got {scale!r}. For a "
            "napari layer pass its scale without the channel axis."
        )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"scale values must be finite and > 0, got {scale!r}.")
    return tuple(values)


#: Ways of computing the posteriors under the Potts prior (``marginals=``).
MARGINALS = ("mean-field", "gibbs")


def check_smoothing(smoothing):
    """Validate the Potts prior strength (0 = off): a float, 'auto' or 'held-out' (estimated)."""
    if isinstance(smoothing, str) and smoothing in ("auto", "held-out"):
        return smoothing
    if isinstance(smoothing, bool) or not isinstance(smoothing, numbers.Real):
        raise TypeError(
            f"smoothing must be a number >= 0 (0 = off, 1.0 = recommended) or 'auto' "
            f"(estimated from the image; 'held-out' for thin structures), got "
            f"{type(smoothing).__name__} ({smoothing!r})."
        )
    if not np.isfinite(smoothing) or smoothing < 0:
        raise ValueError(
            f"smoothing must be a finite number >= 0 (0 = off, 1.0 = recommended), got "
            f"{smoothing}."
        )
    return float(smoothing)


def check_marginals(marginals) -> str:
    """Validate ``marginals`` ('mean-field' or 'gibbs')."""
    if marginals not in MARGINALS:
        raise ValueError(
            f"marginals must be one of {MARGINALS}, got {marginals!r}. 'gibbs' gives "
            "calibrated posteriors with smoothing; 'mean-field' is faster."
        )
    return marginals


def regularize(
    gmm, data: PixelData, compressed, *, smoothing, scale, max_samples, random_state,
    reestimate=True, marginals="mean-field", progress=None,
):
    """Potts-regularised posteriors of `gmm` (and, with `reestimate`, an HMRF-EM update).

    With ``reestimate=False`` the mixture is used as given (its class order is kept).
    `progress`, if given, is called as ``progress(fraction, stage)`` after every sweep
    (see :mod:`..progress`).
    With ``marginals='gibbs'`` the returned posteriors (and labels = their argmax) are the
    Potts posterior marginals of the final mixture by Gibbs sampling, started from the
    mean-field posteriors (:func:`._gibbs.gibbs_marginals`); otherwise the mean-field ones.

    Returns
    -------
    gmm : GaussianMixture
        Re-estimated copy, components in ascending intensity order (`gmm` itself when
        `reestimate` is False).
    labels : (n_pixels,) unsigned int
        argmax of the posteriors + 1 (0 for invalid pixels).
    probability : (n_pixels,) float32
        Max posterior (0 for invalid pixels).
    posteriors : (n_pixels, K) float32
        Regularised posteriors (all 0 for invalid pixels), in label order.
    """
    steps = iter_regularize(
        gmm, data, compressed, smoothing=smoothing, scale=scale, max_samples=max_samples,
        random_state=random_state, reestimate=reestimate, marginals=marginals,
    )
    return run(steps, progress)


def iter_regularize(
    gmm, data: PixelData, compressed, *, smoothing, scale, max_samples, random_state,
    reestimate=True, marginals="mean-field", sweeps=None, posteriors=True, stats=None,
    calibrate=False,
):
    """Generator form of :func:`regularize`: yields the fraction done after every sweep.

    `sweeps`, a list, gets the number of mean-field sweeps run in each round appended.
    With ``posteriors=False`` the returned posteriors may be None (the GPU and numba routes
    then do not write them). `stats`, a dict, gets ``"log_likelihood"`` (the returned
    model's mean log-likelihood over the valid pixels) where the route computed it anyway,
    and ``"backend"``: ``'cupy'`` when the spatial model ran on the GPU.
    With `calibrate` (mean-field marginals) the probability and posteriors are tempered by
    the held-out temperature (:mod:`._calibrate`; labels unchanged).
    """
    calibrate = calibrate and marginals != "gibbs"
    if use_cupy() and marginals != "gibbs":
        from ._gpu_hmrf import gpu_supported, iter_regularize_gpu
        from ._gpu_memory import fits_device

        if gpu_supported(data, gmm.n_components) and fits_device(data, gmm.n_components):
            result = yield from iter_regularize_gpu(  # tempers on the device
                gmm, data, smoothing=smoothing, scale=scale, reestimate=reestimate,
                posteriors=posteriors, n_sweeps=SWEEPS, stop_changed=STOP_CHANGED,
                sweeps=sweeps, stats=stats,
                calibration_seed=calibration_seed(random_state) if calibrate else None,
            )
            if stats is not None:
                stats["backend"] = "cupy"
            return result
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    if marginals != "gibbs" and planes_handle(data.spatial_shape, gmm.n_components):
        result = yield from iter_regularize_planes(  # tempers before writing the planes out
            gmm, data, smoothing=smoothing, scale=scale, reestimate=reestimate,
            posteriors=posteriors, max_samples=max_samples, random_state=seed,
            n_sweeps=SWEEPS, stop_changed=STOP_CHANGED, sweeps=sweeps, stats=stats,
            calibration_seed=calibration_seed(random_state) if calibrate else None,
        )
        return result
    result = yield from _iter_reference(
        gmm, data, compressed, smoothing=smoothing, scale=scale, max_samples=max_samples,
        seed=seed, reestimate=reestimate, marginals=marginals, sweeps=sweeps,
    )
    return _tempered(result, data, smoothing=smoothing, scale=scale,
                     random_state=random_state, calibrate=calibrate, posteriors=posteriors)


def _tempered(result, data, *, smoothing, scale, random_state, calibrate, posteriors):
    """A route's ``(model, labels, probability, posteriors)`` with the probability tempered
    (when `calibrate`; :func:`._calibrate.calibrate`) and the posteriors dropped unless
    asked for."""
    model, labels, probability, q = result
    if calibrate:
        probability = calibrate_posteriors(
            model, data, q, smoothing=smoothing, scale=scale, random_state=random_state,
            probability=probability,
        )[0]
    return model, labels, probability, (q if posteriors else None)


def _iter_reference(gmm, data: PixelData, compressed, *, smoothing, scale, max_samples, seed,
                    reestimate, marginals, sweeps):
    """The routes without class-major planes: HMRF-EM by :func:`._hmrf_rounds.iter_hmrf_em`
    (numpy reference, or more than 3 spatial axes / 254 classes), then mean-field or Gibbs
    marginals; returns ``(model, labels, probability, posteriors)``."""
    valid = None if data.valid is None else data.to_spatial(data.valid)
    features = data.to_spatial(data.features)
    new, q = yield from iter_hmrf_em(
        gmm,
        features,
        smoothing=smoothing,
        valid=valid,
        spacing=scale,
        n_rounds=1 if reestimate else 0,
        n_iter=SWEEPS,
        max_samples=max_samples,
        random_state=seed,
        log_prob_fn=lambda model: data.to_spatial(pixel_log_prob(model, data, compressed)),
        stop_changed=STOP_CHANGED,
        sweeps=sweeps,
    )
    q = q.reshape(-1, q.shape[-1])
    return_model = new if reestimate else gmm
    order = np.arange(q.shape[1])
    if reestimate:
        order = component_order(new)
        order_components(new)
    if use_numba() and marginals != "gibbs":
        # in place: no second (n_pixels, K) buffer, no int64 argmax temporaries
        from ._fused import finish

        labels, probability = finish(q, order, label_dtype(q.shape[1]))
        return return_model, labels, probability, q
    q = q[:, order]
    if marginals == "gibbs":
        lp = data.to_spatial(pixel_log_prob(return_model, data, compressed))
        q = gibbs_marginals(
            lp, smoothing * POTTS_SCALE, valid=valid, spacing=scale, seed=seed,
            init=data.to_spatial(q),
        ).reshape(q.shape)
        del lp
    labels, probability = posterior_labels(q)
    return return_model, labels, probability, q


