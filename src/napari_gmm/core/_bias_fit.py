"""The bias field in the pipeline: sample, estimate, correct, refit (``bias_field=``).

:func:`fit_with_bias` is the fit stage of ``segment(..., bias_field='polynomial')``: the
mixture fitted on the uncorrected pixels starts the rounds of :mod:`._bias`, the field is
evaluated on the whole grid and normalised to mean 1 over the valid pixels, and the mixture
is fitted once more (scikit-learn, warm-started) on the corrected pixels ``y / b``. The
apply stage then runs on the corrected pixels unchanged, so labels, probabilities and the
model relate to the corrected image exactly as they relate to the image without a field.
:func:`bias_for_model` is the same for a fixed mixture (``apply_model``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from ._bias import BIAS_SAMPLES, estimate_bias, field_on_grid
from ._bias_basis import PolynomialBasis
from ._bias_steps import make_block
from ._features import PixelData
from ._fit import fit_on_pixels, subsample_rows


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


def corrected_data(data: PixelData, field: np.ndarray) -> PixelData:
    """The pixels divided by the field (float32; non-finite pixels stay invalid)."""
    flat = field.reshape(-1, 1).astype(np.float64)
    features = (data.features / flat).astype(np.float32)
    return PixelData(features, data.spatial_shape, data.valid, data.n_valid)


def image_layout(data: PixelData, channel_axis) -> np.ndarray:
    """A (n_pixels, C) table back in the image's shape, the channel axis where it was."""
    if channel_axis is None:
        return data.features.reshape(data.spatial_shape)
    spatial = data.features.reshape((*data.spatial_shape, data.n_features))
    return np.moveaxis(spatial, -1, channel_axis)


def _valid_mean(values: np.ndarray, data: PixelData) -> float:
    flat = values.reshape(-1)
    return float(np.mean(flat if data.valid is None else flat[data.valid], dtype=np.float64))


def bias_result(data: PixelData, field, channel_axis, n_params: int):
    """``(corrected PixelData, BiasResult)`` of an image and its field."""
    corrected = corrected_data(data, field)
    log_b = np.log(field, dtype=np.float64)
    jacobian = -data.n_features * _valid_mean(log_b, data)
    return corrected, BiasResult(field, image_layout(corrected, channel_axis), jacobian, n_params)


def _seed(random_state) -> int:
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def fit_with_bias(gmm, data: PixelData, params: dict, *, order, max_samples, channel_axis):
    """Fit stage with a bias field: ``(gmm, FitInfo, corrected PixelData, BiasResult)``.

    `gmm` is the mixture fitted on the uncorrected pixels (not modified); `params` the
    validated GaussianMixture options (its random_state seeds the samples).
    """
    seed = _seed(params.get("random_state"))
    basis = PolynomialBasis(data.spatial_shape, order)
    rows = sample_rows(data, min(max_samples, BIAS_SAMPLES), seed)
    diagonal = _diagonal_start(data, params, max_samples)
    est = estimate_bias(gmm, [make_block(data.features, rows, basis)], diagonal=diagonal)
    field = field_on_grid(basis, est.coefs[0], est.u_ranges[0])
    s = _valid_mean(field, data)
    field /= np.float32(s)
    corrected, result = bias_result(data, field, channel_axis, basis.n_terms - 1)
    final, info = refit(est.gmm, corrected, params, s, max_samples=max_samples, seed=seed)
    return final, info, corrected, result


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


def bias_for_model(gmm, data: PixelData, *, order, random_state, channel_axis, field=None):
    """``(corrected PixelData, BiasResult)`` for a fixed mixture (``apply_model``).

    The field is estimated with the mixture held fixed and not normalised: the model's
    intensities set its scale, so it also takes up a global gain (exposure). A given
    `field` (spatial shape) is used as it is instead.
    """
    if field is not None:
        return bias_result(data, np.asarray(field, dtype=np.float32), channel_axis, 0)
    seed = _seed(random_state)
    basis = PolynomialBasis(data.spatial_shape, order)
    rows = sample_rows(data, BIAS_SAMPLES, seed)
    own = {"n_components": gmm.n_components, "covariance_type": gmm.covariance_type,
           "reg_covar": gmm.reg_covar, "random_state": seed}  # fmt: skip
    free = fit_on_pixels(data, own, max_samples=BIAS_SAMPLES)[0]
    est = estimate_bias(
        gmm, [make_block(data.features, rows, basis)], fit_mixture=False, normalise=False,
        free=free, diagonal=_diagonal_start(data, own, BIAS_SAMPLES),
    )  # fmt: skip
    field = field_on_grid(basis, est.coefs[0], est.u_ranges[0])
    return bias_result(data, field, channel_axis, basis.n_terms)


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
    total = sum(_valid_mean(f, d) * d.n_valid for f, d in zip(fields, frames, strict=True))
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
