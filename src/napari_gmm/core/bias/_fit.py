"""The bias field in the pipeline: sample, estimate, correct, refit (``bias_field=``).

:func:`iter_fit_with_bias` is the fit stage of ``segment(..., bias_field='polynomial')``: the
mixture fitted on the uncorrected pixels starts the rounds of :mod:`._bias`, the field is
evaluated on the whole grid and normalised to mean 1 over the valid pixels, and the mixture
is fitted once more (scikit-learn, warm-started) on the corrected pixels ``y / b``. The
apply stage then runs on the corrected pixels unchanged, so labels, probabilities and the
model relate to the corrected image exactly as they relate to the image without a field.
:func:`iter_bias_for_model` is the same for a fixed mixture (``apply_model``). With
smoothing, the field is refined under the Potts prior (:mod:`._bias_hmrf`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from .._features import PixelData
from ..fit._fit import fit_on_pixels, subsample_rows
from ..potts._auto_smoothing import estimate_smoothing
from ..progress import rescale as rescale_steps
from ._basis import PolynomialBasis
from ._ecm import BIAS_SAMPLES, estimate_bias, field_on_grid
from ._hmrf import iter_smoothed_field
from ._steps import corrected_data, make_block, rescale, valid_mean


@dataclass(frozen=True, eq=False)
class BiasResult:
    """The estimated field of one image and what the result reports about it."""

    field: np.ndarray  # float32, spatial shape, mean 1 over valid pixels (segment)
    corrected: np.ndarray  # float32, the input's shape and axis order
    log_jacobian: float  # mean of -C log b over valid pixels (added to the log-likelihood)
    n_params: int  # free parameters of the field (for BIC / AIC)


def sample_rows(data: PixelData, n_samples: int, random_state) -> np.ndarray:
    """Sorted flat indices of a seeded sample of at most `n_samples` valid pixels."""
    rows = np.arange(data.n_pixels) if data.valid is None else np.flatnonzero(data.valid)
    pick = subsample_rows(rows.size, n_samples, random_state)
    return rows if pick is None else rows[pick]


def image_layout(data: PixelData, channel_axis) -> np.ndarray:
    """A (n_pixels, C) table back in the image's shape, the channel axis where it was."""
    if channel_axis is None:
        return data.features.reshape(data.spatial_shape)
    spatial = data.features.reshape((*data.spatial_shape, data.n_features))
    return np.moveaxis(spatial, -1, channel_axis)


def bias_result(data: PixelData, field, channel_axis, n_params: int):
    """``(corrected PixelData, BiasResult)`` of an image and its field."""
    corrected = corrected_data(data, field)
    log_b = np.log(field, dtype=np.float64)
    jacobian = -data.n_features * valid_mean(log_b, data)
    return corrected, BiasResult(field, image_layout(corrected, channel_axis), jacobian, n_params)


#: Width (pixels, finest axis) of the Gaussian filter of the per-pixel rounds with smoothing.
DENOISE_SIGMA = 1.0


def denoised(data: PixelData, scale=None) -> np.ndarray:
    """The pixels smoothed by a narrow Gaussian (valid pixels only), as a (n, C) table.

    With smoothing on, the image is noisy: the per-pixel rounds then run on this copy
    (noise about 3.5x lower in 2D, the field unchanged: it is smooth), and only the Potts
    rounds see the pixels as they are.
    """
    from scipy import ndimage

    spacing = np.ones(len(data.spatial_shape)) if scale is None else np.asarray(scale, float)
    sigma = DENOISE_SIGMA * spacing.min() / spacing
    valid = np.ones(data.spatial_shape) if data.valid is None else data.to_spatial(data.valid)
    weight = ndimage.gaussian_filter(valid.astype(np.float64), sigma, mode="nearest")
    out = np.empty(data.features.shape, dtype=np.float64)
    for c in range(data.n_features):
        values = np.where(valid > 0, data.to_spatial(data.features[:, c]), 0.0)
        smooth = ndimage.gaussian_filter(values.astype(np.float64), sigma, mode="nearest")
        out[:, c] = (smooth / np.maximum(weight, 1e-12)).reshape(-1)
    return out


