"""Fields of the *GMM Segmentation* dock: the input axes and layers, and the EM options.

:class:`InputSection` turns the chosen layer (plus any extra channel layers) into the array
and the ``channel_axis`` / ``time_axis`` / ``frames`` keywords given to the core.
"""

from __future__ import annotations

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Select, SpinBox
from napari.layers import Image

from ..core import COVARIANCE_TYPES, INIT_PARAMS, is_dask_array
from ._layers import spatial_transform
from ._lazy_layers import layer_data
from ._parts import CHANNEL_LABELS, TIME_LABELS, describe_axis, find_axis, is_own_output


def core_has_time_axis() -> bool:
    """Whether the core's ``segment`` takes ``time_axis`` (else the time fields are hidden)."""
    import inspect

    from ..core import DEFAULTS, segment

    return "time_axis" in DEFAULTS or "time_axis" in inspect.signature(segment).parameters


#: Choice of an axis field meaning "no such axis".
NONE = "none"
#: Choices of the frames field: label -> ``frames`` keyword of the core.
FRAME_MODES = {
    "each frame": "each",
    "one model for all frames": "shared",
    "fit on this frame, apply to all": "current",
}


def em_fields() -> tuple[list, list]:
    """The widgets of :func:`napari_gmm.segment` options, as ``(keyword, widget)`` pairs.

    Returns the main and the advanced options. Every listed value is passed to ``segment``
    under its keyword, so exposing a new option of ``segment`` takes one line here.
    """
    main = [
        ("covariance_type", ComboBox(name="covariance_type", label="covariance",
                                     choices=COVARIANCE_TYPES, value="full",
                                     tooltip="Shape of the class covariances (channels).")),
        ("smoothing", FloatSpinBox(name="smoothing", label="smoothing", min=0.0, max=10.0,
                                   step=0.25, value=0.0,
                                   tooltip="Spatial (Potts) prior for noisy images: 0 = off, "
                                   "1 = recommended. Neighbouring pixels tend to share a "
                                   "class.")),
    ]
    advanced = [
        ("tol", FloatSpinBox(name="tol", label="tolerance", min=0.0, max=1.0, step=1e-5,
                             value=1e-3, tooltip="EM stops when the mean log-likelihood "
                             "bound changes by less than this.")),
        ("max_iter", SpinBox(name="max_iter", label="max iterations", min=1, max=100_000,
                             value=100, tooltip="Largest number of EM iterations.")),
        ("n_init", SpinBox(name="n_init", label="initialisations", min=1, max=100, value=1,
                           tooltip="EM runs from different starts; the best "
                           "log-likelihood wins.")),
        ("init_params", ComboBox(name="init", label="initialisation", choices=INIT_PARAMS,
                                 value="kmeans", tooltip="How EM is initialised.")),
    ]
    return main, advanced


