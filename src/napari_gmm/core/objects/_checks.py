"""Input checks of :func:`napari_gmm.label_objects` (labels, classes, options, image).

Every message says what was wrong, what is allowed, what was received and how to fix it,
as in :mod:`napari_gmm.core._validation`.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_channel_axis, check_image, check_int
from ..lazy._fit import is_dask_array

#: ``classes`` value meaning every class but the darkest (2..K).
FOREGROUND = "foreground"


def check_labels(labels, n_classes=None) -> tuple[np.ndarray, int]:
    """The class labels as an ndarray, and the number of classes K."""
    if is_dask_array(labels):
        raise TypeError(
            f"label_objects needs the class labels in memory; got a lazy (dask) array of "
            f"shape {labels.shape}. Objects can span blocks, so compute the labels, or a "
            "region of them, first: e.g. label_objects(np.asarray(labels[:64]), ...)."
        )
    arr = np.asarray(labels)
    if arr.dtype.kind not in "biu":
        raise TypeError(
            f"labels must be an integer (or bool) array of classes such as "
            f"segment(...).labels; got dtype {arr.dtype}. Pass the class labels, not an image."
        )
    if arr.ndim == 0 or arr.size == 0:
        raise ValueError(
            f"labels must be a non-empty array with at least one axis; got shape {arr.shape}."
        )
    if arr.dtype == bool:
        arr = arr.view(np.uint8)
    low, high = int(arr.min()), int(arr.max())
    if low < 0:
        raise ValueError(
            f"labels must be classes 1..K (0: no class); got a negative value ({low})."
        )
    if n_classes is None:
        return arr, high
    k = check_int("n_classes", n_classes, minimum=1, hint=" It is K, the number of classes.")
    if high > k:
        raise ValueError(
            f"labels hold class {high} but n_classes={k}; n_classes must be at least the "
            "largest class (or None to take it from the labels)."
        )
    return arr, k


def check_classes(classes, k: int) -> tuple[int, ...]:
    """The chosen classes, sorted and unique, each in 1..K."""
    if isinstance(classes, str):
        if classes != FOREGROUND:
            raise ValueError(
                f"classes must be a class number, a sequence of them or {FOREGROUND!r} "
                f"(every class but the darkest); got {classes!r}."
            )
        if k < 2:
            raise ValueError(
                f"classes={FOREGROUND!r} means every class but the darkest (2..K), but the "
                f"labels have K={k} class(es); pass classes=1 to label class 1."
            )
        return tuple(range(2, k + 1))
    values = [classes] if isinstance(classes, numbers.Number) else classes
    try:
        values = list(values)
    except TypeError:
        raise TypeError(
            f"classes must be an int, a sequence of ints or {FOREGROUND!r}; got "
            f"{type(classes).__name__} ({classes!r})."
        ) from None
    if not values:
        raise ValueError(f"classes is empty; choose at least one class in 1..{k}.")
    for c in values:
        if isinstance(c, bool | np.bool_) or not isinstance(c, numbers.Integral):
            raise TypeError(
                f"classes must be ints (class numbers 1..{k}); got {c!r} ({type(c).__name__})."
            )
    bad = sorted({int(c) for c in values if not 1 <= c <= k})
    if bad:
        raise ValueError(
            f"class(es) {bad} are not classes of the labels: allowed are 1..{k} (label 1 "
            f"the darkest class), or {FOREGROUND!r} for 2..{k}."
        )
    return tuple(sorted({int(c) for c in values}))


def check_connectivity(connectivity, n_spatial: int) -> int:
    """`connectivity` as an int in 1..n_spatial (None: n_spatial, every neighbour)."""
    if connectivity is None:
        return n_spatial
    if isinstance(connectivity, bool) or not isinstance(connectivity, numbers.Integral):
        raise TypeError(
            f"connectivity must be an int in 1..{n_spatial} or None; got {connectivity!r}."
        )
    if not 1 <= connectivity <= n_spatial:
        raise ValueError(
            f"connectivity must be in 1..{n_spatial} for {n_spatial} spatial axes (1: faces "
            f"only, {n_spatial}: corners too); got {connectivity}."
        )
    return int(connectivity)


def check_scale(scale, n_spatial: int, ndim: int, time_axis: int | None):
    """Pixel size per spatial axis as a tuple of positive floats, or None."""
    if scale is None:
        return None
    try:
        values = [float(v) for v in np.ravel(np.asarray(scale, dtype=object))]
    except (TypeError, ValueError):
        raise TypeError(f"scale must be a sequence of numbers; got {scale!r}.") from None
    if time_axis is not None and len(values) == ndim:
        del values[time_axis]  # a napari layer's scale: the time step is not a size
    if len(values) != n_spatial:
        extra = f" (or {ndim}, time step included)" if time_axis is not None else ""
        raise ValueError(
            f"scale must have one value per spatial axis ({n_spatial}{extra}); got {scale!r}."
        )
    if not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"scale values must be finite and > 0; got {scale!r}.")
    return tuple(values)


def frame_values(image, channel_axis, shape: tuple, time_axis: int | None):
    """A function ``frame -> (n_pixels, C) values`` of the image (None without one).

    The image's shape without `channel_axis` must be `shape`, the shape of the labels;
    `time_axis` is an axis of the labels.
    """
    if image is None:
        if channel_axis is not None:
            raise ValueError("channel_axis is an axis of image; pass image= with it.")
        return lambda frame: None
    arr = check_image(image)
    axis = check_channel_axis(arr.ndim, channel_axis)
    if arr.dtype == bool:
        arr = arr.view(np.uint8)
    if axis is not None:
        arr = np.moveaxis(arr, axis, -1)
    spatial = arr.shape[:-1] if axis is not None else arr.shape
    if spatial != tuple(shape):
        said = f" ({spatial} without channel_axis={channel_axis})" if axis is not None else ""
        raise ValueError(
            f"image has shape {np.shape(image)}{said} but labels have shape {tuple(shape)}; "
            "pass the image that was segmented, with its channel_axis."
        )
    n_channels = arr.shape[-1] if axis is not None else 1

    def values(frame: int):
        data = arr if time_axis is None else arr[(slice(None),) * time_axis + (frame,)]
        return data.reshape(-1, n_channels)

    return values
