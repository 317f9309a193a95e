"""Synthetic images of separate disks (2D) or balls (3D+) with known objects, for tests.

Each image comes with its class labels (1 background, 2.. the object classes) and its
instance labels (one id per disk), so object counts, sizes and centroids found by
:func:`napari_gmm.label_objects` on a segmentation can be scored against the truth.
"""

from __future__ import annotations

import numpy as np

from ..analysis._synthetic import _check_shape, _finish, class_means


def draw_ball(shape, centre, radius) -> tuple[tuple[slice, ...], np.ndarray]:
    """The bounding box of a disk / ball and its mask there (pixel centres within `radius`)."""
    box = tuple(slice(max(int(np.floor(c - radius)), 0), min(int(np.ceil(c + radius)) + 1, s))
                for c, s in zip(centre, shape, strict=True))
    grids = np.ogrid[box]
    dist2 = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))
    return box, dist2 <= radius**2


def make_object_image(
    shape=(256, 256),
    n_objects=20,
    *,
    radius=(4.0, 10.0),
    n_classes=2,
    gap=60.0,
    sigma=20.0,
    spacing=2,
    dtype="uint8",
    seed=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A noisy image of separate disks (balls in 3D) on a dark background.

    Parameters
    ----------
    shape : tuple of int, default (256, 256)
        Spatial shape (2D, 3D or nD).
    n_objects : int, default 20
        Number of disks, placed at random without overlapping, at least `spacing` pixels
        apart and from the border.
    radius : (float, float), default (4.0, 10.0)
        Radii are drawn uniformly in this range.
    n_classes : int, default 2
        Classes of the image: 1 is the background, disk ``i`` gets class ``2 + i % (K - 1)``.
    gap, sigma, dtype
        Distance between consecutive class means, noise standard deviation and dtype, as
        in :func:`napari_gmm.core.analysis._synthetic.make_class_image`.
    spacing : int, default 2
        Smallest number of background pixels between two disks (2 keeps them apart for
        every connectivity).
    seed : int or numpy.random.Generator, optional
        Seed; the same seed gives the same image.

    Returns
    -------
    image : ndarray of shape `shape` and dtype `dtype`
    classes : ndarray of uint8, shape `shape`
        Class labels, 1 for the background.
    objects : ndarray of int32, shape `shape`
        Instance labels 1..n_objects (0 background), numbered in placing order.

    Examples
    --------
    >>> image, classes, objects = make_object_image((64, 64), 5, radius=(3, 5), seed=0)
    >>> int(objects.max()), sorted(np.unique(classes).tolist())
    (5, [1, 2])
    """
    shape = _check_shape(shape)
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    low, high = (float(r) for r in radius)
    if not 0 < low <= high:
        raise ValueError(f"radius must be (low, high) with 0 < low <= high, got {radius}.")
    if int(n_classes) < 2:
        raise ValueError(f"n_classes must be >= 2 (background and objects), got {n_classes}.")
    classes = np.ones(shape, dtype=np.uint8)
    objects = np.zeros(shape, dtype=np.int32)
    placed: list[tuple[np.ndarray, float]] = []
    attempts = 200 * int(n_objects) + 200
    for _ in range(attempts):
        if len(placed) == n_objects:
            break
        r = rng.uniform(low, high)
        margin = r + spacing + 1
        if any(s <= 2 * margin for s in shape):
            continue
        centre = np.array([rng.uniform(margin, s - 1 - margin) for s in shape])
        if any(np.linalg.norm(centre - c) <= r + rc + spacing + 1 for c, rc in placed):
            continue
        box, mask = draw_ball(shape, centre, r)
        objects[box][mask] = len(placed) + 1
        classes[box][mask] = 2 + len(placed) % (int(n_classes) - 1)
        placed.append((centre, r))
    if len(placed) < n_objects:
        raise ValueError(
            f"could only place {len(placed)} of {n_objects} separate disks of radius "
            f"{radius} in shape {shape} (in {attempts} attempts); use fewer or "
            "smaller disks, or a larger image."
        )
    means = class_means(int(n_classes), gap=gap, dtype=dtype)
    values = means[classes.astype(np.intp) - 1] + rng.normal(0.0, sigma, size=shape)
    return _finish(values, dtype), classes, objects
