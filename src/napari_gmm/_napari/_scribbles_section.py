"""The *scribbles* tab of the *GMM Segmentation* dock: guided classes.

A Labels layer of the image's spatial shape holds the scribbles (0 = not scribbled, k =
class k). The tab chooses it (or adds an empty one with the image's shape, scale and
translate), names the classes, sets the Gaussians per class, and, with *live*, segments
again when painting pauses (:data:`DEBOUNCE_MS` after the last stroke), so the result
follows the strokes. The maths is :func:`napari_gmm.segment` with ``scribbles=``.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, LineEdit, PushButton
from napari.layers import Labels
from qtpy.QtCore import QTimer

#: Pause after the last paint stroke before a live run (milliseconds).
DEBOUNCE_MS = 500
#: ComboBox entry for "no scribbles".
NO_SCRIBBLES = "(none)"


class ScribblesSection(Container):
    """Scribbles layer chooser, *new scribbles layer* button, class names, live mode.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    image_field : magicgui ComboBox
        The dock's image chooser (the new layer copies the chosen image's geometry).
    rerun : callable
        Called (on the main thread) when painting pauses and *live* is on.
    """

    def __init__(self, viewer, image_field, rerun):
        self._viewer, self._image_field, self._rerun = viewer, image_field, rerun
        self.layer = ComboBox(name="scribbles", label="scribbles", choices=self._choices,
                              tooltip="Labels layer of strokes: 0 = not scribbled, k = "
                              "class k. The classes then follow the strokes' ids, and K is "
                              "the largest id.")
        self.new_button = PushButton(name="new_scribbles", text="new scribbles layer")
        self.names = LineEdit(name="class_names", label="class names", value="",
                              tooltip="Comma-separated names of classes 1..K (optional).")
        self.per_class = LineEdit(name="components_per_class", label="Gaussians/class",
                                  value="1", tooltip="One int, one per class (e.g. 3,1 for "
                                  "a skewed background), or auto.")
        self.live = CheckBox(name="live", text="re-segment when painting pauses")
        super().__init__(widgets=[self.layer, self.new_button, self.names, self.per_class,
                                  self.live])
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self._on_pause)
        self._watched = None
        self.new_button.changed.connect(self.add_layer)
        self.layer.changed.connect(self._watch)
        viewer.layers.events.inserted.connect(self._refresh)
        viewer.layers.events.removed.connect(self._refresh)

    def _choices(self, *_):
        return [NO_SCRIBBLES] + [layer.name for layer in self._viewer.layers
                                 if isinstance(layer, Labels) and not _is_output(layer)]

    def _refresh(self, *_):
        self.layer.reset_choices()

    def selected(self):
        """The chosen scribbles layer, or None."""
        name = self.layer.value
        if name in (None, NO_SCRIBBLES) or name not in self._viewer.layers:
            return None
        return self._viewer.layers[name]

    def add_layer(self, *_):
        """Add an empty scribbles Labels layer of the chosen image's spatial shape, scale
        and translate, select it here and in the viewer (paint mode); returns it."""
        image = self._image_field.value
        if image is None:
            raise ValueError("Choose an image layer first.")
        ndim = image.data.ndim - (1 if image.rgb else 0)
        shape = tuple(image.data.shape[:ndim])
        layer = self._viewer.add_labels(
            np.zeros(shape, dtype=np.uint8), name=f"{image.name} scribbles",
            scale=tuple(image.scale)[:ndim], translate=tuple(image.translate)[:ndim],
        )
        self._refresh()
        self.layer.value = layer.name
        layer.mode = "paint"
        layer.selected_label = 1
        return layer

    def _watch(self, *_):
        """Listen to painting on the chosen layer only."""
        if self._watched is not None:
            self._watched.events.paint.disconnect(self._on_paint)
            self._watched.events.data.disconnect(self._on_paint)
        self._watched = self.selected()
        if self._watched is not None:
            self._watched.events.paint.connect(self._on_paint)
            self._watched.events.data.connect(self._on_paint)

    def _on_paint(self, *_):
        if self.live.value:
            self.timer.start()  # restarts: runs DEBOUNCE_MS after the last stroke

    def _on_pause(self):
        layer = self.selected()
        if layer is not None and np.any(np.asarray(layer.data)):
            self._rerun()

    def read(self, spatial_shape, time_axis) -> dict:
        """``segment`` keywords of this tab for an image of `spatial_shape` (a copy of
        the strokes, taken on the main thread); empty without scribbles."""
        layer = self.selected()
        options = {}
        names = [n.strip() for n in str(self.names.value).split(",") if n.strip()]
        if layer is None:
            if names:
                options["class_names"] = names
            return options
        data = np.array(layer.data)
        if not data.any():
            return {"class_names": names} if names else {}
        if time_axis is not None:
            raise ValueError(
                "Scribbles work on single images for now: turn the time axis off, or segment "
                "one frame with scribbles and apply its model to the series."
            )
        if spatial_shape is None:
            raise ValueError("Scribbles do not work on multiscale layers yet: segment one level.")
        if data.shape != tuple(spatial_shape):
            raise ValueError(
                f"The scribbles layer {layer.name!r} has shape {data.shape}, the image "
                f"{tuple(spatial_shape)}: use 'new scribbles layer' to add one that fits."
            )
        options.update(scribbles=data, n_components=None,
                       components_per_class=_per_class(self.per_class.value))
        if names:
            options["class_names"] = names
        return options


def spatial_shape(axes: dict) -> tuple[int, ...] | None:
    """The spatial shape of the dock's input (``InputSection.read``), None if multiscale."""
    data = axes["data"]
    if isinstance(data, list | tuple):
        return None
    shape = list(np.shape(data))
    if axes["channel_axis"] is not None:
        del shape[axes["channel_axis"]]
    return tuple(shape)


def _per_class(text):
    text = str(text).strip()
    if text == "auto":
        return text
    try:
        values = [int(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise ValueError(
            f"Gaussians/class must be an int, ints separated by commas, or auto; got {text!r}."
        ) from None
    return values[0] if len(values) == 1 else values


def _is_output(layer) -> bool:
    """Layers this plugin wrote (labels, objects) are not scribbles."""
    return "napari-gmm" in getattr(layer, "metadata", {})
