"""select_n_components: true number of classes, criteria against scikit-learn, validation."""

import warnings

import numpy as np
import pytest
from skimage import data

import napari_gmm as ng
from napari_gmm.core._selection import Selection, select_n_components
from napari_gmm.core.analysis._synthetic import make_class_image

CASES = [
    # shape, dtype, n_channels, sigma
    ((96, 96), "uint8", None, 12),
    ((96, 96), "float32", None, 10),
    ((24, 48, 48), "uint8", None, 12),
    ((80, 80), "uint8", 3, 10),
]


@pytest.mark.parametrize(("shape", "dtype", "channels", "sigma"), CASES)
@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("seed", [11, 23])
def test_finds_true_number_of_classes(shape, dtype, channels, sigma, k, seed):
    image, _ = make_class_image(
        shape, k, gap=60, sigma=sigma, dtype=dtype, n_channels=channels, seed=seed
    )
    sel = select_n_components(
        image, range(1, 7), channel_axis=None if channels is None else -1, random_state=0
    )
    assert sel.best == k, sel.to_records()
    assert sel.candidates == (1, 2, 3, 4, 5, 6)
    assert all(len(col) == 6 for col in (sel.bic, sel.aic, sel.log_likelihood, sel.models))


def test_exact_path_criteria_equal_sklearn_on_all_pixels():
    image, _ = make_class_image((40, 48), 3, sigma=10, seed=2)
    sel = select_n_components(image, [1, 2, 3, 4], random_state=0)
    assert sel.method == "exact (distinct values)"
    X = ng.pixel_features(image)
    assert sel.n_samples == X.shape[0]
    for model, bic, aic, ll in zip(sel.models, sel.bic, sel.aic, sel.log_likelihood, strict=True):
        assert bic == pytest.approx(model.bic(X), rel=1e-10)
        assert aic == pytest.approx(model.aic(X), rel=1e-10)
        assert ll == pytest.approx(model.score(X), rel=1e-10)
        # integer images: covariances never narrower than unit quantisation noise
        assert model.reg_covar == pytest.approx(1 / 12)


def test_subsample_path_criteria_equal_sklearn_on_the_subsample():
    image, _ = make_class_image((60, 60), 2, sigma=8, dtype="float32", seed=4)
    sel = select_n_components(image, [1, 2, 3], random_state=5, max_samples=1000)
    assert sel.method == "subsample" and sel.n_samples == 1000
    # the same seeded subsample as the fit
    from napari_gmm.core.fit._fit import subsample_rows

    X = ng.pixel_features(image)[subsample_rows(image.size, 1000, 5)]
    for model, bic, aic in zip(sel.models, sel.bic, sel.aic, strict=True):
        assert bic == pytest.approx(model.bic(X), rel=1e-10)
        assert aic == pytest.approx(model.aic(X), rel=1e-10)
        assert model.reg_covar == 1e-6
    assert sel.best == 2


def test_float_all_pixels_and_nan_ignored():
    image, _ = make_class_image((40, 40), 2, sigma=8, dtype="float64", seed=6)
    image[0, :5] = np.nan
    sel = select_n_components(image, [1, 2, 3], random_state=0)
    assert sel.method == "all pixels" and sel.n_samples == image.size - 5
    X = ng.pixel_features(image)[5:]
    assert sel.bic[1] == pytest.approx(sel.models[1].bic(X), rel=1e-10)
    assert sel.best == 2


def test_aic_criterion_and_records():
    image, _ = make_class_image((64, 64), 3, sigma=10, seed=8)
    sel = select_n_components(image, [3, 1, 2, 2], criterion="aic", random_state=0)
    assert isinstance(sel, Selection)
    assert sel.criterion == "aic" and sel.candidates == (1, 2, 3)
    assert sel.best == sel.candidates[int(np.argmin(sel.aic))]
    records = sel.to_records()
    assert [r["K"] for r in records] == [1, 2, 3]
    assert set(records[0]) == {
        "K", "bic", "aic", "icl", "log_likelihood", "converged", "n_iter"
    }
    assert records[2]["aic"] == sel.aic[2]
    with pytest.raises(AttributeError):
        sel.best = 1  # frozen


def test_candidates_above_distinct_values_are_skipped():
    image = np.array([[0, 0, 100], [100, 200, 200]], dtype=np.uint8)
    with pytest.warns(UserWarning, match=r"Skipped candidates \[4, 5\].*only 3 distinct"):
        sel = select_n_components(image, [1, 2, 3, 4, 5], random_state=0)
    assert sel.candidates == (1, 2, 3)
    with pytest.raises(ValueError, match="exceeds the 3 distinct valid values"):
        select_n_components(image, [4, 5])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"candidates": []}, ValueError, "candidates is empty.*e.g. candidates=range"),
        ({"candidates": [2, 2.5]}, TypeError, r"candidates must hold ints.*float \(2.5\)"),
        ({"candidates": [True]}, TypeError, "candidates must hold ints"),
        ({"candidates": 3}, TypeError, "candidates must be an iterable"),
        ({"candidates": [0, 2]}, ValueError, "each candidate must be an int >= 1, got 0"),
        ({"criterion": "BIC"}, ValueError, "must be one of 'bic', 'aic', 'icl'; got 'BIC'"),
        ({"progress": 1}, TypeError, "progress must be a callable"),
        ({"covariance_type": "round"}, ValueError, "covariance_type must be one of"),
    ],
)
def test_validation_errors(kwargs, error, match):
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    with pytest.raises(error, match=match):
        select_n_components(image, **kwargs)


def test_input_not_modified_and_progress_called():
    image, _ = make_class_image((32, 32), 2, sigma=8, dtype="float32", seed=9)
    image[0, 0] = np.nan
    before = image.copy()
    calls = []
    select_n_components(image, [1, 2, 3], progress=lambda d, t: calls.append((d, t)))
    np.testing.assert_array_equal(image, before)
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_progress_exception_cancels():
    image, _ = make_class_image((32, 32), 2, sigma=8, seed=9)

    def cancel(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        select_n_components(image, [1, 2, 3, 4], progress=cancel)


@pytest.mark.parametrize("name", ["camera", "coins"])
def test_real_images_give_a_candidate(name):
    image = getattr(data, name)()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no skipped candidates or convergence warnings
        sel = select_n_components(image, range(1, 6), random_state=0)
    assert sel.best in range(2, 6)
    assert all(np.isfinite(sel.bic))
