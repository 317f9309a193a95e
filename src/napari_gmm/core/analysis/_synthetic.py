"""Synthetic images with known classes, for tests, benchmarks and demonstrations.

Every image comes with its ground-truth label image (labels 1..n_classes, label 1 the darkest
class), so a segmentation can be scored with :func:`napari_gmm.compare_labels`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _check_shape(shape) -> tuple[int, ...]:
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
    if len(shape) < 1 or min(shape) < 1:
        raise ValueError(f"shape must be a tuple of positive ints (e.g. (256, 256)), got {shape}.")
    return shape


def _dtype_centre(dtype: np.dtype) -> float:
    """Middle of an integer dtype's range, or 0 for floating point dtypes."""
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return (float(info.min) + float(info.max)) / 2.0
    if dtype.kind == "f":
        return 0.0
    raise TypeError(f"dtype must be an integer or floating point dtype, got {dtype}.")


def _finish(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round and clip to an integer dtype's range, or cast to a floating point dtype."""
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        np.rint(values, out=values)
        np.clip(values, info.min, info.max, out=values)
    return values.astype(dtype)


def smooth_class_map(shape, n_classes=3, *, feature_size=None, seed=None) -> np.ndarray:
    """Random piecewise-smooth map of `n_classes` regions of about equal area.

    Each class gets a Gaussian-filtered white-noise field; every pixel takes the class of the
    largest field, after per-class offsets that balance the class areas.

    Parameters
    ----------
    shape : tuple of int
        Spatial shape, any number of dimensions (2D images, 3D volumes).
    n_classes : int, default 3
        Number of classes.
    feature_size : float, optional
        Standard deviation, in pixels, of the Gaussian filter; regions are a few times this
        wide. Default ``max(2, min(shape) / 10)``.
    seed : int or numpy.random.Generator, optional
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    truth : ndarray of shape `shape`, smallest unsigned int dtype holding `n_classes`
        Labels 1..n_classes.
    """
    shape = _check_shape(shape)
    if int(n_classes) < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}.")
    n_classes = int(n_classes)
    rng = np.random.default_rng(seed)
    if feature_size is None:
        feature_size = max(2.0, min(shape) / 10.0)
    fields = rng.standard_normal((n_classes, *shape), dtype=np.float32)
    for field in fields:
        ndimage.gaussian_filter(field, feature_size, output=field, mode="wrap")
        field /= max(float(field.std()), 1e-12)
    offsets = np.zeros((n_classes,) + (1,) * len(shape), dtype=np.float32)
    target = 1.0 / n_classes
    for _ in range(20):  # nudge the offsets until every class covers about 1/n_classes
        labels = np.argmax(fields + offsets, axis=0)
        share = np.bincount(labels.ravel(), minlength=n_classes) / labels.size
        if np.all(np.abs(share - target) < 0.02 * target):
            break
        offsets += (2.0 * (target - share)).reshape(offsets.shape).astype(np.float32)
    labels = np.argmax(fields + offsets, axis=0)
    return (labels + 1).astype(np.min_scalar_type(n_classes))


def class_means(n_classes, *, gap=60.0, base=None, dtype="uint8", n_channels=None) -> np.ndarray:
    """Class means used by :func:`make_class_image`, shape (n_classes,) or (n_classes, C).

    Channel ``c`` changes by ``slope_c * gap`` from one class to the next, with slopes
    ``(1, -0.5, 0.5, -0.5, ...)``: the classes differ in every channel while their mean over
    channels still increases with the label. All channels share the same midpoint, and the
    first channel's darkest class is at `base`.
    """
    dtype = np.dtype(dtype)
    steps = np.arange(n_classes, dtype=np.float64) - (n_classes - 1) / 2.0
    if base is None:
        centre = _dtype_centre(dtype) if dtype.kind in "ui" else gap * (n_classes - 1) / 2.0
    else:
        centre = float(base) + gap * (n_classes - 1) / 2.0
    if n_channels is None:
        return centre + gap * steps
    slopes = np.array([1.0] + [(-0.5, 0.5)[c % 2] for c in range(1, int(n_channels))])
    return centre + gap * steps[:, None] * slopes[None, :]


