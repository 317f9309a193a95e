"""In-memory results written as OME-Zarr with the input's axes, pixel sizes and units.

The ``zarr`` output format (``--output-format zarr``, or an output name ending in
``.zarr``): axis letters become OME axes (``T`` time, ``C``/``S`` channel, ``Z``/``Y``/``X``
space with the input's unit), the pixel sizes the scale transform. Axes OME cannot describe
(unknown letters, a wrong order) give a plain zarr array, as for inputs without metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._types import LoadedImage
from ._zarr import write_ome_zarr

_TYPES = {"T": "time", "C": "channel", "S": "channel", "Z": "space", "Y": "space",
          "X": "space"}
_UNITS = {"µm": "micrometer", "um": "micrometer", "micron": "micrometer", "nm": "nanometer",
          "mm": "millimeter"}


def ome_axes(axes: str | None, like: LoadedImage | None):
    """OME axes and scale for axis letters, or ``(None, None)`` when OME cannot hold them."""
    if axes is None or not 2 <= len(axes) <= 5 or any(a not in _TYPES for a in axes):
        return None, None
    order = [("time", "channel", "space").index(_TYPES[a]) for a in axes]
    if order != sorted(order) or len(set(axes.replace("S", "C"))) != len(axes):
        return None, None
    spacing = like.spacing if like is not None else {}
    unit = _UNITS.get(like.unit) if like is not None and like.unit else None
    out, scale = [], []
    for letter in axes:
        axis = {"name": "c" if letter == "S" else letter.lower(), "type": _TYPES[letter]}
        if axis["type"] == "space" and unit is not None:
            axis["unit"] = unit
        out.append(axis)
        scale.append(float(spacing.get(letter, 1.0)) if letter in "ZYXT" else 1.0)
    return out, scale


def write_zarr_like(path, array, axes: str | None, like: LoadedImage | None = None) -> Path:
    """Write `array` (axis letters `axes`) as OME-Zarr with the pixel sizes of `like`."""
    array = np.asarray(array)
    if array.dtype == bool:
        array = array.view(np.uint8)
    ome, scale = ome_axes(axes, like)
    if ome is None:
        ome = False  # a plain zarr array
    translation = None
    zarr_image = like.extra.get("zarr") if like is not None else None
    if (
        zarr_image is not None
        and zarr_image.axes is not None
        and len(zarr_image.axes) == len(ome or ())
    ):
        ome, scale = zarr_image.axes, list(zarr_image.scales[0])
        translation = list(zarr_image.translations[0])
    write_ome_zarr(path, array, axes=ome or None, scale=scale, translation=translation,
                   name="napari-gmm", plain=ome is False)
    return Path(path)
