"""The *Noise study* dock widget: segmentation quality against added Gaussian noise."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    LineEdit,
    PushButton,
    SpinBox,
    Table,
)
from napari.utils.notifications import show_info

from ._base import DockWidget
from ._job import Job
from ._layers import spatial_transform
from ._parts import Tabs, form, row
from ._plot_canvas import PlotCanvas
from ._plots import plot_noise_sweep
from ._reliability_plot import plot_reliability
from ._study_job import (
    CONFIRM_FITS,
    SMOOTHING,
    count_fits,
    noise_study_job,
    parse_sigmas,
)

if TYPE_CHECKING:
    import napari

#: Choice of the ground-truth field meaning "compare with the clean segmentation".
NO_TRUTH = "none"
#: Columns of the results table and of the CSV file (record keys).
COLUMNS = ("smoothing", "sigma", "ari", "dice", "accuracy", "against", "converged", "n_iter",
           "log_likelihood", "seconds")


class NoiseStudyWidget(DockWidget):
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
    canvas : PlotCanvas
        ARI and Dice against sigma, one pair of lines per condition, and the reliability
        diagram (fraction correct against probability) of each condition (tab *plot*).
    table : Table
        One row per record (columns :data:`COLUMNS`; tab *table*).
    csv_path, save_button : FileEdit, PushButton
        Where and how to save the table (:meth:`to_csv`).
    records : dict of float -> list of dict
        Records of the last run by smoothing strength (0.0 and possibly 1.0).
    """

    title = "noise study"

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(viewer, run_text="Run noise study")
        self.records: dict[float, list[dict]] = {}
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
        self.canvas = PlotCanvas(viewer, min_height=160)
        self.figure = self.canvas.figure
        self.table.native.setMinimumHeight(120)
        table = Container(widgets=[self.table, row(self.csv_path, self.save_button)],
                          labels=False)
        self.sections = Tabs([("plot", self.canvas), ("table", table)], name="sections")
        self.body.extend([form(self.image, row(self.n_components, self.seed, label="K, seed"),
                          self.sigmas, self.ground_truth), self.smoothing, self.buttons,
                     self.status, self.sections])
        self.save_button.changed.connect(self._save_clicked)
        self._fit_width()

    def _truth_choices(self, _widget=None) -> list:
        from napari.layers import Labels

        labels = [
            (layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Labels)
        ]
        return [(NO_TRUTH, None), *labels]

    def run(self, *_):
        """Start the noise study in a worker thread.

        Asks first (:meth:`confirm`) when it would take more than :data:`CONFIRM_FITS` fits.

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
            self._fail(str(err))
            return None
        axis = -1 if layer.rgb else None
        data = np.asarray(layer.data)
        spatial = data.shape[:-1] if layer.rgb else data.shape
        truth = self.ground_truth.value
        reference = None
        if truth is not None:
            reference = np.asarray(truth.data[0] if truth.multiscale else truth.data)
            if reference.shape != spatial:
                self._fail(f"Ground truth {truth.name!r} has shape {reference.shape}, the "
                           f"image {spatial}; they must match.")
                return None
        conditions = (0.0, SMOOTHING) if self.smoothing.value else (0.0,)
        fits = count_fits(len(sigmas), len(conditions), reference is not None)
        if fits > CONFIRM_FITS and not self.confirm(
            f"This noise study runs {fits} fits of {data.size:,} values each "
            f"({len(sigmas)} noise levels x {len(conditions)} condition(s)); it may take a "
            "long time. Start it anyway?"
        ):
            self.status.text.value = f"not started ({fits} fits); use fewer noise levels"
            return None
        scale, _ = spatial_transform(layer, axis)
        job = Job(source=layer.name, layer=layer, data_ref=layer.data,
                  busy=f"noise study of {layer.name!r} ({fits} fits)…")
        return self._start(job, noise_study_job, data, sigmas,
                           n_components=self.n_components.value, seed=int(self.seed.value),
                           reference=reference, conditions=conditions, channel_axis=axis,
                           scale=scale)

    def _on_done(self, result) -> None:
        self.records = result["records"]
        rows = self.rows()
        self.table.value = {"data": [list(r) for r in rows], "columns": list(COLUMNS),
                            "index": list(range(1, len(rows) + 1))}
        self.figure.clear()
        plain = self.records.get(0.0, [])
        smooth = self.records.get(SMOOTHING)
        plot_noise_sweep(plain, smooth, ax=self.figure.add_subplot(1, 2, 1))
        plot_reliability(plain, smooth, ax=self.figure.add_subplot(1, 2, 2))
        self.canvas.redraw()
        worst = min(rows, key=lambda r: r[2])
        self.status.success(f"{len(rows)} fits against {plain[0]['against']}; lowest ARI "
                            f"{worst[2]:.3f} at σ={worst[1]:g}")

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
