"""scikit-learn's EM with the compiled E-step gives scikit-learn's mixture."""

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core._backend import use_backend
from napari_gmm.core.analysis._synthetic import make_class_image

pytest.importorskip("numba")


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("n_channels", [1, 3])
def test_fit_equals_scikit_learn(covariance_type, n_channels):
    from napari_gmm.core.fit._compiled_estep import fit_compiled

    rng = np.random.default_rng(n_channels)
    X = np.concatenate([
        rng.normal(0.0, 1.0, (3000, n_channels)),
        rng.normal(4.0, 0.5, (2000, n_channels)),
        rng.normal(9.0, 2.0, (1000, n_channels)),
    ])
    params = {"n_components": 3, "covariance_type": covariance_type, "random_state": 0,
              "max_iter": 50, "tol": 1e-6, "reg_covar": 1e-6}
    ref = GaussianMixture(**params).fit(X)
    got = fit_compiled(X, params)
    assert type(got) is GaussianMixture
    assert got.n_iter_ == ref.n_iter_ and got.converged_ == ref.converged_
    assert got.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-12)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=1e-9,
                                   atol=1e-12)
    assert np.array_equal(got.predict(X), ref.predict(X))


def test_segment_fit_same_on_both_backends():
    image, _ = make_class_image((64, 60), 3, sigma=25, seed=9, dtype="float32")
    with use_backend("numpy"):
        a = ng.segment(image, 3, random_state=0)
    with use_backend("numba"):
        b = ng.segment(image, 3, random_state=0)
    np.testing.assert_allclose(a.model.means_, b.model.means_, rtol=1e-9)
    assert a.n_iter == b.n_iter
    assert np.array_equal(a.labels, b.labels)
