"""smoothing='auto' and Gibbs marginals against ground truth; calibration metrics."""

import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._calibration import calibration, expected_calibration_error
from napari_gmm.core.analysis._metrics import compare_labels
from napari_gmm.core.analysis._sweep import noise_sweep
from napari_gmm.core.analysis._synthetic import make_class_image, make_line_image
from napari_gmm.core.potts import _calibrate
from napari_gmm.core.potts._auto_smoothing import MAX_SMOOTHING, pseudo_likelihood_beta
from napari_gmm.core.potts._sampling import gibbs_marginals

GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


def _accuracy(image, truth, smoothing, **kw):
    seg = ng.segment(image, int(truth.max()), smoothing=smoothing, random_state=0, **kw)
    return compare_labels(truth, seg.labels).accuracy, seg


@pytest.mark.parametrize(
    "case",
    [
        ("2D fine", lambda: make_class_image((96, 96), 3, sigma=30, feature_size=1, seed=1)),
        ("2D large", lambda: make_class_image((96, 96), 3, sigma=40, feature_size=4, seed=1)),
        ("3D", lambda: make_class_image((20, 40, 40), 2, sigma=30, feature_size=1.5, seed=2)),
        ("thin lines", lambda: make_line_image((96, 96), widths=(1, 1, 2), sigma=30, seed=3)),
    ],
    ids=lambda c: c[0],
)
def test_auto_smoothing_is_close_to_the_best_fixed_strength(case):
    image, truth = case[1]()
    best = max(_accuracy(image, truth, s)[0] for s in GRID)
    acc, seg = _accuracy(image, truth, "auto")
    assert acc >= best - 0.01
    assert 0 < seg.smoothing <= MAX_SMOOTHING and seg.smoothing not in GRID  # estimated


def test_auto_smoothing_follows_the_region_size():
    fine, _ = make_class_image((96, 96), 3, sigma=25, feature_size=1, seed=1)
    coarse, _ = make_class_image((96, 96), 3, sigma=25, feature_size=6, seed=1)
    s_fine = ng.segment(fine, 3, smoothing="auto", random_state=0).smoothing
    s_coarse = ng.segment(coarse, 3, smoothing="auto", random_state=0).smoothing
    assert s_fine < s_coarse - 0.2


def test_auto_smoothing_is_reproducible_and_recorded():
    image, _ = make_class_image((48, 48), 2, sigma=30, seed=4)
    a = ng.segment(image, 2, smoothing="auto", random_state=3)
    b = ng.segment(image, 2, smoothing="auto", random_state=3)
    assert a.smoothing == b.smoothing and np.array_equal(a.labels, b.labels)
    assert a.summary()["smoothing"] == a.smoothing
    applied = ng.apply_model(a.model, image, smoothing="auto")
    assert 0 < applied.smoothing <= MAX_SMOOTHING


@pytest.mark.parametrize("smoothing", ["auto", "held-out"])
def test_automatic_strength_of_an_image_too_small_to_hold_out(smoothing):
    """A 26-pixel line with NaN has no pixel to hide for the held-out checks: 'auto' keeps
    its estimate and 'held-out' gives no prior, instead of failing in scikit-learn."""
    rng = np.random.default_rng(0)
    n = int(rng.integers(6, 30))
    image = (rng.integers(0, 3, n) * 100 + rng.normal(0, 30, n)).astype(np.float32)
    image[rng.random(n) < 0.1] = np.nan
    seg = ng.segment(image, 3, smoothing=smoothing, random_state=0, covariance_type="diag")
    assert seg.labels.shape == image.shape and np.all(seg.labels[np.isnan(image)] == 0)
    assert 0 <= seg.smoothing <= MAX_SMOOTHING
    if smoothing == "held-out":
        assert seg.smoothing == 0


def test_smoothing_validation_mentions_auto():
    with pytest.raises(ValueError, match="smoothing must be a finite number"):
        ng.segment(np.arange(16.0).reshape(4, 4), 2, smoothing=-1)
    with pytest.raises(TypeError, match="or 'auto'"):
        ng.segment(np.arange(16.0).reshape(4, 4), 2, smoothing="strong")
    with pytest.raises(ValueError, match="marginals must be one of"):
        ng.segment(np.arange(16.0).reshape(4, 4), 2, smoothing=1, marginals="exact")


