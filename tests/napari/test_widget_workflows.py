"""Workflows of the GMM Segmentation dock: auto K, joint channel layers, model files, K from
Model diagnostics, time series (Xvfb, real viewer)."""

from __future__ import annotations

import numpy as np
import pytest
from napari_support import run_and_wait

from napari_gmm._napari._diagnostics_widget import ModelDiagnosticsWidget
from napari_gmm._napari._segment_fields import FRAME_MODES, core_has_time_axis
from napari_gmm.core.analysis._synthetic import make_class_image

PLUGIN = "napari-gmm"
TIMEOUT_MS = 30_000
needs_time_axis = pytest.mark.skipif(
    not core_has_time_axis(), reason="the core has no time_axis option yet"
)


@pytest.fixture
def seg(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "GMM Segmentation")
    return viewer, widget



def classes(seed=0, shape=(48, 64)):
    return make_class_image(shape, 3, sigma=8, seed=seed)


def test_auto_k(seg, qtbot):
    viewer, widget = seg
    widget.image.value = viewer.add_image(classes()[0], name="img")
    widget.auto_k.value = True
    assert not widget.n_components.enabled
    run_and_wait(qtbot, widget)
    labels = viewer.layers["img labels"]
    assert widget.last_segmentation.n_components == 3
    assert labels.metadata["napari-gmm"]["options"]["n_components"] == "auto"
    assert len(widget.legend.rows) == 3


def test_layers_as_joint_channels(seg, qtbot):
    viewer, widget = seg
    image, _ = classes()
    first = viewer.add_image(image, name="ch0")
    second = viewer.add_image((255 - image).astype(np.uint8), name="ch1")
    viewer.add_image(np.zeros((5, 5)), name="other shape")
    widget.image.value = first
    assert widget.input.channels.choices == (second,)
    widget.input.channels.value = [second]
    run_and_wait(qtbot, widget)
    seg_ = widget.last_segmentation
    assert seg_.model.means_.shape == (3, 2)
    labels = viewer.layers["ch0 labels"]
    assert labels.data.shape == image.shape
    assert labels.metadata["napari-gmm"]["options"]["channel_axis"] == -1
    assert all(len(mean.strip("()").split(",")) == 2 for _, _, mean in widget.legend.rows)
    assert second.data.shape == image.shape  # inputs untouched
    widget.channel_axis.value = "none"
    widget.image.value = viewer.add_image(np.stack([image, image]), name="stack")
    widget.channel_axis.value = 0
    assert widget.input.channels.choices == ()  # no same-shape partner


def test_save_and_apply_model(seg, qtbot, tmp_path):
    viewer, widget = seg
    assert widget.save_model(path=tmp_path / "none.json") is None  # nothing fitted yet
    widget.image.value = viewer.add_image(classes(1)[0], name="a")
    run_and_wait(qtbot, widget)
    path = widget.save_model(path=tmp_path / "model.json")
    assert path is not None and (tmp_path / "model.json").is_file()
    fitted = widget.last_segmentation.model

    other = classes(2)[0]
    widget.image.value = viewer.add_image(other, name="b")
    widget.n_components.value = 5  # ignored: the model decides
    worker = widget.apply_model(path=tmp_path / "model.json")
    assert worker is not None
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    applied = widget.last_segmentation
    assert applied.method == "applied model" and applied.n_components == 3
    expected = fitted.predict(other.reshape(-1, 1).astype(float)) + 1
    assert np.array_equal(viewer.layers["b labels"].data.ravel(), expected)
    assert (
        viewer.layers["b labels"].metadata["napari-gmm"]["options"]["model"].endswith("model.json")
    )
    assert widget.apply_model(path=tmp_path / "missing.json") is None


def test_diagnostics_sends_k(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    diagnostics = ModelDiagnosticsWidget(viewer)
    viewer.window.add_dock_widget(diagnostics)
    layer = viewer.add_image(classes()[0], name="img")
    diagnostics.k_max.value = 5
    assert not diagnostics.use_k_button.enabled
    diagnostics.run()
    qtbot.waitUntil(lambda: not diagnostics.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    assert diagnostics.use_k_button.enabled and "K=3" in diagnostics.use_k_button.text
    seg_widget = diagnostics.use_k()  # opens the segmentation dock
    assert type(seg_widget).__name__ == "GMMWidget"
    assert seg_widget.n_components.value == 3 and seg_widget.image.value is layer
    seg_widget.n_components.value, seg_widget.auto_k.value = 7, True
    assert diagnostics.use_k() is seg_widget  # the open dock is reused
    assert seg_widget.n_components.value == 3 and not seg_widget.auto_k.value


@needs_time_axis
def test_frame_modes_become_core_keywords(seg):
    viewer, widget = seg
    movie = np.zeros((4, 16, 16), np.float32)
    layer = viewer.add_image(movie, name="movie", axis_labels=("t", "y", "x"))
    widget.image.value = layer
    read = {}
    for label, keyword in FRAME_MODES.items():
        widget.input.frames.value = label
        read[keyword] = widget.input.read(layer)
    assert read["each"]["frames"] == "each" and read["each"]["time_axis"] == 0
    assert read["shared"]["frames"] == "shared"
    viewer.dims.set_current_step(0, 2)
    widget.input.frames.value = "fit on this frame, apply to all"
    assert widget.input.read(layer)["frames"] == 2
    assert widget.input.read(layer)["channel_axis"] is None
    widget.channel_axis.value = 0
    with pytest.raises(ValueError, match="time axis and the channel axis"):
        widget.input.read(layer)


@needs_time_axis
@pytest.mark.parametrize("mode", list(FRAME_MODES))
def test_time_series(seg, qtbot, mode):
    viewer, widget = seg
    frames = [classes(seed)[0].astype(np.float32) * (1.0 - 0.2 * seed) for seed in range(3)]
    layer = viewer.add_image(np.stack(frames), name="movie", axis_labels=("t", "y", "x"))
    widget.image.value = layer
    widget.input.frames.value = mode
    viewer.dims.set_current_step(0, 2)
    stages = []
    worker = widget.run()
    worker.yielded.connect(lambda step: stages.append(step[1]))
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    labels = viewer.layers["movie labels"]
    assert labels.data.shape == layer.data.shape
    assert viewer.layers["movie probability"].data.shape == layer.data.shape
    if mode == "each frame":  # every frame finds its three classes despite the bleaching
        for frame in labels.data:
            assert set(np.unique(frame)) == {1, 2, 3}
        assert any(stage.startswith("frame 3/3") for stage in stages)  # per-frame progress
    options = labels.metadata["napari-gmm"]["options"]
    assert options["time_axis"] == 0
    assert options["frames"] == (2 if mode.startswith("fit on") else FRAME_MODES[mode])


@needs_time_axis
def test_time_series_cancel_and_apply_model(seg, qtbot, tmp_path):
    viewer, widget = seg
    frames = np.stack([classes(seed, (128, 128))[0] for seed in range(12)]).astype(np.float32)
    layer = viewer.add_image(frames, name="movie", axis_labels=("t", "y", "x"))
    widget.image.value = layer
    widget.smoothing.value = 1.0
    worker = widget.run()
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    assert worker.abort_requested and "movie labels" not in viewer.layers
    assert widget.summary.value.startswith("cancelled")

    widget.smoothing.value = 0.0
    widget.image.value = viewer.add_image(classes(5)[0], name="still")
    run_and_wait(qtbot, widget)
    path = widget.save_model(path=tmp_path / "m.json")
    widget.image.value = layer
    widget.apply_model(path=path)
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    assert viewer.layers["movie labels"].data.shape == frames.shape
