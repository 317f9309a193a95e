"""Lazy and multiscale image layers: dask-backed outputs, one fit for every level.

Pure Python (no Qt): runs inside the widget's worker like :func:`._worker.segment_job`.

- A dask-backed Image layer goes through :func:`napari_gmm.segment` unchanged, which keeps
  the results lazy: the Labels / probability layers are dask arrays, and napari computes
  only the planes it shows.
- A multiscale Image layer is fitted once, on the finest level of at most
  :data:`FIT_VOXELS` voxels (integer images: the exact histogram of that level; float
  images: a seeded sample), and every level is then predicted lazily with that model,
  giving multiscale Labels and probability layers with the input's levels, scale and
  translate.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core import SWEEPS, is_dask_array, iter_segment, lazy_outputs, lazy_pixels

#: Largest level (in voxels) a multiscale layer is fitted on; the coarsest level is used
#: when every level is larger. 2**24 voxels: a histogram or sample pass of a second or two.
FIT_VOXELS = 1 << 24

#: Chunk shape per axis for numpy levels wrapped into dask arrays.
CHUNK = 256


def layer_data(layer):
    """The data to segment: the list of levels of a multiscale layer, else ``layer.data``."""
    return list(layer.data) if layer.multiscale else layer.data


def is_multiscale(data) -> bool:
    return isinstance(data, list)


def as_dask(level):
    """A level as a dask array (numpy levels are wrapped, not copied)."""
    import dask.array as da

    if is_dask_array(level):
        return level
    return da.from_array(level, chunks=CHUNK)


def fit_level(levels, channel_axis=None) -> int:
    """Index of the level to fit on: the finest one with at most :data:`FIT_VOXELS` voxels."""
    for index, level in enumerate(levels):
        shape = list(level.shape)
        if channel_axis is not None:
            del shape[channel_axis % len(shape)]
        if int(np.prod(shape, dtype=np.int64)) <= FIT_VOXELS:
            return index
    return len(levels) - 1


def iter_segment_multiscale(levels, n_components=3, **options):
    """Generator: fit on one level, predict every level lazily; returns a Segmentation.

    Takes :func:`napari_gmm.segment`'s options; ``scale`` is the full-resolution pixel
    size. The result's ``labels`` and ``probability`` are lists of lazy arrays, one per
    level (the fit statistics are those of the fitted level); no posteriors.
    """
    axis = options.get("channel_axis")
    index = fit_level(levels, axis)
    fit_options = dict(options)
    scale = options.get("scale")
    factors = _level_factors(levels, axis)
    if scale is not None:
        fit_options["scale"] = _scaled(scale, factors[index])
    fit_options["return_posteriors"] = False
    steps = iter_segment(as_dask(levels[index]), n_components, **fit_options)
    while True:
        try:
            fraction, stage = next(steps)
        except StopIteration as stop:
            seg = stop.value
            break
        yield 0.9 * fraction, f"{stage} (level {index})"
    labels, probability = [], []
    smoothing = float(options.get("smoothing") or 0.0)
    for level, factor in zip(levels, factors, strict=True):
        pixels = lazy_pixels(as_dask(level), axis)
        level_scale = None if scale is None else _scaled(scale, factor)
        lab, prob, _ = lazy_outputs(
            pixels, [seg.model], smoothing=smoothing, scale=level_scale, sweeps=SWEEPS,
            max_distinct=options.get("max_distinct", 1 << 18), want_post=False,
        )  # fmt: skip
        labels.append(lab)
        probability.append(prob)
    yield 1.0, "done"
    return dataclasses.replace(seg, labels=labels, probability=probability, posteriors=None)


def _scaled(scale, factor):
    return tuple(s * f for s, f in zip(scale, factor, strict=True))


def _level_factors(levels, channel_axis):
    """Downsampling factor of every level per spatial axis, relative to level 0."""

    def spatial(shape):
        shape = list(shape)
        if channel_axis is not None:
            del shape[channel_axis % len(shape)]
        return shape

    base = spatial(levels[0].shape)
    return [tuple(b / n for b, n in zip(base, spatial(lv.shape), strict=True)) for lv in levels]


def uncertainty_map(seg, kind):
    """The uncertainty map of a result (lazy for lazy results), or None."""
    if kind is None:
        return None
    if isinstance(seg.labels, list):
        raise ValueError(
            "Uncertainty maps are not available for multiscale layers yet; set the "
            "uncertainty to 'none', or segment one level as a single-scale layer."
        )
    return seg.uncertainty(kind)


def posterior_stack(seg):
    """Per-class posterior maps, class axis first (lazy for lazy results)."""
    if seg.posteriors is None:
        return None
    if is_dask_array(seg.posteriors):
        import dask.array as da

        return da.moveaxis(seg.posteriors, -1, 0)
    return np.ascontiguousarray(np.moveaxis(seg.posteriors, -1, 0))
