"""The held-out temperature on the mean-field posteriors (core/potts/_calibrate.py)."""

import numpy as np
import pytest
from scipy.special import softmax
from scipy.stats import norm

import napari_gmm as ng
from napari_gmm.core._backend import use_backend
from napari_gmm.core.analysis._calibration import calibration
from napari_gmm.core.analysis._phantoms import make_phantom
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.potts import _calibrate
from napari_gmm.core.potts._calibrate import fit_temperature, temper


def test_temper_is_a_softmax_of_the_log_posteriors_keeping_labels():
    rng = np.random.default_rng(0)
    q = softmax(rng.normal(0, 3, (500, 4)), axis=1).astype(np.float32)
    q[:7] = 0.0  # invalid pixels
    want = softmax(np.log(q[7:].astype(np.float64)) / 2.5, axis=1)
    labels = q.argmax(axis=1)
    tempered = q.copy()
    prob = temper(tempered, 2.5)
    np.testing.assert_allclose(tempered[7:], want, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(tempered[:7], 0)
    np.testing.assert_array_equal(prob[:7], 0)
    np.testing.assert_array_equal(tempered[7:].argmax(axis=1), labels[7:])
    np.testing.assert_allclose(prob[7:], want.max(axis=1), rtol=1e-4)
    same = q.copy()
    np.testing.assert_array_equal(temper(same, 1.0), q.max(axis=1))


@pytest.mark.parametrize("n_classes", [2, 3, 6])
def test_compiled_class_major_tempering_matches_numpy(n_classes):
    pytest.importorskip("numba")
    from napari_gmm.core.potts._temper_kernel import temper_planes_kernel

    rng = np.random.default_rng(n_classes)
    q = softmax(rng.normal(0, 12, (n_classes, 5000)), axis=0).astype(np.float32)
    q[:, :7] = 0.0  # invalid voxels
    q[1, 7:20] = 0.0  # a class with no mass
    q[:, 20:30] = 1.0 / n_classes  # ties: the first class stays the first largest
    q[0, 30:40], q[1, 30:40] = 2e-40, 0.5  # a subnormal posterior (the scalar path's run)
    for t in (1.5, 7.0):
        ref = q.astype(np.float64) ** (1 / t)
        ref = np.divide(ref, ref.sum(axis=0), out=np.zeros_like(ref), where=ref.sum(0) > 0)
        got = q.copy()
        temper_planes_kernel(got, 1 / t)
        np.testing.assert_allclose(got, ref, rtol=2e-5, atol=1e-7)
        np.testing.assert_array_equal(got[:, :7], 0)
        np.testing.assert_array_equal(got[1, 7:20], 0)
        np.testing.assert_array_equal(got[:, 7:].argmax(axis=0), q[:, 7:].argmax(axis=0))
        assert got[0, 30] > 0  # 2e-40 ** (1 / t) is not negligible
    numpy_route = q.copy()
    with use_backend("numpy"):
        _calibrate.temper_planes(numpy_route, 2.0)
    compiled = q.copy()
    with use_backend("numba"):
        _calibrate.temper_planes(compiled, 2.0)
    np.testing.assert_allclose(compiled, numpy_route, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("true_t", [1.0, 2.0, 3.5])
def test_fit_temperature_recovers_the_over_confidence(true_t):
    # classes drawn from calibrated probabilities p, values from the drawn class; the
    # predictions given are p sharpened by true_t, the fit must undo it
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 1.5, (20000, 3))
    p = softmax(logits, axis=1)
    z = (p.cumsum(axis=1) > rng.random((p.shape[0], 1))).argmax(axis=1)
    means = np.array([0.0, 1.0, 2.0])
    x = rng.normal(means[z], 0.5)
    density = norm.logpdf(x[:, None], means[None, :], 0.5)
    fitted = fit_temperature(logits * true_t, density)
    assert abs(fitted - true_t) < 0.15 * true_t


def _untempered(monkeypatch):
    monkeypatch.setattr(_calibrate, "held_out_temperature", lambda *a, **k: 1.0)


def test_default_probability_is_calibrated_and_labels_unchanged(monkeypatch):
    image, truth = make_class_image((128, 128), 3, sigma=25, feature_size=1, seed=1)
    seg = ng.segment(image, 3, smoothing=1.0, random_state=0, return_posteriors=True)
    cal = calibration(truth, seg.labels, seg.probability)
    np.testing.assert_array_equal(seg.labels, seg.posteriors.argmax(axis=-1) + 1)
    np.testing.assert_allclose(seg.probability, seg.posteriors.max(axis=-1))
    np.testing.assert_allclose(seg.posteriors.sum(axis=-1), 1, atol=1e-5)
    with monkeypatch.context() as m:
        _untempered(m)
        raw = ng.segment(image, 3, smoothing=1.0, random_state=0)
    raw_cal = calibration(truth, raw.labels, raw.probability)
    np.testing.assert_array_equal(seg.labels, raw.labels)
    assert raw_cal.ece > 0.05  # mean-field posteriors alone are over-confident
    assert cal.ece <= 0.03 and cal.auc >= 0.8
    assert (seg.probability <= raw.probability + 1e-6).all()


def test_thin_band_phantom_calibrated_on_both_backends():
    p = make_phantom("shell", 2, thickness=2, noise=15, seed=1)
    probs = []
    for backend in ("numpy", "numba"):
        with use_backend(backend):
            seg = ng.segment(p.image, 3, smoothing=1.0, random_state=0)
        cal = calibration(p.truth, seg.labels, seg.probability)
        assert cal.ece <= 0.05 and cal.auc >= 0.8, backend
        probs.append(seg.probability)
    assert np.mean(np.abs(probs[0] - probs[1]) < 0.01) > 0.99


def test_gibbs_marginals_are_not_tempered(monkeypatch):
    image, _ = make_class_image((48, 48), 2, sigma=30, feature_size=3, seed=2)
    seg = ng.segment(image, 2, smoothing=1.0, marginals="gibbs", random_state=0)
    with monkeypatch.context() as m:
        _untempered(m)
        raw = ng.segment(image, 2, smoothing=1.0, marginals="gibbs", random_state=0)
    np.testing.assert_array_equal(seg.probability, raw.probability)


def test_holes_anisotropy_and_the_block_of_a_large_volume(monkeypatch):
    image, truth = make_class_image((24, 40, 40), 2, sigma=30, feature_size=3, seed=4)
    image = image.astype(np.float32)
    image[5:9, 10:30, 3:20] = np.nan
    monkeypatch.setattr(_calibrate, "MAX_VOXELS", 4000)  # a central block, not the volume
    seg = ng.segment(image, 2, smoothing=1.0, scale=(2.0, 1.0, 1.0), random_state=0,
                     return_posteriors=True)
    holes = np.isnan(image)
    assert np.isfinite(seg.probability).all()
    np.testing.assert_array_equal(seg.probability[holes], 0)
    np.testing.assert_array_equal(seg.labels[holes], 0)
    np.testing.assert_allclose(seg.posteriors[~holes].sum(axis=-1), 1, atol=1e-5)
    np.testing.assert_allclose(seg.probability, seg.posteriors.max(axis=-1))
    keep = ~holes
    cal = calibration(truth[keep], seg.labels[keep], seg.probability[keep])
    assert cal.ece <= 0.03 and cal.auc >= 0.8


@pytest.mark.parametrize("per_class", [1, 2])
def test_guided_classes_are_calibrated_too(monkeypatch, per_class):
    image, truth = make_class_image((128, 128), 3, sigma=25, feature_size=1, seed=1)
    scribbles = np.zeros(truth.shape, np.int32)
    rng = np.random.default_rng(0)
    for c in (1, 2, 3):
        scribbles.ravel()[rng.choice(np.flatnonzero(truth.ravel() == c), 30, False)] = c
    opts = {"scribbles": scribbles, "smoothing": 1.0, "random_state": 0,
            "components_per_class": per_class}
    seg = ng.segment(image, return_posteriors=True, **opts)
    with monkeypatch.context() as m:
        _untempered(m)
        raw = ng.segment(image, **opts)
    np.testing.assert_array_equal(seg.labels, raw.labels)
    np.testing.assert_allclose(seg.probability, seg.posteriors.max(axis=-1))
    np.testing.assert_allclose(seg.posteriors.sum(axis=-1), 1, atol=1e-5)
    assert (seg.probability[scribbles > 0] == 1).all()  # held in their class
    assert (seg.probability <= raw.probability + 1e-6).all()
    cal, raw_cal = calibration(truth, seg.labels, seg.probability), calibration(
        truth, raw.labels, raw.probability)
    assert raw_cal.ece > 0.05 and cal.ece <= 0.03 and cal.auc >= 0.8


def test_temperature_from_the_central_block_alone(monkeypatch):
    """A caller holding the posteriors elsewhere (a GPU) hands over only the block."""
    image, _ = make_class_image((20, 36, 36), 2, sigma=30, seed=2)
    image = image.astype(np.float32)
    monkeypatch.setattr(_calibrate, "MAX_VOXELS", 3000)
    seg = ng.segment(image, 2, smoothing=1.0, random_state=0, return_posteriors=True)
    q = seg.posteriors
    asked = []

    def block(box):
        asked.append(box)
        return q[box]

    kw = {"smoothing": 1.0, "random_state": 3}
    whole = _calibrate.held_out_temperature(seg.model, image[..., None], q, None, **kw)
    part = _calibrate.held_out_temperature(seg.model, image[..., None], block, None, **kw)
    assert part == whole > 1.0
    (box,) = asked
    assert box == _calibrate.central_block(image.shape)
    assert 0 < np.prod([s.stop - s.start for s in box]) <= 3000 < image.size
