"""The segmentation of one in-memory image: fit, bias field, smoothing, prediction."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from .._features import pixel_data
from .._options import compress_if_integer
from .._predict import Prediction
from .._resources import NotEnoughMemoryError, check_segmentation_memory
from .._validation import check_smoothing_ndim
from ..bias._fit import iter_fit_with_bias
from ..fit._fit import fit_on_distinct, fit_on_pixels
from ..potts._auto_smoothing import estimate_smoothing
from ..potts._beta_cv import held_out_smoothing
from ..potts._hmrf import check_scale
from ..potts._mixel_swap import guard_with_mixels, swapped_outputs
from ..potts._partial_volume import with_fractions
from ..progress import rescale
from ._components import choose_components
from ._outputs import iter_apply, make_result


def iter_segment_image(
    image, n_components, options: dict, checked, *, partial: bool, start, segment_steps
):
    """The segmentation of one in-memory image (generator: yields ``(fraction, stage)``,
    returns the :class:`~napari_gmm.core.Segmentation`).

    `options` are the caller's keyword arguments, `checked` the checked
    :class:`~napari_gmm.core.Options`; `partial` adds the partial-volume fractions, `start`
    is the ``time.perf_counter()`` at the call, `segment_steps` is
    :func:`~napari_gmm.core.iter_segment` (for 'auto' with a bias field).
    """
    opts = checked.as_dict()
    check_segmentation_memory(
        image, opts["channel_axis"], n_components, smoothing=opts["smoothing"],
        posteriors=bool(opts["return_posteriors"]),
    )
    n_components, selection = yield from choose_components(
        image, n_components, options, opts, segment_steps
    )
    params = checked.gmm_params(n_components)
    max_samples, max_distinct = checked.max_samples, checked.max_distinct
    want_post, smoothing = checked.return_posteriors or partial, checked.smoothing
    bias_field, bias_order = checked.bias_field, checked.bias_order
    data = pixel_data(image, opts["channel_axis"])
    scale = check_scale(opts["scale"], len(data.spatial_shape))
    check_smoothing_ndim(opts["smoothing"], len(data.spatial_shape))
    yield 0.05, "reading pixels"

    compressed = compress_if_integer(data, max_distinct)
    yield 0.15, "fitting mixture"
    if compressed is not None:
        gmm, info = fit_on_distinct(compressed, params)
    else:
        gmm, info = fit_on_pixels(data, params, max_samples=max_samples)
    marginals = checked.marginals
    bias = None
    if bias_field is not None:
        steps = iter_fit_with_bias(
            gmm, data, params, order=bias_order, max_samples=max_samples,
            channel_axis=_channel_axis(image, opts["channel_axis"]), smoothing=smoothing,
            scale=scale,
        )
        gmm, info, data, bias, smoothing = yield from rescale(
            steps, 0.2, 0.25, "estimating the bias field"
        )
        compressed = None
    if smoothing == "held-out":
        yield 0.4, "choosing the smoothing strength on held-out pixels"
        smoothing = held_out_smoothing(gmm, data, scale=scale, random_state=params["random_state"])
    mixels = None
    if smoothing == "auto":
        yield 0.4, "estimating the smoothing strength"
        smoothing = estimate_smoothing(
            gmm, data, compressed, scale=scale, random_state=params["random_state"],
            max_samples=max_samples,
        )[0]
        smoothing, mixels = guard_with_mixels(
            gmm, data, smoothing, scale=scale, random_state=params["random_state"],
            mixels=marginals == "mean-field",
        )
        if mixels is not None and not want_post:
            mixels = _room_for_posteriors(image, opts, n_components, smoothing, mixels)
    yield 0.5, "predicting pixels"
    steps = iter_apply(
        gmm, data, compressed, smoothing=smoothing, scale=scale, max_samples=max_samples,
        random_state=params["random_state"], posteriors=want_post or mixels is not None,
        reestimate=True, marginals=marginals,
    )
    stage = "spatial regularisation" if smoothing else "predicting pixels"
    gmm, pred = yield from rescale(steps, 0.5, 0.49, stage)
    if mixels is not None:
        pred = _with_mixels(pred, mixels, data, keep=want_post)
    result = make_result(
        gmm, data, pred, info, start=start, smoothing=smoothing, selection=selection,
        bias=bias, mixels=mixels,
    )
    if partial:
        result = with_fractions(result, data, keep_posteriors=bool(opts["return_posteriors"]))
    yield 1.0, "done"
    return result


def _room_for_posteriors(image, opts, n_components, smoothing, mixels):
    """`mixels`, or None with a warning where the posteriors they need do not fit in
    memory (the segmentation then keeps the plain mean-field posteriors)."""
    try:
        check_segmentation_memory(image, opts["channel_axis"], n_components,
                                  smoothing=smoothing, posteriors=True)
    except NotEnoughMemoryError:
        warnings.warn(
            "The image shows partial volumes, but the posteriors of the mixel-aware "
            "probabilities do not fit in memory: the plain mean-field posteriors are used. "
            "Pass the image as a dask array to get them block by block.",
            UserWarning, stacklevel=2,
        )
        return None
    return mixels


def _with_mixels(pred: Prediction, mixels, data, *, keep: bool) -> Prediction:
    """`pred` with mixel-aware posteriors (:mod:`..potts._mixel_swap`): labels and
    probability follow them; the posteriors are kept when `keep`."""
    labels, probability, q = swapped_outputs(mixels, data.features, pred.posteriors)
    return replace(pred, labels=labels.astype(pred.labels.dtype), probability=probability,
                   posteriors=q if keep else None)


def _channel_axis(image, channel_axis):
    """The non-negative channel axis of a (checked) image, or None."""
    return None if channel_axis is None else int(channel_axis) % np.ndim(image)