def make_class_image(
    shape,
    n_classes=3,
    *,
    gap=60.0,
    sigma=20.0,
    base=None,
    dtype="uint8",
    feature_size=None,
    n_channels=None,
    seed=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy image of smooth random regions with known classes (2D, 3D "blobs" or nD).

    Parameters
    ----------
    shape : tuple of int
        Spatial shape, e.g. ``(256, 256)`` or ``(48, 64, 64)``.
    n_classes : int, default 3
        Number of classes.
    gap : float, default 60.0
        Distance between the means of consecutive classes (first channel).
    sigma : float, default 20.0
        Standard deviation of the additive Gaussian noise, in intensity units.
    base : float, optional
        Mean of class 1 (first channel). Default: the classes are centred on the middle of an
        integer dtype's range (127.5 for uint8: means 67.5, 127.5, 187.5 for 3 classes 60
        apart), or class 1 is at 0 for floating point dtypes.
    dtype : str or numpy dtype, default "uint8"
        Integer dtypes are rounded and clipped to their range; float dtypes are not clipped.
    feature_size : float, optional
        Smoothness of the class map in pixels (see :func:`smooth_class_map`); default
        ``max(2, min(shape) / 10)``.
    n_channels : int, optional
        If given, the image has this many channels on a last axis, with class means that
        differ per channel (see :func:`class_means`).
    seed : int or numpy.random.Generator, optional
        Seed; the same seed gives the same image.

    Returns
    -------
    image : ndarray of shape `shape` (or ``(*shape, n_channels)``) and dtype `dtype`
    truth : ndarray of shape `shape`, uint8 (for up to 255 classes)
        Ground-truth labels 1..n_classes, label 1 the darkest class.

    Examples
    --------
    >>> image, truth = make_class_image((64, 80), n_classes=3, sigma=10, seed=0)
    >>> image.shape, image.dtype, truth.shape, truth.dtype
    ((64, 80), dtype('uint8'), (64, 80), dtype('uint8'))
    >>> sorted(np.unique(truth).tolist())
    [1, 2, 3]
    >>> [round(float(image[truth == k].mean())) for k in (1, 2, 3)]
    [67, 128, 188]
    >>> rgb, _ = make_class_image((32, 32, 32), 2, n_channels=3, dtype="float32", seed=1)
    >>> rgb.shape, rgb.dtype
    ((32, 32, 32, 3), dtype('float32'))
    """
    shape = _check_shape(shape)
    dtype = np.dtype(dtype)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}.")
    rng = np.random.default_rng(seed)
    truth = smooth_class_map(shape, n_classes, feature_size=feature_size, seed=rng)
    means = class_means(n_classes, gap=gap, base=base, dtype=dtype, n_channels=n_channels)
    values = means[truth.astype(np.intp) - 1]
    values += rng.normal(0.0, sigma, size=values.shape)
    return _finish(values, dtype), truth


def make_line_image(
    shape=(96, 96), widths=(1, 2, 3), *, gap=60.0, sigma=4.0, dtype="uint8", seed=None
) -> tuple[np.ndarray, np.ndarray]:
    """Dark background (class 1) with bright straight lines of given widths (class 2).

    Each width gets one line along the first axis and one along the second, and the right
    quarter of the image is a bright block so that both classes are well represented.

    Parameters
    ----------
    shape : tuple of int, default (96, 96)
        2D shape.
    widths : sequence of int, default (1, 2, 3)
        Line widths in pixels.
    gap, sigma, dtype, seed
        As in :func:`make_class_image` (2 classes).

    Returns
    -------
    image, truth : ndarray of shape `shape`
        The noisy image and labels 1 (background) / 2 (lines and block).

    Examples
    --------
    >>> image, truth = make_line_image((40, 40), widths=(1, 2), seed=0)
    >>> int((truth[:30, :30] == 2).sum())
    171
    """
    shape = _check_shape(shape)
    if len(shape) != 2:
        raise ValueError(f"make_line_image makes 2D images, got shape {shape}.")
    dtype = np.dtype(dtype)
    rows, cols = shape
    block = cols - cols // 4
    truth = np.ones(shape, dtype=np.uint8)
    truth[:, block:] = 2
    step_r = max(rows // (len(widths) + 1), 1)
    step_c = max(block // (len(widths) + 1), 1)
    for i, w in enumerate(int(w) for w in widths):
        r, c = step_r * (i + 1), step_c * (i + 1)
        truth[r : r + w, :block] = 2
        truth[:, c : c + w] = 2
    rng = np.random.default_rng(seed)
    means = class_means(2, gap=gap, dtype=dtype)
    values = means[truth.astype(np.intp) - 1] + rng.normal(0.0, sigma, size=shape)
    return _finish(values, dtype), truth


#: Kinds of :func:`make_shading`.
SHADINGS = ("ramp", "vignette", "random")


def make_shading(shape, low=0.6, high=1.4, *, kind="vignette", seed=None) -> np.ndarray:
    """A smooth multiplicative shading field from `low` to `high` (uneven illumination).

    Parameters
    ----------
    shape : tuple of int
        Spatial shape (2D, 3D or nD).
    low, high : float, default 0.6, 1.4
        Smallest and largest value of the field.
    kind : {'ramp', 'vignette', 'random'}, default 'vignette'
        ``'ramp'``: linear along the diagonal of the first and last axes; ``'vignette'``:
        a cos^4 fall-off around a random centre (a lens' vignetting, not a polynomial);
        ``'random'``: white noise smoothed by a Gaussian of a quarter of the smallest axis.
    seed : int or numpy.random.Generator, optional
        Seed of the vignette centre and of the random field.

    Returns
    -------
    field : ndarray of float64, shape `shape`
        Values from `low` to `high`.

    Examples
    --------
    >>> import napari_gmm as ng
    >>> image, truth = make_class_image((64, 64), 3, gap=100, base=100, sigma=10,
    ...                                 dtype="float32", feature_size=4, seed=0)
    >>> shaded = image * make_shading((64, 64), seed=0)
    >>> plain = ng.segment(shaded, 3, random_state=0)
    >>> seg = ng.segment(shaded, 3, bias_field="polynomial", random_state=0)
    >>> acc = [ng.compare_labels(truth, s.labels).accuracy for s in (plain, seg)]
    >>> [round(a, 2) for a in acc]
    [0.77, 1.0]
    """
    shape = _check_shape(shape)
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low <= high):
        raise ValueError(f"low and high must be finite with 0 < low <= high, got {low}, {high}.")
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1.0, 1.0, n) for n in shape], indexing="ij")
    if kind == "ramp":
        t = grids[0] + grids[-1]
    elif kind == "vignette":
        centre = rng.uniform(-0.4, 0.4, len(shape))
        r = np.sqrt(sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True)))
        t = np.cos(np.arctan(0.9 * r)) ** 4
    elif kind == "random":
        t = ndimage.gaussian_filter(rng.standard_normal(shape), min(shape) / 4.0, mode="reflect")
    else:
        raise ValueError(f"kind must be one of {SHADINGS}, got {kind!r}.")
    span = float(t.max() - t.min())
    t = (t - t.min()) / span if span > 0 else np.zeros(shape)
    return low + (high - low) * t


def make_skewed_spots(size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """A gamma (skewed) background with ~1.5 % bright 3x3 spots: ``(uint8 image, truth)``,
    truth 1 = background, 2 = spots. `rng` (a numpy Generator) is advanced, so a caller can
    draw scribbles from it next (the guided-classes tests and benchmark)."""
    truth = np.ones((size, size), np.uint8)
    n_spots = int(0.015 * size * size / 9)
    for y, x in zip(rng.integers(2, size - 2, n_spots), rng.integers(2, size - 2, n_spots),
                    strict=True):
        truth[y - 1 : y + 2, x - 1 : x + 2] = 2
    img = 20 + rng.gamma(2.0, 15.0, truth.shape)
    img[truth == 2] = rng.normal(160, 15, int((truth == 2).sum()))
    return np.clip(img, 0, 255).astype(np.uint8), truth
