"""Uneven illumination in the GMM Segmentation dock: bias field, corrected and field layers."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from napari_support import run_and_wait

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image, make_shading

PLUGIN, WIDGET = "napari-gmm", "GMM Segmentation"
TIMEOUT_MS = 60_000
BIAS = "polynomial"


@pytest.fixture
def seg(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    return viewer, widget



def shaded(shape=(80, 80), seed=0, n_channels=None, kind="vignette"):
    image, truth = make_class_image(
        shape, 3, gap=100, base=100, sigma=15, dtype="float32", seed=seed,
        feature_size=min(shape) / 20, n_channels=n_channels,
    )
    field = make_shading(shape, kind=kind, seed=seed)
    out = image * (field if n_channels is None else field[..., None])
    return out.astype(np.float32), truth


def test_bias_fields_are_off_by_default(seg):
    _, widget = seg
    assert widget.bias_field.value == "none"
    assert widget.bias_field.choices == ("none", BIAS)
    assert not widget.bias_order.enabled and not widget.bias_layers.enabled
    assert not widget.bias_field.native.isVisibleTo(widget.native)  # in the "options" tab
    widget.sections.select("options")
    assert widget.bias_field.native.isVisibleTo(widget.native)
    widget.bias_field.value = BIAS
    assert widget.bias_order.enabled and widget.bias_layers.enabled
    assert widget.bias_order.value == 3 and (widget.bias_order.min, widget.bias_order.max) == (
        1,
        6,
    )


def test_bias_field_with_corrected_and_field_layers(seg, qtbot):
    viewer, widget = seg
    image, truth = shaded()
    layer = viewer.add_image(image, name="cells", scale=(0.5, 2.0), translate=(3, -1))
    widget.image.value = layer
    widget.bias_field.value = BIAS
    widget.bias_layers.value = True
    run_and_wait(qtbot, widget)

    expected = ng.segment(image, 3, random_state=0, bias_field=BIAS, scale=(0.5, 2.0))
    labels = viewer.layers["cells labels"]
    np.testing.assert_array_equal(labels.data, expected.labels)
    assert ng.compare_labels(truth, labels.data).accuracy >= 0.95
    corrected, field = viewer.layers["cells corrected"], viewer.layers["cells bias field"]
    np.testing.assert_array_equal(corrected.data, expected.corrected)
    np.testing.assert_array_equal(field.data, expected.bias_field)
    for out in (corrected, field):
        np.testing.assert_allclose(out.scale, (0.5, 2.0))
        np.testing.assert_allclose(out.translate, (3, -1))
        assert not out.visible  # added hidden: the labels stay in view
    assert field.colormap.name == "magma"
    names = [x.name for x in viewer.layers]
    assert names.index("cells corrected") < names.index("cells labels")  # labels on top
    assert "bias field" in widget.summary.value
    mark = labels.metadata["napari-gmm"]
    assert mark["options"]["bias_field"] == BIAS and mark["options"]["bias_layers"] is True
    assert mark["summary"]["bias_field"]["max"] == pytest.approx(float(field.data.max()))
    assert layer.data is image and layer.metadata == {}

    # rerun: the same layers, updated; then without the layers, they are removed
    before = {x.name: x for x in viewer.layers}
    widget.bias_order.value = 2
    run_and_wait(qtbot, widget)
    assert viewer.layers["cells corrected"] is before["cells corrected"]
    again = ng.segment(image, 3, random_state=0, bias_field=BIAS, bias_order=2, scale=(0.5, 2))
    np.testing.assert_array_equal(viewer.layers["cells bias field"].data, again.bias_field)
    widget.bias_layers.value = False
    run_and_wait(qtbot, widget)
    assert "cells corrected" not in viewer.layers and "cells bias field" not in viewer.layers
    widget.bias_field.value = "none"
    run_and_wait(qtbot, widget)
    assert widget.last_segmentation.bias_field is None
    assert ng.compare_labels(truth, viewer.layers["cells labels"].data).accuracy < 0.9


def test_multichannel_and_rgb_corrected_layers(seg, qtbot):
    viewer, widget = seg
    image, truth = shaded((64, 64), seed=3, n_channels=3)
    channels_first = np.moveaxis(image, -1, 0)
    multi = viewer.add_image(channels_first, name="multi", scale=(7, 2, 2), translate=(0, 5, 5))
    widget.image.value = multi
    widget.channel_axis.value = 0
    widget.bias_field.value = BIAS
    widget.bias_layers.value = True
    run_and_wait(qtbot, widget)
    corrected = viewer.layers["multi corrected"]
    expected = ng.segment(channels_first, 3, channel_axis=0, random_state=0, bias_field=BIAS,
                          scale=(2, 2))
    np.testing.assert_array_equal(corrected.data, expected.corrected)  # channels first
    np.testing.assert_allclose(corrected.scale, (1, 2, 2))
    np.testing.assert_allclose(corrected.translate, (0, 5, 5))
    assert viewer.layers["multi bias field"].data.shape == (64, 64)
    assert ng.compare_labels(truth, viewer.layers["multi labels"].data).accuracy >= 0.95

    rgb = viewer.add_image(image / image.max(), name="rgb", rgb=True)
    widget.image.value = rgb
    run_and_wait(qtbot, widget)
    corrected = viewer.layers["rgb corrected"]
    assert corrected.rgb and corrected.data.shape == image.shape
    assert ng.compare_labels(truth, viewer.layers["rgb labels"].data).accuracy >= 0.95


def test_dask_layer_gets_lazy_labels_with_a_field(seg, qtbot):
    viewer, widget = seg
    image, truth = shaded((64, 64))
    widget.image.value = viewer.add_image(da.from_array(image, chunks=32), name="lazy")
    widget.bias_field.value = BIAS
    run_and_wait(qtbot, widget)
    labels = np.asarray(viewer.layers["lazy labels"].data)
    assert ng.compare_labels(truth, labels).accuracy >= 0.95
    assert "bias field" in widget.summary.value


def test_apply_model_with_a_field(seg, qtbot, tmp_path):
    viewer, widget = seg
    reference, _ = shaded(seed=1, kind="ramp")
    path = ng.segment(reference, 3, random_state=0, bias_field=BIAS).save_model(
        tmp_path / "m.json"
    )
    image, truth = shaded(seed=2)
    widget.image.value = viewer.add_image(image * 0.8, name="other")
    widget.bias_field.value = BIAS
    widget.bias_layers.value = True
    worker = widget.apply_model(path=path)
    assert worker is not None
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    labels = viewer.layers["other labels"].data
    assert np.mean(labels == truth) >= 0.95  # the model's classes, no matching
    assert "other bias field" in viewer.layers
    assert "applied model" in widget.summary.value and "bias field" in widget.summary.value


def test_segment_command_takes_a_bias_field(make_napari_viewer):
    from napari._app_model import get_app_model

    viewer = make_napari_viewer()
    image, truth = shaded(seed=4)
    viewer.layers.selection.active = viewer.add_image(image, name="cells")
    get_app_model().commands.execute_command("napari-gmm.segment", bias_field=BIAS).result()
    labels = viewer.layers["cells labels"]
    expected = ng.segment(image, 3, random_state=0, bias_field=BIAS, scale=(1.0, 1.0))
    np.testing.assert_array_equal(labels.data, expected.labels)
    assert ng.compare_labels(truth, labels.data).accuracy >= 0.95
    assert labels.metadata["napari-gmm"]["options"]["bias_field"] == BIAS
