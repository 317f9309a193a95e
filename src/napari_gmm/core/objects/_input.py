"""A :class:`~._result.Segmentation` given to :func:`~._objects.label_objects`."""

from __future__ import annotations


def unpack_segmentation(labels, options: dict):
    """(labels array, options) for a Segmentation; anything else is returned unchanged.

    The Segmentation gives its labels, its time axis and its number of classes (every
    class 1..K may be chosen, even one no pixel has); an ``image`` or ``scale`` the result
    carries (when a pipeline attaches them) fills the option the caller left at None.
    Options given explicitly always win.
    """
    # duck-typed: importing Segmentation here would make an import cycle (it imports us)
    if not all(hasattr(labels, n) for n in ("labels", "frames", "time_axis", "model")):
        return labels, options
    seg = labels
    k = max([f.n_components for f in seg.frames], default=seg.n_components)
    filled = dict(options)
    defaults = {
        "time_axis": seg.time_axis,
        "n_classes": max(k, seg.n_components),
        "image": getattr(seg, "image", None),
        "scale": getattr(seg, "scale", None),
    }
    for name, value in defaults.items():
        if filled.get(name) is None:
            filled[name] = value
    return seg.labels, filled
