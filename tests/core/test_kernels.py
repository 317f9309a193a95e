"""Compiled kernels against the numpy route and scikit-learn (the oracles)."""

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core import _backend, _predict
from napari_gmm.core._backend import get_backend, set_backend, use_backend
from napari_gmm.core._features import pixel_data
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.fit._sklearn_private import weighted_log_prob
from napari_gmm.core.potts import _hmrf_rounds, _meanfield
from napari_gmm.core.potts._hmrf import SWEEPS

numba = pytest.importorskip("numba")

COVARIANCES = ["full", "tied", "diag", "spherical"]


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with use_backend(request.param):
        yield request.param


def _mixture_data(n_channels, covariance_type, seed=0, nan=True):
    """A (24, 20, C) float32 image with 3 classes, some NaN pixels, and a fitted mixture."""
    image, _ = make_class_image(
        (24, 20), 3, gap=1.0, sigma=0.45, dtype="float32", n_channels=n_channels, seed=seed
    )
    image = image.reshape(24, 20, n_channels).copy()
    if nan:
        image[3, 4, 0] = np.nan
        image[10, :, -1] = np.nan
    data = pixel_data(image, channel_axis=-1)
    X = data.valid_features().astype(np.float64)
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=seed).fit(X)
    return image, data, X, gmm


def _drain(steps):
    count = 0
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value, count
        count += 1


