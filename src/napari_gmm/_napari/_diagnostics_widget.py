"""The *Model diagnostics* dock widget: choice of K, EM convergence, fitted components."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, PushButton, SpinBox
from napari.utils.notifications import show_info

from ..core import AUTO_CANDIDATES, COVARIANCE_TYPES, segment
from ._base import DockWidget, find_widget
from ._diagnostics_job import Fit, diagnostics_job, kmeans_labels, log_density
from ._job import DiagnosticsJob
from ._layers import Output, own_layers, put_outputs, spatial_transform
from ._parts import Tabs, form, row
from ._plot_canvas import PlotCanvas
from ._plots import plot_components, plot_criteria, plot_trace
from ._worker import USER_ERRORS

if TYPE_CHECKING:
    import napari

#: Side of the downsampled plane of the live preview.
PREVIEW_SIDE = 256
#: Plugin and dock names of the segmentation widget (for "Use K").
PLUGIN, SEGMENTATION = "napari-gmm", "GMM Segmentation"


class ModelDiagnosticsWidget(DockWidget):
    """Dock widget choosing the number of classes and showing how well the mixture fits.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer (given by napari).

    Attributes
    ----------
    image, k_min, k_max, covariance_type, criterion, seed : widgets
        Input image layer (RGB: segmented on its colours); candidate K range; covariance
        shape; ``'icl'`` (default, as ``n_components='auto'``), ``'bic'`` or ``'aic'``; seed
        of the fits.
    run_button, cancel_button, status : widgets
        Start (:meth:`run`), stop (:meth:`cancel`), progress and the result in words.
    canvases : dict of str -> PlotCanvas
        Tabs ``'criteria'`` (against K), ``'convergence'`` (EM trace) and ``'components'``.
    use_k_button, kmeans_button, outlier_button : PushButton
        :meth:`use_k`, :meth:`compare_kmeans` and :meth:`outlier_map` on the last fit.
    live_preview : CheckBox
        When checked, changing ``k_min`` or ``k_max`` segments a downsampled plane with
        that K into ``"<name> preview"`` (:meth:`preview`).
    last_fit : Fit or None
        The last successful run; ``kmeans_ari`` the agreement of the last k-means comparison.
    """

    title = "model diagnostics"

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(viewer, run_text="Fit and diagnose")
        self.last_fit: Fit | None = None
        self.kmeans_ari: float | None = None
        lo, hi = AUTO_CANDIDATES[0], AUTO_CANDIDATES[-1]  # the default range everywhere
        self.k_min = SpinBox(name="k_min", label="K from", min=1, max=20, value=lo)
        self.k_max = SpinBox(name="k_max", label="K to", min=1, max=20, value=hi)
        self.covariance_type = ComboBox(name="covariance_type", label="covariance",
                                        choices=COVARIANCE_TYPES, value="full")
        self.criterion = ComboBox(name="criterion", label="criterion", value="icl",
                                  choices=("icl", "bic", "aic"))  # icl: as n_components="auto"
        self.seed = SpinBox(name="seed", label="seed", min=0, max=2**31 - 1, value=0)
        self.use_k_button = PushButton(name="use_k_button", text="Use K in GMM Segmentation",
                                       enabled=False)
        self.kmeans_button = PushButton(name="kmeans_button", text="k-means")
        self.outlier_button = PushButton(name="outlier_button", text="outlier map")
        self.live_preview = CheckBox(name="live_preview", text="live preview (K spin boxes)")
        self.canvases = {
            name: PlotCanvas(viewer, min_height=150)
            for name in ("criteria", "convergence", "components")
        }
        self.sections = Tabs(list(self.canvases.items()), name="sections")
        fields = form(self.image, row(self.k_min, self.k_max, label="K from, to"),
                      row(self.covariance_type, self.criterion, label="covariance"),
                      self.seed)
        actions = row(self.kmeans_button, self.outlier_button)
        self.body.extend([fields, self.buttons, self.status, self.sections, self.use_k_button,
                          actions, self.live_preview])
        self.use_k_button.changed.connect(self.use_k)
        self.kmeans_button.changed.connect(self.compare_kmeans)
        self.outlier_button.changed.connect(self.outlier_map)
        self.k_min.changed.connect(self.preview)
        self.k_max.changed.connect(self.preview)
        self.live_preview.changed.connect(lambda on: on and self.preview(self.k_max.value))
        self._fit_width()

    # --------------------------------------------------------------------- run
    def run(self, *_):
        """Start choosing K and fitting in a worker thread; returns the worker (or None)."""
        if self._worker is not None:
            return self._worker
        layer = self._check_image()
        if layer is None:
            return None
        lo, hi = sorted((int(self.k_min.value), int(self.k_max.value)))
        axis = -1 if layer.rgb else None
        data = np.asarray(layer.data)
        scale, translate = spatial_transform(layer, axis)
        job = DiagnosticsJob(source=layer.name, layer=layer, data_ref=layer.data,
                             busy=f"choosing K in {lo}..{hi} for {layer.name!r}…", data=data,
                             channel_axis=axis, scale=scale, translate=translate,
                             seed=int(self.seed.value), tol=1e-3)
        return self._start(job, diagnostics_job, data, range(lo, hi + 1),
                           criterion=self.criterion.value,
                           covariance_type=self.covariance_type.value,
                           seed=int(self.seed.value), channel_axis=axis)

    def _on_done(self, result) -> None:
        fields = {k: getattr(self._job, k) for k in Fit.__dataclass_fields__
                  if hasattr(self._job, k)}
        self.last_fit = Fit(selection=result.selection, segmentation=result.segmentation,
                            features=result.features, **fields)
        self.kmeans_ari = None
        self.draw()
        self.status.success(self._summary_text())
        self.use_k_button.enabled = True
        self.use_k_button.text = f"Use K={self.last_fit.selection.best} in GMM Segmentation"

    def draw(self) -> None:
        """Redraw the three plots from :attr:`last_fit`."""
        fit = self.last_fit
        for canvas in self.canvases.values():
            canvas.figure.clear()
        plot_criteria(fit.selection, self.canvases["criteria"].figure.add_subplot())
        plot_trace(fit.segmentation.lower_bounds, fit.tol,
                   self.canvases["convergence"].figure.add_subplot())
        plot_components(fit.features, fit.segmentation.model,
                        fig=self.canvases["components"].figure)
        for canvas in self.canvases.values():
            canvas.redraw()

    def _summary_text(self) -> str:
        fit = self.last_fit
        seg, sel = fit.segmentation, fit.selection
        state = "converged" if seg.converged else "NOT converged"
        text = (f"K={sel.best} by {sel.criterion.upper()} ({seg.model.covariance_type}): "
                f"{state}, {seg.n_iter} iterations")
        if self.kmeans_ari is not None:
            text += f"\nk-means vs GMM: ARI {self.kmeans_ari:.3f}"
        return text

    # ----------------------------------------------------------------- actions
    def use_k(self, *_):
        """Set the chosen K in the *GMM Segmentation* dock (opened if needed); returns it."""
        from ._segment_widget import GMMWidget

        if self.last_fit is None:
            show_info("Run the diagnostics first.")
            return None
        widget = find_widget(self._viewer, GMMWidget)
        if widget is None:
            _, widget = self._viewer.window.add_plugin_dock_widget(PLUGIN, SEGMENTATION)
        widget.use_k(self.last_fit.selection.best)
        if self.last_fit.layer in widget.image.choices:
            widget.image.value = self.last_fit.layer
        return widget

    def _put(self, fit_or_layer, role: str, output: Output, scale, translate):
        """Create or update one output layer, leaving the other outputs of the input alone."""
        source = fit_or_layer.name if hasattr(fit_or_layer, "name") else fit_or_layer.source
        layer = fit_or_layer if hasattr(fit_or_layer, "name") else fit_or_layer.layer
        if not any(other is layer for other in self._viewer.layers):
            show_info(f"The layer {source!r} of the last fit was removed; run again.")
            return None
        others = [lay for r, lay in own_layers(self._viewer, source).items() if r != role]
        return put_outputs(self._viewer, source, [output], scale=scale, translate=translate,
                           keep=(layer, *others))[0]

    def compare_kmeans(self, *_):
        """Cluster the last fit's pixels with k-means (same K); add ``"<name> kmeans"``.

        Labels 1..K are ordered by centroid intensity. Returns the layer (or None).
        """
        fit = self.last_fit
        if fit is None:
            show_info("Run the diagnostics first.")
            return None
        labels, self.kmeans_ari = kmeans_labels(fit)
        self.status.success(self._summary_text())
        out = Output("kmeans", "labels", labels, create={"opacity": 0.6, "visible": False},
                     info={"ari_vs_gmm": self.kmeans_ari})
        return self._put(fit, "kmeans", out, fit.scale, fit.translate)

    def outlier_map(self, *_):
        """Add ``"<name> log-density"``: the fitted mixture's log density at every pixel.

        Low values mark pixels the model explains badly. Returns the layer (or None).
        """
        fit = self.last_fit
        if fit is None:
            show_info("Run the diagnostics first.")
            return None
        density, limits = log_density(fit)
        out = Output("log-density", "image", density,
                     create={"colormap": "inferno", "visible": True},
                     update={"contrast_limits": limits})
        return self._put(fit, "log-density", out, fit.scale, fit.translate)

    def preview(self, k=None, *_):
        """Segment a downsampled plane of the image with `k` classes into ``"<name> preview"``.

        Runs only when ``live_preview`` is checked (in the main thread: at most about
        256x256 pixels, the central plane of 3D+ images). Returns the layer (or None).
        """
        layer = self.image.value
        if not self.live_preview.value or layer is None or layer.multiscale or k is None:
            return None
        axis = -1 if layer.rgb else None
        data = np.asarray(layer.data)
        spatial = data.shape[:-1] if layer.rgb else data.shape
        scale, translate = spatial_transform(layer, axis)
        index = tuple(n // 2 for n in spatial[:-2])
        strides = [max(1, round(n / PREVIEW_SIDE)) for n in spatial[-2:]]
        index += tuple(slice(None, None, s) for s in strides)
        try:
            seg = segment(data[index], int(k), channel_axis=axis,
                          covariance_type=self.covariance_type.value,
                          random_state=int(self.seed.value))
        except USER_ERRORS as err:
            self.status.failure(f"preview failed: {err}")
            return None
        plane_scale = tuple(s * st for s, st in zip(scale[-2:], strides, strict=True))
        out = Output("preview", "labels", seg.labels, create={"opacity": 0.6},
                     info={"n_components": int(k), "strides": strides})
        return self._put(layer, "preview", out, plane_scale, translate[-2:])
