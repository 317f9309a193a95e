"""Second pass of the watershed split: cut objects too large for one along the image's seams.

The first pass (:func:`napari_gmm.core.objects._split.split_components`) finds one marker
per maximum of the distance to the background. A small nucleus pressed into a large one
has no such maximum of its own: the two stay one object. The image still shows it: each
nucleus is bright in its middle, and the seam where two nuclei are pressed together is
dimmer (less chromatin at the rims, a step between nuclei of different brightness).

So every object of the first pass larger than ``LARGE`` times the expected size (a ball of
the expected diameter; the estimated diameter leans to the larger nuclei, so merged pairs
of small ones are often below one expected size) is cut again, on its own, by the same
seeded watershed on a landscape that also holds the image: the distance to the object's
border (physical units) times the image smoothed by ``IMAGE_SMOOTH`` of the expected
radius and normalised by its maximum in the object (so a dim nucleus counts as much as a
bright one), times the posterior. Markers follow the same rules as in the first pass
(h-maxima, spacing). A single nucleus has one maximum of this landscape (its middle is
both the farthest from its border and the brightest), so it stays whole; smaller objects
are never touched.

``LARGE`` and ``IMAGE_SMOOTH`` were chosen on seeds 1 to 5 of the benchmark's synthetic
nuclei (``benchmarks/_touching_nuclei.py``), which reports on other seeds.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ._markers import find_markers, smooth_landscape

#: Objects larger than this multiple of the expected size are examined again.
LARGE = 0.5

#: Smoothing of the image, as a fraction of the expected radius (per axis, in voxels).
IMAGE_SMOOTH = 0.1

#: At most this many rounds of cutting (the pieces of a cut object are examined again).
ROUNDS = 5


def expected_size(diameter, sampling) -> float:
    """Voxels of a ball (disk in 2-D) of `diameter` in physical units."""
    ndim = len(sampling)
    ball = math.pi ** (ndim / 2) / math.gamma(ndim / 2 + 1) * (0.5 * diameter) ** ndim
    return ball / float(np.prod(sampling))


def split_large(objects, image, posterior, *, sampling, diameter, structure) -> np.ndarray:
    """`objects` (int ids) with each object larger than expected cut along the image.

    The pieces of a cut object are examined again (a piece may still hold two nuclei),
    until no piece is cut (at most ``ROUNDS`` rounds).

    Parameters
    ----------
    objects : ndarray of int
        Objects of the first pass (0 background, ids 1..n).
    image : ndarray of float, the shape of `objects`
        One channel of the image.
    posterior : ndarray of float or None
        The class posterior, or None.
    sampling : tuple of float
        Voxel size per axis.
    diameter : float
        Expected object diameter (physical units).
    structure : ndarray of bool
        Connectivity of the objects.

    Returns
    -------
    ndarray of int32
        The objects, new pieces numbered after the largest id (not renumbered).
    """
    out = objects.astype(np.int32, copy=True)
    radius = max(0.5 * diameter, min(sampling))
    smooth = None
    todo = np.arange(1, int(out.max()) + 1)
    for _ in range(ROUNDS):
        sizes = np.bincount(out.ravel(), minlength=int(out.max()) + 1)
        todo = todo[sizes[todo] > LARGE * expected_size(diameter, sampling)]
        if len(todo) == 0:
            break
        if smooth is None:  # once, and only when some object is large
            sigma = [IMAGE_SMOOTH * radius / s for s in sampling]
            smooth = ndimage.gaussian_filter(np.asarray(image, dtype=np.float64), sigma)
        todo = _cut(out, todo, smooth, posterior, sampling, diameter, structure)
    return out


def _cut(out, ids, smooth, posterior, sampling, diameter, structure) -> np.ndarray:
    """Cut the objects `ids` of `out` in place; the ids of the cut objects and new pieces."""
    from skimage.segmentation import watershed


    radius = max(0.5 * diameter, min(sampling))
    boxes = ndimage.find_objects(out)
    following = int(out.max()) + 1
    changed = []
    for i in ids:
        box = boxes[i - 1]
        one = out[box] == i
        top = smooth[box][one].max()
        if not top > 0:  # no positive signal to follow
            continue
        inside = ndimage.distance_transform_edt(np.pad(one, 1), sampling=sampling)
        land = inside[(slice(1, -1),) * one.ndim] * np.clip(smooth[box] / top, 0.0, None)
        if posterior is not None:
            land *= np.clip(posterior[box], 0.0, 1.0)
        land = smooth_landscape(land, one, sampling, radius)
        markers = find_markers(land, one, one.astype(np.int32), sampling, diameter)
        if markers.max() < 2:
            continue
        cut = watershed(-land, markers, mask=one, connectivity=structure)
        view = out[box]
        changed.append(i)
        for j in range(2, int(cut.max()) + 1):  # piece 1 keeps the id
            view[cut == j] = following
            changed.append(following)
            following += 1
    return np.asarray(changed, dtype=np.intp)
