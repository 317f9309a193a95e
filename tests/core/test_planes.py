"""Class-major Potts sweeps: fast exp, early stop and what the result reports."""

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core._backend import use_backend
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.potts import _hmrf_rounds
from napari_gmm.core.potts._hmrf import SWEEPS

numba = pytest.importorskip("numba")


def _elementwise(func):
    @numba.njit
    def apply(a):
        out = np.empty_like(a)
        for i in range(a.size):
            out[i] = func(a[i])
        return out

    return apply


def test_fast_exp_matches_numpy():
    from napari_gmm.core.potts._fast_exp import fast_exp

    x = -np.linspace(0.0, 80.0, 200_001).astype(np.float32)
    got = _elementwise(fast_exp)(x).astype(np.float64)
    ref = np.exp(x.astype(np.float64))
    assert got[0] == 1.0
    assert np.max(np.abs(got - ref) / ref) < 5e-6
    near = x > -10  # where the posteriors of competing classes live
    assert np.max(np.abs(got[near] - ref[near]) / ref[near]) < 1e-6


def test_fast_exp64_matches_numpy():
    from napari_gmm.core.potts._fast_exp import fast_exp64

    x = -np.concatenate([np.linspace(0.0, 30.0, 300_001), np.linspace(30.0, 700.0, 100_001)])
    got, ref = _elementwise(fast_exp64)(x), np.exp(x)
    assert got[0] == 1.0
    assert np.max(np.abs(got - ref) / ref) < 1e-13
    near = x > -30
    assert np.max(np.abs(got[near] - ref[near]) / ref[near]) < 2e-15


def test_fast_log_matches_numpy():
    from napari_gmm.core.potts._fast_exp import fast_log

    @numba.njit
    def logs(a):
        bits = a.view(np.int32)
        out = np.empty_like(a)
        for i in range(a.size):
            m = np.empty(1, dtype=np.int32)
            m[0] = (bits[i] & 0x7FFFFF) | 0x3F800000
            e = np.float32(((bits[i] >> 23) & 0xFF) - 127)
            out[i] = fast_log(m.view(np.float32)[0], e)
        return out

    x = np.concatenate([np.geomspace(1.2e-38, 1.0, 200_001), np.linspace(0.5, 2.0, 10_001),
                        np.geomspace(1.0, 3e38, 1_001)]).astype(np.float32)
    got, ref = logs(x).astype(np.float64), np.log(x.astype(np.float64))
    assert got[x == 1.0].tolist() == [0.0] * int((x == 1.0).sum())
    assert np.max(np.abs(got - ref)) < 1e-5  # float32 arguments up to |log x| = 88
    near = np.abs(ref) < 1
    assert np.max(np.abs(got[near] - ref[near])) < 2e-7


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_early_stop_agrees_with_the_fixed_count(backend):
    image, _ = make_class_image((6, 60, 64), 3, sigma=22, dtype="float32", seed=3)
    gmm = GaussianMixture(3, random_state=0).fit(image.reshape(-1, 1)[::7])
    with use_backend(backend):
        fixed, counted = [], []
        _, q_fixed = _hmrf_rounds.hmrf_em(gmm, image, n_iter=12, sweeps=fixed)
        _, q_stop = _hmrf_rounds.hmrf_em(gmm, image, n_iter=12, stop_changed=0.001, sweeps=counted)
    assert fixed == [12, 12]
    assert len(counted) == 2 and all(1 <= n < 12 for n in counted)
    agree = np.mean(q_fixed.argmax(-1) == q_stop.argmax(-1))
    assert agree >= 0.999


def test_early_stop_same_on_both_backends():
    image, _ = make_class_image((48, 52), 2, sigma=35, dtype="float32", seed=1)
    image = image.copy()
    image[5, 5:9] = np.nan
    runs = {}
    for name in ("numpy", "numba"):
        with use_backend(name):
            runs[name] = ng.segment(image, 2, smoothing=1.0, random_state=0)
    a, b = runs["numpy"], runs["numba"]
    assert a.n_sweeps == b.n_sweeps and len(a.n_sweeps) == 2
    assert all(1 <= n <= SWEEPS for n in a.n_sweeps)
    assert np.mean(a.labels == b.labels) >= 0.9999
    assert (a.backend, b.backend) == ("numpy", "numba")
    assert b.summary()["n_sweeps"] == list(b.n_sweeps)
    assert b.summary()["backend"] == "numba"


