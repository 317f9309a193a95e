"""The *GMM Segmentation* dock widget.

Imported by napari through the plugin manifest only: the rest of the package needs neither
napari nor Qt. The fit runs in a napari worker thread; layers are only created or updated in
the main thread, once the fit has returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, SpinBox
from napari.utils.notifications import show_info, show_warning

from ..core import UNCERTAINTY_KINDS
from ._background import background_checkbox, set_background_transparent
from ._base import DockWidget
from ._bias_fields import BiasFields
from ._job import SegmentJob
from ._layers import job_outputs, own_layers, put_outputs, with_role
from ._model_section import ModelSection
from ._objects_section import ObjectsSection
from ._parts import ClassLegend, Tabs, form
from ._scribbles_section import ScribblesSection
from ._segment_fields import NONE, InputSection, KField, SmoothingField, em_fields
from ._segment_job import NO_UNCERTAINTY, RANDOM_SEED, fit_summary_text, read_segment_job
from ._worker import segment_job

if TYPE_CHECKING:
    import napari

    from ..core import Segmentation

#: Value of the channel-axis field meaning "gray image: every axis is spatial".
GRAY = NONE


class GMMWidget(DockWidget):
    """Dock widget segmenting an image layer with a Gaussian mixture fitted by EM.

    Scripts can set the fields by name and call :meth:`run`::

        dock, widget = viewer.window.add_plugin_dock_widget("napari-gmm", "GMM Segmentation")
        widget.image.value = viewer.layers["cells"]
        widget.n_components.value = 4
        worker = widget.run()  # then wait until `widget.running` is False

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose image layers are segmented (given by napari).

    Attributes
    ----------
    image : ComboBox
        The input Image layer (this plugin's own output layers are not offered).
    n_components, auto_k : SpinBox, CheckBox
        Number of classes, 1..20 (default 3), or, when ``auto_k`` is checked, ``'auto'``
        (chosen by ICL among 2..8).
    smoothing, auto_smoothing : FloatSpinBox, CheckBox
        Spatial (Potts) prior strength; 0 = off; ``auto_smoothing``: estimated from the
        image (``smoothing='auto'``). ``calibrated`` (tab *options*) asks for Gibbs marginals.
    input : InputSection
        Tab *input*: ``channel_axis`` (``"none"`` or an axis, described by its axis label),
        ``channels`` (other same-shape Image layers fitted jointly as more channels),
        ``time_axis`` (found from the axis label ``t``) and ``frames`` (each frame alone, one
        model for all frames, or the model of the frame shown now applied to all).
    covariance_type, noise_sigma, seed, uncertainty, posteriors : widgets
        Tab *options*. ``noise_sigma`` adds Gaussian noise first (layer ``"<name> noisy"``);
        ``seed`` -1 draws a new seed per run (recorded in the labels' metadata).
    bias_field, bias_order, bias_layers : widgets
        Tab *options*: uneven illumination (``bias_field='polynomial'``); ``bias_layers``
        adds ``"<name> corrected"`` and ``"<name> bias field"`` layers.
    tol, max_iter, n_init, init : widgets
        Tab *EM*: EM options.
    model_path, save_button, apply_path, apply_button : widgets
        Tab *model*: save the last fitted model (JSON) / apply a model file to the image.
    objects_section : ObjectsSection
        Tab *objects*: also label objects of chosen classes (``"<name> objects"`` layer).
    run_button, cancel_button, status : widgets
        Start (:meth:`run`), stop (:meth:`cancel`); progress and result text.
    legend : ClassLegend
        Label number, colour and mean intensity of each class of the last result.
    last_segmentation : Segmentation or None
        Result of the last successful run.

    Notes
    -----
    Outputs, named after the input layer: ``"<name> labels"`` (1..K, label 1 the darkest
    class, 0 for non-finite pixels) and ``"<name> probability"`` (the max posterior), plus
    the optional noisy, uncertainty and posterior layers, with the spatial scale and
    translate of the input. Running again updates them in place and removes optional ones
    no longer asked for. Results are discarded (with a message) if the input layer was
    removed or replaced during the run; a failure leaves the previous layers as they were.
    """

    title = "GMM segmentation"
    accepts_multiscale = True  # fitted once, every level predicted lazily (_lazy_layers.py)

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(viewer, run_text="Segment")
        self.last_segmentation: Segmentation | None = None
        self._last_source: str | None = None
        self._last_means = None
        main, advanced = em_fields()
        self._fields = main + advanced
        self.covariance_type, self.smoothing = (w for _, w in main)
        self.tol, self.max_iter, self.n_init, self.init = (w for _, w in advanced)
        self.k_field = KField()
        self.n_components, self.auto_k = self.k_field.n_components, self.k_field.auto
        self.input = InputSection(viewer, self.image)
        self.channel_axis, self.time_axis = self.input.channel_axis, self.input.time_axis
        self.noise_sigma = FloatSpinBox(name="noise_sigma", label="noise σ", min=0.0, max=1e9,
                                        step=0.5, value=0.0, tooltip="Gaussian noise added "
                                        "before segmenting, in intensity units (0: none).")
        self.seed = SpinBox(name="seed", label="seed", min=RANDOM_SEED, max=2**31 - 1, value=0,
                            tooltip="Seed of the noise and the initialisation; -1: a new "
                            "random seed at every run.")
        self.uncertainty = ComboBox(name="uncertainty", label="uncertainty map",
                                    choices=(NO_UNCERTAINTY, *UNCERTAINTY_KINDS))
        self.posteriors = CheckBox(name="posteriors", text="add per-class posterior maps")
        self.calibrated = CheckBox(name="calibrated", text="calibrated posteriors (Gibbs)",
                                   tooltip="With smoothing: Potts marginals by Gibbs sampling "
                                   "instead of the tempered mean-field ones (~5x the "
                                   "smoothing time).")
        self.smoothing_field = SmoothingField(self.smoothing)
        self.auto_smoothing = self.smoothing_field.auto
        self.bias = BiasFields()
        self.bias_field, self.bias_order, self.bias_layers = self.bias.widgets
        self.transparent_background = background_checkbox()
        options = Container(
            widgets=[
                self.covariance_type,
                self.noise_sigma,
                self.seed,
                self.uncertainty,
                self.posteriors,
                self.calibrated,
                *self.bias.widgets,
                self.transparent_background,
            ]
        )
        em = Container(widgets=[self.tol, self.max_iter, self.n_init, self.init])
        self.model_section = model = ModelSection()
        self.model_path, self.apply_path = model.model_path, model.apply_path
        self.save_button, self.apply_button = model.save_button, model.apply_button
        self.objects_section = ObjectsSection(viewer)
        self.scribbles_section = ScribblesSection(viewer, self.image, self._live_run)
        self.sections = Tabs([("input", self.input), ("options", options), ("EM", em),
                              ("model", model), ("objects", self.objects_section),
                              ("scribbles", self.scribbles_section)],
                             name="sections")
        self.legend = ClassLegend(name="legend")
        self.body.extend([form(self.image, self.k_field, self.smoothing_field), self.buttons,
                          self.status, self.legend, self.sections])
        self.transparent_background.changed.connect(self._show_background)
        self.save_button.changed.connect(self.save_model)
        self.apply_button.changed.connect(self.apply_model)
        self.body.native.layout().addStretch(1)
        self._fit_width()

    def use_k(self, k: int) -> None:
        """Set the number of classes to `k` (and turn 'auto' off)."""
        self.auto_k.value = False
        self.n_components.value = int(k)

    # --------------------------------------------------------------------- run
    def run(self, *_, model=None):
        """Start segmenting the selected image layer in a worker thread.

        Parameters
        ----------
        model : GaussianMixture, path-like or None
            Apply this model instead of fitting one (see :meth:`apply_model`).

        Returns
        -------
        napari.qt.threading.GeneratorWorker or None
            The started worker, or None if nothing was started (a message says why). Wait
            for the result with e.g. ``qtbot.waitUntil(lambda: not widget.running)``.
        """
        if self._worker is not None:
            show_info("A GMM segmentation is already running; cancel it or wait for it.")
            return self._worker
        layer = self._check_image()
        if layer is None:
            return None
        try:
            job = self._job_options(layer, model)
        except ValueError as err:
            self._fail(str(err))
            return None
        data, job.data = job.data, None  # the job keeps no reference to the pixels
        return self._start(job, segment_job, data, options=job.segment,
                           noise_sigma=job.noise_sigma, seed=job.seed,
                           uncertainty=job.uncertainty, posteriors=job.posteriors,
                           model=model, objects=job.objects)

    def _job_options(self, layer, model=None) -> SegmentJob:
        """Everything the job needs, read from the fields and the layer now."""
        return read_segment_job(self, layer, model)


    def _live_run(self):
        """Re-segment after painting paused (live scribbles), unless a run is going on."""
        if self._worker is None:
            self.run()

    # ------------------------------------------------------- main-thread results
    def _on_done(self, result) -> None:
        job = self._job
        seg = result.segmentation
        layers = put_outputs(self._viewer, job.source, job_outputs(job, result),
                             scale=job.scale, translate=job.translate,
                             keep=(job.layer,))
        self.last_segmentation, self._last_source = seg, job.source
        if self.auto_k.value:  # the disabled K box shows the K that was chosen
            self.n_components.value = int(seg.n_components)
        self.status.success(fit_summary_text(seg) + self.objects_section.show(result.objects))
        self.objects_section.after_run(self._viewer, result.objects, job.source,
                                       job.scale, job.translate)
        self._last_means = result.class_means
        labels = None
        if result.class_means is not None:
            self.legend.names = seg.class_names  # guided classes' names, or None
            labels = with_role(layers, "labels")
        self._show_background(labels=labels)  # also shows the legend of the class labels
        if not seg.converged:
            show_warning(
                f"EM did not converge in {seg.n_iter} iterations on {job.source!r} "
                "(the result is shown anyway); raise 'max iterations' or 'tolerance' in the "
                "EM tab."
            )
        for message in result.warnings:
            show_warning(message)

    def _show_background(self, *_, labels=None) -> None:
        """Label 1 of the last result's labels layer transparent, or not (the checkbox),
        and the legend of its classes."""
        source, seg = self._last_source, self.last_segmentation
        if source is None or seg is None:
            return
        if labels is None:
            labels = own_layers(self._viewer, source).get("labels")
        if labels is not None:
            set_background_transparent(labels, bool(self.transparent_background.value),
                                       seg.n_components)
            if self._last_means is not None:
                self.legend.show_classes(labels, self._last_means)

    # ------------------------------------------------------------------ models
    def save_model(self, *_, path=None):
        """Save the last fitted model to `path` (default: *save to*); returns the path."""
        return self.model_section.save(self.last_segmentation, path)

    def apply_model(self, *_, path=None):
        """Label the selected layer with the model file `path` (default: *model file*).

        The model's class order is kept (label k = its component k-1). Returns the worker.
        """
        path = self.model_section.model_file(path)
        return None if path is None else self.run(model=path)
