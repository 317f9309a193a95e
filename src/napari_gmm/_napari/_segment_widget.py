"""The *GMM Segmentation* dock widget.

Imported by napari through the plugin manifest only: the rest of the package needs neither
napari nor Qt. The fit runs in a napari worker thread; layers are only created or updated in
the main thread, once the fit has returned.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
)
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning

from ..core._result import UNCERTAINTY_KINDS
from ..core._validation import COVARIANCE_TYPES, INIT_PARAMS
from ._layers import image_layers, job_outputs, put_outputs, spatial_transform
from ._lazy_layers import layer_data
from ._worker import segment_job

if TYPE_CHECKING:
    import napari

    from ..core._result import Segmentation

_log = logging.getLogger(__name__)

#: Choice of the uncertainty field meaning "no uncertainty map".
NO_UNCERTAINTY = "none"
#: Value of the seed field meaning "a new random seed at each run".
RANDOM_SEED = -1
#: Value of the channel-axis field meaning "gray image: every axis is spatial".
GRAY = "none"


def _segment_fields() -> tuple[list, list]:
    """The widgets of :func:`napari_gmm.segment` options, as ``(keyword, widget)`` pairs.

    Returns the main and the advanced options. Every listed value is passed to ``segment``
    under its keyword, so exposing a new option of ``segment`` takes one line here.
    """
    main = [
        ("n_components", SpinBox(name="n_components", label="classes (K)", min=1, max=20,
                                 value=3, tooltip="Number of classes (Gaussians) to fit.")),
        ("covariance_type", ComboBox(name="covariance_type", label="covariance",
                                     choices=COVARIANCE_TYPES, value="full",
                                     tooltip="Shape of the class covariances (channels).")),
        ("smoothing", FloatSpinBox(name="smoothing", label="smoothing", min=0.0, max=10.0,
                                   step=0.25, value=0.0,
                                   tooltip="Spatial (Potts) prior for noisy images: 0 = off, "
                                   "1 = recommended. Neighbouring pixels tend to share a "
                                   "class.")),
    ]  # fmt: skip
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
    ]  # fmt: skip
    return main, advanced


class GMMWidget(Container):
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
        The input Image layer (the choices follow the viewer's layers).
    channel_axis : ComboBox
        ``"none"`` (default): every axis is spatial (gray 2D, 3D or nD image). An axis
        index: that axis of a multichannel, non-RGB layer holds channels that are segmented
        jointly, and the outputs have the other axes. RGB(A) layers are always segmented on
        their colour channels (the only choice offered for them).
    n_components : SpinBox
        Number of classes, 1..20 (default 3).
    covariance_type : ComboBox
        ``'full'``, ``'tied'``, ``'diag'`` or ``'spherical'``.
    noise_sigma : FloatSpinBox
        Standard deviation of Gaussian noise added before segmenting, in the image's
        intensity units; 0 (default) = no noise. The noisy image is shown as layer
        ``"<name> noisy"`` and is what gets segmented.
    seed : SpinBox
        Seed of the noise and of the EM initialisation: the same seed gives the same result
        (default 0). -1 draws a new seed at every run; the seed used is recorded in the
        labels layer's metadata.
    tol, max_iter, n_init, init : FloatSpinBox, SpinBox, SpinBox, ComboBox
        EM options, shown when ``show_advanced`` is checked.
    uncertainty : ComboBox
        ``"none"`` or the uncertainty map to add as ``"<name> uncertainty"``:
        ``"1 - max posterior"``, ``"margin"`` (1 - (p1 - p2)) or ``"entropy"`` (normalised).
    posteriors : CheckBox
        Also add a layer ``"<name> posterior k"`` per class k (hidden at first).
    run_button, cancel_button : PushButton
        Start the segmentation (:meth:`run`) / stop it (:meth:`cancel`).
    progress : ProgressBar
        Progress of the running segmentation, in percent.
    summary : Label
        Summary of the last fit (or what went wrong).
    last_segmentation : Segmentation or None
        Result of the last successful run.

    Notes
    -----
    Outputs, named after the input layer: ``"<name> labels"`` (1..K, label 1 the darkest
    class, 0 for non-finite pixels) and ``"<name> probability"`` (the max posterior, float32
    in [0, 1]), plus the optional noisy, uncertainty and posterior layers. They get the
    spatial scale and translate of the input. Running again updates these layers in place,
    and removes optional ones no longer asked for; the input layer and layers made (or
    renamed) by the user are never changed. The labels layer's ``metadata["napari-gmm"]``
    holds ``"summary"`` (:meth:`napari_gmm.Segmentation.summary`) and ``"options"``
    (everything needed to repeat the run, including the seed used).
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        self._viewer = viewer
        self._worker = None
        self._job: dict | None = None
        self._closed = False
        self.last_segmentation: Segmentation | None = None
        main, advanced = _segment_fields()
        self._fields = main + advanced
        self._advanced = [widget for _, widget in advanced]

        # fmt: off
        self.image = ComboBox(name="image", label="image", choices=self._image_choices,
                              tooltip="Image layer to segment.")
        self.channel_axis = ComboBox(name="channel_axis", label="channel axis",
                                     choices=self._axis_choices, tooltip="'none': gray image. "
                                     "RGB layers are segmented on their colour channels.")
        self.noise_sigma = FloatSpinBox(name="noise_sigma", label="noise σ", min=0.0, max=1e9,
                                        step=0.5, value=0.0, tooltip="Gaussian noise added "
                                        "before segmenting, in intensity units (0: none).")
        self.seed = SpinBox(name="seed", label="seed", min=RANDOM_SEED, max=2**31 - 1, value=0,
                            tooltip="Seed of the noise and the initialisation; -1: a new "
                            "random seed at every run.")
        self.uncertainty = ComboBox(name="uncertainty", label="uncertainty map",
                                    choices=(NO_UNCERTAINTY, *UNCERTAINTY_KINDS))
        self.posteriors = CheckBox(name="posteriors", text="add per-class posterior maps")
        self.show_advanced = CheckBox(name="show_advanced", text="show advanced EM options")
        self.run_button = PushButton(name="run_button", text="Segment")
        self.cancel_button = PushButton(name="cancel_button", text="Cancel", enabled=False)
        self.progress = ProgressBar(name="progress", label="progress", min=0, max=100, value=0)
        self.summary = Label(name="summary", label="result", value="")
        # fmt: on
        for widget in self._advanced:
            widget.visible = False
        self.extend([
            self.image, self.channel_axis, *(widget for _, widget in main), self.noise_sigma,
            self.seed, self.uncertainty, self.posteriors, self.show_advanced, *self._advanced,
            self.run_button, self.cancel_button, self.progress, self.summary,
        ])  # fmt: skip

        self.image.changed.connect(self.channel_axis.reset_choices)
        self.show_advanced.changed.connect(self._show_advanced)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.native.destroyed.connect(self._on_destroyed)

    # ----------------------------------------------------------------- choices
    def _image_choices(self, _widget=None) -> list:
        return image_layers(self._viewer)

    def _axis_choices(self, _widget=None) -> list:
        layer = self.image.value if hasattr(self, "image") else None
        if layer is not None and layer.rgb:
            return [("RGB colour channels", -1)]
        choices = [(GRAY, GRAY)]
        if layer is not None and not layer.multiscale and layer.ndim >= 3:
            shape = layer.data.shape
            choices += [(f"axis {i} ({n} channels)", i) for i, n in enumerate(shape)]
        return choices

    def _show_advanced(self, show: bool) -> None:
        for widget in self._advanced:
            widget.visible = bool(show)

    # ------------------------------------------------------------------- state
    @property
    def running(self) -> bool:
        """Whether a segmentation started by :meth:`run` has not finished yet.

        Set by :meth:`run` and cleared in the main thread once the worker has finished
        (after the layers were updated), so scripts can wait for it.
        """
        return self._worker is not None

    def _set_running(self, running: bool) -> None:
        self.run_button.enabled = not running
        self.cancel_button.enabled = running

    # --------------------------------------------------------------------- run
    def run(self, *_):
        """Start segmenting the selected image layer in a worker thread.

        Returns
        -------
        napari.qt.threading.GeneratorWorker or None
            The started worker, or None if nothing was started (a message says why). Wait
            for the result with e.g. ``qtbot.waitUntil(lambda: not widget.running)``; its
            ``yielded`` signal reports ``(fraction, stage)`` progress.
        """
        if self._worker is not None:
            show_info("A GMM segmentation is already running; cancel it or wait for it.")
            return self._worker
        layer = self.image.value
        if layer is None:
            show_info("Add or select an image layer to segment first.")
            return None
        job = self._job_options(layer)
        worker = create_worker(
            segment_job,
            layer_data(layer),  # multiscale: the list of levels
            options=job["segment"],
            noise_sigma=job["noise_sigma"],
            seed=job["seed"],
            uncertainty=job["uncertainty"],
            posteriors=job["posteriors"],
            _ignore_errors=True,
        )
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self._worker, self._job = worker, job
        self._set_running(True)
        self.progress.value = 0
        self.summary.value = f"segmenting {layer.name!r}…"
        worker.start()
        return worker

    def cancel(self, *_) -> None:
        """Ask the running segmentation to stop; it stops at its next progress step.

        No layer is created or changed by a cancelled run.
        """
        if self._worker is not None:
            self._worker.quit()
            self.summary.value = "cancelling…"

    def _job_options(self, layer) -> dict:
        """Everything the job needs, read from the fields and the layer now."""
        if layer.rgb:
            axis = -1
        else:
            axis = self.channel_axis.value
            axis = None if axis in (GRAY, None) or layer.ndim < 3 else int(axis)
        seed = int(self.seed.value)
        if seed == RANDOM_SEED:
            seed = secrets.randbelow(2**31)
        options = {keyword: widget.value for keyword, widget in self._fields}
        scale, translate = spatial_transform(layer, axis)
        uncertainty = self.uncertainty.value
        return {
            "layer": layer,
            "source": layer.name,
            # the prior weighs neighbours by the layer's physical pixel size
            "segment": {**options, "channel_axis": axis, "scale": tuple(map(abs, scale))},
            "noise_sigma": float(self.noise_sigma.value),
            "seed": seed,
            "uncertainty": None if uncertainty == NO_UNCERTAINTY else uncertainty,
            "posteriors": bool(self.posteriors.value),
            "scale": scale,
            "translate": translate,
            "rgb": bool(layer.rgb),
            "contrast_limits": tuple(layer.contrast_limits),
            "colormap": None if layer.rgb else layer.colormap.name,
        }

    # --------------------------------------------------- worker callbacks (main thread)
    def _on_destroyed(self, *_) -> None:
        """The dock (or the viewer) was closed: stop the job, touch no widget any more."""
        self._closed = True
        if self._worker is not None:
            self._worker.quit()

    def _on_yielded(self, step) -> None:
        if self._closed:
            return
        fraction, stage = step
        self.progress.value = round(100 * float(fraction))
        self.summary.value = f"{stage}…"

    def _on_returned(self, result) -> None:
        job = self._job
        if self._closed or (self._worker is not None and self._worker.abort_requested):
            return  # cancelled after the fit ended: keep the viewer as it was
        if result.error is not None:
            self.summary.value = "failed (see message)"
            show_error(f"GMM segmentation of {job['source']!r} failed: {result.error}")
            return
        seg = result.segmentation
        put_outputs(
            self._viewer,
            job["source"],
            job_outputs(job, result),
            scale=job["scale"],
            translate=job["translate"],
            keep=(job["layer"],),
        )
        self.last_segmentation = seg
        self.progress.value = 100
        self.summary.value = fit_summary_text(seg)
        if not seg.converged:
            show_warning(
                f"EM did not converge in {seg.n_iter} iterations on {job['source']!r} "
                "(the result is shown anyway); raise 'max iterations' or 'tolerance' in the "
                "advanced options."
            )
        for message in result.warnings:
            show_warning(message)

    def _on_errored(self, exc: Exception) -> None:
        """An unexpected error (a bug, not bad input): message, and traceback to the log."""
        source = self._job["source"] if self._job else "the image"
        _log.error("GMM segmentation of %r failed", source, exc_info=exc)
        show_error(
            f"GMM segmentation of {source!r} failed unexpectedly: {type(exc).__name__}: {exc}"
        )
        if not self._closed:
            self.summary.value = "failed (see the error message)"

    def _on_aborted(self) -> None:
        if self._closed:
            return
        self.progress.value = 0
        self.summary.value = "cancelled"

    def _on_finished(self) -> None:
        self._worker = None
        self._job = None
        if not self._closed:
            self._set_running(False)


def fit_summary_text(seg: Segmentation) -> str:
    """A few short lines summarising a fit, for the widget's summary label."""
    state = "converged" if seg.converged else "NOT converged"
    return (
        f"K={seg.n_components}, {state} after {seg.n_iter} iterations\n"
        f"BIC {seg.bic:.6g}, log-likelihood {seg.log_likelihood:.4g}/pixel\n"
        f"{seg.method}"
        + (f", smoothing {seg.smoothing:g}" if seg.smoothing else "")
        + f", {seg.elapsed:.2f} s"
    )
