"""The *scribbles* tab of the GMM Segmentation dock, in a real napari viewer (under Xvfb)."""

from __future__ import annotations

import numpy as np
from napari.layers import Labels
from napari_support import TIMEOUT_MS, run_and_wait

import napari_gmm as ng
from napari_gmm._napari._scribbles_section import DEBOUNCE_MS


def _scene(seed=0):
    rng = np.random.default_rng(seed)
    truth = np.ones((64, 80), np.uint8)
    truth[:, 26:52], truth[:, 52:] = 2, 3
    clean = np.choose(truth - 1, [50.0, 200.0, 120.0])
    return np.clip(clean + rng.normal(0, 15, truth.shape), 0, 255).astype(np.uint8), truth


def _paint_strokes(layer):
    """Paint three short strokes with the layer's own brush (as a user's clicks do)."""
    layer.brush_size = 3
    for label, x in ((1, 10), (2, 38), (3, 66)):
        for y in range(20, 30, 2):
            layer.paint((y, x), label)


def test_new_scribbles_layer_paint_and_segment(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, truth = _scene()
    layer = viewer.add_image(image, name="stripes", scale=(0.5, 2.0), translate=(1, -3))
    widget.image.value = layer
    section = widget.scribbles_section
    scribbles = section.add_layer()
    assert isinstance(scribbles, Labels) and scribbles.data.shape == image.shape
    np.testing.assert_allclose(scribbles.scale, (0.5, 2.0))
    np.testing.assert_allclose(scribbles.translate, (1, -3))
    assert section.layer.value == scribbles.name and not scribbles.data.any()
    _paint_strokes(scribbles)
    assert set(np.unique(scribbles.data)) == {0, 1, 2, 3}
    painted = np.array(scribbles.data)
    section.names.value = "dark, bright, mid"
    run_and_wait(qtbot, widget)

    labels = viewer.layers["stripes labels"]
    expected = ng.segment(image, scribbles=np.asarray(scribbles.data), random_state=0,
                          class_names=["dark", "bright", "mid"],
                          scale=(0.5, 2.0))
    np.testing.assert_array_equal(labels.data, expected.labels)
    assert (labels.data == truth).mean() > 0.95  # ids follow the strokes, not intensity
    assert list(labels.features["class_name"]) == ["dark", "bright", "mid"]
    assert "bright" in widget.legend.value
    assert np.array_equal(scribbles.data, painted)  # the strokes stay as painted


def test_live_mode_resegments_when_painting_pauses(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, truth = _scene(1)
    widget.image.value = viewer.add_image(image, name="stripes")
    section = widget.scribbles_section
    scribbles = section.add_layer()
    section.live.value = True
    runs = []
    original = widget.run
    widget.run = lambda *a, **k: runs.append(1) or original(*a, **k)
    _paint_strokes(scribbles)  # many strokes in a row: one run after the pause
    assert runs == []  # not while painting
    qtbot.waitUntil(lambda: len(runs) == 1, timeout=DEBOUNCE_MS * 10)
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(DEBOUNCE_MS * 2)
    assert len(runs) == 1
    assert (viewer.layers["stripes labels"].data == truth).mean() > 0.95


def test_scribbles_of_another_shape_are_refused(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, _ = _scene()
    widget.image.value = viewer.add_image(image, name="stripes")
    other = viewer.add_labels(np.ones((10, 10), np.uint8), name="wrong")
    widget.scribbles_section.layer.value = other.name
    assert widget.run() is None
    assert "new scribbles layer" in widget.status.summary.value
    assert "stripes labels" not in viewer.layers
