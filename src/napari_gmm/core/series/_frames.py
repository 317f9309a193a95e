"""Time series: split an image into frames along a time axis, stack per-frame results.

The time axis is a batch axis, never a spatial one: every frame is segmented (or labelled
with a given model) as an image of its own, so spatial smoothing never couples frames. The
per-frame results are stacked back along the time axis into one :class:`Segmentation`
whose ``frames`` keeps each frame's own result.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass

import numpy as np

from .._result import Segmentation
from .._validation import check_channel_axis, check_image
from ..fit._sklearn_private import n_parameters
from ..progress import rescale

#: The whole-series ``frames`` choices; an int names a reference frame instead.
FRAME_MODES = ("each", "shared")


@dataclass(frozen=True, eq=False)
class FrameSplit:
    """An image seen as a sequence of frames along its time axis.

    Attributes
    ----------
    image : ndarray
        The (checked) image, never modified.
    time_axis : int
        Non-negative axis of `image` holding the frames.
    channel_axis : int or None
        Channel axis of one frame (the image's channel axis without the time axis).
    scale : tuple of float or None
        Pixel size per spatial axis of one frame.
    label_axis : int
        The time axis of the stacked labels (the image's axes without the channel axis).
    """

    image: np.ndarray
    time_axis: int
    channel_axis: int | None
    scale: tuple | None
    label_axis: int

    @property
    def n_frames(self) -> int:
        return self.image.shape[self.time_axis]

    @property
    def n_spatial(self) -> int:
        """Number of spatial axes of a frame."""
        return self.image.ndim - 1 - (self.channel_axis is not None)

    def frame(self, index: int) -> np.ndarray:
        """Frame `index` (a view of the image)."""
        return self.image[(slice(None),) * self.time_axis + (index,)]


def check_time_axis(ndim: int, time_axis, channel_axis: int | None) -> int:
    """Normalise `time_axis` to a non-negative int for an `ndim`-d image.

    `channel_axis` must already be normalised (non-negative or None).
    """
    if isinstance(time_axis, bool) or not isinstance(time_axis, numbers.Integral):
        raise TypeError(
            f"time_axis must be an int or None, got {type(time_axis).__name__} "
            f"({time_axis!r}). Use e.g. time_axis=0 for a (T, Y, X) series, None for a "
            "single image."
        )
    axis = int(time_axis)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"time_axis={axis} is out of range for an image with {ndim} dimension(s); "
            f"allowed values are {-ndim}..{ndim - 1}, or None for a single image."
        )
    axis %= ndim
    if axis == channel_axis:
        raise ValueError(
            f"time_axis and channel_axis name the same axis ({axis}); the frames and the "
            "channels must be different axes, e.g. time_axis=0, channel_axis=1 for (T, C, Y, X)."
        )
    n_spatial = ndim - 1 - (channel_axis is not None)
    if n_spatial < 1:
        raise ValueError(
            f"time_axis={axis} leaves no spatial axis in a {ndim}-d image "
            f"(channel_axis={channel_axis}); each frame needs at least one spatial axis. "
            "Use time_axis=None to segment the array as a single image."
        )
    return axis


def check_frames(frames, n_frames: int):
    """Validate the ``frames`` mode: 'each', 'shared' or a reference frame index."""
    if isinstance(frames, str) and frames in FRAME_MODES:
        return frames
    if isinstance(frames, numbers.Integral) and not isinstance(frames, bool):
        if -n_frames <= frames < n_frames:
            return int(frames) % n_frames
        raise ValueError(
            f"The reference frame {frames} is out of range for a series of {n_frames} "
            f"frame(s); allowed: {-n_frames}..{n_frames - 1}."
        )
    raise ValueError(
        "frames must be 'each' (fit every frame on its own), 'shared' (one model fitted on "
        f"all frames) or an int (fit on that frame, apply to all); got {frames!r}."
    )


def split_frames(image, time_axis, channel_axis=None, scale=None) -> FrameSplit:
    """Check a time series and describe its frames.

    `scale` may give one pixel size per spatial axis of a frame, or one per axis of the
    image without its channel axis (a napari layer's ``scale``): the time step is dropped.
    """
    arr = check_image(image)
    channel = check_channel_axis(arr.ndim, channel_axis)
    t = check_time_axis(arr.ndim, time_axis, channel)
    frame_channel = None if channel is None else channel - (channel > t)
    label_axis = t - (channel is not None and channel < t)
    n_spatial = arr.ndim - 1 - (channel is not None)
    if scale is not None:
        values = np.asarray(scale, dtype=object).ravel()
        if values.size == n_spatial + 1:
            values = np.delete(values, label_axis)
        elif values.size != n_spatial:
            raise ValueError(
                f"scale must have one value per spatial axis of a frame ({n_spatial}) or per "
                f"axis of the series without channels ({n_spatial + 1}, the time step is then "
                f"ignored); got {scale!r}."
            )
        scale = tuple(values)
    return FrameSplit(arr, t, frame_channel, scale, label_axis)


def iter_frames(split: FrameSplit, run_frame, *, start=0.0, span=1.0):
    """Run a per-frame generator on every frame, in order.

    `run_frame(frame)` returns a generator yielding ``(fraction, stage)`` and returning the
    frame's :class:`Segmentation`. Yields ``(fraction, 'frame i/n: stage')`` with fraction
    in ``[start, start + span]``, so a consumer can report and cancel between (and within)
    frames; returns the list of per-frame results.
    """
    results = []
    n = split.n_frames
    for i in range(n):
        label = f"frame {i + 1}/{n}"
        result = yield from rescale(
            run_frame(split.frame(i)), start + span * i / n, span / n,
            lambda stage, label=label: f"{label}: {stage}",
        )
        results.append(result)
    return results


def _stack_posteriors(frames, axis):
    if any(f.posteriors is None for f in frames):
        return None
    k = max(f.posteriors.shape[-1] for f in frames)
    padded = []
    for f in frames:
        widths = [(0, 0)] * (f.posteriors.ndim - 1) + [(0, k - f.posteriors.shape[-1])]
        padded.append(np.pad(f.posteriors, widths))
    return np.stack(padded, axis=axis)


def _stack_optional(frames, name, axis):
    values = [getattr(f, name) for f in frames]
    return None if any(v is None for v in values) else np.stack(values, axis=axis)


def stack_frames(
    frames, split: FrameSplit, *, mode, model, method, n_fit_samples, start, smoothing,
    selection=None, bias_params=0,
) -> Segmentation:
    """One :class:`Segmentation` of a time series from its per-frame results.

    Labels, probability (and posteriors, padded with zeros to the largest K; bias fields)
    are stacked along ``split.label_axis``, corrected images along the image's time axis.
    The log-likelihood, BIC and AIC are over every valid pixel of the series; with
    ``mode='each'`` every frame's model counts its own parameters, otherwise the one shared
    `model` is counted once; `bias_params` counts the free parameters of the bias fields.
    """
    frames = tuple(frames)
    n = sum(f.n_valid for f in frames)
    total_ll = sum(f.log_likelihood * f.n_valid for f in frames)
    if mode == "each":
        n_params = sum(n_parameters(f.model) for f in frames)
        converged = all(f.converged for f in frames)
        n_iter = max(f.n_iter for f in frames)
    else:
        n_params = n_parameters(model)
        converged = bool(model.converged_)
        n_iter = int(model.n_iter_)
    n_params += int(bias_params)
    axis = split.label_axis
    return Segmentation(
        labels=np.stack([f.labels for f in frames], axis=axis),
        probability=np.stack([f.probability for f in frames], axis=axis),
        model=model,
        converged=converged,
        n_iter=n_iter,
        log_likelihood=float(total_ll / n),
        bic=float(-2.0 * total_ll + n_params * np.log(n)),
        aic=float(-2.0 * total_ll + 2.0 * n_params),
        lower_bounds=tuple(float(v) for v in getattr(model, "lower_bounds_", ())),
        method=method,
        n_valid=int(n),
        n_fit_samples=int(n_fit_samples),
        elapsed=time.perf_counter() - start,
        posteriors=_stack_posteriors(frames, axis),
        smoothing=smoothing,
        selection=selection,
        frames=frames,
        time_axis=axis,
        frame_mode=mode,
        bias_field=_stack_optional(frames, "bias_field", axis),
        corrected=_stack_optional(frames, "corrected", split.time_axis),
        backend=frames[0].backend,
    )
