"""The apply stage: a fitted mixture + an image -> labels, probability (and posteriors).

A segmentation is two stages with a small object between them: *fit* (pixels -> mixture,
a few KB) and *apply* (mixture + pixels -> per-pixel results). :func:`segment` runs both;
:func:`apply_model` runs the second alone, so one model can label many images or frames
with classes that mean the same thing everywhere.
"""

from __future__ import annotations

import functools
import time

import numpy as np
from sklearn.mixture import GaussianMixture

from ._features import pixel_data
from ._mask import masked_image
from ._options import MAX_DISTINCT, Options, check_options, compress_if_integer
from ._resources import check_segmentation_memory
from ._result import Segmentation
from ._validation import (
    UNSET,
    check_model_channels,
    check_progress,
    check_smoothing_ndim,
    resolve_channel_axis,
)
from .bias._ecm import DEFAULT_ORDER, check_bias_field, check_bias_order, n_terms
from .bias._fit import iter_bias_for_model
from .fit._fit import FitInfo
from .guided._classes import refuse_grouped_lazy
from .lazy._apply_model import apply_model_lazy, iter_apply_model_lazy
from .lazy._fit import is_dask_array
from .lazy._segment import check_lazy_bias, check_lazy_smoothing
from .pipeline._outputs import iter_apply, make_result
from .potts._auto_smoothing import estimate_smoothing, recorded_smoothing
from .potts._beta_cv import held_out_smoothing
from .potts._hmrf import check_marginals, check_scale, check_smoothing
from .progress import rescale, run
from .series._frames import iter_frames, split_frames, stack_frames

#: ``Segmentation.method`` of a result of :func:`apply_model`.
APPLIED = "applied model"
#: Keyword options of :func:`iter_apply_model` besides `time_axis`.
APPLY_OPTIONS = (
    "channel_axis", "smoothing", "marginals", "scale", "return_posteriors", "max_distinct",
    "bias_field", "bias_order",
)


def check_model(model) -> GaussianMixture:
    """A fitted GaussianMixture, or one loaded from a model file path."""
    if isinstance(model, GaussianMixture):
        if not hasattr(model, "means_"):
            raise ValueError(
                "The GaussianMixture is not fitted. Fit it first, or pass a segmentation's "
                "model (seg.model) or a model file saved with save_model."
            )
        return model
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        from ._model_file import load_model

        return load_model(model)
    raise TypeError(
        "model must be a fitted sklearn GaussianMixture (e.g. seg.model) or the path of a "
        f"model file saved with napari_gmm.save_model, got {type(model).__name__}."
    )


def iter_apply_image(
    gmm, image, *, channel_axis=None, smoothing=0.0, scale=None, return_posteriors=False,
    max_distinct=MAX_DISTINCT, max_samples=200_000, random_state=0, marginals="mean-field",
    bias_field=None, bias_order=DEFAULT_ORDER, field=None,
):
    """Generator form of :func:`apply_model` on one image (`gmm` checked already).

    Yields ``(fraction, stage)`` and returns the :class:`Segmentation`. `field`, if given,
    is a bias field already estimated for this image (spatial shape), used as it is.
    """
    start = time.perf_counter()
    smoothing, max_distinct, bias_field, bias_order = check_options(
        smoothing=smoothing, max_distinct=max_distinct, bias_field=bias_field,
        bias_order=bias_order,
    )
    check_segmentation_memory(
        image, channel_axis, gmm.n_components, smoothing=smoothing,
        posteriors=bool(return_posteriors), what="applying a model to",
    )
    data = pixel_data(image, channel_axis)
    check_model_channels(gmm, data.n_features, np.shape(image), channel_axis)
    scale = check_scale(scale, len(data.spatial_shape))
    check_smoothing_ndim(smoothing, len(data.spatial_shape))
    marginals = check_marginals(marginals)
    yield 0.05, "reading pixels"
    bias = None
    if bias_field is not None or field is not None:
        axis = None if channel_axis is None else int(channel_axis) % np.ndim(image)
        steps = iter_bias_for_model(
            gmm, data, order=bias_order, random_state=random_state, channel_axis=axis,
            field=field, smoothing=smoothing, scale=scale, max_samples=max_samples,
        )
        data, bias, smoothing = yield from rescale(steps, 0.07, 0.03, "estimating the bias field")
    compressed = None if bias is not None else compress_if_integer(data, max_distinct)
    if smoothing == "held-out":
        smoothing = held_out_smoothing(gmm, data, scale=scale, random_state=random_state)
    if smoothing == "auto":
        smoothing = estimate_smoothing(
            gmm, data, compressed, scale=scale, random_state=random_state, reestimate=False
        )[0]
    steps = iter_apply(
        gmm, data, compressed, smoothing=smoothing, scale=scale, max_samples=max_samples,
        random_state=random_state, posteriors=bool(return_posteriors), reestimate=False,
        marginals=marginals,
    )
    gmm, pred = yield from rescale(steps, 0.1, 0.89, "predicting pixels")
    info = FitInfo(method=APPLIED, n_fit_samples=0)
    result = make_result(gmm, data, pred, info, start=start, smoothing=smoothing, bias=bias)
    yield 1.0, "done"
    return result


