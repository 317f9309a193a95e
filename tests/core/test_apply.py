"""apply_model: the apply stage alone, with the model's class order kept."""

import copy

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_apply_to_the_fitted_image_equals_segment(dtype):
    image, _ = make_class_image((64, 64), n_classes=3, sigma=12.0, seed=1)
    image = image.astype(dtype)
    seg = ng.segment(image, 3, random_state=0)
    applied = ng.apply_model(seg.model, image)
    np.testing.assert_array_equal(applied.labels, seg.labels)
    np.testing.assert_allclose(applied.probability, seg.probability, atol=1e-6)
    assert applied.method == "applied model"
    assert applied.log_likelihood == pytest.approx(seg.log_likelihood, rel=1e-9)


def test_apply_keeps_the_model_class_order_and_does_not_modify_it():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(200, 5, 300), rng.normal(20, 5, 300)])[:, None]
    gmm = GaussianMixture(2, random_state=0).fit(X)
    bright = int(np.argmax(gmm.means_[:, 0]))
    before = copy.deepcopy(gmm.means_)
    image = np.array([[10.0, 210.0], [15.0, 190.0]])
    for smoothing in (0.0, 1.0):
        seg = ng.apply_model(gmm, image, smoothing=smoothing)
        expected = np.where(image > 100, bright + 1, 2 - bright)
        np.testing.assert_array_equal(seg.labels, expected)
        np.testing.assert_array_equal(gmm.means_, before)
        assert seg.model is gmm


def test_apply_a_saved_model_to_another_image(tmp_path):
    a, _ = make_class_image((48, 48), n_classes=2, sigma=8.0, seed=2)
    b, truth_b = make_class_image((40, 56), n_classes=2, sigma=8.0, seed=3)
    seg = ng.segment(a, 2, random_state=0)
    path = seg.save_model(tmp_path / "model.json")
    applied = ng.apply_model(path, b)
    assert (applied.labels == truth_b).mean() > 0.99
    np.testing.assert_array_equal(applied.labels, ng.apply_model(seg.model, b).labels)


def test_apply_rejects_channel_mismatch_and_bad_models():
    rgb = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    gray_model = ng.segment(rgb[..., 0], 2, random_state=0).model
    with pytest.raises(ValueError, match="fitted on 1 channel"):
        ng.apply_model(gray_model, rgb, channel_axis=-1)
    with pytest.raises(ValueError, match="not fitted"):
        ng.apply_model(GaussianMixture(2), rgb[..., 0])
    with pytest.raises(TypeError, match="fitted sklearn GaussianMixture"):
        ng.apply_model(3, rgb[..., 0])
