"""The *Model diagnostics* dock widget: choice of K, EM convergence, fitted components."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, PushButton, SpinBox
from matplotlib.figure import Figure
from napari.utils.notifications import show_error, show_info

from ..core._density import mixture_log_density
from ..core._features import pixel_features
from ..core._metrics import compare_labels
from ..core._segment import iter_segment, segment
from ..core._selection import select_n_components
from ..core._validation import COVARIANCE_TYPES
from ._layers import Output, own_layers, put_outputs, spatial_transform
from ._plots import plot_components, plot_criteria, plot_trace
from ._study_widget import AnalysisWidget, Cancelled
from ._worker import USER_ERRORS, JobError

if TYPE_CHECKING:
    import napari

    from ..core._result import Segmentation
    from ..core._selection import Selection

#: Largest number of pixels k-means is fitted on (all pixels are then predicted).
KMEANS_MAX_SAMPLES = 200_000
#: Largest number of pixels kept for the components plot.
PLOT_SAMPLES = 50_000
#: Side of the downsampled plane of the live preview.
PREVIEW_SIDE = 256


@dataclass(eq=False)
class Fit:
    """The last diagnostics run: what was fitted and how."""

    selection: Selection
    segmentation: Segmentation
    features: np.ndarray
    data: np.ndarray
    source: str
    layer: object
    channel_axis: int | None
    scale: tuple
    translate: tuple
    seed: int
    tol: float


def diagnostics_job(image, candidates, *, criterion, covariance_type, seed, channel_axis,
                    cancel, relay):  # fmt: skip
    """Generator: choose K with :func:`select_n_components`, then segment with it.

    Yields ``(done, total)`` progress (out of 100); `cancel` (an Event) stops the selection
    between candidates and `relay` forwards its progress. Returns ``{"selection",
    "segmentation", "features"}``, ``{"error": message}`` or None when cancelled.
    """
    common = {"channel_axis": channel_axis, "covariance_type": covariance_type,
              "random_state": seed}  # fmt: skip

    def progress(done, total):
        if cancel.is_set():
            raise Cancelled
        relay((80 * done / total, 100))

    try:
        try:
            selection = select_n_components(image, candidates, criterion=criterion,
                                            progress=progress, **common)  # fmt: skip
        except Cancelled:
            return None
        yield 80, 100
        steps = iter_segment(image, selection.best, **common)
        while True:
            try:
                fraction, _ = next(steps)
            except StopIteration as stop:
                seg = stop.value
                break
            yield 80 + 20 * fraction, 100
        features = pixel_features(image, channel_axis)
        if features.shape[0] > PLOT_SAMPLES:
            rng = np.random.default_rng(0)
            features = features[rng.choice(features.shape[0], PLOT_SAMPLES, replace=False)]
    except USER_ERRORS as err:
        return {"error": str(err) or type(err).__name__}
    except RuntimeError as err:
        raise JobError(f"{type(err).__name__}: {err}") from err
    return {"selection": selection, "segmentation": seg, "features": features}


class ModelDiagnosticsWidget(AnalysisWidget):
    """Dock widget choosing the number of classes and showing how well the mixture fits.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer (given by napari).

    Attributes
    ----------
    image, k_min, k_max, covariance_type, criterion, seed : widgets
        Input image layer (RGB: segmented on its colours); candidate K range; covariance
        shape; ``'bic'`` or ``'aic'``; seed of the fits.
    run_button, cancel_button, progress, summary : widgets
        Start (:meth:`run`), stop (:meth:`cancel`), progress, and the result in words.
    figure, canvas : Figure, FigureCanvasQTAgg
        Criteria against K, convergence trace, and fitted components.
    kmeans_button, outlier_button : PushButton
        :meth:`compare_kmeans` and :meth:`outlier_map` on the last fit.
    live_preview : CheckBox
        When checked, changing ``k_min`` or ``k_max`` segments a downsampled plane with
        that K into ``"<name> preview"`` (:meth:`preview`).
    last_fit : Fit or None
        The last successful run; ``kmeans_ari`` the agreement of the last k-means comparison.
    """

    title = "model diagnostics"

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(viewer)
        self.last_fit: Fit | None = None
        self.kmeans_ari: float | None = None
        self._pending: dict = {}
        # fmt: off
        self.k_min = SpinBox(name="k_min", label="K from", min=1, max=20, value=1)
        self.k_max = SpinBox(name="k_max", label="K to", min=1, max=20, value=6)
        self.covariance_type = ComboBox(name="covariance_type", label="covariance",
                                        choices=COVARIANCE_TYPES, value="full")
        self.criterion = ComboBox(name="criterion", label="criterion", choices=("bic", "aic"))
        self.seed = SpinBox(name="seed", label="seed", min=0, max=2**31 - 1, value=0)
        self.kmeans_button = PushButton(name="kmeans_button", text="k-means comparison")
        self.outlier_button = PushButton(name="outlier_button", text="outlier map")
        self.live_preview = CheckBox(name="live_preview", text="live preview (K spin boxes)")
        # fmt: on
        self.run_button.text = "Fit and diagnose"
        self.extend([self.image, self.k_min, self.k_max, self.covariance_type, self.criterion,
                     self.seed, self.run_button, self.cancel_button, self.progress,
                     self.summary, self.kmeans_button, self.outlier_button,
                     self.live_preview])  # fmt: skip
        self.figure = Figure(figsize=(5, 7.5), layout="constrained")
        self.canvas = self._add_canvas(self.figure, self.kmeans_button, 600)
        self.summary.native.setWordWrap(True)
        self.summary.native.setMinimumHeight(4 * self.summary.native.fontMetrics().height())
        self.kmeans_button.changed.connect(self.compare_kmeans)
        self.outlier_button.changed.connect(self.outlier_map)
        self.k_min.changed.connect(self.preview)
        self.k_max.changed.connect(self.preview)
        self.live_preview.changed.connect(lambda on: on and self.preview(self.k_max.value))

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
        self._pending = {"data": data, "source": layer.name, "layer": layer,
                         "channel_axis": axis, "scale": scale, "translate": translate,
                         "seed": int(self.seed.value), "tol": 1e-3}  # fmt: skip
        self.summary.value = f"choosing K in {lo}..{hi} for {layer.name!r}…"
        relay = _Relay()
        worker = self._start(diagnostics_job, data, range(lo, hi + 1),
                             criterion=self.criterion.value,
                             covariance_type=self.covariance_type.value,
                             seed=int(self.seed.value), channel_axis=axis,
                             cancel=self._cancel, relay=relay)  # fmt: skip
        relay.signal = worker.yielded
        return worker

    def _on_done(self, result) -> None:
        if self._stale() or result is None:
            return
        if "error" in result:
            self.summary.value = "failed (see message)"
            show_error(f"Model diagnostics failed: {result['error']}")
            return
        self.last_fit = Fit(selection=result["selection"],
                                  segmentation=result["segmentation"],
                                  features=result["features"], **self._pending)  # fmt: skip
        self.kmeans_ari = None
        self.progress.value = 100
        self.draw()
        self.summary.value = self._summary_text()

    def draw(self) -> None:
        """Redraw the three plots from :attr:`last_fit`."""
        fit = self.last_fit
        self.figure.clear()
        top, middle, bottom = self.figure.subfigures(3, 1, height_ratios=(1, 1, 1.2))
        plot_criteria(fit.selection, top.add_subplot())
        plot_trace(fit.segmentation.lower_bounds, fit.tol, middle.add_subplot())
        plot_components(fit.features, fit.segmentation.model, fig=bottom)
        self.canvas.draw_idle()

    def _summary_text(self) -> str:
        fit = self.last_fit
        seg, sel = fit.segmentation, fit.selection
        state = "converged" if seg.converged else "NOT converged"
        text = (f"K={sel.best} by {sel.criterion.upper()} ({seg.model.covariance_type}): "
                f"{state}, {seg.n_iter} iterations")  # fmt: skip
        if self.kmeans_ari is not None:
            text += f"\nk-means vs GMM: ARI {self.kmeans_ari:.3f}"
        return text

    # ----------------------------------------------------------------- actions
    def _put(self, fit_or_layer, role: str, output: Output, scale, translate):
        """Create or update one output layer, leaving the other outputs of the input alone."""
        source = fit_or_layer.name if hasattr(fit_or_layer, "name") else fit_or_layer.source
        layer = fit_or_layer if hasattr(fit_or_layer, "name") else fit_or_layer.layer
        others = [lay for r, lay in own_layers(self._viewer, source).items() if r != role]
        return put_outputs(self._viewer, source, [output], scale=scale, translate=translate,
                           keep=(layer, *others))[0]  # fmt: skip

    def compare_kmeans(self, *_):
        """Cluster the last fit's pixels with k-means (same K); add ``"<name> kmeans"``.

        Fitted on at most :data:`KMEANS_MAX_SAMPLES` pixels, then every pixel is predicted;
        labels 1..K are ordered by centroid intensity. Returns the layer (or None).
        """
        from sklearn.cluster import KMeans

        fit = self.last_fit
        if fit is None:
            show_info("Run the diagnostics first.")
            return None
        features = pixel_features(fit.data, fit.channel_axis)
        valid = np.all(np.isfinite(features), axis=1)
        points = features[valid]
        rng = np.random.default_rng(fit.seed)
        sample = points
        if points.shape[0] > KMEANS_MAX_SAMPLES:
            sample = points[rng.choice(points.shape[0], KMEANS_MAX_SAMPLES, replace=False)]
        k = fit.segmentation.n_components
        kmeans = KMeans(n_clusters=k, n_init=3, random_state=fit.seed).fit(sample)
        order = np.argsort(np.argsort(kmeans.cluster_centers_.sum(axis=1)))
        flat = np.zeros(features.shape[0], dtype=np.uint8)
        flat[valid] = order[kmeans.predict(points)] + 1
        labels = flat.reshape(fit.segmentation.labels.shape)
        self.kmeans_ari = compare_labels(fit.segmentation.labels, labels, ignore=0).ari
        self.summary.value = self._summary_text()
        out = Output("kmeans", "labels", labels, create={"opacity": 0.6, "visible": False},
                     info={"ari_vs_gmm": self.kmeans_ari})  # fmt: skip
        return self._put(fit, "kmeans", out, fit.scale, fit.translate)

    def outlier_map(self, *_):
        """Add ``"<name> log-density"``: the fitted mixture's log density at every pixel.

        Low values mark pixels the model explains badly. Returns the layer (or None).
        """
        fit = self.last_fit
        if fit is None:
            show_info("Run the diagnostics first.")
            return None
        model = fit.segmentation.model
        density = mixture_log_density(fit.data, model.weights_, model.means_,
                                      model.covariances_, channel_axis=fit.channel_axis,
                                      covariance_type=model.covariance_type)  # fmt: skip
        finite = density[np.isfinite(density)]
        limits = (
            (float(np.percentile(finite, 0.5)), float(finite.max())) if finite.size else (0, 1)
        )
        if limits[0] >= limits[1]:
            limits = (limits[0] - 1.0, limits[1])
        out = Output("log-density", "image", density.astype(np.float32),
                     create={"colormap": "inferno", "visible": True},
                     update={"contrast_limits": limits})  # fmt: skip
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
                          random_state=int(self.seed.value))  # fmt: skip
        except USER_ERRORS as err:
            self.summary.value = f"preview failed: {err}"
            return None
        plane_scale = tuple(s * st for s, st in zip(scale[-2:], strides, strict=True))
        out = Output("preview", "labels", seg.labels, create={"opacity": 0.6},
                     info={"n_components": int(k), "strides": strides})  # fmt: skip
        return self._put(layer, "preview", out, plane_scale, translate[-2:])


class _Relay:
    """Forwards progress reported inside a blocking call to a worker's ``yielded`` signal."""

    signal = None

    def __call__(self, value) -> None:
        if self.signal is not None:
            self.signal.emit(value)