def apply_model(
    model,
    image,
    *,
    channel_axis=UNSET,
    time_axis=None,
    smoothing=0.0,
    marginals="mean-field",
    scale=None,
    return_posteriors=False,
    max_distinct=MAX_DISTINCT,
    bias_field=None,
    bias_order=DEFAULT_ORDER,
    progress=None,
    mask=None,
) -> Segmentation:
    """Label an image with an already fitted mixture (no fitting).

    Parameters
    ----------
    model : sklearn.mixture.GaussianMixture or path-like
        A fitted mixture (e.g. ``seg.model`` of another image) or a model file written by
        :func:`napari_gmm.save_model` / ``Segmentation.save_model``.
    image : ndarray
        Image with as many channels as the model has features (see :func:`segment`).
    channel_axis : int or None, default=None
        Axis holding the channels; None for gray images (an image that looks like RGB(A)
        without it gets a :class:`~napari_gmm.ChannelAxisWarning`, see :func:`segment`).
    time_axis : int or None, default=None
        Axis holding the frames of a time series: the model labels every frame, frame by
        frame (smoothing stays within a frame). The result's ``frames`` holds each frame's
        result. None: every axis except `channel_axis` is spatial.
    smoothing : float or 'auto', default=0.0
        Potts prior strength (see :func:`segment`); the mixture itself is not re-estimated.
    marginals : {'mean-field', 'gibbs'}, default='mean-field'
        How posteriors are computed with smoothing (see :func:`segment`).
    scale : sequence of float or None, default=None
        Physical pixel size per spatial axis, for the prior (with `time_axis`, a value
        for the time axis may be included, e.g. a napari layer's ``scale``: it is ignored).
    return_posteriors : bool, default=False
        Also keep the per-class posterior maps.
    max_distinct : int, default=262_144
        Integer images with at most this many distinct values are predicted by lookup table.
    bias_field : {None, 'polynomial'}, default=None
        Estimate a smooth multiplicative field for this image with the model held fixed
        (see :func:`segment`), so that one model labels images with different shading.
        The field is not normalised: the model's intensities set its scale, so it also
        takes up a global gain (exposure) difference. ``result.bias_field`` and
        ``result.corrected`` hold it and the corrected image (per frame with `time_axis`).
    bias_order : int, default=3
        Total degree of the polynomial field, 1..6.
    progress : callable or None, default=None
        Called as ``progress(fraction, stage)`` (stage ``'frame i/n: ...'`` for a series);
        an exception it raises (e.g. a cancellation) stops the work.
    mask : ndarray of bool, optional
        Region to segment, the image's shape without its channel axis: only pixels inside
        are fitted and labelled; outside ones are left out like non-finite pixels (label 0,
        probability 0). The image is then processed as float (no exact integer path).

    Returns
    -------
    Segmentation
        Label ``k`` is the model's component ``k - 1`` (the model's class order is kept, so
        classes mean the same thing on every image); ``method == 'applied model'``, and the
        log-likelihood, BIC and AIC are those of the model on this image.

    Raises
    ------
    TypeError
        If `model` is neither a GaussianMixture nor a path.
    ValueError
        If the model is not fitted, or its number of features differs from the image's
        channels, or for a bad `time_axis`.

    Examples
    --------
    >>> import numpy as np
    >>> import napari_gmm as ng
    >>> first = np.array([[10, 10, 200], [10, 200, 200]], dtype=np.uint8)
    >>> model = ng.segment(first, 2, random_state=0).model
    >>> ng.apply_model(model, np.array([[190, 15], [12, 230]], dtype=np.uint8)).labels
    array([[2, 1],
           [1, 2]], dtype=uint8)
    >>> series = np.stack([first, first // 2 + 100])  # (T, Y, X)
    >>> ng.apply_model(model, series, time_axis=0).labels.shape
    (2, 2, 3)
    """
    report = check_progress(progress, "progress(fraction, stage)")
    channel_axis = resolve_channel_axis(np.shape(image), channel_axis, time_axis)
    image = masked_image(image, mask, channel_axis)  # outside: left out like NaN pixels
    if time_axis is None and is_dask_array(image):  # lazy, out of core (core/lazy/_segment.py)
        refuse_grouped_lazy(check_model(model))
        check_lazy_smoothing(check_smoothing(smoothing), marginals)
        check_lazy_bias(check_bias_field(bias_field))
        return apply_model_lazy(check_model(model), image, channel_axis=channel_axis,
            smoothing=smoothing, scale=scale, return_posteriors=return_posteriors,
            max_distinct=max_distinct, report=report, method=APPLIED,
            in_memory=functools.partial(iter_apply_image, check_model(model)))
    steps = iter_apply_model(
        model, image, channel_axis=channel_axis, time_axis=time_axis, smoothing=smoothing,
        marginals=marginals, scale=scale, return_posteriors=return_posteriors,
        max_distinct=max_distinct, bias_field=bias_field, bias_order=bias_order,
    )
    return run(steps, report)


