"""From a file's axes metadata and the options to channel axis, time axis and pixel size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io._formats import LoadedImage


@dataclass(frozen=True, eq=False)
class Prepared:
    """What the core needs to segment an input, and the axes of its outputs.

    Attributes
    ----------
    image : ndarray
        The pixels (RGBA loses its alpha channel).
    axes : str or None
        Axis letters of `image`.
    channel_axis, time_axis : int or None
        Non-negative axes of `image`.
    scale : tuple of float or None
        Pixel size per spatial axis of a frame (--scale as given, else from metadata).
    label_axes : str or None
        Axis letters of the labels (`axes` without the channel axis).
    """

    image: object
    axes: str | None
    channel_axis: int | None
    time_axis: int | None
    scale: tuple | None
    label_axes: str | None


def _axis(choice, ndim: int, name: str) -> int:
    if not -ndim <= choice < ndim:
        raise ValueError(
            f"--{name}-axis {choice} is out of range for an image with {ndim} axes; "
            f"allowed: {-ndim}..{ndim - 1}, 'auto' or 'none'."
        )
    return choice % ndim


def prepare(loaded: LoadedImage, channel_choice, time_choice, scale=None) -> Prepared:
    """Resolve ``--channel-axis``, ``--time-axis`` and ``--scale`` for one input.

    'auto' takes the channel axis from the metadata (``C``, or ``S`` for RGB samples; alpha
    dropped) and the time axis from ``T``; without axes metadata the last axis is the
    channel axis when it has 3 or 4 samples (RGB/RGBA) in a 3-d image.
    """
    image, axes = loaded.data, loaded.axes
    ndim = np.ndim(image)
    channel = None
    drop_alpha = False
    if isinstance(channel_choice, int):
        channel = _axis(channel_choice, ndim, "channel")
    elif channel_choice == "auto":
        if axes is not None and "C" in axes and "S" in axes:
            raise ValueError(
                f"the image has both C and S (sample) axes ({axes}); pass --channel-axis "
                "to say which holds the channels."
            )
        if axes is not None and ("C" in axes or "S" in axes):
            channel = axes.index("C" if "C" in axes else "S")
            drop_alpha = axes[channel] == "S"
        elif axes is None and ndim == 3 and np.shape(image)[-1] in (3, 4):
            channel, drop_alpha = 2, True
    if drop_alpha and np.shape(image)[channel] == 4:
        image = image[(slice(None),) * channel + (slice(0, 3),)]
    time = None
    if isinstance(time_choice, int):
        time = _axis(time_choice, ndim, "time")
    elif time_choice == "auto" and axes is not None and "T" in axes:
        time = axes.index("T")
    if axes is None and time is None and (ndim, channel) in ((2, None), (3, 2)):
        axes = "YX" if channel is None else "YXS"  # a plain 2-D gray or RGB picture
    if scale is None:
        scale = _metadata_scale(loaded, channel, time)
    label_axes = None
    if axes is not None:
        label_axes = axes if channel is None else axes[:channel] + axes[channel + 1 :]
    return Prepared(image, axes, channel, time, None if scale is None else tuple(scale),
                    label_axes)


def _metadata_scale(loaded: LoadedImage, channel, time):
    """Pixel sizes of the spatial axes from the metadata, when it gives all of them."""
    if loaded.axes is None:
        return None
    spatial = [a for i, a in enumerate(loaded.axes) if i not in (channel, time)]
    if not spatial or any(a not in "XYZ" or not loaded.spacing.get(a, 0) > 0 for a in spatial):
        return None
    return tuple(float(loaded.spacing[a]) for a in spatial)
