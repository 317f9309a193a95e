"""The *Noise study* dock widget: segmentation quality against added Gaussian noise.

Also holds :class:`AnalysisWidget`, the worker and plot plumbing shared with the *Model
diagnostics* widget. Layers are read when a run starts and only touched in the main thread.
"""

from __future__ import annotations

import csv
import logging
import math
import threading
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    Label,
    LineEdit,
    ProgressBar,
    PushButton,
    SpinBox,
    Table,
)
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info

from ..core._segment import segment
from ..core._sweep import noise_sweep
from ._layers import image_layers, spatial_transform
from ._plots import plot_noise_sweep
from ._worker import USER_ERRORS, JobError

if TYPE_CHECKING:
    import napari

_log = logging.getLogger(__name__)

#: Choice of the ground-truth field meaning "compare with the clean segmentation".
NO_TRUTH = "none"
#: Smoothing strength of the "compare with smoothing" condition.
SMOOTHING = 1.0
#: Columns of the results table and of the CSV file (record keys).
COLUMNS = ("smoothing", "sigma", "ari", "dice", "accuracy", "against", "converged", "n_iter",
           "log_likelihood", "seconds")  # fmt: skip


class Cancelled(Exception):
    """Raised by a progress callback to stop a computation that was cancelled."""


def parse_sigmas(text: str) -> list[float]:
    """Noise levels from a list ``"0, 10, 20"`` or a range ``"start:stop:step"``.

    The stop of a range is included when the steps land on it exactly.

    >>> parse_sigmas("0:60:20"), parse_sigmas("5, 7.5 10")
    ([0.0, 20.0, 40.0, 60.0], [5.0, 7.5, 10.0])
    """
    text = text.strip()
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if step <= 0 or stop < start:
                raise ValueError
            count = math.floor((stop - start) / step + 1e-9) + 1
            values = [start + i * step for i in range(count)]
        else:
            values = [float(p) for p in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(
            f"Cannot read the noise levels {text!r}: give a list such as '0, 10, 20' or a "
            "range start:stop:step such as '0:60:10' (step > 0, stop >= start)."
        ) from None
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        raise ValueError(f"The noise levels {text!r} must be finite and >= 0 (at least one).")
    return values


def noise_study_job(image, sigmas, *, n_components, seed, reference, conditions, **options):
    """Generator: :func:`napari_gmm.noise_sweep` one noise level at a time, per condition.

    Gives the records of ``noise_sweep(image, sigmas, seed=seed, smoothing=s, ...)`` for each
    smoothing `s` in `conditions` (the same noise draws for every condition), yielding
    ``(done, total)`` after each level so that the worker can report progress and stop.

    Returns
    -------
    dict
        ``{"records": {smoothing: list of dict}}``, or ``{"error": message}`` for bad input.
    """
    total, done = len(sigmas) * len(conditions), 0
    results = {}
    try:
        for smoothing in conditions:
            kwargs = {**options, "random_state": seed, "smoothing": smoothing}
            ref, against = reference, "reference"
            if ref is None:
                ref = segment(image, n_components, **kwargs).labels
                against = "clean segmentation"
                yield done, total
            rng = np.random.default_rng(seed)  # noise drawn in order of sigmas, as noise_sweep
            records = []
            for sigma in sigmas:
                (record,) = noise_sweep(image, [sigma], n_components=n_components, seed=rng,
                                        reference=ref, **kwargs)  # fmt: skip
                records.append({**record, "against": against, "smoothing": smoothing})
                done += 1
                yield done, total
            results[smoothing] = records
    except USER_ERRORS as err:
        return {"error": str(err) or type(err).__name__}
    except RuntimeError as err:
        raise JobError(f"{type(err).__name__}: {err}") from err
    return {"records": results}


class AnalysisWidget(Container):
    """Base of the analysis dock widgets: an image choice, one worker at a time, figures."""

    title = "analysis"

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        self._viewer = viewer
        self._worker = None
        self._cancel = threading.Event()
        self._closed = False
        self.image = ComboBox(name="image", label="image", choices=self._image_choices)
        self.run_button = PushButton(name="run_button", text="Run")
        self.cancel_button = PushButton(name="cancel_button", text="Cancel", enabled=False)
        self.progress = ProgressBar(name="progress", label="progress", min=0, max=100, value=0)
        self.summary = Label(name="summary", label="result", value="")
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.native.destroyed.connect(self._on_destroyed)

    def _image_choices(self, _widget=None) -> list:
        return image_layers(self._viewer)

    def _add_canvas(self, figure: Figure, before, min_height: int) -> FigureCanvasQTAgg:
        """Embed a matplotlib figure in the widget, before the magicgui widget `before`."""
        canvas = FigureCanvasQTAgg(figure)
        canvas.setMinimumHeight(min_height)
        self.native.layout().insertWidget(self.index(before), canvas)
        return canvas

    def _check_image(self):
        """The chosen image layer, or None (with a message) if it cannot be analysed."""
        layer = self.image.value
        if layer is None:
            show_info("Add or select an image layer first.")
        elif layer.multiscale:
            show_error(f"Layer {layer.name!r} is multiscale; choose a single-scale image.")
            layer = None
        return layer

    @property
    def running(self) -> bool:
        """Whether a run started by ``run()`` has not finished yet (cleared in main thread)."""
        return self._worker is not None

    def _start(self, job, *args, **kwargs):
        """Start `job` in a worker thread, wired to the progress bar and the callbacks."""
        self._cancel.clear()
        worker = create_worker(job, *args, _ignore_errors=True, **kwargs)
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_done)
        worker.errored.connect(self._on_errored)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.progress.value = 0
        worker.start()
        return worker

    def cancel(self, *_) -> None:
        """Stop the running job at its next step; no result or layer is kept from it."""
        if self._worker is not None:
            self._cancel.set()
            self._worker.quit()
            self.summary.value = "cancelling…"

    def _stale(self) -> bool:
        return self._closed or self._worker is None or self._worker.abort_requested

    def _on_destroyed(self, *_) -> None:
        """The dock (or the viewer) was closed: stop the job, touch no widget any more."""
        self._closed = True
        if self._worker is not None:
            self._cancel.set()
            self._worker.quit()

    def _on_yielded(self, step) -> None:
        if not self._closed:
            done, total = step
            self.progress.value = round(100 * done / max(total, 1))

    def _on_done(self, result) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _on_errored(self, exc: Exception) -> None:
        _log.error("%s failed", self.title, exc_info=exc)
        show_error(f"The {self.title} failed unexpectedly: {type(exc).__name__}: {exc}")
        if not self._closed:
            self.summary.value = "failed (see the error message)"

    def _on_aborted(self) -> None:
        if not self._closed:
            self.progress.value = 0
            self.summary.value = "cancelled"

    def _on_finished(self) -> None:
        self._worker = None
        if not self._closed:
            self.run_button.enabled, self.cancel_button.enabled = True, False
            if self._cancel.is_set():  # also when the job stopped itself on cancellation
                self._on_aborted()


