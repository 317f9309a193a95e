"""fit_weighted_gmm: scikit-learn's GaussianMixture on the expanded pixels as the oracle."""

import warnings

import numpy as np
import pytest
from skimage import data
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from napari_gmm.core.fit._compress import compress_integer
from napari_gmm.core.fit._em import fit_weighted_gmm

COV_TYPES = ["full", "tied", "diag", "spherical"]
FITTED = ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"]


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # tiny matrices: BLAS threads only add contention on a shared machine
    with threadpool_limits(1):
        yield


def _synthetic(n_channels, seed=0):
    """A 3-class 60x60 uint8 image with few distinct values, as (n_pixels, C)."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 3, size=3600)
    centres = np.array([[40, 90, 60], [120, 60, 150], [200, 180, 90]])[:, :n_channels]
    values = centres[classes] + rng.normal(0, 6, size=(3600, n_channels))
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


DATASETS = {
    "synthetic gray": lambda: _synthetic(1),
    "synthetic rgb": lambda: _synthetic(3),
    "camera crop": lambda: data.camera()[200:260, 200:260].reshape(-1, 1),
    "ihc crop": lambda: data.immunohistochemistry()[100:150, 100:160].reshape(-1, 3),
}


def _expanded(name):
    comp = compress_integer(DATASETS[name]())
    return comp.values, comp.counts, np.repeat(comp.values, comp.counts, axis=0)


def _explicit_init(X, n_components, covariance_type):
    """Deterministic initial parameters: means at quantiles, broad equal covariances."""
    d = X.shape[1]
    q = (np.arange(n_components) + 0.5) / n_components
    means = np.quantile(X, q, axis=0)
    cov = np.cov(X.T).reshape(d, d) / n_components**2 + np.eye(d)
    precision = np.linalg.inv(cov)
    precisions = {
        "full": np.repeat(precision[None], n_components, axis=0),
        "tied": precision,
        "diag": np.repeat(np.diag(precision)[None], n_components, axis=0),
        "spherical": np.full(n_components, np.diag(precision).mean()),
    }[covariance_type]
    return {
        "weights_init": np.full(n_components, 1.0 / n_components),
        "means_init": means,
        "precisions_init": precisions,
    }


def _assert_same_fit(got, ref, X_expanded):
    for name in FITTED:
        np.testing.assert_allclose(
            getattr(got, name), getattr(ref, name), rtol=1e-6, atol=1e-12, err_msg=name
        )
    assert got.n_iter_ == ref.n_iter_
    assert got.converged_ == ref.converged_
    assert got.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-9)
    np.testing.assert_allclose(got.lower_bounds_, ref.lower_bounds_, rtol=1e-9)
    np.testing.assert_array_equal(got.predict(X_expanded), ref.predict(X_expanded))


def _fit_both(values, counts, X, params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        ref = GaussianMixture(**params).fit(X)
        got = fit_weighted_gmm(values, counts, **params)
    n_warnings = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert n_warnings == 2 * (not ref.converged_)
    return got, ref


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_oracle_explicit_init(dataset, covariance_type):
    values, counts, X = _expanded(dataset)
    k = 3
    init = _explicit_init(X, k, covariance_type)
    base = {"n_components": k, "covariance_type": covariance_type, **init}
    # converged, stopped early (not converged) and several (identical) initialisations
    for extra in ({}, {"max_iter": 2, "tol": 1e-12}, {"n_init": 2, "max_iter": 5}):
        got, ref = _fit_both(values, counts, X, {**base, **extra})
        _assert_same_fit(got, ref, X)
        if "tol" in extra:
            assert not got.converged_


def test_fitted_estimator_methods_match_sklearn():
    values, counts, X = _expanded("ihc crop")
    init = _explicit_init(X, 4, "full")
    got, ref = _fit_both(values, counts, X, {"n_components": 4, "random_state": 3, **init})
    np.testing.assert_allclose(got.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(got.score_samples(X), ref.score_samples(X), rtol=1e-9)
    assert got.score(X) == pytest.approx(ref.score(X), rel=1e-9)
    assert got.bic(X) == pytest.approx(ref.bic(X), rel=1e-9)
    assert got.aic(X) == pytest.approx(ref.aic(X), rel=1e-9)
    samples, labels = got.sample(50)
    assert samples.shape == (50, 3)
    assert labels.shape == (50,)
    # the weighted mean of score_samples on the distinct values is the per-pixel score
    assert np.dot(counts, got.score_samples(values)) / counts.sum() == pytest.approx(ref.score(X))


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_unit_weights_equal_plain_sklearn(init_params, covariance_type):
    X = DATASETS["ihc crop"]()[:600].astype(np.float64)
    params = {
        "n_components": 3,
        "covariance_type": covariance_type,
        "init_params": init_params,
        "n_init": 2,
        "random_state": 0,
    }
    got, ref = _fit_both(X, np.ones(X.shape[0]), X, params)
    _assert_same_fit(got, ref, X)


@pytest.mark.parametrize(
    ("dataset", "k"), [("camera", 3), ("ihc", 4)], ids=["camera gray K=3", "ihc rgb K=4"]
)
def test_default_kmeans_init_as_good_as_sklearn(dataset, k):
    if dataset == "camera":
        features = data.camera().reshape(-1, 1)
    else:
        features = data.immunohistochemistry()[:128, :128].reshape(-1, 3)
    comp = compress_integer(features)
    X = features.astype(np.float64)
    got = fit_weighted_gmm(comp.values, comp.counts, k, random_state=0)
    ref = GaussianMixture(k, random_state=0).fit(X)
    assert got.score(X) >= ref.score(X) - 0.01


def test_n_init_keeps_best_lower_bound():
    values, counts, _ = _expanded("ihc crop")
    rng = np.random.RandomState(0)
    singles = [
        fit_weighted_gmm(values, counts, 4, init_params="random_from_data", random_state=rng)
        for _ in range(3)
    ]
    best = fit_weighted_gmm(
        values, counts, 4, init_params="random_from_data", n_init=3, random_state=0
    )
    bounds = [g.lower_bound_ for g in singles]
    assert best.lower_bound_ == max(bounds)
    np.testing.assert_array_equal(best.means_, singles[int(np.argmax(bounds))].means_)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_large_counts_scale_invariant(covariance_type):
    values, counts, _ = _expanded("synthetic gray")
    big = counts * 10**6  # up to ~1e8 pixels per value
    assert big.max() > 5 * 10**7
    a = fit_weighted_gmm(values, counts, 3, covariance_type=covariance_type, random_state=0)
    b = fit_weighted_gmm(values, big, 3, covariance_type=covariance_type, random_state=0)
    for name in FITTED:
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-6, err_msg=name)
    assert b.n_iter_ == a.n_iter_


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_single_distinct_value(covariance_type):
    gmm = fit_weighted_gmm(
        np.array([[7.0, 3.0]]), np.array([1000]), 1, covariance_type=covariance_type
    )
    np.testing.assert_allclose(gmm.means_, [[7.0, 3.0]])
    np.testing.assert_allclose(gmm.weights_, [1.0])
    expected = {"full": 1e-6 * np.eye(2)[None], "tied": 1e-6 * np.eye(2)}
    np.testing.assert_allclose(gmm.covariances_, expected.get(covariance_type, 1e-6), rtol=1e-6)
    assert gmm.converged_
    np.testing.assert_array_equal(gmm.predict(np.array([[7.0, 3.0], [0.0, 0.0]])), [0, 0])


def test_fewer_distinct_values_than_components():
    with pytest.raises(ValueError, match=r"only 2 distinct values.*n_components=3"):
        fit_weighted_gmm(np.array([[1.0], [2.0]]), np.array([10, 20]), 3)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_degenerate_covariance_gives_advice(covariance_type):
    # the component at 0 only holds the value 0 (the others' responsibilities underflow):
    # its variance is exactly 0
    X = np.array([[0.0], [999.0], [1000.0]])
    params = {
        "n_components": 2,
        "covariance_type": covariance_type,
        "reg_covar": 0.0,
        "weights_init": [0.5, 0.5],
        "means_init": [[0.0], [999.5]],
        "precisions_init": [[[1.0]], [[1.0]]] if covariance_type == "full" else [[1.0], [1.0]],
    }
    with pytest.raises(ValueError, match="covariance"):
        GaussianMixture(**params).fit(np.repeat(X, [3, 2, 4], axis=0))
    with pytest.raises(ValueError, match=r"Increase reg_covar .* or reduce n_components"):
        fit_weighted_gmm(X, [3, 2, 4], **params)


def test_max_iter_zero_returns_initial_parameters():
    X = np.array([[0.0], [1.0], [10.0], [11.0]])
    init = {
        "weights_init": [0.4, 0.6],
        "means_init": [[0.5], [10.5]],
        "precisions_init": [[[4.0]], [[4.0]]],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gmm = fit_weighted_gmm(X, [1, 2, 3, 4], 2, max_iter=0, **init)
    assert gmm.n_iter_ == 0
    np.testing.assert_allclose(gmm.weights_, [0.4, 0.6])
    np.testing.assert_allclose(gmm.covariances_, [[[0.25]], [[0.25]]])
    np.testing.assert_array_equal(gmm.predict(X), [0, 0, 1, 1])


def test_invalid_arguments():
    X = np.array([[0.0], [1.0], [2.0]])
    with pytest.raises(ValueError, match="positive and finite"):
        fit_weighted_gmm(X, [1, 0, 2], 2)
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        fit_weighted_gmm(X, [1, 2], 2)
    with pytest.raises(ValueError, match="covariance_type"):
        fit_weighted_gmm(X, [1, 1, 1], 2, covariance_type="banana")
    with pytest.raises(ValueError, match="should be normalized"):
        fit_weighted_gmm(X, [1, 1, 1], 2, weights_init=[0.2, 0.2])
    with pytest.raises(ValueError, match="shape"):
        fit_weighted_gmm(X, [1, 1, 1], 2, means_init=[[0.0, 1.0]])
    with pytest.raises(ValueError, match="positive-definite"):
        fit_weighted_gmm(X, [1, 1, 1], 2, precisions_init=[[[1.0]], [[-1.0]]])
