"""Dispatch of :func:`napari_gmm.segment`'s guided options (scribbles, class names,
Gaussians per class) to :mod:`._guided`, or to the unsupervised pipeline plus names."""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from .._options import DEFAULTS
from .._validation import UNSET, resolve_channel_axis
from ..lazy._fit import is_dask_array
from ._classes import check_class_names

#: Keyword options of ``segment`` / ``iter_segment`` handled here.
GUIDED_OPTIONS = ("scribbles", "class_names", "components_per_class")


def active_options(guided: dict) -> dict:
    """The guided options that are not at their defaults (None, None, 1)."""
    per_class = guided.get("components_per_class", 1)
    default_per_class = (isinstance(per_class, numbers.Integral)
                         and not isinstance(per_class, bool) and per_class == 1)
    return {
        key: value for key, value in guided.items()
        if not (value is None or (key == "components_per_class" and default_per_class))
    }


def iter_guided_or_named(image, n_components, iter_segment, *, time_axis, frames, guided,
                         options):
    """Generator (``(fraction, stage)`` steps) returning the Segmentation.

    Without scribbles: the unsupervised `iter_segment`, with the class names attached to
    the result and its model. With scribbles: :func:`._guided.iter_segment_guided`.
    """
    from ._guided import iter_segment_guided

    scribbles = guided.get("scribbles")
    names = guided.get("class_names")
    per_class = guided.get("components_per_class", 1)
    if scribbles is None:
        if not (isinstance(per_class, numbers.Integral) and not isinstance(per_class, bool)
                and per_class == 1):
            raise ValueError(
                f"components_per_class={per_class!r} needs scribbles: without them the "
                "classes are not named, so several Gaussians cannot be told to form one "
                "class. Pass scribbles=..., or use n_components for more classes."
            )
        result = yield from iter_segment(
            image, n_components, time_axis=time_axis, frames=frames, **options
        )
        if names is None:
            return result
        names = check_class_names(names, result.n_components)
        for model in {id(f.model): f.model for f in (result, *result.frames)}.values():
            model.class_names_ = names
        return dataclasses.replace(result, class_names=names)
    if time_axis is not None:
        raise NotImplementedError(
            "scribbles with a time series (time_axis) are not supported yet: segment one "
            "scribbled frame, then apply its model to the series "
            "(apply_model(seg.model, series, time_axis=...)) so every frame keeps the ids."
        )
    if is_dask_array(image):
        raise NotImplementedError(
            "scribbles with a dask array are not supported yet: segment a scribbled crop or "
            "plane in memory (np.asarray), then apply its model to the dask array with "
            "apply_model, which keeps the class ids."
        )
    if frames != "each":
        raise ValueError(f"frames={frames!r} needs a time axis (time_axis=...).")
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(
            f"Unknown segmentation option(s) {sorted(unknown)}; allowed: {sorted(DEFAULTS)}."
        )
    opts = {**DEFAULTS, **options}
    opts["channel_axis"] = resolve_channel_axis(
        np.shape(image), options.get("channel_axis", UNSET), None, stacklevel=4
    )
    return (yield from iter_segment_guided(image, n_components, scribbles, names, per_class,
                                           opts))