@pytest.mark.parametrize("covariance_type", COVARIANCES)
@pytest.mark.parametrize("n_channels", [1, 2, 3, 4])
def test_estep_matches_sklearn(backend, covariance_type, n_channels):
    _, data, X, gmm = _mixture_data(n_channels, covariance_type)
    pred, _ = _drain(_predict.iter_predict_chunked(gmm, data, posteriors=True))
    ok = data.valid
    proba = gmm.predict_proba(X)
    wlp = weighted_log_prob(gmm, X)
    top2 = np.sort(wlp, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-9  # not a tie to round-off
    labels = pred.labels[ok]
    assert np.mean(labels == gmm.predict(X) + 1) >= 0.9999
    assert np.array_equal(labels[clear], gmm.predict(X)[clear] + 1)
    assert np.all(pred.labels[~ok] == 0) and np.all(pred.probability[~ok] == 0)
    assert np.abs(pred.probability[ok] - proba.max(axis=1)).max() < 1e-4
    assert np.abs(pred.posteriors[ok] - proba).max() < 1e-4
    assert np.all(pred.posteriors[~ok] == 0)
    assert np.isclose(pred.log_likelihood, gmm.score(X), rtol=1e-10)
    assert np.isclose(_predict.mean_log_likelihood(gmm, data), gmm.score(X), rtol=1e-10)
    lp = _predict.pixel_log_prob(gmm, data)
    assert lp.dtype == np.float32
    assert np.allclose(lp[ok], wlp, rtol=1e-6, atol=1e-4)
    assert np.all(lp[~ok] == 0)


@pytest.mark.parametrize("nan", [False, True])
@pytest.mark.parametrize("n_channels", [1, 2])
def test_estep_runs_and_blocks_match_sklearn(nan, n_channels):
    """More pixels than one parallel block (runs of pixels, a partial last run and block),
    with and without invalid pixels, and a component of weight 0 (log weight -inf)."""
    from napari_gmm.core._nb_estep import BLOCK, estep, kernel_params
    from napari_gmm.core._nb_runs import RUN

    rng = np.random.default_rng(7)
    n = 2 * BLOCK + 3 * RUN + 5
    X = rng.normal(0.0, 1.0, (n, n_channels)).astype(np.float32)
    X[: n // 3] += 4.0
    valid = None
    if nan:
        X[rng.choice(n, 400, replace=False), -1] = np.nan
        valid = np.isfinite(X).all(axis=1)
    ok = np.ones(n, bool) if valid is None else valid
    gmm = GaussianMixture(3, random_state=0).fit(X[ok][::7].astype(np.float64))
    gmm.weights_ = np.array([0.5, 0.5, 0.0])  # an emptied class: never the label
    Xd = X[ok].astype(np.float64)
    with np.errstate(divide="ignore"):
        ref_ll = float(np.sum(np.logaddexp.reduce(weighted_log_prob(gmm, Xd), axis=1)))
    labels, prob = np.empty(n, np.uint8), np.empty(n, np.float32)
    post = np.empty((n, 3), np.float32)
    ll = estep(X, valid, kernel_params(gmm), labels, prob, post)
    proba = gmm.predict_proba(Xd)
    assert np.array_equal(labels[ok], gmm.predict(Xd) + 1) and 3 not in labels
    assert np.abs(prob[ok] - proba.max(axis=1)).max() < 1e-6
    assert np.abs(post[ok] - proba).max() < 1e-6 and np.all(post[:, 2] == 0)
    assert np.all(labels[~ok] == 0) and np.all(prob[~ok] == 0) and np.all(post[~ok] == 0)
    assert ll == pytest.approx(ref_ll, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float64, "readonly"])
def test_estep_reads_the_image_dtype(dtype):
    readonly = dtype == "readonly"  # e.g. a memory-mapped file: compiled separately
    image = np.random.default_rng(3).integers(0, 250, (30, 30))
    image = image.astype(np.float32 if readonly else dtype)
    image.flags.writeable = not readonly
    data = pixel_data(image)
    X = data.features.astype(np.float64)
    gmm = GaussianMixture(2, random_state=0).fit(X)
    with use_backend("numba"):
        pred, _ = _drain(_predict.iter_predict_chunked(gmm, data))
    assert np.array_equal(pred.labels, gmm.predict(X) + 1)
    assert np.isclose(pred.log_likelihood, gmm.score(X), rtol=1e-10)


def _potts_case(ndim):
    shape = (24, 20) if ndim == 2 else (6, 12, 10)
    image, _ = make_class_image(shape, 3, gap=1.0, sigma=0.7, dtype="float32", seed=ndim)
    X = image.reshape(-1, 1).astype(np.float64)
    gmm = GaussianMixture(3, random_state=0).fit(X)
    lp = weighted_log_prob(gmm, X).reshape(*shape, 3)
    valid = np.ones(shape, dtype=bool)
    valid.flat[::13] = False
    return image, gmm, lp, valid


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("spacing", [None, "aniso"])
def test_potts_kernel_matches_numpy(ndim, spacing):
    _, _, lp, valid = _potts_case(ndim)
    spacing = None if spacing is None else (3.0, 1.0, 0.5)[-ndim:]
    lp[1, 2] = -np.inf  # a pixel whose log-probabilities cannot be normalised
    opts = {"smoothing": 1.0, "valid": valid, "spacing": spacing, "n_iter": 5}
    with use_backend("numpy"):
        ref = _meanfield.potts_posteriors(lp, **opts)
        ref_warm = _meanfield.potts_posteriors(lp, init=ref, **opts)
    with use_backend("numba"):
        got = _meanfield.potts_posteriors(lp, **opts)
        got_warm = _meanfield.potts_posteriors(lp, init=ref, **opts)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.abs(got - ref).max() < 1e-4
    assert np.abs(got_warm - ref_warm).max() < 1e-4
    assert np.all(got[~valid] == 0) and np.all(got[1, 2] == 0)
    assert np.mean(got.argmax(-1) == ref.argmax(-1)) >= 0.9999


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("covariance_type", COVARIANCES)
def test_hmrf_em_kernel_matches_numpy(ndim, covariance_type):
    image, gmm, _, valid = _potts_case(ndim)
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(
        image.reshape(-1, 1)
    )
    spacing = (2.0, 1.0, 1.0)[-ndim:]
    opts = {"smoothing": 1.0, "valid": valid, "spacing": spacing, "n_iter": 4}
    results = {}
    for name in ("numpy", "numba"):
        with use_backend(name):
            fractions = []
            results[name] = _hmrf_rounds.hmrf_em(gmm, image, progress=fractions.append, **opts)
        assert len(fractions) == 8 and fractions[-1] == 1.0
    (g0, q0), (g1, q1) = results["numpy"], results["numba"]
    assert np.allclose(g0.means_, g1.means_, rtol=1e-5, atol=1e-6)
    assert np.allclose(g0.covariances_, g1.covariances_, rtol=1e-4, atol=1e-7)
    assert np.abs(q0 - q1).max() < 1e-4
    assert np.mean(q0.argmax(-1) == q1.argmax(-1)) >= 0.9999


@pytest.mark.parametrize(
    ("shape", "n_channels", "scale"),
    [((32, 28), None, None), ((6, 16, 14), None, (3.0, 1.0, 1.0)), ((20, 24), 3, None)],
)
def test_segment_smoothing_kernel_matches_numpy(shape, n_channels, scale):
    image, _ = make_class_image(shape, 3, sigma=35, dtype="float32", n_channels=n_channels, seed=2)
    image = image.copy()
    image.flat[::37] = np.nan
    axis = None if n_channels is None else -1
    segs = {}
    for name in ("numpy", "numba"):
        with use_backend(name):
            segs[name] = ng.segment(
                image, 3, channel_axis=axis, smoothing=1.0, scale=scale, random_state=0,
                return_posteriors=True,
            )
    a, b = segs["numpy"], segs["numba"]
    assert np.mean(a.labels == b.labels) >= 0.9999
    assert np.abs(a.probability - b.probability).max() < 1e-4
    assert np.abs(a.posteriors - b.posteriors).max() < 1e-4
    assert np.isclose(a.log_likelihood, b.log_likelihood, rtol=1e-6)
    assert np.all(b.labels[np.isnan(image).reshape((*b.labels.shape, -1)).any(-1)] == 0)


def test_kernels_are_deterministic_across_thread_counts():
    image, _ = make_class_image((8, 40, 36), 3, sigma=40, dtype="float32", seed=5)
    image = image.copy()
    image[2, 3, :] = np.nan
    before = numba.get_num_threads()
    runs = []
    try:
        with use_backend("numba"):
            for threads in (1, 2):
                numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
                seg = ng.segment(image, 3, smoothing=1.0, random_state=0,
                                 return_posteriors=True)
                plain = ng.segment(image, 3, random_state=0)
                runs.append((seg, plain))
    finally:
        numba.set_num_threads(before)
    (s1, p1), (s2, p2) = runs
    assert np.array_equal(s1.posteriors, s2.posteriors)
    assert np.array_equal(s1.labels, s2.labels)
    assert s1.log_likelihood == s2.log_likelihood
    assert np.array_equal(p1.probability, p2.probability)
    assert p1.log_likelihood == p2.log_likelihood


def test_segment_reports_progress_every_sweep(backend):
    image, _ = make_class_image((24, 24), 2, sigma=30, dtype="float32", seed=0)
    steps = ng.core._segment.iter_segment(image, 2, smoothing=1.0, random_state=0)
    seen = []
    while True:
        try:
            seen.append(next(steps))
        except StopIteration as stop:
            seg = stop.value
            break
    smoothing = [f for f, stage in seen if stage == "spatial regularisation"]
    assert len(seg.n_sweeps) == 2 and all(1 <= n <= SWEEPS for n in seg.n_sweeps)
    assert len(smoothing) >= sum(seg.n_sweeps)  # two rounds of sweeps, one step each
    assert smoothing == sorted(smoothing)


class Stop(Exception):
    pass


def test_cancellation_between_sweeps(backend):
    image, _ = make_class_image((24, 24), 2, sigma=30, dtype="float32", seed=0)
    calls = []

    def progress(fraction):
        calls.append(fraction)
        if len(calls) == 3:
            raise Stop

    gmm = GaussianMixture(2, random_state=0).fit(image.reshape(-1, 1))
    with pytest.raises(Stop):
        _hmrf_rounds.hmrf_em(gmm, image, n_iter=5, progress=progress)
    assert len(calls) == 3 and calls[-1] < 1.0


def test_backend_choice(monkeypatch):
    monkeypatch.setattr(_backend, "_chosen", None)
    monkeypatch.setenv("NAPARI_GMM_BACKEND", "numpy")
    assert get_backend() == "numpy"
    monkeypatch.setenv("NAPARI_GMM_BACKEND", "NUMBA")
    assert get_backend() == "numba"
    with use_backend("numpy"):
        assert get_backend() == "numpy"
    assert get_backend() == "numba"
    set_backend("numpy")
    assert get_backend() == "numpy"
    set_backend(None)
    monkeypatch.delenv("NAPARI_GMM_BACKEND")
    assert get_backend() == "numba"
    with pytest.raises(ValueError, match="backend must be one of"):
        set_backend("cuda")
    monkeypatch.setenv("NAPARI_GMM_BACKEND", "fortran")
    with pytest.raises(ValueError, match="NAPARI_GMM_BACKEND"):
        get_backend()
