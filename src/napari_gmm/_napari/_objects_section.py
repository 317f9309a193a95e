"""The *objects* tab of the *GMM Segmentation* dock: count and measure objects.

When *label objects* is checked, every run also labels the connected components of the
chosen classes (:func:`napari_gmm.label_objects`, in the worker thread, on the image that
was segmented) and adds or updates a ``"<name> objects"`` Labels layer whose ``features``
table has one row per object (class, size, centroid, bounding box, mean intensity), shown
in the status bar when hovering an object and ready for napari's features table widget.
"""

from __future__ import annotations

import re

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, LineEdit, SpinBox

from ..core import FOREGROUND, SPLITS, is_dask_array, masked_image

#: 'colour by' choice for napari's usual one colour per object.
NO_COLOUR = "(one colour each)"


def parse_classes(text: str):
    """``'foreground'`` or the class numbers of `text` (``'2,3'`` or ``'2 3'``)."""
    text = str(text).strip()
    if text.lower() == FOREGROUND:
        return FOREGROUND
    parts = [p for p in re.split(r"[,;\s]+", text) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError(
            f"Object classes must be class numbers such as 2 or 2,3, or {FOREGROUND!r} "
            f"(every class but the darkest); got {text!r}. Fix it in the 'objects' tab."
        )
    return tuple(int(p) for p in parts)


class ObjectsSection(Container):
    """Fields of the objects: on/off, which classes, smallest size, hole filling.

    Attributes
    ----------
    active : CheckBox
        Label objects at every run.
    classes : LineEdit
        ``foreground`` (every class but label 1) or class numbers, e.g. ``2,3``.
    min_size : SpinBox
        Objects of fewer pixels are removed (0: keep all).
    fill_holes : CheckBox
        Fill the holes of the objects first.
    split : ComboBox
        ``'none'`` (connected components) or ``'watershed'`` (cut touching objects apart).
    diameter : FloatSpinBox
        Expected object diameter in the layer's units (its scale), for the watershed;
        0 estimates it from the components.
    mask : ComboBox
        A Labels (non-zero inside) or Shapes layer: only the region inside is segmented
        and labelled; objects cut by its border are flagged (``touches_mask_border``).
    count : Label
        The number of objects of the last run.
    """

    def __init__(self, viewer=None):
        super().__init__(labels=True, name="objects_section")
        self._viewer = viewer
        self.active = CheckBox(name="objects", text="label objects",
                                tooltip="Also label the connected components of the chosen "
                                "classes as objects ('<name> objects' layer, one row per "
                                "object in its features table).")
        self.classes = LineEdit(name="object_classes", label="classes", value=FOREGROUND,
                                tooltip="Class numbers, e.g. 2,3, or 'foreground' (every "
                                "class but the darkest, label 1). Touching objects of "
                                "different classes stay separate.")
        self.min_size = SpinBox(name="min_size", label="min size (pixels)", min=0,
                                max=2**31 - 1, value=0,
                                tooltip="Remove objects of fewer pixels (0: keep all).")
        self.fill_holes = CheckBox(name="fill_holes", text="fill holes",
                                   tooltip="Fill regions enclosed by an object (2D or 3D) "
                                   "unless they hold another chosen class.")
        self.split = ComboBox(name="split", label="split touching", choices=SPLITS,
                              value="none",
                              tooltip="'watershed': cut touching objects (nuclei) apart with a "
                              "seeded watershed of the distance to the background (in the "
                              "layer's units) times the class posterior. 'none': one object "
                              "per connected component.")
        self.diameter = FloatSpinBox(name="diameter", label="diameter (0: auto)", min=0.0, max=1e6,
                                     step=0.5, value=0.0,
                                     tooltip="Expected object diameter in the layer's units "
                                     "(its scale; pixels without one), for the watershed. "
                                     "0: estimate it from the objects.")
        self.mask = ComboBox(name="mask_layer", label="region mask", nullable=True,
                             value=None, choices=self._mask_choices,
                             tooltip="A Labels layer (non-zero inside) or Shapes layer: only "
                             "pixels inside are segmented and labelled (outside: 0); objects "
                             "cut by its border get touches_mask_border = True. Applies to "
                             "the segmentation even without 'label objects'.")
        self.measure = CheckBox(name="measure", text="measure shape and intensity",
                                tooltip="Add equivalent diameter, axis lengths, solidity, "
                                "eccentricity / perimeter (2D) or surface area (3D), and "
                                "intensity max / std to the features, in the layer's units.")
        self.min_diameter = FloatSpinBox(name="min_diameter", label="min diameter", min=0.0,
                                         max=1e6, step=0.5, value=0.0,
                                         tooltip="Remove objects of smaller equivalent "
                                         "diameter (layer units; 0: no limit).")
        self.max_diameter = FloatSpinBox(name="max_diameter", label="max diameter", min=0.0,
                                         max=1e6, step=0.5, value=0.0,
                                         tooltip="Remove objects of larger equivalent "
                                         "diameter (layer units; 0: no limit).")
        self.min_solidity = FloatSpinBox(name="min_solidity", label="min solidity", min=0.0,
                                         max=1.0, step=0.05, value=0.0,
                                         tooltip="Remove objects of lower solidity (area / "
                                         "convex area; 0: no limit).")
        self.tracks = CheckBox(name="tracks_layer", text="tracks layer (time series)",
                               tooltip="For a time series, also show the objects' tracks "
                               "(linked by largest overlap, the track_id feature) as a "
                               "Tracks layer.")
        self.colour = ComboBox(name="colour_by", label="colour by", choices=[NO_COLOUR],
                               value=NO_COLOUR,
                               tooltip="Colour the objects by a column of their table "
                               "(viridis from its min to its max) instead of one colour each.")
        self.count = Label(name="objects_count", label="objects", value="")
        self.extend([self.active, self.classes, self.min_size, self.fill_holes, self.split,
                     self.diameter, self.measure, self.min_diameter, self.max_diameter,
                     self.min_solidity, self.tracks, self.mask, self.colour,
                     self.count])
        self._shown = None  # the objects layer last shown, for 'colour by'
        self.colour.changed.connect(self._recolour)
        self.split.changed.connect(self._enable)
        self.active.changed.connect(self._enable)
        self._enable()

    def _enable(self, *_) -> None:
        for field in (self.classes, self.min_size, self.fill_holes, self.split, self.measure,
                      self.min_diameter, self.max_diameter, self.min_solidity, self.tracks):
            field.enabled = bool(self.active.value)
        self.diameter.enabled = bool(self.active.value) and self.split.value == "watershed"

    def _mask_choices(self, _widget=None) -> list:
        if self._viewer is None:
            return []
        from napari.layers import Labels, Shapes

        return [(layer.name, layer) for layer in self._viewer.layers
                if isinstance(layer, Labels | Shapes)]

    def masked(self, data, channel_axis, layer):
        """`data` masked by the chosen mask layer (NaN outside) and the bool mask (or None).

        The mask has the shape of `data` without its channel axis; a Shapes layer's
        vertices are mapped through both layers' scale and translate (rotations and
        shears are not supported), and 2-D shapes over a series or volume apply to every
        leading index. Raises ValueError for a Labels layer of another shape.
        """
        source = self.mask.value
        if source is None:
            return data, None
        shape = list(np.shape(data))
        if channel_axis is not None:
            del shape[channel_axis % len(shape)]
        if source.__class__.__name__ == "Shapes":
            mask = _shapes_mask(source, layer, tuple(shape))
        else:
            mask = np.asarray(source.data) > 0
            if mask.shape != tuple(shape):
                raise ValueError(
                    f"The mask layer {source.name!r} has shape {mask.shape} but the image "
                    f"{layer.name!r} has shape {tuple(shape)} (without channels); choose a "
                    "mask drawn on this image."
                )
        if not mask.any():
            raise ValueError(f"The mask layer {source.name!r} is empty; draw the region first.")
        return masked_image(data, mask, channel_axis), mask

    def read(self, data, mask=None) -> dict | None:
        """The options of ``label_objects`` for a job on `data`, or None when off.

        Raises ValueError for unreadable classes or a lazy (dask, multiscale) layer.
        """
        if not self.active.value:
            return None
        if isinstance(data, list) or is_dask_array(data):
            raise ValueError(
                "Objects need an image in memory; this layer is lazy (dask or multiscale). "
                "Uncheck 'label objects', or add a region of the image as a new layer."
            )
        return {
            "classes": parse_classes(self.classes.value),
            "min_size": int(self.min_size.value),
            "fill_holes": bool(self.fill_holes.value),
            "split": str(self.split.value),
            "diameter": self._diameter(),
            **({} if mask is None else {"mask": mask}),
            **self._measurements(),
        }

    def _measurements(self) -> dict:
        """``properties`` and ``filters`` of the measure fields (empty when unused)."""
        out, filters = {}, {}
        if self.measure.value:
            out["properties"] = "all"
        low, high = self.min_diameter.value or None, self.max_diameter.value or None
        if low is not None or high is not None:
            filters["equivalent_diameter"] = (low, high)
        if self.min_solidity.value:
            filters["solidity"] = (float(self.min_solidity.value), None)
        if filters:
            out["filters"] = filters
        return out

    def after_run(self, viewer, objects, source: str, scale, translate) -> None:
        """Main thread, after a run: colour choices, colours and the tracks layer."""
        name = f"{source} objects"
        self._shown = viewer.layers[name] if objects is not None and name in viewer.layers \
            else None
        numeric = [] if objects is None else [
            k for k, v in objects.table.items() if np.asarray(v).dtype.kind in "biuf"
        ]
        keep = self.colour.value if self.colour.value in numeric else NO_COLOUR
        self.colour.choices = [NO_COLOUR, *numeric]
        self.colour.value = keep
        self._recolour()
        self._put_tracks(viewer, objects, source, scale, translate)

    def _recolour(self, *_) -> None:
        layer, column = self._shown, self.colour.value
        if layer is None or column == NO_COLOUR or column not in layer.features:
            if layer is not None and column == NO_COLOUR:
                from napari.utils.colormaps import label_colormap

                layer.colormap = label_colormap()
            return
        from napari.utils.colormaps import DirectLabelColormap, ensure_colormap

        values = np.asarray(layer.features[column], dtype=float)
        low, high = np.nanmin(values), np.nanmax(values)
        scaled = (values - low) / (high - low) if high > low else np.full(len(values), 0.5)
        colours = ensure_colormap("viridis").map(np.nan_to_num(scaled, nan=0.0))
        mapping = dict(zip(layer.features["index"].tolist(), colours, strict=True))
        layer.colormap = DirectLabelColormap(color_dict={None: (0, 0, 0, 0), 0: (0, 0, 0, 0),
                                                         **mapping})

    def _put_tracks(self, viewer, objects, source: str, scale, translate) -> None:
        """Add or update the ``'<source> tracks'`` layer of a series' objects (if asked)."""
        name = f"{source} tracks"
        table = None if objects is None else objects.table
        if not self.tracks.value or table is None or "track_id" not in table:
            return
        if objects.time_axis != 0 or not len(table["track_id"]):
            return  # napari's Tracks layer wants time first
        n = objects.labels.ndim - 1
        centroids = [table[f"centroid-{a}"] for a in range(n)]
        data = np.column_stack([table["track_id"], table["frame"], *centroids])
        if name in viewer.layers:
            viewer.layers[name].data = data
        else:
            viewer.add_tracks(data, name=name, scale=scale, translate=translate)

    def _diameter(self) -> float | None:
        """The diameter for the watershed; None to estimate it (0, or no watershed)."""
        if self.split.value != "watershed" or not self.diameter.value:
            return None
        return float(self.diameter.value)

    def show(self, objects) -> str:
        """Show the count of `objects` (None: none asked); returns a line for the status."""
        if objects is None:
            self.count.value = ""
            return ""
        classes = ", ".join(str(c) for c in objects.classes)
        text = f"{objects.n_objects} objects (class {classes})"
        self.count.value = text
        return f"\n{text}"


def _shapes_mask(shapes, image_layer, shape: tuple) -> np.ndarray:
    """The region of a Shapes layer as a bool mask in the image layer's pixel grid."""
    from napari.layers import Shapes

    n = min(shapes.ndim, len(shape))
    if not len(shapes.data):
        raise ValueError(f"The mask layer {shapes.name!r} has no shapes; draw the region first.")
    scale = np.asarray(shapes.scale[-n:]) / np.asarray(image_layer.scale[-n:])
    shift = (np.asarray(shapes.translate[-n:]) - np.asarray(image_layer.translate[-n:])) / \
        np.asarray(image_layer.scale[-n:])
    data = [np.asarray(v)[:, -n:] * scale + shift for v in shapes.data]
    mapped = Shapes(data, shape_type=shapes.shape_type, ndim=n)
    region = np.asarray(mapped.to_masks(mask_shape=shape[-n:])).any(axis=0)
    return np.broadcast_to(region, shape).copy()
