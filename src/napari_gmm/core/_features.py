"""Turn an image into a (n_pixels, n_features) table of pixel values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._dtypes import to_working
from ._validation import check_channel_axis, check_image


@dataclass(frozen=True, eq=False)
class PixelData:
    """Pixel values of an image as a feature table.

    Attributes
    ----------
    features : (n_pixels, n_channels) ndarray
        Pixel values in the image's own dtype (bool becomes uint8, float16 becomes float32,
        big-endian becomes native byte order).
        A view of the image whenever the memory layout allows; never written to.
    spatial_shape : tuple of int
        The image shape without the channel axis.
    valid : (n_pixels,) bool ndarray or None
        True where every channel is finite; None when all pixels are valid.
    n_valid : int
        Number of valid pixels.
    """

    features: np.ndarray
    spatial_shape: tuple[int, ...]
    valid: np.ndarray | None
    n_valid: int

    @property
    def n_pixels(self) -> int:
        return self.features.shape[0]

    @property
    def n_features(self) -> int:
        return self.features.shape[1]

    @property
    def is_integer(self) -> bool:
        return self.features.dtype.kind in "biu"

    def valid_features(self) -> np.ndarray:
        """The rows of `features` that are valid (a view when all are)."""
        return self.features if self.valid is None else self.features[self.valid]

    def to_spatial(self, flat: np.ndarray) -> np.ndarray:
        """Reshape a per-pixel array (n_pixels, ...) to (*spatial_shape, ...)."""
        return flat.reshape(self.spatial_shape + flat.shape[1:])


def pixel_data(image, channel_axis=None) -> PixelData:
    """Build the :class:`PixelData` of an image (see :func:`pixel_features`)."""
    arr = check_image(image)
    axis = check_channel_axis(arr.ndim, channel_axis)
    # big-endian data (e.g. from some TIFF, FITS or zarr files), float16, longdouble: the
    # compiled kernels and np.bincount take native float32/64 and integers only
    arr = arr.view(np.uint8) if arr.dtype == bool else to_working(arr)
    if axis is None:
        spatial_shape = arr.shape
        features = arr.reshape(-1, 1)
    else:
        moved = np.moveaxis(arr, axis, -1)
        spatial_shape = moved.shape[:-1]
        features = moved.reshape(-1, moved.shape[-1])
    if features.shape[1] == 0:
        raise ValueError(
            f"The channel axis {channel_axis} of the image (shape {arr.shape}) has length 0; "
            "a multichannel image needs at least one channel."
        )
    valid = None
    n_valid = features.shape[0]
    if features.dtype.kind == "f" and _any_nonfinite(features):
        if features.shape[1] == 1:  # gray: no reduction over a length-1 axis (3x faster)
            finite = np.isfinite(features[:, 0])
        else:
            finite = np.isfinite(features).all(axis=1)
        n_valid = int(np.count_nonzero(finite))
        if n_valid < features.shape[0]:
            valid = finite
    if n_valid == 0:
        raise ValueError(
            f"All {features.shape[0]} pixels of the image are non-finite (NaN or inf), so "
            "there is nothing to fit. Check the image or replace invalid values first."
        )
    if features.dtype.itemsize == 8 and features.dtype.kind == "f":
        check_magnitude(features, valid)
    return PixelData(features, tuple(spatial_shape), valid, n_valid)


def _any_nonfinite(features: np.ndarray) -> bool:
    """Whether float `features` hold a NaN or an infinity (compiled and parallel where
    numba is used and the table is contiguous, :func:`._nb_estep.count_nonfinite`; no
    mask written)."""
    from ._backend import use_numba

    if use_numba() and features.flags.c_contiguous and features.dtype in (np.float32,
                                                                          np.float64):
        from ._nb_estep import count_nonfinite

        return count_nonfinite(features) > 0
    return not np.isfinite(features).all()


#: Largest magnitude of a float64 pixel value: squared deviations and their sums over
#: millions of pixels must stay far from float64's overflow at 1.8e308 (float32 images,
#: whose values stay below 3.4e38, are always within it).
MAX_MAGNITUDE = 1e100


def check_magnitude(features: np.ndarray, valid: np.ndarray | None) -> None:
    """Refuse float64 values so large that the mixture's variances would overflow."""
    where = True if valid is None else valid[:, None]
    hi = np.max(features, where=where, initial=-np.inf)
    lo = np.min(features, where=where, initial=np.inf)
    biggest = max(abs(float(hi)), abs(float(lo)))
    if biggest > MAX_MAGNITUDE:
        raise ValueError(
            f"The image has values up to {biggest:.3g} in magnitude; the mixture's variances "
            f"of values beyond {MAX_MAGNITUDE:.0e} overflow float64. Rescale the image first, "
            "e.g. image / np.nanmax(np.abs(image))."
        )


def pixel_features(image, channel_axis=None) -> np.ndarray:
    """Return the pixel values of an image as a (n_pixels, n_channels) float64 table.

    This is the table the mixture is fitted to, in the pixel order of the labels, so that
    ``seg.model.predict(pixel_features(image, channel_axis)) + 1 == seg.labels.ravel()``
    (for images without non-finite pixels).

    Parameters
    ----------
    image : ndarray
        Gray (any number of spatial axes) or multichannel image.
    channel_axis : int or None, default=None
        Axis of the channels (e.g. -1 for RGB); None when every axis is spatial.

    Returns
    -------
    features : (n_pixels, n_channels) ndarray of float64
        One row per pixel in C order of the spatial axes.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    >>> pixel_features(rgb, channel_axis=-1).shape
    (20, 3)
    """
    return pixel_data(image, channel_axis).features.astype(np.float64)
