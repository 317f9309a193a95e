"""Dock fixes of issue 20 (item 21, and the legend of item 8) with a real viewer."""

from __future__ import annotations

import numpy as np
import pytest
from napari_support import run_and_wait

from napari_gmm.core import make_class_image

PLUGIN, WIDGET = "napari-gmm", "GMM Segmentation"


@pytest.fixture
def seg(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1200, 800)
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    return viewer, dock, widget


def _image(k=2, seed=0):
    image, _ = make_class_image((64, 64), k, gap=80, base=60, sigma=6, dtype="float32",
                                seed=seed)
    return image


def _right_edge_in(widget, ancestor) -> int:
    return widget.mapTo(ancestor, widget.rect().topRight()).x()


def test_long_summary_wraps_inside_the_dock(seg, qtbot):
    viewer, dock, widget = seg
    viewer.add_image(_image(), name="img")
    qtbot.wait(50)
    width = dock.width()
    long_token = "bias field " + "0.5234–4.1725" * 12
    widget.status.success("K=3, converged after 12 iterations\n" + long_token + ", 1.2 s")
    widget.legend.value = "class 1: mean " + "1234567890" * 20
    widget.legend.visible = True
    qtbot.wait(100)
    assert dock.width() == width
    assert widget.native.minimumSizeHint().width() <= width
    for part in (widget.cancel_button.native, widget.image.native):
        assert _right_edge_in(part, dock) <= dock.width()


def test_auto_k_box_shows_the_chosen_k(seg, qtbot):
    viewer, _, widget = seg
    viewer.add_image(_image(k=2), name="img")
    widget.n_components.value = 5
    widget.auto_k.value = True
    run_and_wait(qtbot, widget)
    chosen = widget.last_segmentation.n_components
    assert widget.n_components.value == chosen != 5
    assert not widget.n_components.enabled and widget.auto_k.value


def test_transparent_background_class(seg, qtbot):
    viewer, _, widget = seg
    viewer.add_image(_image(k=3, seed=1), name="img")
    widget.n_components.value = 3
    run_and_wait(qtbot, widget)
    labels = viewer.layers["img labels"]
    before = [np.asarray(labels.get_color(k)) for k in (1, 2, 3)]
    assert before[0][3] > 0
    widget.transparent_background.value = True
    assert labels.get_color(1)[3] == 0
    assert "transparent" in widget.legend.rows[0][2]
    assert "transparent" not in widget.legend.rows[1][2]
    for k in (2, 3):
        np.testing.assert_allclose(labels.get_color(k), before[k - 1])
    run_and_wait(qtbot, widget)  # stays transparent on a rerun
    assert viewer.layers["img labels"].get_color(1)[3] == 0
    widget.transparent_background.value = False
    np.testing.assert_allclose(viewer.layers["img labels"].get_color(1), before[0])


def test_legend_marks_an_empty_class(seg):
    viewer, _, widget = seg
    layer = viewer.add_labels(np.array([[1, 1, 3], [3, 3, 1]], dtype=np.uint8))
    widget.legend.show_classes(layer, [10.0, 20.0, 30.0])
    texts = {k: text for k, _, text in widget.legend.rows}
    assert "EMPTY" in texts[2]
    assert "EMPTY" not in texts[1] and "EMPTY" not in texts[3]


def test_three_docks_at_1080_keep_the_noise_plot(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1920, 1040)  # a 1920x1080 screen less a task bar
    viewer.add_image(_image(), name="img")
    docks = {}
    for name in ("GMM Segmentation", "Noise study", "Model diagnostics"):
        docks[name] = viewer.window.add_plugin_dock_widget(PLUGIN, name, tabify=False)
    qtbot.wait(200)
    _, study = docks["Noise study"]
    assert study.canvas.height() >= study.canvas.minimumHeight() > 0
