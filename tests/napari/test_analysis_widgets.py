"""The Noise study and Model diagnostics dock widgets in a real napari viewer (under Xvfb)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from napari_gmm._napari._diagnostics_widget import ModelDiagnosticsWidget
from napari_gmm._napari._study_widget import COLUMNS, NoiseStudyWidget, parse_sigmas
from napari_gmm.core.analysis._synthetic import make_class_image

TIMEOUT_MS = 30_000


def run_and_wait(qtbot, widget):
    worker = widget.run()
    assert worker is not None
    assert not widget.run_button.enabled
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    assert widget.run_button.enabled
    return worker


@pytest.fixture
def image_truth():
    return make_class_image((64, 64), 3, sigma=8, seed=3)


def test_parse_sigmas():
    assert parse_sigmas("0, 10, 20, 40") == [0, 10, 20, 40]
    assert parse_sigmas("0:60:10") == [0, 10, 20, 30, 40, 50, 60]
    assert parse_sigmas("0:25:10") == [0, 10, 20]
    assert parse_sigmas(" 0.1:0.3:0.1 ") == pytest.approx([0.1, 0.2, 0.3])
    for bad in ("", "a, b", "0:10", "0:10:0", "10:0:1", "-5"):
        with pytest.raises(ValueError):
            parse_sigmas(bad)


def test_noise_study_plot_table_csv(make_napari_viewer, qtbot, image_truth, tmp_path):
    viewer = make_napari_viewer()
    widget = NoiseStudyWidget(viewer)
    viewer.window.add_dock_widget(widget)
    image, truth = image_truth
    viewer.add_image(image, name="img")
    viewer.add_labels(truth, name="truth")
    assert widget.ground_truth.choices[0] is None  # 'none' first
    widget.ground_truth.value = viewer.layers["truth"]
    widget.sigmas.value = "0, 20, 40"
    widget.smoothing.value = True
    n_layers = len(viewer.layers)

    run_and_wait(qtbot, widget)
    assert set(widget.records) == {0.0, 1.0}
    ax = widget.figure.axes[0]
    assert len(ax.lines) == 4  # ARI and Dice, with and without smoothing
    assert all(len(line.get_xdata()) == 3 for line in ax.lines)
    reliability = widget.figure.axes[1]  # the diagonal, then one curve per condition
    assert [line.get_label()[:5] for line in reliability.lines] == ["calib", "no sm", "smoot"]
    assert widget.table.shape == (6, len(COLUMNS))
    rows = widget.rows()
    assert [r[0] for r in rows] == [0.0] * 3 + [1.0] * 3
    assert rows[0][5] == "reference" and rows[0][2] > 0.95  # ARI at sigma 0
    assert rows[5][2] > rows[2][2]  # smoothing helps at the highest noise
    assert len(viewer.layers) == n_layers  # the study adds no layer

    path = tmp_path / "study.csv"
    widget.csv_path.value = path
    widget.save_button.clicked.emit()
    with open(path, newline="") as file:
        table = list(csv.reader(file))
    assert tuple(table[0]) == COLUMNS and len(table) == 7
    assert float(table[2][1]) == 20.0


def test_noise_study_clean_reference_rgb(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = NoiseStudyWidget(viewer)
    viewer.window.add_dock_widget(widget)
    image, _ = make_class_image((40, 40), 2, sigma=5, seed=0, n_channels=3)
    viewer.add_image(image, name="rgb", rgb=True)
    widget.n_components.value = 2
    widget.sigmas.value = "0:20:10"
    run_and_wait(qtbot, widget)
    rows = widget.rows()
    assert len(rows) == 3 and {r[5] for r in rows} == {"clean segmentation"}
    assert rows[0][2] == pytest.approx(1.0)


def test_noise_study_cancel(make_napari_viewer, qtbot, image_truth):
    viewer = make_napari_viewer()
    widget = NoiseStudyWidget(viewer)
    viewer.window.add_dock_widget(widget)
    viewer.add_image(np.tile(image_truth[0], (4, 4)), name="img")
    widget.sigmas.value = "0:200:5"
    widget.smoothing.value = True
    worker = widget.run()
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    assert worker.abort_requested
    assert widget.records == {} and widget.table.shape[0] == 0
    assert widget.figure.axes == []
    assert widget.summary.value == "cancelled" and widget.run_button.enabled


def test_diagnostics_plots_and_actions(make_napari_viewer, qtbot, image_truth):
    viewer = make_napari_viewer()
    widget = ModelDiagnosticsWidget(viewer)
    viewer.window.add_dock_widget(widget)
    image, _ = image_truth
    viewer.add_image(image, name="img", scale=(2.0, 2.0))
    widget.k_min.value, widget.k_max.value = 1, 5
    widget.covariance_type.value = "diag"
    run_and_wait(qtbot, widget)

    fit = widget.last_fit
    assert fit.selection.best == 3 and fit.segmentation.n_components == 3
    (criteria,) = widget.canvases["criteria"].figure.axes
    trace, _twin = widget.canvases["convergence"].figure.axes
    (components,) = widget.canvases["components"].figure.axes
    assert len(criteria.lines[0].get_xdata()) == 5
    assert list(criteria.lines[-1].get_xdata()) == [3, 3]
    assert len(trace.lines[0].get_xdata()) == fit.segmentation.n_iter
    assert len(components.lines) == 4  # 3 classes + mixture
    assert widget.summary.value.startswith("K=3 by ICL (diag): converged")  # the default

    kmeans = widget.compare_kmeans()
    assert kmeans.name == "img kmeans" and kmeans.data.shape == image.shape
    assert set(np.unique(kmeans.data)) == {1, 2, 3}
    assert widget.kmeans_ari > 0.8 and "ARI" in widget.summary.value
    assert tuple(kmeans.scale) == (2.0, 2.0)

    outliers = widget.outlier_map()
    assert outliers.name == "img log-density" and outliers.colormap.name == "inferno"
    assert outliers.data.shape == image.shape and np.isfinite(outliers.data).all()

    assert widget.preview(4) is None  # live preview is off
    widget.live_preview.value = True  # previews with K to
    widget.k_max.value = 4
    preview = viewer.layers["img preview"]
    assert preview.metadata["napari-gmm"]["n_components"] == 4
    assert set(np.unique(preview.data)) == {1, 2, 3, 4}
    big = viewer.add_image(np.tile(image, (3, 9, 9)), name="big")  # (3, 576, 576)
    widget.image.value = big
    widget.k_min.value = 2
    layer = viewer.layers["big preview"]
    assert layer.data.shape == (288, 288) and tuple(layer.scale) == (2.0, 2.0)
    # each action only touched its own layer
    assert {"img kmeans", "img log-density", "img preview"} <= {x.name for x in viewer.layers}


def test_diagnostics_cancel(make_napari_viewer, qtbot, image_truth):
    viewer = make_napari_viewer()
    widget = ModelDiagnosticsWidget(viewer)
    viewer.window.add_dock_widget(widget)
    viewer.add_image(np.tile(image_truth[0], (4, 4)).astype(float), name="img")
    widget.k_max.value = 12
    n_layers = len(viewer.layers)
    widget.run()
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    assert widget.last_fit is None
    assert all(canvas.figure.axes == [] for canvas in widget.canvases.values())
    assert widget.summary.value == "cancelled" and len(viewer.layers) == n_layers
    assert widget.compare_kmeans() is None


@pytest.mark.parametrize(
    ("display_name", "cls"),
    [("Noise study", "NoiseStudyWidget"), ("Model diagnostics", "ModelDiagnosticsWidget")],
)
def test_open_by_manifest_name(make_napari_viewer, display_name, cls):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-gmm", display_name)
    assert type(widget).__name__ == cls