class NoiseStudyWidget(AnalysisWidget):
    """Dock widget measuring how segmentation quality falls as Gaussian noise is added.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer (given by napari).

    Attributes
    ----------
    image, n_components, sigmas, smoothing, seed, ground_truth : widgets
        The input image layer; the number of classes; the noise levels (list ``"0, 10"`` or
        range ``"0:60:10"``); also run with ``smoothing=1.0``; the seed of noise and fits;
        a Labels layer of ground truth or ``"none"`` (quality against the clean image's
        segmentation).
    run_button, cancel_button, progress, summary : widgets
        Start (:meth:`run`), stop (:meth:`cancel`), progress over levels x conditions, state.
    canvas : FigureCanvasQTAgg
        ARI and Dice against sigma, one pair of lines per condition.
    table : Table
        One row per record (columns :data:`COLUMNS`).
    csv_path, save_button : FileEdit, PushButton
        Where and how to save the table (:meth:`to_csv`).
    records : dict of float -> list of dict
        Records of the last run by smoothing strength (0.0 and possibly 1.0).
    """

    title = "noise study"

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(viewer)
        self.records: dict[float, list[dict]] = {}
        # fmt: off
        self.n_components = SpinBox(name="n_components", label="classes (K)", min=1, max=20,
                                    value=3)
        self.sigmas = LineEdit(name="sigmas", label="noise σ values", value="0:60:10",
                               tooltip="A list '0, 10, 20, 40' or a range start:stop:step.")
        self.smoothing = CheckBox(name="smoothing", text="compare with smoothing (1.0)")
        self.seed = SpinBox(name="seed", label="seed", min=0, max=2**31 - 1, value=0)
        self.ground_truth = ComboBox(name="ground_truth", label="ground truth",
                                     choices=self._truth_choices, tooltip="Labels layer of "
                                     "the true classes; 'none': the clean segmentation.")
        self.table = Table(name="table", label="records")
        self.csv_path = FileEdit(name="csv_path", label="CSV file", mode="w", filter="*.csv")
        self.save_button = PushButton(name="save_button", text="Save CSV")
        # fmt: on
        self.run_button.text = "Run noise study"
        self.extend([self.image, self.n_components, self.sigmas, self.smoothing, self.seed,
                     self.ground_truth, self.run_button, self.cancel_button, self.progress,
                     self.summary, self.table, self.csv_path, self.save_button])  # fmt: skip
        self.figure = Figure(figsize=(5, 3.4), layout="constrained")
        self.canvas = self._add_canvas(self.figure, self.table, 300)
        self.table.native.setMinimumHeight(160)
        self.save_button.changed.connect(self._save_clicked)

    def _truth_choices(self, _widget=None) -> list:
        from napari.layers import Labels

        labels = [
            (layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Labels)
        ]
        return [(NO_TRUTH, None), *labels]

    def run(self, *_):
        """Start the noise study in a worker thread.

        Returns
        -------
        napari.qt.threading.GeneratorWorker or None
            The worker, or None when nothing was started (a message says why).
        """
        if self._worker is not None:
            return self._worker
        layer = self._check_image()
        if layer is None:
            return None
        try:
            sigmas = parse_sigmas(self.sigmas.value)
        except ValueError as err:
            show_error(str(err))
            return None
        axis = -1 if layer.rgb else None
        data = np.asarray(layer.data)
        spatial = data.shape[:-1] if layer.rgb else data.shape
        truth = self.ground_truth.value
        reference = None
        if truth is not None:
            reference = np.asarray(truth.data[0] if truth.multiscale else truth.data)
            if reference.shape != spatial:
                show_error(f"Ground truth {truth.name!r} has shape {reference.shape}, the "
                           f"image {spatial}; they must match.")  # fmt: skip
                return None
        scale, _ = spatial_transform(layer, axis)
        conditions = (0.0, SMOOTHING) if self.smoothing.value else (0.0,)
        self.summary.value = f"noise study of {layer.name!r}…"
        return self._start(noise_study_job, data, sigmas, n_components=self.n_components.value,
                           seed=int(self.seed.value), reference=reference,
                           conditions=conditions, channel_axis=axis, scale=scale)  # fmt: skip

    def _on_done(self, result) -> None:
        if self._stale() or result is None:
            return
        if "error" in result:
            self.summary.value = "failed (see message)"
            show_error(f"Noise study failed: {result['error']}")
            return
        self.records = result["records"]
        self.progress.value = 100
        rows = self.rows()
        self.table.value = {"data": [list(r) for r in rows], "columns": list(COLUMNS),
                            "index": list(range(1, len(rows) + 1))}  # fmt: skip
        self.figure.clear()
        plain = self.records.get(0.0, [])
        plot_noise_sweep(plain, self.records.get(SMOOTHING), ax=self.figure.add_subplot())
        self.canvas.draw_idle()
        worst = min(rows, key=lambda r: r[2])
        self.summary.value = (f"{len(rows)} fits against {plain[0]['against']}; lowest ARI "
                              f"{worst[2]:.3f} at σ={worst[1]:g}")  # fmt: skip

    def rows(self) -> list[tuple]:
        """The records of the last run as table rows (columns :data:`COLUMNS`)."""
        out = []
        for records in self.records.values():
            for r in records:
                row = [r[key] for key in COLUMNS]
                out.append(tuple(round(v, 6) if isinstance(v, float) else v for v in row))
        return out

    def to_csv(self, path) -> None:
        """Write the records of the last run to a CSV file (header :data:`COLUMNS`)."""
        with open(path, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(COLUMNS)
            writer.writerows(self.rows())

    def _save_clicked(self, *_) -> None:
        path = self.csv_path.value
        if not self.records:
            show_info("Run the noise study first.")
        elif path is None or str(path) in ("", ".") or path.is_dir():
            show_info("Choose a CSV file to write first.")
        else:
            self.to_csv(path)
            show_info(f"Saved {len(self.rows())} records to {path}.")