def _seed(random_state) -> int:
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def iter_fit_with_bias(
    gmm, data: PixelData, params: dict, *, order, max_samples, channel_axis, smoothing=0.0,
    scale=None,
):
    """Fit stage with a bias field (generator: yields fractions done).

    Returns ``(gmm, FitInfo, corrected PixelData, BiasResult, smoothing)``. `gmm` is the
    mixture fitted on the uncorrected pixels (not modified); `params` the validated
    GaussianMixture options (its random_state seeds the samples). With `smoothing` (a
    strength, or 'auto': estimated on the image corrected by the per-pixel rounds, and
    returned) the per-pixel rounds run on a lightly smoothed copy (:func:`denoised`) and
    the field is then refined under the Potts prior on the image itself
    (:mod:`._bias_hmrf`).
    """
    yield 0.0
    seed = _seed(params.get("random_state"))
    basis = PolynomialBasis(data.spatial_shape, order)
    rows = sample_rows(data, min(max_samples, BIAS_SAMPLES), seed)
    block = make_block(data.features, rows, basis)
    first = block if not smoothing else make_block(denoised(data, scale), rows, basis)
    est = estimate_bias(gmm, [first], diagonal=_diagonal_start(data, params, max_samples))
    yield 0.5
    gmm, coef, u_range = est.gmm, est.coefs[0], est.u_ranges[0]
    smoothing = yield from _smoothed(
        gmm, data, block, rows, basis, coef, u_range, smoothing=smoothing, scale=scale,
        max_samples=max_samples, seed=seed, fit_mixture=True,
    )
    gmm, coef, u_range, smoothing = smoothing
    field = field_on_grid(basis, coef, u_range)
    s = valid_mean(field, data)
    field /= np.float32(s)
    corrected, result = bias_result(data, field, channel_axis, basis.n_terms - 1)
    final, info = refit(gmm, corrected, params, s, max_samples=max_samples, seed=seed)
    return final, info, corrected, result, smoothing


def _smoothed(gmm, data, block, rows, basis, coef, u_range, *, smoothing, scale, max_samples,
              seed, fit_mixture):
    """The Potts rounds when smoothing is on: returns ``(gmm, coef, u_range, smoothing)``."""
    if smoothing in ("auto", "held-out"):
        field = field_on_grid(basis, coef, u_range)
        if fit_mixture:
            field /= np.float32(valid_mean(field, data))
        if smoothing == "held-out":
            from ..potts._beta_cv import held_out_smoothing

            smoothing = held_out_smoothing(
                gmm, corrected_data(data, field), scale=scale, random_state=seed
            )
        else:
            smoothing = estimate_smoothing(
                gmm, corrected_data(data, field), None, scale=scale, random_state=seed,
                reestimate=fit_mixture, max_samples=max_samples,
            )[0]
        if fit_mixture:  # its mixture is for the normalised field's corrected values
            s = valid_mean(field_on_grid(basis, coef, u_range), data)
            gmm = copy.deepcopy(gmm)
            rescale(gmm, s)
            coef, u_range = coef * s, (u_range[0] * s, u_range[1] * s)
    if not smoothing:
        return gmm, coef, u_range, smoothing
    steps = iter_smoothed_field(
        gmm, data, block, rows, basis, coef, smoothing=smoothing, scale=scale,
        max_samples=max_samples, seed=seed, fit_mixture=fit_mixture, normalise=fit_mixture,
    )
    gmm, coef, u_range = yield from rescale_steps(steps, 0.5, 0.5)
    return gmm, coef, u_range, smoothing


def _diagonal_start(data: PixelData, params: dict, max_samples: int):
    """A diagonal mixture of the uncorrected pixels, for multichannel full / tied fits."""
    if data.n_features == 1 or params["covariance_type"] not in ("full", "tied"):
        return None
    return fit_on_pixels(data, {**params, "covariance_type": "diag"}, max_samples=max_samples)[0]


def refit(gmm, corrected: PixelData, params: dict, s: float, *, max_samples, seed):
    """scikit-learn's fit on the corrected pixels, warm-started from the rounds' mixture.

    `s` is the factor the exact normalisation of the field divided it by: the corrected
    values (and so the starting mixture) are `s` times those of the rounds.
    """
    weights = np.clip(gmm.weights_, 1e-6, None)
    start = {
        "weights_init": weights / weights.sum(),
        "means_init": gmm.means_ * s,
        "precisions_init": gmm.precisions_ / (s * s),
        "n_init": 1,
        "init_params": "random_from_data",
        "random_state": seed,
    }
    return fit_on_pixels(corrected, {**params, **start}, max_samples=max_samples)


