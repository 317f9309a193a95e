"""Automatic smoothing and calibrated posteriors offered by the segmentation dock."""

from __future__ import annotations

import numpy as np

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image

TIMEOUT_MS = 60_000


def test_auto_smoothing_and_gibbs_marginals_reach_the_core(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-gmm", "GMM Segmentation")
    noisy = make_class_image((64, 64), 3, sigma=45, seed=3)[0].astype(np.float32)
    widget.image.value = viewer.add_image(noisy, name="noisy")
    widget.n_components.value = 3
    widget.auto_smoothing.value = True
    assert not widget.smoothing.enabled  # the fixed strength is not used
    widget.calibrated.value = True
    assert widget.run() is not None
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    seg = widget.last_segmentation
    ref = ng.segment(noisy, 3, random_state=0, smoothing="auto", marginals="gibbs")
    assert seg.smoothing == ref.smoothing > 0  # the estimate, recorded in the result
    np.testing.assert_array_equal(viewer.layers["noisy labels"].data, ref.labels)
    # the probability layer holds the Gibbs marginals, not the (tempered) mean-field ones
    mean_field = ng.segment(noisy, 3, random_state=0, smoothing=ref.smoothing)
    shown = viewer.layers["noisy probability"].data
    np.testing.assert_allclose(shown, ref.probability, rtol=1e-6)
    assert not np.allclose(shown, mean_field.probability, atol=1e-3)


def test_auto_smoothing_reports_mixel_posteriors(make_napari_viewer, qtbot):
    from napari_gmm.core.analysis._phantoms import make_phantom

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-gmm", "GMM Segmentation")
    clean = make_phantom("sheet", 2, thickness=1, noise=5, seed=1).image  # 1-voxel sulci
    widget.image.value = viewer.add_image(clean, name="clean")
    widget.n_components.value = 3
    widget.auto_smoothing.value = True
    assert widget.run() is not None
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    ref = ng.segment(clean, 3, random_state=0, smoothing="auto")
    assert ref.mixels is not None and widget.last_segmentation.mixels is not None
    assert "with partial volumes" in widget.summary.value
    np.testing.assert_array_equal(viewer.layers["clean labels"].data, ref.labels)
    np.testing.assert_allclose(viewer.layers["clean probability"].data, ref.probability)