def iter_apply_model(model, image, *, time_axis=None, **options):
    """Generator form of :func:`apply_model`: yields ``(fraction, stage)`` progress steps
    and returns the :class:`Segmentation` (as ``StopIteration.value``).

    Takes the same arguments as :func:`apply_model` except `progress`; with `time_axis`
    the stages read ``'frame i/n: ...'``, so a worker thread can cancel between frames.
    """
    start = time.perf_counter()
    Options.from_kwargs(APPLY_OPTIONS, "apply", **options)  # unknown names: a TypeError
    gmm = check_model(model)
    options = dict(options)
    channel_axis = resolve_channel_axis(
        np.shape(image), options.pop("channel_axis", UNSET), time_axis, stacklevel=3
    )
    scale = options.pop("scale", None)
    if time_axis is None and is_dask_array(image):  # lazy, as apply_model does
        smoothing = options.get("smoothing", 0.0)
        check_lazy_smoothing(check_smoothing(smoothing), options.get("marginals", "mean-field"))
        check_lazy_bias(check_bias_field(options.get("bias_field")))
        return (yield from iter_apply_model_lazy(
            gmm, image, channel_axis=channel_axis, smoothing=smoothing, scale=scale,
            return_posteriors=options.get("return_posteriors", False),
            max_distinct=options.get("max_distinct", MAX_DISTINCT), method=APPLIED,
            in_memory=functools.partial(iter_apply_image, gmm),
        ))
    if time_axis is None:
        return (yield from iter_apply_image(
            gmm, image, channel_axis=channel_axis, scale=scale, **options
        ))
    split = split_frames(image, time_axis, channel_axis, scale)
    smoothing = check_smoothing(options.get("smoothing", 0.0))
    frames = yield from iter_frames(
        split,
        lambda frame: iter_apply_image(
            gmm, frame, channel_axis=split.channel_axis, scale=split.scale, **options
        ),
    )
    bias_params = 0
    if check_bias_field(options.get("bias_field")) is not None:
        order = check_bias_order(options.get("bias_order", DEFAULT_ORDER))
        bias_params = split.n_frames * n_terms(split.n_spatial, order)
    result = stack_frames(
        frames, split, mode="shared", model=gmm, method=APPLIED, n_fit_samples=0,
        start=start, smoothing=recorded_smoothing(smoothing, frames), bias_params=bias_params,
    )
    yield 1.0, "done"
    return result
