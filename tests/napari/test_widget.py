"""The GMM Segmentation dock widget in a real napari viewer (run under Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest
from napari.utils.notifications import NotificationSeverity, notification_manager
from napari_support import run_and_wait

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image

PLUGIN, WIDGET = "napari-gmm", "GMM Segmentation"
TIMEOUT_MS = 30_000



@pytest.fixture
def notifications():
    """Notifications dispatched during the test."""
    start = len(notification_manager.records)

    class Recorded:
        def __call__(self, severity=None):
            new = notification_manager.records[start:]
            return [n for n in new if severity is None or n.severity == severity]

    return Recorded()



def own_layers(viewer):
    return [layer.name for layer in viewer.layers if "napari-gmm" in layer.metadata]


def test_widget_fields_and_layer_choices(viewer_widget):
    viewer, widget = viewer_widget
    assert widget.n_components.value == 3
    assert (widget.n_components.min, widget.n_components.max) == (1, 20)
    assert widget.covariance_type.value == "full"
    assert widget.noise_sigma.value == 0
    assert widget.seed.value == 0
    assert widget.uncertainty.choices == ("none", "1 - max posterior", "margin", "entropy")
    assert (widget.tol.value, widget.max_iter.value, widget.n_init.value) == (1e-3, 100, 1)
    assert widget.init.value == "kmeans"
    assert not widget.tol.native.isVisibleTo(widget.native)  # in the "EM" tab
    widget.sections.select("EM")
    assert widget.tol.native.isVisibleTo(widget.native)
    assert widget.image.choices == ()

    first = viewer.add_image(np.zeros((8, 8), np.uint8), name="a")
    viewer.add_labels(np.zeros((8, 8), np.uint8), name="not an image")
    second = viewer.add_image(np.zeros((8, 8), np.uint8), name="b")
    assert widget.image.choices == (first, second)
    viewer.layers.remove(first)
    assert widget.image.choices == (second,)
    assert widget.image.value is second


def test_labels_probability_and_metadata(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, _ = make_class_image((64, 80), 3, sigma=12, seed=1)
    layer = viewer.add_image(image, name="img", scale=(0.5, 2.0), translate=(10, -4))
    widget.image.value = layer
    widget.seed.value = 7

    worker = run_and_wait(qtbot, widget)

    assert worker.abort_requested is False
    expected = ng.segment(image, 3, random_state=7)
    labels = viewer.layers["img labels"]
    assert labels.data.dtype == expected.labels.dtype == np.uint8
    np.testing.assert_array_equal(labels.data, expected.labels)
    prob = viewer.layers["img probability"]
    assert prob.data.dtype == np.float32
    np.testing.assert_allclose(prob.data, expected.probability, atol=1e-6)
    assert prob.data.min() >= 0 and prob.data.max() <= 1
    assert tuple(prob.contrast_limits) == (0, 1)
    assert prob.colormap.name == "viridis"
    for out in (labels, prob):
        np.testing.assert_allclose(out.scale, (0.5, 2.0))
        np.testing.assert_allclose(out.translate, (10, -4))
    mark = labels.metadata["napari-gmm"]
    assert mark["role"] == "labels" and mark["source"] == "img"
    summary = mark["summary"]
    assert summary["n_components"] == 3 and summary["converged"] is True
    assert summary["bic"] == pytest.approx(expected.bic)
    assert mark["options"]["seed"] == 7 and mark["options"]["n_components"] == 3
    assert "K=3" in widget.summary.value and "BIC" in widget.summary.value
    assert widget.last_segmentation is not None
    # the input layer is untouched
    assert layer.metadata == {} and layer.data is image


def test_rerun_updates_layers_in_place(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, _ = make_class_image((48, 48), 3, sigma=10, seed=2)
    layer = viewer.add_image(image, name="img")
    user = viewer.add_labels(np.zeros((48, 48), np.uint8), name="img labels")
    widget.image.value = layer
    run_and_wait(qtbot, widget)
    before = list(viewer.layers)
    ours = [x for x in before if "napari-gmm" in x.metadata]
    assert [x.name for x in ours] == ["img probability", "img labels [1]"]

    layer.scale = (3.0, 3.0)
    widget.n_components.value = 2
    run_and_wait(qtbot, widget)

    assert list(viewer.layers) == before  # same layer objects, no duplicates
    assert ours[1].data.max() == 2
    np.testing.assert_array_equal(ours[1].data, ng.segment(image, 2, random_state=0).labels)
    np.testing.assert_allclose(ours[1].scale, (3.0, 3.0))
    assert ours[1].metadata["napari-gmm"]["summary"]["n_components"] == 2
    assert not user.data.any() and "napari-gmm" not in user.metadata


def test_rgb_layer_uses_colour_channels(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, _ = make_class_image((40, 50), 3, sigma=8, n_channels=3, seed=3)
    layer = viewer.add_image(image, name="rgb", rgb=True, scale=(2, 3), translate=(1, 1))
    widget.image.value = layer
    assert widget.channel_axis.choices == (-1,)
    run_and_wait(qtbot, widget)
    labels = viewer.layers["rgb labels"]
    assert labels.data.shape == (40, 50)
    expected = ng.segment(image, 3, channel_axis=-1, random_state=0)
    np.testing.assert_array_equal(labels.data, expected.labels)
    np.testing.assert_allclose(labels.scale, (2, 3))
    np.testing.assert_allclose(viewer.layers["rgb probability"].translate, (1, 1))


def test_3d_stack_and_channel_axis(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    stack, _ = make_class_image((10, 32, 32), 3, sigma=10, seed=4)
    layer = viewer.add_image(stack, name="stack", scale=(4, 1, 1))
    widget.image.value = layer
    assert widget.channel_axis.value == "none"
    run_and_wait(qtbot, widget)
    labels = viewer.layers["stack labels"]
    assert labels.data.shape == (10, 32, 32)
    np.testing.assert_array_equal(labels.data, ng.segment(stack, 3, random_state=0).labels)
    np.testing.assert_allclose(labels.scale, (4, 1, 1))

    # a multichannel, non-RGB layer: channels on axis 0, the outputs drop that axis
    channels = np.moveaxis(make_class_image((24, 24), 2, n_channels=2, seed=5)[0], -1, 0)
    multi = viewer.add_image(channels.astype(np.float32), name="multi", scale=(9, 2, 2))
    widget.image.value = multi
    widget.channel_axis.value = 0
    widget.n_components.value = 2
    run_and_wait(qtbot, widget)
    labels = viewer.layers["multi labels"]
    assert labels.data.shape == (24, 24)
    expected = ng.segment(channels.astype(np.float32), 2, channel_axis=0, random_state=0)
    np.testing.assert_array_equal(labels.data, expected.labels)
    np.testing.assert_allclose(labels.scale, (2, 2))


def test_noise_layer(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, _ = make_class_image((48, 48), 3, sigma=5, seed=6)
    layer = viewer.add_image(image, name="img", contrast_limits=(20, 230), scale=(2, 2))
    widget.image.value = layer
    widget.noise_sigma.value = 25.0
    widget.seed.value = 11
    run_and_wait(qtbot, widget)

    noisy = viewer.layers["img noisy"]
    expected_noisy = ng.add_gaussian_noise(image, 25.0, seed=11)
    assert noisy.data.dtype == image.dtype and not noisy.rgb
    np.testing.assert_array_equal(noisy.data, expected_noisy)
    assert tuple(noisy.contrast_limits) == (20, 230)
    np.testing.assert_allclose(noisy.scale, (2, 2))
    expected = ng.segment(expected_noisy, 3, random_state=11)
    np.testing.assert_array_equal(viewer.layers["img labels"].data, expected.labels)
    np.testing.assert_array_equal(layer.data, image)

    widget.noise_sigma.value = 0.0  # the noisy layer of the earlier run goes away
    run_and_wait(qtbot, widget)
    assert "img noisy" not in viewer.layers
    assert own_layers(viewer) == ["img probability", "img labels"]


def test_uncertainty_and_posterior_layers(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, _ = make_class_image((40, 40), 3, sigma=15, seed=7)
    widget.image.value = viewer.add_image(image, name="img", translate=(5, 6))
    widget.uncertainty.value = "entropy"
    widget.posteriors.value = True
    run_and_wait(qtbot, widget)

    expected = ng.segment(image, 3, random_state=0, return_posteriors=True)
    unc = viewer.layers["img uncertainty"]
    assert unc.data.dtype == np.float32 and tuple(unc.contrast_limits) == (0, 1)
    np.testing.assert_allclose(unc.data, expected.uncertainty("entropy"), atol=1e-6)
    posts = [viewer.layers[f"img posterior {k}"] for k in (1, 2, 3)]
    total = sum(p.data for p in posts)
    np.testing.assert_allclose(total, 1.0, atol=1e-5)
    np.testing.assert_allclose(posts[1].data, expected.posteriors[..., 1], atol=1e-6)
    np.testing.assert_allclose(posts[2].translate, (5, 6))

    widget.uncertainty.value = "none"
    widget.posteriors.value = False
    run_and_wait(qtbot, widget)
    assert own_layers(viewer) == ["img probability", "img labels"]


def test_errors_and_warnings_become_notifications(viewer_widget, qtbot, notifications):
    viewer, widget = viewer_widget
    assert widget.run() is None  # no image layer
    assert notifications(NotificationSeverity.INFO)

    two_values = np.array([[0, 0, 9], [9, 9, 0]] * 4, dtype=np.uint8)
    widget.image.value = viewer.add_image(two_values, name="flat")
    run_and_wait(qtbot, widget)
    errors = notifications(NotificationSeverity.ERROR)
    assert len(errors) == 1 and "n_components" in errors[0].message
    assert own_layers(viewer) == []
    assert widget.run_button.enabled and not widget.cancel_button.enabled

    image = np.random.default_rng(0).normal(size=(40, 40)).astype(np.float32)
    widget.image.value = viewer.add_image(image, name="float")
    widget.max_iter.value = 1
    widget.tol.value = 0.0
    run_and_wait(qtbot, widget)
    warnings = notifications(NotificationSeverity.WARNING)
    assert any("did not converge" in w.message for w in warnings)
    assert "NOT converged" in widget.summary.value
    assert "float labels" in viewer.layers


def test_cancel_leaves_no_layers(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image = np.random.default_rng(1).normal(size=(300, 300)).astype(np.float32)
    widget.image.value = viewer.add_image(image, name="big")
    widget.noise_sigma.value = 0.5
    worker = widget.run()
    assert widget.running
    assert not widget.run_button.enabled and widget.cancel_button.enabled
    assert widget.run() is worker  # one job at a time
    widget.cancel_button.clicked.emit()
    assert worker.abort_requested
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    assert widget.summary.value == "cancelled"
    assert [layer.name for layer in viewer.layers] == ["big"]
    assert widget.run_button.enabled and not widget.cancel_button.enabled
    assert widget.last_segmentation is None


def test_unexpected_error_is_reported(viewer_widget, qtbot, notifications, monkeypatch):
    def broken(*args, **kwargs):
        yield 0.1, "reading pixels"
        raise RuntimeError("broken")  # Qt workers drop RuntimeErrors: the job must not

    monkeypatch.setattr("napari_gmm._napari._worker.iter_segment", broken)
    viewer, widget = viewer_widget
    widget.image.value = viewer.add_image(np.arange(64.0).reshape(8, 8), name="img")
    run_and_wait(qtbot, widget)
    errors = notifications(NotificationSeverity.ERROR)
    assert len(errors) == 1 and "broken" in errors[0].message
    assert widget.summary.value.startswith("⚠") and "broken" in widget.summary.value
    assert own_layers(viewer) == []
    assert widget.run_button.enabled and not widget.cancel_button.enabled


def test_random_seed_is_recorded(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, _ = make_class_image((32, 32), 2, seed=8)
    widget.image.value = viewer.add_image(image, name="img")
    widget.n_components.value = 2
    widget.seed.value = -1
    run_and_wait(qtbot, widget)
    seed = viewer.layers["img labels"].metadata["napari-gmm"]["options"]["seed"]
    assert isinstance(seed, int) and seed >= 0
    np.testing.assert_array_equal(
        viewer.layers["img labels"].data, ng.segment(image, 2, random_state=seed).labels
    )


def test_smoothing_field_cleans_a_noisy_image(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, truth = make_class_image((96, 96), 3, gap=60, sigma=40, seed=21)
    widget.image.value = viewer.add_image(image, name="noisy img", scale=(2.0, 2.0))
    widget.smoothing.value = 1.0
    run_and_wait(qtbot, widget)
    labels = viewer.layers["noisy img labels"].data
    assert np.mean(labels == truth) > 0.95
    expected = ng.segment(image, 3, random_state=0, smoothing=1.0, scale=(2.0, 2.0))
    assert np.array_equal(labels, expected.labels)
    summary = viewer.layers["noisy img labels"].metadata["napari-gmm"]["summary"]
    assert summary["smoothing"] == 1.0
