"""Watershed markers of touching objects: h-maxima of a landscape kept a minimum
separation apart (shared by the first splitting pass, ``_split``, and the second one along
the image, ``_resplit``)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: A marker must rise this fraction of the expected radius above the saddle to its
#: neighbour (its h-maximum dynamic), else it merges with that neighbour.
H_FRACTION = 0.02

#: Markers are at least this fraction of the expected diameter apart (pressed nuclei of
#: unequal size have centres down to about 0.45 of the mean diameter apart).
SEPARATION = 0.3

#: Smoothing of the landscape, as a fraction of the expected radius (per axis, in voxels).
SMOOTH_FRACTION = 0.05


def smooth_landscape(land, mask, sampling, radius) -> np.ndarray:
    """`land` smoothed by ``SMOOTH_FRACTION`` of `radius` (per axis), 0 outside `mask`."""
    sigma = [SMOOTH_FRACTION * radius / s for s in sampling]
    return np.where(mask, ndimage.gaussian_filter(land, sigma), 0.0)


def find_markers(land, mask, components, sampling, diameter) -> np.ndarray:
    """Markers (int32 ids, 0 elsewhere): deep maxima of `land`, spaced within components.

    The regional maxima of `land` that rise ``H_FRACTION`` of the expected radius above
    their surroundings (``skimage.morphology.h_maxima``), at least ``SEPARATION`` of
    `diameter` apart within each of `components` (:func:`_spaced`).
    """
    from skimage.morphology import h_maxima

    radius = max(0.5 * diameter, min(sampling))
    # h_maxima on integers: steps of 1/100 of the expected radius (exact, no float issue)
    steps = np.round(land * (100.0 / radius)).astype(np.int32)
    deep = h_maxima(steps, max(round(100 * H_FRACTION), 1)).astype(bool) & mask
    tops, n_tops = ndimage.label(deep, structure=np.ones((3,) * mask.ndim, bool))
    kept = _spaced(tops, n_tops, land, components, sampling, SEPARATION * diameter)
    return kept[tops]


def _spaced(tops, n_tops, land, components, sampling, separation) -> np.ndarray:
    """Marker id per h-maximum region (0: dropped), the regions at least `separation` apart.

    Greedy from the highest: a region is dropped when the centroid of a higher kept one of
    the same component lies within `separation` (physical units) of its centroid. Unlike
    ``skimage.feature.peak_local_max``, a plateau (the ridge of an elongated object) is one
    candidate, not one per pixel, and components never suppress each other's markers.
    """
    from scipy.spatial import cKDTree

    kept = np.zeros(n_tops + 1, dtype=np.int32)
    if n_tops == 0:
        return kept
    # one pass over the region pixels (no per-region Python): centroid, height, component
    where = np.flatnonzero(tops)
    ids = tops.ravel()[where]
    size = np.bincount(ids, minlength=n_tops + 1)[1:]
    coords = np.unravel_index(where, tops.shape)
    means = [np.bincount(ids, weights=c, minlength=n_tops + 1)[1:] / size for c in coords]
    points = np.column_stack(means) * np.asarray(sampling, dtype=np.float64)
    height = np.full(n_tops + 1, -np.inf)
    np.maximum.at(height, ids, land.ravel()[where])
    height = height[1:]
    owner = np.zeros(n_tops + 1, dtype=np.int64)
    owner[ids] = components.ravel()[where]
    owner = owner[1:]
    alone = np.bincount(owner)[owner] == 1  # the only candidate of its component: kept
    dropped = np.zeros(n_tops, dtype=bool)
    crowded = np.flatnonzero(~alone)
    tree = cKDTree(points[crowded]) if len(crowded) else None
    for i in crowded[np.argsort(-height[crowded], kind="stable")]:
        if dropped[i]:
            continue
        near = crowded[np.asarray(tree.query_ball_point(points[i], separation), dtype=np.intp)]
        dropped[near[(owner[near] == owner[i]) & (near != i)]] = True
    order = np.flatnonzero(~dropped)
    kept[order + 1] = np.arange(1, len(order) + 1, dtype=np.int32)
    return kept
