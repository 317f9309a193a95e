"""npe2 commands run through napari's command registry in a real viewer (under Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest
from napari._app_model import get_app_model
from npe2 import PluginManager

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image

SEGMENT, NOISE = "napari-gmm.segment", "napari-gmm.add_gaussian_noise"


def execute(command, **kwargs):
    """Run a command as the palette does (napari injects the active layer)."""
    return get_app_model().commands.execute_command(command, **kwargs).result()


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


def test_segment_command_adds_and_then_updates_labels_and_probability(viewer):
    image, truth = make_class_image((40, 48), 3, sigma=10.0, seed=0)
    layer = viewer.add_image(image, name="cells", scale=(2.0, 0.5), translate=(10.0, -3.0))
    viewer.add_image(np.zeros((5, 5)), name="other")
    viewer.layers.selection.active = layer
    execute(SEGMENT)
    assert [lay.name for lay in viewer.layers] == [
        "cells", "other", "cells probability", "cells labels"
    ]
    labels, prob = viewer.layers["cells labels"], viewer.layers["cells probability"]
    expected = ng.segment(image, 3, random_state=0, scale=(2.0, 0.5))
    np.testing.assert_array_equal(labels.data, expected.labels)
    np.testing.assert_allclose(prob.data, expected.probability)
    assert ng.compare_labels(truth, labels.data).accuracy > 0.95
    for out in (labels, prob):
        np.testing.assert_allclose(out.scale, (2.0, 0.5))
        np.testing.assert_allclose(out.translate, (10.0, -3.0))
    mark = labels.metadata["napari-gmm"]
    assert mark["role"] == "labels" and mark["source"] == "cells"
    assert mark["summary"]["n_components"] == 3
    # a second run (e.g. from a script, with options) updates the same layers in place
    viewer.layers.selection.active = layer
    execute(SEGMENT, n_components=2, smoothing=1.0)
    assert len(viewer.layers) == 4 and viewer.layers["cells labels"] is labels
    assert labels.data.max() == 2
    assert labels.metadata["napari-gmm"]["summary"]["n_components"] == 2


def test_segment_command_on_a_time_series_and_an_rgb_layer(viewer):
    frames = [make_class_image((24, 24), 2, sigma=8.0, seed=s)[0] for s in range(3)]
    series = np.stack([f // (t + 1) for t, f in enumerate(frames)])  # dimming frames
    layer = viewer.add_image(series, name="movie", axis_labels=("t", "y", "x"))
    viewer.layers.selection.active = layer
    execute(SEGMENT, n_components=2)
    labels = viewer.layers["movie labels"]
    expected = ng.segment(series, 2, time_axis=0, random_state=0)
    np.testing.assert_array_equal(labels.data, expected.labels)
    assert labels.metadata["napari-gmm"]["summary"]["frame_mode"] == "each"
    assert tuple(labels.axis_labels) == ("t", "y", "x")

    rgb = make_class_image((20, 30), 2, n_channels=3, seed=1)[0]
    layer = viewer.add_image(rgb, name="rgb", rgb=True, scale=(3.0, 3.0))
    viewer.layers.selection.active = layer
    execute(SEGMENT, n_components=2)
    out = viewer.layers["rgb labels"]
    assert out.data.shape == (20, 30)
    np.testing.assert_array_equal(
        out.data, ng.segment(rgb, 2, channel_axis=-1, random_state=0).labels
    )
    np.testing.assert_allclose(out.scale, (3.0, 3.0))


def test_noise_command_through_the_registry_and_npe2(viewer):
    image = np.full((64, 64), 100, dtype=np.uint8)
    layer = viewer.add_image(image, name="flat", colormap="magma")
    viewer.layers.selection.active = layer
    execute(NOISE, sigma=5.0, seed=0)
    noisy = viewer.layers["flat noisy"]
    assert noisy.data.dtype == np.uint8
    assert np.std(noisy.data.astype(float)) == pytest.approx(5.0, rel=0.1)
    assert noisy.colormap.name == "magma"
    np.testing.assert_array_equal(image, 100)  # input untouched
    # scripts can also call the npe2 command with an explicit layer
    data, meta, kind = (
        PluginManager.instance()
        .get_command(NOISE)
        .exec(kwargs={"image": layer, "sigma": 2.0, "seed": 1})
    )
    assert kind == "image" and meta["name"] == "flat noisy"
    np.testing.assert_array_equal(data, ng.add_gaussian_noise(image, 2.0, seed=1))


def test_commands_refuse_a_non_image_active_layer(viewer):
    labels = viewer.add_labels(np.zeros((8, 8), dtype=np.uint8), name="mask")
    viewer.layers.selection.active = labels
    for command in (SEGMENT, NOISE):
        with pytest.raises(TypeError, match="'mask' is a Labels layer; select an Image layer"):
            execute(command)
    assert [lay.name for lay in viewer.layers] == ["mask"]
