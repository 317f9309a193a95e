"""Sample data: the pure functions, and opening them in napari."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gmm._napari import _sample_data as samples


def _check_truth(image, truth, n_classes=3):
    assert truth.shape == image.shape[: truth.ndim]
    assert sorted(np.unique(truth).tolist()) == list(range(1, n_classes + 1))
    means = [float(image[truth == k].mean()) for k in range(1, n_classes + 1)]
    assert means == sorted(means)  # label 1 is the darkest class


def test_classes_2d():
    (image, meta, kind), (truth, truth_meta, truth_kind) = samples.classes_2d()
    assert (kind, truth_kind) == ("image", "labels")
    assert image.shape == (256, 256) and image.dtype == np.uint8
    assert meta["name"] == "3-class image" and truth_meta["visible"] is False
    _check_truth(image, truth)
    again = samples.classes_2d()
    np.testing.assert_array_equal(again[0][0], image)  # made the same way every time


def test_blobs_3d():
    (image, meta, kind), (truth, truth_meta, truth_kind) = samples.blobs_3d()
    assert (kind, truth_kind) == ("image", "labels")
    assert image.shape == (40, 96, 96) and image.dtype == np.uint8
    assert meta["scale"] == truth_meta["scale"] == (2.0, 1.0, 1.0)
    _check_truth(image, truth)


def test_immunohistochemistry():
    ((image, meta, kind),) = samples.immunohistochemistry()
    assert kind == "image" and meta["rgb"] is True
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8


@pytest.mark.parametrize(
    ("key", "names"),
    [
        ("classes_2d", ["3-class image", "3-class truth"]),
        ("blobs_3d", ["3D blobs", "3D blobs truth"]),
        ("immunohistochemistry", ["immunohistochemistry"]),
    ],
)
def test_open_sample_in_napari(make_napari_viewer, key, names):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-gmm", key)
    assert [layer.name for layer in viewer.layers] == names
    if key == "immunohistochemistry":
        assert viewer.layers[0].rgb
    if key == "blobs_3d":
        assert viewer.layers[0].ndim == 3
        np.testing.assert_allclose(viewer.layers[1].scale, (2, 1, 1))
