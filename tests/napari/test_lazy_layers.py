"""Dask-backed and multiscale image layers in a real viewer: lazy, multiscale outputs."""

from __future__ import annotations

import dask.array as da
import numpy as np

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image

PLUGIN, WIDGET = "napari-gmm", "GMM Segmentation"
TIMEOUT_MS = 30_000



def run_and_wait(qtbot, widget):
    assert widget.run() is not None
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)
    qtbot.wait(50)


def test_dask_layer_gives_lazy_labels_and_probability(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image = make_class_image((24, 40, 44), n_classes=3, sigma=30, seed=2)[0]
    calls = []

    def counted(block):
        calls.append(block.shape)
        return block

    data = da.from_array(image, chunks=(4, 20, 22)).map_blocks(counted, dtype=image.dtype)
    # napari keeps computed dask blocks in a cache (which would hide the reads counted here)
    from napari.utils._dask_utils import resize_dask_cache

    previous = resize_dask_cache(0).cache.available_bytes
    n_blocks = data.npartitions
    layer = viewer.add_image(data, name="vol")
    n_shown = len(calls)  # the plane napari shows of the input
    widget.image.value = layer
    widget.uncertainty.value = "margin"
    run_and_wait(qtbot, widget)
    # the fit read every block once (histogram); napari re-reads the plane on screen
    assert n_blocks <= len(calls) - n_shown < 2 * n_blocks
    labels, prob = viewer.layers["vol labels"], viewer.layers["vol probability"]
    before = len(calls)
    viewer.dims.set_current_step(0, 15)  # show another plane
    qtbot.waitUntil(lambda: len(calls) > before, timeout=TIMEOUT_MS)
    qtbot.wait(200)
    shown = len(calls) - before
    resize_dask_cache(previous)
    # only the blocks of the plane on screen (input and outputs), not the whole volume
    assert 0 < shown <= n_blocks // 3
    uncertainty = viewer.layers["vol uncertainty"]
    for out in (labels, prob, uncertainty):
        assert isinstance(out.data, da.Array)
    ref = ng.segment(image, 3, random_state=0, return_posteriors=True)
    np.testing.assert_array_equal(labels.data.compute(), ref.labels)
    np.testing.assert_allclose(uncertainty.data.compute(), ref.uncertainty("margin"))


def test_multiscale_layer_gives_multiscale_outputs(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image = make_class_image((16, 64, 64), n_classes=3, sigma=25, seed=5, dtype="uint16")[0]
    levels = [image, image[:, ::2, ::2], image[:, ::4, ::4]]
    layer = viewer.add_image(
        levels, multiscale=True, name="pyr", scale=(3.0, 0.5, 0.5), translate=(5.0, 1.0, 0.0)
    )
    widget.image.value = layer
    widget.smoothing.value = 1.0
    run_and_wait(qtbot, widget)
    labels, prob = viewer.layers["pyr labels"], viewer.layers["pyr probability"]
    assert labels.multiscale and prob.multiscale
    assert len(labels.data) == len(prob.data) == 3
    assert tuple(labels.scale) == (3.0, 0.5, 0.5) and tuple(labels.translate) == (5.0, 1.0, 0.0)
    model = widget.last_segmentation.model
    for index, level in enumerate(levels):
        assert labels.data[index].shape == level.shape
        scale = (3.0, 0.5 * 2**index, 0.5 * 2**index)
        ref = ng.apply_model(model, level, smoothing=1.0, scale=scale)
        np.testing.assert_array_equal(np.asarray(labels.data[index]), ref.labels)


def test_dask_layer_with_automatic_smoothing(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image = make_class_image((16, 48, 48), n_classes=3, sigma=40, seed=3, dtype="uint16")[0]
    widget.image.value = viewer.add_image(da.from_array(image, chunks=(8, 24, 24)),
                                          name="vol")
    widget.auto_smoothing.value = True
    run_and_wait(qtbot, widget)
    labels = viewer.layers["vol labels"]
    assert isinstance(labels.data, da.Array)
    ref = ng.segment(image, 3, random_state=0, smoothing="auto")
    summary = labels.metadata["napari-gmm"]["summary"]
    assert summary["smoothing"] == ref.smoothing > 0
    np.testing.assert_array_equal(labels.data.compute(), ref.labels)
