"""One conversion of unusual pixel dtypes at the boundary, for numpy and dask images.

The compiled kernels (numba) and ``np.bincount`` take native-byte-order bool, integer,
float32 and float64 only. Big-endian data (common from Java tools, FITS and some TIFF and
zarr writers), float16 of either byte order and extended precision (``np.longdouble``)
are converted once, where the pixels enter (:func:`~._features.pixel_data` and
:func:`~._lazy_fit.lazy_pixels`), so no later step sees them.
"""

from __future__ import annotations

import numpy as np


def working_dtype(dtype) -> np.dtype:
    """The dtype an image of `dtype` is computed in (bool is viewed as uint8 elsewhere).

    Examples
    --------
    >>> [str(working_dtype(d)) for d in (">f4", ">f2", "<f2", ">u2", np.longdouble, "f8")]
    ['float32', 'float32', 'float32', 'uint16', 'float64', 'float64']
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize <= 2:
        return np.dtype(np.float32)
    if dtype.kind == "f" and dtype.itemsize > 8:
        return np.dtype(np.float64)
    return dtype.newbyteorder("=")


def to_working(arr: np.ndarray) -> np.ndarray:
    """`arr` in its :func:`working_dtype` (itself when already there; never in place)."""
    target = working_dtype(arr.dtype)
    if arr.dtype == target:
        return arr
    with np.errstate(over="ignore"):  # reported below, with what to do
        out = arr.astype(target)
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        lost = np.isinf(out) & np.isfinite(arr)
        if lost.any():
            raise ValueError(
                f"The image ({arr.dtype}) has finite values beyond float64's range (up to "
                f"{np.abs(arr[lost]).max():.3g}); napari-gmm computes in float64. Rescale the "
                "image first, e.g. (image / np.abs(image).max()).astype(np.float64)."
            )
    return out


def to_working_lazy(arr):
    """A dask array in its :func:`working_dtype` (lazily converted block by block)."""
    target = working_dtype(arr.dtype)
    return arr if arr.dtype == target else arr.astype(target)
