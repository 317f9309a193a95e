"""Runs that meet a changing viewer: removed or replaced inputs, closed docks, long requests."""

from __future__ import annotations

import numpy as np
import pytest
from napari.utils.notifications import NotificationSeverity, notification_manager

from napari_gmm._napari._study_widget import NoiseStudyWidget
from napari_gmm.core.analysis._synthetic import make_class_image

PLUGIN = "napari-gmm"
TIMEOUT_MS = 30_000


@pytest.fixture
def notifications():
    start = len(notification_manager.records)

    def recorded(severity=None):
        new = notification_manager.records[start:]
        return [n.message for n in new if severity is None or n.severity == severity]

    return recorded


@pytest.fixture
def seg(make_napari_viewer):
    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "GMM Segmentation")
    return viewer, dock, widget


def image(seed=0):
    return make_class_image((96, 96), 3, sigma=12, seed=seed)[0].astype(np.float32)


def wait(qtbot, widget):
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)


def own(viewer):
    return sorted(layer.name for layer in viewer.layers if "napari-gmm" in layer.metadata)


def first_run(qtbot, viewer, widget):
    """A successful run on 'img' and one on 'other'; returns the labels data of 'other'."""
    widget.image.value = viewer.add_image(image(1), name="other")
    widget.run()
    wait(qtbot, widget)
    return viewer.layers["other labels"].data


def test_removed_input_adds_nothing_and_keeps_results(seg, qtbot, notifications):
    viewer, _, widget = seg
    previous = first_run(qtbot, viewer, widget)
    layer = viewer.add_image(image(), name="img")
    widget.image.value = layer
    assert widget.run() is not None
    viewer.layers.remove(layer)  # before the worker's result reaches the main thread
    assert widget.image.value is viewer.layers["other"]  # never an output layer
    wait(qtbot, widget)
    assert own(viewer) == ["other labels", "other probability"]
    assert viewer.layers["other labels"].data is previous
    assert any("'img' was removed" in m for m in notifications(NotificationSeverity.ERROR))
    assert "was removed" in widget.summary.value and "previous result" in widget.summary.value


def test_replaced_input_adds_nothing(seg, qtbot, notifications):
    viewer, _, widget = seg
    layer = viewer.add_image(image(), name="img")
    widget.image.value = layer
    widget.run()
    viewer.layers.remove(layer)
    viewer.add_image(image(3), name="img")  # another layer with the same name
    wait(qtbot, widget)
    assert own(viewer) == []
    layer = viewer.layers["img"]
    widget.image.value = layer
    widget.run()
    layer.data = image(4)  # new data in the same layer
    wait(qtbot, widget)
    assert own(viewer) == []
    assert any("replaced" in m for m in notifications(NotificationSeverity.ERROR))


def test_closing_the_dock_cancels_the_run(seg, qtbot):
    viewer, dock, widget = seg
    widget.image.value = viewer.add_image(image(), name="img")
    worker = widget.run()
    viewer.window.remove_dock_widget(dock)  # what the dock's close button does
    assert worker.abort_requested
    wait(qtbot, widget)
    assert own(viewer) == []


def test_analysis_widgets_discard_results_of_a_removed_layer(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = NoiseStudyWidget(viewer)
    viewer.window.add_dock_widget(widget)
    layer = viewer.add_image(image(), name="img")
    widget.sigmas.value = "0, 10"
    widget.run()
    viewer.layers.remove(layer)
    wait(qtbot, widget)
    assert widget.records == {} and widget.summary.value.startswith("⚠")


def test_long_noise_study_asks_first(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = NoiseStudyWidget(viewer)
    viewer.window.add_dock_widget(widget)
    viewer.add_image(image(), name="img")
    questions = []
    widget.confirm = lambda question: questions.append(question) or False
    widget.sigmas.value = "0:1000:1"
    widget.smoothing.value = True
    assert widget.run() is None and not widget.running
    assert len(questions) == 1 and "2004 fits" in questions[0]
    assert "not started" in widget.summary.value
    widget.sigmas.value = "0, 5"  # 6 fits: no question
    worker = widget.run()
    assert worker is not None and len(questions) == 1
    wait(qtbot, widget)
    assert len(widget.rows()) == 4


def test_too_big_for_memory_says_so_and_keeps_results(seg, qtbot, notifications, monkeypatch):
    viewer, _, widget = seg
    previous = first_run(qtbot, viewer, widget)
    widget.image.value = viewer.layers["other"]
    monkeypatch.setenv("NAPARI_GMM_AVAILABLE_MEMORY", "1000")
    widget.run()
    wait(qtbot, widget)
    assert viewer.layers["other labels"].data is previous
    assert own(viewer) == ["other labels", "other probability"]
    errors = notifications(NotificationSeverity.ERROR)
    assert any("needs at least" in m and "dask array" in m for m in errors), errors
