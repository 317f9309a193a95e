"""Masks: restrict a segmentation, or objects, to a region of interest.

A mask is a bool array of the image's shape without its channel axis (time axis
included). Pixels outside it are treated like non-finite pixels, which the pipeline
already leaves out of the fit and labels 0: :func:`masked_image` writes NaN there (a float
copy; the input is not modified), so ``segment`` and ``apply_model`` need no other change.
For objects, :func:`border_objects` flags the objects cut by the mask's border.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._validation import UNSET, check_channel_axis
from .lazy._fit import is_dask_array


def check_mask(mask, shape, what="image") -> np.ndarray:
    """`mask` as a bool ndarray of `shape`; a clear error naming both shapes otherwise."""
    if is_dask_array(mask):
        mask = mask.compute()
    arr = np.asarray(mask)
    if arr.dtype != bool:
        if arr.dtype.kind not in "biu":
            raise TypeError(
                f"mask must be a bool array (True inside the region to keep) or integer "
                f"labels (> 0 inside); got dtype {arr.dtype}."
            )
        arr = arr > 0
    if arr.shape != tuple(shape):
        raise ValueError(
            f"mask has shape {arr.shape} but the {what} has shape {tuple(shape)}; the mask "
            f"must have the {what}'s shape (without its channel axis)."
        )
    if not arr.any():
        raise ValueError("mask is empty (no pixel inside); nothing would be segmented.")
    return arr


def masked_image(image, mask, channel_axis=None):
    """`image` as float with NaN outside `mask` (a copy), or `image` itself when no mask."""
    if mask is None:
        return image
    shape = np.shape(image)
    axis = None if channel_axis is UNSET else check_channel_axis(len(shape), channel_axis)
    spatial = shape if axis is None else shape[:axis] + shape[axis + 1 :]
    keep = check_mask(mask, spatial)
    if axis is not None:
        keep = np.expand_dims(keep, axis)
    dtype = np.float32 if np.dtype(image.dtype).itemsize <= 2 else np.float64
    if is_dask_array(image):
        import dask.array as da

        return da.where(keep, image.astype(dtype), np.nan)
    return np.where(keep, np.asarray(image, dtype=dtype), dtype(np.nan))


def border_objects(instances, n: int, mask, structure) -> np.ndarray:
    """Whether each object ``1..n`` touches a pixel outside `mask` (bool, length n)."""
    outside = ndimage.binary_dilation(~mask, structure=structure)
    touched = np.zeros(n + 1, dtype=bool)
    touched[instances[outside & (instances > 0)]] = True
    return touched[1:]
