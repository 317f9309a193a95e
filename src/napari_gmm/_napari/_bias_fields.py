"""Uneven illumination in the *GMM Segmentation* dock: the bias-field fields and outputs.

The fields go in the dock's *options* tab; :func:`bias_outputs` gives the optional
``"<name> corrected"`` and ``"<name> bias field"`` layers of a finished job. Both arrays
are computed by the core in the worker thread (they are part of the segmentation); only
the layers are made, on the main thread, by :func:`._layers.put_outputs`.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, SpinBox

from ..core import BIAS_FIELDS, DEFAULT_ORDER, MAX_ORDER

#: Choice of the bias-field field meaning "no correction".
NO_FIELD = "none"


class BiasFields:
    """The three fields: the field model, its order, and whether to add its layers.

    Attributes
    ----------
    bias_field : ComboBox
        ``"none"`` or ``"polynomial"`` (``bias_field=`` of :func:`napari_gmm.segment`).
    bias_order : SpinBox
        Total degree of the polynomial, 1..6 (enabled with a field).
    bias_layers : CheckBox
        Add ``"<name> corrected"`` and ``"<name> bias field"`` layers (enabled with a field).
    """

    def __init__(self):
        self.bias_field = ComboBox(name="bias_field", label="bias field",
                                   choices=(NO_FIELD, *BIAS_FIELDS), value=NO_FIELD,
                                   tooltip="Uneven illumination (vignetting, depth "
                                   "attenuation): estimate a smooth multiplicative field with "
                                   "the mixture and segment the image divided by it.")
        self.bias_order = SpinBox(name="bias_order", label="field order", min=1,
                                  max=MAX_ORDER, value=DEFAULT_ORDER,
                                  tooltip="Total degree of the polynomial field: 1 = a ramp, "
                                  "2-3 = vignetting and most smooth shading.")
        self.bias_layers = CheckBox(name="bias_layers", text="add corrected image and field",
                                    tooltip="Also add '<name> corrected' (the image divided "
                                    "by the field) and '<name> bias field' layers.")
        self.bias_field.changed.connect(self._enable)
        self._enable()

    @property
    def widgets(self) -> list:
        return [self.bias_field, self.bias_order, self.bias_layers]

    def _enable(self, *_) -> None:
        on = self.bias_field.value != NO_FIELD
        self.bias_order.enabled = self.bias_layers.enabled = on

    def read(self) -> dict:
        """The core's keywords: ``{}`` without a field, else bias_field and bias_order."""
        if self.bias_field.value == NO_FIELD:
            return {}
        return {"bias_field": self.bias_field.value, "bias_order": int(self.bias_order.value)}

    def layers_wanted(self) -> bool:
        return self.bias_field.value != NO_FIELD and bool(self.bias_layers.value)


def bias_outputs(job: dict, seg, output) -> list:
    """The corrected-image and field outputs of a job (empty unless asked for and made).

    `output` is :class:`._layers.Output`. Multichannel (not RGB) corrected images get their
    channel axis first, with scale 1 along it, so that the layer keeps the input's spatial
    scale and translate; RGB ones stay RGB with the input's contrast limits.
    """
    if not job.bias_layers or seg.bias_field is None or seg.corrected is None:
        return []
    field = seg.bias_field
    valid = field[seg.labels > 0] if np.any(seg.labels > 0) else field
    limits = (float(valid.min()), float(max(valid.max(), valid.min() + 1e-6)))
    hidden = {"visible": False}
    corrected, update = seg.corrected, {"contrast_limits": job.contrast_limits}
    axis = job.segment.get("channel_axis")
    if axis is not None and not job.rgb:
        corrected = np.moveaxis(corrected, axis, 0)
        update.update(scale=(1.0, *job.scale), translate=(0.0, *job.translate))
    create = hidden if job.rgb else {**hidden, "colormap": job.colormap or "gray"}
    return [
        output("corrected", "image", corrected, job.rgb, create, update),
        output("bias field", "image", field, False, {**hidden, "colormap": "magma"},
               {"contrast_limits": limits}),
    ]


def bias_text(seg) -> str:
    """``', bias field 0.62-1.41'`` for a result with a field, else ``''``."""
    if seg.bias_field is None:
        return ""
    if not isinstance(seg.bias_field, np.ndarray):  # lazy (dask): the field alone, no labels
        import dask

        low, high = dask.compute(seg.bias_field.min(), seg.bias_field.max())
        return f", bias field {float(low):.2f}–{float(high):.2f}"
    valid = seg.bias_field[seg.labels > 0]
    return f", bias field {valid.min():.2f}–{valid.max():.2f}" if valid.size else ""
