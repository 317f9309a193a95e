"""The pixels every candidate number of classes is fitted on, and the candidate fits."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .._features import PixelData, pixel_data
from .._options import compress_if_integer
from .._resources import check_segmentation_memory
from .._validation import resolve_channel_axis
from ..fit._fit import count_distinct, fit_on_distinct, fit_on_pixels, subsample_rows
from ..fit._sklearn_private import n_parameters
from ..lazy._fit import is_dask_array
from ._init import classification_entropy, quantile_init

#: Smallest covariance regularisation used for integer images: the variance of the uniform
#: rounding error of unit quantisation steps (Sheppard's correction).
QUANTISATION_VARIANCE = 1.0 / 12.0


@dataclass(frozen=True, eq=False)
class Prepared:
    """The pixels every candidate is fitted on (read and compressed once)."""

    kept: tuple
    criterion: str
    params: dict
    compressed: object
    sample: PixelData | None
    points: np.ndarray
    weights: np.ndarray | None
    n: int
    subsampled: bool


def prepare_candidates(image, channel_axis, random_state, ks, criterion, params, max_samples,
             max_distinct, *, stacklevel):
    """Read the pixels once and keep the candidates the image can take."""
    channel_axis = resolve_channel_axis(np.shape(image), channel_axis)
    prepare = selection_data
    if is_dask_array(image):  # the histogram or a sample, block by block
        from ..lazy._select import lazy_selection_data as prepare
    is_integer, n_features, compressed, X, subsampled = prepare(
        image, channel_axis, max_samples, max_distinct, random_state
    )
    if is_integer:
        params["reg_covar"] = max(params["reg_covar"], QUANTISATION_VARIANCE)
    sample = None
    if compressed is not None:
        n_distinct = compressed.values.shape[0]
        n = int(compressed.counts.sum())
    else:
        sample = PixelData(X, (X.shape[0],), None, X.shape[0])
        n_distinct = count_distinct(X)
        n = X.shape[0]

    kept = tuple(k for k in ks if k <= n_distinct)
    what = "values" if n_features == 1 else "colours"
    if not kept:
        raise ValueError(
            f"Every candidate {list(ks)} exceeds the {n_distinct} distinct valid {what} of "
            f"the image, so no mixture can be fitted. Use candidates <= {n_distinct}."
        )
    if len(kept) < len(ks):
        warnings.warn(
            f"Skipped candidates {[k for k in ks if k > n_distinct]}: the image has only "
            f"{n_distinct} distinct valid {what}.",
            UserWarning,
            stacklevel=stacklevel,
        )
    points, weights = (X, None) if compressed is None else (compressed.values, compressed.counts)
    return Prepared(kept, criterion, params, compressed, sample, points, weights, n,
                     subsampled)


def iter_fits(prepared: Prepared):
    """Fit every kept candidate (generator: a step after each); returns the rows."""
    params, compressed, n = prepared.params, prepared.compressed, prepared.n
    points, weights = prepared.points, prepared.weights
    total = len(prepared.kept)
    rows = []
    for done, k in enumerate(prepared.kept, start=1):
        params["n_components"] = k
        if prepared.criterion == "icl":
            params.update(quantile_init(points, weights, k, params))
        if compressed is not None:
            gmm, info = fit_on_distinct(compressed, params)
        else:
            gmm, info = fit_on_pixels(prepared.sample, params, max_samples=n)
        ll = float(np.average(gmm.score_samples(points), weights=weights))
        p = n_parameters(gmm)
        bic_k = float(-2.0 * ll * n + p * np.log(n))
        rows.append(
            (
                bic_k,
                float(-2.0 * ll * n + 2.0 * p),
                bic_k + 2.0 * classification_entropy(gmm, points, weights),
                ll,
                bool(gmm.converged_),
                int(gmm.n_iter_),
                gmm,
                info.method,
            )
        )
        yield done / total, f"fitted {done} of {total} candidate K"
    return rows


def selection_data(image, channel_axis, max_samples, max_distinct, random_state):
    """``(is_integer, n_features, Compressed or None, sample or None, subsampled)``: what
    every candidate is fitted on (the exact histogram, else a seeded subsample)."""
    check_segmentation_memory(image, channel_axis, None, smoothing=0.0, posteriors=False,
                              what="choosing the number of classes of")
    data = pixel_data(image, channel_axis)
    compressed = compress_if_integer(data, max_distinct)
    if compressed is not None:
        return data.is_integer, data.n_features, compressed, None, False
    idx = subsample_rows(data.n_valid, max_samples, random_state)
    X = np.asarray(data.valid_features(), dtype=np.float64)
    if idx is not None:
        X = X[idx]
    return data.is_integer, data.n_features, None, X, idx is not None

