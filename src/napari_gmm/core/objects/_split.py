"""Split touching objects: a seeded watershed on the distance transform and the class posterior.

Touching nuclei of one class form one connected component. Each component is cut into
objects by a watershed (``skimage.segmentation.watershed``) of a landscape that is high in
the middle of an object and low where two objects meet:

- the Euclidean distance to the background, in physical units
  (``scipy.ndimage.distance_transform_edt`` with ``sampling=`` the voxel size, so
  anisotropic volumes are measured in microns, not voxels);
- times the class posterior where the segmentation gives one: the dim seam between two
  touching nuclei lowers the posterior there, which deepens the valley the watershed
  follows. This is what a threshold-based pipeline does not have.

With the image, a second pass (:mod:`napari_gmm.core.objects._resplit`) cuts objects
larger than half an expected one again on the distance times the smoothed image: a small
nucleus pressed into a large one has no distance maximum of its own, but a bright middle.

Markers are the maxima of that landscape that rise at least ``H_FRACTION`` of the expected
radius above their surroundings (``skimage.morphology.h_maxima``: shallow bumps of a rough
border do not become objects), at least ``SEPARATION`` of the expected diameter apart in
physical units (the higher one wins). Every component keeps at least one marker, so
nothing is lost.

When no diameter is given it is estimated from the components: twice the area-weighted
median of each component's inscribed radius (the maximum of the distance transform). A
cluster of touching nuclei has about the inscribed radius of one nucleus, so merged
components do not inflate the estimate, and noise specks weigh little.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage

from ._markers import find_markers, smooth_landscape

#: ``split`` values of :func:`napari_gmm.label_objects`.
SPLITS = ("none", "watershed")



def check_split(split) -> str:
    """`split` as one of :data:`SPLITS`."""
    if split is None or split is False:
        return "none"
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(
            f"split must be 'none' (connected components) or 'watershed' (cut touching "
            f"objects apart); got {split!r}."
        )
    return split


def check_diameter(diameter, shape, sampling) -> float | None:
    """`diameter` (physical units) as a float checked against the voxel and image size."""
    if diameter is None:
        return None
    if isinstance(diameter, bool) or not isinstance(diameter, numbers.Real):
        raise TypeError(
            f"diameter must be a number (the expected object diameter in the units of "
            f"scale) or None (estimate it); got {diameter!r}."
        )
    value = float(diameter)
    voxel = min(sampling)
    extent = max(s * n for s, n in zip(sampling, shape, strict=True))
    if not np.isfinite(value) or value < voxel:
        raise ValueError(
            f"diameter={diameter!r} is smaller than a voxel ({voxel:g} in the units of "
            "scale); give the expected object diameter in physical units (the units of "
            "scale, pixels without it), or None to estimate it."
        )
    if value > extent:
        raise ValueError(
            f"diameter={diameter!r} is larger than the image ({extent:g} in the units of "
            "scale along its longest axis); give the expected object diameter in the "
            "units of scale (pixels without it), or None to estimate it."
        )
    return value


def estimate_diameter(distance, components, n: int) -> float | None:
    """Twice the area-weighted median inscribed radius of components ``1..n`` (None if n=0)."""
    if n == 0:
        return None
    index = np.arange(1, n + 1)
    radius = np.asarray(ndimage.maximum(distance, components, index), dtype=np.float64)
    area = np.bincount(components.ravel(), minlength=n + 1)[1:].astype(np.float64)
    order = np.argsort(radius)
    cumulative = np.cumsum(area[order])
    median = radius[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])]
    return 2.0 * float(median)


def split_components(mask, structure, *, sampling, diameter=None, posterior=None, image=None):
    """Cut the connected components of `mask` into objects; int32 ids ``1..n`` and n.

    Parameters
    ----------
    mask : ndarray of bool, spatial shape
        Pixels of one class (one frame).
    structure : ndarray of bool
        Connectivity of the objects (as ``scipy.ndimage.label``); objects never cross
        between components.
    sampling : tuple of float
        Voxel size per axis (physical units; ones for pixels).
    diameter : float or None
        Expected object diameter in the units of `sampling`; None: estimated from the
        components (:func:`estimate_diameter`).
    posterior : ndarray of float, spatial shape, optional
        The class posterior (``Segmentation.probability`` on the class's pixels).
    image : ndarray of float, spatial shape, optional
        The image (one channel, e.g. the mean of the channels): objects larger than one
        expected object are cut again along its dim seams
        (:func:`napari_gmm.core.objects._resplit.split_large`).

    Returns
    -------
    objects : ndarray of int32
        0 outside `mask`, one id per object, numbered in C order of their first pixel.
    n : int
    """
    from skimage.segmentation import watershed

    components, n = ndimage.label(mask, structure=structure, output=np.int32)
    if n == 0:
        return components, 0
    distance = ndimage.distance_transform_edt(mask, sampling=sampling)
    if diameter is None:
        diameter = estimate_diameter(distance, components, n)
    radius = max(0.5 * diameter, min(sampling))
    land = distance if posterior is None else distance * np.clip(posterior, 0.0, 1.0)
    land = smooth_landscape(land, mask, sampling, radius)
    markers = find_markers(land, mask, components, sampling, diameter)
    seeded = np.zeros(n + 1, dtype=bool)
    seeded[components[markers > 0]] = True
    missing = np.flatnonzero(~seeded[1:]) + 1
    if len(missing):  # a component without a deep enough maximum stays one object
        at = ndimage.maximum_position(land, components, missing)
        first = int(markers.max()) + 1
        markers[tuple(np.array(at).T)] = np.arange(first, first + len(missing))
    cut = watershed(-land, markers, mask=mask, connectivity=structure)
    if image is not None:
        from ._resplit import split_large

        cut = split_large(cut, image, posterior, sampling=sampling, diameter=diameter,
                          structure=structure)
    return _renumber(cut)


def _renumber(cut) -> tuple[np.ndarray, int]:
    """Ids 1..n in C order of each object's first pixel (as ``ndimage.label``)."""
    flat = cut.ravel()
    where = np.flatnonzero(flat)
    if len(where) == 0:
        return cut.astype(np.int32), 0
    _, first = np.unique(flat[where], return_index=True)
    ids = flat[where][np.sort(first)]
    lookup = np.zeros(int(cut.max()) + 1, dtype=np.int32)
    lookup[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    return lookup[cut], len(ids)


def make_splitter(split, diameter, probability, shape, t, scale, n_spatial, values=None):
    """A function ``(mask, structure, frame) -> (ids, n)`` labelling the objects of a mask.

    `values` is the image as ``frame -> (n_pixels, C)`` values (``frame_values``) or None.
    """
    if check_split(split) == "none":
        if diameter is not None:
            raise ValueError("diameter is used by split='watershed'; pass split='watershed'.")
        return lambda mask, structure, frame: ndimage.label(mask, structure, output=np.int32)
    sampling = scale if scale is not None else (1.0,) * n_spatial
    spatial = tuple(n for axis, n in enumerate(shape) if axis != t)
    diameter = check_diameter(diameter, spatial, sampling)
    if probability is not None:
        probability = np.asarray(probability)
        if probability.shape != tuple(shape) or probability.dtype.kind != "f":
            raise ValueError(
                f"probability must be a float array the shape of labels {tuple(shape)} "
                f"(Segmentation.probability); got {probability.dtype} of shape "
                f"{probability.shape}."
            )

    def split_frame(mask, structure, frame):
        posterior = probability
        if posterior is not None and t is not None:
            posterior = posterior[(slice(None),) * t + (frame,)]
        image = None if values is None else values(frame)
        if image is not None:  # one channel: the mean of the channels
            image = image.mean(axis=-1, dtype=np.float64).reshape(mask.shape)
        return split_components(mask, structure, sampling=sampling, diameter=diameter,
                                posterior=posterior, image=image)

    return split_frame
