"""Guided classes: scribbles, semi-supervised EM, several Gaussians per class, names."""

import json
import warnings

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_skewed_spots
from napari_gmm.core.guided._em import fit_guided_gmm, guided_e_step
from napari_gmm.core.guided._guided import ScribbleWarning

COV_TYPES = ("full", "tied", "diag", "spherical")


def three_stripes(seed=0, sigma=20.0):
    """A 3-class image whose classes are not in intensity order: 1 dark, 2 bright, 3 mid."""
    rng = np.random.default_rng(seed)
    truth = np.ones((96, 96), np.uint8)
    truth[:, 32:64], truth[:, 64:] = 2, 3
    clean = np.choose(truth - 1, [50.0, 200.0, 120.0])
    noisy = np.clip(clean + rng.normal(0, sigma, truth.shape), 0, 255).astype(np.uint8)
    return noisy, truth


def stripe_scribbles(shape=(96, 96)):
    scr = np.zeros(shape, np.int32)
    scr[10, 5:15], scr[10, 40:50], scr[10, 70:80] = 1, 2, 3
    return scr


def skewed_spots(seed=1, size=192):
    """Gamma background with ~1.5 % bright 3x3 spots; scribbles on 0.2 % of the pixels."""
    rng = np.random.default_rng(seed)
    image, truth = make_skewed_spots(size, rng)
    scr = np.zeros(truth.shape, np.int32)
    n = truth.size
    scr.ravel()[rng.choice(np.flatnonzero(truth.ravel() == 1), int(0.0015 * n), False)] = 1
    scr.ravel()[rng.choice(np.flatnonzero(truth.ravel() == 2), int(0.0005 * n), False)] = 2
    return image, truth, scr


# ---- the semi-supervised EM -------------------------------------------------------------


@pytest.mark.parametrize("cov", COV_TYPES)
def test_unlabelled_em_matches_scikit_learn_from_the_same_init(cov):
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, (30, 2)), rng.normal(5, 1.5, (30, 2))])
    counts = rng.integers(1, 20, values.shape[0])
    expanded = np.repeat(values, counts, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = GaussianMixture(3, covariance_type=cov, max_iter=1, random_state=0)
        start.fit(expanded)
    init = {"weights_init": start.weights_, "means_init": start.means_,
                "precisions_init": start.precisions_}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = GaussianMixture(3, covariance_type=cov, tol=1e-8, max_iter=300, **init)
        ref.fit(expanded)
        ours = fit_guided_gmm(values, counts, np.full(values.shape[0], -1), np.arange(3),
                              covariance_type=cov, tol=1e-8, max_iter=300, **init)
    np.testing.assert_allclose(ours.means_, ref.means_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.covariances_, ref.covariances_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.weights_, ref.weights_, rtol=1e-7, atol=1e-10)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.lower_bound_ == pytest.approx(ref.lower_bound_, abs=1e-9)


def test_labelled_rows_only_count_for_their_class_and_the_bound_never_decreases():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(0, 1, (200, 1)), rng.normal(4, 1, (200, 1))])
    y = np.full(400, -1)
    y[:5], y[200:205] = 1, 0  # class ids against intensity order: dark = class 1
    groups = np.array([0, 0, 1])
    gmm = fit_guided_gmm(X, np.ones(400), y, groups, random_state=0, tol=1e-9, max_iter=1000)
    assert gmm.component_classes_.tolist() == [0, 0, 1]
    assert gmm.means_[2, 0] < 1.0 < gmm.means_[0, 0]  # class 1 (index 1) is the dark one
    params = (gmm.weights_, gmm.means_, gmm.covariances_, gmm.precisions_cholesky_)
    allowed = np.ones((400, 3), bool)
    allowed[y >= 0] = groups[None] == y[y >= 0, None]
    _, log_resp = guided_e_step(X, np.ones(400), allowed, params, "full")
    resp = np.exp(log_resp)
    assert np.all(resp[:5, :2] == 0) and np.all(resp[200:205, 2] == 0)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0)
    assert np.all(np.diff(gmm.lower_bounds_) >= -1e-12)


# ---- segment(scribbles=...) -------------------------------------------------------------


def test_ids_follow_the_scribbles_not_intensity_order():
    image, truth = three_stripes()
    seg = ng.segment(image, scribbles=stripe_scribbles(), random_state=0)
    assert seg.n_components == 3  # the largest scribble id
    assert (seg.labels == truth).mean() >= 0.95
    plain = ng.segment(image, 3, random_state=0)
    assert (plain.labels == truth).mean() < 0.5  # intensity order: 2 and 3 swapped


@pytest.mark.parametrize("smoothing", [0.0, 1.0])
def test_scribbled_pixels_keep_their_class(smoothing):
    image, _truth = three_stripes(sigma=60.0)
    scr = stripe_scribbles()
    scr[50, 20] = 3  # a scribble against the data: held anyway, never relabelled
    seg = ng.segment(image, scribbles=scr, smoothing=smoothing, random_state=0)
    assert np.array_equal(seg.labels[scr > 0], scr[scr > 0])
    assert np.all(seg.probability[scr > 0] == 1.0)