def test_no_sweeps_without_smoothing():
    image, _ = make_class_image((20, 20), 2, sigma=30, dtype="float32", seed=0)
    seg = ng.segment(image, 2, random_state=0)
    assert seg.n_sweeps == () and seg.backend == ng.get_backend()


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_log_likelihood_from_the_planes_pass_matches_sklearn(covariance_type):
    from napari_gmm.core.potts._neighbours import _axis_weights, neighbour_kernel
    from napari_gmm.core.potts._planes import Planes

    image, _ = make_class_image((5, 40, 36), 3, sigma=25, seed=4, n_channels=2,
                                dtype="float32")
    X = image.reshape(-1, 2)
    ok = np.ones(image.shape[:-1], dtype=bool)
    ok[1, 3:20, 4] = False
    ok[4, :, :7] = False
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    gmm.fit(X[::5].astype(np.float64))
    kernel = neighbour_kernel(3, None)
    planes = Planes(ok, ok.shape, 3, kernel, _axis_weights(kernel), 1.0)
    planes.set_model(gmm, X)
    assert planes.log_likelihood is None  # only the last mixture's pass computes it
    planes.set_model(gmm, X, last=True)
    expected = gmm.score(X[ok.reshape(-1)].astype(np.float64))
    assert planes.log_likelihood == pytest.approx(expected, rel=1e-12)
    planes.plain()
    q_rows = planes.q.T.copy()
    labels, prob, post = planes.finish(np.array([2, 0, 1]), np.uint8, posteriors=False)
    assert post is None
    ref = q_rows[:, [2, 0, 1]]
    flat_ok = ok.reshape(-1)
    assert np.array_equal(labels[flat_ok], ref[flat_ok].argmax(axis=1) + 1)
    assert np.all(labels[~flat_ok] == 0) and np.all(prob[~flat_ok] == 0)
    assert np.array_equal(prob, ref.max(axis=1))


def test_smoothed_segment_log_likelihood_is_the_final_models():
    image, _ = make_class_image((8, 48, 40), 3, sigma=30, seed=6, dtype="float32")
    image = image.copy()
    image[2, 10:14, 10:30] = np.nan
    seg = ng.segment(image, 3, smoothing=1.0, random_state=0)
    X = image.reshape(-1, 1)
    expected = seg.model.score(X[np.isfinite(X[:, 0])].astype(np.float64))
    assert seg.log_likelihood == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("shape", [(1, 1, 5), (3, 9, 7), (17, 9, 33), (35, 19, 6), (40, 52)])
def test_planes_sweeps_match_the_numpy_reference_on_uneven_shapes(shape):
    """Volumes that do not split evenly into the sweep's tasks (runs of planes and rows)."""
    from napari_gmm.core.fit._sklearn_private import weighted_log_prob
    from napari_gmm.core.potts._meanfield import potts_posteriors
    from napari_gmm.core.potts._neighbours import _axis_weights, neighbour_kernel
    from napari_gmm.core.potts._planes import Planes

    image, _ = make_class_image(shape, 3, sigma=30, dtype="float32", seed=5)
    X = image.reshape(-1, 1)
    gmm = GaussianMixture(3, random_state=0).fit(X.astype(np.float64))
    kernel = neighbour_kernel(len(shape), None)
    planes = Planes(None, shape, 3, kernel, _axis_weights(kernel), 8.0)
    planes.set_model(gmm, X)
    planes.plain()
    for _ in planes.iter_sweeps(4):
        pass
    lp = weighted_log_prob(gmm, X.astype(np.float64)).reshape(*shape, 3)
    with use_backend("numpy"):
        ref = potts_posteriors(lp.astype(np.float32), smoothing=1.0, n_iter=4)
    got = np.moveaxis(planes.q.reshape(3, *shape), 0, -1)
    assert np.abs(got - ref).max() < 1e-4
    assert np.array_equal(planes.labels.reshape(shape), ref.argmax(-1) + 1)
