"""ng.segment: accuracy on ground truth, scikit-learn as oracle, invariants, edge cases."""

import numpy as np
import pytest
from skimage import data
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image

CASES = [
    # shape, n_classes, dtype, n_channels, gap, sigma
    ((96, 128), 2, "uint8", None, 60, 8),
    ((96, 128), 3, "uint8", None, 60, 8),
    ((96, 128), 4, "uint8", None, 50, 6),
    ((20, 40, 48), 3, "uint8", None, 60, 8),
    ((96, 128), 3, "uint16", None, 6000, 800),
    ((20, 40, 48), 2, "uint16", None, 6000, 800),
    ((96, 128), 3, "float32", None, 60, 8),
    ((16, 32, 40), 4, "float64", None, 50, 6),
    ((96, 128), 3, "uint8", 3, 60, 10),
    ((80, 96), 4, "uint8", 3, 50, 8),
    ((96, 128), 2, "float32", 3, 60, 10),
    ((16, 32, 40), 3, "uint8", 2, 60, 10),
]


@pytest.mark.parametrize(("shape", "k", "dtype", "channels", "gap", "sigma"), CASES)
@pytest.mark.parametrize("seed", [1, 7])
def test_ground_truth_accuracy_and_label_order(shape, k, dtype, channels, gap, sigma, seed):
    image, truth = make_class_image(
        shape, k, gap=gap, sigma=sigma, dtype=dtype, n_channels=channels, seed=seed
    )
    axis = None if channels is None else -1
    seg = ng.segment(image, k, channel_axis=axis, random_state=seed)
    assert seg.labels.shape == truth.shape
    assert seg.labels.dtype.kind == "u"
    # no matching: label 1 must already be the darkest class, and so on
    accuracy = np.mean(seg.labels == truth)
    assert accuracy > 0.99, accuracy
    assert set(np.unique(seg.labels)) == set(range(1, k + 1))


@pytest.mark.parametrize("random_state", [0, 1, 2, 3])
@pytest.mark.parametrize(
    ("init", "n_init"), [("kmeans", 1), ("k-means++", 1), ("random_from_data", 3)]
)
def test_labels_stable_across_runs(random_state, init, n_init):
    image, truth = make_class_image((64, 64), 3, gap=60, sigma=10, seed=3)
    seg = ng.segment(image, 3, random_state=random_state, init_params=init, n_init=n_init)
    assert np.mean(seg.labels == truth) > 0.99


def _features(image, axis):
    return ng.pixel_features(image, channel_axis=axis)