def test_smoothing_with_scribbles_beats_no_smoothing():
    image, truth = three_stripes(sigma=60.0)
    plain = ng.segment(image, scribbles=stripe_scribbles(), random_state=0)
    smooth = ng.segment(image, scribbles=stripe_scribbles(), smoothing=1.0, random_state=0)
    assert (smooth.labels == truth).mean() > (plain.labels == truth).mean() + 0.1


def test_integer_fast_path_gives_the_fit_of_every_pixel():
    image, _ = three_stripes()
    scr = stripe_scribbles()
    exact = ng.segment(image, scribbles=scr, random_state=0, tol=1e-8)
    every = ng.segment(image.astype(np.float64), scribbles=scr, random_state=0, tol=1e-8,
                       max_samples=image.size)
    assert exact.method == "exact (distinct values)" and every.method == "all pixels"
    np.testing.assert_allclose(exact.model.means_, every.model.means_, rtol=1e-6)
    np.testing.assert_allclose(exact.model.covariances_, every.model.covariances_, rtol=1e-6)
    assert np.array_equal(exact.labels, every.labels)


def test_more_classes_than_scribbled_ones():
    image, truth = three_stripes()
    scr = stripe_scribbles()
    scr[scr == 3] = 0  # class 3 is not scribbled: fitted unsupervised
    seg = ng.segment(image, 3, scribbles=scr, random_state=0)
    assert (seg.labels == truth).mean() >= 0.95


def test_channels():
    image, truth = three_stripes()
    rgb = np.stack([image, 255 - image, image // 2], axis=-1)
    seg = ng.segment(rgb, channel_axis=-1, scribbles=stripe_scribbles(), random_state=0)
    assert seg.labels.shape == truth.shape
    assert (seg.labels == truth).mean() >= 0.95


# ---- several Gaussians per class --------------------------------------------------------


def test_skewed_background_needs_several_gaussians_per_class():
    image, truth, scr = skewed_spots()
    assert (scr > 0).mean() <= 0.002
    plain = ng.segment(image, 2, random_state=0)
    one = ng.segment(image, scribbles=scr, random_state=0)
    grouped = ng.segment(image, scribbles=scr, components_per_class=[3, 1], random_state=0)
    auto = ng.segment(image, scribbles=scr, components_per_class="auto", random_state=0)
    assert (plain.labels == truth).mean() < 0.9
    assert (one.labels == truth).mean() < 0.9
    assert (grouped.labels == truth).mean() >= 0.97
    assert (auto.labels == truth).mean() >= 0.97
    assert auto.model.component_classes_.tolist().count(1) == 1  # spots: one Gaussian
    assert grouped.n_components == 2 and grouped.model.n_components == 4


def test_class_posteriors_are_sums_over_their_gaussians():
    image, _, scr = skewed_spots()
    seg = ng.segment(image.astype(np.float32), scribbles=scr, components_per_class=[3, 1],
                     random_state=0, return_posteriors=True)
    X = ng.pixel_features(image.astype(np.float32))
    proba = seg.model.predict_proba(X)
    groups = seg.model.component_classes_
    expected = np.stack([proba[:, groups == c].sum(axis=1) for c in range(2)], axis=1)
    post = seg.posteriors.reshape(-1, 2)
    free = scr.ravel() == 0
    np.testing.assert_allclose(post[free], expected[free], atol=1e-5)
    assert np.array_equal(seg.labels.ravel()[free], expected[free].argmax(axis=1) + 1)
    np.testing.assert_allclose(seg.probability.ravel(), post.max(axis=1), atol=1e-6)


# ---- apply_model, model files, names ----------------------------------------------------


def test_apply_model_and_model_files_keep_ids_and_names(tmp_path):
    image, truth = three_stripes()
    names = ["dark", "bright", "mid"]
    seg = ng.segment(image, scribbles=stripe_scribbles(), components_per_class=[2, 1, 1],
                     class_names=names, random_state=0)
    assert seg.class_names == tuple(names)
    path = seg.save_model(tmp_path / "model.json")
    loaded = ng.load_model(path)
    assert loaded.component_classes_.tolist() == [0, 0, 1, 2]
    assert loaded.class_names_ == tuple(names)
    for seed in range(1, 6):
        other, _ = three_stripes(seed=seed)
        applied = ng.apply_model(loaded, other)
        assert (applied.labels == truth).mean() >= 0.93  # swapped ids would give < 0.4
        assert applied.class_names == tuple(names) and applied.n_components == 3
    series = np.stack([three_stripes(seed=s)[0] for s in (7, 8)])
    applied = ng.apply_model(loaded, series, time_axis=0, smoothing=1.0)
    assert (applied.labels == truth[None]).mean() >= 0.99


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("component_classes", [0, 2, 2, 2], "every class index"),
        ("component_classes", [0, 1], "integer class indices"),
        ("class_names", ["a", "a", "b"], "distinct"),
        ("class_names", ["a"], "name every class"),
    ],
)
def test_damaged_class_fields_are_refused(tmp_path, field, value, message):
    image, _ = three_stripes()
    seg = ng.segment(image, scribbles=stripe_scribbles(), components_per_class=[2, 1, 1],
                     class_names=["a", "b", "c"], random_state=0)
    data = json.loads(seg.save_model(tmp_path / "m.json").read_text())
    data[field] = value
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        ng.load_model(tmp_path / "bad.json")


