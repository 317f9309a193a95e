"""apply_model for dask arrays: a fitted mixture applied block by block (or in core)."""

from __future__ import annotations

import time

from .._validation import check_model_channels, check_smoothing_ndim
from ..fit._fit import FitInfo
from ..progress import run
from ._apply import lazy_outputs
from ._calibrate import lazy_temperature
from ._fit import lazy_pixels
from ._incore import iter_apply_in_core, runs_in_core
from ._pilot import pilot_sweeps
from ._segment import make_lazy_result, score
from ._select import lazy_compressed
from ._strength import iter_lazy_smoothing


def apply_model_lazy(gmm, image, *, report, **options):
    """:func:`~._apply.apply_model` for a dask image (validated model, lazy outputs;
    `options` as :func:`iter_apply_model_lazy`)."""
    return run(iter_apply_model_lazy(gmm, image, **options), report)


def iter_apply_model_lazy(gmm, image, *, channel_axis, smoothing, scale, return_posteriors,
                          max_distinct, method, in_memory=None):
    """Generator form of :func:`apply_model_lazy`: yields ``(fraction, stage)`` steps.

    `in_memory`: the in-memory apply steps of `gmm` (``image, **options``), which smoothing
    runs when the image fits in core (:mod:`._incore`).
    """
    from .._options import check_options
    from ..potts._hmrf import check_scale

    start = time.perf_counter()
    smoothing, max_distinct = check_options(smoothing=smoothing, max_distinct=max_distinct)
    pixels = lazy_pixels(image, channel_axis)
    check_model_channels(gmm, pixels.n_features, image.shape, channel_axis)
    scale = check_scale(scale, len(pixels.spatial_shape))
    check_smoothing_ndim(smoothing, len(pixels.spatial_shape))
    opts = {"smoothing": smoothing, "bias_field": None, "marginals": "mean-field",
            "channel_axis": channel_axis, "return_posteriors": return_posteriors}
    if in_memory is not None and runs_in_core(image, gmm.n_components, opts):
        return (yield from iter_apply_in_core(
            image, in_memory, channel_axis=channel_axis, smoothing=smoothing, scale=scale,
            return_posteriors=return_posteriors, max_distinct=max_distinct,
        ))
    if isinstance(smoothing, str):  # 'auto' or 'held-out', as in memory (_strength.py)
        smoothing, _ = yield from iter_lazy_smoothing(
            pixels, gmm, smoothing, scale=scale, random_state=0,  # apply_model's seed
            reestimate=False, at=0.02)
    yield 0.05, "reading pixels"
    compressed = lazy_compressed(pixels, max_distinct)
    yield 0.5, "scoring"
    ll, n_valid = score(pixels, gmm, compressed)
    sweeps = [] if smoothing <= 0 else [pilot_sweeps(  # those of the in-memory path
        pixels, [gmm], smoothing=smoothing, scale=scale, max_distinct=max_distinct)]
    temperature = 1.0 if smoothing <= 0 else lazy_temperature(
        pixels, [gmm], None, gmm, smoothing=smoothing, scale=scale, sweeps=sweeps,
        max_distinct=max_distinct, random_state=0,  # apply_model's default seed
    )
    outputs = lazy_outputs(
        pixels, [gmm], smoothing=smoothing, scale=scale, sweeps=sweeps,
        max_distinct=max_distinct, want_post=bool(return_posteriors), temperature=temperature,
    )
    info = FitInfo(method=method, n_fit_samples=0)
    result = make_lazy_result(
        gmm, pixels, outputs, ll, n_valid, info, start=start, smoothing=smoothing,
        n_sweeps=tuple(sweeps),
    )
    yield 1.0, "done"
    return result