@pytest.mark.parametrize(
    ("name", "k", "axis", "dtype"),
    [
        ("camera", 3, None, "uint8"),
        ("camera", 3, None, "float32"),
        ("immunohistochemistry", 4, -1, "uint8"),
        ("immunohistochemistry", 3, -1, "float64"),
    ],
)
def test_log_likelihood_no_worse_than_sklearn_all_pixels(name, k, axis, dtype):
    image = getattr(data, name)()
    if name == "immunohistochemistry":
        image = image[::2, ::2]  # 256 x 256 RGB keeps the oracle fit quick
    image = image.astype(dtype)
    X = _features(image, axis)
    oracle = GaussianMixture(k, random_state=0).fit(X)
    seg = ng.segment(image, k, channel_axis=axis, random_state=0)
    ours = seg.model.score(X)
    assert ours >= oracle.score(X) - 0.01
    # the reported log-likelihood is the mean over all valid pixels
    assert seg.log_likelihood == pytest.approx(ours, abs=1e-9)
    assert seg.bic == pytest.approx(seg.model.bic(X), rel=1e-9)
    assert seg.aic == pytest.approx(seg.model.aic(X), rel=1e-9)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_invariants_by_construction(covariance_type, dtype):
    image = data.immunohistochemistry()[:96, :128].astype(dtype)
    seg = ng.segment(
        image,
        3,
        channel_axis=-1,
        covariance_type=covariance_type,
        random_state=0,
        return_posteriors=True,
    )
    X = _features(image, -1)
    assert np.array_equal(seg.model.predict(X) + 1, seg.labels.ravel())
    post = seg.posteriors.reshape(-1, 3)
    assert np.allclose(post.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(post.argmax(axis=1) + 1, seg.labels.ravel())
    assert np.allclose(seg.probability.ravel(), post.max(axis=1), atol=1e-6)
    assert np.allclose(seg.probability.ravel(), seg.model.predict_proba(X).max(axis=1), atol=1e-5)
    assert seg.probability.dtype == np.float32
    means = seg.model.means_.mean(axis=1)
    assert np.all(np.diff(means) >= 0)
    assert seg.model.covariance_type == covariance_type


def test_subsample_path_predicts_every_pixel():
    image, truth = make_class_image((200, 200), 3, gap=60, sigma=10, dtype="float32", seed=4)
    seg = ng.segment(image, 3, max_samples=5000, random_state=0)
    assert seg.method == "subsample"
    assert seg.n_fit_samples == 5000
    assert np.mean(seg.labels == truth) > 0.99
    X = _features(image, None)
    assert np.array_equal(seg.model.predict(X) + 1, seg.labels.ravel())
    # seeded: the same random_state gives the same fit
    again = ng.segment(image, 3, max_samples=5000, random_state=0)
    assert np.array_equal(again.model.means_, seg.model.means_)


def test_non_finite_pixels_are_left_out():
    image, truth = make_class_image((64, 64), 3, gap=60, sigma=8, dtype="float64", seed=5)
    image[3, :10] = np.nan
    image[10, 5] = np.inf
    image[20, 7] = -np.inf
    seg = ng.segment(image, 3, random_state=0, return_posteriors=True)
    bad = ~np.isfinite(image)
    assert np.all(seg.labels[bad] == 0)
    assert np.all(seg.probability[bad] == 0)
    assert np.all(seg.posteriors[bad] == 0)
    assert np.all(seg.labels[~bad] >= 1)
    assert np.mean(seg.labels[~bad] == truth[~bad]) > 0.99
    assert seg.n_valid == image.size - bad.sum()
    assert np.isfinite(seg.log_likelihood)


def test_non_finite_in_one_channel_excludes_the_pixel():
    image, _ = make_class_image(
        (32, 32), 2, gap=80, sigma=5, dtype="float32", n_channels=3, seed=0
    )
    image[0, 0, 1] = np.nan
    seg = ng.segment(image, 2, channel_axis=-1, random_state=0)
    assert seg.labels[0, 0] == 0 and seg.probability[0, 0] == 0
    assert np.all(seg.labels.ravel()[1:] > 0)


def test_channel_axis_first_equals_last():
    image, _ = make_class_image((48, 48), 3, gap=60, sigma=8, n_channels=3, seed=2)
    last = ng.segment(image, 3, channel_axis=-1, random_state=0)
    first = ng.segment(np.moveaxis(image, -1, 0), 3, channel_axis=0, random_state=0)
    assert np.array_equal(first.labels, last.labels)


def test_bool_image():
    image = np.zeros((10, 12), dtype=bool)
    image[2:6, 3:9] = True
    seg = ng.segment(image, 2, random_state=0)
    assert np.array_equal(seg.labels, image.astype(np.uint8) + 1)


def test_negative_and_huge_values():
    rng = np.random.default_rng(0)
    truth = (rng.random((40, 40)) > 0.5).astype(np.uint8) + 1
    neg = np.where(truth == 1, -3000, 3000).astype(np.int32) + rng.integers(-50, 50, (40, 40))
    assert np.mean(ng.segment(neg, 2, random_state=0).labels == truth) == 1.0
    huge = np.where(truth == 1, 1e12, 5e12) + rng.normal(0, 1e9, (40, 40))
    assert np.mean(ng.segment(huge, 2, random_state=0).labels == truth) == 1.0


def test_constant_image_one_component():
    seg = ng.segment(np.full((8, 8), 7, dtype=np.uint8), 1)
    assert np.all(seg.labels == 1)
    assert np.allclose(seg.probability, 1.0)


def test_one_pixel_image():
    seg = ng.segment(np.array([[5.0]]), 1)
    assert seg.labels.tolist() == [[1]]


def test_one_dimensional_image():
    signal = np.r_[np.zeros(50), np.full(50, 100.0)] + np.random.default_rng(0).normal(0, 3, 100)
    seg = ng.segment(signal, 2, random_state=0)
    assert np.array_equal(seg.labels, np.r_[np.ones(50), np.full(50, 2)].astype(np.uint8))


def test_non_convergence_warns_and_reports():
    image = data.camera()[::4, ::4].astype(np.float32)
    with pytest.warns(ng.GMMConvergenceWarning, match="max_iter=1"):
        seg = ng.segment(image, 4, max_iter=1, tol=0.0, random_state=0)
    assert seg.converged is False
    assert seg.n_iter == 1


def test_convergence_trace_is_reported():
    image = data.camera()[::4, ::4]
    seg = ng.segment(image, 3, random_state=0)
    assert len(seg.lower_bounds) == seg.n_iter
    assert np.all(np.diff(seg.lower_bounds) >= -1e-9)  # EM never decreases the bound


def test_inputs_never_modified():
    image = data.camera()[::4, ::4].astype(np.float32)
    image[0, 0] = np.nan
    before = image.copy()
    image.setflags(write=False)  # any in-place write would raise
    ng.segment(image, 3, random_state=0, return_posteriors=True)
    ng.add_gaussian_noise(image, 5.0, seed=0)
    ng.pixel_features(image)
    np.testing.assert_array_equal(image, before)
    rgb = data.astronaut()[::8, ::8]
    rgb_before = rgb.copy()
    rgb.setflags(write=False)
    ng.segment(rgb, 3, channel_axis=-1, random_state=0)
    np.testing.assert_array_equal(rgb, rgb_before)


def test_summary_is_json_serialisable():
    import json

    seg = ng.segment(data.camera()[::8, ::8], 2, random_state=0)
    summary = json.loads(json.dumps(seg.summary()))
    assert summary["n_components"] == 2
    assert summary["model"]["means_"] == seg.model.means_.tolist()
    assert summary["converged"] is True


@pytest.mark.parametrize("kind", ["1 - max posterior", "margin", "entropy"])
def test_uncertainty_maps(kind):
    image, _ = make_class_image((40, 40), 3, gap=40, sigma=15, seed=1)
    seg = ng.segment(image, 3, random_state=0, return_posteriors=True)
    u = seg.uncertainty(kind)
    assert u.shape == image.shape and u.dtype == np.float32
    assert u.min() >= 0.0 and u.max() <= 1.0
    # the most uncertain pixels have the lowest max posterior on average
    hi = u > np.quantile(u, 0.9)
    assert seg.probability[hi].mean() < seg.probability[~hi].mean()


def test_uncertainty_margin_needs_posteriors():
    seg = ng.segment(data.camera()[::8, ::8], 2, random_state=0)
    with pytest.raises(ValueError, match="return_posteriors=True"):
        seg.uncertainty("margin")


@pytest.mark.parametrize(("k", "channels"), [(2, None), (4, None), (3, 3)])
def test_auto_number_of_components(k, channels):
    image, truth = make_class_image((80, 88), k, gap=60, sigma=8, n_channels=channels, seed=40 + k)
    axis = None if channels is None else -1
    seg = ng.segment(image, "auto", channel_axis=axis, random_state=0)
    assert seg.n_components == k == seg.selection.best
    assert np.mean(seg.labels == truth) > 0.99