class InputSection(Container):
    """Channel axis, extra channel layers, time axis and frame mode of the chosen layer.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer.
    image : ComboBox
        The widget's input layer field; the choices here follow it.
    """

    def __init__(self, viewer, image: ComboBox):
        super().__init__(labels=True, name="input_section")
        self._viewer, self._image = viewer, image
        self.channel_axis = ComboBox(name="channel_axis", label="channel axis",
                                     choices=self._channel_choices, tooltip="The axis holding "
                                     "channels fitted jointly; 'none': one value per pixel. "
                                     "RGB layers are segmented on their colour channels.")
        self.channels = Select(name="channels", label="more channels",
                               choices=self._channel_layers, tooltip="Other Image layers of "
                               "the same shape, fitted jointly as more channels (ctrl-click).")
        self.time_axis = ComboBox(name="time_axis", label="time axis",
                                  choices=self._time_choices, tooltip="Axis of the frames "
                                  "of a time series: smoothing never couples frames.")
        self.frames = ComboBox(name="frames", label="frames", choices=list(FRAME_MODES),
                               tooltip="Fit each frame alone (classes ordered by intensity in "
                               "each), one model on all frames, or the model of the frame "
                               "shown now applied to all.")
        self.channels.native.setMaximumHeight(4 * self.channels.native.sizeHintForRow(0) + 8)
        self.extend([self.channel_axis, self.channels, self.time_axis, self.frames])
        image.changed.connect(self.reset_choices)
        self.time_axis.changed.connect(self._show_frames)
        self.channel_axis.changed.connect(self._show_frames)
        self.reset_choices()

    # --------------------------------------------------------------- choices
    def reset_choices(self, *_):
        super().reset_choices()
        layer = self._image.value
        for field, names in ((self.channel_axis, CHANNEL_LABELS), (self.time_axis, TIME_LABELS)):
            axis = find_axis(layer, names)
            if axis is not None and axis in field.choices:
                field.value = axis
        self._show_frames()

    def _axes(self, layer) -> list:
        if layer is None or layer.multiscale or layer.rgb or layer.ndim < 3:
            return []
        return [(describe_axis(layer, i), i) for i in range(layer.ndim)]

    def _channel_choices(self, _widget=None) -> list:
        layer = self._image.value
        if layer is not None and layer.rgb:
            return [("RGB colour channels", -1)]
        return [(NONE, NONE), *self._axes(layer)]

    def _time_choices(self, _widget=None) -> list:
        layer = self._image.value
        if not core_has_time_axis():
            return [(NONE, NONE)]
        spatial = 3 if layer is not None and not layer.rgb else 4
        if layer is None or layer.multiscale or layer.data.ndim < spatial:
            return [(NONE, NONE)]
        return [(NONE, NONE), *[(describe_axis(layer, i), i) for i in range(layer.ndim)]]

    def _channel_layers(self, _widget=None) -> list:
        layer = self._image.value
        if layer is None or layer.multiscale or layer.rgb:
            return []
        return [
            (other.name, other)
            for other in self._viewer.layers
            if isinstance(other, Image)
            and other is not layer
            and not is_own_output(other)
            and not other.multiscale
            and not other.rgb
            and other.data.shape == layer.data.shape
        ]

    def _show_frames(self, *_) -> None:
        self.time_axis.visible = core_has_time_axis()
        self.frames.visible = self.time_axis.value not in (NONE, None)
        self.channels.visible = bool(self.channels.choices)

    # ------------------------------------------------------------------ read
    def read(self, layer) -> dict:
        """The data and the axis keywords for the core, read from the fields and `layer`.

        Returns ``{"data", "channel_axis", "time_axis", "frames", "scale", "translate",
        "channel_names"}``; raises ValueError for a contradictory choice.
        """
        data = layer_data(layer)  # multiscale: the list of levels (see _lazy_layers.py)
        extra = [other for other in self.channels.value if other is not layer]
        axis = -1 if layer.rgb else self.channel_axis.value
        axis = None if axis in (NONE, None) else int(axis)
        time = self.time_axis.value
        time = None if time in (NONE, None) else int(time)
        if time is not None and time == axis:
            raise ValueError(
                f"The time axis and the channel axis are both {describe_axis(layer, time)}; "
                "choose different axes (or 'none' for one of them)."
            )
        names = [layer.name]
        if extra:
            import numpy as np

            if axis is not None:
                raise ValueError(
                    "Extra channel layers are stacked as a new channel axis; set 'channel "
                    "axis' to 'none' (or deselect the extra layers)."
                )
            arrays = [data, *(o.data for o in extra)]
            if any(is_dask_array(a) for a in arrays):  # stay lazy
                import dask.array as da

                data = da.stack([da.asarray(a) for a in arrays], axis=-1)
            else:
                data = np.stack([np.asarray(a) for a in arrays], axis=-1)
            axis = -1
            names += [o.name for o in extra]
        scale, translate = spatial_transform(layer, None if extra else axis)
        frames = None
        if time is not None:
            frames = FRAME_MODES[self.frames.value]
            if frames == "current":
                frames = self.current_frame(layer, time)
        return {"data": data, "channel_axis": axis, "time_axis": time, "frames": frames,
                "scale": scale, "translate": translate, "channel_names": names}

    def current_frame(self, layer, axis: int) -> int:
        """The index along data axis `axis` of `layer` shown by the viewer's sliders now."""
        point = layer.world_to_data(self._viewer.dims.point)
        index = round(float(point[axis]))
        return min(max(index, 0), layer.data.shape[axis] - 1)


class KField(Container):
    """Number of classes: a spin box, or 'auto' (chosen by ICL in the core)."""

    def __init__(self):
        super().__init__(layout="horizontal", labels=False, name="k_field", label="classes (K)")
        self.margins = (0, 0, 0, 0)
        self.n_components = SpinBox(name="n_components", min=1, max=20, value=3,
                                    tooltip="Number of classes (Gaussians) to fit.")
        self.auto = CheckBox(name="auto_k", text="auto (ICL)",
                             tooltip="Choose K in 2..8 by ICL (BIC + classification "
                             "entropy): the same K for every seed.")
        self.extend([self.n_components, self.auto])
        self.auto.changed.connect(lambda on: setattr(self.n_components, "enabled", not on))

    def read(self):
        """``'auto'`` or the chosen K."""
        return "auto" if self.auto.value else int(self.n_components.value)


class SmoothingField(Container):
    """Potts prior strength: a spin box, or 'auto' (estimated from the image by the core)."""

    def __init__(self, spin: FloatSpinBox):
        super().__init__(layout="horizontal", labels=False, name="smoothing_field",
                         label="smoothing")
        self.margins = (0, 0, 0, 0)
        self.smoothing = spin
        self.auto = CheckBox(name="auto_smoothing", text="auto",
                             tooltip="Estimate the strength from the image (pseudo-"
                             "likelihood on Gibbs samples); slower than a fixed "
                             "value.")
        self.extend([self.smoothing, self.auto])
        self.auto.changed.connect(lambda on: setattr(self.smoothing, "enabled", not on))

    def read(self):
        """``'auto'`` or the chosen strength."""
        return "auto" if self.auto.value else float(self.smoothing.value)