def test_class_names_without_scribbles_name_intensity_classes():
    image, _ = three_stripes()
    seg = ng.segment(image, 3, class_names=["low", "middle", "high"], random_state=0)
    assert seg.class_names == ("low", "middle", "high")
    assert seg.summary()["class_names"] == ["low", "middle", "high"]


# ---- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scribbles, kwargs, error, message",
    [
        (np.zeros((10, 10), np.int32), {}, ValueError, "spatial shape"),
        (-stripe_scribbles(), {}, ValueError, ">= 0"),
        (stripe_scribbles().astype(float), {}, TypeError, "integer array"),
        (stripe_scribbles() > 0, {}, TypeError, "integer array"),
        (stripe_scribbles(), {"n_components": 2}, ValueError, "above n_components=2"),
        (np.zeros((96, 96), np.int32), {}, ValueError, "no scribbled pixel"),
        (stripe_scribbles(), {"n_components": "auto"}, ValueError, "cannot be combined"),
        (stripe_scribbles(), {"bias_field": "polynomial"}, NotImplementedError, "bias_field"),
        (stripe_scribbles(), {"class_names": ["a", "b"]}, ValueError, "name every class"),
        (stripe_scribbles(), {"components_per_class": [1, 0, 1]}, ValueError, "ints >= 1"),
    ],
)
def test_bad_scribbles_are_refused(scribbles, kwargs, error, message):
    image, _ = three_stripes()
    with pytest.raises(error, match=message):
        ng.segment(image, scribbles=scribbles, **kwargs)


def test_time_series_and_dask_with_scribbles_are_refused_clearly():
    image, _ = three_stripes()
    with pytest.raises(NotImplementedError, match="time series"):
        ng.segment(np.stack([image, image]), time_axis=0,
                   scribbles=np.zeros((2, 96, 96), np.int32))
    da = pytest.importorskip("dask.array")
    with pytest.raises(NotImplementedError, match="dask"):
        ng.segment(da.from_array(image), scribbles=stripe_scribbles())


def test_components_per_class_needs_scribbles():
    image, _ = three_stripes()
    with pytest.raises(ValueError, match="needs scribbles"):
        ng.segment(image, 3, components_per_class=2)


def test_an_empty_class_is_warned_by_name():
    image, _ = three_stripes()
    two = np.where(image > 160, 200, 50).astype(np.uint8)  # only two levels
    scr = np.zeros_like(two, dtype=np.int32)
    scr[0, 0], scr[0, 40] = 1, 2
    with pytest.warns(ScribbleWarning, match="ended with no pixel"):
        ng.segment(two, 3, scribbles=scr, class_names=["a", "b", "c"], random_state=0,
                   reg_covar=1.0)


def test_scribbles_on_nan_pixels_are_warned_and_dropped():
    image, _truth = three_stripes()
    image = image.astype(np.float32)
    scr = stripe_scribbles()
    image[10, 5] = np.nan
    with pytest.warns(ScribbleWarning, match="not finite"):
        seg = ng.segment(image, scribbles=scr, random_state=0)
    assert seg.labels[10, 5] == 0 and seg.labels[10, 6] == 1


def test_inputs_are_not_modified():
    image, _ = three_stripes()
    scr = stripe_scribbles()
    image0, scr0 = image.copy(), scr.copy()
    ng.segment(image, scribbles=scr, smoothing=1.0, random_state=0)
    assert np.array_equal(image, image0) and np.array_equal(scr, scr0)


def test_default_number_of_classes_without_scribbles_is_still_three():
    image, _ = three_stripes()
    assert ng.segment(image, random_state=0).n_components == 3


def test_grouped_models_are_not_applied_to_dask_arrays_silently():
    da = pytest.importorskip("dask.array")
    image, _ = three_stripes()
    seg = ng.segment(image, scribbles=stripe_scribbles(), components_per_class=[2, 1, 1],
                     random_state=0)
    with pytest.raises(NotImplementedError, match="in memory"):
        ng.apply_model(seg.model, da.from_array(image))
    plain = ng.segment(image, scribbles=stripe_scribbles(), random_state=0)  # 1 per class
    lazy = ng.apply_model(plain.model, da.from_array(image, chunks=48))
    assert np.array_equal(np.asarray(lazy.labels), ng.apply_model(plain.model, image).labels)
