"""Gaussian noise injection in the image's own intensity units."""

from __future__ import annotations

import numbers

import numpy as np

from .._resources import check_memory
from .._validation import check_channel_axis, check_image


def _check_sigma(sigma, ndim: int, shape: tuple, axis: int | None) -> np.ndarray:
    """Return sigma as an array broadcastable against the image."""
    if isinstance(sigma, bool) or not (isinstance(sigma, (numbers.Real, list, tuple, np.ndarray))):
        raise TypeError(
            f"sigma must be a number or a sequence of numbers (one per channel), got "
            f"{type(sigma).__name__} ({sigma!r})."
        )
    try:
        s = np.asarray(sigma, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"sigma must contain real numbers, got {sigma!r}.") from err
    if s.ndim > 1:
        raise ValueError(
            f"sigma must be a scalar or a 1-D sequence (one value per channel), got an array "
            f"of shape {s.shape}."
        )
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(
            f"sigma must be finite and >= 0 (a standard deviation in the image's intensity "
            f"units), got {sigma!r}."
        )
    if s.ndim == 0 or s.size == 1:
        return s.reshape(())
    if axis is None:
        raise ValueError(
            f"sigma has {s.size} values (one per channel), but channel_axis is None so the "
            "image has no channels. Pass channel_axis (e.g. -1 for RGB) or a single sigma."
        )
    n_channels = shape[axis]
    if s.size != n_channels:
        raise ValueError(
            f"sigma has {s.size} values but the image has {n_channels} channels along axis "
            f"{axis}; give one sigma per channel or a single value for all."
        )
    bshape = [1] * ndim
    bshape[axis] = n_channels
    return s.reshape(bshape)


def add_gaussian_noise(image, sigma, *, seed=None, channel_axis=None) -> np.ndarray:
    """Return a copy of an image with additive Gaussian noise.

    Parameters
    ----------
    image : ndarray
        Gray or multichannel image (bool, integer or float). Never modified.
    sigma : float or sequence of float
        Standard deviation of the noise in the image's own intensity units (e.g. 20 grey
        levels of a uint8 image). A sequence gives one value per channel (needs
        `channel_axis`). 0 returns an unchanged copy.
    seed : int, numpy.random.Generator or None, default=None
        Source of randomness; the same int gives the same noise.
    channel_axis : int or None, default=None
        Axis of the channels, for per-channel sigma.

    Returns
    -------
    noisy : ndarray
        Same shape and dtype as `image`. Integer images are rounded and clipped to the
        dtype's range (no wrap-around); bool images are thresholded at 0.5; float images
        keep their dtype and are clipped to its finite range (noise never creates inf;
        NaN and inf pixels stay as they were).

    Raises
    ------
    ValueError
        If sigma is negative or not finite, or has the wrong number of values.
    TypeError
        If the image is not numeric or sigma is not a number.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((2, 3), 250, dtype=np.uint8)
    >>> noisy = add_gaussian_noise(img, 30, seed=0)
    >>> noisy.dtype, int(noisy.max()) <= 255
    (dtype('uint8'), True)
    >>> np.array_equal(noisy, add_gaussian_noise(img, 30, seed=0))
    True
    """
    arr = check_image(image)
    axis = check_channel_axis(arr.ndim, channel_axis)
    s = _check_sigma(sigma, arr.ndim, arr.shape, axis)
    work_bytes = 4 if kind_is_small_float(arr.dtype) else 8
    check_memory(arr.size * (work_bytes + arr.dtype.itemsize),
                 f"adding noise to an image of shape {arr.shape} ({arr.dtype})")
    rng = np.random.default_rng(seed)
    kind = arr.dtype.kind
    if kind == "f":
        work = np.float32 if arr.dtype.itemsize <= 4 else np.float64
        noise = rng.standard_normal(arr.shape, dtype=work)
        with np.errstate(over="ignore", invalid="ignore"):  # saturated below
            noise *= s.astype(work)
            noise += arr
        # saturate at the dtype's finite range (as integers do): noise never makes inf
        hi = float(np.finfo(arr.dtype if arr.dtype.itemsize <= 8 else work).max)
        finite = np.isfinite(arr)
        clipped = np.clip(noise, -hi, hi, out=noise)
        out = clipped.astype(arr.dtype, copy=False)
        if not finite.all():  # NaN / inf pixels stay what they were
            out[~finite] = arr[~finite]
        return out
    noise = rng.standard_normal(arr.shape)
    noise *= s
    if kind != "b" and arr.dtype.itemsize == 8:
        return _add_offsets_64(arr, noise)
    noise += arr
    if kind == "b":
        return noise >= 0.5
    info = np.iinfo(arr.dtype)
    # the float64 nearest to a 64-bit integer limit can lie outside it: step inside
    lo, hi = float(info.min), float(info.max)
    if int(hi) > info.max:
        hi = np.nextafter(hi, 0.0)
    np.rint(noise, out=noise)
    np.clip(noise, lo, hi, out=noise)
    return noise.astype(arr.dtype)


def kind_is_small_float(dtype) -> bool:
    """Float images of at most 32 bits get float32 noise (others: float64)."""
    return dtype.kind == "f" and dtype.itemsize <= 4


def _add_offsets_64(arr: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """`arr` (64-bit integers) plus the rounded noise, saturated at the dtype's limits.

    Integers beyond 2**53 are not exact in float64, so the noise is rounded to integer
    offsets and added in integer arithmetic (numpy has no saturating add: overflow is
    detected and clipped here).
    """
    np.rint(noise, out=noise)
    # int64 offsets: |noise| beyond ~9.2e18 (half the uint64 range) is truncated there
    limit = float(np.nextafter(2.0**63, 0.0))
    np.clip(noise, -limit, limit, out=noise)
    offsets = noise.astype(np.int64)
    native = arr.astype(arr.dtype.newbyteorder("="), copy=True)
    info = np.iinfo(native.dtype)
    with np.errstate(over="ignore"):
        if native.dtype.kind == "i":
            out = native + offsets  # wraps around on overflow
            over = (offsets > 0) & (out < native)
            under = (offsets < 0) & (out > native)
        else:
            up = np.where(offsets > 0, offsets, 0).astype(np.uint64)
            down = np.where(offsets < 0, -offsets, 0).astype(np.uint64)
            over = up > info.max - native
            under = down > native
            out = native + up - down
    out[over] = info.max
    out[under] = info.min
    return out.astype(arr.dtype, copy=False)