def test_pseudo_likelihood_recovers_agreement():
    # every pixel agrees with 3/4 of its neighbours w.p. p: the MPL beta solves the odds
    rng = np.random.default_rng(0)
    agree = rng.random(20000) < 0.8
    share = np.where(agree[:, None], [[0.75, 0.25]], [[0.25, 0.75]])
    onehot = np.tile([[1.0, 0.0]], (20000, 1))
    beta = pseudo_likelihood_beta(onehot, share)
    # p(agree) = e^{0.75 b} / (e^{0.75 b} + e^{0.25 b})  =>  b = 2 log(p / (1 - p))
    assert beta == pytest.approx(2 * np.log(agree.mean() / (1 - agree.mean())), rel=1e-3)


def test_gibbs_marginals_match_exact_two_pixel_model():
    # two pixels, each the other's only neighbour: exact marginals by enumeration
    lp = np.log(np.array([[[0.6, 0.4], [0.3, 0.7]]], dtype=np.float32))  # shape (1, 2, 2)
    beta = 1.5
    joint = np.zeros((2, 2))
    for a in range(2):
        for b in range(2):
            joint[a, b] = np.exp(lp[0, 0, a] + lp[0, 1, b] + beta * (a == b))
    joint /= joint.sum()
    exact = np.array([joint.sum(axis=1), joint.sum(axis=0)])
    q = gibbs_marginals(lp, beta, n_burn=20, n_samples=4000, seed=0)[0]
    np.testing.assert_allclose(q, exact, atol=0.02)


def test_calibrated_marginals_on_noisy_images(monkeypatch):
    image, truth = make_class_image((96, 96), 3, sigma=30, feature_size=3, seed=6)
    tempered = ng.segment(image, 3, smoothing=1.0, random_state=0)
    with monkeypatch.context() as m:  # the mean-field posteriors alone, not tempered
        m.setattr(_calibrate, "held_out_temperature", lambda *a, **k: 1.0)
        mean_field = ng.segment(image, 3, smoothing=1.0, random_state=0)
    cal_t = calibration(truth, tempered.labels, tempered.probability)
    assert cal_t.ece <= 0.03 and cal_t.auc >= 0.8
    gibbs = ng.segment(image, 3, smoothing=1.0, marginals="gibbs", random_state=0,
                       return_posteriors=True)
    cal_mf = calibration(truth, mean_field.labels, mean_field.probability)
    cal_g = calibration(truth, gibbs.labels, gibbs.probability)
    assert cal_g.ece <= 0.03 and cal_g.auc >= 0.8
    assert cal_g.ece < cal_mf.ece
    assert np.mean(gibbs.probability < 0.9) > np.mean(mean_field.probability < 0.9)
    # the invariants of the result hold for the sampled marginals too
    assert np.array_equal(gibbs.labels, gibbs.posteriors.argmax(-1) + 1)
    np.testing.assert_allclose(gibbs.probability, gibbs.posteriors.max(-1))
    assert compare_labels(truth, gibbs.labels).accuracy >= (
        compare_labels(truth, mean_field.labels).accuracy - 0.01
    )


def test_ece_of_a_perfectly_calibrated_sample():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.5, 1.0, 200_000)
    correct = rng.random(p.size) < p
    assert expected_calibration_error(p, correct) < 0.01
    assert expected_calibration_error(np.ones(p.size), correct) == pytest.approx(
        1 - correct.mean()
    )


def test_noise_sweep_records_calibration():
    image, truth = make_class_image((48, 48), 2, gap=80, sigma=4, seed=0)
    records = noise_sweep(image, [0, 30], n_components=2, seed=0, reference=truth)
    for r in records:
        assert 0 <= r["ece"] <= 1
        conf, acc, counts = r["reliability"]
        assert sum(counts) == truth.size and len(conf) == len(acc) == len(counts)
    assert records[1]["uncertainty_auc"] > 0.8


@pytest.mark.parametrize("k", [2, 3, 5, 6])
def test_distinct_rows_equal_numpy_unique_rows(k):
    from napari_gmm.core.potts._auto_smoothing import _distinct_rows

    rng = np.random.default_rng(k)
    codes = rng.integers(0, 9, size=(5000, k)).astype(np.int64) * 512  # codes up to 4096
    distinct, counts = _distinct_rows(codes)
    expected, inverse = np.unique(codes, axis=0, return_inverse=True)
    np.testing.assert_array_equal(distinct, expected)  # same rows, same order
    np.testing.assert_array_equal(counts, np.bincount(inverse.ravel()))
