"""The *objects* tab of the *GMM Segmentation* dock: count and measure objects.

When *label objects* is checked, every run also labels the connected components of the
chosen classes (:func:`napari_gmm.label_objects`, in the worker thread, on the image that
was segmented) and adds or updates a ``"<name> objects"`` Labels layer whose ``features``
table has one row per object (class, size, centroid, bounding box, mean intensity), shown
in the status bar when hovering an object and ready for napari's features table widget.
"""

from __future__ import annotations

import re

from magicgui.widgets import CheckBox, Container, Label, LineEdit, SpinBox

from ..core import FOREGROUND, is_dask_array


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
    count : Label
        The number of objects of the last run.
    """

    def __init__(self):
        super().__init__(labels=True, name="objects_section")
        # fmt: off
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
        # fmt: on
        self.count = Label(name="objects_count", label="objects", value="")
        self.extend([self.active, self.classes, self.min_size, self.fill_holes, self.count])
        self.active.changed.connect(self._enable)
        self._enable()

    def _enable(self, *_) -> None:
        for field in (self.classes, self.min_size, self.fill_holes):
            field.enabled = bool(self.active.value)

    def read(self, data) -> dict | None:
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
        }

    def show(self, objects) -> str:
        """Show the count of `objects` (None: none asked); returns a line for the status."""
        if objects is None:
            self.count.value = ""
            return ""
        classes = ", ".join(str(c) for c in objects.classes)
        text = f"{objects.n_objects} objects (class {classes})"
        self.count.value = text
        return f"\n{text}"
