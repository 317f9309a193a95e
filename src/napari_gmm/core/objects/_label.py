"""Objects: connected components of chosen classes, as instance labels with a measurement table.

A segmentation says which *class* every pixel belongs to; microscopists also count and
measure *objects* (cells, nuclei, particles): the connected components of one or more
classes. Each chosen class is labelled on its own, so objects of different classes that
touch stay separate objects; a time series is labelled frame by frame (objects never
connect across time) with instance ids unique over the whole series.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage

from .._mask import border_objects, check_mask
from .._validation import check_int
from ..lazy._fit import is_dask_array
from ._checks import (
    FOREGROUND,
    check_classes,
    check_connectivity,
    check_labels,
    check_scale,
    frame_values,
)
from ._input import unpack_segmentation
from ._measure import measure_objects
from ._shape import INTENSITY, SHAPE, check_filters, check_properties, filter_rows, shape_columns
from ._split import make_splitter
from ._table import Objects
from ._tracks import track_ids

__all__ = ["FOREGROUND", "Objects", "label_objects"]


def label_objects(
    labels,
    classes=FOREGROUND,
    *,
    image=None,
    channel_axis=None,
    min_size=0,
    fill_holes=False,
    connectivity=None,
    scale=None,
    time_axis=None,
    n_classes=None,
    split="none",
    diameter=None,
    probability=None,
    mask=None,
    properties=None,
    filters=None,
) -> Objects:
    """Instance labels and a measurement table of the connected components of some classes.

    Parameters
    ----------
    labels : (M, N[, P, ...]) ndarray of int, or Segmentation
        Class labels, e.g. ``segment(...).labels`` (1..K, 0 for pixels without a class),
        or the Segmentation itself (its labels, time axis and K are used).
    classes : int, sequence of int or 'foreground', default='foreground'
        The classes whose connected components are objects. ``'foreground'`` means every
        class but the darkest: 2..K. Each class is labelled on its own, so objects of
        different classes that touch stay separate objects.
    image : ndarray, optional
        The image (e.g. the one segmented), for the ``intensity_mean`` columns; its shape
        without `channel_axis` must be the shape of `labels`. With ``split='watershed'``
        it also guides the cut (the mean of its channels; see `split`).
    channel_axis : int, optional
        Axis of `image` holding channels (one ``intensity_mean-<c>`` column each).
    min_size : int, default=0
        Objects with fewer pixels than this (after filling holes) are removed (set to 0).
    fill_holes : bool, default=False
        Fill the holes of each class (regions enclosed by it, in 2D or 3D,
        ``scipy.ndimage.binary_fill_holes``) before labelling, except holes that hold
        pixels of another chosen class: those stay objects of their own class.
    connectivity : int, optional
        Neighbours that connect pixels into one object: 1 = faces only (4 neighbours in
        2D, 6 in 3D) up to the number of spatial axes = also corners (8 in 2D, 26 in 3D,
        the default, as ``skimage.measure.label``). Holes are found with the matching
        background connectivity.
    scale : sequence of float, optional
        Physical pixel size per spatial axis (with `time_axis`, one value per axis of
        `labels` is accepted too, a napari layer's scale: the time step is ignored); adds
        the ``*_scaled`` columns (size and centroid in physical units).
    time_axis : int, optional
        Axis of `labels` holding the frames of a time series (``Segmentation.time_axis``):
        every frame is labelled on its own, the table gets a ``frame`` column, and ids are
        unique over the series; a ``track_id`` column links the objects of consecutive
        frames by largest overlap (see :mod:`napari_gmm.core.objects._tracks`).
    n_classes : int, optional
        Number of classes K of the segmentation; default: the largest value of `labels`.
    split : {'none', 'watershed'}, default='none'
        ``'none'``: every connected component is one object. ``'watershed'``: touching
        objects (nuclei) are cut apart by a seeded watershed of the distance transform (in
        physical units, with `scale`) times the class posterior (`probability`), with
        markers at least 0.3 expected diameters apart (see
        :mod:`napari_gmm.core.objects._split`). With `image`, objects larger than half
        an expected object are cut again where the image has a dim seam (a small nucleus
        pressed into a large one; :mod:`napari_gmm.core.objects._resplit`).
        `min_size` then applies to the split objects.
    diameter : float, optional
        With ``split='watershed'``: the expected object diameter, in the units of `scale`
        (pixels without it). None: estimated per class and frame from the components
        (twice their area-weighted median inscribed radius).
    probability : ndarray of float, optional
        The posterior of each pixel's class (``Segmentation.probability``), the shape of
        `labels`; with ``split='watershed'`` it deepens the valleys between objects.
        ``Segmentation.objects`` passes it.
    mask : ndarray of bool, optional
        Region of interest, the shape of `labels`: pixels outside are background (0), and
        the table gets a ``touches_mask_border`` column (True for an object next to a pixel
        outside the mask: cut by the mask's border, its measurements are partial).
    properties : sequence of str or 'all', optional
        Extra columns, in physical units with `scale` (``regionprops_table`` with
        ``spacing``): ``equivalent_diameter``, ``axis_major_length``,
        ``axis_minor_length``, ``solidity``, ``eccentricity`` and ``perimeter`` (2-D),
        ``surface_area`` (3-D, marching cubes), and with `image` ``intensity_max`` and
        ``intensity_std`` (one column per channel). ``'all'``: every one that applies.
    filters : dict of str to (min, max), optional
        Keep only objects whose column lies in ``[min, max]`` (None: open end), e.g.
        ``{'equivalent_diameter': (4, 20), 'solidity': (0.9, None)}``; shape properties
        named here are measured even if not in `properties`. Ids are renumbered.

    Returns
    -------
    Objects
        ``labels`` (int32 instance labels), ``table`` (dict of columns), ``n_objects``,
        ``to_records()`` and ``to_csv(path)``.

    Raises
    ------
    ValueError
        For a class outside 1..K, a negative `min_size`, a bad `connectivity` or `scale`,
        or an image whose shape does not match the labels.
    TypeError
        For non-integer labels, lazy (dask) labels, or options of the wrong type.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[1, 2, 2, 1, 3],
    ...                    [1, 2, 2, 1, 3],
    ...                    [1, 1, 1, 1, 1],
    ...                    [2, 1, 1, 3, 3]])
    >>> objects = label_objects(labels, "foreground")
    >>> objects
    Objects(n_objects=4, classes=(2, 3))
    >>> objects.labels
    array([[0, 1, 1, 0, 3],
           [0, 1, 1, 0, 3],
           [0, 0, 0, 0, 0],
           [2, 0, 0, 4, 4]], dtype=int32)
    >>> objects.table["class"], objects.table["area"]
    (array([2, 2, 3, 3]), array([4, 1, 2, 2]))
    >>> label_objects(labels, 2, min_size=2).table["centroid-1"]
    array([1.5])
    """
    labels, given = unpack_segmentation(labels, {  # a Segmentation: its labels, axes, K
        "image": image, "scale": scale, "time_axis": time_axis, "n_classes": n_classes})
    image, scale, time_axis, n_classes = (given[n] for n in ("image", "scale", "time_axis",
                                                             "n_classes"))
    if is_dask_array(labels):  # blockwise, merged across chunk borders (core/lazy/_objects.py)
        from ..lazy._objects import label_objects_dask

        if mask is not None or split != "none" or properties or filters:
            raise ValueError(
                "label_objects on dask labels supports none of mask=, split=, properties= "
                "and filters=: compute a region of the labels first (labels[region].compute())."
            )
        return label_objects_dask(labels, classes, image=image, channel_axis=channel_axis,
                                  min_size=min_size, fill_holes=fill_holes,
                                  connectivity=connectivity, scale=scale, time_axis=time_axis,
                                  n_classes=n_classes)
    labels, k = check_labels(labels, n_classes)
    keep = None if mask is None else check_mask(mask, labels.shape, "labels")
    if keep is not None:
        labels = np.where(keep, labels, 0).astype(labels.dtype, copy=False)
    chosen = check_classes(classes, k)
    min_size = check_int("min_size", min_size, minimum=0,
                         hint=" It is the smallest object size kept, in pixels.")
    if not isinstance(fill_holes, bool | np.bool_):
        raise TypeError(f"fill_holes must be True or False, got {fill_holes!r}.")
    t = None
    if time_axis is not None:
        if isinstance(time_axis, bool) or not isinstance(time_axis, numbers.Integral):
            raise TypeError(f"time_axis must be an int or None, got {time_axis!r}.")
        if not -labels.ndim <= time_axis < labels.ndim or labels.ndim < 2:
            raise ValueError(
                f"time_axis={time_axis} is not an axis of labels with shape {labels.shape} "
                "that leaves a spatial axis; use an axis of the labels (seg.time_axis)."
            )
        t = int(time_axis) % labels.ndim
    n_spatial = labels.ndim - (t is not None)
    conn = check_connectivity(connectivity, n_spatial)
    scale = check_scale(scale, n_spatial, labels.ndim, t)
    values = frame_values(image, channel_axis, labels.shape, t)
    filters = check_filters(filters)
    asked = [*(check_properties(properties, n_spatial, image is not None)),
             *[f for f in filters if f in SHAPE or f in INTENSITY]]
    props = check_properties(asked, n_spatial, image is not None) if asked else ()
    splitter = make_splitter(split, diameter, probability, labels.shape, t, scale, n_spatial,
                             values if image is not None else None)
    structure = ndimage.generate_binary_structure(n_spatial, conn)
    background = ndimage.generate_binary_structure(n_spatial, 1 if conn > 1 else n_spatial)
    frames = [labels] if t is None else [labels[(slice(None),) * t + (i,)]
                                         for i in range(labels.shape[t])]
    out = np.zeros(labels.shape, dtype=np.int32)
    tables, offset = [], 0
    for index, frame in enumerate(frames):
        inst, cls = _label_frame(frame, chosen, structure, background, min_size, fill_holes,
                                 lambda mask, i=index: splitter(mask, structure, i))
        n = len(cls)
        columns = {"label": np.arange(offset + 1, offset + n + 1, dtype=np.int32)}
        if t is not None:
            columns["frame"] = np.full(n, index, dtype=np.int64)
        columns["class"] = cls
        columns.update(measure_objects(inst, n, values=values(index), scale=scale))
        if props:
            pixels = values(index)
            pixels = None if pixels is None else pixels.reshape(*inst.shape, -1)
            columns.update(shape_columns(inst, n, props, scale, pixels))
        if keep is not None:
            inside = keep if t is None else keep[(slice(None),) * t + (index,)]
            columns["touches_mask_border"] = border_objects(inst, n, inside, structure)
        target = out if t is None else out[(slice(None),) * t + (index,)]
        np.add(inst, offset, out=target, where=inst > 0)
        tables.append(columns)
        offset += n
    table = {name: np.concatenate([c[name] for c in tables]) for name in tables[0]}
    out, table = filter_rows(table, out, filters)
    if t is not None:
        table["track_id"] = track_ids(out, table["frame"], t)
    return Objects(out, table, chosen, t, scale)


def _label_frame(labels, classes, structure, background, min_size, fill_holes, split):
    """Instance labels 1..n of one frame (int32) and the class of each object."""
    out = np.zeros(labels.shape, dtype=np.int32)
    owner = []
    chosen = np.isin(labels, classes) if fill_holes and len(classes) > 1 else None
    for c in classes:
        mask = labels == c
        if fill_holes:
            mask = _fill_holes(mask, None if chosen is None else chosen & ~mask, background)
        inst, n = split(mask)
        if n == 0:
            continue
        keep = np.bincount(inst.ravel(), minlength=n + 1) >= max(min_size, 1)
        keep[0] = False
        ids = np.zeros(n + 1, dtype=np.int32)
        ids[keep] = np.arange(len(owner) + 1, len(owner) + 1 + int(keep.sum()), dtype=np.int32)
        new = ids[inst]
        out[new > 0] = new[new > 0]
        owner += [c] * int(keep.sum())
    return out, np.asarray(owner, dtype=np.int64)


def _fill_holes(mask, blocked, background):
    """`mask` with its holes filled, except holes that hold a `blocked` pixel."""
    holes = ndimage.binary_fill_holes(mask, structure=background) & ~mask
    if blocked is not None and holes.any() and blocked.any():
        hole_ids, n = ndimage.label(holes, structure=background)
        refused = np.bincount(hole_ids[blocked], minlength=n + 1) > 0
        refused[0] = True
        holes = ~refused[hole_ids]
    return mask | holes
