"""Dock ergonomics in a real viewer: screen fit, inputs, axis names, legend, theme (Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex
from napari_support import run_and_wait

from napari_gmm._napari._diagnostics_widget import ModelDiagnosticsWidget
from napari_gmm._napari._segment_fields import core_has_time_axis
from napari_gmm._napari._study_widget import NoiseStudyWidget
from napari_gmm.core.analysis._synthetic import make_class_image

PLUGIN = "napari-gmm"
DOCKS = ("GMM Segmentation", "Noise study", "Model diagnostics")
TIMEOUT_MS = 30_000



@pytest.fixture
def image():
    return make_class_image((48, 64), 3, sigma=10, seed=2)[0]


def test_three_docks_fit_a_1080_screen(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    docks = [viewer.window.add_plugin_dock_widget(PLUGIN, name, tabify=False)[0] for name in DOCKS]
    for dock in docks:
        assert dock.minimumSizeHint().height() <= 300, dock.name
    window = viewer.window._qt_window
    # menu, status bar and the three docks' title bars included
    assert window.minimumSizeHint().height() < 1000
    window.resize(1920, 1040)
    assert window.height() <= 1040


def test_own_outputs_are_not_offered_as_inputs(make_napari_viewer, qtbot, image):
    viewer = make_napari_viewer()
    _, seg = viewer.window.add_plugin_dock_widget(PLUGIN, "GMM Segmentation")
    study, diagnostics = NoiseStudyWidget(viewer), ModelDiagnosticsWidget(viewer)
    layer = viewer.add_image(image, name="img")
    seg.image.value = layer
    seg.noise_sigma.value = 2.0
    seg.uncertainty.value = "entropy"
    run_and_wait(qtbot, seg)
    own = {"img labels", "img probability", "img noisy", "img uncertainty"}
    assert own <= {x.name for x in viewer.layers}
    for widget in (seg, study, diagnostics):
        widget.reset_choices()
        assert widget.image.choices == (layer,)
    viewer.layers.remove(layer)  # the choice never falls back to an output
    assert seg.image.value is None and seg.image.choices == ()


def test_axes_are_named_by_their_labels(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "GMM Segmentation")
    series = viewer.add_image(np.zeros((5, 16, 16)), name="movie", axis_labels=("t", "y", "x"))
    widget.image.value = series
    combo = widget.channel_axis.native
    names = [combo.itemText(i) for i in range(combo.count())]
    assert "t (axis 0, 5)" in names[1] and not any("channel" in n for n in names[1:])
    assert widget.channel_axis.value == "none"
    if core_has_time_axis():
        assert widget.time_axis.value == 0
        assert widget.input.frames.native.isVisibleTo(widget.input.native)
    stack = viewer.add_image(np.zeros((2, 16, 16)), name="stack", axis_labels=("c", "y", "x"))
    widget.image.value = stack
    assert widget.channel_axis.value == 0 and widget.time_axis.value == "none"
    assert not widget.input.frames.native.isVisibleTo(widget.input.native)
    plain = viewer.add_image(np.zeros((3, 16, 16)), name="volume")
    widget.image.value = plain
    assert widget.channel_axis.value == "none" and widget.time_axis.value == "none"
    assert widget.channel_axis.choices[1:] == (0, 1, 2)


def test_class_legend(make_napari_viewer, qtbot, image):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "GMM Segmentation")
    widget.image.value = viewer.add_image(image, name="img")
    assert widget.legend.native.isHidden()
    run_and_wait(qtbot, widget)
    labels = viewer.layers["img labels"]
    assert not widget.legend.native.isHidden() and len(widget.legend.rows) == 3
    for k, colour, mean in widget.legend.rows:
        assert colour == to_hex(labels.get_color(k), keep_alpha=False)
        assert float(mean) == pytest.approx(image[labels.data == k].mean(), rel=1e-3)
    means = [float(mean) for _, _, mean in widget.legend.rows]
    assert means == sorted(means)  # label 1 the darkest class
    assert "background:" + widget.legend.rows[0][1] in widget.legend.value


def test_failure_marks_the_result_stale(make_napari_viewer, qtbot, image):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "GMM Segmentation")
    widget.image.value = viewer.add_image(image, name="img")
    run_and_wait(qtbot, widget)
    labels = viewer.layers["img labels"]
    before, text = labels.data, widget.summary.value
    widget.n_components.value = 20
    widget.image.value = viewer.add_image(np.array([[0, 9], [9, 0]], np.uint8), name="flat")
    run_and_wait(qtbot, widget)
    assert widget.summary.value.startswith("⚠") and "flat" in widget.summary.value
    assert f"previous result, still shown: {text}" in widget.summary.value
    assert viewer.layers["img labels"].data is before
    assert "flat labels" not in viewer.layers


def test_plots_fill_the_dock_in_the_theme_colours(make_napari_viewer, qtbot, image):
    from napari.utils.theme import get_theme
    from qtpy.QtWidgets import QSizePolicy

    viewer = make_napari_viewer()
    widget = ModelDiagnosticsWidget(viewer)
    viewer.window.add_dock_widget(widget)
    viewer.add_image(image, name="img")
    widget.k_max.value = 3
    run_and_wait(qtbot, widget)
    canvas = widget.canvases["criteria"]
    policy = canvas.sizePolicy()
    assert policy.verticalPolicy() == QSizePolicy.Policy.Expanding
    assert policy.horizontalPolicy() == QSizePolicy.Policy.Expanding
    for theme in ("dark", "light"):
        viewer.theme = theme
        colours = get_theme(theme)
        ax = canvas.figure.axes[0]
        assert to_hex(canvas.figure.get_facecolor()) == colours.background.as_hex()
        assert to_hex(ax.get_facecolor()) == colours.foreground.as_hex()
        assert to_hex(ax.xaxis.label.get_color()) == colours.text.as_hex()
