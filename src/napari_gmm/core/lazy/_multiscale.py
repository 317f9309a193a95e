"""Multiscale images (a list of levels, finest first): one fit, every level predicted lazily.

The mixture is fitted once, on the finest level of at most :data:`FIT_VOXELS` voxels
(integer images: the exact histogram of that level; float images: a seeded sample), and
every level is then predicted lazily with that model, giving lists of lazy labels and
probability levels with the input's levels (the napari widget turns them into multiscale
layers with the input's scale and translate).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._options import MAX_DISTINCT
from ..progress import rescale
from ._apply import lazy_outputs
from ._fit import is_dask_array, lazy_pixels
from ._pilot import pilot_sweeps

#: Largest level (in voxels) a multiscale image is fitted on; the coarsest level is used
#: when every level is larger. 2**24 voxels: a histogram or sample pass of a second or two.
FIT_VOXELS = 1 << 24

#: Chunk shape per axis for numpy levels wrapped into dask arrays.
CHUNK = 256


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
    from .._segment import iter_segment  # the pipeline imports this package

    axis = options.get("channel_axis")
    index = fit_level(levels, axis)
    fit_options = dict(options)
    scale = options.get("scale")
    factors = _level_factors(levels, axis)
    if scale is not None:
        fit_options["scale"] = _scaled(scale, factors[index])
    fit_options["return_posteriors"] = False
    steps = iter_segment(as_dask(levels[index]), n_components, **fit_options)
    seg = yield from rescale(steps, 0.0, 0.9, lambda stage: f"{stage} (level {index})")
    labels, probability = [], []
    smoothing = float(seg.smoothing or 0.0)  # the fitted level's ('auto': chosen there)
    for level, factor in zip(levels, factors, strict=True):
        pixels = lazy_pixels(as_dask(level), axis)
        level_scale = None if scale is None else _scaled(scale, factor)
        opts = {"smoothing": smoothing, "scale": level_scale,
                "max_distinct": options.get("max_distinct", MAX_DISTINCT)}
        sweeps = pilot_sweeps(pixels, [seg.model], **opts) if smoothing > 0 else 0
        lab, prob, _ = lazy_outputs(pixels, [seg.model], sweeps=sweeps, want_post=False,
                                    mixels=seg.mixels, **opts)
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
