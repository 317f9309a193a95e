"""A transparent background class: label 1 (the darkest class, usually the background)
drawn transparent, so it does not tint the whole image under the labels layer."""

from __future__ import annotations

import numpy as np
from magicgui.widgets import CheckBox

#: Key of a labels layer's metadata holding its colormap before label 1 was hidden.
SAVED = "napari-gmm colormap before transparent background"
TRANSPARENT = np.zeros(4, dtype=np.float32)


def background_checkbox() -> CheckBox:
    return CheckBox(name="transparent_background", text="transparent background (class 1)",
                    tooltip="Draw label 1, the darkest class (usually the background), "
                    "transparent in the labels layer.")


def set_background_transparent(layer, transparent: bool, n_classes: int) -> None:
    """Make label 1 of a Labels `layer` transparent (or restore its colours).

    The other labels 2..`n_classes` keep the colours they had; the layer's colormap before
    the change is kept in its metadata and put back when `transparent` is False.
    """
    from napari.utils.colormaps import DirectLabelColormap

    saved = layer.metadata.get(SAVED)
    if not transparent:
        if saved is not None:
            layer.colormap = saved
            layer.metadata = {k: v for k, v in layer.metadata.items() if k != SAVED}
        return
    base = saved if saved is not None else layer.colormap
    colors = {None: TRANSPARENT, 0: TRANSPARENT, 1: TRANSPARENT}
    for k in range(2, max(int(n_classes), 1) + 1):
        colors[k] = np.asarray(base.map(np.array([k]))[0], dtype=np.float32)
    layer.metadata = {**layer.metadata, SAVED: base}
    layer.colormap = DirectLabelColormap(color_dict=colors)