def iter_bias_for_model(
    gmm, data: PixelData, *, order, random_state, channel_axis, field=None, smoothing=0.0,
    scale=None, max_samples=BIAS_SAMPLES,
):
    """The field for a fixed mixture (``apply_model``; generator: yields fractions done).

    Returns ``(corrected PixelData, BiasResult, smoothing)``. The field is estimated with
    the mixture held fixed and not normalised: the model's intensities set its scale, so it
    also takes up a global gain (exposure). With `smoothing` (or 'auto', then estimated
    and returned) it is refined under the Potts prior. A given `field` (spatial shape) is
    used as it is instead.
    """
    if field is not None:
        corrected, result = bias_result(data, np.asarray(field, np.float32), channel_axis, 0)
        return corrected, result, smoothing
    yield 0.0
    seed = _seed(random_state)
    basis = PolynomialBasis(data.spatial_shape, order)
    rows = sample_rows(data, BIAS_SAMPLES, seed)
    own = {"n_components": gmm.n_components, "covariance_type": gmm.covariance_type,
           "reg_covar": gmm.reg_covar, "random_state": seed}
    free = fit_on_pixels(data, own, max_samples=BIAS_SAMPLES)[0]
    block = make_block(data.features, rows, basis)
    first = block if not smoothing else make_block(denoised(data, scale), rows, basis)
    est = estimate_bias(
        gmm, [first], fit_mixture=False, normalise=False, free=free,
        diagonal=_diagonal_start(data, own, BIAS_SAMPLES),
    )
    yield 0.5
    _, coef, u_range, smoothing = yield from _smoothed(
        gmm, data, block, rows, basis, est.coefs[0], est.u_ranges[0], smoothing=smoothing,
        scale=scale, max_samples=max_samples, seed=seed, fit_mixture=False,
    )
    field = field_on_grid(basis, coef, u_range)
    corrected, result = bias_result(data, field, channel_axis, basis.n_terms)
    return corrected, result, smoothing


def fit_shared_with_bias(gmm, frames: list, params: dict, *, order, max_samples):
    """One mixture for all frames and one field per frame: ``(gmm, FitInfo, fields)``.

    `frames` holds the PixelData of every frame. The rounds run on a seeded sample of
    every frame (the frames share the sample budget); the fields are normalised to mean 1
    over the valid pixels of the whole series, and the mixture is refitted on the
    corrected pixels of all frames.
    """
    seed = _seed(params.get("random_state"))
    basis = PolynomialBasis(frames[0].spatial_shape, order)
    per_frame = max(min(max_samples, BIAS_SAMPLES) // len(frames), 4 * basis.n_terms)
    blocks = [
        make_block(d.features, sample_rows(d, per_frame, seed + i), basis)
        for i, d in enumerate(frames)
    ]
    raw = _concatenate(frames)
    est = estimate_bias(gmm, blocks, diagonal=_diagonal_start(raw, params, max_samples))
    fields = [field_on_grid(basis, c, r) for c, r in zip(est.coefs, est.u_ranges, strict=True)]
    total = sum(valid_mean(f, d) * d.n_valid for f, d in zip(fields, frames, strict=True))
    s = total / sum(d.n_valid for d in frames)
    for f in fields:
        f /= np.float32(s)
    corrected = _concatenate([corrected_data(d, f) for d, f in zip(frames, fields, strict=True)])
    final, info = refit(est.gmm, corrected, params, s, max_samples=max_samples, seed=seed)
    return final, info, fields


def _concatenate(parts: list) -> PixelData:
    """The pixels of several images as one (n_pixels, C) table."""
    valid = None
    if any(p.valid is not None for p in parts):
        valid = np.concatenate(
            [np.ones(p.n_pixels, bool) if p.valid is None else p.valid for p in parts]
        )
    n = sum(p.n_pixels for p in parts)
    features = np.concatenate([p.features for p in parts])
    return PixelData(features, (n,), valid, sum(p.n_valid for p in parts))
